/* bgp_mcast: multicast distribution trees for the control node's agents (see bgp_mcast.h).
 *
 * Layout: instances (by name) hold (G,S) entries (by group and source), which hold their
 * forwarders (by agent).  Agents are shared objects (by name) that own the label blocks and
 * list their forwarders, so that a session going down removes them without a search.
 *
 * An entry keeps the tree it last reported as an array of forwarder pointers in tree order,
 * and each forwarder its index there.  A rebuild sorts the forwarders afresh and compares
 * each one's neighbours in the new array with those in the old one; together with a flag set
 * when a forwarder's own address, encapsulation or label changed, that tells exactly whose
 * olist changed, without storing any olist.  Removed forwarders stay on their entry's "gone"
 * list until the flush has reported them, so the old array never points at freed memory. */
#include "bgp_mcast.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "list.h"
#include "mem.h"

static MEM_TYPE(mem_type_mcast, "bgp_mcast");
static MEM_TYPE(mem_type_mcast_fwd, "bgp_mcast_forwarder");
static MEM_TYPE(mem_type_mcast_sg, "bgp_mcast_sg");
static MEM_TYPE(mem_type_mcast_tree, "bgp_mcast_tree");

/* A label block of an agent: a bitmap that grows with the labels in use, so that a wide
 * range costs nothing until it is used. */
struct mcast_block {
    struct list node;               /* In the agent's blocks. */
    uint32_t first, last;
    uint32_t refs;                  /* Forwarders using the block. */
    uint32_t hint;                  /* Every index below it is in use. */
    uint32_t n_words;
    uint64_t *bits;
    struct list waiters;            /* Forwarders of the block without a label. */
};

struct mcast_agent {
    struct hmap_node node;          /* In the manager, by name. */
    char *name;
    size_t refs;                    /* Forwarders, the removed but unreported included. */
    struct list fwds;               /* Live forwarders. */
    struct list blocks;
};

enum {
    FWD_CHANGED = 1 << 0,           /* Address, encapsulation or label changed: tell the
                                     * neighbours. */
    FWD_NEW_LABEL = 1 << 1,         /* Label assigned by this rebuild: tell the forwarder. */
    FWD_REPORTED = 1 << 2,          /* ops->update was called for it. */
};

struct mcast_fwd {
    struct hmap_node node;          /* In the entry, by agent pointer. */
    struct list agent_node;         /* In the agent's fwds; in the entry's gone once removed. */
    struct list wait_node;          /* In the block's waiters while without a label. */
    struct mcast_sg *sg;
    struct mcast_agent *agent;
    struct mcast_block *block;
    uint32_t addr;                  /* Host order, for sorting. */
    uint32_t label;                 /* 0: none. */
    unsigned encap;
    int32_t pos;                    /* Index in the entry's tree; -1: not in it. */
    uint8_t flags;
};

struct mcast_inst;

struct mcast_sg {
    struct hmap_node node;          /* In the instance, by group and source. */
    struct list dirty_node;         /* In the manager's dirty list; self-linked when clean. */
    struct mcast_inst *inst;
    uint32_t group, source;         /* Host order. */
    struct hmap fwds;
    struct list gone;               /* Removed forwarders waiting for the flush. */
    struct mcast_fwd **tree;        /* The tree as last built. */
    size_t n_tree;
};

struct mcast_inst {
    struct hmap_node node;          /* In the manager, by name. */
    char *name;
    struct hmap sgs;
};

struct bgp_mcast {
    struct hmap insts;
    struct hmap agents;
    struct list dirty;
    struct event *ev;               /* Runs the flush; NULL without an event base. */
    struct bgp_mcast_ops ops;
    size_t n_fwds;
    uint64_t n_rebuilds, n_updates, n_gone;
};

/* --- Label blocks ------------------------------------------------------------------------ */

static bool
block_test(const struct mcast_block *b, uint32_t i)
{
    return i / 64 < b->n_words && (b->bits[i / 64] >> (i % 64) & 1);
}

/* Allocates the lowest free label of B (as the original's LabelBlock).  Returns 0 when full. */
static uint32_t
block_alloc(struct mcast_block *b)
{
    uint32_t size = b->last - b->first + 1;
    uint32_t i = b->hint;
    while (i < size && block_test(b, i)) {
        i++;
    }
    if (i >= size) {
        b->hint = size;
        return 0;
    }
    if (i / 64 >= b->n_words) {
        uint32_t n = b->n_words ? b->n_words * 2 : 1;
        while (n <= i / 64) {
            n *= 2;
        }
        b->bits = mem_realloc(&mem_type_mcast, b->bits, n * sizeof *b->bits);
        memset(b->bits + b->n_words, 0, (n - b->n_words) * sizeof *b->bits);
        b->n_words = n;
    }
    b->bits[i / 64] |= (uint64_t) 1 << (i % 64);
    b->hint = i + 1;
    return b->first + i;
}

static void mark_dirty(struct bgp_mcast *, struct mcast_sg *);

/* Returns LABEL to B and lets the forwarders waiting for one try again. */
static void
block_release(struct bgp_mcast *mc, struct mcast_block *b, uint32_t label)
{
    uint32_t i = label - b->first;
    b->bits[i / 64] &= ~((uint64_t) 1 << (i % 64));
    if (i < b->hint) {
        b->hint = i;
    }
    struct mcast_fwd *w;
    LIST_FOR_EACH (w, wait_node, &b->waiters) {
        mark_dirty(mc, w->sg);
    }
}

static struct mcast_block *
block_ref(struct mcast_agent *a, uint32_t first, uint32_t last)
{
    struct mcast_block *b;
    LIST_FOR_EACH (b, node, &a->blocks) {
        if (b->first == first && b->last == last) {
            b->refs++;
            return b;
        }
    }
    b = mem_zalloc(&mem_type_mcast, sizeof *b);
    b->first = first;
    b->last = last;
    b->refs = 1;
    list_init(&b->waiters);
    list_push_back(&a->blocks, &b->node);
    return b;
}

static void
block_unref(struct mcast_block *b)
{
    if (--b->refs == 0) {
        list_remove(&b->node);
        mem_free(&mem_type_mcast, b->bits);
        mem_free(&mem_type_mcast, b);
    }
}

/* --- Lookups ----------------------------------------------------------------------------- */

static uint32_t
sg_hash(uint32_t group, uint32_t source)
{
    uint32_t key[2] = { group, source };
    return hash_bytes(key, sizeof key, 0);
}

static uint32_t
agent_ptr_hash(const struct mcast_agent *a)
{
    return hash_bytes(&a, sizeof a, 0);
}

static uint32_t
ip4_host(const uint8_t a[4])
{
    return (uint32_t) a[0] << 24 | (uint32_t) a[1] << 16 | (uint32_t) a[2] << 8 | a[3];
}

static void
ip4_net(uint32_t h, uint8_t a[4])
{
    a[0] = h >> 24;
    a[1] = h >> 16;
    a[2] = h >> 8;
    a[3] = h;
}

static struct mcast_inst *
inst_find(const struct bgp_mcast *mc, const char *name)
{
    struct mcast_inst *in;
    HMAP_FOR_EACH_WITH_HASH (in, node, hash_string(name, 0), &mc->insts) {
        if (!strcmp(in->name, name)) {
            return in;
        }
    }
    return NULL;
}

static struct mcast_sg *
sg_find(const struct mcast_inst *in, uint32_t group, uint32_t source)
{
    struct mcast_sg *sg;
    HMAP_FOR_EACH_WITH_HASH (sg, node, sg_hash(group, source), &in->sgs) {
        if (sg->group == group && sg->source == source) {
            return sg;
        }
    }
    return NULL;
}

static struct mcast_agent *
agent_find(const struct bgp_mcast *mc, const char *name)
{
    struct mcast_agent *a;
    HMAP_FOR_EACH_WITH_HASH (a, node, hash_string(name, 0), &mc->agents) {
        if (!strcmp(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

static struct mcast_fwd *
fwd_find(const struct mcast_sg *sg, const struct mcast_agent *a)
{
    struct mcast_fwd *f;
    HMAP_FOR_EACH_WITH_HASH (f, node, agent_ptr_hash(a), &sg->fwds) {
        if (f->agent == a) {
            return f;
        }
    }
    return NULL;
}

/* The live forwarder of AGENT in (INSTANCE, GROUP, SOURCE), or NULL. */
static struct mcast_fwd *
fwd_lookup(const struct bgp_mcast *mc, const char *instance, const uint8_t group[4],
           const uint8_t source[4], const char *agent)
{
    struct mcast_inst *in = inst_find(mc, instance);
    struct mcast_agent *a = agent_find(mc, agent);
    struct mcast_sg *sg = in ? sg_find(in, ip4_host(group), ip4_host(source)) : NULL;
    return sg && a ? fwd_find(sg, a) : NULL;
}

/* --- Life cycle of entries, agents and forwarders ---------------------------------------- */

static void
mark_dirty(struct bgp_mcast *mc, struct mcast_sg *sg)
{
    if (!list_is_empty(&sg->dirty_node)) {
        return;
    }
    bool was_idle = list_is_empty(&mc->dirty);
    list_push_back(&mc->dirty, &sg->dirty_node);
    if (was_idle && mc->ev) {
        event_active(mc->ev, 0, 0);
    }
}

static void
agent_unref(struct bgp_mcast *mc, struct mcast_agent *a)
{
    if (--a->refs == 0) {
        hmap_remove(&mc->agents, &a->node);
        xfree(a->name);
        mem_free(&mem_type_mcast, a);
    }
}

static void
sg_free(struct bgp_mcast *mc, struct mcast_sg *sg)
{
    struct mcast_inst *in = sg->inst;
    hmap_remove(&in->sgs, &sg->node);
    hmap_destroy(&sg->fwds);
    mem_free(&mem_type_mcast_tree, sg->tree);
    mem_free(&mem_type_mcast_sg, sg);
    if (!hmap_count(&in->sgs)) {
        hmap_remove(&mc->insts, &in->node);
        hmap_destroy(&in->sgs);
        xfree(in->name);
        mem_free(&mem_type_mcast, in);
    }
}

/* Takes F out of its entry, agent and block; it stays on the entry's gone list for the flush
 * to report, and keeps its agent referenced until then. */
static void
fwd_remove(struct bgp_mcast *mc, struct mcast_fwd *f)
{
    struct mcast_sg *sg = f->sg;
    hmap_remove(&sg->fwds, &f->node);
    list_remove(&f->agent_node);
    list_push_back(&sg->gone, &f->agent_node);
    list_remove(&f->wait_node);
    if (f->label) {
        block_release(mc, f->block, f->label);
        f->label = 0;
    }
    block_unref(f->block);
    f->block = NULL;
    mc->n_fwds--;
    mark_dirty(mc, sg);
}

static void
fwd_free(struct bgp_mcast *mc, struct mcast_fwd *f)
{
    list_remove(&f->agent_node);
    agent_unref(mc, f->agent);
    mem_free(&mem_type_mcast_fwd, f);
}

/* --- Public: changes --------------------------------------------------------------------- */

static void
flush_cb(evutil_socket_t fd, short what, void *aux)
{
    (void) fd;
    (void) what;
    bgp_mcast_flush(aux);
}

struct bgp_mcast *
bgp_mcast_create(struct event_base *base, const struct bgp_mcast_ops *ops)
{
    struct bgp_mcast *mc = mem_zalloc(&mem_type_mcast, sizeof *mc);
    hmap_init(&mc->insts);
    hmap_init(&mc->agents);
    list_init(&mc->dirty);
    if (ops) {
        mc->ops = *ops;
    }
    if (base) {
        mc->ev = event_new(base, -1, 0, flush_cb, mc);
        if (!mc->ev) {
            abort();
        }
    }
    return mc;
}

void
bgp_mcast_destroy(struct bgp_mcast *mc)
{
    if (!mc) {
        return;
    }
    if (mc->ev) {
        event_free(mc->ev);
        mc->ev = NULL;          /* Removals below mark entries dirty: schedule nothing. */
    }
    struct mcast_inst *in;
    HMAP_FOR_EACH_SAFE (in, node, &mc->insts) {
        struct mcast_sg *sg;
        HMAP_FOR_EACH_SAFE (sg, node, &in->sgs) {
            struct mcast_fwd *f;
            HMAP_FOR_EACH_SAFE (f, node, &sg->fwds) {
                fwd_remove(mc, f);
            }
            LIST_FOR_EACH_SAFE (f, agent_node, &sg->gone) {
                fwd_free(mc, f);
            }
            list_remove(&sg->dirty_node);
            sg_free(mc, sg);    /* Frees IN with its last entry. */
        }
    }
    hmap_destroy(&mc->insts);
    hmap_destroy(&mc->agents);
    mem_free(&mem_type_mcast, mc);
}

int
bgp_mcast_add(struct bgp_mcast *mc, const char *instance, const uint8_t group[4],
              const uint8_t source[4], const char *agent, const uint8_t addr[4],
              uint32_t label_first, uint32_t label_last, unsigned encap)
{
    if (!label_first || label_first > label_last || label_last > BGP_MCAST_LABEL_MAX) {
        return EINVAL;
    }

    struct mcast_inst *in = inst_find(mc, instance);
    if (!in) {
        in = mem_zalloc(&mem_type_mcast, sizeof *in);
        in->name = xstrdup(instance);
        hmap_init(&in->sgs);
        hmap_insert(&mc->insts, &in->node, hash_string(instance, 0));
    }
    uint32_t g = ip4_host(group), s = ip4_host(source);
    struct mcast_sg *sg = sg_find(in, g, s);
    if (!sg) {
        sg = mem_zalloc(&mem_type_mcast_sg, sizeof *sg);
        sg->inst = in;
        sg->group = g;
        sg->source = s;
        hmap_init(&sg->fwds);
        list_init(&sg->gone);
        list_init(&sg->dirty_node);
        hmap_insert(&in->sgs, &sg->node, sg_hash(g, s));
    }
    struct mcast_agent *a = agent_find(mc, agent);
    if (!a) {
        a = mem_zalloc(&mem_type_mcast, sizeof *a);
        a->name = xstrdup(agent);
        list_init(&a->fwds);
        list_init(&a->blocks);
        hmap_insert(&mc->agents, &a->node, hash_string(agent, 0));
    }

    uint32_t address = ip4_host(addr);
    struct mcast_fwd *f = fwd_find(sg, a);
    if (!f) {
        f = mem_zalloc(&mem_type_mcast_fwd, sizeof *f);
        f->sg = sg;
        f->agent = a;
        a->refs++;
        list_push_back(&a->fwds, &f->agent_node);
        f->block = block_ref(a, label_first, label_last);
        list_push_back(&f->block->waiters, &f->wait_node);
        f->addr = address;
        f->encap = encap;
        f->pos = -1;
        f->flags = FWD_CHANGED;
        hmap_insert(&sg->fwds, &f->node, agent_ptr_hash(a));
        mc->n_fwds++;
        mark_dirty(mc, sg);
        return 0;
    }

    if (f->block->first != label_first || f->block->last != label_last) {
        struct mcast_block *old = f->block;
        list_remove(&f->wait_node);
        if (f->label) {
            block_release(mc, old, f->label);
            f->label = 0;
        }
        f->block = block_ref(a, label_first, label_last);
        block_unref(old);
        list_push_back(&f->block->waiters, &f->wait_node);
        f->flags |= FWD_CHANGED;
    }
    if (f->addr != address || f->encap != encap) {
        f->addr = address;
        f->encap = encap;
        f->flags |= FWD_CHANGED;
    }
    if (f->flags & FWD_CHANGED) {
        mark_dirty(mc, sg);
    }
    return 0;
}

int
bgp_mcast_remove(struct bgp_mcast *mc, const char *instance, const uint8_t group[4],
                 const uint8_t source[4], const char *agent)
{
    struct mcast_fwd *f = fwd_lookup(mc, instance, group, source, agent);
    if (!f) {
        return ENOENT;
    }
    fwd_remove(mc, f);
    return 0;
}

size_t
bgp_mcast_remove_agent(struct bgp_mcast *mc, const char *agent, const char *instance)
{
    struct mcast_agent *a = agent_find(mc, agent);
    if (!a) {
        return 0;
    }
    /* The gone forwarders keep A referenced until the flush, so A outlives the loop. */
    size_t n = 0;
    struct mcast_fwd *f;
    LIST_FOR_EACH_SAFE (f, agent_node, &a->fwds) {
        if (!instance || !strcmp(f->sg->inst->name, instance)) {
            fwd_remove(mc, f);
            n++;
        }
    }
    return n;
}

bool
bgp_mcast_pending(const struct bgp_mcast *mc)
{
    return !list_is_empty(&mc->dirty);
}

/* --- Trees ------------------------------------------------------------------------------- */

/* Fills NB with the neighbours of the forwarder at index I of TREE (N entries): its parent,
 * then its children.  Returns how many. */
static size_t
tree_neighbours(struct mcast_fwd *const *tree, size_t n, size_t i, struct mcast_fwd **nb)
{
    size_t k = 0;
    if (i > 0) {
        nb[k++] = tree[(i - 1) / BGP_MCAST_DEGREE];
    }
    for (size_t c = i * BGP_MCAST_DEGREE + 1; c <= i * BGP_MCAST_DEGREE + BGP_MCAST_DEGREE
         && c < n; c++) {
        nb[k++] = tree[c];
    }
    return k;
}

static size_t
make_olist(struct mcast_fwd *const *nb, size_t n, struct bgp_mcast_olist_entry *olist)
{
    for (size_t i = 0; i < n; i++) {
        ip4_net(nb[i]->addr, olist[i].addr);
        olist[i].label = nb[i]->label;
        olist[i].encap = nb[i]->encap;
    }
    return n;
}

static int
fwd_cmp(const void *a_, const void *b_)
{
    const struct mcast_fwd *a = *(struct mcast_fwd *const *) a_;
    const struct mcast_fwd *b = *(struct mcast_fwd *const *) b_;
    if (a->addr != b->addr) {
        return a->addr < b->addr ? -1 : 1;
    }
    return strcmp(a->agent->name, b->agent->name);
}

static void
report(struct bgp_mcast *mc, const struct mcast_sg *sg, struct mcast_fwd *f, bool gone,
       const struct bgp_mcast_olist_entry *olist, size_t n_olist)
{
    struct bgp_mcast_update u = {
        .instance = sg->inst->name,
        .agent = f->agent->name,
        .gone = gone,
        .label = gone ? 0 : f->label,
        .olist = olist,
        .n_olist = n_olist,
    };
    ip4_net(sg->group, u.group);
    ip4_net(sg->source, u.source);
    f->flags |= FWD_REPORTED;
    if (gone) {
        mc->n_gone++;
    } else {
        mc->n_updates++;
    }
    if (mc->ops.update) {
        mc->ops.update(mc->ops.aux, &u);
    }
}

/* Rebuilds SG's tree and reports what changed. */
static void
sg_rebuild(struct bgp_mcast *mc, struct mcast_sg *sg)
{
    mc->n_rebuilds++;

    /* The forwarders in address order; those that get (or have) a label form the tree, the
     * others are moved to the front of ALL. */
    size_t n = hmap_count(&sg->fwds), k = 0, n_out = 0;
    struct mcast_fwd **all = NULL, **tree = NULL;
    if (n) {
        all = mem_zalloc(&mem_type_mcast_tree, n * sizeof *all);
        tree = mem_zalloc(&mem_type_mcast_tree, n * sizeof *tree);
    }
    struct mcast_fwd *f;
    HMAP_FOR_EACH (f, node, &sg->fwds) {
        all[k++] = f;
    }
    if (n > 1) {
        qsort(all, n, sizeof *all, fwd_cmp);
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        f = all[i];
        if (!f->label) {
            f->label = block_alloc(f->block);
            if (f->label) {
                list_remove(&f->wait_node);
                f->flags |= FWD_CHANGED | FWD_NEW_LABEL;
            }
        }
        if (f->label) {
            tree[k++] = f;
        } else {
            all[n_out++] = f;
        }
    }

    struct mcast_fwd **old = sg->tree;
    size_t n_old = sg->n_tree;
    for (size_t i = 0; i < k; i++) {
        f = tree[i];
        struct mcast_fwd *nb[BGP_MCAST_MAX_OLIST], *nb_old[BGP_MCAST_MAX_OLIST];
        size_t n_nb = tree_neighbours(tree, k, i, nb);
        bool changed = !(f->flags & FWD_REPORTED) || (f->flags & FWD_NEW_LABEL) || f->pos < 0;
        if (!changed) {
            size_t n_nb_old = tree_neighbours(old, n_old, f->pos, nb_old);
            changed = n_nb != n_nb_old || memcmp(nb, nb_old, n_nb * sizeof *nb);
        }
        for (size_t j = 0; !changed && j < n_nb; j++) {
            changed = nb[j]->flags & FWD_CHANGED;
        }
        if (changed) {
            struct bgp_mcast_olist_entry olist[BGP_MCAST_MAX_OLIST];
            report(mc, sg, f, false, olist, make_olist(nb, n_nb, olist));
        }
    }
    /* Forwarders that left the tree for want of a label lose their route. */
    for (size_t i = 0; i < n_out; i++) {
        f = all[i];
        if (f->pos >= 0) {
            report(mc, sg, f, false, NULL, 0);
        }
    }

    LIST_FOR_EACH_SAFE (f, agent_node, &sg->gone) {
        fwd_free(mc, f);
    }
    HMAP_FOR_EACH (f, node, &sg->fwds) {
        f->pos = -1;
        f->flags &= ~(FWD_CHANGED | FWD_NEW_LABEL);
    }
    for (size_t i = 0; i < k; i++) {
        tree[i]->pos = (int32_t) i;
    }
    mem_free(&mem_type_mcast_tree, old);
    mem_free(&mem_type_mcast_tree, all);
    if (!k) {
        mem_free(&mem_type_mcast_tree, tree);
        tree = NULL;
    } else if (k < n) {
        tree = mem_realloc(&mem_type_mcast_tree, tree, k * sizeof *tree);
    }
    sg->tree = tree;
    sg->n_tree = k;
}

void
bgp_mcast_flush(struct bgp_mcast *mc)
{
    /* Every "gone" first, in all entries: a label freed by a removal may be given to the same
     * agent in another tree by this flush, and the agent should drop the old route before it
     * learns the new one. */
    struct mcast_sg *sg;
    LIST_FOR_EACH (sg, dirty_node, &mc->dirty) {
        struct mcast_fwd *f;
        LIST_FOR_EACH (f, agent_node, &sg->gone) {
            if (f->flags & FWD_REPORTED) {
                report(mc, sg, f, true, NULL, 0);
                f->flags &= ~FWD_REPORTED;
            }
        }
    }
    while (!list_is_empty(&mc->dirty)) {
        sg = CONTAINER_OF(list_pop_front(&mc->dirty), struct mcast_sg, dirty_node);
        sg_rebuild(mc, sg);
        if (!hmap_count(&sg->fwds)) {
            sg_free(mc, sg);
        }
    }
}

int
bgp_mcast_get(const struct bgp_mcast *mc, const char *instance, const uint8_t group[4],
              const uint8_t source[4], const char *agent, uint32_t *label,
              struct bgp_mcast_olist_entry *olist, size_t *n_olist)
{
    const struct mcast_fwd *f = fwd_lookup(mc, instance, group, source, agent);
    if (!f) {
        return ENOENT;
    }
    *n_olist = 0;
    *label = f->pos >= 0 ? f->label : 0;
    if (f->pos >= 0) {
        struct mcast_fwd *nb[BGP_MCAST_MAX_OLIST];
        size_t n = tree_neighbours(f->sg->tree, f->sg->n_tree, f->pos, nb);
        *n_olist = make_olist(nb, n, olist);
    }
    return 0;
}

/* --- Introspect -------------------------------------------------------------------------- */

static json_t *
encap_json(const struct bgp_mcast *mc, unsigned encap)
{
    if (mc->ops.encap_format) {
        char buf[128];
        return json_string(mc->ops.encap_format(encap, buf, sizeof buf));
    }
    return json_integer(encap);
}

static json_t *
addr_json(uint32_t h)
{
    struct in_addr in = { .s_addr = htonl(h) };
    char buf[INET_ADDRSTRLEN];
    return json_string(inet_ntop(AF_INET, &in, buf, sizeof buf));
}

static json_t *
fwd_json(const struct bgp_mcast *mc, const struct mcast_sg *sg, const struct mcast_fwd *f,
         bool gone)
{
    json_t *olist = json_array();
    if (f->pos >= 0 && (size_t) f->pos < sg->n_tree && sg->tree[f->pos] == f) {
        struct mcast_fwd *nb[BGP_MCAST_MAX_OLIST];
        size_t n = tree_neighbours(sg->tree, sg->n_tree, f->pos, nb);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(olist, xjson_pack("{s:o, s:I, s:o}",
                                                    "address", addr_json(nb[i]->addr),
                                                    "label", (json_int_t) nb[i]->label,
                                                    "encap", encap_json(mc, nb[i]->encap)));
        }
    }
    json_t *j = xjson_pack("{s:s, s:o, s:I, s:o, s:o}", "agent", f->agent->name,
                           "address", addr_json(f->addr), "label", (json_int_t) f->label,
                           "encap", encap_json(mc, f->encap), "olist", olist);
    if (f->block) {
        char range[32];
        snprintf(range, sizeof range, "%u-%u", f->block->first, f->block->last);
        json_object_set_new(j, "label_block", json_string(range));
    }
    if (gone) {
        json_object_set_new(j, "removed", json_true());     /* Not yet flushed. */
    }
    return j;
}

static int
sg_cmp(const void *a_, const void *b_)
{
    const struct mcast_sg *a = *(struct mcast_sg *const *) a_;
    const struct mcast_sg *b = *(struct mcast_sg *const *) b_;
    if (a->group != b->group) {
        return a->group < b->group ? -1 : 1;
    }
    return a->source < b->source ? -1 : a->source > b->source;
}

static json_t *
sg_json(const struct bgp_mcast *mc, const struct mcast_sg *sg)
{
    json_t *fwds = json_array();
    for (size_t i = 0; i < sg->n_tree; i++) {
        const struct mcast_fwd *f = sg->tree[i];
        json_array_append_new(fwds, fwd_json(mc, sg, f, f->block == NULL));
    }
    /* Then the forwarders not in the tree: new since the flush, or without a label. */
    size_t n = 0;
    struct mcast_fwd **rest = mem_zalloc(&mem_type_mcast_tree,
                                         (hmap_count(&sg->fwds) + 1) * sizeof *rest);
    struct mcast_fwd *f;
    HMAP_FOR_EACH (f, node, &sg->fwds) {
        if (f->pos < 0) {
            rest[n++] = f;
        }
    }
    if (n > 1) {
        qsort(rest, n, sizeof *rest, fwd_cmp);
    }
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(fwds, fwd_json(mc, sg, rest[i], false));
    }
    mem_free(&mem_type_mcast_tree, rest);
    return xjson_pack("{s:o, s:o, s:o}", "group", addr_json(sg->group),
                      "source", addr_json(sg->source), "forwarders", fwds);
}

static json_t *
inst_json(const struct bgp_mcast *mc, const struct mcast_inst *in)
{
    size_t n = 0;
    struct mcast_sg **v = mem_zalloc(&mem_type_mcast_tree, (hmap_count(&in->sgs) + 1)
                                     * sizeof *v);
    struct mcast_sg *sg;
    HMAP_FOR_EACH (sg, node, &in->sgs) {
        v[n++] = sg;
    }
    if (n > 1) {
        qsort(v, n, sizeof *v, sg_cmp);
    }
    json_t *entries = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(entries, sg_json(mc, v[i]));
    }
    mem_free(&mem_type_mcast_tree, v);
    return xjson_pack("{s:s, s:o}", "name", in->name, "entries", entries);
}

static int
inst_cmp(const void *a_, const void *b_)
{
    const struct mcast_inst *a = *(struct mcast_inst *const *) a_;
    const struct mcast_inst *b = *(struct mcast_inst *const *) b_;
    return strcmp(a->name, b->name);
}

json_t *
bgp_mcast_to_json(const struct bgp_mcast *mc, const char *instance)
{
    json_t *insts = json_array();
    if (instance) {
        const struct mcast_inst *in = inst_find(mc, instance);
        if (in) {
            json_array_append_new(insts, inst_json(mc, in));
        }
    } else {
        size_t n = 0;
        struct mcast_inst **v = mem_zalloc(&mem_type_mcast_tree, (hmap_count(&mc->insts) + 1)
                                           * sizeof *v);
        struct mcast_inst *in;
        HMAP_FOR_EACH (in, node, &mc->insts) {
            v[n++] = in;
        }
        if (n > 1) {
            qsort(v, n, sizeof *v, inst_cmp);
        }
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(insts, inst_json(mc, v[i]));
        }
        mem_free(&mem_type_mcast_tree, v);
    }
    return xjson_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "instances", insts,
                      "agents", (json_int_t) hmap_count(&mc->agents),
                      "forwarders", (json_int_t) mc->n_fwds,
                      "rebuilds", (json_int_t) mc->n_rebuilds,
                      "updates", (json_int_t) mc->n_updates,
                      "gone", (json_int_t) mc->n_gone);
}
