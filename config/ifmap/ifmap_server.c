/* ifmap_server: sessions, operations and the HTTP(S) front of the IF-MAP server (see
 * ifmap_server.h). */
#include "ifmap_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "ifmap_graph.h"
#include "ifmap_soap.h"
#include "ifmap_sub.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"
#include "tls.h"

LOG_MODULE(ifmap);

static MEM_TYPE(mem_type_server, "ifmap_server");
static MEM_TYPE(mem_type_session, "ifmap_session");
static MEM_TYPE(mem_type_op, "ifmap_publish_op");

#define SOAP_CONTENT_TYPE "application/soap+xml; charset=utf-8"

static const char default_credentials[] =
    "api-server:api-server\n"
    "schema-transformer:schema-transformer\n"
    "svc-monitor:svc-monitor\n"
    "control-user:control-user-passwd\n"
    "dns-user:dns-user-passwd\n";

struct session_sub {
    struct list node;           /* In ifmap_session.subs. */
    struct ifmap_sub *sub;
};

struct ifmap_session {
    struct hmap_node node;      /* In ifmap_server.sessions, by id. */
    struct ifmap_server *server;
    char id[33];
    char *user;
    char *publisher;
    time_t created;
    time_t last_activity;
    size_t max_poll_result_size;

    struct list subs;           /* struct session_sub. */
    struct list queue;          /* struct ifmap_result, oldest first. */
    size_t n_queued;
    size_t queued_bytes;        /* Everything queued. */
    size_t pending_bytes;       /* Change results only (bounded by max_pending_bytes). */
    bool overflow;              /* Bound passed: subscriptions to drop at the next flush. */
    char **dropped;             /* Names of subscriptions dropped, for the next poll. */
    size_t n_dropped;

    struct http_req *poll;      /* The held poll, if any. */
    time_t poll_since;
    uint64_t n_polls;

    struct list owned;          /* lifetime="session" metadata (ifmap_meta.owner_node). */
    struct list dirty_node;     /* In ifmap_server.dirty while it has news. */
    bool dirty;
};

struct credential {
    char *user;
    char *password;
};

struct ifmap_server {
    struct event_base *base;
    struct ifmap_server_config cfg;
    struct http_server *http;
    struct ifmap_graph graph;
    struct hmap sessions;
    struct list dirty;
    struct event *sweep;
    struct credential *creds;
    size_t n_creds;

    uint64_t n_requests, n_publishes, n_searches, n_subscribes, n_polls, n_errors, n_faults;
    uint64_t n_auth_failures, n_sessions_created, n_sessions_expired, n_subs_dropped;
    uint64_t n_results_queued;
    int64_t g_sessions;
};

static void session_destroy(struct ifmap_session *);
static void server_flush(struct ifmap_server *);

/* ---- Credentials ---- */

int
ifmap_server_parse_credentials(const char *text, char ***pairsp, size_t *np)
{
    char **pairs = NULL;
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        char line[1024];
        if (len >= sizeof line) {
            len = sizeof line - 1;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p = eol ? eol + 1 : p + strlen(p);
        char *s = line;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        char *end = s + strlen(s);
        while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) {
            *--end = '\0';
        }
        if (!*s || *s == '#' || *s == '!') {
            continue;
        }
        char *sep = strpbrk(s, ":=");
        if (!sep || sep == s) {
            continue;
        }
        char *uend = sep;
        while (uend > s && (uend[-1] == ' ' || uend[-1] == '\t')) {
            uend--;
        }
        char *pw = sep + 1;
        while (*pw == ' ' || *pw == '\t') {
            pw++;
        }
        size_t ulen = (size_t) (uend - s), plen = strlen(pw);
        char *pair = mem_zalloc(&mem_type_server, ulen + plen + 2);
        memcpy(pair, s, ulen);
        memcpy(pair + ulen + 1, pw, plen);
        pairs = mem_realloc(&mem_type_server, pairs, (n + 2) * sizeof *pairs);
        pairs[n++] = pair;
        pairs[n] = NULL;
    }
    *pairsp = pairs;
    *np = n;
    return 0;
}

void
ifmap_server_free_credentials(char **pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mem_free(&mem_type_server, pairs[i]);
    }
    mem_free(&mem_type_server, pairs);
}

static int
load_credentials(struct ifmap_server *srv, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    if (path && *path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            int error = errno;
            snprintf(err, errlen, "credentials_file %s: %s", path, strerror(error));
            return error;
        }
        size_t cap = 4096, len = 0;
        text = mem_zalloc(&mem_type_server, cap);
        size_t k;
        while ((k = fread(text + len, 1, cap - len - 1, f)) > 0) {
            len += k;
            if (len + 1 == cap) {
                cap *= 2;
                text = mem_realloc(&mem_type_server, text, cap);
            }
        }
        text[len] = '\0';
        fclose(f);
    }
    char **pairs;
    size_t n;
    ifmap_server_parse_credentials(text ? text : default_credentials, &pairs, &n);
    mem_free(&mem_type_server, text);
    srv->creds = mem_zalloc(&mem_type_server, (n ? n : 1) * sizeof *srv->creds);
    for (size_t i = 0; i < n; i++) {
        srv->creds[i].user = mem_strdup(&mem_type_server, pairs[i]);
        srv->creds[i].password = mem_strdup(&mem_type_server, pairs[i] + strlen(pairs[i]) + 1);
    }
    srv->n_creds = n;
    ifmap_server_free_credentials(pairs, n);
    if (!n) {
        snprintf(err, errlen, "credentials_file %s: no user:password line", path);
        return EINVAL;
    }
    return 0;
}

/* Returns the authenticated user (owned by the server), or NULL. */
static const char *
authenticate(struct ifmap_server *srv, struct http_req *req)
{
    const char *h = http_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6)) {
        return NULL;
    }
    h += 6;
    while (*h == ' ') {
        h++;
    }
    size_t len = strlen(h);
    if (!len || len % 4 || len > 1024) {
        return NULL;
    }
    unsigned char out[800];
    int n = EVP_DecodeBlock(out, (const unsigned char *) h, (int) len);
    if (n < 0) {
        return NULL;
    }
    for (size_t i = len; i > 0 && h[i - 1] == '='; i--) {
        n--;
    }
    out[n] = '\0';
    if (memchr(out, '\0', (size_t) n)) {
        return NULL;
    }
    char *colon = strchr((char *) out, ':');
    if (!colon) {
        return NULL;
    }
    *colon = '\0';
    for (size_t i = 0; i < srv->n_creds; i++) {
        if (!strcmp(srv->creds[i].user, (char *) out)
            && !strcmp(srv->creds[i].password, colon + 1)) {
            return srv->creds[i].user;
        }
    }
    return NULL;
}

/* ---- Replies ---- */

static void
reply_buf(struct http_req *req, int status, struct evbuffer *b)
{
    size_t len = evbuffer_get_length(b);
    http_reply(req, status, SOAP_CONTENT_TYPE, (const char *) evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}

static void
reply_error(struct ifmap_server *srv, struct http_req *req, enum ifmap_error e,
            const char *msg)
{
    srv->n_errors++;
    LOG_INFO("%s: %s", ifmap_error_name(e), msg);
    struct evbuffer *b = evbuffer_new();
    ifmap_soap_error(b, e, msg);
    reply_buf(req, 200, b);
}

static void
reply_fault(struct ifmap_server *srv, struct http_req *req, const char *code, const char *msg)
{
    srv->n_faults++;
    LOG_INFO("SOAP fault %s: %s", code, msg);
    struct evbuffer *b = evbuffer_new();
    ifmap_soap_fault(b, code, msg);
    reply_buf(req, strcmp(code, "env:Receiver") ? 400 : 500, b);
}

/* Replies with an empty result element NAME (e.g. "publishReceived"). */
static void
reply_simple(struct http_req *req, const char *elem)
{
    struct evbuffer *b = evbuffer_new();
    ifmap_soap_begin(b);
    evbuffer_add_printf(b, "<%s/>", elem);
    ifmap_soap_end(b);
    reply_buf(req, 200, b);
}

/* ---- Sessions and their queues ---- */

static struct ifmap_session *
session_find(struct ifmap_server *srv, const char *id)
{
    struct ifmap_session *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_string(id, 0), &srv->sessions) {
        if (!strcmp(s->id, id)) {
            return s;
        }
    }
    return NULL;
}

static void
session_mark_dirty(struct ifmap_session *s)
{
    if (!s->dirty) {
        s->dirty = true;
        list_push_back(&s->server->dirty, &s->dirty_node);
    }
}

static void
session_emit(void *aux, struct ifmap_sub *sub, struct ifmap_result *r)
{
    struct ifmap_session *s = aux;
    struct ifmap_server *srv = s->server;
    if (s->overflow) {
        ifmap_result_free(&srv->graph, r);
        return;
    }
    list_push_back(&s->queue, &r->node);
    s->n_queued++;
    s->queued_bytes += r->bytes;
    if (r->kind != IFMAP_RESULT_SEARCH) {
        s->pending_bytes += r->bytes;
        if (s->pending_bytes > srv->cfg.max_pending_bytes) {
            s->overflow = true;
        }
    }
    srv->n_results_queued++;
    session_mark_dirty(s);
}

static void
queue_pop(struct ifmap_session *s, struct ifmap_result *r)
{
    list_remove(&r->node);
    s->n_queued--;
    s->queued_bytes -= r->bytes;
    if (r->kind != IFMAP_RESULT_SEARCH) {
        s->pending_bytes -= r->bytes;
    }
    ifmap_result_free(&s->server->graph, r);
}

static void
queue_clear(struct ifmap_session *s)
{
    struct ifmap_result *r;
    LIST_FOR_EACH_SAFE (r, node, &s->queue) {
        queue_pop(s, r);
    }
}

static struct session_sub *
session_sub_find(struct ifmap_session *s, const char *name)
{
    struct session_sub *ss;
    LIST_FOR_EACH (ss, node, &s->subs) {
        if (!strcmp(ss->sub->name, name)) {
            return ss;
        }
    }
    return NULL;
}

static void
session_sub_remove(struct session_sub *ss)
{
    list_remove(&ss->node);
    ifmap_sub_destroy(ss->sub);
    mem_free(&mem_type_session, ss);
}

/* Past its bound: every subscription goes; the next poll reports them. */
static void
session_overflow(struct ifmap_session *s)
{
    struct session_sub *ss;
    LIST_FOR_EACH_SAFE (ss, node, &s->subs) {
        LOG_WARN("session %s (%s): pending results passed %zu bytes, subscription '%s' "
                 "dropped", s->id, s->user, s->server->cfg.max_pending_bytes, ss->sub->name);
        s->dropped = mem_realloc(&mem_type_session, s->dropped,
                                 (s->n_dropped + 1) * sizeof *s->dropped);
        s->dropped[s->n_dropped++] = mem_strdup(&mem_type_session, ss->sub->name);
        s->server->n_subs_dropped++;
        session_sub_remove(ss);
    }
    queue_clear(s);
    s->overflow = false;
}

/* Answers S's held poll (or REQ) with what is queued, at most max-poll-result-size bytes
 * (and at least one item). */
static void
session_answer_poll(struct ifmap_session *s, struct http_req *req)
{
    struct evbuffer *b = evbuffer_new();
    ifmap_soap_begin(b);
    evbuffer_add_printf(b, "<pollResult>");
    for (size_t i = 0; i < s->n_dropped; i++) {
        ifmap_soap_error_elem(b, IFMAP_ERR_POLL_RESULTS_TOO_BIG, s->dropped[i],
                              "the subscription's pending results passed the server's bound "
                              "and it was dropped");
        mem_free(&mem_type_session, s->dropped[i]);
    }
    mem_free(&mem_type_session, s->dropped);
    s->dropped = NULL;
    s->n_dropped = 0;

    size_t size = 0;
    const struct ifmap_result *open = NULL;
    struct ifmap_result *r;
    LIST_FOR_EACH_SAFE (r, node, &s->queue) {
        if (size && size + r->bytes > s->max_poll_result_size) {
            break;
        }
        if (!open || open->kind != r->kind || strcmp(open->sub_name, r->sub_name)) {
            if (open) {
                evbuffer_add_printf(b, "</%s>", ifmap_result_kind_name(open->kind));
            }
            evbuffer_add_printf(b, "<%s name=\"", ifmap_result_kind_name(r->kind));
            ifmap_soap_escape(b, r->sub_name);
            evbuffer_add(b, "\">", 2);
        }
        ifmap_soap_result_item(b, r);
        size += r->bytes;
        if (open) {
            queue_pop(s, (struct ifmap_result *) open);
        }
        open = r;
    }
    if (open) {
        evbuffer_add_printf(b, "</%s>", ifmap_result_kind_name(open->kind));
        queue_pop(s, (struct ifmap_result *) open);
    }
    evbuffer_add_printf(b, "</pollResult>");
    ifmap_soap_end(b);
    if (!req) {
        req = s->poll;
        s->poll = NULL;
    }
    s->last_activity = time(NULL);     /* A held poll is activity until it is answered. */
    reply_buf(req, 200, b);
}

static bool
session_has_news(const struct ifmap_session *s)
{
    return s->n_queued || s->n_dropped;
}

/* Applies overflows and answers held polls of the sessions that got news. */
static void
server_flush(struct ifmap_server *srv)
{
    while (!list_is_empty(&srv->dirty)) {
        struct ifmap_session *s = CONTAINER_OF(srv->dirty.next, struct ifmap_session,
                                               dirty_node);
        list_remove(&s->dirty_node);
        s->dirty = false;
        if (s->overflow) {
            session_overflow(s);
        }
        if (s->poll && session_has_news(s)) {
            session_answer_poll(s, NULL);
        }
    }
}

static struct ifmap_session *
session_create(struct ifmap_server *srv, const char *user, size_t max_poll)
{
    struct ifmap_session *s = mem_zalloc(&mem_type_session, sizeof *s);
    s->server = srv;
    unsigned char rnd[16];
    do {
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            for (size_t i = 0; i < sizeof rnd; i++) {
                rnd[i] = (unsigned char) random();
            }
        }
        for (size_t i = 0; i < sizeof rnd; i++) {
            snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
        }
    } while (session_find(srv, s->id));
    s->user = mem_strdup(&mem_type_session, user);
    /* One publisher id per client identity, as irond derives it from the credentials:
     * purgePublisher of a restarted client reaches what its earlier sessions published. */
    s->publisher = mem_strdup(&mem_type_session, user);
    s->created = s->last_activity = time(NULL);
    s->max_poll_result_size = max_poll;
    list_init(&s->subs);
    list_init(&s->queue);
    list_init(&s->owned);
    list_init(&s->dirty_node);
    hmap_insert(&srv->sessions, &s->node, hash_string(s->id, 0));
    srv->n_sessions_created++;
    srv->g_sessions++;
    return s;
}

/* Ends S: its held poll gets endSessionResult, its subscriptions and queue go, and its
 * lifetime="session" metadata is deleted (which other sessions see). */
static void
session_destroy(struct ifmap_session *s)
{
    struct ifmap_server *srv = s->server;
    if (s->poll) {
        reply_simple(s->poll, "endSessionResult");
        s->poll = NULL;
    }
    struct session_sub *ss;
    LIST_FOR_EACH_SAFE (ss, node, &s->subs) {
        session_sub_remove(ss);
    }
    queue_clear(s);
    if (s->dirty) {
        list_remove(&s->dirty_node);
        s->dirty = false;
    }
    while (!list_is_empty(&s->owned)) {
        struct ifmap_meta *m = CONTAINER_OF(s->owned.next, struct ifmap_meta, owner_node);
        ifmap_graph_delete_meta(&srv->graph, m);
    }
    for (size_t i = 0; i < s->n_dropped; i++) {
        mem_free(&mem_type_session, s->dropped[i]);
    }
    mem_free(&mem_type_session, s->dropped);
    hmap_remove(&srv->sessions, &s->node);
    srv->g_sessions--;
    mem_free(&mem_type_session, s->user);
    mem_free(&mem_type_session, s->publisher);
    mem_free(&mem_type_session, s);
}

/* Answers S's held poll with an empty pollResult. */
static void
session_release_poll(struct ifmap_session *s)
{
    struct http_req *req = s->poll;
    s->poll = NULL;
    s->last_activity = time(NULL);
    struct evbuffer *b = evbuffer_new();
    ifmap_soap_begin(b);
    evbuffer_add_printf(b, "<pollResult/>");
    ifmap_soap_end(b);
    reply_buf(req, 200, b);
}

/* A held poll is answered (empty) after half the session timeout: a live client polls again
 * at once, a dead one (its connection gone unnoticed, as evhttp does not watch a connection
 * while its request is held) then lets its session expire. */
static void
sweep_cb(evutil_socket_t fd, short what, void *aux)
{
    struct ifmap_server *srv = aux;
    time_t now = time(NULL);
    int hold = srv->cfg.session_timeout / 2 ? srv->cfg.session_timeout / 2 : 1;
    struct ifmap_session *s;
    HMAP_FOR_EACH_SAFE (s, node, &srv->sessions) {
        if (s->poll && now - s->poll_since >= hold) {
            session_release_poll(s);
        }
        if (!s->poll && now - s->last_activity >= srv->cfg.session_timeout) {
            LOG_NOTICE("session %s (%s): no request for %d s, ended", s->id, s->user,
                       srv->cfg.session_timeout);
            srv->n_sessions_expired++;
            session_destroy(s);
        }
    }
    server_flush(srv);
}

/* ---- Operations ---- */

/* The session named by OP's session-id, checked against USER; NULL after replying with
 * InvalidSessionID. */
static struct ifmap_session *
op_session(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    const char *id = ifmap_soap_attr(op, "session-id");
    struct ifmap_session *s = id ? session_find(srv, id) : NULL;
    if (!s || strcmp(s->user, user)) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s: %s session-id '%.64s'", (const char *) op->name,
                 id ? "unknown" : "missing", id ? id : "");
        reply_error(srv, req, IFMAP_ERR_INVALID_SESSION_ID, msg);
        return NULL;
    }
    s->last_activity = time(NULL);
    return s;
}

static void
op_new_session(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    size_t max_poll = srv->cfg.max_poll_result_size;
    const char *mp = ifmap_soap_attr(op, "max-poll-result-size");
    if (mp) {
        char *end;
        unsigned long long v = strtoull(mp, &end, 10);
        if (*end || !*mp) {
            reply_error(srv, req, IFMAP_ERR_FAILURE,
                        "newSession: max-poll-result-size is not a number");
            return;
        }
        if (v && v < max_poll) {
            max_poll = (size_t) v;
        }
    }
    struct ifmap_session *s = session_create(srv, user, max_poll);
    LOG_INFO("session %s for %s", s->id, user);
    struct evbuffer *b = evbuffer_new();
    ifmap_soap_begin(b);
    evbuffer_add_printf(b, "<newSessionResult session-id=\"%s\" ifmap-publisher-id=\"", s->id);
    ifmap_soap_escape(b, s->publisher);
    evbuffer_add_printf(b, "\" max-poll-result-size=\"%zu\"/>", max_poll);
    ifmap_soap_end(b);
    reply_buf(req, 200, b);
}

/* One parsed update / delete / notify of a publish request. */
struct publish_op {
    enum { PUB_UPDATE, PUB_DELETE, PUB_NOTIFY } kind;
    struct ifmap_ident_desc id[2];
    int n_id;
    struct ifmap_meta **metas;
    size_t n_meta;
    bool has_filter;
    struct ifmap_filter filter;
    bool session_lifetime;
};

static void
publish_ops_free(struct publish_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < ops[i].n_id; k++) {
            ifmap_ident_desc_free(&ops[i].id[k]);
        }
        for (size_t k = 0; k < ops[i].n_meta; k++) {
            ifmap_meta_unref(ops[i].metas[k]);
        }
        mem_free(&mem_type_op, ops[i].metas);
        if (ops[i].has_filter) {
            ifmap_filter_destroy(&ops[i].filter);
        }
    }
    mem_free(&mem_type_op, ops);
}

/* Parses the identifiers of E (one or two, different) into OP. */
static enum ifmap_error
parse_op_idents(xmlNode *e, struct ifmap_ident_desc *id, int *n_id, xmlNode **metadata,
                char *err, size_t errlen)
{
    *n_id = 0;
    if (metadata) {
        *metadata = NULL;
    }
    for (xmlNode *c = ifmap_soap_first_elem(e); c; c = ifmap_soap_next_elem(c)) {
        if (!strcmp((const char *) c->name, "metadata")) {
            if (metadata) {
                *metadata = c;
            }
            continue;
        }
        if (*n_id == 2) {
            snprintf(err, errlen, "%s with more than two identifiers", (const char *) e->name);
            return IFMAP_ERR_INVALID_IDENTIFIER;
        }
        enum ifmap_error ie = ifmap_soap_parse_ident(c, &id[*n_id], err, errlen);
        if (ie) {
            return ie;
        }
        (*n_id)++;
    }
    if (!*n_id) {
        snprintf(err, errlen, "%s without an identifier", (const char *) e->name);
        return IFMAP_ERR_INVALID_IDENTIFIER;
    }
    if (*n_id == 2 && !strcmp(id[0].key, id[1].key)) {
        snprintf(err, errlen, "%s: a link needs two different identifiers",
                 (const char *) e->name);
        return IFMAP_ERR_INVALID_IDENTIFIER;
    }
    return IFMAP_OK;
}

static enum ifmap_error
parse_publish(struct ifmap_server *srv, struct ifmap_session *s, xmlNode *op,
              struct publish_op **opsp, size_t *np, char *err, size_t errlen)
{
    struct publish_op *ops = NULL;
    size_t n = 0;
    char ts[64];
    ifmap_soap_timestamp(ts, sizeof ts);
    enum ifmap_error e = IFMAP_OK;
    for (xmlNode *c = ifmap_soap_first_elem(op); c && !e; c = ifmap_soap_next_elem(c)) {
        const char *name = (const char *) c->name;
        ops = mem_realloc(&mem_type_op, ops, (n + 1) * sizeof *ops);
        struct publish_op *p = &ops[n++];
        memset(p, 0, sizeof *p);
        if (!strcmp(name, "update") || !strcmp(name, "notify")) {
            p->kind = name[0] == 'u' ? PUB_UPDATE : PUB_NOTIFY;
            const char *lifetime = ifmap_soap_attr(c, "lifetime");
            if (lifetime && strcmp(lifetime, "session") && strcmp(lifetime, "forever")) {
                snprintf(err, errlen, "%s: lifetime must be session or forever", name);
                e = IFMAP_ERR_FAILURE;
                break;
            }
            p->session_lifetime = !lifetime || !strcmp(lifetime, "session");
            xmlNode *md;
            e = parse_op_idents(c, p->id, &p->n_id, &md, err, errlen);
            if (e) {
                break;
            }
            for (xmlNode *m = md ? ifmap_soap_first_elem(md) : NULL; m && !e;
                 m = ifmap_soap_next_elem(m)) {
                struct ifmap_meta *item;
                e = ifmap_soap_parse_meta(m, s->publisher, ts, srv->cfg.max_metadata_size,
                                          &item, err, errlen);
                if (!e) {
                    p->metas = mem_realloc(&mem_type_op, p->metas,
                                           (p->n_meta + 1) * sizeof *p->metas);
                    p->metas[p->n_meta++] = item;
                }
            }
            if (!e && !p->n_meta) {
                snprintf(err, errlen, "%s without metadata", name);
                e = IFMAP_ERR_INVALID_METADATA;
            }
        } else if (!strcmp(name, "delete")) {
            p->kind = PUB_DELETE;
            e = parse_op_idents(c, p->id, &p->n_id, NULL, err, errlen);
            if (!e && ifmap_soap_attr(c, "filter")) {
                if (ifmap_soap_parse_filter(c, "filter", &p->filter, err, errlen)) {
                    e = IFMAP_ERR_FAILURE;
                } else {
                    p->has_filter = true;
                }
            }
        } else {
            snprintf(err, errlen, "publish: unknown element '%s' (update, delete or notify)",
                     name);
            e = IFMAP_ERR_FAILURE;
        }
    }
    if (!e && !n) {
        snprintf(err, errlen, "publish without update, delete or notify");
        e = IFMAP_ERR_FAILURE;
    }
    if (e) {
        publish_ops_free(ops, n);
        return e;
    }
    *opsp = ops;
    *np = n;
    return IFMAP_OK;
}

static struct ifmap_ident *
desc_ident(struct ifmap_server *srv, const struct ifmap_ident_desc *d)
{
    return ifmap_graph_ident(&srv->graph, d->type, d->key, d->name, d->xml);
}

static void
op_publish(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    struct ifmap_session *s = op_session(srv, req, op, user);
    if (!s) {
        return;
    }
    struct publish_op *ops;
    size_t n;
    char err[512];
    enum ifmap_error e = parse_publish(srv, s, op, &ops, &n, err, sizeof err);
    if (e) {
        reply_error(srv, req, e, err);
        return;
    }
    /* Validated as a whole: now applied as a whole. */
    srv->n_publishes++;
    for (size_t i = 0; i < n; i++) {
        struct publish_op *p = &ops[i];
        struct ifmap_ident *a = desc_ident(srv, &p->id[0]);
        struct ifmap_ident *b = p->n_id == 2 ? desc_ident(srv, &p->id[1]) : NULL;
        switch (p->kind) {
        case PUB_UPDATE:
            for (size_t k = 0; k < p->n_meta; k++) {
                struct ifmap_meta *m = p->metas[k];
                if (p->session_lifetime) {
                    m->session_lifetime = true;
                    m->owner = s;
                    list_push_back(&s->owned, &m->owner_node);
                }
                ifmap_graph_update(&srv->graph, a, b, m);
            }
            p->n_meta = 0;
            break;
        case PUB_NOTIFY:
            for (size_t k = 0; k < p->n_meta; k++) {
                ifmap_graph_notify(&srv->graph, a, b, p->metas[k]);
            }
            p->n_meta = 0;
            break;
        case PUB_DELETE:
            ifmap_graph_delete(&srv->graph, a, b, p->has_filter ? &p->filter : NULL);
            break;
        }
        ifmap_ident_unref(&srv->graph, a);
        ifmap_ident_unref(&srv->graph, b);
    }
    publish_ops_free(ops, n);
    reply_simple(req, "publishReceived");
}

/* Search parameters of E (search or subscribe update). */
static enum ifmap_error
parse_search_params(struct ifmap_server *srv, xmlNode *e, struct ifmap_sub_params *p,
                    size_t *max_size, struct ifmap_ident_desc *start, char *err,
                    size_t errlen)
{
    memset(p, 0, sizeof *p);
    memset(start, 0, sizeof *start);
    p->match_links.all = p->result_filter.all = true;
    const char *md = ifmap_soap_attr(e, "max-depth");
    if (md) {
        char *end;
        long v = strtol(md, &end, 10);
        if (!*md || *end || v < 0) {
            snprintf(err, errlen, "max-depth '%s' is not a non-negative integer", md);
            return IFMAP_ERR_FAILURE;
        }
        /* A shortest path never has more links than the graph has identifiers; beyond
         * that bound depth is unlimited. */
        p->max_depth = v > 1000000000 ? 1000000000 : (int) v;
    }
    const char *ms = ifmap_soap_attr(e, "max-size");
    *max_size = srv->cfg.max_search_size;
    if (ms) {
        char *end;
        unsigned long long v = strtoull(ms, &end, 10);
        if (!*ms || *end) {
            snprintf(err, errlen, "max-size '%s' is not a number", ms);
            return IFMAP_ERR_FAILURE;
        }
        *max_size = (size_t) v;
    }
    const char *tt = ifmap_soap_attr(e, "terminal-identifier-type");
    if (tt) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", tt);
        for (char *save, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            int type = ifmap_ident_type_from_name(t);
            if (type < 0) {
                snprintf(err, errlen, "terminal-identifier-type: unknown type '%s'", t);
                return IFMAP_ERR_FAILURE;
            }
            p->terminal_mask |= 1u << type;
        }
    }
    if (ifmap_soap_parse_filter(e, "match-links", &p->match_links, err, errlen)) {
        return IFMAP_ERR_FAILURE;
    }
    if (ifmap_soap_parse_filter(e, "result-filter", &p->result_filter, err, errlen)) {
        ifmap_filter_destroy(&p->match_links);
        return IFMAP_ERR_FAILURE;
    }
    xmlNode *id = ifmap_soap_first_elem(e);
    enum ifmap_error ie = IFMAP_ERR_INVALID_IDENTIFIER;
    if (!id) {
        snprintf(err, errlen, "%s without a start identifier", (const char *) e->name);
    } else if (ifmap_soap_next_elem(id)) {
        snprintf(err, errlen, "%s with more than one start identifier", (const char *) e->name);
    } else {
        ie = ifmap_soap_parse_ident(id, start, err, errlen);
    }
    if (ie) {
        ifmap_filter_destroy(&p->match_links);
        ifmap_filter_destroy(&p->result_filter);
        ifmap_ident_desc_free(start);
    }
    return ie;
}

static void
params_free(struct ifmap_sub_params *p)
{
    ifmap_filter_destroy(&p->match_links);
    ifmap_filter_destroy(&p->result_filter);
}

struct collect {
    struct list results;
    size_t bytes;
};

static void
collect_emit(void *aux, struct ifmap_sub *sub, struct ifmap_result *r)
{
    struct collect *c = aux;
    list_push_back(&c->results, &r->node);
    c->bytes += r->bytes;
}

static void
op_search(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    struct ifmap_session *s = op_session(srv, req, op, user);
    if (!s) {
        return;
    }
    struct ifmap_sub_params p;
    struct ifmap_ident_desc start;
    size_t max_size;
    char err[512];
    enum ifmap_error e = parse_search_params(srv, op, &p, &max_size, &start, err, sizeof err);
    if (e) {
        reply_error(srv, req, e, err);
        return;
    }
    srv->n_searches++;
    struct collect c = { .bytes = 0 };
    list_init(&c.results);
    struct ifmap_ident *x = desc_ident(srv, &start);
    struct ifmap_sub *sub = ifmap_sub_create(&srv->graph, "", x, &p, collect_emit, &c);
    ifmap_sub_destroy(sub);
    ifmap_ident_unref(&srv->graph, x);
    struct evbuffer *b = evbuffer_new();
    if (c.bytes > max_size) {
        snprintf(err, sizeof err, "the search results are %zu bytes, more than max-size %zu",
                 c.bytes, max_size);
        srv->n_errors++;
        ifmap_soap_error(b, IFMAP_ERR_SEARCH_RESULTS_TOO_BIG, err);
    } else {
        ifmap_soap_begin(b);
        evbuffer_add_printf(b, "<searchResult>");
        struct ifmap_result *r;
        LIST_FOR_EACH (r, node, &c.results) {
            ifmap_soap_result_item(b, r);
        }
        evbuffer_add_printf(b, "</searchResult>");
        ifmap_soap_end(b);
    }
    struct ifmap_result *r;
    LIST_FOR_EACH_SAFE (r, node, &c.results) {
        list_remove(&r->node);
        ifmap_result_free(&srv->graph, r);
    }
    params_free(&p);
    ifmap_ident_desc_free(&start);
    reply_buf(req, 200, b);
}

struct subscribe_op {
    bool update;
    const char *name;
    struct ifmap_sub_params params;
    struct ifmap_ident_desc start;
};

static void
op_subscribe(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    struct ifmap_session *s = op_session(srv, req, op, user);
    if (!s) {
        return;
    }
    struct subscribe_op *ops = NULL;
    size_t n = 0;
    char err[512];
    enum ifmap_error e = IFMAP_OK;
    for (xmlNode *c = ifmap_soap_first_elem(op); c && !e; c = ifmap_soap_next_elem(c)) {
        const char *el = (const char *) c->name;
        const char *name = ifmap_soap_attr(c, "name");
        if (strcmp(el, "update") && strcmp(el, "delete")) {
            snprintf(err, sizeof err, "subscribe: unknown element '%s' (update or delete)", el);
            e = IFMAP_ERR_FAILURE;
            break;
        }
        if (!name || !*name) {
            snprintf(err, sizeof err, "subscribe %s without a name", el);
            e = IFMAP_ERR_FAILURE;
            break;
        }
        ops = mem_realloc(&mem_type_op, ops, (n + 1) * sizeof *ops);
        struct subscribe_op *so = &ops[n];
        memset(so, 0, sizeof *so);
        so->update = el[0] == 'u';
        so->name = name;
        if (so->update) {
            size_t max_size;
            e = parse_search_params(srv, c, &so->params, &max_size, &so->start, err,
                                    sizeof err);
            if (e) {
                break;
            }
        }
        n++;
    }
    if (!e && !n) {
        snprintf(err, sizeof err, "subscribe without update or delete");
        e = IFMAP_ERR_FAILURE;
    }
    if (!e) {
        srv->n_subscribes++;
    }
    for (size_t i = 0; i < n; i++) {
        struct subscribe_op *so = &ops[i];
        if (!e) {
            struct session_sub *old = session_sub_find(s, so->name);
            if (old) {
                session_sub_remove(old);
            }
            if (so->update) {
                struct ifmap_ident *x = desc_ident(srv, &so->start);
                struct session_sub *ss = mem_zalloc(&mem_type_session, sizeof *ss);
                list_push_back(&s->subs, &ss->node);
                ss->sub = ifmap_sub_create(&srv->graph, so->name, x, &so->params,
                                           session_emit, s);
                ifmap_ident_unref(&srv->graph, x);
                LOG_INFO("session %s (%s): subscription '%s' from %s, %zu identifiers",
                         s->id, s->user, so->name, so->start.name, ss->sub->n_idents);
            }
        }
        if (so->update) {
            params_free(&so->params);
            ifmap_ident_desc_free(&so->start);
        }
    }
    mem_free(&mem_type_op, ops);
    if (e) {
        reply_error(srv, req, e, err);
        return;
    }
    reply_simple(req, "subscribeReceived");
}

static void
op_poll(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    struct ifmap_session *s = op_session(srv, req, op, user);
    if (!s) {
        return;
    }
    srv->n_polls++;
    s->n_polls++;
    if (s->poll) {
        /* One poll per session: the older one is answered (empty) and this one waits. */
        session_release_poll(s);
    }
    if (s->overflow) {
        session_overflow(s);
    }
    if (session_has_news(s)) {
        session_answer_poll(s, req);
        return;
    }
    s->poll = req;
    s->poll_since = time(NULL);
}

static void
op_purge_publisher(struct ifmap_server *srv, struct http_req *req, xmlNode *op,
                   const char *user)
{
    struct ifmap_session *s = op_session(srv, req, op, user);
    if (!s) {
        return;
    }
    const char *pub = ifmap_soap_attr(op, "ifmap-publisher-id");
    if (!pub || strcmp(pub, s->publisher)) {
        reply_error(srv, req, IFMAP_ERR_ACCESS_DENIED,
                    "purgePublisher: a client may purge only its own ifmap-publisher-id");
        return;
    }
    size_t n = ifmap_graph_purge_publisher(&srv->graph, pub);
    LOG_INFO("session %s: purged %zu items of publisher %s", s->id, n, pub);
    reply_simple(req, "purgePublisherReceived");
}

static void
op_renew_session(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    if (op_session(srv, req, op, user)) {
        reply_simple(req, "renewSessionResult");
    }
}

static void
op_end_session(struct ifmap_server *srv, struct http_req *req, xmlNode *op, const char *user)
{
    struct ifmap_session *s = op_session(srv, req, op, user);
    if (s) {
        LOG_INFO("session %s (%s) ended by its client", s->id, s->user);
        session_destroy(s);
        reply_simple(req, "endSessionResult");
    }
}

/* ---- HTTP ---- */

/* GET /: the whole graph as one searchResult, as the API-embedded server dumped it. */
static void
dump_graph(struct ifmap_server *srv, struct http_req *req)
{
    struct evbuffer *b = evbuffer_new();
    struct ifmap_ident *x;
    ifmap_soap_begin(b);
    evbuffer_add_printf(b, "<searchResult>");
    HMAP_FOR_EACH (x, node, &srv->graph.idents) {
        if (!x->n_meta) {
            continue;
        }
        evbuffer_add_printf(b, "<resultItem>%s<metadata>", x->xml);
        struct ifmap_meta *m;
        LIST_FOR_EACH (m, node, &x->metas) {
            evbuffer_add(b, m->xml, m->xml_len);
        }
        evbuffer_add_printf(b, "</metadata></resultItem>");
    }
    struct ifmap_link *l;
    HMAP_FOR_EACH (l, node, &srv->graph.links) {
        if (!l->n_meta) {
            continue;
        }
        evbuffer_add_printf(b, "<resultItem>%s%s<metadata>", l->a->xml, l->b->xml);
        struct ifmap_meta *m;
        LIST_FOR_EACH (m, node, &l->metas) {
            evbuffer_add(b, m->xml, m->xml_len);
        }
        evbuffer_add_printf(b, "</metadata></resultItem>");
    }
    evbuffer_add_printf(b, "</searchResult>");
    ifmap_soap_end(b);
    size_t len = evbuffer_get_length(b);
    http_reply(req, 200, "text/xml; charset=utf-8", (const char *) evbuffer_pullup(b, -1),
               len);
    evbuffer_free(b);
}

static void
ifmap_handle(struct http_req *req, void *aux)
{
    struct ifmap_server *srv = aux;
    srv->n_requests++;
    const char *user = authenticate(srv, req);
    if (!user) {
        srv->n_auth_failures++;
        http_reply_header(req, "WWW-Authenticate", "Basic realm=\"ifmap\"");
        http_reply_text(req, 401, "Unauthorized: valid basic authentication credentials "
                        "are required");
        return;
    }
    if (req->method == EVHTTP_REQ_GET && !strcmp(req->path, "/")) {
        dump_graph(srv, req);
        return;
    }
    if (req->method != EVHTTP_REQ_POST) {
        http_reply_header(req, "Allow", "POST, GET");
        http_reply_text(req, 405, "Method Not Allowed: IF-MAP requests are SOAP POSTs");
        return;
    }
    size_t len;
    const char *body = http_req_body(req, &len);
    struct ifmap_soap_req sr;
    bool vm;
    char err[512];
    if (ifmap_soap_parse(body, len, &sr, &vm, err, sizeof err)) {
        reply_fault(srv, req, vm ? "env:VersionMismatch" : "env:Sender", err);
        return;
    }
    static const struct {
        const char *name;
        void (*fn)(struct ifmap_server *, struct http_req *, xmlNode *, const char *);
    } ops[] = {
        { "newSession", op_new_session },
        { "renewSession", op_renew_session },
        { "endSession", op_end_session },
        { "purgePublisher", op_purge_publisher },
        { "publish", op_publish },
        { "search", op_search },
        { "subscribe", op_subscribe },
        { "poll", op_poll },
    };
    bool found = false;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!strcmp(sr.op_name, ops[i].name)) {
            ops[i].fn(srv, req, sr.op, user);
            found = true;
            break;
        }
    }
    if (!found) {
        snprintf(err, sizeof err, "unknown operation '%s'%s", (const char *) sr.op->name,
                 *sr.op_name ? "" : " (not in the IF-MAP 2 namespace)");
        reply_error(srv, req, IFMAP_ERR_FAILURE, err);
    }
    ifmap_soap_req_free(&sr);
    server_flush(srv);
}

/* ---- Life cycle ---- */

void
ifmap_server_config_defaults(struct ifmap_server_config *c)
{
    memset(c, 0, sizeof *c);
    c->addr = "127.0.0.1";
    c->port = 8443;
    c->tls = true;
    c->session_timeout = 180;
    c->max_pending_bytes = 256u << 20;
    c->max_poll_result_size = 5000000;
    c->max_metadata_size = 4u << 20;
    c->max_search_size = 256u << 20;
    c->max_request_size = 64u << 20;
}

int
ifmap_server_open(struct event_base *base, const struct ifmap_server_config *cfg,
                  struct ifmap_server **sp, char *err, size_t errlen)
{
    struct ifmap_server *srv = mem_zalloc(&mem_type_server, sizeof *srv);
    srv->base = base;
    srv->cfg = *cfg;
    if (srv->cfg.session_timeout <= 0) {
        srv->cfg.session_timeout = 180;
    }
    if (!srv->cfg.max_poll_result_size) {
        srv->cfg.max_poll_result_size = 5000000;
    }
    ifmap_graph_init(&srv->graph);
    hmap_init(&srv->sessions);
    list_init(&srv->dirty);
    int error = load_credentials(srv, cfg->credentials_file, err, errlen);
    if (error) {
        goto fail;
    }
    error = http_server_create(base, cfg->addr, cfg->port, cfg->max_request_size,
                               ifmap_handle, srv, &srv->http);
    if (error) {
        snprintf(err, errlen, "IF-MAP listener %s:%d: %s", cfg->addr, cfg->port,
                 strerror(error));
        goto fail;
    }
    if (cfg->tls) {
        SSL_CTX *ctx = tls_server_ctx_new(cfg->certfile, cfg->keyfile, "localhost", err,
                                          errlen);
        if (!ctx) {
            error = EINVAL;
            goto fail;
        }
        http_server_set_tls(srv->http, ctx);
        SSL_CTX_free(ctx);
    }
    srv->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, srv);
    struct timeval tv = { 1, 0 };
    if (srv->cfg.session_timeout < 4) {
        tv.tv_sec = 0;
        tv.tv_usec = 250000;
    }
    event_add(srv->sweep, &tv);
    LOG_NOTICE("IF-MAP server on %s://%s:%d, %zu users, sessions expire after %d s",
               cfg->tls ? "https" : "http", cfg->addr, http_server_port(srv->http),
               srv->n_creds, srv->cfg.session_timeout);
    *sp = srv;
    return 0;

fail:
    ifmap_server_close(srv);
    return error;
}

void
ifmap_server_close(struct ifmap_server *srv)
{
    if (!srv) {
        return;
    }
    struct ifmap_session *s;
    HMAP_FOR_EACH_SAFE (s, node, &srv->sessions) {
        session_destroy(s);
    }
    http_server_destroy(srv->http);
    if (srv->sweep) {
        event_free(srv->sweep);
    }
    ifmap_graph_destroy(&srv->graph);
    hmap_destroy(&srv->sessions);
    for (size_t i = 0; i < srv->n_creds; i++) {
        mem_free(&mem_type_server, srv->creds[i].user);
        mem_free(&mem_type_server, srv->creds[i].password);
    }
    mem_free(&mem_type_server, srv->creds);
    mem_free(&mem_type_server, srv);
}

int
ifmap_server_port(const struct ifmap_server *srv)
{
    return http_server_port(srv->http);
}

/* ---- Introspect ---- */

static json_t *
page_sessions(struct http_req *req, void *aux)
{
    struct ifmap_server *srv = aux;
    time_t now = time(NULL);
    json_t *list = json_array();
    struct ifmap_session *s;
    HMAP_FOR_EACH (s, node, &srv->sessions) {
        json_t *subs = json_array();
        struct session_sub *ss;
        LIST_FOR_EACH (ss, node, &s->subs) {
            json_array_append_new(subs, json_string(ss->sub->name));
        }
        json_array_append_new(list, xjson_pack(
            "{ss ss ss sI sI sI sI sI sI sb so}",
            "id", s->id, "user", s->user, "publisher_id", s->publisher,
            "age", (json_int_t) (now - s->created),
            "idle", (json_int_t) (now - s->last_activity),
            "pending_bytes", (json_int_t) s->pending_bytes,
            "queued_bytes", (json_int_t) s->queued_bytes,
            "queued_results", (json_int_t) s->n_queued,
            "polls", (json_int_t) s->n_polls,
            "poll_held", s->poll != NULL,
            "subscriptions", subs));
    }
    return xjson_pack("{so}", "sessions", list);
}

static json_t *
page_subscriptions(struct http_req *req, void *aux)
{
    struct ifmap_server *srv = aux;
    json_t *list = json_array();
    struct ifmap_session *s;
    HMAP_FOR_EACH (s, node, &srv->sessions) {
        struct session_sub *ss;
        LIST_FOR_EACH (ss, node, &s->subs) {
            const struct ifmap_sub *sub = ss->sub;
            json_array_append_new(list, xjson_pack(
                "{ss ss ss ss sI sI sI sI}",
                "session", s->id, "user", s->user, "name", sub->name,
                "start", sub->start->name, "max_depth", (json_int_t) sub->max_depth,
                "identifiers", (json_int_t) sub->n_idents,
                "links", (json_int_t) sub->n_links,
                "results", (json_int_t) sub->n_results));
        }
    }
    return xjson_pack("{so}", "subscriptions", list);
}

static json_t *
page_graph(struct http_req *req, void *aux)
{
    struct ifmap_server *srv = aux;
    const struct ifmap_graph *g = &srv->graph;
    return xjson_pack("{sI sI sI sI sI sI}",
                      "identifiers", (json_int_t) g->n_idents,
                      "links", (json_int_t) g->n_links,
                      "metadata_items", (json_int_t) g->n_metas,
                      "metadata_bytes", (json_int_t) g->meta_bytes,
                      "identifiers_held", (json_int_t) hmap_count(&g->idents),
                      "links_held", (json_int_t) hmap_count(&g->links));
}

static json_t *
page_stats(struct http_req *req, void *aux)
{
    struct ifmap_server *srv = aux;
    const struct ifmap_graph *g = &srv->graph;
    return xjson_pack("{sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI}",
                      "requests", (json_int_t) srv->n_requests,
                      "publishes", (json_int_t) srv->n_publishes,
                      "updates", (json_int_t) g->n_updates,
                      "deletes", (json_int_t) g->n_deletes,
                      "notifies", (json_int_t) g->n_notifies,
                      "searches", (json_int_t) srv->n_searches,
                      "subscribes", (json_int_t) srv->n_subscribes,
                      "polls", (json_int_t) srv->n_polls,
                      "errors", (json_int_t) srv->n_errors,
                      "faults", (json_int_t) srv->n_faults,
                      "auth_failures", (json_int_t) srv->n_auth_failures,
                      "sessions", (json_int_t) hmap_count(&srv->sessions),
                      "sessions_created", (json_int_t) srv->n_sessions_created,
                      "sessions_expired", (json_int_t) srv->n_sessions_expired,
                      "subscriptions_dropped", (json_int_t) srv->n_subs_dropped,
                      "results_queued", (json_int_t) srv->n_results_queued);
}

void
ifmap_server_register_introspect(struct ifmap_server *srv, struct introspect *is)
{
    introspect_add_page(is, "/ifmap/sessions", "IF-MAP sessions", page_sessions, srv);
    introspect_add_page(is, "/ifmap/subscriptions", "IF-MAP subscriptions",
                        page_subscriptions, srv);
    introspect_add_page(is, "/ifmap/graph", "IF-MAP graph size", page_graph, srv);
    introspect_add_page(is, "/ifmap/stats", "IF-MAP counters", page_stats, srv);
    introspect_add_counter(is, "ifmap_requests_total", "IF-MAP requests", &srv->n_requests);
    introspect_add_counter(is, "ifmap_publishes_total", "publish requests", &srv->n_publishes);
    introspect_add_counter(is, "ifmap_updates_total", "metadata items published",
                           &srv->graph.n_updates);
    introspect_add_counter(is, "ifmap_deletes_total", "metadata items deleted",
                           &srv->graph.n_deletes);
    introspect_add_counter(is, "ifmap_searches_total", "searches", &srv->n_searches);
    introspect_add_counter(is, "ifmap_polls_total", "polls", &srv->n_polls);
    introspect_add_counter(is, "ifmap_errors_total", "errorResults", &srv->n_errors);
    introspect_add_counter(is, "ifmap_faults_total", "SOAP faults", &srv->n_faults);
    introspect_add_counter(is, "ifmap_auth_failures_total", "401 answers",
                           &srv->n_auth_failures);
    introspect_add_counter(is, "ifmap_subscriptions_dropped_total",
                           "subscriptions dropped for PollResultsTooBig",
                           &srv->n_subs_dropped);
    introspect_add_gauge(is, "ifmap_sessions", "live sessions", &srv->g_sessions);
}
