/* api_ifmap: the API server's IF-MAP publisher.
 *
 * Keeps the local IF-MAP server's graph equal to the config store: for every object, the
 * items the original publishes (lib/vnc_ifmap: properties, parent link, references).  It
 * remembers what it published per object (names and a hash of each item), so bringing an
 * object up to date sends only the items that changed and deletes the ones that went away.
 * Objects are named by uuid as changes arrive (api_notify); on a shared store a barrier runs
 * first, so that the change named is in this server's graph before it is rendered.  A new
 * IF-MAP session (start, IF-MAP server restart, lost connection) republishes everything, as
 * does api_ifmap_resync(). */
#ifndef CONTRAIL_API_IFMAP_H
#define CONTRAIL_API_IFMAP_H

#include <jansson.h>
#include <stdbool.h>

struct api_server;

struct api_ifmap_config {
    const char *host;
    int port;
    const char *user, *password;
    bool tls;
};

struct api_ifmap;

struct api_ifmap *api_ifmap_create(struct api_server *, const struct api_ifmap_config *);
void api_ifmap_destroy(struct api_ifmap *);

/* The object UUID (present or deleted) must reach the IF-MAP server as it is now. */
void api_ifmap_changed(struct api_ifmap *, const char *uuid);

/* Every object must be compared with what was published (after a missed message). */
void api_ifmap_resync(struct api_ifmap *);

/* The store has no transaction in flight: work that waited for that may go on. */
void api_ifmap_idle(struct api_ifmap *);

/* True when everything named so far has been published (for tests and benchmarks). */
bool api_ifmap_synced(const struct api_ifmap *);

json_t *api_ifmap_status(const struct api_ifmap *);

#endif
