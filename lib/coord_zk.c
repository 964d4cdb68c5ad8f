/* coord_zk: the ZooKeeper coordination backend, on the multi-threaded C client.
 *
 * The library runs its own I/O and completion threads and calls completions and watchers on
 * the latter.  Those calls only copy their results into the request they belong to and hand it
 * to the loop thread through an eventfd, as cfgdb_sqlite hands back its commits; everything
 * else (the election recipe, watch re-arming, leases, user callbacks) runs on the loop
 * thread.  User callbacks are queued as notes and run one at a time by the deliverer, so that
 * a callback may close the instance or resign an election safely.
 *
 * Sessions: the library reconnects by itself within a session.  When the session expires the
 * backend closes the handle and opens a new one, re-arms the children watches (calling each
 * watch once, since changes may have been missed) and joins its elections again.  Requests
 * made while there is no connected session fail at once with ENOTCONN rather than wait.
 *
 * Elections follow the recipe the original used through kazoo: each contender makes an
 * ephemeral sequential node "<path>/<32 hex>__lock__<seq>" holding its id; the lowest sequence
 * leads; the others watch the next lower node only (no herd).  The leader holds a lease: it
 * confirms its session by a round trip every third of the session timeout, and it counts as
 * leader only until 2/3 of the session timeout after the *sending* of the last confirmed round
 * trip (CLOCK_MONOTONIC, which runs on while the process is stopped).  The server expires a
 * silent session no earlier than a full timeout after the last request it received, and only
 * then can another contender be elected, so a frozen or cut-off leader stops acting before
 * anybody else starts. */
#include "coord.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "list.h"
#include "log.h"
#include "mem.h"
#include "uuid.h"

LOG_MODULE(coord_zk);

static MEM_TYPE(mem_type_zk, "coord_zk");
static MEM_TYPE(mem_type_zk_req, "coord_zk_req");

#define RETRY_MS 300            /* Retry of work that failed while connected. */
#define NS_PER_MS 1000000LL

/* The identity of one library handle, given as its context and as the context of each of its
 * watches, so that events from a closed handle are told from the current one's. */
struct zk_session {
    struct coord_zk *zk;
    unsigned gen;
};

enum watch_state {
    W_IDLE,                     /* Not armed: arm when connected. */
    W_ARMING,                   /* A request that sets the watch is in flight. */
    W_ARMED,                    /* The server holds a watch for us. */
};

struct zk_watch {
    struct list node;           /* In coord_zk->watches. */
    char *path;
    coord_watch_fn *cb;
    void *aux;
    enum watch_state state;
    bool missed;                /* Changes may have been missed: notify once armed. */
};

struct zk_election {
    struct coord_election up;
    struct list list_node;      /* In coord_zk->elections. */
    struct coord_zk *zk;
    char *path;
    char *id;
    char prefix[UUID_LEN + 16]; /* "<32 hex>__lock__". */
    char *node;                 /* Our contender node (full path), NULL when we have none. */
    char *watched;              /* The next lower contender's node that we wait on. */
    coord_leader_fn *cb;
    void *aux;

    unsigned epoch;             /* Bumped when the session is lost: older replies are stale. */
    unsigned refs;              /* Requests in flight that point here. */
    bool resigned;              /* Freed when 'refs' drops to 0. */
    bool busy;                  /* A join, check or watch request is in flight. */
    bool recheck;               /* Something changed while busy: check again after. */
    bool stale;                 /* A check failed: redo it when connected. */
    bool maybe_created;         /* A create failed on connection loss: it may have worked. */
    bool renewing;              /* A lease renewal is in flight. */
    bool elected;               /* Our node had the lowest sequence at the last check. */
    bool invalid;               /* PATH cannot hold contenders: never leader. */
    int reported;               /* Last leadership given to cb; -1 before the first. */
    int64_t lease_end;          /* CLOCK_MONOTONIC ns until which we may act as leader. */
    struct event *renew_ev;
    struct event *lease_ev;
};

/* State shared with the library's threads: 'inflight', 'done', under 'mutex'. */
struct coord_zk {
    struct coord up;
    struct event_base *base;
    char *hosts;
    int requested_ms;           /* Session timeout asked for. */
    int session_ms;             /* Session timeout granted by the server. */

    zhandle_t *zh;              /* NULL while a new handle could not be made. */
    struct zk_session *session;
    unsigned gen;
    int64_t session_id;         /* Of the last connected session, 0 before. */
    enum coord_state state;
    coord_state_fn *state_cb;
    void *state_aux;

    pthread_mutex_t mutex;
    struct list inflight;       /* struct zk_req given to the library. */
    struct list done;           /* struct zk_req completed, and watch events. */
    int efd;
    struct event *ev;           /* Reads efd: runs the deliverer. */

    struct list notes;          /* struct zk_req: user callbacks to run (loop thread). */
    struct list watches;        /* struct zk_watch. */
    struct list elections;      /* struct zk_election. */
    struct list listops;        /* struct zk_listop. */
    struct list orphans;        /* struct zk_orphan: contender nodes to delete. */
    struct event *retry_ev;
    bool *alive;                /* While delivering: cleared by close. */
};

/* A coord_list in progress: the children's values are fetched in parallel. */
struct zk_listop {
    struct list node;           /* In coord_zk->listops. */
    coord_list_fn *cb;
    void *aux;
    size_t n, pending;
    char **names;
    char **values;
    size_t *lens;
    int *versions;
    int error;
};

/* A node of ours to delete (a resigned contender's), retried until the server confirms or
 * the session ends (which deletes it anyway).  With a prefix: the children of PATH whose name
 * starts with it (a node that a create lost with the connection may have made). */
struct zk_orphan {
    struct list node;           /* In coord_zk->orphans. */
    char *path;
    char *prefix;
    bool busy;                  /* A request is in flight. */
};

struct zk_req;
typedef void zk_handler(struct coord_zk *, struct zk_req *);

/* A request to the library, a watch event, or a note (a user callback to run).  Everything
 * the library's threads write is written before the request moves to 'done' under the mutex. */
struct zk_req {
    struct list node;
    zk_handler *handle;         /* Runs on the loop thread. */
    struct coord_zk *zk;
    unsigned gen;               /* Handle generation it was given to. */
    int64_t sent;               /* CLOCK_MONOTONIC ns when it was given to the library. */
    bool completed;

    /* Results. */
    int rc;
    char *str;                  /* Created path, value, or event path. */
    size_t len;
    int version;                /* Data version of a get. */
    char **names;
    size_t n_names;
    int type, zstate;           /* Watch events. */

    /* Context. */
    char *path;
    char *value;
    size_t vlen;
    unsigned flags;
    bool parents_made;
    zk_handler *finish;         /* Creates: who takes the result. */
    coord_done_fn *done;
    coord_get_fn *get_cb;
    coord_list_fn *list_cb;
    coord_leader_fn *leader_cb;
    void *aux;
    struct zk_listop *listop;
    size_t idx;
    struct zk_orphan *orphan;
    struct zk_watch *watch;
    struct zk_election *election;
    unsigned epoch;
    int error;                  /* Notes. */
    bool leader;
    enum coord_state cstate;
    struct coord_child *children;
    size_t n_children;
};

static struct coord_zk *
zk_cast(const struct coord *c)
{
    return CONTAINER_OF(c, struct coord_zk, up);
}

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timeval
ns_to_tv(int64_t ns)
{
    if (ns < 0) {
        ns = 0;
    }
    return (struct timeval) { .tv_sec = ns / 1000000000LL, .tv_usec = ns % 1000000000LL / 1000 };
}

/* Maps a library result code to the errno of the interface. */
static int
zk_error(int rc)
{
    switch (rc) {
    case ZOK:
        return 0;
    case ZNONODE:
        return ENOENT;
    case ZNODEEXISTS:
        return EEXIST;
    case ZNOTEMPTY:
        return ENOTEMPTY;
    case ZBADVERSION:
        return EAGAIN;
    case ZBADARGUMENTS:
    case ZNOCHILDRENFOREPHEMERALS:
        return EINVAL;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZINVALIDSTATE:
    case ZSESSIONEXPIRED:
    case ZSESSIONMOVED:
    case ZCLOSING:
        return ENOTCONN;
    default:
        return EIO;
    }
}

static const char *
state_name(enum coord_state s)
{
    return s == COORD_CONNECTED ? "connected" : s == COORD_EXPIRED ? "expired" : "connecting";
}

/* ---- Requests: loop thread -> library -> loop thread ---- */

static struct zk_req *
req_new(struct coord_zk *zk, zk_handler *handle)
{
    struct zk_req *r = mem_zalloc(&mem_type_zk_req, sizeof *r);
    list_init(&r->node);
    r->handle = handle;
    r->zk = zk;
    r->gen = zk->gen;
    r->sent = now_ns();
    return r;
}

static void
req_free(struct zk_req *r)
{
    mem_free(&mem_type_zk_req, r->str);
    for (size_t i = 0; i < r->n_names; i++) {
        mem_free(&mem_type_zk_req, r->names[i]);
    }
    mem_free(&mem_type_zk_req, r->names);
    mem_free(&mem_type_zk_req, r->path);
    mem_free(&mem_type_zk_req, r->value);
    for (size_t i = 0; i < r->n_children; i++) {
        mem_free(&mem_type_zk_req, (char *) r->children[i].name);
        mem_free(&mem_type_zk_req, (char *) r->children[i].value);
    }
    mem_free(&mem_type_zk_req, r->children);
    mem_free(&mem_type_zk_req, r);
}

static void
zk_signal(struct coord_zk *zk)
{
    uint64_t one = 1;
    if (write(zk->efd, &one, sizeof one) < 0) {
        LOG_ERR("eventfd write: %s", strerror(errno));
    }
}

/* Any thread: R is finished with RC; hand it to the loop thread (once). */
static void
req_complete(struct zk_req *r, int rc)
{
    struct coord_zk *zk = r->zk;
    pthread_mutex_lock(&zk->mutex);
    if (!r->completed) {
        r->completed = true;
        r->rc = rc;
        list_remove(&r->node);
        list_push_back(&zk->done, &r->node);
    }
    pthread_mutex_unlock(&zk->mutex);
    zk_signal(zk);
}

/* Registers R as in flight before it is given to the library.  Returns false, and completes R
 * with ZCONNECTIONLOSS, when there is no session: requests are not queued while connecting,
 * since a handle closed with requests pending leaks their completion records in the library
 * (and the caller learns at once that it must try again later). */
static bool
req_begin(struct coord_zk *zk, struct zk_req *r)
{
    r->gen = zk->gen;
    r->sent = now_ns();
    pthread_mutex_lock(&zk->mutex);
    list_push_back(&zk->inflight, &r->node);
    pthread_mutex_unlock(&zk->mutex);
    if (!zk->zh || zk->state != COORD_CONNECTED) {
        req_complete(r, ZCONNECTIONLOSS);
        return false;
    }
    return true;
}

/* RC is what the zoo_a*() call returned: on failure no completion will come. */
static void
req_end(struct zk_req *r, int rc)
{
    if (rc != ZOK) {
        req_complete(r, rc);
    }
}

/* Library thread callbacks: copy the results, then hand over. */
static void
void_done(int rc, const void *data)
{
    req_complete((struct zk_req *) data, rc);
}

static void
stat_done(int rc, const struct Stat *stat, const void *data)
{
    req_complete((struct zk_req *) data, rc);
}

static void
string_done(int rc, const char *value, const void *data)
{
    struct zk_req *r = (struct zk_req *) data;
    if (rc == ZOK && value) {
        r->str = mem_strdup(&mem_type_zk_req, value);
    }
    req_complete(r, rc);
}

static void
data_done(int rc, const char *value, int len, const struct Stat *stat, const void *data)
{
    struct zk_req *r = (struct zk_req *) data;
    if (rc == ZOK) {
        r->len = value && len > 0 ? (size_t) len : 0;
        r->str = mem_strndup(&mem_type_zk_req, value ? value : "", r->len);
        r->version = stat ? stat->version : 0;
    }
    req_complete(r, rc);
}

static void
strings_done(int rc, const struct String_vector *sv, const void *data)
{
    struct zk_req *r = (struct zk_req *) data;
    if (rc == ZOK && sv && sv->count > 0) {
        r->names = mem_zalloc(&mem_type_zk_req, sv->count * sizeof *r->names);
        for (int i = 0; i < sv->count; i++) {
            r->names[r->n_names++] = mem_strdup(&mem_type_zk_req, sv->data[i]);
        }
    }
    req_complete(r, rc);
}

static void handle_event(struct coord_zk *, struct zk_req *);

/* Library thread: a watch fired or the session changed state. */
static void
zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct zk_session *s = ctx;
    struct coord_zk *zk = s->zk;
    struct zk_req *r = mem_zalloc(&mem_type_zk_req, sizeof *r);
    list_init(&r->node);
    r->handle = handle_event;
    r->zk = zk;
    r->gen = s->gen;
    r->completed = true;
    r->type = type;
    r->zstate = state;
    r->str = mem_strdup(&mem_type_zk_req, path ? path : "");
    pthread_mutex_lock(&zk->mutex);
    list_push_back(&zk->done, &r->node);
    pthread_mutex_unlock(&zk->mutex);
    zk_signal(zk);
}

/* Library thread: its log lines, into ours.  Its errors are mostly connection failures that it
 * retries by itself; what matters to an operator (connection down, session expired) is logged
 * by set_state() and session_lost(). */
static void
zk_log(const char *message)
{
    size_t n = strlen(message);
    while (n && (message[n - 1] == '\n' || message[n - 1] == '\r')) {
        n--;
    }
    if (strstr(message, "ZOO_ERROR") || strstr(message, "ZOO_WARN")) {
        LOG_INFO("%.*s", (int) n, message);
    } else {
        LOG_DEBUG("%.*s", (int) n, message);
    }
}

/* ---- Notes: user callbacks, run one at a time by the deliverer ---- */

static struct zk_req *
note_add(struct coord_zk *zk, zk_handler *handle)
{
    struct zk_req *n = mem_zalloc(&mem_type_zk_req, sizeof *n);
    list_init(&n->node);
    n->handle = handle;
    n->zk = zk;
    list_push_back(&zk->notes, &n->node);
    event_active(zk->ev, EV_READ, 0);
    return n;
}

static void
run_done(struct coord_zk *zk, struct zk_req *n)
{
    n->done(n->aux, n->error, n->error ? NULL : n->str);
}

static void
run_get(struct coord_zk *zk, struct zk_req *n)
{
    n->get_cb(n->aux, n->error, n->error ? NULL : n->str, n->len, n->version);
}

static void
run_list(struct coord_zk *zk, struct zk_req *n)
{
    n->list_cb(n->aux, n->error, n->children, n->n_children);
}

static void
run_watch(struct coord_zk *zk, struct zk_req *n)
{
    n->watch->cb(n->watch->aux, n->watch->path);
}

static void
run_leader(struct coord_zk *zk, struct zk_req *n)
{
    n->leader_cb(n->aux, n->leader);
}

static void
run_state(struct coord_zk *zk, struct zk_req *n)
{
    if (zk->state_cb) {
        zk->state_cb(zk->state_aux, n->cstate);
    }
}

static void
note_done(struct coord_zk *zk, coord_done_fn *done, void *aux, int error, const char *path)
{
    if (done) {
        struct zk_req *n = note_add(zk, run_done);
        n->done = done;
        n->aux = aux;
        n->error = error;
        n->str = path ? mem_strdup(&mem_type_zk_req, path) : NULL;
    }
}

static void
note_watch(struct coord_zk *zk, struct zk_watch *w)
{
    note_add(zk, run_watch)->watch = w;
}

static void
set_state(struct coord_zk *zk, enum coord_state s)
{
    if (zk->state != s) {
        if (s == COORD_CONNECTED) {
            LOG_NOTICE("%s: connected", zk->hosts);
        } else if (zk->state == COORD_CONNECTED) {
            LOG_WARN("%s: connection down, %s", zk->hosts, state_name(s));
        }
        zk->state = s;
        note_add(zk, run_state)->cstate = s;
    }
}

/* Loop thread: takes the completions and events the library handed back, and the notes, and
 * processes them one at a time, at most a batch per loop iteration. */
static void
zk_deliver(evutil_socket_t fd, short what, void *aux)
{
    struct coord_zk *zk = aux;
    uint64_t count;
    if (read(zk->efd, &count, sizeof count) < 0 && errno != EAGAIN) {
        LOG_ERR("eventfd read: %s", strerror(errno));
    }
    bool alive = true;
    zk->alive = &alive;
    for (int i = 0;; i++) {
        if (i == 64) {
            event_active(zk->ev, EV_READ, 0);
            break;
        }
        struct zk_req *r = NULL;
        if (!list_is_empty(&zk->notes)) {
            r = CONTAINER_OF(zk->notes.next, struct zk_req, node);
            list_remove(&r->node);
        } else {
            pthread_mutex_lock(&zk->mutex);
            if (!list_is_empty(&zk->done)) {
                r = CONTAINER_OF(zk->done.next, struct zk_req, node);
                list_remove(&r->node);
            }
            pthread_mutex_unlock(&zk->mutex);
        }
        if (!r) {
            break;
        }
        r->handle(zk, r);
        req_free(r);
        if (!alive) {
            return;
        }
    }
    zk->alive = NULL;
}

static void
schedule_retry(struct coord_zk *zk)
{
    if (!evtimer_pending(zk->retry_ev, NULL)) {
        struct timeval tv = ns_to_tv(RETRY_MS * NS_PER_MS);
        evtimer_add(zk->retry_ev, &tv);
    }
}

/* ---- Create (with parents), set, get, delete ---- */

static void create_done(struct coord_zk *, struct zk_req *);

static void
create_submit(struct coord_zk *zk, struct zk_req *r)
{
    bool eph = r->flags & COORD_EPHEMERAL, seq = r->flags & COORD_SEQUENCE;
    int mode = eph ? (seq ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL)
                   : (seq ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT);
    if (req_begin(zk, r)) {
        req_end(r, zoo_acreate(zk->zh, r->path, r->value, (int) r->vlen, &ZOO_OPEN_ACL_UNSAFE,
                               mode, string_done, r));
    }
}

static void
ignore_result(struct coord_zk *zk, struct zk_req *r)
{
    if (r->rc != ZOK && r->rc != ZNODEEXISTS && r->rc != ZNONODE) {
        LOG_DEBUG("%s: %s", r->path ? r->path : "request", zerror(r->rc));
    }
}

/* Creates PATH's missing ancestors, persistent and empty, then PATH again: requests of one
 * session are processed in order, so they need not wait for each other. */
static void
create_with_parents(struct coord_zk *zk, struct zk_req *old)
{
    const char *path = old->path;
    const char *last = strrchr(path, '/');
    for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        struct zk_req *a = req_new(zk, ignore_result);
        a->path = mem_strndup(&mem_type_zk_req, path, p - path);
        if (req_begin(zk, a)) {
            req_end(a, zoo_acreate(zk->zh, a->path, "", 0, &ZOO_OPEN_ACL_UNSAFE,
                                   ZOO_PERSISTENT, string_done, a));
        }
        if (p == last) {
            break;
        }
    }
    struct zk_req *r = req_new(zk, create_done);
    r->path = old->path;
    old->path = NULL;
    r->value = old->value;
    old->value = NULL;
    r->vlen = old->vlen;
    r->flags = old->flags;
    r->parents_made = true;
    r->finish = old->finish;
    r->done = old->done;
    r->aux = old->aux;
    r->election = old->election;
    r->epoch = old->epoch;
    create_submit(zk, r);
}

static void
create_done(struct coord_zk *zk, struct zk_req *r)
{
    if (r->rc == ZNONODE && !r->parents_made) {
        create_with_parents(zk, r);
        return;
    }
    r->finish(zk, r);
}

/* Hands a user's create result to the user. */
static void
create_finish_user(struct coord_zk *zk, struct zk_req *r)
{
    note_done(zk, r->done, r->aux, zk_error(r->rc), r->str);
}

static void
create_start(struct coord_zk *zk, const char *path, const char *value, size_t len,
             unsigned flags, zk_handler *finish, struct zk_req **rp)
{
    struct zk_req *r = req_new(zk, create_done);
    r->path = mem_strdup(&mem_type_zk_req, path ? path : "");
    r->value = mem_strndup(&mem_type_zk_req, value ? value : "", value ? len : 0);
    r->vlen = value ? len : 0;
    r->flags = flags;
    r->finish = finish;
    *rp = r;
}

static void
zk_create(struct coord *c, const char *path, const char *value, size_t len, unsigned flags,
          coord_done_fn *done, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_req *r;
    create_start(zk, path, value, len, flags, create_finish_user, &r);
    r->done = done;
    r->aux = aux;
    create_submit(zk, r);
}

static void
path_done(struct coord_zk *zk, struct zk_req *r)
{
    note_done(zk, r->done, r->aux, zk_error(r->rc), r->path);
}

static void
zk_set(struct coord *c, const char *path, const char *value, size_t len, int version,
       coord_done_fn *done, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_req *r = req_new(zk, path_done);
    r->path = mem_strdup(&mem_type_zk_req, path ? path : "");
    r->done = done;
    r->aux = aux;
    if (req_begin(zk, r)) {
        req_end(r, zoo_aset(zk->zh, r->path, value ? value : "", value ? (int) len : 0,
                            version, stat_done, r));
    }
}

static void
get_done(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_req *n = note_add(zk, run_get);
    n->get_cb = r->get_cb;
    n->aux = r->aux;
    n->error = zk_error(r->rc);
    n->str = r->str;
    r->str = NULL;
    n->len = r->len;
    n->version = r->version;
}

static void
zk_get(struct coord *c, const char *path, coord_get_fn *cb, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_req *r = req_new(zk, get_done);
    r->path = mem_strdup(&mem_type_zk_req, path ? path : "");
    r->get_cb = cb;
    r->aux = aux;
    if (req_begin(zk, r)) {
        req_end(r, zoo_aget(zk->zh, r->path, 0, data_done, r));
    }
}

static void
zk_delete(struct coord *c, const char *path, coord_done_fn *done, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_req *r = req_new(zk, path_done);
    r->path = mem_strdup(&mem_type_zk_req, path ? path : "");
    r->done = done;
    r->aux = aux;
    if (req_begin(zk, r)) {
        req_end(r, zoo_adelete(zk->zh, r->path, -1, void_done, r));
    }
}

static void
string_void_done(int rc, const char *value, const void *data)
{
    req_complete((struct zk_req *) data, rc);
}

static void
zk_sync(struct coord *c, const char *path, coord_done_fn *done, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_req *r = req_new(zk, path_done);
    r->path = mem_strdup(&mem_type_zk_req, path ? path : "/");
    r->done = done;
    r->aux = aux;
    if (req_begin(zk, r)) {
        req_end(r, zoo_async(zk->zh, r->path, string_void_done, r));
    }
}

/* ---- List (children with values) ---- */

static int
compare_children(const void *a_, const void *b_)
{
    const struct coord_child *a = a_, *b = b_;
    return strcmp(a->name, b->name);
}

static void
listop_free(struct zk_listop *op)
{
    for (size_t i = 0; i < op->n; i++) {
        mem_free(&mem_type_zk_req, op->names[i]);
        mem_free(&mem_type_zk_req, op->values[i]);
    }
    mem_free(&mem_type_zk_req, op->names);
    mem_free(&mem_type_zk_req, op->values);
    mem_free(&mem_type_zk_req, op->lens);
    mem_free(&mem_type_zk_req, op->versions);
    mem_free(&mem_type_zk_req, op);
}

static void
list_get_done(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_listop *op = r->listop;
    if (r->rc == ZOK) {
        op->values[r->idx] = r->str;
        r->str = NULL;
        op->lens[r->idx] = r->len;
        op->versions[r->idx] = r->version;
    } else if (r->rc != ZNONODE && !op->error) {
        op->error = zk_error(r->rc);        /* A child deleted meanwhile is just left out. */
    }
    if (--op->pending) {
        return;
    }
    list_remove(&op->node);
    struct zk_req *n = note_add(zk, run_list);
    n->list_cb = op->cb;
    n->aux = op->aux;
    n->error = op->error;
    if (!op->error) {
        n->children = mem_zalloc(&mem_type_zk_req, op->n * sizeof *n->children);
        for (size_t i = 0; i < op->n; i++) {
            if (op->values[i]) {
                struct coord_child *cc = &n->children[n->n_children++];
                cc->name = op->names[i];
                cc->value = op->values[i];
                cc->len = op->lens[i];
                cc->version = op->versions[i];
                op->names[i] = op->values[i] = NULL;
            }
        }
        qsort(n->children, n->n_children, sizeof *n->children, compare_children);
    }
    listop_free(op);
}

static void
list_children_done(struct coord_zk *zk, struct zk_req *r)
{
    if (r->rc != ZOK || !r->n_names) {
        struct zk_req *n = note_add(zk, run_list);
        n->list_cb = r->list_cb;
        n->aux = r->aux;
        n->error = zk_error(r->rc);
        return;
    }
    struct zk_listop *op = mem_zalloc(&mem_type_zk_req, sizeof *op);
    list_push_back(&zk->listops, &op->node);
    op->cb = r->list_cb;
    op->aux = r->aux;
    op->n = op->pending = r->n_names;
    op->names = r->names;
    r->names = NULL;
    r->n_names = 0;
    op->values = mem_zalloc(&mem_type_zk_req, op->n * sizeof *op->values);
    op->lens = mem_zalloc(&mem_type_zk_req, op->n * sizeof *op->lens);
    op->versions = mem_zalloc(&mem_type_zk_req, op->n * sizeof *op->versions);
    bool root = !strcmp(r->path, "/");
    for (size_t i = 0; i < op->n; i++) {
        struct zk_req *g = req_new(zk, list_get_done);
        g->listop = op;
        g->idx = i;
        g->path = mem_asprintf(&mem_type_zk_req, "%s/%s", root ? "" : r->path, op->names[i]);
        if (req_begin(zk, g)) {
            req_end(g, zoo_aget(zk->zh, g->path, 0, data_done, g));
        }
    }
}

static void
zk_list(struct coord *c, const char *path, coord_list_fn *cb, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_req *r = req_new(zk, list_children_done);
    r->path = mem_strdup(&mem_type_zk_req, path ? path : "");
    r->list_cb = cb;
    r->aux = aux;
    if (req_begin(zk, r)) {
        req_end(r, zoo_aget_children(zk->zh, r->path, 0, strings_done, r));
    }
}

/* ---- Children watches ---- */

static void watch_armed(struct coord_zk *, struct zk_req *);
static void watch_exists_armed(struct coord_zk *, struct zk_req *);

static void
watch_arm(struct coord_zk *zk, struct zk_watch *w)
{
    if (w->state != W_IDLE) {
        return;
    }
    if (zk->state != COORD_CONNECTED) {
        w->missed = true;       /* Its owner's reads fail meanwhile: tell it once armed. */
        return;
    }
    w->state = W_ARMING;
    struct zk_req *r = req_new(zk, watch_armed);
    r->watch = w;
    if (req_begin(zk, r)) {
        req_end(r, zoo_awget_children(zk->zh, w->path, zk_watcher, zk->session, strings_done,
                                      r));
    }
}

/* The watch could not be set: it is re-armed later and its owner told then. */
static void
watch_failed(struct coord_zk *zk, struct zk_watch *w, int rc)
{
    if (zk_error(rc) != ENOTCONN) {
        LOG_WARN("watch %s: %s", w->path, zerror(rc));
    }
    w->state = W_IDLE;
    w->missed = true;
    schedule_retry(zk);
}

static void
watch_set(struct coord_zk *zk, struct zk_watch *w)
{
    w->state = W_ARMED;
    if (w->missed) {
        w->missed = false;
        note_watch(zk, w);
    }
}

static void
watch_armed(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_watch *w = r->watch;
    if (r->gen != zk->gen) {
        return;                 /* The watch is re-armed for the new session. */
    }
    if (r->rc == ZOK) {
        watch_set(zk, w);
    } else if (r->rc == ZNONODE) {
        /* No such node yet: watch for its creation instead. */
        struct zk_req *x = req_new(zk, watch_exists_armed);
        x->watch = w;
        if (req_begin(zk, x)) {
            req_end(x, zoo_awexists(zk->zh, w->path, zk_watcher, zk->session, stat_done, x));
        }
    } else {
        watch_failed(zk, w, r->rc);
    }
}

static void
watch_exists_armed(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_watch *w = r->watch;
    if (r->gen != zk->gen) {
        return;
    }
    if (r->rc == ZNONODE) {
        watch_set(zk, w);       /* Fires when the node is created. */
    } else if (r->rc == ZOK) {
        /* Created meanwhile: watch its children after all. */
        w->state = W_IDLE;
        w->missed = true;
        watch_arm(zk, w);
    } else {
        watch_failed(zk, w, r->rc);
    }
}

static void
zk_watch_children(struct coord *c, const char *path, coord_watch_fn *cb, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_watch *w = mem_zalloc(&mem_type_zk, sizeof *w);
    w->path = mem_strdup(&mem_type_zk, path);
    w->cb = cb;
    w->aux = aux;
    w->state = W_IDLE;
    list_push_back(&zk->watches, &w->node);
    watch_arm(zk, w);
}

/* ---- Nodes to delete ---- */

static void orphan_delete(struct coord_zk *, struct zk_orphan *);

static void
orphan_free(struct zk_orphan *o)
{
    list_remove(&o->node);
    mem_free(&mem_type_zk, o->path);
    mem_free(&mem_type_zk, o->prefix);
    mem_free(&mem_type_zk, o);
}

static void delete_later(struct coord_zk *, const char *path, const char *prefix);

static void
orphan_done(struct coord_zk *zk, struct zk_req *r)
{
    if (r->gen != zk->gen) {
        return;                 /* The session ended: its nodes went with it. */
    }
    struct zk_orphan *o = r->orphan;
    o->busy = false;
    if (r->rc == ZOK || r->rc == ZNONODE) {
        for (size_t i = 0; o->prefix && i < r->n_names; i++) {
            if (!strncmp(r->names[i], o->prefix, strlen(o->prefix))) {
                char *child = mem_asprintf(&mem_type_zk_req, "%s/%s", o->path, r->names[i]);
                delete_later(zk, child, NULL);
                mem_free(&mem_type_zk_req, child);
            }
        }
        orphan_free(o);
    } else {
        if (zk_error(r->rc) != ENOTCONN) {
            LOG_WARN("delete %s: %s", o->path, zerror(r->rc));
        }
        schedule_retry(zk);
    }
}

static void
orphan_delete(struct coord_zk *zk, struct zk_orphan *o)
{
    if (o->busy || zk->state != COORD_CONNECTED) {
        return;
    }
    o->busy = true;
    struct zk_req *d = req_new(zk, orphan_done);
    d->orphan = o;
    if (req_begin(zk, d)) {
        req_end(d, o->prefix ? zoo_aget_children(zk->zh, o->path, 0, strings_done, d)
                             : zoo_adelete(zk->zh, o->path, -1, void_done, d));
    }
}

/* Deletes our node PATH (or PATH's children named PREFIX...) now, or as soon as we are
 * connected again. */
static void
delete_later(struct coord_zk *zk, const char *path, const char *prefix)
{
    struct zk_orphan *o = mem_zalloc(&mem_type_zk, sizeof *o);
    o->path = mem_strdup(&mem_type_zk, path);
    o->prefix = prefix ? mem_strdup(&mem_type_zk, prefix) : NULL;
    list_push_back(&zk->orphans, &o->node);
    orphan_delete(zk, o);
}

/* ---- Elections ---- */

static void el_kick(struct coord_zk *, struct zk_election *);
static void el_check(struct coord_zk *, struct zk_election *);

static int64_t
session_ns(const struct coord_zk *zk)
{
    return (int64_t) zk->session_ms * NS_PER_MS;
}

static void
election_free(struct zk_election *e)
{
    list_remove(&e->list_node);
    event_free(e->renew_ev);
    event_free(e->lease_ev);
    mem_free(&mem_type_zk, e->path);
    mem_free(&mem_type_zk, e->id);
    mem_free(&mem_type_zk, e->node);
    mem_free(&mem_type_zk, e->watched);
    mem_free(&mem_type_zk, e);
}

/* A reply for E came back: whether E is still interested in replies of EPOCH.  Frees E when
 * it resigned and this was its last request in flight. */
static bool
el_reply(struct zk_election *e, unsigned epoch)
{
    e->refs--;
    if (e->resigned) {
        if (!e->refs) {
            election_free(e);
        }
        return false;
    }
    return epoch == e->epoch;
}

static struct zk_req *
el_req(struct coord_zk *zk, struct zk_election *e, zk_handler *handle)
{
    struct zk_req *r = req_new(zk, handle);
    r->election = e;
    r->epoch = e->epoch;
    e->refs++;
    return r;
}

/* Whether E may act as leader right now. */
static bool
el_leading(const struct zk_election *e)
{
    return !e->resigned && e->elected && now_ns() < e->lease_end;
}

/* Reports E's leadership to its owner when it changed. */
static void
el_report(struct coord_zk *zk, struct zk_election *e)
{
    bool leader = el_leading(e);
    if (e->reported != (int) leader) {
        LOG_INFO("election %s: %s is %s", e->path, e->id, leader ? "leader" : "follower");
        e->reported = leader;
        if (e->cb) {
            struct zk_req *n = note_add(zk, run_leader);
            n->leader_cb = e->cb;
            n->aux = e->aux;
            n->leader = leader;
            n->election = e;
        }
    }
}

/* A round trip sent at SENT succeeded: the session lives until at least a full timeout after
 * it; we act as leader for 2/3 of that. */
static void
el_lease_confirm(struct coord_zk *zk, struct zk_election *e, int64_t sent)
{
    int64_t end = sent + session_ns(zk) * 2 / 3;
    if (end > e->lease_end) {
        e->lease_end = end;
    }
    struct timeval tv = ns_to_tv(e->lease_end - now_ns());
    evtimer_add(e->lease_ev, &tv);
}

static void
el_lease_timer(evutil_socket_t fd, short what, void *aux)
{
    struct zk_election *e = aux;
    el_report(e->zk, e);
}

/* We lost our node (session gone, or someone deleted it). */
static void
el_lost_node(struct coord_zk *zk, struct zk_election *e)
{
    mem_free(&mem_type_zk, e->node);
    e->node = NULL;
    mem_free(&mem_type_zk, e->watched);
    e->watched = NULL;
    e->elected = false;
    e->lease_end = 0;
    evtimer_del(e->renew_ev);
    evtimer_del(e->lease_ev);
    el_report(zk, e);
}

static void
el_renewed(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_election *e = r->election;
    if (!el_reply(e, r->epoch)) {
        return;
    }
    e->renewing = false;
    if (!e->node || strcmp(e->node, r->path)) {
        /* About a node we no longer hold. */
    } else if (r->rc == ZOK) {
        if (e->elected) {
            el_lease_confirm(zk, e, r->sent);
        }
    } else if (r->rc == ZNONODE) {
        LOG_WARN("election %s: node %s is gone", e->path, e->node);
        el_lost_node(zk, e);
        el_kick(zk, e);
        return;
    }
    el_report(zk, e);
}

static void
el_renew_timer(evutil_socket_t fd, short what, void *aux)
{
    struct zk_election *e = aux;
    struct coord_zk *zk = e->zk;
    if (!e->elected || !e->node) {
        return;
    }
    struct timeval tv = ns_to_tv(session_ns(zk) / 3);
    evtimer_add(e->renew_ev, &tv);
    if (!e->renewing && zk->state == COORD_CONNECTED) {
        e->renewing = true;
        struct zk_req *r = el_req(zk, e, el_renewed);
        r->path = mem_strdup(&mem_type_zk_req, e->node);
        if (req_begin(zk, r)) {
            req_end(r, zoo_aexists(zk->zh, r->path, 0, stat_done, r));
        }
    }
    el_report(zk, e);
}

/* Work that failed: redo when connected. */
static void
el_failed(struct coord_zk *zk, struct zk_election *e, const char *what, int rc)
{
    if (zk_error(rc) != ENOTCONN) {
        LOG_WARN("election %s: %s: %s", e->path, what, zerror(rc));
    }
    e->stale = true;
    schedule_retry(zk);
}

/* After a request of E returned: run the check that was asked for meanwhile. */
static void
el_idle(struct coord_zk *zk, struct zk_election *e)
{
    e->busy = false;
    if (e->recheck) {
        e->recheck = false;
        if (e->node) {
            el_check(zk, e);
        } else {
            el_kick(zk, e);
        }
    }
}

static void
el_watch_set(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_election *e = r->election;
    if (!el_reply(e, r->epoch)) {
        return;
    }
    if (r->rc == ZNONODE) {
        e->recheck = true;      /* The next lower contender left already. */
    } else if (r->rc != ZOK) {
        el_failed(zk, e, "watch", r->rc);
    }
    el_idle(zk, e);
}

/* Sequence number of contender node NAME, or -1 if NAME is not one. */
static long long
el_seq(const char *name)
{
    const char *lock = strstr(name, "__lock__");
    if (!lock || !lock[8]) {
        return -1;
    }
    char *end;
    long long seq = strtoll(lock + 8, &end, 10);
    return *end ? -1 : seq;
}

static void
el_checked(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_election *e = r->election;
    if (!el_reply(e, r->epoch)) {
        return;
    }
    if (r->rc != ZOK && r->rc != ZNONODE) {
        el_failed(zk, e, "list", r->rc);
        el_idle(zk, e);
        return;
    }
    const char *mine = e->node ? strrchr(e->node, '/') + 1 : "";
    long long my_seq = el_seq(mine), lowest = -1, below = -1;
    const char *pred = NULL;
    bool found = false;
    for (size_t i = 0; i < r->n_names; i++) {
        long long seq = el_seq(r->names[i]);
        if (seq < 0) {
            continue;
        }
        if (!strcmp(r->names[i], mine)) {
            found = true;
        }
        if (lowest < 0 || seq < lowest) {
            lowest = seq;
        }
        if (seq < my_seq && seq > below) {
            below = seq;
            pred = r->names[i];
        }
    }
    if (!found) {
        if (e->node) {
            LOG_WARN("election %s: node %s is gone", e->path, e->node);
        }
        el_lost_node(zk, e);
        e->busy = false;
        e->recheck = false;
        el_kick(zk, e);
        return;
    }
    if (my_seq == lowest) {
        if (!e->elected) {
            e->elected = true;
            struct timeval tv = ns_to_tv(session_ns(zk) / 3);
            evtimer_add(e->renew_ev, &tv);
        }
        mem_free(&mem_type_zk, e->watched);
        e->watched = NULL;
        el_lease_confirm(zk, e, r->sent);
        el_report(zk, e);
        el_idle(zk, e);
        return;
    }

    /* Not first (any more): wait for the next lower contender to go. */
    e->elected = false;
    evtimer_del(e->renew_ev);
    el_report(zk, e);
    mem_free(&mem_type_zk, e->watched);
    e->watched = mem_asprintf(&mem_type_zk, "%s/%s", e->path, pred);
    struct zk_req *x = el_req(zk, e, el_watch_set);
    if (req_begin(zk, x)) {
        req_end(x, zoo_awexists(zk->zh, e->watched, zk_watcher, zk->session, stat_done, x));
    }
}

static void
el_check(struct coord_zk *zk, struct zk_election *e)
{
    if (e->busy) {
        e->recheck = true;
        return;
    }
    if (zk->state != COORD_CONNECTED) {
        e->stale = true;
        return;
    }
    e->busy = true;
    e->stale = false;
    struct zk_req *r = el_req(zk, e, el_checked);
    if (req_begin(zk, r)) {
        req_end(r, zoo_aget_children(zk->zh, e->path, 0, strings_done, r));
    }
}

static void
el_created(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_election *e = r->election;
    if (e->resigned && r->gen == zk->gen) {
        /* Resigned while joining: take the node back (if the answer was lost, look for it). */
        if (r->rc == ZOK && r->str) {
            delete_later(zk, r->str, NULL);
        } else if (zk_error(r->rc) == ENOTCONN) {
            delete_later(zk, e->path, e->prefix);
        }
    }
    if (!el_reply(e, r->epoch)) {
        return;
    }
    e->busy = false;
    if (r->rc == ZOK && r->str) {
        e->node = mem_strdup(&mem_type_zk, r->str);
        e->maybe_created = false;
        e->recheck = false;
        LOG_INFO("election %s: %s joined as %s", e->path, e->id, e->node);
        el_check(zk, e);
        return;
    }
    if (zk_error(r->rc) == EINVAL) {
        LOG_ERR("election %s: %s cannot join: %s", e->path, e->id, zerror(r->rc));
        e->invalid = true;
        el_report(zk, e);
        return;
    }
    if (zk_error(r->rc) == ENOTCONN) {
        e->maybe_created = true;
    }
    el_failed(zk, e, "join", r->rc);
}

/* Looking for a node we may have made before a connection loss. */
static void
el_join_listed(struct coord_zk *zk, struct zk_req *r)
{
    struct zk_election *e = r->election;
    if (e->resigned && r->gen == zk->gen) {
        delete_later(zk, e->path, e->prefix);
    }
    if (!el_reply(e, r->epoch)) {
        return;
    }
    e->busy = false;
    if (r->rc != ZOK && r->rc != ZNONODE) {
        el_failed(zk, e, "list", r->rc);
        return;
    }
    e->maybe_created = false;
    for (size_t i = 0; i < r->n_names; i++) {
        if (!strncmp(r->names[i], e->prefix, strlen(e->prefix))) {
            e->node = mem_asprintf(&mem_type_zk, "%s/%s", e->path, r->names[i]);
            LOG_INFO("election %s: %s found its node %s", e->path, e->id, e->node);
            el_check(zk, e);
            return;
        }
    }
    el_kick(zk, e);
}

/* Joins E's election (makes its node) or redoes a failed check, when connected. */
static void
el_kick(struct coord_zk *zk, struct zk_election *e)
{
    if (e->resigned || e->invalid || e->busy || zk->state != COORD_CONNECTED) {
        return;
    }
    if (e->node) {
        if (e->stale) {
            el_check(zk, e);
        }
        return;
    }
    e->busy = true;
    if (e->maybe_created) {
        struct zk_req *r = el_req(zk, e, el_join_listed);
        if (req_begin(zk, r)) {
            req_end(r, zoo_aget_children(zk->zh, e->path, 0, strings_done, r));
        }
        return;
    }
    char *prefix = mem_asprintf(&mem_type_zk_req, "%s/%s", e->path, e->prefix);
    struct zk_req *r;
    create_start(zk, prefix, e->id, strlen(e->id), COORD_EPHEMERAL | COORD_SEQUENCE,
                 el_created, &r);
    mem_free(&mem_type_zk_req, prefix);
    r->election = e;
    r->epoch = e->epoch;
    e->refs++;
    create_submit(zk, r);
}

static struct coord_election *
zk_elect(struct coord *c, const char *path, const char *id, coord_leader_fn *cb, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    struct zk_election *e = mem_zalloc(&mem_type_zk, sizeof *e);
    e->up.coord = c;
    e->zk = zk;
    e->path = mem_strdup(&mem_type_zk, path);
    e->id = mem_strdup(&mem_type_zk, id ? id : "");
    e->cb = cb;
    e->aux = aux;
    e->reported = -1;
    e->renew_ev = evtimer_new(zk->base, el_renew_timer, e);
    e->lease_ev = evtimer_new(zk->base, el_lease_timer, e);

    char uuid[UUID_LEN + 1];
    uuid_generate(uuid);
    size_t k = 0;
    for (const char *s = uuid; *s; s++) {
        if (*s != '-') {
            e->prefix[k++] = *s;
        }
    }
    strcpy(e->prefix + k, "__lock__");
    list_push_back(&zk->elections, &e->list_node);
    el_kick(zk, e);
    return &e->up;
}

static bool
zk_is_leader(const struct coord_election *e_)
{
    const struct zk_election *e = CONTAINER_OF(e_, struct zk_election, up);
    return e->reported == 1 && el_leading(e);
}

static void
zk_resign(struct coord_election *e_)
{
    struct zk_election *e = CONTAINER_OF(e_, struct zk_election, up);
    struct coord_zk *zk = e->zk;
    struct zk_req *n;
    LIST_FOR_EACH_SAFE (n, node, &zk->notes) {
        if (n->election == e) {
            list_remove(&n->node);
            req_free(n);
        }
    }
    evtimer_del(e->renew_ev);
    evtimer_del(e->lease_ev);
    if (e->node) {
        LOG_INFO("election %s: %s resigns", e->path, e->id);
        delete_later(zk, e->node, NULL);
    } else if (e->maybe_created && !e->busy) {
        delete_later(zk, e->path, e->prefix);  /* A create lost with the connection. */
    }
    e->resigned = true;
    e->cb = NULL;
    e->elected = false;
    if (!e->refs) {
        election_free(e);
    }
}

/* ---- Sessions ---- */

static void
resume(struct coord_zk *zk)
{
    struct zk_orphan *o;
    LIST_FOR_EACH_SAFE (o, node, &zk->orphans) {
        orphan_delete(zk, o);
    }
    struct zk_watch *w;
    LIST_FOR_EACH (w, node, &zk->watches) {
        watch_arm(zk, w);
    }
    struct zk_election *e;
    LIST_FOR_EACH_SAFE (e, list_node, &zk->elections) {
        el_kick(zk, e);
    }
}

static int
session_open(struct coord_zk *zk)
{
    zk->gen++;
    zk->session = mem_zalloc(&mem_type_zk, sizeof *zk->session);
    zk->session->zk = zk;
    zk->session->gen = zk->gen;
    errno = 0;
    zk->zh = zookeeper_init2(zk->hosts, zk_watcher, zk->requested_ms, NULL, zk->session, 0,
                             zk_log);
    if (!zk->zh) {
        int error = errno ? errno : EINVAL;
        mem_free(&mem_type_zk, zk->session);
        zk->session = NULL;
        return error;
    }
    return 0;
}

/* Waits a little for the answers to the requests in flight: the library leaks the completion
 * records of requests still pending when its handle is closed. */
static void
drain(struct coord_zk *zk)
{
    int64_t deadline = now_ns() + (zk->session_ms < 3000 ? zk->session_ms : 3000) * NS_PER_MS;
    for (;;) {
        pthread_mutex_lock(&zk->mutex);
        bool idle = list_is_empty(&zk->inflight);
        pthread_mutex_unlock(&zk->mutex);
        if (idle || now_ns() > deadline) {
            break;
        }
        usleep(1000);
    }
}

/* Closes the current handle: the library finishes with every request it was given. */
static void
session_close(struct coord_zk *zk)
{
    if (zk->zh) {
        drain(zk);
        zookeeper_close(zk->zh);
        zk->zh = NULL;
    }
    /* Requests the library dropped without completing them. */
    pthread_mutex_lock(&zk->mutex);
    struct zk_req *r;
    LIST_FOR_EACH_SAFE (r, node, &zk->inflight) {
        r->completed = true;
        r->rc = ZCLOSING;
        list_remove(&r->node);
        list_push_back(&zk->done, &r->node);
    }
    pthread_mutex_unlock(&zk->mutex);
    zk_signal(zk);
    mem_free(&mem_type_zk, zk->session);
    zk->session = NULL;
}

/* The session expired (or was refused): whatever it held is gone.  Leaders stop first, then
 * a new session is opened. */
static void
session_lost(struct coord_zk *zk, const char *why)
{
    LOG_WARN("%s: session %#llx %s, opening a new one", zk->hosts,
             (unsigned long long) zk->session_id, why);
    struct zk_election *e;
    LIST_FOR_EACH (e, list_node, &zk->elections) {
        if (e->resigned) {
            continue;
        }
        e->epoch++;
        e->busy = e->recheck = e->stale = e->maybe_created = e->renewing = false;
        el_lost_node(zk, e);
    }
    struct zk_watch *w;
    LIST_FOR_EACH (w, node, &zk->watches) {
        w->state = W_IDLE;
        w->missed = true;
    }
    set_state(zk, COORD_EXPIRED);
    session_close(zk);
    struct zk_orphan *o;
    LIST_FOR_EACH_SAFE (o, node, &zk->orphans) {
        orphan_free(o);         /* Gone with the session. */
    }
    int error = session_open(zk);
    if (error) {
        LOG_ERR("%s: %s", zk->hosts, strerror(error));
        schedule_retry(zk);
    }
    set_state(zk, COORD_CONNECTING);
}

static void
session_event(struct coord_zk *zk, int state)
{
    if (state == ZOO_CONNECTED_STATE) {
        const clientid_t *id = zoo_client_id(zk->zh);
        int timeout = zoo_recv_timeout(zk->zh);
        if (timeout > 0) {
            zk->session_ms = timeout;
        }
        if (id && id->client_id != zk->session_id) {
            LOG_INFO("%s: session %#llx, timeout %d ms", zk->hosts,
                     (unsigned long long) id->client_id, zk->session_ms);
            zk->session_id = id->client_id;
        }
        set_state(zk, COORD_CONNECTED);
        resume(zk);
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        session_lost(zk, "expired");
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        session_lost(zk, "failed authentication");
    } else {
        set_state(zk, COORD_CONNECTING);
    }
}

/* A watch event for PATH: tell the children watches, wake the elections waiting on it. */
static void
watch_event(struct coord_zk *zk, int type, const char *path)
{
    if (type == ZOO_CHILD_EVENT || type == ZOO_DELETED_EVENT || type == ZOO_CREATED_EVENT
        || type == ZOO_NOTWATCHING_EVENT) {
        struct zk_watch *w;
        LIST_FOR_EACH (w, node, &zk->watches) {
            if (!strcmp(w->path, path) && w->state == W_ARMED) {
                /* Re-armed before the owner lists again: requests are answered in order,
                 * so nothing falls between the two. */
                w->state = W_IDLE;
                w->missed = false;
                note_watch(zk, w);
                watch_arm(zk, w);
            } else if (!strcmp(w->path, path)) {
                w->missed = true;
            }
        }
    }
    struct zk_election *e;
    LIST_FOR_EACH_SAFE (e, list_node, &zk->elections) {
        if (!e->resigned && e->watched && !strcmp(e->watched, path)) {
            mem_free(&mem_type_zk, e->watched);
            e->watched = NULL;
            el_check(zk, e);
        }
    }
}

static void
handle_event(struct coord_zk *zk, struct zk_req *r)
{
    if (r->gen != zk->gen) {
        return;                 /* From a handle closed since. */
    }
    if (r->type == ZOO_SESSION_EVENT) {
        session_event(zk, r->zstate);
    } else {
        watch_event(zk, r->type, r->str);
    }
}

static void
zk_retry(evutil_socket_t fd, short what, void *aux)
{
    struct coord_zk *zk = aux;
    if (!zk->zh) {
        int error = session_open(zk);
        if (error) {
            LOG_ERR("%s: %s", zk->hosts, strerror(error));
            schedule_retry(zk);
        }
        return;
    }
    resume(zk);
}

/* ---- Instance ---- */

static void zk_close(struct coord *);

static int
zk_open(struct event_base *base, const char *hosts, int session_timeout_ms,
        struct coord **coordp, char *err, size_t errlen)
{
    struct coord_zk *zk = mem_zalloc(&mem_type_zk, sizeof *zk);
    zk->up.class = &coord_zk_class;
    zk->base = base;
    zk->hosts = mem_strdup(&mem_type_zk, hosts);
    zk->requested_ms = zk->session_ms = session_timeout_ms;
    zk->state = COORD_CONNECTING;
    pthread_mutex_init(&zk->mutex, NULL);
    list_init(&zk->inflight);
    list_init(&zk->done);
    list_init(&zk->notes);
    list_init(&zk->watches);
    list_init(&zk->elections);
    list_init(&zk->listops);
    list_init(&zk->orphans);
    zk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (zk->efd < 0) {
        int error = errno;
        snprintf(err, errlen, "coordination zk:%s: eventfd: %s", hosts, strerror(error));
        zk_close(&zk->up);
        return error;
    }
    zk->ev = event_new(base, zk->efd, EV_READ | EV_PERSIST, zk_deliver, zk);
    event_add(zk->ev, NULL);
    zk->retry_ev = evtimer_new(base, zk_retry, zk);
    int error = session_open(zk);
    if (error) {
        snprintf(err, errlen, "coordination zk:%s: cannot use the server list: %s", hosts,
                 strerror(error));
        zk_close(&zk->up);
        return error;
    }
    *coordp = &zk->up;
    return 0;
}

static void
zk_close(struct coord *c)
{
    struct coord_zk *zk = zk_cast(c);
    if (zk->alive) {
        *zk->alive = false;
    }
    /* Ends the session: the server drops our ephemerals (and contender nodes) now. */
    if (zk->zh) {
        session_close(zk);
    }

    /* Nothing is called back from here on. */
    struct list drop;
    list_init(&drop);
    pthread_mutex_lock(&zk->mutex);
    struct zk_req *r;
    LIST_FOR_EACH_SAFE (r, node, &zk->done) {
        list_remove(&r->node);
        list_push_back(&drop, &r->node);
    }
    LIST_FOR_EACH_SAFE (r, node, &zk->inflight) {
        list_remove(&r->node);
        list_push_back(&drop, &r->node);
    }
    pthread_mutex_unlock(&zk->mutex);
    LIST_FOR_EACH_SAFE (r, node, &zk->notes) {
        list_remove(&r->node);
        list_push_back(&drop, &r->node);
    }
    LIST_FOR_EACH_SAFE (r, node, &drop) {
        list_remove(&r->node);
        req_free(r);
    }
    struct zk_listop *op;
    LIST_FOR_EACH_SAFE (op, node, &zk->listops) {
        list_remove(&op->node);
        listop_free(op);
    }
    struct zk_watch *w;
    LIST_FOR_EACH_SAFE (w, node, &zk->watches) {
        list_remove(&w->node);
        mem_free(&mem_type_zk, w->path);
        mem_free(&mem_type_zk, w);
    }
    struct zk_election *e;
    LIST_FOR_EACH_SAFE (e, list_node, &zk->elections) {
        election_free(e);
    }
    struct zk_orphan *o;
    LIST_FOR_EACH_SAFE (o, node, &zk->orphans) {
        orphan_free(o);
    }
    if (zk->retry_ev) {
        event_free(zk->retry_ev);
    }
    if (zk->ev) {
        event_free(zk->ev);
    }
    if (zk->efd >= 0) {
        close(zk->efd);
    }
    pthread_mutex_destroy(&zk->mutex);
    mem_free(&mem_type_zk, zk->session);
    mem_free(&mem_type_zk, zk->hosts);
    mem_free(&mem_type_zk, zk);
}

static enum coord_state
zk_state(const struct coord *c)
{
    return zk_cast(c)->state;
}

static void
zk_set_state_cb(struct coord *c, coord_state_fn *cb, void *aux)
{
    struct coord_zk *zk = zk_cast(c);
    zk->state_cb = cb;
    zk->state_aux = aux;
}

const struct coord_class coord_zk_class = {
    .name = "zk",
    .open = zk_open,
    .close = zk_close,
    .state = zk_state,
    .set_state_cb = zk_set_state_cb,
    .create = zk_create,
    .set = zk_set,
    .sync = zk_sync,
    .get = zk_get,
    .delete = zk_delete,
    .list = zk_list,
    .watch_children = zk_watch_children,
    .elect = zk_elect,
    .is_leader = zk_is_leader,
    .resign = zk_resign,
};
