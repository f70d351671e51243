/* Integration suite: `tenderpool export-ocds` on rounds closed in the real database, its package
 * validated against the OCDS 1.1.5 schemas (tests/support/ocds_validate.py, python3-jsonschema). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp_testenv.h"

#define CLI TP_TEST_BIN_DIR "/tenderpool"
#define VALIDATOR TP_TEST_SOURCE_DIR "/tests/support/ocds_validate.py"
#define LOTS_EXT                                                                                   \
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/"    \
    "extension.json"
#define LOCATION_EXT                                                                               \
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_location_extension/"       \
    "v1.1.5/extension.json"
#define BUYER                                                                                      \
    "P\xc3\xb4le \"M\xc3\xa9"                                                                      \
    "canique\" achats"
#define GLOVES_LABEL "Gants \"nitrile\" \xe2\x80\x94 taille M"
/* R1 closes before the daylight-saving change of 2026-03-29 in Europe/Paris; its 21-day tender
 * period ends after it, at the same local time (11:00), which is 09:00Z instead of 10:00Z. */
#define R1_CLOSED_AT "2026-03-20 10:00:00Z"
#define R1_START "2026-03-20T10:00:00Z"
#define R1_END "2026-04-10T09:00:00Z"
#define OUT_MAX (1 << 20)

static PGconn *pg;
static tp_test_daemon_t conf; /* only the config file is used */
static long seq;
static char ocds_dir[600];
static char *out; /* output of the last command */

/* The OCDS schemas come with the reference data; never skip when they are missing. */
static void find_ocds_dir(void)
{
    const char *ref = tp_test_refdata_dir();
    struct stat st;
    if (ref == NULL)
        cr_assert_fail("reference data not found: set TENDERPOOL_REFDATA to the directory that"
                       " holds ocds/ (looked in %s)",
                       TP_REFDATA_DEFAULT);
    snprintf(ocds_dir, sizeof(ocds_dir), "%s/ocds", ref);
    const char *need[] = {"release-package-schema.json",
                          "release-schema-with-lots-and-location.json"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        char path[800];
        snprintf(path, sizeof(path), "%s/%s", ocds_dir, need[i]);
        if (stat(path, &st) != 0)
            cr_assert_fail("OCDS 1.1.5 schemas not found: looked for %s (set TENDERPOOL_REFDATA"
                           " to the directory that holds ocds/)",
                           path);
    }
}

static void write_config(const char *extra)
{
    tp_test_write_config(&conf, 1, "1w", extra);
}

static void test_init(void)
{
    find_ocds_dir();
    tp_test_reset_db();
    pg = tp_test_pg();
    memset(&conf, 0, sizeof(conf));
    write_config("[tender]\nperiod_days = 21\nocid_prefix = ocds-t3st00\nbuyer_name = " BUYER "\n");
    seq = 0;
    out = calloc(1, OUT_MAX);
}

static void test_fini(void)
{
    if (pg != NULL)
        PQfinish(pg);
    pg = NULL;
    if (conf.dir[0] != '\0')
        (void)tp_test_run(NULL, 0, "rm -rf '%s'", conf.dir);
    free(out);
    out = NULL;
}

TestSuite(ocds, .init = test_init, .fini = test_fini, .timeout = 120);

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

static PGresult *rows(const char *query)
{
    PGresult *r = PQexec(pg, query);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", query, PQerrorMessage(pg));
    return r;
}

/* Round n of a weekly calendar starting 2026-01-05 ("R1", "R2", ...). */
static void add_round(int n)
{
    sql("INSERT INTO tenderpool.round (round_id, opens_at, closes_at) VALUES ('R%d',"
        " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d,"
        " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d)",
        n, n - 1, n);
}

/* One submitted revision as a worker would have committed it. */
static void add_req(const char *member, const char *ref, const char *cpv, const char *item,
                    const char *qty, const char *unit, const char *base_qty, const char *zone,
                    const char *price)
{
    seq++;
    sql("INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, server_seq,"
        " round_id, accepted_at, content_hash, cpv, item_key, description, quantity, unit,"
        " base_quantity, need_by, delivery_zone, currency, max_unit_price)"
        " VALUES ('%s', '%s', 1, 1, %ld, 'R1', now(), %ld, '%s', '%s', 'd', %s, '%s', %s,"
        " '2026-05-04', '%s', 'EUR', %s)",
        member, ref, seq, seq, cpv, item, qty, unit, base_qty, zone, price ? price : "NULL");
}

static void close_r1(long want_lots)
{
    long n = tp_test_pg_long(pg, "SELECT tenderpool.close_round('R1', 'R2',"
                                 " timestamptz '2026-01-12 00:00Z',"
                                 " timestamptz '2026-01-19 00:00Z', 3, 2)");
    cr_assert_eq(n, want_lots, "close_round made %ld lots, want %ld", n, want_lots);
    sql("UPDATE tenderpool.round SET closed_at = '" R1_CLOSED_AT "' WHERE round_id = 'R1'");
}

#define ACME "m-acme-4417"
#define BOLT "m-bolt-2290"
#define COBALT "m-cobalt-3381"

/* Round R1: four viable lots (gloves 2400 C62 priced, nitrogen 4000 KGM, ethanol 12.5 MTQ
 * priced, diesel 123456789012.123456 KGM: more digits than a double holds) and one lot below
 * the threshold (swabs, one member). */
static void scenario(void)
{
    add_round(1);
    sql("INSERT INTO tenderpool.cpv_code (code, label) VALUES ('18424000', '%s'),"
        " ('24111500', 'Nitrogen'), ('09134100', 'Diesel oil')",
        GLOVES_LABEL);
    add_req(ACME, "g-ref-a17", "18424000", "nitrile-gloves-m", "1237", "H87", "1237", "FRK24",
            "0.0837");
    add_req(BOLT, "g-ref-b29", "18424000", "nitrile-gloves-m", "71", "DZN", "852", "FRK24",
            "1.1913");
    add_req(COBALT, "g-ref-c33", "18424000", "nitrile-gloves-m", "311", "H87", "311", "FRK24",
            NULL);
    add_req(ACME, "n-ref-a18", "24111500", "liquid-nitrogen", "2.125", "TNE", "2125", "FRK24",
            NULL);
    add_req(BOLT, "n-ref-b30", "24111500", "liquid-nitrogen", "637.5", "KGM", "637.5", "FRK24",
            NULL);
    add_req(COBALT, "n-ref-c34", "24111500", "liquid-nitrogen", "1237500", "GRM", "1237.5", "FRK24",
            NULL);
    add_req(ACME, "e-ref-a19", "24300000", "ethanol-96", "3250", "LTR", "3.25", "FR101", "7.7731");
    add_req(BOLT, "e-ref-b31", "24300000", "ethanol-96", "4750", "LTR", "4.75", "FR101", NULL);
    add_req(COBALT, "e-ref-c35", "24300000", "ethanol-96", "4.5", "MTQ", "4.5", "FR101", NULL);
    add_req(ACME, "d-ref-a20", "09134100", "diesel-b7", "41152263004.041152", "KGM",
            "41152263004.041152", "FRK24", NULL);
    add_req(BOLT, "d-ref-b32", "09134100", "diesel-b7", "41152263004.041152", "KGM",
            "41152263004.041152", "FRK24", NULL);
    add_req(COBALT, "d-ref-c36", "09134100", "diesel-b7", "41152263004.041152", "KGM",
            "41152263004.041152", "FRK24", NULL);
    add_req("m-dune-5512", "s-ref-d55", "33141000", "sterile-swabs", "10", "BX", "10", "FRK24",
            "9.9917");
    close_r1(5);
}

/* `tenderpool export-ocds ARGS -c CONF`; stdout (and stderr when with_stderr) into out. */
static int export_ocds(bool with_stderr, const char *args)
{
    return tp_test_run(out, OUT_MAX, CLI " export-ocds %s -c '%s' %s", args, conf.conf,
                       with_stderr ? "2>&1" : "2>/dev/null");
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    char *buf = calloc(1, OUT_MAX);
    size_t n = fread(buf, 1, OUT_MAX - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Export R1 into a file, validate it; returns the file's text, summary receives the
 * validator's exact item/lot lines. */
static char *export_valid(const char *name, char *summary, size_t len)
{
    char path[400], args[500];
    snprintf(path, sizeof(path), "%s/%s", conf.dir, name);
    snprintf(args, sizeof(args), "--round R1 -o '%s'", path);
    int rc = export_ocds(true, args);
    cr_assert_eq(rc, 0, "export-ocds exited %d: %s", rc, out);
    cr_assert_str_empty(out, "export-ocds -o wrote to stdout/stderr: %s", out);
    rc = tp_test_run(summary, len, "/usr/bin/python3 " VALIDATOR " '%s' '%s' 2>&1", ocds_dir, path);
    cr_assert_eq(rc, 0, "the package does not validate against OCDS 1.1.5 (%d):\n%s", rc, summary);
    return read_file(path);
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    cr_assert_not_null(doc, "not JSON: %s (line %d)", err.text, err.line);
    return doc;
}

static const char *str_at(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "(absent)";
}

/* The only element of array whose key equals value; fails unless there is exactly one. */
static json_t *only(json_t *array, const char *key, const char *value)
{
    json_t *found = NULL, *e;
    size_t i, n = 0;
    json_array_foreach(array, i, e)
    {
        if (strcmp(str_at(e, key), value) == 0) {
            found = e;
            n++;
        }
    }
    cr_assert_eq(n, 1, "%zu elements with %s = %s, want 1", n, key, value);
    return found;
}

static json_t *tender_of(json_t *doc)
{
    json_t *releases = json_object_get(doc, "releases");
    cr_assert_eq(json_array_size(releases), 1, "want exactly one release");
    return json_object_get(json_array_get(releases, 0), "tender");
}

/* A JSON number token equal to num: ": num" followed by ',', a new line or a bracket. */
static bool has_number(const char *text, const char *num)
{
    char pat[128];
    int n = snprintf(pat, sizeof(pat), ": %s", num);
    for (const char *p = strstr(text, pat); p != NULL; p = strstr(p + 1, pat))
        if (strchr(",\n}]", p[n]) != NULL)
            return true;
    return false;
}

/* Nothing about a member's request reaches the package: member ids, request refs, per-line
 * quantities and price ceilings (all taken from the stored revisions), and the lots that are
 * not tendered. */
static void expect_no_secrets(const char *text)
{
    PGresult *r = rows("SELECT member_id FROM tenderpool.revision UNION"
                       " SELECT request_ref FROM tenderpool.revision UNION"
                       " SELECT lot_id FROM tenderpool.lots WHERE status <> 'viable' UNION"
                       " SELECT lot_id FROM tenderpool.lot_withdrawal");
    for (int i = 0; i < PQntuples(r); i++)
        cr_expect_null(strstr(text, PQgetvalue(r, i, 0)), "the package names '%s'",
                       PQgetvalue(r, i, 0));
    PQclear(r);
    r = rows("SELECT trim_scale(max_unit_price)::text FROM tenderpool.revision"
             " WHERE max_unit_price IS NOT NULL UNION"
             " SELECT trim_scale(quantity)::text FROM tenderpool.revision UNION"
             " SELECT trim_scale(base_quantity)::text FROM tenderpool.revision");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *v = PQgetvalue(r, i, 0);
        cr_expect(!has_number(text, v), "a member's number %s is in the package", v);
        cr_expect(strchr(v, '.') == NULL || strstr(text, v) == NULL,
                  "a member's number %s is in the package text", v);
    }
    PQclear(r);
}

/* Every viable lot once in tender.lots and once as an item's relatedLot, with its exact
 * total, its unit, its CPV code and label, its zone, and a value only when est_value is known. */
static void expect_lots(json_t *tender, const char *summary, const char *text, int want)
{
    json_t *lots = json_object_get(tender, "lots"), *items = json_object_get(tender, "items");
    PGresult *r =
        rows("SELECT l.lot_id, trim_scale(l.total_quantity)::text, l.base_unit, u.name, l.cpv,"
             " l.cpv_label, l.delivery_zone, trim_scale(l.est_value)::text, l.currency"
             " FROM tenderpool.lots l JOIN tenderpool.unit u ON u.code = l.base_unit"
             " WHERE l.round_id = 'R1' AND l.status = 'viable' AND l.lot_id NOT IN"
             " (SELECT lot_id FROM tenderpool.lot_withdrawal) ORDER BY l.lot_id");
    cr_assert_eq(PQntuples(r), want);
    cr_assert_eq(json_array_size(lots), (size_t)want, "%zu lots", json_array_size(lots));
    cr_assert_eq(json_array_size(items), (size_t)want, "%zu items", json_array_size(items));
    for (int i = 0; i < want; i++) {
        const char *id = PQgetvalue(r, i, 0), *q = PQgetvalue(r, i, 1);
        char line[512];
        snprintf(line, sizeof(line), "item %s %s %s\n", id, q, PQgetvalue(r, i, 2));
        cr_expect_not_null(strstr(summary, line), "want '%s' in the summary:\n%s", line, summary);
        cr_expect(has_number(text, q), "quantity %s is not written exactly", q);
        json_t *it = only(items, "relatedLot", id), *lot = only(lots, "id", id);
        json_t *cl = json_object_get(it, "classification"), *unit = json_object_get(it, "unit");
        cr_expect_str_eq(str_at(cl, "scheme"), "CPV");
        cr_expect_str_eq(str_at(cl, "id"), PQgetvalue(r, i, 4));
        if (PQgetisnull(r, i, 5))
            cr_expect_null(json_object_get(cl, "description"));
        else
            cr_expect_str_eq(str_at(cl, "description"), PQgetvalue(r, i, 5));
        cr_expect_str_eq(str_at(unit, "scheme"), "UNCEFACT");
        cr_expect_str_eq(str_at(unit, "id"), PQgetvalue(r, i, 2));
        cr_expect_str_eq(str_at(unit, "name"), PQgetvalue(r, i, 3));
        cr_expect_str_eq(str_at(json_object_get(it, "deliveryAddress"), "region"),
                         PQgetvalue(r, i, 6));
        json_t *value = json_object_get(lot, "value");
        if (PQgetisnull(r, i, 7)) {
            cr_expect_null(value, "lot %s has a value but no est_value", id);
            snprintf(line, sizeof(line), "lot %s -\n", id);
        } else {
            cr_expect_str_eq(str_at(value, "currency"), PQgetvalue(r, i, 8));
            cr_expect(has_number(text, PQgetvalue(r, i, 7)), "amount %s not exact",
                      PQgetvalue(r, i, 7));
            snprintf(line, sizeof(line), "lot %s %s %s\n", id, PQgetvalue(r, i, 7),
                     PQgetvalue(r, i, 8));
        }
        cr_expect_not_null(strstr(summary, line), "want '%s' in the summary:\n%s", line, summary);
    }
    PQclear(r);
}

Test(ocds, package_validates_with_one_lot_and_item_per_viable_lot)
{
    scenario();
    char summary[8192];
    char *text = export_valid("r1.json", summary, sizeof(summary));
    json_t *doc = parse(text), *tender = tender_of(doc);
    expect_lots(tender, summary, text, 4);
    /* the totals as the coordinator knows them, written exactly (never through a double) */
    cr_expect(has_number(text, "2400") && has_number(text, "4000") && has_number(text, "12.5") &&
                  has_number(text, "123456789012.123456"),
              "totals not written exactly:\n%s", text);
    cr_expect(has_number(text, "188.1192") && has_number(text, "25262.575"),
              "lot values not written exactly:\n%s", text);
    expect_no_secrets(text);

    json_t *ext = json_object_get(doc, "extensions");
    cr_expect_eq(json_array_size(ext), 2);
    cr_expect_str_eq(json_string_value(json_array_get(ext, 0)), LOTS_EXT);
    cr_expect_str_eq(json_string_value(json_array_get(ext, 1)), LOCATION_EXT);
    cr_expect_str_eq(str_at(doc, "version"), "1.1");
    cr_expect_str_eq(str_at(doc, "publishedDate"), R1_START);
    cr_expect_str_eq(str_at(json_object_get(doc, "publisher"), "name"), BUYER);
    json_t *rel = json_array_get(json_object_get(doc, "releases"), 0);
    cr_expect_str_eq(str_at(rel, "ocid"), "ocds-t3st00-R1");
    cr_expect_str_eq(str_at(rel, "id"), "ocds-t3st00-R1-tender-1");
    cr_expect_str_eq(str_at(rel, "date"), R1_START);
    cr_expect_str_eq(str_at(rel, "initiationType"), "tender");
    json_t *tag = json_object_get(rel, "tag");
    cr_expect(json_array_size(tag) == 1 &&
                  strcmp(json_string_value(json_array_get(tag, 0)), "tender") == 0,
              "tag is not [\"tender\"]");
    cr_expect_str_eq(str_at(json_object_get(rel, "buyer"), "name"), BUYER);
    json_t *party = json_array_get(json_object_get(rel, "parties"), 0);
    cr_expect_str_eq(str_at(party, "id"), str_at(json_object_get(rel, "buyer"), "id"));
    cr_expect_str_eq(str_at(tender, "id"), "R1");
    cr_expect_str_eq(str_at(tender, "status"), "active");
    json_t *period = json_object_get(tender, "tenderPeriod");
    cr_expect_str_eq(str_at(period, "startDate"), R1_START);
    cr_expect_str_eq(str_at(period, "endDate"), R1_END);
    cr_expect_eq(json_integer_value(json_object_get(period, "durationInDays")), 21);
    /* strings escaped, UTF-8 kept */
    cr_expect_not_null(strstr(text, "\"Gants \\\"nitrile\\\" \xe2\x80\x94 taille M\""), "%s", text);
    json_t *gloves = only(json_object_get(tender, "items"), "description", "nitrile-gloves-m");
    cr_expect_str_eq(str_at(json_object_get(gloves, "classification"), "description"),
                     GLOVES_LABEL);
    json_decref(doc);
    free(text);
}

Test(ocds, withdrawn_lot_is_not_tendered)
{
    scenario();
    char *lot = tp_test_pg_value(
        pg, "SELECT lot_id FROM tenderpool.lots WHERE item_key = 'liquid-nitrogen'");
    sql("SELECT tenderpool.withdraw_lot('%s', 'no supplier answered')", lot);
    sql("UPDATE tenderpool.lot_withdrawal SET withdrawn_at = '2026-03-27 08:30:00Z'");
    char summary[8192];
    char *text = export_valid("r1.json", summary, sizeof(summary));
    json_t *doc = parse(text), *tender = tender_of(doc);
    expect_lots(tender, summary, text, 3);
    cr_expect_null(strstr(text, lot), "withdrawn lot %s is in the package", lot);
    cr_expect(!has_number(text, "4000"), "the withdrawn lot's total is in the package");
    expect_no_secrets(text);
    /* the content changed after the close: a new release id, dated by the withdrawal */
    json_t *rel = json_array_get(json_object_get(doc, "releases"), 0);
    cr_expect_str_eq(str_at(rel, "id"), "ocds-t3st00-R1-tender-2");
    cr_expect_str_eq(str_at(rel, "date"), "2026-03-27T08:30:00Z");
    cr_expect_str_eq(str_at(doc, "publishedDate"), "2026-03-27T08:30:00Z");
    cr_expect_str_eq(str_at(json_object_get(tender, "tenderPeriod"), "startDate"), R1_START);
    json_decref(doc);
    free(text);
    free(lot);
}

Test(ocds, stdout_and_file_hold_the_same_bytes)
{
    scenario();
    cr_assert_eq(export_ocds(false, "--round R1"), 0);
    char *first = strdup(out), path[400], args[500];
    snprintf(path, sizeof(path), "%s/r1.json", conf.dir);
    snprintf(args, sizeof(args), "--round=R1 --output '%s'", path);
    FILE *f = fopen(path, "w");
    fputs("stale", f);
    fclose(f);
    for (int i = 0; i < 2; i++) { /* replaces an existing file, and is reproducible */
        cr_assert_eq(export_ocds(true, args), 0, "%s", out);
        char *text = read_file(path);
        cr_expect_str_eq(text, first, "file and stdout differ");
        free(text);
    }
    cr_assert_eq(tp_test_run(out, OUT_MAX, "ls -a '%s'", conf.dir), 0);
    cr_expect_null(strstr(out, ".tmp."), "temporary file left behind: %s", out);
    free(first);
}

Test(ocds, refuses_open_or_unknown_round)
{
    scenario(); /* R1 closed, R2 open */
    char path[400], args[500];
    snprintf(path, sizeof(path), "%s/r2.json", conf.dir);
    snprintf(args, sizeof(args), "--round R2 -o '%s'", path);
    cr_expect_eq(export_ocds(true, args), 1, "%s", out);
    cr_expect(strstr(out, "round R2 is open") != NULL && strstr(out, "closed") != NULL, "%s", out);
    cr_expect_neq(access(path, F_OK), 0, "%s written for a refused export", path);
    cr_expect_eq(export_ocds(true, "--round R9"), 1, "%s", out);
    cr_expect_not_null(strstr(out, "round R9 does not exist"), "%s", out);
    cr_expect_eq(export_ocds(false, "--round R9"), 1);
    cr_expect_str_empty(out, "stdout of a refused export: %s", out);
}

Test(ocds, round_without_a_viable_lot_is_refused)
{
    add_round(1);
    add_req("m-dune-5512", "s-ref-d55", "33141000", "sterile-swabs", "10", "BX", "10", "FRK24",
            NULL);
    close_r1(1);
    cr_expect_eq(export_ocds(true, "--round R1"), 1, "%s", out);
    cr_expect_not_null(strstr(out, "no lot to tender"), "%s", out);
}

Test(ocds, defaults_name_the_coordinator)
{
    scenario();
    write_config(NULL); /* no [tender] section */
    char summary[8192];
    char *text = export_valid("r1.json", summary, sizeof(summary));
    json_t *doc = parse(text);
    json_t *rel = json_array_get(json_object_get(doc, "releases"), 0);
    cr_expect_str_eq(str_at(rel, "ocid"), "ocds-tndrpl-R1");
    cr_expect_str_eq(str_at(json_object_get(doc, "publisher"), "name"), "tenderpool coordinator");
    cr_expect_str_eq(str_at(json_object_get(tender_of(doc), "tenderPeriod"), "endDate"), R1_END);
    json_decref(doc);
    free(text);
}

Test(ocds, usage_errors_exit_2)
{
    cr_expect_eq(export_ocds(true, ""), 2, "no --round: %s", out);
    cr_expect_not_null(strstr(out, "--round ROUND is required"), "%s", out);
    cr_expect_eq(export_ocds(true, "--round R1 --bogus"), 2, "%s", out);
    cr_expect_eq(export_ocds(true, "--round R1 -o ''"), 2, "%s", out);
    cr_expect_eq(tp_test_run(out, OUT_MAX, CLI " export-ocds --round R1 2>&1"), 2, "no -c: %s",
                 out);
    write_config("[tender]\nocid_prefix = ocds bad/prefix\n");
    cr_expect_eq(export_ocds(true, "--round R1"), 2, "%s", out);
    cr_expect_not_null(strstr(out, "ocid_prefix"), "%s", out);
}
