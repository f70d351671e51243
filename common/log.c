/* Process logger: one journald-prefixed line per event on stderr, one write(2) per line. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_log.h"

/* Longest line written (prefix, message, newline): one write of at most PIPE_BUF bytes is
 * atomic on a pipe, so lines from several processes sharing stderr never interleave. */
#define LOG_LINE_MAX PIPE_BUF
#define LOG_TAG_MAX 64
#define LOG_ELLIPSIS "..."

/* The one documented exception to "no globals", like openlog(3): tag and threshold. */
static char log_tag[LOG_TAG_MAX] = "tenderpool";
static int log_threshold = TP_LOG_INFO;

static const struct {
    const char *name;
    int prio;
} log_level_names[] = {
    {"err", TP_LOG_ERR},   {"warning", TP_LOG_WARNING}, {"notice", TP_LOG_NOTICE},
    {"info", TP_LOG_INFO}, {"debug", TP_LOG_DEBUG},
};

static int clamp_level(int level)
{
    if (level < TP_LOG_ERR)
        return TP_LOG_ERR;
    if (level > TP_LOG_DEBUG)
        return TP_LOG_DEBUG;
    return level;
}

void tp_log_open(const char *tag, int level)
{
    if (tag != NULL && tag[0] != '\0')
        snprintf(log_tag, sizeof(log_tag), "%s", tag);
    log_threshold = clamp_level(level);
}

void tp_log_set_level(int level)
{
    log_threshold = clamp_level(level);
}

int tp_log_level(void)
{
    return log_threshold;
}

int tp_log_level_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
        if (strcmp(name, log_level_names[i].name) == 0)
            return log_level_names[i].prio;
    return -1;
}

/* One event, one line: control characters (newlines above all) become spaces. */
static void flatten_controls(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            s[i] = ' ';
    }
}

/* Length of s[0..len) without a UTF-8 sequence cut in the middle at its end. */
static size_t utf8_boundary(const char *s, size_t len)
{
    size_t i = len;
    size_t back = 0;
    while (i > 0 && back < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0 || ((unsigned char)s[i - 1] & 0x80) == 0)
        return len;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
    return back >= need ? len : i - 1;
}

static size_t trim_trailing_space(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return len;
}

static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere left to report a logging failure */
        buf += n;
        len -= (size_t)n;
    }
}

/* Formats "<P>tag: message" into line; returns the length without the newline. */
static size_t format_line(char *line, size_t cap, int prio, const char *fmt, va_list ap)
{
    prio = prio < 0 ? 0 : prio > TP_LOG_DEBUG ? TP_LOG_DEBUG : prio;
    int plen = snprintf(line, cap, "<%d>%s: ", prio, log_tag);
    size_t start = (size_t)plen < cap ? (size_t)plen : cap - 1;
    size_t room = cap - start - 1; /* keep one byte for the newline */
    int mlen = vsnprintf(line + start, room + 1, fmt, ap);
    size_t len = mlen < 0 ? 0 : (size_t)mlen;
    if (len > room) {
        size_t keep = utf8_boundary(line + start, room - strlen(LOG_ELLIPSIS));
        memcpy(line + start + keep, LOG_ELLIPSIS, strlen(LOG_ELLIPSIS));
        len = keep + strlen(LOG_ELLIPSIS);
    }
    flatten_controls(line + start, len);
    return start + trim_trailing_space(line + start, len);
}

void tp_vlog(int prio, const char *fmt, va_list ap)
{
    if (prio > log_threshold)
        return;
    int saved_errno = errno;
    char line[LOG_LINE_MAX + 1];
    size_t len = format_line(line, LOG_LINE_MAX, prio, fmt, ap);
    line[len++] = '\n';
    write_all(line, len);
    errno = saved_errno;
}

void tp_log(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tp_vlog(prio, fmt, ap);
    va_end(ap);
}

void tp_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tp_vlog(TP_LOG_ERR, fmt, ap);
    va_end(ap);
    exit(1);
}
