/* Unit tests for the COPY BINARY encoder: header, field framing, binary numeric and dates. */
#include <criterion/criterion.h>
#include <string.h>

#include "tp_copybuf.h"

static const unsigned char *field_after_header(const tp_copybuf_t *b)
{
    return (const unsigned char *)b->data + 19; /* 11 signature + 4 flags + 4 extension */
}

static unsigned u16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Encode one numeric and return its digits: ndigits, weight, sign, dscale, digits... */
static void numeric_words(const char *text, unsigned *w, int *nw)
{
    tp_copybuf_t b = {0};
    tp_dec_t d;
    cr_assert_eq(tp_dec_from_str(text, &d), 0, "%s parses", text);
    tp_copybuf_reset(&b);
    tp_copybuf_numeric(&b, &d);
    const unsigned char *p = field_after_header(&b);
    unsigned len = (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
    *nw = (int)len / 2;
    for (int i = 0; i < *nw; i++)
        w[i] = u16(p + 4 + 2 * i);
    tp_copybuf_free(&b);
}

Test(copybuf, header_and_trailer)
{
    tp_copybuf_t b = {0};
    tp_copybuf_reset(&b);
    cr_assert_eq(b.len, 19);
    cr_expect_eq(memcmp(b.data, "PGCOPY\n\377\r\n\0", 11), 0);
    tp_copybuf_finish(&b);
    cr_expect_eq(u16((const unsigned char *)b.data + 19), 0xffff);
    tp_copybuf_free(&b);
}

Test(copybuf, numeric_integer_and_fraction)
{
    unsigned w[16];
    int n;
    numeric_words("4000", w, &n);
    cr_assert_eq(n, 5);
    cr_expect_eq(w[0], 1); /* one base-10000 digit */
    cr_expect_eq(w[1], 0); /* weight 0 */
    cr_expect_eq(w[2], 0); /* positive */
    cr_expect_eq(w[3], 0); /* dscale */
    cr_expect_eq(w[4], 4000);
    numeric_words("12.5", w, &n);
    cr_assert_eq(n, 6);
    cr_expect_eq(w[0], 2);
    cr_expect_eq(w[1], 0);
    cr_expect_eq(w[3], 1);
    cr_expect_eq(w[4], 12);
    cr_expect_eq(w[5], 5000);
    numeric_words("123456789.000001", w, &n);
    cr_assert_eq(n, 4 + 5);
    cr_expect_eq(w[1], 2); /* 1|2345|6789 */
    cr_expect_eq(w[3], 6);
    cr_expect_eq(w[4], 1);
    cr_expect_eq(w[5], 2345);
    cr_expect_eq(w[6], 6789);
    cr_expect_eq(w[7], 0);
    cr_expect_eq(w[8], 100);
}

Test(copybuf, numeric_small_negative_and_zero)
{
    unsigned w[16];
    int n;
    numeric_words("0.001", w, &n);
    cr_assert_eq(n, 5);
    cr_expect_eq((int16_t)w[1], -1);
    cr_expect_eq(w[3], 3);
    cr_expect_eq(w[4], 10);
    numeric_words("-20000", w, &n);
    cr_assert_eq(n, 5);
    cr_expect_eq(w[1], 1);
    cr_expect_eq(w[2], 0x4000);
    cr_expect_eq(w[4], 2);
    numeric_words("0", w, &n);
    cr_assert_eq(n, 4);
    cr_expect_eq(w[0], 0);
    cr_expect_eq(w[2], 0);
}

Test(copybuf, date_and_null_framing)
{
    tp_copybuf_t b = {0};
    tp_copybuf_reset(&b);
    tp_copybuf_row(&b, 2);
    tp_copybuf_date(&b, 10957 + 1); /* 2000-01-02: PostgreSQL day 1 */
    tp_copybuf_null(&b);
    const unsigned char *p = field_after_header(&b);
    cr_expect_eq(u16(p), 2);
    cr_expect_eq(memcmp(p + 2, "\0\0\0\4\0\0\0\1", 8), 0);
    cr_expect_eq(memcmp(p + 10, "\377\377\377\377", 4), 0);
    cr_expect_eq(b.rows, 1);
    tp_copybuf_free(&b);
}
