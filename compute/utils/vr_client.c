/* vr_client: control-protocol client of the tools (see vr_client.h). */
#include "vr_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
vr_client_open(struct vr_client *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    if (!path) {
        path = getenv("VROUTER_CTL_SOCKET");
    }
    if (!path || !path[0]) {
        path = VR_DEFAULT_CTL_SOCKET;
    }
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(c->err, sizeof c->err, "socket path %s is too long", path);
        return ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        int error = errno;
        snprintf(c->err, sizeof c->err, "cannot connect to the vRouter at %s: %s", path,
                 strerror(error));
        if (c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
        return error;
    }
    c->req = malloc(VR_MSG_MAX);
    c->resp = malloc(VR_MSG_MAX);
    if (!c->req || !c->resp) {
        abort();
    }
    return 0;
}

void
vr_client_close(struct vr_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->req);
    free(c->resp);
    c->fd = -1;
    c->req = c->resp = NULL;
}

static int
read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r == 0 ? ECONNRESET : errno;
        }
        got += (size_t) r;
    }
    return 0;
}

static int
write_full(int fd, const uint8_t *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, buf + done, n - done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return errno ? errno : EIO;
        }
        done += (size_t) r;
    }
    return 0;
}

int
vr_client_request(struct vr_client *c, uint8_t op, uint16_t obj, const void *s,
                  uint64_t which, const void *marker, vr_client_obj_fn *cb, void *aux,
                  bool *more)
{
    const struct vr_obj_desc *d = vr_obj_desc(obj);
    c->err[0] = '\0';
    if (more) {
        *more = false;
    }
    if (!d && op != VR_OP_RESET) {
        snprintf(c->err, sizeof c->err, "unknown object %u", obj);
        return EINVAL;
    }
    struct vr_msgbuf b;
    uint32_t seq = ++c->seq;
    vr_msg_begin(&b, c->req, VR_MSG_MAX, op, obj, 0, seq);
    if (s && d) {
        if (which == ~UINT64_C(0)) {
            which = 0;
            for (size_t i = 0; i < d->n_fields; i++) {
                if (!(d->fields[i].flags & VR_FF_RO)) {
                    which |= UINT64_C(1) << i;
                }
            }
        }
        vr_msg_put_fields(&b, obj, s, which);
    }
    if (marker) {
        vr_msg_put_object(&b, VR_A_MARKER, obj, marker, true, false);
    }
    if (vr_msg_finish(&b)) {
        snprintf(c->err, sizeof c->err, "request too large");
        return EMSGSIZE;
    }
    int error = write_full(c->fd, c->req, b.len);
    if (!error) {
        error = read_full(c->fd, c->resp, VR_MSG_HDR_LEN);
    }
    struct vr_msg_hdr h;
    if (!error) {
        error = vr_msg_parse_hdr(c->resp, VR_MSG_HDR_LEN, &h) ? EBADMSG : 0;
    }
    if (!error) {
        error = read_full(c->fd, c->resp + VR_MSG_HDR_LEN, h.len - VR_MSG_HDR_LEN);
    }
    if (error) {
        snprintf(c->err, sizeof c->err, "talking to the vRouter: %s", strerror(error));
        return error;
    }
    if (h.op != VR_OP_RESPONSE || h.seq != seq) {
        snprintf(c->err, sizeof c->err, "unexpected response (op %u, seq %u)", h.op, h.seq);
        return EBADMSG;
    }
    if (more) {
        *more = h.flags & VR_MSG_F_MORE;
    }
    struct vr_attr_iter it;
    vr_attr_iter_init(&it, c->resp + VR_MSG_HDR_LEN, h.len - VR_MSG_HDR_LEN);
    uint16_t type, len;
    const uint8_t *v;
    int code = 0;
    _Alignas(8) uint8_t objbuf[sizeof(union { struct vr_if_req a; struct vr_nh_req b;
                                  struct vr_route_req c; struct vr_flow_req d;
                                  struct vr_drop_stats_req e; struct vr_info_req f; })];
    while (vr_attr_next(&it, &type, &v, &len)) {
        if (type == VR_A_RESP_CODE && len == 4) {
            code = (int) ((uint32_t) v[0] << 24 | (uint32_t) v[1] << 16 | v[2] << 8 | v[3]);
        } else if (type == VR_A_RESP_MSG) {
            snprintf(c->err, sizeof c->err, "%.*s", (int) len, (const char *) v);
        } else if (type == VR_A_OBJECT && cb) {
            uint64_t present;
            char err[200];
            if (vr_msg_decode_object(obj, v, len, objbuf, &present, err, sizeof err)) {
                snprintf(c->err, sizeof c->err, "bad object in response: %s", err);
                return EBADMSG;
            }
            cb(objbuf, aux);
        }
    }
    if (code && !c->err[0]) {
        snprintf(c->err, sizeof c->err, "%s", strerror(code));
    }
    return code;
}

struct dump_ctx {
    vr_client_obj_fn *cb;
    void *aux;
    _Alignas(8) uint8_t last[sizeof(union { struct vr_if_req a; struct vr_nh_req b; struct vr_route_req c;
                                struct vr_flow_req d; })];
    size_t size;
    bool any;
};

static void
dump_cb(const void *obj, void *aux)
{
    struct dump_ctx *d = aux;
    memcpy(d->last, obj, d->size);
    d->any = true;
    d->cb(obj, d->aux);
}

int
vr_client_dump(struct vr_client *c, uint16_t obj, const void *s, uint64_t which,
               vr_client_obj_fn *cb, void *aux)
{
    const struct vr_obj_desc *desc = vr_obj_desc(obj);
    struct dump_ctx d = { .cb = cb, .aux = aux, .size = desc ? desc->size : 0 };
    if (d.size > sizeof d.last) {
        return EINVAL;
    }
    bool more = true;
    const void *marker = NULL;
    while (more) {
        d.any = false;
        int error = vr_client_request(c, VR_OP_DUMP, obj, s, which, marker, dump_cb, &d,
                                      &more);
        if (error) {
            return error;
        }
        if (!d.any) {
            break;
        }
        marker = d.last;
    }
    return 0;
}

uint64_t
vr_fields(uint16_t obj, ...)
{
    va_list ap;
    va_start(ap, obj);
    uint64_t mask = 0;
    for (int id = va_arg(ap, int); id; id = va_arg(ap, int)) {
        mask |= vr_field_bit(obj, (uint16_t) id);
    }
    va_end(ap);
    return mask;
}

static void
usage_fail(const char *prog, const char *what, const char *s, const char *problem)
{
    fprintf(stderr, "%s: %s '%s': %s\n", prog, what, s ? s : "", problem);
    exit(2);
}

uint32_t
vr_arg_u32(const char *prog, const char *what, const char *s, uint32_t max)
{
    char *end;
    errno = 0;
    if (!s || !*s) {
        usage_fail(prog, what, s, "a number is needed");
    }
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || v > max || s[0] == '-') {
        char buf[64];
        snprintf(buf, sizeof buf, "not a number in 0..%u", max);
        usage_fail(prog, what, s, buf);
    }
    return (uint32_t) v;
}

void
vr_arg_ip(const char *prog, const char *what, const char *s, struct vr_ip *ip)
{
    if (!s || !vr_ip_parse(s, ip)) {
        usage_fail(prog, what, s, "not an IPv4 or IPv6 address");
    }
}

void
vr_arg_mac(const char *prog, const char *what, const char *s, uint8_t mac[6])
{
    if (!s || !vr_mac_parse(s, mac)) {
        usage_fail(prog, what, s, "not a MAC address (aa:bb:cc:dd:ee:ff)");
    }
}

int
vr_client_fail(const struct vr_client *c, const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, c->err[0] ? c->err : "failed");
    return 1;
}
