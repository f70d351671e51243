/* Integration: from requests to an awarded lot: award and allocation, StatusQuery, withdraw,
 * NOTIFY, `tenderpool status`. Real daemon, PostgreSQL and ZeroMQ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

TP_TEST_SESSION_SUITE(tender, 120);

#define CLI TP_TEST_BIN_DIR "/tenderpool"

/* Gloves (count) and nitrogen (mass) with three members each, seeds with one: closed. */
static char *publish_and_close(void)
{
    tp_test_item_t it[] = {
        tp_test_item_line("m1", "g-1", "18424300", "GLOVE-M", "1200", "H87"),
        tp_test_item_line("m2", "g-2", "18424300", "GLOVE-M", "50", "DZN"),
        tp_test_item_line("m3", "g-3", "18424300", "GLOVE-M", "300", "H87"),
        tp_test_item_line("m1", "n-1", "24111700", "N2-5.0", "2", "TNE"),
        tp_test_item_line("m2", "n-2", "24111700", "N2-5.0", "500", "KGM"),
        tp_test_item_line("m3", "n-3", "24111700", "N2-5.0", "1500000", "GRM"),
        tp_test_item_line("m4", "s-1", "03111000", "SEED-WHEAT", "250", "KGM"),
    };
    tp_test_send_accepted(sock, it, sizeof(it) / sizeof(it[0]));
    char *round =
        tp_test_pg_value(db, "SELECT round_id FROM tenderpool.rounds WHERE status = 'open'");
    cr_assert_not_null(round);
    char out[2048];
    cr_assert_eq(
        tp_test_run(out, sizeof(out), CLI " rounds close-current -c %s 2>&1", daemon_.conf), 0,
        "%s", out);
    return round;
}

static char *lot_of(const char *round, const char *cpv)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT lot_id FROM tenderpool.lots WHERE round_id = '%s' AND cpv = '%s'", round, cpv);
    char *lot = tp_test_pg_value(db, sql);
    cr_assert_not_null(lot, "lot of %s in %s", cpv, round);
    return lot;
}

static Tenderpool__V1__ServerMessage *status_of(const char *member, const char *ref)
{
    size_t len;
    const char *refs[] = {ref};
    uint8_t *buf = tp_test_pack_status(7, member, refs, 1, NULL, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm);
    cr_assert_eq(sm->status->n_requests, 1);
    return sm;
}

static void expect_sql(const char *want, const char *fmt, const char *arg)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), fmt, arg);
    char *got = tp_test_pg_value(db, sql);
    cr_expect(got && strcmp(got, want) == 0, "%s: got '%s', want '%s'", sql, got ? got : "(null)",
              want);
    free(got);
}

Test(tender, award_allocates_exactly_and_members_learn_it)
{
    char *round = publish_and_close();
    char *gloves = lot_of(round, "18424300"), *n2 = lot_of(round, "24111700"),
         *seeds = lot_of(round, "03111000");
    tp_test_pg_exec(db, "LISTEN tenderpool_lot_awarded");
    char out[8192];

    /* count unit, partial: whole pieces by largest remainder, summing to 1000 exactly
     * (shares 1200/2100, 600/2100, 300/2100 of 1000 = 571.43, 285.71, 142.86) */
    cr_assert_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier 'Gants SA' --unit-price 0.07"
                                 " --quantity 1000 -c %s 2>&1",
                             gloves, daemon_.conf),
                 0, "%s", out);
    cr_expect(strstr(out, "Gants SA") != NULL, "%s", out);
    expect_sql("1000",
               "SELECT trim_scale(sum(quantity))::text FROM tenderpool.allocation"
               " WHERE lot_id = '%s'",
               gloves);
    expect_sql("m1:571 m2:286 m3:143",
               "SELECT string_agg(member_id || ':' || trim_scale(quantity), ' ' ORDER BY"
               " member_id) FROM tenderpool.allocation WHERE lot_id = '%s'",
               gloves);
    cr_expect(strstr(out, "23.8333") == NULL, "m2 asked 50 DZN: 286 pieces is not whole dozens");

    /* mass, partial with a fraction: shares of 1000.5 kg of 4000 kg, exact to 10^-6 */
    cr_assert_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier 'Air Liquide' --unit-price 0.5"
                                 " --quantity 1000.5 --json -c %s 2>&1",
                             n2, daemon_.conf),
                 0, "%s", out);
    json_t *arr = json_loads(out, 0, NULL);
    cr_assert(json_is_array(arr), "JSON allocation: %s", out);
    cr_expect_eq(json_array_size(arr), 3);
    json_decref(arr);
    expect_sql("1000.5",
               "SELECT trim_scale(sum(quantity))::text FROM tenderpool.allocation"
               " WHERE lot_id = '%s'",
               n2);
    expect_sql("m1:500.25 m2:125.0625 m3:375.1875",
               "SELECT string_agg(member_id || ':' || trim_scale(quantity), ' ' ORDER BY"
               " member_id) FROM tenderpool.allocation WHERE lot_id = '%s'",
               n2);

    /* the award events */
    int notified = 0;
    for (int i = 0; i < 50 && notified < 2; i++) {
        PQconsumeInput(db);
        PGnotify *n;
        while ((n = PQnotifies(db)) != NULL) {
            cr_expect(strcmp(n->extra, gloves) == 0 || strcmp(n->extra, n2) == 0, "payload %s",
                      n->extra);
            notified++;
            PQfreemem(n);
        }
        usleep(20000);
    }
    cr_expect_eq(notified, 2, "NOTIFY tenderpool_lot_awarded once per award");
    expect_sql("2", "SELECT count(*) FROM tenderpool.awards%s", "");

    /* members learn their own allocation and the price */
    Tenderpool__V1__ServerMessage *sm = status_of("m2", "g-2");
    Tenderpool__V1__RequestStatus *st = sm->status->requests[0];
    cr_expect_eq(st->state, TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_AWARDED);
    cr_expect_str_eq(st->lot_id, gloves);
    cr_expect_str_eq(st->allocated_quantity, "286");
    cr_expect_str_eq(st->awarded_unit_price, "0.07");
    cr_expect_str_eq(st->lot_unit, "C62");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);

    /* an awarded request cannot be amended any more */
    tp_test_item_t am = tp_test_item_line("m2", "g-2", "18424300", "GLOVE-M", "60", "DZN");
    am.op = "amend";
    am.revision = 2;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, &am, 1, &sm);
    cr_expect_str_eq(ba->acks[0]->error_code, "ROUND_CLOSED");
    tenderpool__v1__server_message__free_unpacked(sm, NULL);

    /* clear refusals */
    cr_expect_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier X --unit-price 1 -c %s 2>&1", gloves,
                             daemon_.conf),
                 1);
    cr_expect(strstr(out, "already awarded") != NULL, "%s", out);
    cr_expect_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier X --unit-price 1 -c %s 2>&1", seeds,
                             daemon_.conf),
                 1);
    cr_expect(strstr(out, "below the member threshold") != NULL, "%s", out);
    char *open = tp_test_pg_value(db, "SELECT round_id FROM tenderpool.rounds WHERE status = "
                                      "'open'");
    cr_expect_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s-0123456789ab --supplier X --unit-price 1 -c %s"
                                 " 2>&1",
                             open, daemon_.conf),
                 1);
    cr_expect(strstr(out, "still open") != NULL, "%s", out);
    cr_expect_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier X --unit-price -1 -c %s 2>&1", n2,
                             daemon_.conf),
                 2, "a negative price is a usage error");
    free(open);
    free(gloves);
    free(n2);
    free(seeds);
    free(round);
}

Test(tender, award_of_a_whole_count_lot_and_a_fraction_of_pieces)
{
    char *round = publish_and_close();
    char *gloves = lot_of(round, "18424300");
    char out[8192];
    cr_expect_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier X --unit-price 1 --quantity 10.5"
                                 " -c %s 2>&1",
                             gloves, daemon_.conf),
                 1);
    cr_expect(strstr(out, "whole number of pieces") != NULL, "%s", out);
    cr_assert_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier X --unit-price 1 -c %s 2>&1", gloves,
                             daemon_.conf),
                 0, "%s", out);
    expect_sql("m1:1200 m2:600 m3:300",
               "SELECT string_agg(member_id || ':' || trim_scale(quantity), ' ' ORDER BY"
               " member_id) FROM tenderpool.allocation WHERE lot_id = '%s'",
               gloves);
    cr_expect(strstr(out, "50") != NULL, "m2's 600 pieces shown as its 50 DZN: %s", out);
    free(gloves);
    free(round);
}

Test(tender, withdraw_carries_the_lot_requests_to_the_open_round)
{
    char *round = publish_and_close();
    char *n2 = lot_of(round, "24111700"), *gloves = lot_of(round, "18424300");
    char out[4096];
    cr_assert_eq(tp_test_run(out, sizeof(out), CLI " lots withdraw %s --reason 'no bid' -c %s 2>&1",
                             n2, daemon_.conf),
                 0, "%s", out);
    char *open = tp_test_pg_value(db, "SELECT round_id FROM tenderpool.rounds WHERE status = "
                                      "'open'");
    cr_expect(strstr(out, open) != NULL, "%s", out);
    expect_sql("3",
               "SELECT count(*) FROM tenderpool.requests WHERE state = 'carried_over'"
               " AND round_id = '%s' AND request_ref LIKE 'n-%%'",
               open);

    /* members see it, and the workers took it: the request can be amended in the new round */
    Tenderpool__V1__ServerMessage *sm = status_of("m1", "n-1");
    cr_expect_eq(sm->status->requests[0]->state,
                 TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_CARRIED_OVER);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    tp_test_item_t am = tp_test_item_line("m1", "n-1", "24111700", "N2-5.0", "3", "TNE");
    am.op = "amend";
    am.revision = 2;
    tp_test_send_accepted(sock, &am, 1);

    /* refusals */
    cr_expect_eq(
        tp_test_run(out, sizeof(out), CLI " lots withdraw %s -c %s 2>&1", n2, daemon_.conf), 1);
    cr_expect(strstr(out, "already withdrawn") != NULL, "%s", out);
    cr_assert_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier X --unit-price 1 -c %s 2>&1", gloves,
                             daemon_.conf),
                 0, "%s", out);
    cr_expect_eq(
        tp_test_run(out, sizeof(out), CLI " lots withdraw %s -c %s 2>&1", gloves, daemon_.conf), 1);
    cr_expect(strstr(out, "awarded") != NULL, "%s", out);
    cr_expect_eq(tp_test_run(out, sizeof(out),
                             CLI " award --lot %s --supplier X --unit-price 1 -c %s 2>&1", n2,
                             daemon_.conf),
                 1);
    cr_expect(strstr(out, "withdrawn") != NULL, "%s", out);

    /* the next close pools them again, and both rounds agree with the recomputation */
    cr_assert_eq(
        tp_test_run(out, sizeof(out), CLI " rounds close-current -c %s 2>&1", daemon_.conf), 0,
        "%s", out);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT trim_scale(total_quantity) || ' ' || member_count || ' ' || status FROM "
             "tenderpool.lots WHERE round_id = '%s' AND cpv = '24111700'",
             open);
    char *again = tp_test_pg_value(db, sql);
    cr_expect_str_eq(again, "5000 3 viable", "3 t + 500 kg + 1500 kg in the next round");
    free(again);
    cr_expect_eq(
        tp_test_run(out, sizeof(out), CLI " verify --round %s -c %s 2>&1", round, daemon_.conf), 0,
        "%s", out);
    cr_expect_eq(
        tp_test_run(out, sizeof(out), CLI " verify --round %s -c %s 2>&1", open, daemon_.conf), 0,
        "%s", out);
    free(open);
    free(gloves);
    free(n2);
    free(round);
}

Test(tender, status_shows_the_daemon_workers_and_the_last_close)
{
    char *round = publish_and_close();
    char *out = malloc(65536);
    cr_assert_eq(tp_test_run(out, 65536, CLI " status --json -c %s 2>&1", daemon_.conf), 0, "%s",
                 out);
    json_t *o = json_loads(out, 0, NULL);
    cr_assert(json_is_object(o), "%s", out);
    json_t *d = json_object_get(o, "daemon");
    cr_expect_eq(json_array_size(json_object_get(d, "workers")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(d, "last_close"), "round")),
                     round);
    json_t *db_part = json_object_get(o, "database");
    cr_expect_eq(json_array_size(json_object_get(db_part, "open_rounds")), 1);
    json_decref(o);
    cr_assert_eq(tp_test_run(out, 65536, CLI " status -c %s 2>&1", daemon_.conf), 0, "%s", out);
    cr_expect(strstr(out, "worker 0") != NULL && strstr(out, "open round") != NULL, "%s", out);
    free(out);
    free(round);
}
