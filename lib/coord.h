/* coord: the coordination service interface (the original's ZooKeeper).
 *
 * A tree of nodes, each with a value, as ZooKeeper has: persistent or ephemeral (gone when
 * the session that made it ends), watches on a node's children, and leader election by the
 * original's recipe (ephemeral sequential nodes under a path such as "/schema-transformer").
 * Backends: in-process ("local", the embedded default: a single instance is always leader)
 * and ZooKeeper ("zk:host:port,host:port,...", libzookeeper-mt).
 *
 * Every callback runs on the loop thread of the event_base given at open, never from inside
 * the call that registered it. */
#ifndef CONTRAIL_COORD_H
#define CONTRAIL_COORD_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coord;

/* The head of every backend's election object (each backend embeds it first), so that the
 * wrappers can find the backend of an election. */
struct coord_election {
    struct coord *coord;
};

enum coord_state {
    COORD_CONNECTING,           /* No session yet, or reconnecting within the session. */
    COORD_CONNECTED,
    COORD_EXPIRED,              /* The session is gone: ephemerals and elections are lost; the
                                 * backend opens a new session by itself. */
};

/* Node creation flags. */
#define COORD_EPHEMERAL 1u
#define COORD_SEQUENCE 2u

/* One child as returned by coord_list. */
struct coord_child {
    const char *name;           /* Last path component. */
    const char *value;          /* NUL-terminated. */
    size_t len;
    int version;                /* Data version (for coord_set_version). */
};

typedef void coord_state_fn(void *aux, enum coord_state);
/* ERROR is 0, ENOENT (no such node), EEXIST (node exists), ENOTCONN (no session: try
 * again later), or another errno.  PATH is the created node's path (sequence included). */
typedef void coord_done_fn(void *aux, int error, const char *path);
/* VERSION is the node's data version: 0 at creation, +1 on every set. */
typedef void coord_get_fn(void *aux, int error, const char *value, size_t len, int version);
typedef void coord_list_fn(void *aux, int error, const struct coord_child *, size_t n);
/* A watched node's children changed (or the watch was lost with the session): list again. */
typedef void coord_watch_fn(void *aux, const char *path);
/* Leadership changed: IS_LEADER true when this contender became leader, false when it must
 * stop acting as leader (lost its session, or the lease could not be renewed in time). */
typedef void coord_leader_fn(void *aux, bool is_leader);

struct coord_class {
    const char *name;
    int (*open)(struct event_base *, const char *spec, int session_timeout_ms,
                struct coord **, char *err, size_t errlen);
    void (*close)(struct coord *);
    enum coord_state (*state)(const struct coord *);
    void (*set_state_cb)(struct coord *, coord_state_fn *, void *aux);
    void (*create)(struct coord *, const char *path, const char *value, size_t len,
                   unsigned flags, coord_done_fn *, void *aux);
    void (*set)(struct coord *, const char *path, const char *value, size_t len, int version,
                coord_done_fn *, void *aux);
    void (*get)(struct coord *, const char *path, coord_get_fn *, void *aux);
    void (*delete)(struct coord *, const char *path, coord_done_fn *, void *aux);
    void (*sync)(struct coord *, const char *path, coord_done_fn *, void *aux);
    void (*list)(struct coord *, const char *path, coord_list_fn *, void *aux);
    void (*watch_children)(struct coord *, const char *path, coord_watch_fn *, void *aux);
    struct coord_election *(*elect)(struct coord *, const char *path, const char *id,
                                    coord_leader_fn *, void *aux);
    bool (*is_leader)(const struct coord_election *);
    void (*resign)(struct coord_election *);
};

struct coord {
    const struct coord_class *class;
};

/* Opens SPEC: "local" (or "" / NULL) for the in-process backend, "zk:h:p,h:p" or a bare
 * "h:p,h:p" list for ZooKeeper.  SESSION_TIMEOUT_MS 0 means 10000.  Returns 0 and *COORDP or
 * an errno with a message in ERR. */
int coord_open(struct event_base *, const char *spec, int session_timeout_ms,
               struct coord **coordp, char *err, size_t errlen);
/* Ends the session (its ephemeral nodes go) and frees the instance with its watches and the
 * elections not resigned.  NULL accepted; no callback runs after it. */
void coord_close(struct coord *);

/* Builds a coord_open SPEC from the original daemons' options: SERVERS is "h[:p],h[:p]"
 * (the zk_server_ip option; a missing port is PORT), NULL or "" means the in-process store. */
void coord_spec_from_conf(char *spec, size_t size, const char *servers, int port);

enum coord_state coord_state(const struct coord *);
void coord_set_state_cb(struct coord *, coord_state_fn *, void *aux);

/* Creates PATH with VALUE, and any missing parents (persistent, empty).  With
 * COORD_SEQUENCE the name gets a 10-digit suffix, reported in DONE's path. */
void coord_create(struct coord *, const char *path, const char *value, size_t len,
                  unsigned flags, coord_done_fn *, void *aux);
/* Sets the value of existing PATH. */
void coord_set(struct coord *, const char *path, const char *value, size_t len,
               coord_done_fn *, void *aux);
/* Sets the value of PATH only if its data version is still VERSION (as read by coord_get or
 * coord_list): the compare-and-set that read-modify-write cycles need.  A newer version
 * gives EAGAIN: read again and retry. */
void coord_set_version(struct coord *, const char *path, const char *value, size_t len,
                       int version, coord_done_fn *, void *aux);
void coord_get(struct coord *, const char *path, coord_get_fn *, void *aux);
/* Deletes PATH (which must have no children). */
void coord_delete(struct coord *, const char *path, coord_done_fn *, void *aux);
/* Brings this session's view up to date with every write acknowledged to any session before
 * the call (ZooKeeper serves reads from the server a session is connected to, which may lag
 * the leader).  Call before a read that must see another server's writes. */
void coord_sync(struct coord *, const char *path, coord_done_fn *, void *aux);
/* Lists PATH's children with their values, sorted by name. */
void coord_list(struct coord *, const char *path, coord_list_fn *, void *aux);
/* Calls CB whenever PATH's set of children changes, until coord_close.  Persistent: the
 * backend re-arms it (and calls CB once after a new session, since changes may be missed). */
void coord_watch_children(struct coord *, const char *path, coord_watch_fn *, void *aux);

/* Joins the election at PATH as ID (kept as the node's value).  CB reports leadership as it
 * comes and goes: once when the contender first learns its place (true or false), then on
 * every change.  A leader whose session is lost, or who could not confirm its session for
 * 2/3 of the session timeout (a frozen or partitioned process), is told to stop before any
 * other contender can be elected.  The contenders are the children of PATH, named
 * "<32 hex digits>__lock__<sequence>" with ID as value (the layout of kazoo's Election, which
 * the original used), so coord_list(PATH) shows them in order of precedence by sequence. */
struct coord_election *coord_elect(struct coord *, const char *path, const char *id,
                                   coord_leader_fn *, void *aux);
/* Whether this contender may act as leader right now (checks the lease). */
bool coord_is_leader(const struct coord_election *);
/* Leaves the election (frees E; NULL accepted). */
void coord_resign(struct coord_election *);

extern const struct coord_class coord_local_class;
extern const struct coord_class coord_zk_class;

#endif
