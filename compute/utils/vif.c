/* vif: lists, shows, adds and deletes vRouter interfaces, printing what the original `vif`
 * prints ("Vrouter Interface Table", one block per vif0/N). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vr_client.h"

static const char *prog = "vif";

static const struct { uint32_t flag; const char *letters; } flag_letters[] = {
    { VIF_FLAG_POLICY_ENABLED, "P" }, { VIF_FLAG_XCONNECT, "X" },
    { VIF_FLAG_SERVICE_IF, "S" }, { VIF_FLAG_MIRROR_RX, "Mr" }, { VIF_FLAG_MIRROR_TX, "Mt" },
    { VIF_FLAG_TX_CSUM_OFFLOAD, "Tc" }, { VIF_FLAG_L3_ENABLED, "L3" },
    { VIF_FLAG_L2_ENABLED, "L2" }, { VIF_FLAG_DHCP_ENABLED, "D" },
    { VIF_FLAG_VHOST_PHYS, "Vp" }, { VIF_FLAG_PROMISCOUS, "Pr" },
    { VIF_FLAG_NATIVE_VLAN_TAG, "Vnt" }, { VIF_FLAG_NO_ARP_PROXY, "Mnp" },
    { VIF_FLAG_PMD, "Dpdk" }, { VIF_FLAG_FILTERING_OFFLOAD, "Rfl" },
    { VIF_FLAG_MONITORED, "Mon" }, { VIF_FLAG_UNKNOWN_UC_FLOOD, "Uuf" },
    { VIF_FLAG_VLAN_OFFLOAD, "Vof" }, { VIF_FLAG_DROP_NEW_FLOWS, "Df" },
    { VIF_FLAG_MAC_LEARN, "L" }, { VIF_FLAG_MAC_PROXY, "Proxy" },
    { VIF_FLAG_ETREE_ROOT, "Er" },
};

static const char *const type_names[] = { "Host", "Agent", "Physical", "Virtual" };

static void
print_legend(void)
{
    printf("Vrouter Interface Table\n\n");
    printf("Flags: P=Policy, X=Cross Connect, S=Service Chain, Mr=Receive Mirroring\n"
           "       Mt=Transmit Mirroring, Tc=Transmit Checksum Offload, L3=Layer 3\n"
           "       L2=Layer 2, D=DHCP, Vp=Vhost Physical, Pr=Promiscuous, "
           "Vnt=Native Vlan Tagged\n"
           "       Mnp=No MAC Proxy, Dpdk=DPDK PMD Interface, Rfl=Receive Filtering Offload, "
           "Mon=Interface is Monitored\n"
           "       Uuf=Unknown Unicast Flood, Vof=VLAN insert/strip offload, Df=Drop New "
           "Flows, L=MAC Learning Enabled\n"
           "       Proxy=MAC Requests Proxied Always, Er=Etree Root\n\n");
}

static void
print_vif(const void *obj, void *aux)
{
    const struct vr_if_req *v = obj;
    char ip[64], mac[18], flags[128] = "";
    for (size_t i = 0; i < sizeof flag_letters / sizeof flag_letters[0]; i++) {
        if (v->flags & flag_letters[i].flag) {
            strcat(flags, flag_letters[i].letters);
        }
    }
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
             v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
    struct vr_ip any4 = { .family = 4 };
    vr_ip_format(v->ip.family ? &v->ip : &any4, ip, sizeof ip);
    char head[32];
    snprintf(head, sizeof head, "vif0/%u", v->idx);
    printf("%-12sOS: %s", head, v->name[0] ? v->name : "-");
    if (v->nh_id) {
        printf(" NH: %u", v->nh_id);
    }
    printf("\n            Type:%s HWaddr:%s IPaddr:%s\n",
           v->type < 4 ? type_names[v->type] : "Unknown", mac, ip);
    if (v->ip6.family) {
        char ip6[64];
        printf("            IP6addr:%s\n", vr_ip_format(&v->ip6, ip6, sizeof ip6));
    }
    printf("            Vrf:%u Mcast Vrf:%u Flags:%s QOS:-1 Ref:%u\n", v->vrf, v->mcast_vrf,
           flags, v->ref_cnt);
    printf("            RX packets:%llu  bytes:%llu errors:%llu\n",
           (unsigned long long) v->ipackets, (unsigned long long) v->ibytes,
           (unsigned long long) v->ierrors);
    printf("            TX packets:%llu  bytes:%llu errors:%llu\n",
           (unsigned long long) v->opackets, (unsigned long long) v->obytes,
           (unsigned long long) v->oerrors);
    printf("            Drops:%llu\n\n", (unsigned long long) v->drops);
}

static void
print_drops(const void *obj, void *aux)
{
    const struct vr_drop_stats_req *d = obj;
    for (uint32_t i = 0; i < d->count && i < VP_DROP_MAX; i++) {
        if (d->counters[i]) {
            printf("%-40s %llu\n", vr_drop_text(i), (unsigned long long) d->counters[i]);
        }
    }
}

static uint32_t
parse_flags(const char *s)
{
    uint32_t f = 0;
    while (*s) {
        size_t best = 0;
        uint32_t bf = 0;
        for (size_t i = 0; i < sizeof flag_letters / sizeof flag_letters[0]; i++) {
            size_t n = strlen(flag_letters[i].letters);
            if (n > best && !strncmp(s, flag_letters[i].letters, n)) {
                best = n;
                bf = flag_letters[i].flag;
            }
        }
        if (!best) {
            fprintf(stderr, "%s: --flags: unknown flag at '%s'\n", prog, s);
            exit(2);
        }
        f |= bf;
        s += best;
    }
    return f;
}

static void
usage(void)
{
    printf("Usage: vif [--sock PATH] --list\n"
           "       vif --get <vif_id> [--get-drop-stats]\n"
           "       vif --add <intf_name> --type [virtual|physical|host|agent] --vif <vif_id>\n"
           "           [--mac <mac>] [--vrf <vrf>] [--ip <addr>] [--ip6 <addr>] [--nh <nh_id>]\n"
           "           [--mtu <mtu>] [--policy] [--dhcp-enable] [--flags <P|L3|L2|D|...>]\n"
           "       vif --delete <vif_id>\n");
}

int
main(int argc, char **argv)
{
    enum { O_SOCK = 256, O_GETDROP, O_IP6, O_FLAGS, O_DHCP, O_MTU, O_NH };
    static const struct option opts[] = {
        { "list", no_argument, NULL, 'l' }, { "get", required_argument, NULL, 'g' },
        { "add", required_argument, NULL, 'a' }, { "create", required_argument, NULL, 'a' },
        { "delete", required_argument, NULL, 'd' }, { "type", required_argument, NULL, 't' },
        { "vif", required_argument, NULL, 'i' }, { "id", required_argument, NULL, 'i' },
        { "mac", required_argument, NULL, 'm' }, { "vrf", required_argument, NULL, 'v' },
        { "ip", required_argument, NULL, 'p' }, { "ip6", required_argument, NULL, O_IP6 },
        { "policy", no_argument, NULL, 'P' }, { "dhcp-enable", no_argument, NULL, O_DHCP },
        { "flags", required_argument, NULL, O_FLAGS }, { "mtu", required_argument, NULL, O_MTU },
        { "nh", required_argument, NULL, O_NH }, { "sock", required_argument, NULL, O_SOCK },
        { "get-drop-stats", no_argument, NULL, O_GETDROP }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vr_if_req q;
    memset(&q, 0, sizeof q);
    q.idx = VR_FLOW_INDEX_NONE;
    int mode = 0;
    const char *sock = NULL;
    bool getdrop = false, have_type = false, have_flags = false;
    uint32_t extra_flags = 0;
    int c;
    while ((c = getopt_long(argc, argv, "lg:a:d:t:i:m:v:p:Ph", opts, NULL)) != -1) {
        switch (c) {
        case 'l': mode = 'l'; break;
        case 'g': mode = 'g'; q.idx = vr_arg_u32(prog, "--get", optarg, UINT32_MAX - 1); break;
        case 'd': mode = 'd'; q.idx = vr_arg_u32(prog, "--delete", optarg, UINT32_MAX - 1); break;
        case 'a':
            mode = 'a';
            if (strlen(optarg) >= sizeof q.name) {
                fprintf(stderr, "%s: --add '%s': interface name too long\n", prog, optarg);
                return 2;
            }
            strcpy(q.name, optarg);
            break;
        case 't':
            have_type = true;
            if (!strcmp(optarg, "virtual")) q.type = VIF_TYPE_VIRTUAL;
            else if (!strcmp(optarg, "physical")) q.type = VIF_TYPE_PHYSICAL;
            else if (!strcmp(optarg, "host") || !strcmp(optarg, "vhost")) q.type = VIF_TYPE_HOST;
            else if (!strcmp(optarg, "agent")) q.type = VIF_TYPE_AGENT;
            else {
                fprintf(stderr, "%s: --type '%s': not virtual, physical, host or agent\n", prog,
                        optarg);
                return 2;
            }
            break;
        case 'i': q.idx = vr_arg_u32(prog, "--vif", optarg, UINT32_MAX - 1); break;
        case 'm': vr_arg_mac(prog, "--mac", optarg, q.mac); break;
        case 'v': q.vrf = vr_arg_u32(prog, "--vrf", optarg, 65535); break;
        case 'p': vr_arg_ip(prog, "--ip", optarg, &q.ip); break;
        case O_IP6: vr_arg_ip(prog, "--ip6", optarg, &q.ip6); break;
        case 'P': extra_flags |= VIF_FLAG_POLICY_ENABLED; break;
        case O_DHCP: extra_flags |= VIF_FLAG_DHCP_ENABLED; break;
        case O_FLAGS: q.flags = parse_flags(optarg); have_flags = true; break;
        case O_MTU: q.mtu = vr_arg_u32(prog, "--mtu", optarg, 65535); break;
        case O_NH: q.nh_id = vr_arg_u32(prog, "--nh", optarg, UINT32_MAX - 1); break;
        case O_SOCK: sock = optarg; break;
        case O_GETDROP: getdrop = true; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!mode || optind < argc) {
        usage();
        return 2;
    }
    struct vr_client cl;
    if (vr_client_open(&cl, sock)) {
        return vr_client_fail(&cl, prog, "connect");
    }
    int rc = 0;
    if (mode == 'l') {
        print_legend();
        if (vr_client_dump(&cl, VR_OBJ_IF, NULL, 0, print_vif, NULL)) {
            rc = vr_client_fail(&cl, prog, "list");
        }
    } else if (mode == 'g') {
        print_legend();
        if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_IF, &q, vr_fields(VR_OBJ_IF, VR_IF_A_IDX, 0),
                              NULL, print_vif, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "get");
        } else if (getdrop) {
            struct vr_drop_stats_req d = { .vif = q.idx };
            printf("Drop statistics of vif0/%u\n", q.idx);
            if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_DROPSTATS, &d,
                                  vr_fields(VR_OBJ_DROPSTATS, VR_DS_A_VIF, 0), NULL,
                                  print_drops, NULL, NULL)) {
                rc = vr_client_fail(&cl, prog, "drop stats");
            }
        }
    } else if (mode == 'd') {
        if (vr_client_request(&cl, VR_OP_DEL, VR_OBJ_IF, &q, vr_fields(VR_OBJ_IF, VR_IF_A_IDX, 0),
                              NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "delete");
        }
    } else {
        if (q.idx == VR_FLOW_INDEX_NONE || !have_type) {
            fprintf(stderr, "%s: --add needs --vif <id> and --type\n", prog);
            vr_client_close(&cl);
            return 2;
        }
        if (!have_flags) {
            q.flags = q.type == VIF_TYPE_VIRTUAL || q.type == VIF_TYPE_HOST
                      ? VIF_FLAG_L3_ENABLED | VIF_FLAG_L2_ENABLED : 0;
        }
        q.flags |= extra_flags;
        if (q.type == VIF_TYPE_AGENT && q.vrf == 0) {
            q.vrf = 65535;
        }
        uint64_t which = vr_fields(VR_OBJ_IF, VR_IF_A_IDX, VR_IF_A_TYPE, VR_IF_A_FLAGS,
                                   VR_IF_A_VRF, VR_IF_A_NAME, VR_IF_A_MAC, VR_IF_A_IP,
                                   VR_IF_A_IP6, VR_IF_A_NH_ID, 0);
        if (q.mtu) {
            which |= vr_fields(VR_OBJ_IF, VR_IF_A_MTU, 0);
        }
        if (vr_client_request(&cl, VR_OP_ADD, VR_OBJ_IF, &q, which, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "add");
        }
    }
    vr_client_close(&cl);
    return rc;
}
