/* Unit tests for tp_dec: parsing rules, canonical formatting, exact arithmetic and overflow. */
#include <criterion/criterion.h>
#include <string.h>

#include "tp_decimal.h"

static tp_dec_t dec(const char *s)
{
    tp_dec_t d;

    cr_assert_eq(tp_dec_from_str(s, &d), 0, "trusted parse of '%s' failed", s);
    return d;
}

static void assert_text(const tp_dec_t *d, const char *want)
{
    char buf[TP_DEC_STR_MAX];

    tp_dec_format(d, buf, sizeof(buf));
    cr_assert_str_eq(buf, want);
}

/* Parses with the SPEC's quantity limits (12 integer, 6 fraction digits). */
static int parse_qty(const char *s, size_t len, tp_dec_t *out, const char **why)
{
    return tp_dec_parse(s, len, 12, 6, out, why);
}

static void assert_rejected(const char *s, size_t len, const char *want_why)
{
    tp_dec_t d = {.coef = 77, .scale = 0};
    const char *why = NULL;

    cr_assert_eq(parse_qty(s, len, &d, &why), -1, "'%.*s' should be rejected", (int)len, s);
    cr_assert_not_null(why);
    cr_assert_str_eq(why, want_why, "'%.*s': got reason '%s'", (int)len, s, why);
}

static void assert_parses_to(const char *s, const char *canonical)
{
    tp_dec_t d;
    const char *why = NULL;

    cr_assert_eq(parse_qty(s, strlen(s), &d, &why), 0, "'%s' rejected: %s", s, why);
    assert_text(&d, canonical);
}

Test(decimal, parses_plain_numbers)
{
    assert_parses_to("12", "12");
    assert_parses_to("12.5", "12.5");
    assert_parses_to("0.001", "0.001");
    assert_parses_to("007.50", "7.5");
    assert_parses_to("-3.25", "-3.25");
    assert_parses_to("-0", "0");
    assert_parses_to("0.000000", "0");
}

Test(decimal, parse_keeps_scale_and_coefficient)
{
    tp_dec_t d;
    const char *why;

    cr_assert_eq(parse_qty("007.50", 6, &d, &why), 0);
    cr_assert(d.coef == 750, "coef should be 750");
    cr_assert_eq(d.scale, 2);
}

Test(decimal, accepts_limits_exactly)
{
    assert_parses_to("999999999999.999999", "999999999999.999999");
    assert_parses_to("000000000000000123456789012.5", "123456789012.5");
    assert_parses_to("0.000001", "0.000001");
}

Test(decimal, rejects_bad_syntax_with_specific_reasons)
{
    assert_rejected("", 0, "empty");
    assert_rejected("-", 1, "no digits");
    assert_rejected(".5", 2, "no digit before '.'");
    assert_rejected("-.5", 3, "no digit before '.'");
    assert_rejected("5.", 2, "no digit after '.'");
    assert_rejected("1e3", 3, "exponent notation is not allowed");
    assert_rejected("1.5E2", 5, "exponent notation is not allowed");
    assert_rejected("NaN", 3, "not a decimal number");
    assert_rejected("inf", 3, "not a decimal number");
    assert_rejected("-inf", 4, "not a decimal number");
    assert_rejected(" 1", 2, "contains whitespace");
    assert_rejected("1 ", 2, "contains whitespace");
    assert_rejected("+1", 2, "a '+' sign is not allowed");
    assert_rejected("1,5", 3, "decimal comma is not allowed, use '.'");
    assert_rejected("1.2.3", 5, "not a decimal number");
    assert_rejected("--1", 3, "not a decimal number");
    assert_rejected("0x10", 4, "not a decimal number");
}

Test(decimal, rejects_embedded_nul)
{
    assert_rejected("1\0002", 3, "contains a NUL byte");
    assert_rejected("12\000", 3, "contains a NUL byte");
}

Test(decimal, len_is_explicit)
{
    tp_dec_t d;
    const char *why;

    /* Only the first 2 bytes count: "12" of "12.5". */
    cr_assert_eq(parse_qty("12.5", 2, &d, &why), 0);
    assert_text(&d, "12");
}

Test(decimal, enforces_digit_limits)
{
    assert_rejected("1234567890123", 13, "more than 12 integer digits");
    assert_rejected("1.1234567", 9, "more than 6 fraction digits");
    assert_rejected("1.5000000", 9, "more than 6 fraction digits");
    assert_rejected("99999999999999999999999999999999999999999999", 44,
                    "more than 12 integer digits");
}

Test(decimal, other_limits_give_matching_reasons)
{
    tp_dec_t d;
    const char *why;

    cr_assert_eq(tp_dec_parse("1.234", 5, 12, 2, &d, &why), -1);
    cr_assert_str_eq(why, "more than 2 fraction digits");
    cr_assert_eq(tp_dec_parse("1.5", 3, 12, 0, &d, &why), -1);
    cr_assert_str_eq(why, "more than 0 fraction digits");
    cr_assert_eq(tp_dec_parse("12345", 5, 4, 0, &d, &why), -1);
    cr_assert_str_eq(why, "more than 4 integer digits");
}

Test(decimal, trusted_parse_handles_long_values_and_overflow)
{
    tp_dec_t d;

    cr_assert_eq(tp_dec_from_str("0.453592370000000000000000000001", &d), 0);
    cr_assert_eq(d.scale, 30);
    assert_text(&d, "0.453592370000000000000000000001");
    cr_assert_eq(tp_dec_from_str("123456789012345678901234567890.12345678", &d), 0);
    assert_text(&d, "123456789012345678901234567890.12345678");
    cr_assert_eq(tp_dec_from_str("123456789012345678901234567890.123456789", &d), 0);
    assert_text(&d, "123456789012345678901234567890.123456789");
    cr_assert_eq(tp_dec_from_str("923456789012345678901234567890.123456789", &d), -1);
    cr_assert_eq(tp_dec_from_str("1.0000000000000000000000000000001", &d), -1);
    cr_assert_eq(tp_dec_from_str("1e5", &d), -1);
}

Test(decimal, formats_canonically)
{
    tp_dec_t d = {.coef = 4000, .scale = 0};

    assert_text(&d, "4000");
    d = (tp_dec_t){.coef = 12500, .scale = 3};
    assert_text(&d, "12.5");
    d = (tp_dec_t){.coef = -1, .scale = 3};
    assert_text(&d, "-0.001");
    d = (tp_dec_t){.coef = 0, .scale = 5};
    assert_text(&d, "0");
    d = (tp_dec_t){.coef = -120, .scale = 1};
    assert_text(&d, "-12");
    d = (tp_dec_t){.coef = 1, .scale = 30};
    assert_text(&d, "0.000000000000000000000000000001");
}

Test(decimal, formats_extremes_and_truncates_safely)
{
    tp_dec_t d = {.coef = -(((__int128)1) << 126) * 2, .scale = 0}; /* INT128_MIN */
    char small[5];

    assert_text(&d, "-170141183460469231731687303715884105728");
    d = (tp_dec_t){.coef = -(((__int128)1) << 126) * 2, .scale = 30};
    assert_text(&d, "-170141183.460469231731687303715884105728");
    d = tp_dec_from_int(123456);
    tp_dec_format(&d, small, sizeof(small));
    cr_assert_str_eq(small, "1234");
}

Test(decimal, from_int)
{
    tp_dec_t d = tp_dec_from_int(-9223372036854775807LL - 1);

    assert_text(&d, "-9223372036854775808");
    cr_assert_eq(d.scale, 0);
}

Test(decimal, add_and_sub_align_scales)
{
    tp_dec_t a = dec("1.5"), b = dec("0.25"), r;

    cr_assert_eq(tp_dec_add(&a, &b, &r), 0);
    assert_text(&r, "1.75");
    cr_assert_eq(tp_dec_sub(&b, &a, &r), 0);
    assert_text(&r, "-1.25");
    a = dec("0.1");
    b = dec("0.2");
    cr_assert_eq(tp_dec_add(&a, &b, &r), 0);
    assert_text(&r, "0.3");
    cr_assert_eq(tp_dec_cmp(&r, &(tp_dec_t){.coef = 3, .scale = 1}), 0);
}

Test(decimal, add_overflow_fails_and_leaves_out_untouched)
{
    tp_dec_t max = {.coef = (__int128)(~(unsigned __int128)0 >> 1), .scale = 0};
    tp_dec_t one = tp_dec_from_int(1), r = tp_dec_from_int(42);

    cr_assert_eq(tp_dec_add(&max, &one, &r), -1);
    assert_text(&r, "42");
    cr_assert_eq(tp_dec_sub(&max, &one, &r), 0);
    tp_dec_t min = {.coef = -max.coef - 1, .scale = 0};
    cr_assert_eq(tp_dec_sub(&min, &one, &r), -1);
    /* Aligning 1 (scale 0) with a scale-30 value needs 10^30: fine; a huge integer is not. */
    tp_dec_t tiny = {.coef = 1, .scale = 30};
    cr_assert_eq(tp_dec_add(&max, &tiny, &r), -1);
}

Test(decimal, add_normalizes_before_giving_up)
{
    /* 10^37 at scale 30 with trailing zeros: aligning the other operand would overflow unless
     * the trailing zeros are removed first. */
    tp_dec_t a = {.coef = 1, .scale = 30}, b, r;

    for (int i = 0; i < 30; i++)
        a.coef *= 10;                          /* 1.000...0 (30 zeros) */
    b = dec("100000000000000000000000000000"); /* 10^29 */
    cr_assert_eq(tp_dec_add(&a, &b, &r), 0);
    assert_text(&r, "100000000000000000000000000001");
}

Test(decimal, mul_exact)
{
    tp_dec_t a = dec("2"), b = dec("1000"), r;

    cr_assert_eq(tp_dec_mul(&a, &b, &r), 0);
    assert_text(&r, "2000");
    a = dec("1500000");
    b = dec("0.001");
    cr_assert_eq(tp_dec_mul(&a, &b, &r), 0);
    assert_text(&r, "1500");
    a = dec("0.5");
    b = dec("0.45359237");
    cr_assert_eq(tp_dec_mul(&a, &b, &r), 0);
    assert_text(&r, "0.226796185");
    a = dec("-1.5");
    b = dec("-1.5");
    cr_assert_eq(tp_dec_mul(&a, &b, &r), 0);
    assert_text(&r, "2.25");
}

Test(decimal, mul_scale_limit_normalizes_or_fails)
{
    tp_dec_t a = dec("0.100000000000000000000"), b = dec("0.000000000000000000000000000100"), r;

    /* 21 + 30 digits of scale, but trailing zeros leave 1 + 28. */
    cr_assert_eq(tp_dec_mul(&a, &b, &r), 0);
    assert_text(&r, "0.00000000000000000000000000001");
    a = dec("0.000000000000001");
    b = dec("0.0000000000000001");
    r = tp_dec_from_int(7);
    cr_assert_eq(tp_dec_mul(&a, &b, &r), -1, "needs 31 fraction digits: must fail, not round");
    assert_text(&r, "7");
}

Test(decimal, mul_overflow)
{
    tp_dec_t a = dec("10000000000000000000"), b = dec("100000000000000000000"), r;

    cr_assert_eq(tp_dec_mul(&a, &b, &r), -1);
    b = dec("10000000000000000000");
    cr_assert_eq(tp_dec_mul(&a, &b, &r), 0);
    assert_text(&r, "100000000000000000000000000000000000000");
}

Test(decimal, cmp_across_scales)
{
    tp_dec_t a = dec("1.50"), b = dec("1.5"), c = dec("1.500001"), n = dec("-2");

    cr_assert_eq(tp_dec_cmp(&a, &b), 0);
    cr_assert_eq(tp_dec_cmp(&a, &c), -1);
    cr_assert_eq(tp_dec_cmp(&c, &a), 1);
    cr_assert_eq(tp_dec_cmp(&n, &a), -1);
    cr_assert_eq(tp_dec_cmp(&a, &n), 1);
    tp_dec_t z1 = dec("0"), z2 = dec("-0.000");
    cr_assert_eq(tp_dec_cmp(&z1, &z2), 0);
}

Test(decimal, cmp_when_alignment_would_overflow)
{
    tp_dec_t big = dec("100000000000000000000000000000"); /* 10^29, scale 0 */
    tp_dec_t small = {.coef = 5, .scale = 30};
    tp_dec_t nbig = dec("-100000000000000000000000000000");
    tp_dec_t nsmall = {.coef = -5, .scale = 30};

    cr_assert_eq(tp_dec_cmp(&big, &small), 1);
    cr_assert_eq(tp_dec_cmp(&small, &big), -1);
    cr_assert_eq(tp_dec_cmp(&nbig, &nsmall), -1);
    cr_assert_eq(tp_dec_cmp(&nsmall, &nbig), 1);
}

Test(decimal, sign_integer_normalize)
{
    tp_dec_t a = dec("-0.5"), b = dec("6.000"), c = dec("0");

    cr_assert_eq(tp_dec_sign(&a), -1);
    cr_assert_eq(tp_dec_sign(&b), 1);
    cr_assert_eq(tp_dec_sign(&c), 0);
    cr_assert_not(tp_dec_is_integer(&a));
    cr_assert(tp_dec_is_integer(&b));
    cr_assert(tp_dec_is_integer(&c));
    tp_dec_normalize(&b);
    cr_assert(b.coef == 6, "6.000 normalizes to coef 6");
    cr_assert_eq(b.scale, 0);
    tp_dec_t d = dec("1.500");
    tp_dec_normalize(&d);
    cr_assert(d.coef == 15, "1.500 normalizes to coef 15");
    cr_assert_eq(d.scale, 1);
    tp_dec_t z = {.coef = 0, .scale = 4};
    tp_dec_normalize(&z);
    cr_assert_eq(z.scale, 0);
}
