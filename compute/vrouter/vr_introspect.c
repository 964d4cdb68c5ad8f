/* vr_introspect: state pages of the vRouter (see vr_introspect.h). */
#include "vr_introspect.h"

#include <stdio.h>
#include <string.h>

#include "introspect.h"
#include "mem.h"
#include "vr_dp.h"
#include "vr_model.h"

struct pages {
    struct vrouter *vr;
    struct vr_dp *dp;
};

static json_t *
page_vrouter(struct http_req *req, void *aux)
{
    struct pages *p = aux;
    struct vrouter *vr = p->vr;
    const struct vr_dp_stats *s = &p->dp->stats;
    uint64_t drops = 0;
    for (int i = 0; i < VP_DROP_MAX; i++) {
        drops += vr->drops[i];
    }
    return xjson_pack(
        "{s:s, s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:I, s:I}, s:I, s:I, s:I}",
        "engine", vr->engine_class ? vr->engine_class->name : "none",
        "protocol_version", VR_PROTO_VERSION,
        "limits",
        "interfaces", (json_int_t) vr->limits.interfaces,
        "vrfs", (json_int_t) vr->limits.vrfs,
        "nexthops", (json_int_t) vr->limits.nexthops,
        "mpls_labels", (json_int_t) vr->limits.mpls_labels,
        "bridge_entries", (json_int_t) vr->limits.bridge_entries,
        "flow_entries", (json_int_t) vr->flows.n_main,
        "oflow_entries", (json_int_t) vr->flows.n_oflow,
        "mirror_entries", (json_int_t) vr->limits.mirror_entries,
        "flows",
        "used", (json_int_t) vr->flows.used,
        "hold", (json_int_t) vr->flows.hold,
        "created", (json_int_t) vr->flows.created,
        "added", (json_int_t) vr->flows.added,
        "deleted", (json_int_t) vr->flows.deleted,
        "processed", (json_int_t) vr->flows.processed,
        "packets",
        "vif_rx", (json_int_t) s->vif_rx, "vif_tx", (json_int_t) s->vif_tx,
        "fabric_rx", (json_int_t) s->fabric_rx, "fabric_tx", (json_int_t) s->fabric_tx,
        "agent_rx", (json_int_t) s->agent_rx, "agent_tx", (json_int_t) s->agent_tx,
        "arp_proxied", (json_int_t) s->arp_proxied, "nd_proxied", (json_int_t) s->nd_proxied,
        "icmp_errors", (json_int_t) s->icmp_errors, "flow_misses", (json_int_t) s->flow_misses,
        "held_released", (json_int_t) s->held_released, "drops", (json_int_t) drops,
        "routes", (json_int_t) vr->routes_used,
        "bridge_entries", (json_int_t) vr->bridge_used,
        "control_requests", (json_int_t) vr->requests);
}

static json_t *
page_interfaces(struct http_req *req, void *aux)
{
    struct pages *p = aux;
    json_t *list = json_array();
    for (uint32_t i = 0; i < p->vr->limits.interfaces; i++) {
        const struct vr_vif *v = p->vr->vifs[i];
        if (!v) {
            continue;
        }
        char ip[64], mac[18];
        json_array_append_new(list, xjson_pack(
            "{s:i, s:s, s:i, s:i, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I}",
            "idx", (int) i, "name", v->cfg.name, "type", v->cfg.type, "vrf", (int) v->cfg.vrf,
            "mac", vr_mac_format(v->cfg.mac, mac), "ip", vr_ip_format(&v->cfg.ip, ip, sizeof ip),
            "flags", (int) v->cfg.flags, "rx_packets", (json_int_t) v->cfg.ipackets,
            "rx_bytes", (json_int_t) v->cfg.ibytes, "tx_packets", (json_int_t) v->cfg.opackets,
            "tx_bytes", (json_int_t) v->cfg.obytes, "drops", (json_int_t) v->cfg.drops));
    }
    return xjson_pack("{s:o}", "interfaces", list);
}

static json_t *
page_dropstats(struct http_req *req, void *aux)
{
    struct pages *p = aux;
    json_t *o = json_object();
    for (unsigned int i = 0; i < VP_DROP_MAX; i++) {
        json_object_set_new(o, vr_drop_name(i), json_integer((json_int_t) p->vr->drops[i]));
    }
    return o;
}

static json_t *
page_flows(struct http_req *req, void *aux)
{
    struct pages *p = aux;
    struct vr_flow_table *t = &p->vr->flows;
    json_t *list = json_array();
    size_t shown = 0;
    for (uint32_t i = 0; i < t->n_main + t->n_oflow && shown < 1000; i++) {
        const struct vr_flow_entry *e = &t->entries[i];
        if (!e->in_use) {
            continue;
        }
        struct vr_ip s = { .family = e->key.family }, d = { .family = e->key.family };
        memcpy(s.a, e->key.sip, 16);
        memcpy(d.a, e->key.dip, 16);
        char sb[64], db[64];
        json_array_append_new(list, xjson_pack(
            "{s:i, s:s, s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:I}",
            "index", (int) i, "sip", vr_ip_format(&s, sb, sizeof sb), "sport", e->key.sport,
            "dip", vr_ip_format(&d, db, sizeof db), "dport", e->key.dport,
            "proto", e->key.proto, "nh", (int) e->key.nh_id, "action", e->action,
            "rindex", (int) e->rindex, "packets", (json_int_t) e->packets,
            "bytes", (json_int_t) e->bytes));
        shown++;
    }
    return xjson_pack("{s:I, s:o}", "used", (json_int_t) t->used, "flows", list);
}

void
vr_introspect_register(struct introspect *is, struct vrouter *vr, struct vr_dp *dp)
{
    static struct pages p;
    p.vr = vr;
    p.dp = dp;
    introspect_add_page(is, "/vrouter", "limits, counters, flow table", page_vrouter, &p);
    introspect_add_page(is, "/interfaces", "interfaces and their counters", page_interfaces,
                        &p);
    introspect_add_page(is, "/dropstats", "drop counters by reason", page_dropstats, &p);
    introspect_add_page(is, "/flows", "flow entries (first 1000)", page_flows, &p);
    introspect_add_counter(is, "vrouter_vif_rx_packets", "frames from VM ports",
                           &dp->stats.vif_rx);
    introspect_add_counter(is, "vrouter_vif_tx_packets", "frames to VM ports",
                           &dp->stats.vif_tx);
    introspect_add_counter(is, "vrouter_fabric_rx_packets", "tunnel packets received",
                           &dp->stats.fabric_rx);
    introspect_add_counter(is, "vrouter_fabric_tx_packets", "tunnel packets sent",
                           &dp->stats.fabric_tx);
    introspect_add_counter(is, "vrouter_flow_misses", "flow misses trapped",
                           &dp->stats.flow_misses);
    static char names[VP_DROP_MAX][64];
    for (unsigned int i = 0; i < VP_DROP_MAX; i++) {
        snprintf(names[i], sizeof names[i], "vrouter_drop_%s", vr_drop_name(i));
        introspect_add_counter(is, names[i], vr_drop_text(i), &vr->drops[i]);
    }
}
