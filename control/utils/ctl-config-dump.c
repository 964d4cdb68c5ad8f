/* ctl-config-dump: prints what contrail-control derives from the config graph.
 *
 * Connects to the IF-MAP server as contrail-control does (control/config/ctl_ifmap) and prints
 * one JSON line per change: {"kind": "global" | "self" | "peer" | "instance", "op": "add" |
 * "change" | "delete", "value": {...}}.  With --agent NAME it also subscribes an agent NAME to
 * virtual-router default-global-system-config:NAME (and to the VMs of --agent_vms) and prints
 * each config message sent to it: {"kind": "agent", "agent": NAME, "xml": "<config>..."}.
 * Used by the system tests; handy to see what a control node would make of a config. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_ifmap.h"
#include "daemon.h"
#include "disc_client.h"
#include "hostlist.h"
#include "mem.h"
#include "schema.h"

static const struct conf_option options[] = {
    { "DEFAULTS", "hostname", CONF_STRING, NULL, "this control node's name (default: the host's)" },
    { "DEFAULTS", "ifmap_server_ip", CONF_STRING, "127.0.0.1",
      "IF-MAP server address (without discovery)" },
    { "DEFAULTS", "ifmap_server_port", CONF_INT, "8443", "IF-MAP server port" },
    { "DEFAULTS", "ifmap_username", CONF_STRING, "control-user", "IF-MAP user" },
    { "DEFAULTS", "ifmap_password", CONF_STRING, "control-user-passwd", "IF-MAP password" },
    { "DEFAULTS", "ifmap_tls", CONF_BOOL, "true", "IF-MAP over HTTPS" },
    { "DEFAULTS", "disc_server_ip", CONF_STRING, NULL,
      "discovery servers host[:port][,...] to find IfmapServer" },
    { "DEFAULTS", "disc_server_port", CONF_INT, "5998", "discovery port for entries without one" },
    { "DEFAULTS", "settle_ms", CONF_INT, "300", "quiet time that ends the initial graph" },
    { "DEFAULTS", "agent", CONF_STRING, NULL, "also print the config of this agent (vRouter)" },
    { "DEFAULTS", "agent_vms", CONF_STRING, NULL, "VM uuids the agent subscribes to, a,b,..." },
    { "DEFAULTS", "schema_file", CONF_STRING, NULL, "config schema data file" },
    DAEMON_COMMON_OPTIONS("0"),
    { NULL, NULL, 0, NULL, NULL },
};

static void
print_line(const char *kind, enum ctl_config_op op, json_t *value)
{
    json_t *j = xjson_pack("{ssssso}", "kind", kind, "op", ctl_config_op_name(op),
                           "value", value);
    char *s = mem_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    fflush(stdout);
    xfree(s);
    json_decref(j);
}

static void
on_global(void *aux, enum ctl_config_op op, const struct ctl_config_global *g)
{
    (void) aux;
    print_line("global", op, ctl_config_global_to_json(g));
}

static void
on_self(void *aux, enum ctl_config_op op, const struct ctl_config_router *r)
{
    (void) aux;
    print_line("self", op, ctl_config_router_to_json(r));
}

static void
on_peer(void *aux, enum ctl_config_op op, const struct ctl_config_peer *p)
{
    (void) aux;
    print_line("peer", op, ctl_config_peer_to_json(p));
}

static void
on_instance(void *aux, enum ctl_config_op op, const struct ctl_config_instance *i)
{
    (void) aux;
    print_line("instance", op, ctl_config_instance_to_json(i));
}

static void
on_agent(void *aux, const char *agent, const char *xml)
{
    (void) aux;
    json_t *j = xjson_pack("{ssssss}", "kind", "agent", "agent", agent, "xml", xml);
    char *s = mem_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    fflush(stdout);
    xfree(s);
    json_decref(j);
}

int
main(int argc, char **argv)
{
    struct daemon d;
    int rc;
    if (!daemon_start(&d, "ctl-config-dump", options, argc, argv, &rc)) {
        daemon_finish(&d);
        return rc;
    }
    char err[1024];
    const char *schema_file = conf_get(d.conf, "schema_file");
    struct schema *schema = NULL;
    if (schema_load(schema_file ? schema_file : schema_default_path(), &schema, err,
                    sizeof err)) {
        fprintf(stderr, "ctl-config-dump: schema: %s\n", err);
        daemon_finish(&d);
        return 1;
    }
    char host[256];
    const char *hostname = conf_get(d.conf, "hostname");
    if (!hostname) {
        if (gethostname(host, sizeof host)) {
            snprintf(host, sizeof host, "localhost");
        }
        host[sizeof host - 1] = '\0';
        hostname = host;
    }
    char disc_servers[1024];
    hostlist_format(disc_servers, sizeof disc_servers, conf_get(d.conf, "disc_server_ip"),
                    (int) conf_get_int(d.conf, "disc_server_port"));
    struct disc_client *disc = NULL;
    if (*disc_servers) {
        char client[300];
        snprintf(client, sizeof client, "%s:ctl-config-dump", hostname);
        disc = disc_client_create(d.base, disc_servers, client, "ctl-config-dump");
        if (!disc) {
            fprintf(stderr, "ctl-config-dump: disc_server_ip '%s' names no server\n",
                    disc_servers);
            schema_destroy(schema);
            daemon_finish(&d);
            return 2;
        }
    }
    struct ctl_ifmap_config cfg = {
        .hostname = hostname,
        .ifmap_host = conf_get(d.conf, "ifmap_server_ip"),
        .ifmap_port = (int) conf_get_int(d.conf, "ifmap_server_port"),
        .ifmap_user = conf_get(d.conf, "ifmap_username"),
        .ifmap_password = conf_get(d.conf, "ifmap_password"),
        .ifmap_tls = conf_get_bool(d.conf, "ifmap_tls"),
        .settle_ms = (int) conf_get_int(d.conf, "settle_ms"),
    };
    static const struct ctl_config_hooks hooks = {
        .global = on_global, .self = on_self, .peer = on_peer, .instance = on_instance,
    };
    struct ctl_ifmap *f = ctl_ifmap_open(d.base, schema, &cfg, disc, &hooks, NULL, on_agent,
                                         NULL, err, sizeof err);
    if (!f) {
        fprintf(stderr, "ctl-config-dump: %s\n", err);
        rc = 2;
    } else {
        const char *agent = conf_get(d.conf, "agent");
        if (agent && *agent) {
            char vr[512];
            snprintf(vr, sizeof vr, "default-global-system-config:%s", agent);
            ctl_agent_config_subscribe_vr(ctl_ifmap_agents(f), agent, vr);
            const char *vms = conf_get(d.conf, "agent_vms");
            char *list = mem_strdup(&mem_type_string, vms ? vms : ""), *save = NULL;
            for (char *vm = strtok_r(list, ",", &save); vm; vm = strtok_r(NULL, ",", &save)) {
                ctl_agent_config_subscribe_vm(ctl_ifmap_agents(f), agent, vm);
            }
            xfree(list);
        }
        ctl_ifmap_register_introspect(f, d.introspect);
        daemon_run(&d);
        rc = 0;
    }
    ctl_ifmap_close(f);
    disc_client_destroy(disc);
    schema_destroy(schema);
    daemon_finish(&d);
    return rc;
}
