/* Unit tests for CPV codes: format parsing, the sorted code set, and the full CPV 2008 list. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_cpv.h"

#define CPV2008_CODES 9455

Test(cpv, parse_accepts_both_forms)
{
    char code[9];
    cr_assert(tp_cpv_parse("03111000", code));
    cr_assert_str_eq(code, "03111000");
    memset(code, 'x', sizeof(code));
    cr_assert(tp_cpv_parse("44111100-7", code));
    cr_assert_str_eq(code, "44111100");
    cr_assert(tp_cpv_parse("00000000-0", code)); /* check digit not verified */
}

Test(cpv, parse_rejects_bad_formats)
{
    static const char *bad[] = {"",
                                "0311100",
                                "031110000",
                                "03111000-",
                                "03111000-55",
                                "03111000-a",
                                "0311100a",
                                "03111000_5",
                                " 03111000",
                                "03111000 ",
                                "-3111000",
                                "03111000-5 ",
                                "０3111000",
                                "03111\0"
                                "000"};
    char code[9];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(tp_cpv_parse(bad[i], code), "accepted '%s'", bad[i]);
    cr_assert_not(tp_cpv_parse(NULL, code));
}

Test(cpv, set_add_seal_lookup)
{
    tp_cpv_set_t *set = tp_cpv_set_new();
    cr_assert_eq(tp_cpv_set_count(set), 0);
    cr_assert_not(tp_cpv_set_has(set, "03111000"));
    cr_assert_eq(tp_cpv_set_add(set, "44111100"), 0);
    cr_assert_eq(tp_cpv_set_add(set, "03111000"), 0);
    cr_assert_eq(tp_cpv_set_add(set, "44111100"), 0); /* duplicate */
    cr_assert(tp_cpv_set_has(set, "03111000"));       /* unsealed: still correct */
    tp_cpv_set_seal(set);
    cr_assert_eq(tp_cpv_set_count(set), 2);
    cr_assert(tp_cpv_set_has(set, "03111000"));
    cr_assert(tp_cpv_set_has(set, "44111100"));
    cr_assert_not(tp_cpv_set_has(set, "44111101"));
    cr_assert_not(tp_cpv_set_has(set, "03111000-5")); /* lookups take the 8 digits */
    cr_assert_not(tp_cpv_set_has(set, NULL));
    tp_cpv_set_destroy(&set);
    cr_assert_null(set);
    tp_cpv_set_destroy(&set); /* NULL is fine */
    cr_assert_not(tp_cpv_set_has(NULL, "03111000"));
}

Test(cpv, set_rejects_bad_codes)
{
    tp_cpv_set_t *set = tp_cpv_set_new();
    cr_assert_eq(tp_cpv_set_add(set, "1234567"), -1);
    cr_assert_eq(tp_cpv_set_add(set, "123456789"), -1);
    cr_assert_eq(tp_cpv_set_add(set, "1234567a"), -1);
    cr_assert_eq(tp_cpv_set_add(set, "12345678-1"), -1);
    cr_assert_eq(tp_cpv_set_add(set, NULL), -1);
    tp_cpv_set_seal(set);
    cr_assert_eq(tp_cpv_set_count(set), 0);
    tp_cpv_set_destroy(&set);
}

Test(cpv, large_set_bisects)
{
    tp_cpv_set_t *set = tp_cpv_set_new();
    char code[16];
    for (int i = 20000; i > 0; i--) { /* reverse order, even codes only */
        snprintf(code, sizeof(code), "%08d", i * 2000);
        cr_assert_eq(tp_cpv_set_add(set, code), 0);
    }
    tp_cpv_set_seal(set);
    cr_assert_eq(tp_cpv_set_count(set), 20000);
    for (int i = 1; i <= 20000; i++) {
        snprintf(code, sizeof(code), "%08d", i * 2000);
        cr_assert(tp_cpv_set_has(set, code), "%s missing", code);
        snprintf(code, sizeof(code), "%08d", i * 2000 + 1);
        cr_assert_not(tp_cpv_set_has(set, code), "%s present", code);
    }
    tp_cpv_set_destroy(&set);
}

/* $TENDERPOOL_REFDATA/data/cpv2008.csv, else the checkout's ../shared one; NULL if neither. */
static FILE *open_cpv2008(char *path, size_t len)
{
    const char *dirs[] = {
        getenv("TENDERPOOL_REFDATA"),
#ifdef TP_REFDATA_DEFAULT
        TP_REFDATA_DEFAULT,
#endif
    };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (dirs[i] == NULL || dirs[i][0] == '\0')
            continue;
        snprintf(path, len, "%s/data/cpv2008.csv", dirs[i]);
        FILE *fp = fopen(path, "r");
        if (fp != NULL)
            return fp;
    }
    return NULL;
}

/* The code is the first CSV field, possibly quoted; a header line has no digits there. */
static bool first_field(const char *line, char *out, size_t len)
{
    const char *p = line + (line[0] == '"');
    size_t n = strcspn(p, "\",\r\n");
    if (n == 0 || n >= len || p[0] < '0' || p[0] > '9')
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

Test(cpv, full_cpv2008_list_parses)
{
    char path[4096], line[4096], field[64], code[9];
    FILE *fp = open_cpv2008(path, sizeof(path));
    if (fp == NULL)
        cr_skip_test("reference data not found: set TENDERPOOL_REFDATA");
    tp_cpv_set_t *set = tp_cpv_set_new();
    size_t lines = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        if (!first_field(line, field, sizeof(field))) {
            cr_assert_eq(lines, 0, "%s: line %zu has no code: %s", path, lines + 1, line);
            continue; /* the header */
        }
        lines++;
        cr_assert(tp_cpv_parse(field, code), "%s: '%s' does not parse", path, field);
        cr_assert_eq(tp_cpv_set_add(set, code), 0);
    }
    fclose(fp);
    tp_cpv_set_seal(set);
    cr_assert_eq(lines, CPV2008_CODES);
    cr_assert_eq(tp_cpv_set_count(set), CPV2008_CODES);
    cr_assert(tp_cpv_set_has(set, "03000000"));
    tp_cpv_set_destroy(&set);
}
