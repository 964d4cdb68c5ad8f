/* bench_api: config-store load generator, for contrail-api and, as the peer, OVN's northbound
 * ovsdb-server.
 *
 * The same logical work is sent to either target:
 *   create-vn    N networks          POST /virtual-networks      | insert Logical_Switch
 *   read-vn      N reads by uuid     GET /virtual-network/<uuid> | select Logical_Switch by _uuid
 *   update-vn    N updates by uuid   PUT /virtual-network/<uuid> | update Logical_Switch by _uuid
 *   list-vn      all networks        GET /virtual-networks?detail=True | select all Logical_Switch
 *   create-port  N ports with an IP  POST /virtual-machine-interfaces + POST /instance-ips
 *                                    | insert Logical_Switch_Port with addresses "<mac> <ip>"
 *                                      and mutate the switch's ports, in one transaction
 *   list-port    all ports           GET /virtual-machine-interfaces?detail=True
 *                                    | select all Logical_Switch_Port
 *
 * Fairness: every connection has exactly one request in flight; every reply is parsed and
 * checked (status, uuid, row counts, no ovsdb error); the first bad reply aborts the run with
 * the request and the reply printed.  A list is timed from sending the request to the last byte
 * of the reply; it is parsed and checked after the clock stops.
 *
 * Output: a human-readable line per phase and a machine-readable one starting with "RESULT". */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define UUID_LEN 36

enum target_kind { TARGET_API, TARGET_OVSDB };

enum phase {
    PH_CREATE_VN,
    PH_READ_VN,
    PH_UPDATE_VN,
    PH_LIST_VN,
    PH_CREATE_PORT,
    PH_LIST_PORT,
    PH_N
};

static const char *const phase_names[PH_N] = {
    "create-vn", "read-vn", "update-vn", "list-vn", "create-port", "list-port",
};

struct bench;

/* One client connection, with at most one request in flight. */
struct conn {
    struct bench *b;
    int id;
    /* API: one keep-alive HTTP connection. */
    struct evhttp_connection *evcon;
    /* ovsdb: a stream socket and an incremental JSON message splitter. */
    struct bufferevent *bev;
    char *rbuf;
    size_t rlen, rcap;
    size_t scan;          /* Bytes of rbuf already scanned. */
    int depth;            /* Nesting depth at scan. */
    bool in_str, esc;
    long next_id;
    long wait_id;         /* Id of the request in flight, -1 if none. */
    void (*on_reply)(struct conn *, json_t *msg, size_t bytes);
    /* Operation in flight. */
    long op;              /* Object index. */
    int step;             /* Sub-request of a multi-request operation (API ports). */
    char vmi_uuid[UUID_LEN + 1];
    char last_req[2200];   /* Start of the request in flight, for error reports. */
    bool busy;
};

struct bench {
    struct event_base *base;
    enum target_kind kind;
    char host[256];
    int port;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    bool durable;
    const char *db;
    long n;
    int nconns;
    int list_reps;
    const char *label;
    struct conn *conns;

    /* Phase state. */
    enum phase phase;
    long next, done, total;
    bool failed;

    /* Objects made by create-vn, indexed by i. */
    char (*vn_uuids)[UUID_LEN + 1];
    long n_vn_uuids;
    /* Parent of the ports. */
    char port_parent_uuid[UUID_LEN + 1];
    /* HTTP keep-alive accounting. */
    long http_closes;
    /* List measurements. */
    double list_secs;
    size_t list_bytes;
    long list_count;
};

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(struct conn *c, const char *fmt, ...)
{
    va_list args;
    fprintf(stderr, "bench_api: FAILED (%s, phase %s, conn %d, op %ld step %d): ",
            c && c->b->kind == TARGET_API ? "api" : "ovsdb",
            c ? phase_names[c->b->phase] : "-", c ? c->id : -1, c ? c->op : -1L,
            c ? c->step : -1);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    if (c && c->last_req[0])
        fprintf(stderr, "\n  request: %s", c->last_req);
    fputc('\n', stderr);
    exit(2);
}

static void set_uuid(char *dst, const char *src)
{
    snprintf(dst, UUID_LEN + 1, "%s", src);
}

static bool looks_like_uuid(const char *s)
{
    return s && strlen(s) == UUID_LEN && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
           s[23] == '-';
}

/* Address of port I: IP 10.0.0.2 + I, MAC 0a:00:xx:xx:xx:xx from I, as a client of ovn-nbctl
 * would pick them itself. */
static void port_address(long i, char *buf, size_t size)
{
    uint32_t ip = (10u << 24) + 2 + (uint32_t)i;
    uint32_t m = (uint32_t)i + 1;
    snprintf(buf, size, "0a:00:%02x:%02x:%02x:%02x %u.%u.%u.%u", (m >> 24) & 0xff,
             (m >> 16) & 0xff, (m >> 8) & 0xff, m & 0xff, ip >> 24, (ip >> 16) & 0xff,
             (ip >> 8) & 0xff, ip & 0xff);
}

static void op_done(struct conn *c);
static void start_op(struct conn *c);

/* ------------------------------------------------------------------------------------------ */
/* API side: HTTP/1.1 keep-alive requests through evhttp. */

typedef void api_reply_fn(struct conn *, int status, json_t *body, const char *raw, size_t len);

struct api_call {
    struct conn *c;
    api_reply_fn *fn;
    double t0;
};

static void api_close_cb(struct evhttp_connection *evcon, void *arg)
{
    struct bench *b = arg;
    (void)evcon;
    b->http_closes++;
}

static void api_done_cb(struct evhttp_request *req, void *arg)
{
    struct api_call *call = arg;
    struct conn *c = call->c;
    api_reply_fn *fn = call->fn;
    double t0 = call->t0;
    free(call);

    if (!req)
        fail(c, "no reply (connection error or timeout)");
    int status = evhttp_request_get_response_code(req);
    if (status == 0)
        fail(c, "no reply (connection refused, reset or timeout)");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    double t1 = now_secs();
    const char *raw = (const char *)evbuffer_pullup(in, -1);
    if (!raw)
        raw = "";
    json_t *body = NULL;
    if (len) {
        json_error_t jerr;
        /* id_perms.uuid.uuid_lslong/mslong are unsigned 64-bit, as in the original API:
         * beyond jansson's json_int_t, so integers are read as reals (none is checked). */
        body = json_loadb(raw, len, JSON_DECODE_INT_AS_REAL, &jerr);
        if (!body && status == 200)
            fail(c, "status 200 but body is not JSON (%s): %.400s", jerr.text, raw);
    }
    if (c->b->phase == PH_LIST_VN || c->b->phase == PH_LIST_PORT) {
        c->b->list_secs = t1 - t0;
        c->b->list_bytes = len;
    }
    c->busy = false;
    fn(c, status, body, raw, len);
    json_decref(body);
}

static void api_request(struct conn *c, enum evhttp_cmd_type method, const char *uri,
                        const char *body, api_reply_fn *fn)
{
    struct api_call *call = malloc(sizeof *call);
    call->c = c;
    call->fn = fn;
    struct evhttp_request *req = evhttp_request_new(api_done_cb, call);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", c->b->host, c->b->port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Accept", "application/json");
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    snprintf(c->last_req, sizeof c->last_req, "%s %s %s",
             method == EVHTTP_REQ_GET ? "GET" : method == EVHTTP_REQ_POST ? "POST" : "PUT",
             uri, body ? body : "");
    c->busy = true;
    call->t0 = now_secs();
    if (evhttp_make_request(c->evcon, req, method, uri) != 0)
        fail(c, "evhttp_make_request failed");
}

static void api_fail_status(struct conn *c, int status, const char *raw, size_t len)
{
    fail(c, "HTTP %d: %.*s", status, (int)(len > 2000 ? 2000 : len), raw);
}

/* Returns OBJ[TYPE].uuid of a create/read reply, or NULL. */
static const char *api_obj_uuid(json_t *body, const char *type)
{
    json_t *o = json_object_get(body, type);
    return json_string_value(json_object_get(o, "uuid"));
}

static void api_create_vn_reply(struct conn *c, int status, json_t *body, const char *raw,
                                size_t len)
{
    if (status != 200)
        api_fail_status(c, status, raw, len);
    const char *u = api_obj_uuid(body, "virtual-network");
    if (!looks_like_uuid(u))
        fail(c, "reply has no virtual-network uuid: %.400s", raw);
    set_uuid(c->b->vn_uuids[c->op], u);
    op_done(c);
}

static void api_read_vn_reply(struct conn *c, int status, json_t *body, const char *raw,
                              size_t len)
{
    if (status != 200)
        api_fail_status(c, status, raw, len);
    const char *u = api_obj_uuid(body, "virtual-network");
    if (!u || strcmp(u, c->b->vn_uuids[c->op % c->b->n_vn_uuids]))
        fail(c, "reply is not the network asked for: %.400s", raw);
    op_done(c);
}

static void api_update_vn_reply(struct conn *c, int status, json_t *body, const char *raw,
                                size_t len)
{
    (void)body;
    if (status != 200)
        api_fail_status(c, status, raw, len);
    op_done(c);
}

static void api_list_reply(struct conn *c, int status, json_t *body, const char *raw,
                           size_t len)
{
    const char *key = c->b->phase == PH_LIST_VN ? "virtual-networks"
                                                : "virtual-machine-interfaces";
    if (status != 200)
        api_fail_status(c, status, raw, len);
    json_t *arr = json_object_get(body, key);
    if (!json_is_array(arr))
        fail(c, "list reply has no \"%s\" array: %.400s", key, raw);
    /* With detail, every entry carries the object's uuid and fq_name. */
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        json_t *inner = json_object_get(e, c->b->phase == PH_LIST_VN ? "virtual-network"
                                                                     : "virtual-machine-interface");
        if (!inner)
            inner = e;
        if (!json_is_string(json_object_get(inner, "uuid")) ||
            !json_is_array(json_object_get(inner, "fq_name")))
            fail(c, "list entry %zu lacks uuid or fq_name", i);
    }
    c->b->list_count = (long)json_array_size(arr);
    op_done(c);
}

static void api_port_reply(struct conn *c, int status, json_t *body, const char *raw,
                           size_t len)
{
    if (status != 200)
        api_fail_status(c, status, raw, len);
    char buf[1024];
    if (c->step == 0) {
        const char *u = api_obj_uuid(body, "virtual-machine-interface");
        if (!looks_like_uuid(u))
            fail(c, "reply has no virtual-machine-interface uuid: %.400s", raw);
        set_uuid(c->vmi_uuid, u);
        c->step = 1;
        snprintf(buf, sizeof buf,
                 "{\"instance-ip\": {\"fq_name\": [\"bench-iip-%ld\"], "
                 "\"virtual_network_refs\": [{\"to\": [\"default-domain\", \"default-project\", "
                 "\"bench-port-vn\"], \"uuid\": \"%s\"}], "
                 "\"virtual_machine_interface_refs\": [{\"to\": [\"default-domain\", "
                 "\"default-project\", \"bench-vmi-%ld\"], \"uuid\": \"%s\"}]}}",
                 c->op, c->b->port_parent_uuid, c->op, c->vmi_uuid);
        api_request(c, EVHTTP_REQ_POST, "/instance-ips", buf, api_port_reply);
        return;
    }
    const char *u = api_obj_uuid(body, "instance-ip");
    if (!looks_like_uuid(u))
        fail(c, "reply has no instance-ip uuid: %.400s", raw);
    op_done(c);
}

static void api_start_op(struct conn *c)
{
    struct bench *b = c->b;
    char buf[1024], uri[128];
    long i = c->op;
    c->step = 0;
    switch (b->phase) {
    case PH_CREATE_VN:
        snprintf(buf, sizeof buf,
                 "{\"virtual-network\": {\"parent_type\": \"project\", \"fq_name\": "
                 "[\"default-domain\", \"default-project\", \"bench-vn-%ld\"]}}", i);
        api_request(c, EVHTTP_REQ_POST, "/virtual-networks", buf, api_create_vn_reply);
        break;
    case PH_READ_VN:
        snprintf(uri, sizeof uri, "/virtual-network/%s", b->vn_uuids[i % b->n_vn_uuids]);
        api_request(c, EVHTTP_REQ_GET, uri, NULL, api_read_vn_reply);
        break;
    case PH_UPDATE_VN:
        snprintf(uri, sizeof uri, "/virtual-network/%s", b->vn_uuids[i % b->n_vn_uuids]);
        snprintf(buf, sizeof buf, "{\"virtual-network\": {\"display_name\": \"x%ld\"}}", i);
        api_request(c, EVHTTP_REQ_PUT, uri, buf, api_update_vn_reply);
        break;
    case PH_LIST_VN:
        api_request(c, EVHTTP_REQ_GET, "/virtual-networks?detail=True", NULL, api_list_reply);
        break;
    case PH_LIST_PORT:
        api_request(c, EVHTTP_REQ_GET, "/virtual-machine-interfaces?detail=True", NULL,
                    api_list_reply);
        break;
    case PH_CREATE_PORT:
        snprintf(buf, sizeof buf,
                 "{\"virtual-machine-interface\": {\"parent_type\": \"project\", \"fq_name\": "
                 "[\"default-domain\", \"default-project\", \"bench-vmi-%ld\"], "
                 "\"virtual_network_refs\": [{\"to\": [\"default-domain\", \"default-project\", "
                 "\"bench-port-vn\"], \"uuid\": \"%s\"}]}}",
                 i, b->port_parent_uuid);
        api_request(c, EVHTTP_REQ_POST, "/virtual-machine-interfaces", buf, api_port_reply);
        break;
    default:
        abort();
    }
}

/* Setup (untimed): the network the ports attach to, with a subnet large enough for them. */
static void api_setup_reply(struct conn *c, int status, json_t *body, const char *raw,
                            size_t len)
{
    if (status != 200)
        api_fail_status(c, status, raw, len);
    const char *u = api_obj_uuid(body, "virtual-network");
    if (!looks_like_uuid(u))
        fail(c, "reply has no virtual-network uuid: %.400s", raw);
    set_uuid(c->b->port_parent_uuid, u);
    event_base_loopbreak(c->b->base);
}

static void api_setup_ports(struct bench *b)
{
    api_request(&b->conns[0], EVHTTP_REQ_POST, "/virtual-networks",
                "{\"virtual-network\": {\"parent_type\": \"project\", \"fq_name\": "
                "[\"default-domain\", \"default-project\", \"bench-port-vn\"], "
                "\"network_ipam_refs\": [{\"to\": [\"default-domain\", \"default-project\", "
                "\"default-network-ipam\"], \"attr\": {\"ipam_subnets\": [{\"subnet\": "
                "{\"ip_prefix\": \"10.0.0.0\", \"ip_prefix_len\": 12}}]}}]}}",
                api_setup_reply);
    event_base_dispatch(b->base);
}

/* Setup when read/update run without create-vn in the same process (untimed): the uuids of
 * the bench-vn-* networks, from a plain list. */
static void api_collect_reply(struct conn *c, int status, json_t *body, const char *raw,
                              size_t len)
{
    struct bench *b = c->b;
    if (status != 200)
        api_fail_status(c, status, raw, len);
    json_t *arr = json_object_get(body, "virtual-networks");
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        json_t *fq = json_object_get(e, "fq_name");
        const char *name = json_string_value(json_array_get(fq, json_array_size(fq) - 1));
        const char *u = json_string_value(json_object_get(e, "uuid"));
        long idx;
        char extra;
        if (name && u && sscanf(name, "bench-vn-%ld%c", &idx, &extra) == 1 && idx >= 0 &&
            idx < b->n) {
            set_uuid(b->vn_uuids[idx], u);
            b->n_vn_uuids++;
        }
    }
    event_base_loopbreak(b->base);
}

/* ------------------------------------------------------------------------------------------ */
/* ovsdb side: RFC 7047 JSON-RPC over a stream socket. */

static void ovsdb_send(struct conn *c, const char *params_fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends {"method":"transact","params":PARAMS,"id":N}. */
static void ovsdb_send(struct conn *c, const char *params_fmt, ...)
{
    char params[2048];
    va_list args;
    va_start(args, params_fmt);
    int n = vsnprintf(params, sizeof params, params_fmt, args);
    va_end(args);
    if (n < 0 || (size_t)n >= sizeof params)
        fail(c, "request too long");
    c->wait_id = c->next_id++;
    snprintf(c->last_req, sizeof c->last_req, "transact %s", params);
    c->busy = true;
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "{\"method\":\"transact\",\"params\":%s,\"id\":%ld}", params, c->wait_id);
}

static const char *ovsdb_commit(const struct bench *b)
{
    return b->durable ? ",{\"op\":\"commit\",\"durable\":true}" : "";
}

/* Checks a transact reply: no error, one result per operation, none an error.  Returns the
 * result array. */
static json_t *ovsdb_check(struct conn *c, json_t *msg, size_t nops)
{
    json_t *err = json_object_get(msg, "error");
    if (err && !json_is_null(err)) {
        char *s = json_dumps(err, JSON_COMPACT);
        fail(c, "JSON-RPC error: %s", s);
    }
    json_t *res = json_object_get(msg, "result");
    if (!json_is_array(res))
        fail(c, "reply has no result array");
    size_t i;
    json_t *r;
    json_array_foreach(res, i, r) {
        if (!json_is_object(r) || json_object_get(r, "error")) {
            char *s = json_dumps(res, JSON_COMPACT);
            fail(c, "transaction failed: %.2000s", s);
        }
    }
    if (json_array_size(res) != nops) {
        char *s = json_dumps(res, JSON_COMPACT);
        fail(c, "expected %zu results: %.2000s", nops, s);
    }
    return res;
}

static size_t ovsdb_nops(const struct bench *b, size_t n)
{
    return n + (b->durable ? 1 : 0);
}

static const char *ovsdb_insert_uuid(json_t *res, size_t i)
{
    json_t *u = json_object_get(json_array_get(res, i), "uuid");
    if (!json_is_array(u) || strcmp(json_string_value(json_array_get(u, 0)) ?: "", "uuid"))
        return NULL;
    return json_string_value(json_array_get(u, 1));
}

static long ovsdb_count(json_t *res, size_t i)
{
    json_t *n = json_object_get(json_array_get(res, i), "count");
    return json_is_integer(n) ? (long)json_integer_value(n) : -1;
}

static void ovsdb_create_vn_reply(struct conn *c, json_t *msg, size_t bytes)
{
    (void)bytes;
    json_t *res = ovsdb_check(c, msg, ovsdb_nops(c->b, 1));
    const char *u = ovsdb_insert_uuid(res, 0);
    if (!looks_like_uuid(u))
        fail(c, "insert returned no uuid");
    set_uuid(c->b->vn_uuids[c->op], u);
    op_done(c);
}

static void ovsdb_read_vn_reply(struct conn *c, json_t *msg, size_t bytes)
{
    (void)bytes;
    json_t *res = ovsdb_check(c, msg, 1);
    json_t *rows = json_object_get(json_array_get(res, 0), "rows");
    if (json_array_size(rows) != 1)
        fail(c, "select by _uuid returned %zu rows", json_array_size(rows));
    json_t *name = json_object_get(json_array_get(rows, 0), "name");
    if (!json_is_string(name) || strncmp(json_string_value(name), "bench-ls-", 9))
        fail(c, "select by _uuid returned a row with an unexpected name");
    op_done(c);
}

static void ovsdb_update_vn_reply(struct conn *c, json_t *msg, size_t bytes)
{
    (void)bytes;
    json_t *res = ovsdb_check(c, msg, ovsdb_nops(c->b, 1));
    if (ovsdb_count(res, 0) != 1)
        fail(c, "update touched %ld rows", ovsdb_count(res, 0));
    op_done(c);
}

static void ovsdb_list_reply(struct conn *c, json_t *msg, size_t bytes)
{
    (void)bytes;
    json_t *res = ovsdb_check(c, msg, 1);
    json_t *rows = json_object_get(json_array_get(res, 0), "rows");
    if (!json_is_array(rows))
        fail(c, "select returned no rows array");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        if (!json_is_array(json_object_get(r, "_uuid")) ||
            !json_is_string(json_object_get(r, "name")))
            fail(c, "row %zu lacks _uuid or name", i);
    }
    c->b->list_count = (long)json_array_size(rows);
    op_done(c);
}

static void ovsdb_port_reply(struct conn *c, json_t *msg, size_t bytes)
{
    (void)bytes;
    json_t *res = ovsdb_check(c, msg, ovsdb_nops(c->b, 2));
    if (!looks_like_uuid(ovsdb_insert_uuid(res, 0)))
        fail(c, "insert returned no uuid");
    if (ovsdb_count(res, 1) != 1)
        fail(c, "mutate of the switch's ports touched %ld rows", ovsdb_count(res, 1));
    op_done(c);
}

static void ovsdb_start_op(struct conn *c)
{
    struct bench *b = c->b;
    long i = c->op;
    char addr[64];
    switch (b->phase) {
    case PH_CREATE_VN:
        c->on_reply = ovsdb_create_vn_reply;
        ovsdb_send(c, "[\"%s\",{\"op\":\"insert\",\"table\":\"Logical_Switch\","
                   "\"row\":{\"name\":\"bench-ls-%ld\"}}%s]", b->db, i, ovsdb_commit(b));
        break;
    case PH_READ_VN:
        c->on_reply = ovsdb_read_vn_reply;
        ovsdb_send(c, "[\"%s\",{\"op\":\"select\",\"table\":\"Logical_Switch\","
                   "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"%s\"]]]}]",
                   b->db, b->vn_uuids[i % b->n_vn_uuids]);
        break;
    case PH_UPDATE_VN:
        c->on_reply = ovsdb_update_vn_reply;
        ovsdb_send(c, "[\"%s\",{\"op\":\"update\",\"table\":\"Logical_Switch\","
                   "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"%s\"]]],"
                   "\"row\":{\"external_ids\":[\"map\",[[\"display_name\",\"x%ld\"]]]}}%s]",
                   b->db, b->vn_uuids[i % b->n_vn_uuids], i, ovsdb_commit(b));
        break;
    case PH_LIST_VN:
    case PH_LIST_PORT:
        c->on_reply = ovsdb_list_reply;
        ovsdb_send(c, "[\"%s\",{\"op\":\"select\",\"table\":\"%s\",\"where\":[]}]", b->db,
                   b->phase == PH_LIST_VN ? "Logical_Switch" : "Logical_Switch_Port");
        break;
    case PH_CREATE_PORT:
        c->on_reply = ovsdb_port_reply;
        port_address(i, addr, sizeof addr);
        ovsdb_send(c, "[\"%s\",{\"op\":\"insert\",\"table\":\"Logical_Switch_Port\","
                   "\"row\":{\"name\":\"bench-lsp-%ld\",\"addresses\":[\"set\",[\"%s\"]]},"
                   "\"uuid-name\":\"p\"},"
                   "{\"op\":\"mutate\",\"table\":\"Logical_Switch\","
                   "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"%s\"]]],"
                   "\"mutations\":[[\"ports\",\"insert\",[\"set\",[[\"named-uuid\",\"p\"]]]]]}%s]",
                   b->db, i, addr, b->port_parent_uuid, ovsdb_commit(b));
        break;
    default:
        abort();
    }
}

/* One complete JSON-RPC message MSG (BYTES long) arrived on C. */
static void ovsdb_message(struct conn *c, json_t *msg, size_t bytes, double t1)
{
    json_t *method = json_object_get(msg, "method");
    if (json_is_string(method)) {
        if (!strcmp(json_string_value(method), "echo")) {
            /* Inactivity probe: answer it. */
            json_t *reply = json_pack("{s:O,s:O,s:n}", "id", json_object_get(msg, "id"),
                                      "result", json_object_get(msg, "params"), "error");
            char *s = json_dumps(reply, JSON_COMPACT);
            bufferevent_write(c->bev, s, strlen(s));
            free(s);
            json_decref(reply);
        }
        return;
    }
    json_t *id = json_object_get(msg, "id");
    if (!c->busy || !json_is_integer(id) || json_integer_value(id) != c->wait_id)
        fail(c, "unexpected reply id");
    c->busy = false;
    c->wait_id = -1;
    if (c->b->phase == PH_LIST_VN || c->b->phase == PH_LIST_PORT) {
        c->b->list_secs = t1 - c->b->list_secs;  /* list_secs held t0. */
        c->b->list_bytes = bytes;
    }
    c->on_reply(c, msg, bytes);
}

static void ovsdb_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t avail = evbuffer_get_length(in);
    if (c->rlen + avail + 1 > c->rcap) {
        while (c->rlen + avail + 1 > c->rcap)
            c->rcap = c->rcap ? c->rcap * 2 : 65536;
        c->rbuf = realloc(c->rbuf, c->rcap);
        if (!c->rbuf)
            fail(c, "out of memory");
    }
    evbuffer_remove(in, c->rbuf + c->rlen, avail);
    c->rlen += avail;

    /* Split complete top-level JSON values: scan only what was not scanned yet. */
    size_t start = 0;
    for (size_t i = c->scan; i < c->rlen; i++) {
        char ch = c->rbuf[i];
        if (c->in_str) {
            if (c->esc)
                c->esc = false;
            else if (ch == '\\')
                c->esc = true;
            else if (ch == '"')
                c->in_str = false;
            continue;
        }
        if (ch == '"') {
            c->in_str = true;
        } else if (ch == '{' || ch == '[') {
            c->depth++;
        } else if (ch == '}' || ch == ']') {
            if (--c->depth == 0) {
                double t1 = now_secs();
                json_error_t jerr;
                size_t len = i + 1 - start;
                json_t *msg = json_loadb(c->rbuf + start, len, 0, &jerr);
                if (!msg)
                    fail(c, "bad JSON from ovsdb-server: %s", jerr.text);
                ovsdb_message(c, msg, len, t1);
                json_decref(msg);
                start = i + 1;
            }
        } else if (c->depth == 0 && ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
            fail(c, "unexpected byte 0x%02x between messages", (unsigned char)ch);
        }
    }
    if (start) {
        memmove(c->rbuf, c->rbuf + start, c->rlen - start);
        c->rlen -= start;
    }
    c->scan = c->rlen;
}

static void ovsdb_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    fail(c, "connection to ovsdb-server %s%s", (what & BEV_EVENT_EOF) ? "closed" : "failed",
         (what & BEV_EVENT_ERROR) ? strerror(EVUTIL_SOCKET_ERROR()) : "");
}

static void ovsdb_connect(struct conn *c)
{
    struct bench *b = c->b;
    c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, ovsdb_read_cb, NULL, ovsdb_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->wait_id = -1;
    int rc;
    if (b->unix_path[0]) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, b->unix_path, sizeof sun.sun_path - 1);
        rc = bufferevent_socket_connect(c->bev, (struct sockaddr *)&sun, sizeof sun);
    } else {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(b->port);
        if (inet_pton(AF_INET, b->host, &sin.sin_addr) != 1) {
            fprintf(stderr, "bench_api: %s: not an IPv4 address\n", b->host);
            exit(1);
        }
        rc = bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin);
        if (rc == 0) {
            int one = 1;
            setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }
    if (rc != 0)
        fail(c, "connect failed");
}

/* Setup (untimed): the switch the ports attach to. */
static void ovsdb_setup_reply(struct conn *c, json_t *msg, size_t bytes)
{
    (void)bytes;
    json_t *res = ovsdb_check(c, msg, ovsdb_nops(c->b, 1));
    const char *u = ovsdb_insert_uuid(res, 0);
    if (!looks_like_uuid(u))
        fail(c, "insert returned no uuid");
    set_uuid(c->b->port_parent_uuid, u);
    event_base_loopbreak(c->b->base);
}

static void ovsdb_setup_ports(struct bench *b)
{
    struct conn *c = &b->conns[0];
    c->on_reply = ovsdb_setup_reply;
    ovsdb_send(c, "[\"%s\",{\"op\":\"insert\",\"table\":\"Logical_Switch\","
               "\"row\":{\"name\":\"bench-port-ls\"}}%s]", b->db, ovsdb_commit(b));
    event_base_dispatch(b->base);
}

static void ovsdb_collect_reply(struct conn *c, json_t *msg, size_t bytes)
{
    struct bench *b = c->b;
    (void)bytes;
    json_t *res = ovsdb_check(c, msg, 1);
    json_t *rows = json_object_get(json_array_get(res, 0), "rows");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *u = json_string_value(json_array_get(json_object_get(r, "_uuid"), 1));
        long idx;
        char extra;
        if (name && u && sscanf(name, "bench-ls-%ld%c", &idx, &extra) == 1 && idx >= 0 &&
            idx < b->n) {
            set_uuid(b->vn_uuids[idx], u);
            b->n_vn_uuids++;
        }
    }
    event_base_loopbreak(b->base);
}

/* ------------------------------------------------------------------------------------------ */
/* Phase driver. */

static void start_op(struct conn *c)
{
    c->op = c->b->next++;
    if (c->b->kind == TARGET_API)
        api_start_op(c);
    else
        ovsdb_start_op(c);
}

static void op_done(struct conn *c)
{
    struct bench *b = c->b;
    b->done++;
    if (b->next < b->total)
        start_op(c);
    else if (b->done == b->total)
        event_base_loopbreak(b->base);
}

static void collect_vn_uuids(struct bench *b)
{
    b->n_vn_uuids = 0;
    if (b->kind == TARGET_API) {
        api_request(&b->conns[0], EVHTTP_REQ_GET, "/virtual-networks", NULL,
                    api_collect_reply);
    } else {
        b->conns[0].on_reply = ovsdb_collect_reply;
        ovsdb_send(&b->conns[0], "[\"%s\",{\"op\":\"select\",\"table\":\"Logical_Switch\","
                   "\"where\":[],\"columns\":[\"_uuid\",\"name\"]}]", b->db);
    }
    event_base_dispatch(b->base);
    if (b->n_vn_uuids < b->n) {
        fprintf(stderr, "bench_api: found %ld bench networks, need %ld (run create-vn first)\n",
                b->n_vn_uuids, b->n);
        exit(1);
    }
}

static void print_result(struct bench *b, long ops, long requests, double secs, size_t bytes,
                         long count)
{
    const char *tname = b->kind == TARGET_API ? "api" : b->durable ? "ovsdb" : "ovsdb-nd";
    if (b->phase == PH_LIST_VN || b->phase == PH_LIST_PORT) {
        printf("%-9s %-12s n=%-7ld conns=%d  rows=%ld  %.4f s  %zu bytes\n", tname,
               phase_names[b->phase], b->n, b->nconns, count, secs, bytes);
    } else {
        printf("%-9s %-12s n=%-7ld conns=%d  %ld ops (%ld requests)  %.3f s  %.0f ops/s\n",
               tname, phase_names[b->phase], b->n, b->nconns, ops, requests, secs, ops / secs);
    }
    printf("RESULT label=%s target=%s phase=%s n=%ld conns=%d ops=%ld requests=%ld secs=%.6f "
           "ops_per_s=%.1f bytes=%zu rows=%ld http_reconnects=%ld\n",
           b->label, tname, phase_names[b->phase], b->n, b->nconns, ops, requests, secs,
           secs > 0 ? ops / secs : 0.0, bytes, count, b->http_closes);
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run_phase(struct bench *b, enum phase ph)
{
    b->phase = ph;
    if ((ph == PH_READ_VN || ph == PH_UPDATE_VN) && b->n_vn_uuids < b->n)
        collect_vn_uuids(b);
    if (ph == PH_CREATE_PORT) {
        if (b->kind == TARGET_API)
            api_setup_ports(b);
        else
            ovsdb_setup_ports(b);
    }

    if (ph == PH_LIST_VN || ph == PH_LIST_PORT) {
        /* One request on one connection, LIST_REPS times; the median is reported. */
        double secs[64];
        int reps = b->list_reps;
        for (int r = 0; r < reps; r++) {
            b->next = 0;
            b->done = 0;
            b->total = 1;
            b->list_secs = now_secs();  /* ovsdb: t0; API: overwritten by the reply. */
            start_op(&b->conns[0]);
            event_base_dispatch(b->base);
            secs[r] = b->list_secs;
        }
        qsort(secs, reps, sizeof secs[0], cmp_double);
        print_result(b, 1, 1, secs[reps / 2], b->list_bytes, b->list_count);
        return;
    }

    b->next = 0;
    b->done = 0;
    b->total = b->n;
    double t0 = now_secs();
    for (int k = 0; k < b->nconns && b->next < b->total; k++)
        start_op(&b->conns[k]);
    event_base_dispatch(b->base);
    double secs = now_secs() - t0;
    if (b->done != b->total) {
        fprintf(stderr, "bench_api: phase %s ended after %ld of %ld ops\n", phase_names[ph],
                b->done, b->total);
        exit(2);
    }
    if (ph == PH_CREATE_VN)
        b->n_vn_uuids = b->n;
    long requests = b->n * (ph == PH_CREATE_PORT && b->kind == TARGET_API ? 2 : 1);
    print_result(b, b->n, requests, secs, 0, 0);
}

static void usage(void)
{
    printf("usage: bench_api --target URL [options]\n"
           "  -t, --target URL     http://127.0.0.1:PORT (contrail-api), tcp:127.0.0.1:PORT or\n"
           "                       unix:PATH (ovsdb-server)\n"
           "  -p, --phases LIST    comma-separated, in order (default: all):\n"
           "                       create-vn,read-vn,update-vn,list-vn,create-port,list-port\n"
           "  -n, --count N        objects per phase (default 10000)\n"
           "  -c, --conns C        concurrent connections, one request in flight each (default 1)\n"
           "  -d, --durable 0|1    ovsdb: end each write with {\"op\":\"commit\",\"durable\":true}\n"
           "                       (default 1)\n"
           "  -r, --list-reps R    list requests per list phase, median reported (default 3)\n"
           "      --db NAME        ovsdb database (default OVN_Northbound)\n"
           "  -l, --label TEXT     copied to the RESULT lines\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'},  {"phases", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'n'},   {"conns", required_argument, NULL, 'c'},
        {"durable", required_argument, NULL, 'd'}, {"list-reps", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'D'},      {"label", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct bench bench = {
        .durable = true, .db = "OVN_Northbound", .n = 10000, .nconns = 1, .list_reps = 3,
        .label = "-",
    };
    struct bench *b = &bench;
    const char *target = NULL;
    char phases_arg[256] = "create-vn,read-vn,update-vn,list-vn,create-port,list-port";
    int opt;
    while ((opt = getopt_long(argc, argv, "t:p:n:c:d:r:l:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': target = optarg; break;
        case 'p': snprintf(phases_arg, sizeof phases_arg, "%s", optarg); break;
        case 'n': b->n = atol(optarg); break;
        case 'c': b->nconns = atoi(optarg); break;
        case 'd': b->durable = atoi(optarg) != 0; break;
        case 'r': b->list_reps = atoi(optarg); break;
        case 'D': b->db = optarg; break;
        case 'l': b->label = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return 1;
        }
    }
    if (!target || b->n <= 0 || b->nconns <= 0 || b->nconns > 1024 || b->list_reps <= 0 ||
        b->list_reps > 64 || b->n > 1000000) {
        usage();
        return 1;
    }

    if (!strncmp(target, "http://", 7)) {
        b->kind = TARGET_API;
        const char *hp = target + 7;
        const char *colon = strrchr(hp, ':');
        if (!colon || colon - hp >= (long)sizeof b->host) {
            fprintf(stderr, "bench_api: %s: expected http://HOST:PORT\n", target);
            return 1;
        }
        memcpy(b->host, hp, colon - hp);
        b->host[colon - hp] = '\0';
        b->port = atoi(colon + 1);
    } else if (!strncmp(target, "tcp:", 4)) {
        b->kind = TARGET_OVSDB;
        const char *hp = target + 4;
        const char *colon = strrchr(hp, ':');
        if (!colon || colon - hp >= (long)sizeof b->host) {
            fprintf(stderr, "bench_api: %s: expected tcp:HOST:PORT\n", target);
            return 1;
        }
        memcpy(b->host, hp, colon - hp);
        b->host[colon - hp] = '\0';
        b->port = atoi(colon + 1);
    } else if (!strncmp(target, "unix:", 5)) {
        b->kind = TARGET_OVSDB;
        snprintf(b->unix_path, sizeof b->unix_path, "%s", target + 5);
    } else {
        fprintf(stderr, "bench_api: %s: unknown target\n", target);
        return 1;
    }

    enum phase phases[32];
    int nphases = 0;
    for (char *save = NULL, *tok = strtok_r(phases_arg, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int p;
        for (p = 0; p < PH_N && strcmp(tok, phase_names[p]); p++)
            continue;
        if (p == PH_N || nphases == 32) {
            fprintf(stderr, "bench_api: %s: unknown phase\n", tok);
            return 1;
        }
        phases[nphases++] = (enum phase)p;
    }

    b->base = event_base_new();
    b->vn_uuids = calloc(b->n, sizeof *b->vn_uuids);
    b->conns = calloc(b->nconns, sizeof *b->conns);
    for (int k = 0; k < b->nconns; k++) {
        struct conn *c = &b->conns[k];
        c->b = b;
        c->id = k;
        if (b->kind == TARGET_API) {
            c->evcon = evhttp_connection_base_new(b->base, NULL, b->host, b->port);
            evhttp_connection_set_timeout(c->evcon, 600);
            evhttp_connection_set_retries(c->evcon, 0);
            evhttp_connection_set_closecb(c->evcon, api_close_cb, b);
        } else {
            ovsdb_connect(c);
        }
    }

    for (int k = 0; k < nphases; k++)
        run_phase(b, phases[k]);

    for (int k = 0; k < b->nconns; k++) {
        if (b->conns[k].evcon)
            evhttp_connection_free(b->conns[k].evcon);
        if (b->conns[k].bev)
            bufferevent_free(b->conns[k].bev);
        free(b->conns[k].rbuf);
    }
    free(b->conns);
    free(b->vn_uuids);
    event_base_free(b->base);
    return 0;
}
