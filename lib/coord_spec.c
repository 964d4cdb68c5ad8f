/* coord_spec: coord_open specs from the original daemons' ZooKeeper options (see coord.h). */
#include "coord.h"

#include <stdio.h>

#include "hostlist.h"

void
coord_spec_from_conf(char *spec, size_t size, const char *servers, int port)
{
    char list[1024];
    hostlist_format(list, sizeof list, servers, port);
    snprintf(spec, size, "%s%s", *list ? "zk:" : "local", list);
}
