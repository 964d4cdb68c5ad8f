/* vr_ctl: control socket server (see vr_ctl.h). */
#include "vr_ctl.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "mem.h"
#include "vr_model.h"

LOG_MODULE(vr_ctl);

static MEM_TYPE(mem_type_ctl, "vr_ctl");

struct vr_ctl {
    struct vrouter *vr;
    struct evconnlistener *listener;
    char *path;
    struct list conns;
    void (*after)(void *);
    void *aux;
    uint64_t accepted;
    uint8_t *msg, *resp;
};

struct conn {
    struct list node;
    struct vr_ctl *ctl;
    struct bufferevent *bev;
    bool closing;
};

static void
conn_free(struct conn *c)
{
    list_remove(&c->node);
    bufferevent_free(c->bev);
    mem_free(&mem_type_ctl, c);
}

static void
conn_write_done(struct bufferevent *bev, void *aux)
{
    struct conn *c = aux;
    if (c->closing) {
        conn_free(c);
    }
}

static void
conn_read(struct bufferevent *bev, void *aux)
{
    struct conn *c = aux;
    struct vr_ctl *ctl = c->ctl;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!c->closing) {
        size_t avail = evbuffer_get_length(in);
        if (avail < 2) {
            return;
        }
        uint8_t hdr[VR_MSG_HDR_LEN];
        size_t n = avail < sizeof hdr ? avail : sizeof hdr;
        evbuffer_copyout(in, hdr, n);
        struct vr_msg_hdr h;
        int error = vr_msg_parse_hdr(hdr, n, &h);
        if (error == EAGAIN) {
            return;
        }
        size_t resp_len;
        if (error) {
            LOG_WARN("control connection: unframed message (bad magic or length): closing");
            vr_model_error_response(0, 0, EBADMSG, h.magic != VR_PROTO_MAGIC
                                    ? "bad magic: not a vRouter control message"
                                    : "message length out of range 16..65536",
                                    ctl->resp, &resp_len);
            bufferevent_write(bev, ctl->resp, resp_len);
            c->closing = true;
            bufferevent_disable(bev, EV_READ);
            return;
        }
        if (avail < h.len) {
            return;
        }
        evbuffer_remove(in, ctl->msg, h.len);
        vr_model_request(ctl->vr, ctl->msg, h.len, ctl->resp, &resp_len);
        bufferevent_write(bev, ctl->resp, resp_len);
        if (ctl->after) {
            ctl->after(ctl->aux);
        }
    }
}

static void
conn_event(struct bufferevent *bev, short what, void *aux)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        conn_free(aux);
    }
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
          void *aux)
{
    struct vr_ctl *ctl = aux;
    struct conn *c = mem_zalloc(&mem_type_ctl, sizeof *c);
    c->ctl = ctl;
    c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    list_push_back(&ctl->conns, &c->node);
    bufferevent_setcb(c->bev, conn_read, conn_write_done, conn_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    ctl->accepted++;
}

int
vr_ctl_create(struct event_base *base, struct vrouter *vr, const char *path,
              void (*after)(void *), void *aux, struct vr_ctl **out, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    *out = NULL;
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "control socket path %s is too long", path);
        return ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    unlink(path);
    struct vr_ctl *ctl = mem_zalloc(&mem_type_ctl, sizeof *ctl);
    ctl->vr = vr;
    ctl->after = after;
    ctl->aux = aux;
    list_init(&ctl->conns);
    ctl->msg = mem_zalloc(&mem_type_ctl, VR_MSG_MAX);
    ctl->resp = mem_zalloc(&mem_type_ctl, VR_MSG_MAX);
    ctl->listener = evconnlistener_new_bind(base, accept_cb, ctl,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                            (struct sockaddr *) &sun, sizeof sun);
    if (!ctl->listener) {
        int error = errno ? errno : EIO;
        snprintf(err, errlen, "control socket %s: %s", path, strerror(error));
        vr_ctl_destroy(ctl);
        return error;
    }
    ctl->path = mem_strdup(&mem_type_ctl, path);
    *out = ctl;
    return 0;
}

void
vr_ctl_destroy(struct vr_ctl *ctl)
{
    if (!ctl) {
        return;
    }
    struct conn *c;
    LIST_FOR_EACH_SAFE (c, node, &ctl->conns) {
        conn_free(c);
    }
    if (ctl->listener) {
        evconnlistener_free(ctl->listener);
    }
    if (ctl->path) {
        unlink(ctl->path);
        mem_free(&mem_type_ctl, ctl->path);
    }
    mem_free(&mem_type_ctl, ctl->msg);
    mem_free(&mem_type_ctl, ctl->resp);
    mem_free(&mem_type_ctl, ctl);
}

uint64_t
vr_ctl_connections(const struct vr_ctl *ctl)
{
    return ctl->accepted;
}
