/* mpls: the MPLS input label map (label -> next hop), as the original `mpls` tool. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vr_client.h"

static const char *prog = "mpls";

static void
print_label(const void *obj, void *aux)
{
    const struct vr_mpls_req *m = obj;
    printf("%8u    %8u\n", m->label, m->nh_id);
}

static void
usage(void)
{
    printf("Usage: mpls [--sock PATH] --dump | --get <label>\n"
           "       mpls --create <label> --nh <nh_id> | --delete <label>\n");
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
    struct vr_mpls_req q = { 0, 0 };
    int mode = 0, c;
    bool have_nh = false;
    const char *sock = NULL;
    while ((c = getopt_long(argc, argv, "Dg:c:d:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'D': mode = 'D'; break;
        case 'g': case 'c': case 'd':
            mode = c;
            q.label = vr_arg_u32(prog, "label", optarg, VR_MPLS_MAX_LABEL);
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
    uint64_t key = vr_fields(VR_OBJ_MPLS, VR_MPLS_A_LABEL, 0);
    if (mode == 'D' || mode == 'g') {
        printf("MPLS Input Label Map\n\n   Label    NextHop\n-------------------\n");
        int error = mode == 'D'
            ? vr_client_dump(&cl, VR_OBJ_MPLS, NULL, 0, print_label, NULL)
            : vr_client_request(&cl, VR_OP_GET, VR_OBJ_MPLS, &q, key, NULL, print_label, NULL,
                                NULL);
        if (error) {
            rc = vr_client_fail(&cl, prog, mode == 'D' ? "dump" : "get");
        }
    } else if (mode == 'd') {
        if (vr_client_request(&cl, VR_OP_DEL, VR_OBJ_MPLS, &q, key, NULL, NULL, NULL, NULL)) {
            rc = vr_client_fail(&cl, prog, "delete");
        }
    } else if (vr_client_request(&cl, VR_OP_ADD, VR_OBJ_MPLS, &q, ~UINT64_C(0), NULL, NULL,
                                 NULL, NULL)) {
        rc = vr_client_fail(&cl, prog, "create");
    }
    vr_client_close(&cl);
    return rc;
}
