/* Fuzz target: lib/vnc_ifmap's parsers of what an IF-MAP server sends (identifier names and
 * metadata elements) and its renderer of API objects.
 *
 * Input: byte 0 picks the mode, the rest is the payload.
 *   mode 0: the payload is an identifier name.
 *   mode 1: bytes 1-2 pick the identities (a property, or a link of the schema in either
 *           order), the rest is a metadata element.  What parses must render again and the
 *           rendering must parse to the same JSON.
 *   mode 2: byte 1 picks the identifier type, the rest is an object as GET returns it; every
 *           item rendered from it whose identities parse must parse back. */
#include <errno.h>

#include <libxml/parser.h>

#include "fuzz_common.h"
#include "mem.h"
#include "vnc_ifmap.h"

static char err[512];

static void
check_msg(void)
{
    if (strnlen(err, sizeof err) >= sizeof err) {
        abort();
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_schema();
    xmlInitParser();
    return 0;
}

static char *
sample_name(const struct schema_ident *id)
{
    json_t *fq = json_array();
    for (int guard = 0; guard < 16 && strcmp(id->name, "config-root"); guard++) {
        json_array_insert_new(fq, 0, json_string("n"));
        if (!id->n_parents) {
            break;
        }
        id = id->parents[0]->from;
    }
    char *name = vnc_ifmap_ident_name(id, fq);
    json_decref(fq);
    return name;
}

/* Renders what M holds and parses it again: the JSON must come back equal. */
static void
rerender(const struct schema *s, const struct vnc_ifmap_meta *m, const char *id1,
         const char *id2)
{
    char *xml = NULL;
    int e;
    if (m->kind == VNC_IFMAP_PROP) {
        if (!strcmp(m->prop->name, "id_perms")) {
            return;             /* Published trimmed: not the same value back. */
        }
        e = vnc_ifmap_render_prop(m->prop, m->value, &xml, err, sizeof err);
    } else {
        e = vnc_ifmap_render_link(m->link, m->value, &xml, err, sizeof err);
    }
    check_msg();
    if (e) {
        return;                 /* E.g. a carriage return normalized away: not a crash. */
    }
    struct vnc_ifmap_meta again;
    e = vnc_ifmap_parse_meta_xml(s, xml, strlen(xml), id1, id2, &again, err, sizeof err);
    if (e || again.kind != m->kind || again.prop != m->prop || again.link != m->link) {
        abort();
    }
    bool has_cr = false;
    char *text = json_dumps(m->value, JSON_ENCODE_ANY);
    has_cr = text && strstr(text, "\\r");
    free(text);
    if (!has_cr && !json_equal(again.value, m->value) && (again.value || m->value)) {
        abort();
    }
    vnc_ifmap_meta_clear(&again);
    xfree(xml);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    struct schema *s = fuzz_schema();
    uint8_t mode = data[0] % 3;
    if (mode == 0) {
        char *name = fuzz_cstr(data + 1, size - 1);
        const struct schema_ident *id;
        json_t *fq;
        err[0] = '\0';
        if (!vnc_ifmap_parse_ident(s, name, &id, &fq, err, sizeof err)) {
            char *again = vnc_ifmap_ident_name(id, fq);
            if (again && strcmp(id->name, "config-root") && strcmp(again, name)) {
                abort();
            }
            xfree(again);
            json_decref(fq);
        }
        check_msg();
        free(name);
        return 0;
    }
    if (mode == 1) {
        size_t pick = data[1] | (size_t) data[2] << 8;
        char *id1, *id2 = NULL;
        if (pick & 1) {
            const struct schema_link *l = s->links[(pick >> 2) % s->n_links];
            id1 = sample_name(l->from);
            id2 = sample_name(l->to);
            if (pick & 2) {
                char *t = id1;
                id1 = id2;
                id2 = t;
            }
        } else {
            id1 = sample_name(s->ident_list[(pick >> 1) % s->n_idents]);
        }
        struct vnc_ifmap_meta m;
        err[0] = '\0';
        int e = vnc_ifmap_parse_meta_xml(s, (const char *) data + 3, size - 3, id1, id2, &m,
                                         err, sizeof err);
        check_msg();
        if (!e) {
            rerender(s, &m, id1, id2);
        }
        vnc_ifmap_meta_clear(&m);
        xfree(id1);
        xfree(id2);
        return 0;
    }

    const struct schema_ident *id = s->ident_list[data[1] % s->n_idents];
    json_error_t jerr;
    json_t *obj = json_loadb((const char *) data + 2, size - 2, 0, &jerr);
    if (!obj) {
        return 0;
    }
    struct vnc_ifmap_items items;
    vnc_ifmap_items_init(&items);
    err[0] = '\0';
    int e = vnc_ifmap_render_object(s, id, obj, &items, err, sizeof err);
    check_msg();
    for (size_t i = 0; !e && i < items.n; i++) {
        const struct vnc_ifmap_item *it = &items.items[i];
        const struct schema_ident *i1, *i2;
        json_t *f1 = NULL, *f2 = NULL;
        if (vnc_ifmap_parse_ident(s, it->id1, &i1, &f1, err, sizeof err)
            || (it->id2 && vnc_ifmap_parse_ident(s, it->id2, &i2, &f2, err, sizeof err))) {
            json_decref(f1);
            continue;           /* fq_names the API would have refused. */
        }
        json_decref(f1);
        json_decref(f2);
        struct vnc_ifmap_meta m;
        if (vnc_ifmap_parse_meta_xml(s, it->meta_xml, strlen(it->meta_xml), it->id1, it->id2,
                                     &m, err, sizeof err)) {
            abort();
        }
        vnc_ifmap_meta_clear(&m);
    }
    char *body = vnc_ifmap_publish_body("1", &items, &items);
    xfree(body);
    vnc_ifmap_items_clear(&items);
    json_decref(obj);
    return 0;
}
