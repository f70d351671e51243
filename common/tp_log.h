/* Logging: one line per event on stderr with journald priority prefixes (<3>..<7>). */
#ifndef TP_LOG_H
#define TP_LOG_H

#include <stdarg.h>

/* syslog priorities */
#define TP_LOG_ERR 3
#define TP_LOG_WARNING 4
#define TP_LOG_NOTICE 5
#define TP_LOG_INFO 6
#define TP_LOG_DEBUG 7

/* The process tag ("supervisor", "worker[2]", "tenderpool") and the threshold.
 * Logging is the one process-wide facility, like syslog's openlog(). */
void tp_log_open(const char *tag, int level);
void tp_log_set_level(int level);
int tp_log_level(void);
/* "err", "warning", "notice", "info", "debug" -> priority, or -1. */
int tp_log_level_parse(const char *name);

void tp_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tp_vlog(int prio, const char *fmt, va_list ap);

#define tp_err(...) tp_log(TP_LOG_ERR, __VA_ARGS__)
#define tp_warn(...) tp_log(TP_LOG_WARNING, __VA_ARGS__)
#define tp_notice(...) tp_log(TP_LOG_NOTICE, __VA_ARGS__)
#define tp_info(...) tp_log(TP_LOG_INFO, __VA_ARGS__)
#define tp_debug(...) tp_log(TP_LOG_DEBUG, __VA_ARGS__)

/* Log at error priority and exit(1): startup, config and broken invariants only. */
void tp_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
