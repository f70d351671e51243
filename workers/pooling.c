/* A worker's running lot aggregates: lines added after commit, moved by closes, packed for READY.
 */
#include <stdlib.h>
#include <string.h>

#include "tp_civil.h"
#include "tp_log.h"
#include "tp_mem.h"
#include "tp_worker.h"

/* Any pool operation that cannot be done exactly makes the pool untrustworthy until the next
 * reload: the close then recomputes from the stored requests instead (tenderpool.close_round). */
void tp_worker_pool_lost(tp_worker_t *w, const char *what, const tp_reqent_t *e)
{
    if (!w->pool_inexact)
        tp_err("pool: %s for member %s ref %s; this worker's next close recomputes from the "
               "database",
               what, tp_reqindex_member_name(w->ix, e->member), e->ref);
    w->pool_inexact = true;
}

void tp_worker_pool_reset(tp_worker_t *w)
{
    tp_pool_destroy(&w->pool);
    tp_lines_clear(&w->lines);
    w->pool = tp_pool_new();
    w->pool_inexact = false;
}

/* Add the line described by l (agg unset) to the lot of `key` (key_hash: its hash, or 0)
 * and attach it to e. Every key here comes from tp_pool_key_build (the committed item's, or
 * the stored line's in store.c), which checked it. */
static int attach(tp_worker_t *w, tp_reqent_t *e, const tp_pool_key_t *key, uint64_t key_hash,
                  const tp_line_t *l)
{
    tp_dec_t base, value;
    bool priced;
    tp_pool_agg_t *a = tp_pool_get_built(w->pool, key, key_hash ? key_hash : tp_pool_key_hash(key));
    if (a == NULL || tp_line_contrib(l, &base, &value, &priced) < 0 ||
        tp_pool_agg_add(w->pool, a, tp_reqindex_member_name(w->ix, e->member), &base,
                        priced ? &value : NULL, l->need_by) < 0)
        return -1;
    uint32_t i = tp_lines_alloc(&w->lines);
    tp_line_t *dst = tp_lines_at(&w->lines, i);
    *dst = *l;
    dst->agg = a;
    e->line = i;
    return 0;
}

void tp_worker_pool_detach(tp_worker_t *w, tp_reqent_t *e)
{
    tp_line_t *l = tp_lines_at(&w->lines, e->line);
    if (l == NULL)
        return;
    tp_dec_t base, value;
    bool priced;
    if (tp_line_contrib(l, &base, &value, &priced) < 0 ||
        tp_pool_agg_remove(w->pool, l->agg, tp_reqindex_member_name(w->ix, e->member), &base,
                           priced ? &value : NULL, l->need_by) < 0)
        tp_worker_pool_lost(w, "a line could not be taken out of its lot", e);
    tp_lines_free(&w->lines, e->line);
    e->line = 0;
}

int tp_worker_pool_load(tp_worker_t *w, tp_reqent_t *e, const tp_pool_line_t *pl, int carries)
{
    tp_line_t l;
    if (carries < 0 || carries > 255 ||
        tp_line_set(&l, pl->unit, &pl->quantity, pl->has_max_price ? &pl->max_unit_price : NULL,
                    pl->need_by) < 0) {
        tp_worker_pool_lost(w, "a stored line does not fit the pool", e);
        return -1;
    }
    l.carries = (uint8_t)carries;
    if (attach(w, e, &pl->key, pl->key_hash, &l) < 0) {
        tp_worker_pool_lost(w, "a stored line could not be pooled", e);
        return -1;
    }
    return 0;
}

/* The consolidation key of a committed item's line; -1 when it has none. */
static int item_key(tp_worker_t *w, const tp_item_t *it, tp_pool_key_t *key)
{
    const tp_request_t *q = &it->req;
    return tp_pool_key_build(key, tp_reqindex_round_name(w->ix, it->round), q->cpv, q->item_key,
                             q->unit, q->delivery_zone, q->currency);
}

void tp_worker_pool_prefetch(tp_worker_t *w, tp_item_t *it, int stage)
{
    if (it->outcome != TP_OUT_WRITE)
        return;
    tp_reqindex_prefetch_hashed(w->ix, it->ix_hash, stage);
    if (stage == 0) {
        it->pool_hash = it->req.op != TP_OP_CANCEL && item_key(w, it, &it->pool_key) == 0
                            ? tp_pool_key_hash(&it->pool_key)
                            : 0;
    }
    if (it->pool_hash)
        tp_pool_prefetch(w->pool, it->pool_hash, stage);
}

void tp_worker_pool_committed(tp_worker_t *w, const tp_item_t *it)
{
    tp_reqent_t *e = tp_reqindex_find_hashed(w->ix, it->ix_hash, it->member, it->req.request_ref);
    if (e == NULL)
        return; /* reloaded since: the reload read this row from the database */
    tp_worker_pool_detach(w, e);
    const tp_request_t *q = &it->req;
    if (q->op == TP_OP_CANCEL)
        return;
    tp_pool_line_t pl;
    memset(&pl, 0, sizeof(pl));
    if (it->pool_hash)
        pl.key = it->pool_key; /* the prefetch built it, for the same round and strings */
    else if (item_key(w, it, &pl.key) < 0) {
        tp_worker_pool_lost(w, "no consolidation key", e);
        return;
    }
    pl.unit = q->unit;
    pl.quantity = q->quantity;
    pl.has_max_price = q->has_max_price;
    pl.max_unit_price = q->max_unit_price;
    pl.need_by = (int32_t)tp_days_from_civil(q->need_by_y, q->need_by_m, q->need_by_d);
    pl.key_hash = it->pool_hash; /* the prefetch's, or 0 */
    (void)tp_worker_pool_load(w, e, &pl, 0);
}

/* ---- READY: this worker's partial aggregates of the closing round ---- */

typedef struct packctx {
    char *buf;
    size_t len, cap;
    int failed;
} packctx_t;

static int pack_one(const tp_pool_agg_t *a, void *arg)
{
    packctx_t *pc = arg;
    if (tp_pool_agg_pack_append(a, &pc->buf, &pc->len, &pc->cap) < 0) {
        pc->failed = 1;
        return -1;
    }
    return 0;
}

int tp_worker_pool_partials(tp_worker_t *w, const char *round, char **out, size_t *len)
{
    packctx_t pc = {0};
    *out = NULL;
    *len = 0;
    if (w->pool_inexact)
        return -1;
    if (tp_pool_foreach(w->pool, round, pack_one, &pc) != 0 || pc.failed) {
        free(pc.buf);
        return -1;
    }
    *out = pc.buf;
    *len = pc.len;
    return 0;
}

/* ---- CLOSE_DONE: move this worker's requests of the closed round on, as the walk does ---- */

typedef struct applyctx {
    tp_worker_t *w;
    const char *viable; /* sorted 12-byte lot hashes */
    size_t nviable;
    uint32_t closed, next;
    const char *next_id;
    int max_carry;
    size_t pooled, carried, unpooled;
} applyctx_t;

static int hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 12);
}

static int mark_viable(const tp_pool_agg_t *a, void *arg)
{
    applyctx_t *ac = arg;
    ((tp_pool_agg_t *)a)->mark =
        bsearch(a->lot_hash, ac->viable, ac->nviable, 12, hash_cmp) != NULL;
    return 0;
}

static void move_on(tp_reqent_t *e, void *arg)
{
    applyctx_t *ac = arg;
    tp_worker_t *w = ac->w;
    if (e->round != ac->closed || e->line == 0)
        return;
    tp_line_t *l = tp_lines_at(&w->lines, e->line);
    if (l->agg->mark) {
        e->state = TP_RS_POOLED;
        ac->pooled++;
    } else if (tp_pool_carry_decision(l->carries, ac->max_carry) == TP_POOL_CARRY) {
        tp_line_t moved = *l;
        tp_pool_key_t key = l->agg->key;
        key.round_id = ac->next_id;
        moved.carries++;
        tp_lines_free(&w->lines, e->line); /* the closed round's lots are dropped whole */
        e->line = 0;
        if (attach(w, e, &key, 0, &moved) < 0)
            tp_worker_pool_lost(w, "a carried line could not be pooled", e);
        e->round = ac->next;
        e->state = TP_RS_CARRIED_OVER;
        ac->carried++;
        return;
    } else {
        e->state = TP_RS_UNPOOLED;
        ac->unpooled++;
    }
    tp_lines_free(&w->lines, e->line);
    e->line = 0;
}

int tp_worker_pool_apply_close(tp_worker_t *w, const tp_ipc_close_t *c, const void *viable,
                               size_t len)
{
    if (w->pool_inexact || len % 12 != 0 || c->max_carry_over < 0)
        return -1;
    applyctx_t ac = {.w = w,
                     .nviable = len / 12,
                     .closed = tp_reqindex_round(w->ix, c->round),
                     .next = tp_reqindex_round(w->ix, c->next),
                     .max_carry = c->max_carry_over};
    ac.next_id = tp_reqindex_round_name(w->ix, ac.next);
    char *sorted = xmalloc(len ? len : 1);
    if (len) {
        memcpy(sorted, viable, len);
        qsort(sorted, ac.nviable, 12, hash_cmp);
    }
    ac.viable = sorted;
    if (tp_pool_foreach(w->pool, c->round, mark_viable, &ac) != 0) {
        free(sorted);
        return -1;
    }
    tp_reqindex_foreach(w->ix, move_on, &ac);
    tp_pool_drop_round(w->pool, c->round);
    free(sorted);
    tp_info("round %s closed: %zu of this worker's requests pooled, %zu carried over to %s, "
            "%zu unpooled",
            c->round, ac.pooled, ac.carried, c->next, ac.unpooled);
    return w->pool_inexact ? -1 : 0;
}
