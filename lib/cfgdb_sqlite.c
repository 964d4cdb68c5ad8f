/* cfgdb_sqlite: the embedded config store, one SQLite file in WAL mode.
 *
 * A writer thread owns the write connection.  It takes every batch queued while it was busy
 * and commits them together in one transaction (group commit: one fsync for many clients),
 * each batch inside its own savepoint so that a failed precondition undoes only that batch.
 * `synchronous=FULL` makes each commit durable before the completions are handed back to the
 * loop thread through an eventfd.  Scans at start-up use a second connection. */
#include "cfgdb.h"

#include <errno.h>
#include <event2/event.h>
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

struct sqlite_job {
    struct cfgdb_batch *batch;
    cfgdb_done_fn *done;
    void *aux;
    int error;
    struct sqlite_job *next;
};

struct cfgdb_sqlite {
    struct cfgdb up;
    char *path;
    sqlite3 *rdb;               /* Loop thread: scans. */
    sqlite3 *wdb;               /* Writer thread. */
    sqlite3_stmt *put, *del, *get;

    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct sqlite_job *queue, **queue_tail;     /* Submitted, not yet taken. */
    struct sqlite_job *done, **done_tail;       /* Completed, not yet reported. */
    size_t in_flight;                           /* Submitted, not yet reported. */
    bool stop;

    int efd;
    struct event *ev;
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
    if (exec_sql(db, "PRAGMA journal_mode=WAL") || exec_sql(db, "PRAGMA synchronous=FULL")
        || exec_sql(db, "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT "
                    "NOT NULL) WITHOUT ROWID")) {
        snprintf(err, errlen, "config_db sqlite:%s: cannot initialise: %s", path,
                 sqlite3_errmsg(db));
        sqlite3_close(db);
        return EIO;
    }
    *dbp = db;
    return 0;
}

/* Applies one batch inside the open transaction.  Returns 0, EEXIST or EIO. */
static int
apply_batch(struct cfgdb_sqlite *s, struct cfgdb_batch *b)
{
    for (size_t i = 0; i < b->n_ops; i++) {
        struct cfgdb_op *op = &b->ops[i];
        sqlite3_stmt *st = op->type == CFGDB_PUT ? s->put
                           : op->type == CFGDB_DELETE ? s->del : s->get;
        sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC);
        if (op->type == CFGDB_PUT) {
            sqlite3_bind_text(st, 2, op->value, -1, SQLITE_STATIC);
        }
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (op->type == CFGDB_CHECK_ABSENT) {
            if (rc == SQLITE_ROW) {
                return EEXIST;
            }
            if (rc != SQLITE_DONE) {
                return EIO;
            }
        } else if (rc != SQLITE_DONE) {
            LOG_ERR("%s %s: %s", op->type == CFGDB_PUT ? "put" : "delete", op->key,
                    sqlite3_errmsg(s->wdb));
            return EIO;
        }
    }
    return 0;
}

static void
commit_jobs(struct cfgdb_sqlite *s, struct sqlite_job *jobs)
{
    if (exec_sql(s->wdb, "BEGIN IMMEDIATE")) {
        for (struct sqlite_job *j = jobs; j; j = j->next) {
            j->error = EIO;
        }
        return;
    }
    for (struct sqlite_job *j = jobs; j; j = j->next) {
        exec_sql(s->wdb, "SAVEPOINT b");
        j->error = apply_batch(s, j->batch);
        if (j->error) {
            exec_sql(s->wdb, "ROLLBACK TO b");
        }
        exec_sql(s->wdb, "RELEASE b");
    }
    if (exec_sql(s->wdb, "COMMIT")) {
        exec_sql(s->wdb, "ROLLBACK");
        for (struct sqlite_job *j = jobs; j; j = j->next) {
            j->error = EIO;
        }
    }
}

static void *
writer_main(void *aux)
{
    struct cfgdb_sqlite *s = aux;
    pthread_mutex_lock(&s->mutex);
    for (;;) {
        while (!s->queue && !s->stop) {
            pthread_cond_wait(&s->cond, &s->mutex);
        }
        if (!s->queue) {
            break;
        }
        struct sqlite_job *jobs = s->queue, **tail = s->queue_tail;
        s->queue = NULL;
        s->queue_tail = &s->queue;
        pthread_mutex_unlock(&s->mutex);

        commit_jobs(s, jobs);

        pthread_mutex_lock(&s->mutex);
        *s->done_tail = jobs;
        s->done_tail = tail;
        uint64_t one = 1;
        if (write(s->efd, &one, sizeof one) < 0) {
            LOG_ERR("eventfd write: %s", strerror(errno));
        }
    }
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

/* Loop thread: reports completed batches. */
static void
deliver(evutil_socket_t fd, short what, void *aux)
{
    struct cfgdb_sqlite *s = aux;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        LOG_ERR("eventfd read: %s", strerror(errno));
    }
    pthread_mutex_lock(&s->mutex);
    struct sqlite_job *jobs = s->done;
    s->done = NULL;
    s->done_tail = &s->done;
    pthread_mutex_unlock(&s->mutex);

    size_t n_jobs = 0;
    for (struct sqlite_job *j = jobs; j; j = j->next) {
        n_jobs++;
    }
    if (jobs) {
        s->up.n_commits++;
    }
    for (struct sqlite_job *j = jobs, *next; j; j = next) {
        next = j->next;
        s->up.n_batches++;
        if (j->error && j->error != EEXIST) {
            s->up.n_errors++;
        }
        pthread_mutex_lock(&s->mutex);
        s->in_flight--;
        pthread_mutex_unlock(&s->mutex);
        if (j->done) {
            j->done(j->aux, j->error);
        }
        cfgdb_batch_destroy(j->batch);
        mem_free(&mem_type_sqlite, j);
    }
    (void) n_jobs;
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
    s->queue_tail = &s->queue;
    s->done_tail = &s->done;
    s->efd = -1;
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);

    int error = open_conn(path, &s->wdb, err, errlen);
    if (!error) {
        error = open_conn(path, &s->rdb, err, errlen);
    }
    if (!error
        && (sqlite3_prepare_v2(s->wdb, "INSERT OR REPLACE INTO kv(key, value) VALUES(?, ?)",
                               -1, &s->put, NULL)
            || sqlite3_prepare_v2(s->wdb, "DELETE FROM kv WHERE key = ?", -1, &s->del, NULL)
            || sqlite3_prepare_v2(s->wdb, "SELECT 1 FROM kv WHERE key = ?", -1, &s->get,
                                  NULL))) {
        snprintf(err, errlen, "config_db sqlite:%s: %s", path, sqlite3_errmsg(s->wdb));
        error = EIO;
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
    s->ev = event_new(base, s->efd, EV_READ | EV_PERSIST, deliver, s);
    event_add(s->ev, NULL);
    pthread_create(&s->thread, NULL, writer_main, s);
    *dbp = &s->up;
    return 0;
}

static void
sqlite_close(struct cfgdb *db)
{
    struct cfgdb_sqlite *s = cfgdb_sqlite_cast(db);
    if (s->ev) {
        /* Let the writer finish what was submitted, then report it. */
        pthread_mutex_lock(&s->mutex);
        s->stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mutex);
        pthread_join(s->thread, NULL);
        deliver(s->efd, EV_READ, s);
        event_free(s->ev);
    }
    if (s->efd >= 0) {
        close(s->efd);
    }
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_finalize(s->get);
    sqlite3_close(s->wdb);
    sqlite3_close(s->rdb);
    pthread_mutex_destroy(&s->mutex);
    pthread_cond_destroy(&s->cond);
    mem_free(&mem_type_sqlite, s->path);
    mem_free(&mem_type_sqlite, s);
}

static int
sqlite_scan(struct cfgdb *db, const char *prefix, cfgdb_scan_fn *cb, void *aux)
{
    struct cfgdb_sqlite *s = cfgdb_sqlite_cast(db);
    sqlite3_stmt *st;
    /* Keys are ASCII; the range [prefix, prefix + 0xff) covers exactly the prefixed keys. */
    if (sqlite3_prepare_v2(s->rdb, "SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 "
                           "ORDER BY key", -1, &st, NULL)) {
        LOG_ERR("scan: %s", sqlite3_errmsg(s->rdb));
        return EIO;
    }
    char *end = mem_asprintf(&mem_type_sqlite, "%s\xff", prefix);
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cb(aux, (const char *) sqlite3_column_text(st, 0),
           (const char *) sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    mem_free(&mem_type_sqlite, end);
    if (rc != SQLITE_DONE) {
        LOG_ERR("scan: %s", sqlite3_errmsg(s->rdb));
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
    pthread_mutex_lock(&s->mutex);
    s->in_flight++;
    *s->queue_tail = j;
    s->queue_tail = &j->next;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

const struct cfgdb_class cfgdb_sqlite_class = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .scan = sqlite_scan,
    .commit = sqlite_commit,
};
