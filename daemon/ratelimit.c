/* Per-member token buckets: [limits] member_rate items/s, bursts up to member_burst. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_supervisor.h"

struct tp_rate {
    char member[72];
    double tokens;
    int64_t last_ms;
    int64_t limited_until_ms; /* for the count of members being limited now */
    UT_hash_handle hh;
};

bool tp_rate_take(tp_supervisor_t *s, const char *member, uint32_t n, int64_t now_ms)
{
    tp_rate_t *r = NULL;
    HASH_FIND_STR(s->rates, member, r);
    if (r == NULL) {
        if (HASH_COUNT(s->rates) >= TP_RATE_MAX_MEMBERS) /* unauthenticated names in mode none */
            tp_rate_forget_idle(s, now_ms);
        r = xcalloc(1, sizeof(*r));
        snprintf(r->member, sizeof(r->member), "%s", member);
        r->tokens = (double)s->cfg.member_burst;
        r->last_ms = now_ms;
        HASH_ADD_STR(s->rates, member, r);
    }
    double burst = (double)s->cfg.member_burst;
    r->tokens += (double)(now_ms - r->last_ms) * (double)s->cfg.member_rate / 1000.0;
    if (r->tokens > burst)
        r->tokens = burst;
    r->last_ms = now_ms;
    if (r->tokens >= (double)n) {
        r->tokens -= (double)n;
        return true;
    }
    if (r->limited_until_ms < now_ms)
        tp_notice("member %s is rate-limited ([limits] member_rate %lld/s, burst %lld)", member,
                  (long long)s->cfg.member_rate, (long long)s->cfg.member_burst);
    r->limited_until_ms = now_ms + 1000;
    s->n_rate_limited++;
    return false;
}

size_t tp_rate_limited_members(const tp_supervisor_t *s, int64_t now_ms)
{
    size_t n = 0;
    for (const tp_rate_t *r = s->rates; r != NULL; r = r->hh.next)
        n += r->limited_until_ms >= now_ms;
    return n;
}

void tp_rate_forget_idle(tp_supervisor_t *s, int64_t now_ms)
{
    tp_rate_t *r, *tmp;
    double burst = (double)s->cfg.member_burst;
    HASH_ITER(hh, s->rates, r, tmp)
    {
        /* a bucket that has refilled completely carries no state worth keeping */
        if (r->tokens + (double)(now_ms - r->last_ms) * (double)s->cfg.member_rate / 1000.0 >=
            burst) {
            HASH_DEL(s->rates, r);
            free(r);
        }
    }
}

void tp_rate_free(tp_supervisor_t *s)
{
    tp_rate_t *r, *tmp;
    HASH_ITER(hh, s->rates, r, tmp)
    {
        HASH_DEL(s->rates, r);
        free(r);
    }
}
