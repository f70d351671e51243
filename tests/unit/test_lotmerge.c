/* Unit tests for merging the workers' partial aggregates into a round's lot rows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_lotmerge.h"
#include "tp_pool.h"

typedef struct buf {
    char *p;
    size_t len;
} buf_t;

static void put(buf_t *b, const void *s, size_t n)
{
    b->p = realloc(b->p, b->len + n);
    cr_assert_not_null(b->p);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_u32(buf_t *b, size_t n)
{
    uint32_t v = (uint32_t)n;
    put(b, &v, 4);
}

static int pack_into(const tp_pool_agg_t *a, void *ctx)
{
    char *out;
    size_t n;
    cr_assert_eq(tp_pool_agg_pack(a, &out, &n), 0);
    put_u32(ctx, n);
    put(ctx, out, n);
    free(out);
    return 0;
}

/* A worker's READY tail, framed as documented in tp_ipc.h, appended to the COMMIT tail. */
static void add_worker(buf_t *commit, tp_pool_t *p, const char *round)
{
    buf_t part = {0};
    cr_assert_eq(tp_pool_foreach(p, round, pack_into, &part), 0);
    put_u32(commit, part.len);
    if (part.len)
        put(commit, part.p, part.len);
    free(part.p);
}

static void add(tp_pool_t *p, const char *round, const char *item, const char *unit,
                const char *qty, const char *member, const char *price, int need_by)
{
    tp_pool_line_t l;
    memset(&l, 0, sizeof(l));
    l.unit = tp_unit_find(unit);
    cr_assert_eq(tp_pool_key_build(&l.key, round, "33141420", item, l.unit, "FR-75", "EUR"), 0);
    l.member_id = member;
    cr_assert_eq(tp_dec_from_str(qty, &l.quantity), 0);
    cr_assert_eq(tp_unit_to_base(l.unit, &l.quantity, &l.base_quantity), 0);
    l.has_max_price = price != NULL;
    if (price)
        cr_assert_eq(tp_dec_from_str(price, &l.max_unit_price), 0);
    l.need_by = need_by;
    cr_assert_eq(tp_pool_add(p, &l), 0);
}

Test(lotmerge, partials_of_two_workers_merge_exactly)
{
    tp_pool_t *w0 = tp_pool_new(), *w1 = tp_pool_new();
    /* gloves: acme on both workers (two refs), bolt on w1, cmet on w0: 3 distinct members */
    add(w0, "R", "gloves", "H87", "100", "acme", "0.5", 20400);
    add(w0, "R", "gloves", "DZN", "2", "cmet", NULL, 20410);
    add(w1, "R", "gloves", "C62", "50", "acme", "0.25", 20405);
    add(w1, "R", "gloves", "H87", "10", "bolt", NULL, 20390);
    /* nitrogen: acme and bolt only, below the threshold */
    add(w0, "R", "n2", "TNE", "2", "acme", NULL, 20400);
    add(w1, "R", "n2", "GRM", "1500000", "bolt", NULL, 20400);
    add(w1, "S", "other-round", "KGM", "1", "zed", NULL, 20400); /* not in this close */

    buf_t commit = {0};
    add_worker(&commit, w0, "R");
    add_worker(&commit, w1, "R");
    char *rows, err[256];
    size_t len;
    int lots, viable;
    cr_assert_eq(
        tp_lots_merge(commit.p, commit.len, "R", 3, &rows, &len, &lots, &viable, err, sizeof(err)),
        0, "%s", err);
    cr_expect_eq(lots, 2);
    cr_expect_eq(viable, 1);

    tp_pool_key_t k;
    char gid[TP_POOL_LOT_ID_MAX], nid[TP_POOL_LOT_ID_MAX], want[1024];
    cr_assert_eq(
        tp_pool_key_build(&k, "R", "33141420", "gloves", tp_unit_find("H87"), "FR-75", "EUR"), 0);
    cr_assert_eq(tp_pool_lot_id(&k, gid, sizeof(gid)), 0);
    cr_assert_eq(tp_pool_key_build(&k, "R", "33141420", "n2", tp_unit_find("KGM"), "FR-75", "EUR"),
                 0);
    cr_assert_eq(tp_pool_lot_id(&k, nid, sizeof(nid)), 0);
    /* 2026-01-01 is day 20454; 20390 = 2025-10-29, 20410 = 2025-11-18, 20400 = 2025-11-08 */
    char g[512], n[512];
    snprintf(g, sizeof(g),
             "%s\tR\t33141420\tgloves\tcount\tC62\tFR-75\tEUR\t184\t3\t4\t2025-10-29\t2025-11-18"
             "\t62.5\tviable\n",
             gid);
    snprintf(n, sizeof(n),
             "%s\tR\t33141420\tn2\tmass\tKGM\tFR-75\tEUR\t3500\t2\t2\t2025-11-08\t2025-11-08"
             "\t\\N\tbelow_threshold\n",
             nid);
    snprintf(want, sizeof(want), "%s%s", strcmp(gid, nid) < 0 ? g : n,
             strcmp(gid, nid) < 0 ? n : g);
    cr_assert_eq(len, strlen(want));
    cr_expect(memcmp(rows, want, len) == 0, "rows:\n%.*s\nwant:\n%s", (int)len, rows, want);
    free(rows);
    free(commit.p);
    tp_pool_destroy(&w0);
    tp_pool_destroy(&w1);
}

Test(lotmerge, malformed_or_foreign_parts_are_refused)
{
    tp_pool_t *w0 = tp_pool_new();
    add(w0, "S", "gloves", "H87", "1", "acme", NULL, 1);
    buf_t commit = {0};
    add_worker(&commit, w0, "S");
    char *rows, err[256];
    size_t len;
    int lots, viable;
    cr_expect_eq(
        tp_lots_merge(commit.p, commit.len, "R", 3, &rows, &len, &lots, &viable, err, sizeof(err)),
        -1, "a lot of another round");
    cr_expect(strstr(err, "round S") != NULL, "%s", err);
    cr_expect_eq(tp_lots_merge(commit.p, commit.len - 3, "S", 3, &rows, &len, &lots, &viable, err,
                               sizeof(err)),
                 -1, "truncated");
    commit.p[12] ^= 0x40; /* inside the packed bytes */
    cr_expect_eq(
        tp_lots_merge(commit.p, commit.len, "S", 3, &rows, &len, &lots, &viable, err, sizeof(err)),
        -1, "corrupted");
    cr_expect(strstr(err, "malformed") != NULL, "%s", err);
    cr_expect_eq(tp_lots_merge("", 0, "S", 3, &rows, &len, &lots, &viable, err, sizeof(err)), 0,
                 "no worker part: no lots");
    cr_expect_eq(lots, 0);
    free(rows);
    free(commit.p);
    tp_pool_destroy(&w0);
}

Test(lotmerge, two_keys_with_one_lot_id_are_refused)
{
    tp_pool_t *w0 = tp_pool_new(), *w1 = tp_pool_new();
    /* item keys whose lot ids collide (see test_pool.c) */
    add(w0, "R", "c14540578", "KGM", "1", "m", NULL, 1);
    add(w1, "R", "c17997167", "KGM", "1", "m", NULL, 1);
    buf_t commit = {0};
    add_worker(&commit, w0, "R");
    add_worker(&commit, w1, "R");
    char *rows, err[256];
    size_t len;
    int lots, viable;
    cr_expect_eq(
        tp_lots_merge(commit.p, commit.len, "R", 1, &rows, &len, &lots, &viable, err, sizeof(err)),
        -1);
    cr_expect(strstr(err, "share this id") != NULL, "%s", err);
    free(commit.p);
    tp_pool_destroy(&w0);
    tp_pool_destroy(&w1);
}
