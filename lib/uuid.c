/* uuid: random UUIDs from getrandom(2) (see uuid.h). */
#include "uuid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void
uuid_generate(char out[UUID_LEN + 1])
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0) {
            got += (size_t) n;
        } else if (n < 0) {
            abort();
        }
    }
    b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
    uint64_t ms = 0, ls = 0;
    for (int i = 0; i < 8; i++) {
        ms = ms << 8 | b[i];
        ls = ls << 8 | b[i + 8];
    }
    uuid_from_halves(ms, ls, out);
}

bool
uuid_is_valid(const char *s)
{
    if (!s || strlen(s) != UUID_LEN) {
        return false;
    }
    for (int i = 0; i < UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!isxdigit((unsigned char) s[i])) {
            return false;
        }
    }
    return true;
}

bool
uuid_to_halves(const char *s, uint64_t *ms, uint64_t *ls)
{
    if (!uuid_is_valid(s)) {
        return false;
    }
    uint64_t v[2] = { 0, 0 };
    int n = 0;
    for (int i = 0; i < UUID_LEN; i++) {
        if (s[i] == '-') {
            continue;
        }
        int c = tolower((unsigned char) s[i]);
        int d = c <= '9' ? c - '0' : c - 'a' + 10;
        v[n / 16] = v[n / 16] << 4 | (uint64_t) d;
        n++;
    }
    *ms = v[0];
    *ls = v[1];
    return true;
}

void
uuid_from_halves(uint64_t ms, uint64_t ls, char out[UUID_LEN + 1])
{
    snprintf(out, UUID_LEN + 1, "%08x-%04x-%04x-%04x-%04x%08x",
             (unsigned) (ms >> 32), (unsigned) (ms >> 16) & 0xffff, (unsigned) ms & 0xffff,
             (unsigned) (ls >> 48), (unsigned) (ls >> 32) & 0xffff, (unsigned) ls);
}
