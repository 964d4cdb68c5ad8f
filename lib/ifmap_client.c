/* ifmap_client: asynchronous IF-MAP client (see ifmap_client.h). */
#include "ifmap_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>

#include "http_client.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(ifmap_client);

static MEM_TYPE(mem_type_ifc, "ifmap_client");

#define NS_SOAP "http://www.w3.org/2003/05/soap-envelope"
#define NS_IFMAP "http://www.trustedcomputinggroup.org/2010/IFMAP/2"
#define NS_META "http://www.trustedcomputinggroup.org/2010/IFMAP-METADATA/2"
#define NS_CONTRAIL "http://www.contrailsystems.com/vnc_cfg.xsd"

/* Seconds a held poll may wait before the client asks again (the server answers the older
 * poll when the next one comes, so nothing is lost). */
#define POLL_TIMEOUT_S 300
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct ifmap_client {
    struct event_base *base;
    struct http_client *ctl;    /* Requests. */
    struct http_client *arc;    /* The long poll. */
    char *session_id;
    char *publisher_id;
    unsigned generation;        /* Bumped with every session: stale answers are ignored. */
    struct call *calls;         /* In flight. */
    bool destroying;

    /* Managed mode. */
    bool managed;
    bool connecting;
    bool polling;
    ifmap_client_session_fn *session_cb;
    ifmap_client_poll_fn *poll_cb;
    void *aux;
    struct event *retry;
    int backoff_ms;
    bool reset_pending;         /* Connections to drop before the next session. */
    int poll_failures;          /* Consecutive polls without an answer. */

    struct ifmap_client_stats stats;
};

struct call {
    struct ifmap_client *client;
    char op[32];
    ifmap_client_done_fn *done;
    void *aux;
    unsigned generation;
    bool internal;              /* Managed mode's own (session, poll). */
    struct call *prev, *next;
};

static void client_lost(struct ifmap_client *, const char *why);

/* ---- Calls ---- */

static void
call_unlink(struct call *k)
{
    struct ifmap_client *c = k->client;
    if (k->prev) {
        k->prev->next = k->next;
    } else {
        c->calls = k->next;
    }
    if (k->next) {
        k->next->prev = k->prev;
    }
}

static bool
is(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href
        && !strcmp((const char *) n->ns->href, ns) && !strcmp((const char *) n->name, name);
}

static xmlNode *
first_elem(const xmlNode *n)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return NULL;
}

static xmlNode *
next_elem(const xmlNode *n)
{
    for (xmlNode *c = n->next; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return NULL;
}

static const char *
attr(const xmlNode *n, const char *name)
{
    for (xmlAttr *a = n->properties; a; a = a->next) {
        if (!a->ns && !strcmp((const char *) a->name, name) && a->children
            && a->children->type == XML_TEXT_NODE) {
            return (const char *) a->children->content;
        }
    }
    return NULL;
}

static const char *
text_of(xmlNode *n)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (c->type == XML_TEXT_NODE) {
            return (const char *) c->content;
        }
    }
    return NULL;
}

struct item_vec {
    struct ifmap_client_item *v;
    size_t n, cap;
};

static struct ifmap_client_item *
item_add(struct item_vec *iv)
{
    if (iv->n == iv->cap) {
        iv->cap = iv->cap ? 2 * iv->cap : 16;
        iv->v = mem_realloc(&mem_type_ifc, iv->v, iv->cap * sizeof *iv->v);
    }
    struct ifmap_client_item *it = &iv->v[iv->n++];
    memset(it, 0, sizeof *it);
    return it;
}

/* The resultItems of result element R (searchResult, updateResult, ...). */
static void
parse_items(xmlNode *r, enum ifmap_client_item_kind kind, struct item_vec *iv)
{
    const char *name = attr(r, "name");
    for (xmlNode *ri = first_elem(r); ri; ri = next_elem(ri)) {
        if (strcmp((const char *) ri->name, "resultItem")) {
            continue;
        }
        struct ifmap_client_item *it = item_add(iv);
        it->kind = kind;
        it->sub_name = name;
        int k = 0;
        for (xmlNode *c = first_elem(ri); c; c = next_elem(c)) {
            if (!strcmp((const char *) c->name, "metadata")) {
                it->metadata = c;
            } else if (k < 2) {
                it->ident_node[k] = c;
                it->ident[k] = attr(c, "name");
                if (!it->ident[k]) {
                    it->ident[k] = attr(c, "value");
                }
                if (!it->ident[k]) {
                    it->ident[k] = text_of(first_elem(c));  /* device/name */
                }
                k++;
            }
        }
    }
}

static void
parse_poll(xmlNode *pr, struct item_vec *iv)
{
    for (xmlNode *r = first_elem(pr); r; r = next_elem(r)) {
        const char *n = (const char *) r->name;
        if (!strcmp(n, "searchResult")) {
            parse_items(r, IFMAP_ITEM_SEARCH, iv);
        } else if (!strcmp(n, "updateResult")) {
            parse_items(r, IFMAP_ITEM_UPDATE, iv);
        } else if (!strcmp(n, "deleteResult")) {
            parse_items(r, IFMAP_ITEM_DELETE, iv);
        } else if (!strcmp(n, "notifyResult")) {
            parse_items(r, IFMAP_ITEM_NOTIFY, iv);
        } else if (!strcmp(n, "errorResult")) {
            struct ifmap_client_item *it = item_add(iv);
            it->kind = IFMAP_ITEM_ERROR;
            it->sub_name = attr(r, "name");
            it->error_code = attr(r, "errorCode");
        }
    }
}

static void call_finish(struct call *k, struct ifmap_client_reply *rep);

static void
call_done(void *aux, int status, const char *body, size_t len)
{
    struct call *k = aux;
    struct ifmap_client *c = k->client;
    call_unlink(k);
    struct ifmap_client_reply rep = { .http_status = status };
    xmlDoc *doc = NULL;
    struct item_vec iv = { 0 };
    char msg[256];
    if (c->destroying) {
        rep.error = ECANCELED;
        rep.message = "client destroyed";
    } else if (!status) {
        rep.error = EIO;
        rep.message = body;
    } else if (status == 401) {
        rep.error = EACCES;
        rep.message = "authentication failed (HTTP 401)";
    } else {
        doc = len ? xmlReadMemory(body, (int) len, "reply.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                                  | XML_PARSE_HUGE) : NULL;
        xmlNode *env = doc ? xmlDocGetRootElement(doc) : NULL;
        xmlNode *bodyn = NULL;
        for (xmlNode *n = first_elem(env); n; n = next_elem(n)) {
            if (is(n, NS_SOAP, "Body")) {
                bodyn = n;
            }
        }
        xmlNode *inner = first_elem(bodyn);
        if (is(inner, NS_IFMAP, "response")) {
            rep.result = first_elem(inner);
        }
        if (is(inner, NS_SOAP, "Fault")) {
            rep.error = EPROTO;
            xmlNode *code = first_elem(first_elem(inner));      /* Code/Value */
            rep.error_code = text_of(code);
            for (xmlNode *n = first_elem(inner); n; n = next_elem(n)) {
                if (!strcmp((const char *) n->name, "Reason")) {
                    rep.message = text_of(first_elem(n));
                }
            }
        } else if (!rep.result) {
            rep.error = EPROTO;
            snprintf(msg, sizeof msg, "HTTP %d without an IF-MAP response", status);
            rep.message = msg;
        } else if (!strcmp((const char *) rep.result->name, "errorResult")) {
            rep.error = EPROTO;
            rep.error_code = attr(rep.result, "errorCode");
            for (xmlNode *n = first_elem(rep.result); n; n = next_elem(n)) {
                if (!strcmp((const char *) n->name, "errorString")) {
                    rep.message = text_of(n);
                }
            }
        } else if (!strcmp((const char *) rep.result->name, "searchResult")) {
            parse_items(rep.result, IFMAP_ITEM_SEARCH, &iv);
        } else if (!strcmp((const char *) rep.result->name, "pollResult")) {
            parse_poll(rep.result, &iv);
        }
    }
    rep.items = iv.v;
    rep.n_items = iv.n;
    if (rep.error && rep.error != ECANCELED) {
        c->stats.errors++;
        LOG_INFO("%s: %s%s%s", k->op, rep.error_code ? rep.error_code : "",
                 rep.error_code ? ": " : "", rep.message ? rep.message : strerror(rep.error));
    }
    call_finish(k, &rep);
    mem_free(&mem_type_ifc, iv.v);
    if (doc) {
        xmlFreeDoc(doc);
    }
}

static void
call_finish(struct call *k, struct ifmap_client_reply *rep)
{
    struct ifmap_client *c = k->client;
    bool current = k->generation == c->generation;
    if (k->done) {
        k->done(k->aux, rep);
    }
    /* A managed client starts over when its session is gone. */
    if (!c->destroying && c->managed && current && !k->internal
        && (rep->error == EIO || (rep->error_code
                                  && !strcmp(rep->error_code, "InvalidSessionID")))) {
        client_lost(c, rep->error == EIO ? "connection lost" : "session no longer valid");
    }
    mem_free(&mem_type_ifc, k);
}

static void
buf_escape(struct evbuffer *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': evbuffer_add(b, "&lt;", 4); break;
        case '>': evbuffer_add(b, "&gt;", 4); break;
        case '&': evbuffer_add(b, "&amp;", 5); break;
        case '"': evbuffer_add(b, "&quot;", 6); break;
        case '\'': evbuffer_add(b, "&apos;", 6); break;
        default: evbuffer_add(b, s, 1);
        }
    }
}

char *
ifmap_client_escape(const char *s)
{
    struct evbuffer *b = evbuffer_new();
    buf_escape(b, s);
    size_t n = evbuffer_get_length(b);
    char *out = mem_zalloc(&mem_type_string, n + 1);
    evbuffer_remove(b, out, n);
    evbuffer_free(b);
    return out;
}

/* Sends operation OP with attributes ATTRS (already formatted, may be "") and content INNER
 * on HC. */
static int
call_send(struct ifmap_client *c, struct http_client *hc, const char *op, bool with_session,
          const char *attrs, const char *inner, ifmap_client_done_fn *done, void *aux,
          bool internal)
{
    if (with_session && !c->session_id) {
        return ENOTCONN;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                        "<env:Envelope xmlns:env=\"" NS_SOAP "\" xmlns:ifmap=\"" NS_IFMAP "\""
                        " xmlns:meta=\"" NS_META "\" xmlns:contrail=\"" NS_CONTRAIL "\">"
                        "<env:Body><ifmap:%s", op);
    if (with_session) {
        evbuffer_add_printf(b, " session-id=\"%s\"", c->session_id);
    }
    evbuffer_add_printf(b, "%s>%s</ifmap:%s></env:Body></env:Envelope>", attrs ? attrs : "",
                        inner ? inner : "", op);
    struct call *k = mem_zalloc(&mem_type_ifc, sizeof *k);
    k->client = c;
    snprintf(k->op, sizeof k->op, "%s", op);
    k->done = done;
    k->aux = aux;
    k->generation = c->generation;
    k->internal = internal;
    k->next = c->calls;
    if (k->next) {
        k->next->prev = k;
    }
    c->calls = k;
    char action[64];
    snprintf(action, sizeof action, "%s", op);
    struct http_client_header h[] = { { "SOAPAction", action } };
    size_t len = evbuffer_get_length(b);
    int error = http_client_request_full(hc, "POST", "/", h, 1,
                                         "application/soap+xml; charset=utf-8",
                                         (const char *) evbuffer_pullup(b, -1), len, call_done,
                                         k);
    evbuffer_free(b);
    if (error) {
        call_unlink(k);
        mem_free(&mem_type_ifc, k);
        return error;
    }
    c->stats.requests++;
    return 0;
}

/* ---- Operations ---- */

struct new_session_ctx {
    struct ifmap_client *client;
    ifmap_client_done_fn *done;
    void *aux;
};

static void
new_session_done(void *aux, const struct ifmap_client_reply *rep)
{
    struct new_session_ctx *ctx = aux;
    struct ifmap_client *c = ctx->client;
    if (!rep->error && rep->result
        && !strcmp((const char *) rep->result->name, "newSessionResult")) {
        const char *id = attr(rep->result, "session-id");
        const char *pub = attr(rep->result, "ifmap-publisher-id");
        if (id) {
            mem_free(&mem_type_ifc, c->session_id);
            mem_free(&mem_type_ifc, c->publisher_id);
            c->session_id = mem_strdup(&mem_type_ifc, id);
            c->publisher_id = mem_strdup(&mem_type_ifc, pub ? pub : "");
            c->generation++;
            c->stats.sessions++;
        }
    }
    if (ctx->done) {
        ctx->done(ctx->aux, rep);
    }
    mem_free(&mem_type_ifc, ctx);
}

static int
new_session(struct ifmap_client *c, ifmap_client_done_fn *done, void *aux, bool internal)
{
    struct new_session_ctx *ctx = mem_zalloc(&mem_type_ifc, sizeof *ctx);
    ctx->client = c;
    ctx->done = done;
    ctx->aux = aux;
    int error = call_send(c, c->ctl, "newSession", false, "", "", new_session_done, ctx,
                          internal);
    if (error) {
        mem_free(&mem_type_ifc, ctx);
    }
    return error;
}

int
ifmap_client_new_session(struct ifmap_client *c, ifmap_client_done_fn *done, void *aux)
{
    return new_session(c, done, aux, false);
}

int
ifmap_client_renew(struct ifmap_client *c, ifmap_client_done_fn *done, void *aux)
{
    return call_send(c, c->ctl, "renewSession", true, "", "", done, aux, false);
}

int
ifmap_client_end_session(struct ifmap_client *c, ifmap_client_done_fn *done, void *aux)
{
    int error = call_send(c, c->ctl, "endSession", true, "", "", done, aux, true);
    if (!error) {
        mem_free(&mem_type_ifc, c->session_id);
        c->session_id = NULL;
        c->generation++;
        c->managed = false;
    }
    return error;
}

int
ifmap_client_publish(struct ifmap_client *c, const char *fragment, ifmap_client_done_fn *done,
                     void *aux)
{
    return call_send(c, c->ctl, "publish", true, "", fragment, done, aux, false);
}

/* Attributes max-depth / match-links / result-filter into B. */
static void
search_attrs(struct evbuffer *b, int max_depth, const char *match_links,
             const char *result_filter)
{
    evbuffer_add_printf(b, " max-depth=\"%d\"", max_depth < 0 ? 0 : max_depth);
    if (match_links) {
        evbuffer_add_printf(b, " match-links=\"");
        buf_escape(b, match_links);
        evbuffer_add(b, "\"", 1);
    }
    if (result_filter) {
        evbuffer_add_printf(b, " result-filter=\"");
        buf_escape(b, result_filter);
        evbuffer_add(b, "\"", 1);
    }
}

static void
identity(struct evbuffer *b, const char *name)
{
    evbuffer_add_printf(b, "<identity name=\"");
    buf_escape(b, name);
    evbuffer_add_printf(b, "\" type=\"other\" other-type-definition=\"extended\"/>");
}

static char *
buf_string(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = mem_zalloc(&mem_type_ifc, n + 1);
    evbuffer_remove(b, s, n);
    return s;
}

int
ifmap_client_search(struct ifmap_client *c, const char *start_name, int max_depth,
                    const char *match_links, const char *result_filter,
                    ifmap_client_done_fn *done, void *aux)
{
    struct evbuffer *b = evbuffer_new();
    search_attrs(b, max_depth, match_links, result_filter);
    char *attrs = buf_string(b);
    identity(b, start_name);
    char *inner = buf_string(b);
    evbuffer_free(b);
    int error = call_send(c, c->ctl, "search", true, attrs, inner, done, aux, false);
    mem_free(&mem_type_ifc, attrs);
    mem_free(&mem_type_ifc, inner);
    return error;
}

int
ifmap_client_subscribe(struct ifmap_client *c, const char *name, const char *start_name,
                       int max_depth, const char *match_links, ifmap_client_done_fn *done,
                       void *aux)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "<update name=\"");
    buf_escape(b, name);
    evbuffer_add(b, "\"", 1);
    search_attrs(b, max_depth, match_links, NULL);
    evbuffer_add(b, ">", 1);
    identity(b, start_name);
    evbuffer_add_printf(b, "</update>");
    char *inner = buf_string(b);
    evbuffer_free(b);
    int error = call_send(c, c->ctl, "subscribe", true, "", inner, done, aux, false);
    mem_free(&mem_type_ifc, inner);
    return error;
}

int
ifmap_client_unsubscribe(struct ifmap_client *c, const char *name, ifmap_client_done_fn *done,
                         void *aux)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "<delete name=\"");
    buf_escape(b, name);
    evbuffer_add_printf(b, "\"/>");
    char *inner = buf_string(b);
    evbuffer_free(b);
    int error = call_send(c, c->ctl, "subscribe", true, "", inner, done, aux, false);
    mem_free(&mem_type_ifc, inner);
    return error;
}

int
ifmap_client_poll(struct ifmap_client *c, ifmap_client_done_fn *done, void *aux)
{
    c->stats.polls++;
    return call_send(c, c->arc, "poll", true, "", "", done, aux, false);
}

char *
ifmap_client_node_xml(const xmlNode *n)
{
    xmlBuffer *buf = xmlBufferCreate();
    xmlNodeDump(buf, n->doc, (xmlNode *) n, 0, 0);
    char *s = mem_strndup(&mem_type_string, (const char *) xmlBufferContent(buf),
                          (size_t) xmlBufferLength(buf));
    xmlBufferFree(buf);
    return s;
}

/* ---- Managed mode ---- */

static void poll_next(struct ifmap_client *);

static void
managed_poll_done(void *aux, const struct ifmap_client_reply *rep)
{
    struct ifmap_client *c = aux;
    c->polling = false;
    if (rep->error == ECANCELED) {
        return;
    }
    if (rep->error == EIO && !c->poll_failures++) {
        /* A long poll may outlive the connection's timeout: ask again once before giving
         * the session up. */
        poll_next(c);
        return;
    }
    if (rep->error) {
        client_lost(c, rep->error == EIO ? "poll connection lost" : "poll failed");
        return;
    }
    c->poll_failures = 0;
    if (rep->n_items) {
        c->stats.items += rep->n_items;
        if (c->poll_cb) {
            c->poll_cb(c->aux, rep->items, rep->n_items);
        }
    } else if (rep->result && !strcmp((const char *) rep->result->name, "endSessionResult")) {
        client_lost(c, "session ended");
        return;
    }
    poll_next(c);
}

static void
poll_next(struct ifmap_client *c)
{
    if (c->managed && c->poll_cb && !c->polling && c->session_id && !c->connecting) {
        c->stats.polls++;
        if (!call_send(c, c->arc, "poll", true, "", "", managed_poll_done, c, true)) {
            c->polling = true;
        }
    }
}

static void connect_now(struct ifmap_client *);

static void
managed_session_done(void *aux, const struct ifmap_client_reply *rep)
{
    struct ifmap_client *c = aux;
    if (rep->error == ECANCELED) {
        return;
    }
    c->connecting = false;
    if (rep->error) {
        LOG_WARN("IF-MAP newSession failed: %s; retrying in %d ms",
                 rep->message ? rep->message : strerror(rep->error), c->backoff_ms);
        struct timeval tv = { c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000 };
        c->connecting = true;
        event_add(c->retry, &tv);
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                           : c->backoff_ms * 2;
        return;
    }
    c->backoff_ms = BACKOFF_MIN_MS;
    c->poll_failures = 0;
    LOG_NOTICE("IF-MAP session %s (publisher %s)", c->session_id, c->publisher_id);
    if (c->session_cb) {
        c->session_cb(c->aux, c->session_id);
    }
    poll_next(c);
}

static void
connect_now(struct ifmap_client *c)
{
    c->connecting = true;
    if (new_session(c, managed_session_done, c, true)) {
        struct timeval tv = { c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000 };
        event_add(c->retry, &tv);
    }
}

static void
retry_cb(evutil_socket_t fd, short what, void *aux)
{
    struct ifmap_client *c = aux;
    if (c->reset_pending) {
        /* The connections may be half dead: start both afresh (done here, not where the
         * loss was seen, which may be inside one of their callbacks).  Calls still in
         * flight are answered now, as stale. */
        c->reset_pending = false;
        http_client_reset(c->arc);
        http_client_reset(c->ctl);
        c->polling = false;
    }
    connect_now(c);
}

/* The session is gone (or its connection): forget it and open a new one after a pause. */
static void
client_lost(struct ifmap_client *c, const char *why)
{
    if (!c->managed || c->connecting) {
        return;
    }
    LOG_WARN("IF-MAP %s; new session in %d ms", why, c->backoff_ms);
    c->stats.reconnects++;
    mem_free(&mem_type_ifc, c->session_id);
    c->session_id = NULL;
    c->generation++;
    c->connecting = true;
    c->reset_pending = true;
    c->poll_failures = 0;
    struct timeval tv = { c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000 };
    event_add(c->retry, &tv);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

void
ifmap_client_set_callbacks(struct ifmap_client *c, ifmap_client_session_fn *session_cb,
                           ifmap_client_poll_fn *poll_cb, void *aux)
{
    c->session_cb = session_cb;
    c->poll_cb = poll_cb;
    c->aux = aux;
}

void
ifmap_client_start(struct ifmap_client *c)
{
    c->managed = true;
    if (!c->connecting && !c->session_id) {
        connect_now(c);
    } else {
        poll_next(c);
    }
}

/* ---- Life cycle ---- */

struct ifmap_client *
ifmap_client_create(struct event_base *base, const char *host, int port, const char *user,
                    const char *password, bool tls, bool verify, char *err, size_t errlen)
{
    struct ifmap_client *c = mem_zalloc(&mem_type_ifc, sizeof *c);
    c->base = base;
    c->ctl = http_client_create(base, host, port, 60);
    c->arc = http_client_create(base, host, port, POLL_TIMEOUT_S);
    c->backoff_ms = BACKOFF_MIN_MS;
    c->retry = evtimer_new(base, retry_cb, c);
    http_client_set_basic_auth(c->ctl, user, password);
    http_client_set_basic_auth(c->arc, user, password);
    if (tls && (http_client_set_tls(c->ctl, verify, NULL, err, errlen)
                || http_client_set_tls(c->arc, verify, NULL, err, errlen))) {
        ifmap_client_destroy(c);
        return NULL;
    }
    return c;
}

void
ifmap_client_destroy(struct ifmap_client *c)
{
    if (!c) {
        return;
    }
    c->destroying = true;
    http_client_destroy(c->ctl);
    http_client_destroy(c->arc);
    event_free(c->retry);
    mem_free(&mem_type_ifc, c->session_id);
    mem_free(&mem_type_ifc, c->publisher_id);
    mem_free(&mem_type_ifc, c);
}

const char *
ifmap_client_session_id(const struct ifmap_client *c)
{
    return c->session_id;
}

const char *
ifmap_client_publisher_id(const struct ifmap_client *c)
{
    return c->publisher_id;
}

void
ifmap_client_get_stats(const struct ifmap_client *c, struct ifmap_client_stats *s)
{
    *s = c->stats;
}
