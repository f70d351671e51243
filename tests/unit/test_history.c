/* Unit tests for the state load's request walk (workers/history.c) against request_walk's rules. */
#include <criterion/criterion.h>

#include "tp_history.h"

#define H "0123456789ab" /* a lot key hash */

static tp_history_pos_t walk(const tp_history_t *h, const char *home)
{
    tp_history_pos_t p;
    tp_history_walk(h, home, H, &p);
    return p;
}

Test(history, a_request_of_a_round_not_closed_is_open_there)
{
    tp_history_t *h = tp_history_new();
    tp_history_add_round(h, "R1", 2);
    tp_history_pos_t p = walk(h, "R2");
    cr_expect_str_eq(p.round_id, "R2");
    cr_expect_eq(p.carries, 0);
    cr_expect_eq(p.state, TP_RS_OPEN);
    cr_expect(tp_history_closed(h, "R1"));
    cr_expect_not(tp_history_closed(h, "R2"));
    tp_history_destroy(&h);
    cr_expect_null(h);
}

Test(history, a_lot_that_did_not_carry_pools_its_requests)
{
    tp_history_t *h = tp_history_new();
    tp_history_add_round(h, "R1", 2);
    tp_history_add_lot(h, "R1-ffffffffffff", "R2"); /* another lot carried */
    tp_history_pos_t p = walk(h, "R1");
    cr_expect_str_eq(p.round_id, "R1");
    cr_expect_eq(p.carries, 0);
    cr_expect_eq(p.state, TP_RS_POOLED);
    tp_history_destroy(&h);
}

Test(history, carried_along_closed_rounds_until_an_open_one)
{
    tp_history_t *h = tp_history_new();
    tp_history_add_round(h, "R1", 2);
    tp_history_add_round(h, "R2", 2);
    tp_history_add_lot(h, "R1-" H, "R2");
    tp_history_add_lot(h, "R2-" H, "R3");
    tp_history_pos_t p = walk(h, "R1");
    cr_expect_str_eq(p.round_id, "R3");
    cr_expect_eq(p.carries, 2);
    cr_expect_eq(p.state, TP_RS_CARRIED_OVER);
    p = walk(h, "R2"); /* stored in R2: carried once */
    cr_expect_str_eq(p.round_id, "R3");
    cr_expect_eq(p.carries, 1);
    tp_history_destroy(&h);
}

Test(history, the_carry_limit_is_the_round_s_and_leaves_it_unpooled)
{
    tp_history_t *h = tp_history_new();
    tp_history_add_round(h, "R1", 1);
    tp_history_add_round(h, "R2", 1);
    tp_history_add_lot(h, "R1-" H, "R2");
    tp_history_add_lot(h, "R2-" H, "R3");
    tp_history_pos_t p = walk(h, "R1");
    cr_expect_str_eq(p.round_id, "R2", "carried once, then stopped by R2's limit of 1");
    cr_expect_eq(p.carries, 1);
    cr_expect_eq(p.state, TP_RS_UNPOOLED);
    tp_history_add_round(h, "R2", 0); /* a round that carries nothing */
    tp_history_add_round(h, "R1", 0);
    p = walk(h, "R1");
    cr_expect_str_eq(p.round_id, "R1");
    cr_expect_eq(p.carries, 0);
    cr_expect_eq(p.state, TP_RS_UNPOOLED);
    tp_history_destroy(&h);
}

Test(history, a_withdrawn_lot_carries_to_its_target_or_nowhere)
{
    tp_history_t *h = tp_history_new();
    tp_history_add_round(h, "R1", 3);
    tp_history_add_lot(h, "R1-" H, "R1.2"); /* withdrawn, carried to an early-close round */
    tp_history_pos_t p = walk(h, "R1");
    cr_expect_str_eq(p.round_id, "R1.2");
    cr_expect_eq(p.state, TP_RS_CARRIED_OVER);
    tp_history_add_lot(h, "R1-" H, NULL); /* no next round: nowhere to go */
    p = walk(h, "R1");
    cr_expect_str_eq(p.round_id, "R1");
    cr_expect_eq(p.state, TP_RS_UNPOOLED);
    cr_expect_eq(tp_history_lot_count(h), 1, "a lot added twice is one lot");
    tp_history_destroy(&h);
}

Test(history, a_carry_cycle_ends)
{
    tp_history_t *h = tp_history_new();
    tp_history_add_round(h, "A", 1 << 30);
    tp_history_add_round(h, "B", 1 << 30);
    tp_history_add_lot(h, "A-" H, "B");
    tp_history_add_lot(h, "B-" H, "A");
    tp_history_pos_t p = walk(h, "A");
    cr_expect_eq(p.state, TP_RS_UNPOOLED);
    cr_expect_geq(p.carries, 1000);
    tp_history_destroy(&h);
}
