/* Bench request generator and COPY BINARY encoder for tenderpool.revision rows; no I/O here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_bench.h"
#include "tp_civil.h"
#include "tp_log.h"
#include "tp_decimal.h"
#include "tp_mem.h"
#include "tp_unit.h"

const char tp_bench_copy_sql[] =
    "COPY tenderpool.revision (member_id, request_ref, revision, op, server_seq, round_id, "
    "accepted_at, content_hash, cpv, item_key, description, quantity, unit, base_quantity, "
    "need_by, delivery_zone, currency, max_unit_price, cancel_reason) FROM STDIN (FORMAT binary)";

const char tp_bench_insert_sql[] =
    "INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, server_seq, round_id, "
    "accepted_at, content_hash, cpv, item_key, description, quantity, unit, base_quantity, "
    "need_by, delivery_zone, currency, max_unit_price, cancel_reason) VALUES ($1, $2, 1, 1, $3, "
    "$4, now(), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL)";

/* Realistic catalogue lines: CPV 2008 code, description, unit. */
typedef struct bench_item {
    const char *cpv, *description, *unit;
} bench_item_t;

static const bench_item_t bench_items[] = {
    {"30197643", "A4 copy paper 80 g/m2, ream of 500 sheets", "H87"},
    {"09134200", "Diesel fuel B7", "LTR"},
    {"09135100", "Heating oil", "MTQ"},
    {"24111500", "Industrial nitrogen, compressed", "KGM"},
    {"44111000", "Ready-mix concrete C25/30", "TNE"},
    {"39830000", "Floor cleaning concentrate, 5 L can", "LTR"},
    {"33141110", "Sterile gauze dressing 10x10 cm", "H87"},
    {"15981000", "Still mineral water, 1.5 L bottle", "H87"},
    {"44163100", "Steel tube 40x40x2 mm", "MTR"},
    {"09310000", "Electricity, green supply", "KWH"},
    {"30192700", "Office stationery assortment", "H87"},
    {"24430000", "Industrial adhesive, epoxy", "KGM"},
};
#define BENCH_NITEMS (sizeof(bench_items) / sizeof(bench_items[0]))

static const char *const bench_zones[] = {"FRK24", "FRK26", "FRE11", "FRI12",
                                          "FRJ23", "FRL04", "FR101", "FRG01"};

/* A cheap deterministic mix so that fields vary without a random generator's state. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* field separator */
}

static void fill_quantity(tp_bench_req_t *r, uint64_t h)
{
    long whole = 1 + (long)(h % 480);
    if (strcmp(r->unit, "H87") == 0)
        snprintf(r->quantity, sizeof(r->quantity), "%ld", whole * 10);
    else
        snprintf(r->quantity, sizeof(r->quantity), "%ld.%ld", whole, (long)((h >> 9) % 10));
    if ((h >> 20) & 1)
        snprintf(r->max_unit_price, sizeof(r->max_unit_price), "%ld.%02ld",
                 (long)((h >> 21) % 90 + 1), (long)((h >> 28) % 100));
    else
        r->max_unit_price[0] = '\0';
}

void tp_bench_req_fill(tp_bench_req_t *r, const tp_bench_opts_t *o, char phase, long member,
                       long seq)
{
    uint64_t h = mix64(((uint64_t)member << 40) ^ (uint64_t)seq ^ ((uint64_t)phase << 56));
    const bench_item_t *it = &bench_items[h % BENCH_NITEMS];
    snprintf(r->member_id, sizeof(r->member_id), "bench-m%03ld", member);
    snprintf(r->request_ref, sizeof(r->request_ref), "%s.%c.%ld.%ld", o->tag, phase, member, seq);
    if (phase == 'c') {
        /* round-close data set: exactly close_lots consolidation keys, key = seq mod close_lots
         * (members send contiguous seq ranges, so every key gets several members) */
        long k = seq % o->close_lots;
        it = &bench_items[k % BENCH_NITEMS];
        snprintf(r->item_key, sizeof(r->item_key), "377%010ld", k);
        r->zone = bench_zones[(k / (long)BENCH_NITEMS) % 8];
    } else {
        /* ~200 item keys per catalogue line: requests of different members pool together */
        snprintf(r->item_key, sizeof(r->item_key), "376%010llu",
                 (unsigned long long)((h >> 8) % 200 + 1000 * (h % BENCH_NITEMS)));
        r->zone = bench_zones[(h >> 40) % 8];
    }
    r->cpv = it->cpv;
    r->description = it->description;
    r->unit = it->unit;
    r->currency = "EUR";
    fill_quantity(r, h);
    r->need_by_days = tp_bench_wall_us() / 86400000000LL + 30 + (long)((h >> 44) % 300);
    int y, m, d;
    tp_civil_from_days(r->need_by_days, &y, &m, &d);
    snprintf(r->need_by, sizeof(r->need_by), "%04d-%02d-%02d", y, m, d);
}

static int base_quantity(const tp_bench_req_t *r, char *out, size_t outlen)
{
    const tp_unit_t *u = tp_unit_find(r->unit);
    tp_dec_t q, b;
    if (u == NULL || tp_dec_from_str(r->quantity, &q) < 0 || tp_unit_to_base(u, &q, &b) < 0)
        return -1;
    tp_dec_format(&b, out, outlen);
    return 0;
}

int tp_bench_row_fill(tp_bench_row_t *row, const tp_bench_opts_t *o, char phase, long member,
                      long seq, int64_t now_us)
{
    tp_bench_req_t *r = &row->req;
    tp_bench_req_fill(r, o, phase, member, seq);
    row->server_seq = ((int64_t)member << 40) + seq; /* unique, like the daemon's blocks */
    row->accepted_us = now_us;
    const char *f[] = {r->member_id,   r->request_ref, r->cpv,           r->item_key,
                       r->description, r->quantity,    r->unit,          r->need_by,
                       r->zone,        r->currency,    r->max_unit_price};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        h = fnv1a(h, f[i]);
    row->content_hash = (int64_t)h;
    return base_quantity(r, row->base_quantity, sizeof(row->base_quantity));
}

/* ---- COPY BINARY (common/copybuf.c, the encoder the workers use) ---- */

/* Decimal text generated by this file: always valid. */
static void put_numeric(tp_bench_buf_t *b, const char *s)
{
    tp_dec_t d;
    if (tp_dec_from_str(s, &d) < 0)
        tp_fatal("bench generated an invalid decimal '%s'", s);
    tp_copybuf_numeric(b, &d);
}

void tp_bench_copy_begin(tp_bench_buf_t *b)
{
    tp_copybuf_reset(b);
}

void tp_bench_copy_row(tp_bench_buf_t *b, const tp_bench_row_t *row, const char *round_id)
{
    const tp_bench_req_t *r = &row->req;
    tp_copybuf_row(b, 19);
    tp_copybuf_text(b, r->member_id);
    tp_copybuf_text(b, r->request_ref);
    tp_copybuf_int4(b, 1); /* revision */
    tp_copybuf_int2(b, 1); /* op: submit */
    tp_copybuf_int8(b, (int64_t)row->server_seq);
    tp_copybuf_text(b, round_id);
    tp_copybuf_timestamptz(b, row->accepted_us);
    tp_copybuf_int8(b, row->content_hash);
    tp_copybuf_text(b, r->cpv);
    tp_copybuf_text(b, r->item_key);
    tp_copybuf_text(b, r->description);
    put_numeric(b, r->quantity);
    tp_copybuf_text(b, r->unit);
    put_numeric(b, row->base_quantity);
    tp_copybuf_date(b, r->need_by_days);
    tp_copybuf_text(b, r->zone);
    tp_copybuf_text(b, r->currency);
    if (r->max_unit_price[0])
        put_numeric(b, r->max_unit_price);
    else
        tp_copybuf_null(b);
    tp_copybuf_null(b); /* cancel_reason */
}

void tp_bench_copy_end(tp_bench_buf_t *b)
{
    tp_copybuf_finish(b);
}

void tp_bench_buf_free(tp_bench_buf_t *b)
{
    tp_copybuf_free(b);
}
