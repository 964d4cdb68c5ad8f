/* json_util: JSON with unsigned 64-bit schema fields (see json_util.h). */
#include "json_util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

#define MAX_UNSIGNED_KEYS 16

static char *unsigned_keys[MAX_UNSIGNED_KEYS];
static size_t n_unsigned_keys;

void
json_util_add_unsigned_key(const char *key)
{
    for (size_t i = 0; i < n_unsigned_keys; i++) {
        if (!strcmp(unsigned_keys[i], key)) {
            return;
        }
    }
    if (n_unsigned_keys < MAX_UNSIGNED_KEYS) {
        /* Lives as long as the process: the set only grows, and only at start-up. */
        unsigned_keys[n_unsigned_keys++] = strdup(key);
    }
}

static bool
is_unsigned_key(const char *key)
{
    for (size_t i = 0; i < n_unsigned_keys; i++) {
        if (!strcmp(unsigned_keys[i], key)) {
            return true;
        }
    }
    return false;
}

static int
put_string(const char *s, size_t len, json_dump_callback_t cb, void *aux)
{
    static const char hex[] = "0123456789abcdef";
    if (cb("\"", 1, aux)) {
        return -1;
    }
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                u[6] = '\0';
                esc = u;
            }
        }
        if (esc) {
            if ((run && cb(s + i - run, run, aux)) || cb(esc, strlen(esc), aux)) {
                return -1;
            }
            run = 0;
        } else {
            run++;
        }
    }
    if (run && cb(s + len - run, run, aux)) {
        return -1;
    }
    return cb("\"", 1, aux);
}

static int
dump(const json_t *j, bool as_unsigned, json_dump_callback_t cb, void *aux)
{
    char buf[64];
    int n;
    switch (json_typeof(j)) {
    case JSON_NULL:
        return cb("null", 4, aux);
    case JSON_TRUE:
        return cb("true", 4, aux);
    case JSON_FALSE:
        return cb("false", 5, aux);
    case JSON_INTEGER:
        n = as_unsigned ? snprintf(buf, sizeof buf, "%" PRIu64,
                                   (uint64_t) json_integer_value(j))
                        : snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                                   json_integer_value(j));
        return cb(buf, (size_t) n, aux);
    case JSON_REAL:
        n = snprintf(buf, sizeof buf, "%.17g", json_real_value(j));
        if (!strpbrk(buf, ".eEni")) {
            buf[n++] = '.';
            buf[n++] = '0';
        }
        return cb(buf, (size_t) n, aux);
    case JSON_STRING:
        return put_string(json_string_value(j), json_string_length(j), cb, aux);
    case JSON_ARRAY: {
        if (cb("[", 1, aux)) {
            return -1;
        }
        size_t i;
        json_t *v;
        json_array_foreach (j, i, v) {
            if ((i && cb(",", 1, aux)) || dump(v, false, cb, aux)) {
                return -1;
            }
        }
        return cb("]", 1, aux);
    }
    case JSON_OBJECT: {
        if (cb("{", 1, aux)) {
            return -1;
        }
        bool first = true;
        const char *key;
        json_t *v;
        json_object_foreach ((json_t *) j, key, v) {
            if ((!first && cb(",", 1, aux)) || put_string(key, strlen(key), cb, aux)
                || cb(":", 1, aux)
                || dump(v, n_unsigned_keys && is_unsigned_key(key), cb, aux)) {
                return -1;
            }
            first = false;
        }
        return cb("}", 1, aux);
    }
    }
    return -1;
}

int
json_util_dump_string(const char *s, size_t len, json_dump_callback_t cb, void *aux)
{
    return put_string(s, len, cb, aux);
}

int
json_util_dump(const json_t *j, json_dump_callback_t cb, void *aux)
{
    return dump(j, false, cb, aux);
}

/* Copies BUF into OUT, rewriting "key": <unsigned beyond INT64_MAX> into its signed form. */
static char *
rewrite_unsigned(const char *buf, size_t len, size_t *out_len)
{
    char *out = NULL;
    size_t o = 0, cap = 0, copied = 0;
    for (size_t pos = 0; pos < len; pos++) {
        if (buf[pos] != '"') {
            continue;
        }
        for (size_t k = 0; k < n_unsigned_keys; k++) {
            size_t kl = strlen(unsigned_keys[k]);
            if (pos + kl + 2 > len || memcmp(buf + pos + 1, unsigned_keys[k], kl)
                || buf[pos + kl + 1] != '"') {
                continue;
            }
            size_t p = pos + kl + 2;
            while (p < len && strchr(" \t\r\n", buf[p])) {
                p++;
            }
            if (p >= len || buf[p] != ':') {
                continue;
            }
            p++;
            while (p < len && strchr(" \t\r\n", buf[p])) {
                p++;
            }
            size_t d = p;
            uint64_t v = 0;
            bool overflow = false;
            while (d < len && buf[d] >= '0' && buf[d] <= '9') {
                unsigned digit = (unsigned) (buf[d] - '0');
                if (v > (UINT64_MAX - digit) / 10) {
                    overflow = true;
                }
                v = v * 10 + digit;
                d++;
            }
            if (d == p || overflow || v <= INT64_MAX) {
                continue;
            }
            char num[32];
            int n = snprintf(num, sizeof num, "%" PRId64, (int64_t) v);
            size_t need = o + (p - copied) + (size_t) n + (len - d) + 1;
            if (need > cap) {
                cap = need * 2;
                out = mem_realloc(&mem_type_string, out, cap);
            }
            memcpy(out + o, buf + copied, p - copied);
            o += p - copied;
            memcpy(out + o, num, (size_t) n);
            o += (size_t) n;
            copied = d;
        }
    }
    if (!out) {
        return NULL;
    }
    memcpy(out + o, buf + copied, len - copied);
    o += len - copied;
    out[o] = '\0';
    *out_len = o;
    return out;
}

json_t *
json_util_loadb(const char *buf, size_t len, json_error_t *err)
{
    size_t rlen;
    char *r = n_unsigned_keys ? rewrite_unsigned(buf, len, &rlen) : NULL;
    json_t *j = r ? json_loadb(r, rlen, JSON_REJECT_DUPLICATES, err)
                  : json_loadb(buf, len, JSON_REJECT_DUPLICATES, err);
    xfree(r);
    return j;
}
