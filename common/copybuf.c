/* PostgreSQL COPY BINARY encoding: network byte order, -1 length for NULL, numeric in base 10000.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "tp_copybuf.h"
#include "tp_mem.h"

static void cb_reserve(tp_copybuf_t *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static void cb_put(tp_copybuf_t *b, const void *p, size_t n)
{
    cb_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void cb_u16(tp_copybuf_t *b, uint16_t v)
{
    v = htons(v);
    cb_put(b, &v, 2);
}

static void cb_u32(tp_copybuf_t *b, uint32_t v)
{
    v = htonl(v);
    cb_put(b, &v, 4);
}

static void cb_u64(tp_copybuf_t *b, uint64_t v)
{
    v = htobe64(v);
    cb_put(b, &v, 8);
}

void tp_copybuf_reset(tp_copybuf_t *b)
{
    static const char sig[11] = "PGCOPY\n\377\r\n\0";
    b->len = 0;
    b->rows = 0;
    cb_put(b, sig, 11);
    cb_u32(b, 0); /* flags */
    cb_u32(b, 0); /* header extension length */
}

void tp_copybuf_free(tp_copybuf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void tp_copybuf_row(tp_copybuf_t *b, int16_t nfields)
{
    cb_u16(b, (uint16_t)nfields);
    b->rows++;
}

void tp_copybuf_null(tp_copybuf_t *b)
{
    cb_u32(b, 0xffffffffu);
}

void tp_copybuf_text(tp_copybuf_t *b, const char *s)
{
    size_t n = strlen(s);
    cb_u32(b, (uint32_t)n);
    cb_put(b, s, n);
}

void tp_copybuf_int2(tp_copybuf_t *b, int16_t v)
{
    cb_u32(b, 2);
    cb_u16(b, (uint16_t)v);
}

void tp_copybuf_int4(tp_copybuf_t *b, int32_t v)
{
    cb_u32(b, 4);
    cb_u32(b, (uint32_t)v);
}

void tp_copybuf_int8(tp_copybuf_t *b, int64_t v)
{
    cb_u32(b, 8);
    cb_u64(b, (uint64_t)v);
}

/* PostgreSQL's binary numeric: base-10000 digits, weight of the first, sign, display scale. */
void tp_copybuf_numeric(tp_copybuf_t *b, const tp_dec_t *d)
{
    char txt[TP_DEC_STR_MAX];
    tp_dec_t v = *d;
    tp_dec_normalize(&v);
    tp_dec_format(&v, txt, sizeof(txt));
    const char *p = txt;
    int neg = (*p == '-');
    if (neg)
        p++;
    const char *dot = strchr(p, '.');
    size_t ilen = dot ? (size_t)(dot - p) : strlen(p);
    const char *frac = dot ? dot + 1 : "";
    size_t flen = strlen(frac);
    /* integer digits padded on the left, fraction digits on the right, to groups of 4 */
    char digits[2 * TP_DEC_STR_MAX];
    size_t ipad = (4 - ilen % 4) % 4, fpad = (4 - flen % 4) % 4, n = 0;
    memset(digits, '0', ipad);
    n = ipad;
    memcpy(digits + n, p, ilen);
    n += ilen;
    memcpy(digits + n, frac, flen);
    n += flen;
    memset(digits + n, '0', fpad);
    n += fpad;
    int ngroups = (int)(n / 4), igroups = (int)((ipad + ilen) / 4);
    int16_t groups[TP_DEC_STR_MAX];
    for (int g = 0; g < ngroups; g++)
        groups[g] = (int16_t)((digits[4 * g] - '0') * 1000 + (digits[4 * g + 1] - '0') * 100 +
                              (digits[4 * g + 2] - '0') * 10 + (digits[4 * g + 3] - '0'));
    int first = 0, last = ngroups - 1;
    while (first <= last && groups[first] == 0)
        first++;
    while (last >= first && groups[last] == 0)
        last--;
    int nd = last >= first ? last - first + 1 : 0;
    int16_t weight = (int16_t)(nd ? igroups - 1 - first : 0);
    cb_u32(b, (uint32_t)(8 + 2 * nd));
    cb_u16(b, (uint16_t)nd);
    cb_u16(b, (uint16_t)weight);
    cb_u16(b, (uint16_t)(neg && nd ? 0x4000 : 0x0000));
    cb_u16(b, (uint16_t)v.scale);
    for (int g = first; g <= last; g++)
        cb_u16(b, (uint16_t)groups[g]);
}

#define TP_PG_EPOCH_DAYS 10957L /* 1970-01-01 to 2000-01-01 */

void tp_copybuf_date(tp_copybuf_t *b, long days_since_1970)
{
    tp_copybuf_int4(b, (int32_t)(days_since_1970 - TP_PG_EPOCH_DAYS));
}

void tp_copybuf_timestamptz(tp_copybuf_t *b, int64_t usec_since_1970)
{
    tp_copybuf_int8(b, usec_since_1970 - (int64_t)TP_PG_EPOCH_DAYS * 86400 * 1000000);
}

void tp_copybuf_finish(tp_copybuf_t *b)
{
    cb_u16(b, 0xffff);
}
