/* bench_dist: config-distribution benchmark.
 *
 * Measures how long a change acknowledged by one contrail-api takes to reach a subscriber of
 * an IF-MAP server (the path a control node or the schema transformer sees), and how fast the
 * API servers take creates and reads.  It is the client of run-dist.sh, which starts the
 * servers: either one contrail-api on SQLite with its own ifmap-server (the embedded default),
 * or two contrail-api servers on a 3-member etcd cluster, fanned out through RabbitMQ, each
 * publishing to its own ifmap-server.
 *
 * Work, in order (all objects are virtual networks under one project made at setup):
 *   subscribe   IF-MAP session to --ifmap, subscription to contrail:config-root:root with
 *               max-depth 255, polled in a loop (lib/ifmap_client managed mode); waits for the
 *               initial search result.
 *   create      N creates (POST /virtual-networks), C connections with one request in flight
 *               each, connection k on API k mod (number of --api URLs): creates/s.  For every
 *               create acknowledged by the first API, the time from its 200 to the moment the
 *               subscriber's poll delivers the network's id-perms is kept (latency under a
 *               bulk load), and the run waits until the subscriber has seen all N.
 *   read        N reads by uuid (GET /virtual-network/<uuid>), same connections: reads/s.
 *   latency     M sequential creates on the first API: each is sent only after the previous
 *               one was both acknowledged and seen by the subscriber; latency = seen - ack.
 *   latency-load  the same M probes while L other connections create networks at a steady
 *               R per second (an open-loop schedule, one request in flight per connection),
 *               spread over all APIs.
 *
 * Every reply is checked (status 200, the uuid created or read); the first bad reply, or a
 * subscriber that does not see an object within --timeout seconds, stops the run with exit
 * status 2.  Output: a readable line per phase and a machine-readable "RESULT" line. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "hmap.h"
#include "http_client.h"
#include "ifmap_client.h"
#include "log.h"
#include "mem.h"

#define UUID_LEN 36
#define MAX_APIS 8
#define PROJECT "bench-dist"

static MEM_TYPE(mem_type_bench, "bench-dist");

/* One object this run creates and tracks. */
struct obj {
    struct hmap_node node;      /* In dist.by_name, by IF-MAP identity name. */
    char *name;                 /* contrail:virtual-network:default-domain:PROJECT:<vn>. */
    char *vn;                   /* The network's own name. */
    char uuid[UUID_LEN + 1];
    int api;                    /* Index of the API that acknowledged it. */
    double t_ack, t_seen;       /* 0 until then. */
};

enum phase { PH_SETUP, PH_CREATE, PH_READ, PH_PROBE, PH_LOAD };

struct dist;

/* One keep-alive HTTP connection with at most one request in flight. */
struct conn {
    struct dist *d;
    int id;
    int api;
    enum phase phase;
    struct http_client *hc;
    struct obj *obj;            /* Object of the request in flight. */
    struct event *timer;        /* PH_LOAD: waits for the next create's turn. */
    long bg_next_index;         /* The create it waits for. */
    bool busy;
    int retries;                /* Of the request in flight. */
    char last_req[256];
    /* The request in flight, to send again after a 409 "try again". */
    const char *method;
    char path[128];
    char body[512];
    http_client_fn *cb;
};

struct api_addr {
    char host[64];
    int port;
};

struct dist {
    struct event_base *base;
    struct event *tick;
    struct api_addr apis[MAX_APIS];
    int n_apis;
    char ifmap_host[64];
    int ifmap_port;
    long n;                     /* Objects created by the create phase. */
    int nconns;
    long samples;               /* Probes per latency phase. */
    int load_conns;
    double load_rate;           /* Background creates per second. */
    double timeout;             /* Seconds a subscriber may take to see one object. */
    int max_retries;            /* Per request, on 409 "try again". */
    long conflicts;             /* 409s retried. */
    const char *label;

    struct ifmap_client *ifc;
    bool subscribed;            /* Subscription acknowledged. */
    long polls;                 /* Poll callbacks with results. */
    struct hmap by_name;
    struct obj *objs;           /* n + 2 * samples: create, latency, latency-load. */
    long n_objs;
    long seen;                  /* Tracked objects seen. */
    double last_seen;

    struct conn *conns;         /* nconns for create/read, then the prober, then load. */
    int n_all_conns;
    char project_uuid[UUID_LEN + 1];

    /* Phase driver. */
    long next, done, total;
    long first;                 /* First object index of the phase. */
    /* Probes. */
    struct obj *probe;          /* The probe in flight. */
    double probe_t0;            /* When it was sent. */
    long probe_next, probe_end;
    bool probes_done;
    /* Background load. */
    bool load_running;
    double load_t0;
    long bg_next, bg_done;
    int bg_in_flight;
};

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void fail(const struct conn *c, const char *fmt, ...)
{
    va_list args;
    fprintf(stderr, "bench_dist: FAILED");
    if (c)
        fprintf(stderr, " (conn %d, api %d)", c->id, c->api + 1);
    fprintf(stderr, ": ");
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    if (c && c->last_req[0])
        fprintf(stderr, "\n  request: %s", c->last_req);
    fputc('\n', stderr);
    exit(2);
}

static bool looks_like_uuid(const char *s)
{
    return s && strlen(s) == UUID_LEN && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
           s[23] == '-';
}

/* Returns BODY[TYPE].uuid of a create or read reply (a string inside ROOT), or NULL. */
static const char *reply_uuid(json_t *root, const char *type)
{
    return json_string_value(json_object_get(json_object_get(root, type), "uuid"));
}

static struct obj *obj_find(struct dist *d, const char *name)
{
    struct obj *o;
    HMAP_FOR_EACH_WITH_HASH (o, node, hash_string(name, 0), &d->by_name) {
        if (!strcmp(o->name, name))
            return o;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* The subscriber. */

static void probe_check(struct dist *);

static bool has_id_perms(const xmlNode *metadata)
{
    for (const xmlNode *m = metadata ? metadata->children : NULL; m; m = m->next) {
        if (m->type == XML_ELEMENT_NODE && !strcmp((const char *)m->name, "id-perms"))
            return true;
    }
    return false;
}

static void on_poll(void *aux, const struct ifmap_client_item *items, size_t n)
{
    struct dist *d = aux;
    double t = now_secs();
    d->polls++;
    for (size_t i = 0; i < n; i++) {
        const struct ifmap_client_item *it = &items[i];
        if (it->kind == IFMAP_ITEM_ERROR)
            fail(NULL, "IF-MAP subscription error %s", it->error_code ? it->error_code : "?");
        if ((it->kind != IFMAP_ITEM_UPDATE && it->kind != IFMAP_ITEM_SEARCH) || it->ident[1] ||
            !it->ident[0] || !has_id_perms(it->metadata))
            continue;
        struct obj *o = obj_find(d, it->ident[0]);
        if (o && !o->t_seen) {
            o->t_seen = t;
            d->seen++;
            d->last_seen = t;
        }
    }
    probe_check(d);
}

static void on_subscribed(void *aux, const struct ifmap_client_reply *rep)
{
    struct dist *d = aux;
    if (rep->error == ECANCELED)
        return;
    if (rep->error)
        fail(NULL, "IF-MAP subscribe failed: %s %s", rep->error_code ? rep->error_code : "",
             rep->message ? rep->message : strerror(rep->error));
    d->subscribed = true;
}

static void on_session(void *aux, const char *session_id)
{
    struct dist *d = aux;
    (void)session_id;
    if (d->subscribed)
        fail(NULL, "IF-MAP session lost during the run (the figures would include a resync)");
    if (ifmap_client_subscribe(d->ifc, "root", "contrail:config-root:root", 255, NULL,
                               on_subscribed, d))
        fail(NULL, "IF-MAP subscribe could not be sent");
}

/* ------------------------------------------------------------------------------------------ */
/* The event loop: runs until PRED holds, failing after TIMEOUT seconds. */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void run_until(struct dist *d, bool (*pred)(struct dist *), double timeout,
                      const char *what)
{
    double deadline = now_secs() + timeout;
    while (!pred(d)) {
        if (now_secs() > deadline)
            fail(NULL, "timed out after %.0f s waiting for %s", timeout, what);
        event_base_loop(d->base, EVLOOP_ONCE);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP requests to the API servers. */

static void conn_resend(struct conn *c)
{
    c->busy = true;
    if (http_client_request(c->hc, c->method, c->path, c->body[0] ? c->body : NULL, c->cb, c))
        fail(c, "request could not be queued");
}

static void conn_send(struct conn *c, const char *method, const char *path, const char *body,
                      http_client_fn *cb)
{
    snprintf(c->last_req, sizeof c->last_req, "%s http://%s:%d%s %.120s", method,
             c->d->apis[c->api].host, c->d->apis[c->api].port, path, body ? body : "");
    c->method = method;
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->body, sizeof c->body, "%s", body ? body : "");
    c->cb = cb;
    c->retries = 0;
    conn_resend(c);
}

/* Parses a 200 reply carrying TYPE's uuid; fails otherwise.  Returns the reply (to decref)
 * and the uuid in *UUID, or NULL when the request was sent again: two API servers on one
 * store answer 409 "try again" when their transactions on shared objects (the parent,
 * allocators) keep colliding, and a client is expected to retry. */
static json_t *check_reply(struct conn *c, int status, const char *body, size_t len,
                           const char **uuid)
{
    c->busy = false;
    if (status == 409 && strstr(body, "try again") && c->retries < c->d->max_retries) {
        c->retries++;
        c->d->conflicts++;
        conn_resend(c);
        return NULL;
    }
    if (status != 200)
        fail(c, "HTTP %d: %.*s", status, (int)(len > 1000 ? 1000 : len), body);
    json_error_t jerr;
    /* id_perms uuid halves are unsigned 64-bit: beyond json_int_t, read as reals. */
    json_t *root = json_loadb(body, len, JSON_DECODE_INT_AS_REAL, &jerr);
    const char *u = NULL;
    if (root)
        u = reply_uuid(root, c->phase == PH_SETUP ? "project" : "virtual-network");
    if (!looks_like_uuid(u))
        fail(c, "status 200 without a uuid: %.400s", body);
    *uuid = u;
    return root;
}

static void send_create(struct conn *c, const char *vn, http_client_fn *cb)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"virtual-network\": {\"parent_type\": \"project\", \"fq_name\": "
             "[\"default-domain\", \"" PROJECT "\", \"%s\"]}}", vn);
    conn_send(c, "POST", "/virtual-networks", buf, cb);
}

static void phase_start_op(struct conn *c);

static void phase_op_done(struct conn *c)
{
    struct dist *d = c->d;
    d->done++;
    if (d->next < d->total)
        phase_start_op(c);
}

static void on_create(void *aux, int status, const char *body, size_t len)
{
    struct conn *c = aux;
    double t = now_secs();
    const char *u;
    json_t *root = check_reply(c, status, body, len, &u);
    if (!root)
        return;
    snprintf(c->obj->uuid, sizeof c->obj->uuid, "%s", u);
    c->obj->t_ack = t;
    c->obj->api = c->api;
    json_decref(root);
    phase_op_done(c);
}

static void on_read(void *aux, int status, const char *body, size_t len)
{
    struct conn *c = aux;
    const char *u;
    json_t *root = check_reply(c, status, body, len, &u);
    if (!root)
        return;
    if (strcmp(u, c->obj->uuid))
        fail(c, "read %s returned %s", c->obj->uuid, u);
    json_decref(root);
    phase_op_done(c);
}

static void phase_start_op(struct conn *c)
{
    struct dist *d = c->d;
    c->obj = &d->objs[d->first + d->next++];
    if (c->phase == PH_CREATE) {
        send_create(c, c->obj->vn, on_create);
    } else {
        char path[128];
        snprintf(path, sizeof path, "/virtual-network/%s", c->obj->uuid);
        conn_send(c, "GET", path, NULL, on_read);
    }
}

static bool phase_finished(struct dist *d)
{
    return d->done == d->total;
}

/* Runs N operations of PH on objects FIRST.. over the first nconns connections; returns
 * the seconds taken. */
static double run_phase(struct dist *d, enum phase ph, long first, long n)
{
    d->first = first;
    d->next = 0;
    d->done = 0;
    d->total = n;
    double t0 = now_secs();
    for (int k = 0; k < d->nconns && d->next < d->total; k++) {
        d->conns[k].phase = ph;
        phase_start_op(&d->conns[k]);
    }
    run_until(d, phase_finished, 60 + n * 0.1, ph == PH_CREATE ? "creates" : "reads");
    return now_secs() - t0;
}

static void on_setup(void *aux, int status, const char *body, size_t len)
{
    struct conn *c = aux;
    const char *u;
    json_t *root = check_reply(c, status, body, len, &u);
    if (!root)
        return;
    snprintf(c->d->project_uuid, sizeof c->d->project_uuid, "%s", u);
    json_decref(root);
}

static bool setup_done(struct dist *d)
{
    return d->project_uuid[0] != '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Probes: one create at a time on the first API, each waited for at the subscriber. */

static struct conn *prober(struct dist *d)
{
    return &d->conns[d->nconns];
}

static void probe_send(struct dist *d);

static void on_probe(void *aux, int status, const char *body, size_t len)
{
    struct conn *c = aux;
    double t = now_secs();
    const char *u;
    json_t *root = check_reply(c, status, body, len, &u);
    if (!root)
        return;
    snprintf(c->obj->uuid, sizeof c->obj->uuid, "%s", u);
    c->obj->t_ack = t;
    c->obj->api = c->api;
    json_decref(root);
    probe_check(c->d);
}

/* Called when a probe is acknowledged or something is seen: the next probe starts once the
 * current one is both. */
static void probe_check(struct dist *d)
{
    struct obj *o = d->probe;
    if (!o || !o->t_ack || !o->t_seen)
        return;
    d->probe = NULL;
    if (d->probe_next < d->probe_end)
        probe_send(d);
    else
        d->probes_done = true;
}

static void probe_send(struct dist *d)
{
    struct conn *c = prober(d);
    c->phase = PH_PROBE;
    d->probe = c->obj = &d->objs[d->probe_next++];
    d->probe_t0 = now_secs();
    send_create(c, c->obj->vn, on_probe);
}

static bool probes_finished(struct dist *d)
{
    if (d->probe && now_secs() - d->probe_t0 > d->timeout)
        fail(prober(d), "probe %s not %s within %.0f s", d->probe->vn,
             d->probe->t_ack ? "seen by the subscriber" : "acknowledged", d->timeout);
    return d->probes_done;
}

static void load_send(struct conn *c);

static void on_load(void *aux, int status, const char *body, size_t len)
{
    struct conn *c = aux;
    const char *u;
    json_t *root = check_reply(c, status, body, len, &u);
    if (!root)
        return;
    json_decref(root);
    c->d->bg_done++;
    c->d->bg_in_flight--;
    if (c->d->load_running)
        load_send(c);
}

/* Sends background create number INDEX now. */
static void load_send_now(struct conn *c, long index)
{
    char vn[64];
    snprintf(vn, sizeof vn, "bg-%ld", index);
    c->phase = PH_LOAD;
    send_create(c, vn, on_load);
}

static void load_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    if (c->d->load_running)
        load_send_now(c, c->bg_next_index);
    else
        c->d->bg_in_flight--;
}

/* Background create number K goes out at load_t0 + K / load_rate (an open-loop schedule:
 * the load does not slow down when the servers do, up to one request in flight per
 * connection). */
static void load_send(struct conn *c)
{
    struct dist *d = c->d;
    long k = d->bg_next++;
    double wait = d->load_t0 + k / d->load_rate - now_secs();
    d->bg_in_flight++;
    if (wait > 0) {
        struct timeval tv = { (time_t)wait, (suseconds_t)((wait - (time_t)wait) * 1e6) };
        c->bg_next_index = k;
        evtimer_add(c->timer, &tv);
    } else {
        load_send_now(c, k);
    }
}

static bool load_idle(struct dist *d)
{
    return d->bg_in_flight == 0;
}

/* Runs the probes FIRST..FIRST+COUNT, with the background load when LOAD.  Returns the
 * background creates per second (0 without load). */
static double run_probes(struct dist *d, long first, long count, bool load)
{
    d->probe_next = first;
    d->probe_end = first + count;
    d->probes_done = false;
    d->bg_done = 0;
    double t0 = now_secs();
    if (load) {
        d->load_running = true;
        d->load_t0 = t0;
        d->bg_next = 0;
        for (int k = d->nconns + 1; k < d->n_all_conns; k++)
            load_send(&d->conns[k]);
    }
    probe_send(d);
    run_until(d, probes_finished, d->timeout * (count + 1), "the latency probes");
    double secs = now_secs() - t0;
    long bg = d->bg_done;
    d->load_running = false;
    for (int k = d->nconns + 1; k < d->n_all_conns; k++) {
        if (evtimer_pending(d->conns[k].timer, NULL)) {
            event_del(d->conns[k].timer);
            d->bg_in_flight--;
        }
    }
    run_until(d, load_idle, 60, "the background load to stop");
    return load && secs > 0 ? bg / secs : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Figures. */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The Q-quantile (0..1) of the N sorted values V (nearest rank). */
static double quantile(const double *v, long n, double q)
{
    long k = (long)ceil(q * n) - 1;
    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return v[k];
}

/* Prints the distribution of seen - ack over objects FIRST..FIRST+COUNT acknowledged by the
 * first API. */
static void print_latency(struct dist *d, const char *phase, long first, long count,
                          const char *extra_text, const char *extra_kv)
{
    double *v = mem_zalloc(&mem_type_bench, (count ? count : 1) * sizeof *v);
    long n = 0;
    for (long i = first; i < first + count; i++) {
        const struct obj *o = &d->objs[i];
        if (o->api == 0 && o->t_ack && o->t_seen)
            v[n++] = (o->t_seen - o->t_ack) * 1e3;
    }
    qsort(v, n, sizeof *v, cmp_double);
    double p50 = n ? quantile(v, n, 0.5) : 0, p90 = n ? quantile(v, n, 0.9) : 0;
    double p99 = n ? quantile(v, n, 0.99) : 0, max = n ? v[n - 1] : 0;
    double min = n ? v[0] : 0;
    printf("%-12s %-13s n=%-6ld samples=%-5ld p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  "
           "max %7.2f ms%s\n", d->label, phase, d->n, n, p50, p90, p99, max, extra_text);
    printf("RESULT label=%s phase=%s n=%ld samples=%ld min_ms=%.3f p50_ms=%.3f p90_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f%s\n", d->label, phase, d->n, n, min, p50, p90, p99, max,
           extra_kv);
    fflush(stdout);
    mem_free(&mem_type_bench, v);
}

static void print_rate(struct dist *d, const char *phase, long ops, double secs,
                       const char *extra_text, const char *extra_kv)
{
    printf("%-12s %-13s n=%-6ld conns=%d apis=%d  %ld ops  %.3f s  %.0f ops/s%s\n", d->label,
           phase, d->n, d->nconns, d->n_apis, ops, secs, ops / secs, extra_text);
    printf("RESULT label=%s phase=%s n=%ld conns=%d apis=%d ops=%ld secs=%.6f ops_per_s=%.1f%s\n",
           d->label, phase, d->n, d->nconns, d->n_apis, ops, secs, secs > 0 ? ops / secs : 0,
           extra_kv);
    fflush(stdout);
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up and the run. */

static bool all_created_seen(struct dist *d)
{
    return d->seen >= d->n;
}

static bool subscription_ready(struct dist *d)
{
    return d->subscribed && d->polls > 0;
}

static void parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *hp = strncmp(s, "http://", 7) ? s : s + 7;
    const char *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= hostlen || atoi(colon + 1) <= 0) {
        fprintf(stderr, "bench_dist: %s: expected [http://]HOST:PORT\n", s);
        exit(1);
    }
    memcpy(host, hp, colon - hp);
    host[colon - hp] = '\0';
    *port = atoi(colon + 1);
}

static void usage(void)
{
    printf("usage: bench_dist --api URL[,URL...] [options]\n"
           "  -a, --api LIST        contrail-api servers, http://HOST:PORT, comma-separated;\n"
           "                        probes go to the first, loads are spread over all\n"
           "  -i, --ifmap HOST:PORT IF-MAP server to subscribe to (HTTPS, control-user);\n"
           "                        without it only the create and read rates are measured\n"
           "  -n, --count N         networks created (and read) by the load (default 1000)\n"
           "  -c, --conns C         connections for creates and reads (default 4)\n"
           "  -m, --samples M       sequential probes per latency phase (default 200; 0: none)\n"
           "  -L, --load-conns L    connections of background creates during latency-load\n"
           "                        (default 2; 0: no latency-load phase)\n"
           "  -R, --load-rate R     background creates per second, spread over those\n"
           "                        connections (default 200)\n"
           "  -T, --timeout S       seconds for the subscriber to see one object (default 30)\n"
           "  -l, --label TEXT      copied to the output\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"api", required_argument, NULL, 'a'},       {"ifmap", required_argument, NULL, 'i'},
        {"count", required_argument, NULL, 'n'},     {"conns", required_argument, NULL, 'c'},
        {"samples", required_argument, NULL, 'm'},   {"load-conns", required_argument, NULL, 'L'},
        {"timeout", required_argument, NULL, 'T'},   {"label", required_argument, NULL, 'l'},
        {"load-rate", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    struct dist dist = {
        .n = 1000, .nconns = 4, .samples = 200, .load_conns = 2, .load_rate = 200,
        .timeout = 30, .max_retries = 20, .label = "-",
    };
    struct dist *d = &dist;
    char apis_arg[1024] = "";
    const char *ifmap = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "a:i:n:c:m:L:R:T:l:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a': snprintf(apis_arg, sizeof apis_arg, "%s", optarg); break;
        case 'i': ifmap = optarg; break;
        case 'n': d->n = atol(optarg); break;
        case 'c': d->nconns = atoi(optarg); break;
        case 'm': d->samples = atol(optarg); break;
        case 'L': d->load_conns = atoi(optarg); break;
        case 'R': d->load_rate = atof(optarg); break;
        case 'T': d->timeout = atof(optarg); break;
        case 'l': d->label = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return 1;
        }
    }
    for (char *save = NULL, *tok = strtok_r(apis_arg, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (d->n_apis == MAX_APIS) {
            fprintf(stderr, "bench_dist: at most %d APIs\n", MAX_APIS);
            return 1;
        }
        parse_hostport(tok, d->apis[d->n_apis].host, sizeof d->apis[0].host,
                       &d->apis[d->n_apis].port);
        d->n_apis++;
    }
    if (!d->n_apis || d->n <= 0 || d->n > 1000000 || d->nconns <= 0 || d->nconns > 256 ||
        d->samples < 0 || d->samples > 100000 || d->load_conns < 0 || d->load_conns > 256 ||
        d->timeout <= 0 || d->load_rate <= 0) {
        usage();
        return 1;
    }
    if (ifmap)
        parse_hostport(ifmap, d->ifmap_host, sizeof d->ifmap_host, &d->ifmap_port);
    else
        d->samples = 0;         /* Latency needs a subscriber. */

    mem_init_json();
    log_set_level(NULL, LOG_LEVEL_WARN);
    d->base = event_base_new();
    /* A periodic wake-up so that run_until checks its deadline while nothing happens. */
    d->tick = event_new(d->base, -1, EV_PERSIST, tick_cb, d);
    struct timeval tv = { 0, 100 * 1000 };
    event_add(d->tick, &tv);

    /* The objects: N of the create phase, then the probes of each latency phase. */
    d->n_objs = d->n + 2 * d->samples;
    d->objs = mem_zalloc(&mem_type_bench, d->n_objs * sizeof *d->objs);
    hmap_init(&d->by_name);
    for (long i = 0; i < d->n_objs; i++) {
        struct obj *o = &d->objs[i];
        o->vn = i < d->n ? mem_asprintf(&mem_type_bench, "vn-%ld", i)
              : mem_asprintf(&mem_type_bench, "probe-%ld", i - d->n);
        o->name = mem_asprintf(&mem_type_bench,
                               "contrail:virtual-network:default-domain:" PROJECT ":%s", o->vn);
        o->api = -1;
        hmap_insert(&d->by_name, &o->node, hash_string(o->name, 0));
    }

    /* Connections: the load's, the prober (first API), the background load's. */
    d->n_all_conns = d->nconns + 1 + (d->samples ? d->load_conns : 0);
    d->conns = mem_zalloc(&mem_type_bench, d->n_all_conns * sizeof *d->conns);
    for (int k = 0; k < d->n_all_conns; k++) {
        struct conn *c = &d->conns[k];
        c->d = d;
        c->id = k;
        c->api = k < d->nconns ? k % d->n_apis : k == d->nconns ? 0 : (k - d->nconns - 1) % d->n_apis;
        c->hc = http_client_create(d->base, d->apis[c->api].host, d->apis[c->api].port, 120);
        c->timer = evtimer_new(d->base, load_timer_cb, c);
    }

    if (ifmap) {
        char err[256];
        d->ifc = ifmap_client_create(d->base, d->ifmap_host, d->ifmap_port, "control-user",
                                     "control-user-passwd", true, false, err, sizeof err);
        if (!d->ifc)
            fail(NULL, "IF-MAP client: %s", err);
        ifmap_client_set_callbacks(d->ifc, on_session, on_poll, d);
        ifmap_client_start(d->ifc);
        double t0 = now_secs();
        run_until(d, subscription_ready, 60, "the IF-MAP subscription's first result");
        printf("%-12s %-13s initial search result in %.3f s\n", d->label, "subscribe",
               now_secs() - t0);
    }

    d->conns[0].phase = PH_SETUP;
    conn_send(&d->conns[0], "POST", "/projects",
              "{\"project\": {\"parent_type\": \"domain\", \"fq_name\": [\"default-domain\", \""
              PROJECT "\"]}}", on_setup);
    run_until(d, setup_done, 60, "the project to be created");

    double secs = run_phase(d, PH_CREATE, 0, d->n);
    double t_created = now_secs();
    if (d->ifc) {
        run_until(d, all_created_seen, d->timeout + d->n * 0.05,
                  "the subscriber to see every network created");
        char text[128], kv[128];
        double lag = d->last_seen > t_created ? d->last_seen - t_created : 0;
        snprintf(text, sizeof text, "  subscriber done %.3f s after the last ack", lag);
        snprintf(kv, sizeof kv, " drain_secs=%.6f", lag);
        print_rate(d, "create", d->n, secs, text, kv);
        print_latency(d, "dist-bulk", 0, d->n, "", "");
    } else {
        print_rate(d, "create", d->n, secs, "", "");
    }

    secs = run_phase(d, PH_READ, 0, d->n);
    print_rate(d, "read", d->n, secs, "", "");

    if (d->samples) {
        run_probes(d, d->n, d->samples, false);
        print_latency(d, "latency", d->n, d->samples, "", "");
        if (d->load_conns) {
            double rate = run_probes(d, d->n + d->samples, d->samples, true);
            char text[128], kv[128];
            snprintf(text, sizeof text, "  under %.0f creates/s (asked %.0f/s) on %d conns",
                     rate, d->load_rate, d->load_conns);
            snprintf(kv, sizeof kv, " load_conns=%d load_rate=%.1f load_ops_per_s=%.1f",
                     d->load_conns, d->load_rate, rate);
            print_latency(d, "latency-load", d->n + d->samples, d->samples, text, kv);
        }
    }

    printf("%-12s %-13s %ld requests answered 409 \"try again\" and sent again\n", d->label,
           "conflicts", d->conflicts);
    printf("RESULT label=%s phase=conflicts n=%ld retried=%ld\n", d->label, d->n, d->conflicts);
    if (d->ifc) {
        struct ifmap_client_stats st;
        ifmap_client_get_stats(d->ifc, &st);
        printf("RESULT label=%s phase=subscriber polls=%llu items=%llu reconnects=%llu\n",
               d->label, (unsigned long long)st.polls, (unsigned long long)st.items,
               (unsigned long long)st.reconnects);
    }

    ifmap_client_destroy(d->ifc);
    for (int k = 0; k < d->n_all_conns; k++) {
        http_client_destroy(d->conns[k].hc);
        event_free(d->conns[k].timer);
    }
    for (long i = 0; i < d->n_objs; i++) {
        mem_free(&mem_type_bench, d->objs[i].name);
        mem_free(&mem_type_bench, d->objs[i].vn);
    }
    hmap_destroy(&d->by_name);
    mem_free(&mem_type_bench, d->objs);
    mem_free(&mem_type_bench, d->conns);
    event_free(d->tick);
    event_base_free(d->base);
    xmlCleanupParser();
    return 0;
}
