/* tenderpool-bench: shared types of the benchmark (SPEC section 8); no product code lives here. */
#ifndef TP_BENCH_H
#define TP_BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "tp_calendar.h"
#include "tp_copybuf.h"

#define TP_BENCH_NSTATUS 6   /* Status enum values 0..5 of the wire protocol */
#define TP_BENCH_B_CLIENTS 8 /* baseline B: clients inserting one request per transaction */
#define TP_BENCH_A_CONNS 2   /* baseline A: parallel COPY BINARY connections */
#define TP_BENCH_A_TXN 10000 /* baseline A: rows per COPY transaction */

/* The options, the only state passed around (no globals). */
typedef struct tp_bench_opts {
    const char *dsn;
    long requests;        /* durable ingest: accepted requests to reach */
    long batch;           /* requests per Batch message */
    long members;         /* simulated members, one DEALER socket each */
    long window;          /* batches in flight per member */
    long workers;         /* daemon workers */
    long latency_rate;    /* single-request messages per second, offered open-loop */
    long latency_seconds; /* latency phase duration */
    long b_seconds;       /* baseline B duration */
    long close_requests;  /* round close / restart: open requests in the round */
    long close_lots;      /* round close: consolidation keys (lots) they fall into */
    bool quick;
    char bin_dir[PATH_MAX];         /* tenderpoold, tenderpool-worker, tenderpool */
    char tag[24];                   /* unique per run: prefixes every request_ref */
    char round_id[TP_ROUND_ID_MAX]; /* current weekly round id, for baseline rows */
} tp_bench_opts_t;

/* Latency summary in milliseconds. */
typedef struct tp_bench_lat {
    long n;
    double p50_ms, p99_ms, max_ms;
} tp_bench_lat_t;

/* What the client saw of one load phase. */
#define TP_BENCH_SPIKE_MS 20.0
#define TP_BENCH_NSPIKE 12
typedef struct tp_bench_load {
    long sent_items;
    long status[TP_BENCH_NSTATUS]; /* per ack status, retries included */
    long missing;                  /* items never answered before the phase timeout */
    double seconds;                /* first send to last ack */
    double rate;                   /* accepted requests per second */
    double offered_rate;           /* latency phase: messages per second actually sent */
    tp_bench_lat_t lat;
    /* latency phase: how late the client sent each message (actual - intended send time):
     * the share of the ack latency that is the client itself not getting the CPU in time */
    tp_bench_lat_t send_lag;
    char first_error[160]; /* first non-accepted ack: status, code, detail */
    /* latency phase: the 100 ms windows (by intended send time) whose slowest ack took more
     * than TP_BENCH_SPIKE_MS: how many, and the first few (start in s, slowest in ms) */
    long spikes;
    int nspike;
    double spike_at_s[TP_BENCH_NSPIKE], spike_ms[TP_BENCH_NSPIKE];
} tp_bench_load_t;

/* The daemon's group-commit duration histogram (cumulative buckets, as /metrics serves it). */
#define TP_BENCH_COMMIT_BUCKETS 16
typedef struct tp_bench_commits {
    int nbuckets;
    double le_ms[TP_BENCH_COMMIT_BUCKETS]; /* upper bounds; the last is +Inf */
    unsigned long long cum[TP_BENCH_COMMIT_BUCKETS];
    unsigned long long count;
    double sum_s;
} tp_bench_commits_t;

/* One restart: SIGTERM, then exec to READY. */
typedef struct tp_bench_restart {
    double accept_ms; /* exec to the intake port accepting a TCP connection */
    double ms;        /* exec to intake accepting and a Batch round trip acked */
    double status_ms; /* exec to a StatusQuery answered on every member */
    int batch_status;
    bool ran, timed_out;
} tp_bench_restart_t;

/* Every figure the report prints. */
typedef struct tp_bench_results {
    double a_rate, a_seconds;
    long a_rows;
    double b_rate, b_seconds;
    long b_rows;
    tp_bench_load_t ingest;
    long ingest_rows_added; /* SELECT count(*) after ingest minus before */
    tp_bench_load_t latency;
    tp_bench_commits_t ingest_commits;  /* group commits during the ingest phase */
    tp_bench_commits_t latency_commits; /* group commits during the latency phase */
    bool have_ingest_commits, have_latency_commits;
    long rss_before, rss_after; /* bytes, supervisor + workers */
    bool ran_a, ran_b, ran_ingest, ran_latency;
    /* round-close data set, loaded through the intake */
    tp_bench_load_t close_load;
    long close_rows; /* revisions in the round before the close */
    /* restart with the round-close data set stored: open, then (after the close) history */
    tp_bench_restart_t restart, restart_hist;
    /* round close */
    char close_round[TP_ROUND_ID_MAX];
    char close_reply[512];
    double close_ms;      /* command sent to reply (or to the round seen closed) */
    long close_daemon_ms; /* the daemon's own "committed T ms after the cutoff", -1 unknown */
    long close_lots_written, close_viable;
    bool ran_close, close_timed_out, close_cmd_timed_out;
} tp_bench_results_t;

/* A generated purchase request: deterministic from (phase, member, seq), unique refs per run. */
typedef struct tp_bench_req {
    char member_id[24];
    char request_ref[64];
    char item_key[24];
    char quantity[24];
    char need_by[40];
    char max_unit_price[24]; /* "" when absent */
    const char *cpv, *description, *unit, *zone, *currency;
    long need_by_days; /* days since 1970-01-01 */
} tp_bench_req_t;

/* The rest of a tenderpool.revision row, as the daemon would write it. */
typedef struct tp_bench_row {
    tp_bench_req_t req;
    int64_t server_seq;
    int64_t content_hash;
    int64_t accepted_us;
    char base_quantity[48];
} tp_bench_row_t;

/* COPY BINARY data: the encoder the workers use (common/copybuf.c). */
typedef tp_copybuf_t tp_bench_buf_t;

/* A running daemon. */
typedef struct tp_bench_daemon {
    pid_t pid;
    char dir[64];      /* runtime dir under /tmp, removed at stop */
    char conf[128];    /* generated config */
    char log[128];     /* daemon and migrate output */
    char endpoint[64]; /* tcp://127.0.0.1:PORT */
    int metrics_port;  /* [metrics] listen = 127.0.0.1:PORT */
} tp_bench_daemon_t;

/* ---- rows.c: request generation and COPY BINARY encoding ---- */
void tp_bench_req_fill(tp_bench_req_t *r, const tp_bench_opts_t *o, char phase, long member,
                       long seq);
int tp_bench_row_fill(tp_bench_row_t *row, const tp_bench_opts_t *o, char phase, long member,
                      long seq, int64_t now_us) __attribute__((warn_unused_result));
void tp_bench_copy_begin(tp_bench_buf_t *b);
void tp_bench_copy_row(tp_bench_buf_t *b, const tp_bench_row_t *row, const char *round_id);
void tp_bench_copy_end(tp_bench_buf_t *b);
void tp_bench_buf_free(tp_bench_buf_t *b);
extern const char tp_bench_copy_sql[];
extern const char tp_bench_insert_sql[];

/* ---- stats.c: clocks and percentiles ---- */
int64_t tp_bench_now_ns(void);
int64_t tp_bench_wall_us(void);
void tp_bench_lat_summary(int64_t *samples_ns, long n, tp_bench_lat_t *out);

/* ---- baseline.c: what PostgreSQL alone does with the same rows ---- */
PGconn *tp_bench_connect(const char *dsn, const char *app);
int tp_bench_sql(PGconn *c, const char *sql) __attribute__((warn_unused_result));
long tp_bench_count_rows(PGconn *c);
int tp_bench_baseline_a(const tp_bench_opts_t *o, tp_bench_results_t *res)
    __attribute__((warn_unused_result));
int tp_bench_baseline_b(const tp_bench_opts_t *o, tp_bench_results_t *res)
    __attribute__((warn_unused_result));

/* ---- daemon.c: generated config, migrate, start, stop, memory ---- */
int tp_bench_daemon_prepare(tp_bench_daemon_t *d, const tp_bench_opts_t *o)
    __attribute__((warn_unused_result));
int tp_bench_daemon_migrate(const tp_bench_daemon_t *d, const tp_bench_opts_t *o)
    __attribute__((warn_unused_result));
int tp_bench_daemon_start(tp_bench_daemon_t *d, const tp_bench_opts_t *o)
    __attribute__((warn_unused_result));
bool tp_bench_daemon_alive(tp_bench_daemon_t *d);
long tp_bench_daemon_rss(const tp_bench_daemon_t *d);
void tp_bench_daemon_stop(tp_bench_daemon_t *d);
void tp_bench_daemon_show_log(const tp_bench_daemon_t *d, int lines);
/* Removes the runtime dir; unless ok, the log and config stay for inspection. */
void tp_bench_daemon_cleanup(const tp_bench_daemon_t *d, bool ok);

/* ---- scrape.c: the daemon's /metrics ---- */
int tp_bench_scrape_commits(int port, tp_bench_commits_t *out) __attribute__((warn_unused_result));
void tp_bench_commits_delta(const tp_bench_commits_t *after, const tp_bench_commits_t *before,
                            tp_bench_commits_t *d);
/* Share of the commits that took at most ms (a bucket bound), -1 if no such bound. */
double tp_bench_commits_share_le(const tp_bench_commits_t *c, double ms);

/* ---- load.c: members over ZeroMQ ---- */
typedef struct tp_bench_client tp_bench_client_t;
tp_bench_client_t *tp_bench_client_new(const tp_bench_opts_t *o, const char *endpoint);
void tp_bench_client_destroy(tp_bench_client_t **pc);
/* Restart readiness, in ms since t0 (-1: not answered before the deadline). The Batch must be
 * acked before end; once it is, the StatusQuery answers are awaited until status_end. */
typedef struct tp_bench_probe {
    double batch_ms;  /* a one-request Batch (an already stored request) acked */
    int batch_status; /* its ack status (DUPLICATE = 2 when the worker knows the stored set) */
    double status_ms; /* a StatusQuery answered on every member */
} tp_bench_probe_t;
int tp_bench_client_restart_probe(tp_bench_client_t *c, tp_bench_daemon_t *d, int64_t t0,
                                  int64_t end, int64_t status_end, tp_bench_probe_t *out)
    __attribute__((warn_unused_result));
int tp_bench_client_wait_ready(tp_bench_client_t *c, tp_bench_daemon_t *d, int timeout_s)
    __attribute__((warn_unused_result));
int tp_bench_ingest(tp_bench_client_t *c, tp_bench_daemon_t *d, char phase, long n,
                    tp_bench_load_t *out) __attribute__((warn_unused_result));
int tp_bench_latency(tp_bench_client_t *c, tp_bench_daemon_t *d, tp_bench_load_t *out)
    __attribute__((warn_unused_result));

/* ---- rounds.c: round close and restart with the round-close data set ---- */
int tp_bench_close_load(const tp_bench_opts_t *o, tp_bench_daemon_t *d, tp_bench_results_t *r)
    __attribute__((warn_unused_result));
/* Restart the daemon with the data set stored (`what` says how, for the report). */
int tp_bench_restart(const tp_bench_opts_t *o, tp_bench_daemon_t *d, const char *what,
                     tp_bench_restart_t *out) __attribute__((warn_unused_result));
int tp_bench_round_close(const tp_bench_opts_t *o, tp_bench_daemon_t *d, tp_bench_results_t *r)
    __attribute__((warn_unused_result));

#endif
