/* mem: allocation wrappers with per-type accounting.
 *
 * Every allocation names a memory type; live counts and bytes per type are kept so that the
 * introspect page and /metrics show memory by type (a leak shows up by name).  The wrappers
 * abort on out-of-memory, so callers never test the result for NULL. */
#ifndef CONTRAIL_MEM_H
#define CONTRAIL_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct mem_type {
    const char *name;
    int64_t live;               /* Allocations not yet freed. */
    int64_t bytes;              /* Bytes held by them. */
    int64_t total;              /* Allocations ever made. */
    struct mem_type *next;      /* Registry list, filled on first use. */
    int registered;
};

/* Defines a memory type object named VAR, shown as NAME. */
#define MEM_TYPE(VAR, NAME) struct mem_type VAR = { .name = NAME }

/* Allocates SIZE zeroed bytes accounted to TYPE.  Never returns NULL. */
void *mem_zalloc(struct mem_type *type, size_t size);

/* Resizes P (allocated from TYPE, may be NULL) to SIZE bytes; new bytes are not zeroed. */
void *mem_realloc(struct mem_type *type, void *p, size_t size);

/* Frees P (NULL is accepted), which was allocated from TYPE. */
void mem_free(struct mem_type *type, void *p);

/* Duplicates string S (NULL gives NULL) into memory of TYPE. */
char *mem_strdup(struct mem_type *type, const char *s);

/* Duplicates N bytes of S into a NUL-terminated string of TYPE. */
char *mem_strndup(struct mem_type *type, const char *s, size_t n);

/* printf into a new string of TYPE. */
char *mem_asprintf(struct mem_type *type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Routes jansson's allocations through the "json" memory type. Call once at start. */
void mem_init_json(void);

/* Calls CB for every registered memory type. */
void mem_foreach(void (*cb)(const struct mem_type *, void *), void *aux);

/* Returns {"<name>": {"live": n, "bytes": n, "total": n}, ...}: new reference. */
json_t *mem_to_json(void);

/* json_dumps() into a string of mem_type_string (free with xfree). */
char *mem_json_dumps(const json_t *, size_t flags);

/* xjson_pack() that aborts on a format error (a programming error, never bad input), so that
 * a mistake cannot silently drop a value.  Use it instead of json_pack(). */
json_t *xjson_pack(const char *fmt, ...);

/* The generic types for strings and small helpers. */
extern struct mem_type mem_type_string;

#define xstrdup(s) mem_strdup(&mem_type_string, (s))
#define xfree(s) mem_free(&mem_type_string, (s))

#endif
