/* contrail-vrouter: the forwarding plane of a compute node (userspace engine).
 *
 * Wiring only: configuration (table sizes as the original's module parameters), the object
 * model, the userspace engine, the control socket and the introspect pages. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "introspect.h"
#include "log.h"
#include "vr_ctl.h"
#include "vr_introspect.h"
#include "vr_model.h"
#include "vr_uengine.h"

LOG_MODULE(vrouter_main);

static const struct conf_option options[] = {
    { "DEFAULTS", "ctl_socket", CONF_STRING, VR_DEFAULT_CTL_SOCKET,
      "control socket (unix stream) for the agent and the tools" },
    { "DEFAULTS", "pkt_socket", CONF_STRING, VR_DEFAULT_PKT_SOCKET,
      "packet channel socket the vRouter binds (unix datagram)" },
    { "DEFAULTS", "agent_pkt_socket", CONF_STRING, VR_DEFAULT_AGENT_SOCKET,
      "the agent's packet channel socket, where traps go" },
    { "DEFAULTS", "vr_interfaces", CONF_INT, "4355", "interface table size" },
    { "DEFAULTS", "vr_vrfs", CONF_INT, "4096", "VRF table size" },
    { "DEFAULTS", "vr_nexthops", CONF_INT, "524288", "next-hop table size" },
    { "DEFAULTS", "vr_mpls_labels", CONF_INT, "5120", "MPLS label table size" },
    { "DEFAULTS", "vr_bridge_entries", CONF_INT, "262144", "bridge table size" },
    { "DEFAULTS", "vr_flow_entries", CONF_INT, "524288", "flow table size" },
    { "DEFAULTS", "vr_oflow_entries", CONF_INT, "105472", "flow overflow entries" },
    { "DEFAULTS", "vr_mirror_entries", CONF_INT, "255", "mirror table size" },
    { "DEFAULTS", "flow_hold_limit", CONF_INT, "8192", "flows in HOLD at once" },
    { "DEFAULTS", "flow_aging_ms", CONF_INT, "180000", "idle time before a flow is removed" },
    DAEMON_COMMON_OPTIONS("8096"),
    { NULL, NULL, 0, NULL, NULL },
};

static void
make_parent_dir(const char *path)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
}

static void
after_request(void *aux)
{
    vr_uengine_flush(aux);
}

int
main(int argc, char **argv)
{
    struct daemon d;
    int rc;
    if (!daemon_start(&d, "contrail-vrouter", options, argc, argv, &rc)) {
        daemon_finish(&d);
        return rc;
    }
    struct vr_limits limits = {
        .interfaces = (uint32_t) conf_get_int(d.conf, "vr_interfaces"),
        .vrfs = (uint32_t) conf_get_int(d.conf, "vr_vrfs"),
        .nexthops = (uint32_t) conf_get_int(d.conf, "vr_nexthops"),
        .mpls_labels = (uint32_t) conf_get_int(d.conf, "vr_mpls_labels"),
        .bridge_entries = (uint32_t) conf_get_int(d.conf, "vr_bridge_entries"),
        .flow_entries = (uint32_t) conf_get_int(d.conf, "vr_flow_entries"),
        .oflow_entries = (uint32_t) conf_get_int(d.conf, "vr_oflow_entries"),
        .mirror_entries = (uint32_t) conf_get_int(d.conf, "vr_mirror_entries"),
    };
    char err[512];
    const char *ctl_path = conf_get(d.conf, "ctl_socket");
    const char *pkt_path = conf_get(d.conf, "pkt_socket");
    make_parent_dir(ctl_path);
    make_parent_dir(pkt_path);
    struct vr_uengine *eng = NULL;
    struct vr_ctl *ctl = NULL;
    struct vrouter *vr = NULL;
    rc = 1;
    if (vr_uengine_create(d.base, pkt_path, conf_get(d.conf, "agent_pkt_socket"), &eng, err,
                          sizeof err)) {
        fprintf(stderr, "contrail-vrouter: %s\n", err);
        goto out;
    }
    vr = vr_model_create(&limits, &vr_uengine_class, eng);
    vr->flows.hold_limit = (uint32_t) conf_get_int(d.conf, "flow_hold_limit");
    vr->flows.aging_ms = (uint32_t) conf_get_int(d.conf, "flow_aging_ms");
    vr_uengine_attach(eng, vr);
    if (vr_ctl_create(d.base, vr, ctl_path, after_request, eng, &ctl, err, sizeof err)) {
        fprintf(stderr, "contrail-vrouter: %s\n", err);
        goto out;
    }
    vr_introspect_register(d.introspect, vr, vr_uengine_dp(eng));
    vr_uengine_register_introspect(eng, d.introspect);
    LOG_NOTICE("contrail-vrouter ready: control %s, packets %s", ctl_path, pkt_path);
    daemon_run(&d);
    rc = 0;
out:
    vr_ctl_destroy(ctl);
    vr_model_destroy(vr);
    vr_uengine_destroy(eng);
    daemon_finish(&d);
    return rc;
}
