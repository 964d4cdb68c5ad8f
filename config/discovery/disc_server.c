/* disc_server: contrail-discovery REST API over the coordination store (see disc_server.h). */
#include "disc_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>

#include "hmap.h"
#include "http.h"
#include "introspect.h"
#include "json_util.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(discovery);

static MEM_TYPE(mem_type_disc, "disc_request");

#define SERVICES "/discovery/services"
#define CLIENTS "/discovery/clients"
#define MAX_NAME 128

static double
now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double) tv.tv_sec + tv.tv_usec / 1e6;
}

static uint32_t
random_u32(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) {
        r = (uint32_t) rand();
    }
    return r;
}

/* Names become path components: no '/', nothing odd.  Client ids may hold ':' (the
 * original's "<host>:<module>"); service types and ids may not, since ':' separates them in
 * a cookie ("<id>:<type>"). */
static bool
valid_component(const char *s, bool colon_ok)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n >= MAX_NAME || !strcmp(s, ".") || !strcmp(s, "..")) {
        return false;
    }
    const unsigned char *p = (const unsigned char *) s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if (c <= 0x20 || c == '/' || (c == ':' && !colon_ok) || c == 0x7f) {
                return false;
            }
            p++;
            continue;
        }
        /* Decode one UTF-8 sequence: ZooKeeper refuses U+0080..U+009F, U+D800..U+F8FF and
         * U+FFF0..U+FFFF in paths, so they are refused here with a clear 400. */
        int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
        if (extra < 0 || c > 0xf4) {
            return false;
        }
        unsigned cp = c & (0x3f >> extra);
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0xd800 && cp <= 0xf8ff)
            || (cp >= 0xfff0 && cp <= 0xffff)) {
            return false;
        }
        p += extra + 1;
    }
    return true;
}

static bool
valid_name(const char *s)
{
    return valid_component(s, false);
}

/* Request bodies: JSON, or the XML the original's C++ clients send. */

static json_t *
xml_to_json(xmlNode *n)
{
    bool has_elements = false;
    for (xmlNode *c = n->children; c; c = c->next) {
        has_elements |= c->type == XML_ELEMENT_NODE;
    }
    if (!has_elements) {
        xmlChar *text = xmlNodeGetContent(n);
        json_t *s = json_string(text ? (const char *) text : "");
        xmlFree(text);
        return s ? s : json_string("");
    }
    json_t *o = json_object();
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        const char *name = (const char *) c->name;
        json_t *v = xml_to_json(c);
        json_t *prev = json_object_get(o, name);
        if (!prev) {
            json_object_set_new(o, name, v);
        } else if (json_is_array(prev)) {
            json_array_append_new(prev, v);
        } else {
            json_object_set_new(o, name, xjson_pack("[Oo]", prev, v));
        }
    }
    return o;
}

/* Parses the body.  *IS_XML tells which it was; on error replies 400 and returns NULL.  An
 * XML body comes back as {"<root element>": {...}}. */
static json_t *
parse_body(struct disc_server *ds, struct http_req *req, bool *is_xml)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    const char *ct = http_req_header(req, "Content-Type");
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", body[i])) {
        i++;
    }
    *is_xml = (ct && strstr(ct, "xml")) || (i < len && body[i] == '<');
    if (!*is_xml) {
        char err[512];
        json_t *j = http_req_json(req, err, sizeof err);
        if (!j) {
            ds->n_errors++;
            http_reply_text(req, 400, "%s", err);
        }
        return j;
    }
    xmlDoc *doc = len ? xmlReadMemory(body, (int) len, "request.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
                      : NULL;
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        xmlFreeDoc(doc);
        ds->n_errors++;
        http_reply_text(req, 400, "Bad Request, malformed XML body");
        return NULL;
    }
    json_t *j = xjson_pack("{so}", (const char *) root->name, xml_to_json(root));
    xmlFreeDoc(doc);
    return j;
}

static void
xml_escape(struct evbuffer *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': evbuffer_add(b, "&lt;", 4); break;
        case '>': evbuffer_add(b, "&gt;", 4); break;
        case '&': evbuffer_add(b, "&amp;", 5); break;
        case '"': evbuffer_add(b, "&quot;", 6); break;
        default: evbuffer_add(b, s, 1);
        }
    }
}

/* Whether NAME can be an XML element name (ASCII subset): free-form publisher information
 * whose keys cannot be is left out of XML answers rather than producing broken XML. */
static bool
xml_name_ok(const char *name)
{
    if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') || *name == '_')) {
        return false;
    }
    for (const char *p = name + 1; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_' || *p == '.')) {
            return false;
        }
    }
    return true;
}

static void
json_to_xml(struct evbuffer *b, const char *name, json_t *v)
{
    if (!xml_name_ok(name)) {
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
            json_to_xml(b, name, e);
        }
        return;
    }
    evbuffer_add_printf(b, "<%s", name);
    if (json_is_object(v)) {
        json_t *attr = json_object_get(v, "@publisher-id");
        if (json_is_string(attr)) {
            evbuffer_add(b, " publisher-id=\"", 15);
            xml_escape(b, json_string_value(attr));
            evbuffer_add(b, "\"", 1);
        }
        evbuffer_add(b, ">", 1);
        const char *k;
        json_t *c;
        json_object_foreach (v, k, c) {
            if (k[0] != '@') {
                json_to_xml(b, k, c);
            }
        }
    } else {
        evbuffer_add(b, ">", 1);
        if (json_is_string(v)) {
            xml_escape(b, json_string_value(v));
        } else if (!json_is_null(v)) {
            char *s = mem_json_dumps(v, JSON_ENCODE_ANY);
            xml_escape(b, s);
            xfree(s);
        }
    }
    evbuffer_add_printf(b, "</%s>", name);
}

/* Replies J (stolen) as JSON, or as XML <ROOT>...</ROOT> for XML requests. */
static void
reply(struct http_req *req, bool xml, const char *root, json_t *j)
{
    if (!xml) {
        http_reply_json(req, 200, j);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    json_to_xml(b, root, j);
    json_decref(j);
    size_t len = evbuffer_get_length(b);
    http_reply(req, 200, "application/xml", (const char *) evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}

static void disc_handle(struct http_req *, void *aux);

/* Requests that met a ZooKeeper connection loss run again after a pause: the client
 * library reconnects within the session, usually well within this. */
#define STORE_RETRY_MS 200
#define STORE_RETRIES 25

struct store_retry {
    struct disc_server *ds;
    struct http_req *req;
    struct event *ev;
};

static void
store_retry_cb(evutil_socket_t fd, short what, void *aux)
{
    struct store_retry *r = aux;
    struct disc_server *ds = r->ds;
    struct http_req *req = r->req;
    event_free(r->ev);
    mem_free(&mem_type_disc, r);
    disc_handle(req, ds);
}

static void
store_error(struct disc_server *ds, struct http_req *req, int error)
{
    if (error == ENOTCONN && req->attempts < STORE_RETRIES) {
        req->attempts++;
        ds->n_store_retries++;
        struct store_retry *r = mem_zalloc(&mem_type_disc, sizeof *r);
        r->ds = ds;
        r->req = req;
        r->ev = event_new(ds->base, -1, 0, store_retry_cb, r);
        struct timeval tv = { 0, STORE_RETRY_MS * 1000 };
        event_add(r->ev, &tv);
        return;
    }
    ds->n_store_errors++;
    http_reply_text(req, 503, "Coordination service unavailable: %s", strerror(error));
}

/* Publisher records. */

struct svc {
    char *id;                   /* Service id (node name). */
    json_t *rec;                /* The stored record. */
    int version;                /* Its data version. */
    bool up;
    long in_use;
};

static bool
svc_is_up(const struct disc_server *ds, const json_t *rec, double t)
{
    double hb = json_number_value(json_object_get(rec, "heartbeat"));
    const char *oper = json_string_value(json_object_get(rec, "oper_state"));
    const char *admin = json_string_value(json_object_get(rec, "admin_state"));
    return t - hb <= (double) ds->hc_interval * ds->hc_max_miss
           && (!oper || !strcmp(oper, "up")) && (!admin || !strcmp(admin, "up"));
}

static struct svc *
svcs_from_children(struct disc_server *ds, const struct coord_child *kids, size_t n)
{
    struct svc *v = mem_zalloc(&mem_type_disc, (n + 1) * sizeof *v);
    double t = now();
    for (size_t i = 0; i < n; i++) {
        v[i].id = mem_strdup(&mem_type_disc, kids[i].name);
        v[i].rec = json_loadb(kids[i].value, kids[i].len, 0, NULL);
        if (!json_is_object(v[i].rec)) {
            json_decref(v[i].rec);
            v[i].rec = json_object();
        }
        v[i].up = svc_is_up(ds, v[i].rec, t);
        v[i].version = kids[i].version;
    }
    return v;
}

static void
svcs_free(struct svc *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        mem_free(&mem_type_disc, v[i].id);
        json_decref(v[i].rec);
    }
    mem_free(&mem_type_disc, v);
}

static json_t *
svc_answer(const struct svc *s)
{
    json_t *info = json_object_get(s->rec, "info");
    json_t *a = json_is_object(info) ? json_deep_copy(info) : json_object();
    json_object_set_new(a, "@publisher-id", json_string(s->id));
    return a;
}

/* A request in flight through the store. */
struct op {
    struct disc_server *ds;
    struct http_req *req;
    bool xml;
    json_t *body;               /* The request's fields. */
    char type[MAX_NAME];
    char id[MAX_NAME];          /* Service id or client id. */
    json_t *rec;                /* Record being written. */
    int instances;
    int ttl;                    /* Answered TTL, seconds. */
    bool assign;                /* subscribe (true) or query (false). */
    struct svc *svcs;
    size_t n_svcs;
    json_t *prev;               /* Previous assignment of the subscriber. */
    json_t *chosen;             /* Array of service ids. */
    json_t *counted;            /* Ids counted in ds->inflight by this op. */
};

static struct op *
op_create(struct disc_server *ds, struct http_req *req, bool xml, json_t *body)
{
    struct op *op = mem_zalloc(&mem_type_disc, sizeof *op);
    op->ds = ds;
    op->req = req;
    op->xml = xml;
    op->body = body;
    return op;
}

static void
inflight_add(struct disc_server *ds, const char *sid, json_int_t delta)
{
    json_int_t n = json_integer_value(json_object_get(ds->inflight, sid)) + delta;
    if (n > 0) {
        json_object_set_new(ds->inflight, sid, json_integer(n));
    } else {
        json_object_del(ds->inflight, sid);
    }
}

static void
op_free(struct op *op)
{
    size_t i;
    json_t *sid;
    json_array_foreach (op->counted, i, sid) {
        inflight_add(op->ds, json_string_value(sid), -1);
    }
    json_decref(op->counted);
    json_decref(op->body);
    json_decref(op->rec);
    json_decref(op->prev);
    json_decref(op->chosen);
    svcs_free(op->svcs, op->n_svcs);
    mem_free(&mem_type_disc, op);
}

/* Writes PATH = VALUE, creating or overwriting. */
struct put {
    struct coord *coord;
    char *path;
    char *value;
    coord_done_fn *done;
    void *aux;
};

static void
put_set_done(void *aux, int error, const char *path)
{
    struct put *p = aux;
    p->done(p->aux, error, path);
    xfree(p->path);
    xfree(p->value);
    mem_free(&mem_type_disc, p);
}

static void
put_create_done(void *aux, int error, const char *path)
{
    struct put *p = aux;
    if (error == EEXIST) {
        coord_set(p->coord, p->path, p->value, strlen(p->value), put_set_done, p);
        return;
    }
    put_set_done(p, error, path);
}

static void
store_put(struct coord *c, const char *path, const json_t *value, coord_done_fn *done,
          void *aux)
{
    struct put *p = mem_zalloc(&mem_type_disc, sizeof *p);
    p->coord = c;
    p->path = xstrdup(path);
    p->value = mem_json_dumps(value, JSON_COMPACT);
    p->done = done;
    p->aux = aux;
    coord_create(c, p->path, p->value, strlen(p->value), 0, put_create_done, p);
}

/* Read-modify-write of one record with compare-and-set: concurrent writers of the same
 * record (heartbeats, admin changes, use times, on this server or another) never write back
 * a stale copy; a lost race reads again and retries. */
typedef bool record_mutate_fn(json_t *rec, bool exists, void *aux);

struct rmw {
    struct coord *coord;
    char *path;
    record_mutate_fn *mutate;   /* Changes the record (an empty object when there is none
                                 * yet); false: write nothing. */
    bool create;                /* Create the record when there is none. */
    coord_done_fn *done;
    void *aux;
    int tries;
};

#define RMW_MAX_TRIES 32

static void rmw_read(struct rmw *);

static void
rmw_finish(struct rmw *m, int error)
{
    m->done(m->aux, error, m->path);
    xfree(m->path);
    mem_free(&mem_type_disc, m);
}

static void
rmw_written(void *aux, int error, const char *path)
{
    struct rmw *m = aux;
    if ((error == EAGAIN || error == EEXIST || (error == ENOENT && m->create))
        && ++m->tries < RMW_MAX_TRIES) {
        rmw_read(m);
        return;
    }
    rmw_finish(m, error);
}

static void
rmw_got(void *aux, int error, const char *value, size_t len, int version)
{
    struct rmw *m = aux;
    if (error && (error != ENOENT || !m->create)) {
        rmw_finish(m, error);
        return;
    }
    json_t *rec = error ? NULL : json_loadb(value, len, 0, NULL);
    if (!error && !json_is_object(rec)) {
        json_decref(rec);
        rec = json_object();
    }
    json_t *cur = rec ? rec : json_object();
    if (!m->mutate(cur, !error, m->aux)) {
        json_decref(cur);
        rmw_finish(m, 0);
        return;
    }
    char *s = mem_json_dumps(cur, JSON_COMPACT);
    if (error) {
        coord_create(m->coord, m->path, s, strlen(s), 0, rmw_written, m);
    } else {
        coord_set_version(m->coord, m->path, s, strlen(s), version, rmw_written, m);
    }
    xfree(s);
    json_decref(cur);
}

static void
rmw_synced(void *aux, int error, const char *path)
{
    struct rmw *m = aux;
    if (error && error != ENOENT) {
        rmw_finish(m, error);
        return;
    }
    coord_get(m->coord, m->path, rmw_got, m);
}

/* The first read follows a sync, so that a record written through another discovery server
 * (another ZooKeeper session) just before is seen. */
static void
rmw_read(struct rmw *m)
{
    if (!m->tries) {
        coord_sync(m->coord, m->path, rmw_synced, m);
    } else {
        coord_get(m->coord, m->path, rmw_got, m);
    }
}

static void
record_update(struct coord *c, const char *path, bool create, record_mutate_fn *mutate,
              coord_done_fn *done, void *aux)
{
    struct rmw *m = mem_zalloc(&mem_type_disc, sizeof *m);
    m->coord = c;
    m->path = xstrdup(path);
    m->mutate = mutate;
    m->create = create;
    m->done = done;
    m->aux = aux;
    rmw_read(m);
}

/* POST /publish */

static void
publish_done(void *aux, int error, const char *path)
{
    struct op *op = aux;
    if (error) {
        store_error(op->ds, op->req, error);
    } else {
        char cookie[2 * MAX_NAME + 2];
        snprintf(cookie, sizeof cookie, "%s:%s", op->id, op->type);
        op->ds->n_publish++;
        reply(op->req, op->xml, "response", xjson_pack("{ss}", "cookie", cookie));
    }
    op_free(op);
}

/* The new record, keeping the creation time, use time and admin state of the old one. */
static bool
publish_mutate(json_t *rec, bool exists, void *aux)
{
    struct op *op = aux;
    double t = now();
    json_t *created = json_object_get(rec, "created");
    json_t *ts_use = json_object_get(rec, "ts_use");
    json_t *admin = json_object_get(rec, "admin_state");
    json_t *fresh = json_deep_copy(op->rec);
    json_object_set_new(fresh, "created", json_real(json_is_number(created)
                                                    ? json_number_value(created) : t));
    json_object_set_new(fresh, "ts_use", json_real(json_is_number(ts_use)
                                                   ? json_number_value(ts_use) : 0));
    json_object_set_new(fresh, "admin_state", json_is_string(admin) ? json_incref(admin)
                                                                    : json_string("up"));
    json_object_clear(rec);
    json_object_update(rec, fresh);
    json_decref(fresh);
    return true;
}

static void
hash_id(const char *text, char out[33])
{
    uint64_t h1 = 1469598103934665603ull, h2 = 0x9e3779b97f4a7c15ull;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        h1 = (h1 ^ *p) * 1099511628211ull;
        h2 = (h2 ^ *p) * 0xff51afd7ed558ccdull;
        h2 ^= h2 >> 29;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long) h1, (unsigned long long) h2);
}

static void
handle_publish(struct disc_server *ds, struct http_req *req)
{
    bool xml;
    json_t *j = parse_body(ds, req, &xml);
    if (!j) {
        return;
    }
    if (xml && json_is_object(json_object_get(j, "publish"))) {
        json_t *inner = json_incref(json_object_get(j, "publish"));
        json_decref(j);
        j = inner;
    }
    const char *type = json_string_value(json_object_get(j, "service-type"));
    if (!type && xml && json_object_size(j) == 1) {
        /* <xmpp-server><ip-address>..</ip-address>...</xmpp-server> */
        const char *k = json_object_iter_key(json_object_iter(j));
        json_t *body = xjson_pack("{sOss}", k, json_object_get(j, k), "service-type", k);
        json_decref(j);
        j = body;
        type = json_string_value(json_object_get(j, "service-type"));
    }
    json_t *info = type ? json_object_get(j, type) : NULL;
    if (!valid_name(type) || !json_is_object(info)) {
        ds->n_errors++;
        http_reply_text(req, 400, "Bad Request, publish needs \"service-type\" and an object "
                        "named after it with the service's information");
        json_decref(j);
        return;
    }
    const char *remote = json_string_value(json_object_get(j, "remote-addr"));
    const char *sid = json_string_value(json_object_get(j, "service-id"));
    const char *oper = json_string_value(json_object_get(j, "oper-state"));
    if ((sid && !valid_name(sid)) || (oper && strcmp(oper, "up") && strcmp(oper, "down"))) {
        ds->n_errors++;
        http_reply_text(req, 400, "Bad Request, invalid service-id or oper-state");
        json_decref(j);
        return;
    }
    struct op *op = op_create(ds, req, xml, j);
    snprintf(op->type, sizeof op->type, "%s", type);
    if (sid) {
        snprintf(op->id, sizeof op->id, "%s", sid);
    } else {
        char *canon = mem_json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS);
        char *text = mem_asprintf(&mem_type_disc, "%s|%s|%s", remote ? remote : "", type, canon);
        hash_id(text, op->id);
        xfree(canon);
        mem_free(&mem_type_disc, text);
    }
    if (!remote) {
        const char *peer = NULL;
        ev_uint16_t port;
        evhttp_connection_get_peer(evhttp_request_get_connection(req->ev), (char **) &peer,
                                   &port);
        remote = peer ? peer : "";
    }
    json_t *version = json_object_get(j, "version");
    op->rec = xjson_pack("{sssOsssssssfss?}", "service_type", type, "info", info, "remote",
                         remote, "oper_state", oper ? oper : "up", "oper_state_reason",
                         json_string_value(json_object_get(j, "oper-state-reason")) ?: "",
                         "heartbeat", now(), "version",
                         json_is_string(version) ? json_string_value(version) : NULL);
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, SERVICES "/%s/%s", op->type, op->id);
    record_update(ds->coord, path, true, publish_mutate, publish_done, op);
}

/* POST /heartbeat */

static void
heartbeat_set(void *aux, int error, const char *path)
{
    struct op *op = aux;
    if (error == ENOENT) {
        http_reply_text(op->req, 404, "Unknown service %s:%s: publish again", op->id,
                        op->type);
    } else if (error) {
        store_error(op->ds, op->req, error);
    } else {
        op->ds->n_heartbeat++;
        http_reply(op->req, 200, "text/plain", "200 OK", 6);
    }
    op_free(op);
}

static bool
heartbeat_mutate(json_t *rec, bool exists, void *aux)
{
    json_object_set_new(rec, "heartbeat", json_real(now()));
    return true;
}

/* Splits "<sid>:<type>" into OP. */
static bool
parse_cookie(struct op *op, const char *cookie)
{
    const char *colon = cookie ? strchr(cookie, ':') : NULL;
    if (!colon || (size_t) (colon - cookie) >= sizeof op->id) {
        return false;
    }
    snprintf(op->id, sizeof op->id, "%.*s", (int) (colon - cookie), cookie);
    snprintf(op->type, sizeof op->type, "%s", colon + 1);
    return valid_name(op->id) && valid_name(op->type);
}

static void
handle_heartbeat(struct disc_server *ds, struct http_req *req)
{
    bool xml;
    json_t *j = parse_body(ds, req, &xml);
    if (!j) {
        return;
    }
    json_t *inner = json_object_get(j, "heartbeat");
    const char *cookie = json_string_value(json_object_get(json_is_object(inner) ? inner : j,
                                                           "cookie"));
    struct op *op = op_create(ds, req, xml, j);
    if (!parse_cookie(op, cookie)) {
        ds->n_errors++;
        http_reply_text(req, 400, "Bad Request, heartbeat needs a cookie \"<id>:<type>\"");
        op_free(op);
        return;
    }
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, SERVICES "/%s/%s", op->type, op->id);
    record_update(ds->coord, path, false, heartbeat_mutate, heartbeat_set, op);
}

/* POST /subscribe and /query */

static const char *
policy_of(struct disc_server *ds, const char *type)
{
    const char *p = conf_lookup(ds->conf, type, "policy");
    return p ? p : "load-balance";
}

static int
cmp_double(double a, double b)
{
    return a < b ? -1 : a > b;
}

static const char *sort_policy;

static int
cmp_candidates(const void *a, const void *b)
{
    const struct svc *x = a, *y = b;
    if (!strcmp(sort_policy, "round-robin")) {
        return cmp_double(json_number_value(json_object_get(x->rec, "ts_use")),
                          json_number_value(json_object_get(y->rec, "ts_use")));
    }
    if (!strcmp(sort_policy, "fixed")) {
        int c = cmp_double(json_number_value(json_object_get(x->rec, "created")),
                           json_number_value(json_object_get(y->rec, "created")));
        return c ? c : strcmp(x->id, y->id);
    }
    return x->in_use < y->in_use ? -1 : x->in_use > y->in_use;
}

static bool
in_array(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (a, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), s)) {
            return true;
        }
    }
    return false;
}

static void subscribe_answer(struct op *op);

static void
subscribe_written(void *aux, int error, const char *path)
{
    struct op *op = aux;
    if (error) {
        store_error(op->ds, op->req, error);
        op_free(op);
        return;
    }
    subscribe_answer(op);
}

static void
subscribe_answer(struct op *op)
{
    struct disc_server *ds = op->ds;
    int ttl = op->ttl;
    json_t *list = json_array();
    size_t i;
    json_t *sid;
    json_array_foreach (op->chosen, i, sid) {
        for (size_t k = 0; k < op->n_svcs; k++) {
            if (!strcmp(op->svcs[k].id, json_string_value(sid))) {
                json_array_append_new(list, svc_answer(&op->svcs[k]));
            }
        }
    }
    if (op->assign) {
        ds->n_subscribe++;
    } else {
        ds->n_query++;
    }
    reply(op->req, op->xml, "response", xjson_pack("{siso}", "ttl", ttl, op->type, list));
    op_free(op);
}

static void
ignore_done(void *aux, int error, const char *path)
{
    if (error) {
        LOG_INFO("update of %s failed: %s", path ? path : "a service", strerror(error));
    }
}

/* Records the assignment (and the use time of newly assigned publishers, which round-robin
 * orders by), then answers. */
static void
subscribe_record(struct op *op, json_t *newly)
{
    struct disc_server *ds = op->ds;
    double t = now();
    size_t i;
    json_t *sid;
    json_array_foreach (newly, i, sid) {
        for (size_t k = 0; k < op->n_svcs; k++) {
            if (!strcmp(op->svcs[k].id, json_string_value(sid))) {
                json_object_set_new(op->svcs[k].rec, "ts_use", json_real(t));
                char path[3 * MAX_NAME];
                snprintf(path, sizeof path, SERVICES "/%s/%s", op->type, op->svcs[k].id);
                char *s = mem_json_dumps(op->svcs[k].rec, JSON_COMPACT);
                /* Best effort, and only over the version listed: the use time only orders
                 * round-robin, and must never write back a stale heartbeat or admin state. */
                coord_set_version(ds->coord, path, s, strlen(s), op->svcs[k].version,
                                  ignore_done, NULL);
                xfree(s);
            }
        }
    }
    json_t *b = op->body;
    /* The assignment outlives the TTL by a heartbeat period, so that a subscriber coming
     * back on time finds it. */
    op->rec = xjson_pack("{sssOsfsfsissssss}", "client_id", op->id, "services", op->chosen,
                         "ts", t, "expires", t + op->ttl + ds->hc_interval, "ttl", op->ttl,
                         "client_type",
                         json_string_value(json_object_get(b, "client-type")) ?: "",
                         "remote", json_string_value(json_object_get(b, "remote-addr")) ?: "",
                         "service_type", op->type);
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, CLIENTS "/%s/%s", op->type, op->id);
    store_put(ds->coord, path, op->rec, subscribe_written, op);
}

static void
subscribe_choose(struct op *op, const struct coord_child *clients, size_t n_clients)
{
    struct disc_server *ds = op->ds;
    double t = now();
    /* In-use counts from the live subscriptions. */
    for (size_t c = 0; c < n_clients; c++) {
        json_t *rec = json_loadb(clients[c].value, clients[c].len, 0, NULL);
        if (json_number_value(json_object_get(rec, "expires")) >= t
            && (!op->assign || strcmp(clients[c].name, op->id))) {
            size_t i;
            json_t *sid;
            json_array_foreach (json_object_get(rec, "services"), i, sid) {
                for (size_t k = 0; k < op->n_svcs; k++) {
                    if (json_is_string(sid) && !strcmp(op->svcs[k].id, json_string_value(sid))) {
                        op->svcs[k].in_use++;
                    }
                }
            }
        }
        json_decref(rec);
    }
    for (size_t k = 0; k < op->n_svcs; k++) {
        op->svcs[k].in_use += (long) json_integer_value(json_object_get(ds->inflight,
                                                                        op->svcs[k].id));
    }

    size_t n_up = 0;
    for (size_t k = 0; k < op->n_svcs; k++) {
        n_up += op->svcs[k].up;
    }
    size_t want = op->instances ? (size_t) op->instances : n_up;
    op->chosen = json_array();
    /* Sticky: keep what the subscriber had while it is still up. */
    size_t i;
    json_t *sid;
    json_array_foreach (op->prev, i, sid) {
        for (size_t k = 0; k < op->n_svcs && json_array_size(op->chosen) < want; k++) {
            if (op->svcs[k].up && json_is_string(sid)
                && !strcmp(op->svcs[k].id, json_string_value(sid))
                && !in_array(op->chosen, op->svcs[k].id)) {
                json_array_append_new(op->chosen, json_string(op->svcs[k].id));
            }
        }
    }
    /* Fill the rest by policy. */
    struct svc *cand = mem_zalloc(&mem_type_disc, (op->n_svcs + 1) * sizeof *cand);
    size_t nc = 0;
    for (size_t k = 0; k < op->n_svcs; k++) {
        if (op->svcs[k].up && !in_array(op->chosen, op->svcs[k].id)) {
            cand[nc++] = op->svcs[k];
        }
    }
    /* Shuffle first so that ties are broken at random, then a stable order by policy. */
    for (size_t k = nc; k > 1; k--) {
        size_t r = random_u32() % k;
        struct svc tmp = cand[k - 1];
        cand[k - 1] = cand[r];
        cand[r] = tmp;
    }
    sort_policy = policy_of(ds, op->type);
    for (size_t k = 1; k < nc; k++) {
        struct svc x = cand[k];
        size_t m = k;
        while (m && cmp_candidates(&cand[m - 1], &x) > 0) {
            cand[m] = cand[m - 1];
            m--;
        }
        cand[m] = x;
    }
    json_t *newly = json_array();
    op->counted = json_array();
    for (size_t k = 0; k < nc && json_array_size(op->chosen) < want; k++) {
        json_array_append_new(op->chosen, json_string(cand[k].id));
        json_array_append_new(newly, json_string(cand[k].id));
        if (op->assign) {
            inflight_add(ds, cand[k].id, 1);
            json_array_append_new(op->counted, json_string(cand[k].id));
        }
    }
    mem_free(&mem_type_disc, cand);
    size_t n = json_array_size(op->chosen);
    if (n < want || !n) {
        /* Fewer than asked for: come back soon. */
        op->ttl = 1 + (int) (random_u32() % (uint32_t) (ds->ttl_min < 32 ? ds->ttl_min : 32));
    } else {
        op->ttl = ds->ttl_min
                  + (int) (random_u32() % (uint32_t) (ds->ttl_max - ds->ttl_min + 1));
    }
    if (op->assign) {
        subscribe_record(op, newly);
    } else {
        subscribe_answer(op);
    }
    json_decref(newly);
}

static void
subscribe_got_clients(void *aux, int error, const struct coord_child *kids, size_t n)
{
    struct op *op = aux;
    if (error && error != ENOENT) {
        store_error(op->ds, op->req, error);
        op_free(op);
        return;
    }
    subscribe_choose(op, kids, error ? 0 : n);
}

static void
subscribe_got_prev(void *aux, int error, const char *value, size_t len, int version)
{
    struct op *op = aux;
    if (error && error != ENOENT) {
        store_error(op->ds, op->req, error);
        op_free(op);
        return;
    }
    json_t *rec = error ? NULL : json_loadb(value, len, 0, NULL);
    op->prev = json_incref(json_object_get(rec, "services"));
    json_decref(rec);
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, CLIENTS "/%s", op->type);
    coord_list(op->ds->coord, path, subscribe_got_clients, op);
}

static void
subscribe_got_services(void *aux, int error, const struct coord_child *kids, size_t n)
{
    struct op *op = aux;
    if (error && error != ENOENT) {
        store_error(op->ds, op->req, error);
        op_free(op);
        return;
    }
    op->n_svcs = error ? 0 : n;
    op->svcs = svcs_from_children(op->ds, kids, op->n_svcs);
    if (!op->assign) {
        /* A query: the subscriber's own in-use lists do not matter, nor is anything kept. */
        char path[3 * MAX_NAME];
        snprintf(path, sizeof path, CLIENTS "/%s", op->type);
        coord_list(op->ds->coord, path, subscribe_got_clients, op);
        return;
    }
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, CLIENTS "/%s/%s", op->type, op->id);
    coord_get(op->ds->coord, path, subscribe_got_prev, op);
}

/* Reads follow a sync: a publisher or subscription written through another discovery server
 * just before is seen. */
static void
subscribe_synced(void *aux, int error, const char *path)
{
    struct op *op = aux;
    if (error && error != ENOENT) {
        store_error(op->ds, op->req, error);
        op_free(op);
        return;
    }
    char spath[3 * MAX_NAME];
    snprintf(spath, sizeof spath, SERVICES "/%s", op->type);
    coord_list(op->ds->coord, spath, subscribe_got_services, op);
}

static void
handle_subscribe(struct disc_server *ds, struct http_req *req, bool assign)
{
    bool xml;
    json_t *j = parse_body(ds, req, &xml);
    if (!j) {
        return;
    }
    if (xml && json_object_size(j) == 1 && !json_object_get(j, "service")) {
        /* <xmpp-server><instances>2</instances><client>..</client></xmpp-server> */
        const char *k = json_object_iter_key(json_object_iter(j));
        json_t *inner = json_object_get(j, k);
        json_t *flat = json_is_object(inner) ? json_deep_copy(inner) : json_object();
        json_object_set_new(flat, "service", json_string(k));
        json_decref(j);
        j = flat;
    }
    const char *type = json_string_value(json_object_get(j, "service"));
    const char *client = json_string_value(json_object_get(j, "client"));
    json_t *inst = json_object_get(j, "instances");
    long instances = -1;
    if (!inst) {
        instances = 1;
    } else if (json_is_integer(inst)) {
        instances = (long) json_integer_value(inst);
    } else if (json_is_string(inst)) {
        const char *s = json_string_value(inst);
        char *end;
        long v = strtol(s, &end, 10);
        if (*s && !*end && end - s < 6) {
            instances = v;
        }
    }
    if (!valid_name(type) || (assign && !valid_component(client, true)) || instances < 0
        || instances > 1024) {
        ds->n_errors++;
        http_reply_text(req, 400, "Bad Request, %s needs \"service\" (a service type), "
                        "\"client\" (an id without '/') and \"instances\" (0..1024)",
                        assign ? "subscribe" : "query");
        json_decref(j);
        return;
    }
    struct op *op = op_create(ds, req, xml, j);
    snprintf(op->type, sizeof op->type, "%s", type);
    snprintf(op->id, sizeof op->id, "%s", client ? client : "");
    op->instances = (int) instances;
    op->assign = assign;
    coord_sync(ds->coord, SERVICES, subscribe_synced, op);
}

/* GET /services, /services/<type>, /clients, /clients/<type> */

struct listing {
    struct disc_server *ds;
    struct http_req *req;
    bool clients;
    json_t *types;              /* Types still to list. */
    size_t next;
    json_t *services;           /* Services of the current type (services listing). */
    json_t *out;
};

static void listing_next(struct listing *);

static void
listing_fail(struct listing *l, int error)
{
    store_error(l->ds, l->req, error);
    json_decref(l->types);
    json_decref(l->services);
    json_decref(l->out);
    mem_free(&mem_type_disc, l);
}

/* The subscriptions of the current type: client rows, or in-use counts of its services. */
static void
listing_got_clients(void *aux, int error, const struct coord_child *kids, size_t n)
{
    struct listing *l = aux;
    if (error && error != ENOENT) {
        listing_fail(l, error);
        return;
    }
    const char *type = json_string_value(json_array_get(l->types, l->next - 1));
    double t = now();
    for (size_t i = 0; !error && i < n; i++) {
        json_t *rec = json_loadb(kids[i].value, kids[i].len, 0, NULL);
        double exp = json_number_value(json_object_get(rec, "expires"));
        size_t k;
        json_t *sid;
        json_array_foreach (json_object_get(rec, "services"), k, sid) {
            if (!json_is_string(sid)) {
                continue;
            }
            if (l->clients) {
                char service_id[2 * MAX_NAME + 2];
                snprintf(service_id, sizeof service_id, "%s:%s", json_string_value(sid), type);
                json_array_append_new(l->out, xjson_pack(
                    "{sssssssssssisf}", "client_id", kids[i].name, "client_type",
                    json_string_value(json_object_get(rec, "client_type")) ?: "",
                    "service_type", type, "service_id", service_id, "remote",
                    json_string_value(json_object_get(rec, "remote")) ?: "",
                    "ttl", (int) json_integer_value(json_object_get(rec, "ttl")),
                    "ts", json_number_value(json_object_get(rec, "ts"))));
            } else if (exp >= t) {
                size_t m;
                json_t *e;
                json_array_foreach (l->services, m, e) {
                    if (!strcmp(json_string_value(json_object_get(e, "service_id")),
                                json_string_value(sid))) {
                        json_t *iu = json_object_get(e, "in_use");
                        json_object_set_new(e, "in_use",
                                            json_integer(json_integer_value(iu) + 1));
                    }
                }
            }
        }
        json_decref(rec);
    }
    if (!l->clients) {
        /* Service ids as the original shows them: "<id>:<type>". */
        size_t m;
        json_t *e;
        json_array_foreach (l->services, m, e) {
            char service_id[2 * MAX_NAME + 2];
            snprintf(service_id, sizeof service_id, "%s:%s",
                     json_string_value(json_object_get(e, "service_id")), type);
            json_object_set_new(e, "service_id", json_string(service_id));
            json_array_append(l->out, e);
        }
        json_decref(l->services);
        l->services = NULL;
    }
    listing_next(l);
}

static void
listing_got_services(void *aux, int error, const struct coord_child *kids, size_t n)
{
    struct listing *l = aux;
    if (error && error != ENOENT) {
        listing_fail(l, error);
        return;
    }
    const char *type = json_string_value(json_array_get(l->types, l->next - 1));
    double t = now();
    l->services = json_array();
    for (size_t i = 0; !error && i < n; i++) {
        json_t *rec = json_loadb(kids[i].value, kids[i].len, 0, NULL);
        if (!json_is_object(rec)) {
            json_decref(rec);
            continue;
        }
        json_object_set_new(rec, "service_type", json_string(type));
        json_object_set_new(rec, "service_id", json_string(kids[i].name));
        json_object_set_new(rec, "status", json_string(svc_is_up(l->ds, rec, t) ? "up"
                                                                                : "down"));
        json_object_set_new(rec, "in_use", json_integer(0));
        json_array_append_new(l->services, rec);
    }
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, CLIENTS "/%s", type);
    coord_list(l->ds->coord, path, listing_got_clients, l);
}

static void
listing_next(struct listing *l)
{
    if (l->next < json_array_size(l->types)) {
        const char *type = json_string_value(json_array_get(l->types, l->next));
        l->next++;
        char path[3 * MAX_NAME];
        if (l->clients) {
            snprintf(path, sizeof path, CLIENTS "/%s", type);
            coord_list(l->ds->coord, path, listing_got_clients, l);
        } else {
            snprintf(path, sizeof path, SERVICES "/%s", type);
            coord_list(l->ds->coord, path, listing_got_services, l);
        }
        return;
    }
    http_reply_json(l->req, 200, xjson_pack("{so}", "services", l->out));
    json_decref(l->types);
    mem_free(&mem_type_disc, l);
}

static void
listing_got_types(void *aux, int error, const struct coord_child *kids, size_t n)
{
    struct listing *l = aux;
    if (error && error != ENOENT) {
        listing_fail(l, error);
        return;
    }
    for (size_t i = 0; !error && i < n; i++) {
        json_array_append_new(l->types, json_string(kids[i].name));
    }
    listing_next(l);
}

static void
handle_listing(struct disc_server *ds, struct http_req *req, bool clients, const char *type)
{
    struct listing *l = mem_zalloc(&mem_type_disc, sizeof *l);
    l->ds = ds;
    l->req = req;
    l->clients = clients;
    l->types = json_array();
    l->out = json_array();
    if (type) {
        if (!valid_name(type)) {
            http_reply_text(req, 400, "Bad Request, invalid service type");
            json_decref(l->types);
            json_decref(l->out);
            mem_free(&mem_type_disc, l);
            return;
        }
        json_array_append_new(l->types, json_string(type));
        listing_next(l);
        return;
    }
    coord_list(ds->coord, clients ? CLIENTS : SERVICES, listing_got_types, l);
}

/* GET/PUT/DELETE /service/<id>:<type> (admin state) */

static void
admin_done(void *aux, int error, const char *path)
{
    struct op *op = aux;
    if (error == ENOENT) {
        http_reply_text(op->req, 404, "Unknown service %s:%s", op->id, op->type);
    } else if (error) {
        store_error(op->ds, op->req, error);
    } else if (op->rec) {
        http_reply_json(op->req, 200, json_incref(op->rec));
    } else {
        http_reply(op->req, 200, "text/plain", "", 0);
    }
    op_free(op);
}

static void
admin_got(void *aux, int error, const char *value, size_t len, int version)
{
    struct op *op = aux;
    json_t *rec = error ? NULL : json_loadb(value, len, 0, NULL);
    if (error || !json_is_object(rec)) {
        json_decref(rec);
        admin_done(op, error ? error : ENOENT, NULL);
        return;
    }
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, SERVICES "/%s/%s", op->type, op->id);
    if (op->req->method == EVHTTP_REQ_GET) {
        op->rec = rec;
        admin_done(op, 0, NULL);
    } else {
        json_decref(rec);
        coord_delete(op->ds->coord, path, admin_done, op);
    }
}

static bool
admin_mutate(json_t *rec, bool exists, void *aux)
{
    struct op *op = aux;
    const char *state = json_string_value(json_object_get(op->body, "admin-state"));
    json_object_set_new(rec, "admin_state", json_string(state));
    json_decref(op->rec);
    op->rec = json_deep_copy(rec);
    return true;
}

static void
handle_admin(struct disc_server *ds, struct http_req *req, const char *cookie)
{
    json_t *body = NULL;
    if (req->method == EVHTTP_REQ_PUT) {
        bool xml;
        body = parse_body(ds, req, &xml);
        if (!body) {
            return;
        }
        const char *state = json_string_value(json_object_get(body, "admin-state"));
        if (!state || (strcmp(state, "up") && strcmp(state, "down"))) {
            ds->n_errors++;
            http_reply_text(req, 400, "Bad Request, admin-state must be \"up\" or \"down\"");
            json_decref(body);
            return;
        }
    } else if (req->method != EVHTTP_REQ_GET && req->method != EVHTTP_REQ_DELETE) {
        http_reply_text(req, 405, "Method Not Allowed");
        return;
    }
    struct op *op = op_create(ds, req, false, body);
    if (!parse_cookie(op, cookie)) {
        ds->n_errors++;
        http_reply_text(req, 400, "Bad Request, service id must be \"<id>:<type>\"");
        op_free(op);
        return;
    }
    char path[3 * MAX_NAME];
    snprintf(path, sizeof path, SERVICES "/%s/%s", op->type, op->id);
    if (req->method == EVHTTP_REQ_PUT) {
        record_update(ds->coord, path, false, admin_mutate, admin_done, op);
    } else {
        coord_get(ds->coord, path, admin_got, op);
    }
}

static void
disc_handle(struct http_req *req, void *aux)
{
    struct disc_server *ds = aux;
    const char *p = req->path;
    enum evhttp_cmd_type m = req->method;
    if ((!strcmp(p, "/publish") || !strncmp(p, "/publish/", 9)) && m == EVHTTP_REQ_POST) {
        handle_publish(ds, req);
    } else if (!strcmp(p, "/heartbeat") && m == EVHTTP_REQ_POST) {
        handle_heartbeat(ds, req);
    } else if (!strcmp(p, "/subscribe") && m == EVHTTP_REQ_POST) {
        handle_subscribe(ds, req, true);
    } else if (!strcmp(p, "/query") && m == EVHTTP_REQ_POST) {
        handle_subscribe(ds, req, false);
    } else if ((!strcmp(p, "/services") || !strcmp(p, "/services.json")) && m == EVHTTP_REQ_GET) {
        handle_listing(ds, req, false, NULL);
    } else if (!strncmp(p, "/services/", 10) && m == EVHTTP_REQ_GET) {
        handle_listing(ds, req, false, p + 10);
    } else if ((!strcmp(p, "/clients") || !strcmp(p, "/clients.json")) && m == EVHTTP_REQ_GET) {
        handle_listing(ds, req, true, NULL);
    } else if (!strncmp(p, "/clients/", 9) && m == EVHTTP_REQ_GET) {
        handle_listing(ds, req, true, p + 9);
    } else if (!strncmp(p, "/service/", 9)) {
        handle_admin(ds, req, p + 9);
    } else if (!strcmp(p, "/") && m == EVHTTP_REQ_GET) {
        http_reply_json(req, 200, xjson_pack("{s[ssssssss]}", "links", "/publish", "/heartbeat",
                                             "/subscribe", "/query", "/services.json",
                                             "/clients.json", "/service/<id>:<type>",
                                             "/stats"));
    } else if (!strcmp(p, "/stats") && m == EVHTTP_REQ_GET) {
        http_reply_json(req, 200, xjson_pack("{sIsIsIsIsIsI}", "publish",
                                             (json_int_t) ds->n_publish, "heartbeat",
                                             (json_int_t) ds->n_heartbeat, "subscribe",
                                             (json_int_t) ds->n_subscribe, "query",
                                             (json_int_t) ds->n_query, "errors",
                                             (json_int_t) ds->n_errors, "store_errors",
                                             (json_int_t) ds->n_store_errors));
    } else {
        http_reply_text(req, 404, "Not Found: %s", p);
    }
}

static json_t *
page_discovery(struct http_req *req, void *aux)
{
    struct disc_server *ds = aux;
    static const char *const states[] = { "connecting", "connected", "expired" };
    enum coord_state st = coord_state(ds->coord);
    return xjson_pack("{s{ssss}s{sisisisi}s{sIsIsIsIsIsIsI}}",
                      "store", "backend", ds->coord->class->name,
                      "state", (unsigned) st < 3 ? states[st] : "?",
                      "config", "hc_interval", ds->hc_interval, "hc_max_miss", ds->hc_max_miss,
                      "ttl_min", ds->ttl_min, "ttl_max", ds->ttl_max,
                      "counters", "publish", (json_int_t) ds->n_publish,
                      "heartbeat", (json_int_t) ds->n_heartbeat,
                      "subscribe", (json_int_t) ds->n_subscribe,
                      "query", (json_int_t) ds->n_query,
                      "errors", (json_int_t) ds->n_errors,
                      "store_errors", (json_int_t) ds->n_store_errors,
                      "store_retries", (json_int_t) ds->n_store_retries);
}

void
disc_server_register_introspect(struct disc_server *ds, struct introspect *is)
{
    introspect_add_page(is, "/discovery", "Discovery: store session, settings, counters",
                        page_discovery, ds);
    introspect_add_counter(is, "discovery_publish_total", "Publishes", &ds->n_publish);
    introspect_add_counter(is, "discovery_heartbeat_total", "Heartbeats", &ds->n_heartbeat);
    introspect_add_counter(is, "discovery_subscribe_total", "Subscribes", &ds->n_subscribe);
    introspect_add_counter(is, "discovery_errors_total", "Bad requests", &ds->n_errors);
    introspect_add_counter(is, "discovery_store_errors_total",
                           "Requests failed by the coordination service", &ds->n_store_errors);
}

int
disc_server_open(struct disc_server *ds, struct event_base *base, struct coord *coord,
                 const struct conf *conf, const char *addr, int port, char *err,
                 size_t errlen)
{
    memset(ds, 0, sizeof *ds);
    ds->base = base;
    ds->coord = coord;
    ds->inflight = json_object();
    ds->conf = conf;
    ds->hc_interval = (int) conf_get_int(conf, "hc_interval");
    ds->hc_max_miss = (int) conf_get_int(conf, "hc_max_miss");
    ds->ttl_min = (int) conf_get_int(conf, "ttl_min");
    ds->ttl_max = (int) conf_get_int(conf, "ttl_max");
    if (ds->hc_interval < 1 || ds->hc_max_miss < 1 || ds->ttl_min < 1
        || ds->ttl_max < ds->ttl_min) {
        snprintf(err, errlen, "invalid hc_interval/hc_max_miss/ttl_min/ttl_max");
        return EINVAL;
    }
    int error = http_server_create(base, addr, port, 65536, disc_handle, ds, &ds->http);
    if (error) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr, port, strerror(error));
        return error;
    }
    LOG_NOTICE("contrail-discovery listening on %s:%d", addr, http_server_port(ds->http));
    return 0;
}

void
disc_server_close(struct disc_server *ds)
{
    http_server_destroy(ds->http);
    json_decref(ds->inflight);
    ds->inflight = NULL;
}
