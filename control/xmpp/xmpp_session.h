/* xmpp_session: XMPP connections between agents and the control node, on libevent.
 *
 * A server (contrail-control's side) listens and accepts agents; a client (an agent, or the
 * simulator) connects, and reconnects with an exponential backoff while the server is away.
 * Each connection goes through the simplified state machine of the original: connect, stream
 * open exchange under an open timer, then Established with a hold timer (any received byte
 * refreshes it) and a whitespace keepalive sent every hold/3.  Stanzas are split and decoded
 * by xmpp_proto and handed to the owner through struct xmpp_session_hooks, one xmpp_event at a
 * time.  A malformed stanza, a frame over the size limit or an expired timer sends a stream
 * error, closes the connection and tells the owner why; it never crashes.
 *
 * The session knows nothing about routes or tables: a duplicate subscribe or a publish for an
 * unsubscribed instance is the owner's decision, and xmpp_session_close makes acting on it one
 * call. */
#ifndef CONTRAIL_XMPP_SESSION_H
#define CONTRAIL_XMPP_SESSION_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xmpp_proto.h"

struct evbuffer;

enum xmpp_state {
    XMPP_ST_IDLE,               /* Client between attempts (waiting for the retry timer). */
    XMPP_ST_CONNECT,            /* Client: TCP connect in progress. */
    XMPP_ST_OPEN_WAIT,          /* TCP up, stream opens being exchanged (open timer). */
    XMPP_ST_ESTABLISHED,
    XMPP_ST_CLOSED,             /* Server session closed (about to be freed), client stopped. */
};

const char *xmpp_state_name(enum xmpp_state);

struct xmpp_session;

struct xmpp_session_hooks {
    /* The peer's stream open arrived (server: the agent's; client: the server's answer).
     * Return NULL to accept it, or a stream error condition such as "invalid-namespace"
     * (subcluster mismatch) or "host-unknown" to refuse it: the error is sent and the
     * connection closed.  May be NULL (accept everything). */
    const char *(*open)(struct xmpp_session *, const struct xmpp_open *, void *aux);
    /* The session is Established. */
    void (*up)(struct xmpp_session *, void *aux);
    /* One decoded stanza (never XMPP_EV_NONE nor XMPP_EV_STREAM_ERROR: those close). */
    void (*event)(struct xmpp_session *, const struct xmpp_event *, void *aux);
    /* An Established session ended; REASON says why.  A server session is freed when this
     * returns; a client reconnects after its backoff unless destroyed. */
    void (*down)(struct xmpp_session *, const char *reason, void *aux);
    /* Client: an attempt failed before Established (connect refused, open rejected, ...). */
    void (*connect_failed)(struct xmpp_session *, const char *reason, void *aux);
    /* The output queue became empty (for pacing large dumps).  May be NULL. */
    void (*drained)(struct xmpp_session *, void *aux);
};

struct xmpp_session_config {
    const char *local_jid;      /* Our "from": XMPP_CONTROL_JID on a server, the agent name on
                                 * a client. */
    const char *remote_jid;     /* Client: the "to" of its open (NULL: XMPP_CONTROL_JID). */
    const char *subcluster;     /* Client: put in the open's xmlns (NULL or "": none). */
    unsigned hold_time;         /* Seconds (0: 90). */
    unsigned keepalive_ms;      /* Keepalive interval (0: hold/3). */
    unsigned open_timeout;      /* Seconds (0: 15). */
    unsigned retry_ms;          /* Client: first reconnect delay (0: 1000). */
    unsigned retry_max_ms;      /* Client: backoff cap (0: 30000). */
    size_t max_stanza;          /* Frame size limit (0: XMPP_MAX_STANZA). */
};

struct xmpp_session_stats {
    uint64_t rx_bytes, tx_bytes;        /* tx: bytes queued. */
    uint64_t rx_stanzas;
    uint64_t rx_keepalives;             /* Reads that carried no stanza (filler only). */
    uint64_t tx_keepalives;
    uint64_t flaps;                     /* Times an Established session went down. */
    uint64_t attempts;                  /* Client: connection attempts. */
};

/* --- Server ------------------------------------------------------------------------------ */

struct xmpp_server;

/* Listens on ADDR (NULL or "": any) and PORT (0: any free port) and accepts agents; every
 * session gets CFG, HOOKS and AUX.  Returns NULL with *ERR set on failure. */
struct xmpp_server *xmpp_server_create(struct event_base *base, const char *addr, uint16_t port,
                                       const struct xmpp_session_config *cfg,
                                       const struct xmpp_session_hooks *hooks, void *aux,
                                       int *err);
/* The port actually bound. */
uint16_t xmpp_server_port(const struct xmpp_server *);
/* Sessions accepted and not closed yet (any state). */
size_t xmpp_server_n_sessions(const struct xmpp_server *);
/* Calls CB for each session. CB may close the session it is given. */
void xmpp_server_foreach(struct xmpp_server *, void (*cb)(struct xmpp_session *, void *),
                         void *arg);
/* Closes every session (down hooks run, reason "server shutting down") and frees the server.
 * NULL is fine.  Not to be called from inside one of its hooks. */
void xmpp_server_destroy(struct xmpp_server *);

/* --- Client ------------------------------------------------------------------------------ */

/* Creates a client session to the server at SA (copied) and starts connecting now. */
struct xmpp_session *xmpp_client_create(struct event_base *base, const struct sockaddr *sa,
                                        socklen_t salen, const struct xmpp_session_config *cfg,
                                        const struct xmpp_session_hooks *hooks, void *aux);

/* --- Either ------------------------------------------------------------------------------ */

/* Closes the connection: sends a <stream:error> with CONDITION when not NULL (e.g.
 * "policy-violation", "not-authorized") and REASON as its text, then </stream:stream>, and
 * flushes.  REASON is also what the down hook and xmpp_session_last_reason report.  The down hook runs before this returns
 * (if the session was Established).  A server session is freed (at once, or when the hook
 * that called this returns); a client reconnects after its backoff.  Safe to call from any
 * hook, and on a session that is already closing. */
void xmpp_session_close(struct xmpp_session *, const char *condition, const char *reason);
/* Closes (no reconnect, down hook runs if Established) and frees.  NULL is fine.  Safe from
 * inside the session's own hooks (the memory is released when the hook returns). */
void xmpp_session_destroy(struct xmpp_session *);

/* Where to encode stanzas for the peer: the connection's output buffer while Established,
 * else NULL.  Whatever is added is sent as it is. */
struct evbuffer *xmpp_session_output(struct xmpp_session *);
/* Queues LEN bytes.  Returns 0 or ENOTCONN (not Established). */
int xmpp_session_send(struct xmpp_session *, const void *data, size_t len);
/* Bytes queued for the peer and not yet written to the socket. */
size_t xmpp_session_queued(const struct xmpp_session *);

enum xmpp_state xmpp_session_state(const struct xmpp_session *);
/* The peer's stream open (valid from the open hook on; fields NULL before). */
const struct xmpp_open *xmpp_session_peer_open(const struct xmpp_session *);
/* The peer's "from" JID ("" before its open). */
const char *xmpp_session_peer_name(const struct xmpp_session *);
/* The peer's address as "IP:PORT". */
const char *xmpp_session_remote(const struct xmpp_session *);
const char *xmpp_session_last_reason(const struct xmpp_session *);
/* The condition of the stream error this side sent when it closed the session (a protocol
 * violation, "connection-timeout" for the hold timer, ...), or NULL. */
const char *xmpp_session_sent_condition(const struct xmpp_session *);
/* Whether the session ended with the peer's own </stream:stream> (an orderly close). */
bool xmpp_session_peer_closed(const struct xmpp_session *);
const struct xmpp_session_stats *xmpp_session_stats(const struct xmpp_session *);
/* The owner's per-session pointer (NULL until set). */
void xmpp_session_set_user(struct xmpp_session *, void *user);
void *xmpp_session_user(const struct xmpp_session *);

#endif
