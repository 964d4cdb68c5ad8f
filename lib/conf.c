/* conf: INI files plus command-line overrides (see conf.h). */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

static MEM_TYPE(mem_type_conf, "conf");

struct conf_entry {
    char *section;
    char *key;
    char *value;
    struct conf_entry *next;
};

struct conf {
    char *prog;
    const struct conf_option *opts;
    size_t n_opts;
    char **values;              /* Per declared option: effective value or NULL. */
    bool *from_cli;             /* Set on the command line: files do not override. */
    struct conf_entry *entries; /* Everything read from files. */
};

struct conf *
conf_create(const char *prog, const struct conf_option *opts)
{
    struct conf *c = mem_zalloc(&mem_type_conf, sizeof *c);
    c->prog = mem_strdup(&mem_type_conf, prog);
    c->opts = opts;
    while (opts[c->n_opts].key) {
        c->n_opts++;
    }
    c->values = mem_zalloc(&mem_type_conf, (c->n_opts + 1) * sizeof *c->values);
    c->from_cli = mem_zalloc(&mem_type_conf, (c->n_opts + 1) * sizeof *c->from_cli);
    return c;
}

void
conf_destroy(struct conf *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n_opts; i++) {
        mem_free(&mem_type_conf, c->values[i]);
    }
    for (struct conf_entry *e = c->entries, *next; e; e = next) {
        next = e->next;
        mem_free(&mem_type_conf, e->section);
        mem_free(&mem_type_conf, e->key);
        mem_free(&mem_type_conf, e->value);
        mem_free(&mem_type_conf, e);
    }
    mem_free(&mem_type_conf, c->values);
    mem_free(&mem_type_conf, c->from_cli);
    mem_free(&mem_type_conf, c->prog);
    mem_free(&mem_type_conf, c);
}

static int
conf_find(const struct conf *c, const char *key)
{
    for (size_t i = 0; i < c->n_opts; i++) {
        if (!strcmp(c->opts[i].key, key)) {
            return (int) i;
        }
    }
    return -1;
}

int
conf_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = { "true", "yes", "1", "on" };
    static const char *const no[] = { "false", "no", "0", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(text, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(text, no[i])) {
            *out = false;
            return 0;
        }
    }
    return EINVAL;
}

static int
conf_check(const struct conf_option *o, const char *value, char *err, size_t errlen)
{
    if (o->type == CONF_INT) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < INT_MIN || v > INT_MAX) {
            snprintf(err, errlen, "%s: invalid integer value '%s'", o->key, value);
            return EINVAL;
        }
    } else if (o->type == CONF_BOOL) {
        bool b;
        if (conf_parse_bool(value, &b)) {
            snprintf(err, errlen, "%s: invalid boolean value '%s'", o->key, value);
            return EINVAL;
        }
    }
    return 0;
}

static int
conf_set(struct conf *c, int idx, const char *value, bool cli, char *err, size_t errlen)
{
    int error = conf_check(&c->opts[idx], value, err, errlen);
    if (error) {
        return error;
    }
    if (cli || !c->from_cli[idx]) {
        mem_free(&mem_type_conf, c->values[idx]);
        c->values[idx] = mem_strdup(&mem_type_conf, value);
        c->from_cli[idx] |= cli;
    }
    return 0;
}

static char *
conf_trim(char *s)
{
    while (isspace((unsigned char) *s)) {
        s++;
    }
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1])) {
        *--e = '\0';
    }
    return s;
}

int
conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int error = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(error));
        return error;
    }
    char *line = NULL;
    size_t cap = 0;
    char section[256] = "DEFAULTS";
    int lineno = 0;
    int error = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = conf_trim(line);
        if (!*s || *s == '#' || *s == ';') {
            continue;
        }
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || end[1]) {
                snprintf(err, errlen, "%s:%d: malformed section header", path, lineno);
                error = EINVAL;
                break;
            }
            *end = '\0';
            snprintf(section, sizeof section, "%s", conf_trim(s + 1));
            continue;
        }
        char *eq = strpbrk(s, "=:");
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            error = EINVAL;
            break;
        }
        *eq = '\0';
        char *key = conf_trim(s);
        char *value = conf_trim(eq + 1);

        struct conf_entry *e = mem_zalloc(&mem_type_conf, sizeof *e);
        e->section = mem_strdup(&mem_type_conf, section);
        e->key = mem_strdup(&mem_type_conf, key);
        e->value = mem_strdup(&mem_type_conf, value);
        e->next = c->entries;
        c->entries = e;

        int idx = conf_find(c, key);
        if (idx >= 0 && (!strcasecmp(c->opts[idx].section, section)
                         || !strcasecmp(section, "DEFAULTS")
                         || !strcasecmp(section, "DEFAULT"))) {
            char msg[256];
            if (conf_set(c, idx, value, false, msg, sizeof msg)) {
                snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
                error = EINVAL;
                break;
            }
        }
    }
    free(line);
    fclose(f);
    return error;
}

static void
conf_usage(const struct conf *c)
{
    printf("usage: %s [--conf_file FILE]... [--key value]...\n\noptions:\n", c->prog);
    for (size_t i = 0; i < c->n_opts; i++) {
        const struct conf_option *o = &c->opts[i];
        printf("  --%-28s %s%s%s%s\n", o->key, o->help ? o->help : "",
               o->def ? " (default " : "", o->def ? o->def : "", o->def ? ")" : "");
    }
}

int
conf_parse(struct conf *c, int argc, char **argv, char *err, size_t errlen)
{
    /* Files first, so that command-line values win whatever the order. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *file = NULL;
        if (!strcmp(a, "--conf_file") || !strcmp(a, "--conf-file")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "%s: missing value", a);
                return EINVAL;
            }
            file = argv[++i];
        } else if (!strncmp(a, "--conf_file=", 12)) {
            file = a + 12;
        }
        if (file) {
            int error = conf_load_file(c, file, err, errlen);
            if (error) {
                return EINVAL;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            conf_usage(c);
            return EAGAIN;
        }
        if (strncmp(a, "--", 2)) {
            snprintf(err, errlen, "unexpected argument '%s'", a);
            return EINVAL;
        }
        char key[128];
        const char *value;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int) (eq - a - 2), a + 2);
            value = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", a + 2);
            value = NULL;
        }
        for (char *p = key; *p; p++) {
            if (*p == '-') {
                *p = '_';
            }
        }
        if (!strcmp(key, "conf_file")) {
            i += !eq;
            continue;
        }
        int idx = conf_find(c, key);
        if (idx < 0) {
            snprintf(err, errlen, "unknown option '--%s' (see --help)", key);
            return EINVAL;
        }
        if (!value) {
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) {
                value = argv[++i];
            } else if (c->opts[idx].type == CONF_BOOL) {
                value = "true";
            } else {
                snprintf(err, errlen, "--%s: missing value", key);
                return EINVAL;
            }
        }
        if (conf_set(c, idx, value, true, err, errlen)) {
            return EINVAL;
        }
    }
    return 0;
}

const char *
conf_get(const struct conf *c, const char *key)
{
    int idx = conf_find(c, key);
    if (idx < 0) {
        return NULL;
    }
    return c->values[idx] ? c->values[idx] : c->opts[idx].def;
}

long
conf_get_int(const struct conf *c, const char *key)
{
    const char *v = conf_get(c, key);
    return v ? strtol(v, NULL, 10) : 0;
}

bool
conf_get_bool(const struct conf *c, const char *key)
{
    const char *v = conf_get(c, key);
    bool b = false;
    if (v) {
        conf_parse_bool(v, &b);
    }
    return b;
}

const char *
conf_lookup(const struct conf *c, const char *section, const char *key)
{
    for (const struct conf_entry *e = c->entries; e; e = e->next) {
        if (!strcasecmp(e->section, section) && !strcmp(e->key, key)) {
            return e->value;
        }
    }
    return NULL;
}
