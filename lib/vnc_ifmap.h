/* vnc_ifmap: VNC config objects as IF-MAP identifiers and metadata, both ways.
 *
 * contrail-api publishes every config object to the IF-MAP server; the schema transformer,
 * the service monitor, the control node and DNS read the graph back from it.  This module is
 * the one conversion between the API's JSON objects and the original's (R3.x contrail-api,
 * vnc_cfg_ifmap.py plus the generateDS serializers) IF-MAP XML, driven by the schema
 * (lib/schema.h).  It renders and parses; sessions, SOAP envelopes and sockets belong to the
 * IF-MAP client and server.
 *
 * What the original publishes for one object:
 *   - the parent link: metadata named after the has-link (contrail:project-virtual-network)
 *     between the parent and the object; objects under config-root hang from
 *     "contrail:config-root:root" (config-root-domain, config-root-global-system-config).
 *     Types with no has-link at all (virtual-machine, route-target, instance-ip, ...) get no
 *     parent link, as in the original, which looked the link up in config-root's children;
 *   - one metadata per property on the object's own identity (contrail:virtual-network-
 *     properties), except perms2; id-perms is trimmed to uuid (mslong/lslong) and enable;
 *   - one metadata per reference on the pair (object, target), named after the ref link
 *     (contrail:virtual-network-network-ipam), its content the link attribute.
 * Every metadata element carries ifmap-cardinality="singleValue".  Complex values are the
 * XSD serialization: one element per field in schema order, named by the field's XSD name,
 * one element per list entry, booleans "true"/"false", integers in decimal (unsignedLong
 * unsigned), text escaped for &, < and >.  A simple-typed property is the text of Python's
 * str() of the value, escaped for &, <, >, " and ': booleans come out "True"/"False" there,
 * and the parser accepts either spelling.
 *
 * Identifier names are "contrail:<type>:<fq_name joined by ':'>"; they are kept unescaped in
 * memory (as an XML parser hands the name attribute back) and escaped when written as XML. */
#ifndef CONTRAIL_VNC_IFMAP_H
#define CONTRAIL_VNC_IFMAP_H

#include <jansson.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#include "schema.h"

#define VNC_IFMAP_CONTRAIL_NS "http://www.contrailsystems.com/vnc_cfg.xsd"
#define VNC_IFMAP_META_NS "http://www.trustedcomputinggroup.org/2010/IFMAP-METADATA/2"
#define VNC_IFMAP_IFMAP_NS "http://www.trustedcomputinggroup.org/2010/IFMAP/2"
#define VNC_IFMAP_ROOT_NAME "contrail:config-root:root"

/* ---- Identifiers. ---- */

/* The identifier name of the object of type IDENT named FQ_NAME (an array of strings):
 * "contrail:virtual-network:default-domain:admin:vn1"; config-root is always
 * "contrail:config-root:root".  Returns a new string (free with xfree()), or NULL when FQ_NAME
 * is not a non-empty array of strings, or holds characters XML cannot carry (C0 controls
 * other than tab, newline and carriage return; U+FFFE, U+FFFF). */
char *vnc_ifmap_ident_name(const struct schema_ident *, const json_t *fq_name);

/* <identity name="NAME" type="other" other-type-definition="extended"/> with NAME
 * XML-escaped.  Returns a new string (free with xfree()). */
char *vnc_ifmap_identity_xml(const char *name);

/* Parses identifier NAME (unescaped, as read from a name attribute) back into its type and
 * fq_name.  The part after the type is split at ':' except for route-target, whose single
 * name ("target:64512:8000001") contains ':'; config-root gives fq_name ["root"].  Checks the
 * number of fq_name elements against the type's possible parents.  Returns 0 with *IDENTP and
 * *FQ_NAMEP (new reference), or EINVAL (malformed) / ENOENT (unknown type) with a message. */
int vnc_ifmap_parse_ident(const struct schema *, const char *name,
                          const struct schema_ident **identp, json_t **fq_namep,
                          char *err, size_t errlen);

/* ---- Rendering objects into publish items. ---- */

/* One piece of metadata the original publishes: on identity ID1 alone (a property) or on the
 * link ID1-ID2 (parent link: ID1 is the parent; reference: ID1 is the referrer). */
struct vnc_ifmap_item {
    char *id1;                  /* Identifier name, unescaped. */
    char *id2;                  /* Second identifier name, or NULL. */
    char *meta_name;            /* "contrail:id-perms", "contrail:project-virtual-network". */
    char *meta_xml;             /* The complete <contrail:NAME ...>...</contrail:NAME>. */
};

struct vnc_ifmap_items {
    struct vnc_ifmap_item *items;
    size_t n, allocated;
};

void vnc_ifmap_items_init(struct vnc_ifmap_items *);
/* Frees every item; the list is empty (and reusable) afterwards. */
void vnc_ifmap_items_clear(struct vnc_ifmap_items *);
/* Appends copies of the strings (ID2 may be NULL). */
void vnc_ifmap_items_add(struct vnc_ifmap_items *, const char *id1, const char *id2,
                         const char *meta_name, const char *meta_xml);

/* A reference to render: the schema's ref link (its 'to' is the target type), the target's
 * fq_name and the link attribute (NULL, JSON null or {} publish an empty element). */
struct vnc_ifmap_ref {
    const struct schema_link *link;
    const json_t *to_fq_name;
    const json_t *attr;
};

/* Appends to OUT the items the original publishes for the object of type IDENT named FQ_NAME:
 * the parent link (from PARENT/PARENT_FQ_NAME, or with PARENT NULL the config-root link when
 * the type has one), then one item per property present and not null in PROPS (an object of
 * property JSON name -> value, exactly as GET returns them; other keys are ignored), in
 * schema order, then one item per entry of REFS in the order given.  The output is
 * deterministic: the same input gives byte-identical items.  Returns 0, or EINVAL with a
 * message naming the field when a value does not fit its schema type or a string holds
 * characters XML cannot carry (OUT may then hold part of the items). */
int vnc_ifmap_render(const struct schema_ident *, const json_t *fq_name, const json_t *props,
                     const struct schema_ident *parent, const json_t *parent_fq_name,
                     const struct vnc_ifmap_ref *refs, size_t n_refs,
                     struct vnc_ifmap_items *out, char *err, size_t errlen);

/* vnc_ifmap_render() of OBJ, an object as GET /<type>/<uuid> returns it (without the wrapper):
 * fq_name, parent_type (absent or "config-root": the config-root link; absent with a single
 * possible parent type: that one), properties and "<type>_refs" lists of {"to", "attr"}.
 * Returns 0 or EINVAL with a message. */
int vnc_ifmap_render_object(const struct schema *, const struct schema_ident *,
                            const json_t *obj, struct vnc_ifmap_items *out,
                            char *err, size_t errlen);

/* The metadata element of property PROP with VALUE (not null): *XMLP is a new string (free
 * with xfree()).  Returns 0 or EINVAL with a message. */
int vnc_ifmap_render_prop(const struct schema_prop *, const json_t *value, char **xmlp,
                          char *err, size_t errlen);

/* The metadata element of LINK (has-link or ref) with link attribute ATTR (may be NULL).
 * *XMLP is a new string (free with xfree()).  Returns 0 or EINVAL with a message. */
int vnc_ifmap_render_link(const struct schema_link *, const json_t *attr, char **xmlp,
                          char *err, size_t errlen);

/* What to send to go from having published OLD to publishing NEW: UPDATES gets the items of
 * NEW that OLD lacks or holds with different XML, DELETES the items of OLD whose (id1, id2,
 * metadata name) is not in NEW.  Items are keyed by (id1, id2, meta_name). */
void vnc_ifmap_diff(const struct vnc_ifmap_items *old, const struct vnc_ifmap_items *new_,
                    struct vnc_ifmap_items *updates, struct vnc_ifmap_items *deletes);

/* The publish request body: every item of DELETES (may be NULL) as
 * <delete filter="contrail:NAME"><identity/>[<identity/>]</delete>, then every item of UPDATES
 * (may be NULL) as <update lifetime="forever"><identity/>[<identity/>]<metadata>XML</metadata>
 * </update>.  With SESSION_ID not NULL the whole is wrapped in
 * <ifmap:publish session-id="SESSION_ID">...</ifmap:publish> (the caller's envelope declares
 * the ifmap, meta and contrail prefixes).  Returns a new string (free with xfree()). */
char *vnc_ifmap_publish_body(const char *session_id, const struct vnc_ifmap_items *updates,
                             const struct vnc_ifmap_items *deletes);

/* ---- Parsing metadata back. ---- */

enum vnc_ifmap_meta_kind {
    VNC_IFMAP_PROP,             /* A property of one object. */
    VNC_IFMAP_PARENT,           /* A parent-child (has) link. */
    VNC_IFMAP_REF,              /* A reference, with its attribute. */
};

struct vnc_ifmap_meta {
    enum vnc_ifmap_meta_kind kind;
    const struct schema_ident *ident;   /* PROP: the object; PARENT: parent; REF: referrer. */
    json_t *fq_name;
    const struct schema_ident *other;   /* PARENT: the child; REF: the target; PROP: NULL. */
    json_t *other_fq_name;              /* Or NULL. */
    const struct schema_prop *prop;     /* PROP. */
    const struct schema_link *link;     /* PARENT, REF. */
    json_t *value;              /* PROP: the value; REF: the attribute ({} when the link has an
                                 * attribute type but the element is empty), or NULL for links
                                 * without attribute type; PARENT: NULL. */
};

/* Parses metadata element META (from a poll, search or publish) found with identity ID1 and,
 * for a link, ID2 (NULL for a property).  The identities of a link may come in either order;
 * the result names the referrer (or parent) first.  Values get their JSON types back from
 * the schema: integers, booleans, lists, nested complex types, enums as strings; unknown
 * child elements are ignored (as the original's build() does).  Returns 0 with *OUT filled
 * (release with vnc_ifmap_meta_clear()), or EINVAL (malformed name or value, wrong
 * namespace) / ENOENT (unknown identifier type or metadata) with a message. */
int vnc_ifmap_parse_meta(const struct schema *, const xmlNode *meta, const char *id1,
                         const char *id2, struct vnc_ifmap_meta *out,
                         char *err, size_t errlen);

/* vnc_ifmap_parse_meta() of the metadata element in LEN bytes of XML (the "contrail" prefix
 * needs no declaration).  Returns as vnc_ifmap_parse_meta(); EINVAL for XML that does not
 * parse or does not hold exactly one element. */
int vnc_ifmap_parse_meta_xml(const struct schema *, const char *xml, size_t len,
                             const char *id1, const char *id2, struct vnc_ifmap_meta *out,
                             char *err, size_t errlen);

/* Releases what OUT holds (accepts a zeroed or already cleared one). */
void vnc_ifmap_meta_clear(struct vnc_ifmap_meta *out);

#endif
