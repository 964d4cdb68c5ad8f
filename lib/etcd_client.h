/* etcd_client: the transport to an etcd 3.4 cluster through its v3 JSON gateway (POST
 * /v3/kv/range, /v3/kv/txn, /v3/watch ...) over libevent's evhttp, on the caller's loop.
 *
 * One member is "current"; unary calls go to it over a small pool of keep-alive connections
 * (one call on the wire per connection, the rest queued in order).  A member that refuses the
 * connection, or answers with an error that says nothing was done ("no leader", "too many
 * requests", ...), makes the client move to the next member and retry there.  Every call has
 * a deadline: a call without an answer by then completes with ETIMEDOUT.  A call that is not
 * idempotent (a write) is retried only when it certainly was not applied; once it may have
 * reached a member (connection lost after sending, "request timed out") it completes with
 * ETIMEDOUT at once, since a retry could apply it twice.
 *
 * Streams (watch) get a connection of their own and deliver the gateway's line-delimited JSON
 * messages one by one. */
#ifndef CONTRAIL_ETCD_CLIENT_H
#define CONTRAIL_ETCD_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd_client;
struct etcd_stream;

/* Completion of a unary call, on the loop thread, never from inside etcd_client_call().
 * ERROR 0: REPLY is the decoded answer (borrowed: valid during the call only).  Otherwise
 * REPLY is NULL, MSG says why (for the log) and ERROR is ETIMEDOUT (no answer in time; a
 * write may have been applied), ECONNREFUSED (no member could be reached: not applied), E2BIG
 * (etcd refused the request as too large: --max-txn-ops or --max-request-bytes), ESTALE (the
 * revision asked for was compacted), EINVAL (etcd refused the request as malformed), EIO
 * (other failure) or ECANCELED (client destroyed). */
typedef void etcd_client_fn(void *aux, int error, json_t *reply, const char *msg);

/* Flags of a call. */
enum {
    ETCD_CALL_IDEMPOTENT = 1,   /* A read: may be retried after an ambiguous failure. */
};

/* Creates a client of ENDPOINTS ("http://host:port,host:port,..."), whose calls time out
 * after TIMEOUT_S seconds (<= 0: 5 s), with at most N_CONNS (<= 0: 4) unary calls on the wire
 * at once.  Returns NULL with a message in ERR if ENDPOINTS cannot be parsed. */
struct etcd_client *etcd_client_create(struct event_base *, const char *endpoints,
                                       double timeout_s, int n_conns, char *err,
                                       size_t errlen);

/* Destroys C (NULL accepted): calls still pending complete with ECANCELED first; streams must
 * have been closed. */
void etcd_client_destroy(struct etcd_client *);

/* POSTs BODY (taken over) to PATH ("/v3/kv/range").  TIMEOUT_S <= 0: the client's timeout. */
void etcd_client_call(struct etcd_client *, const char *path, json_t *body, unsigned flags,
                      double timeout_s, etcd_client_fn *cb, void *aux);

/* Calls not yet completed. */
size_t etcd_client_pending(const struct etcd_client *);

/* The client's timeout in seconds. */
double etcd_client_timeout(const struct etcd_client *);

/* Moves the client off member EP (as returned by etcd_stream_endpoint) if it is the current
 * one, e.g. because a stream to it seems stuck. */
void etcd_client_failover(struct etcd_client *, int ep);

/* State for introspect: endpoints, current member, leader if known, counters.  New
 * reference. */
json_t *etcd_client_status(const struct etcd_client *);

/* A message of a stream (one JSON object; the gateway wraps it in {"result": ...}); borrowed.
 * The callback may close the stream. */
typedef void etcd_stream_msg_fn(void *aux, json_t *msg);

/* End of a stream: the member closed it or became unreachable (ERROR ECONNREFUSED: could not
 * connect; EPIPE: lost; EIO: refused with MSG).  The owner must then etcd_stream_close() it
 * (it may do so from inside this callback). */
typedef void etcd_stream_end_fn(void *aux, int error, const char *msg);

/* Opens a streaming POST of BODY (taken over) to PATH on the current member. */
struct etcd_stream *etcd_stream_open(struct etcd_client *, const char *path, json_t *body,
                                     etcd_stream_msg_fn *, etcd_stream_end_fn *, void *aux);

/* Closes S (NULL accepted); no callback runs after it. */
void etcd_stream_close(struct etcd_stream *);

/* The member S talks to (an index for etcd_client_failover) and its URL. */
int etcd_stream_endpoint(const struct etcd_stream *);
const char *etcd_client_endpoint_name(const struct etcd_client *, int ep);

/* Helpers for etcd's JSON: int64 fields come as strings; absent means 0. */
uint64_t etcd_json_u64(const json_t *obj, const char *field);

/* The end of the range of keys that start with PREFIX (LEN bytes): PREFIX with its last byte
 * below 0xff incremented, in a string of mem_type_string (*LENP bytes); "\0" (length 1, all
 * keys) for a prefix of only 0xff bytes or an empty one. */
char *etcd_prefix_end(const char *prefix, size_t len, size_t *lenp);

#endif
