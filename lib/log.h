/* log: leveled logging to a file or stderr, per-module levels, rate limiting.
 *
 * Messages carry the module name (VLOG-style: each .c file declares LOG_MODULE(name)).  Levels
 * can change at run time (the introspect server exposes them).  A message repeated too often
 * from one call site is rate limited, so a flood of bad input cannot fill the disk. */
#ifndef CONTRAIL_LOG_H
#define CONTRAIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

enum log_level {
    LOG_LEVEL_ERR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_NOTICE,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

struct log_module {
    const char *name;
    int level;                  /* -1: follow the global level. */
    struct log_module *next;
    bool registered;
};

/* Per call site rate limit: at most 'burst' messages per second. */
struct log_ratelimit {
    time_t second;
    unsigned int count;
    unsigned int dropped;
};

#define LOG_MODULE(NAME) \
    static struct log_module log_this_module __attribute__((unused)) = \
        { .name = #NAME, .level = -1 }

/* Opens PATH for appending (NULL or "" or "-": stderr).  Returns 0 or an errno. */
int log_open(const char *path);

/* Parses "err", "warn", "notice", "info", "debug" (also SYS_* forms of the original daemons).
 * Returns the level or -1. */
int log_level_from_string(const char *s);
const char *log_level_to_string(enum log_level);

/* Sets the global level, or one module's level when MODULE is not NULL.  Returns 0 or ENOENT. */
int log_set_level(const char *module, enum log_level level);

/* Whether a message at LEVEL from M would be written. */
bool log_enabled(struct log_module *m, enum log_level level);

void log_write(struct log_module *m, enum log_level level, struct log_ratelimit *rl,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define LOG_AT(LEVEL, ...)                                              \
    do {                                                                \
        static struct log_ratelimit log_rl_;                            \
        if (log_enabled(&log_this_module, LEVEL)) {                     \
            log_write(&log_this_module, LEVEL, &log_rl_, __VA_ARGS__);  \
        }                                                               \
    } while (0)

#define LOG_ERR(...) LOG_AT(LOG_LEVEL_ERR, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_NOTICE(...) LOG_AT(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* JSON view of levels for introspect: {"level": "...", "modules": {"name": "level"}}. */
struct json_t;
struct json_t *log_to_json(void);

#endif
