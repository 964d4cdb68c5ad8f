/* vrouter: `vrouter --info` (build info, startup limits, runtime parameters) and the runtime
 * knobs (--set-log-level, --flow-hold-limit, --flow-aging-ms), and --reset of every table. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vr_client.h"

static const char *prog = "vrouter";

static void
print_info(const void *obj, void *aux)
{
    const struct vr_info_req *i = obj;
    printf("vRouter module version: %s\n", i->build_info);
    printf("Engine: %s, control protocol version %u\n\n", i->engine, i->proto_version);
    printf("Startup parameters\n");
    printf("    Interfaces limit                     %u\n", i->interfaces);
    printf("    VRF tables limit                     %u\n", i->vrfs);
    printf("    NextHops limit                       %u\n", i->nexthops);
    printf("    MPLS Labels limit                    %u\n", i->mpls_labels);
    printf("    Bridge Table limit                   %u\n", i->bridge_entries);
    printf("    Flow Table limit                     %u\n", i->flow_entries);
    printf("    Flow Table overflow limit            %u\n", i->oflow_entries);
    printf("    Mirror entries limit                 %u\n\n", i->mirror_entries);
    printf("Runtime parameters\n");
    printf("  Performance tweaks\n");
    printf("    GRO                                  0\n");
    printf("    Segmentation in software             0\n");
    printf("  Flow setup tweaks\n");
    printf("    Flow hold limit                      %u\n", i->flow_hold_limit);
    printf("    Flow aging (ms)                      %u\n", i->flow_aging_ms);
    printf("  Usage\n");
    printf("    Used Flow entries                    %llu\n", (unsigned long long) i->flows_used);
    printf("    Used Over Flow entries               %llu\n",
           (unsigned long long) i->flows_oflow_used);
    printf("    Flows in hold                        %llu\n", (unsigned long long) i->flows_hold);
    printf("    Used Bridge entries                  %llu\n", (unsigned long long) i->bridge_used);
    printf("    Used Routes                          %llu\n", (unsigned long long) i->routes_used);
    printf("  Log level                              %s\n", i->log_level);
    printf("  Uptime (ms)                            %llu\n", (unsigned long long) i->uptime_ms);
}

int
main(int argc, char **argv)
{
    enum { O_SOCK = 256, O_LOG, O_HOLD, O_AGING, O_RESET };
    static const struct option opts[] = {
        { "info", no_argument, NULL, 'i' }, { "set-log-level", required_argument, NULL, O_LOG },
        { "flow_hold_limit", required_argument, NULL, O_HOLD },
        { "flow-hold-limit", required_argument, NULL, O_HOLD },
        { "flow-aging-ms", required_argument, NULL, O_AGING },
        { "reset", no_argument, NULL, O_RESET },
        { "sock", required_argument, NULL, O_SOCK }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vr_info_req q;
    memset(&q, 0, sizeof q);
    uint64_t which = 0;
    const char *sock = NULL;
    int mode = 0, c;
    while ((c = getopt_long(argc, argv, "ih", opts, NULL)) != -1) {
        switch (c) {
        case 'i': mode = mode ? mode : 'i'; break;
        case O_LOG:
            mode = 's';
            snprintf(q.log_level, sizeof q.log_level, "%s", optarg);
            which |= vr_field_bit(VR_OBJ_INFO, VR_INFO_A_LOG_LEVEL);
            break;
        case O_HOLD:
            mode = 's';
            q.flow_hold_limit = vr_arg_u32(prog, "--flow-hold-limit", optarg, UINT32_MAX);
            which |= vr_field_bit(VR_OBJ_INFO, VR_INFO_A_FLOW_HOLD_LIMIT);
            break;
        case O_AGING:
            mode = 's';
            q.flow_aging_ms = vr_arg_u32(prog, "--flow-aging-ms", optarg, UINT32_MAX);
            which |= vr_field_bit(VR_OBJ_INFO, VR_INFO_A_FLOW_AGING_MS);
            break;
        case O_RESET: mode = 'r'; break;
        case O_SOCK: sock = optarg; break;
        case 'h':
            printf("Usage: vrouter [--sock PATH] --info | --set-log-level <SYS_ERR..SYS_DEBUG>"
                   " | --flow-hold-limit N | --flow-aging-ms MS | --reset\n");
            return 0;
        default:
            return 2;
        }
    }
    if (!mode || optind < argc) {
        fprintf(stderr, "Usage: vrouter --info | --set-log-level L | --flow-hold-limit N | "
                "--flow-aging-ms MS | --reset\n");
        return 2;
    }
    struct vr_client cl;
    if (vr_client_open(&cl, sock)) {
        return vr_client_fail(&cl, prog, "connect");
    }
    int rc = 0;
    if (mode == 'r') {
        if (vr_client_request(&cl, VR_OP_RESET, VR_OBJ_INFO, NULL, 0, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "reset");
        }
    } else if (vr_client_request(&cl, mode == 's' ? VR_OP_ADD : VR_OP_GET, VR_OBJ_INFO, &q,
                                 which, NULL, mode == 'i' ? print_info : NULL, NULL, NULL)) {
        rc = vr_client_fail(&cl, prog, mode == 's' ? "set" : "info");
    }
    vr_client_close(&cl);
    return rc;
}
