/* Unit tests for the COPY BINARY encoder: header, field framing, binary numeric and dates. */
#include <criterion/criterion.h>
#include <stdio.h>
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

/* Decodes numeric words back to text as PostgreSQL prints it (dscale fraction digits). */
static void words_to_text(const unsigned *w, char *out, size_t outlen)
{
    int nd = (int)w[0], weight = (int16_t)w[1], neg = w[2] == 0x4000, dscale = (int)w[3];
    char digits[256];
    size_t n = 0;
    /* integer groups weight..0, then fraction groups -1..-(dscale+3)/4 */
    for (int g = weight > 0 ? weight : 0; g >= -((dscale + 3) / 4); g--) {
        int idx = weight - g; /* index into w[4..] */
        unsigned v = idx >= 0 && idx < nd ? w[4 + idx] : 0;
        n += (size_t)snprintf(digits + n, sizeof(digits) - n, "%04u", v);
    }
    size_t intlen = 4 * (size_t)((weight > 0 ? weight : 0) + 1);
    size_t start = 0;
    while (start + 1 < intlen && digits[start] == '0')
        start++;
    snprintf(out, outlen, "%s%.*s%s%.*s", neg ? "-" : "", (int)(intlen - start), digits + start,
             dscale ? "." : "", dscale, digits + intlen);
}

Test(copybuf, numeric_round_trips_over_many_values)
{
    uint64_t x = 88172645463325252ULL; /* xorshift: reproducible */
    char text[64], back[128];
    unsigned w[64];
    int nw;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int frac = (int)(x % 7);                             /* 0..6 fraction digits */
        unsigned long long ip = (x >> 8) % 1000000000000ULL; /* up to 12 integer digits */
        unsigned long long fp = (x >> 3) % 1000000ULL;
        if (frac)
            snprintf(text, sizeof(text), "%s%llu.%0*llu", (x & 1) ? "-" : "", ip, frac,
                     fp % (unsigned long long)(frac == 6   ? 1000000
                                               : frac == 5 ? 100000
                                               : frac == 4 ? 10000
                                               : frac == 3 ? 1000
                                               : frac == 2 ? 100
                                                           : 10));
        else
            snprintf(text, sizeof(text), "%s%llu", (x & 1) ? "-" : "", ip);
        numeric_words(text, w, &nw);
        cr_assert_eq(nw, 4 + (int)w[0], "%s: length and ndigits agree", text);
        words_to_text(w, back, sizeof(back));
        tp_dec_t a, b;
        cr_assert_eq(tp_dec_from_str(text, &a), 0);
        cr_assert_eq(tp_dec_from_str(back, &b), 0, "%s decoded to '%s'", text, back);
        cr_assert_eq(tp_dec_cmp(&a, &b), 0, "%s decoded to '%s'", text, back);
        for (int k = 0; k < (int)w[0]; k++)
            cr_assert_lt(w[4 + k], 10000, "%s: a base-10000 digit", text);
        if (w[0] > 0)
            cr_assert_neq(w[4 + w[0] - 1], 0, "%s: no trailing zero digit", text);
    }
}
