/* A group commit refused for its content: bisect to the refused rows, commit and ack the rest. */
#include <stdlib.h>
#include <string.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_worker.h"

typedef enum verdict { V_PENDING, V_ACCEPTED, V_REJECTED, V_RETRY } verdict_t;

typedef struct isolation {
    tp_worker_t *w;
    tp_group_t *g;
    verdict_t *v;
    char **why;
    bool lost;
    int64_t now_us;
} isolation_t;

bool tp_worker_isolatable(const tp_store_t *st)
{
    const char *s = st->last_sqlstate;
    return s[0] == '2' && (s[1] == '2' || s[1] == '3') && strcmp(s, "23505") != 0;
}

static const tp_group_t *sort_group;

static int by_request(const void *a, const void *b)
{
    const tp_item_t *x = &sort_group->items[*(const size_t *)a];
    const tp_item_t *y = &sort_group->items[*(const size_t *)b];
    if (x->member != y->member)
        return x->member < y->member ? -1 : 1;
    return strcmp(x->req.request_ref, y->req.request_ref);
}

/* Writes to a request that has several in the group wait for a resend: committed one by one,
 * a later revision could be stored while an earlier one is refused. */
static void mark_repeated(isolation_t *is, size_t *idx, size_t n)
{
    sort_group = is->g;
    qsort(idx, n, sizeof(*idx), by_request);
    for (size_t i = 1; i < n; i++)
        if (by_request(&idx[i - 1], &idx[i]) == 0)
            is->v[idx[i - 1]] = is->v[idx[i]] = V_RETRY;
}

static void bisect(isolation_t *is, const size_t *idx, size_t n)
{
    if (n == 0 || is->lost)
        return;
    tp_copybuf_t buf = {0};
    tp_copybuf_reset(&buf);
    for (size_t i = 0; i < n; i++)
        tp_worker_encode_item(&buf, is->w, &is->g->items[idx[i]], is->now_us);
    tp_copybuf_finish(&buf);
    int rc = tp_store_copy_sync(&is->w->store, &buf);
    tp_copybuf_free(&buf);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            is->v[idx[i]] = V_ACCEPTED;
    } else if (rc < 0 || !tp_worker_isolatable(&is->w->store)) {
        is->lost = true; /* the remaining rows are answered RETRY_LATER */
    } else if (n == 1) {
        is->v[idx[0]] = V_REJECTED;
        is->why[idx[0]] = xstrdup(is->w->store.last_error);
    } else {
        bisect(is, idx, n / 2);
        bisect(is, idx + n / 2, n - n / 2);
    }
}

static void reapply(tp_worker_t *w, const tp_item_t *it)
{
    tp_reqent_t *e = tp_reqindex_find(w->ix, it->member, it->req.request_ref);
    if (e == NULL)
        return;
    e->server_seq = it->server_seq;
    e->content_hash = it->content_hash;
    e->revision = it->req.revision;
    e->round = it->round;
    e->op = (uint8_t)it->req.op;
    e->state = it->req.op == TP_OP_CANCEL ? TP_RS_CANCELLED : TP_RS_OPEN;
}

static void answer(isolation_t *is, size_t i)
{
    tp_worker_t *w = is->w;
    tp_item_t *it = &is->g->items[i];
    char detail[160];
    switch (is->v[i]) {
    case V_ACCEPTED:
        reapply(w, it);
        tp_worker_pool_committed(w, it);
        w->n_accepted++;
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED, NULL,
                            NULL, tp_reqindex_round_name(w->ix, it->round), it->server_seq);
        break;
    case V_REJECTED:
        tp_warn("member %s ref %s: row refused by the database: %s", it->req.member_id,
                it->req.request_ref, is->why[i]);
        snprintf(detail, sizeof(detail), "request: the database refused the row: %.100s",
                 is->why[i]);
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_REJECTED,
                            "INVALID_FIELD", detail, NULL, 0);
        break;
    default:
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER,
                            is->lost ? "DB_UNAVAILABLE" : "OVERLOADED", "resend later", NULL, 0);
    }
}

void tp_worker_isolate(tp_worker_t *w)
{
    tp_group_t *building = &w->groups[w->building];
    tp_group_t *running = &w->groups[!w->building];
    /* newest first; the building group was decided on top of the refused one: resent later */
    tp_worker_undo_group(w, building);
    tp_worker_undo_group(w, running);
    tp_worker_fail_group(w, building, "OVERLOADED", "resend later");
    w->committing = false;
    isolation_t is = {.w = w, .g = running, .now_us = tp_now_ms() * 1000};
    is.v = xcalloc(running->n, sizeof(*is.v));
    is.why = xcalloc(running->n, sizeof(*is.why));
    size_t *idx = xcalloc(running->n, sizeof(*idx)), n = 0;
    for (size_t i = 0; i < running->n; i++) {
        if (running->items[i].outcome == TP_OUT_WRITE)
            idx[n++] = i;
        else
            is.v[i] = V_RETRY; /* decided against rows that may now be refused */
    }
    mark_repeated(&is, idx, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) /* the candidates are distinct requests: order is free */
        if (is.v[idx[i]] == V_PENDING)
            idx[k++] = idx[i];
    bisect(&is, idx, k);
    for (size_t i = 0; i < running->n; i++)
        answer(&is, i);
    for (size_t i = 0; i < running->n; i++)
        free(is.why[i]);
    free(is.why);
    free(is.v);
    free(idx);
    running->n = running->writes = 0;
    if (is.lost)
        tp_worker_db_down(w);
}
