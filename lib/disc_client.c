/* disc_client: publish/heartbeat and subscribe against contrail-discovery (see
 * disc_client.h). */
#include "disc_client.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "json_util.h"
#include "log.h"
#include "mem.h"

/* Seconds between subscribes while the answer is empty. */
#define EMPTY_REFRESH_S 2.0

LOG_MODULE(disc_client);

static MEM_TYPE(mem_type_dc, "disc_client");

#define DEFAULT_PORT 5998
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 8.0

struct disc_server_ref {
    char *host;
    int port;
    struct http_client *http;
};

struct disc_client {
    struct event_base *base;
    struct disc_server_ref *servers;
    size_t n_servers;
    size_t current;             /* Server in use. */
    char *client_id;
    char *client_type;
    double heartbeat;
    double max_refresh;
    bool connected;
    bool destroying;            /* Requests in flight are being cancelled. */
    struct disc_pub *pubs;
    struct disc_sub *subs;
};

struct disc_pub {
    struct disc_client *dc;
    char *type;
    json_t *info;
    char *cookie;               /* From the last successful publish. */
    size_t server;              /* Server of the request in flight. */
    bool up;
    bool busy;                  /* A request is in flight. */
    double backoff;
    struct event *timer;
    struct disc_pub *next;
};

struct disc_sub {
    struct disc_client *dc;
    char *type;
    int instances;
    disc_sub_fn *cb;
    void *aux;
    json_t *answer;
    size_t server;              /* Server of the request in flight. */
    bool busy;
    double backoff;
    struct event *timer;
    struct disc_sub *next;
};

static void
arm(struct event *ev, double seconds)
{
    struct timeval tv = { (time_t) seconds, (suseconds_t) ((seconds - floor(seconds)) * 1e6) };
    evtimer_add(ev, &tv);
}

static struct http_client *
current_http(struct disc_client *dc)
{
    return dc->servers[dc->current].http;
}

/* A request to server IDX failed for lack of an answer: the next ones go to the next server
 * (unless another failed request already moved on from IDX). */
static void
server_failed(struct disc_client *dc, size_t idx)
{
    dc->connected = false;
    if (dc->current == idx) {
        dc->current = (dc->current + 1) % dc->n_servers;
    }
}

static double
next_backoff(double *b)
{
    *b = *b ? fmin(*b * 2, BACKOFF_MAX) : BACKOFF_MIN;
    return *b;
}

/* Publishing. */

static void pub_send(struct disc_pub *);

static void
pub_published(void *aux, int status, const char *body, size_t len)
{
    struct disc_pub *p = aux;
    struct disc_client *dc = p->dc;
    p->busy = false;
    if (dc->destroying) {
        return;
    }
    json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *cookie = json_string_value(json_object_get(j, "cookie"));
    if (cookie) {
        xfree(p->cookie);
        p->cookie = xstrdup(cookie);
        p->up = true;
        p->backoff = 0;
        dc->connected = true;
        arm(p->timer, dc->heartbeat);
    } else {
        if (!status) {
            server_failed(dc, p->server);
        }
        p->up = false;
        LOG_INFO("publish of %s failed (%d): %.*s", p->type, status, (int) len, body);
        arm(p->timer, next_backoff(&p->backoff));
    }
    json_decref(j);
}

static void
pub_heartbeat_done(void *aux, int status, const char *body, size_t len)
{
    struct disc_pub *p = aux;
    struct disc_client *dc = p->dc;
    p->busy = false;
    if (dc->destroying) {
        return;
    }
    if (status == 200) {
        dc->connected = true;
        p->up = true;
        p->backoff = 0;
        arm(p->timer, dc->heartbeat);
        return;
    }
    if (status == 404) {
        /* The server forgot us (expired, or another server's store lost it): publish again. */
        xfree(p->cookie);
        p->cookie = NULL;
        pub_send(p);
        return;
    }
    if (!status) {
        server_failed(dc, p->server);
    }
    p->up = false;
    LOG_INFO("heartbeat of %s failed (%d): %.*s", p->type, status, (int) len, body);
    xfree(p->cookie);
    p->cookie = NULL;
    arm(p->timer, next_backoff(&p->backoff));
}

static void
pub_send(struct disc_pub *p)
{
    struct disc_client *dc = p->dc;
    if (p->busy) {
        return;
    }
    p->busy = true;
    p->server = dc->current;
    int error;
    if (p->cookie) {
        json_t *body = xjson_pack("{ss}", "cookie", p->cookie);
        error = http_client_request_json(current_http(dc), "POST", "/heartbeat", body,
                                         pub_heartbeat_done, p);
        json_decref(body);
    } else {
        json_t *body = xjson_pack("{sOssss}", p->type, p->info, "service-type", p->type,
                                  "remote-addr", json_string_value(json_object_get(
                                      p->info, "ip-address")) ?: "");
        json_object_set_new(body, "oper-state", json_string("up"));
        error = http_client_request_json(current_http(dc), "POST", "/publish", body,
                                         pub_published, p);
        json_decref(body);
    }
    if (error) {
        p->busy = false;
        server_failed(dc, p->server);
        arm(p->timer, next_backoff(&p->backoff));
    }
}

static void
pub_timer(evutil_socket_t fd, short what, void *aux)
{
    pub_send(aux);
}

/* Subscribing. */

static void sub_send(struct disc_sub *);

static void
sub_done(void *aux, int status, const char *body, size_t len)
{
    struct disc_sub *s = aux;
    struct disc_client *dc = s->dc;
    s->busy = false;
    if (dc->destroying) {
        return;
    }
    json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *list = json_object_get(j, s->type);
    json_t *ttl = json_object_get(j, "ttl");
    if (!json_is_array(list) || !json_is_integer(ttl)) {
        if (!status) {
            server_failed(dc, s->server);
        }
        LOG_INFO("subscribe to %s failed (%d): %.*s", s->type, status, (int) len, body);
        arm(s->timer, next_backoff(&s->backoff));
        json_decref(j);
        return;
    }
    dc->connected = true;
    s->backoff = 0;
    double refresh = (double) json_integer_value(ttl);
    if (dc->max_refresh > 0 && refresh > dc->max_refresh) {
        refresh = dc->max_refresh;
    }
    if (!json_array_size(list) && refresh > EMPTY_REFRESH_S) {
        /* Nothing to use yet (a daemon starting before its peers): ask again soon. */
        refresh = EMPTY_REFRESH_S;
    }
    arm(s->timer, refresh > 0 ? refresh : 1);
    if (!json_equal(list, s->answer)) {
        json_decref(s->answer);
        s->answer = json_incref(list);
        s->cb(s->aux, s->answer);
    }
    json_decref(j);
}

static void
sub_send(struct disc_sub *s)
{
    struct disc_client *dc = s->dc;
    if (s->busy) {
        return;
    }
    s->busy = true;
    s->server = dc->current;
    json_t *body = xjson_pack("{sssissss}", "service", s->type, "instances", s->instances,
                              "client", dc->client_id, "client-type", dc->client_type);
    int error = http_client_request_json(current_http(dc), "POST", "/subscribe", body,
                                         sub_done, s);
    json_decref(body);
    if (error) {
        s->busy = false;
        server_failed(dc, s->server);
        arm(s->timer, next_backoff(&s->backoff));
    }
}

static void
sub_timer(evutil_socket_t fd, short what, void *aux)
{
    sub_send(aux);
}

/* The client. */

struct disc_client *
disc_client_create(struct event_base *base, const char *servers, const char *client_id,
                   const char *client_type)
{
    struct disc_client *dc = mem_zalloc(&mem_type_dc, sizeof *dc);
    dc->base = base;
    dc->client_id = mem_strdup(&mem_type_dc, client_id);
    dc->client_type = mem_strdup(&mem_type_dc, client_type);
    dc->heartbeat = 5;
    const char *s = servers ? servers : "";
    while (*s) {
        size_t len = strcspn(s, ", ");
        if (len && len < 256) {
            char entry[256];
            snprintf(entry, sizeof entry, "%.*s", (int) len, s);
            char *colon = strrchr(entry, ':');
            int port = DEFAULT_PORT;
            if (colon) {
                *colon = '\0';
                port = atoi(colon + 1);
            }
            if (*entry && port > 0 && port < 65536) {
                dc->servers = mem_realloc(&mem_type_dc, dc->servers,
                                          (dc->n_servers + 1) * sizeof *dc->servers);
                struct disc_server_ref *r = &dc->servers[dc->n_servers++];
                r->host = mem_strdup(&mem_type_dc, entry);
                r->port = port;
                r->http = http_client_create(base, entry, port, 5);
            }
        }
        s += len;
        s += strspn(s, ", ");
    }
    if (!dc->n_servers) {
        disc_client_destroy(dc);
        return NULL;
    }
    return dc;
}

void
disc_client_set_heartbeat(struct disc_client *dc, double seconds)
{
    dc->heartbeat = seconds > 0 ? seconds : 5;
}

void
disc_client_set_max_refresh(struct disc_client *dc, double seconds)
{
    dc->max_refresh = seconds;
}

void
disc_client_destroy(struct disc_client *dc)
{
    if (!dc) {
        return;
    }
    /* Destroying the HTTP clients answers requests in flight (status 0) first: the
     * callbacks must then do nothing. */
    dc->destroying = true;
    for (struct disc_pub *p = dc->pubs; p; p = p->next) {
        event_free(p->timer);
        p->timer = NULL;
    }
    for (struct disc_sub *s = dc->subs; s; s = s->next) {
        event_free(s->timer);
        s->timer = NULL;
    }
    for (size_t i = 0; i < dc->n_servers; i++) {
        struct http_client *h = dc->servers[i].http;
        dc->servers[i].http = NULL;
        http_client_destroy(h);
        mem_free(&mem_type_dc, dc->servers[i].host);
    }
    for (struct disc_pub *p = dc->pubs, *next; p; p = next) {
        next = p->next;
        xfree(p->type);
        xfree(p->cookie);
        json_decref(p->info);
        mem_free(&mem_type_dc, p);
    }
    for (struct disc_sub *s = dc->subs, *next; s; s = next) {
        next = s->next;
        xfree(s->type);
        json_decref(s->answer);
        mem_free(&mem_type_dc, s);
    }
    mem_free(&mem_type_dc, dc->servers);
    mem_free(&mem_type_dc, dc->client_id);
    mem_free(&mem_type_dc, dc->client_type);
    mem_free(&mem_type_dc, dc);
}

struct disc_pub *
disc_client_publish(struct disc_client *dc, const char *service_type, const json_t *info)
{
    struct disc_pub *p = mem_zalloc(&mem_type_dc, sizeof *p);
    p->dc = dc;
    p->type = xstrdup(service_type);
    p->info = json_deep_copy(info);
    p->timer = evtimer_new(dc->base, pub_timer, p);
    p->next = dc->pubs;
    dc->pubs = p;
    arm(p->timer, 0);
    return p;
}

bool
disc_pub_is_up(const struct disc_pub *p)
{
    return p->up;
}

struct disc_sub *
disc_client_subscribe(struct disc_client *dc, const char *service_type, int instances,
                      disc_sub_fn *cb, void *aux)
{
    struct disc_sub *s = mem_zalloc(&mem_type_dc, sizeof *s);
    s->dc = dc;
    s->type = xstrdup(service_type);
    s->instances = instances;
    s->cb = cb;
    s->aux = aux;
    s->answer = json_array();
    s->timer = evtimer_new(dc->base, sub_timer, s);
    s->next = dc->subs;
    dc->subs = s;
    arm(s->timer, 0);
    return s;
}

const json_t *
disc_sub_instances(const struct disc_sub *s)
{
    return s->answer;
}

bool
disc_client_connected(const struct disc_client *dc)
{
    return dc->connected;
}

