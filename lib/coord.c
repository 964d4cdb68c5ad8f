/* coord: backend selection and the thin wrappers every caller goes through (see coord.h). */
#include "coord.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define COORD_DEFAULT_SESSION_TIMEOUT_MS 10000

/* Whether SPEC looks like a bare ZooKeeper connect string: "host:port[,host:port...]"
 * (an optional chroot suffix "/path" is allowed after the last port, as the client takes). */
static bool
looks_like_hosts(const char *spec)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec) {
        return false;
    }
    return colon[1] >= '0' && colon[1] <= '9';
}

int
coord_open(struct event_base *base, const char *spec, int session_timeout_ms,
           struct coord **coordp, char *err, size_t errlen)
{
    *coordp = NULL;
    if (session_timeout_ms < 0) {
        snprintf(err, errlen, "coordination: session timeout %d ms is negative",
                 session_timeout_ms);
        return EINVAL;
    }
    if (!session_timeout_ms) {
        session_timeout_ms = COORD_DEFAULT_SESSION_TIMEOUT_MS;
    }
    if (!spec || !*spec || !strcmp(spec, "local")) {
        return coord_local_class.open(base, "", session_timeout_ms, coordp, err, errlen);
    }
    if (!strncmp(spec, "zk:", 3)) {
        if (!spec[3]) {
            snprintf(err, errlen, "coordination %s: missing server list (zk:host:port,...)",
                     spec);
            return EINVAL;
        }
        return coord_zk_class.open(base, spec + 3, session_timeout_ms, coordp, err, errlen);
    }
    if (looks_like_hosts(spec)) {
        return coord_zk_class.open(base, spec, session_timeout_ms, coordp, err, errlen);
    }
    snprintf(err, errlen, "coordination %s: unknown backend (use \"local\" or "
             "\"zk:host:port,...\")", spec);
    return EINVAL;
}

void
coord_close(struct coord *c)
{
    if (c) {
        c->class->close(c);
    }
}

enum coord_state
coord_state(const struct coord *c)
{
    return c->class->state(c);
}

void
coord_set_state_cb(struct coord *c, coord_state_fn *cb, void *aux)
{
    c->class->set_state_cb(c, cb, aux);
}

void
coord_create(struct coord *c, const char *path, const char *value, size_t len, unsigned flags,
             coord_done_fn *done, void *aux)
{
    c->class->create(c, path, value, len, flags, done, aux);
}

void
coord_set(struct coord *c, const char *path, const char *value, size_t len, coord_done_fn *done,
          void *aux)
{
    c->class->set(c, path, value, len, -1, done, aux);
}

void
coord_set_version(struct coord *c, const char *path, const char *value, size_t len,
                  int version, coord_done_fn *done, void *aux)
{
    c->class->set(c, path, value, len, version < 0 ? 0 : version, done, aux);
}

void
coord_get(struct coord *c, const char *path, coord_get_fn *cb, void *aux)
{
    c->class->get(c, path, cb, aux);
}

void
coord_delete(struct coord *c, const char *path, coord_done_fn *done, void *aux)
{
    c->class->delete(c, path, done, aux);
}

void
coord_list(struct coord *c, const char *path, coord_list_fn *cb, void *aux)
{
    c->class->list(c, path, cb, aux);
}

void
coord_watch_children(struct coord *c, const char *path, coord_watch_fn *cb, void *aux)
{
    c->class->watch_children(c, path, cb, aux);
}

struct coord_election *
coord_elect(struct coord *c, const char *path, const char *id, coord_leader_fn *cb, void *aux)
{
    return c->class->elect(c, path, id, cb, aux);
}

bool
coord_is_leader(const struct coord_election *e)
{
    return e && e->coord->class->is_leader(e);
}

void
coord_resign(struct coord_election *e)
{
    if (e) {
        e->coord->class->resign(e);
    }
}

void
coord_sync(struct coord *c, const char *path, coord_done_fn *done, void *aux)
{
    c->class->sync(c, path, done, aux);
}
