/* Unit tests for the bump arena that holds a decoded message. */
#include <criterion/criterion.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_arena.h"
#include "tp_testclient.h"

Test(arena, aligned_distinct_and_large_allocations)
{
    tp_arena_t a;
    tp_arena_init(&a, 0);
    char *prev = NULL;
    for (int i = 1; i < 2000; i++) {
        char *p = tp_arena_alloc(&a, (size_t)(i % 37) + 1);
        cr_assert_eq((uintptr_t)p % alignof(max_align_t), 0, "aligned");
        memset(p, 0xab, (size_t)(i % 37) + 1); /* ASan: inside the chunk */
        cr_expect_neq(p, prev);
        prev = p;
    }
    char *big = tp_arena_alloc(&a, 1 << 20); /* larger than any chunk so far */
    memset(big, 1, 1 << 20);
    tp_arena_release(&a);
    cr_expect_null(a.head);
}

Test(arena, protobuf_message_decoded_into_the_arena)
{
    tp_test_item_t it[3] = {tp_test_item_default("acme", "a-1"),
                            tp_test_item_default("acme", "a-2"),
                            tp_test_item_default("bolt", "b-1")};
    size_t len;
    uint8_t *buf = tp_test_pack_batch(9, it, 3, &len);
    tp_arena_t a;
    tp_arena_init(&a, 3 * len);
    Tenderpool__V1__ClientMessage *m =
        tenderpool__v1__client_message__unpack(tp_arena_pb(&a), len, buf);
    cr_assert_not_null(m);
    cr_assert_eq(m->batch->n_items, 3);
    cr_expect_str_eq(m->batch->items[2]->member_id, "bolt");
    cr_expect_str_eq(m->batch->items[1]->submit->request_ref, "a-2");
    tp_arena_release(&a); /* no free_unpacked: ASan would report a leak if anything escaped */
    free(buf);
}

Test(arena, strings_packed_and_aligned_allocations_after_them)
{
    tp_arena_t a;
    tp_arena_init(&a, 0);
    char *s1 = tp_arena_strdup(&a, "abc");
    char *s2 = tp_arena_strdup(&a, "de");
    cr_expect_str_eq(s1, "abc");
    cr_expect_str_eq(s2, "de");
    cr_expect_eq(s2, s1 + 4, "strings end to end, no padding");
    cr_expect_eq(tp_arena_used(&a), 7);
    char *p = tp_arena_alloc(&a, 8);
    cr_expect_eq((uintptr_t)p % alignof(max_align_t), 0, "aligned after an odd-sized string");
    cr_expect_geq(p, s2 + 3);
    /* a string longer than the rest of the chunk starts a new chunk, intact */
    char longs[3000];
    memset(longs, 'x', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    char *l = tp_arena_strdup(&a, longs);
    cr_expect_str_eq(l, longs);
    cr_expect_str_eq(s1, "abc", "earlier strings untouched");
    tp_arena_release(&a);
}
