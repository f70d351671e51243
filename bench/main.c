/* tenderpool-bench: options, the order of the phases, and the report against SPEC section 8. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_bench.h"
#include "tp_calendar.h"

#define TARGET_VS_A 0.65
#define TARGET_VS_B 7.0
#define TARGET_P99_MS 5.0
#define TARGET_BYTES 256.0
#define TARGET_CLOSE_MS 300.0
#define TARGET_RESTART_MS 5000.0
#define READY_TIMEOUT_S 60
#define HEARTBEAT_WAIT_US 1200000 /* workers send their counters every second */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: tenderpool-bench [--dsn DSN] [options]\n"
        "\n"
        "Measures tenderpool against SPEC section 8 in one run: baseline A (two connections\n"
        "COPY BINARY), baseline B (8 clients, one INSERT per transaction), durable ingest\n"
        "through tenderpoold, ack latency at a fixed offered rate, daemon memory, then restart\n"
        "and round close with --close-requests open requests in --close-lots lots, and a\n"
        "last restart with those requests closed (history; reported, no SPEC target).\n"
        "Baseline A's rows and the ingest batches are encoded before their clocks start.\n"
        "The database is migrated, filled and TRUNCATEd: never point it at real data.\n"
        "\n"
        "  --dsn DSN            PostgreSQL database the bench may fill and truncate (default:\n"
        "                       a throwaway cluster under /tmp, started and removed by the bench)\n"
        "  --requests N         durable ingest requests (default 2000000)\n"
        "  --batch N            requests per Batch message (default 100)\n"
        "  --members N          simulated members, one DEALER socket each (default 8)\n"
        "  --window N           batches in flight per member (default 32)\n"
        "  --workers N          daemon workers (default 2)\n"
        "  --latency-rate R     single-request messages/s offered, open loop (default 20000)\n"
        "  --latency-seconds S  latency phase duration (default 10)\n"
        "  --close-requests N   open requests in the round for restart and close (default "
        "1000000)\n"
        "  --close-lots N       consolidation keys (lots) they fall into (default 5000)\n"
        "  --bin DIR            where tenderpoold, tenderpool-worker and tenderpool are\n"
        "                       (default: the directory of this executable)\n"
        "  --quick              smoke run: 100000 requests, 1 s latency, 2 s baseline B,\n"
        "                       50000 close requests in 500 lots\n"
        "  -h, --help           this help\n");
}

static void self_dir(char *out, size_t outlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    snprintf(out, outlen, ".");
    if (n > 0) {
        self[n] = '\0';
        snprintf(out, outlen, "%s", dirname(self));
    }
}

static int parse_long(const char *name, const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "tenderpool-bench: --%s must be an integer in %ld..%ld\n", name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Numeric options: long option name, field, bounds. */
typedef struct bench_numopt {
    const char *name;
    size_t offset;
    long min, max;
} bench_numopt_t;

static const bench_numopt_t numopts[] = {
    {"requests", offsetof(tp_bench_opts_t, requests), 1, 100000000},
    {"batch", offsetof(tp_bench_opts_t, batch), 1, 1000},
    {"members", offsetof(tp_bench_opts_t, members), 1, 4095},
    {"window", offsetof(tp_bench_opts_t, window), 1, 4095},
    {"workers", offsetof(tp_bench_opts_t, workers), 1, 64},
    {"latency-rate", offsetof(tp_bench_opts_t, latency_rate), 1, 1000000},
    {"latency-seconds", offsetof(tp_bench_opts_t, latency_seconds), 1, 3600},
    {"close-requests", offsetof(tp_bench_opts_t, close_requests), 1, 100000000},
    {"close-lots", offsetof(tp_bench_opts_t, close_lots), 1, 10000000},
};
#define NNUMOPTS (int)(sizeof(numopts) / sizeof(numopts[0]))

static void defaults(tp_bench_opts_t *o, bool quick)
{
    long *f[] = {&o->requests,        &o->batch,          &o->members,
                 &o->window,          &o->workers,        &o->latency_rate,
                 &o->latency_seconds, &o->close_requests, &o->close_lots};
    long def[] = {
        quick ? 100000 : 2000000, 100, 8, 32, 2, 20000, quick ? 1 : 10, quick ? 50000 : 1000000,
        quick ? 500 : 5000};
    for (int i = 0; i < NNUMOPTS; i++)
        if (*f[i] < 0)
            *f[i] = def[i];
    o->b_seconds = quick ? 2 : 10;
    if (!o->bin_dir[0])
        self_dir(o->bin_dir, sizeof(o->bin_dir));
}

/* 0 to run, 1 for --help, 2 on a usage error. */
static int parse_options(int argc, char **argv, tp_bench_opts_t *o)
{
    struct option lo[NNUMOPTS + 5];
    for (int i = 0; i < NNUMOPTS; i++)
        lo[i] = (struct option){numopts[i].name, required_argument, NULL, 1000 + i};
    lo[NNUMOPTS] = (struct option){"dsn", required_argument, NULL, 'd'};
    lo[NNUMOPTS + 1] = (struct option){"bin", required_argument, NULL, 'b'};
    lo[NNUMOPTS + 2] = (struct option){"quick", no_argument, NULL, 'q'};
    lo[NNUMOPTS + 3] = (struct option){"help", no_argument, NULL, 'h'};
    lo[NNUMOPTS + 4] = (struct option){NULL, 0, NULL, 0};
    memset(o, 0, sizeof(*o));
    o->requests = o->batch = o->members = o->window = o->workers = -1;
    o->latency_rate = o->latency_seconds = o->close_requests = o->close_lots = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch >= 1000 && ch < 1000 + NNUMOPTS) {
            const bench_numopt_t *n = &numopts[ch - 1000];
            if (parse_long(n->name, optarg, n->min, n->max, (long *)((char *)o + n->offset)) < 0)
                return 2;
        } else if (ch == 'd') {
            o->dsn = optarg;
        } else if (ch == 'b') {
            snprintf(o->bin_dir, sizeof(o->bin_dir), "%s", optarg);
        } else if (ch == 'q') {
            o->quick = true;
        } else if (ch == 'h') {
            usage(stdout);
            return 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    defaults(o, o->quick);
    if (o->close_requests / o->close_lots < 3 || o->members < 3)
        fprintf(stderr,
                "tenderpool-bench: warning: with %ld close requests in %ld lots from %ld "
                "members, some lots get fewer than 3 members (below min_members)\n",
                o->close_requests, o->close_lots, o->members);
    return 0;
}

static int check_setup(tp_bench_opts_t *o)
{
    const char *bins[] = {"tenderpoold", "tenderpool-worker", "tenderpool"};
    for (int i = 0; i < 3; i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof(p), "%s/%s", o->bin_dir, bins[i]);
        if (access(p, X_OK) != 0) {
            fprintf(stderr, "tenderpool-bench: %s not found or not executable (use --bin DIR)\n",
                    p);
            return -1;
        }
    }
    tp_calendar_t cal;
    tp_round_span_t span;
    char err[256];
    if (tp_calendar_init(&cal, "1w", "Europe/Paris", err, sizeof(err)) < 0 ||
        tp_calendar_round_at(&cal, time(NULL), &span) < 0)
        return -1;
    snprintf(o->round_id, sizeof(o->round_id), "%s", span.id);
    snprintf(o->tag, sizeof(o->tag), "r%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
    PGconn *c = tp_bench_connect(o->dsn, "tenderpool-bench");
    PQfinish(c);
    return c ? 0 : -1;
}

/* Best effort: start each phase without a previous phase's dirty pages (needs superuser). */
static void checkpoint(const tp_bench_opts_t *o)
{
    PGconn *c = tp_bench_connect(o->dsn, "tenderpool-bench");
    if (c == NULL)
        return;
    PGresult *r = PQexec(c, "CHECKPOINT");
    PQclear(r);
    PQfinish(c);
}

static long count_rows(const tp_bench_opts_t *o)
{
    PGconn *c = tp_bench_connect(o->dsn, "tenderpool-bench");
    long n = c ? tp_bench_count_rows(c) : -1;
    PQfinish(c);
    return n;
}

static int truncate_table(const tp_bench_opts_t *o)
{
    PGconn *c = tp_bench_connect(o->dsn, "tenderpool-bench");
    int rc = c ? tp_bench_sql(c, "TRUNCATE tenderpool.revision") : -1;
    PQfinish(c);
    return rc;
}

/* ---- report ---- */

static void print_statuses(const char *label, const tp_bench_load_t *l)
{
    printf("  %s statuses: accepted %ld, duplicate %ld, stale %ld, rejected %ld, "
           "retry_later %ld (resent), unspecified %ld; unanswered %ld\n",
           label, l->status[1], l->status[2], l->status[3], l->status[4], l->status[5],
           l->status[0], l->missing);
    if (l->first_error[0])
        printf("  first non-accepted ack: %s\n", l->first_error);
}

static void print_baselines(const tp_bench_results_t *r)
{
    if (r->ran_a)
        printf("baseline A  COPY BINARY, %d connections, %d rows/txn: %ld rows in %.2f s = "
               "%.0f rows/s\n",
               TP_BENCH_A_CONNS, TP_BENCH_A_TXN, r->a_rows, r->a_seconds, r->a_rate);
    if (r->ran_b)
        printf("baseline B  %d clients, one INSERT per transaction: %ld rows in %.2f s = "
               "%.0f rows/s\n",
               TP_BENCH_B_CLIENTS, r->b_rows, r->b_seconds, r->b_rate);
    fflush(stdout);
}

static void print_ingest(const tp_bench_opts_t *o, const tp_bench_results_t *r)
{
    const tp_bench_load_t *l = &r->ingest;
    printf("ingest      %ld accepted in %.2f s = %.0f requests/s (batches of %ld, %ld members, "
           "window %ld, %ld workers)\n",
           l->status[1], l->seconds, l->rate, o->batch, o->members, o->window, o->workers);
    printf("  ack latency per batch (%ld batches): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           l->lat.n, l->lat.p50_ms, l->lat.p99_ms, l->lat.max_ms);
    print_statuses("ingest", l);
    const tp_bench_commits_t *gc = &r->ingest_commits;
    if (!r->have_ingest_commits)
        printf("  group commits: the daemon's /metrics could not be read\n");
    else if (gc->count > 0)
        printf("  group commits in the phase (daemon /metrics): %llu, %.0f requests each, "
               "mean %.2f ms, <= 1 ms %.1f %%, <= 5 ms %.1f %%\n",
               gc->count, (double)l->status[1] / (double)gc->count,
               gc->sum_s * 1e3 / (double)gc->count, 100 * tp_bench_commits_share_le(gc, 1),
               100 * tp_bench_commits_share_le(gc, 5));
    printf("  rows added to tenderpool.revision: %ld (expected %ld: %s)\n", r->ingest_rows_added,
           o->requests, r->ingest_rows_added == o->requests ? "OK" : "MISMATCH");
    printf("memory      supervisor + workers RSS %.1f MiB before, %.1f MiB after: %.0f bytes "
           "per open request\n",
           (double)r->rss_before / 1048576.0, (double)r->rss_after / 1048576.0,
           (double)(r->rss_after - r->rss_before) / (double)o->requests);
    fflush(stdout);
}

static void print_latency(const tp_bench_opts_t *o, const tp_bench_results_t *r)
{
    const tp_bench_load_t *l = &r->latency;
    printf("latency     %ld single-request messages/s offered for %ld s (sent at %.0f/s): "
           "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%ld acks)\n",
           o->latency_rate, o->latency_seconds, l->offered_rate, l->lat.p50_ms, l->lat.p99_ms,
           l->lat.max_ms, l->lat.n);
    print_statuses("latency", l);
    printf("  client send lag (actual - intended send time, counted in the latency above): "
           "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           l->send_lag.p50_ms, l->send_lag.p99_ms, l->send_lag.max_ms);
    printf("  100 ms windows whose slowest ack took over %.0f ms: %ld", TP_BENCH_SPIKE_MS,
           l->spikes);
    for (int i = 0; i < l->nspike; i++)
        printf("%s%.1f s (%.0f ms)", i ? ", " : ": at ", l->spike_at_s[i], l->spike_ms[i]);
    printf("%s\n", l->spikes > l->nspike ? ", ..." : "");
    const tp_bench_commits_t *gc = &r->latency_commits;
    if (!r->have_latency_commits)
        printf("  group commits: the daemon's /metrics could not be read\n");
    else if (gc->count > 0)
        printf("  group commits in the phase (daemon /metrics): %llu, %.0f/s, mean %.2f ms, "
               "<= 1 ms %.1f %%, <= 2 ms %.1f %%, <= 5 ms %.1f %%; longer than 20 ms: %.0f, "
               "than 100 ms: %.0f\n",
               gc->count, (double)gc->count / (double)o->latency_seconds,
               gc->sum_s * 1e3 / (double)gc->count, 100 * tp_bench_commits_share_le(gc, 1),
               100 * tp_bench_commits_share_le(gc, 2), 100 * tp_bench_commits_share_le(gc, 5),
               (double)gc->count * (1 - tp_bench_commits_share_le(gc, 20)),
               (double)gc->count * (1 - tp_bench_commits_share_le(gc, 100)));
    fflush(stdout);
}

static const char *verdict(bool ran, bool pass)
{
    return !ran ? "NOT RUN" : pass ? "PASS" : "SHORT";
}

/* A restart's row; the SPEC target applies to the restart with the open requests only. */
static void restart_row(const char *label, const tp_bench_restart_t *rs, const char *target,
                        bool judged)
{
    char fr[64];
    if (!rs->ran)
        snprintf(fr, sizeof(fr), "-");
    else if (rs->status_ms < 0)
        snprintf(fr, sizeof(fr), "%.2f s (StatusQuery > 60 s)", rs->ms / 1e3);
    else
        snprintf(fr, sizeof(fr), "%.2f s (StatusQuery %.2f s)", rs->ms / 1e3, rs->status_ms / 1e3);
    printf("  %-34s %-30s %-12s %s\n", label, fr, target,
           rs->timed_out ? "SHORT (timed out after 120 s)"
           : !judged     ? (rs->ran ? "(no SPEC target)" : "NOT RUN")
                         : verdict(rs->ran && rs->ms > 0, rs->ms <= TARGET_RESTART_MS));
}

static void print_rounds_rows(const tp_bench_opts_t *o, const tp_bench_results_t *r)
{
    char lc[48], lr[48], fc[64];
    snprintf(lc, sizeof(lc), "round close, %ld open, %ld lots", o->close_requests, o->close_lots);
    snprintf(lr, sizeof(lr), "restart, %ld open requests", o->close_requests);
    bool cpass = r->ran_close && !r->close_cmd_timed_out && !r->close_timed_out &&
                 r->close_lots_written == o->close_lots && r->close_ms <= TARGET_CLOSE_MS;
    if (!r->ran_close)
        snprintf(fc, sizeof(fc), "-");
    else if (r->close_timed_out)
        snprintf(fc, sizeof(fc), "not closed after %d s", 120);
    else if (r->close_cmd_timed_out)
        snprintf(fc, sizeof(fc), "%.0f ms (seen in DB)", r->close_ms);
    else
        snprintf(fc, sizeof(fc), "%.0f ms (daemon: %ld ms)", r->close_ms, r->close_daemon_ms);
    printf("  %-34.34s %-30s %-12s %s%s\n", lc, fc, "<= 300 ms",
           r->close_timed_out ? "SHORT (timed out after 120 s)" : verdict(r->ran_close, cpass),
           r->ran_close && r->close_lots_written != o->close_lots ? " (lot count MISMATCH)" : "");
    restart_row(lr, &r->restart, "<= 5 s", true);
    snprintf(lr, sizeof(lr), "restart, %ld closed (history)", r->close_rows);
    restart_row(lr, &r->restart_hist, "-", false);
}

static void print_table(const tp_bench_opts_t *o, const tp_bench_results_t *r)
{
    double va = r->a_rate > 0 ? r->ingest.rate / r->a_rate : 0;
    double vb = r->b_rate > 0 ? r->ingest.rate / r->b_rate : 0;
    double bpr = (double)(r->rss_after - r->rss_before) / (double)o->requests;
    bool ing = r->ran_ingest && r->ran_a, ingb = r->ran_ingest && r->ran_b;
    char f[4][64];
    snprintf(f[0], sizeof(f[0]), "%.2f (%.0f / %.0f)", va, r->ingest.rate, r->a_rate);
    snprintf(f[1], sizeof(f[1]), "%.1f (%.0f / %.0f)", vb, r->ingest.rate, r->b_rate);
    snprintf(f[2], sizeof(f[2]), "%.2f ms at %ld/s", r->latency.lat.p99_ms, o->latency_rate);
    snprintf(f[3], sizeof(f[3]), "%.0f bytes", bpr);
    bool ran[4] = {ing, ingb, r->ran_latency, r->ran_ingest};
    for (int i = 0; i < 4; i++)
        if (!ran[i])
            snprintf(f[i], sizeof(f[i]), "-");
    printf("\nSPEC section 8 targets%s (2-core machine: bench client, daemon and PostgreSQL "
           "share it)\n",
           o->quick ? " -- QUICK RUN, indicative only" : "");
    printf("  %-34s %-30s %-12s %s\n", "target", "measured", "goal", "verdict");
    printf("  %-34s %-30s %-12s %s\n", "durable ingest / baseline A", f[0], ">= 0.65",
           verdict(ing, va >= TARGET_VS_A));
    printf("  %-34s %-30s %-12s %s\n", "durable ingest / baseline B", f[1], ">= 7",
           verdict(ingb, vb >= TARGET_VS_B));
    printf("  %-34s %-30s %-12s %s\n", "ack latency p99", f[2], "<= 5 ms",
           verdict(r->ran_latency, r->latency.lat.p99_ms <= TARGET_P99_MS));
    printf("  %-34s %-30s %-12s %s\n", "memory per open request", f[3], "<= 256 B",
           verdict(r->ran_ingest, bpr <= TARGET_BYTES));
    print_rounds_rows(o, r);
}

static const char *json_bool(bool b)
{
    return b ? "true" : "false";
}

static void print_json(const tp_bench_opts_t *o, const tp_bench_results_t *r)
{
    const tp_bench_load_t *in = &r->ingest, *la = &r->latency;
    long other = in->status[0] + in->status[2] + in->status[3] + in->status[4];
    printf("BENCH_JSON {\"quick\":%s,\"requests\":%ld,\"batch\":%ld,\"members\":%ld,"
           "\"window\":%ld,\"workers\":%ld,",
           json_bool(o->quick), o->requests, o->batch, o->members, o->window, o->workers);
    printf("\"baseline_a_rps\":%.0f,\"baseline_b_rps\":%.0f,\"ingest_rps\":%.0f,"
           "\"ingest_accepted\":%ld,\"ingest_other_statuses\":%ld,\"ingest_retry_later\":%ld,"
           "\"ingest_rows_added\":%ld,\"ingest_p50_ms\":%.3f,\"ingest_p99_ms\":%.3f,"
           "\"ratio_vs_a\":%.3f,\"ratio_vs_b\":%.2f,",
           r->a_rate, r->b_rate, in->rate, in->status[1], other, in->status[5],
           r->ingest_rows_added, in->lat.p50_ms, in->lat.p99_ms,
           r->a_rate > 0 ? in->rate / r->a_rate : 0, r->b_rate > 0 ? in->rate / r->b_rate : 0);
    printf("\"latency_rate\":%ld,\"latency_sent_rate\":%.0f,\"latency_p50_ms\":%.3f,"
           "\"latency_p99_ms\":%.3f,\"latency_max_ms\":%.3f,\"rss_before\":%ld,\"rss_after\":%ld,"
           "\"bytes_per_request\":%.1f,",
           o->latency_rate, la->offered_rate, la->lat.p50_ms, la->lat.p99_ms, la->lat.max_ms,
           r->rss_before, r->rss_after,
           (double)(r->rss_after - r->rss_before) / (double)o->requests);
    const tp_bench_commits_t *gc = &r->latency_commits;
    char gcm[32] = "null", gc2[32] = "null", gc5[32] = "null";
    if (r->have_latency_commits && gc->count > 0) {
        snprintf(gcm, sizeof(gcm), "%.3f", gc->sum_s * 1e3 / (double)gc->count);
        snprintf(gc2, sizeof(gc2), "%.4f", tp_bench_commits_share_le(gc, 2));
        snprintf(gc5, sizeof(gc5), "%.4f", tp_bench_commits_share_le(gc, 5));
    }
    printf("\"latency_commits\":%llu,\"latency_commit_mean_ms\":%s,"
           "\"latency_commits_le_2ms\":%s,\"latency_commits_le_5ms\":%s,"
           "\"latency_spike_windows\":%ld,\"latency_send_lag_p99_ms\":%.3f,",
           r->have_latency_commits ? gc->count : 0ULL, gcm, gc2, gc5, la->spikes,
           la->send_lag.p99_ms);
    printf("\"ingest_commits\":%llu,", r->have_ingest_commits ? r->ingest_commits.count : 0ULL);
    char cms[32] = "null", dms[32] = "null", rms[32] = "null", hms[32] = "null";
    bool closed = r->ran_close && !r->close_timed_out;
    if (closed)
        snprintf(cms, sizeof(cms), "%.1f", r->close_ms);
    if (closed && r->close_daemon_ms >= 0)
        snprintf(dms, sizeof(dms), "%ld", r->close_daemon_ms);
    if (r->restart.ran && !r->restart.timed_out && r->restart.ms > 0)
        snprintf(rms, sizeof(rms), "%.1f", r->restart.ms);
    if (r->restart_hist.ran && !r->restart_hist.timed_out && r->restart_hist.ms > 0)
        snprintf(hms, sizeof(hms), "%.1f", r->restart_hist.ms);
    printf("\"close_requests\":%ld,\"close_lots\":%ld,\"close_load_rps\":%.0f,"
           "\"round_close_ms\":%s,\"round_close_daemon_ms\":%s,\"round_close_lots\":%ld,"
           "\"round_close_viable\":%ld,\"round_close_cmd_timed_out\":%s,\"restart_ms\":%s,"
           "\"restart_accept_ms\":%.1f,\"restart_status_ms\":%.1f,\"restart_history_ms\":%s,",
           o->close_requests, o->close_lots, r->close_load.rate, cms, dms, r->close_lots_written,
           r->close_viable, json_bool(r->close_cmd_timed_out), rms, r->restart.accept_ms,
           r->restart.status_ms, hms);
    printf("\"ran\":{\"baseline_a\":%s,\"baseline_b\":%s,\"ingest\":%s,\"latency\":%s,"
           "\"restart\":%s,\"round_close\":%s}}\n",
           json_bool(r->ran_a), json_bool(r->ran_b), json_bool(r->ran_ingest),
           json_bool(r->ran_latency), json_bool(r->restart.ran && !r->restart.timed_out),
           json_bool(closed));
}

/* ---- phases ---- */

static int run_baselines(const tp_bench_opts_t *o, tp_bench_results_t *r)
{
    checkpoint(o);
    if (tp_bench_baseline_a(o, r) < 0)
        return -1;
    checkpoint(o);
    if (tp_bench_baseline_b(o, r) < 0)
        return -1;
    print_baselines(r);
    return 0;
}

static int run_ingest(const tp_bench_opts_t *o, tp_bench_client_t *c, tp_bench_daemon_t *d,
                      tp_bench_results_t *r)
{
    long before = count_rows(o);
    r->rss_before = tp_bench_daemon_rss(d);
    tp_bench_commits_t cb, ca;
    usleep(HEARTBEAT_WAIT_US); /* workers report their commit histogram once a second */
    bool scraped = tp_bench_scrape_commits(d->metrics_port, &cb) == 0;
    if (before < 0 || tp_bench_ingest(c, d, 'i', o->requests, &r->ingest) < 0)
        return -1;
    r->rss_after = tp_bench_daemon_rss(d);
    usleep(HEARTBEAT_WAIT_US);
    if (scraped && tp_bench_scrape_commits(d->metrics_port, &ca) == 0) {
        tp_bench_commits_delta(&ca, &cb, &r->ingest_commits);
        r->have_ingest_commits = true;
    }
    long after = count_rows(o);
    r->ingest_rows_added = after - before;
    r->ran_ingest = after >= 0;
    print_ingest(o, r);
    return r->ran_ingest ? 0 : -1;
}

/* Last, since they replace the data: the round-close data set through the intake of a fresh
 * daemon, restart with it stored, the close of its round, then a restart with it closed. */
static int run_rounds_phases(const tp_bench_opts_t *o, tp_bench_daemon_t *d, tp_bench_results_t *r)
{
    tp_bench_daemon_stop(d);
    checkpoint(o);
    if (tp_bench_close_load(o, d, r) < 0)
        return -1;
    checkpoint(o);
    char what[96];
    snprintf(what, sizeof(what), "%ld open requests stored", r->close_rows);
    if (tp_bench_restart(o, d, what, &r->restart) < 0)
        return -1;
    checkpoint(o);
    if (tp_bench_round_close(o, d, r) < 0)
        return -1;
    /* Not a SPEC target, but what every later start pays: the same requests, now history */
    checkpoint(o);
    snprintf(what, sizeof(what), "after the close, %ld closed requests stored (history)",
             r->close_rows);
    return tp_bench_restart(o, d, what, &r->restart_hist);
}

static int run_daemon_phases(const tp_bench_opts_t *o, tp_bench_daemon_t *d, tp_bench_results_t *r)
{
    checkpoint(o);
    if (truncate_table(o) < 0 || tp_bench_daemon_start(d, o) < 0)
        return -1;
    tp_bench_client_t *c = tp_bench_client_new(o, d->endpoint);
    int rc = tp_bench_client_wait_ready(c, d, READY_TIMEOUT_S);
    if (rc == 0)
        rc = run_ingest(o, c, d, r);
    if (rc == 0) {
        checkpoint(o); /* like every phase: not paying for the previous phase's dirty pages */
        /* workers report their commit histogram with their heartbeat, once a second */
        tp_bench_commits_t before, after;
        usleep(HEARTBEAT_WAIT_US);
        bool scraped = tp_bench_scrape_commits(d->metrics_port, &before) == 0;
        rc = tp_bench_latency(c, d, &r->latency);
        r->ran_latency = rc == 0;
        usleep(HEARTBEAT_WAIT_US);
        if (scraped && tp_bench_scrape_commits(d->metrics_port, &after) == 0) {
            tp_bench_commits_delta(&after, &before, &r->latency_commits);
            r->have_latency_commits = true;
        }
        print_latency(o, r);
    }
    tp_bench_client_destroy(&c);
    return rc == 0 ? run_rounds_phases(o, d, r) : rc;
}

static int run(const tp_bench_opts_t *o, tp_bench_results_t *r)
{
    tp_bench_daemon_t d;
    printf("tenderpool-bench: %ld requests, batch %ld, %ld members, window %ld, %ld workers, "
           "latency %ld/s for %ld s; close %ld requests in %ld lots; %ld cores; refs tagged %s\n",
           o->requests, o->batch, o->members, o->window, o->workers, o->latency_rate,
           o->latency_seconds, o->close_requests, o->close_lots, sysconf(_SC_NPROCESSORS_ONLN),
           o->tag);
    fflush(stdout);
    if (tp_bench_daemon_prepare(&d, o) < 0 || tp_bench_daemon_migrate(&d, o) < 0)
        return -1;
    int rc = run_baselines(o, r);
    if (rc == 0)
        rc = run_daemon_phases(o, &d, r);
    else
        fprintf(stderr, "tenderpool-bench: a baseline failed; the daemon phases are skipped\n");
    tp_bench_daemon_stop(&d);
    if (truncate_table(o) < 0)
        rc = -1;
    tp_bench_daemon_cleanup(&d, rc == 0);
    return rc;
}

/* The source tree's tests/support/pgtmp.sh (TP_SOURCE_SQL_DIR is <source>/sql). */
static void pgtmp_path(char *out, size_t n)
{
    snprintf(out, n, "%s/../tests/support/pgtmp.sh", TP_SOURCE_SQL_DIR);
}

static int start_own_pg(char *dir, size_t dirlen, char *dsn, size_t dsnlen)
{
    char script[1024], cmd[2200], path[200];
    pgtmp_path(script, sizeof(script));
    snprintf(dir, dirlen, "/tmp/tpbench-pg-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "tenderpool-bench: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    printf("tenderpool-bench: no --dsn: starting a throwaway PostgreSQL in %s\n", dir);
    fflush(stdout);
    snprintf(cmd, sizeof(cmd), "'%s' start '%s' >/dev/null", script, dir);
    FILE *f = NULL;
    snprintf(path, sizeof(path), "%s/dsn", dir);
    if (system(cmd) != 0 || (f = fopen(path, "r")) == NULL || fgets(dsn, (int)dsnlen, f) == NULL) {
        fprintf(stderr, "tenderpool-bench: cannot start PostgreSQL with %s\n", script);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    dsn[strcspn(dsn, "\n")] = '\0';
    return 0;
}

static void stop_own_pg(const char *dir)
{
    char script[1024], cmd[2200];
    pgtmp_path(script, sizeof(script));
    snprintf(cmd, sizeof(cmd), "'%s' stop '%s' >/dev/null 2>&1; rm -rf '%s'", script, dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tenderpool-bench: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    tp_bench_opts_t o;
    tp_bench_results_t r;
    int prc = parse_options(argc, argv, &o);
    if (prc)
        return prc == 1 ? 0 : 2;
    static char own_dsn[1024], own_dir[64];
    if (o.dsn == NULL || !o.dsn[0]) {
        /* no --dsn: a throwaway cluster under /tmp (tests/support/pgtmp.sh), removed at exit */
        if (start_own_pg(own_dir, sizeof(own_dir), own_dsn, sizeof(own_dsn)) < 0)
            return 2;
        o.dsn = own_dsn;
    }
    if (check_setup(&o) < 0)
        return 1;
    /* backstop: the daemon dies with the bench (PR_SET_PDEATHSIG) */
    alarm((unsigned)(900 + o.requests / 1000 + o.latency_seconds + o.b_seconds +
                     o.close_requests / 2000));
    memset(&r, 0, sizeof(r));
    int rc = run(&o, &r);
    print_table(&o, &r);
    print_json(&o, &r);
    if (own_dir[0])
        stop_own_pg(own_dir);
    return rc == 0 ? 0 : 1;
}
