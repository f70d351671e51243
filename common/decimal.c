/* Exact decimal arithmetic on an __int128 coefficient and a scale; must never round or use float.
 */
#include "tp_decimal.h"

#include <string.h>

#define DEC_MAX_DIGITS 38 /* every 38-digit number fits in an __int128 */
#define DEC_TRUSTED_MAX_INT 30

#define MORE_INT(n) "more than " #n " integer digits"
#define MORE_FRAC(n) "more than " #n " fraction digits"

/* Static reasons for the digit limits: `why` must be a static string, so one per limit. */
static const char *const more_int_msgs[] = {
    MORE_INT(0),  MORE_INT(1),  MORE_INT(2),  MORE_INT(3),  MORE_INT(4),  MORE_INT(5),
    MORE_INT(6),  MORE_INT(7),  MORE_INT(8),  MORE_INT(9),  MORE_INT(10), MORE_INT(11),
    MORE_INT(12), MORE_INT(13), MORE_INT(14), MORE_INT(15), MORE_INT(16), MORE_INT(17),
    MORE_INT(18), MORE_INT(19), MORE_INT(20), MORE_INT(21), MORE_INT(22), MORE_INT(23),
    MORE_INT(24), MORE_INT(25), MORE_INT(26), MORE_INT(27), MORE_INT(28), MORE_INT(29),
    MORE_INT(30),
};

static const char *const more_frac_msgs[] = {
    MORE_FRAC(0),  MORE_FRAC(1),  MORE_FRAC(2),  MORE_FRAC(3),  MORE_FRAC(4),  MORE_FRAC(5),
    MORE_FRAC(6),  MORE_FRAC(7),  MORE_FRAC(8),  MORE_FRAC(9),  MORE_FRAC(10), MORE_FRAC(11),
    MORE_FRAC(12), MORE_FRAC(13), MORE_FRAC(14), MORE_FRAC(15), MORE_FRAC(16), MORE_FRAC(17),
    MORE_FRAC(18), MORE_FRAC(19), MORE_FRAC(20), MORE_FRAC(21), MORE_FRAC(22), MORE_FRAC(23),
    MORE_FRAC(24), MORE_FRAC(25), MORE_FRAC(26), MORE_FRAC(27), MORE_FRAC(28), MORE_FRAC(29),
    MORE_FRAC(30),
};

#define N_LIMIT_MSGS ((int)(sizeof(more_int_msgs) / sizeof(more_int_msgs[0])))

/* 10^k for 0 <= k <= 38. */
static __int128 pow10_i128(int k)
{
    __int128 p = 1;

    while (k-- > 0)
        p *= 10;
    return p;
}

static const char *more_int_msg(int max_int)
{
    if (max_int >= 0 && max_int < N_LIMIT_MSGS)
        return more_int_msgs[max_int];
    return "too many integer digits";
}

static const char *more_frac_msg(int max_frac)
{
    if (max_frac >= 0 && max_frac < N_LIMIT_MSGS)
        return more_frac_msgs[max_frac];
    return "too many fraction digits";
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Names the first character that makes s not a plain decimal, for a useful `why`. */
static const char *bad_char_reason(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\0')
            return "contains a NUL byte";
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            return "contains whitespace";
        if (c == '+')
            return "a '+' sign is not allowed";
        if (c == ',')
            return "decimal comma is not allowed, use '.'";
        if ((c == 'e' || c == 'E') && i > 0 && is_digit(s[i - 1]))
            return "exponent notation is not allowed";
    }
    return "not a decimal number";
}

/* Accumulate digits s[0..n) into *coef; -1 if the coefficient would overflow. */
static int accumulate(const char *s, size_t n, __int128 *coef)
{
    for (size_t i = 0; i < n; i++) {
        if (__builtin_mul_overflow(*coef, 10, coef) ||
            __builtin_add_overflow(*coef, s[i] - '0', coef))
            return -1;
    }
    return 0;
}

static size_t count_digits(const char *s, size_t len)
{
    size_t n = 0;

    while (n < len && is_digit(s[n]))
        n++;
    return n;
}

/* The parts of a plain decimal text, as found by scan_decimal(). */
typedef struct dec_text {
    bool neg;
    const char *int_digits; /* significant integer digits (leading zeros skipped) */
    size_t n_int;
    const char *frac_digits;
    size_t n_frac;
} dec_text_t;

/* Checks the syntax of s[0..len) and splits it; 0, or -1 with the reason in *why. */
static int scan_decimal(const char *s, size_t len, dec_text_t *t, const char **why)
{
    size_t pos;

    *why = NULL;
    if (len == 0) {
        *why = "empty";
        return -1;
    }
    t->neg = s[0] == '-';
    pos = t->neg ? 1 : 0;
    t->int_digits = s + pos;
    t->n_int = count_digits(s + pos, len - pos);
    t->frac_digits = NULL;
    t->n_frac = 0;
    pos += t->n_int;
    if (t->n_int == 0) {
        *why = pos == len ? "no digits" : (s[pos] == '.' ? "no digit before '.'" : NULL);
    } else if (pos + 1 == len && s[pos] == '.') {
        *why = "no digit after '.'";
    } else if (pos < len && s[pos] == '.') {
        t->frac_digits = s + pos + 1;
        t->n_frac = count_digits(t->frac_digits, len - pos - 1);
        pos += 1 + t->n_frac;
    }
    if (*why == NULL && (t->n_int == 0 || pos != len || (t->frac_digits && t->n_frac == 0)))
        *why = bad_char_reason(s, len);
    return *why == NULL ? 0 : -1;
}

/* Drops leading zeros (they do not count toward max_int) and applies the digit limits. */
static const char *check_limits(dec_text_t *t, int max_int, int max_frac)
{
    while (t->n_int > 0 && t->int_digits[0] == '0') {
        t->int_digits++;
        t->n_int--;
    }
    if (max_int < 0 || t->n_int > (size_t)max_int)
        return more_int_msg(max_int);
    if (max_frac > TP_DEC_MAX_SCALE)
        max_frac = TP_DEC_MAX_SCALE;
    if (max_frac < 0 || t->n_frac > (size_t)max_frac)
        return more_frac_msg(max_frac);
    return NULL;
}

int tp_dec_parse(const char *s, size_t len, int max_int, int max_frac, tp_dec_t *out,
                 const char **why)
{
    dec_text_t t;
    __int128 coef = 0;
    const char *reason;

    if (scan_decimal(s, len, &t, &reason) == 0)
        reason = check_limits(&t, max_int, max_frac);
    if (reason == NULL && (accumulate(t.int_digits, t.n_int, &coef) < 0 ||
                           (t.n_frac > 0 && accumulate(t.frac_digits, t.n_frac, &coef) < 0)))
        reason = "number too large";
    if (reason != NULL) {
        *why = reason;
        return -1;
    }
    out->coef = t.neg ? -coef : coef;
    out->scale = (int32_t)t.n_frac;
    return 0;
}

int tp_dec_from_str(const char *s, tp_dec_t *out)
{
    const char *why;

    return tp_dec_parse(s, strlen(s), DEC_TRUSTED_MAX_INT, TP_DEC_MAX_SCALE, out, &why);
}

tp_dec_t tp_dec_from_int(int64_t v)
{
    tp_dec_t d = {.coef = v, .scale = 0};

    return d;
}

/* Writes the decimal digits of mag into buf (at least 40 bytes), returns their count. */
static int u128_digits(unsigned __int128 mag, char *buf)
{
    char rev[40];
    int n = 0;

    do {
        rev[n++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    for (int i = 0; i < n; i++)
        buf[i] = rev[n - 1 - i];
    return n;
}

void tp_dec_format(const tp_dec_t *d, char *buf, size_t buflen)
{
    tp_dec_t v = *d;
    char digits[40], text[TP_DEC_STR_MAX];
    size_t p = 0;

    if (buflen == 0)
        return;
    tp_dec_normalize(&v);
    unsigned __int128 mag = v.coef < 0 ? -(unsigned __int128)v.coef : (unsigned __int128)v.coef;
    int n = u128_digits(mag, digits);
    if (v.coef < 0)
        text[p++] = '-';
    if (n <= v.scale) {
        text[p++] = '0';
        text[p++] = '.';
        for (int i = n; i < v.scale; i++)
            text[p++] = '0';
        memcpy(text + p, digits, (size_t)n);
        p += (size_t)n;
    } else {
        memcpy(text + p, digits, (size_t)(n - v.scale));
        p += (size_t)(n - v.scale);
        if (v.scale > 0) {
            text[p++] = '.';
            memcpy(text + p, digits + n - v.scale, (size_t)v.scale);
            p += (size_t)v.scale;
        }
    }
    if (p >= buflen)
        p = buflen - 1;
    memcpy(buf, text, p);
    buf[p] = '\0';
}

/* d * 10^k with the scale raised by k (same value); -1 on overflow or scale limit. */
static int rescale_up(const tp_dec_t *d, int k, tp_dec_t *out)
{
    __int128 c;

    if (d->scale + k > TP_DEC_MAX_SCALE || __builtin_mul_overflow(d->coef, pow10_i128(k), &c))
        return -1;
    out->coef = c;
    out->scale = d->scale + k;
    return 0;
}

/* Brings a and b to the same (the larger) scale. */
static int align(const tp_dec_t *a, const tp_dec_t *b, tp_dec_t *a2, tp_dec_t *b2)
{
    *a2 = *a;
    *b2 = *b;
    if (a->scale < b->scale)
        return rescale_up(a, b->scale - a->scale, a2);
    if (b->scale < a->scale)
        return rescale_up(b, a->scale - b->scale, b2);
    return 0;
}

static int add_exact(const tp_dec_t *a, const tp_dec_t *b, bool negate_b, tp_dec_t *out)
{
    tp_dec_t x, y;
    __int128 r;

    if (align(a, b, &x, &y) < 0)
        return -1;
    if (negate_b ? __builtin_sub_overflow(x.coef, y.coef, &r)
                 : __builtin_add_overflow(x.coef, y.coef, &r))
        return -1;
    out->coef = r;
    out->scale = x.scale;
    return 0;
}

/* Tries the operands as given, then with trailing zeros removed (which may avoid overflow). */
static int add_or_sub(const tp_dec_t *a, const tp_dec_t *b, bool negate_b, tp_dec_t *out)
{
    tp_dec_t na = *a, nb = *b;

    if (add_exact(a, b, negate_b, out) == 0)
        return 0;
    tp_dec_normalize(&na);
    tp_dec_normalize(&nb);
    return add_exact(&na, &nb, negate_b, out);
}

int tp_dec_add(const tp_dec_t *a, const tp_dec_t *b, tp_dec_t *out)
{
    return add_or_sub(a, b, false, out);
}

int tp_dec_sub(const tp_dec_t *a, const tp_dec_t *b, tp_dec_t *out)
{
    return add_or_sub(a, b, true, out);
}

int tp_dec_mul(const tp_dec_t *a, const tp_dec_t *b, tp_dec_t *out)
{
    tp_dec_t na = *a, nb = *b, r;

    /* Trailing zeros carry no value; dropping them first keeps the product small. */
    tp_dec_normalize(&na);
    tp_dec_normalize(&nb);
    if (__builtin_mul_overflow(na.coef, nb.coef, &r.coef))
        return -1;
    r.scale = na.scale + nb.scale;
    if (r.scale > TP_DEC_MAX_SCALE)
        tp_dec_normalize(&r);
    if (r.scale > TP_DEC_MAX_SCALE)
        return -1; /* the exact result needs more fraction digits than we may carry */
    *out = r;
    return 0;
}

int tp_dec_sign(const tp_dec_t *d)
{
    return d->coef > 0 ? 1 : (d->coef < 0 ? -1 : 0);
}

int tp_dec_cmp(const tp_dec_t *a, const tp_dec_t *b)
{
    int sa = tp_dec_sign(a), sb = tp_dec_sign(b);
    tp_dec_t x, y;

    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    if (align(a, b, &x, &y) < 0) {
        /* The lower-scale operand overflowed when scaled up, so its magnitude is larger. */
        int a_bigger = a->scale < b->scale;
        return (a_bigger ? 1 : -1) * sa;
    }
    return x.coef < y.coef ? -1 : (x.coef > y.coef ? 1 : 0);
}

bool tp_dec_is_integer(const tp_dec_t *d)
{
    return d->scale == 0 || d->coef % pow10_i128(d->scale) == 0;
}

void tp_dec_normalize(tp_dec_t *d)
{
    if (d->coef == 0) {
        d->scale = 0;
        return;
    }
    while (d->scale > 0 && d->coef % 10 == 0) {
        d->coef /= 10;
        d->scale--;
    }
}
