/* Worker intake: validate envelopes, decide against the index, group-commit, ack after COMMIT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_wire.h"
#include "tp_worker.h"

/* ---- replies ---- */

static void reply_free(tp_reply_t *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        free(r->details[i]);
    free(r->details);
    free(r->acks);
    free(r->ackp);
    tp_arena_release(&r->arena); /* the decoded message, all at once */
    free(r);
}

static void reply_send(tp_worker_t *w, tp_reply_t *r)
{
    int wrapped = (r->flags & TP_IPC_F_WHOLE) != 0; /* the supervisor forwards it as is */
    size_t len = tp_wire_put_acks(NULL, wrapped, r->batch_id, r->ackp, r->n);
    uint8_t *buf = xmalloc(len ? len : 1);
    tp_wire_put_acks(buf, wrapped, r->batch_id, r->ackp, r->n);
    tp_worker_send(w, TP_IPC_BATCH_ACKS, r->token, r->flags, buf, len);
    free(buf);
    reply_free(r);
}

/* Decide one ack; sends the reply once every ack is decided. */
void tp_worker_reply_set(tp_worker_t *w, tp_reply_t *r, uint32_t slot,
                         Tenderpool__V1__Status status, const char *code, const char *detail,
                         const char *round_id, uint64_t seq)
{
    Tenderpool__V1__Ack *a = &r->acks[slot];
    tp_ipc_counts_ack(&w->counts, (int)status, code, 1); /* every worker ack passes here */
    a->status = status;
    a->error_code = (char *)(code ? code : "");
    if (detail && *detail) {
        r->details[slot] = xstrdup(detail);
        a->detail = r->details[slot];
    }
    a->round_id = (char *)(round_id ? round_id : "");
    a->server_seq = seq;
    if (--r->pending == 0)
        reply_send(w, r);
}

static tp_reply_t *reply_new(const tp_ipc_hdr_t *hdr, uint32_t n)
{
    tp_reply_t *r = xcalloc(1, sizeof(*r));
    r->token = hdr->token;
    r->flags = hdr->flags;
    r->n = r->pending = n;
    r->acks = xcalloc(n, sizeof(*r->acks));
    r->ackp = xcalloc(n, sizeof(*r->ackp));
    r->details = xcalloc(n, sizeof(*r->details));
    for (uint32_t i = 0; i < n; i++) {
        tenderpool__v1__ack__init(&r->acks[i]);
        r->ackp[i] = &r->acks[i];
    }
    return r;
}

/* ---- content hash: the envelope's operation and every field, as sent ---- */

static uint64_t hash_field(uint64_t h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    h = tp_fnv1a(h, &n, sizeof(n));
    return tp_fnv1a(h, s ? s : "", n);
}

static uint64_t content_hash(const Tenderpool__V1__Envelope *env, const tp_request_t *q)
{
    uint64_t h = tp_fnv1a(TP_FNV_INIT, &q->op, sizeof(q->op));
    h = tp_fnv1a(h, &q->revision, sizeof(q->revision));
    if (q->op == TP_OP_CANCEL)
        return hash_field(h, env->cancel->reason) & INT64_MAX;
    const Tenderpool__V1__PurchaseRequest *p = q->op == TP_OP_SUBMIT ? env->submit : env->amend;
    const char *f[] = {p->cpv,     p->item_key,      p->description, p->quantity,      p->unit,
                       p->need_by, p->delivery_zone, p->currency,    p->max_unit_price};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        h = hash_field(h, f[i]);
    return h & INT64_MAX; /* stored as bigint */
}

/* ---- deciding against the index (provisional state included) ---- */

static tp_outcome_t decide(const tp_worker_t *w, const tp_reqent_t *e, const tp_item_t *it)
{
    const tp_request_t *q = &it->req;
    bool same = e && e->revision == q->revision && e->content_hash == it->content_hash;
    if (e == NULL || e->revision == 0)
        return q->op == TP_OP_SUBMIT ? TP_OUT_WRITE : TP_OUT_UNKNOWN_REQUEST;
    if (same)
        return TP_OUT_DUPLICATE;
    if (q->op != TP_OP_SUBMIT && (e->state == TP_RS_POOLED || e->state == TP_RS_UNPOOLED))
        return TP_OUT_ROUND_CLOSED;
    if (q->op == TP_OP_SUBMIT || e->op == TP_OP_CANCEL || q->revision <= e->revision)
        return TP_OUT_STALE;
    /* Its round is not the one open now: that round is closing (or its close is not applied
     * here yet). What the close pools must not change under it: wait for the reload. */
    if (e->round != w->round_idx)
        return TP_OUT_HOLD;
    return TP_OUT_WRITE;
}

static tp_item_t *group_add(tp_group_t *g)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->items = xrealloc(g->items, g->cap * sizeof(*g->items));
    }
    if (g->n == 0)
        g->first_us = tp_mono_us();
    tp_item_t *it = &g->items[g->n++];
    memset(it, 0, sizeof(*it));
    return it;
}

void tp_worker_refresh_round(tp_worker_t *w, time_t now)
{
    if (w->round.id[0] && now >= w->round.opens_at && now < w->round.closes_at)
        return;
    if (tp_calendar_round_at(&w->cal, now, &w->round) < 0)
        tp_fatal("cannot compute the round at %lld", (long long)now);
    w->round_idx = tp_reqindex_round(w->ix, w->round.id);
}

/* Returns -1 (and answers the item) when no server_seq can be had. */
static int apply_write(tp_worker_t *w, tp_item_t *it, tp_reqent_t *e)
{
    if (tp_store_next_seq(&w->store, &it->server_seq) < 0)
        return -1;
    it->prev_seq = e->server_seq;
    it->prev_hash = e->content_hash;
    it->prev_revision = e->revision;
    it->prev_round = e->round;
    it->prev_op = e->op;
    it->prev_state = e->state;
    e->state = it->req.op == TP_OP_CANCEL ? TP_RS_CANCELLED : TP_RS_OPEN;
    e->server_seq = it->server_seq;
    e->content_hash = it->content_hash;
    e->revision = it->req.revision;
    e->round = w->round_idx;
    e->op = (uint8_t)it->req.op;
    it->round = w->round_idx;
    w->groups[w->building].writes++;
    return 0;
}

/* A resend of an older revision than the latest: DUPLICATE if exactly that envelope is stored
 * (a client that resends a submit after its amend was acked), STALE otherwise. The index keeps
 * only the latest revision, so ask the database (a rare path). */
static void older_revision(tp_worker_t *w, tp_item_t *it)
{
    uint64_t hash, seq;
    char round[TP_ROUND_ID_MAX];
    if (tp_store_revision_lookup(&w->store, it->req.member_id, it->req.request_ref,
                                 it->req.revision, &hash, &seq, round, sizeof(round)) == 1 &&
        hash == it->content_hash) {
        it->outcome = TP_OUT_DUPLICATE;
        it->server_seq = seq;
        it->round = tp_reqindex_round(w->ix, round);
    }
}

/* An item's index key as the batch's prefetch loop computed it, from the envelope's member
 * (or the authenticated one) and its echoed ref. */
typedef struct ixkey {
    const char *member_id, *ref; /* what they were computed from; member_id NULL: not computed */
    uint32_t member, hash;
} ixkey_t;

static void accept_item(tp_worker_t *w, tp_reply_t *r, uint32_t slot,
                        const Tenderpool__V1__Envelope *env, const tp_request_t *q,
                        const ixkey_t *k)
{
    tp_group_t *g = &w->groups[w->building];
    tp_item_t *it = group_add(g);
    it->reply = r;
    it->slot = slot;
    it->req = *q;
    if (k->member_id == q->member_id && k->ref == q->request_ref) { /* the same strings */
        it->member = k->member;
        it->ix_hash = k->hash;
    } else {
        it->member = tp_reqindex_member(w->ix, q->member_id);
        it->ix_hash = tp_reqindex_hash(it->member, q->request_ref);
    }
    it->content_hash = content_hash(env, q);
    tp_reqent_t *e = tp_reqindex_find_hashed(w->ix, it->ix_hash, it->member, q->request_ref);
    it->outcome = decide(w, e, it);
    if (it->outcome == TP_OUT_WRITE) {
        if (e == NULL)
            e = tp_reqindex_upsert_hashed(w->ix, it->ix_hash, it->member, q->request_ref);
        if (apply_write(w, it, e) < 0) {
            g->n--;
            tp_warn("member %s ref %s: no server_seq: %s", q->member_id, q->request_ref,
                    w->store.last_error);
            tp_worker_reply_set(w, r, slot, TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER,
                                "DB_UNAVAILABLE", "database unavailable", NULL, 0);
            if (tp_store_broken(&w->store))
                tp_worker_db_down(w);
        }
    } else if (it->outcome == TP_OUT_DUPLICATE) {
        it->server_seq = e->server_seq;
        it->round = e->round;
    } else if (it->outcome == TP_OUT_STALE && q->revision < e->revision) {
        older_revision(w, it);
    }
}

static void reject_item(tp_worker_t *w, tp_reply_t *r, uint32_t slot, const tp_reject_t *rej,
                        const Tenderpool__V1__Envelope *env)
{
    const char *member = env->member_id && tp_valid_utf8(env->member_id, strlen(env->member_id))
                             ? env->member_id
                             : "?";
    tp_info("member %s ref %s rejected %s: %s", member,
            r->acks[slot].request_ref[0] ? r->acks[slot].request_ref : "?", rej->code, rej->detail);
    tp_worker_reply_set(w, r, slot, TENDERPOOL__V1__STATUS__STATUS_REJECTED, rej->code, rej->detail,
                        NULL, 0);
}

static void echo_ref(Tenderpool__V1__Ack *a, const Tenderpool__V1__Envelope *env)
{
    const char *ref = tp_envelope_ref(env);
    uint32_t rev = tp_envelope_revision(env);
    a->request_ref = (char *)(ref && tp_valid_utf8(ref, strlen(ref)) ? ref : "");
    a->revision = rev;
}

static void fill_validate_ctx(tp_worker_t *w, const tp_ipc_hdr_t *hdr, time_t now,
                              tp_validate_ctx_t *vc)
{
    memset(vc, 0, sizeof(*vc));
    vc->cpv = tp_cpv_set_count(w->cpv) ? w->cpv : NULL;
    tp_calendar_local_date(&w->cal, now, &vc->today_y, &vc->today_m, &vc->today_d);
    vc->member_required = w->cfg.security_mode == TP_SECURITY_NONE;
    vc->auth_member = hdr->auth_member[0] ? hdr->auth_member : NULL;
}

/* This worker's envelopes of the batch (env[i] for item idx[i]; NULL: index out of range) and
 * the name of a string field of each that held a NUL byte (nul[i]). A batch in the plain shape
 * is split on the wire and only these envelopes are decoded (each worker owns about 1/count
 * of them); another shape is decoded whole. -1 when the frame does not decode (the
 * supervisor decoded it: a broken invariant). */
static int decode_owned(tp_reply_t *r, const uint32_t *idx, const uint8_t *payload, size_t len,
                        const Tenderpool__V1__Envelope **env, const char **nul)
{
    ProtobufCAllocator *pb = tp_arena_pb(&r->arena);
    int count = tp_wire_batch_items(payload, len, &r->batch_id, NULL, 0);
    if (count >= 0) {
        tp_wire_span_t *items =
            tp_arena_alloc(&r->arena, (size_t)(count ? count : 1) * sizeof(*items));
        (void)tp_wire_batch_items(payload, len, &r->batch_id, items, (size_t)count);
        for (uint32_t i = 0; i < r->n; i++) {
            if (idx[i] >= (uint32_t)count)
                continue;
            tp_wire_span_t sp = items[idx[i]];
            Tenderpool__V1__Envelope *e;
            if (tp_wire_envelope_decode(sp, &r->arena, &e, &nul[i]) == 1) {
                env[i] = e; /* the plain shape the supervisor routes: one pass */
                continue;
            }
            env[i] = tenderpool__v1__envelope__unpack(pb, sp.len, sp.p);
            if (env[i] == NULL || tp_wire_envelope_nul(sp, &nul[i]) < 0)
                return -1;
        }
        return 0;
    }
    Tenderpool__V1__ClientMessage *m = tenderpool__v1__client_message__unpack(pb, len, payload);
    if (m == NULL || m->kind_case != TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH)
        return -1;
    const Tenderpool__V1__Batch *b = m->batch;
    const char **all = tp_arena_alloc(&r->arena, (b->n_items ? b->n_items : 1) * sizeof(*all));
    if (tp_wire_nul_fields(payload, len, all, b->n_items, NULL) < 0)
        return -1; /* never for a frame protobuf-c decodes (fuzzed): NULs would go unchecked */
    r->batch_id = b->batch_id;
    for (uint32_t i = 0; i < r->n; i++)
        if (idx[i] < b->n_items) {
            env[i] = b->items[idx[i]];
            nul[i] = all[idx[i]];
        }
    return 0;
}

void tp_worker_handle_batch(tp_worker_t *w, const tp_ipc_hdr_t *hdr, const uint32_t *idx,
                            const void *payload, size_t len)
{
    tp_reply_t *r = reply_new(hdr, hdr->nidx);
    uint32_t n = r->n; /* the last reply_set frees r */
    /* protobuf-c allocates each field: from one arena (about 3x the wire size) instead */
    tp_arena_init(&r->arena, 3 * len + 1024);
    const Tenderpool__V1__Envelope **env = tp_arena_alloc(&r->arena, (n ? n : 1) * sizeof(*env));
    const char **nul = tp_arena_alloc(&r->arena, (n ? n : 1) * sizeof(*nul));
    memset(env, 0, (n ? n : 1) * sizeof(*env));
    memset(nul, 0, (n ? n : 1) * sizeof(*nul));
    if (decode_owned(r, idx, payload, len, env, nul) < 0) {
        tp_err("supervisor sent an undecodable batch (token %llu)", (unsigned long long)hdr->token);
        for (uint32_t i = 0; i < n; i++)
            tp_worker_reply_set(w, r, i, TENDERPOOL__V1__STATUS__STATUS_REJECTED, "MALFORMED",
                                "undecodable message", NULL, 0);
        if (n == 0)
            reply_send(w, r);
        return;
    }
    time_t now = time(NULL);
    tp_worker_refresh_round(w, now);
    tp_validate_ctx_t vc;
    fill_validate_ctx(w, hdr, now, &vc);
    /* each item's index slot is a cache miss in a table of ~100 MB: start them all now */
    ixkey_t *keys = tp_arena_alloc(&r->arena, (n ? n : 1) * sizeof(*keys));
    const char *last = NULL; /* a batch's items usually share their member */
    uint32_t last_ix = 0;
    for (uint32_t i = 0; i < n; i++) {
        keys[i].member_id = NULL;
        if (env[i] == NULL)
            continue;
        echo_ref(&r->acks[i], env[i]);
        const char *member = vc.auth_member ? vc.auth_member : env[i]->member_id;
        if (member == NULL || member[0] == '\0')
            continue;
        if (last == NULL || strcmp(last, member) != 0) {
            last = member;
            last_ix = tp_reqindex_member_find(w->ix, member); /* interned once it is valid */
        }
        if (last_ix == UINT32_MAX)
            continue;
        keys[i] = (ixkey_t){.member_id = member,
                            .ref = r->acks[i].request_ref,
                            .member = last_ix,
                            .hash = tp_reqindex_hash(last_ix, r->acks[i].request_ref)};
        tp_reqindex_prefetch_hashed(w->ix, keys[i].hash, 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (env[i] == NULL) {
            tp_worker_reply_set(w, r, i, TENDERPOOL__V1__STATUS__STATUS_REJECTED, "MALFORMED",
                                "item index out of range", NULL, 0);
            continue;
        }
        tp_request_t q;
        tp_reject_t rej;
        /* protobuf-c hands strings over up to their first NUL: the wire walk found the ones
         * that had more */
        if (nul[i] != NULL) {
            rej.code = "INVALID_FIELD";
            snprintf(rej.detail, sizeof(rej.detail), "%s: contains a NUL byte", nul[i]);
            reject_item(w, r, i, &rej, env[i]);
        } else if (tp_validate_envelope(&vc, env[i], &q, &rej) < 0)
            reject_item(w, r, i, &rej, env[i]);
        else if (!tp_store_up(&w->store))
            tp_worker_reply_set(w, r, i, TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER,
                                "DB_UNAVAILABLE", "database unavailable; resend later", NULL, 0);
        else
            accept_item(w, r, i, env[i], &q, &keys[i]);
    }
    if (n == 0)
        reply_send(w, r);
    tp_worker_maybe_commit(w);
}

/* ---- group commit ---- */

void tp_worker_encode_item(tp_copybuf_t *b, const tp_worker_t *w, const tp_item_t *it,
                           int64_t now_us)
{
    const tp_request_t *q = &it->req;
    tp_copybuf_row(b, 19);
    tp_copybuf_text(b, q->member_id);
    tp_copybuf_text(b, q->request_ref);
    tp_copybuf_int4(b, (int32_t)q->revision);
    tp_copybuf_int2(b, (int16_t)q->op);
    tp_copybuf_int8(b, (int64_t)it->server_seq);
    tp_copybuf_text(b, tp_reqindex_round_name(w->ix, it->round));
    tp_copybuf_timestamptz(b, now_us);
    tp_copybuf_int8(b, (int64_t)it->content_hash);
    if (q->op == TP_OP_CANCEL) {
        for (int i = 0; i < 10; i++)
            tp_copybuf_null(b);
        tp_copybuf_text(b, q->reason ? q->reason : "");
        return;
    }
    tp_copybuf_text(b, q->cpv);
    tp_copybuf_text(b, q->item_key);
    tp_copybuf_text(b, q->description ? q->description : "");
    tp_copybuf_numeric(b, &q->quantity);
    tp_copybuf_text(b, q->unit->code);
    tp_copybuf_numeric(b, &q->base_quantity);
    tp_copybuf_date(b, tp_days_from_civil(q->need_by_y, q->need_by_m, q->need_by_d));
    tp_copybuf_text(b, q->delivery_zone);
    tp_copybuf_text(b, q->currency);
    if (q->has_max_price)
        tp_copybuf_numeric(b, &q->max_unit_price);
    else
        tp_copybuf_null(b);
    tp_copybuf_null(b);
}

/* Every round a write refers to must have its row before the rows that name it. */
static int ensure_rounds(tp_worker_t *w, tp_group_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        const tp_item_t *it = &g->items[i];
        if (it->outcome != TP_OUT_WRITE)
            continue;
        const char *rid = tp_reqindex_round_name(w->ix, it->round);
        if (strcmp(rid, w->ensured_round) == 0)
            continue;
        tp_round_span_t span;
        if (strcmp(rid, w->round.id) == 0)
            span = w->round;
        else if (tp_calendar_round_at(&w->cal, w->round.opens_at - 1, &span) < 0 ||
                 strcmp(span.id, rid) != 0)
            continue; /* an older round: its row was ensured when it was current */
        if (tp_store_ensure_round(&w->store, &span) < 0)
            return -1;
        snprintf(w->ensured_round, sizeof(w->ensured_round), "%s", rid);
    }
    return 0;
}

static void resolve_ok(tp_worker_t *w, tp_item_t *it)
{
    const char *rid = tp_reqindex_round_name(w->ix, it->round);
    switch (it->outcome) {
    case TP_OUT_WRITE:
        w->n_accepted++;
        tp_worker_pool_committed(w, it);
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED, NULL,
                            NULL, rid, it->server_seq);
        break;
    case TP_OUT_DUPLICATE:
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_DUPLICATE, NULL,
                            NULL, rid, it->server_seq);
        break;
    case TP_OUT_STALE:
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_STALE, NULL,
                            "request_ref: the stored revision is equal or higher, or cancelled",
                            NULL, 0);
        break;
    case TP_OUT_UNKNOWN_REQUEST:
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_REJECTED,
                            "UNKNOWN_REQUEST", "request_ref: no stored request with this ref", NULL,
                            0);
        break;
    case TP_OUT_ROUND_CLOSED:
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_REJECTED,
                            "ROUND_CLOSED", "request_ref: the request's round is closed", NULL, 0);
        break;
    case TP_OUT_HOLD:
        tp_worker_reply_set(w, it->reply, it->slot, TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER,
                            "OVERLOADED", "request_ref: its round is closing; resend in a moment",
                            NULL, 0);
        break;
    }
}

static void group_reset(tp_group_t *g)
{
    g->n = 0;
    g->writes = 0;
}

/* Pool updates after a commit touch, per item, an index entry and a lot aggregate scattered in
 * memory (cache misses): item i + PREFETCH_D[s] gets prefetch stage s while item i is done. */
static const size_t PREFETCH_D[] = {8, 4, 2};

static void group_resolve_ok(tp_worker_t *w, tp_group_t *g)
{
    for (int s = 0; s < 3; s++)
        for (size_t j = 0; j < PREFETCH_D[s] && j < g->n; j++)
            tp_worker_pool_prefetch(w, &g->items[j], s);
    for (size_t i = 0; i < g->n; i++) {
        for (int s = 0; s < 3; s++)
            if (i + PREFETCH_D[s] < g->n)
                tp_worker_pool_prefetch(w, &g->items[i + PREFETCH_D[s]], s);
        resolve_ok(w, &g->items[i]);
    }
    group_reset(g);
}

void tp_worker_maybe_commit(tp_worker_t *w)
{
    tp_group_t *g = &w->groups[w->building];
    if (w->committing || g->n == 0 || !tp_store_idle(&w->store))
        return;
    if (tp_worker_gather_us(w, tp_mono_us()) > 0)
        return;
    if (g->writes == 0) { /* nothing to store: every answer is already final */
        group_resolve_ok(w, g);
        return;
    }
    if (ensure_rounds(w, g) < 0) {
        tp_warn("cannot record the open round: %s", w->store.last_error);
        tp_worker_db_down(w);
        return;
    }
    int64_t now_us = tp_now_ms() * 1000;
    tp_copybuf_reset(&g->buf);
    for (size_t i = 0; i < g->n; i++)
        if (g->items[i].outcome == TP_OUT_WRITE)
            tp_worker_encode_item(&g->buf, w, &g->items[i], now_us);
    tp_copybuf_finish(&g->buf);
    if (tp_store_commit_begin(&w->store, &g->buf) < 0) {
        tp_warn("cannot start a commit: %s", w->store.last_error);
        tp_worker_db_down(w);
        return;
    }
    w->committing = true;
    w->commit_started_ms = tp_mono_ms();
    w->commit_started_us = tp_mono_us();
    w->building = !w->building;
}

void tp_worker_undo_group(tp_worker_t *w, tp_group_t *g)
{
    for (size_t i = g->n; i-- > 0;) {
        tp_item_t *it = &g->items[i];
        if (it->outcome != TP_OUT_WRITE)
            continue;
        tp_reqent_t *e = tp_reqindex_find(w->ix, it->member, it->req.request_ref);
        if (e == NULL)
            continue;
        e->server_seq = it->prev_seq;
        e->content_hash = it->prev_hash;
        e->revision = it->prev_revision;
        e->round = it->prev_round;
        e->op = it->prev_op;
        e->state = it->prev_state;
    }
}

void tp_worker_fail_group(tp_worker_t *w, tp_group_t *g, const char *code, const char *detail)
{
    for (size_t i = 0; i < g->n; i++)
        tp_worker_reply_set(w, g->items[i].reply, g->items[i].slot,
                            TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER, code, detail, NULL, 0);
    group_reset(g);
}

void tp_worker_fail_all(tp_worker_t *w, const char *code, const char *detail)
{
    tp_group_t *building = &w->groups[w->building];
    tp_group_t *running = &w->groups[!w->building];
    /* newest first: the building group was decided on top of the running one */
    tp_worker_undo_group(w, building);
    if (w->committing)
        tp_worker_undo_group(w, running);
    tp_worker_fail_group(w, building, code, detail);
    if (w->committing)
        tp_worker_fail_group(w, running, code, detail);
    w->committing = false;
}

int64_t tp_worker_gather_us(const tp_worker_t *w, int64_t now_us)
{
    const tp_group_t *g = &w->groups[w->building];
    return tp_gather_wait_us(w->committing, g->n, g->first_us, w->commit_ended_us, now_us);
}

void tp_worker_commit_done(tp_worker_t *w, tp_commit_result_t res)
{
    tp_group_t *running = &w->groups[!w->building];
    if (res == TP_COMMIT_OK) {
        w->committing = false;
        w->n_commits++;
        w->commit_ended_us = tp_mono_us();
        tp_ipc_counts_commit(&w->counts, w->commit_ended_us - w->commit_started_us);
        tp_debug("committed %zu rows in %lld ms", running->writes,
                 (long long)(tp_mono_ms() - w->commit_started_ms));
        group_resolve_ok(w, running);
        tp_worker_maybe_commit(w);
        return;
    }
    tp_warn("group commit of %zu rows failed: %s", running->writes, w->store.last_error);
    if (tp_worker_isolatable(&w->store)) {
        tp_worker_isolate(w); /* the content was refused: find the rows, keep the others */
        return;
    }
    tp_worker_fail_all(w, "DB_UNAVAILABLE", "database unavailable; resend later");
}
