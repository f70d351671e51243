/* Integration suite: tenderpool.close_round(), the carry-over walk, the views and `verify`. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "tp_testenv.h"

#define CLI TP_TEST_BIN_DIR "/tenderpool"

static PGconn *pg;
static tp_test_daemon_t conf; /* only the config file is used */
static long seq;

static void test_init(void)
{
    tp_test_reset_db();
    pg = tp_test_pg();
    memset(&conf, 0, sizeof(conf));
    tp_test_write_config(&conf, 1, "1w", NULL);
    seq = 0;
}

static void test_fini(void)
{
    if (pg != NULL)
        PQfinish(pg);
    pg = NULL;
    if (conf.dir[0] != '\0')
        (void)tp_test_run(NULL, 0, "rm -rf '%s'", conf.dir);
}

TestSuite(close_sql, .init = test_init, .fini = test_fini, .timeout = 120);

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    tp_test_pg_exec(pg, buf);
}

static char *value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *value(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return tp_test_pg_value(pg, buf);
}

static void expect_value(const char *want, const char *query)
{
    char *got = tp_test_pg_value(pg, query);
    cr_expect(got != NULL && strcmp(got, want) == 0, "%s: got '%s', want '%s'", query,
              got ? got : "(null)", want);
    free(got);
}

/* Round n of a weekly calendar starting 2026-01-05 ("R1", "R2", ...). */
static void add_round(int n)
{
    sql("INSERT INTO tenderpool.round (round_id, opens_at, closes_at) VALUES ('R%d',"
        " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d,"
        " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d)",
        n, n - 1, n);
}

/* One revision row as a worker would have committed it (op 1 submit, 2 amend). */
static void add_req(const char *member, const char *ref, int revision, int op, const char *round,
                    const char *cpv, const char *item, const char *qty, const char *unit,
                    const char *base_qty, const char *need_by, const char *price)
{
    seq++;
    sql("INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, server_seq,"
        " round_id, accepted_at, content_hash, cpv, item_key, description, quantity, unit,"
        " base_quantity, need_by, delivery_zone, currency, max_unit_price)"
        " VALUES ('%s', '%s', %d, %d, %ld, '%s', now(), %ld, '%s', '%s', 'd', %s, '%s', %s,"
        " '%s', 'FR-75', 'EUR', %s)",
        member, ref, revision, op, seq, round, seq, cpv, item, qty, unit, base_qty, need_by,
        price ? price : "NULL");
}

static void add_cancel(const char *member, const char *ref, int revision, const char *round)
{
    seq++;
    sql("INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, server_seq,"
        " round_id, accepted_at, content_hash, cancel_reason)"
        " VALUES ('%s', '%s', %d, 3, %ld, '%s', now(), %ld, 'no longer needed')",
        member, ref, revision, seq, round, seq);
}

#define GLOVES "18424000"
#define NITROGEN "24111500"

/* close_round(R<n>, R<n+1>, ...) with the given settings; returns its result. */
static long close_round(int n, int min_members, int max_carry)
{
    char q[512];
    snprintf(q, sizeof(q),
             "SELECT tenderpool.close_round('R%d', 'R%d',"
             " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d,"
             " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d, %d, %d)",
             n, n + 1, n, n + 1, min_members, max_carry);
    return tp_test_pg_long(pg, q);
}

/* The three-member scenario of issue 3: gloves in H87 and DZN, nitrogen in TNE, KGM, GRM. */
static void scenario_r1(void)
{
    add_round(1);
    add_req("m-a", "g-1", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "1200", "H87", "1200",
            "2026-03-01", "0.08");
    add_req("m-b", "g-1", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "50", "DZN", "600", "2026-02-15",
            "1.10");
    add_req("m-c", "gl", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "300", "H87", "300", "2026-03-20",
            NULL);
    add_req("m-a", "n-1", 1, 1, "R1", NITROGEN, "liquid-nitrogen", "2", "TNE", "2000", "2026-04-01",
            NULL);
    add_req("m-b", "n-1", 1, 1, "R1", NITROGEN, "liquid-nitrogen", "500", "KGM", "500",
            "2026-04-01", NULL);
    add_req("m-c", "n-1", 1, 1, "R1", NITROGEN, "liquid-nitrogen", "1500000", "GRM", "1500",
            "2026-04-01", NULL);
    add_req("m-d", "solo", 1, 1, "R1", "33141000", "sterile-swabs", "10", "BX", "10", "2026-05-01",
            NULL);
}

Test(close_sql, pools_units_exactly_into_viable_lots)
{
    scenario_r1();
    cr_assert_eq(close_round(1, 3, 2), 3);
    expect_value("1", "SELECT count(*) FROM tenderpool.lots WHERE item_key = 'nitrile-gloves-m'");
    expect_value("true|viable|3|3|C62|count|2026-02-15|2026-03-20|151.00",
                 "SELECT (total_quantity = 2100)::text || '|' || status || '|' || member_count"
                 " || '|' || request_count || '|' || base_unit || '|' || dimension || '|' ||"
                 " need_by_min || '|' || need_by_max || '|' || est_value"
                 " FROM tenderpool.lots WHERE item_key = 'nitrile-gloves-m'");
    expect_value("4000|KGM|viable", "SELECT total_quantity::text || '|' || base_unit || '|' ||"
                                    " status FROM tenderpool.lots WHERE cpv = '" NITROGEN "'");
    expect_value("t", "SELECT est_value IS NULL FROM tenderpool.lots WHERE cpv = '" NITROGEN "'");
    expect_value("t", "SELECT lot_id = tenderpool.lot_id(round_id, cpv, item_key, dimension,"
                      " base_unit, delivery_zone, currency) FROM tenderpool.lots"
                      " WHERE cpv = '" NITROGEN "'");
    expect_value("6", "SELECT count(*) FROM tenderpool.requests WHERE state = 'pooled'"
                      " AND round_id = 'R1' AND lot_id LIKE 'R1-%'");
    expect_value("3", "SELECT count(*) FROM tenderpool.lot_lines l JOIN tenderpool.lots o"
                      " USING (lot_id) WHERE o.cpv = '" NITROGEN "'");
    expect_value("closed|R2|3|2", "SELECT status || '|' || next_round_id || '|' || min_members"
                                  " || '|' || max_carry_over FROM tenderpool.round"
                                  " WHERE round_id = 'R1'");
    expect_value("open", "SELECT status FROM tenderpool.rounds WHERE round_id = 'R2'");
    expect_value("0", "SELECT count(*) FROM tenderpool.awards");
}

Test(close_sql, lonely_request_carries_over_then_pools)
{
    scenario_r1();
    cr_assert_eq(close_round(1, 3, 2), 3);
    expect_value("below_threshold|1|10",
                 "SELECT status || '|' || member_count || '|' || total_quantity"
                 " FROM tenderpool.lots WHERE item_key = 'sterile-swabs'");
    expect_value("carried_over|R2|",
                 "SELECT state || '|' || round_id || '|' || coalesce(lot_id, '')"
                 " FROM tenderpool.requests WHERE member_id = 'm-d'");
    /* The below_threshold lot lists the request it held at close. */
    expect_value("m-d", "SELECT l.member_id FROM tenderpool.lot_lines l JOIN tenderpool.lots o"
                        " USING (lot_id) WHERE o.item_key = 'sterile-swabs'");

    add_req("m-e", "sw", 1, 1, "R2", "33141000", "sterile-swabs", "5", "BX", "5", "2026-04-20",
            NULL);
    add_req("m-f", "sw", 1, 1, "R2", "33141000", "sterile-swabs", "7", "BX", "7", "2026-06-01",
            NULL);
    expect_value("open", "SELECT state FROM tenderpool.requests WHERE member_id = 'm-e'");
    cr_assert_eq(close_round(2, 3, 2), 1);
    expect_value("viable|3|3|22|2026-04-20|2026-06-01",
                 "SELECT status || '|' || member_count || '|' || request_count || '|' ||"
                 " total_quantity || '|' || need_by_min || '|' || need_by_max"
                 " FROM tenderpool.lots WHERE round_id = 'R2'");
    expect_value("pooled|R2|true", "SELECT r.state || '|' || r.round_id || '|' ||"
                                   " (r.lot_id = l.lot_id)::text FROM tenderpool.requests r,"
                                   " tenderpool.lots l WHERE r.member_id = 'm-d'"
                                   " AND l.round_id = 'R2'");
    expect_value("3", "SELECT count(*) FROM tenderpool.lot_lines l JOIN tenderpool.lots o"
                      " USING (lot_id) WHERE o.round_id = 'R2'");
}

Test(close_sql, carry_limit_reached_is_unpooled)
{
    add_round(1);
    add_req("m-a", "x", 1, 1, "R1", "33141000", "sterile-swabs", "4", "BX", "4", "2026-05-01",
            NULL);
    cr_assert_eq(close_round(1, 3, 1), 1);
    expect_value("carried_over|R2", "SELECT state || '|' || round_id FROM tenderpool.requests");
    cr_assert_eq(close_round(2, 3, 1), 1);
    expect_value("unpooled|R2|true", "SELECT state || '|' || round_id || '|' ||"
                                     " (lot_id IS NULL)::text FROM tenderpool.requests");
    expect_value("below_threshold|1", "SELECT status || '|' || request_count FROM tenderpool.lots"
                                      " WHERE round_id = 'R2'");
    /* Not carried again: R3 closes with no lot. */
    cr_assert_eq(close_round(3, 3, 1), 0);
    expect_value("unpooled|R2", "SELECT state || '|' || round_id FROM tenderpool.requests");
}

Test(close_sql, cancelled_and_amended_requests)
{
    scenario_r1();
    add_cancel("m-c", "gl", 2, "R1");
    /* An amend moves m-b's nitrogen to 1 TNE (replaces the 500 KGM line). */
    add_req("m-b", "n-1", 2, 2, "R1", NITROGEN, "liquid-nitrogen", "1", "TNE", "1000", "2026-04-02",
            NULL);
    cr_assert_eq(close_round(1, 2, 2), 3);
    expect_value("1800|2|2", "SELECT total_quantity || '|' || member_count || '|' ||"
                             " request_count FROM tenderpool.lots"
                             " WHERE item_key = 'nitrile-gloves-m'");
    expect_value("4500|2026-04-02", "SELECT total_quantity || '|' || need_by_max"
                                    " FROM tenderpool.lots WHERE cpv = '" NITROGEN "'");
    expect_value("cancelled|2|true", "SELECT state || '|' || revision || '|' || (lot_id IS NULL)"
                                     "::text FROM tenderpool.requests WHERE member_id = 'm-c'"
                                     " AND request_ref = 'gl'");
    expect_value("7", "SELECT count(*) FROM tenderpool.requests");
    expect_value("0", "SELECT count(*) FROM tenderpool.lot_lines WHERE request_ref = 'gl'");
}

Test(close_sql, close_is_idempotent)
{
    scenario_r1();
    cr_assert_eq(close_round(1, 3, 2), 3);
    const char *snap = "SELECT string_agg(l::text, ';' ORDER BY lot_id) || '|' ||"
                       " (SELECT closed_at::text || next_round_id FROM tenderpool.round"
                       "  WHERE round_id = 'R1') FROM tenderpool.lot l";
    char *before = tp_test_pg_value(pg, snap);
    /* Different settings on the second call change nothing either. */
    cr_assert_eq(close_round(1, 1, 0), 3);
    char *after = tp_test_pg_value(pg, snap);
    cr_assert_str_eq(after, before);
    expect_value("3", "SELECT count(*) FROM tenderpool.lot");
    free(before);
    free(after);
}

Test(close_sql, rounds_close_in_order)
{
    add_round(1);
    add_round(2);
    PGresult *r = PQexec(pg, "SELECT tenderpool.close_round('R2', 'R3', '2026-01-19',"
                             " '2026-01-26', 3, 2)");
    cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "closing R2 before R1 must fail");
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    cr_expect(msg != NULL && strstr(msg, "older round \"R1\"") != NULL, "message: %s",
              msg ? msg : "(none)");
    cr_expect_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "55000");
    PQclear(r);
    expect_value("open", "SELECT status FROM tenderpool.round WHERE round_id = 'R2'");
    cr_assert_eq(close_round(1, 3, 2), 0);
    cr_assert_eq(close_round(2, 3, 2), 0);
}

Test(close_sql, close_notifies_listeners)
{
    PGconn *listener = tp_test_pg();
    tp_test_pg_exec(listener, "LISTEN tenderpool_round_closed");
    scenario_r1();
    /* Inside an explicit transaction: nothing is delivered before COMMIT. */
    sql("BEGIN");
    cr_assert_eq(close_round(1, 3, 2), 3);
    PQconsumeInput(listener);
    PGnotify *early = PQnotifies(listener);
    cr_expect_null(early, "notification before commit");
    PQfreemem(early);
    sql("COMMIT");
    PGnotify *n = NULL;
    for (int i = 0; i < 50 && n == NULL; i++) {
        int fd = PQsocket(listener);
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        struct timeval tv = {0, 100000};
        select(fd + 1, &fds, NULL, NULL, &tv);
        PQconsumeInput(listener);
        n = PQnotifies(listener);
    }
    cr_assert_not_null(n, "no NOTIFY tenderpool_round_closed");
    cr_expect_str_eq(n->relname, "tenderpool_round_closed");
    cr_expect_str_eq(n->extra, "R1");
    PQfreemem(n);
    /* The idempotent second call does not notify again. */
    cr_assert_eq(close_round(1, 3, 2), 3);
    usleep(200000);
    PQconsumeInput(listener);
    n = PQnotifies(listener);
    cr_expect_null(n, "second close_round notified again");
    PQfreemem(n);
    PQfinish(listener);
}

Test(close_sql, lot_ids_are_deterministic)
{
    scenario_r1();
    cr_assert_eq(close_round(1, 3, 2), 3);
    char *first = value("SELECT string_agg(lot_id, ',' ORDER BY lot_id) FROM tenderpool.lot");
    test_fini();
    test_init();
    scenario_r1();
    cr_assert_eq(close_round(1, 3, 2), 3);
    char *second = value("SELECT string_agg(lot_id, ',' ORDER BY lot_id) FROM tenderpool.lot");
    cr_assert_str_eq(second, first);
    /* md5 of the key fields joined by 0x1f, first 12 hex digits. */
    expect_value("R1-" /* nitrogen lot */,
                 "SELECT left(lot_id, 3) FROM tenderpool.lot WHERE cpv = '" NITROGEN "'");
    expect_value("t", "SELECT lot_id = 'R1-' || left(md5('" NITROGEN "' || chr(31) ||"
                      " 'liquid-nitrogen' || chr(31) || 'mass' || chr(31) || 'KGM' || chr(31)"
                      " || 'FR-75' || chr(31) || 'EUR'), 12) FROM tenderpool.lot"
                      " WHERE cpv = '" NITROGEN "'");
    free(first);
    free(second);
}

Test(close_sql, verify_detects_tampering)
{
    scenario_r1();
    cr_assert_eq(close_round(1, 3, 2), 3);
    add_req("m-e", "sw", 1, 1, "R2", "33141000", "sterile-swabs", "5", "BX", "5", "2026-04-20",
            "2.5");
    add_req("m-f", "sw", 1, 1, "R2", "33141000", "sterile-swabs", "7", "BX", "7", "2026-06-01",
            NULL);
    cr_assert_eq(close_round(2, 3, 2), 1);
    char out[8192];
    int rc = tp_test_run(out, sizeof(out), CLI " verify --round R1 -c %s 2>&1", conf.conf);
    cr_expect_eq(rc, 0, "verify R1: %s", out);
    rc = tp_test_run(out, sizeof(out), CLI " verify --round R2 -c %s 2>&1", conf.conf);
    cr_expect_eq(rc, 0, "verify R2: %s", out);
    cr_expect(strstr(out, "identical") != NULL, "%s", out);

    rc = tp_test_run(out, sizeof(out), CLI " verify --round R3 -c %s 2>&1", conf.conf);
    cr_expect_eq(rc, 2, "verify of an open round: %s", out);
    cr_expect(strstr(out, "not closed") != NULL, "%s", out);
    rc = tp_test_run(out, sizeof(out), CLI " verify -c %s 2>&1", conf.conf);
    cr_expect_eq(rc, 2, "verify without --round: %s", out);

    char *lot = value("SELECT lot_id FROM tenderpool.lot WHERE cpv = '" NITROGEN "'");
    sql("UPDATE tenderpool.lot SET total_quantity = total_quantity + 1 WHERE lot_id = '%s'", lot);
    rc = tp_test_run(out, sizeof(out), CLI " verify --round R1 -c %s 2>&1", conf.conf);
    cr_expect_eq(rc, 1, "verify after tampering: %s", out);
    char want[256];
    snprintf(want, sizeof(want), "lot %s: total_quantity stored '4001', recomputed '4000'", lot);
    cr_expect(strstr(out, want) != NULL, "output lacks \"%s\": %s", want, out);
    cr_expect(strstr(out, "1 difference") != NULL, "%s", out);
    free(lot);
}

Test(close_sql, migrate_twice_is_idempotent)
{
    char out[4096];
    int rc = tp_test_run(out, sizeof(out), CLI " migrate -c %s 2>&1", conf.conf);
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "schema is current") != NULL, "%s", out);
    rc = tp_test_run(out, sizeof(out), CLI " migrate -c %s 2>&1", conf.conf);
    cr_assert_eq(rc, 0, "%s", out);
    char files[64];
    cr_assert_eq(tp_test_run(files, sizeof(files), "ls '%s'/sql/[0-9][0-9][0-9]_*.sql | wc -l",
                             TP_TEST_SOURCE_DIR),
                 0);
    files[strcspn(files, "\n")] = '\0';
    expect_value(files, "SELECT max(version) FROM tenderpool.schema_migration");
    expect_value("16", "SELECT count(*) FROM information_schema.columns"
                       " WHERE table_schema = 'tenderpool' AND table_name = 'lots'");
}

/* The two steps workers use when they bring the lots from memory (sql/003_close_lots.sql). */
static PGresult *begin_seal(const char *lot_row, int min_members)
{
    sql("BEGIN");
    expect_value("proceed", "SELECT coalesce(tenderpool.close_round_begin('R1', 'R2', '2026-01-12',"
                            " '2026-01-19', 3, 2)::text, 'proceed')");
    if (lot_row)
        sql("INSERT INTO tenderpool.lot (lot_id, round_id, cpv, item_key, dimension, base_unit,"
            " delivery_zone, currency, total_quantity, member_count, request_count,"
            " need_by_min, need_by_max, est_value, status) VALUES %s",
            lot_row);
    char q[256];
    snprintf(q, sizeof(q), "SELECT tenderpool.close_round_seal('R1', 'R2', %d, 2)", min_members);
    return PQexec(pg, q);
}

Test(close_sql, seal_takes_consistent_lots_and_refuses_others)
{
    add_round(1);
    const char *good = "(tenderpool.lot_id('R1', '18424000', 'g', 'count', 'C62', 'FR-75', 'EUR'),"
                       " 'R1', '18424000', 'g', 'count', 'C62', 'FR-75', 'EUR', 12, 3, 4,"
                       " '2026-03-01', '2026-03-02', NULL, 'viable')";
    PGresult *r = begin_seal(good, 3);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    cr_expect_str_eq(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    sql("COMMIT");
    expect_value("closed 2 R2", "SELECT status || ' ' || max_carry_over || ' ' || next_round_id"
                                " FROM tenderpool.round WHERE round_id = 'R1'");
    expect_value("1", "SELECT tenderpool.close_round_begin('R1', 'R2', '2026-01-12',"
                      " '2026-01-19', 3, 2)");

    /* a lot whose status disagrees with min_members, or whose id is not its key's */
    tp_test_reset_db();
    add_round(1);
    r = begin_seal(good, 4);
    cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "viable with 3 of 4 members");
    cr_expect(strstr(PQresultErrorMessage(r), "inconsistent") != NULL, "%s",
              PQresultErrorMessage(r));
    PQclear(r);
    sql("ROLLBACK");
    r = begin_seal("('R1-000000000000', 'R1', '18424000', 'g', 'count', 'C62', 'FR-75', 'EUR',"
                   " 12, 3, 4, '2026-03-01', '2026-03-02', NULL, 'viable')",
                   3);
    cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "a lot id that is not its key's");
    PQclear(r);
    sql("ROLLBACK");
    expect_value("open", "SELECT status FROM tenderpool.round WHERE round_id = 'R1'");
    expect_value("0", "SELECT count(*) FROM tenderpool.lot");
}
