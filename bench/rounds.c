/* Bench phases of SPEC section 8 about rounds: the round-close data set (N open requests in
 * L lots, loaded through the intake), restart with it stored (exec to READY), and the close
 * through the daemon (`tenderpool rounds close-current`), each bounded in time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tp_bench.h"

#define LOAD_READY_TIMEOUT_S 60
#define RESTART_TIMEOUT_S 120       /* exec to READY; the target is 5 s */
#define RESTART_STATUS_TIMEOUT_S 60 /* StatusQuery answers, reported only */
#define CLOSE_DB_WAIT_S 120         /* after the command gave up: wait for the round to be closed */
#define POLL_US 5000                /* restart: TCP connect attempts */
#define CLOSE_POLL_US 50000         /* close: database polls after the command gave up */
#define SQL_ONE_MAX 128

/* First column of the first row of a one-parameter query, as text; -1 on error or no row. */
static int sql_one(const char *dsn, const char *sql, const char *param, char *out, size_t outlen)
{
    PGconn *c = tp_bench_connect(dsn, "tenderpool-bench rounds");
    if (c == NULL)
        return -1;
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
        rc = 0;
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "tenderpool-bench: %s: %s", sql, PQerrorMessage(c));
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

static long sql_count(const char *dsn, const char *sql, const char *param)
{
    char v[SQL_ONE_MAX];
    return sql_one(dsn, sql, param, v, sizeof(v)) < 0 ? -1 : atol(v);
}

/* The round the daemon assigns new requests to: the newest open round covering now. */
static int open_round(const tp_bench_opts_t *o, char *out, size_t outlen)
{
    return sql_one(o->dsn,
                   "SELECT round_id FROM tenderpool.round WHERE status = 'open' "
                   "AND opens_at <= now() AND now() < closes_at "
                   "ORDER BY opens_at DESC, round_id DESC LIMIT 1",
                   NULL, out, outlen);
}

/* ---- the data set: close_requests requests in close_lots keys, through the intake ---- */

int tp_bench_close_load(const tp_bench_opts_t *o, tp_bench_daemon_t *d, tp_bench_results_t *r)
{
    PGconn *c = tp_bench_connect(o->dsn, "tenderpool-bench rounds");
    int rc = c ? tp_bench_sql(c, "TRUNCATE tenderpool.revision") : -1;
    PQfinish(c);
    if (rc < 0 || tp_bench_daemon_start(d, o) < 0)
        return -1;
    tp_bench_client_t *cl = tp_bench_client_new(o, d->endpoint);
    rc = tp_bench_client_wait_ready(cl, d, LOAD_READY_TIMEOUT_S);
    if (rc == 0)
        rc = tp_bench_ingest(cl, d, 'c', o->close_requests, &r->close_load);
    tp_bench_client_destroy(&cl);
    const tp_bench_load_t *l = &r->close_load;
    if (rc == 0 && open_round(o, r->close_round, sizeof(r->close_round)) < 0) {
        fprintf(stderr, "tenderpool-bench: no open round after the round-close load\n");
        rc = -1;
    }
    if (rc == 0)
        r->close_rows = sql_count(
            o->dsn, "SELECT count(*) FROM tenderpool.revision WHERE round_id = $1", r->close_round);
    printf("close data  %ld requests in %ld keys loaded through the intake in %.2f s = %.0f "
           "requests/s; %ld revisions in open round %s (expected %ld: %s)\n",
           l->status[1], o->close_lots, l->seconds, l->rate, r->close_rows,
           r->close_round[0] ? r->close_round : "?", o->close_requests,
           r->close_rows == o->close_requests ? "OK" : "MISMATCH");
    if (l->first_error[0])
        printf("  first non-accepted ack: %s\n", l->first_error);
    fflush(stdout);
    return rc == 0 && r->close_rows == o->close_requests ? 0 : -1;
}

/* ---- restart: SIGTERM, then exec to READY (intake accepting and answering) ---- */

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int tp_bench_restart(const tp_bench_opts_t *o, tp_bench_daemon_t *d, const char *what,
                     tp_bench_restart_t *out)
{
    const char *colon = strrchr(d->endpoint, ':');
    int port = colon ? atoi(colon + 1) : 0;
    int64_t stop0 = tp_bench_now_ns();
    tp_bench_daemon_stop(d);
    double stop_s = (double)(tp_bench_now_ns() - stop0) / 1e9;
    if (port <= 0 || port_accepts(port)) {
        fprintf(stderr, "tenderpool-bench: restart: the intake port is still taken after stop\n");
        return -1;
    }
    int64_t t0 = tp_bench_now_ns(), end = t0 + RESTART_TIMEOUT_S * 1000000000LL;
    if (tp_bench_daemon_start(d, o) < 0)
        return -1;
    out->ran = true;
    while (!port_accepts(port)) {
        if (tp_bench_now_ns() > end) {
            out->timed_out = true;
            fprintf(stderr, "tenderpool-bench: restart: intake not accepting after %d s\n",
                    RESTART_TIMEOUT_S);
            return -1;
        }
        if (!tp_bench_daemon_alive(d))
            return -1;
        usleep(POLL_US);
    }
    out->accept_ms = (double)(tp_bench_now_ns() - t0) / 1e6;
    tp_bench_client_t *cl = tp_bench_client_new(o, d->endpoint);
    tp_bench_probe_t p;
    int rc = tp_bench_client_restart_probe(cl, d, t0, end,
                                           t0 + RESTART_STATUS_TIMEOUT_S * 1000000000LL, &p);
    tp_bench_client_destroy(&cl);
    out->ms = p.batch_ms;
    out->status_ms = p.status_ms;
    out->batch_status = p.batch_status;
    char sq[64];
    if (p.status_ms >= 0)
        snprintf(sq, sizeof(sq), "%.0f ms", p.status_ms);
    else
        snprintf(sq, sizeof(sq), "not within %d s of exec (gave up waiting)",
                 RESTART_STATUS_TIMEOUT_S);
    printf("restart     %s: SIGTERM stop took %.2f s; from exec: intake "
           "accepting %.0f ms, one-request Batch acked %.0f ms (status %d%s), StatusQuery "
           "answered on all %ld members %s\n",
           what, stop_s, out->accept_ms, p.batch_ms, p.batch_status,
           p.batch_status == 2 ? " DUPLICATE: the stored set is loaded" : "", o->members, sq);
    fflush(stdout);
    if (rc < 0) {
        out->timed_out = tp_bench_daemon_alive(d);
        fprintf(stderr, "tenderpool-bench: restart: not answered within %d s of exec\n",
                RESTART_TIMEOUT_S);
        return -1;
    }
    return 0;
}

/* ---- round close through the daemon's control endpoint ---- */

/* Runs the CLI, keeps its output (first line) in out; its exit status, -1 if it did not run. */
static int run_close_command(const tp_bench_opts_t *o, const tp_bench_daemon_t *d, char *out,
                             size_t outlen)
{
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof(cmd), "'%s/tenderpool' rounds close-current -c '%s' 2>&1", o->bin_dir,
             d->conf);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    int st = pclose(p);
    return st < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* After the command gave up: poll until the round is closed in the database, or give up. */
static void wait_closed_in_db(const tp_bench_opts_t *o, tp_bench_results_t *r, int64_t t0)
{
    int64_t end = t0 + CLOSE_DB_WAIT_S * 1000000000LL;
    char st[SQL_ONE_MAX] = "";
    while (tp_bench_now_ns() < end) {
        if (sql_one(o->dsn, "SELECT status FROM tenderpool.round WHERE round_id = $1",
                    r->close_round, st, sizeof(st)) == 0 &&
            strcmp(st, "closed") == 0) {
            r->close_ms = (double)(tp_bench_now_ns() - t0) / 1e6;
            return;
        }
        usleep(CLOSE_POLL_US);
    }
    r->close_timed_out = true;
    r->close_ms = (double)(tp_bench_now_ns() - t0) / 1e6;
}

int tp_bench_round_close(const tp_bench_opts_t *o, tp_bench_daemon_t *d, tp_bench_results_t *r)
{
    r->close_daemon_ms = -1;
    r->close_lots_written = r->close_viable = -1;
    int64_t t0 = tp_bench_now_ns();
    int st = run_close_command(o, d, r->close_reply, sizeof(r->close_reply));
    int64_t t1 = tp_bench_now_ns();
    r->ran_close = true;
    char round[TP_ROUND_ID_MAX] = "";
    int lots = -1, viable = -1;
    long took = -1;
    if (st == 0 && sscanf(r->close_reply,
                          "closed round %47[^:]: %d lots (%d viable) committed %ld ms after the "
                          "cutoff",
                          round, &lots, &viable, &took) == 4) {
        r->close_ms = (double)(t1 - t0) / 1e6;
        r->close_daemon_ms = took;
        if (strcmp(round, r->close_round) != 0)
            fprintf(stderr, "tenderpool-bench: the daemon closed %s, the bench loaded %s\n", round,
                    r->close_round);
    } else {
        r->close_cmd_timed_out = strstr(r->close_reply, "did not answer") != NULL;
        fprintf(stderr, "tenderpool-bench: close-current (status %d) said: %s\n", st,
                r->close_reply);
        if (!r->close_cmd_timed_out)
            return -1;
        wait_closed_in_db(o, r, t0);
    }
    r->close_lots_written = sql_count(
        o->dsn, "SELECT count(*) FROM tenderpool.lot WHERE round_id = $1", r->close_round);
    r->close_viable = sql_count(
        o->dsn, "SELECT count(*) FROM tenderpool.lot WHERE round_id = $1 AND status = 'viable'",
        r->close_round);
    printf("round close round %s, %ld open requests: ", r->close_round, r->close_rows);
    if (r->close_timed_out)
        printf("not closed %.1f s after the command was sent (gave up)\n", r->close_ms / 1e3);
    else if (r->close_cmd_timed_out)
        printf("command gave up after 10 s; round seen closed in the database %.0f ms after "
               "the command was sent\n",
               r->close_ms);
    else
        printf("reply %.0f ms after the command was sent (popen of the CLI included); daemon: "
               "committed %ld ms after the cutoff\n",
               r->close_ms, r->close_daemon_ms);
    printf("  reply: %s\n", r->close_reply);
    printf("  lots written for %s: %ld (%ld viable; expected %ld: %s)\n", r->close_round,
           r->close_lots_written, r->close_viable, o->close_lots,
           r->close_lots_written == o->close_lots ? "OK" : "MISMATCH");
    fflush(stdout);
    return r->close_timed_out || r->close_lots_written != o->close_lots ? -1 : 0;
}
