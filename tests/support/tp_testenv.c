/* Test support: locate reference data and the throwaway PostgreSQL, run the real binaries. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_testenv.h"

const char *tp_test_refdata_dir(void)
{
    static char dir[512];
    const char *env = getenv("TENDERPOOL_REFDATA");
    struct stat st;
    if (env && *env && stat(env, &st) == 0) {
        snprintf(dir, sizeof(dir), "%s", env);
        return dir;
    }
    if (stat(TP_REFDATA_DEFAULT "/data", &st) == 0) {
        snprintf(dir, sizeof(dir), "%s", TP_REFDATA_DEFAULT);
        return dir;
    }
    fprintf(stderr, "reference data not found: set TENDERPOOL_REFDATA (looked in %s)\n",
            TP_REFDATA_DEFAULT);
    return NULL;
}

const char *tp_test_dsn(void)
{
    static char dsn[1024];
    const char *env = getenv("TENDERPOOL_TEST_DSN");
    if (env && *env)
        return env;
    FILE *f = fopen(TP_TEST_PGDIR "/dsn", "r");
    if (f == NULL)
        cr_assert_fail("no test database: run through ctest (fixture pg.start) or set "
                       "TENDERPOOL_TEST_DSN (%s/dsn missing)",
                       TP_TEST_PGDIR);
    if (fgets(dsn, sizeof(dsn), f) == NULL)
        dsn[0] = '\0';
    fclose(f);
    dsn[strcspn(dsn, "\n")] = '\0';
    return dsn;
}

PGconn *tp_test_pg(void)
{
    PGconn *c = PQconnectdb(tp_test_dsn());
    if (PQstatus(c) != CONNECTION_OK)
        cr_assert_fail("cannot connect to the test database: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

char *tp_test_pg_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        cr_assert_fail("query failed: %s: %s", sql, PQerrorMessage(c));
    char *v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return v;
}

long tp_test_pg_long(PGconn *c, const char *sql)
{
    char *v = tp_test_pg_value(c, sql);
    long n = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

void tp_test_pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        cr_assert_fail("statement failed: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

int tp_test_run(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        cr_assert_fail("cannot run %s", cmd);
    size_t n = 0;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), p)) > 0) {
        if (out && n + 1 < outlen) {
            size_t k = got < outlen - 1 - n ? got : outlen - 1 - n;
            memcpy(out + n, buf, k);
            n += k;
        }
    }
    if (out && outlen)
        out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        cr_assert_fail("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

void tp_test_write_config(tp_test_daemon_t *d, int workers, const char *period, const char *extra)
{
    if (d->dir[0] == '\0') {
        snprintf(d->dir, sizeof(d->dir), "/tmp/tp-test-XXXXXX");
        if (mkdtemp(d->dir) == NULL)
            cr_assert_fail("mkdtemp: %s", strerror(errno));
        chmod(d->dir, 0755);
        d->port = free_port();
        d->metrics_port = free_port();
    }
    snprintf(d->conf, sizeof(d->conf), "%s/tenderpoold.conf", d->dir);
    snprintf(d->endpoint, sizeof(d->endpoint), "tcp://127.0.0.1:%d", d->port);
    snprintf(d->control, sizeof(d->control), "ipc://%s/control", d->dir);
    FILE *f = fopen(d->conf, "w");
    if (f == NULL)
        cr_assert_fail("cannot write %s", d->conf);
    fprintf(f,
            "[intake]\nendpoint = %s\n\n[control]\nendpoint = %s\n\n[metrics]\nlisten = "
            "127.0.0.1:%d\n\n[database]\ndsn = %s\n\n[workers]\ncount = %d\nruntime_dir = %s/run\n"
            "\n[rounds]\nperiod = %s\ntimezone = Europe/Paris\n\n[log]\nlevel = info\n\n"
            "%s\n%s\n",
            d->endpoint, d->control, d->metrics_port, tp_test_dsn(), workers, d->dir,
            period ? period : "1w",
            extra && strstr(extra, "[security]") ? "" : "[security]\nmode = none\n",
            extra ? extra : "");
    fclose(f);
}

void tp_test_reset_db(void)
{
    PGconn *c = tp_test_pg();
    tp_test_pg_exec(c, "DROP SCHEMA IF EXISTS tenderpool CASCADE");
    PQfinish(c);
    tp_test_daemon_t d = {0};
    tp_test_write_config(&d, 1, "1w", NULL);
    char out[4096];
    int rc =
        tp_test_run(out, sizeof(out), "%s/tenderpool migrate -c %s 2>&1", TP_TEST_BIN_DIR, d.conf);
    if (rc != 0)
        cr_assert_fail("tenderpool migrate failed (%d): %s", rc, out);
}

/* Wait until the intake port accepts TCP connections (the daemon binds it once ready). */
static int wait_ready(tp_test_daemon_t *d, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = 0;
            return -1;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)d->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return 0;
        usleep(50000);
    }
    return -1;
}

static int tp_test_daemon_wait_stop(tp_test_daemon_t *d);

static void spawn(tp_test_daemon_t *d)
{
    char log[400];
    snprintf(log, sizeof(log), "%s/daemon.log", d->dir);
    pid_t pid = fork();
    if (pid == 0) {
        /* a test that crashes must not leave its daemon behind, holding ctest's output pipe */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        FILE *f = freopen(log, "a", stderr);
        f = freopen("/dev/null", "w", stdout);
        (void)f;
        execl(TP_TEST_BIN_DIR "/tenderpoold", "tenderpoold", "-c", d->conf, (char *)NULL);
        _exit(127);
    }
    d->pid = pid;
    if (wait_ready(d, 60000) < 0)
        cr_assert_fail("tenderpoold did not become ready; see %s", log);
}

void tp_test_daemon_start(tp_test_daemon_t *d, int workers, const char *period, const char *extra)
{
    tp_test_write_config(d, workers, period, extra);
    spawn(d);
}

void tp_test_daemon_restart(tp_test_daemon_t *d)
{
    tp_test_daemon_stop(d);
    spawn(d);
}

/* Sanitizer builds: any AddressSanitizer/UBSan report in the daemon's log fails the test. */
static void check_sanitizer_reports(const tp_test_daemon_t *d)
{
    char path[400], line[1024];
    snprintf(path, sizeof(path), "%s/daemon.log", d->dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        cr_expect(strstr(line, "runtime error:") == NULL && strstr(line, "Sanitizer") == NULL,
                  "sanitizer report in %s: %s", path, line);
    if (f)
        fclose(f);
}

int tp_test_daemon_stop(tp_test_daemon_t *d)
{
    if (d->pid <= 0)
        return -1;
    int st = tp_test_daemon_wait_stop(d);
    check_sanitizer_reports(d);
    return st;
}

static int tp_test_daemon_wait_stop(tp_test_daemon_t *d)
{
    kill(d->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 600; i++) {
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = 0;
            return st;
        }
        usleep(50000);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &st, 0);
    d->pid = 0;
    cr_log_error("tenderpoold did not stop within 30 s after SIGTERM");
    return st;
}
