/* ifmap_client: asynchronous IF-MAP 2.x client (SOAP 1.2 over HTTPS, basic auth) for the
 * daemons that publish to or subscribe to the IF-MAP server: contrail-api publishes the
 * config graph; the schema transformer, service monitor, control nodes and DNS subscribe to
 * contrail:config-root:root and poll (config-plane reference §5).
 *
 * Two connections, as the original clients used (SSRC and ARC): requests (newSession,
 * publish, search, subscribe, ...) go in order on the first; the long poll waits on the
 * second, so a held poll never delays a publish.
 *
 * Used "managed" (ifmap_client_start), the client keeps a session: it opens one, calls the
 * session callback (where the user subscribes and/or publishes everything again: the server
 * keeps no state for a lost session), then polls in a loop and hands every result batch to
 * the poll callback.  On connection loss or InvalidSessionID it opens a new session with
 * backoff and calls the session callback again.  The single operations are also usable on
 * their own. */
#ifndef CONTRAIL_IFMAP_CLIENT_H
#define CONTRAIL_IFMAP_CLIENT_H

#include <event2/event.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ifmap_client;

enum ifmap_client_item_kind {
    IFMAP_ITEM_SEARCH,          /* In a searchResult (search, or a subscription's start). */
    IFMAP_ITEM_UPDATE,
    IFMAP_ITEM_DELETE,
    IFMAP_ITEM_NOTIFY,
    IFMAP_ITEM_ERROR,           /* An errorResult in a pollResult: the subscription is gone. */
};

/* One resultItem (or a poll's errorResult).  Valid during the callback only. */
struct ifmap_client_item {
    enum ifmap_client_item_kind kind;
    const char *sub_name;       /* The result element's name attribute, or NULL. */
    const char *ident[2];       /* Identifier names (name or value attribute); [1] NULL
                                 * for an identifier, set for a link. */
    xmlNode *ident_node[2];
    xmlNode *metadata;          /* <metadata>: its element children are the items; or NULL. */
    const char *error_code;     /* IFMAP_ITEM_ERROR: the errorCode. */
};

/* The answer to one operation.  Valid during the callback only. */
struct ifmap_client_reply {
    int error;                  /* 0; EIO: no answer (connection); EACCES: HTTP 401;
                                 * EPROTO: errorResult or SOAP fault (see error_code);
                                 * ECANCELED: client destroyed. */
    int http_status;
    const char *error_code;     /* errorCode ("InvalidSessionID", ...) or the fault code. */
    const char *message;        /* errorString, fault reason or transport error. */
    xmlNode *result;            /* The element inside ifmap:response, or NULL. */
    const struct ifmap_client_item *items;  /* search and poll results. */
    size_t n_items;
};

typedef void ifmap_client_done_fn(void *aux, const struct ifmap_client_reply *);
/* A (new) session is up: subscribe / republish now. */
typedef void ifmap_client_session_fn(void *aux, const char *session_id);
/* One poll's results, in order. */
typedef void ifmap_client_poll_fn(void *aux, const struct ifmap_client_item *items, size_t n);

/* A client of the IF-MAP server at HOST:PORT as USER/PASSWORD, over TLS when TLS (checking
 * the server's certificate when VERIFY).  Returns NULL (message in ERR) if TLS cannot be
 * set up. */
struct ifmap_client *ifmap_client_create(struct event_base *, const char *host, int port,
                                         const char *user, const char *password, bool tls,
                                         bool verify, char *err, size_t errlen);
/* Destroys C; operations in flight are answered with ECANCELED.  NULL accepted. */
void ifmap_client_destroy(struct ifmap_client *);

/* Callbacks of the managed mode. */
void ifmap_client_set_callbacks(struct ifmap_client *, ifmap_client_session_fn *,
                                ifmap_client_poll_fn *, void *aux);
/* Managed mode: opens a session (retrying with backoff), calls the session callback, polls
 * in a loop when a poll callback is set, and starts over on loss. */
void ifmap_client_start(struct ifmap_client *);

/* The current session id (NULL when none) and publisher id. */
const char *ifmap_client_session_id(const struct ifmap_client *);
const char *ifmap_client_publisher_id(const struct ifmap_client *);

/* The single operations.  Each returns 0 and calls DONE (may be NULL) once, or an errno
 * (ENOTCONN: no session yet) without calling it. */
int ifmap_client_new_session(struct ifmap_client *, ifmap_client_done_fn *done, void *aux);
int ifmap_client_renew(struct ifmap_client *, ifmap_client_done_fn *, void *aux);
int ifmap_client_end_session(struct ifmap_client *, ifmap_client_done_fn *, void *aux);
/* FRAGMENT: <update>/<delete>/<notify> elements, prefixes ifmap, meta, contrail declared. */
int ifmap_client_publish(struct ifmap_client *, const char *fragment,
                         ifmap_client_done_fn *, void *aux);
/* From identity START_NAME (type other, extended), MAX_DEPTH links, MATCH_LINKS and
 * RESULT_FILTER (NULL: all). */
int ifmap_client_search(struct ifmap_client *, const char *start_name, int max_depth,
                        const char *match_links, const char *result_filter,
                        ifmap_client_done_fn *, void *aux);
int ifmap_client_subscribe(struct ifmap_client *, const char *name, const char *start_name,
                           int max_depth, const char *match_links,
                           ifmap_client_done_fn *, void *aux);
int ifmap_client_unsubscribe(struct ifmap_client *, const char *name,
                             ifmap_client_done_fn *, void *aux);
/* One poll on the poll connection (the managed mode loops on it). */
int ifmap_client_poll(struct ifmap_client *, ifmap_client_done_fn *, void *aux);

/* The serialized XML of N (e.g. one metadata item), in a string to free with xfree. */
char *ifmap_client_node_xml(const xmlNode *n);

/* XML-escapes S into a new string (free with xfree), for building fragments. */
char *ifmap_client_escape(const char *s);

struct ifmap_client_stats {
    uint64_t sessions, reconnects, requests, polls, items, errors;
};
void ifmap_client_get_stats(const struct ifmap_client *, struct ifmap_client_stats *);

#endif
