/* conf: daemon configuration from INI files and the command line.
 *
 * Files use the original daemons' format (`/etc/contrail/contrail-api.conf`: `[DEFAULTS]`,
 * `key = value`, `#`/`;` comments).  A daemon declares its options (section, key, type,
 * default, help); `--conf_file FILE` (repeatable) names the files and every declared key is
 * also settable as `--key value` or `--key=value`, which wins over the files.  Values are
 * checked against their type when parsed, so a daemon never starts on a bad value. */
#ifndef CONTRAIL_CONF_H
#define CONTRAIL_CONF_H

#include <stdbool.h>
#include <stddef.h>

enum conf_type { CONF_STRING, CONF_INT, CONF_BOOL };

struct conf_option {
    const char *section;        /* "DEFAULTS" for most keys. */
    const char *key;
    enum conf_type type;
    const char *def;            /* Default as text; NULL: unset. */
    const char *help;
};

struct conf;

/* Creates a configuration for program PROG with OPTS (terminated by an entry with key NULL). */
struct conf *conf_create(const char *prog, const struct conf_option *opts);
void conf_destroy(struct conf *);

/* Parses ARGV (argv[0] skipped), reading each --conf_file.  Returns 0; on a bad argument,
 * file or value returns EINVAL and writes a message naming it to ERR.  "--help" returns
 * EAGAIN after writing the usage text to stdout. */
int conf_parse(struct conf *, int argc, char **argv, char *err, size_t errlen);

/* Reads one INI file into C (values of declared keys only; others are kept for conf_lookup).
 * Returns 0 or an errno, with a message in ERR. */
int conf_load_file(struct conf *, const char *path, char *err, size_t errlen);

/* Value of declared KEY (its default when unset); NULL when unset with no default. */
const char *conf_get(const struct conf *, const char *key);
long conf_get_int(const struct conf *, const char *key);
bool conf_get_bool(const struct conf *, const char *key);

/* Value of any SECTION/KEY seen in a file, declared or not; NULL when absent. */
const char *conf_lookup(const struct conf *, const char *section, const char *key);

/* Parses TEXT as a boolean ("true/false/yes/no/1/0/on/off").  Returns 0 or EINVAL. */
int conf_parse_bool(const char *text, bool *out);

#endif
