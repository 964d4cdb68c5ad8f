/* dropstats: the vRouter's drop counters by reason, in the original tool's blocks. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vr_client.h"

static const char *prog = "dropstats";

static bool show_zero = true;

static void
print_stats(const void *obj, void *aux)
{
    const struct vr_drop_stats_req *d = obj;
    static const struct { const char *title; const int reasons[24]; } blocks[] = {
        { "ARP", { VP_DROP_INVALID_ARP, -1 } },
        { "Interface", { VP_DROP_INVALID_IF, VP_DROP_TRAP_NO_IF, VP_DROP_INTERFACE_TX_DISCARD,
                         VP_DROP_INTERFACE_DROP, VP_DROP_INTERFACE_RX_DISCARD, -1 } },
        { "Flow", { VP_DROP_FLOW_UNUSABLE, VP_DROP_FLOW_NO_MEMORY, VP_DROP_FLOW_TABLE_FULL,
                    VP_DROP_FLOW_NAT_NO_RFLOW, VP_DROP_FLOW_ACTION_DROP,
                    VP_DROP_FLOW_ACTION_INVALID, VP_DROP_FLOW_INVALID_PROTOCOL,
                    VP_DROP_FLOW_QUEUE_LIMIT_EXCEEDED, VP_DROP_DROP_NEW_FLOW,
                    VP_DROP_FLOW_EVICT, -1 } },
    };
    bool shown[VP_DROP_MAX] = { false };
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        printf("%s\n", blocks[b].title);
        for (const int *r = blocks[b].reasons; *r >= 0; r++) {
            if ((unsigned) *r < d->count && (show_zero || d->counters[*r])) {
                printf("    %-36s %llu\n", vr_drop_text((unsigned) *r),
                       (unsigned long long) d->counters[*r]);
            }
            shown[*r] = true;
        }
        printf("\n");
    }
    printf("Misc\n");
    for (uint32_t i = 0; i < d->count && i < VP_DROP_MAX; i++) {
        if (!shown[i] && (show_zero || d->counters[i])) {
            printf("    %-36s %llu\n", vr_drop_text(i), (unsigned long long) d->counters[i]);
        }
    }
    printf("\n");
}

int
main(int argc, char **argv)
{
    enum { O_SOCK = 256, O_VIF, O_NONZERO };
    static const struct option opts[] = {
        { "vif", required_argument, NULL, O_VIF }, { "core", required_argument, NULL, 'c' },
        { "log", no_argument, NULL, 'L' }, { "nonzero", no_argument, NULL, O_NONZERO },
        { "sock", required_argument, NULL, O_SOCK }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vr_drop_stats_req q;
    memset(&q, 0, sizeof q);
    q.vif = VR_FLOW_INDEX_NONE;
    const char *sock = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case O_VIF: q.vif = vr_arg_u32(prog, "--vif", optarg, UINT32_MAX - 1); break;
        case 'c': vr_arg_u32(prog, "--core", optarg, 1024); break; /* one engine thread */
        case 'L': break;
        case O_NONZERO: show_zero = false; break;
        case O_SOCK: sock = optarg; break;
        case 'h':
            printf("Usage: dropstats [--sock PATH] [--vif <vif_id>] [--core N] [--nonzero]\n");
            return 0;
        default:
            return 2;
        }
    }
    struct vr_client cl;
    if (vr_client_open(&cl, sock)) {
        return vr_client_fail(&cl, prog, "connect");
    }
    int rc = 0;
    if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_DROPSTATS, &q,
                          vr_fields(VR_OBJ_DROPSTATS, VR_DS_A_VIF, 0), NULL, print_stats, NULL,
                          NULL)) {
        rc = vr_client_fail(&cl, prog, "get");
    }
    vr_client_close(&cl);
    return rc;
}
