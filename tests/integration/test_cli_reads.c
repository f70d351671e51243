/* Integration suite: the read commands `tenderpool rounds list|show` and `lots list|show`
 * against real PostgreSQL: tables for a terminal, JSON checked with jansson, tender states from
 * award and withdrawal rows written with SQL, and the errors' exit codes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_testenv.h"

#define CLI TP_TEST_BIN_DIR "/tenderpool"
#define OUT_MAX 65536

static PGconn *pg;
static tp_test_daemon_t conf; /* only the config file is used */
static char out[OUT_MAX];
static long seq;

/* Lot ids of the scenario (the SQL's deterministic ids, read back after the close). */
static char *gloves, *nitrogen, *swabs;

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

static void add_req(const char *member, const char *ref, const char *cpv, const char *item,
                    const char *qty, const char *unit, const char *base_qty, const char *price)
{
    seq++;
    sql("INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, server_seq,"
        " round_id, accepted_at, content_hash, cpv, item_key, description, quantity, unit,"
        " base_quantity, need_by, delivery_zone, currency, max_unit_price)"
        " VALUES ('%s', '%s', 1, 1, %ld, 'R1', now(), %ld, '%s', '%s', 'd', %s, '%s', %s,"
        " '2026-03-01', 'FR-75', 'EUR', %s)",
        member, ref, seq, seq, cpv, item, qty, unit, base_qty, price ? price : "NULL");
}

static char *lot_of(const char *item)
{
    char q[256];
    snprintf(q, sizeof(q), "SELECT lot_id FROM tenderpool.lots WHERE item_key = '%s'", item);
    char *id = tp_test_pg_value(pg, q);
    cr_assert_not_null(id, "no lot for %s", item);
    return id;
}

/* R1 closed with three lots (gloves viable and awarded, nitrogen viable and withdrawn, swabs
 * below the threshold), R2 open; the award and withdrawal rows are written directly. */
static void scenario(void)
{
    sql("INSERT INTO tenderpool.cpv_code VALUES ('18424000', 'Gants jetables é')");
    sql("INSERT INTO tenderpool.round (round_id, opens_at, closes_at) VALUES"
        " ('R1', '2026-01-05 00:00Z', '2026-01-12 00:00Z')");
    add_req("m-a", "g-1", "18424000", "nitrile-gloves-m", "1200", "H87", "1200", "0.08");
    add_req("m-b", "g-1", "18424000", "nitrile-gloves-m", "50", "DZN", "600", "1.10");
    add_req("m-c", "gl", "18424000", "nitrile-gloves-m", "300", "H87", "300", NULL);
    add_req("m-a", "n-1", "24111500", "liquid-nitrogen", "2", "TNE", "2000", NULL);
    add_req("m-b", "n-1", "24111500", "liquid-nitrogen", "500", "KGM", "500", NULL);
    add_req("m-c", "n-1", "24111500", "liquid-nitrogen", "1500000", "GRM", "1500", NULL);
    add_req("m-d", "solo", "33141000", "sterile-swabs", "10", "BX", "10", NULL);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT tenderpool.close_round('R1', 'R2',"
                                     " '2026-01-12 00:00Z', '2026-01-19 00:00Z', 3, 2)"),
                 3);
    gloves = lot_of("nitrile-gloves-m");
    nitrogen = lot_of("liquid-nitrogen");
    swabs = lot_of("sterile-swabs");
    sql("INSERT INTO tenderpool.award (lot_id, supplier, unit_price, quantity, awarded_at)"
        " VALUES ('%s', 'Acme \"Gloves\" SA', 0.0725, 2000, '2026-01-20 09:30Z')",
        gloves);
    sql("INSERT INTO tenderpool.allocation VALUES ('%s', 'm-a', 'g-1', 1, 1142.857),"
        " ('%s', 'm-b', 'g-1', 1, 571.429), ('%s', 'm-c', 'gl', 1, 285.714)",
        gloves, gloves, gloves);
    sql("INSERT INTO tenderpool.lot_withdrawal (lot_id, carried_to, reason, withdrawn_at)"
        " VALUES ('%s', 'R2', E'no bid \"at all\"\\n\\x1b[31mred', '2026-01-21 10:00Z')",
        nitrogen);
}

static void test_init(void)
{
    tp_test_reset_db();
    pg = tp_test_pg();
    memset(&conf, 0, sizeof(conf));
    tp_test_write_config(&conf, 1, "1w", NULL); /* [rounds] timezone = Europe/Paris */
    seq = 0;
    scenario();
}

static void test_fini(void)
{
    free(gloves);
    free(nitrogen);
    free(swabs);
    gloves = nitrogen = swabs = NULL;
    if (pg != NULL)
        PQfinish(pg);
    pg = NULL;
    if (conf.dir[0] != '\0')
        (void)tp_test_run(NULL, 0, "rm -rf '%s'", conf.dir);
}

TestSuite(cli_reads, .init = test_init, .fini = test_fini, .timeout = 120);

/* `tenderpool ARGS -c CONF`: stdout (and stderr when with_err) into out; the exit code. */
static int cli(bool with_err, const char *args)
{
    return tp_test_run(out, sizeof(out), "%s %s -c %s %s", CLI, args, conf.conf,
                       with_err ? "2>&1" : "2>/dev/null");
}

/* Run a command that must succeed and print JSON; its parsed value. */
static json_t *cli_json(const char *args)
{
    int rc = cli(false, args);
    cr_assert_eq(rc, 0, "tenderpool %s: exit %d: %s", args, rc, out);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    cr_assert_not_null(j, "tenderpool %s: not JSON (%s): %s", args, e.text, out);
    return j;
}

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static json_int_t integer(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

/* The element of array a whose `key` is `value`. */
static json_t *find(json_t *a, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        if (strcmp(str(o, key), value) == 0)
            return o;
    }
    cr_assert_fail("no %s = %s", key, value);
    return NULL;
}

/* The line of the table in out that contains `needle`. */
static char *line_with(const char *needle, char *buf, size_t len)
{
    const char *p = strstr(out, needle);
    cr_assert_not_null(p, "no line with '%s' in:\n%s", needle, out);
    while (p > out && p[-1] != '\n')
        p--;
    size_t n = strcspn(p, "\n");
    cr_assert_lt(n, len);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

Test(cli_reads, rounds_list_newest_first_with_lot_counts)
{
    cr_assert_eq(cli(true, "rounds list"), 0, "%s", out);
    cr_assert_eq(strncmp(out, "round_id  opens_at", 18), 0, "header: %s", out);
    const char *r2 = strstr(out, "\nR2 "), *r1 = strstr(out, "\nR1 ");
    cr_assert(r2 != NULL && r1 != NULL && r2 < r1, "newest first:\n%s", out);
    char line[512];
    /* Times in [rounds] timezone (Europe/Paris); counts right-aligned under their headers. */
    cr_assert_not_null(strstr(line_with("R1 ", line, sizeof(line)), "2026-01-05 01:00:00+01"), "%s",
                       line);
    cr_assert_not_null(strstr(line, "closed"), "%s", line);
    cr_assert(strstr(line, " 3  ") != NULL && line[strlen(line) - 1] == '2', "%s", line);

    json_t *j = cli_json("rounds list --json");
    cr_assert_eq(json_array_size(j), 2);
    json_t *first = json_array_get(j, 0), *r1j = json_array_get(j, 1);
    cr_assert_str_eq(str(first, "round_id"), "R2");
    cr_assert_str_eq(str(first, "status"), "open");
    cr_assert(json_is_null(json_object_get(first, "closed_at")));
    cr_assert_eq(integer(first, "lot_count"), 0);
    cr_assert_str_eq(str(r1j, "closes_at"), "2026-01-12 01:00:00+01");
    cr_assert_eq(integer(r1j, "lot_count"), 3);
    cr_assert_eq(integer(r1j, "viable_lot_count"), 2);
    json_decref(j);
}

Test(cli_reads, rounds_show_record_and_lots)
{
    cr_assert_eq(cli(true, "rounds show R1"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "round_id:         R1\n"), "%s", out);
    cr_assert_not_null(strstr(out, "next_round_id:    R2\n"), "%s", out);
    cr_assert_not_null(strstr(out, "min_members:      3\n"), "%s", out);
    cr_assert_not_null(strstr(out, "max_carry_over:   2\n\nlots:\nlot_id "), "%s", out);
    cr_assert_not_null(strstr(out, gloves), "%s", out);

    json_t *j = cli_json("rounds show R1 --json");
    cr_assert_str_eq(str(j, "round_id"), "R1");
    cr_assert_str_eq(str(j, "next_round_id"), "R2");
    cr_assert_eq(integer(j, "min_members"), 3);
    cr_assert_eq(integer(j, "max_carry_over"), 2);
    json_t *lots = json_object_get(j, "lots");
    cr_assert_eq(json_array_size(lots), 3);
    cr_assert_str_eq(str(find(lots, "lot_id", gloves), "tender"), "awarded");
    cr_assert_str_eq(str(find(lots, "lot_id", nitrogen), "tender"), "withdrawn");
    cr_assert(json_is_null(json_object_get(find(lots, "lot_id", swabs), "tender")));
    json_decref(j);

    /* The open round: no close settings yet, no lots. */
    j = cli_json("rounds show R2 --json");
    cr_assert(json_is_null(json_object_get(j, "next_round_id")));
    cr_assert_eq(json_array_size(json_object_get(j, "lots")), 0);
    json_decref(j);
    cr_assert_eq(cli(true, "rounds show R2"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\nlots:\n(no rows)\n"), "%s", out);
}

Test(cli_reads, rounds_show_unknown_round_fails_clearly)
{
    cr_assert_eq(cli(true, "rounds show R9"), 1, "%s", out);
    cr_assert_not_null(strstr(out, "no round 'R9'"), "%s", out);
    cr_assert_eq(cli(true, "rounds show"), 2, "%s", out);
    cr_assert_not_null(strstr(out, "usage: tenderpool rounds"), "%s", out);
    cr_assert_eq(cli(true, "rounds frobnicate"), 2, "%s", out);
    cr_assert_not_null(strstr(out, "known: close-current, list, show"), "%s", out);
}

Test(cli_reads, lots_list_with_tender_state)
{
    cr_assert_eq(cli(true, "lots list --round R1"), 0, "%s", out);
    char line[1024];
    cr_assert_not_null(strstr(out, "cpv_label"), "%s", out);
    line_with(gloves, line, sizeof(line));
    cr_assert(strstr(line, "Gants jetables é") && strstr(line, "viable"), "%s", line);
    cr_assert_str_eq(line + strlen(line) - 7, "awarded", "%s", line);
    line_with(nitrogen, line, sizeof(line));
    cr_assert_str_eq(line + strlen(line) - 9, "withdrawn", "%s", line);
    line_with(swabs, line, sizeof(line));
    cr_assert_str_eq(line + strlen(line) - 18, "below_threshold  -", "%s", line);
    /* Numbers right-aligned: total_quantity 4000 ends where its header ends. */
    char header[1024];
    snprintf(header, sizeof(header), "%.*s", (int)strcspn(out, "\n"), out);
    size_t qend = (size_t)(strstr(header, "total_quantity") - header) + strlen("total_quantity");
    line_with(nitrogen, line, sizeof(line));
    cr_assert_eq(strncmp(line + qend - 4, "4000", 4), 0, "%s\n%s", header, line);

    json_t *j = cli_json("lots list --round R1 --json");
    cr_assert_eq(json_array_size(j), 3);
    json_t *g = find(j, "lot_id", gloves);
    cr_assert_str_eq(str(g, "cpv_label"), "Gants jetables é");
    cr_assert_eq(integer(g, "total_quantity"), 2100);
    cr_assert_eq(integer(g, "member_count"), 3);
    cr_assert_str_eq(str(g, "tender"), "awarded");
    cr_assert_null(json_object_get(g, "dimension"), "lots list shows the listed columns");
    /* est_value exactly as stored (151.00), never through a double. */
    cr_assert_not_null(strstr(out, "\"est_value\":151.00,"), "%s", out);
    json_decref(j);
}

Test(cli_reads, lots_list_filters_by_status)
{
    json_t *j = cli_json("lots list --round R1 --status viable --json");
    cr_assert_eq(json_array_size(j), 2);
    json_decref(j);
    j = cli_json("lots list --json --status=below_threshold --round=R1");
    cr_assert_eq(json_array_size(j), 1);
    cr_assert_str_eq(str(json_array_get(j, 0), "lot_id"), swabs);
    json_decref(j);
    cr_assert_eq(cli(true, "lots list --round R2"), 0, "%s", out);
    cr_assert_str_eq(out, "(no rows)\n");
}

Test(cli_reads, lots_list_errors)
{
    cr_assert_eq(cli(true, "lots list --round R1 --status pooled"), 2, "%s", out);
    cr_assert_not_null(strstr(out, "--status must be viable or below_threshold, not 'pooled'"),
                       "%s", out);
    cr_assert_eq(cli(true, "lots list"), 2, "%s", out);
    cr_assert_not_null(strstr(out, "usage: tenderpool lots list --round"), "%s", out);
    cr_assert_eq(cli(true, "lots list --round R9"), 1, "%s", out);
    cr_assert_not_null(strstr(out, "no round 'R9'"), "%s", out);
    cr_assert_eq(cli(true, "lots frobnicate"), 2, "%s", out);
    cr_assert_not_null(strstr(out, "known: list, show"), "%s", out);
    cr_assert_eq(tp_test_run(out, sizeof(out), "%s lots list --round R1 2>&1", CLI), 2, "%s", out);
    cr_assert_not_null(strstr(out, "-c FILE is required"), "%s", out);
}

Test(cli_reads, lots_show_awarded_with_allocations)
{
    char args[256];
    snprintf(args, sizeof(args), "lots show %s --json", gloves);
    json_t *j = cli_json(args);
    cr_assert_str_eq(str(j, "lot_id"), gloves);
    cr_assert_str_eq(str(j, "round_id"), "R1");
    cr_assert_str_eq(str(j, "dimension"), "count");
    cr_assert_str_eq(str(j, "tender"), "awarded");
    cr_assert_str_eq(str(j, "supplier"), "Acme \"Gloves\" SA");
    cr_assert_str_eq(str(j, "awarded_at"), "2026-01-20 10:30:00+01");
    cr_assert_eq(integer(j, "award_quantity"), 2000);
    cr_assert_not_null(strstr(out, "\"unit_price\":0.0725,"), "%s", out);
    cr_assert_null(json_object_get(j, "carried_to"));
    json_t *lines = json_object_get(j, "lines");
    cr_assert_eq(json_array_size(lines), 3);
    json_t *a = json_array_get(lines, 0);
    cr_assert_str_eq(str(a, "member_id"), "m-a");
    cr_assert_str_eq(str(a, "request_ref"), "g-1");
    cr_assert_eq(integer(a, "revision"), 1);
    cr_assert_str_eq(str(a, "unit"), "H87");
    cr_assert_str_eq(str(a, "need_by"), "2026-03-01");
    cr_assert_not_null(strstr(out, "\"allocation\":1142.857}"), "%s", out);
    json_t *b = json_array_get(lines, 1);
    cr_assert_str_eq(str(b, "unit"), "DZN");
    cr_assert_eq(integer(b, "quantity"), 50);
    cr_assert_eq(integer(b, "base_quantity"), 600);
    cr_assert_not_null(strstr(out, "\"max_unit_price\":1.10,"), "%s", out);
    cr_assert(json_is_null(json_object_get(json_array_get(lines, 2), "max_unit_price")));
    json_decref(j);

    snprintf(args, sizeof(args), "lots show %s", gloves);
    cr_assert_eq(cli(true, args), 0, "%s", out);
    cr_assert_not_null(strstr(out, "tender:         awarded\n"), "%s", out);
    cr_assert_not_null(strstr(out, "supplier:       Acme \"Gloves\" SA\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\n\nlines:\nmember_id  request_ref"), "%s", out);
    char line[512];
    cr_assert_not_null(strstr(line_with("m-c ", line, sizeof(line)), "  285.714"), "%s", line);
    cr_assert_not_null(strstr(out, "allocation"), "%s", out);
}

Test(cli_reads, lots_show_withdrawn)
{
    char args[256];
    snprintf(args, sizeof(args), "lots show %s --json", nitrogen);
    json_t *j = cli_json(args);
    cr_assert_str_eq(str(j, "tender"), "withdrawn");
    cr_assert_str_eq(str(j, "carried_to"), "R2");
    cr_assert_str_eq(str(j, "reason"), "no bid \"at all\"\n\x1b[31mred");
    cr_assert_str_eq(str(j, "withdrawn_at"), "2026-01-21 11:00:00+01");
    cr_assert_eq(integer(j, "total_quantity"), 4000);
    cr_assert_null(json_object_get(j, "supplier"));
    json_t *lines = json_object_get(j, "lines");
    cr_assert_eq(json_array_size(lines), 3);
    cr_assert_null(json_object_get(json_array_get(lines, 0), "allocation"));
    cr_assert_eq(integer(find(lines, "member_id", "m-c"), "quantity"), 1500000);
    json_decref(j);

    /* On a terminal the reason's control characters are shown escaped, never sent raw. */
    snprintf(args, sizeof(args), "lots show %s", nitrogen);
    cr_assert_eq(cli(true, args), 0, "%s", out);
    cr_assert_not_null(strstr(out, "reason:         no bid \"at all\"\\n\\x1b[31mred\n"), "%s",
                       out);
    cr_assert_null(strchr(out, '\x1b'), "%s", out);
}

Test(cli_reads, lots_show_untendered_and_unknown)
{
    char args[256];
    snprintf(args, sizeof(args), "lots show %s --json", swabs);
    json_t *j = cli_json(args);
    cr_assert_str_eq(str(j, "status"), "below_threshold");
    cr_assert(json_is_null(json_object_get(j, "tender")));
    cr_assert(json_is_null(json_object_get(j, "est_value")));
    cr_assert_null(json_object_get(j, "supplier"));
    cr_assert_null(json_object_get(j, "carried_to"));
    json_t *lines = json_object_get(j, "lines");
    cr_assert_eq(json_array_size(lines), 1);
    cr_assert_str_eq(str(json_array_get(lines, 0), "member_id"), "m-d");
    json_decref(j);

    snprintf(args, sizeof(args), "lots show %s", swabs);
    cr_assert_eq(cli(true, args), 0, "%s", out);
    cr_assert_not_null(strstr(out, "tender:         -\n"), "%s", out);

    cr_assert_eq(cli(true, "lots show R1-000000000000"), 1, "%s", out);
    cr_assert_not_null(strstr(out, "no lot 'R1-000000000000'"), "%s", out);
    cr_assert_eq(cli(true, "lots show"), 2, "%s", out);
    cr_assert_not_null(strstr(out, "usage: tenderpool lots"), "%s", out);
}

Test(cli_reads, user_input_is_a_parameter_not_sql)
{
    /* A quote in an id is just part of an unknown id. */
    cr_assert_eq(cli(true, "lots show \"x' OR 'a'='a\""), 1, "%s", out);
    cr_assert_not_null(strstr(out, "no lot 'x' OR 'a'='a'"), "%s", out);
    cr_assert_eq(cli(true, "lots list --round \"R1' OR 'a'='a\""), 1, "%s", out);
    cr_assert_eq(cli(true, "rounds show \"R1'--\""), 1, "%s", out);
}

Test(cli_reads, close_current_still_needs_the_daemon)
{
    /* No daemon runs in this suite: close-current answers as before (control socket, 10 s). */
    cr_assert_eq(tp_test_run(out, sizeof(out), "%s rounds close-current 2>&1", CLI), 2, "%s", out);
    cr_assert_not_null(strstr(out, "usage: tenderpool rounds close-current -c FILE"), "%s", out);
}
