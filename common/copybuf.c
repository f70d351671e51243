/* PostgreSQL COPY BINARY encoding: network byte order, -1 length for NULL, numeric in base 10000.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "tp_copybuf.h"
#include "tp_mem.h"

static __attribute__((noinline)) void cb_grow(tp_copybuf_t *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

/* Inlined, so that the fixed-size puts of integers are plain stores. */
static inline void cb_put(tp_copybuf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap)
        cb_grow(b, n);
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

/* PostgreSQL's binary numeric: base-10000 digits, weight of the first, sign, display scale.
 * Computed from the coefficient directly (formatting it as text first was a third of the
 * COPY encoding's instructions). */
void tp_copybuf_numeric(tp_copybuf_t *b, const tp_dec_t *d)
{
    tp_dec_t v = *d;
    tp_dec_normalize(&v);
    int neg = v.coef < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)v.coef : (unsigned __int128)v.coef;
    int scale = v.scale > 0 ? v.scale : 0;
    /* the decimal point on a group boundary: pad the fraction to a multiple of 4 digits */
    for (int i = 0; i < (4 - scale % 4) % 4; i++)
        u *= 10;
    int fgroups = (scale + 3) / 4;
    uint16_t groups[TP_DEC_STR_MAX]; /* least significant first */
    int n = 0;
    while (u != 0 && n < (int)(sizeof(groups) / sizeof(groups[0]))) {
        groups[n++] = (uint16_t)(u % 10000);
        u /= 10000;
    }
    int low = 0; /* trailing zero groups are not written */
    while (low < n && groups[low] == 0)
        low++;
    int nd = n - low;
    int16_t weight = (int16_t)(nd ? n - 1 - fgroups : 0);
    cb_u32(b, (uint32_t)(8 + 2 * nd));
    cb_u16(b, (uint16_t)nd);
    cb_u16(b, (uint16_t)weight);
    cb_u16(b, (uint16_t)(neg && nd ? 0x4000 : 0x0000));
    cb_u16(b, (uint16_t)scale);
    for (int g = n - 1; g >= low; g--)
        cb_u16(b, groups[g]);
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
