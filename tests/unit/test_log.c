/* Unit tests of lib/log. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

LOG_MODULE(test_log);

static char tmpdir[64];
static char logpath[128];

/* Reads the log file into a new string (caller frees). */
static char *
slurp(void)
{
    FILE *f = fopen(logpath, "r");
    if (!f) {
        return calloc(1, 1);
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) {
        n++;
    }
    return n;
}

static void
test_levels(void)
{
    CHECK_EQ_INT(log_level_from_string("err"), LOG_LEVEL_ERR);
    CHECK_EQ_INT(log_level_from_string("error"), LOG_LEVEL_ERR);
    CHECK_EQ_INT(log_level_from_string("SYS_ERR"), LOG_LEVEL_ERR);
    CHECK_EQ_INT(log_level_from_string("SYS_EMERG"), LOG_LEVEL_ERR);
    CHECK_EQ_INT(log_level_from_string("SYS_CRIT"), LOG_LEVEL_ERR);
    CHECK_EQ_INT(log_level_from_string("warn"), LOG_LEVEL_WARN);
    CHECK_EQ_INT(log_level_from_string("warning"), LOG_LEVEL_WARN);
    CHECK_EQ_INT(log_level_from_string("SYS_WARN"), LOG_LEVEL_WARN);
    CHECK_EQ_INT(log_level_from_string("notice"), LOG_LEVEL_NOTICE);
    CHECK_EQ_INT(log_level_from_string("SYS_NOTICE"), LOG_LEVEL_NOTICE);
    CHECK_EQ_INT(log_level_from_string("info"), LOG_LEVEL_INFO);
    CHECK_EQ_INT(log_level_from_string("SYS_INFO"), LOG_LEVEL_INFO);
    CHECK_EQ_INT(log_level_from_string("debug"), LOG_LEVEL_DEBUG);
    CHECK_EQ_INT(log_level_from_string("DEBUG"), LOG_LEVEL_DEBUG);
    CHECK_EQ_INT(log_level_from_string("sys_debug"), LOG_LEVEL_DEBUG);
    CHECK_EQ_INT(log_level_from_string("bogus"), -1);
    CHECK_EQ_INT(log_level_from_string(""), -1);
    CHECK_EQ_INT(log_level_from_string(NULL), -1);
    CHECK_STREQ(log_level_to_string(LOG_LEVEL_ERR), "err");
    CHECK_STREQ(log_level_to_string(LOG_LEVEL_WARN), "warn");
    CHECK_STREQ(log_level_to_string(LOG_LEVEL_NOTICE), "notice");
    CHECK_STREQ(log_level_to_string(LOG_LEVEL_INFO), "info");
    CHECK_STREQ(log_level_to_string(LOG_LEVEL_DEBUG), "debug");
    CHECK_STREQ(log_level_to_string((enum log_level) 17), "?");
    CHECK_STREQ(log_level_to_string((enum log_level) -1), "?");
    /* Round trip. */
    for (int l = LOG_LEVEL_ERR; l <= LOG_LEVEL_DEBUG; l++) {
        CHECK_EQ_INT(log_level_from_string(log_level_to_string(l)), l);
    }
}

static void
test_enabled(void)
{
    /* Default global level: notice. */
    CHECK(log_enabled(&log_this_module, LOG_LEVEL_ERR));
    CHECK(log_enabled(&log_this_module, LOG_LEVEL_NOTICE));
    CHECK(!log_enabled(&log_this_module, LOG_LEVEL_INFO));
    CHECK(!log_enabled(&log_this_module, LOG_LEVEL_DEBUG));

    CHECK_EQ_INT(log_set_level(NULL, LOG_LEVEL_DEBUG), 0);
    CHECK(log_enabled(&log_this_module, LOG_LEVEL_DEBUG));
    CHECK_EQ_INT(log_set_level(NULL, LOG_LEVEL_ERR), 0);
    CHECK(!log_enabled(&log_this_module, LOG_LEVEL_WARN));
    CHECK(log_enabled(&log_this_module, LOG_LEVEL_ERR));

    /* Per-module level overrides the global one. */
    CHECK_EQ_INT(log_set_level("test_log", LOG_LEVEL_INFO), 0);
    CHECK(log_enabled(&log_this_module, LOG_LEVEL_INFO));
    CHECK(!log_enabled(&log_this_module, LOG_LEVEL_DEBUG));
    CHECK_EQ_INT(log_set_level("no_such_module", LOG_LEVEL_INFO), ENOENT);

    json_t *j = log_to_json();
    CHECK_STREQ(json_string_value(json_object_get(j, "level")), "err");
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(j, "modules"), "test_log")),
                "info");
    json_decref(j);

    /* Modules that follow the global level show "default". */
    static struct log_module other = { .name = "test_other", .level = -1 };
    CHECK(log_enabled(&other, LOG_LEVEL_ERR));
    j = log_to_json();
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(j, "modules"),
                                                  "test_other")), "default");
    json_decref(j);

    log_set_level(NULL, LOG_LEVEL_NOTICE);
    log_this_module.level = -1;
}

static void
test_write(void)
{
    CHECK_EQ_INT(log_open(logpath), 0);
    LOG_ERR("first message %d", 1);
    LOG_NOTICE("second message %s", "two");
    LOG_DEBUG("not written");
    char *text = slurp();
    CHECK_CONTAINS(text, "|err|test_log|first message 1\n");
    CHECK_CONTAINS(text, "|notice|test_log|second message two\n");
    CHECK(!strstr(text, "not written"));
    /* Lines start with a UTC timestamp. */
    CHECK(text[4] == '-' && text[10] == 'T' && strstr(text, "Z|err|"));
    free(text);

    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/log", tmpdir);
    CHECK_EQ_INT(log_open(bad), ENOENT);
    /* The old file is still in use after a failed open. */
    LOG_ERR("after failed open");
    text = slurp();
    CHECK_CONTAINS(text, "after failed open");
    free(text);

    /* Reopening the same path appends. */
    CHECK_EQ_INT(log_open(logpath), 0);
    LOG_ERR("after reopen");
    text = slurp();
    CHECK_CONTAINS(text, "first message 1");
    CHECK_CONTAINS(text, "after reopen");
    free(text);
}

/* One call site, used by both phases of the rate limit test. */
static void
flood(int n)
{
    for (int i = 0; i < n; i++) {
        LOG_WARN("flood %d", i);
    }
}

static void
test_ratelimit(void)
{
    /* A flood from one call site is cut to the burst; the rest is counted, not written. */
    flood(1000);
    char *text = slurp();
    int n = count(text, "|flood ");
    CHECK(n >= 20 && n <= 40);          /* 20 per second; the loop may straddle a second. */
    free(text);

    /* In the next second, the next message is preceded by the count of dropped ones. */
    usleep(1100 * 1000);
    flood(1);
    text = slurp();
    CHECK(count(text, "messages like the next were suppressed") >= 1);
    free(text);

    /* Another call site is not limited by the first one. */
    LOG_WARN("other site");
    text = slurp();
    CHECK_CONTAINS(text, "other site");
    free(text);

    /* Very long messages are written whole. */
    char big[10000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    LOG_ERR("%s", big);
    text = slurp();
    CHECK_CONTAINS(text, big);
    free(text);
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_log.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(logpath, sizeof logpath, "%s/test.log", tmpdir);
    test_levels();
    test_enabled();
    test_write();
    test_ratelimit();
    /* The log file stays open (log_open(NULL) would drop it: see the report). */
    unlink(logpath);
    rmdir(tmpdir);
    return check_finish();
}
