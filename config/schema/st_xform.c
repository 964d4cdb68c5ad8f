/* st_xform: the schema transformer's derivations (see st_xform.h). */
#include "st_xform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "st_api.h"
#include "cfg_graph.h"
#include "st_rtalloc.h"
#include "st_rules.h"

LOG_MODULE(st_xform);

static MEM_TYPE(mem_type_st_xform, "st_xform");

#define IP_FABRIC_VN "default-domain:default-project:ip-fabric"
#define LINK_LOCAL_VN "default-domain:default-project:__link_local__"
#define DEFAULT_GSC "default-global-system-config"
#define DEFAULT_ASN 64512
#define RETRY_MS 1000
#define LR_OWNER "logical-router:"   /* Allocator owner keys of logical routers. */

/* Per-network state (cfg_obj.user of a virtual-network). */
struct st_vn {
    json_t *conns;              /* Sorted network names its pass rules reach ("*": any). */
    json_t *rt_both, *rt_import, *rt_export;    /* User route targets, normalized. */
    json_t *policies;           /* Policy names in order, for introspect. */
    json_t *chains;             /* Uuids of the service chains its policies ask for. */
    size_t acl_rules;
};

/* Per-logical-router state. */
struct st_lr {
    json_t *vns;                /* Networks attached through its interfaces (fq strings). */
    json_t *rts;                /* Its route targets: its own, then the configured ones. */
};

/* Per-security-group state. */
struct st_sg {
    long long id;
};

/* A write in flight. */
struct st_op {
    struct list node;           /* In x->ops (freed with the transformer). */
    struct st_xform *x;
    uint64_t generation;        /* The graph generation OBJ belongs to. */
    struct cfg_obj *obj;         /* Held (busy) while the write is in flight. */
    enum { OP_CREATE, OP_UPDATE, OP_DELETE, OP_LOOKUP } kind;
    char *type;
    json_t *body;               /* What was written. */
    json_t *waiters;            /* [[ident, fq_str], ...] to evaluate again when answered. */
};

struct st_xform {
    struct event_base *base;
    const struct schema *schema;
    struct st_api *api;
    struct list ops;            /* Every st_op alive: queued, in flight or waiting to retry. */
    struct cfg_graph *graph;
    struct st_xform_config cfg;
    const struct schema_ident *vn_id, *ri_id, *rt_id, *acl_id, *pol_id, *sg_id, *gsc_id;
    const struct schema_ident *lr_id, *vmi_id, *si_id, *stmpl_id, *vm_id, *iip_id, *pt_id;
    const struct schema_ident *bgpaas_id, *br_id;
    st_xform_guard_fn *guard;
    void *guard_aux;

    bool leader, synced, active;
    uint64_t generation;
    uint32_t asn;
    struct st_rtalloc rtalloc;
    json_t *rev;                /* Network name -> {fq_str of networks whose conns name it}. */
    json_t *user_rts;           /* Route-target name -> number of networks listing it. */
    json_t *rt_reg;             /* Route-target objects known to exist in the API: name -> uuid
                                 * (IF-MAP shows only those something refers to). */
    bool activating;            /* Listing the route targets before becoming active. */
    json_t *vn_lrs;             /* Network -> {logical router: true}. */
    json_t *force_conns;        /* Instances whose connection list must be written even if
                                 * the graph shows it right (see eval_ri). */
    json_t *tmp_policy_vns;     /* During one evaluation: policy -> its networks. */
    /* Service chains (§6.3). */
    json_t *chains;             /* Uuid -> {"spec": chain (st_rules), "users": {network: true},
                                 * "ris": [service instance names built], "state": text}. */
    json_t *svc_ris;            /* Service instance name -> {"chain", "si", "side", "index"}. */
    json_t *chain_peers;        /* Network -> {service instance its primary connects to}. */
    /* BGP as a service (§6.5). */
    json_t *bgp_clients;        /* bgpaas-client router -> the BGP-as-a-service wanting it. */
    json_t *bgpaas_ports;       /* Source port -> bgpaas-client router. */

    struct list q1, q2;         /* Networks, groups, then instances and route targets. */
    struct event *kick, *settle, *recheck;

    uint64_t n_evals, n_errors, n_reconciles, n_items, n_bad_items;
    uint64_t n_ops;             /* Writes not finished (in flight or waiting to retry). */
};

static void enqueue(struct st_xform *, struct cfg_obj *);
static void enqueue_name(struct st_xform *, const struct schema_ident *, const char *fq_str);
static void enqueue_rt(struct st_xform *, const char *name);
static void maybe_activate(struct st_xform *);
static void vn_chains_update(struct st_xform *, struct cfg_obj *vn, const json_t *chains);
static void graph_changed(void *aux, struct cfg_obj *, enum cfg_change, const char *field,
                          struct cfg_obj *other);

/* ---- Small helpers. ---- */

static const char *
last_name(const struct cfg_obj *o)
{
    size_t n = json_array_size(o->fq_name);
    return n ? json_string_value(json_array_get(o->fq_name, n - 1)) : "";
}

/* The last component of fq_name string S. */
static const char *
last_name_str(const char *s)
{
    const char *p = strrchr(s, ':');
    return p ? p + 1 : s;
}

static bool
json_has_str(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        if (!strcmp(json_string_value(v), s)) {
            return true;
        }
    }
    return false;
}

static struct cfg_obj *
find(const struct st_xform *x, const struct schema_ident *id, const char *fq_str)
{
    return cfg_graph_find(x->graph, id, fq_str);
}

static bool
is_vn_parent(const struct cfg_obj *ri)
{
    return ri->parent && cfg_obj_exists(ri->parent);
}

/* The primary routing instance of network VN, or NULL. */
static struct cfg_obj *
primary_ri(const struct st_xform *x, const struct cfg_obj *vn)
{
    struct cfg_obj *c;
    LIST_FOR_EACH (c, child_node, &vn->children) {
        if (c->ident == x->ri_id && cfg_obj_exists(c)
            && json_is_true(json_object_get(c->props, "routing_instance_is_default"))) {
            return c;
        }
    }
    return NULL;
}

/* Whether RI looks like a service chain's instance ("<vn>:service-<uuid>-<si>"). */
static bool
is_service_ri(const struct st_xform *x, const struct cfg_obj *ri)
{
    return ri->ident == x->ri_id && ri->parent && ri->parent->ident == x->vn_id
           && !strncmp(last_name(ri), "service-", 8)
           && !json_is_true(json_object_get(ri->props, "routing_instance_is_default"));
}

static bool
no_rt_network(const struct cfg_obj *vn)
{
    return !strcmp(vn->fq_str, IP_FABRIC_VN) || !strcmp(vn->fq_str, LINK_LOCAL_VN);
}

/* The project part of an fq_name string ("a:b" of "a:b:c"). */
static bool
same_project(const struct cfg_obj *a, const struct cfg_obj *b)
{
    return a->parent && a->parent == b->parent;
}

static char *
rt_name(uint32_t asn, uint32_t n)
{
    return mem_asprintf(&mem_type_string, "target:%u:%u", asn, n);
}

/* ---- Allocation state. ---- */

static void
user_rts_add(struct st_xform *x, const json_t *names, int delta)
{
    size_t i;
    json_t *v;
    json_array_foreach (names, i, v) {
        const char *name = json_string_value(v);
        json_t *c = json_object_get(x->user_rts, name);
        json_int_t n = (c ? json_integer_value(c) : 0) + delta;
        if (n > 0) {
            json_object_set_new(x->user_rts, name, json_integer(n));
        } else {
            json_object_del(x->user_rts, name);
            if (x->active) {
                enqueue_rt(x, name);
            }
        }
    }
}

static void
rev_update(struct st_xform *x, const struct cfg_obj *vn, const json_t *old, const json_t *new_)
{
    size_t i;
    json_t *v;
    json_array_foreach (old, i, v) {
        const char *name = json_string_value(v);
        if (new_ && json_has_str(new_, name)) {
            continue;
        }
        json_t *set = json_object_get(x->rev, name);
        json_object_del(set, vn->fq_str);
        if (set && !json_object_size(set)) {
            json_object_del(x->rev, name);
        }
    }
    json_array_foreach (new_, i, v) {
        const char *name = json_string_value(v);
        json_t *set = json_object_get(x->rev, name);
        if (!set) {
            set = json_object();
            json_object_set_new(x->rev, name, set);
        }
        json_object_set_new(set, vn->fq_str, json_true());
    }
}

static void
vn_state_free(struct st_xform *x, struct cfg_obj *vn)
{
    struct st_vn *s = vn->user;
    if (!s) {
        return;
    }
    rev_update(x, vn, s->conns, NULL);
    user_rts_add(x, s->rt_both, -1);
    user_rts_add(x, s->rt_import, -1);
    user_rts_add(x, s->rt_export, -1);
    json_decref(s->conns);
    json_decref(s->rt_both);
    json_decref(s->rt_import);
    json_decref(s->rt_export);
    json_decref(s->policies);
    json_decref(s->chains);
    mem_free(&mem_type_st_xform, s);
    vn->user = NULL;
}

static void
lr_state_free(struct st_xform *x, struct cfg_obj *lr)
{
    struct st_lr *s = lr->user;
    if (!s) {
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach (s->vns, i, v) {
        json_t *set = json_object_get(x->vn_lrs, json_string_value(v));
        json_object_del(set, lr->fq_str);
        if (set && !json_object_size(set)) {
            json_object_del(x->vn_lrs, json_string_value(v));
        }
    }
    /* The configured targets count as users' (see eval_lr). */
    json_t *configured = json_array();
    json_array_foreach (s->rts, i, v) {
        if (i) {
            json_array_append(configured, v);
        }
    }
    user_rts_add(x, configured, -1);
    json_decref(configured);
    json_decref(s->vns);
    json_decref(s->rts);
    mem_free(&mem_type_st_xform, s);
    lr->user = NULL;
}

/* Drops the derived-state caches (before a rebuild, or when the graph goes). */
static void
reset_state(struct st_xform *x)
{
    struct cfg_obj *o;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->vn_id)) {
        vn_state_free(x, o);
    }
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->sg_id)) {
        mem_free(&mem_type_st_xform, o->user);
        o->user = NULL;
    }
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->lr_id)) {
        lr_state_free(x, o);
    }
    struct list *qs[] = { &x->q1, &x->q2 };
    for (size_t i = 0; i < 2; i++) {
        while (!list_is_empty(qs[i])) {
            o = CONTAINER_OF(list_pop_front(qs[i]), struct cfg_obj, queue_node);
            o->queued = false;
        }
    }
    json_object_clear(x->rev);
    json_object_clear(x->user_rts);
    json_object_clear(x->force_conns);
    json_object_clear(x->vn_lrs);
    json_object_clear(x->rt_reg);
    json_object_clear(x->chains);
    json_object_clear(x->svc_ris);
    json_object_clear(x->chain_peers);
    json_object_clear(x->bgp_clients);
    json_object_clear(x->bgpaas_ports);
    st_rtalloc_clear(&x->rtalloc);
}

static uint32_t
graph_asn(const struct st_xform *x)
{
    struct cfg_obj *g = find(x, x->gsc_id, DEFAULT_GSC);
    json_t *v = g ? json_object_get(g->props, "autonomous_system") : NULL;
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint32_t) json_integer_value(v)
                                                           : DEFAULT_ASN;
}

/* The user route targets of network VN (its own props), normalized as the original:
 * a target both imported and exported is a "both" one. */
static void
vn_user_rts(const struct cfg_obj *vn, json_t **both, json_t **imp, json_t **exp)
{
    static const char *const props[3] = { "route_target_list", "import_route_target_list",
                                          "export_route_target_list" };
    json_t *l[3];
    for (int k = 0; k < 3; k++) {
        l[k] = json_array();
        size_t i;
        json_t *v;
        json_array_foreach (json_object_get(json_object_get(vn->props, props[k]),
                                            "route_target"), i, v) {
            if (json_is_string(v) && !json_has_str(l[k], json_string_value(v))) {
                json_array_append(l[k], v);
            }
        }
    }
    /* rt_list |= import & export; import -= rt_list; export -= rt_list. */
    size_t i;
    json_t *v;
    json_array_foreach (l[1], i, v) {
        if (json_has_str(l[2], json_string_value(v))
            && !json_has_str(l[0], json_string_value(v))) {
            json_array_append(l[0], v);
        }
    }
    for (int k = 1; k < 3; k++) {
        json_t *f = json_array();
        json_array_foreach (l[k], i, v) {
            if (!json_has_str(l[0], json_string_value(v))) {
                json_array_append(f, v);
            }
        }
        json_decref(l[k]);
        l[k] = f;
    }
    *both = l[0];
    *imp = l[1];
    *exp = l[2];
}

static int
obj_cmp(const void *a, const void *b)
{
    return strcmp((*(struct cfg_obj *const *) a)->fq_str, (*(struct cfg_obj *const *) b)->fq_str);
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Rebuilds the allocator from the graph (the route-target objects in the allocator's range
 * already hold their numbers, see rt_reg_add): each primary instance claims the allocated-looking target it refers
 * to (in name order, so that a number two instances refer to stays with the first). */
static void
rebuild_allocator(struct st_xform *x)
{
    struct cfg_obj *o;
    size_t n_ri = 0;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->ri_id)) {
        n_ri++;
    }
    struct cfg_obj **ris = mem_zalloc(&mem_type_st_xform, (n_ri + 1) * sizeof *ris);
    n_ri = 0;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->ri_id)) {
        if (cfg_obj_exists(o) && is_vn_parent(o)
            && (json_is_true(json_object_get(o->props, "routing_instance_is_default"))
                || is_service_ri(x, o))
            && !no_rt_network(o->parent)) {
            ris[n_ri++] = o;
        }
    }
    qsort(ris, n_ri, sizeof *ris, obj_cmp);
    for (size_t i = 0; i < n_ri; i++) {
        json_t *both, *imp, *exp;
        vn_user_rts(ris[i]->parent, &both, &imp, &exp);
        uint32_t best = 0;
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &ris[i]->refs) {
            if (r->to->ident != x->rt_id || json_has_str(both, r->to->fq_str)
                || json_has_str(imp, r->to->fq_str) || json_has_str(exp, r->to->fq_str)) {
                continue;
            }
            uint32_t asn, n = st_rtalloc_parse(r->to->fq_str, &asn);
            /* Prefer a target under the current ASN; then the lowest number. */
            if (n && !(st_rtalloc_owner(&x->rtalloc, n))
                && (!best || (asn == x->asn && n < best))) {
                best = n;
            }
        }
        if (best) {
            st_rtalloc_claim(&x->rtalloc, ris[i]->fq_str, best);
        }
        json_decref(both);
        json_decref(imp);
        json_decref(exp);
    }
    mem_free(&mem_type_st_xform, ris);
    /* Logical routers keep the target they refer to (configured ones are below 8000000). */
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->lr_id)) {
        if (!cfg_obj_exists(o)) {
            continue;
        }
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &o->refs) {
            uint32_t asn, n = r->to->ident == x->rt_id ? st_rtalloc_parse(r->to->fq_str, &asn)
                                                       : 0;
            if (n && !st_rtalloc_owner(&x->rtalloc, n)) {
                char owner[1024];
                snprintf(owner, sizeof owner, LR_OWNER "%s", o->fq_str);
                if (st_rtalloc_claim(&x->rtalloc, owner, n)) {
                    break;
                }
            }
        }
    }
}

/* ---- The work queue. ---- */

static bool
first_pass(const struct st_xform *x, const struct cfg_obj *o)
{
    return o->ident == x->vn_id || o->ident == x->sg_id || o->ident == x->lr_id;
}

static void
enqueue(struct st_xform *x, struct cfg_obj *o)
{
    if (!x->active || o->queued) {
        return;
    }
    if (o->ident != x->vn_id && o->ident != x->sg_id && o->ident != x->ri_id
        && o->ident != x->rt_id && o->ident != x->lr_id && o->ident != x->vmi_id
        && o->ident != x->iip_id && o->ident != x->bgpaas_id && o->ident != x->br_id) {
        return;
    }
    o->queued = true;
    list_push_back(first_pass(x, o) ? &x->q1 : &x->q2, &o->queue_node);
    event_active(x->kick, EV_TIMEOUT, 0);
}

static void
enqueue_name(struct st_xform *x, const struct schema_ident *id, const char *fq_str)
{
    struct cfg_obj *o = find(x, id, fq_str);
    if (o) {
        enqueue(x, o);
    }
}

static void
enqueue_all(struct st_xform *x, const struct schema_ident *id)
{
    struct cfg_obj *o;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, id)) {
        enqueue(x, o);
    }
}

/* Route target NAME, visible in the graph or not (an unreferenced one is not). */
static void
enqueue_rt(struct st_xform *x, const char *name)
{
    json_t *fq = xjson_pack("[s]", name);
    struct cfg_obj *rt = cfg_graph_locate(x->graph, x->rt_id, fq);
    json_decref(fq);
    enqueue(x, rt);
    cfg_graph_maybe_free(x->graph, rt);
}

static bool
rt_known(const struct st_xform *x, const char *name)
{
    return json_object_get(x->rt_reg, name) != NULL;
}

static void
rt_reg_add(struct st_xform *x, const char *name, const char *uuid)
{
    if (!rt_known(x, name)) {
        st_rtalloc_hold(&x->rtalloc, st_rtalloc_parse(name, NULL), true);
    }
    json_object_set_new(x->rt_reg, name, json_string(uuid));
}

static void
rt_reg_del(struct st_xform *x, const char *name)
{
    if (rt_known(x, name)) {
        json_object_del(x->rt_reg, name);
        st_rtalloc_hold(&x->rtalloc, st_rtalloc_parse(name, NULL), false);
    }
}

/* The primary instance of the network named NAME. */
static void
enqueue_vn_ri(struct st_xform *x, const char *name)
{
    struct cfg_obj *vn = find(x, x->vn_id, name);
    struct cfg_obj *ri = vn ? primary_ri(x, vn) : NULL;
    if (ri) {
        enqueue(x, ri);
    }
}

/* ---- Writes. ---- */

static bool
may_write(struct st_xform *x)
{
    if (!x->active) {
        return false;
    }
    if (x->guard && !x->guard(x->guard_aux)) {
        LOG_WARN("leadership lease not confirmed: not writing");
        maybe_activate(x);
        return false;
    }
    return true;
}

static struct st_op *
op_new(struct st_xform *x, struct cfg_obj *o, int kind, const char *type, json_t *body)
{
    struct st_op *op = mem_zalloc(&mem_type_st_xform, sizeof *op);
    op->x = x;
    op->generation = x->generation;
    op->obj = o;
    op->kind = kind;
    op->type = mem_strdup(&mem_type_st_xform, type);
    op->body = body;
    op->waiters = json_array();
    o->busy++;
    x->n_ops++;
    list_push_back(&x->ops, &op->node);
    return op;
}

static void
op_wait(struct st_op *op, const struct cfg_obj *o)
{
    json_array_append_new(op->waiters, xjson_pack("[ss]", o->ident->name, o->fq_str));
}

static void
op_free(struct st_op *op)
{
    list_remove(&op->node);
    op->x->n_ops--;
    json_decref(op->body);
    json_decref(op->waiters);
    mem_free(&mem_type_st_xform, op->type);
    mem_free(&mem_type_st_xform, op);
}

static void
retry_fire(evutil_socket_t fd, short what, void *aux)
{
    struct st_op *op = aux;
    struct st_xform *x = op->x;
    if (op->generation == x->generation) {
        op->obj->busy--;
        if (op->obj->user == op) {
            op->obj->user = NULL;
        }
        size_t i;
        json_t *w;
        json_array_foreach (op->waiters, i, w) {
            enqueue_name(x, schema_ident(x->schema, json_string_value(json_array_get(w, 0))),
                         json_string_value(json_array_get(w, 1)));
        }
        cfg_graph_maybe_free(x->graph, op->obj);
    }
    op_free(op);
}

/* Ends OP: evaluates its waiters again now, or after RETRY_MS when RETRY. */
static void
op_finish(struct st_op *op, bool retry)
{
    struct st_xform *x = op->x;
    if (op->generation != x->generation) {
        op_free(op);
        return;
    }
    if (retry) {
        x->n_errors++;
        struct timeval tv = { RETRY_MS / 1000, (RETRY_MS % 1000) * 1000 };
        event_base_once(x->base, -1, EV_TIMEOUT, retry_fire, op, &tv);
        return;
    }
    op->obj->busy--;
    if (op->obj->user == op) {
        op->obj->user = NULL;
    }
    size_t i;
    json_t *w;
    json_array_foreach (op->waiters, i, w) {
        enqueue_name(x, schema_ident(x->schema, json_string_value(json_array_get(w, 0))),
                     json_string_value(json_array_get(w, 1)));
    }
    cfg_graph_maybe_free(x->graph, op->obj);
    op_free(op);
}

/* Applies the properties and ref lists of BODY (as written) to O. */
static void
apply_body(struct st_xform *x, struct cfg_obj *o, const json_t *body)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) body, k, v) {
        if (!strcmp(k, "fq_name") || !strcmp(k, "parent_type")) {
            continue;
        }
        const struct schema_link *l = schema_ident_ref(o->ident, k);
        if (l) {
            /* The list replaces all refs to that type. */
            struct cfg_ref *r;
            LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
                if (r->to->ident != l->to) {
                    continue;
                }
                bool keep = false;
                size_t i;
                json_t *e;
                json_array_foreach (v, i, e) {
                    keep |= json_equal(json_object_get(e, "to"), r->to->fq_name);
                }
                if (!keep) {
                    cfg_graph_del_ref(x->graph, o, r->to);
                }
            }
            size_t i;
            json_t *e;
            json_array_foreach (v, i, e) {
                struct cfg_obj *t = cfg_graph_locate(x->graph, l->to, json_object_get(e, "to"));
                cfg_graph_set_ref(x->graph, o, t, json_object_get(e, "attr"));
            }
        } else if (schema_ident_prop(o->ident, k)) {
            cfg_graph_set_prop(x->graph, o, k, v);
        }
    }
}

static void
op_answered(void *aux, int status, const json_t *reply, const char *text);

static void
lookup_answered(void *aux, int status, const json_t *reply, const char *text)
{
    struct st_op *op = aux;
    struct st_xform *x = op->x;
    if (op->generation == x->generation && status == 200) {
        const char *uuid = json_string_value(json_object_get(reply, "uuid"));
        if (uuid && op->obj->ident == x->rt_id) {
            rt_reg_add(x, op->obj->fq_str, uuid);
        }
        if (uuid && !cfg_obj_exists(op->obj)) {
            cfg_graph_set_uuid(x->graph, op->obj, uuid);
        }
    }
    op_finish(op, status != 200);
}

static void
op_answered(void *aux, int status, const json_t *reply, const char *text)
{
    struct st_op *op = aux;
    struct st_xform *x = op->x;
    if (op->generation != x->generation) {
        op_free(op);
        return;
    }
    struct cfg_obj *o = op->obj;
    if (status == 200) {
        switch (op->kind) {
        case OP_CREATE: {
            const char *uuid = json_string_value(
                json_object_get(json_object_get(reply, op->type), "uuid"));
            const char *pt = json_string_value(json_object_get(op->body, "parent_type"));
            if (pt) {
                json_t *pfq = json_deep_copy(o->fq_name);
                json_array_remove(pfq, json_array_size(pfq) - 1);
                cfg_graph_set_parent(x->graph, o,
                                     cfg_graph_locate(x->graph, schema_ident(x->schema, pt), pfq));
                json_decref(pfq);
            }
            apply_body(x, o, op->body);
            if (uuid && o->ident == x->rt_id) {
                rt_reg_add(x, o->fq_str, uuid);
            }
            cfg_graph_set_uuid(x->graph, o, uuid ? uuid : "00000000-0000-0000-0000-000000000000");
            break;
        }
        case OP_UPDATE:
            apply_body(x, o, op->body);
            break;
        case OP_DELETE:
            if (o->ident == x->rt_id) {
                rt_reg_del(x, o->fq_str);
            }
            cfg_graph_forget(x->graph, o);
            break;
        case OP_LOOKUP:
            break;
        }
        op_finish(op, false);
    } else if (status == 409 && op->kind == OP_CREATE) {
        /* Made by someone else (a previous leader): learn its uuid and look again. */
        op->kind = OP_LOOKUP;
        st_api_fqname_to_id(x->api, op->type, o->fq_name, lookup_answered, op);
    } else if (status == 404 && (op->kind == OP_UPDATE || op->kind == OP_DELETE)) {
        /* Gone already. */
        if (o->ident == x->rt_id) {
            rt_reg_del(x, o->fq_str);
        }
        cfg_graph_forget(x->graph, o);
        op_finish(op, false);
    } else if (status == 409 && op->kind == OP_DELETE) {
        /* Still referred to by something we do not see: leave it. */
        LOG_INFO("not deleting %s %s: %.200s", o->ident->name, o->fq_str, text ? text : "");
        op_finish(op, false);
    } else if (op->kind == OP_UPDATE && o->ident == x->ri_id) {
        /* A route target we believed in may be gone: forget those the graph does not show,
         * so that the next evaluation creates them. */
        size_t i;
        json_t *e;
        json_array_foreach (json_object_get(op->body, "route_target_refs"), i, e) {
            const char *name = json_string_value(json_array_get(json_object_get(e, "to"), 0));
            struct cfg_obj *rt = name ? find(x, x->rt_id, name) : NULL;
            if (name && (!rt || !cfg_obj_exists(rt))) {
                rt_reg_del(x, name);
            }
        }
        LOG_WARN("update %s failed (%d): %.200s", o->fq_str, status, text ? text : "");
        op_finish(op, true);
    } else {
        LOG_WARN("%s %s failed (%d): %.200s",
                 op->kind == OP_CREATE ? "create" : op->kind == OP_UPDATE ? "update" : "delete",
                 o->fq_str, status, text ? text : "");
        op_finish(op, true);
    }
}

/* Writes: each returns the op (for waiters), or NULL when nothing was sent. */
static struct st_op *
write_create(struct st_xform *x, struct cfg_obj *o, json_t *body, const struct cfg_obj *waiter)
{
    if (!may_write(x)) {
        json_decref(body);
        return NULL;
    }
    json_object_set(body, "fq_name", o->fq_name);
    struct st_op *op = op_new(x, o, OP_CREATE, o->ident->name, body);
    if (waiter) {
        op_wait(op, waiter);
    }
    st_api_create_obj(x->api, o->ident->name, body, op_answered, op);
    return op;
}

static void
write_update(struct st_xform *x, struct cfg_obj *o, json_t *body, const struct cfg_obj *waiter)
{
    if (!may_write(x)) {
        json_decref(body);
        return;
    }
    struct st_op *op = op_new(x, o, OP_UPDATE, o->ident->name, body);
    op_wait(op, waiter);
    st_api_update(x->api, o->ident->name, o->uuid, body, op_answered, op);
}

static void
write_delete_uuid(struct st_xform *x, struct cfg_obj *o, const char *uuid,
                  const struct cfg_obj *waiter)
{
    if (!may_write(x)) {
        return;
    }
    struct st_op *op = op_new(x, o, OP_DELETE, o->ident->name, NULL);
    op_wait(op, waiter);
    st_api_delete(x->api, o->ident->name, uuid, op_answered, op);
}

static void
write_delete(struct st_xform *x, struct cfg_obj *o, const struct cfg_obj *waiter)
{
    write_delete_uuid(x, o, o->uuid, waiter);
}

/* ---- ACLs. ---- */

struct acl_want {
    const char *name;
    json_t *entries;            /* NULL: no ACL. */
};

static uint64_t
acl_hash_of(const struct cfg_obj *acl)
{
    json_t *h = json_object_get(acl->props, "access_control_list_hash");
    return json_is_integer(h) ? (uint64_t) json_integer_value(h) : 0;
}

/* Makes PARENT's ACL children what WANTS says: creates, rewrites (when the hash differs) and
 * deletes (ACLs not wanted, stray children). */
static void
reconcile_acls(struct st_xform *x, struct cfg_obj *parent, const struct acl_want *wants,
               size_t n)
{
    bool seen[4] = { false };
    struct cfg_obj *c;
    LIST_FOR_EACH_SAFE (c, child_node, &parent->children) {
        if (c->ident != x->acl_id || !cfg_obj_exists(c)) {
            continue;
        }
        const struct acl_want *w = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(last_name(c), wants[i].name)) {
                w = &wants[i];
                seen[i] = true;
            }
        }
        if (c->busy) {
            continue;
        }
        if (!w || !w->entries) {
            write_delete(x, c, parent);
        } else {
            uint64_t h = st_rules_hash(w->entries);
            if (acl_hash_of(c) != h) {
                write_update(x, c, xjson_pack("{sOsI}", "access_control_list_entries",
                                              w->entries, "access_control_list_hash",
                                              (json_int_t) h), parent);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (seen[i] || !wants[i].entries) {
            continue;
        }
        json_t *fq = json_deep_copy(parent->fq_name);
        json_array_append_new(fq, json_string(wants[i].name));
        struct cfg_obj *acl = cfg_graph_locate(x->graph, x->acl_id, fq);
        json_decref(fq);
        if (!acl->busy && !cfg_obj_exists(acl)) {
            uint64_t h = st_rules_hash(wants[i].entries);
            write_create(x, acl, xjson_pack("{sssOsI}", "parent_type", parent->ident->name,
                                            "access_control_list_entries", wants[i].entries,
                                            "access_control_list_hash", (json_int_t) h),
                         parent);
        }
        cfg_graph_maybe_free(x->graph, acl);
    }
}

/* ---- Networks. ---- */

struct pol_sort {
    struct st_rules_policy p;
    long long major, minor;
};

static int
pol_cmp(const void *a, const void *b)
{
    const struct pol_sort *p = a, *q = b;
    if (p->major != q->major) {
        return p->major < q->major ? -1 : 1;
    }
    if (p->minor != q->minor) {
        return p->minor < q->minor ? -1 : 1;
    }
    return strcmp(p->p.name, q->p.name);
}

static const json_t *
policy_vns(void *aux, const char *policy)
{
    struct st_xform *x = aux;
    json_t *cached = json_object_get(x->tmp_policy_vns, policy);
    if (cached) {
        return cached;
    }
    struct cfg_obj *p = find(x, x->pol_id, policy);
    if (!p || !cfg_obj_exists(p)) {
        return NULL;
    }
    json_t *vns = json_array();
    struct cfg_ref *r;
    LIST_FOR_EACH (r, to_node, &p->back_refs) {
        if (r->from->ident == x->vn_id && cfg_obj_exists(r->from)) {
            json_array_append_new(vns, json_string(r->from->fq_str));
        }
    }
    /* Sorted, so that the expansion does not depend on arrival order. */
    size_t n = json_array_size(vns);
    const char **names = mem_zalloc(&mem_type_st_xform, (n + 1) * sizeof *names);
    for (size_t i = 0; i < n; i++) {
        names[i] = json_string_value(json_array_get(vns, i));
    }
    qsort(names, n, sizeof *names, str_cmp);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(sorted, json_string(names[i]));
    }
    mem_free(&mem_type_st_xform, names);
    json_decref(vns);
    json_object_set_new(x->tmp_policy_vns, policy, sorted);
    return sorted;
}

static bool
conns_has(const struct cfg_obj *vn, const char *name)
{
    const struct st_vn *s = vn->user;
    return s && json_has_str(s->conns, name);
}

/* Whether network A is in network B's expanded connections. */
static bool
in_expand(const struct cfg_obj *b, const struct cfg_obj *a)
{
    if (conns_has(b, a->fq_str)) {
        return true;
    }
    return conns_has(b, "*") && (same_project(a, b) || conns_has(a, b->fq_str));
}

/* Enqueues the primary instances whose connections may change when network VN's
 * connections go from OLD to NEW_ (either may be NULL), or when VN appears or goes. */
static void
conns_changed(struct st_xform *x, struct cfg_obj *vn, const json_t *old, const json_t *new_,
              bool existence)
{
    struct cfg_obj *ri = primary_ri(x, vn);
    if (ri) {
        enqueue(x, ri);
    }
    const json_t *lists[2] = { old, new_ };
    bool star = false;
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *v;
        json_array_foreach (lists[k], i, v) {
            if (!strcmp(json_string_value(v), "*")) {
                star = true;
            } else {
                enqueue_vn_ri(x, json_string_value(v));
            }
        }
    }
    if (star || existence) {
        const char *k;
        json_t *v;
        json_object_foreach (json_object_get(x->rev, vn->fq_str), k, v) {
            enqueue_vn_ri(x, k);
        }
        if (vn->parent) {
            struct cfg_obj *c;
            LIST_FOR_EACH (c, child_node, &vn->parent->children) {
                if (c->ident == x->vn_id && c != vn && (star || conns_has(c, "*"))) {
                    struct cfg_obj *cri = primary_ri(x, c);
                    if (cri) {
                        enqueue(x, cri);
                    }
                }
            }
        }
    }
}

/* The policies of network VN with their attachment (sequence, timer), in order. */
static size_t
vn_policies(struct st_xform *x, struct cfg_obj *vn, struct pol_sort **out)
{
    size_t n = 0;
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &vn->refs) {
        n += r->to->ident == x->pol_id;
    }
    struct pol_sort *ps = mem_zalloc(&mem_type_st_xform, (n + 1) * sizeof *ps);
    n = 0;
    LIST_FOR_EACH (r, from_node, &vn->refs) {
        if (r->to->ident != x->pol_id || !cfg_obj_exists(r->to)) {
            continue;
        }
        const json_t *seq = json_object_get(r->attr, "sequence");
        const json_t *timer = json_object_get(r->attr, "timer");
        ps[n].p.name = r->to->fq_str;
        ps[n].p.entries = json_object_get(r->to->props, "network_policy_entries");
        ps[n].p.dynamic = json_is_object(timer) && json_object_size(timer);
        ps[n].major = json_is_object(seq) ? json_integer_value(json_object_get(seq, "major"))
                                          : (long long) 0x7fffffffffffffffLL;
        ps[n].minor = json_is_object(seq) ? json_integer_value(json_object_get(seq, "minor"))
                                          : (long long) 0x7fffffffffffffffLL;
        n++;
    }
    qsort(ps, n, sizeof *ps, pol_cmp);
    *out = ps;
    return n;
}

static void
eval_vn(struct st_xform *x, struct cfg_obj *vn)
{
    struct st_vn *s = vn->user;
    if (!cfg_obj_exists(vn)) {
        if (s) {
            json_t *old = json_incref(s->conns);
            vn_chains_update(x, vn, NULL);
            vn_state_free(x, vn);
            conns_changed(x, vn, old, NULL, true);
            json_decref(old);
        }
        return;
    }
    bool is_new = !s;
    if (!s) {
        s = vn->user = mem_zalloc(&mem_type_st_xform, sizeof *s);
        s->conns = json_array();
        s->rt_both = json_array();
        s->rt_import = json_array();
        s->rt_export = json_array();
        s->policies = json_array();
        s->chains = json_array();
    }
    struct pol_sort *ps;
    size_t n = vn_policies(x, vn, &ps);
    struct st_rules_policy *pols = mem_zalloc(&mem_type_st_xform, (n + 1) * sizeof *pols);
    json_t *names = json_array();
    for (size_t i = 0; i < n; i++) {
        pols[i] = ps[i].p;
        json_array_append_new(names, json_string(ps[i].p.name));
    }
    struct st_rules_vn_result res;
    x->tmp_policy_vns = json_object();
    st_rules_vn(vn->fq_str, pols, n, x->cfg.logical_routers_enabled, policy_vns, x, &res);
    json_decref(x->tmp_policy_vns);
    x->tmp_policy_vns = NULL;
    mem_free(&mem_type_st_xform, pols);
    mem_free(&mem_type_st_xform, ps);
    json_decref(s->policies);
    s->policies = names;
    s->acl_rules = res.static_entries
                   ? json_array_size(json_object_get(res.static_entries, "acl_rule")) : 0;

    /* Connections. */
    if (is_new || !json_equal(s->conns, res.connections)) {
        json_t *old = s->conns;
        s->conns = json_incref(res.connections);
        rev_update(x, vn, old, s->conns);
        conns_changed(x, vn, old, s->conns, is_new);
        json_decref(old);
    }

    /* User route targets: their objects and the primary instance. */
    json_t *both, *imp, *exp;
    vn_user_rts(vn, &both, &imp, &exp);
    if (is_new || !json_equal(both, s->rt_both) || !json_equal(imp, s->rt_import)
        || !json_equal(exp, s->rt_export)) {
        user_rts_add(x, both, 1);
        user_rts_add(x, imp, 1);
        user_rts_add(x, exp, 1);
        user_rts_add(x, s->rt_both, -1);
        user_rts_add(x, s->rt_import, -1);
        user_rts_add(x, s->rt_export, -1);
        json_decref(s->rt_both);
        json_decref(s->rt_import);
        json_decref(s->rt_export);
        s->rt_both = both;
        s->rt_import = imp;
        s->rt_export = exp;
        struct cfg_obj *ri = primary_ri(x, vn);
        if (ri) {
            enqueue(x, ri);
        }
    } else {
        json_decref(both);
        json_decref(imp);
        json_decref(exp);
    }

    /* Service chains: those it asks for, and those it is an end of (its subnets, primary
     * instance or existence may matter to them). */
    vn_chains_update(x, vn, res.chains);

    /* ACLs. */
    struct acl_want wants[2] = {
        { last_name(vn), res.static_entries },
        { "dynamic", res.dynamic_entries },
    };
    reconcile_acls(x, vn, wants, 2);
    st_rules_vn_result_clear(&res);
}

/* ---- Security groups. ---- */

static long long
sg_id_value(const struct cfg_obj *sg)
{
    json_t *c = json_object_get(sg->props, "configured_security_group_id");
    if (json_is_integer(c) && json_integer_value(c) > 0) {
        return json_integer_value(c);
    }
    json_t *v = json_object_get(sg->props, "security_group_id");
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static long long
sg_id_of(void *aux, const char *name)
{
    struct st_xform *x = aux;
    struct cfg_obj *sg = find(x, x->sg_id, name);
    return sg && cfg_obj_exists(sg) ? sg_id_value(sg) : -1;
}

/* Whether a rule of the ENTRIES property of O names NAME as its KIND address
 * ("security_group", "network_policy") on either side. */
static bool
rules_mention(const struct cfg_obj *o, const char *entries, const char *kind, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(json_object_get(o->props, entries), "policy_rule"), i,
                        r) {
        const char *keys[2] = { "src_addresses", "dst_addresses" };
        for (int k = 0; k < 2; k++) {
            size_t j;
            json_t *a;
            json_array_foreach (json_object_get(r, keys[k]), j, a) {
                const char *g = json_string_value(json_object_get(a, kind));
                if (g && !strcmp(g, name)) {
                    return true;
                }
            }
        }
    }
    return false;
}

static bool
sg_mentions(const struct cfg_obj *sg, const char *name)
{
    return rules_mention(sg, "security_group_entries", "security_group", name);
}

/* The groups whose rules name group NAME. */
static void
enqueue_sg_users(struct st_xform *x, const char *name)
{
    struct cfg_obj *o;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->sg_id)) {
        if (cfg_obj_exists(o) && strcmp(o->fq_str, name) && sg_mentions(o, name)) {
            enqueue(x, o);
        }
    }
}

static void
eval_sg(struct st_xform *x, struct cfg_obj *sg)
{
    struct st_sg *s = sg->user;
    if (!cfg_obj_exists(sg)) {
        if (s) {
            mem_free(&mem_type_st_xform, s);
            sg->user = NULL;
            enqueue_sg_users(x, sg->fq_str);
        }
        return;
    }
    long long id = sg_id_value(sg);
    if (!s || s->id != id) {
        if (!s) {
            s = sg->user = mem_zalloc(&mem_type_st_xform, sizeof *s);
        }
        s->id = id;
        enqueue_sg_users(x, sg->fq_str);
    }
    json_t *in, *eg;
    st_rules_sg(sg->fq_str, id, json_object_get(sg->props, "security_group_entries"), sg_id_of,
                x, &in, &eg);
    struct acl_want wants[2] = {
        { "ingress-access-control-list", in },
        { "egress-access-control-list", eg },
    };
    reconcile_acls(x, sg, wants, 2);
    json_decref(in);
    json_decref(eg);
}

/* ---- Routing instances and route targets. ---- */

struct want_ref {
    struct cfg_obj *to;
    json_t *attr;
};

static int
want_cmp(const void *a, const void *b)
{
    return strcmp(((const struct want_ref *) a)->to->fq_str,
                  ((const struct want_ref *) b)->to->fq_str);
}

/* ATTR without null members (so that {"import_export": null} equals {}). */
static json_t *
attr_canon(const json_t *attr)
{
    json_t *c = json_object();
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) attr, k, v) {
        if (!json_is_null(v)) {
            json_object_set(c, k, v);
        }
    }
    return c;
}

/* Whether O's refs to objects of type ID are exactly WANT[N]. */
static bool
refs_match(const struct cfg_obj *o, const struct schema_ident *id, const struct want_ref *want,
           size_t n)
{
    size_t have = 0;
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        if (r->to->ident != id) {
            continue;
        }
        have++;
        const struct want_ref *w = NULL;
        for (size_t i = 0; i < n; i++) {
            if (want[i].to == r->to) {
                w = &want[i];
            }
        }
        if (!w) {
            return false;
        }
        json_t *a = attr_canon(r->attr), *b = attr_canon(w->attr);
        bool eq = json_equal(a, b);
        json_decref(a);
        json_decref(b);
        if (!eq) {
            return false;
        }
    }
    return have == n;
}

static json_t *
refs_body(const struct want_ref *want, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, xjson_pack("{sOsO}", "to", want[i].to->fq_name, "attr",
                                               want[i].attr));
    }
    return list;
}

/* Makes sure route-target object NAME exists (creating it for RI).  Returns whether it does. */
static bool
ensure_rt(struct st_xform *x, const char *name, struct cfg_obj *ri)
{
    if (rt_known(x, name)) {
        return true;
    }
    json_t *fq = xjson_pack("[s]", name);
    struct cfg_obj *rt = cfg_graph_locate(x->graph, x->rt_id, fq);
    json_decref(fq);
    if (rt->user) {
        op_wait(rt->user, ri);        /* A create is in flight. */
    } else if (!rt->busy) {
        struct st_op *op = write_create(x, rt, json_object(), ri);
        if (op) {
            rt->user = op;            /* Later requesters wait on it. */
        }
    }
    cfg_graph_maybe_free(x->graph, rt);
    return false;
}

/* Makes RI's route-target and connection references WANT (sorted here) and, when EXTRA (stolen,
 * may be NULL) is not NULL, writes its properties along. */
static void
ri_sync(struct st_xform *x, struct cfg_obj *ri, struct want_ref *rts, size_t n_rts,
        struct want_ref *conns, size_t n_conn, json_t *extra)
{
    qsort(rts, n_rts, sizeof *rts, want_cmp);
    qsort(conns, n_conn, sizeof *conns, want_cmp);
    bool rt_ok = refs_match(ri, x->rt_id, rts, n_rts);
    bool conn_ok = refs_match(ri, x->ri_id, conns, n_conn);
    /* The IF-MAP graph shows one link for the pair of references between two instances,
     * so a peer cannot see whether its own reference is there: when this instance's
     * connections change, each peer gained or lost writes its list too. */
    bool forced = json_object_get(x->force_conns, ri->fq_str) != NULL;
    json_object_del(x->force_conns, ri->fq_str);
    if (!conn_ok) {
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &ri->refs) {
            bool wanted = false;
            for (size_t i = 0; i < n_conn; i++) {
                wanted |= conns[i].to == r->to;
            }
            if (r->to->ident == x->ri_id && !wanted) {
                json_object_set_new(x->force_conns, r->to->fq_str, json_true());
                enqueue(x, r->to);
            }
        }
        for (size_t i = 0; i < n_conn; i++) {
            if (!cfg_obj_find_ref(ri, conns[i].to)) {
                json_object_set_new(x->force_conns, conns[i].to->fq_str, json_true());
                enqueue(x, conns[i].to);
            }
        }
    }
    conn_ok &= !forced;
    if (!rt_ok || !conn_ok || extra) {
        json_t *body = extra ? extra : json_object();
        if (!rt_ok) {
            json_object_set_new(body, "route_target_refs", refs_body(rts, n_rts));
        }
        if (!conn_ok) {
            json_object_set_new(body, "routing_instance_refs", refs_body(conns, n_conn));
        }
        write_update(x, ri, body, ri);
    }
}

static void eval_svc_ri(struct st_xform *, struct cfg_obj *, const json_t *info);

static void
eval_ri(struct st_xform *x, struct cfg_obj *ri)
{
    const json_t *svc = json_object_get(x->svc_ris, ri->fq_str);
    if (svc || (cfg_obj_exists(ri) && is_service_ri(x, ri))) {
        eval_svc_ri(x, ri, svc);
        return;
    }
    bool primary = cfg_obj_exists(ri) && is_vn_parent(ri)
                   && json_is_true(json_object_get(ri->props, "routing_instance_is_default"));
    if (!primary) {
        uint32_t n = st_rtalloc_get(&x->rtalloc, ri->fq_str);
        if (n && !cfg_obj_exists(ri)) {
            st_rtalloc_release(&x->rtalloc, ri->fq_str);
            char *name = rt_name(x->asn, n);
            enqueue_rt(x, name);
            xfree(name);
        }
        return;
    }
    struct cfg_obj *vn = ri->parent;
    if (no_rt_network(vn)) {
        return;
    }
    struct st_vn *vs = vn->user;
    uint32_t n = st_rtalloc_alloc(&x->rtalloc, ri->fq_str);
    if (!n) {
        LOG_ERR("route-target numbers exhausted for %s", ri->fq_str);
        x->n_errors++;
        return;
    }

    /* Route targets wanted. */
    json_t *lr_rts = json_array();
    const char *lr_name;
    json_t *lr_v;
    json_object_foreach (json_object_get(x->vn_lrs, vn->fq_str), lr_name, lr_v) {
        struct cfg_obj *lr = find(x, x->lr_id, lr_name);
        const struct st_lr *ls = lr ? lr->user : NULL;
        if (ls) {
            json_array_extend(lr_rts, ls->rts);
        }
    }
    size_t cap = 1 + json_array_size(lr_rts)
                 + (vs ? json_array_size(vs->rt_both) + json_array_size(vs->rt_import)
                    + json_array_size(vs->rt_export) : 0);
    struct want_ref *rts = mem_zalloc(&mem_type_st_xform, cap * sizeof *rts);
    size_t n_rts = 0;
    bool missing = false;
    char *own = rt_name(x->asn, n);
    const char *own_c = own;
    const json_t *lists[4] = { vs ? vs->rt_both : NULL, vs ? vs->rt_import : NULL,
                               vs ? vs->rt_export : NULL, lr_rts };
    const char *modes[4] = { NULL, "import", "export", NULL };
    for (int k = -1; k < 4; k++) {
        size_t cnt = k < 0 ? 1 : json_array_size(lists[k]);
        for (size_t i = 0; i < cnt; i++) {
            const char *name = k < 0 ? own_c : json_string_value(json_array_get(lists[k], i));
            bool dup = false;
            for (size_t j = 0; j < n_rts; j++) {
                dup |= !strcmp(rts[j].to->fq_str, name);
            }
            if (dup) {
                continue;
            }
            if (!ensure_rt(x, name, ri)) {
                missing = true;
                continue;
            }
            json_t *fq = xjson_pack("[s]", name);
            rts[n_rts].to = cfg_graph_locate(x->graph, x->rt_id, fq);
            json_decref(fq);
            rts[n_rts].to->busy++;      /* Held until the end of the evaluation. */
            rts[n_rts].attr = k > 0 && modes[k] ? xjson_pack("{ss}", "import_export", modes[k])
                                                : json_object();
            n_rts++;
        }
    }
    xfree(own);
    json_decref(lr_rts);

    /* Connections wanted: networks that pass traffic to this one and back. */
    size_t n_conn = 0, conn_cap = 8;
    struct want_ref *conns = mem_zalloc(&mem_type_st_xform, conn_cap * sizeof *conns);
    if (vs) {
        json_t *cands = json_object();
        size_t i;
        json_t *v;
        json_array_foreach (vs->conns, i, v) {
            if (strcmp(json_string_value(v), "*")) {
                json_object_set_new(cands, json_string_value(v), json_true());
            }
        }
        if (json_has_str(vs->conns, "*")) {
            const char *k;
            json_object_foreach (json_object_get(x->rev, vn->fq_str), k, v) {
                json_object_set_new(cands, k, json_true());
            }
            struct cfg_obj *c;
            LIST_FOR_EACH (c, child_node, &vn->parent->children) {
                if (c->ident == x->vn_id) {
                    json_object_set_new(cands, c->fq_str, json_true());
                }
            }
        }
        const char *k;
        json_object_foreach (cands, k, v) {
            struct cfg_obj *b = find(x, x->vn_id, k);
            if (!b || b == vn || !cfg_obj_exists(b) || !in_expand(b, vn)) {
                continue;
            }
            struct cfg_obj *bri = primary_ri(x, b);
            if (!bri) {
                continue;
            }
            if (n_conn == conn_cap) {
                conn_cap *= 2;
                conns = mem_realloc(&mem_type_st_xform, conns, conn_cap * sizeof *conns);
            }
            conns[n_conn].to = bri;
            conns[n_conn].attr = json_object();
            n_conn++;
        }
        json_decref(cands);
    }
    /* The service instances of the chains this network is an end of. */
    const char *peer;
    json_t *pv;
    json_object_foreach (json_object_get(x->chain_peers, vn->fq_str), peer, pv) {
        struct cfg_obj *pri = find(x, x->ri_id, peer);
        if (!pri || !cfg_obj_exists(pri)) {
            continue;
        }
        if (n_conn == conn_cap) {
            conn_cap *= 2;
            conns = mem_realloc(&mem_type_st_xform, conns, conn_cap * sizeof *conns);
        }
        conns[n_conn].to = pri;
        conns[n_conn].attr = json_object();
        n_conn++;
    }

    if (!missing && !ri->busy) {
        ri_sync(x, ri, rts, n_rts, conns, n_conn, NULL);
    }
    for (size_t i = 0; i < n_rts; i++) {
        json_decref(rts[i].attr);
        rts[i].to->busy--;
        cfg_graph_maybe_free(x->graph, rts[i].to);
    }
    for (size_t i = 0; i < n_conn; i++) {
        json_decref(conns[i].attr);
    }
    mem_free(&mem_type_st_xform, rts);
    mem_free(&mem_type_st_xform, conns);
}

/* Whether route target RT is needed: allocated to a live owner under the current ASN, or
 * listed by a network. */
static bool
rt_needed(const struct st_xform *x, const struct cfg_obj *rt)
{
    uint32_t asn, n = st_rtalloc_parse(rt->fq_str, &asn);
    if (n && asn == x->asn) {
        const char *owner = st_rtalloc_owner(&x->rtalloc, n);
        struct cfg_obj *o = NULL;
        if (owner && !strncmp(owner, LR_OWNER, strlen(LR_OWNER))) {
            o = find(x, x->lr_id, owner + strlen(LR_OWNER));
        } else if (owner) {
            o = find(x, x->ri_id, owner);
        }
        if (o && cfg_obj_exists(o)) {
            return true;
        }
    }
    return json_object_get(x->user_rts, rt->fq_str) != NULL;
}

static void
eval_rt(struct st_xform *x, struct cfg_obj *rt)
{
    const char *uuid = json_string_value(json_object_get(x->rt_reg, rt->fq_str));
    if (!uuid || rt->busy || rt_needed(x, rt)) {
        return;
    }
    struct cfg_ref *r;
    LIST_FOR_EACH (r, to_node, &rt->back_refs) {
        if (cfg_obj_exists(r->from)) {
            /* Still referred to: the referrer's evaluation drops the ref first. */
            enqueue(x, r->from);
            return;
        }
    }
    char *u = xstrdup(uuid);
    write_delete_uuid(x, rt, u, rt);
    xfree(u);
}

/* Logical router LR (§6.4): its own route target (LR -> route-target), added with the
 * configured ones to the primary instance of every network its interfaces are in. */
static void
eval_lr(struct st_xform *x, struct cfg_obj *lr)
{
    char owner[1024];
    snprintf(owner, sizeof owner, LR_OWNER "%s", lr->fq_str);
    struct st_lr *s = lr->user;
    json_t *old_vns = s ? json_incref(s->vns) : json_array();
    if (!cfg_obj_exists(lr)) {
        lr_state_free(x, lr);
        uint32_t n = st_rtalloc_get(&x->rtalloc, owner);
        if (n) {
            st_rtalloc_release(&x->rtalloc, owner);
            char *name = rt_name(x->asn, n);
            enqueue_rt(x, name);
            xfree(name);
        }
        size_t i;
        json_t *v;
        json_array_foreach (old_vns, i, v) {
            enqueue_vn_ri(x, json_string_value(v));
        }
        json_decref(old_vns);
        return;
    }
    uint32_t n = st_rtalloc_alloc(&x->rtalloc, owner);
    if (!n) {
        LOG_ERR("route-target numbers exhausted for %s", lr->fq_str);
        x->n_errors++;
        json_decref(old_vns);
        return;
    }
    char *own = rt_name(x->asn, n);
    json_t *rts = xjson_pack("[s]", own);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(json_object_get(lr->props,
                                                        "configured_route_target_list"),
                                        "route_target"), i, v) {
        if (json_is_string(v) && !json_has_str(rts, json_string_value(v))) {
            json_array_append(rts, v);
        }
    }
    /* Networks of its interfaces, sorted. */
    size_t cnt = 0;
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &lr->refs) {
        cnt++;
    }
    const char **names = mem_zalloc(&mem_type_st_xform, (cnt + 1) * sizeof *names);
    size_t nn = 0;
    LIST_FOR_EACH (r, from_node, &lr->refs) {
        if (r->to->ident != x->vmi_id || !cfg_obj_exists(r->to)) {
            continue;
        }
        struct cfg_ref *vr;
        LIST_FOR_EACH (vr, from_node, &r->to->refs) {
            if (vr->to->ident == x->vn_id && nn < cnt) {
                bool dup = false;
                for (size_t j = 0; j < nn; j++) {
                    dup |= !strcmp(names[j], vr->to->fq_str);
                }
                if (!dup) {
                    names[nn++] = vr->to->fq_str;
                }
            }
        }
    }
    qsort(names, nn, sizeof *names, str_cmp);
    json_t *vns = json_array();
    for (size_t j = 0; j < nn; j++) {
        json_array_append_new(vns, json_string(names[j]));
    }
    mem_free(&mem_type_st_xform, names);
    if (!s || !json_equal(s->vns, vns) || !json_equal(s->rts, rts)) {
        lr_state_free(x, lr);
        s = lr->user = mem_zalloc(&mem_type_st_xform, sizeof *s);
        s->vns = json_incref(vns);
        s->rts = json_incref(rts);
        json_t *configured = json_array();
        json_array_foreach (rts, i, v) {
            if (i) {
                json_array_append(configured, v);
            }
        }
        user_rts_add(x, configured, 1);
        json_decref(configured);
        json_array_foreach (vns, i, v) {
            const char *vn = json_string_value(v);
            json_t *set = json_object_get(x->vn_lrs, vn);
            if (!set) {
                set = json_object();
                json_object_set_new(x->vn_lrs, vn, set);
            }
            json_object_set_new(set, lr->fq_str, json_true());
            enqueue_vn_ri(x, vn);
        }
        json_array_foreach (old_vns, i, v) {
            enqueue_vn_ri(x, json_string_value(v));
        }
    }
    /* LR -> its own route target. */
    if (ensure_rt(x, own, lr) && !lr->busy) {
        json_t *fq = xjson_pack("[s]", own);
        struct want_ref w = { cfg_graph_locate(x->graph, x->rt_id, fq), NULL };
        json_decref(fq);
        w.to->busy++;
        if (!refs_match(lr, x->rt_id, &w, 1)) {
            json_t *list = xjson_pack("[{sO}]", "to", w.to->fq_name);
            write_update(x, lr, xjson_pack("{so}", "route_target_refs", list), lr);
        }
        w.to->busy--;
        cfg_graph_maybe_free(x->graph, w.to);
    }
    xfree(own);
    json_decref(rts);
    json_decref(vns);
    json_decref(old_vns);
}

/* ---- Service chains (§6.3). ---- */

static const char *
chain_spec_str(const json_t *chain, const char *key)
{
    return json_string_value(json_object_get(json_object_get(chain, "spec"), key));
}

/* The service mode of service instance SI: its template's, "transparent" when unknown. */
static const char *
si_mode(const struct st_xform *x, const struct cfg_obj *si)
{
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &si->refs) {
        if (r->to->ident == x->stmpl_id && cfg_obj_exists(r->to)) {
            const char *m = json_string_value(json_object_get(
                json_object_get(r->to->props, "service_template_properties"), "service_mode"));
            return m ? m : "transparent";
        }
    }
    return "transparent";
}

static bool
si_has_template(const struct st_xform *x, const struct cfg_obj *si)
{
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &si->refs) {
        if (r->to->ident == x->stmpl_id && cfg_obj_exists(r->to)) {
            return true;
        }
    }
    return false;
}

/* The service instance VMI belongs to (through its virtual machine's reference or its port
 * tuple), or NULL. */
static struct cfg_obj *
vmi_si(const struct st_xform *x, const struct cfg_obj *vmi)
{
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &vmi->refs) {
        if (r->to->ident == x->pt_id && r->to->parent && cfg_obj_exists(r->to->parent)) {
            return r->to->parent;
        }
    }
    const struct cfg_obj *vm = vmi->parent && vmi->parent->ident == x->vm_id ? vmi->parent : NULL;
    LIST_FOR_EACH (r, from_node, &vmi->refs) {
        if (r->to->ident == x->vm_id) {
            vm = r->to;
        }
    }
    if (vm) {
        LIST_FOR_EACH (r, from_node, &vm->refs) {
            if (r->to->ident == x->si_id && cfg_obj_exists(r->to)) {
                return r->to;
            }
        }
    }
    return NULL;
}

static const char *
vmi_type(const struct cfg_obj *vmi)
{
    return json_string_value(json_object_get(
        json_object_get(vmi->props, "virtual_machine_interface_properties"),
        "service_interface_type"));
}

/* The interfaces of service instance SI (existing ones, sorted by name) into OUT. */
static size_t
si_vmis(const struct st_xform *x, const struct cfg_obj *si, struct cfg_obj **out, size_t max)
{
    size_t n = 0;
    struct cfg_ref *r;
    LIST_FOR_EACH (r, to_node, &si->back_refs) {
        if (r->from->ident != x->vm_id || !cfg_obj_exists(r->from)) {
            continue;
        }
        const struct cfg_obj *vm = r->from;
        struct cfg_obj *c;
        LIST_FOR_EACH (c, child_node, &vm->children) {
            if (c->ident == x->vmi_id && cfg_obj_exists(c) && n < max) {
                out[n++] = c;
            }
        }
        struct cfg_ref *vr;
        LIST_FOR_EACH (vr, to_node, &vm->back_refs) {
            if (vr->from->ident == x->vmi_id && cfg_obj_exists(vr->from) && n < max) {
                bool dup = false;
                for (size_t i = 0; i < n; i++) {
                    dup |= out[i] == vr->from;
                }
                if (!dup) {
                    out[n++] = vr->from;
                }
            }
        }
    }
    struct cfg_obj *pt;
    LIST_FOR_EACH (pt, child_node, &si->children) {
        if (pt->ident != x->pt_id || !cfg_obj_exists(pt)) {
            continue;
        }
        LIST_FOR_EACH (r, to_node, &pt->back_refs) {
            if (r->from->ident == x->vmi_id && cfg_obj_exists(r->from) && n < max) {
                bool dup = false;
                for (size_t i = 0; i < n; i++) {
                    dup |= out[i] == r->from;
                }
                if (!dup) {
                    out[n++] = r->from;
                }
            }
        }
    }
    qsort(out, n, sizeof *out, obj_cmp);
    return n;
}

#define MAX_SI_VMIS 64

/* The first IPv4 (else any) address of VMI's instance IPs, or NULL. */
static const char *
vmi_address(const struct st_xform *x, const struct cfg_obj *vmi)
{
    const char *best = NULL, *best_name = NULL;
    struct cfg_ref *r;
    LIST_FOR_EACH (r, to_node, &vmi->back_refs) {
        if (r->from->ident != x->iip_id || !cfg_obj_exists(r->from)) {
            continue;
        }
        const char *a = json_string_value(json_object_get(r->from->props,
                                                          "instance_ip_address"));
        if (!a) {
            continue;
        }
        bool v4 = !strchr(a, ':');
        bool best_v4 = best && !strchr(best, ':');
        if (!best || (v4 && !best_v4)
            || (v4 == best_v4 && strcmp(r->from->fq_str, best_name) < 0)) {
            best = a;
            best_name = r->from->fq_str;
        }
    }
    return best;
}

/* The address of the first interface of type TYPE of service instance SI, or NULL. */
static const char *
si_if_address(const struct st_xform *x, const struct cfg_obj *si, const char *type)
{
    struct cfg_obj *vmis[MAX_SI_VMIS];
    size_t n = si_vmis(x, si, vmis, MAX_SI_VMIS);
    for (size_t i = 0; i < n; i++) {
        const char *t = vmi_type(vmis[i]);
        const char *a = t && !strcmp(t, type) ? vmi_address(x, vmis[i]) : NULL;
        if (a) {
            return a;
        }
    }
    return NULL;
}

/* The instance IP of a transparent service in a chain: "<service instance's last name>". */
static struct cfg_obj *
chain_iip(struct st_xform *x, const char *svc_ri_name)
{
    const char *last = strrchr(svc_ri_name, ':');
    json_t *fq = xjson_pack("[s]", last ? last + 1 : svc_ri_name);
    struct cfg_obj *o = cfg_graph_locate(x->graph, x->iip_id, fq);
    json_decref(fq);
    return o;
}

/* The subnets of network VN as "prefix/len" strings. */
static json_t *
vn_prefixes(const struct st_xform *x, const struct cfg_obj *vn)
{
    json_t *out = json_array();
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &vn->refs) {
        if (strcmp(r->to->ident->name, "network-ipam")) {
            continue;
        }
        size_t i;
        json_t *sn;
        json_array_foreach (json_object_get(r->attr, "ipam_subnets"), i, sn) {
            const json_t *sub = json_object_get(sn, "subnet");
            const char *p = json_string_value(json_object_get(sub, "ip_prefix"));
            json_t *l = json_object_get(sub, "ip_prefix_len");
            if (p && json_is_integer(l)) {
                char buf[80];
                snprintf(buf, sizeof buf, "%s/%d", p, (int) json_integer_value(l));
                json_array_append_new(out, json_string(buf));
            }
        }
    }
    return out;
}

/* Re-derives what chain UUID should have built and queues what depends on it. */
static void
chain_eval(struct st_xform *x, const char *uuid_)
{
    char uuid[64];
    snprintf(uuid, sizeof uuid, "%s", uuid_);
    json_t *ch = json_object_get(x->chains, uuid);
    if (!ch) {
        return;
    }
    const json_t *spec = json_object_get(ch, "spec");
    const json_t *services = json_object_get(spec, "services");
    const char *left = json_string_value(json_object_get(spec, "left"));
    const char *right = json_string_value(json_object_get(spec, "right"));
    json_t *want = json_array();
    const char *state = "built";
    struct cfg_obj *lvn = find(x, x->vn_id, left), *rvn = find(x, x->vn_id, right);
    if (!json_object_size(json_object_get(ch, "users"))) {
        state = "unused";
    } else if (!lvn || !cfg_obj_exists(lvn) || !primary_ri(x, lvn) || !rvn
               || !cfg_obj_exists(rvn) || !primary_ri(x, rvn)) {
        state = "network missing";
    } else {
        size_t i;
        json_t *v;
        json_array_foreach (services, i, v) {
            struct cfg_obj *si = find(x, x->si_id, json_string_value(v));
            if (!si || !cfg_obj_exists(si) || !si_has_template(x, si)) {
                state = "service instance or template missing";
            }
        }
        if (!strcmp(state, "built")) {
            json_array_foreach (services, i, v) {
                const char *sides[2] = { left, right };
                for (int k = 0; k < 2; k++) {
                    char *name = st_rules_service_ri(sides[k], uuid, json_string_value(v));
                    json_array_append_new(want, json_string(name));
                    json_object_set_new(x->svc_ris, name, xjson_pack(
                        "{sssOsssi}", "chain", uuid, "si", v, "side", k ? "right" : "left",
                        "index", (int) i));
                    xfree(name);
                }
            }
        }
    }
    json_object_set_new(ch, "state", json_string(state));
    /* What it built before and no more. */
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(ch, "ris"), i, v) {
        const char *name = json_string_value(v);
        if (!json_has_str(want, name)) {
            json_object_del(x->svc_ris, name);
        }
        struct cfg_obj *ri = find(x, x->ri_id, name);
        if (ri) {
            enqueue(x, ri);
        }
    }
    json_array_foreach (want, i, v) {
        json_t *fq = json_array();
        char *copy = xstrdup(json_string_value(v));
        for (char *tok = strtok(copy, ":"); tok; tok = strtok(NULL, ":")) {
            json_array_append_new(fq, json_string(tok));
        }
        xfree(copy);
        struct cfg_obj *ri = cfg_graph_locate(x->graph, x->ri_id, fq);
        json_decref(fq);
        enqueue(x, ri);
        cfg_graph_maybe_free(x->graph, ri);
    }
    /* The ends' primary instances connect to the first and last service instances. */
    size_t n = json_array_size(want);
    const char *ends[2] = { left, right };
    for (int k = 0; k < 2; k++) {
        json_t *set = json_object_get(x->chain_peers, ends[k]);
        json_array_foreach (json_object_get(ch, "ris"), i, v) {
            json_object_del(set, json_string_value(v));
        }
        if (n) {
            if (!set) {
                set = json_object();
                json_object_set_new(x->chain_peers, ends[k], set);
            }
            json_object_set_new(set, json_string_value(json_array_get(want, k ? n - 1 : 0)),
                                json_true());
        }
        if (set && !json_object_size(set)) {
            json_object_del(x->chain_peers, ends[k]);
        }
        enqueue_vn_ri(x, ends[k]);
    }
    /* The interfaces of its services. */
    json_array_foreach (services, i, v) {
        struct cfg_obj *si = find(x, x->si_id, json_string_value(v));
        struct cfg_obj *vmis[MAX_SI_VMIS];
        size_t nv = si ? si_vmis(x, si, vmis, MAX_SI_VMIS) : 0;
        for (size_t j = 0; j < nv; j++) {
            enqueue(x, vmis[j]);
        }
    }
    json_object_set(ch, "ris", want);
    json_decref(want);
    if (!json_object_size(json_object_get(ch, "users"))) {
        json_object_del(x->chains, uuid);
    }
}

/* The chains whose spec names NAME as an end or a service: evaluated again. */
static void
chains_touching(struct st_xform *x, const char *name)
{
    json_t *uuids = json_array();
    const char *k;
    json_t *ch;
    json_object_foreach (x->chains, k, ch) {
        const json_t *spec = json_object_get(ch, "spec");
        if (!strcmp(chain_spec_str(ch, "left"), name)
            || !strcmp(chain_spec_str(ch, "right"), name)
            || json_has_str(json_object_get(spec, "services"), name)) {
            json_array_append_new(uuids, json_string(k));
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach (uuids, i, v) {
        chain_eval(x, json_string_value(v));
    }
    json_decref(uuids);
}

static void
vn_chains_update(struct st_xform *x, struct cfg_obj *vn, const json_t *chains)
{
    struct st_vn *s = vn->user;
    json_t *uuids = json_array();
    size_t i;
    json_t *c;
    json_array_foreach (chains, i, c) {
        const char *uuid = json_string_value(json_object_get(c, "uuid"));
        json_array_append_new(uuids, json_string(uuid));
        json_t *ch = json_object_get(x->chains, uuid);
        if (!ch) {
            ch = xjson_pack("{sOs{}s[]ss}", "spec", c, "users", "ris", "state", "new");
            json_object_set_new(x->chains, uuid, ch);
        }
        json_object_set_new(json_object_get(ch, "users"), vn->fq_str, json_true());
    }
    json_array_foreach (s ? s->chains : NULL, i, c) {
        const char *uuid = json_string_value(c);
        if (!json_has_str(uuids, uuid)) {
            json_t *ch = json_object_get(x->chains, uuid);
            json_object_del(json_object_get(ch, "users"), vn->fq_str);
            chain_eval(x, uuid);
        }
    }
    if (s) {
        json_decref(s->chains);
        s->chains = json_incref(uuids);
    }
    json_decref(uuids);
    chains_touching(x, vn->fq_str);
}

/* A service instance of a chain (INFO from svc_ris), or one no chain wants (INFO NULL). */
static void
eval_svc_ri(struct st_xform *x, struct cfg_obj *ri, const json_t *info)
{
    if (!info) {
        /* Left over: it drops its connections, the interfaces and instances referring to it
         * drop their references (the API refuses to delete what is referred to), then it
         * goes.  Two left-over neighbours each drop their own, so neither waits for the
         * other. */
        if (ri->busy) {
            return;
        }
        struct cfg_obj *iip = chain_iip(x, ri->fq_str);
        if (cfg_obj_exists(iip) && !iip->busy) {
            enqueue(x, iip);
        }
        cfg_graph_maybe_free(x->graph, iip);
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &ri->refs) {
            if (r->to->ident == x->ri_id) {
                write_update(x, ri, xjson_pack("{s[]}", "routing_instance_refs"), ri);
                return;
            }
        }
        bool referred = false;
        LIST_FOR_EACH (r, to_node, &ri->back_refs) {
            if (cfg_obj_exists(r->from)
                && (r->from->ident == x->vmi_id || r->from->ident == x->ri_id)) {
                enqueue(x, r->from);
                referred = true;
            }
        }
        if (!referred) {
            write_delete(x, ri, ri);
        }
        return;
    }
    const char *uuid = json_string_value(json_object_get(info, "chain"));
    const json_t *ch = json_object_get(x->chains, uuid);
    const json_t *spec = json_object_get(ch, "spec");
    const char *si_name = json_string_value(json_object_get(info, "si"));
    bool left = !strcmp(json_string_value(json_object_get(info, "side")), "left");
    int index = (int) json_integer_value(json_object_get(info, "index"));
    const json_t *services = json_object_get(spec, "services");
    int n_si = (int) json_array_size(services);
    struct cfg_obj *lvn = find(x, x->vn_id, json_string_value(json_object_get(spec, "left")));
    struct cfg_obj *rvn = find(x, x->vn_id, json_string_value(json_object_get(spec, "right")));
    struct cfg_obj *si = find(x, x->si_id, si_name);
    if (!lvn || !rvn || !si) {
        return;
    }
    struct cfg_obj *home = left ? lvn : rvn, *remote = left ? rvn : lvn;
    const char *mode = si_mode(x, si);
    bool transparent = !strcmp(mode, "transparent");
    bool nat = !strcmp(mode, "in-network-nat");

    /* service_chain_information: traffic towards the other end. */
    const char *addr = NULL;
    if (transparent) {
        char *lname = st_rules_service_ri(lvn->fq_str, uuid, si_name);
        struct cfg_obj *iip = chain_iip(x, lname);
        if (!cfg_obj_exists(iip) && !iip->busy && left) {
            /* The service-chain address, from the left network (an instance IP, so that it
             * stays allocated and is found again after a restart). */
            write_create(x, iip, xjson_pack("{s[{sO}]sbss}", "virtual_network_refs", "to",
                                            lvn->fq_name, "service_instance_ip", 1,
                                            "instance_ip_family", "v4"), ri);
        }
        addr = json_string_value(json_object_get(iip->props, "instance_ip_address"));
        cfg_graph_maybe_free(x->graph, iip);
        xfree(lname);
    } else {
        addr = si_if_address(x, si, left ? "left" : "right");
    }
    struct cfg_obj *remote_ri = primary_ri(x, remote);
    bool dir_both = !strcmp(json_string_value(json_object_get(spec, "direction")), "<>");
    json_t *sci = json_null();
    if (remote_ri && (left || (dir_both && !nat))) {
        sci = xjson_pack("{sssossss}", "routing_instance", remote_ri->fq_str, "prefix",
                         vn_prefixes(x, remote), "service_instance", si_name,
                         "service_chain_address", addr ? addr : "");
        if (!addr) {
            json_object_del(sci, "service_chain_address");
        }
    }

    if (!cfg_obj_exists(ri)) {
        if (!ri->busy && cfg_obj_exists(home)) {
            json_t *body = xjson_pack("{sssbsO}", "parent_type", "virtual-network",
                                      "routing_instance_is_default", 0,
                                      "service_chain_information", sci);
            if (json_is_null(sci)) {
                json_object_del(body, "service_chain_information");
            }
            write_create(x, ri, body, ri);
        }
        json_decref(sci);
        return;
    }
    uint32_t n = st_rtalloc_alloc(&x->rtalloc, ri->fq_str);
    if (!n) {
        LOG_ERR("route-target numbers exhausted for %s", ri->fq_str);
        x->n_errors++;
        json_decref(sci);
        return;
    }
    /* Its own target; the chain's ends also export the end network's targets. */
    char *own = rt_name(x->asn, n);
    json_t *names = xjson_pack("[s]", own);
    xfree(own);
    const struct st_vn *hs = home->user;
    bool end = left ? index == 0 : index == n_si - 1;
    if (end && hs) {
        json_array_extend(names, hs->rt_both);
    }
    size_t n_names = json_array_size(names);
    struct want_ref *rts = mem_zalloc(&mem_type_st_xform, (n_names + 1) * sizeof *rts);
    size_t n_rts = 0;
    bool missing = false;
    for (size_t i = 0; i < n_names; i++) {
        const char *name = json_string_value(json_array_get(names, i));
        bool dup = false;
        for (size_t j = 0; j < n_rts; j++) {
            dup |= !strcmp(rts[j].to->fq_str, name);
        }
        if (dup) {
            continue;
        }
        if (!ensure_rt(x, name, ri)) {
            missing = true;
            continue;
        }
        json_t *fq = xjson_pack("[s]", name);
        rts[n_rts].to = cfg_graph_locate(x->graph, x->rt_id, fq);
        json_decref(fq);
        rts[n_rts].to->busy++;
        rts[n_rts].attr = i ? xjson_pack("{ss}", "import_export", "export") : json_object();
        n_rts++;
    }
    json_decref(names);
    /* Its neighbour in the chain: the previous service's right instance (or the left
     * network's primary) for a left one, the next one's left instance (or the right
     * network's primary) for a right one. */
    struct want_ref conn = { NULL, NULL };
    if (left) {
        conn.to = index == 0 ? primary_ri(x, lvn) : NULL;
        if (index > 0) {
            char *p = st_rules_service_ri(rvn->fq_str, uuid, json_string_value(
                json_array_get(services, index - 1)));
            conn.to = find(x, x->ri_id, p);
            xfree(p);
        }
    } else {
        conn.to = index == n_si - 1 ? primary_ri(x, rvn) : NULL;
        if (index < n_si - 1) {
            char *p = st_rules_service_ri(lvn->fq_str, uuid, json_string_value(
                json_array_get(services, index + 1)));
            conn.to = find(x, x->ri_id, p);
            xfree(p);
        }
    }
    size_t n_conn = conn.to && cfg_obj_exists(conn.to) ? 1 : 0;
    conn.attr = json_object();
    if (!missing && !ri->busy) {
        json_t *have = json_object_get(ri->props, "service_chain_information");
        json_t *extra = NULL;
        if (!json_equal(have ? have : json_null(), sci)) {
            extra = xjson_pack("{sO}", "service_chain_information", sci);
        }
        ri_sync(x, ri, rts, n_rts, &conn, n_conn, extra);
    }
    json_decref(conn.attr);
    for (size_t i = 0; i < n_rts; i++) {
        json_decref(rts[i].attr);
        rts[i].to->busy--;
        cfg_graph_maybe_free(x->graph, rts[i].to);
    }
    mem_free(&mem_type_st_xform, rts);
    json_decref(sci);
}

/* The VLAN of chain CHAIN on the N interfaces VMIS of one machine of a transparent service:
 * the one their references already carry, else the lowest one free on that machine once the
 * chains before it (in uuid order) that need one have theirs. */
static int
chain_vlan(struct st_xform *x, struct cfg_obj *const *vmis, size_t n, const char *chain)
{
    bool used[4096] = { false };
    for (size_t i = 0; i < n; i++) {
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &vmis[i]->refs) {
            json_t *info = json_object_get(x->svc_ris, r->to->fq_str);
            json_t *tag = json_object_get(r->attr, "vlan_tag");
            if (r->to->ident != x->ri_id || !json_is_integer(tag)
                || json_integer_value(tag) <= 0 || json_integer_value(tag) >= 4096) {
                continue;
            }
            if (info && !strcmp(json_string_value(json_object_get(info, "chain")), chain)) {
                return (int) json_integer_value(tag);
            }
            used[json_integer_value(tag)] = true;
        }
    }
    /* Chains of this machine without a VLAN yet take the lowest free ones in uuid order. */
    const char *k;
    json_t *ch;
    int next = 1;
    json_t *order = json_array();
    json_object_foreach (x->chains, k, ch) {
        json_array_append_new(order, json_string(k));
    }
    size_t cnt = json_array_size(order);
    const char **keys = mem_zalloc(&mem_type_st_xform, (cnt + 1) * sizeof *keys);
    for (size_t i = 0; i < cnt; i++) {
        keys[i] = json_string_value(json_array_get(order, i));
    }
    qsort(keys, cnt, sizeof *keys, str_cmp);
    int vlan = 0;
    for (size_t i = 0; i < cnt && !vlan; i++) {
        while (next < 4094 && used[next]) {
            next++;
        }
        if (!strcmp(keys[i], chain)) {
            vlan = next;
        } else {
            /* Only chains that still need one on this machine take a number. */
            bool has = false;
            for (size_t j = 0; j < n && !has; j++) {
                struct cfg_ref *r;
                LIST_FOR_EACH (r, from_node, &vmis[j]->refs) {
                    json_t *info = json_object_get(x->svc_ris, r->to->fq_str);
                    has |= info && !strcmp(json_string_value(json_object_get(info, "chain")),
                                           keys[i]);
                }
            }
            json_t *c = json_object_get(x->chains, keys[i]);
            bool mine = false;
            size_t j;
            json_t *v;
            json_array_foreach (json_object_get(json_object_get(c, "spec"), "services"), j, v) {
                struct cfg_obj *si = n ? vmi_si(x, vmis[0]) : NULL;
                mine |= si && !strcmp(si->fq_str, json_string_value(v));
            }
            if (mine && !has) {
                used[next] = true;
            }
        }
    }
    mem_free(&mem_type_st_xform, keys);
    json_decref(order);
    return vlan ? vlan : 1;
}

/* A service interface: references to the service instances of the chains its service is in
 * (its other references to routing instances are kept as they are). */
static void
eval_vmi(struct st_xform *x, struct cfg_obj *vmi)
{
    if (!cfg_obj_exists(vmi) || vmi->busy) {
        return;
    }
    struct cfg_obj *si = vmi_si(x, vmi);
    const char *type = vmi_type(vmi);
    /* The machine's interfaces, for the VLANs of transparent services. */
    struct cfg_obj *vmis[MAX_SI_VMIS];
    size_t n_vm = 0;
    const struct cfg_obj *vm = vmi->parent && vmi->parent->ident == x->vm_id ? vmi->parent : NULL;
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &vmi->refs) {
        if (r->to->ident == x->vm_id) {
            vm = r->to;
        }
    }
    if (vm) {
        struct cfg_obj *c;
        LIST_FOR_EACH (c, child_node, &vm->children) {
            if (c->ident == x->vmi_id && cfg_obj_exists(c) && n_vm < MAX_SI_VMIS) {
                vmis[n_vm++] = c;
            }
        }
        LIST_FOR_EACH (r, to_node, &vm->back_refs) {
            if (r->from->ident == x->vmi_id && cfg_obj_exists(r->from) && n_vm < MAX_SI_VMIS
                && r->from->parent != vm) {
                vmis[n_vm++] = r->from;
            }
        }
        qsort(vmis, n_vm, sizeof *vmis, obj_cmp);
    } else {
        vmis[n_vm++] = vmi;
    }
    json_t *want = json_array();       /* [[ri name, attr]] */
    if (si && type && (!strcmp(type, "left") || !strcmp(type, "right"))) {
        const char *mode = si_mode(x, si);
        bool transparent = !strcmp(mode, "transparent");
        bool left = !strcmp(type, "left");
        const char *k;
        json_t *ch;
        json_object_foreach (x->chains, k, ch) {
            const json_t *spec = json_object_get(ch, "spec");
            if (!json_array_size(json_object_get(ch, "ris"))
                || !json_has_str(json_object_get(spec, "services"), si->fq_str)
                || (!left && !strcmp(mode, "in-network-nat"))) {
                continue;
            }
            const char *end = json_string_value(json_object_get(spec, left ? "left" : "right"));
            char *name = st_rules_service_ri(end, k, si->fq_str);
            struct cfg_obj *ri = find(x, x->ri_id, name);
            if (ri && cfg_obj_exists(ri)) {
                json_t *attr = xjson_pack("{ss}", "direction", "both");
                if (transparent) {
                    char *lname = st_rules_service_ri(chain_spec_str(ch, "left"), k,
                                                      si->fq_str);
                    struct cfg_obj *iip = chain_iip(x, lname);
                    const char *a = json_string_value(json_object_get(iip->props,
                                                                      "instance_ip_address"));
                    json_object_set_new(attr, "vlan_tag",
                                        json_integer(chain_vlan(x, vmis, n_vm, k)));
                    if (a) {
                        json_object_set_new(attr, "service_chain_address", json_string(a));
                    }
                    cfg_graph_maybe_free(x->graph, iip);
                    xfree(lname);
                }
                json_array_append_new(want, xjson_pack("[so]", name, attr));
            }
            xfree(name);
        }
    }
    /* Compare the service-instance references only. */
    bool ok = true;
    size_t have = 0;
    LIST_FOR_EACH (r, from_node, &vmi->refs) {
        if (r->to->ident != x->ri_id || !is_service_ri(x, r->to)) {
            continue;
        }
        have++;
        bool found = false;
        size_t i;
        json_t *w;
        json_array_foreach (want, i, w) {
            if (!strcmp(json_string_value(json_array_get(w, 0)), r->to->fq_str)) {
                json_t *a = attr_canon(r->attr), *b = attr_canon(json_array_get(w, 1));
                found = json_equal(a, b);
                json_decref(a);
                json_decref(b);
            }
        }
        ok &= found;
    }
    ok &= have == json_array_size(want);
    if (!ok) {
        json_t *list = json_array();
        LIST_FOR_EACH (r, from_node, &vmi->refs) {
            if (r->to->ident == x->ri_id && !is_service_ri(x, r->to)) {
                json_array_append_new(list, xjson_pack("{sOsO}", "to", r->to->fq_name, "attr",
                                                       r->attr ? r->attr : json_null()));
            }
        }
        size_t i;
        json_t *w;
        json_array_foreach (want, i, w) {
            struct cfg_obj *ri = find(x, x->ri_id, json_string_value(json_array_get(w, 0)));
            json_array_append_new(list, xjson_pack("{sOsO}", "to", ri->fq_name, "attr",
                                                   json_array_get(w, 1)));
        }
        write_update(x, vmi, xjson_pack("{so}", "routing_instance_refs", list), vmi);
    }
    json_decref(want);
}

/* A chain's service-chain address ("service-<uuid>-<si>"): deleted when no chain wants it. */
static void
eval_iip(struct st_xform *x, struct cfg_obj *iip)
{
    const char *name = last_name(iip);
    if (!cfg_obj_exists(iip) || iip->busy || strncmp(name, "service-", 8)
        || !json_is_true(json_object_get(iip->props, "service_instance_ip"))) {
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach (x->svc_ris, k, v) {
        const char *last = strrchr(k, ':');
        if (last && !strcmp(last + 1, name)) {
            return;
        }
    }
    write_delete(x, iip, iip);
}

/* ---- BGP as a service (§6.5). ---- */

#define BGPAAS_PORT_START 50000
#define BGPAAS_PORT_END 50512

static const char *
bgp_router_type(const struct cfg_obj *br)
{
    return json_string_value(json_object_get(json_object_get(br->props,
                                                             "bgp_router_parameters"),
                                             "router_type"));
}

static bool
is_bgpaas_client(const struct cfg_obj *br)
{
    const char *t = bgp_router_type(br);
    return t && !strcmp(t, "bgpaas-client");
}

/* The source port of bgpaas client NAME: the one it has (ROUTER's) when free, else the
 * lowest free one of the range.  0 when the range is exhausted. */
static int
bgpaas_port(struct st_xform *x, const char *name, const struct cfg_obj *router)
{
    const char *k;
    json_t *v;
    json_object_foreach (x->bgpaas_ports, k, v) {
        if (!strcmp(json_string_value(v), name)) {
            return atoi(k);
        }
    }
    char key[16];
    json_t *sp = router ? json_object_get(json_object_get(router->props,
                                                          "bgp_router_parameters"),
                                          "source_port") : NULL;
    if (json_is_integer(sp) && json_integer_value(sp) >= BGPAAS_PORT_START
        && json_integer_value(sp) < BGPAAS_PORT_END) {
        snprintf(key, sizeof key, "%d", (int) json_integer_value(sp));
        if (!json_object_get(x->bgpaas_ports, key)) {
            json_object_set_new(x->bgpaas_ports, key, json_string(name));
            return (int) json_integer_value(sp);
        }
    }
    for (int p = BGPAAS_PORT_START; p < BGPAAS_PORT_END; p++) {
        snprintf(key, sizeof key, "%d", p);
        if (!json_object_get(x->bgpaas_ports, key)) {
            json_object_set_new(x->bgpaas_ports, key, json_string(name));
            return p;
        }
    }
    return 0;
}

static void
bgpaas_port_release(struct st_xform *x, const char *name)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (x->bgpaas_ports, tmp, k, v) {
        if (!strcmp(json_string_value(v), name)) {
            json_object_del(x->bgpaas_ports, k);
        }
    }
}

/* Rebuilds the port allocation from the graph: each existing client keeps its port (in
 * name order, so that a port two clients show stays with the first). */
static void
rebuild_bgpaas_ports(struct st_xform *x)
{
    size_t n = 0;
    struct cfg_obj *o;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->br_id)) {
        n++;
    }
    struct cfg_obj **v = mem_zalloc(&mem_type_st_xform, (n + 1) * sizeof *v);
    n = 0;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->br_id)) {
        if (cfg_obj_exists(o) && is_bgpaas_client(o)) {
            v[n++] = o;
        }
    }
    qsort(v, n, sizeof *v, obj_cmp);
    for (size_t i = 0; i < n; i++) {
        bgpaas_port(x, v[i]->fq_str, v[i]);
    }
    mem_free(&mem_type_st_xform, v);
}

static struct cfg_obj *
locate_child(struct st_xform *x, const struct schema_ident *id, const struct cfg_obj *parent,
             const char *name)
{
    json_t *fq = json_deep_copy(parent->fq_name);
    json_array_append_new(fq, json_string(name));
    struct cfg_obj *o = cfg_graph_locate(x->graph, id, fq);
    json_decref(fq);
    return o;
}

/* The peering between client C and server S as the graph shows it (either direction, as
 * IF-MAP has one link for the pair). */
static const json_t *
peering_attr(const struct cfg_obj *c, const struct cfg_obj *s, bool *found)
{
    struct cfg_ref *r = cfg_obj_find_ref(c, s);
    if (!r) {
        r = cfg_obj_find_ref(s, c);
    }
    *found = r != NULL;
    return r ? r->attr : NULL;
}

static void
eval_bgpaas(struct st_xform *x, struct cfg_obj *b)
{
    /* Clients it wants: client name -> its interface. */
    json_t *want = json_object();
    bool shared = json_is_true(json_object_get(b->props, "bgpaas_shared"));
    struct cfg_ref *r;
    if (cfg_obj_exists(b)) {
        LIST_FOR_EACH (r, from_node, &b->refs) {
            struct cfg_obj *vmi = r->to;
            if (vmi->ident != x->vmi_id || !cfg_obj_exists(vmi)) {
                continue;
            }
            struct cfg_obj *vn = NULL;
            struct cfg_ref *vr;
            LIST_FOR_EACH (vr, from_node, &vmi->refs) {
                if (vr->to->ident == x->vn_id && cfg_obj_exists(vr->to)) {
                    vn = vr->to;
                }
            }
            struct cfg_obj *ri = vn ? primary_ri(x, vn) : NULL;
            if (!ri) {
                continue;
            }
            char *name = mem_asprintf(&mem_type_string, "%s:%s", ri->fq_str,
                                      shared ? last_name(b) : last_name(vmi));
            if (!json_object_get(want, name)) {
                json_object_set_new(want, name, xjson_pack("{ssss}", "ri", ri->fq_str,
                                                           "vmi", vmi->fq_str));
            }
            xfree(name);
        }
    }
    /* Clients it had and no more: released, re-evaluated (deleted). */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (x->bgp_clients, tmp, k, v) {
        if (!strcmp(json_string_value(v), b->fq_str) && !json_object_get(want, k)) {
            struct cfg_obj *br = find(x, x->br_id, k);
            bgpaas_port_release(x, k);
            json_object_del(x->bgp_clients, k);     /* Frees K. */
            if (br) {
                enqueue(x, br);
            }
        }
    }
    json_t *have_refs = json_array();       /* Clients that exist, for BGPaaS -> router. */
    json_object_foreach (want, k, v) {
        json_object_set_new(x->bgp_clients, k, json_string(b->fq_str));
        struct cfg_obj *ri = find(x, x->ri_id, json_string_value(json_object_get(v, "ri")));
        struct cfg_obj *vmi = find(x, x->vmi_id, json_string_value(json_object_get(v, "vmi")));
        struct cfg_obj *server = locate_child(x, x->br_id, ri, "bgpaas-server");
        if (!cfg_obj_exists(server)) {
            if (!server->busy) {
                write_create(x, server, xjson_pack("{sss{ss}}", "parent_type",
                                                   "routing-instance", "bgp_router_parameters",
                                                   "router_type", "bgpaas-server"), b);
            } else if (server->user) {
                op_wait(server->user, b);
            }
            cfg_graph_maybe_free(x->graph, server);
            continue;
        }
        struct cfg_obj *client = find(x, x->br_id, k);
        int port = bgpaas_port(x, k, client);
        const char *ip = json_string_value(json_object_get(b->props, "bgpaas_ip_address"));
        if (!ip) {
            ip = vmi_address(x, vmi);
        }
        json_t *params = xjson_pack("{sssi}", "router_type", "bgpaas-client", "source_port",
                                    port);
        json_t *as = json_object_get(b->props, "autonomous_system");
        if (json_is_integer(as)) {
            json_object_set(params, "autonomous_system", as);
        }
        if (ip) {
            json_object_set_new(params, "address", json_string(ip));
            json_object_set_new(params, "identifier", json_string(ip));
        }
        /* The peering carries the BGPaaS session attributes. */
        json_t *sa = json_object_get(b->props, "bgpaas_session_attributes");
        json_t *attr = json_is_object(sa) ? xjson_pack("{s[{s[O]}]}", "session", "attributes", sa)
                                          : xjson_pack("{s[{s[{}]}]}", "session", "attributes");
        json_t *body = NULL;
        if (!client || !cfg_obj_exists(client)) {
            client = locate_child(x, x->br_id, ri, last_name_str(k));
            if (!client->busy) {
                body = xjson_pack("{sssOs[{sOsO}]}", "parent_type", "routing-instance",
                                  "bgp_router_parameters", params, "bgp_router_refs", "to",
                                  server->fq_name, "attr", attr);
                write_create(x, client, body, b);
            }
            cfg_graph_maybe_free(x->graph, client);
        } else {
            json_array_append_new(have_refs, json_string(k));
            bool found;
            const json_t *a = peering_attr(client, server, &found);
            json_t *hp = json_object_get(client->props, "bgp_router_parameters");
            if (!client->busy && (!found || !json_equal(a, attr) || !json_equal(hp, params))) {
                write_update(x, client, xjson_pack("{sOs[{sOsO}]}", "bgp_router_parameters",
                                                   params, "bgp_router_refs", "to",
                                                   server->fq_name, "attr", attr), b);
            }
        }
        json_decref(params);
        json_decref(attr);
        cfg_graph_maybe_free(x->graph, server);
    }
    /* BGPaaS -> its clients. */
    if (cfg_obj_exists(b) && !b->busy) {
        bool ok = true;
        size_t n = 0;
        LIST_FOR_EACH (r, from_node, &b->refs) {
            if (r->to->ident == x->br_id) {
                n++;
                ok &= json_has_str(have_refs, r->to->fq_str);
            }
        }
        if (!ok || n != json_array_size(have_refs)) {
            json_t *list = json_array();
            size_t i;
            json_array_foreach (have_refs, i, v) {
                struct cfg_obj *br = find(x, x->br_id, json_string_value(v));
                json_array_append_new(list, xjson_pack("{sO}", "to", br->fq_name));
            }
            write_update(x, b, xjson_pack("{so}", "bgp_router_refs", list), b);
        }
    }
    json_decref(have_refs);
    json_decref(want);
}

/* A bgpaas client no BGP-as-a-service wants any more: deleted once nothing refers to it. */
static void
eval_bgp_router(struct st_xform *x, struct cfg_obj *br)
{
    if (!cfg_obj_exists(br) || br->busy || !is_bgpaas_client(br)
        || json_object_get(x->bgp_clients, br->fq_str)) {
        return;
    }
    struct cfg_ref *r;
    LIST_FOR_EACH (r, to_node, &br->back_refs) {
        if (r->from->ident == x->bgpaas_id && cfg_obj_exists(r->from)) {
            enqueue(x, r->from);
            return;
        }
    }
    write_delete(x, br, br);
}

static void
evaluate(struct st_xform *x, struct cfg_obj *o)
{
    x->n_evals++;
    LOG_DEBUG("evaluate %s %s%s", o->ident->name, o->fq_str, cfg_obj_exists(o) ? "" : " (gone)");
    if (o->ident == x->vn_id) {
        eval_vn(x, o);
    } else if (o->ident == x->sg_id) {
        eval_sg(x, o);
    } else if (o->ident == x->ri_id) {
        eval_ri(x, o);
    } else if (o->ident == x->rt_id) {
        eval_rt(x, o);
    } else if (o->ident == x->lr_id) {
        eval_lr(x, o);
    } else if (o->ident == x->vmi_id) {
        eval_vmi(x, o);
    } else if (o->ident == x->iip_id) {
        eval_iip(x, o);
    } else if (o->ident == x->bgpaas_id) {
        eval_bgpaas(x, o);
    } else if (o->ident == x->br_id) {
        eval_bgp_router(x, o);
    }
}

static void
run(evutil_socket_t fd, short what, void *aux)
{
    struct st_xform *x = aux;
    int budget = 1000;
    while (budget-- > 0 && x->active) {
        struct list *q = !list_is_empty(&x->q1) ? &x->q1
                         : !list_is_empty(&x->q2) ? &x->q2 : NULL;
        if (!q) {
            return;
        }
        struct cfg_obj *o = CONTAINER_OF(list_pop_front(q), struct cfg_obj, queue_node);
        o->queued = false;
        evaluate(x, o);
        cfg_graph_maybe_free(x->graph, o);
    }
    if (x->active && (!list_is_empty(&x->q1) || !list_is_empty(&x->q2))) {
        event_active(x->kick, EV_TIMEOUT, 0);
    }
}

/* ---- Activation. ---- */

struct activation {
    struct st_xform *x;
    uint64_t generation;
};

static void listed_rts(void *aux, int status, const json_t *reply, const char *text);
static void listed_ris(void *aux, int status, const json_t *reply, const char *text);

static void
maybe_activate(struct st_xform *x)
{
    bool lease = !x->guard || x->guard(x->guard_aux);
    bool want = x->leader && lease && x->synced && st_api_has_server(x->api);
    if (x->leader && !lease) {
        /* The lease may come back without a new leadership callback: look again. */
        struct timeval tv = { 1, 0 };
        event_add(x->recheck, &tv);
    }
    if (want == x->active) {
        return;
    }
    if (!want) {
        if (x->active) {
            LOG_NOTICE("inactive (leader %d, graph complete %d)", x->leader, x->synced);
        }
        x->active = false;
        reset_state(x);
        return;
    }
    if (!x->activating) {
        /* Route targets nothing refers to are not in the IF-MAP graph: list them from the
         * API first, so that their numbers stay taken and stale ones can go. */
        x->activating = true;
        struct activation *a = mem_zalloc(&mem_type_st_xform, sizeof *a);
        a->x = x;
        a->generation = x->generation;
        st_api_list(x->api, x->rt_id->name, listed_rts, a);
    }
}

/* Ends activation step A (answered with STATUS): true if activation should go on, else
 * arranges what comes next (a new try, or nothing). */
static bool
activation_answered(struct activation *a, int status, const char *what)
{
    struct st_xform *x = a->x;
    bool current = a->generation == x->generation;
    mem_free(&mem_type_st_xform, a);
    x->activating = false;
    if (!current) {
        maybe_activate(x);
        return false;
    }
    bool lease = !x->guard || x->guard(x->guard_aux);
    if (!(x->leader && lease && x->synced && st_api_has_server(x->api)) || x->active) {
        return false;
    }
    if (status != 200) {
        LOG_WARN("cannot list %s (%d): retrying", what, status);
        struct timeval tv = { 1, 0 };
        event_add(x->recheck, &tv);
        return false;
    }
    return true;
}

static void
listed_rts(void *aux, int status, const json_t *reply, const char *text)
{
    struct activation *a = aux;
    struct st_xform *x = a->x;
    if (!activation_answered(a, status, "route targets")) {
        return;
    }
    reset_state(x);
    x->asn = graph_asn(x);
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(reply, "route-targets"), i, e) {
        const json_t *o = json_object_get(e, "route-target");
        const char *name = json_string_value(json_array_get(json_object_get(o, "fq_name"), 0));
        const char *uuid = json_string_value(json_object_get(o, "uuid"));
        if (name && uuid) {
            rt_reg_add(x, name, uuid);
        }
    }
    struct cfg_obj *o;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(x->graph, x->rt_id)) {
        if (cfg_obj_exists(o)) {
            rt_reg_add(x, o->fq_str, o->uuid);
        }
    }
    /* Then the connections as the API holds them (see listed_ris). */
    x->activating = true;
    a = mem_zalloc(&mem_type_st_xform, sizeof *a);
    a->x = x;
    a->generation = x->generation;
    st_api_list(x->api, x->ri_id->name, listed_ris, a);
}

/* "a:b:c" of a JSON fq_name, or NULL. */
static char *
fq_join(const json_t *fq)
{
    if (!json_is_array(fq) || !json_array_size(fq)) {
        return NULL;
    }
    size_t len = 1, i;
    json_t *e;
    json_array_foreach (fq, i, e) {
        len += json_string_length(e) + 1;
    }
    char *out = mem_zalloc(&mem_type_string, len);
    json_array_foreach (fq, i, e) {
        if (i) {
            strcat(out, ":");
        }
        strcat(out, json_string_value(e) ? json_string_value(e) : "");
    }
    return out;
}

/* IF-MAP shows one link for the two references between a pair of routing instances, so the
 * graph takes a connection for both directions.  A leader that died between writing the
 * two leaves one direction only: correct the graph from the API before reconciling, so that
 * the missing reference is written. */
static void
listed_ris(void *aux, int status, const json_t *reply, const char *text)
{
    struct activation *a = aux;
    struct st_xform *x = a->x;
    if (!activation_answered(a, status, "routing instances")) {
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(reply, "routing-instances"), i, e) {
        const json_t *ri = json_object_get(e, "routing-instance");
        char *fq_str = fq_join(json_object_get(ri, "fq_name"));
        struct cfg_obj *o = fq_str ? cfg_graph_find(x->graph, x->ri_id, fq_str) : NULL;
        mem_free(&mem_type_string, fq_str);
        if (!o) {
            continue;
        }
        struct cfg_ref *r;
        LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
            if (r->to->ident != x->ri_id) {
                continue;
            }
            bool held = false;
            size_t j;
            json_t *ref;
            json_array_foreach (json_object_get(ri, "routing_instance_refs"), j, ref) {
                char *to = fq_join(json_object_get(ref, "to"));
                held |= to && !strcmp(to, r->to->fq_str);
                mem_free(&mem_type_string, to);
            }
            if (!held) {
                LOG_INFO("%s: no reference to %s in the API: will write it", o->fq_str,
                         r->to->fq_str);
                cfg_graph_del_ref(x->graph, o, r->to);
            }
        }
    }
    rebuild_allocator(x);
    rebuild_bgpaas_ports(x);
    x->active = true;
    x->n_reconciles++;
    LOG_NOTICE("active: reconciling %zu objects (ASN %u, %u route targets allocated, %zu "
               "route-target objects)", cfg_graph_count(x->graph), x->asn, x->rtalloc.n_owned,
               json_object_size(x->rt_reg));
    enqueue_all(x, x->vn_id);
    enqueue_all(x, x->sg_id);
    enqueue_all(x, x->lr_id);
    enqueue_all(x, x->ri_id);
    enqueue_all(x, x->iip_id);
    enqueue_all(x, x->bgpaas_id);
    enqueue_all(x, x->br_id);
    const char *k;
    json_t *v;
    json_object_foreach (x->rt_reg, k, v) {
        enqueue_rt(x, k);
    }
}

/* ---- The reaction map. ---- */

/* The BGP-as-a-service objects using interface VMI. */
static void
enqueue_bgpaas_of(struct st_xform *x, const struct cfg_obj *vmi)
{
    struct cfg_ref *r;
    LIST_FOR_EACH (r, to_node, &vmi->back_refs) {
        if (r->from->ident == x->bgpaas_id) {
            enqueue(x, r->from);
        }
    }
}

static bool
policy_mentions(const struct cfg_obj *pol, const char *name)
{
    return rules_mention(pol, "network_policy_entries", "network_policy", name);
}

static void
enqueue_policy_users(struct st_xform *x, const struct cfg_obj *pol)
{
    struct cfg_ref *r;
    LIST_FOR_EACH (r, to_node, &pol->back_refs) {
        if (r->from->ident == x->vn_id) {
            enqueue(x, r->from);
        }
    }
}

static void
graph_changed(void *aux, struct cfg_obj *o, enum cfg_change what, const char *field,
              struct cfg_obj *other)
{
    struct st_xform *x = aux;
    if (o->ident == x->rt_id && what == CFG_CHANGE_EXISTS && cfg_obj_exists(o) && x->active) {
        rt_reg_add(x, o->fq_str, o->uuid);
    }
    if (!x->active) {
        return;
    }
    if (o->ident == x->vn_id) {
        enqueue(x, o);
        if (what == CFG_CHANGE_REF && other->ident == x->pol_id) {
            /* The policy's networks changed: policies naming it as an address too. */
            struct cfg_obj *p;
            LIST_FOR_EACH (p, type_node, cfg_graph_objects(x->graph, x->pol_id)) {
                if (cfg_obj_exists(p) && policy_mentions(p, other->fq_str)) {
                    enqueue_policy_users(x, p);
                }
            }
        }
    } else if (o->ident == x->pol_id) {
        if (what == CFG_CHANGE_PROP || what == CFG_CHANGE_EXISTS) {
            enqueue_policy_users(x, o);
        }
    } else if (o->ident == x->ri_id) {
        enqueue(x, o);
        const json_t *svc = json_object_get(x->svc_ris, o->fq_str);
        if (svc && what == CFG_CHANGE_EXISTS) {
            /* Its neighbours in the chain can connect to it now. */
            char uuid[UUID_LEN + 1];
            snprintf(uuid, sizeof uuid, "%s", json_string_value(json_object_get(svc, "chain")));
            chain_eval(x, uuid);
        }
        if (what == CFG_CHANGE_REF) {
            enqueue(x, other);          /* A route target or a peer instance. */
        }
        if ((what == CFG_CHANGE_EXISTS || what == CFG_CHANGE_PARENT
             || (what == CFG_CHANGE_PROP && !strcmp(field, "routing_instance_is_default")))
            && o->parent && o->parent->ident == x->vn_id && o->parent->user) {
            /* A primary instance came or went: the peers' connections follow. */
            struct st_vn *s = o->parent->user;
            conns_changed(x, o->parent, s->conns, NULL, true);
        }
    } else if (o->ident == x->rt_id) {
        enqueue(x, o);
    } else if (o->ident == x->acl_id) {
        struct cfg_obj *p = what == CFG_CHANGE_PARENT ? other : o->parent;
        if (p) {
            enqueue(x, p);
        }
    } else if (o->ident == x->sg_id) {
        enqueue(x, o);
    } else if (o->ident == x->lr_id) {
        enqueue(x, o);
        if (what == CFG_CHANGE_REF) {
            enqueue(x, other);
        }
    } else if (o->ident == x->vmi_id) {
        /* An interface's network changed: the routers it belongs to. */
        struct cfg_ref *r;
        LIST_FOR_EACH (r, to_node, &o->back_refs) {
            if (r->from->ident == x->lr_id) {
                enqueue(x, r->from);
            }
        }
        /* A service interface: its references, and its chains (its address, its type). */
        enqueue(x, o);
        if (what == CFG_CHANGE_REF && other->ident == x->ri_id) {
            enqueue(x, other);
        }
        struct cfg_obj *si = vmi_si(x, o);
        if (si) {
            chains_touching(x, si->fq_str);
        }
        enqueue_bgpaas_of(x, o);
    } else if (o->ident == x->bgpaas_id) {
        enqueue(x, o);
        if (what == CFG_CHANGE_REF) {
            enqueue(x, other);
        }
    } else if (o->ident == x->br_id) {
        enqueue(x, o);
        struct cfg_ref *r;
        LIST_FOR_EACH (r, to_node, &o->back_refs) {
            if (r->from->ident == x->bgpaas_id) {
                enqueue(x, r->from);
            }
        }
    } else if (o->ident == x->si_id) {
        chains_touching(x, o->fq_str);
    } else if (o->ident == x->stmpl_id) {
        struct cfg_ref *r;
        LIST_FOR_EACH (r, to_node, &o->back_refs) {
            if (r->from->ident == x->si_id) {
                chains_touching(x, r->from->fq_str);
            }
        }
    } else if (o->ident == x->vm_id) {
        if (what == CFG_CHANGE_REF && other->ident == x->si_id) {
            chains_touching(x, other->fq_str);
        }
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &o->refs) {
            if (r->to->ident == x->si_id) {
                chains_touching(x, r->to->fq_str);
            }
        }
    } else if (o->ident == x->pt_id) {
        if (o->parent) {
            chains_touching(x, o->parent->fq_str);
        }
    } else if (o->ident == x->iip_id) {
        enqueue(x, o);
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &o->refs) {
            struct cfg_obj *si = r->to->ident == x->vmi_id ? vmi_si(x, r->to) : NULL;
            if (si) {
                chains_touching(x, si->fq_str);
            }
            if (r->to->ident == x->vmi_id) {
                enqueue_bgpaas_of(x, r->to);
            }
        }
        const char *name = last_name(o);
        if (!strncmp(name, "service-", 8)) {
            char uuid[UUID_LEN + 1];
            snprintf(uuid, sizeof uuid, "%s", name + 8);
            chain_eval(x, uuid);
        }
    } else if (o->ident == x->gsc_id && !strcmp(o->fq_str, DEFAULT_GSC)) {
        uint32_t asn = graph_asn(x);
        if (asn != x->asn) {
            LOG_NOTICE("autonomous system %u -> %u: renaming route targets", x->asn, asn);
            x->asn = asn;
            enqueue_all(x, x->ri_id);
            enqueue_all(x, x->rt_id);
        }
    }
}

/* ---- IF-MAP input. ---- */

static void
recheck(evutil_socket_t fd, short what, void *aux)
{
    maybe_activate(aux);
}

static void
settled(evutil_socket_t fd, short what, void *aux)
{
    struct st_xform *x = aux;
    if (!x->synced) {
        x->synced = true;
        LOG_NOTICE("initial graph received: %zu objects", cfg_graph_count(x->graph));
        maybe_activate(x);
    }
}

void
st_xform_session_reset(struct st_xform *x)
{
    x->synced = false;
    maybe_activate(x);
    reset_state(x);
    x->generation++;
    cfg_graph_clear(x->graph);
    event_del(x->settle);
    /* An empty graph is complete once the subscription's first answer is in. */
}

void
st_xform_poll(struct st_xform *x, const struct ifmap_client_item *items, size_t n)
{
    bool update = false;
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == IFMAP_ITEM_ERROR) {
            LOG_ERR("IF-MAP subscription error: %s",
                    items[i].error_code ? items[i].error_code : "?");
            continue;
        }
        update |= items[i].kind == IFMAP_ITEM_UPDATE || items[i].kind == IFMAP_ITEM_DELETE;
        x->n_items++;
        x->n_bad_items += cfg_graph_apply(x->graph, &items[i]);
    }
    if (!x->synced) {
        if (update) {
            settled(-1, 0, x);
        } else {
            struct timeval tv = { x->cfg.settle_ms / 1000, (x->cfg.settle_ms % 1000) * 1000 };
            event_add(x->settle, &tv);
        }
    }
}

void
st_xform_set_leader(struct st_xform *x, bool leader)
{
    LOG_NOTICE("%s", leader ? "leader" : "not leader");
    x->leader = leader;
    maybe_activate(x);
}

void
st_xform_api_changed(struct st_xform *x)
{
    maybe_activate(x);
}

bool
st_xform_active(const struct st_xform *x)
{
    return x->active;
}

struct cfg_graph *
st_xform_graph(struct st_xform *x)
{
    return x->graph;
}

void
st_xform_set_guard(struct st_xform *x, st_xform_guard_fn *fn, void *aux)
{
    x->guard = fn;
    x->guard_aux = aux;
}

struct st_xform *
st_xform_create(struct event_base *base, const struct schema *schema, struct st_api *api,
                const struct st_xform_config *cfg)
{
    struct st_xform *x = mem_zalloc(&mem_type_st_xform, sizeof *x);
    x->base = base;
    x->schema = schema;
    x->api = api;
    list_init(&x->ops);
    x->cfg = *cfg;
    if (x->cfg.settle_ms <= 0) {
        x->cfg.settle_ms = 300;
    }
    x->vn_id = schema_ident(schema, "virtual-network");
    x->ri_id = schema_ident(schema, "routing-instance");
    x->rt_id = schema_ident(schema, "route-target");
    x->acl_id = schema_ident(schema, "access-control-list");
    x->pol_id = schema_ident(schema, "network-policy");
    x->sg_id = schema_ident(schema, "security-group");
    x->gsc_id = schema_ident(schema, "global-system-config");
    x->lr_id = schema_ident(schema, "logical-router");
    x->vmi_id = schema_ident(schema, "virtual-machine-interface");
    x->si_id = schema_ident(schema, "service-instance");
    x->stmpl_id = schema_ident(schema, "service-template");
    x->vm_id = schema_ident(schema, "virtual-machine");
    x->iip_id = schema_ident(schema, "instance-ip");
    x->pt_id = schema_ident(schema, "port-tuple");
    x->chains = json_object();
    x->svc_ris = json_object();
    x->chain_peers = json_object();
    x->bgpaas_id = schema_ident(schema, "bgp-as-a-service");
    x->br_id = schema_ident(schema, "bgp-router");
    x->bgp_clients = json_object();
    x->bgpaas_ports = json_object();
    x->graph = cfg_graph_create(schema, graph_changed, x);
    st_rtalloc_init(&x->rtalloc);
    x->rev = json_object();
    x->user_rts = json_object();
    x->force_conns = json_object();
    x->vn_lrs = json_object();
    x->rt_reg = json_object();
    x->asn = DEFAULT_ASN;
    list_init(&x->q1);
    list_init(&x->q2);
    x->kick = event_new(base, -1, 0, run, x);
    x->settle = evtimer_new(base, settled, x);
    x->recheck = evtimer_new(base, recheck, x);
    return x;
}

void
st_xform_destroy(struct st_xform *x)
{
    if (!x) {
        return;
    }
    x->active = false;
    reset_state(x);
    x->generation++;
    /* Writes still queued or waiting to retry (the process is stopping). */
    struct st_op *op;
    LIST_FOR_EACH_SAFE (op, node, &x->ops) {
        op_free(op);
    }
    cfg_graph_destroy(x->graph);
    st_rtalloc_destroy(&x->rtalloc);
    json_decref(x->rev);
    json_decref(x->user_rts);
    json_decref(x->force_conns);
    json_decref(x->vn_lrs);
    json_decref(x->rt_reg);
    json_decref(x->chains);
    json_decref(x->svc_ris);
    json_decref(x->chain_peers);
    json_decref(x->bgp_clients);
    json_decref(x->bgpaas_ports);
    event_free(x->kick);
    event_free(x->settle);
    event_free(x->recheck);
    mem_free(&mem_type_st_xform, x);
}

/* ---- Introspect. ---- */

static json_t *
ri_json(const struct st_xform *x, const struct cfg_obj *ri)
{
    json_t *rts = json_array(), *conns = json_array();
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &ri->refs) {
        if (r->to->ident == x->rt_id) {
            json_t *ie = json_object_get(r->attr, "import_export");
            json_array_append_new(rts, xjson_pack("{sssO}", "to", r->to->fq_str,
                                                  "import_export",
                                                  ie ? ie : json_null()));
        } else if (r->to->ident == x->ri_id) {
            json_array_append_new(conns, json_string(r->to->fq_str));
        }
    }
    uint32_t n = st_rtalloc_get(&x->rtalloc, ri->fq_str);
    return xjson_pack("{sssssbsososo}", "name", ri->fq_str, "uuid", ri->uuid, "is_default",
                      json_is_true(json_object_get(ri->props, "routing_instance_is_default")),
                      "route_targets", rts, "connections", conns, "allocated",
                      n ? json_integer(n) : json_null());
}

static json_t *
page_networks(struct http_req *req, void *aux)
{
    struct st_xform *x = aux;
    json_t *out = json_array();
    struct cfg_obj *vn;
    LIST_FOR_EACH (vn, type_node, cfg_graph_objects(x->graph, x->vn_id)) {
        if (!cfg_obj_exists(vn)) {
            continue;
        }
        const struct st_vn *s = vn->user;
        struct cfg_obj *ri = primary_ri(x, vn);
        uint32_t n = ri ? st_rtalloc_get(&x->rtalloc, ri->fq_str) : 0;
        char rt[64] = "";
        if (n) {
            snprintf(rt, sizeof rt, "target:%u:%u", x->asn, n);
        }
        json_array_append_new(out, xjson_pack(
            "{sssssosososisososo}", "name", vn->fq_str, "uuid", vn->uuid,
            "primary_instance", ri ? json_string(ri->fq_str) : json_null(),
            "route_target", n ? json_string(rt) : json_null(),
            "connections", s ? json_incref(s->conns) : json_array(),
            "acl_rules", s ? (int) s->acl_rules : 0,
            "policies", s ? json_incref(s->policies) : json_array(),
            "route_target_list", s ? json_incref(s->rt_both) : json_array(),
            "import_export_route_targets",
            s ? xjson_pack("{sOsO}", "import", s->rt_import, "export", s->rt_export)
              : json_object()));
    }
    return xjson_pack("{so}", "networks", out);
}

static json_t *
page_instances(struct http_req *req, void *aux)
{
    struct st_xform *x = aux;
    json_t *out = json_array();
    struct cfg_obj *ri;
    LIST_FOR_EACH (ri, type_node, cfg_graph_objects(x->graph, x->ri_id)) {
        if (cfg_obj_exists(ri)) {
            json_array_append_new(out, ri_json(x, ri));
        }
    }
    return xjson_pack("{so}", "instances", out);
}

static json_t *
page_connections(struct http_req *req, void *aux)
{
    struct st_xform *x = aux;
    json_t *out = json_array();
    struct cfg_obj *ri;
    LIST_FOR_EACH (ri, type_node, cfg_graph_objects(x->graph, x->ri_id)) {
        if (!cfg_obj_exists(ri)) {
            continue;
        }
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &ri->refs) {
            if (r->to->ident == x->ri_id && strcmp(ri->fq_str, r->to->fq_str) < 0) {
                bool mutual = cfg_obj_find_ref(r->to, ri) != NULL;
                json_array_append_new(out, xjson_pack("{sssssb}", "from", ri->fq_str, "to",
                                                      r->to->fq_str, "mutual", mutual));
            }
        }
    }
    return xjson_pack("{so}", "connections", out);
}

static json_t *
page_chains(struct http_req *req, void *aux)
{
    struct st_xform *x = aux;
    json_t *out = json_array();
    const char *k;
    json_t *ch;
    json_object_foreach (x->chains, k, ch) {
        json_t *e = json_deep_copy(json_object_get(ch, "spec"));
        json_t *users = json_array();
        const char *u;
        json_t *v;
        json_object_foreach (json_object_get(ch, "users"), u, v) {
            json_array_append_new(users, json_string(u));
        }
        json_object_set_new(e, "networks", users);
        json_object_set(e, "state", json_object_get(ch, "state"));
        json_t *ris = json_array();
        size_t i;
        json_array_foreach (json_object_get(ch, "ris"), i, v) {
            struct cfg_obj *ri = find(x, x->ri_id, json_string_value(v));
            json_array_append_new(ris, ri && cfg_obj_exists(ri) ? ri_json(x, ri)
                                       : xjson_pack("{sOsn}", "name", v, "uuid"));
        }
        json_object_set_new(e, "instances", ris);
        json_array_append_new(out, e);
    }
    return xjson_pack("{so}", "chains", out);
}

static size_t
list_len(const struct list *l)
{
    size_t n = 0;
    for (const struct list *e = l->next; e != l; e = e->next) {
        n++;
    }
    return n;
}

static json_t *
page_counters(struct http_req *req, void *aux)
{
    struct st_xform *x = aux;
    struct st_api_stats st;
    st_api_get_stats(x->api, &st);
    size_t work = list_len(&x->q1) + list_len(&x->q2);
    /* Idle: active with nothing to evaluate and no write outstanding. */
    bool idle = x->active && !work && !x->n_ops;
    return xjson_pack("{sbsIsbsbsbsIsIsIsIsIsisos{sIsIsIsIsIsI}sssI}",
                      "idle", idle, "work_queued", (json_int_t) work,
                      "leader", x->leader, "graph_complete", x->synced, "active", x->active,
                      "evaluations", (json_int_t) x->n_evals,
                      "errors", (json_int_t) (x->n_errors + st.errors),
                      "reconciles", (json_int_t) x->n_reconciles,
                      "ifmap_items", (json_int_t) x->n_items,
                      "ifmap_bad_items", (json_int_t) x->n_bad_items,
                      "asn", (int) x->asn,
                      "writes_by_type", st_api_counts_json(x->api),
                      "writes",
                      "create", (json_int_t) st.ops[ST_API_CREATE],
                      "update", (json_int_t) st.ops[ST_API_UPDATE],
                      "delete", (json_int_t) st.ops[ST_API_DELETE],
                      "read", (json_int_t) st.ops[ST_API_READ],
                      "queued", (json_int_t) st.queued,
                      "in_flight", (json_int_t) st.in_flight,
                      "api_server", st_api_server(x->api) ? st_api_server(x->api) : "",
                      "graph_objects", (json_int_t) cfg_graph_count(x->graph));
}

void
st_xform_register_introspect(struct st_xform *x, struct introspect *is)
{
    introspect_add_page(is, "/networks", "virtual networks and their derived state",
                        page_networks, x);
    introspect_add_page(is, "/instances", "routing instances: route targets, connections",
                        page_instances, x);
    introspect_add_page(is, "/connections", "connections between routing instances",
                        page_connections, x);
    introspect_add_page(is, "/chains", "service chains", page_chains, x);
    introspect_add_page(is, "/counters", "writes by kind, evaluations, errors",
                        page_counters, x);
    introspect_add_counter(is, "schema_evaluations_total", "Objects evaluated", &x->n_evals);
    introspect_add_counter(is, "schema_errors_total", "Failed evaluations and writes",
                           &x->n_errors);
    introspect_add_counter(is, "schema_ifmap_items_total", "IF-MAP items applied",
                           &x->n_items);
}
