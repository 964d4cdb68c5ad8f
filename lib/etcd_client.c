/* etcd_client: calls and streams to an etcd cluster's JSON gateway (see etcd_client.h).
 *
 * libevent facts this file relies on (2.1): a request whose connection could not be
 * established completes with no response and without its error callback, while a request
 * that fails after the connection was up (EOF, timeout) gets its error callback first; so the
 * error callback tells "never reached the member" (safe to retry anywhere) from "may have
 * been applied".  evhttp_connection_free() drops the requests queued on it without calling
 * them back, which is how a deadline abandons a request. */
#include "etcd_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"
#include "list.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(etcd_client);

static MEM_TYPE(mem_type_etcd, "etcd_client");

/* Idle timeout of a stream's connection: a watch sends progress notifications every
 * 10 minutes by default, so a longer silence means a dead peer. */
#define STREAM_IDLE_S (15 * 60)

/* Pause before a new round of connection attempts once every member has refused. */
#define RETRY_PAUSE_MS 100

struct endpoint {
    char *url;                  /* "http://host:port", for status and logs. */
    char *host;
    int port;
};

struct etcd_conn {
    struct evhttp_connection *evcon;    /* NULL: slot unused. */
    int ep;
    struct etcd_call *call;     /* On the wire, or NULL when idle. */
};

struct etcd_call {
    struct list node;           /* In client->queue while waiting for a connection. */
    struct list all;            /* In client->calls. */
    struct etcd_client *c;
    char *path;
    char *body;
    unsigned flags;
    etcd_client_fn *cb;
    void *aux;
    struct event *deadline;
    struct event *retry;        /* Pause between rounds. */
    struct etcd_conn *conn;     /* While on the wire. */
    bool queued;
    bool reached;               /* This attempt's connection came up (request may be in). */
    bool ever_reached;          /* Some attempt got to a member. */
    unsigned refusals;          /* Consecutive refused connections. */
    unsigned attempts;          /* Retries so far. */
    char msg[200];              /* Last failure. */
};

struct etcd_client {
    struct event_base *base;
    struct endpoint *eps;
    int n_eps;
    int cur;                    /* Current member. */
    double timeout_s;
    struct etcd_conn *conns;
    int n_conns;
    struct list queue;          /* Calls waiting for a connection, in order. */
    struct list calls;          /* Every call not completed. */
    size_t n_pending;
    struct event *kick;         /* Runs dispatch() from the loop. */
    struct list streams;

    /* Learned from answers. */
    uint64_t member_id;
    uint64_t leader_id;
    uint64_t raft_term;
    bool status_asked;

    /* Counters. */
    uint64_t n_calls, n_retries, n_failovers, n_timeouts, n_refused, n_errors;
};

struct etcd_stream {
    struct list node;           /* In client->streams. */
    struct etcd_client *c;
    struct evhttp_connection *evcon;
    int ep;
    etcd_stream_msg_fn *msg_cb;
    etcd_stream_end_fn *end_cb;
    void *aux;
    struct evbuffer *line;      /* Bytes of an incomplete message. */
    size_t scanned;             /* Bytes of LINE known to hold no newline. */
    bool reached;
    bool ended;                 /* end_cb ran (or must not run any more). */
    bool closed;                /* Closed from inside a callback: free when it returns. */
    int in_cb;
    struct event *fail_ev;      /* Reports a request that could not even be started. */
};

static void dispatch_cb(evutil_socket_t, short, void *);
static void call_finish(struct etcd_call *, int error, json_t *reply, const char *msg);
static void ask_status(struct etcd_client *);

uint64_t
etcd_json_u64(const json_t *obj, const char *field)
{
    const json_t *v = obj ? json_object_get(obj, field) : NULL;
    if (json_is_string(v)) {
        return strtoull(json_string_value(v), NULL, 10);
    }
    if (json_is_integer(v)) {
        return (uint64_t) json_integer_value(v);
    }
    return 0;
}

char *
etcd_prefix_end(const char *prefix, size_t len, size_t *lenp)
{
    char *end = mem_zalloc(&mem_type_string, len + 2);
    memcpy(end, prefix, len);
    while (len > 0) {
        unsigned char last = (unsigned char) end[len - 1];
        if (last < 0xff) {
            end[len - 1] = (char) (last + 1);
            end[len] = '\0';
            *lenp = len;
            return end;
        }
        len--;
    }
    end[0] = '\0';
    *lenp = 1;
    return end;
}

static int
parse_endpoints(struct etcd_client *c, const char *spec, char *err, size_t errlen)
{
    char *copy = xstrdup(spec);
    char *save = NULL;
    int error = 0;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        const char *hp = tok;
        if (!strncmp(hp, "http://", 7)) {
            hp += 7;
        } else if (strstr(hp, "://")) {
            snprintf(err, errlen, "etcd endpoint %s: only http:// is supported", tok);
            error = EINVAL;
            break;
        }
        size_t hl = strcspn(hp, ":/");
        int port = 2379;
        if (hp[hl] == ':') {
            char *end;
            long p = strtol(hp + hl + 1, &end, 10);
            if (p <= 0 || p > 65535 || (*end && *end != '/')) {
                snprintf(err, errlen, "etcd endpoint %s: bad port", tok);
                error = EINVAL;
                break;
            }
            port = (int) p;
        }
        if (!hl) {
            snprintf(err, errlen, "etcd endpoint %s: missing host", tok);
            error = EINVAL;
            break;
        }
        c->eps = mem_realloc(&mem_type_etcd, c->eps, (size_t) (c->n_eps + 1) * sizeof *c->eps);
        struct endpoint *ep = &c->eps[c->n_eps++];
        ep->host = mem_strndup(&mem_type_etcd, hp, hl);
        ep->port = port;
        ep->url = mem_asprintf(&mem_type_etcd, "http://%s:%d", ep->host, port);
    }
    xfree(copy);
    if (!error && !c->n_eps) {
        snprintf(err, errlen, "etcd: no endpoint given");
        error = EINVAL;
    }
    return error;
}

struct etcd_client *
etcd_client_create(struct event_base *base, const char *endpoints, double timeout_s,
                   int n_conns, char *err, size_t errlen)
{
    struct etcd_client *c = mem_zalloc(&mem_type_etcd, sizeof *c);
    c->base = base;
    c->timeout_s = timeout_s > 0 ? timeout_s : 5;
    c->n_conns = n_conns > 0 ? n_conns : 4;
    list_init(&c->queue);
    list_init(&c->calls);
    list_init(&c->streams);
    if (parse_endpoints(c, endpoints, err, errlen)) {
        etcd_client_destroy(c);
        return NULL;
    }
    c->conns = mem_zalloc(&mem_type_etcd, (size_t) c->n_conns * sizeof *c->conns);
    c->kick = event_new(base, -1, 0, dispatch_cb, c);
    return c;
}

static void
conn_drop(struct etcd_conn *conn)
{
    if (conn->evcon) {
        evhttp_connection_free(conn->evcon);
        conn->evcon = NULL;
    }
    conn->call = NULL;
}

void
etcd_client_destroy(struct etcd_client *c)
{
    if (!c) {
        return;
    }
    /* Abandon what is on the wire first, so that no evhttp callback can follow. */
    for (int i = 0; c->conns && i < c->n_conns; i++) {
        if (c->conns[i].call) {
            c->conns[i].call->conn = NULL;
        }
        conn_drop(&c->conns[i]);
    }
    while (!list_is_empty(&c->calls)) {
        struct etcd_call *call = CONTAINER_OF(c->calls.next, struct etcd_call, all);
        call_finish(call, ECANCELED, NULL, "etcd client closed");
    }
    if (!list_is_empty(&c->streams)) {
        LOG_ERR("etcd client destroyed with streams open");
    }
    if (c->kick) {
        event_free(c->kick);
    }
    for (int i = 0; i < c->n_eps; i++) {
        mem_free(&mem_type_etcd, c->eps[i].url);
        mem_free(&mem_type_etcd, c->eps[i].host);
    }
    mem_free(&mem_type_etcd, c->eps);
    mem_free(&mem_type_etcd, c->conns);
    mem_free(&mem_type_etcd, c);
}

static void
kick(struct etcd_client *c)
{
    event_active(c->kick, 0, 0);
}

/* Moves the client to the member after EP, if EP is still the current one. */
static void
failover(struct etcd_client *c, int ep)
{
    if (ep == c->cur && c->n_eps > 1) {
        c->cur = (c->cur + 1) % c->n_eps;
        c->n_failovers++;
        c->leader_id = 0;
        c->status_asked = false;
        LOG_INFO("etcd: moving from %s to %s", c->eps[ep].url, c->eps[c->cur].url);
    }
}

void
etcd_client_failover(struct etcd_client *c, int ep)
{
    failover(c, ep);
}

static void
call_finish(struct etcd_call *call, int error, json_t *reply, const char *msg)
{
    struct etcd_client *c = call->c;
    if (call->queued) {
        list_remove(&call->node);
    }
    list_remove(&call->all);
    c->n_pending--;
    if (call->conn) {
        /* Abandon the request on the wire with its connection. */
        conn_drop(call->conn);
    }
    if (call->deadline) {
        event_free(call->deadline);
    }
    if (call->retry) {
        event_free(call->retry);
    }
    if (error == ETIMEDOUT) {
        c->n_timeouts++;
    } else if (error == ECONNREFUSED) {
        c->n_refused++;
    } else if (error) {
        c->n_errors++;
    }
    if (error && error != ECANCELED) {
        LOG_INFO("etcd %s: %s", call->path, msg ? msg : strerror(error));
    }
    call->cb(call->aux, error, reply, msg ? msg : error ? strerror(error) : NULL);
    mem_free(&mem_type_etcd, call->path);
    xfree(call->body);
    mem_free(&mem_type_etcd, call);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *aux)
{
    struct etcd_call *call = aux;
    if (!call->ever_reached && call->refusals && !call->conn) {
        /* Between attempts, every one refused: nothing can have been applied. */
        call_finish(call, ECONNREFUSED, NULL, call->msg);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "no answer within %.1f s%s%s", call->c->timeout_s,
             call->msg[0] ? " (last: " : "", call->msg[0] ? call->msg : "");
    if (call->msg[0]) {
        strncat(msg, ")", sizeof msg - strlen(msg) - 1);
    }
    call_finish(call, ETIMEDOUT, NULL, msg);
}

static void
retry_cb(evutil_socket_t fd, short what, void *aux)
{
    struct etcd_call *call = aux;
    list_insert(call->c->queue.next, &call->node);
    call->queued = true;
    kick(call->c);
}

/* Puts CALL back at the head of the queue, after a pause if every member refused it. */
static void
call_retry(struct etcd_call *call)
{
    struct etcd_client *c = call->c;
    c->n_retries++;
    call->attempts++;
    if (!call->ever_reached && call->refusals >= 2 * (unsigned) c->n_eps) {
        /* Nobody listens: say so now rather than at the deadline. */
        call_finish(call, ECONNREFUSED, NULL, call->msg);
        return;
    }
    if (call->attempts % (unsigned) c->n_eps == 0) {
        /* Every member was tried once more: pause before the next round. */
        struct timeval tv = { 0, RETRY_PAUSE_MS * 1000 };
        if (!call->retry) {
            call->retry = evtimer_new(c->base, retry_cb, call);
        }
        evtimer_add(call->retry, &tv);
        return;
    }
    retry_cb(-1, 0, call);
}

/* Whether an error answer from etcd means the request was not carried out and may go to
 * another member; IDEMPOTENT also admits "timed out" (the write may still be applied). */
static bool
error_is_retryable(const char *msg, bool idempotent)
{
    static const char *const safe[] = {
        "no leader", "leader changed", "not capable", "too many requests", "server stopped",
        "unhealthy cluster", "not ready",
    };
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++) {
        if (strstr(msg, safe[i])) {
            return true;
        }
    }
    return idempotent && strstr(msg, "timed out");
}

static int
error_to_errno(const char *msg, int code)
{
    if (strstr(msg, "too many operations") || strstr(msg, "too large")) {
        return E2BIG;
    }
    if (strstr(msg, "compacted")) {
        return ESTALE;
    }
    if (strstr(msg, "timed out")) {
        return ETIMEDOUT;
    }
    if (code == 3) {            /* gRPC InvalidArgument. */
        return EINVAL;
    }
    return EIO;
}

static void
note_header(struct etcd_client *c, const json_t *reply)
{
    const json_t *h = json_object_get(reply, "header");
    if (h) {
        c->member_id = etcd_json_u64(h, "member_id");
        c->raft_term = etcd_json_u64(h, "raft_term");
    }
}

static void
on_error(enum evhttp_request_error e, void *aux)
{
    struct etcd_call *call = aux;
    call->reached = true;
}

static void
on_reply(struct evhttp_request *req, void *aux)
{
    struct etcd_call *call = aux;
    struct etcd_client *c = call->c;
    struct etcd_conn *conn = call->conn;
    int ep = conn->ep;
    conn->call = NULL;
    call->conn = NULL;
    kick(c);                    /* The connection is free for the next call. */

    int status = req ? evhttp_request_get_response_code(req) : 0;
    if (!status) {
        if (!call->reached) {
            call->refusals++;
            snprintf(call->msg, sizeof call->msg, "cannot connect to %s", c->eps[ep].url);
            failover(c, ep);
            call_retry(call);
            return;
        }
        call->ever_reached = true;
        call->refusals = 0;
        snprintf(call->msg, sizeof call->msg, "connection to %s lost", c->eps[ep].url);
        failover(c, ep);
        if (call->flags & ETCD_CALL_IDEMPOTENT) {
            call_retry(call);
        } else {
            call_finish(call, ETIMEDOUT, NULL, call->msg);
        }
        return;
    }
    call->ever_reached = true;
    call->refusals = 0;

    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(b);
    json_error_t jerr;
    json_t *reply = json_loadb((const char *) evbuffer_pullup(b, -1), len,
                               JSON_DISABLE_EOF_CHECK, &jerr);
    if (status == 200 && reply) {
        note_header(c, reply);
        if (!c->status_asked) {
            ask_status(c);
        }
        call_finish(call, 0, reply, NULL);
        json_decref(reply);
        return;
    }
    const char *emsg = reply ? json_string_value(json_object_get(reply, "error")) : NULL;
    int code = reply ? (int) json_integer_value(json_object_get(reply, "code")) : 0;
    snprintf(call->msg, sizeof call->msg, "%s: HTTP %d: %s", c->eps[ep].url, status,
             emsg ? emsg : reply ? "no error message" : "answer is not JSON");
    json_decref(reply);
    if (emsg && error_is_retryable(call->msg, call->flags & ETCD_CALL_IDEMPOTENT)) {
        failover(c, ep);
        call_retry(call);
        return;
    }
    call_finish(call, error_to_errno(call->msg, code), NULL, call->msg);
}

static struct evhttp_request *
new_request(struct etcd_client *c, int ep, const char *body,
            void (*cb)(struct evhttp_request *, void *), void *aux)
{
    struct evhttp_request *req = evhttp_request_new(cb, aux);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char host[300];
    snprintf(host, sizeof host, "%s:%d", c->eps[ep].host, c->eps[ep].port);
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    return req;
}

static struct evhttp_connection *
new_evcon(struct etcd_client *c, int ep, int timeout_s)
{
    struct evhttp_connection *evcon = evhttp_connection_base_new(
        c->base, NULL, c->eps[ep].host, (unsigned short) c->eps[ep].port);
    struct timeval tv = { timeout_s, 0 };
    evhttp_connection_set_timeout_tv(evcon, &tv);
    return evcon;
}

/* Whether CONN's kept-alive connection was closed by the member (it exited, or timed the
 * connection out) without the loop having noticed yet.  Sending on it would turn a request
 * that cannot have reached the member into an ambiguous failure. */
static bool
conn_is_stale(const struct etcd_conn *conn)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn->evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0) {
        return false;           /* Not connected: the request will open a new connection. */
    }
    char ch;
    ssize_t n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Picks a connection slot for the current member: an idle one to it, an unused one, or an
 * idle one to another member (closed and reused).  NULL: all busy. */
static struct etcd_conn *
pick_conn(struct etcd_client *c)
{
    struct etcd_conn *empty = NULL, *other = NULL;
    for (int i = 0; i < c->n_conns; i++) {
        struct etcd_conn *conn = &c->conns[i];
        if (conn->call) {
            continue;
        }
        if (conn->evcon && conn->ep == c->cur) {
            if (!conn_is_stale(conn)) {
                return conn;
            }
            empty = conn;       /* Replaced below by a fresh connection. */
            break;
        }
        if (!conn->evcon) {
            empty = empty ? empty : conn;
        } else {
            other = other ? other : conn;
        }
    }
    struct etcd_conn *conn = empty ? empty : other;
    if (conn) {
        conn_drop(conn);
        conn->ep = c->cur;
        /* Backstop only: the call's own deadline normally fires first. */
        conn->evcon = new_evcon(c, c->cur, (int) c->timeout_s + 5);
    }
    return conn;
}

static void
dispatch_cb(evutil_socket_t fd, short what, void *aux)
{
    struct etcd_client *c = aux;
    while (!list_is_empty(&c->queue)) {
        struct etcd_conn *conn = pick_conn(c);
        if (!conn) {
            return;
        }
        struct etcd_call *call = CONTAINER_OF(c->queue.next, struct etcd_call, node);
        list_remove(&call->node);
        call->queued = false;
        call->reached = false;
        call->conn = conn;
        conn->call = call;
        struct evhttp_request *req = new_request(c, conn->ep, call->body, on_reply, call);
        evhttp_request_set_error_cb(req, on_error);
        int failed = evhttp_make_request(conn->evcon, req, EVHTTP_REQ_POST, call->path);
        if (!failed) {
            http_connection_nodelay(conn->evcon);
        }
        if (failed) {
            /* Could not even start connecting: as a refusal, on a fresh connection. */
            call->conn = NULL;
            conn_drop(conn);
            call->refusals++;
            snprintf(call->msg, sizeof call->msg, "cannot connect to %s",
                     c->eps[conn->ep].url);
            failover(c, conn->ep);
            call_retry(call);
        }
    }
}

void
etcd_client_call(struct etcd_client *c, const char *path, json_t *body, unsigned flags,
                 double timeout_s, etcd_client_fn *cb, void *aux)
{
    struct etcd_call *call = mem_zalloc(&mem_type_etcd, sizeof *call);
    call->c = c;
    call->path = mem_strdup(&mem_type_etcd, path);
    call->body = mem_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    call->flags = flags;
    call->cb = cb;
    call->aux = aux;
    list_push_back(&c->calls, &call->all);
    list_push_back(&c->queue, &call->node);
    call->queued = true;
    c->n_pending++;
    c->n_calls++;
    double t = timeout_s > 0 ? timeout_s : c->timeout_s;
    struct timeval tv = { (time_t) t, (suseconds_t) ((t - (double) (time_t) t) * 1e6) };
    call->deadline = evtimer_new(c->base, deadline_cb, call);
    evtimer_add(call->deadline, &tv);
    kick(c);
}

size_t
etcd_client_pending(const struct etcd_client *c)
{
    return c->n_pending;
}

double
etcd_client_timeout(const struct etcd_client *c)
{
    return c->timeout_s;
}

const char *
etcd_client_endpoint_name(const struct etcd_client *c, int ep)
{
    return ep >= 0 && ep < c->n_eps ? c->eps[ep].url : "";
}

static void
status_done(void *aux, int error, json_t *reply, const char *msg)
{
    struct etcd_client *c = aux;
    if (!error) {
        c->leader_id = etcd_json_u64(reply, "leader");
    }
}

/* Learns the leader (for status) from the current member, once per member change. */
static void
ask_status(struct etcd_client *c)
{
    c->status_asked = true;
    etcd_client_call(c, "/v3/maintenance/status", json_object(), ETCD_CALL_IDEMPOTENT, 0,
                     status_done, c);
}

json_t *
etcd_client_status(const struct etcd_client *c)
{
    json_t *eps = json_array();
    for (int i = 0; i < c->n_eps; i++) {
        json_array_append_new(eps, json_string(c->eps[i].url));
    }
    char id[32];
    json_t *st = xjson_pack("{s:o, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                            "endpoints", eps,
                            "member", c->eps[c->cur].url,
                            "timeout_s", c->timeout_s,
                            "raft_term", (json_int_t) c->raft_term,
                            "in_flight", (json_int_t) c->n_pending,
                            "requests", (json_int_t) c->n_calls,
                            "retries", (json_int_t) c->n_retries,
                            "failovers", (json_int_t) c->n_failovers,
                            "timeouts", (json_int_t) c->n_timeouts,
                            "refused", (json_int_t) c->n_refused,
                            "errors", (json_int_t) c->n_errors);
    if (c->member_id) {
        snprintf(id, sizeof id, "%016llx", (unsigned long long) c->member_id);
        json_object_set_new(st, "member_id", json_string(id));
    }
    if (c->leader_id) {
        snprintf(id, sizeof id, "%016llx", (unsigned long long) c->leader_id);
        json_object_set_new(st, "leader_id", json_string(id));
        json_object_set_new(st, "member_is_leader", json_boolean(c->leader_id == c->member_id));
    }
    return st;
}

/* Streams. */

static void
stream_free(struct etcd_stream *s)
{
    if (s->evcon) {
        evhttp_connection_free(s->evcon);
    }
    if (s->fail_ev) {
        event_free(s->fail_ev);
    }
    evbuffer_free(s->line);
    mem_free(&mem_type_etcd, s);
}

static void
stream_end(struct etcd_stream *s, int error, const char *msg)
{
    if (!s->ended) {
        s->ended = true;
        s->in_cb++;
        s->end_cb(s->aux, error, msg);
        s->in_cb--;
    }
}

/* Hands each complete line of S's buffer to the owner (the rest too when AT_END). */
static void
stream_deliver(struct etcd_stream *s, bool at_end)
{
    s->in_cb++;
    while (!s->ended && !s->closed) {
        size_t len = evbuffer_get_length(s->line);
        if (!len) {
            break;
        }
        /* Search only the new bytes: a big message comes in many chunks. */
        struct evbuffer_ptr from;
        evbuffer_ptr_set(s->line, &from, s->scanned, EVBUFFER_PTR_SET);
        struct evbuffer_ptr nl = evbuffer_search_eol(s->line, &from, NULL, EVBUFFER_EOL_LF);
        size_t n = nl.pos >= 0 ? (size_t) nl.pos : at_end ? len : 0;
        if (nl.pos < 0) {
            s->scanned = len;
            if (!n) {
                break;
            }
        }
        s->scanned = 0;
        const char *text = (const char *) evbuffer_pullup(s->line, (ssize_t) n);
        json_error_t jerr;
        json_t *msg = json_loadb(text, n, JSON_DISABLE_EOF_CHECK, &jerr);
        evbuffer_drain(s->line, nl.pos >= 0 ? n + 1 : n);
        if (!msg) {
            if (strspn(text, " \r\n") < n) {
                LOG_WARN("etcd stream from %s: bad message: %s", s->c->eps[s->ep].url,
                         jerr.text);
            }
            continue;
        }
        const char *emsg = json_string_value(json_object_get(msg, "error"));
        if (emsg) {
            char m[300];
            snprintf(m, sizeof m, "%s: %s", s->c->eps[s->ep].url, emsg);
            stream_end(s, EIO, m);
        } else {
            s->msg_cb(s->aux, msg);
        }
        json_decref(msg);
    }
    s->in_cb--;
}

static void
stream_chunk(struct evhttp_request *req, void *aux)
{
    struct etcd_stream *s = aux;
    s->reached = true;
    if (s->closed || s->ended) {
        return;
    }
    evbuffer_add_buffer(s->line, evhttp_request_get_input_buffer(req));
    stream_deliver(s, false);
    if (s->closed && !s->in_cb) {
        stream_free(s);
    }
}

static void
stream_error(enum evhttp_request_error e, void *aux)
{
    struct etcd_stream *s = aux;
    s->reached = true;
}

static void
stream_done(struct evhttp_request *req, void *aux)
{
    struct etcd_stream *s = aux;
    if (s->closed) {
        return;
    }
    int status = req ? evhttp_request_get_response_code(req) : 0;
    if (status) {
        evbuffer_add_buffer(s->line, evhttp_request_get_input_buffer(req));
        stream_deliver(s, true);
    }
    if (!s->closed) {
        char msg[200];
        if (!status && !s->reached) {
            snprintf(msg, sizeof msg, "cannot connect to %s", s->c->eps[s->ep].url);
            failover(s->c, s->ep);
            stream_end(s, ECONNREFUSED, msg);
        } else {
            snprintf(msg, sizeof msg, "stream from %s ended (HTTP %d)", s->c->eps[s->ep].url,
                     status);
            stream_end(s, status && status != 200 ? EIO : EPIPE, msg);
        }
    }
    if (s->closed && !s->in_cb) {
        stream_free(s);
    }
}

static void
stream_fail_cb(evutil_socket_t fd, short what, void *aux)
{
    stream_done(NULL, aux);
}

struct etcd_stream *
etcd_stream_open(struct etcd_client *c, const char *path, json_t *body,
                 etcd_stream_msg_fn *msg_cb, etcd_stream_end_fn *end_cb, void *aux)
{
    struct etcd_stream *s = mem_zalloc(&mem_type_etcd, sizeof *s);
    s->c = c;
    s->ep = c->cur;
    s->msg_cb = msg_cb;
    s->end_cb = end_cb;
    s->aux = aux;
    s->line = evbuffer_new();
    s->evcon = new_evcon(c, s->ep, STREAM_IDLE_S);
    list_push_back(&c->streams, &s->node);
    char *text = mem_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct evhttp_request *req = new_request(c, s->ep, text, stream_done, s);
    xfree(text);
    evhttp_request_set_chunked_cb(req, stream_chunk);
    evhttp_request_set_error_cb(req, stream_error);
    if (!evhttp_make_request(s->evcon, req, EVHTTP_REQ_POST, path)) {
        http_connection_nodelay(s->evcon);
    } else {
        /* Reported as a refused connection, from the loop like every end. */
        s->fail_ev = event_new(c->base, -1, 0, stream_fail_cb, s);
        event_active(s->fail_ev, 0, 0);
    }
    return s;
}

void
etcd_stream_close(struct etcd_stream *s)
{
    if (!s) {
        return;
    }
    list_remove(&s->node);
    s->ended = true;
    if (s->in_cb) {
        s->closed = true;       /* Freed when the callback returns. */
        return;
    }
    stream_free(s);
}

int
etcd_stream_endpoint(const struct etcd_stream *s)
{
    return s->ep;
}
