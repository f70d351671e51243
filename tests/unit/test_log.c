/* Unit tests for the logger: journald prefix, threshold, one line per event, atomic lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tp_log.h"

typedef struct capture {
    char path[64];
    int saved_stderr;
} capture_t;

/* Points stderr at a fresh O_APPEND temp file. */
static void capture_start(capture_t *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/tp_test_log_XXXXXX");
    int fd = mkstemp(c->path);
    cr_assert_geq(fd, 0);
    close(fd);
    fd = open(c->path, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    c->saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* Restores stderr and returns what was written (malloc'd), *len its size. */
static char *capture_end(capture_t *c, size_t *len)
{
    dup2(c->saved_stderr, STDERR_FILENO);
    close(c->saved_stderr);
    FILE *fp = fopen(c->path, "r");
    cr_assert_not_null(fp);
    size_t cap = 1 << 24;
    char *buf = malloc(cap + 1);
    *len = fread(buf, 1, cap, fp);
    buf[*len] = '\0';
    fclose(fp);
    unlink(c->path);
    return buf;
}

static size_t count_char(const char *s, size_t len, char ch)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ch;
    return n;
}

Test(log, prefix_and_tag)
{
    capture_t c;
    size_t len;
    tp_log_open("worker[2]", TP_LOG_INFO);
    capture_start(&c);
    tp_log(TP_LOG_WARNING, "queue at %d%%", 90);
    tp_err("db down: %s", "timeout");
    tp_info("ready");
    char *out = capture_end(&c, &len);
    cr_assert_str_eq(out, "<4>worker[2]: queue at 90%\n<3>worker[2]: db down: timeout\n"
                          "<6>worker[2]: ready\n");
    free(out);
}

Test(log, threshold_filters)
{
    capture_t c;
    size_t len;
    tp_log_open("supervisor", TP_LOG_NOTICE);
    cr_assert_eq(tp_log_level(), TP_LOG_NOTICE);
    capture_start(&c);
    tp_debug("hidden debug");
    tp_info("hidden info");
    tp_notice("shown notice");
    tp_log_set_level(TP_LOG_DEBUG);
    tp_debug("shown debug");
    char *out = capture_end(&c, &len);
    cr_assert_str_eq(out, "<5>supervisor: shown notice\n<7>supervisor: shown debug\n");
    free(out);
}

Test(log, level_names)
{
    cr_assert_eq(tp_log_level_parse("err"), TP_LOG_ERR);
    cr_assert_eq(tp_log_level_parse("warning"), TP_LOG_WARNING);
    cr_assert_eq(tp_log_level_parse("notice"), TP_LOG_NOTICE);
    cr_assert_eq(tp_log_level_parse("info"), TP_LOG_INFO);
    cr_assert_eq(tp_log_level_parse("debug"), TP_LOG_DEBUG);
    cr_assert_eq(tp_log_level_parse("verbose"), -1);
    cr_assert_eq(tp_log_level_parse("INFO"), -1);
    cr_assert_eq(tp_log_level_parse(""), -1);
    cr_assert_eq(tp_log_level_parse(NULL), -1);
}

Test(log, out_of_range_levels_are_clamped)
{
    tp_log_set_level(42);
    cr_assert_eq(tp_log_level(), TP_LOG_DEBUG);
    tp_log_set_level(0);
    cr_assert_eq(tp_log_level(), TP_LOG_ERR); /* errors are never silenced */
}

Test(log, newlines_do_not_split_events)
{
    capture_t c;
    size_t len;
    tp_log_open("tenderpool", TP_LOG_DEBUG);
    capture_start(&c);
    tp_info("first\nsecond\r\nthird\x1b[31m\n");
    char *out = capture_end(&c, &len);
    cr_assert_eq(count_char(out, len, '\n'), 1, "got: %s", out);
    cr_assert_str_eq(out, "<6>tenderpool: first second  third [31m\n");
    free(out);
}

Test(log, long_message_is_one_bounded_line)
{
    capture_t c;
    size_t len;
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    /* Euro signs straddling the cut: the line must not end inside one. */
    memcpy(big + PIPE_BUF - 15, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 12);
    tp_log_open("t", TP_LOG_INFO);
    capture_start(&c);
    tp_info("%s", big);
    char *out = capture_end(&c, &len);
    cr_assert_leq(len, PIPE_BUF);
    cr_assert_eq(count_char(out, len, '\n'), 1);
    cr_assert_eq(out[len - 1], '\n');
    cr_assert(strncmp(out, "<6>t: xxx", 9) == 0);
    cr_assert(len >= 7 && memcmp(out + len - 7, "\xe2\x82\xac...\n", 7) == 0,
              "line does not end with a whole character and the truncation mark");
    free(out);
    free(big);
}

Test(log, errno_is_preserved)
{
    capture_t c;
    size_t len;
    tp_log_open("t", TP_LOG_INFO);
    capture_start(&c);
    errno = ENOENT;
    tp_info("open failed: %m");
    cr_assert_eq(errno, ENOENT);
    char *out = capture_end(&c, &len);
    cr_assert_str_eq(out, "<6>t: open failed: No such file or directory\n");
    free(out);
}

Test(log, fatal_logs_at_err_and_exits_1)
{
    capture_t c;
    size_t len;
    int status;
    capture_start(&c);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        tp_log_open("cli", TP_LOG_ERR);
        tp_fatal("cannot read %s", "/etc/x.conf");
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    char *out = capture_end(&c, &len);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 1);
    /* Only the first line: a sanitizer build may add its own notes when the child exits. */
    const char *expected = "<3>cli: cannot read /etc/x.conf\n";
    cr_assert(strncmp(out, expected, strlen(expected)) == 0, "got: %s", out);
    free(out);
}

#define WRITERS 8
#define LINES_PER_WRITER 200
#define PAYLOAD 3000

/* Several processes sharing stderr: every line arrives whole. */
Test(log, concurrent_writers_do_not_interleave)
{
    capture_t c;
    size_t len;
    char expected[WRITERS][PAYLOAD + 32];
    capture_start(&c);
    for (int w = 0; w < WRITERS; w++) {
        char payload[PAYLOAD + 1];
        memset(payload, 'a' + w, PAYLOAD);
        payload[PAYLOAD] = '\0';
        snprintf(expected[w], sizeof(expected[w]), "<6>w%d: %s", w, payload);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            char tag[8];
            snprintf(tag, sizeof(tag), "w%d", w);
            tp_log_open(tag, TP_LOG_INFO);
            for (int i = 0; i < LINES_PER_WRITER; i++)
                tp_info("%s", payload);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++)
        wait(NULL);
    char *out = capture_end(&c, &len);
    size_t lines = 0;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"), lines++) {
        int w = line[4] - '0';
        cr_assert(w >= 0 && w < WRITERS, "bad line start: %.20s", line);
        cr_assert_str_eq(line, expected[w], "line %zu interleaved", lines);
    }
    cr_assert_eq(lines, WRITERS * LINES_PER_WRITER);
    free(out);
}
