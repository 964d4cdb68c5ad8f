/* mem: allocation wrappers with per-type accounting (see mem.h).
 *
 * Sizes come from malloc_usable_size(), so a block needs no header of its own and frees are
 * accounted in bytes without the caller passing the size back (the byte counts include
 * malloc's rounding).  Counters are plain integers: every daemon
 * allocates from its event-loop thread, except the database writer thread, which uses its own
 * types and atomic updates. */
#include "mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>

MEM_TYPE(mem_type_string, "string");
static MEM_TYPE(mem_type_json, "json");

static struct mem_type *registry;

static void
mem_register(struct mem_type *type)
{
    if (!__atomic_exchange_n(&type->registered, 1, __ATOMIC_ACQ_REL)) {
        struct mem_type *head = __atomic_load_n(&registry, __ATOMIC_ACQUIRE);
        do {
            type->next = head;
        } while (!__atomic_compare_exchange_n(&registry, &head, type, false,
                                              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    }
}

static void
mem_account(struct mem_type *type, int64_t live, int64_t bytes)
{
    if (!type->registered) {
        mem_register(type);
    }
    __atomic_add_fetch(&type->live, live, __ATOMIC_RELAXED);
    __atomic_add_fetch(&type->bytes, bytes, __ATOMIC_RELAXED);
    if (live > 0) {
        __atomic_add_fetch(&type->total, live, __ATOMIC_RELAXED);
    }
}

static void
mem_oom(size_t size)
{
    fprintf(stderr, "out of memory allocating %zu bytes\n", size);
    abort();
}

void *
mem_zalloc(struct mem_type *type, size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        mem_oom(size);
    }
    mem_account(type, 1, (int64_t) malloc_usable_size(p));
    return p;
}

void *
mem_realloc(struct mem_type *type, void *p, size_t size)
{
    if (!p) {
        return mem_zalloc(type, size);
    }
    size_t old = malloc_usable_size(p);
    p = realloc(p, size ? size : 1);
    if (!p) {
        mem_oom(size);
    }
    mem_account(type, 0, (int64_t) malloc_usable_size(p) - (int64_t) old);
    return p;
}

void
mem_free(struct mem_type *type, void *p)
{
    if (p) {
        mem_account(type, -1, -(int64_t) malloc_usable_size(p));
        free(p);
    }
}

/* jansson allocates a lot of small blocks: no zeroing needed. */
static void *
mem_json_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        mem_oom(size);
    }
    mem_account(&mem_type_json, 1, (int64_t) malloc_usable_size(p));
    return p;
}

char *
mem_strndup(struct mem_type *type, const char *s, size_t n)
{
    char *d = mem_zalloc(type, n + 1);
    memcpy(d, s, n);
    return d;
}

char *
mem_strdup(struct mem_type *type, const char *s)
{
    return s ? mem_strndup(type, s, strlen(s)) : NULL;
}

char *
mem_asprintf(struct mem_type *type, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = mem_zalloc(type, (size_t) n + 1);
    vsnprintf(s, (size_t) n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

static void
mem_json_free(void *p)
{
    mem_free(&mem_type_json, p);
}

void
mem_init_json(void)
{
    json_set_alloc_funcs(mem_json_malloc, mem_json_free);
}

void
mem_foreach(void (*cb)(const struct mem_type *, void *), void *aux)
{
    for (struct mem_type *t = __atomic_load_n(&registry, __ATOMIC_ACQUIRE); t; t = t->next) {
        cb(t, aux);
    }
}

static void
mem_json_one(const struct mem_type *t, void *aux)
{
    json_object_set_new(aux, t->name,
                        xjson_pack("{sIsIsI}", "live", (json_int_t) t->live,
                                  "bytes", (json_int_t) t->bytes,
                                  "total", (json_int_t) t->total));
}

json_t *
mem_to_json(void)
{
    json_t *o = json_object();
    mem_foreach(mem_json_one, o);
    return o;
}

static int
mem_dump_cb(const char *buf, size_t size, void *aux)
{
    struct { char *s; size_t len, cap; } *b = aux;
    if (b->len + size + 1 > b->cap) {
        while (b->len + size + 1 > b->cap) {
            b->cap = b->cap ? 2 * b->cap : 256;
        }
        b->s = mem_realloc(&mem_type_string, b->s, b->cap);
    }
    memcpy(b->s + b->len, buf, size);
    b->len += size;
    b->s[b->len] = '\0';
    return 0;
}

char *
mem_json_dumps(const json_t *j, size_t flags)
{
    struct { char *s; size_t len, cap; } b = { NULL, 0, 0 };
    json_dump_callback(j, mem_dump_cb, &b, flags);
    return b.s ? b.s : mem_strdup(&mem_type_string, "");
}

json_t *
xjson_pack(const char *fmt, ...)
{
    json_error_t err;
    va_list ap;
    va_start(ap, fmt);
    json_t *j = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!j) {
        fprintf(stderr, "xjson_pack(\"%s\"): %s\n", fmt, err.text);
        abort();
    }
    return j;
}
