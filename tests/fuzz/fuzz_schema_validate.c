/* Fuzz target: schema_validate of arbitrary JSON against every type of the real schema, and
 * the API server's body validation (properties and reference attributes of an identifier).
 *
 * Input: 2 bytes choose the type, 1 byte the list flag and the identifier, the rest is JSON. */
#include "fuzz_common.h"

static const struct schema_type **types;
static size_t n_types;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct schema *s = fuzz_schema();
    n_types = hmap_count(&s->types);
    types = calloc(n_types, sizeof *types);
    size_t i = 0;
    struct schema_type *t;
    HMAP_FOR_EACH (t, node, &s->types) {
        types[i++] = t;
    }
    return 0;
}

static void
check_msg(const char *err, size_t errlen)
{
    if (strnlen(err, errlen) >= errlen) {
        abort();                /* Not terminated inside its buffer. */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    struct schema *s = fuzz_schema();
    const struct schema_type *t = types[(data[0] | (size_t) data[1] << 8) % n_types];
    bool list = data[2] & 1;
    const struct schema_ident *id = s->ident_list[(data[2] >> 1) % s->n_idents];
    data += 3;
    size -= 3;

    json_error_t jerr;
    json_t *j = json_loadb((const char *) data, size, JSON_DECODE_ANY, &jerr);
    if (!j) {
        return 0;
    }
    char err[1024] = "", small[8] = "";
    bool ok = schema_validate(t, list, j, "v", err, sizeof err);
    check_msg(err, sizeof err);
    /* Same answer with a tiny message buffer. */
    if (schema_validate(t, list, j, "v", small, sizeof small) != ok) {
        abort();
    }
    check_msg(small, sizeof small);

    /* As a create body of identifier ID. */
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach (j, key, v) {
            const struct schema_prop *p = schema_ident_prop(id, key);
            if (p) {
                err[0] = '\0';
                schema_validate_prop(p, v, err, sizeof err);
                check_msg(err, sizeof err);
                continue;
            }
            const struct schema_link *l = schema_ident_ref(id, key);
            if (l && l->attr && json_is_array(v)) {
                size_t i;
                json_t *item;
                json_array_foreach (v, i, item) {
                    json_t *attr = json_object_get(item, "attr");
                    if (attr) {
                        err[0] = '\0';
                        schema_validate(l->attr, false, attr, key, err, sizeof err);
                        check_msg(err, sizeof err);
                    }
                }
            }
        }
    }
    json_decref(j);
    return 0;
}
