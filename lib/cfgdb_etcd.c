/* cfgdb_etcd: the config store in an etcd 3.4 cluster, shared by several API servers.
 *
 * Spec: "etcd:URL,URL,...[?prefix=/contrail/&timeout=5&conns=4]".  Every key lives under
 * the root PREFIX (default "/contrail/"), so that deployments or test runs can share a
 * cluster; callers never see it.  TIMEOUT (seconds) bounds every request, CONNS is how many
 * requests may be on the wire at once.
 *
 * A batch is one etcd transaction: its checks become the transaction's comparisons
 * (absent: version 0; revision: mod_revision equal; prefix revision: mod_revision below
 * REV + 1 over the prefix's range), its puts and deletes the success branch.  A batch
 * bigger than the cluster's --max-txn-ops (default 128) or --max-request-bytes is refused
 * with E2BIG: start etcd with larger limits (our tests use 10000 and 32 MiB), since splitting
 * the batch would lose its atomicity.
 *
 * Every transaction that writes also puts the root key itself (the "marker"; cfgdb keys are
 * never empty, so it is no cfgdb key), whose mod_revision is thus the revision of the last
 * batch any cfgdb client wrote.  That makes a barrier one linearizable read: read the marker
 * (revision M, store revision R), then wait until the watch stream, which covers the whole
 * root range and so sees the marker too, has delivered revision M; after M nothing under the
 * root changed up to R.  etcd 3.4's gateway offers nothing better: a progress_request can
 * only be sent in the request body before the first answer (HTTP/1 gives no full duplex),
 * and 3.4.23 answers it before the events of a watcher that is catching up.  Keys written
 * under the root by other tools (etcdctl) do not move the marker: a barrier may then complete
 * before their events arrive.
 *
 * Batches are pipelined (CONNS on the wire at once) and may complete in any order, but a
 * batch that writes or checks a key (or a prefix) of an earlier batch not yet completed is
 * held until that one completes, so that batches on the same objects apply in submission
 * order, as with the SQLite backend.
 *
 * One watch stream per handle serves every cfgdb_watch (each filters by its prefix and skips
 * what it has seen), so a barrier waits on one position.  On a lost stream the handle moves
 * to another member and resumes after the last revision delivered; when etcd says that
 * history was compacted, every watcher gets CFGDB_EV_RESYNC (REV: the revision the watch
 * continues after) and must rescan.
 *
 * Failures: see etcd_client.h.  A write is retried on another member only when it cannot
 * have been applied (connection refused, "no leader"); once it may have reached a member
 * (connection lost after sending, no answer in time, "request timed out") the batch
 * completes with ETIMEDOUT, which means "may or may not have been applied": the caller
 * rescans or re-reads (a retried batch with preconditions would report a false EEXIST).
 * Scans run a private event loop with their own connection.  cfgdb_close() waits for the
 * batches on the wire; it must not be called from inside a watch callback. */
#include "cfgdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "etcd_client.h"
#include "hmap.h"
#include "list.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(cfgdb_etcd);

static MEM_TYPE(mem_type_etcd_db, "cfgdb_etcd");

#define DEFAULT_ROOT "/contrail/"
#define SCAN_PAGE 1000

struct etcd_watcher {
    struct list node;
    char *prefix;               /* Full key prefix, root included. */
    size_t prefix_len;
    uint64_t rev;               /* Everything up to here was delivered. */
    cfgdb_watch_fn *cb;
    void *aux;
};

struct etcd_barrier {
    struct list node;           /* In db->barriers while waiting for the watch. */
    struct cfgdb_etcd *db;
    cfgdb_done_fn *done;
    void *aux;
    uint64_t rev;               /* Store revision read. */
    uint64_t target;            /* Last cfgdb write (the marker's mod_revision). */
    struct event *deadline;
    bool waiting;
};

/* A key a batch writes or checks. */
struct commit_key {
    struct hmap_node node;
    char *key;
};

struct etcd_commit {
    struct list node;           /* In db->commits, in submission order (if listed). */
    struct cfgdb_etcd *db;
    cfgdb_done_fn *done;
    void *aux;
    size_t n_ops;
    struct event *ev;           /* Immediate failures, reported from the loop. */
    int error;
    struct hmap keys;           /* Of struct commit_key. */
    char **prefixes;            /* Prefix checks. */
    size_t n_prefixes;
    json_t *txn;                /* The request, until sent. */
    bool idempotent;            /* Writes nothing. */
    bool listed;
    bool sent;
};

struct cfgdb_etcd {
    struct cfgdb up;
    struct event_base *base;
    struct etcd_client *client;
    char *endpoints;
    double timeout_s;
    int conns;
    char *root;                 /* The root prefix (also the marker key). */
    size_t root_len;
    char *root_b64, *root_end_b64;
    char *writer;               /* The marker's value: who wrote last (for humans). */

    struct list watchers;
    struct etcd_stream *stream;
    unsigned stream_gen;        /* Bumped on every (re)start: stale messages stop. */
    bool stream_up;             /* The current stream's watch is created. */
    bool resync;                /* Restarting after a compaction. */
    uint64_t progress;          /* The stream delivered every event up to here. */
    struct event *reconnect;
    unsigned backoff_ms;

    struct list barriers;
    struct list commits;        /* Batches not completed, in submission order. */
    size_t n_inflight;          /* Commits not completed. */
    bool stopping;              /* In close: no more barriers or watch. */
    bool closing;               /* In close, past waiting: no more batches sent. */

    uint64_t n_txns, n_timeouts, n_watch_reconnects, n_resyncs, n_events, n_barriers;
    uint64_t n_held;            /* Batches that waited for an earlier one. */
};

static struct cfgdb_etcd *
cfgdb_etcd_cast(const struct cfgdb *db)
{
    return (struct cfgdb_etcd *) db;
}

static char *
b64(const char *s, size_t len)
{
    return base64_encode(s, len);
}

/* Base64 of the root followed by KEY. */
static char *
b64_key(const struct cfgdb_etcd *db, const char *key)
{
    char *full = mem_asprintf(&mem_type_string, "%s%s", db->root, key);
    char *out = b64(full, strlen(full));
    xfree(full);
    return out;
}

static void etcd_close(struct cfgdb *);
static void reconnect_cb(evutil_socket_t, short, void *);

static int
parse_spec(struct cfgdb_etcd *db, const char *spec, char *err, size_t errlen)
{
    const char *q = strchr(spec, '?');
    db->endpoints = q ? mem_strndup(&mem_type_etcd_db, spec, (size_t) (q - spec))
                      : mem_strdup(&mem_type_etcd_db, spec);
    db->root = mem_strdup(&mem_type_etcd_db, DEFAULT_ROOT);
    db->timeout_s = 5;
    db->conns = 4;
    if (!q) {
        return 0;
    }
    char *opts = xstrdup(q + 1);
    char *save = NULL;
    int error = 0;
    for (char *kv = strtok_r(opts, "&", &save); kv && !error; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        const char *val = eq ? eq + 1 : "";
        if (eq) {
            *eq = '\0';
        }
        char *end = NULL;
        if (!strcmp(kv, "prefix") && *val) {
            mem_free(&mem_type_etcd_db, db->root);
            db->root = mem_strdup(&mem_type_etcd_db, val);
        } else if (!strcmp(kv, "timeout") && (db->timeout_s = strtod(val, &end)) > 0 && !*end) {
            continue;
        } else if (!strcmp(kv, "conns") && (db->conns = (int) strtol(val, &end, 10)) > 0
                   && !*end) {
            continue;
        } else {
            snprintf(err, errlen, "config_db etcd:%s: bad option \"%s\" (use prefix=/root/, "
                     "timeout=SECONDS, conns=N)", spec, kv);
            error = EINVAL;
        }
    }
    xfree(opts);
    return error;
}

static int
etcd_open(struct event_base *base, const char *spec, struct cfgdb **dbp, char *err,
          size_t errlen)
{
    struct cfgdb_etcd *db = mem_zalloc(&mem_type_etcd_db, sizeof *db);
    db->up.class = &cfgdb_etcd_class;
    db->base = base;
    list_init(&db->watchers);
    list_init(&db->barriers);
    list_init(&db->commits);
    int error = parse_spec(db, spec, err, errlen);
    if (!error) {
        db->client = etcd_client_create(base, db->endpoints, db->timeout_s, db->conns, err,
                                        errlen);
        error = db->client ? 0 : EINVAL;
    }
    if (error) {
        etcd_close(&db->up);
        return error;
    }
    db->root_len = strlen(db->root);
    db->root_b64 = b64(db->root, db->root_len);
    size_t end_len;
    char *end = etcd_prefix_end(db->root, db->root_len, &end_len);
    db->root_end_b64 = b64(end, end_len);
    xfree(end);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    db->writer = mem_asprintf(&mem_type_etcd_db, "%s:%d:%llx", host, (int) getpid(),
                              (unsigned long long) (uintptr_t) db);
    db->reconnect = evtimer_new(base, reconnect_cb, db);
    *dbp = &db->up;
    return 0;
}

/* Barriers. */

static void
barrier_finish(struct etcd_barrier *b, int error, uint64_t rev)
{
    if (b->waiting) {
        list_remove(&b->node);
    }
    if (b->deadline) {
        event_free(b->deadline);
    }
    cfgdb_done_fn *done = b->done;
    void *aux = b->aux;
    mem_free(&mem_type_etcd_db, b);
    done(aux, error, rev);
}

static void
barriers_check(struct cfgdb_etcd *db)
{
    struct etcd_barrier *b;
    LIST_FOR_EACH_SAFE (b, node, &db->barriers) {
        if (b->target <= db->progress) {
            barrier_finish(b, 0, b->rev);
        }
    }
}

/* Watch stream. */

static void
stream_restart(struct cfgdb_etcd *db, unsigned delay_ms)
{
    etcd_stream_close(db->stream);
    db->stream = NULL;
    db->stream_up = false;
    db->stream_gen++;
    struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
    evtimer_add(db->reconnect, &tv);
}

static void
deliver_event(struct cfgdb_etcd *db, const json_t *ev, unsigned gen)
{
    const json_t *kv = json_object_get(ev, "kv");
    const char *type = json_string_value(json_object_get(ev, "type"));
    bool del = type && !strcmp(type, "DELETE");
    uint64_t rev = etcd_json_u64(kv, "mod_revision");
    const char *key64 = json_string_value(json_object_get(kv, "key"));
    if (!key64 || rev <= db->progress) {
        return;                 /* Seen before the stream restarted. */
    }
    size_t klen;
    char *key = base64_decode(key64, &klen);
    if (!key) {
        LOG_WARN("watch: bad key %s", key64);
        return;
    }
    db->n_events++;
    char *value = NULL;
    if (!del) {
        const char *v64 = json_string_value(json_object_get(kv, "value"));
        value = base64_decode(v64 ? v64 : "", NULL);
        if (!value) {
            value = xstrdup("");
        }
    }
    if (klen > db->root_len && !memcmp(key, db->root, db->root_len)) {
        struct etcd_watcher *w;
        LIST_FOR_EACH_SAFE (w, node, &db->watchers) {
            if (w->rev < rev && klen >= w->prefix_len
                && !memcmp(key, w->prefix, w->prefix_len)) {
                w->cb(w->aux, del ? CFGDB_EV_DELETE : CFGDB_EV_PUT, key + db->root_len, value,
                      rev);
                if (gen != db->stream_gen) {
                    break;      /* A callback restarted the stream. */
                }
            }
        }
    }
    xfree(key);
    xfree(value);
}

/* Records that the stream delivered every event up to REV. */
static void
advance(struct cfgdb_etcd *db, uint64_t rev)
{
    if (rev > db->progress) {
        db->progress = rev;
        struct etcd_watcher *w;
        LIST_FOR_EACH_SAFE (w, node, &db->watchers) {
            if (w->rev < rev) {
                w->rev = rev;
            }
        }
        barriers_check(db);
    }
}

static void
stream_msg(void *aux, json_t *msg)
{
    struct cfgdb_etcd *db = aux;
    const json_t *r = json_object_get(msg, "result");
    if (!r) {
        return;
    }
    unsigned gen = db->stream_gen;
    const json_t *header = json_object_get(r, "header");
    if (json_is_true(json_object_get(r, "created"))) {
        db->stream_up = true;
        db->backoff_ms = 0;
        if (db->resync) {
            /* Compacted history: start over from the revision the watch continues after. */
            db->resync = false;
            db->progress = etcd_json_u64(header, "revision");
            struct etcd_watcher *w;
            LIST_FOR_EACH_SAFE (w, node, &db->watchers) {
                if (w->rev < db->progress) {
                    w->rev = db->progress;
                    w->cb(w->aux, CFGDB_EV_RESYNC, NULL, NULL, db->progress);
                    if (gen != db->stream_gen) {
                        return;
                    }
                }
            }
            barriers_check(db);
        }
    }
    if (json_is_true(json_object_get(r, "canceled"))) {
        uint64_t compact = etcd_json_u64(r, "compact_revision");
        if (compact) {
            LOG_WARN("watch from revision %llu: history compacted up to %llu, resync",
                     (unsigned long long) db->progress + 1, (unsigned long long) compact);
            db->n_resyncs++;
            db->resync = true;
            stream_restart(db, 0);
        } else {
            const char *why = json_string_value(json_object_get(r, "cancel_reason"));
            LOG_WARN("watch canceled by etcd: %s", why ? why : "no reason given");
            db->n_watch_reconnects++;
            stream_restart(db, 100);
        }
        return;
    }
    const json_t *events = json_object_get(r, "events");
    size_t i;
    const json_t *ev;
    json_array_foreach (events, i, ev) {
        /* Events come in revision order, a revision's all in one response: at the first
         * event of a new revision, the ones before are all delivered. */
        advance(db, etcd_json_u64(json_object_get(ev, "kv"), "mod_revision") - 1);
        deliver_event(db, ev, gen);
        if (gen != db->stream_gen) {
            return;
        }
    }
    if (json_array_size(events)) {
        const json_t *kv = json_object_get(json_array_get(events, json_array_size(events) - 1),
                                           "kv");
        advance(db, etcd_json_u64(kv, "mod_revision"));
    }
}

static void
stream_end(void *aux, int error, const char *msg)
{
    struct cfgdb_etcd *db = aux;
    LOG_INFO("watch stream: %s", msg);
    db->n_watch_reconnects++;
    if (error != ECONNREFUSED) {
        etcd_client_failover(db->client, etcd_stream_endpoint(db->stream));
    }
    unsigned delay = db->backoff_ms;
    db->backoff_ms = db->backoff_ms ? db->backoff_ms * 2 : 50;
    if (db->backoff_ms > 1000) {
        db->backoff_ms = 1000;
    }
    stream_restart(db, delay);
}

static void
stream_start(struct cfgdb_etcd *db)
{
    if (db->stream || list_is_empty(&db->watchers)) {
        return;
    }
    json_t *req = xjson_pack("{s:s, s:s, s:b}", "key", db->root_b64,
                             "range_end", db->root_end_b64, "progress_notify", 1);
    if (!db->resync) {
        char rev[32];
        snprintf(rev, sizeof rev, "%llu", (unsigned long long) db->progress + 1);
        json_object_set_new(req, "start_revision", json_string(rev));
    }
    db->stream_gen++;
    db->stream = etcd_stream_open(db->client, "/v3/watch",
                                  xjson_pack("{s:o}", "create_request", req),
                                  stream_msg, stream_end, db);
}

static void
reconnect_cb(evutil_socket_t fd, short what, void *aux)
{
    stream_start(aux);
}

static int
etcd_watch(struct cfgdb *up, const char *prefix, uint64_t from_rev, cfgdb_watch_fn *cb,
           void *aux)
{
    struct cfgdb_etcd *db = cfgdb_etcd_cast(up);
    struct etcd_watcher *w = mem_zalloc(&mem_type_etcd_db, sizeof *w);
    w->prefix = mem_asprintf(&mem_type_etcd_db, "%s%s", db->root, prefix);
    w->prefix_len = strlen(w->prefix);
    w->rev = from_rev;
    w->cb = cb;
    w->aux = aux;
    bool first = list_is_empty(&db->watchers);
    list_push_back(&db->watchers, &w->node);
    if (first || from_rev < db->progress) {
        /* (Re)start early enough for this watcher; the others skip what they saw. */
        if (!first) {
            db->n_watch_reconnects++;
        }
        db->progress = from_rev;
        stream_restart(db, 0);
    }
    return 0;
}

/* Barrier. */

static void
barrier_timeout(evutil_socket_t fd, short what, void *aux)
{
    struct etcd_barrier *b = aux;
    struct cfgdb_etcd *db = b->db;
    LOG_WARN("barrier: the watch did not reach revision %llu (at %llu) in time",
             (unsigned long long) b->target, (unsigned long long) db->progress);
    db->n_timeouts++;
    /* The member serving the watch may be cut off from the others: try another. */
    if (db->stream) {
        etcd_client_failover(db->client, etcd_stream_endpoint(db->stream));
        db->n_watch_reconnects++;
        stream_restart(db, 0);
    }
    barrier_finish(b, ETIMEDOUT, 0);
}

static void
barrier_read_done(void *aux, int error, json_t *reply, const char *msg)
{
    struct etcd_barrier *b = aux;
    struct cfgdb_etcd *db = b->db;
    if (!error && db->stopping) {
        error = ECANCELED;
    }
    if (error) {
        if (error == ETIMEDOUT) {
            db->n_timeouts++;
        }
        barrier_finish(b, error, 0);
        return;
    }
    b->rev = etcd_json_u64(json_object_get(reply, "header"), "revision");
    const json_t *kvs = json_object_get(reply, "kvs");
    b->target = etcd_json_u64(json_array_get(kvs, 0), "mod_revision");
    if (list_is_empty(&db->watchers) || b->target <= db->progress) {
        barrier_finish(b, 0, b->rev);
        return;
    }
    b->waiting = true;
    list_push_back(&db->barriers, &b->node);
    double t = etcd_client_timeout(db->client);
    struct timeval tv = { (time_t) t, (suseconds_t) ((t - (double) (time_t) t) * 1e6) };
    b->deadline = evtimer_new(db->base, barrier_timeout, b);
    evtimer_add(b->deadline, &tv);
}

static void
etcd_barrier(struct cfgdb *up, cfgdb_done_fn *done, void *aux)
{
    struct cfgdb_etcd *db = cfgdb_etcd_cast(up);
    struct etcd_barrier *b = mem_zalloc(&mem_type_etcd_db, sizeof *b);
    b->db = db;
    b->done = done;
    b->aux = aux;
    db->n_barriers++;
    /* Linearizable (the default): its revision covers every write acknowledged before. */
    etcd_client_call(db->client, "/v3/kv/range",
                     xjson_pack("{s:s, s:b}", "key", db->root_b64, "keys_only", 1),
                     ETCD_CALL_IDEMPOTENT, 0, barrier_read_done, b);
}

/* Commit. */

/* Whether KEY starts with PREFIX. */
static bool
has_prefix(const char *key, const char *prefix)
{
    return !strncmp(key, prefix, strlen(prefix));
}

static bool
commit_has_key(const struct etcd_commit *c, const char *key)
{
    struct commit_key *ck;
    HMAP_FOR_EACH_WITH_HASH (ck, node, hash_string(key, 0), &c->keys) {
        if (!strcmp(ck->key, key)) {
            return true;
        }
    }
    return false;
}

/* Adds KEY to C's keys.  Returns false if it was there already. */
static bool
commit_add_key(struct etcd_commit *c, const char *key)
{
    if (commit_has_key(c, key)) {
        return false;
    }
    struct commit_key *ck = mem_zalloc(&mem_type_etcd_db, sizeof *ck);
    ck->key = mem_strdup(&mem_type_etcd_db, key);
    hmap_insert(&c->keys, &ck->node, hash_string(key, 0));
    return true;
}

/* Whether a prefix check of P covers a key of K. */
static bool
prefixes_touch(const struct etcd_commit *p, const struct etcd_commit *k)
{
    for (size_t i = 0; i < p->n_prefixes; i++) {
        struct commit_key *ck;
        HMAP_FOR_EACH (ck, node, &k->keys) {
            if (has_prefix(ck->key, p->prefixes[i])) {
                return true;
            }
        }
    }
    return false;
}

/* Whether batches A and B touch a common key (written or checked), so that the later one
 * must wait for the earlier one to be applied. */
static bool
commits_conflict(const struct etcd_commit *a, const struct etcd_commit *b)
{
    const struct etcd_commit *small = hmap_count(&a->keys) <= hmap_count(&b->keys) ? a : b;
    const struct etcd_commit *big = small == a ? b : a;
    struct commit_key *ck;
    HMAP_FOR_EACH (ck, node, &small->keys) {
        if (commit_has_key(big, ck->key)) {
            return true;
        }
    }
    return prefixes_touch(a, b) || prefixes_touch(b, a);
}

static void commit_done(void *aux, int error, json_t *reply, const char *msg);

static void
commit_send(struct etcd_commit *c)
{
    c->sent = true;
    c->db->n_txns++;
    etcd_client_call(c->db->client, "/v3/kv/txn", c->txn,
                     c->idempotent ? ETCD_CALL_IDEMPOTENT : 0, 0, commit_done, c);
    c->txn = NULL;
}

/* Sends every held batch that no earlier uncompleted batch conflicts with. */
static void
commit_release(struct cfgdb_etcd *db)
{
    struct etcd_commit *c;
    LIST_FOR_EACH_SAFE (c, node, &db->commits) {
        if (c->sent || db->closing) {
            continue;
        }
        bool blocked = false;
        struct etcd_commit *e;
        LIST_FOR_EACH (e, node, &db->commits) {
            if (e == c) {
                break;
            }
            if (commits_conflict(e, c)) {
                blocked = true;
                break;
            }
        }
        if (!blocked) {
            commit_send(c);
        }
    }
}

static void
commit_free(struct etcd_commit *c)
{
    struct commit_key *ck;
    HMAP_FOR_EACH_SAFE (ck, node, &c->keys) {
        hmap_remove(&c->keys, &ck->node);
        mem_free(&mem_type_etcd_db, ck->key);
        mem_free(&mem_type_etcd_db, ck);
    }
    hmap_destroy(&c->keys);
    for (size_t i = 0; i < c->n_prefixes; i++) {
        mem_free(&mem_type_etcd_db, c->prefixes[i]);
    }
    mem_free(&mem_type_etcd_db, c->prefixes);
    json_decref(c->txn);
    if (c->ev) {
        event_free(c->ev);
    }
    mem_free(&mem_type_etcd_db, c);
}

static void
commit_report(struct etcd_commit *c, int error, uint64_t rev)
{
    struct cfgdb_etcd *db = c->db;
    db->n_inflight--;
    db->up.n_batches++;
    if (!error) {
        db->up.n_commits++;
    } else if (error == EEXIST) {
        db->up.n_conflicts++;
    } else {
        db->up.n_errors++;
        if (error == ETIMEDOUT) {
            db->n_timeouts++;
        }
    }
    cfgdb_done_fn *done = c->done;
    void *aux = c->aux;
    if (c->listed) {
        list_remove(&c->node);
        commit_release(db);     /* Before DONE, which may close the store. */
    }
    commit_free(c);
    if (done) {
        done(aux, error, rev);
    }
}

static void
commit_done(void *aux, int error, json_t *reply, const char *msg)
{
    struct etcd_commit *c = aux;
    if (error == E2BIG) {
        LOG_ERR("a batch of %zu operations is over the cluster's limits (%s): start etcd "
                "with a larger --max-txn-ops / --max-request-bytes", c->n_ops, msg);
    } else if (error && error != ETIMEDOUT && error != ECONNREFUSED && error != ECANCELED) {
        LOG_ERR("commit: %s", msg);
    }
    if (error) {
        commit_report(c, error, 0);
        return;
    }
    uint64_t rev = etcd_json_u64(json_object_get(reply, "header"), "revision");
    commit_report(c, json_is_true(json_object_get(reply, "succeeded")) ? 0 : EEXIST, rev);
}

static void
commit_fail_cb(evutil_socket_t fd, short what, void *aux)
{
    struct etcd_commit *c = aux;
    commit_report(c, c->error, 0);
}

static json_t *
compare(struct cfgdb_etcd *db, const struct cfgdb_op *op)
{
    char *key = b64_key(db, op->key);
    char rev[32];
    json_t *cmp;
    if (op->type == CFGDB_CHECK_ABSENT || (op->type == CFGDB_CHECK_REV && !op->rev)) {
        cmp = xjson_pack("{s:s, s:s, s:s, s:s}", "key", key, "target", "VERSION",
                         "result", "EQUAL", "version", "0");
    } else if (op->type == CFGDB_CHECK_REV) {
        snprintf(rev, sizeof rev, "%llu", (unsigned long long) op->rev);
        cmp = xjson_pack("{s:s, s:s, s:s, s:s}", "key", key, "target", "MOD",
                         "result", "EQUAL", "mod_revision", rev);
    } else {
        char *full = mem_asprintf(&mem_type_string, "%s%s", db->root, op->key);
        size_t full_len = strlen(full);
        size_t end_len;
        char *end = etcd_prefix_end(full, full_len, &end_len);
        char *end64 = b64(end, end_len);
        if (!op->key[0]) {
            /* The whole store but the marker (the root key itself): from root + "\0". */
            xfree(key);
            key = b64(full, full_len + 1);
        }
        snprintf(rev, sizeof rev, "%llu", (unsigned long long) op->rev + 1);
        /* An empty range compares true. */
        cmp = xjson_pack("{s:s, s:s, s:s, s:s, s:s}", "key", key, "range_end", end64,
                         "target", "MOD", "result", "LESS", "mod_revision", rev);
        xfree(full);
        xfree(end);
        xfree(end64);
    }
    xfree(key);
    return cmp;
}

static void
etcd_commit(struct cfgdb *up, struct cfgdb_batch *b, cfgdb_done_fn *done, void *aux)
{
    struct cfgdb_etcd *db = cfgdb_etcd_cast(up);
    struct etcd_commit *c = mem_zalloc(&mem_type_etcd_db, sizeof *c);
    c->db = db;
    c->done = done;
    c->aux = aux;
    c->n_ops = b->n_ops;
    hmap_init(&c->keys);
    db->n_inflight++;

    for (size_t i = 0; i < b->n_ops; i++) {
        if (!b->ops[i].key[0] && b->ops[i].type != CFGDB_CHECK_PREFIX_REV) {
            LOG_ERR("commit: empty key");
            c->error = EINVAL;
        }
    }
    if (c->error || db->closing) {
        c->error = c->error ? c->error : ECANCELED;
        cfgdb_batch_destroy(b);
        c->ev = event_new(db->base, -1, 0, commit_fail_cb, c);
        event_active(c->ev, 0, 0);
        return;
    }

    /* etcd refuses a transaction that writes a key twice: the last write of a key wins. */
    bool *skip = mem_zalloc(&mem_type_etcd_db, b->n_ops + 1);
    for (size_t i = b->n_ops; i-- > 0;) {
        const struct cfgdb_op *op = &b->ops[i];
        if (op->type == CFGDB_PUT || op->type == CFGDB_DELETE) {
            skip[i] = !commit_add_key(c, op->key);
        }
    }

    json_t *cmps = json_array(), *succ = json_array();
    size_t n_writes = 0;
    for (size_t i = 0; i < b->n_ops; i++) {
        const struct cfgdb_op *op = &b->ops[i];
        if (op->type == CFGDB_PUT || op->type == CFGDB_DELETE) {
            if (skip[i]) {
                continue;
            }
            char *key = b64_key(db, op->key);
            if (op->type == CFGDB_PUT) {
                char *val = b64(op->value, strlen(op->value));
                json_array_append_new(succ, xjson_pack("{s:{s:s, s:s}}", "requestPut",
                                                       "key", key, "value", val));
                xfree(val);
            } else {
                json_array_append_new(succ, xjson_pack("{s:{s:s}}", "requestDeleteRange",
                                                       "key", key));
            }
            xfree(key);
            n_writes++;
        } else {
            json_array_append_new(cmps, compare(db, op));
            if (op->type == CFGDB_CHECK_PREFIX_REV) {
                c->prefixes = mem_realloc(&mem_type_etcd_db, c->prefixes,
                                          (c->n_prefixes + 1) * sizeof *c->prefixes);
                c->prefixes[c->n_prefixes++] = mem_strdup(&mem_type_etcd_db, op->key);
            } else {
                commit_add_key(c, op->key);
            }
        }
    }
    mem_free(&mem_type_etcd_db, skip);
    if (n_writes) {
        char *val = b64(db->writer, strlen(db->writer));
        json_array_append_new(succ, xjson_pack("{s:{s:s, s:s}}", "requestPut",
                                               "key", db->root_b64, "value", val));
        xfree(val);
    }
    cfgdb_batch_destroy(b);
    c->txn = xjson_pack("{s:o, s:o}", "compare", cmps, "success", succ);
    c->idempotent = !n_writes;

    /* Batches are pipelined, but one that touches a key of an earlier batch still on its
     * way waits for it, so that such batches apply in submission order. */
    bool blocked = false;
    struct etcd_commit *e;
    LIST_FOR_EACH (e, node, &db->commits) {
        if (commits_conflict(e, c)) {
            blocked = true;
            break;
        }
    }
    list_push_back(&db->commits, &c->node);
    c->listed = true;
    if (!blocked) {
        commit_send(c);
    } else {
        db->n_held++;
    }
}

/* Scan: synchronous, on a private loop. */

struct scan_page {
    bool done;
    int error;
    json_t *reply;
};

static void
scan_page_done(void *aux, int error, json_t *reply, const char *msg)
{
    struct scan_page *p = aux;
    p->done = true;
    p->error = error;
    p->reply = json_incref(reply);
    if (error) {
        LOG_ERR("scan: %s", msg);
    }
}

static int
etcd_scan(struct cfgdb *up, const char *prefix, cfgdb_scan_fn *cb, void *aux, uint64_t *revp)
{
    struct cfgdb_etcd *db = cfgdb_etcd_cast(up);
    struct event_base *base = event_base_new();
    char err[256];
    struct etcd_client *client = etcd_client_create(base, db->endpoints, db->timeout_s, 1,
                                                    err, sizeof err);
    char *from = mem_asprintf(&mem_type_string, "%s%s", db->root, prefix);
    size_t from_len = strlen(from);
    size_t end_len;
    char *end = etcd_prefix_end(from, from_len, &end_len);
    char *end64 = b64(end, end_len);
    xfree(end);
    uint64_t rev = 0;
    int error = 0;
    for (;;) {
        char *from64 = b64(from, from_len);
        json_t *req = xjson_pack("{s:s, s:s, s:i}", "key", from64, "range_end", end64,
                                 "limit", SCAN_PAGE);
        xfree(from64);
        if (rev) {
            char r[32];
            snprintf(r, sizeof r, "%llu", (unsigned long long) rev);
            json_object_set_new(req, "revision", json_string(r));
        }
        struct scan_page page = { 0 };
        etcd_client_call(client, "/v3/kv/range", req, ETCD_CALL_IDEMPOTENT, 0,
                         scan_page_done, &page);
        while (!page.done) {
            event_base_loop(base, EVLOOP_ONCE);
        }
        if (page.error) {
            error = page.error;
            break;
        }
        if (!rev) {
            rev = etcd_json_u64(json_object_get(page.reply, "header"), "revision");
        }
        const json_t *kvs = json_object_get(page.reply, "kvs");
        size_t i;
        const json_t *kv;
        json_array_foreach (kvs, i, kv) {
            size_t klen;
            char *key = base64_decode(json_string_value(json_object_get(kv, "key")), &klen);
            const char *v64 = json_string_value(json_object_get(kv, "value"));
            char *value = base64_decode(v64 ? v64 : "", NULL);
            if (key && value && klen > db->root_len) {
                cb(aux, key + db->root_len, value, etcd_json_u64(kv, "mod_revision"));
            }
            if (key && i + 1 == json_array_size(kvs)) {
                /* The next page starts just after the last key. */
                xfree(from);
                from = mem_zalloc(&mem_type_string, klen + 2);
                memcpy(from, key, klen);
                from_len = klen + 1;
            }
            xfree(key);
            xfree(value);
        }
        bool more = json_is_true(json_object_get(page.reply, "more"))
                    && json_array_size(kvs);
        json_decref(page.reply);
        if (!more) {
            break;
        }
    }
    xfree(from);
    xfree(end64);
    etcd_client_destroy(client);
    event_base_free(base);
    *revp = rev;
    return error;
}

static json_t *
etcd_status(const struct cfgdb *up)
{
    const struct cfgdb_etcd *db = cfgdb_etcd_cast(up);
    json_t *st = etcd_client_status(db->client);
    json_t *watches = json_array();
    struct etcd_watcher *w;
    LIST_FOR_EACH (w, node, &db->watchers) {
        json_array_append_new(watches, xjson_pack("{s:s, s:I}", "prefix",
                                                  w->prefix + db->root_len,
                                                  "revision", (json_int_t) w->rev));
    }
    size_t n_barriers = 0;
    struct etcd_barrier *b;
    LIST_FOR_EACH (b, node, &db->barriers) {
        n_barriers++;
    }
    const char *watch_member = db->stream
        ? etcd_client_endpoint_name(db->client, etcd_stream_endpoint(db->stream)) : "";
    json_t *mine = xjson_pack("{s:s, s:I, s:b, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                              "s:I, s:I}",
                              "prefix", db->root,
                              "revision", (json_int_t) db->progress,
                              "watch_connected", db->stream_up,
                              "watch_member", watch_member,
                              "watches", watches,
                              "commits_in_flight", (json_int_t) db->n_inflight,
                              "barriers_waiting", (json_int_t) n_barriers,
                              "txns", (json_int_t) db->n_txns,
                              "barriers", (json_int_t) db->n_barriers,
                              "watch_events", (json_int_t) db->n_events,
                              "watch_reconnects", (json_int_t) db->n_watch_reconnects,
                              "watch_resyncs", (json_int_t) db->n_resyncs,
                              "cfgdb_timeouts", (json_int_t) db->n_timeouts,
                              "batches_held", (json_int_t) db->n_held);
    json_object_update(st, mine);
    json_decref(mine);
    return st;
}

static void
etcd_close(struct cfgdb *up)
{
    struct cfgdb_etcd *db = cfgdb_etcd_cast(up);
    db->stopping = true;
    etcd_stream_close(db->stream);
    db->stream = NULL;
    if (db->reconnect) {
        event_free(db->reconnect);
    }
    while (!list_is_empty(&db->barriers)) {
        barrier_finish(CONTAINER_OF(db->barriers.next, struct etcd_barrier, node),
                       ECANCELED, 0);
    }
    /* Let the batches on the wire complete (each has a deadline).  A close from inside the
     * loop cannot run it (libevent refuses a nested loop, with a warning) and cancels them
     * instead. */
    while (db->n_inflight && event_base_loop(db->base, EVLOOP_ONCE) == 0) {
        continue;
    }
    db->closing = true;
    etcd_client_destroy(db->client);
    db->client = NULL;
    while (!list_is_empty(&db->commits)) {
        commit_report(CONTAINER_OF(db->commits.next, struct etcd_commit, node), ECANCELED, 0);
    }
    while (!list_is_empty(&db->watchers)) {
        struct etcd_watcher *w = CONTAINER_OF(db->watchers.next, struct etcd_watcher, node);
        list_remove(&w->node);
        mem_free(&mem_type_etcd_db, w->prefix);
        mem_free(&mem_type_etcd_db, w);
    }
    mem_free(&mem_type_etcd_db, db->endpoints);
    mem_free(&mem_type_etcd_db, db->root);
    xfree(db->root_b64);
    xfree(db->root_end_b64);
    mem_free(&mem_type_etcd_db, db->writer);
    mem_free(&mem_type_etcd_db, db);
}

const struct cfgdb_class cfgdb_etcd_class = {
    .name = "etcd",
    .shared = true,
    .open = etcd_open,
    .close = etcd_close,
    .scan = etcd_scan,
    .commit = etcd_commit,
    .watch = etcd_watch,
    .barrier = etcd_barrier,
    .status = etcd_status,
};
