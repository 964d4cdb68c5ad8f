/* hostlist: server lists as the original daemons' options give them ("10.0.0.1,10.0.0.2:5998"
 * or space-separated), normalized to "host:port,host:port" with a default port. */
#ifndef CONTRAIL_HOSTLIST_H
#define CONTRAIL_HOSTLIST_H

#include <stddef.h>

/* Writes SERVERS (NULL accepted) to OUT as "host:port[,host:port...]", giving PORT to entries
 * without one.  OUT is "" when SERVERS has no entry. */
void hostlist_format(char *out, size_t size, const char *servers, int port);

#endif
