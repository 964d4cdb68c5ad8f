/* base64: RFC 4648 encoding and decoding (see base64.h). */
#include "base64.h"

#include <stdint.h>
#include <string.h>

#include "mem.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
base64_encode(const void *data, size_t len)
{
    const uint8_t *p = data;
    char *out = mem_zalloc(&mem_type_string, (len + 2) / 3 * 4 + 1);
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t) p[i] << 16 | (i + 1 < len ? (uint32_t) p[i + 1] << 8 : 0);
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int
digit(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int) (p - alphabet) : -1;
}

char *
base64_decode(const char *s, size_t *lenp)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1 || strlen(s) - n > 2) {
        return NULL;
    }
    char *out = mem_zalloc(&mem_type_string, n / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digit(s[i]);
        if (d < 0) {
            xfree(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t) d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    out[o] = '\0';
    if (lenp) {
        *lenp = o;
    }
    return out;
}
