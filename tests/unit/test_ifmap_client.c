/* lib/ifmap_client against the real IF-MAP server (config/ifmap) in the same event loop,
 * over HTTPS with a self-signed certificate: single operations, a managed subscriber that
 * receives the initial searchResult, updates and deletes, errors, and the managed client's
 * new session (and resubscription) after the server restarts. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ifmap_client.h"
#include "ifmap_server.h"
#include "mem.h"

static struct event_base *base;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until *FLAG reaches TARGET or SECONDS pass. */
static void
run_until(const int *flag, int target, double seconds)
{
    double deadline = now() + seconds;
    while (*flag < target && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (*flag < target) {
            usleep(500);
        }
    }
}

struct answer {
    int called;
    int error;
    char code[64];
    char result[64];
    int n_items;
    char first_ident[128];
};

static void
on_reply(void *aux, const struct ifmap_client_reply *rep)
{
    struct answer *a = aux;
    a->called++;
    a->error = rep->error;
    snprintf(a->code, sizeof a->code, "%s", rep->error_code ? rep->error_code : "");
    snprintf(a->result, sizeof a->result, "%s",
             rep->result ? (const char *) rep->result->name : "");
    a->n_items = (int) rep->n_items;
    snprintf(a->first_ident, sizeof a->first_ident, "%s",
             rep->n_items && rep->items[0].ident[0] ? rep->items[0].ident[0] : "");
}

/* The managed subscriber's view. */
struct subscriber {
    struct ifmap_client *client;
    int sessions;
    int items;
    int searches, updates, deletes;
    char last_meta[512];
    char last_ident[2][128];
};

static void
sub_session(void *aux, const char *session_id)
{
    struct subscriber *s = aux;
    s->sessions++;
    ifmap_client_subscribe(s->client, "root", "contrail:config-root:root", 255, NULL, NULL,
                           NULL);
}

static void
sub_poll(void *aux, const struct ifmap_client_item *items, size_t n)
{
    struct subscriber *s = aux;
    for (size_t i = 0; i < n; i++) {
        const struct ifmap_client_item *it = &items[i];
        s->searches += it->kind == IFMAP_ITEM_SEARCH;
        s->updates += it->kind == IFMAP_ITEM_UPDATE;
        s->deletes += it->kind == IFMAP_ITEM_DELETE;
        for (int k = 0; k < 2; k++) {
            snprintf(s->last_ident[k], sizeof s->last_ident[k], "%s",
                     it->ident[k] ? it->ident[k] : "");
        }
        xmlNode *m = it->metadata ? it->metadata->children : NULL;
        while (m && m->type != XML_ELEMENT_NODE) {
            m = m->next;
        }
        if (m) {
            char *xml = ifmap_client_node_xml(m);
            snprintf(s->last_meta, sizeof s->last_meta, "%s", xml);
            xfree(xml);
        }
        s->items++;
    }
}

#define ID(NAME) "<identity name=\"contrail:" NAME "\" type=\"other\" " \
                 "other-type-definition=\"extended\"/>"

static const char graph[] =
    "<update lifetime=\"forever\">" ID("config-root:root") ID("domain:d1")
    "<metadata><contrail:config-root-domain ifmap-cardinality=\"singleValue\"/></metadata>"
    "</update>"
    "<update lifetime=\"forever\">" ID("domain:d1")
    "<metadata><contrail:id-perms ifmap-cardinality=\"singleValue\"><enable>true</enable>"
    "</contrail:id-perms></metadata></update>";

static struct ifmap_server *
server_start(int port)
{
    struct ifmap_server_config cfg;
    ifmap_server_config_defaults(&cfg);
    cfg.port = port;
    struct ifmap_server *srv = NULL;
    char err[256];
    int error = ifmap_server_open(base, &cfg, &srv, err, sizeof err);
    if (error) {
        fprintf(stderr, "ifmap_server_open: %s\n", err);
    }
    return srv;
}

int
main(void)
{
    mem_init_json();
    base = event_base_new();
    struct ifmap_server *srv = server_start(0);
    CHECK(srv != NULL);
    if (!srv) {
        return check_finish();
    }
    int port = ifmap_server_port(srv);
    char err[256];

    /* A publisher using the single operations. */
    struct ifmap_client *pub = ifmap_client_create(base, "127.0.0.1", port, "api-server",
                                                   "api-server", true, false, err,
                                                   sizeof err);
    CHECK(pub != NULL);
    struct answer a = { 0 };
    CHECK_EQ_INT(ifmap_client_publish(pub, graph, on_reply, &a), ENOTCONN);
    CHECK_EQ_INT(ifmap_client_new_session(pub, on_reply, &a), 0);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.error, 0);
    CHECK(ifmap_client_session_id(pub) != NULL);
    CHECK_STREQ(ifmap_client_publisher_id(pub), "api-server");
    memset(&a, 0, sizeof a);
    ifmap_client_publish(pub, graph, on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.error, 0);
    CHECK_STREQ(a.result, "publishReceived");

    memset(&a, 0, sizeof a);
    ifmap_client_search(pub, "contrail:domain:d1", 0, NULL, NULL, on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.error, 0);
    CHECK_EQ_INT(a.n_items, 1);
    CHECK_STREQ(a.first_ident, "contrail:domain:d1");

    /* Errors come back with their errorCode. */
    memset(&a, 0, sizeof a);
    ifmap_client_publish(pub, "<update><frob/><metadata/></update>", on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.error, EPROTO);
    CHECK_STREQ(a.code, "InvalidIdentifierType");

    /* Bad credentials. */
    struct ifmap_client *bad = ifmap_client_create(base, "127.0.0.1", port, "api-server",
                                                   "nope", true, false, err, sizeof err);
    memset(&a, 0, sizeof a);
    ifmap_client_new_session(bad, on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.error, EACCES);
    ifmap_client_destroy(bad);

    /* A managed subscriber: initial searchResult, then updates and deletes. */
    struct subscriber s = { 0 };
    s.client = ifmap_client_create(base, "127.0.0.1", port, "control-user",
                                   "control-user-passwd", true, false, err, sizeof err);
    ifmap_client_set_callbacks(s.client, sub_session, sub_poll, &s);
    ifmap_client_start(s.client);
    run_until(&s.searches, 2, 10);
    CHECK_EQ_INT(s.sessions, 1);
    CHECK_EQ_INT(s.searches, 2);

    memset(&a, 0, sizeof a);
    ifmap_client_publish(pub, "<update lifetime=\"forever\">" ID("domain:d1") ID("project:p1")
                         "<metadata><contrail:domain-project ifmap-cardinality=\"singleValue\""
                         "/></metadata></update>", on_reply, &a);
    run_until(&s.updates, 1, 10);
    CHECK_EQ_INT(s.updates, 1);
    CHECK_STREQ(s.last_ident[0], "contrail:domain:d1");
    CHECK_STREQ(s.last_ident[1], "contrail:project:p1");
    CHECK_CONTAINS(s.last_meta, "contrail:domain-project");
    CHECK_CONTAINS(s.last_meta, "xmlns:contrail=");

    ifmap_client_publish(pub, "<delete>" ID("domain:d1") ID("project:p1") "</delete>", NULL,
                         NULL);
    run_until(&s.deletes, 1, 10);
    CHECK_EQ_INT(s.deletes, 1);
    CHECK_STREQ(s.last_ident[1], "contrail:project:p1");

    /* The server restarts empty: the subscriber opens a new session and subscribes again;
     * the publisher, told InvalidSessionID, opens one and republishes. */
    ifmap_server_close(srv);
    srv = server_start(port);
    CHECK(srv != NULL);
    run_until(&s.sessions, 2, 20);
    CHECK_EQ_INT(s.sessions, 2);
    memset(&a, 0, sizeof a);
    ifmap_client_publish(pub, graph, on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK(a.error == EIO || !strcmp(a.code, "InvalidSessionID"));
    memset(&a, 0, sizeof a);
    ifmap_client_new_session(pub, on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.error, 0);
    memset(&a, 0, sizeof a);
    int before = s.updates;
    ifmap_client_publish(pub, graph, on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK_EQ_INT(a.error, 0);
    run_until(&s.updates, before + 2, 10);
    CHECK_EQ_INT(s.updates, before + 2);

    struct ifmap_client_stats st;
    ifmap_client_get_stats(s.client, &st);
    CHECK(st.sessions == 2 && st.reconnects >= 1);

    memset(&a, 0, sizeof a);
    ifmap_client_end_session(pub, on_reply, &a);
    run_until(&a.called, 1, 10);
    CHECK_STREQ(a.result, "endSessionResult");
    ifmap_client_destroy(s.client);
    ifmap_client_destroy(pub);
    ifmap_server_close(srv);
    event_base_free(base);
    xmlCleanupParser();
    return check_finish();
}
