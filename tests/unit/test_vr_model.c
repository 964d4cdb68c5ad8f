/* Unit tests for vr_msg and vr_model: codec round trips for every object, malformed
 * attributes, and control requests on the tables (add/get/del/dump with paging markers,
 * validation errors naming the field, reference counts, limits, reset). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vr_model.h"
#include "vr_msg.h"

static uint8_t req_buf[VR_MSG_MAX], resp_buf[VR_MSG_MAX];

struct result {
    int code;
    char text[256];
    int n_objects;
    bool more;
    _Alignas(8) uint8_t last[sizeof(struct vr_info_req) > sizeof(struct vr_nh_req)
                 ? sizeof(struct vr_info_req) : sizeof(struct vr_nh_req)];
};

/* Sends OP on OBJ with fields WHICH of S (and a MARKER) to VR; decodes the response. */
static struct result
call(struct vrouter *vr, uint8_t op, uint16_t obj, const void *s, uint64_t which,
     const void *marker)
{
    struct vr_msgbuf b;
    vr_msg_begin(&b, req_buf, sizeof req_buf, op, obj, 0, 99);
    if (s) {
        vr_msg_put_fields(&b, obj, s, which);
    }
    if (marker) {
        vr_msg_put_object(&b, VR_A_MARKER, obj, marker, true, false);
    }
    vr_msg_finish(&b);
    size_t len;
    vr_model_request(vr, req_buf, b.len, resp_buf, &len);
    struct result r;
    memset(&r, 0, sizeof r);
    struct vr_msg_hdr h;
    CHECK_EQ_INT(vr_msg_parse_hdr(resp_buf, len, &h), 0);
    CHECK_EQ_INT(h.seq, 99);
    CHECK_EQ_INT(h.op, VR_OP_RESPONSE);
    r.more = h.flags & VR_MSG_F_MORE;
    struct vr_attr_iter it;
    vr_attr_iter_init(&it, resp_buf + VR_MSG_HDR_LEN, len - VR_MSG_HDR_LEN);
    uint16_t type, l;
    const uint8_t *v;
    while (vr_attr_next(&it, &type, &v, &l)) {
        if (type == VR_A_RESP_CODE) {
            r.code = v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3];
        } else if (type == VR_A_RESP_MSG) {
            snprintf(r.text, sizeof r.text, "%.*s", (int) l, (const char *) v);
        } else if (type == VR_A_OBJECT) {
            uint64_t present;
            char err[128];
            CHECK_EQ_INT(vr_msg_decode_object(obj, v, l, r.last, &present, err, sizeof err), 0);
            r.n_objects++;
        }
    }
    CHECK_EQ_INT(it.error, 0);
    return r;
}

#define ALL ~UINT64_C(0)

/* Every writable field of OBJ. */
static uint64_t
vr_fields_mask(uint16_t obj)
{
    const struct vr_obj_desc *d = vr_obj_desc(obj);
    uint64_t m = 0;
    for (size_t i = 0; i < d->n_fields; i++) {
        if (!(d->fields[i].flags & VR_FF_RO)) {
            m |= UINT64_C(1) << i;
        }
    }
    return m;
}

/* A mask of fields given by attribute id, ending with 0 (as the tools' vr_fields). */
static uint64_t
vr_fields(uint16_t obj, ...)
{
    va_list ap;
    va_start(ap, obj);
    uint64_t m = 0;
    for (int id = va_arg(ap, int); id; id = va_arg(ap, int)) {
        m |= vr_field_bit(obj, (uint16_t) id);
    }
    va_end(ap);
    return m;
}

static void
test_codec(void)
{
    /* Every object survives encode + decode with all its fields. */
    struct vr_nh_req nh, back;
    memset(&nh, 0, sizeof nh);
    nh.id = 77;
    nh.type = NH_COMPOSITE;
    nh.family = VR_AF_INET6;
    nh.flags = NH_FLAG_VALID | NH_FLAG_COMPOSITE_ECMP;
    nh.nh_count = 3;
    nh.nh_list[0] = 1, nh.nh_list[1] = 2, nh.nh_list[2] = 0xfffffff0;
    nh.label_count = 3;
    nh.label_list[2] = 0xfffff;
    nh.encap_len = 14;
    memset(nh.encap, 0xab, 14);
    vr_ip_parse("2001:db8::1", &nh.tun_sip);
    nh.tun_dport = 4789;
    nh.ref_cnt = 9;
    struct vr_msgbuf b;
    vr_msg_begin(&b, req_buf, sizeof req_buf, VR_OP_ADD, VR_OBJ_NH, 0, 1);
    vr_msg_put_object(&b, VR_A_OBJECT, VR_OBJ_NH, &nh, false, true);
    CHECK_EQ_INT(vr_msg_finish(&b), 0);
    struct vr_msg_hdr h;
    CHECK_EQ_INT(vr_msg_parse_hdr(req_buf, b.len, &h), 0);
    CHECK_EQ_INT(h.len, b.len);
    uint64_t present;
    char err[128];
    CHECK_EQ_INT(vr_msg_decode_object(VR_OBJ_NH, req_buf + VR_MSG_HDR_LEN + 4,
                                      b.len - VR_MSG_HDR_LEN - 4, &back, &present, err,
                                      sizeof err), 0);
    CHECK(!memcmp(&nh, &back, sizeof nh));

    /* Malformed attributes are refused with the field named. */
    uint8_t bad[] = { 0, 16, 0, 2, 0, 1, 0, 0 };         /* idx with 2 bytes */
    CHECK_EQ_INT(vr_msg_decode_object(VR_OBJ_IF, bad, sizeof bad, &back, &present, err,
                                      sizeof err), EINVAL);
    CHECK_CONTAINS(err, "idx");
    uint8_t trunc[] = { 0, 16, 0, 8, 0, 0 };
    CHECK_EQ_INT(vr_msg_decode_object(VR_OBJ_IF, trunc, sizeof trunc, &back, &present, err,
                                      sizeof err), EINVAL);
    CHECK_CONTAINS(err, "truncated");
    uint8_t ip5[] = { 0, 25, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0 };  /* if ip with 5 bytes */
    CHECK_EQ_INT(vr_msg_decode_object(VR_OBJ_IF, ip5, sizeof ip5, &back, &present, err,
                                      sizeof err), EINVAL);
    CHECK_CONTAINS(err, "address length 5");
    uint8_t name_nul[] = { 0, 23, 0, 3, 'a', 0, 'b', 0 };
    CHECK_EQ_INT(vr_msg_decode_object(VR_OBJ_IF, name_nul, sizeof name_nul, &back, &present,
                                      err, sizeof err), EINVAL);
    CHECK_EQ_INT(vr_msg_parse_hdr((const uint8_t *) "\x56\x52\x01\x02\x00\x01\x00\x00"
                                  "\x00\x00\x00\x01\x00\x00\x00\x05", 16, &h), EBADMSG);
    CHECK_EQ_INT(vr_msg_parse_hdr((const uint8_t *) "XY", 2, &h), EBADMSG);
    CHECK_EQ_INT(vr_msg_parse_hdr((const uint8_t *) "VR", 2, &h), EAGAIN);

    /* Formatting helpers. */
    uint8_t mac[6];
    CHECK(vr_mac_parse("0:0:5e:0:1:0", mac));
    char buf[64];
    CHECK_STREQ(vr_mac_format(mac, buf), "0:0:5e:0:1:0");
    CHECK(!vr_mac_parse("0:0:5e:0:1:100", mac));
    CHECK_STREQ(vr_drop_name(VP_DROP_FLOW_ACTION_DROP), "flow_action_drop");
}

static void
test_requests(void)
{
    struct vr_limits l;
    vr_limits_default(&l);
    l.interfaces = 8;
    l.nexthops = 64;
    l.vrfs = 8;
    l.mpls_labels = 32;
    l.bridge_entries = 16;
    l.flow_entries = 64;
    l.oflow_entries = 8;
    l.mirror_entries = 4;
    struct vrouter *vr = vr_model_create(&l, NULL, NULL);
    struct result r;

    /* Interfaces: validation names the problem. */
    struct vr_if_req vif;
    memset(&vif, 0, sizeof vif);
    vif.idx = 3;
    vif.type = VIF_TYPE_VIRTUAL;
    vif.vrf = 1;
    vif.nh_id = 10;
    strcpy(vif.name, "tap0");
    uint64_t vif_fields = vr_fields_mask(VR_OBJ_IF);
    r = call(vr, VR_OP_ADD, VR_OBJ_IF, &vif, vif_fields, NULL);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(r.n_objects, 1);
    vif.idx = 9;
    r = call(vr, VR_OP_ADD, VR_OBJ_IF, &vif, vif_fields, NULL);
    CHECK_EQ_INT(r.code, EINVAL);
    CHECK_CONTAINS(r.text, "out of range (limit 8)");
    vif.idx = 4;
    r = call(vr, VR_OP_ADD, VR_OBJ_IF, &vif, vif_fields, NULL);
    CHECK_EQ_INT(r.code, EEXIST);                       /* tap0 is already vif0/3 */
    CHECK_CONTAINS(r.text, "already vif0/3");
    vif.idx = 5;
    vif.type = 9;
    r = call(vr, VR_OP_ADD, VR_OBJ_IF, &vif, vif_fields, NULL);
    CHECK_EQ_INT(r.code, EINVAL);

    /* Next hops and reference counts. */
    struct vr_nh_req nh;
    memset(&nh, 0, sizeof nh);
    nh.id = 10;
    nh.type = NH_ENCAP;
    nh.encap_oif = 3;
    r = call(vr, VR_OP_ADD, VR_OBJ_NH, &nh, vr_fields(VR_OBJ_NH, VR_NH_A_ID, VR_NH_A_TYPE,
                                                         VR_NH_A_ENCAP_OIF, 0), NULL);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(((struct vr_nh_req *) r.last)->ref_cnt, 2);   /* the vif + itself */
    nh.id = 11;
    nh.type = NH_TUNNEL;
    nh.flags = NH_FLAG_VALID | NH_FLAG_TUNNEL_VXLAN | NH_FLAG_TUNNEL_GRE;
    vr_ip_parse("198.51.100.1", &nh.tun_sip);
    vr_ip_parse("198.51.100.2", &nh.tun_dip);
    uint64_t tun_fields = vr_fields(VR_OBJ_NH, VR_NH_A_ID, VR_NH_A_TYPE, VR_NH_A_FLAGS,
                                    VR_NH_A_TUN_SIP, VR_NH_A_TUN_DIP, 0);
    r = call(vr, VR_OP_ADD, VR_OBJ_NH, &nh, tun_fields, NULL);
    CHECK_EQ_INT(r.code, EINVAL);
    CHECK_CONTAINS(r.text, "exactly one");
    nh.flags = NH_FLAG_VALID | NH_FLAG_TUNNEL_UDP_MPLS;
    r = call(vr, VR_OP_ADD, VR_OBJ_NH, &nh, tun_fields, NULL);
    CHECK_EQ_INT(r.code, 0);

    /* Routes: masking, LPM get, dump paging with a marker, delete. */
    struct vr_route_req rt;
    memset(&rt, 0, sizeof rt);
    rt.vrf = 1;
    rt.family = VR_AF_INET;
    vr_ip_parse("203.0.113.5", &rt.prefix);
    rt.plen = 24;
    rt.nh_id = 11;
    uint64_t rt_fields = vr_fields(VR_OBJ_ROUTE, VR_RT_A_VRF, VR_RT_A_FAMILY, VR_RT_A_PREFIX,
                                   VR_RT_A_PLEN, VR_RT_A_NH_ID, VR_RT_A_LABEL,
                                   VR_RT_A_LABEL_FLAGS, 0);
    r = call(vr, VR_OP_ADD, VR_OBJ_ROUTE, &rt, rt_fields, NULL);
    CHECK_EQ_INT(r.code, EINVAL);
    CHECK_CONTAINS(r.text, "beyond /24");
    for (int i = 0; i < 100; i++) {
        char a[32];
        snprintf(a, sizeof a, "203.0.113.%d", i);
        vr_ip_parse(a, &rt.prefix);
        rt.plen = 32;
        rt.label = 16 + (uint32_t) i;
        rt.label_flags = VR_RT_LABEL_VALID_FLAG;
        CHECK_EQ_INT(call(vr, VR_OP_ADD, VR_OBJ_ROUTE, &rt, rt_fields, NULL).code, 0);
    }
    CHECK_EQ_INT(vr->routes_used, 100);
    CHECK_EQ_INT(vr_route_lookup(vr, 1, 4, (const uint8_t[]) { 203, 0, 113, 42 })->label, 58);
    CHECK(vr_route_lookup(vr, 1, 4, (const uint8_t[]) { 203, 0, 113, 142 }) == NULL);
    int total = 0, pages = 0;
    struct vr_route_req marker;
    bool have_marker = false, more = true;
    while (more) {
        r = call(vr, VR_OP_DUMP, VR_OBJ_ROUTE, &rt,
                 vr_fields(VR_OBJ_ROUTE, VR_RT_A_VRF, VR_RT_A_FAMILY, 0),
                 have_marker ? &marker : NULL);
        CHECK_EQ_INT(r.code, 0);
        total += r.n_objects;
        pages++;
        more = r.more;
        memcpy(&marker, r.last, sizeof marker);
        have_marker = true;
        if (pages > 10) {
            break;
        }
    }
    CHECK_EQ_INT(total, 100);
    CHECK(pages >= 2);
    CHECK_EQ_INT(call(vr, VR_OP_DEL, VR_OBJ_ROUTE, &rt, rt_fields, NULL).code, 0);
    CHECK_EQ_INT(call(vr, VR_OP_DEL, VR_OBJ_ROUTE, &rt, rt_fields, NULL).code, ENOENT);
    CHECK_EQ_INT(vr->routes_used, 99);

    /* MPLS, VXLAN. */
    struct vr_mpls_req m = { 5, 10 };
    r = call(vr, VR_OP_ADD, VR_OBJ_MPLS, &m, ALL >> 62, NULL);
    CHECK_EQ_INT(r.code, EINVAL);
    m.label = 20;
    CHECK_EQ_INT(call(vr, VR_OP_ADD, VR_OBJ_MPLS, &m, ALL >> 62, NULL).code, 0);
    CHECK_EQ_INT(vr_mpls_lookup(vr, 20), 10);
    struct vr_vxlan_req x = { 1u << 24, 10 };
    CHECK_EQ_INT(call(vr, VR_OP_ADD, VR_OBJ_VXLAN, &x, ALL >> 62, NULL).code, EINVAL);
    x.vnid = 4242;
    CHECK_EQ_INT(call(vr, VR_OP_ADD, VR_OBJ_VXLAN, &x, ALL >> 62, NULL).code, 0);
    CHECK_EQ_INT(vr_vxlan_lookup(vr, 4242), 10);
    struct vr_nh_req q = { .id = 10 };
    r = call(vr, VR_OP_GET, VR_OBJ_NH, &q, vr_fields(VR_OBJ_NH, VR_NH_A_ID, 0), NULL);
    CHECK_EQ_INT(((struct vr_nh_req *) r.last)->ref_cnt, 4);   /* vif, label, vni, itself */

    /* Flows: create by key, update by index with a generation check, NAT needs a flag. */
    struct vr_flow_req f;
    memset(&f, 0, sizeof f);
    f.action = VR_FLOW_ACTION_FORWARD;
    vr_ip_parse("203.0.113.1", &f.sip);
    vr_ip_parse("203.0.113.2", &f.dip);
    f.proto = 17;
    f.sport = 1000;
    f.dport = 53;
    f.nh_id = 10;
    uint64_t fl = vr_fields(VR_OBJ_FLOW, VR_FL_A_ACTION, VR_FL_A_SIP, VR_FL_A_DIP,
                            VR_FL_A_PROTO, VR_FL_A_SPORT, VR_FL_A_DPORT, VR_FL_A_NH_ID,
                            VR_FL_A_FLAGS, 0);
    r = call(vr, VR_OP_ADD, VR_OBJ_FLOW, &f, fl, NULL);
    CHECK_EQ_INT(r.code, 0);
    struct vr_flow_req got = *(struct vr_flow_req *) r.last;
    CHECK(got.index < 72);
    CHECK_EQ_INT(vr->flows.added, 1);
    f.index = got.index;
    f.gen_id = (uint8_t) (got.gen_id + 1);
    r = call(vr, VR_OP_ADD, VR_OBJ_FLOW, &f, fl | vr_fields(VR_OBJ_FLOW, VR_FL_A_INDEX,
                                                             VR_FL_A_GEN_ID, 0), NULL);
    CHECK_EQ_INT(r.code, ESTALE);
    f.action = VR_FLOW_ACTION_NAT;
    f.gen_id = got.gen_id;
    r = call(vr, VR_OP_ADD, VR_OBJ_FLOW, &f, fl | vr_fields(VR_OBJ_FLOW, VR_FL_A_INDEX,
                                                             VR_FL_A_GEN_ID, 0), NULL);
    CHECK_EQ_INT(r.code, EINVAL);
    CHECK_CONTAINS(r.text, "SNAT");
    f.flags = VR_RFLOW_VALID;
    f.rindex = 3;
    f.action = VR_FLOW_ACTION_FORWARD;
    r = call(vr, VR_OP_ADD, VR_OBJ_FLOW, &f, fl | vr_fields(VR_OBJ_FLOW, VR_FL_A_INDEX,
                                                             VR_FL_A_RINDEX, 0), NULL);
    CHECK_EQ_INT(r.code, got.index == 3 ? 0 : EINVAL);

    /* Info: set and get. */
    struct vr_info_req info;
    memset(&info, 0, sizeof info);
    info.flow_hold_limit = 5;
    r = call(vr, VR_OP_ADD, VR_OBJ_INFO, &info, vr_fields(VR_OBJ_INFO,
                                                           VR_INFO_A_FLOW_HOLD_LIMIT, 0), NULL);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(((struct vr_info_req *) r.last)->flow_hold_limit, 5);
    CHECK_EQ_INT(((struct vr_info_req *) r.last)->interfaces, 8);

    /* Ops an object does not have, unknown objects, bad versions. */
    CHECK_EQ_INT(call(vr, VR_OP_DEL, VR_OBJ_INFO, NULL, 0, NULL).code, EOPNOTSUPP);
    CHECK_EQ_INT(call(vr, VR_OP_GET, 42, NULL, 0, NULL).code, EINVAL);
    struct vr_msgbuf b;
    vr_msg_begin(&b, req_buf, sizeof req_buf, VR_OP_GET, VR_OBJ_INFO, 0, 99);
    vr_msg_finish(&b);
    req_buf[2] = 7;
    size_t len;
    vr_model_request(vr, req_buf, b.len, resp_buf, &len);
    CHECK(len > VR_MSG_HDR_LEN);
    CHECK_EQ_INT(resp_buf[VR_MSG_HDR_LEN + 7], EPROTONOSUPPORT);

    /* Reset. */
    vr_model_reset(vr);
    CHECK_EQ_INT(vr->routes_used, 0);
    CHECK(vr_nh_get(vr, 10) == NULL && vr_nh_get(vr, 0) != NULL);
    CHECK_EQ_INT(vr->flows.used, 0);
    vr_model_destroy(vr);
}

int
main(void)
{
    test_codec();
    test_requests();
    return check_finish();
}
