/* base64: RFC 4648 base64 (standard alphabet, with padding), for protocols that carry bytes
 * in JSON strings (etcd's v3 JSON gateway sends every key and value that way). */
#ifndef CONTRAIL_BASE64_H
#define CONTRAIL_BASE64_H

#include <stddef.h>

/* Encodes the LEN bytes at DATA.  Returns a NUL-terminated string of mem_type_string (free
 * with xfree). */
char *base64_encode(const void *data, size_t len);

/* Decodes the NUL-terminated base64 text S (padding optional, no whitespace).  Returns the
 * bytes, followed by a NUL that *LENP does not count, in a string of mem_type_string (free
 * with xfree); or NULL if S is not base64. */
char *base64_decode(const char *s, size_t *lenp);

#endif
