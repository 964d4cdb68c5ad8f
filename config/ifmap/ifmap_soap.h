/* ifmap_soap: the IF-MAP 2.x SOAP binding, both directions, for the IF-MAP server.
 *
 * In: a SOAP 1.2 envelope parsed with libxml2 (no network, no entity expansion) down to the
 * operation element (ifmap:newSession, ifmap:publish, ...); identifiers parsed into their
 * canonical key and element; metadata elements serialized once, self-contained (their
 * namespaces declared on them) and stamped with the operational attributes
 * ifmap-publisher-id and ifmap-timestamp.  Filters resolve prefixes against the namespaces in
 * scope where they appear.
 *
 * Out: responses written straight into an evbuffer (no tree is built for the large poll
 * results): the envelope, ifmap:response with one result element, errorResult with its
 * errorCode, SOAP faults, and resultItems from ifmap_result. */
#ifndef CONTRAIL_IFMAP_SOAP_H
#define CONTRAIL_IFMAP_SOAP_H

#include <event2/buffer.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#include "ifmap_graph.h"
#include "ifmap_sub.h"

#define IFMAP_NS "http://www.trustedcomputinggroup.org/2010/IFMAP/2"
#define IFMAP_META_NS "http://www.trustedcomputinggroup.org/2010/IFMAP-METADATA/2"
#define SOAP12_NS "http://www.w3.org/2003/05/soap-envelope"
#define SOAP11_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define CONTRAIL_NS "http://www.contrailsystems.com/vnc_cfg.xsd"

#define IFMAP_MAX_IDENT_LEN 4096

enum ifmap_error {
    IFMAP_OK,
    IFMAP_ERR_ACCESS_DENIED,
    IFMAP_ERR_FAILURE,
    IFMAP_ERR_INVALID_IDENTIFIER,
    IFMAP_ERR_INVALID_IDENTIFIER_TYPE,
    IFMAP_ERR_IDENTIFIER_TOO_LONG,
    IFMAP_ERR_INVALID_METADATA,
    IFMAP_ERR_INVALID_SCHEMA_VERSION,
    IFMAP_ERR_INVALID_SESSION_ID,
    IFMAP_ERR_METADATA_TOO_LONG,
    IFMAP_ERR_SEARCH_RESULTS_TOO_BIG,
    IFMAP_ERR_POLL_RESULTS_TOO_BIG,
    IFMAP_ERR_SYSTEM_ERROR,
};

/* The errorCode attribute value of E ("InvalidSessionID", ...). */
const char *ifmap_error_name(enum ifmap_error);

/* A parsed request. */
struct ifmap_soap_req {
    xmlDoc *doc;
    xmlNode *op;                /* The operation element inside env:Body. */
    const char *op_name;        /* Its local name. */
};

/* Parses BODY.  Returns 0 with REQ filled (free with ifmap_soap_req_free), or EINVAL with
 * the fault's reason in ERR; *VERSION_MISMATCH is set when the envelope is not SOAP 1.2. */
int ifmap_soap_parse(const char *body, size_t len, struct ifmap_soap_req *req,
                     bool *version_mismatch, char *err, size_t errlen);
void ifmap_soap_req_free(struct ifmap_soap_req *);

/* Attribute NAME of N (no namespace), or NULL.  Owned by the document. */
const char *ifmap_soap_attr(const xmlNode *n, const char *name);

/* The first element child of N, and the element sibling after N. */
xmlNode *ifmap_soap_first_elem(const xmlNode *n);
xmlNode *ifmap_soap_next_elem(const xmlNode *n);

/* Whether N is an identifier element (access-request, device, identity, ip-address,
 * mac-address). */
bool ifmap_soap_is_ident(const xmlNode *n);

/* An identifier, parsed. */
struct ifmap_ident_desc {
    enum ifmap_ident_type type;
    char *key;
    char *name;
    char *xml;
};

/* Parses identifier element N.  Returns IFMAP_OK with D filled (free with
 * ifmap_ident_desc_free), or the error with a message in ERR. */
enum ifmap_error ifmap_soap_parse_ident(const xmlNode *n, struct ifmap_ident_desc *d,
                                        char *err, size_t errlen);
void ifmap_ident_desc_free(struct ifmap_ident_desc *);

/* Parses metadata item N (an element child of <metadata>) published by PUBLISHER at
 * TIMESTAMP.  MAX_LEN bounds its serialized size.  Returns IFMAP_OK and *MP (one reference),
 * or the error with a message in ERR. */
enum ifmap_error ifmap_soap_parse_meta(xmlNode *n, const char *publisher, const char *timestamp,
                                       size_t max_len, struct ifmap_meta **mp, char *err,
                                       size_t errlen);

/* Parses filter attribute ATTR of N (absent: ABSENT_ALL ? all : none) into F. */
int ifmap_soap_parse_filter(xmlNode *n, const char *attr, struct ifmap_filter *f, char *err,
                            size_t errlen);

/* xsd:dateTime of now, UTC, into BUF. */
void ifmap_soap_timestamp(char *buf, size_t size);

/* Writes S XML-escaped (for text and attribute values). */
void ifmap_soap_escape(struct evbuffer *, const char *s);

/* The envelope up to and including <ifmap:response>, and its end. */
void ifmap_soap_begin(struct evbuffer *);
void ifmap_soap_end(struct evbuffer *);

/* A complete envelope with an errorResult. */
void ifmap_soap_error(struct evbuffer *, enum ifmap_error, const char *message);

/* An errorResult element (inside a response or a pollResult), NAME: subscription or NULL. */
void ifmap_soap_error_elem(struct evbuffer *, enum ifmap_error, const char *name,
                           const char *message);

/* A complete envelope with a SOAP 1.2 fault: CODE "env:Sender", "env:Receiver" or
 * "env:VersionMismatch". */
void ifmap_soap_fault(struct evbuffer *, const char *code, const char *reason);

/* One <resultItem> for R. */
void ifmap_soap_result_item(struct evbuffer *, const struct ifmap_result *r);

#endif
