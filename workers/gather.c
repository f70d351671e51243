/* Group gathering: a small group waits a little while commits follow each other. */
#include "tp_gather.h"

int64_t tp_gather_wait_us(bool committing, size_t n, int64_t first_us, int64_t commit_ended_us,
                          int64_t now_us)
{
    if (committing || n == 0 || n >= TP_GATHER_ITEMS || commit_ended_us == 0 ||
        now_us - commit_ended_us >= TP_GATHER_US)
        return 0; /* nothing to wait for, enough to commit, or not a stream of commits */
    int64_t left = first_us + TP_GATHER_US - now_us;
    return left > 0 ? left : 0;
}
