/* Unit tests of lib/http_client against a lib/http server in the same event loop. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http.h"
#include "http_client.h"
#include "mem.h"

static struct event_base *base;

struct answer {
    int called;
    int status;
    char body[4096];
    size_t len;
    int order;
};

static int answer_seq;

static void
on_answer(void *aux, int status, const char *body, size_t len)
{
    struct answer *a = aux;
    a->called++;
    a->status = status;
    a->len = len;
    snprintf(a->body, sizeof a->body, "%s", body ? body : "(null)");
    a->order = ++answer_seq;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
run_until(const int *counter, int target, double seconds)
{
    double deadline = now() + seconds;
    while (*counter < target && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (*counter < target) {
            usleep(200);
        }
    }
}

/* The server: echoes method, path and body; /slow answers after 300 ms. */
static void
slow_cb(evutil_socket_t fd, short what, void *aux)
{
    http_reply_text(aux, 200, "slow");
}

static struct http_req *never_req;

static void
handler(struct http_req *req, void *aux)
{
    if (!strcmp(req->path, "/slow")) {
        struct timeval tv = { 0, 300 * 1000 };
        event_base_once(base, -1, EV_TIMEOUT, slow_cb, req, &tv);
        return;
    }
    if (!strcmp(req->path, "/never")) {
        /* Not answered until the client gave up. */
        never_req = req;
        return;
    }
    size_t len;
    const char *body = http_req_body(req, &len);
    const char *ct = http_req_header(req, "Content-Type");
    const char *m = req->method == EVHTTP_REQ_GET ? "GET"
                    : req->method == EVHTTP_REQ_POST ? "POST"
                    : req->method == EVHTTP_REQ_PUT ? "PUT"
                    : req->method == EVHTTP_REQ_DELETE ? "DELETE"
                    : req->method == EVHTTP_REQ_HEAD ? "HEAD" : "?";
    int status = !strcmp(req->path, "/missing") ? 404 : 200;
    http_reply_text(req, status, "%s %s [%s] %s", m, req->path, ct ? ct : "", body);
}

static void
test_requests(int port)
{
    struct http_client *c = http_client_create(base, "127.0.0.1", port, 5);
    struct answer a = { 0 };
    CHECK_EQ_INT(http_client_request(c, "GET", "/hello", NULL, on_answer, &a), 0);
    CHECK_EQ_INT(a.called, 0);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.called, 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_STREQ(a.body, "GET /hello [] ");
    CHECK_EQ_INT(a.len, strlen("GET /hello [] "));

    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(http_client_request(c, "post", "/x", "{\"a\": 1}", on_answer, &a), 0);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.status, 200);
    CHECK_STREQ(a.body, "POST /x [application/json] {\"a\": 1}");

    memset(&a, 0, sizeof a);
    json_t *j = json_pack("{si}", "b", 2);
    CHECK_EQ_INT(http_client_request_json(c, "PUT", "/y", j, on_answer, &a), 0);
    json_decref(j);
    run_until(&a.called, 1, 10);
    CHECK_STREQ(a.body, "PUT /y [application/json] {\"b\":2}");

    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(http_client_request_json(c, "DELETE", "/z", NULL, on_answer, &a), 0);
    run_until(&a.called, 1, 10);
    CHECK_STREQ(a.body, "DELETE /z [] ");

    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(http_client_request(c, "GET", "/missing", NULL, on_answer, &a), 0);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.status, 404);

    /* Unknown methods are refused at once; the callback is not called. */
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(http_client_request(c, "BREW", "/", NULL, on_answer, &a), EINVAL);
    CHECK_EQ_INT(http_client_request(c, "", "/", NULL, on_answer, &a), EINVAL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_EQ_INT(a.called, 0);

    /* Pipelined requests are answered in order. */
    enum { N = 20 };
    static struct answer many[N];
    int total = 0;
    for (int i = 0; i < N; i++) {
        char path[32];
        snprintf(path, sizeof path, "/p%d", i);
        CHECK_EQ_INT(http_client_request(c, "GET", path, NULL, on_answer, &many[i]), 0);
    }
    double deadline = now() + 20;
    while (total < N && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        total = 0;
        for (int i = 0; i < N; i++) {
            total += many[i].called;
        }
    }
    CHECK_EQ_INT(total, N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "GET /p%d [] ", i);
        bad += many[i].status != 200 || strcmp(many[i].body, want);
        bad += i && many[i].order < many[i - 1].order;
    }
    CHECK_EQ_INT(bad, 0);
    http_client_destroy(c);
    http_client_destroy(NULL);
}

static void
test_failures(int port)
{
    /* Nobody listening: status 0 and a message. */
    struct http_server *tmp = NULL;
    int magic = 0;
    CHECK_EQ_INT(http_server_create(base, "127.0.0.1", 0, 0, handler, &magic, &tmp), 0);
    int dead_port = tmp ? http_server_port(tmp) : 1;
    http_server_destroy(tmp);
    struct http_client *c = http_client_create(base, "127.0.0.1", dead_port, 2);
    struct answer a = { 0 };
    CHECK_EQ_INT(http_client_request(c, "GET", "/", NULL, on_answer, &a), 0);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.called, 1);
    CHECK_EQ_INT(a.status, 0);
    CHECK_CONTAINS(a.body, "no answer");
    http_client_destroy(c);

    /* Timeout: the server never answers. */
    c = http_client_create(base, "127.0.0.1", port, 1);
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(http_client_request(c, "GET", "/never", NULL, on_answer, &a), 0);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.called, 1);
    CHECK_EQ_INT(a.status, 0);
    http_client_destroy(c);
    CHECK(never_req != NULL);
    if (never_req) {
        /* Answering a request whose client is gone frees it. */
        http_reply_text(never_req, 200, "too late");
        never_req = NULL;
    }

    /* Destroying a client answers what is in flight, exactly once, with status 0. */
    c = http_client_create(base, "127.0.0.1", port, 5);
    struct answer s1 = { 0 }, s2 = { 0 };
    CHECK_EQ_INT(http_client_request(c, "GET", "/slow", NULL, on_answer, &s1), 0);
    CHECK_EQ_INT(http_client_request(c, "GET", "/slow", NULL, on_answer, &s2), 0);
    /* Let the first one reach the server. */
    double deadline = now() + 0.1;
    while (now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    http_client_destroy(c);
    CHECK_EQ_INT(s1.called, 1);
    CHECK_EQ_INT(s2.called, 1);
    CHECK_EQ_INT(s1.status, 0);
    CHECK_EQ_INT(s2.status, 0);
    /* The server's late answers go nowhere; nothing is called again. */
    deadline = now() + 0.5;
    while (now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    CHECK_EQ_INT(s1.called, 1);
    CHECK_EQ_INT(s2.called, 1);

    /* Destroying right after queueing (nothing sent yet). */
    c = http_client_create(base, "127.0.0.1", port, 5);
    memset(&s1, 0, sizeof s1);
    CHECK_EQ_INT(http_client_request(c, "GET", "/hello", NULL, on_answer, &s1), 0);
    http_client_destroy(c);
    CHECK_EQ_INT(s1.called, 1);
    CHECK_EQ_INT(s1.status, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_EQ_INT(s1.called, 1);
}

int
main(void)
{
    base = event_base_new();
    struct http_server *srv = NULL;
    int magic = 0;
    CHECK_EQ_INT(http_server_create(base, "127.0.0.1", 0, 0, handler, &magic, &srv), 0);
    if (!srv) {
        return check_finish();
    }
    int port = http_server_port(srv);
    test_requests(port);
    test_failures(port);
    http_server_destroy(srv);
    event_base_free(base);

    json_t *j = mem_to_json();
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "http_client"), "live")),
                 0);
    json_decref(j);
    return check_finish();
}
