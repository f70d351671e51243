/* Bench baselines of SPEC section 8: PostgreSQL alone, two COPY BINARY connections and
 * 8 clients with one INSERT per transaction, over the same rows the daemon writes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_bench.h"
#include "tp_mem.h"

/* One baseline thread: its connection, its share of the rows, what it did. */
typedef struct bench_thread {
    const tp_bench_opts_t *o;
    pthread_barrier_t *start;
    int index;
    long first, count;      /* baseline A: rows [first, first+count) */
    int64_t duration_ns;    /* baseline B: how long to insert */
    tp_bench_buf_t *chunks; /* baseline A: pre-encoded COPY transactions */
    long nchunks;
    long done;
    int failed;
} bench_thread_t;

PGconn *tp_bench_connect(const char *dsn, const char *app)
{
    /* durable commits, as the daemon's acks promise; a bounded statement time */
    const char *keys[] = {"dbname", "application_name", "options", NULL};
    const char *vals[] = {
        dsn, app,
        "-c synchronous_commit=on -c statement_timeout=600000 -c client_min_messages=warning",
        NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tenderpool-bench: cannot connect to %s: %s", dsn, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

int tp_bench_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "tenderpool-bench: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

long tp_bench_count_rows(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM tenderpool.revision");
    long n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = atol(PQgetvalue(r, 0, 0));
    else
        fprintf(stderr, "tenderpool-bench: count rows: %s", PQerrorMessage(c));
    PQclear(r);
    return n;
}

static int truncate_revisions(const char *dsn)
{
    PGconn *c = tp_bench_connect(dsn, "tenderpool-bench");
    if (c == NULL)
        return -1;
    int rc = tp_bench_sql(c, "TRUNCATE tenderpool.revision");
    PQfinish(c);
    return rc;
}

/* ---- baseline A: two connections, COPY BINARY, 10,000 rows per transaction ---- */

static int encode_chunks(bench_thread_t *t)
{
    t->nchunks = (t->count + TP_BENCH_A_TXN - 1) / TP_BENCH_A_TXN;
    t->chunks = xcalloc((size_t)(t->nchunks ? t->nchunks : 1), sizeof(*t->chunks));
    int64_t now = tp_bench_wall_us();
    for (long i = 0; i < t->count; i++) {
        tp_bench_buf_t *b = &t->chunks[i / TP_BENCH_A_TXN];
        if (i % TP_BENCH_A_TXN == 0)
            tp_bench_copy_begin(b);
        long seq = t->first + i;
        tp_bench_row_t row;
        if (tp_bench_row_fill(&row, t->o, 'a', seq % t->o->members, seq, now) < 0)
            return -1;
        tp_bench_copy_row(b, &row, t->o->round_id);
        if (i % TP_BENCH_A_TXN == TP_BENCH_A_TXN - 1 || i == t->count - 1)
            tp_bench_copy_end(b);
    }
    return 0;
}

static int copy_chunk(PGconn *c, const tp_bench_buf_t *b)
{
    PGresult *r = PQexec(c, tp_bench_copy_sql);
    int ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok || PQputCopyData(c, b->data, (int)b->len) != 1 || PQputCopyEnd(c, NULL) != 1) {
        fprintf(stderr, "tenderpool-bench: baseline A COPY: %s", PQerrorMessage(c));
        return -1;
    }
    r = PQgetResult(c);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "tenderpool-bench: baseline A COPY: %s", PQerrorMessage(c));
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    return ok ? 0 : -1;
}

static void *copy_thread(void *arg)
{
    bench_thread_t *t = arg;
    PGconn *c = tp_bench_connect(t->o->dsn, "tenderpool-bench baseline A");
    t->failed = c == NULL || encode_chunks(t) < 0;
    pthread_barrier_wait(t->start);
    for (long i = 0; !t->failed && i < t->nchunks; i++) {
        t->failed = copy_chunk(c, &t->chunks[i]) < 0;
        if (!t->failed)
            t->done += i == t->nchunks - 1 ? t->count - i * TP_BENCH_A_TXN : TP_BENCH_A_TXN;
    }
    for (long i = 0; i < t->nchunks; i++)
        tp_bench_buf_free(&t->chunks[i]);
    free(t->chunks);
    PQfinish(c);
    return NULL;
}

/* Starts n threads, times them from a common barrier to the last join. */
static int run_threads(bench_thread_t *t, int n, void *(*fn)(void *), double *seconds, long *done)
{
    pthread_barrier_t start;
    pthread_t tid[TP_BENCH_B_CLIENTS];
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        t[i].start = &start;
        if (pthread_create(&tid[i], NULL, fn, &t[i]) != 0) {
            fprintf(stderr, "tenderpool-bench: cannot start a thread\n");
            exit(1);
        }
    }
    /* threads connect and prepare first; the clock starts when all are ready */
    pthread_barrier_wait(&start);
    int64_t t0 = tp_bench_now_ns();
    int failed = 0;
    *done = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        failed |= t[i].failed;
        *done += t[i].done;
    }
    *seconds = (double)(tp_bench_now_ns() - t0) / 1e9;
    pthread_barrier_destroy(&start);
    return failed ? -1 : 0;
}

int tp_bench_baseline_a(const tp_bench_opts_t *o, tp_bench_results_t *res)
{
    bench_thread_t t[TP_BENCH_A_CONNS];
    memset(t, 0, sizeof(t));
    long half = o->requests / TP_BENCH_A_CONNS;
    for (int i = 0; i < TP_BENCH_A_CONNS; i++) {
        t[i] = (bench_thread_t){.o = o, .index = i, .first = i * half, .count = half};
        if (i == TP_BENCH_A_CONNS - 1)
            t[i].count = o->requests - i * half;
    }
    if (truncate_revisions(o->dsn) < 0)
        return -1;
    int rc = run_threads(t, TP_BENCH_A_CONNS, copy_thread, &res->a_seconds, &res->a_rows);
    res->a_rate = res->a_seconds > 0 ? (double)res->a_rows / res->a_seconds : 0;
    res->ran_a = rc == 0;
    return truncate_revisions(o->dsn) < 0 ? -1 : rc;
}

/* ---- baseline B: 8 clients, one INSERT per transaction (autocommit) ---- */

static int insert_one(PGconn *c, const tp_bench_row_t *row, const char *round_id)
{
    const tp_bench_req_t *q = &row->req;
    char seq[24], hash[24];
    snprintf(seq, sizeof(seq), "%lld", (long long)row->server_seq);
    snprintf(hash, sizeof(hash), "%lld", (long long)row->content_hash);
    const char *p[15] = {q->member_id,
                         q->request_ref,
                         seq,
                         round_id,
                         hash,
                         q->cpv,
                         q->item_key,
                         q->description,
                         q->quantity,
                         q->unit,
                         row->base_quantity,
                         q->need_by,
                         q->zone,
                         q->currency,
                         q->max_unit_price[0] ? q->max_unit_price : NULL};
    PGresult *r = PQexecPrepared(c, "ins", 15, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "tenderpool-bench: baseline B INSERT: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static int prepare_insert(PGconn *c)
{
    PGresult *r = PQprepare(c, "ins", tp_bench_insert_sql, 15, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "tenderpool-bench: baseline B prepare: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static void *insert_thread(void *arg)
{
    bench_thread_t *t = arg;
    PGconn *c = tp_bench_connect(t->o->dsn, "tenderpool-bench baseline B");
    t->failed = c == NULL || prepare_insert(c) < 0;
    pthread_barrier_wait(t->start);
    int64_t deadline = tp_bench_now_ns() + t->duration_ns;
    while (!t->failed && tp_bench_now_ns() < deadline) {
        tp_bench_row_t row;
        t->failed = tp_bench_row_fill(&row, t->o, 'b', t->index, t->done, 0) < 0 ||
                    insert_one(c, &row, t->o->round_id) < 0;
        if (!t->failed)
            t->done++;
    }
    PQfinish(c);
    return NULL;
}

int tp_bench_baseline_b(const tp_bench_opts_t *o, tp_bench_results_t *res)
{
    bench_thread_t t[TP_BENCH_B_CLIENTS];
    memset(t, 0, sizeof(t));
    for (int i = 0; i < TP_BENCH_B_CLIENTS; i++)
        t[i] = (bench_thread_t){.o = o, .index = i, .duration_ns = o->b_seconds * 1000000000LL};
    if (truncate_revisions(o->dsn) < 0)
        return -1;
    int rc = run_threads(t, TP_BENCH_B_CLIENTS, insert_thread, &res->b_seconds, &res->b_rows);
    res->b_rate = res->b_seconds > 0 ? (double)res->b_rows / res->b_seconds : 0;
    res->ran_b = rc == 0;
    return truncate_revisions(o->dsn) < 0 ? -1 : rc;
}
