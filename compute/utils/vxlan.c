/* vxlan: the VXLAN table (VNI -> next hop), as the original `vxlan` tool. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vr_client.h"

static const char *prog = "vxlan";

static void
print_vnid(const void *obj, void *aux)
{
    const struct vr_vxlan_req *m = obj;
    printf("%8u    %8u\n", m->vnid, m->nh_id);
}

static void
usage(void)
{
    printf("Usage: vxlan [--sock PATH] --dump | --get <vnid>\n"
           "       vxlan --create <vnid> --nh <nh_id> | --delete <vnid>\n");
}

int
main(int argc, char **argv)
{
    enum { O_SOCK = 256 };
    static const struct option opts[] = {
        { "dump", no_argument, NULL, 'D' }, { "get", required_argument, NULL, 'g' },
        { "create", required_argument, NULL, 'c' }, { "delete", required_argument, NULL, 'd' },
        { "nh", required_argument, NULL, 'n' }, { "sock", required_argument, NULL, O_SOCK },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    struct vr_vxlan_req q = { 0, 0 };
    int mode = 0, c;
    bool have_nh = false;
    const char *sock = NULL;
    while ((c = getopt_long(argc, argv, "Dg:c:d:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'D': mode = 'D'; break;
        case 'g': case 'c': case 'd':
            mode = c;
            q.vnid = vr_arg_u32(prog, "vnid", optarg, VR_VXLAN_MAX_VNID);
            break;
        case 'n': q.nh_id = vr_arg_u32(prog, "--nh", optarg, UINT32_MAX - 1); have_nh = true; break;
        case O_SOCK: sock = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!mode || optind < argc || (mode == 'c' && !have_nh)) {
        usage();
        return 2;
    }
    struct vr_client cl;
    if (vr_client_open(&cl, sock)) {
        return vr_client_fail(&cl, prog, "connect");
    }
    int rc = 0;
    uint64_t key = vr_fields(VR_OBJ_VXLAN, VR_VXLAN_A_VNID, 0);
    if (mode == 'D' || mode == 'g') {
        printf("VXLAN Table\n\n    VNID    NextHop\n-------------------\n");
        int error = mode == 'D'
            ? vr_client_dump(&cl, VR_OBJ_VXLAN, NULL, 0, print_vnid, NULL)
            : vr_client_request(&cl, VR_OP_GET, VR_OBJ_VXLAN, &q, key, NULL, print_vnid, NULL,
                                NULL);
        if (error) {
            rc = vr_client_fail(&cl, prog, mode == 'D' ? "dump" : "get");
        }
    } else if (mode == 'd') {
        if (vr_client_request(&cl, VR_OP_DEL, VR_OBJ_VXLAN, &q, key, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "delete");
        }
    } else if (vr_client_request(&cl, VR_OP_ADD, VR_OBJ_VXLAN, &q, ~UINT64_C(0), NULL, NULL,
                                 NULL, NULL)) {
        rc = vr_client_fail(&cl, prog, "create");
    }
    vr_client_close(&cl);
    return rc;
}
