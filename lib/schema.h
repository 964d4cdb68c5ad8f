/* schema: the config object model, loaded at run time from schema/vnc_cfg.json.
 *
 * Identifier types (virtual-network, ...) with their parents, properties and references, and
 * the simple and complex types of their values.  The API server validates requests with it,
 * the IF-MAP server names identifiers and metadata from it, and every consumer decodes with
 * it.  See schema/README.md for the file format. */
#ifndef CONTRAIL_SCHEMA_H
#define CONTRAIL_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "hmap.h"

enum schema_kind {
    SCHEMA_STRING,
    SCHEMA_INTEGER,
    SCHEMA_BOOLEAN,
    SCHEMA_NUMBER,
    SCHEMA_DATETIME,
    SCHEMA_ANY,
    SCHEMA_COMPLEX,
};

enum schema_required {
    SCHEMA_OPTIONAL,
    SCHEMA_REQUIRED,
    SCHEMA_SYSTEM_ONLY,
    SCHEMA_EXCLUSIVE,
    SCHEMA_ADMIN_ONLY,
};

enum schema_collection { SCHEMA_SCALAR, SCHEMA_LIST, SCHEMA_MAP };

struct schema_field;

struct schema_type {
    struct hmap_node node;
    char *name;
    enum schema_kind kind;
    char **enums;               /* Allowed values, or NULL. */
    size_t n_enums;
    bool has_min, has_max;
    long long min, max;
    struct schema_field *fields; /* SCHEMA_COMPLEX. */
    size_t n_fields;
};

struct schema_field {
    char *name;                 /* JSON name. */
    char *xml;                  /* XSD / IF-MAP element name. */
    struct schema_type *type;
    bool list;
    bool required;
    json_t *def;                /* Default, or NULL. */
};

struct schema_prop {
    char *name;                 /* JSON name: virtual_network_properties. */
    char *xml;                  /* virtual-network-properties. */
    struct schema_type *type;
    enum schema_collection collection;
    char *key;                  /* Map key field (SCHEMA_MAP). */
    char *list_field;           /* The wrapper's list field (SCHEMA_LIST, SCHEMA_MAP). */
    enum schema_required required;
    char *ops;
    json_t *def;
};

struct schema_ident;

struct schema_link {
    char *name;                 /* Link element: virtual-network-network-ipam. */
    struct schema_ident *from, *to;
    struct schema_type *attr;   /* Link attribute type, or NULL. */
    enum schema_required required;
    bool derived;
    bool has;                   /* Parent-child link rather than a reference. */
};

struct schema_ident {
    struct hmap_node node;          /* In schema->idents, by name. */
    struct hmap_node type_node;     /* By object type (underscores). */
    struct hmap_node plural_node;   /* By collection name (resource name + "s"). */
    size_t index;               /* Position in schema->ident_list. */
    char *name;                 /* virtual-network */
    char *obj_type;             /* virtual_network */
    char *plural;               /* virtual-networks */
    char *children_field;       /* virtual_networks */
    char *refs_field;           /* virtual_network_refs */
    char *back_refs_field;      /* virtual_network_back_refs */
    struct schema_link **parents;   /* Has-links ending here. */
    size_t n_parents;
    struct schema_link **children;  /* Has-links starting here. */
    size_t n_children;
    struct schema_link **refs;      /* Ref links starting here. */
    size_t n_refs;
    struct schema_link **back_refs; /* Ref links ending here. */
    size_t n_back_refs;
    struct schema_prop *props;      /* Type's own properties, then the common ones. */
    size_t n_props;
};

struct schema {
    char *version;
    struct hmap types;
    struct hmap idents, idents_by_type, idents_by_plural;
    struct schema_ident **ident_list;   /* In file order. */
    size_t n_idents;
    struct schema_link **links;
    size_t n_links;
};

/* Loads the schema from PATH.  Returns 0 and *SCHEMAP, or an errno with a message in ERR. */
int schema_load(const char *path, struct schema **schemap, char *err, size_t errlen);

/* Finds the schema file: $CONTRAIL_SCHEMA, the source tree, then the installed copy. */
const char *schema_default_path(void);
void schema_destroy(struct schema *);

const struct schema_ident *schema_ident(const struct schema *, const char *name);
const struct schema_ident *schema_ident_by_type(const struct schema *, const char *obj_type);
const struct schema_ident *schema_ident_by_plural(const struct schema *, const char *plural);
const struct schema_type *schema_type(const struct schema *, const char *name);

const struct schema_prop *schema_ident_prop(const struct schema_ident *, const char *name);
/* The ref link from IDENT whose refs_field (e.g. "network_ipam_refs") is FIELD, or NULL. */
const struct schema_link *schema_ident_ref(const struct schema_ident *, const char *field);
/* The ref link from IDENT to TO, or NULL. */
const struct schema_link *schema_ident_ref_to(const struct schema_ident *,
                                              const struct schema_ident *to);
/* The has-link from PARENT to IDENT, or NULL. */
const struct schema_link *schema_ident_parent(const struct schema_ident *,
                                              const struct schema_ident *parent);
/* The back-ref link whose back_refs_field on IDENT is FIELD, or NULL. */
const struct schema_link *schema_ident_back_ref(const struct schema_ident *, const char *field);
/* The has-link from IDENT whose children_field is FIELD, or NULL. */
const struct schema_link *schema_ident_child(const struct schema_ident *, const char *field);

/* Checks VALUE against TYPE (LIST: an array of TYPE).  null is accepted anywhere.  On error
 * returns false with a message naming the offending field path (starting at PATH) in ERR. */
bool schema_validate(const struct schema_type *, bool list, const json_t *value,
                     const char *path, char *err, size_t errlen);

/* Checks a property value (a list or map property's wrapper object included). */
bool schema_validate_prop(const struct schema_prop *, const json_t *value,
                          char *err, size_t errlen);

#endif
