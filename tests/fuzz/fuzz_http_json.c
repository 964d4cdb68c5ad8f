/* Fuzz target: the REST body path: json_util_loadb (what http_req_json parses with), the
 * object check, the API server's property/reference validation for an identifier, and the
 * json_util_dump round trip of what was accepted.
 *
 * Input: 1 byte chooses the identifier, the rest is the body. */
#include "fuzz_common.h"
#include "json_util.h"
#include "mem.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_schema();              /* Registers the unsigned keys, as at start-up. */
    return 0;
}

struct buf {
    char *s;
    size_t len, cap;
};

static int
to_buf(const char *p, size_t n, void *aux)
{
    struct buf *b = aux;
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) {
            abort();
        }
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    struct schema *s = fuzz_schema();
    const struct schema_ident *id = s->ident_list[data[0] % s->n_idents];
    data++;
    size--;

    json_error_t jerr;
    json_t *j = json_util_loadb((const char *) data, size, &jerr);
    if (!j) {
        if (strnlen(jerr.text, sizeof jerr.text) >= sizeof jerr.text) {
            abort();
        }
        return 0;
    }
    /* What goes out comes back the same. */
    struct buf b = { NULL, 0, 0 };
    if (json_util_dump(j, to_buf, &b)) {
        abort();
    }
    json_t *back = json_util_loadb(b.s, b.len, &jerr);
    if (!back || !json_equal(j, back)) {
        fprintf(stderr, "round trip changed the document:\n%s\n", b.s);
        abort();
    }
    json_decref(back);
    free(b.s);

    if (json_is_object(j)) {
        char err[1024];
        const char *key;
        json_t *v;
        json_object_foreach (j, key, v) {
            const struct schema_prop *p = schema_ident_prop(id, key);
            if (p) {
                schema_validate_prop(p, v, err, sizeof err);
                continue;
            }
            const struct schema_link *l = schema_ident_ref(id, key);
            if (l && json_is_array(v)) {
                size_t i;
                json_t *item;
                json_array_foreach (v, i, item) {
                    json_t *attr = json_object_get(item, "attr");
                    if (attr && l->attr) {
                        schema_validate(l->attr, false, attr, key, err, sizeof err);
                    }
                }
            }
        }
    }
    json_decref(j);
    return 0;
}
