/* ctl_agent_config: per-agent configuration for the XMPP config channel (see
 * ctl_agent_config.h). */
#include "ctl_agent_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "vnc_ifmap.h"

LOG_MODULE(ctl_agent_config);

static MEM_TYPE(mem_type_ctl_agent, "ctl_agent_config");
static MEM_TYPE(mem_type_ctl_agent_sent, "ctl_agent_sent");

/* A node or link sent to an agent. */
struct sent_item {
    struct hmap_node node;          /* In agent.sent, by key. */
    char *key;                      /* node_key() / link_key(). */
    uint64_t xml_hash;              /* Of the update form last sent. */
    char *del_xml;                  /* The delete form. */
    bool is_link;
    bool seen;                      /* Scratch: still reachable in this walk. */
};

struct vm_sub {
    struct hmap_node node;          /* In agent.vms, by uuid. */
    char *uuid;
};

struct agent {
    struct hmap_node node;          /* In ctl_agent_config.agents, by name. */
    char *name;
    char *vr_name;
    struct hmap vms;                /* struct vm_sub. */
    struct hmap sent;               /* struct sent_item. */
    size_t n_nodes, n_links;
    bool dirty;                     /* Walk again at the next flush. */
    uint64_t messages, updates, deletes;
};

/* A node rendered during one flush (shared by the agents walked in it). */
struct rendered {
    struct hmap_node node;          /* By object pointer. */
    const struct cfg_obj *obj;
    char *xml;
    uint64_t hash;
};

struct ctl_agent_config {
    struct cfg_graph *graph;
    const struct schema *schema;
    const struct schema_ident *vr_id, *vm_id;
    bool *allowed;                  /* [from->index * n_idents + to->index]. */
    ctl_agent_config_sink_fn *sink;
    void *aux;
    struct hmap agents;
    struct cfg_obj_set changed;     /* Content changed: render again. */
    struct cfg_obj_set touched;     /* Links or existence of a neighbour changed. */
    bool synced;
    bool all_dirty;                 /* Next flush: every agent, every object rendered. */
    struct hmap cache;              /* struct rendered, during a flush. */
};

/* ---- Text. ---- */

struct buf {
    char *s;
    size_t len, cap;
};

static void
buf_addn(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        b->s = mem_realloc(&mem_type_ctl_agent, b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void
buf_add(struct buf *b, const char *s)
{
    buf_addn(b, s, strlen(s));
}

static void
buf_add_escaped(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': buf_add(b, "&amp;"); break;
        case '<': buf_add(b, "&lt;"); break;
        case '>': buf_add(b, "&gt;"); break;
        case '"': buf_add(b, "&quot;"); break;
        case '\'': buf_add(b, "&apos;"); break;
        default: buf_addn(b, s, 1); break;
        }
    }
}

static void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->s) {
        b->s[0] = '\0';
    }
}

static char *
buf_steal(struct buf *b)
{
    char *s = b->s ? b->s : mem_strdup(&mem_type_ctl_agent, "");
    memset(b, 0, sizeof *b);
    return s;
}

static void
buf_free(struct buf *b)
{
    mem_free(&mem_type_ctl_agent, b->s);
    memset(b, 0, sizeof *b);
}

static uint64_t
fnv64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
    }
    return h;
}

/* <node type="T"><name>FQ</name> without the closing tag. */
static void
add_node_open(struct buf *b, const struct cfg_obj *o)
{
    buf_add(b, "<node type=\"");
    buf_add_escaped(b, o->ident->name);
    buf_add(b, "\"><name>");
    buf_add_escaped(b, o->fq_str);
    buf_add(b, "</name>");
}

/* Adds the content of metadata element XML (rendered by vnc_ifmap as <contrail:NAME
 * ifmap-cardinality="singleValue">...</contrail:NAME>) under element name ELEM (with
 * ATTRS, e.g. ' type="x"', appended to the start tag). */
static void
add_unwrapped(struct buf *b, const char *xml, const char *elem, const char *attrs)
{
    const char *start = strchr(xml, '>'), *end = strrchr(xml, '<');
    buf_add(b, "<");
    buf_add(b, elem);
    buf_add(b, attrs);
    if (!start || !end || end <= start + 1) {
        buf_add(b, "/>");
        return;
    }
    buf_add(b, ">");
    buf_addn(b, start + 1, (size_t) (end - start - 1));
    buf_add(b, "</");
    buf_add(b, elem);
    buf_add(b, ">");
}

static char *
render_node(const struct cfg_obj *o)
{
    struct buf b = { 0 };
    add_node_open(&b, o);
    const struct schema_ident *id = o->ident;
    for (size_t i = 0; i < id->n_props; i++) {
        const struct schema_prop *p = &id->props[i];
        const json_t *v = json_object_get(o->props, p->name);
        if (!v || json_is_null(v) || !strcmp(p->name, "perms2")) {
            continue;
        }
        char *xml, err[256];
        if (vnc_ifmap_render_prop(p, v, &xml, err, sizeof err)) {
            LOG_WARN("%s %s: %s", id->name, o->fq_str, err);
            continue;
        }
        add_unwrapped(&b, xml, p->xml, "");
        xfree(xml);
    }
    buf_add(&b, "</node>");
    return buf_steal(&b);
}

static char *
node_key(const struct cfg_obj *o)
{
    return mem_asprintf(&mem_type_ctl_agent_sent, "%s\x1f%s", o->ident->name, o->fq_str);
}

static char *
node_delete(const struct cfg_obj *o)
{
    struct buf b = { 0 };
    add_node_open(&b, o);
    buf_add(&b, "</node>");
    char *s = mem_strdup(&mem_type_ctl_agent_sent, b.s);
    buf_free(&b);
    return s;
}

static char *
link_key(const struct schema_link *l, const struct cfg_obj *a, const struct cfg_obj *z)
{
    return mem_asprintf(&mem_type_ctl_agent_sent, "%s\x1f%s\x1f%s\x1f%s\x1f%s", l->name,
                        a->ident->name, a->fq_str, z->ident->name, z->fq_str);
}

/* <link><node A/><node Z/><metadata type="L">ATTR</metadata></link>; the attribute only with
 * WITH_ATTR. */
static char *
render_link(const struct schema_link *l, const struct cfg_obj *a, const struct cfg_obj *z,
            const json_t *attr, bool with_attr, struct mem_type *type)
{
    struct buf b = { 0 };
    buf_add(&b, "<link>");
    add_node_open(&b, a);
    buf_add(&b, "</node>");
    add_node_open(&b, z);
    buf_add(&b, "</node>");
    char *xml = NULL, err[256];
    struct buf attrs = { 0 };
    buf_add(&attrs, " type=\"");
    buf_add_escaped(&attrs, l->name);
    buf_add(&attrs, "\"");
    if (with_attr && vnc_ifmap_render_link(l, attr, &xml, err, sizeof err)) {
        LOG_WARN("%s %s - %s: %s", l->name, a->fq_str, z->fq_str, err);
    }
    if (xml) {
        add_unwrapped(&b, xml, "metadata", attrs.s);
        xfree(xml);
    } else {
        buf_add(&b, "<metadata");
        buf_add(&b, attrs.s);
        buf_add(&b, "/>");
    }
    buf_free(&attrs);
    buf_add(&b, "</link>");
    char *s = mem_strdup(type, b.s);
    buf_free(&b);
    return s;
}

/* ---- Agents. ---- */

static struct agent *
agent_find(const struct ctl_agent_config *ac, const char *name)
{
    struct agent *a;
    HMAP_FOR_EACH_WITH_HASH (a, node, hash_string(name, 0), &ac->agents) {
        if (!strcmp(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

static struct vm_sub *
vm_find(const struct agent *a, const char *uuid)
{
    struct vm_sub *v;
    HMAP_FOR_EACH_WITH_HASH (v, node, hash_string(uuid, 0), &a->vms) {
        if (!strcmp(v->uuid, uuid)) {
            return v;
        }
    }
    return NULL;
}

static struct sent_item *
sent_find(const struct agent *a, const char *key, uint32_t hash)
{
    struct sent_item *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash, &a->sent) {
        if (!strcmp(s->key, key)) {
            return s;
        }
    }
    return NULL;
}

static void
sent_free(struct sent_item *s)
{
    mem_free(&mem_type_ctl_agent_sent, s->key);
    mem_free(&mem_type_ctl_agent_sent, s->del_xml);
    mem_free(&mem_type_ctl_agent_sent, s);
}

static void
agent_free(struct ctl_agent_config *ac, struct agent *a)
{
    hmap_remove(&ac->agents, &a->node);
    struct vm_sub *v;
    HMAP_FOR_EACH_SAFE (v, node, &a->vms) {
        hmap_remove(&a->vms, &v->node);
        mem_free(&mem_type_ctl_agent, v->uuid);
        mem_free(&mem_type_ctl_agent, v);
    }
    hmap_destroy(&a->vms);
    struct sent_item *s;
    HMAP_FOR_EACH_SAFE (s, node, &a->sent) {
        hmap_remove(&a->sent, &s->node);
        sent_free(s);
    }
    hmap_destroy(&a->sent);
    mem_free(&mem_type_ctl_agent, a->name);
    mem_free(&mem_type_ctl_agent, a->vr_name);
    mem_free(&mem_type_ctl_agent, a);
}

/* ---- The traversal white list. ---- */

static const char *const edges[][2] = {
    { "virtual-router", "virtual-machine" },
    { "virtual-router", "bgp-router" },
    { "virtual-router", "global-system-config" },
    { "virtual-router", "provider-attachment" },
    { "virtual-machine", "service-instance" },
    { "virtual-machine", "virtual-machine-interface" },
    { "virtual-machine-interface", "virtual-machine" },
    { "virtual-machine-interface", "instance-ip" },
    { "virtual-machine-interface", "virtual-network" },
    { "virtual-machine-interface", "security-group" },
    { "virtual-machine-interface", "floating-ip" },
    { "virtual-machine-interface", "customer-attachment" },
    { "virtual-machine-interface", "routing-instance" },
    { "virtual-machine-interface", "interface-route-table" },
    { "virtual-machine-interface", "qos-config" },
    { "virtual-machine-interface", "service-health-check" },
    { "bgp-router", "physical-router" },
    { "service-instance", "service-template" },
    { "service-instance", "loadbalancer-pool" },
    { "global-system-config", "global-vrouter-config" },
    { "physical-router", "physical-interface" },
    { "service-template", "domain" },
    { "virtual-network", "floating-ip-pool" },
    { "virtual-network", "logical-interface" },
    { "virtual-network", "network-ipam" },
    { "virtual-network", "access-control-list" },
    { "virtual-network", "routing-instance" },
    { "virtual-network", "network-policy" },
    { "virtual-network", "qos-config" },
    { "domain", "namespace" },
    { "domain", "virtual-DNS" },
    { "virtual-DNS", "virtual-DNS-record" },
    { "security-group", "access-control-list" },
    { "loadbalancer-pool", "loadbalancer-healthmonitor" },
    { "loadbalancer-pool", "virtual-ip" },
    { "loadbalancer-pool", "loadbalancer-member" },
    { "floating-ip", "floating-ip-pool" },
    { "network-ipam", "virtual-DNS" },
    { "floating-ip-pool", "virtual-network" },
};

static bool
edge_allowed(const struct ctl_agent_config *ac, const struct cfg_obj *from,
             const struct cfg_obj *to)
{
    return ac->allowed[from->ident->index * ac->schema->n_idents + to->ident->index];
}

struct ctl_agent_config *
ctl_agent_config_create(struct cfg_graph *graph, ctl_agent_config_sink_fn *sink, void *aux)
{
    struct ctl_agent_config *ac = mem_zalloc(&mem_type_ctl_agent, sizeof *ac);
    ac->graph = graph;
    ac->schema = cfg_graph_schema(graph);
    ac->vr_id = schema_ident(ac->schema, "virtual-router");
    ac->vm_id = schema_ident(ac->schema, "virtual-machine");
    size_t n = ac->schema->n_idents;
    ac->allowed = mem_zalloc(&mem_type_ctl_agent, n * n * sizeof *ac->allowed);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        const struct schema_ident *f = schema_ident(ac->schema, edges[i][0]);
        const struct schema_ident *t = schema_ident(ac->schema, edges[i][1]);
        if (f && t) {
            ac->allowed[f->index * n + t->index] = true;
        }
    }
    ac->sink = sink;
    ac->aux = aux;
    hmap_init(&ac->agents);
    hmap_init(&ac->cache);
    cfg_obj_set_init(&ac->changed);
    cfg_obj_set_init(&ac->touched);
    ac->all_dirty = true;           /* Nothing was sent yet. */
    return ac;
}

void
ctl_agent_config_destroy(struct ctl_agent_config *ac)
{
    if (!ac) {
        return;
    }
    struct agent *a;
    HMAP_FOR_EACH_SAFE (a, node, &ac->agents) {
        agent_free(ac, a);
    }
    hmap_destroy(&ac->agents);
    hmap_destroy(&ac->cache);
    cfg_obj_set_clear(&ac->changed, ac->graph);
    cfg_obj_set_clear(&ac->touched, ac->graph);
    cfg_obj_set_destroy(&ac->changed);
    cfg_obj_set_destroy(&ac->touched);
    mem_free(&mem_type_ctl_agent, ac->allowed);
    mem_free(&mem_type_ctl_agent, ac);
}

int
ctl_agent_config_subscribe_vr(struct ctl_agent_config *ac, const char *agent,
                              const char *vr_name)
{
    if (!agent || !*agent || !vr_name || !*vr_name) {
        return EINVAL;
    }
    struct agent *a = agent_find(ac, agent);
    if (a) {
        if (!strcmp(a->vr_name, vr_name)) {
            return EEXIST;
        }
        mem_free(&mem_type_ctl_agent, a->vr_name);
    } else {
        a = mem_zalloc(&mem_type_ctl_agent, sizeof *a);
        a->name = mem_strdup(&mem_type_ctl_agent, agent);
        hmap_init(&a->vms);
        hmap_init(&a->sent);
        hmap_insert(&ac->agents, &a->node, hash_string(a->name, 0));
    }
    a->vr_name = mem_strdup(&mem_type_ctl_agent, vr_name);
    a->dirty = true;
    return 0;
}

int
ctl_agent_config_unsubscribe_vr(struct ctl_agent_config *ac, const char *agent)
{
    struct agent *a = agent_find(ac, agent);
    if (!a) {
        return ENOENT;
    }
    agent_free(ac, a);
    return 0;
}

int
ctl_agent_config_subscribe_vm(struct ctl_agent_config *ac, const char *agent,
                              const char *vm_uuid)
{
    struct agent *a = agent_find(ac, agent);
    if (!a) {
        return EPERM;
    }
    if (vm_find(a, vm_uuid)) {
        return EEXIST;
    }
    struct vm_sub *v = mem_zalloc(&mem_type_ctl_agent, sizeof *v);
    v->uuid = mem_strdup(&mem_type_ctl_agent, vm_uuid);
    hmap_insert(&a->vms, &v->node, hash_string(v->uuid, 0));
    a->dirty = true;
    return 0;
}

int
ctl_agent_config_unsubscribe_vm(struct ctl_agent_config *ac, const char *agent,
                                const char *vm_uuid)
{
    struct agent *a = agent_find(ac, agent);
    if (!a) {
        return EPERM;
    }
    struct vm_sub *v = vm_find(a, vm_uuid);
    if (!v) {
        return ENOENT;
    }
    hmap_remove(&a->vms, &v->node);
    mem_free(&mem_type_ctl_agent, v->uuid);
    mem_free(&mem_type_ctl_agent, v);
    a->dirty = true;
    return 0;
}

/* ---- Changes. ---- */

static void
touch_neighbours(struct ctl_agent_config *ac, struct cfg_obj *o)
{
    if (o->parent) {
        cfg_obj_set_add(&ac->touched, o->parent);
    }
    struct cfg_obj *c;
    LIST_FOR_EACH (c, child_node, &o->children) {
        cfg_obj_set_add(&ac->touched, c);
    }
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        cfg_obj_set_add(&ac->touched, r->to);
    }
    LIST_FOR_EACH (r, to_node, &o->back_refs) {
        cfg_obj_set_add(&ac->touched, r->from);
    }
}

void
ctl_agent_config_graph_changed(struct ctl_agent_config *ac, struct cfg_obj *o,
                               enum cfg_change what, const char *field, struct cfg_obj *other)
{
    (void) field;
    if (!ac->synced) {
        return;                     /* Everything is looked at when the graph is synced. */
    }
    cfg_obj_set_add(&ac->changed, o);
    if (other) {
        cfg_obj_set_add(&ac->touched, other);
    }
    if (what == CFG_CHANGE_EXISTS) {
        /* A neighbour that is sent may now reach O, or no longer. */
        touch_neighbours(ac, o);
    }
}

/* ---- Walking and sending. ---- */

struct walk {
    struct hmap seen;               /* struct walk_node, by object. */
    struct cfg_obj **queue;
    size_t n, allocated;
};

struct walk_node {
    struct hmap_node node;
    const struct cfg_obj *obj;
};

static uint32_t
ptr_hash(const void *p)
{
    return hash_bytes(&p, sizeof p, 0);
}

static bool
walk_has(const struct walk *w, const struct cfg_obj *o)
{
    struct walk_node *n;
    HMAP_FOR_EACH_WITH_HASH (n, node, ptr_hash(o), &w->seen) {
        if (n->obj == o) {
            return true;
        }
    }
    return false;
}

static void
walk_add(struct walk *w, struct cfg_obj *o)
{
    if (!o || !cfg_obj_exists(o) || walk_has(w, o)) {
        return;
    }
    struct walk_node *n = mem_zalloc(&mem_type_ctl_agent, sizeof *n);
    n->obj = o;
    hmap_insert(&w->seen, &n->node, ptr_hash(o));
    if (w->n == w->allocated) {
        w->allocated = w->allocated ? 2 * w->allocated : 64;
        w->queue = mem_realloc(&mem_type_ctl_agent, w->queue, w->allocated * sizeof *w->queue);
    }
    w->queue[w->n++] = o;
}

static void
walk_free(struct walk *w)
{
    struct walk_node *n;
    HMAP_FOR_EACH_SAFE (n, node, &w->seen) {
        hmap_remove(&w->seen, &n->node);
        mem_free(&mem_type_ctl_agent, n);
    }
    hmap_destroy(&w->seen);
    mem_free(&mem_type_ctl_agent, w->queue);
}

/* Everything reachable from A's virtual-router and virtual machines, in W. */
static void
walk_agent(const struct ctl_agent_config *ac, const struct agent *a, struct walk *w)
{
    hmap_init(&w->seen);
    w->queue = NULL;
    w->n = w->allocated = 0;
    if (ac->vr_id) {
        walk_add(w, cfg_graph_find(ac->graph, ac->vr_id, a->vr_name));
    }
    const struct vm_sub *v;
    HMAP_FOR_EACH (v, node, &a->vms) {
        struct cfg_obj *vm = cfg_graph_find_uuid(ac->graph, v->uuid);
        if (vm && vm->ident == ac->vm_id) {
            walk_add(w, vm);
        }
    }
    for (size_t i = 0; i < w->n; i++) {
        struct cfg_obj *o = w->queue[i];
        if (o->parent && edge_allowed(ac, o, o->parent)) {
            walk_add(w, o->parent);
        }
        struct cfg_obj *c;
        LIST_FOR_EACH (c, child_node, &o->children) {
            if (edge_allowed(ac, o, c)) {
                walk_add(w, c);
            }
        }
        struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &o->refs) {
            if (edge_allowed(ac, o, r->to)) {
                walk_add(w, r->to);
            }
        }
        LIST_FOR_EACH (r, to_node, &o->back_refs) {
            if (edge_allowed(ac, o, r->from)) {
                walk_add(w, r->from);
            }
        }
    }
}

static bool
is_changed(const struct ctl_agent_config *ac, const struct cfg_obj *o)
{
    return ac->all_dirty || cfg_obj_set_contains(&ac->changed, o);
}

static const struct rendered *
node_rendered(struct ctl_agent_config *ac, const struct cfg_obj *o)
{
    struct rendered *r;
    HMAP_FOR_EACH_WITH_HASH (r, node, ptr_hash(o), &ac->cache) {
        if (r->obj == o) {
            return r;
        }
    }
    r = mem_zalloc(&mem_type_ctl_agent, sizeof *r);
    r->obj = o;
    r->xml = render_node(o);
    r->hash = fnv64(r->xml);
    hmap_insert(&ac->cache, &r->node, ptr_hash(o));
    return r;
}

static void
cache_clear(struct ctl_agent_config *ac)
{
    struct rendered *r;
    HMAP_FOR_EACH_SAFE (r, node, &ac->cache) {
        hmap_remove(&ac->cache, &r->node);
        mem_free(&mem_type_ctl_agent, r->xml);
        mem_free(&mem_type_ctl_agent, r);
    }
}

/* The messages of one agent's update, built 16 objects at a time. */
struct out {
    struct ctl_agent_config *ac;
    struct agent *agent;
    struct buf msg;
    size_t n_objs;
    int block;                      /* 0 none open, 1 <update>, 2 <delete>. */
};

static void
out_flush(struct out *o)
{
    if (!o->n_objs) {
        return;
    }
    buf_add(&o->msg, o->block == 1 ? "</update>" : "</delete>");
    buf_add(&o->msg, "</config>");
    o->agent->messages++;
    o->ac->sink(o->ac->aux, o->agent->name, o->msg.s);
    buf_reset(&o->msg);
    o->n_objs = 0;
    o->block = 0;
}

static void
out_add(struct out *o, bool update, const char *xml)
{
    int block = update ? 1 : 2;
    if (!o->n_objs) {
        buf_add(&o->msg, "<config>");
    } else if (o->block != block) {
        buf_add(&o->msg, o->block == 1 ? "</update>" : "</delete>");
    }
    if (o->block != block) {
        buf_add(&o->msg, update ? "<update>" : "<delete>");
        o->block = block;
    }
    buf_add(&o->msg, xml);
    if (update) {
        o->agent->updates++;
    } else {
        o->agent->deletes++;
    }
    if (++o->n_objs == CTL_AGENT_CONFIG_OBJECTS_PER_MESSAGE) {
        out_flush(o);
    }
}

/* Records KEY as sent with update XML (hash HASH), creating the entry with DEL_XML (taken)
 * when new.  Returns whether the update must be sent. */
static bool
note_sent(struct agent *a, char *key, uint64_t hash, bool is_link, char *(*del)(void *),
          void *del_aux)
{
    uint32_t h = hash_string(key, 0);
    struct sent_item *s = sent_find(a, key, h);
    if (s) {
        mem_free(&mem_type_ctl_agent_sent, key);
        s->seen = true;
        if (s->xml_hash == hash) {
            return false;
        }
        s->xml_hash = hash;
        return true;
    }
    s = mem_zalloc(&mem_type_ctl_agent_sent, sizeof *s);
    s->key = key;
    s->xml_hash = hash;
    s->del_xml = del(del_aux);
    s->is_link = is_link;
    s->seen = true;
    hmap_insert(&a->sent, &s->node, h);
    if (is_link) {
        a->n_links++;
    } else {
        a->n_nodes++;
    }
    return true;
}

static char *
del_node(void *aux)
{
    return node_delete(aux);
}

struct link_del {
    const struct schema_link *l;
    const struct cfg_obj *a, *z;
};

static char *
del_link(void *aux)
{
    const struct link_del *d = aux;
    return render_link(d->l, d->a, d->z, NULL, false, &mem_type_ctl_agent_sent);
}

/* Marks the link from A to Z (schema link L, attribute ATTR; OWNER is the end whose change
 * reports it) as wanted, and queues its update in LINKS when new or changed. */
static void
want_link(struct ctl_agent_config *ac, struct agent *ag, const struct schema_link *l,
          const struct cfg_obj *a, const struct cfg_obj *z, const json_t *attr,
          const struct cfg_obj *owner, struct buf *links, size_t *n_links)
{
    char *key = link_key(l, a, z);
    struct sent_item *s = sent_find(ag, key, hash_string(key, 0));
    if (s && !is_changed(ac, owner)) {
        s->seen = true;
        mem_free(&mem_type_ctl_agent_sent, key);
        return;
    }
    char *xml = render_link(l, a, z, attr, true, &mem_type_ctl_agent);
    struct link_del d = { l, a, z };
    if (note_sent(ag, key, fnv64(xml), true, del_link, &d)) {
        /* Kept NUL-separated until sent. */
        buf_addn(links, xml, strlen(xml) + 1);
        (*n_links)++;
    }
    mem_free(&mem_type_ctl_agent, xml);
}

static void
send_agent(struct ctl_agent_config *ac, struct agent *ag)
{
    struct walk w;
    walk_agent(ac, ag, &w);

    struct sent_item *s;
    HMAP_FOR_EACH (s, node, &ag->sent) {
        s->seen = false;
    }
    struct out out = { .ac = ac, .agent = ag };

    /* Nodes. */
    for (size_t i = 0; i < w.n; i++) {
        const struct cfg_obj *o = w.queue[i];
        char *key = node_key(o);
        s = sent_find(ag, key, hash_string(key, 0));
        if (s && !is_changed(ac, o)) {
            s->seen = true;
            mem_free(&mem_type_ctl_agent_sent, key);
            continue;
        }
        const struct rendered *r = node_rendered(ac, o);
        if (note_sent(ag, key, r->hash, false, del_node, (void *) o)) {
            out_add(&out, true, r->xml);
        }
    }

    /* Links between sent nodes: parent links and references, from their owner. */
    struct buf links = { 0 };
    size_t n_links = 0;
    for (size_t i = 0; i < w.n; i++) {
        const struct cfg_obj *o = w.queue[i];
        if (o->parent && walk_has(&w, o->parent)) {
            const struct schema_link *l = schema_ident_parent(o->ident, o->parent->ident);
            if (l) {
                want_link(ac, ag, l, o->parent, o, NULL, o, &links, &n_links);
            }
        }
        const struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &o->refs) {
            if (!walk_has(&w, r->to)) {
                continue;
            }
            const struct schema_link *l = schema_ident_ref_to(o->ident, r->to->ident);
            if (l) {
                want_link(ac, ag, l, o, r->to, r->attr, o, &links, &n_links);
            }
        }
    }
    const char *p = links.s;
    for (size_t i = 0; i < n_links; i++) {
        out_add(&out, true, p);
        p += strlen(p) + 1;
    }
    buf_free(&links);

    /* What left: links first, then nodes. */
    for (int pass = 0; pass < 2; pass++) {
        HMAP_FOR_EACH_SAFE (s, node, &ag->sent) {
            if (s->seen || s->is_link != (pass == 0)) {
                continue;
            }
            out_add(&out, false, s->del_xml);
            hmap_remove(&ag->sent, &s->node);
            if (s->is_link) {
                ag->n_links--;
            } else {
                ag->n_nodes--;
            }
            sent_free(s);
        }
    }
    out_flush(&out);
    buf_free(&out.msg);
    walk_free(&w);
    ag->dirty = false;
}

/* Marks the agents that hold O, or whose virtual-router or subscribed VM it is. */
static void
mark_agents(struct ctl_agent_config *ac, const struct cfg_obj *o)
{
    char *key = node_key(o);
    uint32_t h = hash_string(key, 0);
    struct agent *a;
    HMAP_FOR_EACH (a, node, &ac->agents) {
        if (a->dirty) {
            continue;
        }
        if (sent_find(a, key, h)
            || (o->ident == ac->vr_id && !strcmp(o->fq_str, a->vr_name))
            || (o->ident == ac->vm_id && o->uuid[0] && vm_find(a, o->uuid))) {
            a->dirty = true;
        }
    }
    mem_free(&mem_type_ctl_agent_sent, key);
}

void
ctl_agent_config_flush(struct ctl_agent_config *ac)
{
    if (!ac->synced) {
        return;
    }
    struct agent *a;
    if (ac->all_dirty) {
        HMAP_FOR_EACH (a, node, &ac->agents) {
            a->dirty = true;
        }
    } else {
        struct cfg_obj_set_node *n;
        CFG_OBJ_SET_FOR_EACH (n, &ac->changed) {
            mark_agents(ac, n->obj);
        }
        CFG_OBJ_SET_FOR_EACH (n, &ac->touched) {
            mark_agents(ac, n->obj);
        }
    }
    HMAP_FOR_EACH (a, node, &ac->agents) {
        if (a->dirty) {
            send_agent(ac, a);
        }
    }
    cache_clear(ac);
    cfg_obj_set_clear(&ac->changed, ac->graph);
    cfg_obj_set_clear(&ac->touched, ac->graph);
    ac->all_dirty = false;
}

void
ctl_agent_config_reset(struct ctl_agent_config *ac)
{
    ac->synced = false;
    ac->all_dirty = true;
    cfg_obj_set_clear(&ac->changed, ac->graph);
    cfg_obj_set_clear(&ac->touched, ac->graph);
}

void
ctl_agent_config_synced(struct ctl_agent_config *ac)
{
    ac->synced = true;
    ac->all_dirty = true;
    ctl_agent_config_flush(ac);
}

json_t *
ctl_agent_config_to_json(const struct ctl_agent_config *ac)
{
    json_t *agents = json_object();
    const struct agent *a;
    HMAP_FOR_EACH (a, node, &ac->agents) {
        json_t *vms = json_array();
        const struct vm_sub *v;
        HMAP_FOR_EACH (v, node, &a->vms) {
            json_array_append_new(vms, json_string(v->uuid));
        }
        json_object_set_new(agents, a->name,
                            xjson_pack("{sssosIsIsIsIsI}", "virtual_router", a->vr_name,
                                       "virtual_machines", vms,
                                       "nodes", (json_int_t) a->n_nodes,
                                       "links", (json_int_t) a->n_links,
                                       "messages", (json_int_t) a->messages,
                                       "updates", (json_int_t) a->updates,
                                       "deletes", (json_int_t) a->deletes));
    }
    return xjson_pack("{so}", "agents", agents);
}

bool
ctl_agent_config_sent(const struct ctl_agent_config *ac, const char *agent, size_t *n_nodes,
                      size_t *n_links)
{
    const struct agent *a = agent_find(ac, agent);
    if (!a) {
        return false;
    }
    *n_nodes = a->n_nodes;
    *n_links = a->n_links;
    return true;
}
