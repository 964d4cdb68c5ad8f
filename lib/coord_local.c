/* coord_local: the in-process coordination backend, the embedded default.
 *
 * A tree of nodes kept in memory with ZooKeeper's rules: parents before children, no
 * children under ephemerals, sequence suffixes taken from the parent's count of child
 * changes (its cversion), children watches, and elections by the same ephemeral-sequential
 * recipe as the ZooKeeper backend.  Instances opened on the same event_base share one tree,
 * as sessions of one server do: an instance's ephemerals vanish when it closes and the others
 * see it (watches fire, the next contender is elected).  Everything runs on that base's loop
 * thread; the session never drops, so the state is always COORD_CONNECTED.  Results and
 * notifications are queued and delivered from a zero-timeout event, never inside the call. */
#include "coord.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "uuid.h"

LOG_MODULE(coord_local);

static MEM_TYPE(mem_type_local, "coord_local");
static MEM_TYPE(mem_type_local_node, "coord_local_node");

/* The tree shared by the instances of one event_base. */
struct local_tree {
    struct list node;           /* In 'trees'. */
    struct event_base *base;
    struct hmap nodes;          /* struct lnode, by path. */
    struct list instances;      /* struct coord_local. */
};

struct lnode {
    struct hmap_node hnode;     /* In tree->nodes. */
    struct list sibling;        /* In parent->children. */
    struct list children;
    struct lnode *parent;
    char *path;
    const char *name;           /* Last component, inside 'path'. */
    char *value;
    size_t len;
    int version;                /* Data version: +1 on every set. */
    struct coord_local *owner;  /* Ephemeral nodes: the instance whose close deletes them. */
    uint32_t cversion;          /* Child creations + deletions: the next sequence number. */
};

struct coord_local {
    struct coord up;
    struct local_tree *tree;
    struct list tree_node;      /* In tree->instances. */
    struct list pending;        /* struct local_pending, in delivery order. */
    struct event *ev;           /* Delivers 'pending'. */
    struct list watches;        /* struct local_watch. */
    struct list elections;      /* struct local_election. */
    bool *alive;                /* While delivering: cleared by close. */
};

struct local_watch {
    struct list node;           /* In coord_local->watches. */
    char *path;
    coord_watch_fn *cb;
    void *aux;
    bool queued;
};

struct local_election {
    struct coord_election up;
    struct list node;           /* In coord_local->elections. */
    char *path;
    char *id;
    char *node_path;            /* Our contender node, NULL if it could not be made. */
    coord_leader_fn *cb;
    void *aux;
    bool leader;                /* Our node has the lowest sequence. */
    int reported;               /* Last value given to cb, -1 before the first. */
    bool queued;
};

enum local_kind { LP_DONE, LP_GET, LP_LIST, LP_WATCH, LP_LEADER };

struct local_pending {
    struct list node;           /* In coord_local->pending. */
    enum local_kind kind;
    union {
        coord_done_fn *done;
        coord_get_fn *get;
        coord_list_fn *list;
    } fn;
    void *aux;
    int error;
    char *str;                  /* LP_DONE: path; LP_GET: value. */
    size_t len;
    int version;                /* LP_GET. */
    struct coord_child *children;
    size_t n;
    struct local_watch *watch;
    struct local_election *election;
};

static struct list trees = LIST_INITIALIZER(&trees);
static pthread_mutex_t trees_mutex = PTHREAD_MUTEX_INITIALIZER;

static struct coord_local *
local_cast(const struct coord *c)
{
    return CONTAINER_OF(c, struct coord_local, up);
}

/* ---- Paths ---- */

/* Whether PATH is a valid absolute node path: "/" or "/a/b" with no empty, "." or ".."
 * component and no control character. */
static bool
path_is_valid(const char *path)
{
    if (!path || path[0] != '/') {
        return false;
    }
    if (!path[1]) {
        return true;
    }
    const char *comp = path + 1;
    for (const char *p = path + 1;; p++) {
        if (*p == '/' || !*p) {
            size_t n = p - comp;
            if (!n || (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.')) {
                return false;
            }
            if (!*p) {
                return true;
            }
            comp = p + 1;
        } else if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
}

/* The parent of valid non-root PATH, as a new string. */
static char *
path_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash == path ? mem_strdup(&mem_type_local, "/")
                         : mem_strndup(&mem_type_local, path, slash - path);
}

/* ---- Tree ---- */

static struct lnode *
tree_find(const struct local_tree *t, const char *path)
{
    struct lnode *n;
    HMAP_FOR_EACH_WITH_HASH (n, hnode, hash_string(path, 0), &t->nodes) {
        if (!strcmp(n->path, path)) {
            return n;
        }
    }
    return NULL;
}

/* Adds node PATH under PARENT (NULL only for the root), without notifications. */
static struct lnode *
tree_insert(struct local_tree *t, struct lnode *parent, const char *path, const char *value,
            size_t len, struct coord_local *owner)
{
    struct lnode *n = mem_zalloc(&mem_type_local_node, sizeof *n);
    n->path = mem_strdup(&mem_type_local_node, path);
    n->name = strrchr(n->path, '/') + 1;
    n->value = mem_strndup(&mem_type_local_node, value ? value : "", value ? len : 0);
    n->len = value ? len : 0;
    n->owner = owner;
    n->parent = parent;
    list_init(&n->children);
    list_init(&n->sibling);
    if (parent) {
        list_push_back(&parent->children, &n->sibling);
        parent->cversion++;
    }
    hmap_insert(&t->nodes, &n->hnode, hash_string(n->path, 0));
    return n;
}

static void
lnode_free(struct lnode *n)
{
    mem_free(&mem_type_local_node, n->path);
    mem_free(&mem_type_local_node, n->value);
    mem_free(&mem_type_local_node, n);
}

/* Removes childless node N from the tree and frees it, without notifications. */
static void
tree_remove(struct local_tree *t, struct lnode *n)
{
    if (n->parent) {
        list_remove(&n->sibling);
        n->parent->cversion++;
    }
    hmap_remove(&t->nodes, &n->hnode);
    lnode_free(n);
}

static struct local_tree *
tree_ref(struct event_base *base)
{
    struct local_tree *t;
    pthread_mutex_lock(&trees_mutex);
    LIST_FOR_EACH (t, node, &trees) {
        if (t->base == base) {
            pthread_mutex_unlock(&trees_mutex);
            return t;
        }
    }
    t = mem_zalloc(&mem_type_local, sizeof *t);
    t->base = base;
    hmap_init(&t->nodes);
    list_init(&t->instances);
    tree_insert(t, NULL, "/", "", 0, NULL);
    list_push_back(&trees, &t->node);
    pthread_mutex_unlock(&trees_mutex);
    return t;
}

/* Frees T once no instance uses it. */
static void
tree_unref(struct local_tree *t)
{
    pthread_mutex_lock(&trees_mutex);
    if (list_is_empty(&t->instances)) {
        list_remove(&t->node);
        struct lnode *n;
        HMAP_FOR_EACH_SAFE (n, hnode, &t->nodes) {
            hmap_remove(&t->nodes, &n->hnode);
            lnode_free(n);
        }
        hmap_destroy(&t->nodes);
        mem_free(&mem_type_local, t);
    }
    pthread_mutex_unlock(&trees_mutex);
}

/* ---- Delivery ---- */

static void
pending_free(struct local_pending *p)
{
    mem_free(&mem_type_local, p->str);
    for (size_t i = 0; i < p->n; i++) {
        mem_free(&mem_type_local, (char *) p->children[i].name);
        mem_free(&mem_type_local, (char *) p->children[i].value);
    }
    mem_free(&mem_type_local, p->children);
    mem_free(&mem_type_local, p);
}

static struct local_pending *
pending_add(struct coord_local *l, enum local_kind kind, void *aux)
{
    struct local_pending *p = mem_zalloc(&mem_type_local, sizeof *p);
    p->kind = kind;
    p->aux = aux;
    list_push_back(&l->pending, &p->node);
    event_active(l->ev, EV_TIMEOUT, 0);
    return p;
}

static void
pending_run(struct local_pending *p)
{
    switch (p->kind) {
    case LP_DONE:
        if (p->fn.done) {
            p->fn.done(p->aux, p->error, p->str);
        }
        break;
    case LP_GET:
        p->fn.get(p->aux, p->error, p->str, p->len, p->version);
        break;
    case LP_LIST:
        p->fn.list(p->aux, p->error, p->children, p->n);
        break;
    case LP_WATCH:
        p->watch->queued = false;
        p->watch->cb(p->watch->aux, p->watch->path);
        break;
    case LP_LEADER: {
        struct local_election *e = p->election;
        e->queued = false;
        if (e->reported != e->leader) {
            e->reported = e->leader;
            if (e->cb) {
                e->cb(e->aux, e->leader);
            }
        }
        break;
    }
    }
}

/* Runs the queued callbacks in order; a callback may close the instance.  At most a batch
 * per loop iteration, so that callbacks causing more callbacks cannot starve the loop. */
static void
local_deliver(evutil_socket_t fd, short what, void *aux)
{
    struct coord_local *l = aux;
    bool alive = true;
    l->alive = &alive;
    for (int i = 0; i < 64 && !list_is_empty(&l->pending); i++) {
        struct local_pending *p = CONTAINER_OF(l->pending.next, struct local_pending, node);
        list_remove(&p->node);
        pending_run(p);
        pending_free(p);
        if (!alive) {
            return;
        }
    }
    l->alive = NULL;
    if (!list_is_empty(&l->pending)) {
        event_active(l->ev, EV_TIMEOUT, 0);
    }
}

/* ---- Notifications ---- */

/* Re-evaluates E's leadership and queues a report if it changed. */
static void
election_evaluate(struct coord_local *l, struct local_election *e)
{
    bool leader = false;
    struct lnode *parent = e->node_path ? tree_find(l->tree, e->path) : NULL;
    if (parent) {
        /* The lowest sequence wins: the digits after the last "__lock__". */
        const struct lnode *best = NULL;
        unsigned long best_seq = 0;
        const struct lnode *c;
        LIST_FOR_EACH (c, sibling, &parent->children) {
            const char *lock = strstr(c->name, "__lock__");
            if (!lock) {
                continue;
            }
            unsigned long seq = strtoul(lock + 8, NULL, 10);
            if (!best || seq < best_seq) {
                best = c;
                best_seq = seq;
            }
        }
        leader = best && !strcmp(best->path, e->node_path);
    }
    e->leader = leader;
    if (e->reported != (int) leader && !e->queued) {
        e->queued = true;
        pending_add(l, LP_LEADER, NULL)->election = e;
    }
}

/* The children of PATH (or PATH itself) changed: fire watches on PATH and re-evaluate the
 * elections held under it, in every instance sharing the tree. */
static void
tree_changed(struct local_tree *t, const char *path)
{
    struct coord_local *l;
    LIST_FOR_EACH (l, tree_node, &t->instances) {
        struct local_watch *w;
        LIST_FOR_EACH (w, node, &l->watches) {
            if (!w->queued && !strcmp(w->path, path)) {
                w->queued = true;
                pending_add(l, LP_WATCH, NULL)->watch = w;
            }
        }
        struct local_election *e;
        LIST_FOR_EACH (e, node, &l->elections) {
            if (!strcmp(e->path, path)) {
                election_evaluate(l, e);
            }
        }
    }
}

/* ---- Operations ---- */

/* Creates PATH (plus SEQUENCE suffix) and its missing parents.  Returns 0 with *CREATED (a
 * new string) or an errno. */
static int
do_create(struct coord_local *l, const char *path, const char *value, size_t len,
          unsigned flags, char **created)
{
    struct local_tree *t = l->tree;
    *created = NULL;
    if (!path || path[0] != '/') {
        return EINVAL;
    }
    /* With SEQUENCE the given path is a prefix: "/a/b-" or even "/a/" is fine. */
    char *check = mem_asprintf(&mem_type_local, "%s%s", path,
                               flags & COORD_SEQUENCE ? "0000000000" : "");
    bool valid = path_is_valid(check) && strcmp(check, "/");
    mem_free(&mem_type_local, check);
    if (!valid) {
        return !strcmp(path, "/") ? EEXIST : EINVAL;
    }

    char *parent_path = path_parent(path);      /* "/a/" (SEQUENCE) gives "/a". */

    /* Refuse before creating anything if an existing ancestor is ephemeral. */
    struct lnode *parent = tree_find(t, parent_path);
    if (!parent) {
        for (char *p = parent_path + 1;; p++) {
            if (*p == '/' || !*p) {
                char save = *p;
                *p = '\0';
                struct lnode *a = tree_find(t, parent_path);
                *p = save;
                if (a && a->owner) {
                    mem_free(&mem_type_local, parent_path);
                    return EINVAL;
                }
                if (!save) {
                    break;
                }
            }
        }
        /* Create the missing ancestors, persistent and empty, top down. */
        struct lnode *up = tree_find(t, "/");
        for (char *p = parent_path + 1;; p++) {
            if (*p == '/' || !*p) {
                char save = *p;
                *p = '\0';
                struct lnode *a = tree_find(t, parent_path);
                if (!a) {
                    a = tree_insert(t, up, parent_path, "", 0, NULL);
                    tree_changed(t, up->path);
                    tree_changed(t, a->path);
                }
                up = a;
                *p = save;
                if (!save) {
                    break;
                }
            }
        }
        parent = up;
    } else if (parent->owner) {
        mem_free(&mem_type_local, parent_path);
        return EINVAL;
    }
    mem_free(&mem_type_local, parent_path);

    char *full = flags & COORD_SEQUENCE
                 ? mem_asprintf(&mem_type_local, "%s%010u", path, parent->cversion)
                 : mem_strdup(&mem_type_local, path);
    if (tree_find(t, full)) {
        mem_free(&mem_type_local, full);
        return EEXIST;
    }
    tree_insert(t, parent, full, value, len, flags & COORD_EPHEMERAL ? l : NULL);
    tree_changed(t, parent->path);
    tree_changed(t, full);
    *created = full;
    return 0;
}

static void
local_create(struct coord *c, const char *path, const char *value, size_t len, unsigned flags,
             coord_done_fn *done, void *aux)
{
    struct coord_local *l = local_cast(c);
    char *created;
    int error = do_create(l, path, value, len, flags, &created);
    struct local_pending *p = pending_add(l, LP_DONE, aux);
    p->fn.done = done;
    p->error = error;
    p->str = created;
}

static void
local_set(struct coord *c, const char *path, const char *value, size_t len, int version,
          coord_done_fn *done, void *aux)
{
    struct coord_local *l = local_cast(c);
    struct lnode *n = path_is_valid(path) ? tree_find(l->tree, path) : NULL;
    struct local_pending *p = pending_add(l, LP_DONE, aux);
    p->fn.done = done;
    if (!path_is_valid(path)) {
        p->error = EINVAL;
    } else if (!n) {
        p->error = ENOENT;
    } else if (version >= 0 && version != n->version) {
        p->error = EAGAIN;
    } else {
        mem_free(&mem_type_local_node, n->value);
        n->value = mem_strndup(&mem_type_local_node, value ? value : "", value ? len : 0);
        n->len = value ? len : 0;
        n->version++;
        p->str = mem_strdup(&mem_type_local, path);
    }
}

static void
local_get(struct coord *c, const char *path, coord_get_fn *cb, void *aux)
{
    struct coord_local *l = local_cast(c);
    struct lnode *n = path_is_valid(path) ? tree_find(l->tree, path) : NULL;
    struct local_pending *p = pending_add(l, LP_GET, aux);
    p->fn.get = cb;
    if (!path_is_valid(path)) {
        p->error = EINVAL;
    } else if (!n) {
        p->error = ENOENT;
    } else {
        p->str = mem_strndup(&mem_type_local, n->value, n->len);
        p->len = n->len;
        p->version = n->version;
    }
}

/* Deletes PATH.  Returns 0 or an errno. */
static int
do_delete(struct coord_local *l, const char *path)
{
    if (!path_is_valid(path) || !strcmp(path, "/")) {
        return EINVAL;
    }
    struct lnode *n = tree_find(l->tree, path);
    if (!n) {
        return ENOENT;
    }
    if (!list_is_empty(&n->children)) {
        return ENOTEMPTY;
    }
    char *parent = mem_strdup(&mem_type_local, n->parent->path);
    tree_remove(l->tree, n);
    tree_changed(l->tree, parent);
    tree_changed(l->tree, path);
    mem_free(&mem_type_local, parent);
    return 0;
}

static void
local_delete(struct coord *c, const char *path, coord_done_fn *done, void *aux)
{
    struct coord_local *l = local_cast(c);
    int error = do_delete(l, path);
    struct local_pending *p = pending_add(l, LP_DONE, aux);
    p->fn.done = done;
    p->error = error;
    if (!error) {
        p->str = mem_strdup(&mem_type_local, path);
    }
}

/* One tree, always current: nothing to catch up with. */
static void
local_sync(struct coord *c, const char *path, coord_done_fn *done, void *aux)
{
    struct coord_local *l = local_cast(c);
    struct local_pending *p = pending_add(l, LP_DONE, aux);
    p->fn.done = done;
    p->str = mem_strdup(&mem_type_local, path ? path : "/");
}

static int
compare_children(const void *a_, const void *b_)
{
    const struct coord_child *a = a_, *b = b_;
    return strcmp(a->name, b->name);
}

static void
local_list(struct coord *c, const char *path, coord_list_fn *cb, void *aux)
{
    struct coord_local *l = local_cast(c);
    struct lnode *n = path_is_valid(path) ? tree_find(l->tree, path) : NULL;
    struct local_pending *p = pending_add(l, LP_LIST, aux);
    p->fn.list = cb;
    if (!path_is_valid(path)) {
        p->error = EINVAL;
        return;
    }
    if (!n) {
        p->error = ENOENT;
        return;
    }
    size_t count = 0;
    struct lnode *child;
    LIST_FOR_EACH (child, sibling, &n->children) {
        count++;
    }
    p->children = mem_zalloc(&mem_type_local, (count ? count : 1) * sizeof *p->children);
    LIST_FOR_EACH (child, sibling, &n->children) {
        struct coord_child *cc = &p->children[p->n++];
        cc->name = mem_strdup(&mem_type_local, child->name);
        cc->value = mem_strndup(&mem_type_local, child->value, child->len);
        cc->len = child->len;
        cc->version = child->version;
    }
    qsort(p->children, p->n, sizeof *p->children, compare_children);
}

static void
local_watch_children(struct coord *c, const char *path, coord_watch_fn *cb, void *aux)
{
    struct coord_local *l = local_cast(c);
    struct local_watch *w = mem_zalloc(&mem_type_local, sizeof *w);
    w->path = mem_strdup(&mem_type_local, path);
    w->cb = cb;
    w->aux = aux;
    list_push_back(&l->watches, &w->node);
}

/* ---- Elections ---- */

static struct coord_election *
local_elect(struct coord *c, const char *path, const char *id, coord_leader_fn *cb, void *aux)
{
    struct coord_local *l = local_cast(c);
    struct local_election *e = mem_zalloc(&mem_type_local, sizeof *e);
    e->up.coord = c;
    e->path = mem_strdup(&mem_type_local, path);
    e->id = mem_strdup(&mem_type_local, id ? id : "");
    e->cb = cb;
    e->aux = aux;
    e->reported = -1;
    list_push_back(&l->elections, &e->node);

    char uuid[UUID_LEN + 1], prefix[UUID_LEN + 16];
    uuid_generate(uuid);
    size_t k = 0;
    for (const char *s = uuid; *s; s++) {
        if (*s != '-') {
            prefix[k++] = *s;
        }
    }
    prefix[k] = '\0';
    char *node = mem_asprintf(&mem_type_local, "%s/%s__lock__", path, prefix);
    char *created;
    int error = do_create(l, node, e->id, strlen(e->id), COORD_EPHEMERAL | COORD_SEQUENCE,
                          &created);
    mem_free(&mem_type_local, node);
    if (error) {
        LOG_ERR("election %s: %s cannot join: %s", path, e->id, strerror(error));
    }
    e->node_path = created;
    election_evaluate(l, e);
    return &e->up;
}

static bool
local_is_leader(const struct coord_election *e_)
{
    const struct local_election *e = CONTAINER_OF(e_, struct local_election, up);
    return e->leader;
}

static void
election_free(struct local_election *e)
{
    mem_free(&mem_type_local, e->path);
    mem_free(&mem_type_local, e->id);
    mem_free(&mem_type_local, e->node_path);
    mem_free(&mem_type_local, e);
}

static void
local_resign(struct coord_election *e_)
{
    struct local_election *e = CONTAINER_OF(e_, struct local_election, up);
    struct coord_local *l = local_cast(e->up.coord);
    list_remove(&e->node);
    struct local_pending *p;
    LIST_FOR_EACH_SAFE (p, node, &l->pending) {
        if (p->election == e) {
            list_remove(&p->node);
            pending_free(p);
        }
    }
    if (e->node_path) {
        do_delete(l, e->node_path);
    }
    election_free(e);
}

/* ---- Instance ---- */

static int
local_open(struct event_base *base, const char *spec, int session_timeout_ms,
           struct coord **coordp, char *err, size_t errlen)
{
    struct coord_local *l = mem_zalloc(&mem_type_local, sizeof *l);
    l->up.class = &coord_local_class;
    list_init(&l->pending);
    list_init(&l->watches);
    list_init(&l->elections);
    l->ev = event_new(base, -1, 0, local_deliver, l);
    l->tree = tree_ref(base);
    list_push_back(&l->tree->instances, &l->tree_node);
    *coordp = &l->up;
    return 0;
}

static void
local_close(struct coord *c)
{
    struct coord_local *l = local_cast(c);
    struct local_tree *t = l->tree;
    if (l->alive) {
        *l->alive = false;
    }
    list_remove(&l->tree_node);

    /* The session ends: its ephemerals go, and the others see them go. */
    size_t n_owned = 0;
    struct lnode *n;
    HMAP_FOR_EACH (n, hnode, &t->nodes) {
        n_owned += n->owner == l;
    }
    if (n_owned) {
        char **paths = mem_zalloc(&mem_type_local, n_owned * sizeof *paths);
        size_t i = 0;
        HMAP_FOR_EACH (n, hnode, &t->nodes) {
            if (n->owner == l) {
                paths[i++] = mem_strdup(&mem_type_local, n->path);
            }
        }
        for (i = 0; i < n_owned; i++) {
            struct lnode *gone = tree_find(t, paths[i]);
            char *parent = mem_strdup(&mem_type_local, gone->parent->path);
            tree_remove(t, gone);
            tree_changed(t, parent);
            tree_changed(t, paths[i]);
            mem_free(&mem_type_local, parent);
            mem_free(&mem_type_local, paths[i]);
        }
        mem_free(&mem_type_local, paths);
    }

    struct local_pending *p;
    LIST_FOR_EACH_SAFE (p, node, &l->pending) {
        list_remove(&p->node);
        pending_free(p);
    }
    struct local_watch *w;
    LIST_FOR_EACH_SAFE (w, node, &l->watches) {
        list_remove(&w->node);
        mem_free(&mem_type_local, w->path);
        mem_free(&mem_type_local, w);
    }
    struct local_election *e;
    LIST_FOR_EACH_SAFE (e, node, &l->elections) {
        list_remove(&e->node);
        election_free(e);
    }
    event_free(l->ev);
    tree_unref(t);
    mem_free(&mem_type_local, l);
}

static enum coord_state
local_state(const struct coord *c)
{
    return COORD_CONNECTED;
}

static void
local_set_state_cb(struct coord *c, coord_state_fn *cb, void *aux)
{
    /* The state never changes. */
}

const struct coord_class coord_local_class = {
    .name = "local",
    .open = local_open,
    .close = local_close,
    .state = local_state,
    .set_state_cb = local_set_state_cb,
    .create = local_create,
    .set = local_set,
    .sync = local_sync,
    .get = local_get,
    .delete = local_delete,
    .list = local_list,
    .watch_children = local_watch_children,
    .elect = local_elect,
    .is_leader = local_is_leader,
    .resign = local_resign,
};
