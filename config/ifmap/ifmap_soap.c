/* ifmap_soap: the IF-MAP SOAP binding (see ifmap_soap.h). */
#include "ifmap_soap.h"

#include <errno.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "mem.h"

static MEM_TYPE(mem_type_desc, "ifmap_ident_desc");

const char *
ifmap_error_name(enum ifmap_error e)
{
    switch (e) {
    case IFMAP_OK: return "OK";
    case IFMAP_ERR_ACCESS_DENIED: return "AccessDenied";
    case IFMAP_ERR_FAILURE: return "Failure";
    case IFMAP_ERR_INVALID_IDENTIFIER: return "InvalidIdentifier";
    case IFMAP_ERR_INVALID_IDENTIFIER_TYPE: return "InvalidIdentifierType";
    case IFMAP_ERR_IDENTIFIER_TOO_LONG: return "IdentifierTooLong";
    case IFMAP_ERR_INVALID_METADATA: return "InvalidMetadata";
    case IFMAP_ERR_INVALID_SCHEMA_VERSION: return "InvalidSchemaVersion";
    case IFMAP_ERR_INVALID_SESSION_ID: return "InvalidSessionID";
    case IFMAP_ERR_METADATA_TOO_LONG: return "MetadataTooLong";
    case IFMAP_ERR_SEARCH_RESULTS_TOO_BIG: return "SearchResultsTooBig";
    case IFMAP_ERR_POLL_RESULTS_TOO_BIG: return "PollResultsTooBig";
    case IFMAP_ERR_SYSTEM_ERROR: return "SystemError";
    }
    return "SystemError";
}

/* ---- Parsing ---- */

static bool
ns_is(const xmlNode *n, const char *href)
{
    return n->ns && n->ns->href && !strcmp((const char *) n->ns->href, href);
}

xmlNode *
ifmap_soap_first_elem(const xmlNode *n)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return NULL;
}

xmlNode *
ifmap_soap_next_elem(const xmlNode *n)
{
    for (xmlNode *c = n->next; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return NULL;
}

const char *
ifmap_soap_attr(const xmlNode *n, const char *name)
{
    for (xmlAttr *a = n->properties; a; a = a->next) {
        if (!a->ns && !strcmp((const char *) a->name, name)) {
            /* Attribute values are a single text child unless entities were kept. */
            if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next) {
                return (const char *) a->children->content;
            }
            return "";
        }
    }
    return NULL;
}

int
ifmap_soap_parse(const char *body, size_t len, struct ifmap_soap_req *req,
                 bool *version_mismatch, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    *version_mismatch = false;
    if (!len || len > (size_t) 1 << 30) {
        snprintf(err, errlen, "empty request body");
        return EINVAL;
    }
    xmlDoc *doc = xmlReadMemory(body, (int) len, "request.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        snprintf(err, errlen, "malformed XML: %s", e && e->message ? e->message : "parse error");
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) {
            err[--n] = '\0';
        }
        return EINVAL;
    }
    xmlNode *env = xmlDocGetRootElement(doc);
    if (!env || strcmp((const char *) env->name, "Envelope")) {
        snprintf(err, errlen, "the document is not a SOAP Envelope");
        goto fail;
    }
    if (!ns_is(env, SOAP12_NS)) {
        *version_mismatch = true;
        snprintf(err, errlen, "the Envelope is not in the SOAP 1.2 namespace " SOAP12_NS);
        goto fail;
    }
    xmlNode *body_elem = NULL;
    for (xmlNode *c = ifmap_soap_first_elem(env); c; c = ifmap_soap_next_elem(c)) {
        if (ns_is(c, SOAP12_NS) && !strcmp((const char *) c->name, "Body")) {
            body_elem = c;
        }
    }
    if (!body_elem) {
        snprintf(err, errlen, "the Envelope has no Body");
        goto fail;
    }
    xmlNode *op = ifmap_soap_first_elem(body_elem);
    if (!op) {
        snprintf(err, errlen, "the Body is empty");
        goto fail;
    }
    req->doc = doc;
    req->op = op;
    req->op_name = ns_is(op, IFMAP_NS) ? (const char *) op->name : "";
    return 0;

fail:
    xmlFreeDoc(doc);
    return EINVAL;
}

void
ifmap_soap_req_free(struct ifmap_soap_req *req)
{
    if (req->doc) {
        xmlFreeDoc(req->doc);
    }
    memset(req, 0, sizeof *req);
}

bool
ifmap_soap_is_ident(const xmlNode *n)
{
    return n->type == XML_ELEMENT_NODE && (!n->ns || ns_is(n, IFMAP_NS))
        && ifmap_ident_type_from_name((const char *) n->name) >= 0;
}

void
ifmap_ident_desc_free(struct ifmap_ident_desc *d)
{
    mem_free(&mem_type_desc, d->key);
    mem_free(&mem_type_desc, d->name);
    mem_free(&mem_type_desc, d->xml);
    memset(d, 0, sizeof *d);
}

static void
buf_attr(struct evbuffer *b, const char *name, const char *value)
{
    if (value) {
        evbuffer_add_printf(b, " %s=\"", name);
        ifmap_soap_escape(b, value);
        evbuffer_add(b, "\"", 1);
    }
}

static char *
buf_take(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = mem_zalloc(&mem_type_desc, n + 1);
    evbuffer_remove(b, s, n);
    return s;
}

static bool
too_long(const char *s)
{
    return s && strlen(s) > IFMAP_MAX_IDENT_LEN;
}

enum ifmap_error
ifmap_soap_parse_ident(const xmlNode *n, struct ifmap_ident_desc *d, char *err, size_t errlen)
{
    static const char *const identity_types[] = {
        "aik-name", "distinguished-name", "dns-name", "email-address", "hip-hit",
        "kerberos-principal", "username", "sip-uri", "tel-uri", "other",
    };
    memset(d, 0, sizeof *d);
    int type = (!n->ns || ns_is(n, IFMAP_NS))
               ? ifmap_ident_type_from_name((const char *) n->name) : -1;
    if (type < 0) {
        snprintf(err, errlen, "'%s' is not an identifier type", (const char *) n->name);
        return IFMAP_ERR_INVALID_IDENTIFIER_TYPE;
    }
    const char *ad = ifmap_soap_attr(n, "administrative-domain");
    const char *name = NULL, *itype = NULL, *otd = NULL;
    xmlChar *device_name = NULL;
    switch ((enum ifmap_ident_type) type) {
    case IFMAP_IDENT_ACCESS_REQUEST:
        name = ifmap_soap_attr(n, "name");
        break;
    case IFMAP_IDENT_DEVICE:
        for (xmlNode *c = ifmap_soap_first_elem(n); c; c = ifmap_soap_next_elem(c)) {
            if (!strcmp((const char *) c->name, "name")) {
                device_name = xmlNodeGetContent(c);
            }
        }
        name = (const char *) device_name;
        break;
    case IFMAP_IDENT_IDENTITY:
        name = ifmap_soap_attr(n, "name");
        itype = ifmap_soap_attr(n, "type");
        otd = ifmap_soap_attr(n, "other-type-definition");
        break;
    case IFMAP_IDENT_IP_ADDRESS:
        name = ifmap_soap_attr(n, "value");
        itype = ifmap_soap_attr(n, "type");
        if (!itype) {
            itype = "IPv4";
        }
        break;
    case IFMAP_IDENT_MAC_ADDRESS:
        name = ifmap_soap_attr(n, "value");
        break;
    case IFMAP_IDENT_N_TYPES:
        break;
    }
    enum ifmap_error e = IFMAP_OK;
    const char *tname = ifmap_ident_type_name(type);
    bool by_value = type == IFMAP_IDENT_IP_ADDRESS || type == IFMAP_IDENT_MAC_ADDRESS;
    if (!name || !*name) {
        snprintf(err, errlen, "%s identifier without %s", tname, by_value ? "value" : "name");
        e = IFMAP_ERR_INVALID_IDENTIFIER;
    } else if (too_long(name) || too_long(ad) || too_long(otd)) {
        snprintf(err, errlen, "%s identifier longer than %d characters", tname,
                 IFMAP_MAX_IDENT_LEN);
        e = IFMAP_ERR_IDENTIFIER_TOO_LONG;
    } else if (type == IFMAP_IDENT_IDENTITY) {
        bool known = false;
        for (size_t i = 0; itype && i < sizeof identity_types / sizeof *identity_types; i++) {
            known |= !strcmp(itype, identity_types[i]);
        }
        if (!known) {
            snprintf(err, errlen, "identity '%s': missing or unknown type '%s'", name,
                     itype ? itype : "");
            e = IFMAP_ERR_INVALID_IDENTIFIER;
        } else if (!strcmp(itype, "other") && (!otd || !*otd)) {
            snprintf(err, errlen, "identity '%s' of type other without other-type-definition",
                     name);
            e = IFMAP_ERR_INVALID_IDENTIFIER;
        }
    } else if (type == IFMAP_IDENT_IP_ADDRESS && strcmp(itype, "IPv4")
               && strcmp(itype, "IPv6")) {
        snprintf(err, errlen, "ip-address '%s': type must be IPv4 or IPv6", name);
        e = IFMAP_ERR_INVALID_IDENTIFIER;
    }
    if (e == IFMAP_OK) {
        struct evbuffer *b = evbuffer_new();
        /* Key: type, then every defining attribute, separated by a byte no name has. */
        evbuffer_add_printf(b, "%s\x1f%s\x1f%s\x1f%s\x1f%s", tname, itype ? itype : "",
                            otd && itype && !strcmp(itype, "other") ? otd : "", ad ? ad : "",
                            name);
        d->key = buf_take(b);
        if (type == IFMAP_IDENT_DEVICE) {
            evbuffer_add_printf(b, "<device");
            buf_attr(b, "administrative-domain", ad);
            evbuffer_add_printf(b, "><name>");
            ifmap_soap_escape(b, name);
            evbuffer_add_printf(b, "</name></device>");
        } else {
            evbuffer_add_printf(b, "<%s", tname);
            buf_attr(b, by_value ? "value" : "name", name);
            buf_attr(b, "type", itype);
            if (itype && !strcmp(itype, "other")) {
                buf_attr(b, "other-type-definition", otd);
            }
            buf_attr(b, "administrative-domain", ad);
            evbuffer_add(b, "/>", 2);
        }
        d->xml = buf_take(b);
        evbuffer_free(b);
        d->name = mem_strdup(&mem_type_desc, name);
        d->type = type;
    }
    if (device_name) {
        xmlFree(device_name);
    }
    return e;
}

enum ifmap_error
ifmap_soap_parse_meta(xmlNode *n, const char *publisher, const char *timestamp, size_t max_len,
                      struct ifmap_meta **mp, char *err, size_t errlen)
{
    *mp = NULL;
    if (!n->ns || !n->ns->href || !*n->ns->href) {
        snprintf(err, errlen, "metadata element '%s' has no namespace", (const char *) n->name);
        return IFMAP_ERR_INVALID_METADATA;
    }
    const char *card = ifmap_soap_attr(n, "ifmap-cardinality");
    bool single;
    if (card && !strcmp(card, "singleValue")) {
        single = true;
    } else if (card && !strcmp(card, "multiValue")) {
        single = false;
    } else {
        snprintf(err, errlen, "metadata element '%s': ifmap-cardinality must be singleValue or "
                 "multiValue", (const char *) n->name);
        return IFMAP_ERR_INVALID_METADATA;
    }
    /* A copy in a document of its own declares the namespaces it uses on its root. */
    xmlDoc *d = xmlNewDoc(BAD_CAST "1.0");
    xmlNode *c = xmlDocCopyNode(n, d, 1);
    if (!c) {
        xmlFreeDoc(d);
        snprintf(err, errlen, "out of memory copying metadata");
        return IFMAP_ERR_SYSTEM_ERROR;
    }
    xmlDocSetRootElement(d, c);
    xmlSetProp(c, BAD_CAST "ifmap-publisher-id", BAD_CAST publisher);
    xmlSetProp(c, BAD_CAST "ifmap-timestamp", BAD_CAST timestamp);
    xmlBuffer *buf = xmlBufferCreate();
    xmlNodeDump(buf, d, c, 0, 0);
    size_t len = (size_t) xmlBufferLength(buf);
    enum ifmap_error e = IFMAP_OK;
    if (len > max_len) {
        snprintf(err, errlen, "metadata element '%s' is %zu bytes, more than %zu",
                 (const char *) n->name, len, max_len);
        e = IFMAP_ERR_METADATA_TOO_LONG;
    } else {
        char *xml = mem_zalloc(&ifmap_graph_xml_type, len + 1);
        memcpy(xml, xmlBufferContent(buf), len);
        *mp = ifmap_meta_create((const char *) n->ns->href, (const char *) n->name, xml, len,
                                single, publisher);
    }
    xmlBufferFree(buf);
    xmlFreeDoc(d);
    return e;
}

struct resolve_ctx {
    xmlNode *node;
};

static const char *
resolve_prefix(void *aux, const char *prefix)
{
    struct resolve_ctx *rc = aux;
    xmlNs *ns = xmlSearchNs(rc->node->doc, rc->node, BAD_CAST prefix);
    return ns && ns->href ? (const char *) ns->href : NULL;
}

int
ifmap_soap_parse_filter(xmlNode *n, const char *attr, struct ifmap_filter *f, char *err,
                        size_t errlen)
{
    struct resolve_ctx rc = { n };
    return ifmap_filter_parse(f, ifmap_soap_attr(n, attr), resolve_prefix, &rc, err, errlen);
}

void
ifmap_soap_timestamp(char *buf, size_t size)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06ldZ", base, (long) tv.tv_usec);
}

/* ---- Writing ---- */

void
ifmap_soap_escape(struct evbuffer *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default: continue;
        }
        evbuffer_add(b, run, (size_t) (s - run));
        evbuffer_add(b, rep, strlen(rep));
        run = s + 1;
    }
    evbuffer_add(b, run, (size_t) (s - run));
}

void
ifmap_soap_begin(struct evbuffer *b)
{
    static const char head[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<env:Envelope xmlns:env=\"" SOAP12_NS "\" xmlns:ifmap=\"" IFMAP_NS "\""
        " xmlns:meta=\"" IFMAP_META_NS "\" xmlns:contrail=\"" CONTRAIL_NS "\">"
        "<env:Body><ifmap:response>";
    evbuffer_add(b, head, sizeof head - 1);
}

void
ifmap_soap_end(struct evbuffer *b)
{
    static const char tail[] = "</ifmap:response></env:Body></env:Envelope>";
    evbuffer_add(b, tail, sizeof tail - 1);
}

void
ifmap_soap_error_elem(struct evbuffer *b, enum ifmap_error e, const char *name,
                      const char *message)
{
    evbuffer_add_printf(b, "<errorResult errorCode=\"%s\"", ifmap_error_name(e));
    buf_attr(b, "name", name);
    evbuffer_add(b, ">", 1);
    if (message && *message) {
        evbuffer_add_printf(b, "<errorString>");
        ifmap_soap_escape(b, message);
        evbuffer_add_printf(b, "</errorString>");
    }
    evbuffer_add_printf(b, "</errorResult>");
}

void
ifmap_soap_error(struct evbuffer *b, enum ifmap_error e, const char *message)
{
    ifmap_soap_begin(b);
    ifmap_soap_error_elem(b, e, NULL, message);
    ifmap_soap_end(b);
}

void
ifmap_soap_fault(struct evbuffer *b, const char *code, const char *reason)
{
    evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                        "<env:Envelope xmlns:env=\"" SOAP12_NS "\"><env:Body><env:Fault>"
                        "<env:Code><env:Value>%s</env:Value></env:Code>"
                        "<env:Reason><env:Text xml:lang=\"en\">", code);
    ifmap_soap_escape(b, reason);
    evbuffer_add_printf(b, "</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>");
}

void
ifmap_soap_result_item(struct evbuffer *b, const struct ifmap_result *r)
{
    evbuffer_add(b, "<resultItem>", 12);
    evbuffer_add(b, r->ident[0]->xml, r->ident[0]->xml_len);
    if (r->ident[1]) {
        evbuffer_add(b, r->ident[1]->xml, r->ident[1]->xml_len);
    }
    if (r->n_meta) {
        evbuffer_add(b, "<metadata>", 10);
        for (size_t i = 0; i < r->n_meta; i++) {
            evbuffer_add(b, r->metas[i]->xml, r->metas[i]->xml_len);
        }
        evbuffer_add(b, "</metadata>", 11);
    }
    evbuffer_add(b, "</resultItem>", 13);
}
