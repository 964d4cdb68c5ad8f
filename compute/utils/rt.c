/* rt: dumps, shows, adds and deletes vRouter routes (inet, inet6, bridge), printing what the
 * original `rt --dump` prints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vr_client.h"

static const char *prog = "rt";

static void
flags_str(uint32_t f, bool bridge, char *buf)
{
    buf[0] = '\0';
    if (bridge) {
        if (f & VR_BE_LABEL_VALID_FLAG) strcat(buf, "L");
        if (f & VR_BE_FLOOD_DHCP_FLAG) strcat(buf, "Df");
        if (f & VR_BE_MAC_MOVED_FLAG) strcat(buf, "Mm");
    } else {
        if (f & VR_RT_LABEL_VALID_FLAG) strcat(buf, "L");
        if (f & VR_RT_ARP_PROXY_FLAG) strcat(buf, "P");
        if (f & VR_RT_ARP_TRAP_FLAG) strcat(buf, "T");
        if (f & VR_RT_ARP_FLOOD_FLAG) strcat(buf, "F");
        if (f & VR_RT_MAC_IP_LEARN_FLAG) strcat(buf, "Ml");
    }
    if (!buf[0]) {
        strcpy(buf, "-");
    }
}

static void
print_inet(const void *obj, void *aux)
{
    const struct vr_route_req *r = obj;
    char ip[64], dest[80], flags[16], label[16], mac[24];
    snprintf(dest, sizeof dest, "%s/%u", vr_ip_format(&r->prefix, ip, sizeof ip), r->plen);
    flags_str(r->label_flags, false, flags);
    if (r->label_flags & VR_RT_LABEL_VALID_FLAG) {
        snprintf(label, sizeof label, "%u", r->label);
    } else {
        strcpy(label, "-");
    }
    static const uint8_t zero[6];
    if (memcmp(r->mac, zero, 6)) {
        vr_mac_format(r->mac, mac);
    } else {
        strcpy(mac, "-");
    }
    printf("%-24s %4u %12s %10s %12u        %s\n", dest, r->ppl, flags, label, r->nh_id, mac);
}

static void
print_bridge(const void *obj, void *aux)
{
    const struct vr_route_req *r = obj;
    char mac[24], flags[16], label[16];
    vr_mac_format(r->mac, mac);
    flags_str(r->label_flags, true, flags);
    if (r->label_flags & VR_BE_LABEL_VALID_FLAG) {
        snprintf(label, sizeof label, "%u", r->label);
    } else {
        strcpy(label, "-");
    }
    printf("%-11u %-24s %6s %16s %12u %16llu\n", r->index, mac, flags, label, r->nh_id,
           (unsigned long long) r->packets);
}

static uint8_t
parse_family(const char *s)
{
    if (!strcmp(s, "inet") || !strcmp(s, "0")) return VR_AF_INET;
    if (!strcmp(s, "bridge") || !strcmp(s, "1")) return VR_AF_BRIDGE;
    if (!strcmp(s, "inet6") || !strcmp(s, "2")) return VR_AF_INET6;
    fprintf(stderr, "%s: --family '%s': not inet, inet6 or bridge\n", prog, s);
    exit(2);
}

static void
usage(void)
{
    printf("Usage: rt [--sock PATH] --dump <vrf_id> [--family inet|inet6|bridge]\n"
           "       rt --get <address>[/<plen>] --vrf <vrf_id> [--family ...]\n"
           "       rt -c|--create -v <vrf> -f <family 0 inet, 1 bridge, 2 inet6> -n <nh_id>\n"
           "          (-p <prefix> -l <prefix_len> | -e <mac>) [-t <label/vnid>]\n"
           "          [-x|--proxy] [--trap] [--flood] [--stitched-mac <mac>]\n"
           "       rt -d|--delete -v <vrf> -f <family> (-p <prefix> -l <len> | -e <mac>)\n");
}

int
main(int argc, char **argv)
{
    enum { O_SOCK = 256, O_TRAP, O_FLOOD, O_SMAC, O_GET };
    static const struct option opts[] = {
        { "dump", required_argument, NULL, 'D' }, { "family", required_argument, NULL, 'f' },
        { "create", no_argument, NULL, 'c' }, { "delete", no_argument, NULL, 'd' },
        { "get", required_argument, NULL, O_GET }, { "vrf", required_argument, NULL, 'v' },
        { "nh", required_argument, NULL, 'n' }, { "prefix", required_argument, NULL, 'p' },
        { "plen", required_argument, NULL, 'l' }, { "mac", required_argument, NULL, 'e' },
        { "label", required_argument, NULL, 't' }, { "proxy", no_argument, NULL, 'x' },
        { "trap", no_argument, NULL, O_TRAP }, { "flood", no_argument, NULL, O_FLOOD },
        { "stitched-mac", required_argument, NULL, O_SMAC },
        { "sock", required_argument, NULL, O_SOCK }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vr_route_req q;
    memset(&q, 0, sizeof q);
    int mode = 0, c;
    const char *sock = NULL;
    bool have_family = false, have_plen = false, have_label = false, have_nh = false;
    bool have_vrf = false;
    while ((c = getopt_long(argc, argv, "D:f:cdv:n:p:l:e:t:xh", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            mode = 'D';
            q.vrf = vr_arg_u32(prog, "--dump", optarg, UINT32_MAX);
            have_vrf = true;
            break;
        case 'f': q.family = parse_family(optarg); have_family = true; break;
        case 'c': mode = 'c'; break;
        case 'd': mode = 'd'; break;
        case O_GET: {
            mode = 'g';
            char buf[80];
            snprintf(buf, sizeof buf, "%s", optarg);
            char *slash = strchr(buf, '/');
            if (slash) {
                *slash = '\0';
                q.plen = (uint8_t) vr_arg_u32(prog, "--get prefix length", slash + 1, 128);
                have_plen = true;
            }
            vr_arg_ip(prog, "--get", buf, &q.prefix);
            break;
        }
        case 'v': q.vrf = vr_arg_u32(prog, "--vrf", optarg, UINT32_MAX); have_vrf = true; break;
        case 'n': q.nh_id = vr_arg_u32(prog, "--nh", optarg, UINT32_MAX); have_nh = true; break;
        case 'p': vr_arg_ip(prog, "--prefix", optarg, &q.prefix); break;
        case 'l': q.plen = (uint8_t) vr_arg_u32(prog, "--plen", optarg, 128); have_plen = true; break;
        case 'e': vr_arg_mac(prog, "--mac", optarg, q.mac); break;
        case O_SMAC: vr_arg_mac(prog, "--stitched-mac", optarg, q.mac); break;
        case 't': q.label = vr_arg_u32(prog, "--label", optarg, 0xffffff); have_label = true; break;
        case 'x': q.label_flags |= VR_RT_ARP_PROXY_FLAG; break;
        case O_TRAP: q.label_flags |= VR_RT_ARP_TRAP_FLAG; break;
        case O_FLOOD: q.label_flags |= VR_RT_ARP_FLOOD_FLAG; break;
        case O_SOCK: sock = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!mode || optind < argc || !have_vrf) {
        usage();
        return 2;
    }
    if (!have_family) {
        q.family = q.prefix.family == 6 ? VR_AF_INET6 : VR_AF_INET;
    }
    if (!have_plen && q.prefix.family) {
        q.plen = q.prefix.family == 4 ? 32 : 128;
    }
    bool bridge = q.family == VR_AF_BRIDGE;
    if (have_label) {
        q.label_flags |= bridge ? VR_BE_LABEL_VALID_FLAG : VR_RT_LABEL_VALID_FLAG;
    }
    struct vr_client cl;
    if (vr_client_open(&cl, sock)) {
        return vr_client_fail(&cl, prog, "connect");
    }
    int rc = 0;
    uint64_t key = bridge ? vr_fields(VR_OBJ_ROUTE, VR_RT_A_VRF, VR_RT_A_FAMILY, VR_RT_A_MAC, 0)
                          : vr_fields(VR_OBJ_ROUTE, VR_RT_A_VRF, VR_RT_A_FAMILY, VR_RT_A_PREFIX,
                                      VR_RT_A_PLEN, 0);
    if (mode == 'D') {
        if (bridge) {
            printf("Flags: L=Label Valid, Df=DHCP flood, Mm=Mac Moved\n\n");
            printf("vRouter bridge table 0/%u\n", q.vrf);
            printf("Index       DestMac                  Flags           Label/VNID      "
                   "Nexthop           Stats\n");
        } else {
            printf("Flags: L=Label Valid, P=Proxy ARP, T=Trap ARP, F=Flood ARP\n");
            printf("vRouter %s routing table 0/%u/unicast\n",
                   q.family == VR_AF_INET ? "inet4" : "inet6", q.vrf);
            printf("Destination               PPL        Flags      Label      Nexthop    "
                   "Stitched MAC(Index)\n");
        }
        if (vr_client_dump(&cl, VR_OBJ_ROUTE, &q,
                           vr_fields(VR_OBJ_ROUTE, VR_RT_A_VRF, VR_RT_A_FAMILY, 0),
                           bridge ? print_bridge : print_inet, NULL)) {
            rc = vr_client_fail(&cl, prog, "dump");
        }
    } else if (mode == 'g') {
        if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_ROUTE, &q, key, NULL,
                              bridge ? print_bridge : print_inet, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "get");
        }
    } else if (mode == 'd') {
        if (vr_client_request(&cl, VR_OP_DEL, VR_OBJ_ROUTE, &q, key, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "delete");
        }
    } else {
        if (!have_nh) {
            fprintf(stderr, "%s: --create needs -n <nh_id>\n", prog);
            vr_client_close(&cl);
            return 2;
        }
        uint64_t which = key | vr_fields(VR_OBJ_ROUTE, VR_RT_A_LABEL_FLAGS, VR_RT_A_LABEL,
                                         VR_RT_A_NH_ID, VR_RT_A_MAC, 0);
        if (vr_client_request(&cl, VR_OP_ADD, VR_OBJ_ROUTE, &q, which, NULL, NULL, NULL,
                              NULL)) {
            rc = vr_client_fail(&cl, prog, "create");
        }
    }
    vr_client_close(&cl);
    return rc;
}
