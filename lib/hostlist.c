/* hostlist: normalized server lists (see hostlist.h). */
#include "hostlist.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void
hostlist_format(char *out, size_t size, const char *servers, int port)
{
    size_t n = 0;
    if (size) {
        out[0] = '\0';
    }
    const char *s = servers ? servers : "";
    while (*s && n < size) {
        size_t len = strcspn(s, ", ");
        if (len) {
            bool has_port = memchr(s, ':', len) != NULL;
            n += (size_t) snprintf(out + n, size - n, "%s%.*s", n ? "," : "", (int) len, s);
            if (!has_port && n < size) {
                n += (size_t) snprintf(out + n, size - n, ":%d", port);
            }
        }
        s += len;
        s += strspn(s, ", ");
    }
}
