/* Unit tests for the compact line arena: exact round trips, limits, slot reuse. */
#include <criterion/criterion.h>
#include <string.h>

#include "tp_lines.h"

static tp_dec_t dec(const char *s)
{
    tp_dec_t d;
    cr_assert_eq(tp_dec_from_str(s, &d), 0, "%s", s);
    return d;
}

static void expect_dec(const tp_dec_t *d, const char *want)
{
    char buf[TP_DEC_STR_MAX];
    tp_dec_format(d, buf, sizeof(buf));
    cr_expect_str_eq(buf, want);
}

Test(lines, contributions_are_exact)
{
    tp_line_t l;
    tp_dec_t q = dec("2.5"), p = dec("1200.10"), base, value;
    bool priced;
    cr_assert_eq(tp_line_set(&l, tp_unit_find("TNE"), &q, &p, 20000), 0);
    cr_expect_eq(sizeof(tp_line_t), 32, "32 bytes per open request");
    cr_assert_eq(tp_line_contrib(&l, &base, &value, &priced), 0);
    expect_dec(&base, "2500");
    cr_expect(priced);
    expect_dec(&value, "3000.25");
    cr_expect_eq(l.need_by, 20000);

    tp_dec_t dz = dec("0.5");
    cr_assert_eq(tp_line_set(&l, tp_unit_find("DZN"), &dz, NULL, 1), 0);
    cr_assert_eq(tp_line_contrib(&l, &base, &value, &priced), 0);
    expect_dec(&base, "6");
    cr_expect_not(priced, "no price: no value");
}

Test(lines, largest_validated_values_fit_and_larger_do_not)
{
    tp_line_t l;
    tp_dec_t q = dec("999999999999.999999"), p = dec("999999999999.999999");
    tp_dec_t base, value;
    bool priced;
    cr_assert_eq(tp_line_set(&l, tp_unit_find("LBR"), &q, &p, 0), 0);
    cr_assert_eq(tp_line_contrib(&l, &base, &value, &priced), 0);
    expect_dec(&base, "453592369999.99999954640763"); /* 0.45359237 exactly */
    tp_dec_t huge = dec("1000000000000000000");
    cr_expect_eq(tp_line_set(&l, tp_unit_find("KGM"), &huge, NULL, 0), -1, "19 digits");
    cr_expect_eq(tp_line_set(&l, tp_unit_find("KGM"), &q, &huge, 0), -1, "price of 19 digits");
}

Test(lines, arena_reuses_slots_and_never_hands_out_zero)
{
    tp_lines_t ls = {0};
    uint32_t a = tp_lines_alloc(&ls), b = tp_lines_alloc(&ls);
    cr_expect_neq(a, 0);
    cr_expect_neq(b, 0);
    cr_expect_neq(a, b);
    cr_expect_null(tp_lines_at(&ls, 0));
    tp_lines_at(&ls, a)->need_by = 7;
    cr_expect_eq(ls.live, 2);
    tp_lines_free(&ls, a);
    cr_expect_eq(ls.live, 1);
    uint32_t c = tp_lines_alloc(&ls);
    cr_expect_eq(c, a, "a freed slot is used again");
    cr_expect_eq(tp_lines_at(&ls, c)->need_by, 0, "and handed out zeroed");
    for (int i = 0; i < 5000; i++)
        cr_assert_neq(tp_lines_alloc(&ls), 0);
    cr_expect_eq(ls.live, 5002);
    cr_expect_geq(tp_lines_bytes(&ls), 5003 * sizeof(tp_line_t));
    tp_lines_clear(&ls);
    cr_expect_eq(ls.live, 0);
}
