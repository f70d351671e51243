/* Unit tests for tp_out (cli/output.c): tables and JSON from libpq results built in memory
 * (PQmakeEmptyPGresult + PQsetvalue, no server), read back with jansson. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_output.h"

#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT4 23
#define OID_TEXT 25
#define OID_NUMERIC 1700
#define OID_DATE 1082

typedef struct col {
    const char *name;
    Oid type;
} col_t;

/* A result with the given columns and nrows rows of cells (row-major, NULL = SQL NULL). */
static PGresult *result(int ncols, const col_t *cols, int nrows, const char *const *cells)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    cr_assert_not_null(r);
    PGresAttDesc d[16];
    cr_assert_leq(ncols, 16);
    memset(d, 0, sizeof(d));
    for (int i = 0; i < ncols; i++) {
        d[i].name = (char *)cols[i].name;
        d[i].typid = cols[i].type;
        d[i].typlen = -1;
        d[i].atttypmod = -1;
    }
    cr_assert(PQsetResultAttrs(r, ncols, d));
    for (int row = 0; row < nrows; row++)
        for (int c = 0; c < ncols; c++) {
            const char *v = cells[row * ncols + c];
            cr_assert(PQsetvalue(r, row, c, (char *)v, v ? (int)strlen(v) : -1));
        }
    return r;
}

/* What tp_out_rows / tp_out_record wrote (caller frees); they must succeed. */
static char *capture_rows(const PGresult *r, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(tp_out_rows(r, json, f), 0);
    fclose(f);
    return buf;
}

static char *capture_record(const PGresult *r, int row, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(tp_out_record(r, row, json, f), 0);
    fclose(f);
    return buf;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "not JSON (%s at %d): %s", e.text, e.position, text);
    return j;
}

/* A lot-like result: text, numeric, int, date columns with a NULL. */
static const col_t LOT_COLS[] = {{"lot_id", OID_TEXT},
                                 {"total_quantity", OID_NUMERIC},
                                 {"member_count", OID_INT4},
                                 {"need_by", OID_DATE},
                                 {"est_value", OID_NUMERIC}};
static const char *const LOT_CELLS[] = {
    "R1-aaa", "2100",     "3",  "2026-02-15", "151.00", /* */
    "R1-b",   "0.000125", "12", "2026-03-01", NULL,
};

Test(output, table_aligns_text_left_and_numbers_right)
{
    PGresult *r = result(5, LOT_COLS, 2, LOT_CELLS);
    char *out = capture_rows(r, false);
    cr_assert_str_eq(out, "lot_id  total_quantity  member_count  need_by     est_value\n"
                          "------  --------------  ------------  ----------  ---------\n"
                          "R1-aaa            2100             3  2026-02-15     151.00\n"
                          "R1-b          0.000125            12  2026-03-01          -\n");
    free(out);
    PQclear(r);
}

Test(output, last_text_column_is_not_padded)
{
    const col_t cols[] = {{"n", OID_INT8}, {"name", OID_TEXT}};
    const char *const cells[] = {"1", "a", "22", "longer"};
    PGresult *r = result(2, cols, 2, cells);
    char *out = capture_rows(r, false);
    cr_assert_str_eq(out, " n  name\n--  ------\n 1  a\n22  longer\n");
    free(out);
    PQclear(r);
}

Test(output, empty_result_says_no_rows)
{
    PGresult *r = result(5, LOT_COLS, 0, NULL);
    char *out = capture_rows(r, false);
    cr_assert_str_eq(out, "(no rows)\n");
    free(out);
    out = capture_rows(r, true);
    cr_assert_str_eq(out, "[]\n");
    json_t *j = parse(out);
    cr_assert(json_is_array(j) && json_array_size(j) == 0);
    json_decref(j);
    free(out);
    PQclear(r);
}

Test(output, json_numbers_are_written_from_their_text)
{
    PGresult *r = result(5, LOT_COLS, 2, LOT_CELLS);
    char *out = capture_rows(r, true);
    /* Exactly the server's digits: no double in between (0.000125 would not survive %g). */
    cr_assert_not_null(strstr(out, "\"total_quantity\":0.000125,"), "%s", out);
    cr_assert_not_null(strstr(out, "\"est_value\":151.00}"), "%s", out);
    cr_assert_not_null(strstr(out, "\"est_value\":null"), "%s", out);
    json_t *j = parse(out);
    cr_assert_eq(json_array_size(j), 2);
    json_t *a = json_array_get(j, 0);
    cr_assert_str_eq(json_string_value(json_object_get(a, "lot_id")), "R1-aaa");
    cr_assert(json_is_integer(json_object_get(a, "total_quantity")));
    cr_assert_eq(json_integer_value(json_object_get(a, "total_quantity")), 2100);
    cr_assert_eq(json_integer_value(json_object_get(a, "member_count")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(a, "need_by")), "2026-02-15");
    cr_assert(json_is_real(json_object_get(a, "est_value")));
    cr_assert(json_is_null(json_object_get(json_array_get(j, 1), "est_value")));
    json_decref(j);
    free(out);
    PQclear(r);
}

Test(output, json_numeric_that_is_not_a_json_number_is_a_string)
{
    const col_t cols[] = {{"v", OID_NUMERIC}};
    const char *const cells[] = {"NaN", "Infinity", "-Infinity", "-0.5", "1e5"};
    PGresult *r = result(1, cols, 5, cells);
    char *out = capture_rows(r, true);
    json_t *j = parse(out);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "v")), "NaN");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "v")), "Infinity");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 2), "v")), "-Infinity");
    cr_assert_not_null(strstr(out, "{\"v\":-0.5}"), "%s", out);
    cr_assert_not_null(strstr(out, "{\"v\":1e5}"), "%s", out);
    json_decref(j);
    free(out);
    PQclear(r);
}

Test(output, bools_are_true_and_false)
{
    const col_t cols[] = {{"ok", OID_BOOL}};
    const char *const cells[] = {"t", "f", NULL};
    PGresult *r = result(1, cols, 3, cells);
    char *out = capture_rows(r, true);
    cr_assert_str_eq(out, "[\n  {\"ok\":true},\n  {\"ok\":false},\n  {\"ok\":null}\n]\n");
    free(out);
    out = capture_rows(r, false);
    cr_assert_str_eq(out, "ok\n-----\ntrue\nfalse\n-\n");
    free(out);
    PQclear(r);
}

Test(output, json_strings_are_escaped)
{
    const char *nasty = "a \"quoted\" \\ back\nnew\ttab\r\x01\x1b[31m é";
    const col_t cols[] = {{"s\"k", OID_TEXT}};
    const char *const cells[] = {nasty};
    PGresult *r = result(1, cols, 1, cells);
    char *out = capture_rows(r, true);
    json_t *j = parse(out);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "s\"k")), nasty);
    json_decref(j);
    free(out);
    PQclear(r);
}

Test(output, table_escapes_control_characters)
{
    /* Member data must not drive the operator's terminal: ESC, C1 CSI, newline shown escaped. */
    const col_t cols[] = {{"ref", OID_TEXT}, {"n", OID_INT4}};
    const char *const cells[] = {"x\x1b[2Jy", "1", "a\nb\xc2\x9b", "2"};
    PGresult *r = result(2, cols, 2, cells);
    char *out = capture_rows(r, false);
    cr_assert_str_eq(out, "ref         n\n"
                          "----------  -\n"
                          "x\\x1b[2Jy   1\n"
                          "a\\nb\\u009b  2\n");
    cr_assert_null(strchr(out, '\x1b'));
    free(out);
    PQclear(r);
}

Test(output, widths_count_utf8_characters)
{
    const col_t cols[] = {{"label", OID_TEXT}, {"n", OID_INT4}};
    const char *const cells[] = {"Gants jetables é", "1", "abc", "2"};
    PGresult *r = result(2, cols, 2, cells);
    char *out = capture_rows(r, false);
    cr_assert_str_eq(out, "label             n\n"
                          "----------------  -\n"
                          "Gants jetables é  1\n"
                          "abc               2\n");
    free(out);
    PQclear(r);
}

Test(output, record_pads_names)
{
    PGresult *r = result(5, LOT_COLS, 2, LOT_CELLS);
    char *out = capture_record(r, 1, false);
    cr_assert_str_eq(out, "lot_id:         R1-b\n"
                          "total_quantity: 0.000125\n"
                          "member_count:   12\n"
                          "need_by:        2026-03-01\n"
                          "est_value:      -\n");
    free(out);
    out = capture_record(r, 0, true);
    cr_assert_str_eq(out, "{\"lot_id\":\"R1-aaa\",\"total_quantity\":2100,\"member_count\":3,"
                          "\"need_by\":\"2026-02-15\",\"est_value\":151.00}\n");
    free(out);
    PQclear(r);
}

Test(output, record_row_out_of_range_is_an_error)
{
    PGresult *r = result(5, LOT_COLS, 2, LOT_CELLS);
    FILE *f = fopen("/dev/null", "w");
    cr_assert_not_null(f);
    cr_assert_eq(tp_out_record(r, 2, false, f), -1);
    cr_assert_eq(tp_out_record(r, -1, true, f), -1);
    fclose(f);
    PQclear(r);
}

Test(output, record_with_rows_nests_the_rows)
{
    const col_t lcols[] = {{"member_id", OID_TEXT}, {"quantity", OID_NUMERIC}};
    const char *const lcells[] = {"m-a", "1200.5", "m-b", "600"};
    PGresult *r = result(5, LOT_COLS, 2, LOT_CELLS);
    PGresult *lines = result(2, lcols, 2, lcells);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(tp_out_record_with_rows(r, 0, "lines", lines, true, f), 0);
    fclose(f);
    json_t *j = parse(buf);
    cr_assert_str_eq(json_string_value(json_object_get(j, "lot_id")), "R1-aaa");
    json_t *a = json_object_get(j, "lines");
    cr_assert(json_is_array(a) && json_array_size(a) == 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "member_id")), "m-b");
    cr_assert_not_null(strstr(buf, "\"quantity\":1200.5}"), "%s", buf);
    json_decref(j);
    free(buf);

    buf = NULL;
    f = open_memstream(&buf, &len);
    cr_assert_eq(tp_out_record_with_rows(r, 0, "lines", lines, false, f), 0);
    fclose(f);
    cr_assert_not_null(strstr(buf, "est_value:      151.00\n\nlines:\nmember_id  quantity\n"), "%s",
                       buf);
    cr_assert_not_null(strstr(buf, "m-a          1200.5\n"), "%s", buf);
    free(buf);
    PQclear(lines);
    PQclear(r);
}

Test(output, write_error_is_reported)
{
    FILE *f = fopen("/dev/full", "w");
    cr_assert_not_null(f);
    PGresult *r = result(5, LOT_COLS, 2, LOT_CELLS);
    cr_assert_eq(tp_out_rows(r, false, f), -1);
    clearerr(f);
    cr_assert_eq(tp_out_rows(r, true, f), -1);
    clearerr(f);
    cr_assert_eq(tp_out_record(r, 0, true, f), -1);
    fclose(f);
    PQclear(r);
}
