/* Integration: faults during intake: kill -9 of a worker, PostgreSQL stopped; nothing acked is
 * lost. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

#define N_ITEMS 20000
#define BATCH 100

TP_TEST_SESSION_SUITE(faults, 240);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Child pids of the daemon: its workers. */
static int worker_pids(pid_t parent, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL && n < max) {
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(buf, sizeof(buf), f)) {
            char *rp = strrchr(buf, ')');
            int ppid = 0;
            if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == parent)
                out[n++] = atoi(e->d_name);
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

/* A client that resends unacknowledged items with the same ids until each is stored. */
typedef struct resender {
    char refs[N_ITEMS][16];
    uint8_t done[N_ITEMS];     /* 1 = ACCEPTED or DUPLICATE */
    uint8_t accepted[N_ITEMS]; /* answered ACCEPTED at least once */
    int64_t sent_at[N_ITEMS];  /* 0 = not in flight */
    uint64_t batch_of[N_ITEMS];
    long n_retry_later, n_accepted, n_duplicate, n_other;
    uint64_t next_batch;
} resender_t;

#define WINDOW 2000 /* items in flight: keeps the run long enough to inject a fault in it */

static void send_due(resender_t *r, int64_t now)
{
    tp_test_item_t items[BATCH];
    size_t k = 0;
    long in_flight = 0;
    for (int i = 0; i < N_ITEMS; i++)
        in_flight += !r->done[i] && r->sent_at[i] && now - r->sent_at[i] < 3000;
    uint64_t id = ++r->next_batch;
    for (int i = 0; i < N_ITEMS && in_flight < WINDOW; i++) {
        if (r->done[i] || (r->sent_at[i] && now - r->sent_at[i] < 3000))
            continue;
        in_flight++;
        items[k] = tp_test_item_default("chaos", r->refs[i]);
        r->sent_at[i] = now;
        r->batch_of[i] = id;
        if (++k == BATCH) {
            size_t len;
            uint8_t *buf = tp_test_pack_batch(id, items, k, &len);
            tp_test_send(sock, buf, len);
            free(buf);
            k = 0;
            id = ++r->next_batch;
        }
    }
    if (k) {
        size_t len;
        uint8_t *buf = tp_test_pack_batch(id, items, k, &len);
        tp_test_send(sock, buf, len);
        free(buf);
    }
}

static int find_ref(const resender_t *r, const char *ref)
{
    int i = atoi(ref + 2); /* "c-<i>" */
    return i >= 0 && i < N_ITEMS && strcmp(r->refs[i], ref) == 0 ? i : -1;
}

static void on_ack(resender_t *r, const Tenderpool__V1__BatchAck *ba)
{
    for (size_t k = 0; k < ba->n_acks; k++) {
        const Tenderpool__V1__Ack *a = ba->acks[k];
        int i = find_ref(r, a->request_ref);
        cr_assert_geq(i, 0, "ack for an unknown ref '%s'", a->request_ref);
        if (r->batch_of[i] != ba->batch_id)
            continue; /* an answer to an older send of this item */
        switch (a->status) {
        case TENDERPOOL__V1__STATUS__STATUS_ACCEPTED:
            r->accepted[i] = 1;
            r->done[i] = 1;
            r->n_accepted++;
            break;
        case TENDERPOOL__V1__STATUS__STATUS_DUPLICATE:
            r->done[i] = 1;
            r->n_duplicate++;
            break;
        case TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER:
            r->sent_at[i] = now_ms() - 2800; /* resend after 200 ms, as a client should */
            r->n_retry_later++;
            break;
        default:
            r->n_other++;
            cr_log_error("unexpected %s %s %s for %s", tp_test_status_name(a->status),
                         a->error_code, a->detail, a->request_ref);
        }
    }
}

static long remaining(const resender_t *r)
{
    long n = 0;
    for (int i = 0; i < N_ITEMS; i++)
        n += !r->done[i];
    return n;
}

/* Drive all items to a stored state; fault() is called once after `after` acks. */
static void drive(resender_t *r, long after, void (*fault)(void), void (*heal)(void))
{
    for (int i = 0; i < N_ITEMS; i++)
        snprintf(r->refs[i], sizeof(r->refs[i]), "c-%d", i);
    bool faulted = false, healed = heal == NULL;
    int64_t deadline = now_ms() + 150000, fault_at = 0;
    while (remaining(r) > 0) {
        cr_assert_lt(now_ms(), deadline, "items still unstored after 150 s: %ld", remaining(r));
        int64_t now = now_ms();
        send_due(r, now);
        if (!faulted && r->n_accepted >= after) {
            fault();
            faulted = true;
            fault_at = now_ms();
        }
        if (faulted && !healed && now_ms() - fault_at > 3000) {
            heal();
            healed = true;
        }
        Tenderpool__V1__ServerMessage *sm;
        for (int k = 0; k < 5 && (sm = tp_test_recv(sock, 50)) != NULL; k++) {
            if (sm->kind_case == TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK)
                on_ack(r, sm->batch_ack);
            tenderpool__v1__server_message__free_unpacked(sm, NULL);
        }
    }
    cr_assert(faulted, "the fault was never injected");
}

static void check_stored_once(const resender_t *r)
{
    long rows = tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.revision");
    long distinct = tp_test_pg_long(
        db, "SELECT count(DISTINCT (member_id, request_ref, revision)) FROM tenderpool.revision");
    cr_expect_eq(rows, N_ITEMS, "every item stored once: %ld rows for %d items", rows, N_ITEMS);
    cr_expect_eq(distinct, rows, "no duplicate rows");
    cr_expect_eq(r->n_other, 0, "no unexpected statuses");
}

static void kill_one_worker(void)
{
    pid_t pids[8];
    int n = worker_pids(daemon_.pid, pids, 8);
    cr_assert_geq(n, 1, "the daemon has workers");
    kill(pids[0], SIGKILL);
}

Test(faults, kill9_worker_loses_no_acked_item)
{
    static resender_t r;
    memset(&r, 0, sizeof(r));
    pid_t before[8];
    cr_assert_eq(worker_pids(daemon_.pid, before, 8), 2);
    drive(&r, 2000, kill_one_worker, NULL);
    check_stored_once(&r);
    pid_t after[8];
    int n = 0;
    for (int i = 0; i < 100 && (n = worker_pids(daemon_.pid, after, 8)) < 2; i++)
        usleep(100000);
    cr_expect_eq(n, 2, "the killed worker was restarted");
    cr_expect(after[0] != before[0] || after[1] != before[1], "a new worker pid exists");
    cr_log_info("kill -9: %ld accepted, %ld duplicate, %ld retry_later", r.n_accepted,
                r.n_duplicate, r.n_retry_later);
}

static char pgdir[512];

static void pg_stop(void)
{
    char out[2048];
    int rc = tp_test_run(out, sizeof(out), "%s/tests/support/pgtmp.sh stop %s 2>&1",
                         TP_TEST_SOURCE_DIR, pgdir);
    cr_assert_eq(rc, 0, "pgtmp stop: %s", out);
}

static void pg_start(void)
{
    char out[2048];
    int rc = tp_test_run(out, sizeof(out), "%s/tests/support/pgtmp.sh start %s 2>&1",
                         TP_TEST_SOURCE_DIR, pgdir);
    cr_assert_eq(rc, 0, "pgtmp start: %s", out);
}

Test(faults, postgres_stopped_gives_retry_later_then_recovers)
{
    if (getenv("TENDERPOOL_TEST_DSN") && *getenv("TENDERPOOL_TEST_DSN"))
        cr_skip_test("TENDERPOOL_TEST_DSN names an external server this test cannot stop; "
                     "run without it (ctest starts its own PostgreSQL)");
    snprintf(pgdir, sizeof(pgdir), "%s", TP_TEST_PGDIR);
    PQfinish(db);
    db = NULL;
    static resender_t r;
    memset(&r, 0, sizeof(r));
    drive(&r, 3000, pg_stop, pg_start);
    db = tp_test_pg();
    check_stored_once(&r);
    cr_expect_gt(r.n_retry_later, 0, "RETRY_LATER was answered while PostgreSQL was down");
    cr_log_info("postgres restart: %ld accepted, %ld duplicate, %ld retry_later", r.n_accepted,
                r.n_duplicate, r.n_retry_later);
}

/* Lines of the daemon log matching a grep pattern. */
static int log_count(const char *pattern)
{
    char out[64];
    if (tp_test_run(out, sizeof(out), "grep -c -- '%s' '%s/daemon.log'", pattern, daemon_.dir) > 1)
        return -1;
    return atoi(out);
}

static bool log_reaches(const char *pattern, int count, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if (log_count(pattern) >= count)
            return true;
        usleep(100000);
    }
    return false;
}

static void pg_restart_external_skip(void)
{
    if (getenv("TENDERPOOL_TEST_DSN") && *getenv("TENDERPOOL_TEST_DSN"))
        cr_skip_test("TENDERPOOL_TEST_DSN names an external server this test cannot stop; "
                     "run without it (ctest starts its own PostgreSQL)");
    snprintf(pgdir, sizeof(pgdir), "%s", TP_TEST_PGDIR);
}

#define KEPT_IDLE "no commit was in flight; the state in memory is kept"
#define KEPT_DOUBT "did not happen; the state in memory is kept"
#define LOADED "requests loaded in"

/* A PostgreSQL restart with idle connections changes nothing the workers hold: they keep
 * their index and aggregates (no reload) and still know every stored request. */
Test(faults, postgres_restart_while_idle_keeps_the_workers_state)
{
    pg_restart_external_skip();
    tp_test_item_t it[40];
    char refs[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(refs[i], sizeof(refs[i]), "idle-%d", i);
        it[i] = tp_test_item_default("idle", refs[i]);
    }
    tp_test_send_accepted(sock, it, 40);
    int loaded = log_count(LOADED);
    cr_assert_geq(loaded, 2, "both workers loaded their state at start");
    PQfinish(db);
    db = NULL;
    pg_stop();
    pg_start();
    db = tp_test_pg();
    cr_assert(log_reaches(KEPT_IDLE, 2, 20000), "both workers reconnected keeping their state");
    cr_expect_eq(log_count(LOADED), loaded, "no worker reloaded its state");
    /* what they remember: a resend is a DUPLICATE, an amend applies, a new ref is accepted */
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, 40, &sm);
    for (int i = 0; i < 40; i++)
        cr_expect_eq(ba->acks[i]->status, TENDERPOOL__V1__STATUS__STATUS_DUPLICATE, "%s: %s",
                     refs[i], tp_test_status_name(ba->acks[i]->status));
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    tp_test_item_t next[2] = {it[0], tp_test_item_default("idle", "idle-new")};
    next[0].op = "amend";
    next[0].revision = 2;
    tp_test_send_accepted(sock, next, 2);
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.revision "
                                     "WHERE member_id = 'idle'"),
                 42);
}

/* Worker backends in wait_event `ev`, or terminated (waiting up to 5 s for each to end). */
static long worker_backends(const char *ev, bool terminate)
{
    char q[512];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM (SELECT %s FROM pg_stat_activity WHERE application_name LIKE "
             "'tenderpool-worker-%%' AND wait_event = '%s') t",
             terminate ? "pg_terminate_backend(pid, 5000)" : "pid", ev);
    return tp_test_pg_long(db, q);
}

#define CUT_N 20

/* Items `member`-0..19 sent as one batch while the test's open transaction locks the revision
 * table; once a worker's COPY waits on that lock, its server process is terminated. Returns
 * how many were; the transaction stays open (the caller ends it). */
static long cut_off_commit(const char *member, uint64_t batch_id, tp_test_item_t it[CUT_N],
                           char refs[CUT_N][16])
{
    for (int i = 0; i < CUT_N; i++) {
        snprintf(refs[i], 16, "%s-%d", member, i);
        it[i] = tp_test_item_default(member, refs[i]);
    }
    tp_test_pg_exec(db, "BEGIN");
    tp_test_pg_exec(db, "LOCK TABLE tenderpool.revision IN ACCESS EXCLUSIVE MODE");
    size_t len;
    uint8_t *buf = tp_test_pack_batch(batch_id, it, CUT_N, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    long waiting = 0;
    for (int i = 0; i < 50 && waiting == 0; i++) {
        usleep(100000);
        waiting = worker_backends("relation", false);
    }
    cr_assert_gt(waiting, 0, "a worker's COPY waits on the lock");
    cr_assert_eq(worker_backends("relation", true), waiting);
    return waiting;
}

/* Resends the items until no RETRY_LATER is left (the workers are connected again). */
static Tenderpool__V1__BatchAck *resend_until_answered(const tp_test_item_t *it,
                                                       Tenderpool__V1__ServerMessage **sm)
{
    Tenderpool__V1__BatchAck *ba = NULL;
    for (int i = 0; i < 50; i++) {
        if (ba)
            tenderpool__v1__server_message__free_unpacked(*sm, NULL);
        ba = tp_test_batch(sock, it, CUT_N, sm);
        bool again = false;
        for (int k = 0; k < CUT_N; k++)
            again |= ba->acks[k]->status == TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER;
        if (!again)
            break;
        usleep(200000);
    }
    return ba;
}

/* A group commit cut off by the server (its process terminated while the COPY waits on a
 * lock): it cannot have happened (the process is gone, its row absent), so the workers keep
 * their state without a reload, answered RETRY_LATER, and the resend is stored once. */
Test(faults, a_commit_cut_off_by_the_server_keeps_the_state)
{
    tp_test_item_t it[CUT_N];
    char refs[CUT_N][16];
    int loaded = log_count(LOADED);
    long waiting = cut_off_commit("doubt", 7070, it, refs);
    tp_test_pg_exec(db, "COMMIT");
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 15000);
    cr_assert_not_null(sm, "the cut-off batch is answered");
    cr_assert_eq(sm->batch_ack->n_acks, CUT_N);
    int retry = 0;
    for (int i = 0; i < CUT_N; i++)
        retry += sm->batch_ack->acks[i]->status == TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER;
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_expect_gt(retry, 0, "the cut-off commit's items are answered RETRY_LATER");
    cr_assert(log_reaches(KEPT_DOUBT, (int)waiting, 20000),
              "each cut-off worker settled its commit in doubt without a reload");
    cr_expect_eq(log_count(LOADED), loaded, "no worker reloaded its state");
    /* the resend: ACCEPTED for what was cut off, DUPLICATE for a part another worker stored */
    Tenderpool__V1__BatchAck *ba = resend_until_answered(it, &sm);
    for (int i = 0; i < CUT_N; i++)
        cr_expect(ba->acks[i]->status == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED ||
                      ba->acks[i]->status == TENDERPOOL__V1__STATUS__STATUS_DUPLICATE,
                  "%s: %s", refs[i], tp_test_status_name(ba->acks[i]->status));
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.revision "
                                     "WHERE member_id = 'doubt'"),
                 CUT_N, "each item stored once");
}

/* A group commit whose connection was cut when its rows are in the database: here the worker's
 * COPY waits on a lock, its server process is terminated, and the test stores the same rows
 * before it lets go of the lock, as if that commit had gone through unanswered. The worker
 * finds one of its rows on reconnect and reloads: the resend then meets the stored rows
 * (answered from the index, here STALE: the test's rows have another content hash), never a
 * second write refused by the unique key. */
Test(faults, a_commit_in_doubt_whose_row_is_stored_reloads)
{
    tp_test_item_t it[CUT_N];
    char refs[CUT_N][16];
    int loaded = log_count(LOADED);
    long held = cut_off_commit("held", 7171, it, refs);
    tp_test_pg_exec(db, "INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, "
                        "server_seq, round_id, accepted_at, content_hash, cpv, item_key, "
                        "quantity, unit, base_quantity, need_by, delivery_zone, currency) "
                        "SELECT 'held', 'held-' || i, 1, 1, 900000000 + i, (SELECT round_id "
                        "FROM tenderpool.round WHERE status = 'open' ORDER BY opens_at DESC "
                        "LIMIT 1), now(), 42, '18424300', 'GLOVE-NITRILE-M', 10, 'H87', 10, "
                        "current_date + 30, 'FRK24', 'EUR' FROM generate_series(0, 19) i");
    tp_test_pg_exec(db, "COMMIT");
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 15000);
    cr_assert_not_null(sm, "the cut-off batch is answered");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_assert(log_reaches(LOADED, loaded + (int)held, 20000),
              "each worker whose commit was in doubt reloaded its state");
    cr_expect_eq(log_count(KEPT_DOUBT), 0);
    Tenderpool__V1__BatchAck *ba = resend_until_answered(it, &sm);
    for (int i = 0; i < CUT_N; i++)
        cr_expect_eq(ba->acks[i]->status, TENDERPOOL__V1__STATUS__STATUS_STALE, "%s: %s", refs[i],
                     tp_test_status_name(ba->acks[i]->status));
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_expect_eq(log_count("unique violation"), 0, "no second write was tried");
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.revision "
                                     "WHERE member_id = 'held'"),
                 CUT_N);
}

Test(faults, sigterm_drain_acks_what_was_in_flight)
{
    /* hold the table so that the batch is in flight when SIGTERM arrives */
    tp_test_pg_exec(db, "BEGIN");
    tp_test_pg_exec(db, "LOCK TABLE tenderpool.revision IN ACCESS EXCLUSIVE MODE");
    tp_test_item_t it[5];
    char refs[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(refs[i], sizeof(refs[i]), "drain-%d", i);
        it[i] = tp_test_item_default("drain", refs[i]);
    }
    size_t len;
    uint8_t *buf = tp_test_pack_batch(4242, it, 5, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    usleep(500000);
    kill(daemon_.pid, SIGTERM);
    usleep(500000);
    tp_test_pg_exec(db, "COMMIT");
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 15000);
    cr_assert_not_null(sm, "the in-flight batch is acked during the drain");
    cr_assert_eq(sm->batch_ack->batch_id, 4242);
    cr_assert_eq(sm->batch_ack->n_acks, 5);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(sm->batch_ack->acks[i]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED,
                     "item %d: %s", i, tp_test_status_name(sm->batch_ack->acks[i]->status));
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    int st = 0;
    for (int i = 0; i < 300 && waitpid(daemon_.pid, &st, WNOHANG) != daemon_.pid; i++)
        usleep(100000);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "drained daemon exits 0 (status %d)", st);
    daemon_.pid = 0;
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.revision "
                                     "WHERE member_id = 'drain'"),
                 5);
    zmq_close(sock);
    tp_test_daemon_start(&daemon_, 2, "1w", NULL); /* for the suite's fini */
    sock = tp_test_connect(zctx, daemon_.endpoint);
}

Test(faults, a_row_the_database_refuses_is_rejected_and_its_group_stored)
{
    /* a rule PostgreSQL enforces that validation does not know: the worker must isolate it */
    tp_test_pg_exec(db, "ALTER TABLE tenderpool.revision ADD CONSTRAINT test_poison "
                        "CHECK (item_key <> 'POISON')");
    tp_test_item_t it[7];
    char refs[7][16];
    for (int i = 0; i < 7; i++) {
        snprintf(refs[i], sizeof(refs[i]), "p-%d", i);
        it[i] = tp_test_item_default("poison", refs[i]);
    }
    it[3].item_key = "POISON";
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, 7, &sm);
    for (int i = 0; i < 7; i++) {
        if (i == 3)
            continue;
        cr_expect_eq(ba->acks[i]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED, "item %d: %s %s",
                     i, ba->acks[i]->error_code, ba->acks[i]->detail);
    }
    cr_expect_eq(ba->acks[3]->status, TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(ba->acks[3]->error_code, "INVALID_FIELD");
    cr_expect(strstr(ba->acks[3]->detail, "refused") != NULL, "%s", ba->acks[3]->detail);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.revision "
                                     "WHERE member_id = 'poison'"),
                 6, "the six good rows are stored");
    /* the index was not corrupted: resends are DUPLICATE, the refused one can be stored later */
    tp_test_pg_exec(db, "ALTER TABLE tenderpool.revision DROP CONSTRAINT test_poison");
    ba = tp_test_batch(sock, it, 7, &sm);
    for (int i = 0; i < 7; i++)
        cr_expect_eq(ba->acks[i]->status,
                     i == 3 ? TENDERPOOL__V1__STATUS__STATUS_ACCEPTED
                            : TENDERPOOL__V1__STATUS__STATUS_DUPLICATE,
                     "resend of item %d: %s", i, tp_test_status_name(ba->acks[i]->status));
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
}
