/* Unit tests for lot aggregation: keys, lot ids, exact totals, amend/cancel, merge, packing. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_pool.h"

/* A line in the given unit; price NULL for none. Strings are borrowed (use literals). */
static tp_pool_line_t mkline(const char *round, const char *item, const char *unit, const char *qty,
                             const char *member, const char *price, int need_by)
{
    tp_pool_line_t l;
    memset(&l, 0, sizeof(l));
    l.unit = tp_unit_find(unit);
    cr_assert_not_null(l.unit, "unit %s", unit);
    cr_assert_eq(tp_pool_key_build(&l.key, round, "33141420", item, l.unit, "FR-75", "EUR"), 0);
    l.member_id = member;
    cr_assert_eq(tp_dec_from_str(qty, &l.quantity), 0);
    cr_assert_eq(tp_unit_to_base(l.unit, &l.quantity, &l.base_quantity), 0);
    if (price) {
        l.has_max_price = true;
        cr_assert_eq(tp_dec_from_str(price, &l.max_unit_price), 0);
    }
    l.need_by = need_by;
    return l;
}

static void add(tp_pool_t *p, const tp_pool_line_t *l)
{
    cr_assert_eq(tp_pool_add(p, l), 0, "add %s", l->member_id);
}

static void del(tp_pool_t *p, const tp_pool_line_t *l)
{
    cr_assert_eq(tp_pool_remove(p, l), 0, "remove %s", l->member_id);
}

static const char *fmt(const tp_dec_t *d)
{
    static char buf[4][TP_DEC_STR_MAX];
    static int k;
    k = (k + 1) % 4;
    tp_dec_format(d, buf[k], sizeof(buf[k]));
    return buf[k];
}

static const tp_pool_agg_t *agg_of(tp_pool_t *p, const tp_pool_line_t *l)
{
    return tp_pool_find(p, &l->key);
}

static uint64_t hash_of(const char *round, const char *cpv, const char *item, const char *unit,
                        const char *zone, const char *cur)
{
    tp_pool_key_t k;
    cr_assert_eq(tp_pool_key_build(&k, round, cpv, item, tp_unit_find(unit), zone, cur), 0);
    return tp_pool_key_hash(&k);
}

Test(pool, key_pools_convertible_units)
{
    uint64_t h87 = hash_of("R", "33141420", "gloves", "H87", "FR-75", "EUR");
    cr_expect_eq(hash_of("R", "33141420", "gloves", "DZN", "FR-75", "EUR"), h87);
    cr_expect_eq(hash_of("R", "33141420-0", "gloves", "EA", "FR-75", "EUR"), h87,
                 "check digit stripped, EA counts as C62");
    uint64_t tne = hash_of("R", "24111500", "n2", "TNE", "FR-75", "EUR");
    cr_expect_eq(hash_of("R", "24111500", "n2", "KGM", "FR-75", "EUR"), tne);
    cr_expect_eq(hash_of("R", "24111500", "n2", "GRM", "FR-75", "EUR"), tne);
    cr_expect_neq(hash_of("R", "24111500", "n2", "LTR", "FR-75", "EUR"), tne, "volume != mass");

    tp_pool_key_t bx;
    cr_assert_eq(
        tp_pool_key_build(&bx, "R", "33141420", "gloves", tp_unit_find("BX"), "FR-75", "EUR"), 0);
    cr_expect_str_eq(bx.dimension, "package");
    cr_expect_str_eq(bx.base_unit, "BX");
    cr_expect_neq(tp_pool_key_hash(&bx), h87, "BX pools only with BX");
    cr_expect_neq(hash_of("R", "33141420", "gloves", "PK", "FR-75", "EUR"), tp_pool_key_hash(&bx));

    cr_expect_neq(hash_of("R", "33141420", "gloves", "H87", "FR-13", "EUR"), h87, "zone");
    cr_expect_neq(hash_of("R", "33141420", "gloves", "H87", "FR-75", "CHF"), h87, "currency");
    cr_expect_neq(hash_of("R2", "33141420", "gloves", "H87", "FR-75", "EUR"), h87, "round");
    cr_expect_neq(hash_of("R", "33141420", "gloves-xl", "H87", "FR-75", "EUR"), h87, "item");
    cr_expect_neq(hash_of("R", "33141421", "gloves", "H87", "FR-75", "EUR"), h87, "cpv");
}

Test(pool, key_build_rejects_bad_fields)
{
    tp_pool_key_t k;
    const tp_unit_t *u = tp_unit_find("KGM");
    cr_expect_eq(tp_pool_key_build(&k, "R", "3314142", "x", u, "Z", "EUR"), -1, "7 digits");
    cr_expect_eq(tp_pool_key_build(&k, "R", "3314142a", "x", u, "Z", "EUR"), -1);
    cr_expect_eq(tp_pool_key_build(&k, "R", "331414201", "x", u, "Z", "EUR"), -1, "9 digits");
    cr_expect_eq(tp_pool_key_build(&k, "R", "33141420",
                                   "a\x1f"
                                   "b",
                                   u, "Z", "EUR"),
                 -1, "separator byte");
    cr_expect_eq(tp_pool_key_build(&k, "R", "33141420", "", u, "Z", "EUR"), -1);
    cr_expect_eq(tp_pool_key_build(&k, NULL, "33141420", "x", u, "Z", "EUR"), -1);
    cr_expect_eq(tp_pool_key_build(&k, "R", "33141420", "x", NULL, "Z", "EUR"), -1);
    cr_expect_eq(tp_pool_key_build(&k, "R", "33141420", "x", u, "Z", "EUR"), 0);
}

Test(pool, lot_id_is_the_sql_one)
{
    tp_pool_key_t k;
    char id[TP_POOL_LOT_ID_MAX], again[TP_POOL_LOT_ID_MAX];
    char round_copy[] = "2026-W48", item_copy[] = "gloves";

    cr_assert_eq(tp_pool_key_build(&k, "2026-W48", "33141420", "gloves", tp_unit_find("DZN"),
                                   "FR-75", "EUR"),
                 0);
    /* md5('33141420' || chr(31) || 'gloves' || chr(31) || 'count' || chr(31) || 'C62' ||
     * chr(31) || 'FR-75' || chr(31) || 'EUR'), first 12 digits: PostgreSQL and Python agree */
    cr_assert_eq(tp_pool_lot_id(&k, id, sizeof(id)), 0);
    cr_expect_str_eq(id, "2026-W48-8878d3066c55");

    k.round_id = round_copy; /* other buffers, same text: same id */
    k.item_key = item_copy;
    cr_assert_eq(tp_pool_lot_id(&k, again, sizeof(again)), 0);
    cr_expect_str_eq(again, id);
    k.item_key = "gloves-xl";
    cr_assert_eq(tp_pool_lot_id(&k, again, sizeof(again)), 0);
    cr_expect_str_neq(again, id);
    k.round_id = "2026-W49";
    k.item_key = "gloves";
    cr_assert_eq(tp_pool_lot_id(&k, again, sizeof(again)), 0);
    cr_expect_str_eq(again, "2026-W49-8878d3066c55", "the round prefixes the same key hash");
    cr_expect_eq(tp_pool_lot_id(&k, again, 10), -1, "buffer too small");
}

Test(pool, lot_id_of_aggregate_matches_key)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t l = mkline("2026-W48", "gloves", "H87", "10", "acme", NULL, 100);
    char a[TP_POOL_LOT_ID_MAX], b[TP_POOL_LOT_ID_MAX];
    add(p, &l);
    cr_assert_eq(tp_pool_agg_lot_id(agg_of(p, &l), a, sizeof(a)), 0);
    cr_assert_eq(tp_pool_lot_id(&l.key, b, sizeof(b)), 0);
    cr_expect_str_eq(a, b);
    tp_pool_destroy(&p);
}

Test(pool, exact_totals_in_base_units)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t m[] = {mkline("R", "n2", "TNE", "2", "a", NULL, 1),
                          mkline("R", "n2", "KGM", "500", "b", NULL, 1),
                          mkline("R", "n2", "GRM", "1500000", "c", NULL, 1)};
    tp_pool_line_t c[] = {mkline("R", "gloves", "H87", "1200", "a", NULL, 1),
                          mkline("R", "gloves", "DZN", "50", "b", NULL, 1),
                          mkline("R", "gloves", "H87", "300", "c", NULL, 1)};
    for (int i = 0; i < 3; i++) {
        add(p, &m[i]);
        add(p, &c[i]);
    }
    cr_expect_eq(tp_pool_count(p), 2);
    const tp_pool_agg_t *mass = agg_of(p, &m[0]), *count = agg_of(p, &c[0]);
    cr_assert_not_null(mass);
    cr_assert_not_null(count);
    cr_expect_str_eq(fmt(&mass->total), "4000");
    cr_expect_str_eq(mass->key.base_unit, "KGM");
    cr_expect_str_eq(fmt(&count->total), "2100");
    cr_expect_str_eq(count->key.base_unit, "C62");
    cr_expect_eq(count->requests, 3);
    tp_pool_destroy(&p);
    cr_expect_null(p);
    tp_pool_destroy(&p); /* accepts NULL */
}

Test(pool, distinct_members_count_once)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t a1 = mkline("R", "x", "KGM", "1", "acme", NULL, 1);
    tp_pool_line_t a2 = mkline("R", "x", "KGM", "2", "acme", NULL, 1);
    tp_pool_line_t b1 = mkline("R", "x", "KGM", "4", "bolt", NULL, 1);
    add(p, &a1);
    add(p, &a2);
    add(p, &b1);
    const tp_pool_agg_t *g = agg_of(p, &a1);
    cr_expect_eq(g->nmembers, 2);
    cr_expect_eq(g->requests, 3);
    cr_expect_str_eq(g->members[0].id, "acme");
    cr_expect_eq(g->members[0].lines, 2);
    del(p, &a1);
    cr_expect_eq(agg_of(p, &a1)->nmembers, 2, "acme still has a line");
    cr_expect_str_eq(fmt(&agg_of(p, &a1)->total), "6");
    tp_pool_destroy(&p);
}

Test(pool, amend_moves_a_line_between_lots)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t l1 = mkline("R", "old", "KGM", "10", "acme", NULL, 1);
    tp_pool_line_t l2 = mkline("R", "old", "KGM", "5", "acme", NULL, 1);
    tp_pool_line_t l3 = mkline("R", "old", "TNE", "0.007", "bolt", NULL, 1);
    tp_pool_line_t l2new = mkline("R", "new", "GRM", "5000", "acme", NULL, 1);
    tp_pool_line_t l1new = mkline("R", "new", "KGM", "10", "acme", NULL, 1);
    add(p, &l1);
    add(p, &l2);
    add(p, &l3);
    del(p, &l2); /* amend l2: remove the old revision, add the new one */
    add(p, &l2new);
    const tp_pool_agg_t *o = agg_of(p, &l1), *n = agg_of(p, &l2new);
    cr_expect_str_eq(fmt(&o->total), "17");
    cr_expect_eq(o->nmembers, 2, "acme keeps l1 in the old lot");
    cr_expect_eq(o->requests, 2);
    cr_expect_str_eq(fmt(&n->total), "5");
    cr_expect_eq(n->nmembers, 1);
    del(p, &l1);
    add(p, &l1new);
    o = agg_of(p, &l3);
    n = agg_of(p, &l2new);
    cr_expect_str_eq(fmt(&o->total), "7");
    cr_expect_eq(o->nmembers, 1, "acme left the old lot with its last line");
    cr_expect_str_eq(o->members[0].id, "bolt");
    cr_expect_str_eq(fmt(&n->total), "15");
    cr_expect_eq(n->members[0].lines, 2);
    cr_expect_eq(tp_pool_count(p), 2);
    tp_pool_destroy(&p);
}

Test(pool, cancel_and_bad_removals)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t l = mkline("R", "x", "KGM", "3", "acme", NULL, 10);
    tp_pool_line_t m = mkline("R", "x", "KGM", "4", "bolt", NULL, 10);
    add(p, &l);
    tp_pool_line_t other = l;
    other.member_id = "bolt";
    cr_expect_eq(tp_pool_remove(p, &other), -1, "member without lines");
    other = l;
    other.need_by = 11;
    cr_expect_eq(tp_pool_remove(p, &other), -1, "need_by absent");
    cr_expect_eq(tp_pool_remove(p, &m), -1, "bolt not in the lot");
    add(p, &m);
    other = l;
    cr_expect_eq(tp_dec_from_str("9", &other.base_quantity), 0);
    cr_expect_eq(tp_pool_remove(p, &other), -1, "more than the total");
    cr_expect_str_eq(fmt(&agg_of(p, &l)->total), "7", "failed removals change nothing");
    del(p, &m);
    other = l;
    cr_expect_eq(tp_dec_from_str("2", &other.base_quantity), 0);
    cr_expect_eq(tp_pool_remove(p, &other), -1, "last line must take the exact total");
    del(p, &l);
    cr_expect_eq(tp_pool_count(p), 0);
    cr_expect_null(agg_of(p, &l));
    cr_expect_eq(tp_pool_remove(p, &l), -1, "cancel twice");
    tp_pool_destroy(&p);
}

Test(pool, add_rejects_malformed_lines)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t l = mkline("R", "x", "KGM", "3", "acme", NULL, 10);
    tp_pool_line_t bad = l;
    bad.member_id = "";
    cr_expect_eq(tp_pool_add(p, &bad), -1);
    bad = l;
    bad.base_quantity = tp_dec_from_int(0);
    cr_expect_eq(tp_pool_add(p, &bad), -1);
    bad = l;
    bad.key.cpv[3] = 'x';
    cr_expect_eq(tp_pool_add(p, &bad), -1);
    cr_expect_eq(tp_pool_count(p), 0);
    tp_pool_destroy(&p);
}

Test(pool, need_by_bounds_survive_removals)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t a = mkline("R", "x", "KGM", "1", "a", NULL, 20500);
    tp_pool_line_t b = mkline("R", "x", "KGM", "1", "b", NULL, 20510);
    tp_pool_line_t c = mkline("R", "x", "KGM", "1", "c", NULL, 20520);
    tp_pool_line_t d = mkline("R", "x", "KGM", "2", "d", NULL, 20500);
    add(p, &b);
    add(p, &a);
    add(p, &c);
    add(p, &d);
    const tp_pool_agg_t *g = agg_of(p, &a);
    cr_expect_eq(tp_pool_agg_need_by_min(g), 20500);
    cr_expect_eq(tp_pool_agg_need_by_max(g), 20520);
    del(p, &a);
    cr_expect_eq(tp_pool_agg_need_by_min(g), 20500, "d still needs it by 20500");
    del(p, &d);
    cr_expect_eq(tp_pool_agg_need_by_min(g), 20510, "min recomputed after its last line left");
    del(p, &c);
    cr_expect_eq(tp_pool_agg_need_by_max(g), 20510, "max recomputed");
    tp_pool_destroy(&p);
}

Test(pool, estimated_value_exact_with_known_count)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t a = mkline("R", "n2", "KGM", "10", "a", "2.50", 1);
    tp_pool_line_t b = mkline("R", "n2", "TNE", "1", "b", "1800", 1);
    tp_pool_line_t c = mkline("R", "n2", "KGM", "7", "c", NULL, 1);
    tp_pool_line_t d = mkline("R", "n2", "GRM", "333", "d", "0.003", 1);
    add(p, &a);
    add(p, &b);
    add(p, &c);
    add(p, &d);
    const tp_pool_agg_t *g = agg_of(p, &a);
    cr_expect_str_eq(fmt(&g->value), "1825.999");
    cr_expect_eq(g->priced, 3, "value known for 3 of 4 lines");
    cr_expect_eq(g->requests, 4);
    del(p, &b);
    cr_expect_str_eq(fmt(&g->value), "25.999");
    del(p, &c);
    cr_expect_eq(g->priced, 2);
    cr_expect_eq(g->requests, 2);
    tp_pool_line_t unpriced_b = b;
    unpriced_b.has_max_price = false;
    add(p, &unpriced_b);
    cr_expect_str_eq(fmt(&g->value), "25.999", "a line without price adds nothing");
    tp_pool_destroy(&p);
}

static tp_pool_agg_t *roundtrip(const tp_pool_agg_t *a)
{
    char *buf;
    size_t len;
    cr_assert_eq(tp_pool_agg_pack(a, &buf, &len), 0);
    tp_pool_agg_t *u = tp_pool_agg_unpack(buf, len);
    free(buf);
    cr_assert_not_null(u);
    return u;
}

Test(pool, merge_partials_counts_shared_member_once)
{
    tp_pool_t *w0 = tp_pool_new(), *w1 = tp_pool_new();
    tp_pool_line_t l[] = {mkline("R", "x", "KGM", "1", "acme", "2", 100),
                          mkline("R", "x", "TNE", "1", "bolt", NULL, 90),
                          mkline("R", "x", "GRM", "500", "bolt", "0.01", 120),
                          mkline("R", "x", "KGM", "3", "core", "1", 95)};
    add(w0, &l[0]);
    add(w0, &l[1]);
    add(w1, &l[2]);
    add(w1, &l[3]);
    tp_pool_agg_t *m = roundtrip(agg_of(w0, &l[0]));
    tp_pool_agg_t *part = roundtrip(agg_of(w1, &l[0]));
    cr_assert_eq(tp_pool_merge(m, part), 0);
    cr_expect_eq(m->nmembers, 3, "bolt is in both partials: counted once");
    cr_expect_eq(m->requests, 4);
    cr_expect_str_eq(fmt(&m->total), "1004.5");
    cr_expect_str_eq(fmt(&m->value), "10", "1*2 + 500*0.01 + 3*1");
    cr_expect_eq(m->priced, 3);
    cr_expect_eq(tp_pool_agg_need_by_min(m), 90);
    cr_expect_eq(tp_pool_agg_need_by_max(m), 120);
    cr_expect(tp_pool_viable(m, 3));

    /* the same lines in one pool give the same aggregate, byte for byte */
    tp_pool_t *one = tp_pool_new();
    for (int i = 0; i < 4; i++)
        add(one, &l[i]);
    char *x, *y;
    size_t xl, yl;
    cr_assert_eq(tp_pool_agg_pack(m, &x, &xl), 0);
    cr_assert_eq(tp_pool_agg_pack(agg_of(one, &l[0]), &y, &yl), 0);
    cr_expect(xl == yl && memcmp(x, y, xl) == 0, "merged == recomputed");
    free(x);
    free(y);

    tp_pool_line_t other = mkline("R", "y", "KGM", "1", "acme", NULL, 1);
    add(w0, &other);
    cr_expect_eq(tp_pool_merge(m, agg_of(w0, &other)), -1, "keys differ");
    cr_expect_eq(tp_pool_merge((tp_pool_agg_t *)agg_of(w1, &l[0]), m), -1,
                 "pool-resident aggregates are not merge targets");
    cr_expect_eq(m->requests, 4);
    tp_pool_agg_destroy(&m);
    tp_pool_agg_destroy(&part);
    cr_expect_null(m);
    tp_pool_destroy(&w0);
    tp_pool_destroy(&w1);
    tp_pool_destroy(&one);
}

/* A copy of buf with the first occurrence of `from` replaced by `to` (same length). */
static char *replace_once(const char *buf, size_t len, const char *from, const char *to)
{
    size_t n = strlen(from);
    cr_assert_eq(strlen(to), n);
    char *copy = malloc(len);
    memcpy(copy, buf, len);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(copy + i, from, n) == 0) {
            memcpy(copy + i, to, n);
            return copy;
        }
    }
    cr_assert_fail("%s not found in the packed bytes", from);
    return NULL;
}

Test(pool, pack_roundtrip_and_malformed_input)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t a = mkline("2026-W48", "gl:ov,es", "DZN", "2.5", "m-1", "3.10", -5);
    tp_pool_line_t b = mkline("2026-W48", "gl:ov,es", "H87", "7", "m-0", NULL, 20000);
    add(p, &a);
    add(p, &b);
    const tp_pool_agg_t *g = agg_of(p, &a);
    char *buf, *buf2;
    size_t len, len2;
    cr_assert_eq(tp_pool_agg_pack(g, &buf, &len), 0);
    tp_pool_agg_t *u = tp_pool_agg_unpack(buf, len);
    cr_assert_not_null(u);
    cr_expect(u->standalone);
    cr_expect_str_eq(u->key.item_key, "gl:ov,es");
    cr_expect_str_eq(u->key.cpv, "33141420");
    cr_expect_eq(u->hash, g->hash);
    cr_expect_str_eq(fmt(&u->total), "37");
    cr_expect_str_eq(fmt(&u->value), "7.75");
    cr_expect_eq(tp_pool_agg_need_by_min(u), -5);
    cr_expect_eq(u->nmembers, 2);
    cr_assert_eq(tp_pool_agg_pack(u, &buf2, &len2), 0);
    cr_expect(len == len2 && memcmp(buf, buf2, len) == 0, "pack(unpack(x)) == x");
    free(buf2);

    for (size_t n = 0; n < len; n++) {
        tp_pool_agg_t *t = tp_pool_agg_unpack(buf, n);
        cr_expect_null(t, "truncated at %zu accepted", n);
        tp_pool_agg_destroy(&t);
    }
    static const char *const edits[][2] = {
        {"3:m-1,1:1,", "3:m-1,1:2,"},     /* member lines no longer sum to requests */
        {"3:m-0,", "3:m-2,"},             /* members out of order */
        {"4:7.75,", "4:-7.7,"},           /* negative value */
        {"1:2,1:1,1:2,", "1:2,1:3,1:2,"}, /* more priced lines than lines */
        {"5:20000,1:1,", "5:20000,1:0,"}, /* a day with no line */
        {"2:-5,", "2:-x,"},               /* not a number */
        {"5:count,", "5:count;"},
        {"5:20000,", "5:-0005,"},
        /* a day twice */ /* netstring terminator */
    };
    for (size_t e = 0; e < sizeof(edits) / sizeof(*edits); e++) {
        char *bad = replace_once(buf, len, edits[e][0], edits[e][1]);
        tp_pool_agg_t *t = tp_pool_agg_unpack(bad, len);
        cr_expect_null(t, "edit %s -> %s accepted", edits[e][0], edits[e][1]);
        tp_pool_agg_destroy(&t);
        free(bad);
    }
    cr_expect_null(tp_pool_agg_unpack("XXAGG1", 6));

    /* appended as a close's partials travel: [u32 length][the same bytes], twice */
    char *all = NULL;
    size_t alen = 0, acap = 0;
    cr_assert_eq(tp_pool_agg_pack_append(g, &all, &alen, &acap), 0);
    cr_assert_eq(tp_pool_agg_pack_append(u, &all, &alen, &acap), 0);
    cr_assert_eq(alen, 2 * (4 + len));
    for (int k = 0; k < 2; k++) {
        uint32_t n32;
        memcpy(&n32, all + k * (4 + len), 4);
        cr_expect_eq(n32, len);
        cr_expect_eq(memcmp(all + k * (4 + len) + 4, buf, len), 0, "copy %d", k);
    }
    free(all);
    free(buf);
    tp_pool_agg_destroy(&u);
    tp_pool_destroy(&p);
}

Test(pool, viability_threshold)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t a = mkline("R", "x", "KGM", "1", "a", NULL, 1);
    tp_pool_line_t a2 = mkline("R", "x", "KGM", "1", "a", NULL, 1);
    tp_pool_line_t b = mkline("R", "x", "KGM", "1", "b", NULL, 1);
    tp_pool_line_t c = mkline("R", "x", "KGM", "1", "c", NULL, 1);
    add(p, &a);
    add(p, &a2);
    add(p, &b);
    cr_expect_not(tp_pool_viable(agg_of(p, &a), 3), "2 members, 3 lines: not viable");
    cr_expect(tp_pool_viable(agg_of(p, &a), 2));
    add(p, &c);
    cr_expect(tp_pool_viable(agg_of(p, &a), 3));
    cr_expect_not(tp_pool_viable(agg_of(p, &a), 4));
    cr_expect(tp_pool_viable(agg_of(p, &a), 0), "min below 1 counts as 1");
    tp_pool_destroy(&p);
}

Test(pool, carry_decision)
{
    cr_expect_eq(tp_pool_carry_decision(0, 2), TP_POOL_CARRY);
    cr_expect_eq(tp_pool_carry_decision(1, 2), TP_POOL_CARRY);
    cr_expect_eq(tp_pool_carry_decision(2, 2), TP_POOL_UNPOOLED);
    cr_expect_eq(tp_pool_carry_decision(3, 2), TP_POOL_UNPOOLED);
    cr_expect_eq(tp_pool_carry_decision(0, 0), TP_POOL_UNPOOLED, "no carry-over at all");
}

typedef struct seen {
    char ids[16][TP_POOL_LOT_ID_MAX];
    int n;
} seen_t;

static int record(const tp_pool_agg_t *a, void *ctx)
{
    seen_t *s = ctx;
    cr_assert_lt(s->n, 16);
    cr_assert_eq(tp_pool_agg_lot_id(a, s->ids[s->n], sizeof(s->ids[0])), 0);
    s->n++;
    return 0;
}

static int stop_at_first(const tp_pool_agg_t *a, void *ctx)
{
    (*(int *)ctx)++;
    return 7;
}

Test(pool, foreach_sorted_by_lot_id_and_drop_round)
{
    tp_pool_t *p = tp_pool_new();
    const char *items[] = {"a", "b", "c", "d", "e", "f", "g"};
    for (int i = 0; i < 7; i++) {
        tp_pool_line_t l = mkline("R1", items[i], "KGM", "1", "m", NULL, 1);
        add(p, &l);
    }
    tp_pool_line_t r2 = mkline("R2", "a", "KGM", "1", "m", NULL, 1);
    add(p, &r2);
    seen_t s = {0};
    cr_assert_eq(tp_pool_foreach(p, "R1", record, &s), 0);
    cr_expect_eq(s.n, 7, "only round R1");
    for (int i = 1; i < s.n; i++)
        cr_expect_lt(strcmp(s.ids[i - 1], s.ids[i]), 0, "%s before %s", s.ids[i - 1], s.ids[i]);
    seen_t all = {0};
    cr_assert_eq(tp_pool_foreach(p, NULL, record, &all), 0);
    cr_expect_eq(all.n, 8);
    int calls = 0;
    cr_expect_eq(tp_pool_foreach(p, NULL, stop_at_first, &calls), 7);
    cr_expect_eq(calls, 1);
    cr_expect_eq(tp_pool_drop_round(p, "R1"), 7);
    cr_expect_eq(tp_pool_count(p), 1);
    cr_expect_not_null(agg_of(p, &r2), "R2 survives");
    tp_pool_destroy(&p);
}

Test(pool, foreach_refuses_a_lot_id_collision)
{
    /* Found offline by a birthday search over item keys "c<n>": distinct keys whose MD5s share
     * their first 48 bits (89f812ba3b54), so both lots would be named R-89f812ba3b54. */
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t a = mkline("R", "c14540578", "KGM", "1", "m", NULL, 1);
    tp_pool_line_t b = mkline("R", "c17997167", "KGM", "1", "m", NULL, 1);
    char ia[TP_POOL_LOT_ID_MAX], ib[TP_POOL_LOT_ID_MAX];
    cr_assert_eq(tp_pool_lot_id(&a.key, ia, sizeof(ia)), 0);
    cr_assert_eq(tp_pool_lot_id(&b.key, ib, sizeof(ib)), 0);
    cr_assert_str_eq(ia, ib, "fixture: these keys collide under the documented hash");
    cr_assert_str_eq(ia, "R-89f812ba3b54");
    cr_assert_neq(tp_pool_key_hash(&a.key), tp_pool_key_hash(&b.key));
    add(p, &a);
    add(p, &b);
    cr_expect_eq(tp_pool_count(p), 2, "distinct keys stay distinct lots in memory");
    int calls = 0;
    cr_expect_eq(tp_pool_foreach(p, "R", stop_at_first, &calls), -1);
    cr_expect_eq(calls, 0, "nothing is published under a shared lot id");
    tp_pool_destroy(&p);
}

Test(pool, memory_per_request_in_a_bench_shaped_pool)
{
    tp_pool_t *p = tp_pool_new();
    char item[16], member[16];
    tp_pool_line_t l = mkline("2026-W48", "x", "KGM", "1.5", "m", "2", 1);
    for (int i = 0; i < 100000; i++) {
        snprintf(item, sizeof(item), "item-%d", i % 500);
        snprintf(member, sizeof(member), "member-%d", (i * 7) % 200);
        l.key.item_key = item;
        l.member_id = member;
        l.need_by = 20000 + i % 30;
        add(p, &l);
    }
    cr_assert_eq(tp_pool_count(p), 500);
    size_t per = tp_pool_bytes(p) / 100000;
    cr_expect_leq(per, 64, "pool memory per request: %zu bytes", per);
    tp_pool_destroy(&p);
}

Test(pool, many_lots_survive_growth_and_removals)
{
    enum { N = 4000 }; /* 8192 slots at load ~1/2: long probe runs, some wrap */
    static char items[N][16];
    static tp_pool_line_t l[N];
    static int order[N];
    tp_pool_t *p = tp_pool_new();
    for (int i = 0; i < N; i++) {
        snprintf(items[i], sizeof(items[i]), "it%d", i);
        l[i] = mkline(i % 3 ? "R1" : "R2", items[i], "KGM", "1", "m", NULL, 1);
        add(p, &l[i]);
        order[i] = i;
    }
    cr_assert_eq(tp_pool_count(p), N);
    uint64_t st = 12345;
    for (int i = N - 1; i > 0; i--) { /* fixed-seed shuffle of the removal order */
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        int j = (int)((st >> 33) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < N / 2; k++)
        del(p, &l[order[k]]);
    for (int k = 0; k < N; k++) {
        const tp_pool_agg_t *g = agg_of(p, &l[order[k]]);
        if (k < N / 2)
            cr_assert_null(g, "removed lot %s still found", items[order[k]]);
        else
            cr_assert_not_null(g, "lot %s lost after removals", items[order[k]]);
    }
    size_t r2 = 0;
    for (int k = N / 2; k < N; k++)
        r2 += order[k] % 3 == 0;
    cr_expect_eq(tp_pool_drop_round(p, "R2"), r2);
    cr_expect_eq(tp_pool_count(p), N - N / 2 - r2);
    for (int k = N / 2; k < N; k++)
        cr_assert_eq(agg_of(p, &l[order[k]]) != NULL, order[k] % 3 != 0, "%s", items[order[k]]);
    tp_pool_destroy(&p);
}

/* Item names whose key hashes land on `slot` of the pool's initial 64-slot table. */
static void items_at_slot(uint64_t slot, int count, char (*out)[16], int *next)
{
    for (int found = 0; found < count; (*next)++) {
        snprintf(out[found], 16, "w%d", *next);
        tp_pool_line_t l = mkline("R", out[found], "KGM", "1", "m", NULL, 1);
        if ((tp_pool_key_hash(&l.key) & 63) == slot)
            found++;
    }
}

Test(pool, removal_keeps_probe_runs_that_wrap_around)
{
    /* Slots 62, 63, 0, 1 hold A(home 62), C(63), B(0), D(63, wrapped past B). Removing A
     * must leave B in slot 0: its home lies inside the wrapped part of the run. */
    char a[1][16], b[1][16], cd[2][16];
    int next = 0;
    items_at_slot(62, 1, a, &next);
    items_at_slot(0, 1, b, &next);
    items_at_slot(63, 2, cd, &next);
    tp_pool_line_t la = mkline("R", a[0], "KGM", "1", "m", NULL, 1);
    tp_pool_line_t l[] = {mkline("R", b[0], "KGM", "2", "m", NULL, 1),
                          mkline("R", cd[0], "KGM", "3", "m", NULL, 1),
                          mkline("R", cd[1], "KGM", "4", "m", NULL, 1)};
    tp_pool_t *p = tp_pool_new();
    add(p, &la);
    for (int i = 0; i < 3; i++)
        add(p, &l[i]);
    del(p, &la);
    for (int i = 0; i < 3; i++) {
        const tp_pool_agg_t *g = agg_of(p, &l[i]);
        cr_assert_not_null(g, "%s lost", l[i].key.item_key);
        cr_expect_str_eq(fmt(&g->total), i == 0 ? "2" : (i == 1 ? "3" : "4"));
    }
    tp_pool_destroy(&p);
}

/* ---- randomized check against a naive recomputation ---- */

#define NKEYS 6
#define NMEMBERS 5
#define MAXLIVE 400

static const char *rnd_items[NKEYS] = {"i0", "i1", "i2", "i3", "i4", "i5"};
static const char *rnd_units[NKEYS] = {"KGM", "TNE", "H87", "DZN", "LTR", "BX"};
static const char *rnd_members[NMEMBERS] = {"m0", "m1", "m2", "m3", "m4"};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static tp_pool_line_t random_line(void)
{
    static const char *qty[] = {"1", "2.5", "0.001", "12", "999999.999999", "40"};
    static const char *price[] = {NULL, "1.25", "0.000001", "100"};
    int k = (int)rnd(NKEYS);
    /* the item and unit family together pick the key: one key per k */
    return mkline("R", rnd_items[k], rnd_units[k], qty[rnd(6)], rnd_members[rnd(NMEMBERS)],
                  price[rnd(4)], 20000 + (int)rnd(10));
}

static void check_key(tp_pool_t *p, const tp_pool_line_t *live, int nlive, int k)
{
    tp_pool_line_t probe = mkline("R", rnd_items[k], rnd_units[k], "1", "m0", NULL, 0);
    tp_dec_t total = tp_dec_from_int(0), value = tp_dec_from_int(0), v;
    uint32_t n = 0, priced = 0, members = 0;
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    bool has[NMEMBERS] = {0};
    for (int i = 0; i < nlive; i++) {
        if (strcmp(live[i].key.item_key, rnd_items[k]) != 0)
            continue;
        cr_assert_eq(tp_dec_add(&total, &live[i].base_quantity, &total), 0);
        if (live[i].has_max_price) {
            cr_assert_eq(tp_dec_mul(&live[i].quantity, &live[i].max_unit_price, &v), 0);
            cr_assert_eq(tp_dec_add(&value, &v, &value), 0);
            priced++;
        }
        n++;
        lo = live[i].need_by < lo ? live[i].need_by : lo;
        hi = live[i].need_by > hi ? live[i].need_by : hi;
        has[live[i].member_id[1] - '0'] = true;
    }
    for (int m = 0; m < NMEMBERS; m++)
        members += has[m];
    const tp_pool_agg_t *g = agg_of(p, &probe);
    if (n == 0) {
        cr_assert_null(g, "key %d should be gone", k);
        return;
    }
    cr_assert_not_null(g, "key %d missing", k);
    cr_assert_eq(tp_dec_cmp(&g->total, &total), 0, "key %d total %s != %s", k, fmt(&g->total),
                 fmt(&total));
    cr_assert_eq(tp_dec_cmp(&g->value, &value), 0, "key %d value", k);
    cr_assert_eq(g->requests, n);
    cr_assert_eq(g->priced, priced);
    cr_assert_eq(g->nmembers, members, "key %d members", k);
    cr_assert_eq(tp_pool_agg_need_by_min(g), lo);
    cr_assert_eq(tp_pool_agg_need_by_max(g), hi);
}

Test(pool, randomized_against_naive_recomputation)
{
    static tp_pool_line_t live[MAXLIVE];
    int nlive = 0;
    tp_pool_t *p = tp_pool_new();
    for (int op = 0; op < 10000; op++) {
        uint32_t what = rnd(10);
        if (nlive == 0 || (what < 5 && nlive < MAXLIVE)) {
            live[nlive] = random_line();
            add(p, &live[nlive++]);
        } else if (what < 8) { /* amend: replace a line, maybe under another key */
            int i = (int)rnd((uint32_t)nlive);
            del(p, &live[i]);
            live[i] = random_line();
            add(p, &live[i]);
        } else { /* cancel */
            int i = (int)rnd((uint32_t)nlive);
            del(p, &live[i]);
            live[i] = live[--nlive];
        }
        for (int k = 0; k < NKEYS; k++)
            check_key(p, live, nlive, k);
    }
    while (nlive > 0)
        del(p, &live[--nlive]);
    cr_expect_eq(tp_pool_count(p), 0, "everything removed exactly");
    tp_pool_destroy(&p);
}

Test(pool, prefetch_reads_nothing_it_must_not_and_changes_nothing)
{
    tp_pool_t *p = tp_pool_new();
    tp_pool_line_t l = mkline("R", "gloves", "H87", "12", "a", NULL, 3);
    tp_pool_line_t other = mkline("R", "boots", "H87", "5", "b", NULL, 4);
    uint64_t h = tp_pool_key_hash(&l.key), ho = tp_pool_key_hash(&other.key);
    for (int s = 0; s < 3; s++) /* empty pool: every stage on an empty slot */
        tp_pool_prefetch(p, h, s);
    add(p, &l);
    for (int s = 0; s < 3; s++) {
        tp_pool_prefetch(p, h, s);  /* the lot's own slot */
        tp_pool_prefetch(p, ho, s); /* a key not in the pool */
    }
    cr_expect_eq(tp_pool_count(p), 1, "a prefetch creates no aggregate");
    cr_expect_null(agg_of(p, &other));
    const tp_pool_agg_t *a = agg_of(p, &l);
    cr_assert_not_null(a);
    cr_expect_str_eq(fmt(&a->total), "12");
    cr_expect_eq(a->requests, 1);
    tp_pool_destroy(&p);
}

/* Many lines on overlapping days (some negative), spread over three partials: merged in any
 * order, the aggregate packs byte for byte like one pool holding every line (the days merge
 * linearly, the packed integers are formatted without snprintf). */
Test(pool, merge_many_days_equals_one_pool)
{
    static const char *const members[] = {"acme", "bolt", "core", "dyn"};
    tp_pool_t *part[3] = {tp_pool_new(), tp_pool_new(), tp_pool_new()}, *one = tp_pool_new();
    tp_pool_line_t l[300];
    unsigned seed = 11;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        int day = (int)((seed >> 8) % 97) - 20; /* -20 .. 76: shared and negative days */
        l[i] = mkline("R", "x", "KGM", "2", members[(seed >> 4) % 4],
                      (seed >> 20) % 2 ? "1.5" : NULL, day);
        add(part[(seed >> 16) % 3], &l[i]);
        add(one, &l[i]);
    }
    static const int orders[][3] = {{0, 1, 2}, {2, 0, 1}, {1, 2, 0}};
    char *want;
    size_t wl;
    cr_assert_eq(tp_pool_agg_pack(agg_of(one, &l[0]), &want, &wl), 0);
    for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
        tp_pool_agg_t *m = roundtrip(agg_of(part[orders[o][0]], &l[0]));
        for (int k = 1; k < 3; k++) {
            tp_pool_agg_t *u = roundtrip(agg_of(part[orders[o][k]], &l[0]));
            cr_assert_eq(tp_pool_merge(m, u), 0);
            tp_pool_agg_destroy(&u);
        }
        cr_expect_eq(m->requests, 300);
        cr_expect_eq(tp_pool_agg_need_by_min(m), tp_pool_agg_need_by_min(agg_of(one, &l[0])));
        char *got;
        size_t gl;
        cr_assert_eq(tp_pool_agg_pack(m, &got, &gl), 0);
        cr_expect(gl == wl && memcmp(got, want, wl) == 0, "order %zu: merged == one pool", o);
        free(got);
        tp_pool_agg_destroy(&m);
    }
    free(want);
    for (int i = 0; i < 3; i++)
        tp_pool_destroy(&part[i]);
    tp_pool_destroy(&one);
}
