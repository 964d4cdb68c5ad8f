/* api_ifmap: the IF-MAP publisher of the API server (see api_ifmap.h). */
#include "api_ifmap.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "api_server.h"
#include "hmap.h"
#include "ifmap_client.h"
#include "log.h"
#include "mem.h"
#include "vnc_ifmap.h"

LOG_MODULE(api_ifmap);

static MEM_TYPE(mem_type_pub, "api_ifmap");

/* Items per publish request. */
#define BATCH_ITEMS 2000

/* Seconds between renewSession while idle (the server expires sessions after 180 s). */
#define RENEW_INTERVAL_S 60

/* What was published for one object. */
struct pub_item {
    char *id1, *id2;            /* id2 may be NULL. */
    char *meta_name;
    uint64_t hash;              /* Of the metadata XML. */
};

struct pub_obj {
    struct hmap_node node;
    char uuid[UUID_LEN + 1];
    struct pub_item *items;
    size_t n;
};

/* A uuid waiting to be published. */
struct pub_dirty {
    struct hmap_node node;
    char uuid[UUID_LEN + 1];
};

struct api_ifmap {
    struct api_server *srv;
    struct ifmap_client *client;
    struct event *renew_ev;
    struct event *retry_ev;         /* After a failed barrier. */
    struct event *kick_ev;
    bool session_up;
    struct hmap shadow;         /* pub_obj by uuid. */
    struct hmap dirty;          /* Named, not yet behind a barrier. */
    struct hmap ready;          /* Behind a barrier: may be rendered. */
    bool resync_dirty;          /* Everything is named. */
    bool resync_ready;
    bool barrier_busy;
    bool publish_busy;
    uint64_t n_publishes, n_updates, n_deletes, n_errors, n_sessions, n_resyncs;
    uint64_t n_render_errors;
};

static uint64_t
hash64(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    }
    return h;
}

static struct pub_obj *
shadow_find(const struct api_ifmap *p, const char *uuid)
{
    struct pub_obj *po;
    HMAP_FOR_EACH_WITH_HASH (po, node, hash_string(uuid, 0), &p->shadow) {
        if (!strcmp(po->uuid, uuid)) {
            return po;
        }
    }
    return NULL;
}

static void
pub_obj_clear_items(struct pub_obj *po)
{
    for (size_t i = 0; i < po->n; i++) {
        xfree(po->items[i].id1);
        xfree(po->items[i].id2);
        xfree(po->items[i].meta_name);
    }
    mem_free(&mem_type_pub, po->items);
    po->items = NULL;
    po->n = 0;
}

static void
shadow_clear(struct api_ifmap *p)
{
    struct pub_obj *po;
    HMAP_FOR_EACH_SAFE (po, node, &p->shadow) {
        hmap_remove(&p->shadow, &po->node);
        pub_obj_clear_items(po);
        mem_free(&mem_type_pub, po);
    }
}

static bool
set_has(const struct hmap *set, const char *uuid)
{
    struct pub_dirty *d;
    HMAP_FOR_EACH_WITH_HASH (d, node, hash_string(uuid, 0), set) {
        if (!strcmp(d->uuid, uuid)) {
            return true;
        }
    }
    return false;
}

static void
set_add(struct hmap *set, const char *uuid)
{
    if (!set_has(set, uuid)) {
        struct pub_dirty *d = mem_zalloc(&mem_type_pub, sizeof *d);
        snprintf(d->uuid, sizeof d->uuid, "%s", uuid);
        hmap_insert(set, &d->node, hash_string(d->uuid, 0));
    }
}

static void
set_clear(struct hmap *set)
{
    struct pub_dirty *d;
    HMAP_FOR_EACH_SAFE (d, node, set) {
        hmap_remove(set, &d->node);
        mem_free(&mem_type_pub, d);
    }
}

/* Moves every element of FROM into TO. */
static void
set_move(struct hmap *to, struct hmap *from)
{
    struct pub_dirty *d;
    HMAP_FOR_EACH_SAFE (d, node, from) {
        hmap_remove(from, &d->node);
        if (set_has(to, d->uuid)) {
            mem_free(&mem_type_pub, d);
        } else {
            hmap_insert(to, &d->node, hash_string(d->uuid, 0));
        }
    }
}

/* Renders O's items into OUT. */
static int
render(struct api_ifmap *p, struct api_obj *o, struct vnc_ifmap_items *out)
{
    size_t n_refs = 0;
    struct api_ref *r;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        n_refs++;
    }
    struct vnc_ifmap_ref *refs = mem_zalloc(&mem_type_pub, (n_refs ? n_refs : 1) * sizeof *refs);
    size_t i = 0;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        refs[i].link = r->link;
        refs[i].to_fq_name = r->to->fq_name;
        refs[i].attr = r->attr;
        i++;
    }
    char err[512];
    int error = vnc_ifmap_render(o->ident, o->fq_name, o->props,
                                 o->parent ? o->parent->ident : NULL,
                                 o->parent ? o->parent->fq_name : NULL, refs, n_refs, out,
                                 err, sizeof err);
    mem_free(&mem_type_pub, refs);
    if (error) {
        p->n_render_errors++;
        LOG_WARN("%s %s: cannot render for IF-MAP: %s", o->ident->name, o->uuid, err);
    }
    return error;
}

static bool
same_item(const struct pub_item *a, const struct vnc_ifmap_item *b)
{
    return !strcmp(a->meta_name, b->meta_name) && !strcmp(a->id1, b->id1)
           && ((!a->id2 && !b->id2) || (a->id2 && b->id2 && !strcmp(a->id2, b->id2)));
}

/* IF-MAP has one link for a pair of identifiers: references A -> B and B -> A of the same
 * kind (routing-instance connections) are one item.  When O drops its reference, the item
 * stays while the other side still holds its own. */
static bool
reverse_ref_holds(struct api_ifmap *p, struct api_obj *o, const struct pub_item *it)
{
    if (!o || !it->id2) {
        return false;
    }
    const struct schema_ident *ident;
    json_t *fq;
    char err[200];
    if (vnc_ifmap_parse_ident(p->srv->schema, it->id2, &ident, &fq, err, sizeof err)) {
        return false;
    }
    struct api_obj *other = api_store_get_fq_json(&p->srv->store, ident, fq);
    json_decref(fq);
    struct api_ref *r = other ? api_ref_find(other, o) : NULL;
    const char *name = strchr(it->meta_name, ':');
    return r && name && !strcmp(r->link->name, name + 1);
}

/* Brings UUID's published items up to date: appends to UPDATES and DELETES. */
static void
diff_one(struct api_ifmap *p, const char *uuid, struct vnc_ifmap_items *updates,
         struct vnc_ifmap_items *deletes)
{
    struct api_obj *o = api_store_get(&p->srv->store, uuid);
    struct pub_obj *po = shadow_find(p, uuid);
    struct vnc_ifmap_items now;
    vnc_ifmap_items_init(&now);
    if (o && render(p, o, &now)) {
        vnc_ifmap_items_clear(&now);
        return;                 /* Keep what was published. */
    }
    bool *kept = mem_zalloc(&mem_type_pub, (po && po->n ? po->n : 1) * sizeof *kept);
    for (size_t i = 0; i < now.n; i++) {
        struct vnc_ifmap_item *it = &now.items[i];
        uint64_t h = hash64(it->meta_xml);
        bool same = false;
        for (size_t j = 0; po && j < po->n; j++) {
            if (same_item(&po->items[j], it)) {
                kept[j] = true;
                same = po->items[j].hash == h;
                break;
            }
        }
        if (!same) {
            vnc_ifmap_items_add(updates, it->id1, it->id2, it->meta_name, it->meta_xml);
        }
    }
    for (size_t j = 0; po && j < po->n; j++) {
        if (!kept[j] && !reverse_ref_holds(p, o, &po->items[j])) {
            vnc_ifmap_items_add(deletes, po->items[j].id1, po->items[j].id2,
                                po->items[j].meta_name, "");
        }
    }
    mem_free(&mem_type_pub, kept);
    /* Remember the new state (a failed publish resets the session and the whole shadow). */
    if (!po && now.n) {
        po = mem_zalloc(&mem_type_pub, sizeof *po);
        snprintf(po->uuid, sizeof po->uuid, "%s", uuid);
        hmap_insert(&p->shadow, &po->node, hash_string(po->uuid, 0));
    }
    if (po) {
        pub_obj_clear_items(po);
        if (!now.n) {
            hmap_remove(&p->shadow, &po->node);
            mem_free(&mem_type_pub, po);
        } else {
            po->items = mem_zalloc(&mem_type_pub, now.n * sizeof *po->items);
            po->n = now.n;
            for (size_t i = 0; i < now.n; i++) {
                struct vnc_ifmap_item *it = &now.items[i];
                po->items[i].id1 = mem_strdup(&mem_type_string, it->id1);
                po->items[i].id2 = it->id2 ? mem_strdup(&mem_type_string, it->id2) : NULL;
                po->items[i].meta_name = mem_strdup(&mem_type_string, it->meta_name);
                po->items[i].hash = hash64(it->meta_xml);
            }
        }
    }
    vnc_ifmap_items_clear(&now);
}

static void kick(struct api_ifmap *);

static void
publish_done(void *aux, const struct ifmap_client_reply *reply)
{
    struct api_ifmap *p = aux;
    p->publish_busy = false;
    if (reply->error == ECANCELED) {
        return;                 /* Being destroyed. */
    }
    if (reply->error) {
        p->n_errors++;
        LOG_WARN("IF-MAP publish failed: %s%s%s; republishing everything on the next session",
                 reply->error_code ? reply->error_code : strerror(reply->error),
                 reply->message ? ": " : "", reply->message ? reply->message : "");
        /* The client opens a new session, whose callback republishes everything. */
        p->session_up = false;
        shadow_clear(p);
        p->resync_dirty = true;
    } else {
        p->n_publishes++;
    }
    kick(p);
}

/* Publishes a batch of the uuids that are ready. */
static void
publish_some(struct api_ifmap *p)
{
    if (p->resync_ready) {
        /* Every object, and every uuid published that is no longer an object. */
        p->resync_ready = false;
        p->n_resyncs++;
        struct api_store *s = &p->srv->store;
        for (size_t t = 0; t < s->schema->n_idents; t++) {
            struct api_obj *o;
            API_TYPE_FOR_EACH (o, &s->types[t]) {
                set_add(&p->ready, o->uuid);
            }
        }
        struct pub_obj *po;
        HMAP_FOR_EACH (po, node, &p->shadow) {
            set_add(&p->ready, po->uuid);
        }
    }
    struct vnc_ifmap_items updates, deletes;
    vnc_ifmap_items_init(&updates);
    vnc_ifmap_items_init(&deletes);
    struct pub_dirty *d;
    HMAP_FOR_EACH_SAFE (d, node, &p->ready) {
        if (updates.n + deletes.n >= BATCH_ITEMS) {
            break;
        }
        hmap_remove(&p->ready, &d->node);
        diff_one(p, d->uuid, &updates, &deletes);
        mem_free(&mem_type_pub, d);
    }
    if (!updates.n && !deletes.n) {
        vnc_ifmap_items_clear(&updates);
        vnc_ifmap_items_clear(&deletes);
        return;
    }
    p->n_updates += updates.n;
    p->n_deletes += deletes.n;
    char *body = vnc_ifmap_publish_body(NULL, &updates, &deletes);
    vnc_ifmap_items_clear(&updates);
    vnc_ifmap_items_clear(&deletes);
    p->publish_busy = true;
    int error = ifmap_client_publish(p->client, body, publish_done, p);
    xfree(body);
    if (error) {
        /* No session: the next one republishes everything. */
        p->publish_busy = false;
        p->session_up = false;
        p->n_errors++;
        shadow_clear(p);
        p->resync_dirty = true;
    }
}

static void
barrier_done(void *aux, int error, uint64_t rev)
{
    struct api_ifmap *p = aux;
    p->barrier_busy = false;
    if (error) {
        LOG_WARN("config database barrier failed (%s): retrying in 1 s", strerror(error));
        /* What was behind it goes back to waiting. */
        set_move(&p->dirty, &p->ready);
        p->resync_dirty |= p->resync_ready;
        p->resync_ready = false;
        p->barrier_busy = true;         /* Until the retry. */
        struct timeval tv = { 1, 0 };
        event_add(p->retry_ev, &tv);
        return;
    }
    kick(p);
}

static void
retry_cb(evutil_socket_t fd, short what, void *aux)
{
    struct api_ifmap *p = aux;
    p->barrier_busy = false;
    kick(p);
}

static void
kick(struct api_ifmap *p)
{
    struct api_store *s = &p->srv->store;
    if (!p->session_up || p->publish_busy || p->barrier_busy) {
        return;
    }
    if (hmap_count(&p->ready) || p->resync_ready) {
        if (s->in_flight || s->group) {
            return;             /* api_ifmap_idle() comes back. */
        }
        api_store_flush(s);
        publish_some(p);
        if (p->publish_busy) {
            return;
        }
    }
    if (hmap_count(&p->dirty) || p->resync_dirty) {
        set_move(&p->ready, &p->dirty);
        p->resync_ready |= p->resync_dirty;
        p->resync_dirty = false;
        if (s->shared) {
            p->barrier_busy = true;
            cfgdb_barrier(s->db, barrier_done, p);
        } else {
            publish_some(p);
        }
    }
}

void
api_ifmap_changed(struct api_ifmap *p, const char *uuid)
{
    if (!uuid || !uuid_is_valid(uuid)) {
        return;
    }
    set_add(&p->dirty, uuid);
    /* From the loop, not from inside the caller (which may be applying store changes). */
    event_active(p->kick_ev, 0, 0);
}

static void
kick_cb(evutil_socket_t fd, short what, void *aux)
{
    kick(aux);
}

void
api_ifmap_resync(struct api_ifmap *p)
{
    p->resync_dirty = true;
    kick(p);
}

void
api_ifmap_idle(struct api_ifmap *p)
{
    kick(p);
}

bool
api_ifmap_synced(const struct api_ifmap *p)
{
    return p->session_up && !p->publish_busy && !p->barrier_busy && !hmap_count(&p->dirty)
           && !hmap_count(&p->ready) && !p->resync_dirty && !p->resync_ready;
}

static void
on_session(void *aux, const char *session_id)
{
    struct api_ifmap *p = aux;
    /* A new session: the server may have lost its graph.  Publish everything. */
    p->session_up = true;
    p->n_sessions++;
    LOG_NOTICE("IF-MAP session %s: publishing the whole config graph", session_id);
    shadow_clear(p);
    p->resync_dirty = true;
    kick(p);
}

static void
renew_done(void *aux, const struct ifmap_client_reply *reply)
{
    if (reply->error && reply->error != ECANCELED) {
        LOG_WARN("IF-MAP renewSession failed: %s",
                 reply->error_code ? reply->error_code : strerror(reply->error));
    }
}

/* Keeps the session alive while nothing is published. */
static void
renew_cb(evutil_socket_t fd, short what, void *aux)
{
    struct api_ifmap *p = aux;
    if (p->session_up && !p->publish_busy) {
        ifmap_client_renew(p->client, renew_done, p);
    }
}

struct api_ifmap *
api_ifmap_create(struct api_server *srv, const struct api_ifmap_config *cfg)
{
    struct api_ifmap *p = mem_zalloc(&mem_type_pub, sizeof *p);
    p->srv = srv;
    hmap_init(&p->shadow);
    hmap_init(&p->dirty);
    hmap_init(&p->ready);
    char err[256];
    p->client = ifmap_client_create(srv->base, cfg->host, cfg->port, cfg->user, cfg->password,
                                    cfg->tls, false, err, sizeof err);
    if (!p->client) {
        LOG_ERR("IF-MAP client: %s", err);
        api_ifmap_destroy(p);
        return NULL;
    }
    ifmap_client_set_callbacks(p->client, on_session, NULL, p);
    ifmap_client_start(p->client);
    p->retry_ev = event_new(srv->base, -1, 0, retry_cb, p);
    p->kick_ev = event_new(srv->base, -1, 0, kick_cb, p);
    p->renew_ev = event_new(srv->base, -1, EV_PERSIST, renew_cb, p);
    struct timeval tv = { RENEW_INTERVAL_S, 0 };
    event_add(p->renew_ev, &tv);
    return p;
}

void
api_ifmap_destroy(struct api_ifmap *p)
{
    if (!p) {
        return;
    }
    if (p->renew_ev) {
        event_free(p->renew_ev);
    }
    if (p->retry_ev) {
        event_free(p->retry_ev);
    }
    if (p->kick_ev) {
        event_free(p->kick_ev);
    }
    ifmap_client_destroy(p->client);
    shadow_clear(p);
    set_clear(&p->dirty);
    set_clear(&p->ready);
    hmap_destroy(&p->shadow);
    hmap_destroy(&p->dirty);
    hmap_destroy(&p->ready);
    mem_free(&mem_type_pub, p);
}

json_t *
api_ifmap_status(const struct api_ifmap *p)
{
    return xjson_pack("{sbsbsIsIsIsIsIsIsIsIsI}", "session_up", p->session_up, "synced",
                      api_ifmap_synced(p), "published_objects",
                      (json_int_t) hmap_count(&p->shadow), "waiting",
                      (json_int_t) (hmap_count(&p->dirty) + hmap_count(&p->ready)),
                      "publishes", (json_int_t) p->n_publishes, "updates",
                      (json_int_t) p->n_updates, "deletes", (json_int_t) p->n_deletes,
                      "errors", (json_int_t) p->n_errors, "sessions",
                      (json_int_t) p->n_sessions, "resyncs", (json_int_t) p->n_resyncs,
                      "render_errors", (json_int_t) p->n_render_errors);
}
