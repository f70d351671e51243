/* Unit tests for group gathering: when a worker's building group is committed. */
#include <criterion/criterion.h>

#include "tp_gather.h"

#define NOW 10000000 /* an arbitrary tp_mono_us() instant */

Test(gather, commits_at_once_outside_a_stream_of_commits)
{
    cr_expect_eq(tp_gather_wait_us(false, 1, NOW, 0, NOW), 0, "no commit yet: at once");
    cr_expect_eq(tp_gather_wait_us(false, 1, NOW, NOW - TP_GATHER_US, NOW), 0,
                 "the last commit ended a gathering period ago: an isolated request");
    cr_expect_eq(tp_gather_wait_us(false, 0, NOW, NOW - 10, NOW), 0, "no items: nothing to wait");
}

Test(gather, a_small_group_waits_in_a_stream)
{
    /* the last commit ended 100 us ago, the group's first item arrived 300 us ago */
    cr_expect_eq(tp_gather_wait_us(false, 5, NOW - 300, NOW - 100, NOW), TP_GATHER_US - 300);
    cr_expect_eq(tp_gather_wait_us(false, TP_GATHER_ITEMS - 1, NOW, NOW - 1, NOW), TP_GATHER_US);
    cr_expect_eq(tp_gather_wait_us(false, 5, NOW - TP_GATHER_US, NOW - 100, NOW), 0,
                 "the first item has waited the whole period");
    cr_expect_eq(tp_gather_wait_us(false, 5, NOW - 5 * TP_GATHER_US, NOW - 100, NOW), 0,
                 "never a negative wait");
}

Test(gather, a_large_group_or_a_running_commit_does_not_gather)
{
    cr_expect_eq(tp_gather_wait_us(false, TP_GATHER_ITEMS, NOW, NOW - 1, NOW), 0);
    cr_expect_eq(tp_gather_wait_us(true, 5, NOW, NOW - 1, NOW), 0,
                 "while a commit runs the group waits for it, not for gathering");
}
