/* Integration: floods, hostile frames and half-open connections change nothing (issue 5). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

static tp_test_daemon_t d;
static void *zctx;
static PGconn *db;

static void limits_start(void)
{
    tp_test_reset_db();
    db = tp_test_pg();
    zctx = zmq_ctx_new();
    memset(&d, 0, sizeof(d));
    tp_test_daemon_start(&d, 2, "1w",
                         "[limits]\nmember_rate = 500\nmember_burst = 1000\n"
                         "[intake]\nmax_message_bytes = 65536\n");
}

static void limits_stop(void)
{
    tp_test_daemon_stop(&d);
    if (db)
        PQfinish(db);
    db = NULL;
    zmq_ctx_term(zctx);
    (void)tp_test_run(NULL, 0, "rm -rf '%s'", d.dir);
}

TestSuite(limits, .init = limits_start, .fini = limits_stop, .timeout = 120);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void send_items(void *s, uint64_t batch_id, const char *member, int first, int n)
{
    tp_test_item_t *it = calloc((size_t)n, sizeof(*it));
    char(*refs)[32] = calloc((size_t)n, 32);
    for (int i = 0; i < n; i++) {
        snprintf(refs[i], 32, "%s-%d", member, first + i);
        it[i] = tp_test_item_default(member, refs[i]);
    }
    size_t len;
    uint8_t *buf = tp_test_pack_batch(batch_id, it, (size_t)n, &len);
    tp_test_send(s, buf, len);
    free(buf);
    free(it);
    free(refs);
}

Test(limits, a_flooding_member_is_rate_limited_and_another_is_not)
{
    void *flood = tp_test_connect(zctx, d.endpoint), *calm = tp_test_connect(zctx, d.endpoint);
    /* 40 batches of 100 at once: 4,000 items against a burst of 1,000 and 500/s */
    for (int b = 0; b < 40; b++)
        send_items(flood, (uint64_t)b + 1, "flood", b * 100, 100);
    int limited = 0, accepted = 0, calm_ok = 0;
    double worst = 0;
    for (int i = 0; i < 20; i++) {
        double t0 = now_ms();
        send_items(calm, 1000 + (uint64_t)i, "calm", i, 1);
        Tenderpool__V1__ServerMessage *sm = tp_test_recv(calm, 10000);
        cr_assert_not_null(sm, "the calm member is answered during the flood");
        double dt = now_ms() - t0;
        worst = dt > worst ? dt : worst;
        calm_ok += sm->batch_ack->acks[0]->status == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED;
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
        usleep(20000);
    }
    for (int b = 0; b < 40; b++) {
        Tenderpool__V1__ServerMessage *sm = tp_test_recv(flood, 10000);
        cr_assert_not_null(sm, "every flood batch is answered");
        Tenderpool__V1__Ack *a = sm->batch_ack->acks[0];
        if (a->status == TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER &&
            strcmp(a->error_code, "RATE_LIMITED") == 0)
            limited++;
        else if (a->status == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED)
            accepted++;
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    }
    cr_expect_eq(calm_ok, 20, "the other member's requests are all accepted");
    cr_expect_geq(accepted, 10, "the burst is accepted (%d batches)", accepted);
    cr_expect_geq(limited, 20, "the rest is RATE_LIMITED (%d batches)", limited);
    cr_log_info("calm member's worst ack during the flood: %.1f ms", worst);
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tenderpool.revision WHERE member_id = 'flood'");
    cr_expect_eq(tp_test_pg_long(db, sql), accepted * 100L, "nothing limited was stored");
    zmq_close(flood);
    zmq_close(calm);
}

Test(limits, oversized_random_and_truncated_frames)
{
    void *s = tp_test_connect(zctx, d.endpoint);
    /* a frame above max_message_bytes: the peer is dropped, nothing answered */
    size_t big = 70000;
    uint8_t *junk = malloc(big);
    memset(junk, 0x0a, big);
    tp_test_send(s, junk, big);
    cr_expect_null(tp_test_recv(s, 1500), "an oversized frame gets no answer");
    zmq_close(s);
    free(junk);

    /* random frames and a truncated valid batch: each one answered MALFORMED */
    s = tp_test_connect(zctx, d.endpoint);
    unsigned seed = 42;
    for (int i = 0; i < 30; i++) {
        uint8_t buf[64];
        size_t n = 1 + (size_t)(rand_r(&seed) % 64);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rand_r(&seed);
        buf[0] = 0xff; /* never a valid field tag: not decodable */
        tp_test_send(s, buf, n);
        Tenderpool__V1__ServerMessage *sm = tp_test_recv(s, 10000);
        cr_assert_not_null(sm, "random frame %d answered", i);
        cr_expect_str_eq(sm->batch_ack->acks[0]->error_code, "MALFORMED");
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    }
    tp_test_item_t it = tp_test_item_default("acme", "t-1");
    size_t len;
    uint8_t *buf = tp_test_pack_batch(5, &it, 1, &len);
    tp_test_send(s, buf, len / 2);
    free(buf);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(s, 10000);
    cr_assert_not_null(sm);
    cr_expect_str_eq(sm->batch_ack->acks[0]->error_code, "MALFORMED");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    /* and the daemon is fine */
    send_items(s, 6, "acme", 0, 1);
    sm = tp_test_recv(s, 10000);
    cr_assert_not_null(sm);
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    zmq_close(s);
}

Test(limits, ten_thousand_half_open_connections_do_not_stop_a_member)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int want = 10000;
    cr_assert_geq((long)rl.rlim_cur, want + 100, "this test needs %d descriptors (limit %llu)",
                  want + 100, (unsigned long long)rl.rlim_cur);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int *fds = calloc((size_t)want, sizeof(int)), opened = 0;
    for (int i = 0; i < want; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fds[i] < 0)
            break;
        connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)); /* never says a word */
        opened++;
    }
    cr_expect_eq(opened, want);
    usleep(500000);
    void *s = tp_test_connect(zctx, d.endpoint);
    send_items(s, 1, "acme", 0, 1);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(s, 15000);
    cr_assert_not_null(sm, "a real member is answered next to %d silent connections", opened);
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    zmq_close(s);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
}
