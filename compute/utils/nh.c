/* nh: lists, shows, creates and deletes vRouter next hops, printing what the original `nh`
 * prints ("Id:N Type:Tunnel Fmly:AF_INET ...", flags, rewrite data, sub next hops). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vr_client.h"

static const char *prog = "nh";

static const char *const type_names[] = {
    "Dead", "Receive", "Encap", "Tunnel", "Resolve", "Drop", "Composite", "Vrf_Translate",
    "L2 Receive",
};

static const struct { uint32_t flag; const char *name; } flag_names[] = {
    { NH_FLAG_VALID, "Valid" }, { NH_FLAG_POLICY_ENABLED, "Policy" },
    { NH_FLAG_TUNNEL_GRE, "MPLSoGRE" }, { NH_FLAG_TUNNEL_UDP, "Udp" },
    { NH_FLAG_MCAST, "Multicast" }, { NH_FLAG_TUNNEL_UDP_MPLS, "MPLSoUDP" },
    { NH_FLAG_TUNNEL_VXLAN, "Vxlan" }, { NH_FLAG_RELAXED_POLICY, "Relaxed Policy" },
    { NH_FLAG_COMPOSITE_FABRIC, "Fabric Multicast" }, { NH_FLAG_COMPOSITE_ECMP, "Ecmp" },
    { NH_FLAG_COMPOSITE_LU_ECMP, "Local Ecmp" }, { NH_FLAG_COMPOSITE_EVPN, "Evpn" },
    { NH_FLAG_COMPOSITE_ENCAP, "Encap Multicast" }, { NH_FLAG_COMPOSITE_TOR, "Tor" },
    { NH_FLAG_ROUTE_LOOKUP, "Route Lookup" }, { NH_FLAG_UNKNOWN_UC_FLOOD, "Unknown Unicast Flood" },
    { NH_FLAG_FLOW_LOOKUP, "Flow Lookup" }, { NH_FLAG_ETREE_ROOT, "Etree Root" },
    { NH_FLAG_L3_VXLAN, "L3 Vxlan" },
};

static const char *
family_name(uint8_t f)
{
    return f == VR_AF_INET ? "AF_INET" : f == VR_AF_INET6 ? "AF_INET6"
         : f == VR_AF_BRIDGE ? "AF_BRIDGE" : "AF_UNSPEC";
}

static void
print_nh(const void *obj, void *aux)
{
    const struct vr_nh_req *n = obj;
    printf("Id:%-10u Type:%-14s Fmly:%9s  Rid:%u  Ref_cnt:%-10u Vrf:%u\n", n->id,
           n->type < NH_TYPE_MAX ? type_names[n->type] : "Unknown", family_name(n->family),
           n->rid, n->ref_cnt, n->vrf);
    printf("              Flags:");
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
        if (n->flags & flag_names[i].flag) {
            printf("%s, ", flag_names[i].name);
        }
    }
    printf("\n");
    char a[64], b[64];
    switch (n->type) {
    case NH_ENCAP:
        printf("              EncapFmly:%04x Oif:%u Len:%u\n", n->encap_family, n->encap_oif,
               n->encap_len);
        printf("              Encap Data: ");
        for (uint32_t i = 0; i < n->encap_len; i++) {
            printf("%02x ", n->encap[i]);
        }
        printf("\n");
        break;
    case NH_TUNNEL:
        printf("              Oif:%u Len:%u Data:", n->encap_oif, n->encap_len);
        for (uint32_t i = 0; i < n->encap_len; i++) {
            printf("%02x ", n->encap[i]);
        }
        printf("\n              Sip:%s Dip:%s", vr_ip_format(&n->tun_sip, a, sizeof a),
               vr_ip_format(&n->tun_dip, b, sizeof b));
        if (n->tun_sport || n->tun_dport) {
            printf(" Sport:%u Dport:%u", n->tun_sport, n->tun_dport);
        }
        printf("\n");
        break;
    case NH_COMPOSITE:
        if (n->flags & NH_FLAG_COMPOSITE_ECMP) {
            printf("              Valid Hash Key Parameters: %s%s%s%s%s\n",
                   n->ecmp_config_hash & NH_ECMP_CONFIG_HASH_PROTO ? "Proto," : "",
                   n->ecmp_config_hash & NH_ECMP_CONFIG_HASH_SRC_IP ? "SrcIP," : "",
                   n->ecmp_config_hash & NH_ECMP_CONFIG_HASH_SRC_PORT ? "SrcPort," : "",
                   n->ecmp_config_hash & NH_ECMP_CONFIG_HASH_DST_IP ? "DstIp," : "",
                   n->ecmp_config_hash & NH_ECMP_CONFIG_HASH_DST_PORT ? "DstPort" : "");
        }
        printf("              Sub NH(label):");
        for (uint32_t i = 0; i < n->nh_count; i++) {
            printf(" %u(%u)", n->nh_list[i], i < n->label_count ? n->label_list[i] : 0);
        }
        printf("\n");
        break;
    case NH_VRF_TRANSLATE:
        printf("              Vrf:%u\n", n->vrf);
        break;
    default:
        break;
    }
    printf("\n");
}

static uint8_t
parse_type(const char *s)
{
    static const struct { const char *name; uint8_t type; } names[] = {
        { "receive", NH_RCV }, { "rcv", NH_RCV }, { "encap", NH_ENCAP },
        { "tunnel", NH_TUNNEL }, { "resolve", NH_RESOLVE }, { "discard", NH_DISCARD },
        { "drop", NH_DISCARD }, { "composite", NH_COMPOSITE },
        { "vrf-translate", NH_VRF_TRANSLATE }, { "vrf_translate", NH_VRF_TRANSLATE },
        { "l2-receive", NH_L2_RCV },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcmp(s, names[i].name)) {
            return names[i].type;
        }
    }
    return (uint8_t) vr_arg_u32(prog, "--type", s, NH_TYPE_MAX - 1);
}

static uint32_t
parse_list(const char *what, const char *s, uint32_t *out)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    uint32_t n = 0;
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == VR_NH_MAX_COMPONENTS) {
            fprintf(stderr, "%s: %s: more than %d entries\n", prog, what, VR_NH_MAX_COMPONENTS);
            exit(2);
        }
        out[n++] = vr_arg_u32(prog, what, tok, UINT32_MAX - 1);
    }
    return n;
}

static void
usage(void)
{
    printf("Usage: nh [--sock PATH] --list | --get <nh_id>\n"
           "       nh --create <nh_id> --type <receive|encap|tunnel|resolve|discard|composite|\n"
           "                                  vrf-translate> [--family inet|inet6|bridge]\n"
           "          [--vrf <vrf>] [--policy] [--oif <vif>] [--dmac <mac>] [--smac <mac>]\n"
           "          [--tunnel mplsoudp|mplsogre|vxlan|udp --sip <a> --dip <a>\n"
           "           [--sport <p>] [--dport <p>]]\n"
           "          [--nh-list <id,id,...> [--label-list <l,l,...>] (--ecmp|--flood)]\n"
           "       nh --delete <nh_id>\n");
}

int
main(int argc, char **argv)
{
    enum { O_SOCK = 256, O_OIF, O_DMAC, O_SMAC, O_TUNNEL, O_SIP, O_DIP, O_SPORT, O_DPORT,
           O_NHLIST, O_LABELS, O_ECMP, O_FLOOD, O_POLICY, O_FAMILY, O_FLAGS };
    static const struct option opts[] = {
        { "list", no_argument, NULL, 'l' }, { "get", required_argument, NULL, 'g' },
        { "create", required_argument, NULL, 'c' }, { "delete", required_argument, NULL, 'd' },
        { "type", required_argument, NULL, 't' }, { "vrf", required_argument, NULL, 'v' },
        { "family", required_argument, NULL, O_FAMILY }, { "oif", required_argument, NULL, O_OIF },
        { "dmac", required_argument, NULL, O_DMAC }, { "smac", required_argument, NULL, O_SMAC },
        { "tunnel", required_argument, NULL, O_TUNNEL }, { "sip", required_argument, NULL, O_SIP },
        { "dip", required_argument, NULL, O_DIP }, { "sport", required_argument, NULL, O_SPORT },
        { "dport", required_argument, NULL, O_DPORT },
        { "nh-list", required_argument, NULL, O_NHLIST },
        { "label-list", required_argument, NULL, O_LABELS },
        { "ecmp", no_argument, NULL, O_ECMP }, { "flood", no_argument, NULL, O_FLOOD },
        { "policy", no_argument, NULL, O_POLICY }, { "flags", required_argument, NULL, O_FLAGS },
        { "sock", required_argument, NULL, O_SOCK }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vr_nh_req q;
    memset(&q, 0, sizeof q);
    q.family = VR_AF_INET;
    q.flags = NH_FLAG_VALID;
    int mode = 0, c;
    const char *sock = NULL;
    bool have_type = false, have_dmac = false, have_smac = false;
    uint8_t dmac[6] = { 0 }, smac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x01, 0x00 };
    while ((c = getopt_long(argc, argv, "lg:c:d:t:v:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': mode = 'l'; break;
        case 'g': mode = 'g'; q.id = vr_arg_u32(prog, "--get", optarg, UINT32_MAX - 1); break;
        case 'c': mode = 'c'; q.id = vr_arg_u32(prog, "--create", optarg, UINT32_MAX - 1); break;
        case 'd': mode = 'd'; q.id = vr_arg_u32(prog, "--delete", optarg, UINT32_MAX - 1); break;
        case 't': q.type = parse_type(optarg); have_type = true; break;
        case 'v': q.vrf = vr_arg_u32(prog, "--vrf", optarg, UINT32_MAX - 1); break;
        case O_FAMILY:
            q.family = !strcmp(optarg, "inet") ? VR_AF_INET : !strcmp(optarg, "inet6")
                       ? VR_AF_INET6 : !strcmp(optarg, "bridge") ? VR_AF_BRIDGE : 0;
            if (!q.family) {
                fprintf(stderr, "%s: --family '%s': not inet, inet6 or bridge\n", prog, optarg);
                return 2;
            }
            break;
        case O_OIF: q.encap_oif = vr_arg_u32(prog, "--oif", optarg, UINT32_MAX - 1); break;
        case O_DMAC: vr_arg_mac(prog, "--dmac", optarg, dmac); have_dmac = true; break;
        case O_SMAC: vr_arg_mac(prog, "--smac", optarg, smac); have_smac = true; break;
        case O_TUNNEL:
            q.flags &= ~(uint32_t) NH_TUNNEL_FLAGS;
            if (!strcmp(optarg, "mplsoudp")) q.flags |= NH_FLAG_TUNNEL_UDP_MPLS;
            else if (!strcmp(optarg, "mplsogre")) q.flags |= NH_FLAG_TUNNEL_GRE;
            else if (!strcmp(optarg, "vxlan")) q.flags |= NH_FLAG_TUNNEL_VXLAN;
            else if (!strcmp(optarg, "udp")) q.flags |= NH_FLAG_TUNNEL_UDP;
            else {
                fprintf(stderr, "%s: --tunnel '%s': not mplsoudp, mplsogre, vxlan or udp\n",
                        prog, optarg);
                return 2;
            }
            break;
        case O_SIP: vr_arg_ip(prog, "--sip", optarg, &q.tun_sip); break;
        case O_DIP: vr_arg_ip(prog, "--dip", optarg, &q.tun_dip); break;
        case O_SPORT: q.tun_sport = (uint16_t) vr_arg_u32(prog, "--sport", optarg, 65535); break;
        case O_DPORT: q.tun_dport = (uint16_t) vr_arg_u32(prog, "--dport", optarg, 65535); break;
        case O_NHLIST: q.nh_count = parse_list("--nh-list", optarg, q.nh_list); break;
        case O_LABELS: q.label_count = parse_list("--label-list", optarg, q.label_list); break;
        case O_ECMP: q.flags |= NH_FLAG_COMPOSITE_ECMP; break;
        case O_FLOOD: q.flags |= NH_FLAG_COMPOSITE_FABRIC | NH_FLAG_COMPOSITE_ENCAP; break;
        case O_POLICY: q.flags |= NH_FLAG_POLICY_ENABLED; break;
        case O_FLAGS: q.flags = vr_arg_u32(prog, "--flags", optarg, UINT32_MAX); break;
        case O_SOCK: sock = optarg; break;
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
    uint64_t key = vr_fields(VR_OBJ_NH, VR_NH_A_ID, 0);
    if (mode == 'l') {
        if (vr_client_dump(&cl, VR_OBJ_NH, NULL, 0, print_nh, NULL)) {
            rc = vr_client_fail(&cl, prog, "list");
        }
    } else if (mode == 'g') {
        if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_NH, &q, key, NULL, print_nh, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "get");
        }
    } else if (mode == 'd') {
        if (vr_client_request(&cl, VR_OP_DEL, VR_OBJ_NH, &q, key, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "delete");
        }
    } else {
        if (!have_type) {
            fprintf(stderr, "%s: --create needs --type\n", prog);
            vr_client_close(&cl);
            return 2;
        }
        if (have_dmac || have_smac) {
            uint16_t et = q.family == VR_AF_INET6 ? 0x86dd : 0x0800;
            memcpy(q.encap, dmac, 6);
            memcpy(q.encap + 6, smac, 6);
            q.encap[12] = (uint8_t) (et >> 8);
            q.encap[13] = (uint8_t) et;
            q.encap_len = 14;
            q.encap_family = 0x0806;
        }
        uint64_t which = vr_fields(VR_OBJ_NH, VR_NH_A_ID, VR_NH_A_TYPE, VR_NH_A_FAMILY,
                                   VR_NH_A_FLAGS, VR_NH_A_VRF, VR_NH_A_ENCAP_OIF,
                                   VR_NH_A_ENCAP_FAMILY, VR_NH_A_ENCAP, VR_NH_A_TUN_SIP,
                                   VR_NH_A_TUN_DIP, VR_NH_A_TUN_SPORT, VR_NH_A_TUN_DPORT,
                                   VR_NH_A_NH_LIST, VR_NH_A_LABEL_LIST, 0);
        if (vr_client_request(&cl, VR_OP_ADD, VR_OBJ_NH, &q, which, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "create");
        }
    }
    vr_client_close(&cl);
    return rc;
}
