/* st_server: contrail-schema's connections around the transformer (st_xform).
 *
 * Finds contrail-api and the IF-MAP server (through discovery, ApiServer / IfmapServer, when
 * a discovery server is configured, else from the options), keeps an IF-MAP session that
 * subscribes to the whole graph (contrail:config-root:root, depth 255) and feeds every poll
 * result to the transformer, and runs for leadership at /schema-transformer in the
 * coordination service (ZooKeeper, or in-process), so that only the leader writes. */
#ifndef CONTRAIL_ST_SERVER_H
#define CONTRAIL_ST_SERVER_H

#include <event2/event.h>
#include <stdbool.h>

struct coord;
struct introspect;
struct schema;

struct st_server_config {
    const char *disc_servers;       /* "host:port,..." or NULL / "": none. */
    const char *api_host;           /* Used without discovery. */
    int api_port;
    const char *ifmap_host;
    int ifmap_port;
    const char *ifmap_user, *ifmap_password;
    bool ifmap_tls;
    const char *election_id;        /* This contender's name. */
    bool logical_routers_enabled;
    int api_conns;
};

struct st_server;

/* Starts everything on BASE.  COORD is borrowed (open already).  Returns NULL with a message
 * in ERR on a configuration error. */
struct st_server *st_server_open(struct event_base *, const struct schema *, struct coord *,
                                 const struct st_server_config *, char *err, size_t errlen);
void st_server_close(struct st_server *);
void st_server_register_introspect(struct st_server *, struct introspect *);

#endif
