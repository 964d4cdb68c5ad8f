/* flow: lists, shows, sets and deletes flows, printing what the original `flow -l` prints
 * (summary, legend, "idx<=>ridx  sip:sport  proto (vrf)" rows); `flow -r` samples the flow
 * setup rate.  `flow --set` installs or changes a flow as the agent does (FLOW_SET). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vr_client.h"

static const char *prog = "flow";

static void
print_flow(const void *obj, void *aux)
{
    const struct vr_flow_req *f = obj;
    char s[64], d[64], src[96], dst[96], ridx[16];
    vr_ip_format(&f->sip, s, sizeof s);
    vr_ip_format(&f->dip, d, sizeof d);
    snprintf(src, sizeof src, f->sip.family == 6 ? "%s.%u" : "%s:%u", s, f->sport);
    snprintf(dst, sizeof dst, f->dip.family == 6 ? "%s.%u" : "%s:%u", d, f->dport);
    if (f->flags & VR_RFLOW_VALID) {
        snprintf(ridx, sizeof ridx, "%u", f->rindex);
    } else {
        strcpy(ridx, "-1");
    }
    char head[40];
    snprintf(head, sizeof head, "%u<=>%s", f->index, ridx);
    printf("%17s       %-50s %3u (%u)\n", head, src, f->proto, f->vrf);
    printf("                         %s\n", dst);
    char action[32];
    switch (f->action) {
    case VR_FLOW_ACTION_FORWARD: strcpy(action, "F"); break;
    case VR_FLOW_ACTION_DROP: strcpy(action, "D"); break;
    case VR_FLOW_ACTION_HOLD: strcpy(action, "H"); break;
    case VR_FLOW_ACTION_NAT:
        snprintf(action, sizeof action, "N(%s%s%s%s)",
                 f->flags & VR_FLOW_FLAG_SNAT ? "S" : "", f->flags & VR_FLOW_FLAG_DNAT ? "D" : "",
                 f->flags & VR_FLOW_FLAG_SPAT ? "Ps" : "", f->flags & VR_FLOW_FLAG_DPAT ? "Pd" : "");
        break;
    default: strcpy(action, "?"); break;
    }
    char flags[32] = "";
    if (f->flags & VR_FLOW_FLAG_EVICTED) strcat(flags, "E");
    if (f->flags & VR_FLOW_FLAG_EVICT_CANDIDATE) strcat(flags, "Ec");
    if (f->flags & VR_FLOW_FLAG_NEW_FLOW) strcat(flags, "N");
    if (f->flags & VR_FLOW_FLAG_MODIFIED) strcat(flags, "M");
    if (f->flags & VR_FLOW_FLAG_DELETE_MARKED) strcat(flags, "Dm");
    char tcp[16] = "";
    if (f->tcp_flags & VR_FLOW_TCP_SYN) strcat(tcp, "S");
    if (f->tcp_flags & VR_FLOW_TCP_ESTABLISHED) strcat(tcp, "E");
    if (f->tcp_flags & VR_FLOW_TCP_FIN) strcat(tcp, "F");
    if (f->tcp_flags & VR_FLOW_TCP_RST) strcat(tcp, "R");
    printf("(Gen: %u, K(nh):%u, Action:%s, Flags:%s, %s%s%sQOS:-1, S(nh):%d,  Stats:%llu/%llu,  "
           "SPort %u, TTL 0, Sinfo 0.0.0.0)\n",
           f->gen_id, f->nh_id, action, flags, tcp[0] ? "TCP:" : "", tcp, tcp[0] ? ", " : "",
           f->src_nh_index == VR_FLOW_INDEX_NONE ? -1 : (int) f->src_nh_index,
           (unsigned long long) f->packets, (unsigned long long) f->bytes, f->udp_src_port);
    if (f->action == VR_FLOW_ACTION_DROP) {
        printf("(Drop reason: %u)\n", f->drop_reason);
    }
    if (f->hold_count) {
        printf("(Held packets: %u)\n", f->hold_count);
    }
    printf("\n");
}

static void
get_info(const void *obj, void *aux)
{
    memcpy(aux, obj, sizeof(struct vr_info_req));
}

static void
usage(void)
{
    printf("Usage: flow [--sock PATH] -l | --get <index> | -r | -d|--delete <index>\n"
           "       flow --set [--index <idx> [--gen <gen>]] --action forward|drop|nat|hold\n"
           "            --sip <a> --dip <a> --proto <p> [--sport <p>] [--dport <p>] --nh <key_nh>\n"
           "            [--vrf <v>] [--dvrf <v>] [--rindex <idx>] [--snat] [--dnat] [--spat]\n"
           "            [--dpat] [--vrft] [--ecmp-index <i>] [--mirror <id>] [--drop-reason <r>]\n");
}

int
main(int argc, char **argv)
{
    enum { O_SOCK = 256, O_SET, O_INDEX, O_GEN, O_ACTION, O_SIP, O_DIP, O_PROTO, O_SPORT,
           O_DPORT, O_NH, O_VRF, O_DVRF, O_RINDEX, O_SNAT, O_DNAT, O_SPAT, O_DPAT, O_VRFT,
           O_ECMP, O_MIRROR, O_DR };
    static const struct option opts[] = {
        { "list", no_argument, NULL, 'l' }, { "get", required_argument, NULL, 'g' },
        { "delete", required_argument, NULL, 'd' }, { "rate", no_argument, NULL, 'r' },
        { "set", no_argument, NULL, O_SET }, { "index", required_argument, NULL, O_INDEX },
        { "gen", required_argument, NULL, O_GEN }, { "action", required_argument, NULL, O_ACTION },
        { "sip", required_argument, NULL, O_SIP }, { "dip", required_argument, NULL, O_DIP },
        { "proto", required_argument, NULL, O_PROTO }, { "sport", required_argument, NULL, O_SPORT },
        { "dport", required_argument, NULL, O_DPORT }, { "nh", required_argument, NULL, O_NH },
        { "vrf", required_argument, NULL, O_VRF }, { "dvrf", required_argument, NULL, O_DVRF },
        { "rindex", required_argument, NULL, O_RINDEX }, { "snat", no_argument, NULL, O_SNAT },
        { "dnat", no_argument, NULL, O_DNAT }, { "spat", no_argument, NULL, O_SPAT },
        { "dpat", no_argument, NULL, O_DPAT }, { "vrft", no_argument, NULL, O_VRFT },
        { "ecmp-index", required_argument, NULL, O_ECMP },
        { "mirror", required_argument, NULL, O_MIRROR },
        { "drop-reason", required_argument, NULL, O_DR },
        { "sock", required_argument, NULL, O_SOCK }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vr_flow_req q;
    memset(&q, 0, sizeof q);
    q.index = VR_FLOW_INDEX_NONE;
    uint64_t which = 0;
    int mode = 0, c;
    const char *sock = NULL;
#define SET(ID) (which |= vr_field_bit(VR_OBJ_FLOW, ID))
    while ((c = getopt_long(argc, argv, "lg:d:rh", opts, NULL)) != -1) {
        switch (c) {
        case 'l': mode = 'l'; break;
        case 'r': mode = 'r'; break;
        case 'g': case 'd':
            mode = c;
            q.index = vr_arg_u32(prog, "index", optarg, UINT32_MAX - 1);
            break;
        case O_SET: mode = 's'; break;
        case O_INDEX: q.index = vr_arg_u32(prog, "--index", optarg, UINT32_MAX - 1); SET(VR_FL_A_INDEX); break;
        case O_GEN: q.gen_id = (uint8_t) vr_arg_u32(prog, "--gen", optarg, 255); SET(VR_FL_A_GEN_ID); break;
        case O_ACTION:
            SET(VR_FL_A_ACTION);
            if (!strcmp(optarg, "forward")) q.action = VR_FLOW_ACTION_FORWARD;
            else if (!strcmp(optarg, "drop")) q.action = VR_FLOW_ACTION_DROP;
            else if (!strcmp(optarg, "nat")) q.action = VR_FLOW_ACTION_NAT;
            else if (!strcmp(optarg, "hold")) q.action = VR_FLOW_ACTION_HOLD;
            else {
                fprintf(stderr, "%s: --action '%s': not forward, drop, nat or hold\n", prog,
                        optarg);
                return 2;
            }
            break;
        case O_SIP: vr_arg_ip(prog, "--sip", optarg, &q.sip); SET(VR_FL_A_SIP); break;
        case O_DIP: vr_arg_ip(prog, "--dip", optarg, &q.dip); SET(VR_FL_A_DIP); break;
        case O_PROTO: q.proto = (uint8_t) vr_arg_u32(prog, "--proto", optarg, 255); SET(VR_FL_A_PROTO); break;
        case O_SPORT: q.sport = (uint16_t) vr_arg_u32(prog, "--sport", optarg, 65535); SET(VR_FL_A_SPORT); break;
        case O_DPORT: q.dport = (uint16_t) vr_arg_u32(prog, "--dport", optarg, 65535); SET(VR_FL_A_DPORT); break;
        case O_NH: q.nh_id = vr_arg_u32(prog, "--nh", optarg, UINT32_MAX - 1); SET(VR_FL_A_NH_ID); break;
        case O_VRF: q.vrf = vr_arg_u32(prog, "--vrf", optarg, UINT32_MAX - 1); SET(VR_FL_A_VRF); break;
        case O_DVRF: q.dvrf = vr_arg_u32(prog, "--dvrf", optarg, UINT32_MAX - 1); SET(VR_FL_A_DVRF); break;
        case O_RINDEX:
            q.rindex = vr_arg_u32(prog, "--rindex", optarg, UINT32_MAX - 1);
            q.flags |= VR_RFLOW_VALID;
            SET(VR_FL_A_RINDEX);
            break;
        case O_SNAT: q.flags |= VR_FLOW_FLAG_SNAT; break;
        case O_DNAT: q.flags |= VR_FLOW_FLAG_DNAT; break;
        case O_SPAT: q.flags |= VR_FLOW_FLAG_SPAT; break;
        case O_DPAT: q.flags |= VR_FLOW_FLAG_DPAT; break;
        case O_VRFT: q.flags |= VR_FLOW_FLAG_VRFT; break;
        case O_ECMP: q.ecmp_nh_index = vr_arg_u32(prog, "--ecmp-index", optarg, 1023); SET(VR_FL_A_ECMP_NH_INDEX); break;
        case O_MIRROR:
            q.mirror_id = vr_arg_u32(prog, "--mirror", optarg, 65535);
            q.flags |= VR_FLOW_FLAG_MIRROR;
            SET(VR_FL_A_MIRROR_ID);
            break;
        case O_DR: q.drop_reason = (uint8_t) vr_arg_u32(prog, "--drop-reason", optarg, 255); SET(VR_FL_A_DROP_REASON); break;
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
    uint64_t key = vr_fields(VR_OBJ_FLOW, VR_FL_A_INDEX, 0);
    if (mode == 'l') {
        struct vr_info_req info;
        memset(&info, 0, sizeof info);
        vr_client_request(&cl, VR_OP_GET, VR_OBJ_INFO, NULL, 0, NULL, get_info, &info, NULL);
        printf("Flow table(size %llu, entries %u)\n\n",
               (unsigned long long) (info.flow_entries + info.oflow_entries) * 256ull,
               info.flow_entries + info.oflow_entries);
        printf("Entries: Created %llu Added %llu Deleted %llu Changed %llu Processed %llu "
               "Used Overflow entries %llu\n",
               (unsigned long long) info.flows_created, (unsigned long long) info.flows_added,
               (unsigned long long) info.flows_deleted, (unsigned long long) info.flows_changed,
               (unsigned long long) info.flows_processed,
               (unsigned long long) info.flows_oflow_used);
        printf("(Created Flows/CPU: %llu)(oflows %llu)\n\n",
               (unsigned long long) info.flows_created,
               (unsigned long long) info.flows_oflow_used);
        printf("Action:F=Forward, D=Drop N=NAT(S=SNAT, D=DNAT, Ps=SPAT, Pd=DPAT, L=Link Local "
               "Port)\n Other:K(nh)=Key_Nexthop, S(nh)=RPF_Nexthop\n Flags:E=Evicted, "
               "Ec=Evict Candidate, N=New Flow, M=Modified Dm=Delete Marked\n"
               "TCP(r=reverse):S=SYN, F=FIN, R=RST, C=HalfClose, E=Established, D=Dead\n\n");
        printf("    Index                Source:Port/Destination:Port                      "
               "Proto(V)\n");
        printf("-----------------------------------------------------------------------------"
               "------\n");
        if (vr_client_dump(&cl, VR_OBJ_FLOW, NULL, 0, print_flow, NULL)) {
            rc = vr_client_fail(&cl, prog, "list");
        }
    } else if (mode == 'r') {
        struct vr_info_req a, b;
        memset(&a, 0, sizeof a);
        for (int i = 0; i < 3 && !rc; i++) {
            if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_INFO, NULL, 0, NULL, get_info, &a,
                                  NULL)) {
                rc = vr_client_fail(&cl, prog, "rate");
                break;
            }
            usleep(500000);
            memset(&b, 0, sizeof b);
            if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_INFO, NULL, 0, NULL, get_info, &b,
                                  NULL)) {
                rc = vr_client_fail(&cl, prog, "rate");
                break;
            }
            double secs = (double) (b.uptime_ms - a.uptime_ms) / 1000.0;
            if (secs <= 0) {
                secs = 0.5;
            }
            printf("    New = %6.0f, Flow setup rate = %6.0f flows/sec, Flow rate = %6.0f "
                   "flows/sec, for last %4.0f ms\n",
                   (double) (b.flows_created - a.flows_created),
                   (double) (b.flows_created - a.flows_created) / secs,
                   (double) (b.flows_processed - a.flows_processed) / secs, secs * 1000);
        }
    } else if (mode == 'g') {
        if (vr_client_request(&cl, VR_OP_GET, VR_OBJ_FLOW, &q, key, NULL, print_flow, NULL,
                              NULL)) {
            rc = vr_client_fail(&cl, prog, "get");
        }
    } else if (mode == 'd') {
        if (vr_client_request(&cl, VR_OP_DEL, VR_OBJ_FLOW, &q, key, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "delete");
        }
    } else {
        SET(VR_FL_A_FLAGS);
        if (q.index == VR_FLOW_INDEX_NONE) {
            which &= ~vr_field_bit(VR_OBJ_FLOW, VR_FL_A_INDEX);
        }
        if (vr_client_request(&cl, VR_OP_ADD, VR_OBJ_FLOW, &q, which, NULL, print_flow, NULL,
                              NULL)) {
            rc = vr_client_fail(&cl, prog, "set");
        }
    }
    vr_client_close(&cl);
    return rc;
}
