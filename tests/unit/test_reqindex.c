/* Unit tests for the worker's request index: lookup, growth, interning, memory accounting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tp_reqindex.h"

Test(reqindex, upsert_then_find)
{
    tp_reqindex_t *ix = tp_reqindex_new();
    uint32_t acme = tp_reqindex_member(ix, "acme");
    uint32_t bolt = tp_reqindex_member(ix, "bolt");
    cr_assert_neq(acme, bolt);
    cr_expect_eq(tp_reqindex_member(ix, "acme"), acme, "interning is stable");
    cr_expect_str_eq(tp_reqindex_member_name(ix, bolt), "bolt");
    cr_expect_null(tp_reqindex_find(ix, acme, "r1"));
    tp_reqent_t *e = tp_reqindex_upsert(ix, acme, "r1");
    cr_assert_not_null(e);
    cr_expect_eq(e->revision, 0, "a new entry is not stored yet");
    e->revision = 3;
    cr_expect_eq(tp_reqindex_find(ix, acme, "r1")->revision, 3);
    cr_expect_null(tp_reqindex_find(ix, bolt, "r1"), "refs are per member");
    cr_expect_eq(tp_reqindex_upsert(ix, acme, "r1")->revision, 3, "upsert finds the existing");
    cr_expect_eq(tp_reqindex_count(ix), 1);
    tp_reqindex_destroy(&ix);
    cr_expect_null(ix, "destroy clears the caller's pointer");
    tp_reqindex_destroy(&ix); /* accepts NULL */
}

Test(reqindex, growth_keeps_every_entry)
{
    tp_reqindex_t *ix = tp_reqindex_new();
    char ref[32];
    for (uint32_t i = 0; i < 200000; i++) {
        snprintf(ref, sizeof(ref), "ref-%u", i);
        tp_reqent_t *e = tp_reqindex_upsert(ix, i % 7, ref);
        e->revision = i + 1;
        e->server_seq = (uint64_t)i * 3;
    }
    cr_assert_eq(tp_reqindex_count(ix), 200000);
    for (uint32_t i = 0; i < 200000; i += 997) {
        snprintf(ref, sizeof(ref), "ref-%u", i);
        tp_reqent_t *e = tp_reqindex_find(ix, i % 7, ref);
        cr_assert_not_null(e, "%s lost after growth", ref);
        cr_expect_eq(e->revision, i + 1);
        cr_expect_eq(e->server_seq, (uint64_t)i * 3);
        cr_expect_null(tp_reqindex_find(ix, (i + 1) % 7, ref));
    }
    size_t per = tp_reqindex_bytes(ix) / tp_reqindex_count(ix);
    cr_expect_leq(per, 256, "index memory per request: %zu bytes", per);
    tp_reqindex_destroy(&ix);
}

Test(reqindex, rounds_are_interned)
{
    tp_reqindex_t *ix = tp_reqindex_new();
    uint32_t a = tp_reqindex_round(ix, "2026-W48");
    uint32_t b = tp_reqindex_round(ix, "2026-W49");
    cr_expect_neq(a, b);
    cr_expect_eq(tp_reqindex_round(ix, "2026-W48"), a);
    cr_expect_str_eq(tp_reqindex_round_name(ix, b), "2026-W49");
    cr_expect_str_eq(tp_reqindex_round_name(ix, 99), "", "unknown index: empty name");
    tp_reqindex_destroy(&ix);
}

Test(reqindex, prefetch_neither_interns_nor_changes_entries)
{
    tp_reqindex_t *ix = tp_reqindex_new();
    uint32_t acme = tp_reqindex_member(ix, "acme");
    tp_reqindex_upsert(ix, acme, "r1")->revision = 2;
    cr_expect_eq(tp_reqindex_member_find(ix, "acme"), acme);
    cr_expect_eq(tp_reqindex_member_find(ix, "zed"), UINT32_MAX, "a member not seen yet");
    for (int stage = 0; stage < 2; stage++) {
        tp_reqindex_prefetch_hashed(ix, tp_reqindex_hash(acme, "r1"), stage);
        tp_reqindex_prefetch_hashed(ix, tp_reqindex_hash(acme, "never-seen"), stage);
    }
    cr_expect_str_eq(tp_reqindex_member_name(ix, acme + 1), "", "member_find interned a member");
    cr_expect_eq(tp_reqindex_count(ix), 1);
    cr_expect_eq(tp_reqindex_find(ix, acme, "r1")->revision, 2);
    cr_expect_null(tp_reqindex_find(ix, acme, "never-seen"));
    tp_reqindex_destroy(&ix);
}

Test(reqindex, hashed_calls_match_the_plain_ones)
{
    tp_reqindex_t *ix = tp_reqindex_new();
    char ref[32];
    for (uint32_t i = 0; i < 5000; i++) {
        snprintf(ref, sizeof(ref), "h-%u", i);
        uint32_t h = tp_reqindex_hash(i % 3, ref);
        tp_reqindex_prefetch_hashed(ix, h, 0);
        tp_reqindex_prefetch_hashed(ix, h, 1);
        cr_assert_null(tp_reqindex_find_hashed(ix, h, i % 3, ref));
        tp_reqent_t *e = tp_reqindex_upsert_hashed(ix, h, i % 3, ref);
        e->revision = i + 1;
        cr_assert_eq(tp_reqindex_find(ix, i % 3, ref), e, "same entry by either call");
    }
    for (uint32_t i = 0; i < 5000; i++) {
        snprintf(ref, sizeof(ref), "h-%u", i);
        uint32_t h = tp_reqindex_hash(i % 3, ref);
        tp_reqindex_prefetch_hashed(ix, h, 0);
        tp_reqindex_prefetch_hashed(ix, h, 1);
        tp_reqent_t *e = tp_reqindex_find_hashed(ix, h, i % 3, ref);
        cr_assert_not_null(e);
        cr_assert_eq(e->revision, i + 1);
        cr_assert_eq(tp_reqindex_upsert(ix, i % 3, ref), e);
        cr_assert_null(
            tp_reqindex_find_hashed(ix, tp_reqindex_hash((i + 1) % 3, ref), (i + 1) % 3, ref),
            "refs are per member");
    }
    cr_expect_eq(tp_reqindex_count(ix), 5000);
    tp_reqindex_destroy(&ix);
}
