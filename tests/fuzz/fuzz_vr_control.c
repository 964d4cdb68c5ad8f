/* Fuzz target: the vRouter control protocol (vr_msg framing and attribute decoding,
 * vr_model request handling) on arbitrary messages.  Every message must get a well-formed
 * response; the tables stay consistent (a RESET every so often keeps them small). */
#include <string.h>

#include "fuzz_common.h"
#include "vr_model.h"
#include "vr_msg.h"

static struct vrouter *vr;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct vr_limits l;
    vr_limits_default(&l);
    l.interfaces = 16, l.vrfs = 8, l.nexthops = 64, l.mpls_labels = 64;
    l.bridge_entries = 64, l.flow_entries = 64, l.oflow_entries = 16, l.mirror_entries = 4;
    vr = vr_model_create(&l, NULL, NULL);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t msg[VR_MSG_MAX], resp[VR_MSG_MAX];
    static unsigned int runs;
    if (size > VR_MSG_MAX) {
        return 0;
    }
    if (++runs % 500 == 0) {
        vr_model_reset(vr);
    }
    memcpy(msg, data, size);
    /* Mostly framed messages (so the attributes are reached), sometimes raw bytes. */
    if (size >= VR_MSG_HDR_LEN && !(data[0] == 0xff && data[1] == 0xff)) {
        msg[0] = VR_PROTO_MAGIC >> 8;
        msg[1] = VR_PROTO_MAGIC & 0xff;
        if (msg[2] != 0xee) {
            msg[2] = VR_PROTO_VERSION;
        }
        msg[12] = (uint8_t) (size >> 24);
        msg[13] = (uint8_t) (size >> 16);
        msg[14] = (uint8_t) (size >> 8);
        msg[15] = (uint8_t) size;
    }
    size_t len = 0;
    vr_model_request(vr, msg, size, resp, &len);
    struct vr_msg_hdr h;
    if (len < VR_MSG_HDR_LEN || len > VR_MSG_MAX || vr_msg_parse_hdr(resp, len, &h)
        || h.len != len || h.op != VR_OP_RESPONSE) {
        abort();
    }
    /* The response's attributes decode: a code first, objects of the message's type. */
    struct vr_attr_iter it;
    vr_attr_iter_init(&it, resp + VR_MSG_HDR_LEN, len - VR_MSG_HDR_LEN);
    uint16_t type, l;
    const uint8_t *v;
    bool first = true;
    while (vr_attr_next(&it, &type, &v, &l)) {
        if (first && type != VR_A_RESP_CODE) {
            abort();
        }
        first = false;
        if (type == VR_A_OBJECT) {
            _Alignas(8) uint8_t obj[1024];
            uint64_t present;
            char err[200];
            if (vr_msg_decode_object(h.obj, v, l, obj, &present, err, sizeof err)) {
                abort();
            }
        }
    }
    if (it.error || first) {
        abort();
    }
    /* Decoding the input's body as each object type never misbehaves either. */
    if (size > VR_MSG_HDR_LEN) {
        _Alignas(8) uint8_t obj[1024];
        uint64_t present;
        char err[200];
        vr_msg_decode_object((uint16_t) (1 + data[3] % (VR_OBJ_MAX - 1)), data + VR_MSG_HDR_LEN,
                             size - VR_MSG_HDR_LEN, obj, &present, err, sizeof err);
    }
    return 0;
}
