/* Unit tests for the Rec 20 unit table: exact factors, conversions, and a check against UN/ECE
 * data. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tp_unit.h"

#ifndef TP_REFDATA_DEFAULT
#define TP_REFDATA_DEFAULT ""
#endif

#define CSV_MAX_FIELDS 16
#define REF_MAX_ROWS 8000

static tp_dec_t dec(const char *s)
{
    tp_dec_t d;

    cr_assert_eq(tp_dec_from_str(s, &d), 0, "cannot parse '%s'", s);
    return d;
}

static void assert_text(const tp_dec_t *d, const char *want)
{
    char buf[TP_DEC_STR_MAX];

    tp_dec_format(d, buf, sizeof(buf));
    cr_assert_str_eq(buf, want);
}

static tp_dec_t to_base(const char *code, const char *qty)
{
    const tp_unit_t *u = tp_unit_find(code);
    tp_dec_t q = dec(qty), out;

    cr_assert_not_null(u, "unit %s missing", code);
    cr_assert_eq(tp_unit_to_base(u, &q, &out), 0, "%s %s: conversion failed", qty, code);
    return out;
}

Test(units, spec_example_mass_sum_is_exact)
{
    tp_dec_t a = to_base("TNE", "2"), b = to_base("KGM", "500"), c = to_base("GRM", "1500000");
    tp_dec_t sum, total;

    cr_assert_eq(tp_dec_add(&a, &b, &sum), 0);
    cr_assert_eq(tp_dec_add(&sum, &c, &total), 0);
    assert_text(&total, "4000");
    tp_dec_t want = tp_dec_from_int(4000);
    cr_assert_eq(tp_dec_cmp(&total, &want), 0);
    cr_assert_str_eq(tp_unit_find("GRM")->base, "KGM");
}

Test(units, factors_are_the_agreed_exact_values)
{
    static const char *const want[][3] = {
        {"KGM", "KGM", "1"},     {"GRM", "KGM", "0.001"},      {"MGM", "KGM", "0.000001"},
        {"TNE", "KGM", "1000"},  {"LBR", "KGM", "0.45359237"}, {"MTQ", "MTQ", "1"},
        {"LTR", "MTQ", "0.001"}, {"MLT", "MTQ", "0.000001"},   {"HLT", "MTQ", "0.1"},
        {"MTR", "MTR", "1"},     {"CMT", "MTR", "0.01"},       {"MMT", "MTR", "0.001"},
        {"KMT", "MTR", "1000"},  {"MTK", "MTK", "1"},          {"C62", "C62", "1"},
        {"H87", "C62", "1"},     {"EA", "C62", "1"},           {"NAR", "C62", "1"},
        {"DZN", "C62", "12"},    {"PR", "C62", "2"},           {"KWH", "KWH", "1"},
        {"MWH", "KWH", "1000"},
    };

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const tp_unit_t *u = tp_unit_find(want[i][0]);
        cr_assert_not_null(u, "%s missing", want[i][0]);
        cr_assert_str_eq(u->base, want[i][1], "%s base", u->code);
        tp_dec_t f = dec(u->factor), w = dec(want[i][2]);
        cr_assert_eq(tp_dec_cmp(&f, &w), 0, "%s factor %s, want %s", u->code, u->factor,
                     want[i][2]);
    }
}

Test(units, dimensions)
{
    cr_assert_eq(tp_unit_find("LBR")->dim, TP_DIM_MASS);
    cr_assert_eq(tp_unit_find("HLT")->dim, TP_DIM_VOLUME);
    cr_assert_eq(tp_unit_find("KMT")->dim, TP_DIM_LENGTH);
    cr_assert_eq(tp_unit_find("MTK")->dim, TP_DIM_AREA);
    cr_assert_eq(tp_unit_find("PR")->dim, TP_DIM_COUNT);
    cr_assert_eq(tp_unit_find("MWH")->dim, TP_DIM_ENERGY);
    cr_assert_eq(tp_unit_find("BX")->dim, TP_DIM_PACKAGE);
    cr_assert_str_eq(tp_dim_name(TP_DIM_MASS), "mass");
    cr_assert_str_eq(tp_dim_name(TP_DIM_VOLUME), "volume");
    cr_assert_str_eq(tp_dim_name(TP_DIM_LENGTH), "length");
    cr_assert_str_eq(tp_dim_name(TP_DIM_AREA), "area");
    cr_assert_str_eq(tp_dim_name(TP_DIM_COUNT), "count");
    cr_assert_str_eq(tp_dim_name(TP_DIM_ENERGY), "energy");
    cr_assert_str_eq(tp_dim_name(TP_DIM_PACKAGE), "package");
}

Test(units, find_is_exact)
{
    cr_assert_not_null(tp_unit_find("TNE"));
    cr_assert_null(tp_unit_find("tne"));
    cr_assert_null(tp_unit_find("TNE "));
    cr_assert_null(tp_unit_find(""));
    cr_assert_null(tp_unit_find("XYZ"));
}

Test(units, table_is_consistent)
{
    int n = 0;
    const tp_unit_t *t = tp_unit_table(&n);

    cr_assert_geq(n, 31);
    for (int i = 0; i < n; i++) {
        const tp_unit_t *base = tp_unit_find(t[i].base);
        tp_dec_t f;
        cr_assert_eq(tp_dec_from_str(t[i].factor, &f), 0, "%s factor", t[i].code);
        cr_assert_eq(tp_dec_sign(&f), 1, "%s factor must be positive", t[i].code);
        cr_assert_eq(tp_unit_find(t[i].code), &t[i], "%s is listed twice", t[i].code);
        cr_assert_not_null(base, "%s: base %s not in table", t[i].code, t[i].base);
        cr_assert_eq(base->dim, t[i].dim, "%s: base of another dimension", t[i].code);
        cr_assert_str_eq(base->factor, "1", "%s: base %s factor", t[i].code, base->code);
        cr_assert_str_eq(base->base, base->code, "base %s is not its own base", base->code);
        cr_assert(t[i].name != NULL && t[i].name[0] != '\0', "%s has no name", t[i].code);
    }
}

Test(units, packaging_codes_pool_only_with_themselves)
{
    static const char *const codes[] = {"BX", "PK", "PA", "CT", "BG", "DR", "RO", "PL", "CS"};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const tp_unit_t *u = tp_unit_find(codes[i]);
        cr_assert_not_null(u, "%s missing", codes[i]);
        cr_assert_eq(u->dim, TP_DIM_PACKAGE);
        cr_assert_str_eq(u->base, u->code);
        cr_assert_str_eq(u->factor, "1");
    }
    tp_dec_t boxes = to_base("BX", "7.5");
    assert_text(&boxes, "7.5");
}

Test(units, count_units_and_whole_pieces)
{
    tp_dec_t half_dozen = to_base("DZN", "0.5"), half_piece = to_base("H87", "0.5");
    tp_dec_t pairs = to_base("PR", "3"), each = to_base("EA", "4"), nar = to_base("NAR", "5");

    assert_text(&half_dozen, "6");
    cr_assert(tp_dec_is_integer(&half_dozen), "0.5 DZN = 6 C62 is whole");
    assert_text(&half_piece, "0.5");
    cr_assert_not(tp_dec_is_integer(&half_piece), "0.5 H87 is not whole");
    assert_text(&pairs, "6");
    assert_text(&each, "4");
    assert_text(&nar, "5");
}

Test(units, conversions_are_exact)
{
    tp_dec_t v = to_base("LBR", "3");

    assert_text(&v, "1.36077711");
    v = to_base("MLT", "0.000001");
    assert_text(&v, "0.000000000001");
    v = to_base("MGM", "999999999999.999999");
    assert_text(&v, "999999.999999999999");
    v = to_base("HLT", "2.5");
    assert_text(&v, "0.25");
    v = to_base("CMT", "150");
    assert_text(&v, "1.5");
    v = to_base("MWH", "1.234");
    assert_text(&v, "1234");
}

Test(units, conversion_overflow_fails)
{
    tp_dec_t huge = {.coef = 1, .scale = 0}, out = tp_dec_from_int(9);

    for (int i = 0; i < 37; i++)
        huge.coef *= 10;
    cr_assert_eq(tp_unit_to_base(tp_unit_find("TNE"), &huge, &out), -1);
    assert_text(&out, "9");
}

/* ---- reference check against the UN/ECE Rec 20 files (not part of the project) ---- */

typedef struct ref_row {
    char *code, *name, *factor;
} ref_row_t;

typedef struct ref_table {
    ref_row_t rows[REF_MAX_ROWS];
    int n;
} ref_table_t;

static bool is_dir(const char *path)
{
    struct stat st;

    return path != NULL && path[0] != '\0' && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *refdata_dir(void)
{
    const char *env = getenv("TENDERPOOL_REFDATA");

    if (env != NULL && env[0] != '\0')
        return is_dir(env) ? env : NULL;
    return is_dir(TP_REFDATA_DEFAULT) ? TP_REFDATA_DEFAULT : NULL;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    cr_assert_gt(len, 0, "%s is empty", path);
    rewind(f);
    buf = malloc((size_t)len + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Parses one RFC 4180 record in place (quotes, doubled quotes, embedded newlines);
 * returns the position after it, or NULL at the end of the text. */
static char *csv_record(char *p, char **fields, int *nfields)
{
    if (*p == '\0')
        return NULL;
    *nfields = 0;
    for (;;) {
        char *start = p, *out = p;
        if (*p == '"') {
            for (p++; *p != '\0'; p++) {
                if (*p == '"' && p[1] != '"')
                    break;
                *out++ = *p;
                p += *p == '"'; /* a doubled quote stands for one */
            }
            p += *p == '"';
        }
        while (*p != '\0' && *p != ',' && *p != '\n' && *p != '\r')
            *out++ = *p++;
        char sep = *p;
        *out = '\0';
        if (*nfields < CSV_MAX_FIELDS)
            fields[(*nfields)++] = start;
        if (sep == ',') {
            p++;
            continue;
        }
        if (sep == '\r')
            p += 1 + (p[1] == '\n'); /* *p itself may now hold the field's terminator */
        else if (sep == '\n')
            p++;
        return p;
    }
}

static int column(char **fields, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(fields[i], name) == 0)
            return i;
    }
    cr_assert_fail("column '%s' not found in reference file", name);
    return -1;
}

/* Loads code, name and factor columns of one Rec 20 annex file into t. */
static void load_annex(ref_table_t *t, const char *dir, const char *file, const char *code_col,
                       const char *factor_col)
{
    char path[4096], *fields[CSV_MAX_FIELDS];
    int n;

    snprintf(path, sizeof(path), "%s/data/%s", dir, file);
    char *p = slurp(path);
    if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    p = csv_record(p, fields, &n);
    cr_assert_not_null(p, "%s has no header", path);
    int ci = column(fields, n, code_col), ni = column(fields, n, "Name");
    int fi = column(fields, n, factor_col);
    while ((p = csv_record(p, fields, &n)) != NULL) {
        if (n <= ci || n <= ni || n <= fi)
            continue;
        cr_assert_lt(t->n, REF_MAX_ROWS, "reference file larger than expected");
        t->rows[t->n++] = (ref_row_t){fields[ci], fields[ni], fields[fi]};
    }
}

static const char *skip_spaces(const char *s)
{
    for (;;) {
        if (*s == ' ')
            s++;
        else if (strncmp(s, "\xC2\xA0", 2) == 0) /* no-break space */
            s += 2;
        else
            return s;
    }
}

/* Superscript digit or minus at s: its value (0-9, or -1 for minus) and byte length. */
static int superscript(const char *s, int *len)
{
    static const char *const sup[] = {
        "\xE2\x81\xB0", "\xC2\xB9",     "\xC2\xB2",     "\xC2\xB3",     "\xE2\x81\xB4",
        "\xE2\x81\xB5", "\xE2\x81\xB6", "\xE2\x81\xB7", "\xE2\x81\xB8", "\xE2\x81\xB9"};

    for (int i = 0; i < 10; i++) {
        *len = (int)strlen(sup[i]);
        if (strncmp(s, sup[i], (size_t)*len) == 0)
            return i;
    }
    *len = 3;
    return strncmp(s, "\xE2\x81\xBB", 3) == 0 ? -1 : -2;
}

/* Reads "10" followed by a superscript exponent ("10⁻³"); advances *s. */
static bool power_of_ten(const char **s, int *exp)
{
    const char *p = *s;
    int len, v, sign = 1, digits = 0;

    if (strncmp(p, "10", 2) != 0)
        return false;
    p += 2;
    if (superscript(p, &len) == -1) {
        sign = -1;
        p += len;
    }
    *exp = 0;
    while ((v = superscript(p, &len)) >= 0) {
        *exp = *exp * 10 + v;
        p += len;
        digits++;
    }
    if (digits == 0)
        return false;
    *exp *= sign;
    *s = p;
    return true;
}

/* Mantissa with decimal comma and digit-group spaces ("0,453 592 37") as plain text. */
static const char *mantissa(const char *s, char *out, size_t outlen)
{
    size_t n = 0;

    while (n + 1 < outlen) {
        if (*s >= '0' && *s <= '9')
            out[n++] = *s++;
        else if (*s == ',')
            out[n++] = '.', s++;
        else if (*s == ' ' && s[1] >= '0' && s[1] <= '9')
            s++;
        else
            break;
    }
    out[n] = '\0';
    return s;
}

static tp_dec_t pow10_dec(int exp)
{
    tp_dec_t d = {.coef = 1, .scale = exp < 0 ? -exp : 0};

    for (int i = 0; i < exp; i++)
        d.coef *= 10;
    return d;
}

/* Parses an annex factor exactly: "kg", "10³ kg", "0,453 592 37 kg", "3,6 x 10⁶ J", "12".
 * *value receives the number, symbol the unit symbol text ("" when dimensionless). */
static void parse_annex_factor(const char *text, tp_dec_t *value, char *symbol, size_t symlen)
{
    const char *s = skip_spaces(text);
    char mant[64] = "1";
    int exp = 0;

    if (!power_of_ten(&s, &exp) && *s >= '0' && *s <= '9') {
        s = skip_spaces(mantissa(s, mant, sizeof(mant)));
        if (strncmp(s, "x ", 2) == 0 || strncmp(s, "\xC3\x97", 2) == 0) {
            s = skip_spaces(s + (*s == 'x' ? 1 : 2));
            cr_assert(power_of_ten(&s, &exp), "factor '%s': bad power of ten", text);
        }
    }
    tp_dec_t m = dec(mant), p = pow10_dec(exp);
    cr_assert_eq(tp_dec_mul(&m, &p, value), 0, "factor '%s' out of range", text);
    snprintf(symbol, symlen, "%s", skip_spaces(s));
}

/* Rec 20 names may contain no-break spaces; the project's table uses plain spaces. */
static void plain_spaces(const char *in, char *out, size_t outlen)
{
    size_t n = 0;

    while (*in != '\0' && n + 1 < outlen) {
        if (strncmp(in, "\xC2\xA0", 2) == 0) {
            out[n++] = ' ';
            in += 2;
        } else {
            out[n++] = *in++;
        }
    }
    out[n] = '\0';
}

static const ref_row_t *ref_find(const ref_table_t *t, const char *code)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->rows[i].code, code) == 0)
            return &t->rows[i];
    }
    return NULL;
}

/* Our factor must equal annex(code) / annex(base), checked as annex(code) == ours * annex(base)
 * in the same symbol (Rec 20 states KWH and MWH in joules, not in KWH). */
static void check_factor(const tp_unit_t *u, const ref_row_t *row, const ref_row_t *base_row)
{
    tp_dec_t v_unit, v_base, ours = dec(u->factor), expect;
    char sym_unit[64], sym_base[64];

    parse_annex_factor(row->factor, &v_unit, sym_unit, sizeof(sym_unit));
    parse_annex_factor(base_row->factor, &v_base, sym_base, sizeof(sym_base));
    cr_assert_str_eq(sym_unit, sym_base, "%s factor '%s' is not in the base's unit '%s'", u->code,
                     row->factor, base_row->factor);
    cr_assert_eq(tp_dec_mul(&ours, &v_base, &expect), 0);
    cr_assert_eq(tp_dec_cmp(&v_unit, &expect), 0, "%s: Rec 20 says '%s', base %s is '%s', ours %s",
                 u->code, row->factor, u->base, base_row->factor, u->factor);
}

static void check_unit_against(const tp_unit_t *u, const ref_table_t *t)
{
    const ref_row_t *base_row = ref_find(t, u->base);
    char name[256];
    int rows = 0;

    for (int i = 0; i < t->n; i++) {
        const ref_row_t *row = &t->rows[i];
        if (strcmp(row->code, u->code) != 0)
            continue;
        rows++;
        plain_spaces(row->name, name, sizeof(name));
        cr_assert_str_eq(u->name, name, "%s: name differs from Rec 20", u->code);
        if (u->dim == TP_DIM_PACKAGE || row->factor[0] == '\0') {
            /* No Rec 20 factor (packaging; H87/EA/NAR): the SPEC fixes them at 1. */
            cr_assert_str_eq(u->factor, "1", "%s has no Rec 20 factor", u->code);
            continue;
        }
        cr_assert_not_null(base_row, "%s: base %s not in the same annex", u->code, u->base);
        check_factor(u, row, base_row);
    }
    cr_assert_gt(rows, 0, "%s not found in Rec 20", u->code);
}

static ref_table_t annex1, annex23;

Test(units, table_matches_unece_rec20_reference)
{
    const char *dir = refdata_dir();
    int n;

    if (dir == NULL) {
        fprintf(stderr, "reference data not found: set TENDERPOOL_REFDATA\n");
        cr_skip_test("reference data not found: set TENDERPOOL_REFDATA");
    }
    load_annex(&annex1, dir, "unece-rec20-annex1.csv", "Common Code", "Conversion Factor");
    load_annex(&annex23, dir, "unece-rec20-annex2-3.csv", "CommonCode", "ConversionFactor");
    cr_assert_gt(annex1.n, 1000, "annex I looks truncated");
    const tp_unit_t *table = tp_unit_table(&n);
    for (int i = 0; i < n; i++) {
        const tp_unit_t *u = &table[i];
        check_unit_against(u, ref_find(&annex1, u->code) != NULL ? &annex1 : &annex23);
    }
}

Test(units, annex_factor_parser_is_exact)
{
    tp_dec_t v, want;
    char sym[32];

    parse_annex_factor("0,453 592 37 kg", &v, sym, sizeof(sym));
    want = dec("0.45359237");
    cr_assert_eq(tp_dec_cmp(&v, &want), 0);
    cr_assert_str_eq(sym, "kg");
    parse_annex_factor("10\xE2\x81\xBB\xC2\xB3 m\xC2\xB3", &v, sym, sizeof(sym)); /* 10⁻³ m³ */
    want = dec("0.001");
    cr_assert_eq(tp_dec_cmp(&v, &want), 0);
    cr_assert_str_eq(sym, "m\xC2\xB3");
    parse_annex_factor("3,6 x 10\xE2\x81\xB6 J", &v, sym, sizeof(sym)); /* 3,6 x 10⁶ J */
    want = dec("3600000");
    cr_assert_eq(tp_dec_cmp(&v, &want), 0);
    cr_assert_str_eq(sym, "J");
    parse_annex_factor("12", &v, sym, sizeof(sym));
    want = dec("12");
    cr_assert_eq(tp_dec_cmp(&v, &want), 0);
    cr_assert_str_eq(sym, "");
}
