/* log: leveled logging with per-module levels and per-call-site rate limiting (see log.h). */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "mem.h"

#define LOG_BURST_PER_SECOND 20

static FILE *log_file;
static int log_global_level = LOG_LEVEL_NOTICE;
static struct log_module *log_modules;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "err", "warn", "notice", "info", "debug" };

int
log_open(const char *path)
{
    if (!path || !*path || !strcmp(path, "-")) {
        if (log_file) {
            fclose(log_file);
        }
        log_file = NULL;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (!f) {
        return errno;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_file) {
        fclose(log_file);
    }
    log_file = f;
    return 0;
}

int
log_level_from_string(const char *s)
{
    static const struct { const char *name; int level; } names[] = {
        { "err", LOG_LEVEL_ERR }, { "error", LOG_LEVEL_ERR }, { "SYS_ERR", LOG_LEVEL_ERR },
        { "SYS_EMERG", LOG_LEVEL_ERR }, { "SYS_ALERT", LOG_LEVEL_ERR }, { "SYS_CRIT", LOG_LEVEL_ERR },
        { "warn", LOG_LEVEL_WARN }, { "warning", LOG_LEVEL_WARN }, { "SYS_WARN", LOG_LEVEL_WARN },
        { "notice", LOG_LEVEL_NOTICE }, { "SYS_NOTICE", LOG_LEVEL_NOTICE },
        { "info", LOG_LEVEL_INFO }, { "SYS_INFO", LOG_LEVEL_INFO },
        { "debug", LOG_LEVEL_DEBUG }, { "SYS_DEBUG", LOG_LEVEL_DEBUG },
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(s, names[i].name)) {
            return names[i].level;
        }
    }
    return -1;
}

const char *
log_level_to_string(enum log_level level)
{
    return (unsigned) level < 5 ? level_names[level] : "?";
}

static void
log_register(struct log_module *m)
{
    pthread_mutex_lock(&log_mutex);
    if (!m->registered) {
        m->registered = true;
        m->next = log_modules;
        log_modules = m;
    }
    pthread_mutex_unlock(&log_mutex);
}

int
log_set_level(const char *module, enum log_level level)
{
    if (!module) {
        log_global_level = level;
        return 0;
    }
    for (struct log_module *m = log_modules; m; m = m->next) {
        if (!strcmp(m->name, module)) {
            m->level = level;
            return 0;
        }
    }
    return ENOENT;
}

bool
log_enabled(struct log_module *m, enum log_level level)
{
    if (!m->registered) {
        log_register(m);
    }
    return (int) level <= (m->level >= 0 ? m->level : log_global_level);
}

void
log_write(struct log_module *m, enum log_level level, struct log_ratelimit *rl,
          const char *fmt, ...)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);

    pthread_mutex_lock(&log_mutex);
    unsigned int dropped = 0;
    if (rl->second != tv.tv_sec) {
        dropped = rl->dropped;
        rl->second = tv.tv_sec;
        rl->count = 0;
        rl->dropped = 0;
    }
    if (++rl->count > LOG_BURST_PER_SECOND) {
        rl->dropped++;
        pthread_mutex_unlock(&log_mutex);
        return;
    }

    FILE *f = log_file ? log_file : stderr;
    struct tm tm;
    char ts[32];
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (dropped) {
        fprintf(f, "%s.%03ldZ|%s|%s|%u messages like the next were suppressed\n", ts,
                (long) tv.tv_usec / 1000, level_names[level], m->name, dropped);
    }
    fprintf(f, "%s.%03ldZ|%s|%s|", ts, (long) tv.tv_usec / 1000, level_names[level], m->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    pthread_mutex_unlock(&log_mutex);
}

json_t *
log_to_json(void)
{
    json_t *mods = json_object();
    pthread_mutex_lock(&log_mutex);
    for (struct log_module *m = log_modules; m; m = m->next) {
        json_object_set_new(mods, m->name,
                            json_string(m->level >= 0 ? level_names[m->level] : "default"));
    }
    pthread_mutex_unlock(&log_mutex);
    return xjson_pack("{ssso}", "level", level_names[log_global_level], "modules", mods);
}
