/* Unit tests of lib/conf: INI files, command line, types, errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "mem.h"

static const struct conf_option opts[] = {
    { "DEFAULTS", "listen_ip_addr", CONF_STRING, "127.0.0.1", "listen address" },
    { "DEFAULTS", "listen_port", CONF_INT, "8082", "port" },
    { "DEFAULTS", "enabled", CONF_BOOL, "false", "a switch" },
    { "DEFAULTS", "name", CONF_STRING, NULL, "no default" },
    { "DEFAULTS", "url", CONF_STRING, NULL, "a value with = and :" },
    { "KEYSTONE", "auth_host", CONF_STRING, "localhost", "in its own section" },
    { NULL, NULL, 0, NULL, NULL },
};

static char tmpdir[64];
static int n_files;

/* Writes TEXT to a new file in the temporary directory; returns its path (static buffer
 * per call, caller copies if needed). */
static const char *
write_file(const char *text)
{
    static char path[8][128];
    char *p = path[n_files % 8];
    snprintf(p, sizeof path[0], "%s/f%d.conf", tmpdir, n_files++);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return p;
}

static int
parse(struct conf *c, char *err, size_t errlen, int argc, ...)
{
    char *argv[32];
    va_list ap;
    va_start(ap, argc);
    argv[0] = (char *) "prog";
    for (int i = 1; i < argc && i < 32; i++) {
        argv[i] = va_arg(ap, char *);
    }
    va_end(ap);
    err[0] = '\0';
    return conf_parse(c, argc, argv, err, errlen);
}

static struct conf *
make(void)
{
    return conf_create("prog", opts);
}

static void
test_defaults(void)
{
    struct conf *c = make();
    char err[256];
    CHECK_EQ_INT(parse(c, err, sizeof err, 1), 0);
    CHECK_STREQ(conf_get(c, "listen_ip_addr"), "127.0.0.1");
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 8082);
    CHECK(!conf_get_bool(c, "enabled"));
    CHECK(conf_get(c, "name") == NULL);
    CHECK(conf_get(c, "no_such_key") == NULL);
    CHECK_EQ_INT(conf_get_int(c, "name"), 0);
    CHECK(!conf_get_bool(c, "name"));
    CHECK(conf_lookup(c, "DEFAULTS", "listen_port") == NULL);
    conf_destroy(c);
    conf_destroy(NULL);
}

static void
test_parse_bool(void)
{
    static const char *const yes[] = { "true", "TRUE", "yes", "Yes", "1", "on", "ON" };
    static const char *const no[] = { "false", "False", "no", "NO", "0", "off", "Off" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        bool b = false;
        CHECK_EQ_INT(conf_parse_bool(yes[i], &b), 0);
        CHECK(b);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        bool b = true;
        CHECK_EQ_INT(conf_parse_bool(no[i], &b), 0);
        CHECK(!b);
    }
    bool b = true;
    CHECK_EQ_INT(conf_parse_bool("maybe", &b), EINVAL);
    CHECK_EQ_INT(conf_parse_bool("", &b), EINVAL);
    CHECK_EQ_INT(conf_parse_bool("2", &b), EINVAL);
    CHECK_EQ_INT(conf_parse_bool("truee", &b), EINVAL);
}

static void
test_file(void)
{
    const char *path = write_file(
        "# a comment\n"
        "; another comment\n"
        "\n"
        "[DEFAULTS]\n"
        "listen_port = 9000\n"
        "listen_ip_addr: 10.0.0.1\n"
        "   enabled   =   yes   \n"
        "name =\n"
        "url = http://example:8080/a=b\n"
        "undeclared_key = hello world\n"
        "  # indented comment\n"
        "[KEYSTONE]\n"
        "auth_host = 203.0.113.1\n"
        "listen_port = 1\n"
        "[ Other ]\n"
        "key=v\n");
    struct conf *c = make();
    char err[256] = "";
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), 0);
    CHECK_STREQ(err, "");
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 9000);      /* KEYSTONE's does not apply. */
    CHECK_STREQ(conf_get(c, "listen_port"), "9000");
    CHECK_STREQ(conf_get(c, "listen_ip_addr"), "10.0.0.1");
    CHECK(conf_get_bool(c, "enabled"));
    CHECK_STREQ(conf_get(c, "name"), "");
    CHECK_STREQ(conf_get(c, "url"), "http://example:8080/a=b");
    CHECK_STREQ(conf_get(c, "auth_host"), "203.0.113.1");
    CHECK_STREQ(conf_lookup(c, "DEFAULTS", "undeclared_key"), "hello world");
    CHECK_STREQ(conf_lookup(c, "defaults", "undeclared_key"), "hello world");
    CHECK_STREQ(conf_lookup(c, "KEYSTONE", "listen_port"), "1");
    CHECK_STREQ(conf_lookup(c, "Other", "key"), "v");
    CHECK(conf_lookup(c, "KEYSTONE", "undeclared_key") == NULL);
    CHECK(conf_lookup(c, "DEFAULTS", "nope") == NULL);
    conf_destroy(c);

    /* Keys before any section header are DEFAULTS; [DEFAULT] is accepted too. */
    path = write_file("listen_port=1234\n[DEFAULT]\nenabled = on\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 1234);
    CHECK(conf_get_bool(c, "enabled"));
    conf_destroy(c);

    /* CRLF line endings and an empty file. */
    path = write_file("[DEFAULTS]\r\nlisten_port = 77\r\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 77);
    conf_destroy(c);
    path = write_file("");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 8082);
    conf_destroy(c);
}

static void
test_file_errors(void)
{
    char err[256];
    struct conf *c = make();
    char missing[128];
    snprintf(missing, sizeof missing, "%s/does-not-exist.conf", tmpdir);
    CHECK_EQ_INT(conf_load_file(c, missing, err, sizeof err), ENOENT);
    CHECK_CONTAINS(err, "does-not-exist.conf");
    conf_destroy(c);

    const char *path = write_file("[DEFAULTS]\nlisten_port = abc\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, "listen_port");
    CHECK_CONTAINS(err, "abc");
    CHECK_CONTAINS(err, ":2:");
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 8082);
    conf_destroy(c);

    static const char *const bad_ints[] = { "12x", "", "99999999999", "-99999999999", "1.5",
                                            "0x10" };
    for (size_t i = 0; i < sizeof bad_ints / sizeof bad_ints[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "listen_port = %s\n", bad_ints[i]);
        path = write_file(text);
        c = make();
        CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), EINVAL);
        CHECK_CONTAINS(err, "listen_port");
        conf_destroy(c);
    }

    path = write_file("enabled = maybe\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, "enabled");
    CHECK_CONTAINS(err, "maybe");
    conf_destroy(c);

    path = write_file("[DEFAULTS\nlisten_port = 1\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, "section");
    conf_destroy(c);

    path = write_file("[DEFAULTS] trailing\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), EINVAL);
    conf_destroy(c);

    path = write_file("[DEFAULTS]\njust some words\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, ":2:");
    conf_destroy(c);

    /* Negative and boundary integers are fine. */
    path = write_file("listen_port = -5\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), -5);
    conf_destroy(c);
    path = write_file("listen_port = 2147483647\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 2147483647);
    conf_destroy(c);
    path = write_file("listen_port = 2147483648\n");
    c = make();
    CHECK_EQ_INT(conf_load_file(c, path, err, sizeof err), EINVAL);
    conf_destroy(c);
}

static void
test_cli(void)
{
    char err[256];
    struct conf *c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 5, "--listen_port", "1234",
                       "--listen_ip_addr=0.0.0.0", "--enabled"), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 1234);
    CHECK_STREQ(conf_get(c, "listen_ip_addr"), "0.0.0.0");
    CHECK(conf_get_bool(c, "enabled"));
    conf_destroy(c);

    /* Dashes in keys become underscores; a bool takes a following value. */
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 5, "--listen-port=99", "--enabled", "off",
                       "--name="), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 99);
    CHECK(!conf_get_bool(c, "enabled"));
    CHECK_STREQ(conf_get(c, "name"), "");
    conf_destroy(c);

    /* A bool flag directly followed by another option. */
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 4, "--enabled", "--listen_port", "5"), 0);
    CHECK(conf_get_bool(c, "enabled"));
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 5);
    conf_destroy(c);

    /* The last occurrence wins. */
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, "--listen_port=1", "--listen_port=2"), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 2);
    conf_destroy(c);
}

static void
test_cli_errors(void)
{
    char err[256];
    struct conf *c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, "--listen_port", "abc"), EINVAL);
    CHECK_CONTAINS(err, "listen_port");
    conf_destroy(c);

    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 2, "--enabled=maybe"), EINVAL);
    CHECK_CONTAINS(err, "enabled");
    conf_destroy(c);

    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, "--bogus", "1"), EINVAL);
    CHECK_CONTAINS(err, "bogus");
    conf_destroy(c);

    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 2, "--bogus=1"), EINVAL);
    CHECK_CONTAINS(err, "bogus");
    conf_destroy(c);

    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 2, "positional"), EINVAL);
    CHECK_CONTAINS(err, "positional");
    conf_destroy(c);

    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 2, "--listen_port"), EINVAL);
    CHECK_CONTAINS(err, "listen_port");
    conf_destroy(c);

    /* A string option followed by another option lacks its value. */
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, "--name", "--enabled"), EINVAL);
    CHECK_CONTAINS(err, "name");
    conf_destroy(c);

    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 2, "--conf_file"), EINVAL);
    CHECK_CONTAINS(err, "conf_file");
    conf_destroy(c);

    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.conf", tmpdir);
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, "--conf_file", missing), EINVAL);
    CHECK_CONTAINS(err, "missing.conf");
    conf_destroy(c);

    const char *bad = write_file("listen_port = nope\n");
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, "--conf_file", bad), EINVAL);
    CHECK_CONTAINS(err, "listen_port");
    conf_destroy(c);

    /* --help: usage on stdout, EAGAIN. */
    c = make();
    fflush(stdout);
    CHECK_EQ_INT(parse(c, err, sizeof err, 2, "--help"), EAGAIN);
    fflush(stdout);
    conf_destroy(c);
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, "--listen_port=1", "-h"), EAGAIN);
    fflush(stdout);
    conf_destroy(c);
}

static void
test_conf_file_and_cli(void)
{
    char err[256];
    char f1[128], f2[128];
    snprintf(f1, sizeof f1, "%s", write_file("[DEFAULTS]\nlisten_port = 9000\nname = file1\n"
                                             "enabled = true\n"));
    snprintf(f2, sizeof f2, "%s", write_file("[DEFAULTS]\nname = file2\n"
                                             "listen_ip_addr = 10.1.1.1\n"));

    /* Command line wins, whether before or after --conf_file. */
    struct conf *c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 5, "--listen_port", "1", "--conf_file", f1), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 1);
    CHECK_STREQ(conf_get(c, "name"), "file1");
    CHECK(conf_get_bool(c, "enabled"));
    conf_destroy(c);

    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 4, "--conf_file", f1, "--listen_port=2"), 0);
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 2);
    conf_destroy(c);

    /* --conf_file=FILE form; several files: the later one wins for a key both set. */
    char arg1[160], arg2[160];
    snprintf(arg1, sizeof arg1, "--conf_file=%s", f1);
    snprintf(arg2, sizeof arg2, "--conf_file=%s", f2);
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 3, arg1, arg2), 0);
    CHECK_STREQ(conf_get(c, "name"), "file2");
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 9000);
    CHECK_STREQ(conf_get(c, "listen_ip_addr"), "10.1.1.1");
    conf_destroy(c);

    /* --conf-file (dashes) works too, and the CLI still wins over both files. */
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 6, "--name", "cli", "--conf-file", f1, arg2), 0);
    CHECK_STREQ(conf_get(c, "name"), "cli");
    CHECK_EQ_INT(conf_get_int(c, "listen_port"), 9000);
    conf_destroy(c);

    /* A bad value in a file is caught even if the command line overrides the key. */
    const char *bad = write_file("listen_port = x\n");
    c = make();
    CHECK_EQ_INT(parse(c, err, sizeof err, 4, "--listen_port=3", "--conf_file", bad), EINVAL);
    conf_destroy(c);
}

static void
test_long_line(void)
{
    /* A line longer than the reader's buffer must not crash. */
    size_t n = 10000;
    char *text = malloc(n + 32);
    strcpy(text, "name = ");
    memset(text + 7, 'a', n);
    strcpy(text + 7 + n, "\n");
    const char *path = write_file(text);
    free(text);
    struct conf *c = make();
    char err[256];
    int error = conf_load_file(c, path, err, sizeof err);
    CHECK(error == 0 || error == EINVAL);
    conf_destroy(c);
}

static long long
live_conf(void)
{
    json_t *j = mem_to_json();
    long long n = json_integer_value(json_object_get(json_object_get(j, "conf"), "live"));
    json_decref(j);
    return n;
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_conf.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_defaults();
    test_parse_bool();
    test_file();
    test_file_errors();
    test_cli();
    test_cli_errors();
    test_conf_file_and_cli();
    test_long_line();
    /* Everything conf allocated was freed. */
    CHECK_EQ_INT(live_conf(), 0);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
    return check_finish();
}
