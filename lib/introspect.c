/* introspect: JSON state pages and Prometheus metrics (see introspect.h). */
#include "introspect.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "mem.h"

static MEM_TYPE(mem_type_introspect, "introspect");

struct introspect_page {
    char *path;
    char *title;
    introspect_page_fn *fn;
    void *aux;
    struct introspect_page *next;
};

struct introspect_metric {
    char *name;
    char *help;
    const uint64_t *counter;
    const int64_t *gauge;
    struct introspect_metric *next;
};

struct introspect {
    char *name;
    struct http_server *http;
    struct introspect_page *pages;
    struct introspect_metric *metrics, **metrics_tail;
    time_t started;
    uint64_t n_requests;
};

static void introspect_handle(struct http_req *, void *);

int
introspect_create(struct event_base *base, const char *name, const char *addr, int port,
                  struct introspect **isp)
{
    struct introspect *is = mem_zalloc(&mem_type_introspect, sizeof *is);
    is->name = mem_strdup(&mem_type_introspect, name);
    is->metrics_tail = &is->metrics;
    is->started = time(NULL);
    int error = http_server_create(base, addr, port, 65536, introspect_handle, is, &is->http);
    if (error) {
        mem_free(&mem_type_introspect, is->name);
        mem_free(&mem_type_introspect, is);
        return error;
    }
    introspect_add_counter(is, "introspect_requests_total", "Introspect requests served",
                           &is->n_requests);
    *isp = is;
    return 0;
}

void
introspect_destroy(struct introspect *is)
{
    if (!is) {
        return;
    }
    http_server_destroy(is->http);
    for (struct introspect_page *p = is->pages, *next; p; p = next) {
        next = p->next;
        mem_free(&mem_type_introspect, p->path);
        mem_free(&mem_type_introspect, p->title);
        mem_free(&mem_type_introspect, p);
    }
    for (struct introspect_metric *m = is->metrics, *next; m; m = next) {
        next = m->next;
        mem_free(&mem_type_introspect, m->name);
        mem_free(&mem_type_introspect, m->help);
        mem_free(&mem_type_introspect, m);
    }
    mem_free(&mem_type_introspect, is->name);
    mem_free(&mem_type_introspect, is);
}

int
introspect_port(const struct introspect *is)
{
    return http_server_port(is->http);
}

void
introspect_add_page(struct introspect *is, const char *path, const char *title,
                    introspect_page_fn *fn, void *aux)
{
    struct introspect_page *p = mem_zalloc(&mem_type_introspect, sizeof *p);
    p->path = mem_strdup(&mem_type_introspect, path);
    p->title = mem_strdup(&mem_type_introspect, title);
    p->fn = fn;
    p->aux = aux;
    struct introspect_page **tail = &is->pages;
    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = p;
}

static void
introspect_add_metric(struct introspect *is, const char *name, const char *help,
                      const uint64_t *counter, const int64_t *gauge)
{
    struct introspect_metric *m = mem_zalloc(&mem_type_introspect, sizeof *m);
    m->name = mem_asprintf(&mem_type_introspect, "contrail_%s", name);
    m->help = mem_strdup(&mem_type_introspect, help);
    m->counter = counter;
    m->gauge = gauge;
    *is->metrics_tail = m;
    is->metrics_tail = &m->next;
}

void
introspect_add_counter(struct introspect *is, const char *name, const char *help,
                       const uint64_t *value)
{
    introspect_add_metric(is, name, help, value, NULL);
}

void
introspect_add_gauge(struct introspect *is, const char *name, const char *help,
                     const int64_t *value)
{
    introspect_add_metric(is, name, help, NULL, value);
}

struct metrics_ctx {
    struct evbuffer *b;
    const char *daemon;
};

static void
introspect_mem_metric(const struct mem_type *t, void *aux)
{
    struct metrics_ctx *ctx = aux;
    evbuffer_add_printf(ctx->b, "contrail_memory_live_allocations{daemon=\"%s\",type=\"%s\"} %"
                        PRId64 "\n", ctx->daemon, t->name, t->live);
    evbuffer_add_printf(ctx->b, "contrail_memory_bytes{daemon=\"%s\",type=\"%s\"} %" PRId64 "\n",
                        ctx->daemon, t->name, t->bytes);
}

static void
introspect_metrics(struct introspect *is, struct http_req *req)
{
    struct evbuffer *b = evbuffer_new();
    struct metrics_ctx ctx = { b, is->name };
    evbuffer_add_printf(b, "# HELP contrail_memory_live_allocations Live allocations by type\n"
                        "# TYPE contrail_memory_live_allocations gauge\n");
    mem_foreach(introspect_mem_metric, &ctx);
    evbuffer_add_printf(b, "# HELP contrail_uptime_seconds Seconds since start\n"
                        "# TYPE contrail_uptime_seconds gauge\n"
                        "contrail_uptime_seconds{daemon=\"%s\"} %lld\n",
                        is->name, (long long) (time(NULL) - is->started));
    for (const struct introspect_metric *m = is->metrics; m; m = m->next) {
        evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                            m->counter ? "counter" : "gauge");
        if (m->counter) {
            evbuffer_add_printf(b, "%s{daemon=\"%s\"} %" PRIu64 "\n", m->name, is->name,
                                *m->counter);
        } else {
            evbuffer_add_printf(b, "%s{daemon=\"%s\"} %" PRId64 "\n", m->name, is->name,
                                *m->gauge);
        }
    }
    size_t len = evbuffer_get_length(b);
    http_reply(req, 200, "text/plain; version=0.0.4", (const char *) evbuffer_pullup(b, -1),
               len);
    evbuffer_free(b);
}

static void
introspect_log(struct http_req *req)
{
    if (req->method == EVHTTP_REQ_POST || req->method == EVHTTP_REQ_PUT) {
        const char *level_s = http_req_query(req, "level");
        int level = log_level_from_string(level_s);
        if (level < 0) {
            http_reply_text(req, 400, "Bad Request, invalid or missing level '%s'",
                            level_s ? level_s : "");
            return;
        }
        const char *module = http_req_query(req, "module");
        if (log_set_level(module, level)) {
            http_reply_text(req, 404, "Unknown log module '%s'", module);
            return;
        }
    }
    http_reply_json(req, 200, log_to_json());
}

static void
introspect_handle(struct http_req *req, void *aux)
{
    struct introspect *is = aux;
    is->n_requests++;
    if (!strcmp(req->path, "/metrics")) {
        introspect_metrics(is, req);
        return;
    }
    if (!strcmp(req->path, "/log")) {
        introspect_log(req);
        return;
    }
    if (req->method != EVHTTP_REQ_GET && req->method != EVHTTP_REQ_HEAD) {
        http_reply_text(req, 405, "Method Not Allowed");
        return;
    }
    if (!strcmp(req->path, "/")) {
        json_t *pages = json_array();
        json_array_append_new(pages, xjson_pack("{ssss}", "path", "/memory", "title",
                                               "Memory by type"));
        json_array_append_new(pages, xjson_pack("{ssss}", "path", "/log", "title",
                                               "Log levels"));
        json_array_append_new(pages, xjson_pack("{ssss}", "path", "/metrics", "title",
                                               "Prometheus metrics"));
        for (const struct introspect_page *p = is->pages; p; p = p->next) {
            json_array_append_new(pages, xjson_pack("{ssss}", "path", p->path, "title", p->title));
        }
        http_reply_json(req, 200, xjson_pack("{sssIso}", "daemon", is->name, "uptime",
                                            (json_int_t) (time(NULL) - is->started),
                                            "pages", pages));
        return;
    }
    if (!strcmp(req->path, "/memory")) {
        http_reply_json(req, 200, mem_to_json());
        return;
    }
    for (const struct introspect_page *p = is->pages; p; p = p->next) {
        if (!strcmp(req->path, p->path)) {
            http_reply_json(req, 200, p->fn(req, p->aux));
            return;
        }
    }
    http_reply_text(req, 404, "No introspect page %s", req->path);
}
