/* ifmap_server: the IF-MAP 2.x server of the config plane (config-plane reference §5), in
 * place of irond: contrail-api publishes the whole config graph to it; the schema
 * transformer, service monitor, control nodes and DNS subscribe and poll.
 *
 * SOAP 1.2 over HTTPS (lib/http with a TLS context from lib/tls) with HTTP basic
 * authentication against a basicauthusers.properties file.  Operations: newSession,
 * renewSession, endSession, purgePublisher, publish (update / delete / notify), search,
 * subscribe (update / delete) and poll (long poll: held until there is something to say).
 *
 * Each session has one queue of results in the order they happened, fed by its
 * subscriptions (ifmap_sub.h) and drained by its polls in chunks of at most
 * max-poll-result-size bytes.  A session that does not poll cannot hold the others back:
 * when its change results pass max_pending_bytes its subscriptions are dropped, and its next
 * poll gets PollResultsTooBig errorResults.  A held poll is answered empty after half the
 * session timeout (a live client polls again); a session without a request for
 * session_timeout seconds ends: its subscriptions go, and the metadata it published with
 * lifetime="session" is deleted. */
#ifndef CONTRAIL_IFMAP_SERVER_H
#define CONTRAIL_IFMAP_SERVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

struct ifmap_server;
struct introspect;

struct ifmap_server_config {
    const char *addr;               /* Listen address. */
    int port;                       /* 0: any free port. */
    bool tls;                       /* HTTPS (default in the daemon) or plain HTTP. */
    const char *certfile, *keyfile; /* PEM; NULL: a self-signed certificate. */
    const char *credentials_file;   /* user:password lines; NULL: the original's users. */
    int session_timeout;            /* Seconds. */
    size_t max_pending_bytes;       /* Per session, change results waiting for a poll. */
    size_t max_poll_result_size;    /* Server's bound on one poll answer, bytes. */
    size_t max_metadata_size;       /* Bytes of one serialized metadata item. */
    size_t max_search_size;         /* Default max-size of a search, bytes. */
    size_t max_request_size;        /* Bytes of one request body. */
};

/* Fills C with the defaults (port 8443, TLS, 180 s sessions, ...). */
void ifmap_server_config_defaults(struct ifmap_server_config *c);

/* Starts the server.  Returns 0 and *SP, or an errno with a message in ERR. */
int ifmap_server_open(struct event_base *, const struct ifmap_server_config *,
                      struct ifmap_server **sp, char *err, size_t errlen);
/* Stops it: sessions end (held polls are answered), the graph is freed.  NULL accepted. */
void ifmap_server_close(struct ifmap_server *);
int ifmap_server_port(const struct ifmap_server *);

/* Adds the pages /ifmap/sessions, /ifmap/subscriptions, /ifmap/graph and /ifmap/stats and
 * the counters to introspect server IS. */
void ifmap_server_register_introspect(struct ifmap_server *, struct introspect *is);

/* Parses a basicauthusers.properties text (user:password or user=password per line, '#' and
 * '!' comments) into a NULL-terminated array of "user\0password" pairs: for tests. */
int ifmap_server_parse_credentials(const char *text, char ***pairsp, size_t *np);
void ifmap_server_free_credentials(char **pairs, size_t n);

#endif
