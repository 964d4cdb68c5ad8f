/* cfgdb_sqlite: the embedded config store, one SQLite file in WAL mode.
 *
 * Group commit split the way an append-only log does it: the loop thread applies each batch
 * as its own SQLite transaction at once (`synchronous=NORMAL`: the commit writes its frames
 * to the write-ahead log but does not wait for the disk), and a sync thread makes the log
 * durable with one fdatasync() for every batch written since its last one.  A batch is
 * reported done only when a sync that started after its commit has returned, so an
 * acknowledged batch survives a crash.  A batch that failed a precondition is rolled back
 * (EEXIST) without touching the others; completions are reported in submission order.
 *
 * The sync thread also checkpoints the log into the database file (through its own
 * connection, PASSIVE, so it never blocks the writer); SQLite syncs the database file before
 * it reuses the log, so checkpointed data is as durable as logged data.  Completions return
 * to the loop thread through an eventfd. */
#include "cfgdb.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hmap.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(cfgdb_sqlite);

static MEM_TYPE(mem_type_sqlite, "cfgdb_sqlite");

/* Log frames after which the sync thread checkpoints (PASSIVE, beside the writer). */
#define CHECKPOINT_FRAMES 4000

/* Under a steady write load a passive checkpoint never catches the writer, and the log is
 * reused only once it has; past this many frames the loop thread checkpoints itself
 * (RESTART: a short stall, about the time to copy the log) so the log stays bounded. */
#define CHECKPOINT_FRAMES_MAX (4 * CHECKPOINT_FRAMES)

struct sqlite_job {
    struct cfgdb_batch *batch;
    cfgdb_done_fn *done;
    void *aux;
    int error;
    uint64_t seq;               /* Reported once the log is durable up to this commit. */
    struct sqlite_job *next;
};

struct cfgdb_sqlite {
    struct cfgdb up;
    char *path;
    sqlite3 *db;                /* Loop thread: writes and scans. */
    sqlite3 *ckdb;              /* Sync thread: checkpoints. */
    sqlite3_stmt *put, *del, *get, *begin, *commit, *rollback;
    int wal_fd;                 /* The write-ahead log, for fdatasync (sync thread). */

    /* Jobs waiting for durability, in submission order (loop thread only). */
    struct sqlite_job *waiting, **waiting_tail;

    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    uint64_t written;           /* Last committed sequence number (under mutex). */
    uint64_t synced;            /* Last durable sequence number (under mutex). */
    int sync_error;             /* Sticky: the log could not be made durable. */
    bool want_checkpoint;
    bool stop;

    int efd;
    struct event *ev;
    struct event *ready_ev;     /* Reports a failed batch that waits for nothing. */
};

static struct cfgdb_sqlite *
cfgdb_sqlite_cast(struct cfgdb *db)
{
    return (struct cfgdb_sqlite *) db;
}

static int
exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        LOG_ERR("%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return EIO;
    }
    return 0;
}

static int
open_conn(const char *path, sqlite3 **dbp, char *err, size_t errlen)
{
    sqlite3 *db;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                             | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "config_db sqlite:%s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return EIO;
    }
    sqlite3_busy_timeout(db, 10000);
    /* NORMAL in WAL mode: commits do not sync (the sync thread does), checkpoints do. */
    if (exec_sql(db, "PRAGMA journal_mode=WAL") || exec_sql(db, "PRAGMA synchronous=NORMAL")
        || exec_sql(db, "PRAGMA wal_autocheckpoint=0")
        || exec_sql(db, "PRAGMA journal_size_limit=67108864")
        || exec_sql(db, "PRAGMA cache_size=-16384")
        || exec_sql(db, "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT "
                    "NOT NULL)")) {
        snprintf(err, errlen, "config_db sqlite:%s: cannot initialise: %s", path,
                 sqlite3_errmsg(db));
        sqlite3_close(db);
        return EIO;
    }
    *dbp = db;
    return 0;
}

static int
step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

/* Applies one batch as one transaction.  Returns 0, EEXIST (rolled back) or EIO. */
static int
apply_batch(struct cfgdb_sqlite *s, struct cfgdb_batch *b)
{
    if (step(s->begin) != SQLITE_DONE) {
        LOG_ERR("begin: %s", sqlite3_errmsg(s->db));
        return EIO;
    }
    int error = 0;
    for (size_t i = 0; i < b->n_ops && !error; i++) {
        struct cfgdb_op *op = &b->ops[i];
        if (op->type == CFGDB_CHECK_REV || op->type == CFGDB_CHECK_PREFIX_REV) {
            continue;           /* Only this process writes: nothing to guard against. */
        }
        sqlite3_stmt *st = op->type == CFGDB_PUT ? s->put
                           : op->type == CFGDB_DELETE ? s->del : s->get;
        sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC);
        if (op->type == CFGDB_PUT) {
            sqlite3_bind_text(st, 2, op->value, -1, SQLITE_STATIC);
        }
        int rc = step(st);
        sqlite3_clear_bindings(st);
        if (op->type == CFGDB_CHECK_ABSENT) {
            error = rc == SQLITE_ROW ? EEXIST : rc == SQLITE_DONE ? 0 : EIO;
        } else if (rc != SQLITE_DONE) {
            LOG_ERR("%s %s: %s", op->type == CFGDB_PUT ? "put" : "delete", op->key,
                    sqlite3_errmsg(s->db));
            error = EIO;
        }
    }
    if (!error && step(s->commit) != SQLITE_DONE) {
        LOG_ERR("commit: %s", sqlite3_errmsg(s->db));
        error = EIO;
    }
    if (error) {
        step(s->rollback);
    }
    return error;
}

static void
wake_sync_thread(struct cfgdb_sqlite *s)
{
    pthread_cond_signal(&s->cond);
}

static void *
sync_main(void *aux)
{
    struct cfgdb_sqlite *s = aux;
    pthread_mutex_lock(&s->mutex);
    for (;;) {
        while (s->written == s->synced && !s->want_checkpoint && !s->stop) {
            pthread_cond_wait(&s->cond, &s->mutex);
        }
        if (s->written != s->synced) {
            uint64_t target = s->written;
            pthread_mutex_unlock(&s->mutex);
            int error = fdatasync(s->wal_fd) ? errno : 0;
            pthread_mutex_lock(&s->mutex);
            if (error) {
                s->sync_error = error;
            }
            s->synced = target;
            uint64_t one = 1;
            if (write(s->efd, &one, sizeof one) < 0) {
                LOG_ERR("eventfd write: %s", strerror(errno));
            }
            continue;
        }
        if (s->want_checkpoint) {
            s->want_checkpoint = false;
            pthread_mutex_unlock(&s->mutex);
            int frames = 0, done = 0;
            int rc = sqlite3_wal_checkpoint_v2(s->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                               &frames, &done);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
                LOG_WARN("checkpoint: %s", sqlite3_errmsg(s->ckdb));
            }
            pthread_mutex_lock(&s->mutex);
            continue;
        }
        if (s->stop) {
            break;
        }
    }
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

static void
report(struct sqlite_job *j, struct cfgdb_sqlite *s)
{
    s->up.n_batches++;
    if (j->error == EEXIST) {
        s->up.n_conflicts++;
    } else if (j->error) {
        s->up.n_errors++;
    }
    if (j->done) {
        j->done(j->aux, j->error, 0);
    }
    cfgdb_batch_destroy(j->batch);
    mem_free(&mem_type_sqlite, j);
}

/* Loop thread: reports the batches made durable, and those that failed. */
static void
deliver(evutil_socket_t fd, short what, void *aux)
{
    struct cfgdb_sqlite *s = aux;
    uint64_t n;
    if (fd >= 0 && read(fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        LOG_ERR("eventfd read: %s", strerror(errno));
    }
    pthread_mutex_lock(&s->mutex);
    uint64_t synced = s->synced;
    int sync_error = s->sync_error;
    pthread_mutex_unlock(&s->mutex);

    bool any = false;
    while (s->waiting && s->waiting->seq <= synced) {
        struct sqlite_job *j = s->waiting;
        s->waiting = j->next;
        if (!s->waiting) {
            s->waiting_tail = &s->waiting;
        }
        j->next = NULL;
        if (!j->error) {
            j->error = sync_error;
            any = true;
        }
        report(j, s);
    }
    if (any) {
        s->up.n_commits++;
    }
}

static void
deliver_ready(evutil_socket_t fd, short what, void *aux)
{
    deliver(-1, what, aux);
}

static int
wal_hook(void *aux, sqlite3 *db, const char *name, int frames)
{
    struct cfgdb_sqlite *s = aux;
    if (frames >= CHECKPOINT_FRAMES_MAX) {
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            LOG_WARN("checkpoint: %s", sqlite3_errmsg(db));
        }
        return SQLITE_OK;
    }
    if (frames >= CHECKPOINT_FRAMES) {
        pthread_mutex_lock(&s->mutex);
        if (!s->want_checkpoint) {
            s->want_checkpoint = true;
            wake_sync_thread(s);
        }
        pthread_mutex_unlock(&s->mutex);
    }
    return SQLITE_OK;
}

static void sqlite_close(struct cfgdb *);

static int
sqlite_open(struct event_base *base, const char *path, struct cfgdb **dbp, char *err,
            size_t errlen)
{
    if (!*path) {
        snprintf(err, errlen, "config_db sqlite: missing path");
        return EINVAL;
    }
    struct cfgdb_sqlite *s = mem_zalloc(&mem_type_sqlite, sizeof *s);
    s->up.class = &cfgdb_sqlite_class;
    s->path = mem_strdup(&mem_type_sqlite, path);
    s->waiting_tail = &s->waiting;
    s->efd = -1;
    s->wal_fd = -1;
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);

    int error = open_conn(path, &s->db, err, errlen);
    if (!error) {
        error = open_conn(path, &s->ckdb, err, errlen);
    }
    if (!error
        && (sqlite3_prepare_v3(s->db, "INSERT OR REPLACE INTO kv(key, value) VALUES(?, ?)",
                               -1, SQLITE_PREPARE_PERSISTENT, &s->put, NULL)
            || sqlite3_prepare_v3(s->db, "DELETE FROM kv WHERE key = ?", -1,
                                  SQLITE_PREPARE_PERSISTENT, &s->del, NULL)
            || sqlite3_prepare_v3(s->db, "SELECT 1 FROM kv WHERE key = ?", -1,
                                  SQLITE_PREPARE_PERSISTENT, &s->get, NULL)
            || sqlite3_prepare_v3(s->db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT,
                                  &s->begin, NULL)
            || sqlite3_prepare_v3(s->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &s->commit,
                                  NULL)
            || sqlite3_prepare_v3(s->db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT,
                                  &s->rollback, NULL))) {
        snprintf(err, errlen, "config_db sqlite:%s: %s", path, sqlite3_errmsg(s->db));
        error = EIO;
    }
    if (!error) {
        /* The log exists once WAL mode is on and the connection stays open; keep it on
         * close too, so the descriptor below always names the live log. */
        int persist = 1;
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        exec_sql(s->db, "BEGIN IMMEDIATE; COMMIT");
        char *wal = mem_asprintf(&mem_type_sqlite, "%s-wal", path);
        s->wal_fd = open(wal, O_RDWR | O_CLOEXEC);
        if (s->wal_fd < 0) {
            error = errno;
            snprintf(err, errlen, "config_db sqlite:%s: cannot open the log %s: %s", path, wal,
                     strerror(error));
        }
        mem_free(&mem_type_sqlite, wal);
    }
    if (!error) {
        s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->efd < 0) {
            error = errno;
            snprintf(err, errlen, "eventfd: %s", strerror(error));
        }
    }
    if (error) {
        sqlite_close(&s->up);
        return error;
    }
    sqlite3_wal_hook(s->db, wal_hook, s);
    s->ev = event_new(base, s->efd, EV_READ | EV_PERSIST, deliver, s);
    event_add(s->ev, NULL);
    s->ready_ev = event_new(base, -1, 0, deliver_ready, s);
    pthread_create(&s->thread, NULL, sync_main, s);
    *dbp = &s->up;
    return 0;
}

static void
sqlite_close(struct cfgdb *db)
{
    struct cfgdb_sqlite *s = cfgdb_sqlite_cast(db);
    if (s->ev) {
        /* Let the sync thread make what was written durable, then report it. */
        pthread_mutex_lock(&s->mutex);
        s->stop = true;
        wake_sync_thread(s);
        pthread_mutex_unlock(&s->mutex);
        pthread_join(s->thread, NULL);
        deliver(s->efd, EV_READ, s);
        event_free(s->ev);
        event_free(s->ready_ev);
    }
    if (s->efd >= 0) {
        close(s->efd);
    }
    if (s->wal_fd >= 0) {
        close(s->wal_fd);
    }
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_finalize(s->get);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->rollback);
    sqlite3_close(s->ckdb);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mutex);
    pthread_cond_destroy(&s->cond);
    mem_free(&mem_type_sqlite, s->path);
    mem_free(&mem_type_sqlite, s);
}

static int
sqlite_scan(struct cfgdb *db, const char *prefix, cfgdb_scan_fn *cb, void *aux, uint64_t *revp)
{
    struct cfgdb_sqlite *s = cfgdb_sqlite_cast(db);
    sqlite3_stmt *st;
    /* Keys are ASCII; the range [prefix, prefix + 0xff) covers exactly the prefixed keys. */
    if (sqlite3_prepare_v2(s->db, "SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 "
                           "ORDER BY key", -1, &st, NULL)) {
        LOG_ERR("scan: %s", sqlite3_errmsg(s->db));
        return EIO;
    }
    char *end = mem_asprintf(&mem_type_sqlite, "%s\xff", prefix);
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cb(aux, (const char *) sqlite3_column_text(st, 0),
           (const char *) sqlite3_column_text(st, 1), 0);
    }
    sqlite3_finalize(st);
    mem_free(&mem_type_sqlite, end);
    if (rc != SQLITE_DONE) {
        LOG_ERR("scan: %s", sqlite3_errmsg(s->db));
        return EIO;
    }
    return 0;
}

static void
sqlite_commit(struct cfgdb *db, struct cfgdb_batch *b, cfgdb_done_fn *done, void *aux)
{
    struct cfgdb_sqlite *s = cfgdb_sqlite_cast(db);
    struct sqlite_job *j = mem_zalloc(&mem_type_sqlite, sizeof *j);
    j->batch = b;
    j->done = done;
    j->aux = aux;
    j->error = apply_batch(s, b);
    pthread_mutex_lock(&s->mutex);
    if (!j->error) {
        j->seq = ++s->written;
        wake_sync_thread(s);
    } else {
        /* Nothing of it is in the log: it waits only for the batches before it. */
        j->seq = s->written;
        if (j->seq <= s->synced) {
            event_active(s->ready_ev, 0, 0);
        }
    }
    pthread_mutex_unlock(&s->mutex);
    *s->waiting_tail = j;
    s->waiting_tail = &j->next;
}

const struct cfgdb_class cfgdb_sqlite_class = {
    .name = "sqlite",
    .shared = false,
    .open = sqlite_open,
    .close = sqlite_close,
    .scan = sqlite_scan,
    .commit = sqlite_commit,
};
