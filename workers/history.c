/* Closed rounds and the lots that carried: the state load's own request walk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "tp_history.h"
#include "tp_mem.h"
#include "tp_pool.h"

#define TP_HISTORY_MAX_STEPS 1000 /* a carry chain longer than this is a cycle */

typedef struct hround {
    char *id;
    int max_carry;
    UT_hash_handle hh;
} hround_t;

typedef struct hlot {
    char *id;
    char *to; /* NULL: carries nowhere */
    UT_hash_handle hh;
} hlot_t;

struct tp_history {
    hround_t *rounds;
    hlot_t *lots;
    size_t nlots;
};

tp_history_t *tp_history_new(void)
{
    return xcalloc(1, sizeof(tp_history_t));
}

void tp_history_destroy(tp_history_t **hp)
{
    tp_history_t *h = *hp;
    if (h == NULL)
        return;
    hround_t *r, *rt;
    HASH_ITER(hh, h->rounds, r, rt)
    {
        HASH_DEL(h->rounds, r);
        free(r->id);
        free(r);
    }
    hlot_t *l, *lt;
    HASH_ITER(hh, h->lots, l, lt)
    {
        HASH_DEL(h->lots, l);
        free(l->id);
        free(l->to);
        free(l);
    }
    free(h);
    *hp = NULL;
}

void tp_history_add_round(tp_history_t *h, const char *round_id, int max_carry_over)
{
    hround_t *r;
    HASH_FIND_STR(h->rounds, round_id, r);
    if (r == NULL) {
        r = xcalloc(1, sizeof(*r));
        r->id = xstrdup(round_id);
        HASH_ADD_KEYPTR(hh, h->rounds, r->id, strlen(r->id), r);
    }
    r->max_carry = max_carry_over;
}

void tp_history_add_lot(tp_history_t *h, const char *lot_id, const char *to)
{
    hlot_t *l;
    HASH_FIND_STR(h->lots, lot_id, l);
    if (l == NULL) {
        l = xcalloc(1, sizeof(*l));
        l->id = xstrdup(lot_id);
        HASH_ADD_KEYPTR(hh, h->lots, l->id, strlen(l->id), l);
        h->nlots++;
    }
    free(l->to);
    l->to = to && *to ? xstrdup(to) : NULL;
}

static const hround_t *find_round(const tp_history_t *h, const char *round_id)
{
    hround_t *r;
    HASH_FIND_STR(h->rounds, round_id, r);
    return r;
}

bool tp_history_closed(const tp_history_t *h, const char *round_id)
{
    return find_round(h, round_id) != NULL;
}

void tp_history_walk(const tp_history_t *h, const char *home, const char *lot_hash,
                     tp_history_pos_t *pos)
{
    const char *at = home;
    int carries = 0;
    for (int step = 0;; step++) {
        const hround_t *r = find_round(h, at);
        if (r == NULL) { /* open (or not created yet): the request waits in it */
            pos->state = carries == 0 ? TP_RS_OPEN : TP_RS_CARRIED_OVER;
            break;
        }
        char id[512];
        hlot_t *l = NULL;
        if ((size_t)snprintf(id, sizeof(id), "%s-%s", at, lot_hash) < sizeof(id))
            HASH_FIND_STR(h->lots, id, l);
        if (l == NULL) {
            pos->state = TP_RS_POOLED;
            break;
        }
        if (l->to == NULL || step >= TP_HISTORY_MAX_STEPS ||
            tp_pool_carry_decision(carries, r->max_carry) != TP_POOL_CARRY) {
            pos->state = TP_RS_UNPOOLED;
            break;
        }
        at = l->to;
        carries++;
    }
    pos->round_id = at;
    pos->carries = carries;
}

size_t tp_history_lot_count(const tp_history_t *h)
{
    return h->nlots;
}
