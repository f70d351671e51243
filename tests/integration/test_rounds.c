/* Integration: rounds close through the daemon: lots, carry-over, ROUND_CLOSED, StatusQuery. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

TP_TEST_SESSION_SUITE(rounds, 120);

/* The open round's id (malloc'd), NULL when none. */
static char *open_round(void)
{
    return tp_test_pg_value(db, "SELECT round_id FROM tenderpool.rounds WHERE status = 'open'");
}

static int close_current(char *out, size_t outlen)
{
    return tp_test_run(out, outlen, "%s/tenderpool rounds close-current -c %s 2>&1",
                       TP_TEST_BIN_DIR, daemon_.conf);
}

/* The workload of issue 3: gloves in pieces and dozens from three members, nitrogen in t, kg
 * and g from two, one member alone on seeds. */
static void publish_workload(void)
{
    tp_test_item_t it[] = {
        tp_test_item_line("m1", "g-1", "18424300", "GLOVE-M", "1200", "H87"),
        tp_test_item_line("m2", "g-2", "18424300", "GLOVE-M", "50", "DZN"),
        tp_test_item_line("m3", "g-3", "18424300", "GLOVE-M", "300", "H87"),
        tp_test_item_line("m1", "n-1", "24111700", "N2-5.0", "2", "TNE"),
        tp_test_item_line("m2", "n-2", "24111700", "N2-5.0", "500", "KGM"),
        tp_test_item_line("m2", "n-3", "24111700", "N2-5.0", "1500000", "GRM"),
        tp_test_item_line("m4", "s-1", "03111000", "SEED-WHEAT", "250", "KGM"),
    };
    tp_test_send_accepted(sock, it, sizeof(it) / sizeof(it[0]));
}

/* Lots recomputed independently from the stored revisions of one round (no carry-over). */
static const char recompute_sql[] =
    "SELECT count(*) FROM (SELECT cpv, item_key, sum(base_quantity) AS total, "
    "count(DISTINCT member_id) AS members, count(*) AS n FROM (SELECT DISTINCT ON "
    "(member_id, request_ref) * FROM tenderpool.revision ORDER BY member_id, request_ref, "
    "revision DESC) cur WHERE op <> 3 AND round_id = '%s' GROUP BY cpv, item_key) x "
    "FULL JOIN (SELECT * FROM tenderpool.lots WHERE round_id = '%s') l USING (cpv, item_key) "
    "WHERE x.total IS DISTINCT FROM l.total_quantity OR x.members IS DISTINCT FROM "
    "l.member_count OR x.n IS DISTINCT FROM l.request_count";

Test(rounds, close_current_writes_lots_exactly_once)
{
    publish_workload();
    char *round = open_round();
    cr_assert_not_null(round);
    char out[2048];
    cr_assert_eq(close_current(out, sizeof(out)), 0, "close-current: %s", out);
    cr_expect(strstr(out, "3 lots (1 viable)") != NULL, "%s", out);
    char sql[2048];
    snprintf(sql, sizeof(sql), recompute_sql, round, round);
    cr_expect_eq(tp_test_pg_long(db, sql), 0, "lots equal an independent recomputation");
    snprintf(sql, sizeof(sql),
             "SELECT trim_scale(total_quantity)::text || ' ' || base_unit || ' ' || member_count "
             "|| ' ' || status FROM tenderpool.lots WHERE round_id = '%s' AND cpv = '%s'",
             round, "18424300");
    char *g = tp_test_pg_value(db, sql);
    cr_expect_str_eq(g, "2100 C62 3 viable", "1200 H87 + 50 DZN + 300 H87");
    free(g);
    snprintf(sql, sizeof(sql),
             "SELECT trim_scale(total_quantity)::text || ' ' || base_unit || ' ' || member_count "
             "|| ' ' || status FROM tenderpool.lots WHERE round_id = '%s' AND cpv = '%s'",
             round, "24111700");
    char *n = tp_test_pg_value(db, sql);
    cr_expect_str_eq(n, "4000 KGM 2 below_threshold", "2 TNE + 500 KGM + 1500000 GRM");
    free(n);
    snprintf(sql, sizeof(sql), "SELECT status FROM tenderpool.rounds WHERE round_id = '%s'", round);
    char *st = tp_test_pg_value(db, sql);
    cr_expect_str_eq(st, "closed");
    free(st);
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.rounds WHERE status = "
                                     "'open'"),
                 1, "the next round is open");
    cr_expect_eq(tp_test_run(out, sizeof(out), "%s/tenderpool verify --round %s -c %s 2>&1",
                             TP_TEST_BIN_DIR, round, daemon_.conf),
                 0, "verify agrees: %s", out);
    free(round);
}

Test(rounds, after_close_pooled_is_closed_and_carried_is_open)
{
    publish_workload();
    char out[2048];
    cr_assert_eq(close_current(out, sizeof(out)), 0, "close-current: %s", out);
    char *next = tp_test_pg_value(db, "SELECT round_id FROM tenderpool.rounds "
                                      "WHERE status = 'open'");
    cr_assert_not_null(next);
    /* amend of a pooled request: ROUND_CLOSED */
    tp_test_item_t a = tp_test_item_line("m1", "g-1", "18424300", "GLOVE-M", "1300", "H87");
    a.op = "amend";
    a.revision = 2;
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, &a, 1, &sm);
    cr_expect_eq(ba->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(ba->acks[0]->error_code, "ROUND_CLOSED");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    /* a carried-over request can still be amended, in the new round */
    tp_test_item_t c = tp_test_item_line("m1", "n-1", "24111700", "N2-5.0", "3", "TNE");
    c.op = "amend";
    c.revision = 2;
    ba = tp_test_batch(sock, &c, 1, &sm);
    cr_expect_eq(ba->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED, "%s %s",
                 ba->acks[0]->error_code, ba->acks[0]->detail);
    cr_expect_str_eq(ba->acks[0]->round_id, next);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    /* a new request goes to the new round */
    tp_test_item_t fresh = tp_test_item_line("m5", "f-1", "18424300", "GLOVE-M", "10", "H87");
    ba = tp_test_batch(sock, &fresh, 1, &sm);
    cr_expect_str_eq(ba->acks[0]->round_id, next);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    /* StatusQuery: pooled with the lot's figures (3 members), carried over, open */
    const char *refs[] = {"g-1", "n-1", "s-1"};
    size_t len;
    uint8_t *buf = tp_test_pack_status(9, "m1", refs, 3, NULL, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm);
    Tenderpool__V1__StatusReply *r = sm->status;
    cr_assert_eq(r->n_requests, 3);
    cr_expect_eq(r->requests[0]->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_POOLED);
    cr_expect_neq(r->requests[0]->lot_id[0], '\0');
    cr_expect_eq(r->requests[0]->lot_member_count, 3);
    cr_expect_str_eq(r->requests[0]->lot_total_quantity, "2100");
    cr_expect_str_eq(r->requests[0]->lot_unit, "C62");
    cr_expect_eq(r->requests[1]->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_OPEN,
                 "amended into the new round: open");
    cr_expect_eq(r->requests[2]->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_UNKNOWN,
                 "s-1 is m4's: unknown to m1");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    /* m2's nitrogen was carried over: it says so, with no lot figures (2 members) */
    const char *refs2[] = {"n-2"};
    buf = tp_test_pack_status(10, "m2", refs2, 1, NULL, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm);
    cr_expect_eq(sm->status->requests[0]->state,
                 TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_CARRIED_OVER);
    cr_expect_str_eq(sm->status->requests[0]->round_id, next);
    cr_expect_eq(sm->status->requests[0]->lot_member_count, 0);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    free(next);
}

Test(rounds, control_command_times_out_clearly_without_daemon)
{
    tp_test_daemon_t other = {0};
    tp_test_write_config(&other, 1, "1w", NULL); /* nobody listens on its control socket */
    char out[2048];
    int rc =
        tp_test_run(out, sizeof(out), "timeout 30 %s/tenderpool rounds close-current -c %s 2>&1",
                    TP_TEST_BIN_DIR, other.conf);
    cr_expect_eq(rc, 1, "exit 1: %s", out);
    cr_expect(strstr(out, "did not answer") != NULL && strstr(out, "10 s") != NULL, "%s", out);
}

static long unclosed_differences(const char *round)
{
    char sql[2048];
    snprintf(sql, sizeof(sql), recompute_sql, round, round);
    return tp_test_pg_long(db, sql);
}

static bool wait_closed(const char *round, int seconds)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tenderpool.rounds WHERE round_id = '%s' AND status = 'closed'",
             round);
    for (int i = 0; i < seconds * 10; i++) {
        if (tp_test_pg_long(db, sql) == 1)
            return true;
        usleep(100000);
    }
    return false;
}

Test(rounds, boundary_closes_the_round_by_itself, .timeout = 90)
{
    zmq_close(sock);
    tp_test_daemon_stop(&daemon_);
    tp_test_reset_db(); /* the weekly round the first start opened would stay the open one */
    tp_test_daemon_start(&daemon_, 2, "10s", NULL);
    sock = tp_test_connect(zctx, daemon_.endpoint);
    tp_test_item_t it[] = {
        tp_test_item_line("m1", "b-1", "18424300", "GLOVE-M", "10", "H87"),
        tp_test_item_line("m2", "b-2", "18424300", "GLOVE-M", "1", "DZN"),
        tp_test_item_line("m3", "b-3", "18424300", "GLOVE-M", "5", "H87"),
    };
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, 3, &sm);
    char round[64];
    snprintf(round, sizeof(round), "%s", ba->acks[0]->round_id);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_assert(wait_closed(round, 25), "round %s closed at its boundary", round);
    cr_expect_eq(unclosed_differences(round), 0, "lots equal the recomputation");
}

/* Find worker 0 among the daemon's children by its command line. */
static pid_t worker0_pid(void)
{
    char out[256];
    tp_test_run(out, sizeof(out), "pgrep -P %d -f -- '--index 0 '", (int)daemon_.pid);
    return (pid_t)atoi(out);
}

static void send_close_request(void)
{
    void *c = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_connect(c, daemon_.control);
    zmq_send(c, "close-current", 13, 0);
    usleep(2000); /* let it start */
    zmq_close(c);
}

/* The round's lots equal an independent recomputation, each written exactly once. */
static void expect_lots_once(const char *round, long nlots)
{
    cr_expect_eq(unclosed_differences(round), 0, "lots equal the recomputation");
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tenderpool.lots WHERE round_id = '%s'", round);
    cr_expect_eq(tp_test_pg_long(db, sql), nlots, "each lot exactly once");
}

Test(rounds, kill9_worker0_during_close_gives_the_same_lots_once, .timeout = 90)
{
    publish_workload();
    char *round = open_round();
    cr_assert_not_null(round);
    pid_t w0 = worker0_pid();
    cr_assert_gt(w0, 0, "worker 0 found");
    send_close_request();
    kill(w0, SIGKILL);
    cr_assert(wait_closed(round, 30), "round %s closed after worker 0's restart", round);
    expect_lots_once(round, 3);
    free(round);
}

Test(rounds, kill9_supervisor_during_close_then_restart, .timeout = 90)
{
    publish_workload();
    char *round = open_round();
    cr_assert_not_null(round);
    send_close_request();
    kill(daemon_.pid, SIGKILL);
    waitpid(daemon_.pid, NULL, 0);
    daemon_.pid = 0;
    sleep(1); /* its workers follow it (parent-death signal) */
    zmq_close(sock);
    tp_test_daemon_start(&daemon_, 2, "1w", NULL);
    sock = tp_test_connect(zctx, daemon_.endpoint);
    char out[2048];
    if (!wait_closed(round, 3)) /* the close never started: the operator asks again */
        cr_assert_eq(close_current(out, sizeof(out)), 0, "close-current: %s", out);
    cr_assert(wait_closed(round, 30), "round %s closed", round);
    expect_lots_once(round, 3);
    free(round);
}

Test(rounds, amend_of_a_round_whose_close_failed_waits_for_the_close)
{
    tp_test_item_t it[] = {
        tp_test_item_line("m1", "h-1", "18424300", "GLOVE-M", "10", "H87"),
        tp_test_item_line("m2", "h-2", "18424300", "GLOVE-M", "20", "H87"),
        tp_test_item_line("m3", "h-3", "18424300", "GLOVE-M", "30", "H87"),
    };
    tp_test_send_accepted(sock, it, 3);
    char *round = open_round();
    tp_test_pg_exec(db, "CREATE FUNCTION tenderpool.test_refuse() RETURNS trigger LANGUAGE "
                        "plpgsql AS $$ BEGIN RAISE EXCEPTION 'test: lots refused'; END $$");
    tp_test_pg_exec(db, "CREATE TRIGGER test_refuse BEFORE INSERT ON tenderpool.lot "
                        "FOR EACH ROW EXECUTE FUNCTION tenderpool.test_refuse()");
    char out[2048];
    cr_assert_eq(close_current(out, sizeof(out)), 1, "the close fails: %s", out);
    /* the new round is open for new requests, but m1's request still belongs to the round
     * whose close is pending: a cancel now would change what that close pools */
    tp_test_item_t cancel = {
        .op = "cancel", .member_id = "m1", .request_ref = "h-1", .revision = 2};
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, &cancel, 1, &sm);
    cr_expect_eq(ba->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER, "got %s %s",
                 tp_test_status_name(ba->acks[0]->status), ba->acks[0]->detail);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    tp_test_pg_exec(db, "DROP TRIGGER test_refuse ON tenderpool.lot");
    cr_assert_eq(close_current(out, sizeof(out)), 0, "the close succeeds: %s", out);
    cr_expect(strstr(out, round) != NULL, "the pending round is the one closed: %s", out);
    ba = tp_test_batch(sock, &cancel, 1, &sm);
    for (int i = 0; i < 50 && ba->acks[0]->status == TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER;
         i++) { /* the workers reload after the close */
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
        usleep(100000);
        ba = tp_test_batch(sock, &cancel, 1, &sm);
    }
    cr_expect_str_eq(ba->acks[0]->error_code, "ROUND_CLOSED");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT member_count FROM tenderpool.lots WHERE round_id = '%s'",
             round);
    cr_expect_eq(tp_test_pg_long(db, sql), 3, "the lot pools all three requests");
    cr_expect_eq(unclosed_differences(round), 0);
    free(round);
}

/* ---- a mixed workload over three closes, checked against `tenderpool verify` ---- */

typedef struct mixref {
    char member[8], ref[16], qty[16], price[16], need_by[11];
    int revision, kind; /* kind: index in mix_kinds */
    bool cancelled;
} mixref_t;

static const struct {
    const char *cpv, *item, *unit;
} mix_kinds[] = {
    {"18424300", "GLOVE-M", "H87"},    {"18424300", "GLOVE-M", "DZN"},
    {"18424300", "GLOVE-M", "C62"},    {"24111700", "N2-5.0", "TNE"},
    {"24111700", "N2-5.0", "KGM"},     {"24111700", "N2-5.0", "GRM"},
    {"03111000", "SEED-WHEAT", "KGM"}, {"33141000", "SWAB", "BX"},
};
#define MIX_KINDS (sizeof(mix_kinds) / sizeof(mix_kinds[0]))

static uint32_t mix_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

static void mix_fill(mixref_t *r, uint32_t *s)
{
    r->kind = (int)(mix_rand(s) % MIX_KINDS);
    snprintf(r->qty, sizeof(r->qty), "%u%s", 1 + mix_rand(s) % 900,
             mix_rand(s) % 3 == 0 && strcmp(mix_kinds[r->kind].unit, "H87") != 0 &&
                     strcmp(mix_kinds[r->kind].unit, "C62") != 0
                 ? ".5"
                 : "");
    if (mix_rand(s) % 2)
        snprintf(r->price, sizeof(r->price), "%u.%02u", mix_rand(s) % 50, mix_rand(s) % 100);
    else
        r->price[0] = '\0';
    tp_test_date(r->need_by, 20 + (int)(mix_rand(s) % 60));
}

static tp_test_item_t mix_item(const mixref_t *r, const char *op)
{
    tp_test_item_t it = tp_test_item_line(r->member, r->ref, mix_kinds[r->kind].cpv,
                                          mix_kinds[r->kind].item, r->qty, mix_kinds[r->kind].unit);
    it.op = op;
    it.revision = (uint32_t)r->revision;
    it.need_by = r->need_by;
    it.max_unit_price = r->price[0] ? r->price : NULL;
    return it;
}

/* Sends items in batches of 50; returns how many were ACCEPTED (others: ROUND_CLOSED). */
static int mix_send(const tp_test_item_t *it, size_t n)
{
    int accepted = 0;
    for (size_t off = 0; off < n; off += 50) {
        size_t k = n - off < 50 ? n - off : 50;
        Tenderpool__V1__ServerMessage *sm;
        Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it + off, k, &sm);
        for (size_t i = 0; i < k; i++) {
            Tenderpool__V1__Ack *a = ba->acks[i];
            bool closed = a->status == TENDERPOOL__V1__STATUS__STATUS_REJECTED &&
                          strcmp(a->error_code, "ROUND_CLOSED") == 0;
            cr_assert(a->status == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED || closed,
                      "%s/%s: %s %s %s", it[off + i].member_id, it[off + i].request_ref,
                      tp_test_status_name(a->status), a->error_code, a->detail);
            accepted += a->status == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED;
        }
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    }
    return accepted;
}

/* Submits n new refs from k, then amends (new kind, quantity, price) or cancels about a third
 * of all refs so far. */
static void mix_round(mixref_t *refs, int *nrefs, int n, uint32_t *s)
{
    tp_test_item_t *it = calloc((size_t)(n + *nrefs), sizeof(*it));
    int k = 0;
    for (int i = 0; i < n; i++) {
        mixref_t *r = &refs[(*nrefs)++];
        memset(r, 0, sizeof(*r));
        snprintf(r->member, sizeof(r->member), "mx%u", mix_rand(s) % 5);
        snprintf(r->ref, sizeof(r->ref), "r-%d", *nrefs);
        r->revision = 1;
        mix_fill(r, s);
        it[k++] = mix_item(r, "submit");
    }
    cr_assert_eq(mix_send(it, (size_t)k), k);
    k = 0;
    for (int i = 0; i < *nrefs; i++) {
        mixref_t *r = &refs[i];
        if (r->cancelled || mix_rand(s) % 3 != 0)
            continue;
        r->revision++;
        if (mix_rand(s) % 5 == 0) {
            r->cancelled = true;
            it[k] = tp_test_item_line(r->member, r->ref, NULL, NULL, NULL, NULL);
            it[k].op = "cancel";
            it[k].revision = (uint32_t)r->revision;
            it[k++].reason = "no longer needed";
        } else {
            mix_fill(r, s);
            it[k++] = mix_item(r, "amend");
        }
    }
    mix_send(it, (size_t)k); /* pooled or unpooled ones answer ROUND_CLOSED */
    free(it);
}

static void mix_close_and_verify(void)
{
    char *round = open_round();
    cr_assert_not_null(round);
    char out[4096];
    cr_assert_eq(close_current(out, sizeof(out)), 0, "close-current: %s", out);
    cr_assert_eq(tp_test_run(out, sizeof(out), "%s/tenderpool verify --round %s -c %s 2>&1",
                             TP_TEST_BIN_DIR, round, daemon_.conf),
                 0, "verify of %s: %s", round, out);
    free(round);
}

/* Waits until the daemon log says `worker W (pid ...) ready` at least `times` times. */
static bool worker_ready_times(const char *log, int w, int times)
{
    for (int i = 0; i < 150; i++) {
        if (tp_test_run(NULL, 0, "test $(grep -c 'worker %d (pid .*) ready' '%s') -ge %d", w, log,
                        times) == 0)
            return true;
        usleep(100000);
    }
    return false;
}

/* Both workers killed and restarted: each places every stored request again from the closes
 * (workers/history.c) and must decide an amend of it as tenderpool.requests says it stands:
 * open or carried over: ACCEPTED; pooled, unpooled or awarded: ROUND_CLOSED; cancelled: STALE. */
static void reloaded_workers_decide_as_the_view(const tp_test_item_t *amends, int n)
{
    char log[512], out[64];
    snprintf(log, sizeof(log), "%s/daemon.log", daemon_.dir);
    cr_assert_eq(tp_test_run(out, sizeof(out), "grep -c 'worker 0 (pid .*) ready' '%s'", log), 0);
    int ready0 = atoi(out);
    cr_assert_eq(tp_test_run(out, sizeof(out), "grep -c 'worker 1 (pid .*) ready' '%s'", log), 0);
    int ready1 = atoi(out);
    cr_assert_eq(tp_test_run(NULL, 0, "pkill -KILL -P %d -f -- '--index [01] '", (int)daemon_.pid),
                 0);
    cr_assert(worker_ready_times(log, 0, ready0 + 1) && worker_ready_times(log, 1, ready1 + 1),
              "both workers restarted");
    long seen[5] = {0}; /* open, carried over, pooled, unpooled, cancelled */
    Tenderpool__V1__Status *want = calloc((size_t)n, sizeof(*want));
    const char **want_code = calloc((size_t)n, sizeof(*want_code));
    for (int i = 0; i < n; i++) {
        char q[512];
        snprintf(q, sizeof(q),
                 "SELECT state FROM tenderpool.requests WHERE member_id = '%.64s' AND "
                 "request_ref = '%.64s'",
                 amends[i].member_id, amends[i].request_ref);
        char *st = tp_test_pg_value(db, q);
        cr_assert_not_null(st, "%s/%s is stored", amends[i].member_id, amends[i].request_ref);
        want_code[i] = "";
        if (strcmp(st, "open") == 0 || strcmp(st, "carried_over") == 0) {
            want[i] = TENDERPOOL__V1__STATUS__STATUS_ACCEPTED;
            seen[strcmp(st, "open") == 0 ? 0 : 1]++;
        } else if (strcmp(st, "cancelled") == 0) {
            want[i] = TENDERPOOL__V1__STATUS__STATUS_STALE;
            seen[4]++;
        } else {
            want[i] = TENDERPOOL__V1__STATUS__STATUS_REJECTED;
            want_code[i] = "ROUND_CLOSED";
            seen[strcmp(st, "unpooled") == 0 ? 3 : 2]++;
        }
        free(st);
    }
    cr_assert(seen[0] && seen[1] && seen[2] && seen[3] && seen[4],
              "open %ld, carried over %ld, pooled %ld, unpooled %ld, cancelled %ld: each kind "
              "is checked",
              seen[0], seen[1], seen[2], seen[3], seen[4]);
    for (int off = 0; off < n; off += 50) {
        int k = n - off < 50 ? n - off : 50;
        Tenderpool__V1__ServerMessage *sm;
        Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, amends + off, (size_t)k, &sm);
        for (int i = 0; i < k; i++) {
            Tenderpool__V1__Ack *a = ba->acks[i];
            cr_expect(a->status == want[off + i] && strcmp(a->error_code, want_code[off + i]) == 0,
                      "%s/%s: %s %s, the view says %s %s", amends[off + i].member_id,
                      amends[off + i].request_ref, tp_test_status_name(a->status), a->error_code,
                      tp_test_status_name(want[off + i]), want_code[off + i]);
        }
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    }
    free(want);
    free(want_code);
}

Test(rounds, mixed_workload_over_three_closes_matches_verify, .timeout = 120)
{
    mixref_t refs[400];
    int n = 0;
    uint32_t seed = 20261126;
    mix_round(refs, &n, 150, &seed);
    tp_test_item_t solo =
        tp_test_item_line("mx-solo", "solo-1", "03111000", "SEED-RYE", "5", "KGM");
    tp_test_send_accepted(sock, &solo, 1); /* alone on its item: carried twice, then unpooled */
    mix_close_and_verify();
    /* worker 1 restarts between closes: it rebuilds its aggregates (carried lines included)
     * from the database */
    char out[256];
    char log[512];
    snprintf(log, sizeof(log), "%s/daemon.log", daemon_.dir);
    cr_assert_eq(
        tp_test_run(out, sizeof(out), "pkill -KILL -P %d -f -- '--index 1 '", (int)daemon_.pid), 0);
    cr_assert(worker_ready_times(log, 1, 2), "worker 1 restarted");
    mix_round(refs, &n, 100, &seed);
    mix_close_and_verify();
    mix_round(refs, &n, 60, &seed);
    mix_close_and_verify();
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.requests"
                                     " WHERE state = 'unpooled' AND request_ref = 'solo-1'"),
                 1, "the lonely request reaches the carry limit");
    cr_expect_gt(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.lots"
                                     " WHERE status = 'viable'"),
                 0);
    cr_expect_eq(tp_test_run(NULL, 0, "grep -q 'recomputing' '%s'", log), 1,
                 "every close used the workers' aggregates");
    cr_expect_eq(tp_test_run(NULL, 0, "grep -q 'carried over to' '%s'", log), 0);
    /* StatusQuery by refs (008's request_position_of with p_refs) gives each asked request
     * exactly the position the member-wide walk gives it; about half the refs are asked, plus
     * one that does not exist */
    const char *asked = "WITH m AS (SELECT DISTINCT member_id FROM tenderpool.revision),"
                        " wide AS (SELECT p.* FROM m, LATERAL tenderpool.request_position_of("
                        "  m.member_id) p WHERE md5(p.request_ref) < '8'),"
                        " byref AS (SELECT p.* FROM m, LATERAL tenderpool.request_position_of("
                        "  m.member_id, NULL, (SELECT array_agg(DISTINCT r.request_ref)"
                        "   || '{no-such-ref}'::text[] FROM tenderpool.revision r"
                        "   WHERE r.member_id = m.member_id AND md5(r.request_ref) < '8')) p) ";
    char q[2048];
    snprintf(q, sizeof(q), "%s SELECT count(*) FROM wide", asked);
    long wide = tp_test_pg_long(db, q);
    cr_expect_gt(wide, 50, "half of the ~310 refs are asked (%ld)", wide);
    snprintf(q, sizeof(q),
             "%s SELECT (SELECT count(*) FROM (TABLE wide EXCEPT ALL TABLE byref) a)"
             " + (SELECT count(*) FROM (TABLE byref EXCEPT ALL TABLE wide) b)",
             asked);
    cr_expect_eq(tp_test_pg_long(db, q), 0, "positions by ref differ from the member-wide walk");
    /* a fourth close carries a lonely request on; a fresh one stays open; then every request
     * is amended through freshly loaded workers */
    tp_test_item_t solo2 =
        tp_test_item_line("mx-solo", "solo-2", "03111000", "SEED-BARLEY", "5", "KGM");
    tp_test_send_accepted(sock, &solo2, 1);
    mix_close_and_verify();
    tp_test_item_t fresh = tp_test_item_line("mx-fresh", "fresh-1", "33141000", "SWAB", "3", "BX");
    tp_test_send_accepted(sock, &fresh, 1);
    tp_test_item_t *amends = calloc((size_t)n + 3, sizeof(*amends));
    for (int i = 0; i < n; i++) {
        refs[i].revision++;
        mix_fill(&refs[i], &seed);
        amends[i] = mix_item(&refs[i], "amend");
    }
    const tp_test_item_t *extra[] = {&solo, &solo2, &fresh};
    for (int i = 0; i < 3; i++) {
        amends[n + i] = *extra[i];
        amends[n + i].op = "amend";
        amends[n + i].revision = 2;
        amends[n + i].quantity = "7";
    }
    reloaded_workers_decide_as_the_view(amends, n + 3);
    free(amends);
}
