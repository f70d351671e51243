/* Integration: the real daemon, real PostgreSQL, real ZeroMQ: durable intake and its ack contract.
 */
#include <regex.h>
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

TP_TEST_SESSION_SUITE(intake, 120);

static long count_rows(const char *member)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tenderpool.revision WHERE member_id = '%s'",
             member);
    return tp_test_pg_long(db, sql);
}

Test(intake, accepted_items_are_rows_with_round_and_seq)
{
    tp_test_item_t it[3] = {tp_test_item_default("acme", "a-1"),
                            tp_test_item_default("acme", "a-2"),
                            tp_test_item_default("acme", "a-3")};
    it[1].quantity = "2";
    it[1].unit = "TNE";
    it[1].cpv = "24111900-4"; /* with check digit */
    it[2].quantity = "0.5";
    it[2].unit = "DZN";
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, 3, &sm);
    regex_t re;
    regcomp(&re, "^[0-9]{4}-W[0-9]{2}$", REG_EXTENDED | REG_NOSUB);
    for (int i = 0; i < 3; i++) {
        Tenderpool__V1__Ack *a = ba->acks[i];
        cr_assert_eq(a->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED, "item %d: %s %s %s", i,
                     tp_test_status_name(a->status), a->error_code, a->detail);
        cr_expect_str_eq(a->request_ref, it[i].request_ref, "acks in envelope order");
        cr_expect_eq(regexec(&re, a->round_id, 0, NULL, 0), 0, "round_id '%s'", a->round_id);
        cr_expect_neq(a->server_seq, 0);
    }
    regfree(&re);
    cr_expect_neq(ba->acks[0]->server_seq, ba->acks[1]->server_seq);
    cr_assert_eq(count_rows("acme"), 3);
    char *base = tp_test_pg_value(db, "SELECT base_quantity::text || ' ' || cpv FROM "
                                      "tenderpool.revision WHERE request_ref = 'a-2'");
    cr_expect_str_eq(base, "2000 24111900", "2 TNE is 2000 KGM exactly; check digit stripped");
    free(base);
    base = tp_test_pg_value(db, "SELECT base_quantity::text FROM tenderpool.revision "
                                "WHERE request_ref = 'a-3'");
    cr_expect_str_eq(base, "6", "0.5 DZN is 6 pieces");
    free(base);
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tenderpool.rounds WHERE round_id = '%s' AND status = 'open'",
             ba->acks[0]->round_id);
    cr_expect_eq(tp_test_pg_long(db, sql), 1, "the open round is listed in tenderpool.rounds");
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.requests WHERE "
                                     "member_id = 'acme' AND state = 'open'"),
                 3);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
}

Test(intake, resend_is_duplicate_with_original_seq_and_one_row)
{
    tp_test_item_t it = tp_test_item_default("acme", "dup-1");
    Tenderpool__V1__ServerMessage *sm1, *sm2;
    Tenderpool__V1__BatchAck *first = tp_test_batch(sock, &it, 1, &sm1);
    Tenderpool__V1__BatchAck *again = tp_test_batch(sock, &it, 1, &sm2);
    cr_assert_eq(first->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    cr_assert_eq(again->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_DUPLICATE, "got %s",
                 tp_test_status_name(again->acks[0]->status));
    cr_expect_eq(again->acks[0]->server_seq, first->acks[0]->server_seq);
    cr_expect_str_eq(again->acks[0]->round_id, first->acks[0]->round_id);
    cr_expect_eq(count_rows("acme"), 1);
    tenderpool__v1__server_message__free_unpacked(sm1, NULL);
    tenderpool__v1__server_message__free_unpacked(sm2, NULL);
}

static Tenderpool__V1__Status send_one(const tp_test_item_t *it, char *code, size_t codelen)
{
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, 1, &sm);
    Tenderpool__V1__Status st = ba->acks[0]->status;
    if (code)
        snprintf(code, codelen, "%s", ba->acks[0]->error_code);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    return st;
}

Test(intake, amend_stale_unknown_and_cancel)
{
    char code[64];
    tp_test_item_t it = tp_test_item_default("acme", "s-1");
    cr_assert_eq(send_one(&it, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    it.op = "amend";
    it.revision = 2;
    it.quantity = "20";
    cr_assert_eq(send_one(&it, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    it.quantity = "30"; /* same revision, other content */
    cr_assert_eq(send_one(&it, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_STALE);
    it.revision = 1;
    cr_assert_eq(send_one(&it, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_STALE);
    tp_test_item_t unknown = it;
    unknown.request_ref = "never-sent";
    unknown.revision = 2;
    cr_assert_eq(send_one(&unknown, code, sizeof(code)), TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(code, "UNKNOWN_REQUEST");
    tp_test_item_t cancel = {.op = "cancel",
                             .member_id = "acme",
                             .request_ref = "s-1",
                             .revision = 3,
                             .reason = "budget cut"};
    cr_assert_eq(send_one(&cancel, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    cr_assert_eq(send_one(&cancel, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_DUPLICATE);
    it.revision = 4;
    cr_assert_eq(send_one(&it, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_STALE,
                 "a cancelled request stays cancelled");
    cr_expect_eq(count_rows("acme"), 3, "submit, amend, cancel: three revisions kept");
    char *state = tp_test_pg_value(
        db, "SELECT state || ' ' || revision FROM tenderpool.requests WHERE request_ref = 's-1'");
    cr_expect_str_eq(state, "cancelled 3");
    free(state);
}

/* One bad field value per case, sent between two good items. */
typedef struct bad_case {
    const char *field;
    const char *value;
    const char *code;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"request_ref", "", "INVALID_FIELD"},
    {"request_ref", "has space", "INVALID_FIELD"},
    {"request_ref", "x12345678901234567890123456789012345678901234567890123456789012345",
     "INVALID_FIELD"},
    {"member_id", "", "INVALID_FIELD"},
    {"member_id", "bad/member", "INVALID_FIELD"},
    {"revision", "2", "INVALID_FIELD"},
    {"cpv", "1234", "INVALID_FIELD"},
    {"cpv", "18424300-X", "INVALID_FIELD"},
    {"item_key", "", "INVALID_FIELD"},
    {"item_key", "tab\there", "INVALID_FIELD"},
    {"item_key", "bad\xff utf8", "INVALID_FIELD"},
    {"description", "nul\x01 control", "INVALID_FIELD"},
    {"quantity", "abc", "INVALID_FIELD"},
    {"quantity", "0", "INVALID_FIELD"},
    {"quantity", "-5", "INVALID_FIELD"},
    {"quantity", "NaN", "INVALID_FIELD"},
    {"quantity", "1e3", "INVALID_FIELD"},
    {"quantity", "1234567890123", "INVALID_FIELD"},
    {"quantity", "1.1234567", "INVALID_FIELD"},
    {"quantity", "0.5", "INVALID_FIELD"}, /* 0.5 H87: not whole pieces */
    {"unit", "XYZ", "UNKNOWN_UNIT"},
    {"need_by", "2026-02-30", "INVALID_FIELD"},
    {"need_by", "2020-01-01", "INVALID_FIELD"},
    {"need_by", "2099-01-01", "INVALID_FIELD"},
    {"need_by", "15/01/2027", "INVALID_FIELD"},
    {"delivery_zone", "frk24", "INVALID_FIELD"},
    {"delivery_zone", "", "INVALID_FIELD"},
    {"currency", "ABC", "INVALID_FIELD"},
    {"currency", "eur", "INVALID_FIELD"},
    {"max_unit_price", "-1", "INVALID_FIELD"},
    {"max_unit_price", "1.1234567", "INVALID_FIELD"},
};

static void set_field(tp_test_item_t *it, const char *field, const char *value)
{
    if (strcmp(field, "request_ref") == 0)
        it->request_ref = value;
    else if (strcmp(field, "member_id") == 0)
        it->member_id = value;
    else if (strcmp(field, "revision") == 0)
        it->revision = (uint32_t)atoi(value);
    else if (strcmp(field, "cpv") == 0)
        it->cpv = value;
    else if (strcmp(field, "item_key") == 0)
        it->item_key = value;
    else if (strcmp(field, "description") == 0)
        it->description = value;
    else if (strcmp(field, "quantity") == 0)
        it->quantity = value;
    else if (strcmp(field, "unit") == 0)
        it->unit = value;
    else if (strcmp(field, "need_by") == 0)
        it->need_by = value;
    else if (strcmp(field, "delivery_zone") == 0)
        it->delivery_zone = value;
    else if (strcmp(field, "currency") == 0)
        it->currency = value;
    else if (strcmp(field, "max_unit_price") == 0)
        it->max_unit_price = value;
}

Test(intake, every_bad_field_is_rejected_and_neighbours_accepted)
{
    size_t n = sizeof(bad_cases) / sizeof(bad_cases[0]);
    for (size_t i = 0; i < n; i++) {
        char r1[32], r2[32], r3[32];
        snprintf(r1, sizeof(r1), "good-%zu-a", i);
        snprintf(r2, sizeof(r2), "bad-%zu", i);
        snprintf(r3, sizeof(r3), "good-%zu-b", i);
        tp_test_item_t it[3] = {tp_test_item_default("acme", r1), tp_test_item_default("acme", r2),
                                tp_test_item_default("acme", r3)};
        set_field(&it[1], bad_cases[i].field, bad_cases[i].value);
        Tenderpool__V1__ServerMessage *sm;
        Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, 3, &sm);
        const Tenderpool__V1__Ack *bad = ba->acks[1];
        cr_expect_eq(bad->status, TENDERPOOL__V1__STATUS__STATUS_REJECTED, "%s='%s': got %s",
                     bad_cases[i].field, bad_cases[i].value, tp_test_status_name(bad->status));
        cr_expect_str_eq(bad->error_code, bad_cases[i].code, "%s='%s': code %s", bad_cases[i].field,
                         bad_cases[i].value, bad->error_code);
        cr_expect(strstr(bad->detail, bad_cases[i].field) != NULL,
                  "%s='%s': detail '%s' must name the field", bad_cases[i].field,
                  bad_cases[i].value, bad->detail);
        cr_expect_eq(ba->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
        cr_expect_eq(ba->acks[2]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    }
    cr_expect_eq(count_rows("acme"), (long)(2 * n), "only the good neighbours are stored");
}

Test(intake, undecodable_and_oversized_batches)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x80};
    tp_test_send(sock, junk, sizeof(junk));
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm, "an undecodable frame is answered");
    cr_assert_eq(sm->kind_case, TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK);
    cr_assert_eq(sm->batch_ack->n_acks, 1);
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(sm->batch_ack->acks[0]->error_code, "MALFORMED");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);

    size_t n = 1001;
    tp_test_item_t *it = calloc(n, sizeof(*it));
    char(*refs)[16] = calloc(n, 16);
    for (size_t i = 0; i < n; i++) {
        snprintf(refs[i], 16, "big-%zu", i);
        it[i] = tp_test_item_default("acme", refs[i]);
    }
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, n, &sm);
    cr_expect_eq(ba->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(ba->acks[1000]->error_code, "BATCH_TOO_LARGE");
    cr_expect_str_eq(ba->acks[1000]->request_ref, "big-1000");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_expect_eq(count_rows("acme"), 0);
    /* the daemon still works */
    tp_test_item_t ok = tp_test_item_default("acme", "after-junk");
    cr_expect_eq(send_one(&ok, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    free(it);
    free(refs);
}

Test(intake, status_query_answers_only_own_requests)
{
    tp_test_item_t a = tp_test_item_default("acme", "st-1");
    tp_test_item_t b = tp_test_item_default("bolt", "st-2");
    tp_test_item_t c = {.op = "cancel", .member_id = "acme", .request_ref = "st-1", .revision = 2};
    cr_assert_eq(send_one(&a, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    cr_assert_eq(send_one(&b, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tp_test_item_t a2 = tp_test_item_default("acme", "st-3");
    cr_assert_eq(send_one(&a2, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    cr_assert_eq(send_one(&c, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    const char *refs[] = {"st-1", "st-2", "st-3", "nope"};
    size_t len;
    uint8_t *buf = tp_test_pack_status(77, "acme", refs, 4, NULL, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm);
    cr_assert_eq(sm->kind_case, TENDERPOOL__V1__SERVER_MESSAGE__KIND_STATUS);
    Tenderpool__V1__StatusReply *r = sm->status;
    cr_assert_eq(r->query_id, 77);
    cr_assert_eq(r->n_requests, 4);
    cr_expect_eq(r->requests[0]->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_CANCELLED);
    cr_expect_eq(r->requests[1]->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_UNKNOWN,
                 "another member's request is unknown to acme");
    cr_expect_str_eq(r->requests[1]->round_id, "");
    cr_expect_eq(r->requests[2]->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_OPEN);
    cr_expect_neq(r->requests[2]->round_id[0], '\0');
    cr_expect_eq(r->requests[3]->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_UNKNOWN);
    /* by round: all own requests of that round, nothing of bolt's */
    char round[40];
    snprintf(round, sizeof(round), "%s", r->requests[2]->round_id);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    buf = tp_test_pack_status(78, "acme", NULL, 0, round, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm);
    cr_assert_eq(sm->status->n_requests, 2, "acme has st-1 and st-3 in %s", round);
    for (size_t i = 0; i < sm->status->n_requests; i++)
        cr_expect_neq(strcmp(sm->status->requests[i]->request_ref, "st-2"), 0);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
}

Test(intake, restart_reloads_state_for_duplicates)
{
    tp_test_item_t it = tp_test_item_default("acme", "rs-1");
    Tenderpool__V1__ServerMessage *sm1, *sm2;
    Tenderpool__V1__BatchAck *first = tp_test_batch(sock, &it, 1, &sm1);
    cr_assert_eq(first->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    zmq_close(sock);
    tp_test_daemon_restart(&daemon_);
    sock = tp_test_connect(zctx, daemon_.endpoint);
    Tenderpool__V1__BatchAck *again = tp_test_batch(sock, &it, 1, &sm2);
    cr_expect_eq(again->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_DUPLICATE);
    cr_expect_eq(again->acks[0]->server_seq, first->acks[0]->server_seq);
    cr_expect_eq(count_rows("acme"), 1);
    tenderpool__v1__server_message__free_unpacked(sm1, NULL);
    tenderpool__v1__server_message__free_unpacked(sm2, NULL);
}

Test(intake, imported_cpv_list_is_enforced)
{
    tp_test_pg_exec(db, "INSERT INTO tenderpool.cpv_code VALUES ('18424300', 'Gloves')");
    zmq_close(sock);
    tp_test_daemon_restart(&daemon_);
    sock = tp_test_connect(zctx, daemon_.endpoint);
    char code[64];
    tp_test_item_t it = tp_test_item_default("acme", "cpv-1");
    cr_expect_eq(send_one(&it, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    it.request_ref = "cpv-2";
    it.cpv = "99999999";
    cr_expect_eq(send_one(&it, code, sizeof(code)), TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(code, "UNKNOWN_CPV");
}

Test(intake, publish_feed_then_rerun_is_all_duplicate)
{
    char feed[400], out[8192], need_by[11];
    tp_test_date(need_by, 40);
    snprintf(feed, sizeof(feed), "%s/feed.csv", daemon_.dir);
    FILE *f = fopen(feed, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "request_ref,cpv,item_key,description,quantity,unit,need_by,delivery_zone,currency\n");
    for (int i = 0; i < 250; i++)
        fprintf(f, "P-%d,18424300,GLOVE-M,\"Gloves, nitrile\",%d,H87,%s,FRK24,EUR\n", i, i + 1,
                need_by);
    fprintf(f, "P-bad,18424300,GLOVE-M,Gloves,0.5,H87,%s,FRK24,EUR\n", need_by);
    fclose(f);
    int rc = tp_test_run(out, sizeof(out), "%s/tenderpool publish -c %s --member pub %s 2>&1",
                         TP_TEST_BIN_DIR, daemon_.conf, feed);
    cr_expect_eq(rc, 1, "a rejected line makes publish exit 1: %s", out);
    cr_expect(strstr(out, "accepted     250") != NULL, "summary: %s", out);
    cr_expect(strstr(out, "P-bad") != NULL && strstr(out, "INVALID_FIELD") != NULL,
              "the rejected line is named: %s", out);
    cr_expect_eq(count_rows("pub"), 250);
    rc = tp_test_run(out, sizeof(out), "%s/tenderpool publish -c %s --member pub %s 2>&1",
                     TP_TEST_BIN_DIR, daemon_.conf, feed);
    cr_expect(strstr(out, "duplicate    250") != NULL, "rerun is safe: %s", out);
    cr_expect_eq(count_rows("pub"), 250, "a rerun stores nothing twice");
}

Test(intake, open_round_is_listed_without_traffic, .timeout = 60)
{
    zmq_close(sock);
    tp_test_daemon_stop(&daemon_);
    tp_test_pg_exec(db, "DELETE FROM tenderpool.round");
    tp_test_daemon_start(&daemon_, 2, "5s", NULL);
    sock = tp_test_connect(zctx, daemon_.endpoint);
    sleep(1);
    cr_assert_geq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.rounds "
                                      "WHERE status = 'open' AND now() >= opens_at "
                                      "AND now() < closes_at"),
                  1, "the open round is listed as soon as the daemon runs");
    long before = tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.rounds");
    sleep(7); /* cross at least one 5 s boundary without traffic */
    long after = tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.rounds");
    cr_expect_gt(after, before, "the next round is listed when it opens (%ld -> %ld)", before,
                 after);
    char *id = tp_test_pg_value(db, "SELECT round_id FROM tenderpool.rounds "
                                    "ORDER BY opens_at DESC LIMIT 1");
    cr_expect(id && strlen(id) == 20 && id[19] == 'Z', "sub-day round ids are UTC starts: %s",
              id ? id : "(none)");
    free(id);
}

Test(intake, cpv_import_on_a_running_daemon_is_picked_up, .timeout = 60)
{
    char code[64];
    tp_test_item_t it = tp_test_item_default("acme", "live-0");
    it.cpv = "99999999";
    cr_assert_eq(send_one(&it, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED,
                 "no list imported: the format alone is checked");
    tp_test_pg_exec(db, "INSERT INTO tenderpool.cpv_code VALUES ('18424300', 'Gloves')");
    Tenderpool__V1__Status st = TENDERPOOL__V1__STATUS__STATUS_ACCEPTED;
    char ref[32];
    for (int i = 1; i <= 150 && st == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED; i++) {
        snprintf(ref, sizeof(ref), "live-%d", i);
        it.request_ref = ref;
        st = send_one(&it, code, sizeof(code));
        if (st == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED)
            usleep(100000);
    }
    cr_expect_eq(st, TENDERPOOL__V1__STATUS__STATUS_REJECTED, "the import is enforced within 15 s");
    cr_expect_str_eq(code, "UNKNOWN_CPV");
    tp_test_item_t ok = tp_test_item_default("acme", "live-ok");
    cr_expect_eq(send_one(&ok, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
}

Test(intake, resend_of_an_older_revision_is_duplicate)
{
    tp_test_item_t sub = tp_test_item_default("acme", "old-1");
    Tenderpool__V1__ServerMessage *sm1, *sm2;
    Tenderpool__V1__BatchAck *first = tp_test_batch(sock, &sub, 1, &sm1);
    cr_assert_eq(first->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tp_test_item_t am = sub;
    am.op = "amend";
    am.revision = 2;
    am.quantity = "25";
    cr_assert_eq(send_one(&am, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    /* the client never saw the submit's ack and resends it: it was accepted before */
    Tenderpool__V1__BatchAck *again = tp_test_batch(sock, &sub, 1, &sm2);
    cr_expect_eq(again->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_DUPLICATE, "got %s",
                 tp_test_status_name(again->acks[0]->status));
    cr_expect_eq(again->acks[0]->server_seq, first->acks[0]->server_seq);
    cr_expect_str_eq(again->acks[0]->round_id, first->acks[0]->round_id);
    tp_test_item_t other = sub;
    other.quantity = "11"; /* revision 1 with other content: STALE */
    cr_expect_eq(send_one(&other, NULL, 0), TENDERPOOL__V1__STATUS__STATUS_STALE);
    cr_expect_eq(count_rows("acme"), 2);
    tenderpool__v1__server_message__free_unpacked(sm1, NULL);
    tenderpool__v1__server_message__free_unpacked(sm2, NULL);
}

Test(intake, a_nul_byte_inside_a_string_is_invalid)
{
    /* protobuf-c would hand "NUL-1" over and drop the rest: the worker reads the raw frame */
    tp_test_item_t it[2] = {tp_test_item_default("acme", "NUL-1#tail"),
                            tp_test_item_default("acme", "nul-neighbour")};
    it[1].description = "fine#too";
    size_t len;
    uint8_t *buf = tp_test_pack_batch(31, it, 2, &len);
    uint8_t *hash = memchr(buf, '#', len);
    cr_assert_not_null(hash);
    *hash = '\0'; /* only the first '#': in request_ref of item 0 */
    tp_test_send(sock, buf, len);
    free(buf);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm);
    cr_assert_eq(sm->batch_ack->n_acks, 2);
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_REJECTED);
    cr_expect_str_eq(sm->batch_ack->acks[0]->error_code, "INVALID_FIELD");
    cr_expect(strstr(sm->batch_ack->acks[0]->detail, "request_ref: contains a NUL byte") != NULL,
              "%s", sm->batch_ack->acks[0]->detail);
    cr_expect_eq(sm->batch_ack->acks[1]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED,
                 "the neighbour is not spoiled: %s", sm->batch_ack->acks[1]->detail);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    cr_expect_eq(count_rows("acme"), 1, "only the neighbour is stored");
}
