/* Fuzz target: conf_load_file on arbitrary bytes (written to a temporary file), then
 * conf_parse on the same bytes split into arguments at NUL bytes. */
#include <errno.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz_common.h"

static const struct conf_option opts[] = {
    { "DEFAULTS", "listen_ip_addr", CONF_STRING, "127.0.0.1", "" },
    { "DEFAULTS", "listen_port", CONF_INT, "8082", "" },
    { "DEFAULTS", "log_local", CONF_BOOL, "true", "" },
    { "DEFAULTS", "name", CONF_STRING, NULL, "" },
    { "KEYSTONE", "auth_host", CONF_STRING, "localhost", "" },
    { "KEYSTONE", "auth_port", CONF_INT, "35357", "" },
    { NULL, NULL, 0, NULL, NULL },
};

static char path[64];

static void
remove_file(void)
{
    unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    atexit(remove_file);
    snprintf(path, sizeof path, "/tmp/fuzz_conf.%d.conf", (int) getpid());
    return 0;
}

static void
read_all(const struct conf *c)
{
    for (const struct conf_option *o = opts; o->key; o++) {
        const char *v = conf_get(c, o->key);
        if (v) {
            (void) strlen(v);
        }
        (void) conf_get_int(c, o->key);
        (void) conf_get_bool(c, o->key);
        (void) conf_lookup(c, o->section, o->key);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        abort();
    }
    fwrite(data, 1, size, f);
    fclose(f);

    struct conf *c = conf_create("fuzz", opts);
    char err[256];
    err[0] = '\0';
    int error = conf_load_file(c, path, err, sizeof err);
    if (error && (error != EINVAL || !err[0])) {
        abort();                /* Bad content is EINVAL with a message. */
    }
    if (strnlen(err, sizeof err) >= sizeof err) {
        abort();
    }
    read_all(c);
    conf_destroy(c);

    /* The bytes as a command line: argv[0], then NUL-separated arguments. */
    if (size < 4096) {
        char *copy = fuzz_cstr(data, size);
        char *argv[64];
        int argc = 0;
        argv[argc++] = (char *) "fuzz";
        for (size_t i = 0; i <= size && argc < 63;) {
            argv[argc++] = copy + i;
            i += strlen(copy + i) + 1;
        }
        argv[argc] = NULL;
        /* --conf_file would read arbitrary paths and --help prints: leave them out. */
        bool skip = false;
        for (int i = 1; i < argc; i++) {
            skip |= !strncmp(argv[i], "--conf", 6) || !strncmp(argv[i], "--help", 6)
                    || !strcmp(argv[i], "-h");
        }
        if (!skip) {
            c = conf_create("fuzz", opts);
            err[0] = '\0';
            error = conf_parse(c, argc, argv, err, sizeof err);
            if (error && (error != EINVAL || !err[0])) {
                abort();
            }
            read_all(c);
            conf_destroy(c);
        }
        free(copy);
    }
    return 0;
}
