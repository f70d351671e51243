/* Integration: CURVE authentication and member keys through the real daemon (issue 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_cert.h"
#include "tp_testclient.h"
#include "tp_testenv.h"

#define CLI TP_TEST_BIN_DIR "/tenderpool"

static tp_test_daemon_t d;
static void *zctx;
static PGconn *db;
static char keys[600];

static void curve_start(void)
{
    tp_test_reset_db();
    db = tp_test_pg();
    zctx = zmq_ctx_new();
    memset(&d, 0, sizeof(d));
    tp_test_write_config(&d, 2, "1w", NULL); /* creates d.dir */
    char extra[1200], out[4096];
    snprintf(keys, sizeof(keys), "%s/keys", d.dir);
    cr_assert_eq(tp_test_run(out, sizeof(out), CLI " keygen %s/server.key 2>&1", d.dir), 0, "%s",
                 out);
    snprintf(extra, sizeof(extra),
             "[security]\nmode = curve\nsecret_key_file = %s/server.key_secret\n", d.dir);
    tp_test_write_config(&d, 2, "1w", extra);
    cr_assert_eq(tp_test_run(out, sizeof(out), CLI " migrate -c %s 2>&1", d.conf), 0, "%s", out);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(tp_test_run(out, sizeof(out), CLI " member add %s --out %s -c %s 2>&1",
                                 i ? "bolt" : "acme", keys, d.conf),
                     0, "%s", out);
    tp_test_daemon_start(&d, 2, "1w", extra);
}

static void curve_stop(void)
{
    tp_test_daemon_stop(&d);
    if (db)
        PQfinish(db);
    db = NULL;
    zmq_ctx_term(zctx);
    (void)tp_test_run(NULL, 0, "rm -rf '%s'", d.dir);
}

TestSuite(curve, .init = curve_start, .fini = curve_stop, .timeout = 120);

/* A DEALER with the member's certificate (NULL: no CURVE at all), or a fresh unknown key. */
static void *member_socket(const char *member, bool unknown_key)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (member != NULL) {
        char path[700], err[600];
        tp_cert_t me, server;
        snprintf(path, sizeof(path), "%s/server.key", keys);
        cr_assert_eq(tp_cert_read(path, &server, false, err, sizeof(err)), 0, "%s", err);
        if (unknown_key) {
            cr_assert_eq(tp_cert_generate(&me), 0);
        } else {
            snprintf(path, sizeof(path), "%s/%s.key_secret", keys, member);
            cr_assert_eq(tp_cert_read(path, &me, true, err, sizeof(err)), 0, "%s", err);
        }
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server.public_key, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, me.public_key, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, me.secret_key, 40);
    }
    cr_assert_eq(zmq_connect(s, d.endpoint), 0);
    return s;
}

/* Send one submit as member_id `as` ("" allowed); the reply (NULL when none within ms). */
static Tenderpool__V1__ServerMessage *submit(void *s, const char *as, const char *ref, int ms)
{
    tp_test_item_t it = tp_test_item_default(as, ref);
    size_t len;
    uint8_t *buf = tp_test_pack_batch(1, &it, 1, &len);
    zmq_send(s, buf, len, 0);
    free(buf);
    return tp_test_recv(s, ms);
}

static long rows_of(const char *member)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tenderpool.revision WHERE member_id = '%s'",
             member);
    return tp_test_pg_long(db, sql);
}

Test(curve, member_key_is_accepted_and_acts_only_as_itself)
{
    void *s = member_socket("acme", false);
    Tenderpool__V1__ServerMessage *sm = submit(s, "acme", "a-1", 10000);
    cr_assert_not_null(sm, "an active member's key is admitted");
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED, "%s",
                 sm->batch_ack->acks[0]->detail);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    sm = submit(s, "", "a-2", 10000); /* empty member_id: the authenticated member */
    cr_assert_not_null(sm);
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    sm = submit(s, "bolt", "b-1", 10000); /* acme's key, bolt's name */
    cr_assert_not_null(sm);
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(sm->batch_ack->acks[0]->error_code, "MEMBER_MISMATCH");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_expect_eq(rows_of("acme"), 2);
    cr_expect_eq(rows_of("bolt"), 0, "nothing stored for the member acme pretended to be");
    zmq_close(s);
}

Test(curve, unknown_key_and_no_curve_get_nothing)
{
    void *s = member_socket("acme", true);
    cr_expect_null(submit(s, "acme", "x-1", 1500), "an unknown key is refused at the handshake");
    zmq_close(s);
    s = member_socket(NULL, false);
    cr_expect_null(submit(s, "acme", "x-2", 1500), "the NULL mechanism is refused");
    zmq_close(s);
    cr_expect_eq(rows_of("acme"), 0);
    /* the daemon is fine: a real member still gets through */
    s = member_socket("bolt", false);
    Tenderpool__V1__ServerMessage *sm = submit(s, "bolt", "b-1", 10000);
    cr_assert_not_null(sm);
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    zmq_close(s);
}

Test(curve, revoked_and_rotated_keys)
{
    void *open = member_socket("acme", false);
    Tenderpool__V1__ServerMessage *sm = submit(open, "acme", "a-1", 10000);
    cr_assert_not_null(sm);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    char out[4096];
    cr_assert_eq(tp_test_run(out, sizeof(out), CLI " member revoke acme -c %s 2>&1", d.conf), 0,
                 "%s", out);
    /* an open connection's messages are refused within 5 s */
    bool refused = false;
    for (int i = 0; i < 60 && !refused; i++) {
        char ref[32];
        snprintf(ref, sizeof(ref), "a-open-%d", i);
        sm = submit(open, "acme", ref, 2000);
        if (sm && sm->batch_ack->acks[0]->status == TENDERPOOL__V1__STATUS__STATUS_REJECTED &&
            strcmp(sm->batch_ack->acks[0]->error_code, "UNAUTHENTICATED") == 0)
            refused = true;
        if (sm)
            tenderpool__v1__server_message__free_unpacked(sm, NULL);
        if (!refused)
            usleep(100000);
    }
    cr_expect(refused, "the open connection is refused after the revocation");
    zmq_close(open);
    void *s = member_socket("acme", false);
    cr_expect_null(submit(s, "acme", "a-new", 1500), "a new connection with a revoked key");
    zmq_close(s);

    /* rotate-key: the old key stops working, the new one works */
    s = member_socket("bolt", false);
    sm = submit(s, "bolt", "b-1", 10000);
    cr_assert_not_null(sm);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    zmq_close(s);
    char old[700], saved[700];
    snprintf(old, sizeof(old), "%s/bolt.key_secret", keys);
    snprintf(saved, sizeof(saved), "%s/bolt.old_secret", keys);
    cr_assert_eq(rename(old, saved), 0);
    cr_assert_eq(tp_test_run(out, sizeof(out), CLI " member rotate-key bolt --out %s -c %s 2>&1",
                             keys, d.conf),
                 0, "%s", out);
    s = member_socket("bolt", false);
    sm = submit(s, "bolt", "b-2", 10000);
    cr_expect_not_null(sm, "the new key is admitted");
    if (sm)
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    zmq_close(s);
    cr_assert_eq(rename(saved, old), 0);
    s = member_socket("bolt", false);
    cr_expect_null(submit(s, "bolt", "b-3", 1500), "the old key is refused");
    zmq_close(s);
    cr_assert_eq(tp_test_run(out, sizeof(out), CLI " member list --json -c %s 2>&1", d.conf), 0,
                 "%s", out);
    cr_expect(strstr(out, "\"revoked\"") != NULL && strstr(out, "\"active\"") != NULL, "%s", out);
}

Test(curve, certificates_and_secret_file_rules)
{
    char path[700], out[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/acme.key_secret", keys);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "a member's secret certificate is 0600");
    snprintf(path, sizeof(path), "%s/server.key_secret", d.dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    /* the files are the ZPL certificates pyzmq reads (Debian python3-zmq) */
    cr_expect_eq(
        tp_test_run(out, sizeof(out),
                    "/usr/bin/python3 -c \"import zmq.auth; p, s = "
                    "zmq.auth.load_certificate('%s/acme.key_secret'); q, n = "
                    "zmq.auth.load_certificate('%s/server.key'); "
                    "assert len(p) == 40 and len(s) == 40 and len(q) == 40 and n is None\" "
                    "2>&1",
                    keys, keys),
        0, "%s", out);
    /* a world-readable server secret: the daemon refuses to start */
    chmod(path, 0644);
    tp_test_daemon_stop(&d);
    cr_expect_neq(tp_test_run(out, sizeof(out), TP_TEST_BIN_DIR "/tenderpoold -c %s 2>&1", d.conf),
                  0);
    cr_expect(strstr(out, "must not be readable") != NULL, "%s", out);
    chmod(path, 0600);
}

Test(curve, member_sql_role_follows_the_member)
{
    char out[4096];
    tp_test_pg_exec(db, "DROP ROLE IF EXISTS tpm_carl_t");
    cr_assert_eq(tp_test_run(out, sizeof(out),
                             CLI " member add carl_t --sql-role --password s3cret --out %s -c %s"
                                 " 2>&1",
                             keys, d.conf),
                 0, "%s", out);
    cr_expect(strstr(out, "tpm_carl_t") != NULL, "%s", out);
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM pg_roles WHERE rolname = 'tpm_carl_t'"
                                     " AND rolcanlogin"),
                 1);
    char *role =
        tp_test_pg_value(db, "SELECT sql_role FROM tenderpool.member WHERE member_id = 'carl_t'");
    cr_expect_str_eq(role, "tpm_carl_t");
    free(role);
    cr_assert_eq(tp_test_run(out, sizeof(out), CLI " member revoke carl_t -c %s 2>&1", d.conf), 0,
                 "%s", out);
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM pg_roles WHERE rolname = 'tpm_carl_t'"
                                     " AND rolcanlogin"),
                 0, "a revoked member's SQL login is disabled");
    tp_test_pg_exec(db, "DROP ROLE IF EXISTS tpm_carl_t");
}
