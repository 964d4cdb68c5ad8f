/* cfg_graph_client: the IF-MAP feed of a config reader's graph (lib/cfg_graph).
 *
 * The schema transformer and contrail-control read the config graph the same way (config-
 * plane reference §5.1-5.2): find the IF-MAP server (from discovery's IfmapServer entries or
 * from the options), keep a session with it (lib/ifmap_client, managed mode), subscribe to
 * contrail:config-root:root at depth 255 on every new session and poll.  This module is that
 * piece; the user decides what to do with the items (usually cfg_graph_apply() on each).
 *
 * A new session, or a subscription the server dropped (an errorResult in a poll, e.g.
 * PollResultsTooBig), means updates were lost: the reset hook runs, the user forgets its
 * graph, and the subscription starts over with a full searchResult.  The synced hook tells
 * when that first full answer is in: at the first poll that brings updates or deletes, or
 * once no poll result has come for the settle time after the last search-only batch (the
 * initial searchResult may be cut into several polls). */
#ifndef CONTRAIL_CFG_GRAPH_CLIENT_H
#define CONTRAIL_CFG_GRAPH_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ifmap_client.h"

struct cfg_graph;
struct disc_client;
struct introspect;

struct cfg_graph_client_config {
    const char *user, *password;    /* IF-MAP basic-auth credentials. */
    bool tls;                       /* HTTPS (the server's certificate is not checked). */
    int settle_ms;                  /* <= 0: 300 ms. */
};

struct cfg_graph_client_hooks {
    /* A new session or a lost subscription: forget the graph (the full one comes again). */
    void (*reset)(void *aux);
    /* One poll's items, in order (never an IFMAP_ITEM_ERROR: that resets). */
    void (*poll)(void *aux, const struct ifmap_client_item *items, size_t n);
    /* The session's initial graph is complete (once per reset).  May be NULL. */
    void (*synced)(void *aux);
};

struct cfg_graph_client;

/* Creates a client on BASE that calls HOOKS with AUX.  It does nothing until given a server
 * (cfg_graph_client_set_server) or a discovery client (cfg_graph_client_use_discovery).
 * CFG's strings are copied. */
struct cfg_graph_client *cfg_graph_client_create(struct event_base *,
                                                 const struct cfg_graph_client_config *,
                                                 const struct cfg_graph_client_hooks *,
                                                 void *aux);
/* Stops the session (no hooks run).  NULL accepted. */
void cfg_graph_client_destroy(struct cfg_graph_client *);

/* Reads from the IF-MAP server at HOST:PORT; a different server than the current one closes
 * the session and opens a new one there (the reset hook runs when it is up). */
void cfg_graph_client_set_server(struct cfg_graph_client *, const char *host, int port);

/* Follows discovery's IfmapServer entries (the first instance) on DISC, which is borrowed
 * and must outlive the client. */
void cfg_graph_client_use_discovery(struct cfg_graph_client *, struct disc_client *);

/* The host and port of the first instance of a discovery answer ("ip-address", "port" as a
 * number or a string).  Returns false when there is none. */
bool cfg_graph_client_disc_first(const json_t *instances, char *host, size_t size, int *port);

/* Whether the current session's initial graph is complete. */
bool cfg_graph_client_synced(const struct cfg_graph_client *);

/* The session as JSON (server, port, session id, counters); a new reference. */
json_t *cfg_graph_client_status(const struct cfg_graph_client *);
/* Serves cfg_graph_client_status() as introspect page PATH ("/ifmap"). */
void cfg_graph_client_register_introspect(struct cfg_graph_client *, struct introspect *,
                                          const char *path);

#endif
