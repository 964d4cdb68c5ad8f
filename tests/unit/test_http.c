/* Unit tests of lib/http and lib/introspect: a server on an ephemeral loopback port, driven
 * by libevent's own HTTP client in the same event loop. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(test_http);

static struct event_base *base;

/* ---- Client side. ---- */

struct resp {
    bool done;
    int code;
    char *body;                 /* malloc'd, NUL-terminated. */
    size_t len;
    char ctype[128];
    char xheader[128];
};

static void
resp_clear(struct resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void
on_response(struct evhttp_request *req, void *aux)
{
    struct resp *r = aux;
    r->done = true;
    if (!req) {
        return;
    }
    r->code = evhttp_request_get_response_code(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    r->len = evbuffer_get_length(in);
    r->body = malloc(r->len + 1);
    evbuffer_remove(in, r->body, r->len);
    r->body[r->len] = '\0';
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    snprintf(r->ctype, sizeof r->ctype, "%s", ct ? ct : "");
    const char *x = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Reply");
    snprintf(r->xheader, sizeof r->xheader, "%s", x ? x : "");
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
run_until_done(const bool *done)
{
    double deadline = now() + 20;
    while (!*done && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (!*done) {
            usleep(200);
        }
    }
}

/* Sends one request and waits for the answer.  HOST may be NULL (the client's default). */
static void
request(int port, enum evhttp_cmd_type method, const char *uri, const char *body,
        size_t body_len, const char *host, struct resp *r)
{
    memset(r, 0, sizeof *r);
    struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1",
                                                                (ev_uint16_t) port);
    evhttp_connection_set_timeout(conn, 10);
    struct evhttp_request *req = evhttp_request_new(on_response, r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", host ? host : "127.0.0.1");
    evhttp_add_header(h, "X-Test", "hello");
    if (body) {
        evbuffer_add(evhttp_request_get_output_buffer(req), body, body_len);
        evhttp_add_header(h, "Content-Type", "application/json");
    }
    if (evhttp_make_request(conn, req, method, uri)) {
        r->done = true;
    }
    run_until_done(&r->done);
    CHECK(r->done);
    evhttp_connection_free(conn);
}

static void
get(int port, const char *uri, struct resp *r)
{
    request(port, EVHTTP_REQ_GET, uri, NULL, 0, NULL, r);
}

static void
post(int port, const char *uri, const char *body, struct resp *r)
{
    request(port, EVHTTP_REQ_POST, uri, body, body ? strlen(body) : 0, NULL, r);
}

static json_t *
resp_json(const struct resp *r)
{
    json_error_t jerr;
    return r->body ? json_loadb(r->body, r->len, 0, &jerr) : NULL;
}

/* ---- Server side. ---- */

static int n_handled;

static void
later_cb(evutil_socket_t fd, short what, void *aux)
{
    struct http_req *req = aux;
    http_reply_json(req, 202, json_pack("{ss}", "late", "yes"));
}

static const char *
method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    default: return "OTHER";
    }
}

static void
handler(struct http_req *req, void *aux)
{
    int *magic = aux;
    n_handled++;
    if (!strcmp(req->path, "/echo") || !strcmp(req->path, "/some path")) {
        size_t len;
        const char *body = http_req_body(req, &len);
        const char *a = http_req_query(req, "a"), *b = http_req_query(req, "b");
        const char *x = http_req_header(req, "X-Test");
        http_reply_json(req, 200, json_pack("{sssssisssssbsssi}", "path", req->path,
                                            "method", method_name(req->method),
                                            "magic", *magic,
                                            "a", a ? a : "", "b", b ? b : "",
                                            "has_c", http_req_has_query(req, "c"),
                                            "x", x ? x : "", "body_len", (int) len));
        (void) body;
    } else if (!strcmp(req->path, "/json")) {
        char err[256];
        json_t *j = http_req_json(req, err, sizeof err);
        if (!j) {
            http_reply_text(req, 400, "%s", err);
            return;
        }
        http_reply_json(req, 200, j);
    } else if (!strcmp(req->path, "/body")) {
        size_t len;
        const char *body = http_req_body(req, &len);
        /* NUL-terminated in place, with the length of the body itself. */
        bool ok = body && strlen(body) == len;
        http_reply(req, ok ? 200 : 500, "text/plain", body, len);
    } else if (!strcmp(req->path, "/later")) {
        struct timeval tv = { 0, 50 * 1000 };
        event_base_once(base, -1, EV_TIMEOUT, later_cb, req, &tv);
    } else if (!strcmp(req->path, "/base")) {
        char url[300];
        http_req_base_url(req, url, sizeof url);
        http_reply(req, 200, "text/plain", url, strlen(url));
    } else if (!strcmp(req->path, "/raw")) {
        http_reply_header(req, "X-Reply", "yes");
        http_reply(req, 201, "application/x-test", "raw", 3);
    } else if (!strcmp(req->path, "/empty")) {
        http_reply_json(req, 204, NULL);
    } else if (!strcmp(req->path, "/fail")) {
        http_reply_text(req, 503, "Service Unavailable: %s", "busy");
    } else {
        http_reply_text(req, 404, "no page %s", req->path);
    }
}

static void
test_http(void)
{
    int magic = 4242;
    struct http_server *srv = NULL;
    CHECK_EQ_INT(http_server_create(base, "127.0.0.1", 0, 1000, handler, &magic, &srv), 0);
    if (!srv) {
        return;
    }
    int port = http_server_port(srv);
    CHECK(port > 0 && port < 65536);

    /* The port is taken: a second server on it fails cleanly. */
    struct http_server *srv2 = NULL;
    CHECK(http_server_create(base, "127.0.0.1", port, 0, handler, &magic, &srv2) != 0);
    CHECK(srv2 == NULL);
    /* So does a bad address. */
    CHECK(http_server_create(base, "203.0.113.1", 0, 0, handler, &magic, &srv2)
          != 0);

    struct resp r;
    get(port, "/echo?a=1&b=x%20y&c=", &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_CONTAINS(r.ctype, "application/json");
    json_t *j = resp_json(&r);
    CHECK(json_is_object(j));
    CHECK_STREQ(json_string_value(json_object_get(j, "path")), "/echo");
    CHECK_STREQ(json_string_value(json_object_get(j, "method")), "GET");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "magic")), 4242);
    CHECK_STREQ(json_string_value(json_object_get(j, "a")), "1");
    CHECK_STREQ(json_string_value(json_object_get(j, "b")), "x y");
    CHECK(json_is_true(json_object_get(j, "has_c")));
    CHECK_STREQ(json_string_value(json_object_get(j, "x")), "hello");
    json_decref(j);
    resp_clear(&r);

    /* The path is decoded. */
    get(port, "/some%20path", &r);
    CHECK_EQ_INT(r.code, 200);
    j = resp_json(&r);
    CHECK_STREQ(json_string_value(json_object_get(j, "path")), "/some path");
    CHECK(json_is_false(json_object_get(j, "has_c")));
    json_decref(j);
    resp_clear(&r);

    /* Bad paths and queries are refused before the handler sees them. */
    int handled = n_handled;
    get(port, "/echo%00x", &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS(r.body, "malformed path");
    CHECK_CONTAINS(r.ctype, "text/plain");
    resp_clear(&r);
    get(port, "/echo?novalue", &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS(r.body, "query");
    resp_clear(&r);
    CHECK_EQ_INT(n_handled, handled);

    /* Methods. */
    request(port, EVHTTP_REQ_PUT, "/echo", "{}", 2, NULL, &r);
    j = resp_json(&r);
    CHECK_STREQ(json_string_value(json_object_get(j, "method")), "PUT");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "body_len")), 2);
    json_decref(j);
    resp_clear(&r);
    request(port, EVHTTP_REQ_DELETE, "/echo", NULL, 0, NULL, &r);
    j = resp_json(&r);
    CHECK_STREQ(json_string_value(json_object_get(j, "method")), "DELETE");
    json_decref(j);
    resp_clear(&r);

    /* JSON bodies. */
    post(port, "/json", "{\"a\": [1, 2, {\"b\": null}]}", &r);
    CHECK_EQ_INT(r.code, 200);
    j = resp_json(&r);
    CHECK(json_is_array(json_object_get(j, "a")));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "a")), 3);
    json_decref(j);
    resp_clear(&r);
    post(port, "/json", "[1, 2]", &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS(r.body, "object");
    resp_clear(&r);
    post(port, "/json", "{\"a\": ", &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS(r.body, "malformed JSON");
    resp_clear(&r);
    post(port, "/json", "{\"a\": 1} trailing", &r);
    CHECK_EQ_INT(r.code, 400);
    resp_clear(&r);
    post(port, "/json", "{\"a\": 1, \"a\": 2}", &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS(r.body, "duplicate");
    resp_clear(&r);
    post(port, "/json", NULL, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS(r.body, "empty body");
    resp_clear(&r);
    request(port, EVHTTP_REQ_POST, "/json", "{\"a\":\"\0\"}", 9, NULL, &r);
    CHECK_EQ_INT(r.code, 400);
    resp_clear(&r);
    post(port, "/json", "\"just a string\"", &r);
    CHECK_EQ_INT(r.code, 400);
    resp_clear(&r);

    /* The raw body is NUL-terminated with its own length. */
    post(port, "/body", "abc", &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_STREQ(r.body, "abc");
    resp_clear(&r);

    /* Bodies over the server's limit are refused by evhttp (413). */
    char *big = malloc(5000);
    memset(big, ' ', 4999);
    big[0] = '{';
    big[4997] = '}';
    big[4998] = '\0';
    post(port, "/json", big, &r);
    CHECK_EQ_INT(r.code, 413);
    resp_clear(&r);
    free(big);

    /* A reply given later, from a timer. */
    get(port, "/later", &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK_CONTAINS(r.body, "\"late\"");
    resp_clear(&r);

    /* Reply helpers. */
    get(port, "/raw", &r);
    CHECK_EQ_INT(r.code, 201);
    CHECK_STREQ(r.ctype, "application/x-test");
    CHECK_STREQ(r.xheader, "yes");
    CHECK_STREQ(r.body, "raw");
    resp_clear(&r);
    get(port, "/empty", &r);
    CHECK_EQ_INT(r.code, 204);
    CHECK_EQ_INT(r.len, 0);
    resp_clear(&r);
    get(port, "/fail", &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_STREQ(r.body, "Service Unavailable: busy");
    resp_clear(&r);
    get(port, "/nowhere", &r);
    CHECK_EQ_INT(r.code, 404);
    CHECK_STREQ(r.body, "no page /nowhere");
    resp_clear(&r);

    /* Base URL from Host:, or the listener when Host: is unusable. */
    request(port, EVHTTP_REQ_GET, "/base", NULL, 0, "example.com:8082", &r);
    CHECK_STREQ(r.body, "http://example.com:8082");
    resp_clear(&r);
    request(port, EVHTTP_REQ_GET, "/base", NULL, 0, "evil/host", &r);
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%d", port);
    CHECK_STREQ(r.body, want);
    resp_clear(&r);
    request(port, EVHTTP_REQ_GET, "/base", NULL, 0, "a\"b", &r);
    CHECK_STREQ(r.body, want);
    resp_clear(&r);

    CHECK_STREQ(http_status_reason(200), "OK");
    CHECK_STREQ(http_status_reason(404), "Not Found");
    CHECK_STREQ(http_status_reason(409), "Conflict");
    CHECK_STREQ(http_status_reason(999), "Unknown");

    http_server_destroy(srv);
    http_server_destroy(NULL);

    /* After destroy the port is closed: the client gets no answer. */
    get(port, "/echo", &r);
    CHECK_EQ_INT(r.code, 0);
    resp_clear(&r);
}

/* ---- Introspect. ---- */

static json_t *
objects_page(struct http_req *req, void *aux)
{
    const char *x = http_req_query(req, "x");
    return json_pack("{siss?}", "n", *(int *) aux, "x", x);
}

static void
test_introspect(void)
{
    struct introspect *is = NULL;
    CHECK_EQ_INT(introspect_create(base, "test-daemon", "127.0.0.1", 0, &is), 0);
    if (!is) {
        return;
    }
    int port = introspect_port(is);
    CHECK(port > 0);
    int n_objects = 17;
    introspect_add_page(is, "/objects", "Objects", objects_page, &n_objects);
    uint64_t counter = 42;
    int64_t gauge = -5;
    introspect_add_counter(is, "test_things_total", "Things done", &counter);
    introspect_add_gauge(is, "test_level", "A level", &gauge);

    struct resp r;
    get(port, "/", &r);
    CHECK_EQ_INT(r.code, 200);
    json_t *j = resp_json(&r);
    CHECK_STREQ(json_string_value(json_object_get(j, "daemon")), "test-daemon");
    CHECK(json_is_integer(json_object_get(j, "uptime")));
    json_t *pages = json_object_get(j, "pages");
    CHECK_EQ_INT(json_array_size(pages), 4);
    int found = 0;
    size_t i;
    json_t *p;
    json_array_foreach (pages, i, p) {
        const char *path = json_string_value(json_object_get(p, "path"));
        found += path && (!strcmp(path, "/memory") || !strcmp(path, "/log")
                          || !strcmp(path, "/metrics") || !strcmp(path, "/objects"));
    }
    CHECK_EQ_INT(found, 4);
    json_decref(j);
    resp_clear(&r);

    get(port, "/objects?x=abc", &r);
    CHECK_EQ_INT(r.code, 200);
    j = resp_json(&r);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "n")), 17);
    CHECK_STREQ(json_string_value(json_object_get(j, "x")), "abc");
    json_decref(j);
    resp_clear(&r);

    get(port, "/memory", &r);
    CHECK_EQ_INT(r.code, 200);
    j = resp_json(&r);
    json_t *t = json_object_get(j, "introspect");
    CHECK(json_is_object(t));
    CHECK(json_integer_value(json_object_get(t, "live")) > 0);
    CHECK(json_integer_value(json_object_get(t, "bytes")) > 0);
    json_decref(j);
    resp_clear(&r);

    counter = 43;
    get(port, "/metrics", &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_CONTAINS(r.ctype, "text/plain");
    CHECK_CONTAINS(r.body, "# TYPE contrail_memory_live_allocations gauge\n");
    CHECK_CONTAINS(r.body, "contrail_memory_live_allocations{daemon=\"test-daemon\","
                   "type=\"introspect\"} ");
    CHECK_CONTAINS(r.body, "contrail_memory_bytes{daemon=\"test-daemon\",type=\"introspect\"} ");
    CHECK_CONTAINS(r.body, "contrail_uptime_seconds{daemon=\"test-daemon\"} ");
    CHECK_CONTAINS(r.body, "# HELP contrail_test_things_total Things done\n"
                   "# TYPE contrail_test_things_total counter\n"
                   "contrail_test_things_total{daemon=\"test-daemon\"} 43\n");
    CHECK_CONTAINS(r.body, "# TYPE contrail_test_level gauge\n"
                   "contrail_test_level{daemon=\"test-daemon\"} -5\n");
    CHECK_CONTAINS(r.body, "contrail_introspect_requests_total{daemon=\"test-daemon\"} ");
    /* Every non-comment line is "name{labels} value". */
    int bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            continue;
        }
        char *brace = strchr(line, '{'), *close = strchr(line, '}');
        bad += !brace || !close || close < brace || close[1] != ' ' || !close[2];
    }
    CHECK_EQ_INT(bad, 0);
    resp_clear(&r);

    /* Log levels: read, change globally, change one module, errors. */
    CHECK(log_enabled(&log_this_module, LOG_LEVEL_NOTICE));
    get(port, "/log", &r);
    CHECK_EQ_INT(r.code, 200);
    j = resp_json(&r);
    CHECK_STREQ(json_string_value(json_object_get(j, "level")), "notice");
    CHECK(json_is_object(json_object_get(j, "modules")));
    json_decref(j);
    resp_clear(&r);

    CHECK(!log_enabled(&log_this_module, LOG_LEVEL_DEBUG));
    post(port, "/log?level=debug", NULL, &r);
    CHECK_EQ_INT(r.code, 200);
    j = resp_json(&r);
    CHECK_STREQ(json_string_value(json_object_get(j, "level")), "debug");
    json_decref(j);
    resp_clear(&r);
    CHECK(log_enabled(&log_this_module, LOG_LEVEL_DEBUG));

    post(port, "/log?level=SYS_ERR&module=test_http", NULL, &r);
    CHECK_EQ_INT(r.code, 200);
    j = resp_json(&r);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(j, "modules"), "test_http")),
                "err");
    json_decref(j);
    resp_clear(&r);
    CHECK(!log_enabled(&log_this_module, LOG_LEVEL_WARN));

    post(port, "/log?level=loud", NULL, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS(r.body, "loud");
    resp_clear(&r);
    post(port, "/log", NULL, &r);
    CHECK_EQ_INT(r.code, 400);
    resp_clear(&r);
    post(port, "/log?level=info&module=no_such_module", NULL, &r);
    CHECK_EQ_INT(r.code, 404);
    CHECK_CONTAINS(r.body, "no_such_module");
    resp_clear(&r);
    log_set_level(NULL, LOG_LEVEL_NOTICE);
    log_set_level("test_http", LOG_LEVEL_NOTICE);

    /* Pages other than /log and /metrics are read-only. */
    post(port, "/memory", NULL, &r);
    CHECK_EQ_INT(r.code, 405);
    resp_clear(&r);
    get(port, "/nope", &r);
    CHECK_EQ_INT(r.code, 404);
    resp_clear(&r);

    introspect_destroy(is);
    introspect_destroy(NULL);

    /* A port in use makes introspect_create fail cleanly. */
    struct http_server *blocker = NULL;
    int magic = 0;
    CHECK_EQ_INT(http_server_create(base, "127.0.0.1", 0, 0, handler, &magic, &blocker), 0);
    if (blocker) {
        struct introspect *is2 = NULL;
        CHECK(introspect_create(base, "x", "127.0.0.1", http_server_port(blocker), &is2) != 0);
        CHECK(is2 == NULL);
        http_server_destroy(blocker);
    }
}

int
main(void)
{
    base = event_base_new();
    test_http();
    test_introspect();
    event_base_free(base);

    json_t *j = mem_to_json();
    static const char *const types[] = { "http_req", "http_server", "introspect" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, types[i]), "live")),
                     0);
    }
    json_decref(j);
    return check_finish();
}
