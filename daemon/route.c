/* Supervisor routing: decode client messages, split items by (member, ref) owner, merge acks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_supervisor.h"
#include "tp_validate.h"

int64_t tp_sup_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- replies to clients ---- */

static void send_client(tp_supervisor_t *s, const uint8_t *id, size_t idlen, const void *buf,
                        size_t len)
{
    if (s->intake == NULL || zmq_send(s->intake, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s->intake, buf, len, ZMQ_DONTWAIT) < 0) {
        s->n_dropped_replies++;
        tp_debug("reply dropped: client gone or not reading (%s)", zmq_strerror(errno));
    }
}

static void send_server_message(tp_supervisor_t *s, const uint8_t *id, size_t idlen,
                                const Tenderpool__V1__ServerMessage *sm)
{
    size_t len = tenderpool__v1__server_message__get_packed_size(sm);
    uint8_t *buf = xmalloc(len);
    tenderpool__v1__server_message__pack(sm, buf);
    send_client(s, id, idlen, buf, len);
    free(buf);
}

static void send_batch_ack(tp_supervisor_t *s, const uint8_t *id, size_t idlen, uint64_t batch_id,
                           Tenderpool__V1__Ack **acks, size_t n)
{
    Tenderpool__V1__BatchAck ba = TENDERPOOL__V1__BATCH_ACK__INIT;
    ba.batch_id = batch_id;
    ba.n_acks = n;
    ba.acks = acks;
    Tenderpool__V1__ServerMessage sm = TENDERPOOL__V1__SERVER_MESSAGE__INIT;
    sm.kind_case = TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK;
    sm.batch_ack = &ba;
    send_server_message(s, id, idlen, &sm);
}

/* A whole message refused: one ack (MALFORMED) or one per envelope (BATCH_TOO_LARGE, ...). */
static void refuse_message(tp_supervisor_t *s, const uint8_t *id, size_t idlen,
                           const Tenderpool__V1__Batch *b, Tenderpool__V1__Status st,
                           const char *code, const char *detail)
{
    size_t n = b && b->n_items ? b->n_items : 1;
    Tenderpool__V1__Ack *acks = xcalloc(n, sizeof(*acks));
    Tenderpool__V1__Ack **ackp = xcalloc(n, sizeof(*ackp));
    tp_metrics_acks(s->metrics, (int)st, code, n);
    for (size_t i = 0; i < n; i++) {
        tenderpool__v1__ack__init(&acks[i]);
        acks[i].status = st;
        acks[i].error_code = (char *)code;
        acks[i].detail = (char *)detail;
        ackp[i] = &acks[i];
    }
    if (b && b->n_items) /* echo refs so the client knows which items */
        for (size_t i = 0; i < n; i++) {
            const char *ref = tp_envelope_ref(b->items[i]);
            acks[i].request_ref = (char *)(tp_valid_utf8(ref, strlen(ref)) ? ref : "");
            acks[i].revision = tp_envelope_revision(b->items[i]);
        }
    send_batch_ack(s, id, idlen, b ? b->batch_id : 0, ackp, n);
    free(acks);
    free(ackp);
}

/* ---- pending table ---- */

static tp_pending_t *pending_new(tp_supervisor_t *s)
{
    if (s->free_head < 0) {
        int32_t old = s->cappend;
        s->cappend = old ? old * 2 : 256;
        s->pend = xrealloc(s->pend, (size_t)s->cappend * sizeof(*s->pend));
        memset(s->pend + old, 0, (size_t)(s->cappend - old) * sizeof(*s->pend));
        for (int32_t i = s->cappend - 1; i >= old; i--) {
            s->pend[i].next_free = s->free_head;
            s->free_head = i;
        }
    }
    int32_t slot = s->free_head;
    tp_pending_t *p = &s->pend[slot];
    s->free_head = p->next_free;
    memset(p, 0, sizeof(*p));
    if (++s->gen == 0)
        s->gen = 1;
    p->token = ((uint64_t)s->gen << 32) | (uint32_t)slot;
    s->npend++;
    return p;
}

static tp_pending_t *pending_find(tp_supervisor_t *s, uint64_t token)
{
    uint32_t slot = (uint32_t)token;
    if (slot >= (uint32_t)s->cappend || s->pend[slot].token != token)
        return NULL;
    return &s->pend[slot];
}

static void pending_free(tp_supervisor_t *s, tp_pending_t *p)
{
    tp_arena_release(&p->arena);
    s->in_flight_items -= p->nitems;
    int32_t slot = (int32_t)(uint32_t)p->token;
    memset(p, 0, sizeof(*p));
    p->next_free = s->free_head;
    s->free_head = slot;
    s->npend--;
}

/* The client's BatchAck, spliced from the encoded acks (the workers' answers are not decoded). */
static void pending_complete(tp_supervisor_t *s, tp_pending_t *p)
{
    size_t len = tp_wire_put_batch_ack(NULL, p->batch_id, p->acks, p->nitems);
    uint8_t *buf = xmalloc(len);
    tp_wire_put_batch_ack(buf, p->batch_id, p->acks, p->nitems);
    send_client(s, p->client, p->client_len, buf, len);
    free(buf);
    pending_free(s, p);
}

/* ---- forwarding to workers ---- */

static int send_worker(tp_supervisor_t *s, uint32_t w, const tp_ipc_hdr_t *h, const uint32_t *idx,
                       zmq_msg_t *payload)
{
    char id[16];
    int n = snprintf(id, sizeof(id), "w%u", w);
    size_t hlen = sizeof(*h) + h->nidx * sizeof(uint32_t);
    uint8_t *hb = xmalloc(hlen);
    memcpy(hb, h, sizeof(*h));
    if (h->nidx)
        memcpy(hb + sizeof(*h), idx, h->nidx * sizeof(uint32_t));
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, payload); /* shares the buffer: no byte copy */
    int rc = -1;
    if (s->w[w].ready && zmq_send(s->wsock, id, (size_t)n, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
        zmq_send(s->wsock, hb, hlen, ZMQ_SNDMORE) >= 0 && zmq_msg_send(&copy, s->wsock, 0) >= 0)
        rc = 0;
    if (rc < 0)
        zmq_msg_close(&copy);
    free(hb);
    return rc;
}

/* The decoded message of a batch routed from the wire, decoded now (a rare path: an ack the
 * supervisor makes itself). NULL if it does not decode (the workers decode the same bytes). */
static const Tenderpool__V1__Batch *pending_batch(tp_pending_t *p)
{
    if (p->msg == NULL && p->raw != NULL) {
        p->msg = tenderpool__v1__client_message__unpack(tp_arena_pb(&p->arena), p->raw_len, p->raw);
        p->raw = NULL; /* once: a frame that does not decode is not retried per item */
    }
    return p->msg && p->msg->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH ? p->msg->batch
                                                                                     : NULL;
}

/* Items a worker could not take are answered here, RETRY_LATER: nothing was stored. */
static void own_ack(tp_supervisor_t *s, tp_pending_t *p, uint32_t i, const char *code,
                    const char *detail)
{
    Tenderpool__V1__Ack a = TENDERPOOL__V1__ACK__INIT;
    tp_metrics_acks(s->metrics, TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER, code, 1);
    const Tenderpool__V1__Batch *b = pending_batch(p);
    const Tenderpool__V1__Envelope *e = b && i < b->n_items ? b->items[i] : NULL;
    const char *ref = e ? tp_envelope_ref(e) : "";
    a.request_ref = (char *)(tp_valid_utf8(ref, strlen(ref)) ? ref : "");
    a.revision = e ? tp_envelope_revision(e) : 0;
    a.status = TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER;
    a.error_code = (char *)code;
    a.detail = (char *)detail;
    size_t len = tenderpool__v1__ack__get_packed_size(&a);
    uint8_t *buf = tp_arena_alloc(&p->arena, len);
    tenderpool__v1__ack__pack(&a, buf);
    p->acks[i] = (tp_wire_span_t){buf, len};
}

static void fail_part(tp_supervisor_t *s, tp_pending_t *p, uint32_t w)
{
    for (uint32_t i = 0; i < p->nitems; i++)
        if (p->owner[i] == w)
            own_ack(s, p, i, "OVERLOADED", "worker unavailable; resend later");
    p->part_mask &= ~(1ULL << w);
    p->parts_left--;
}

/* Sends each worker its items of pending batch p (p->owner set), or answers for it. */
static void dispatch(tp_supervisor_t *s, tp_pending_t *p, zmq_msg_t *raw, const char *auth)
{
    uint32_t nw = (uint32_t)s->cfg.worker_count;
    uint32_t counts[TP_MAX_WORKERS] = {0};
    for (uint32_t i = 0; i < p->nitems; i++)
        counts[p->owner[i]]++;
    uint32_t *idx = xmalloc(p->nitems * sizeof(uint32_t));
    for (uint32_t w = 0; w < nw; w++) {
        if (counts[w] == 0)
            continue;
        uint32_t k = 0;
        for (uint32_t i = 0; i < p->nitems; i++)
            if (p->owner[i] == w)
                idx[k++] = i;
        tp_ipc_hdr_t h = {.magic = TP_IPC_MAGIC,
                          .type = TP_IPC_BATCH,
                          .token = p->token,
                          .nidx = k,
                          .flags = counts[w] == p->nitems ? TP_IPC_F_WHOLE : 0};
        snprintf(h.auth_member, sizeof(h.auth_member), "%s", auth);
        p->part_mask |= 1ULL << w;
        p->parts_left++;
        if (send_worker(s, w, &h, idx, raw) < 0)
            fail_part(s, p, w);
    }
    free(idx);
    if (p->parts_left == 0)
        pending_complete(s, p);
}

/* A new pending batch of n items owning arena ar. */
static tp_pending_t *pending_batch_new(tp_supervisor_t *s, const uint8_t *id, size_t idlen,
                                       tp_arena_t *ar, uint32_t n, uint64_t batch_id)
{
    tp_pending_t *p = pending_new(s);
    memcpy(p->client, id, idlen);
    p->client_len = idlen;
    p->arena = *ar; /* the pending entry owns it now */
    p->nitems = n;
    p->batch_id = batch_id;
    p->owner = tp_arena_alloc(&p->arena, n);
    p->acks = tp_arena_alloc(&p->arena, n * sizeof(*p->acks));
    memset(p->acks, 0, n * sizeof(*p->acks));
    s->in_flight_items += n;
    return p;
}

/* Why a batch of n items from rate_key is not taken now (NULL: taken; the member's tokens are
 * spent), with the status to answer. */
static const char *admit(tp_supervisor_t *s, const char *rate_key, uint32_t n,
                         Tenderpool__V1__Status *st, const char **detail)
{
    *st = TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER;
    if (!tp_rate_take(s, rate_key, n, tp_sup_now_ms())) {
        *detail = "member: above [limits] member_rate; resend later";
        return "RATE_LIMITED";
    }
    if (s->in_flight_items + (int64_t)n > s->cfg.max_in_flight || s->draining) {
        *detail = s->draining ? "server shutting down; resend later"
                              : "too many requests in flight; resend later";
        return "OVERLOADED";
    }
    return NULL;
}

static void route_batch(tp_supervisor_t *s, const uint8_t *id, size_t idlen,
                        Tenderpool__V1__ClientMessage *m, tp_arena_t *ar, zmq_msg_t *raw,
                        const char *auth)
{
    Tenderpool__V1__Batch *b = m->batch;
    uint32_t nw = (uint32_t)s->cfg.worker_count;
    if (b->n_items == 0 || b->n_items > (size_t)s->cfg.max_batch_items) {
        char detail[96];
        snprintf(detail, sizeof(detail), "batch: %zu items; 1 to %d allowed", b->n_items,
                 s->cfg.max_batch_items);
        refuse_message(s, id, idlen, b, TENDERPOOL__V1__STATUS__STATUS_REJECTED,
                       b->n_items ? "BATCH_TOO_LARGE" : "MALFORMED", detail);
        tp_arena_release(ar);
        return;
    }
    /* the member's token bucket: the authenticated member, or in mode none the first
     * envelope's member_id (a batch normally carries one member's requests) */
    const char *rate_key = auth[0] ? auth : b->items[0]->member_id ? b->items[0]->member_id : "";
    Tenderpool__V1__Status st;
    const char *detail, *code = admit(s, rate_key, (uint32_t)b->n_items, &st, &detail);
    if (code != NULL) {
        refuse_message(s, id, idlen, b, st, code, detail);
        tp_arena_release(ar);
        return;
    }
    tp_pending_t *p = pending_batch_new(s, id, idlen, ar, (uint32_t)b->n_items, b->batch_id);
    p->msg = m;
    for (uint32_t i = 0; i < p->nitems; i++) {
        const Tenderpool__V1__Envelope *e = b->items[i];
        const char *member = auth[0] ? auth : e->member_id;
        p->owner[i] = (uint8_t)tp_route_worker(member, tp_envelope_ref(e), nw);
    }
    dispatch(s, p, raw, auth);
}

/* A batch in the plain shape, routed from its bytes without decoding it (the workers decode
 * their envelopes). 0 when it is not that shape: the caller decodes it whole and route_batch
 * answers as always (ar keeps what was allocated here, released with it); 1 when routed or
 * refused. */
static int route_plain(tp_supervisor_t *s, const uint8_t *id, size_t idlen, tp_arena_t *ar,
                       zmq_msg_t *raw, const char *auth)
{
    const uint8_t *data = zmq_msg_data(raw);
    size_t len = zmq_msg_size(raw);
    uint64_t batch_id;
    int n = tp_wire_batch_items(data, len, &batch_id, NULL, 0);
    if (n <= 0 || n > s->cfg.max_batch_items)
        return 0;
    tp_wire_span_t *items = tp_arena_alloc(ar, (size_t)n * 3 * sizeof(*items));
    tp_wire_span_t *member = items + n, *ref = items + 2 * n;
    (void)tp_wire_batch_items(data, len, &batch_id, items, (size_t)n);
    for (int i = 0; i < n; i++)
        if (tp_wire_envelope_route(items[i], &member[i], &ref[i]) != 1)
            return 0;
    const char *rate_key = auth; /* as route_batch: else the first envelope's member_id */
    if (!auth[0]) {
        char *first = tp_arena_alloc(ar, member[0].len + 1);
        memcpy(first, member[0].p, member[0].len);
        first[member[0].len] = '\0';
        rate_key = first;
    }
    Tenderpool__V1__Status st;
    const char *detail, *code = admit(s, rate_key, (uint32_t)n, &st, &detail);
    if (code != NULL) { /* refused: decoded whole, to echo every item's ref */
        Tenderpool__V1__ClientMessage *m =
            tenderpool__v1__client_message__unpack(tp_arena_pb(ar), len, data);
        refuse_message(s, id, idlen, m ? m->batch : NULL, st, code, detail);
        tp_arena_release(ar);
        return 1;
    }
    uint8_t *copy = tp_arena_alloc(ar, len);
    memcpy(copy, data, len);
    tp_pending_t *p = pending_batch_new(s, id, idlen, ar, (uint32_t)n, batch_id);
    p->raw = copy;
    p->raw_len = len;
    tp_wire_span_t authed = {(const uint8_t *)auth, strlen(auth)};
    for (int i = 0; i < n; i++) {
        const tp_wire_span_t *m = auth[0] ? &authed : &member[i]; /* as route_batch */
        p->owner[i] = (uint8_t)tp_route_worker_n((const char *)m->p, m->len, (const char *)ref[i].p,
                                                 ref[i].len, (uint32_t)s->cfg.worker_count);
    }
    dispatch(s, p, raw, auth);
    return 1;
}

static void route_status(tp_supervisor_t *s, const uint8_t *id, size_t idlen,
                         Tenderpool__V1__ClientMessage *m, tp_arena_t *ar, zmq_msg_t *raw,
                         const char *auth)
{
    const char *member = auth[0] ? auth : m->status->member_id;
    uint32_t w = tp_route_worker(member, "", (uint32_t)s->cfg.worker_count);
    tp_pending_t *p = pending_new(s);
    memcpy(p->client, id, idlen);
    p->client_len = idlen;
    p->is_status = true;
    p->query_id = m->status->query_id;
    p->part_mask = 1ULL << w;
    p->parts_left = 1;
    tp_ipc_hdr_t h = {.magic = TP_IPC_MAGIC, .type = TP_IPC_STATUS, .token = p->token};
    snprintf(h.auth_member, sizeof(h.auth_member), "%s", auth);
    if (send_worker(s, w, &h, NULL, raw) < 0) {
        Tenderpool__V1__StatusReply sr = TENDERPOOL__V1__STATUS_REPLY__INIT;
        sr.query_id = m->status->query_id;
        sr.error_code = "OVERLOADED";
        sr.detail = "worker unavailable; retry later";
        Tenderpool__V1__ServerMessage sm = TENDERPOOL__V1__SERVER_MESSAGE__INIT;
        sm.kind_case = TENDERPOOL__V1__SERVER_MESSAGE__KIND_STATUS;
        sm.status = &sr;
        send_server_message(s, id, idlen, &sm);
        pending_free(s, p);
    }
    tp_arena_release(ar);
}

static void drain_frames(void *sock)
{
    int more = 1;
    size_t len = sizeof(more);
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t x;
        zmq_msg_init(&x);
        zmq_msg_recv(&x, sock, 0);
        zmq_msg_close(&x);
        len = sizeof(more);
    }
}

void tp_route_client_message(tp_supervisor_t *s)
{
    zmq_msg_t idm, raw;
    zmq_msg_init(&idm);
    zmq_msg_init(&raw);
    if (zmq_msg_recv(&idm, s->intake, ZMQ_DONTWAIT) < 0)
        goto out;
    if (!zmq_msg_more(&idm) || zmq_msg_recv(&raw, s->intake, 0) < 0)
        goto out;
    s->n_messages++;
    uint8_t id[256];
    size_t idlen = zmq_msg_size(&idm) < sizeof(id) ? zmq_msg_size(&idm) : sizeof(id);
    memcpy(id, zmq_msg_data(&idm), idlen);
    if (zmq_msg_more(&raw)) {
        drain_frames(s->intake);
        refuse_message(s, id, idlen, NULL, TENDERPOOL__V1__STATUS__STATUS_REJECTED, "MALFORMED",
                       "message: exactly one frame expected");
        goto out;
    }
    /* curve mode: ZAP set the authenticated member as the message's User-Id */
    const char *auth = "";
    if (s->auth != NULL) {
        const char *uid = zmq_msg_gets(&raw, "User-Id");
        if (uid == NULL || uid[0] == '\0') {
            tp_err("message without an authenticated member dropped (ZAP not enforced?)");
            goto out;
        }
        if (!tp_auth_member_active(s, uid)) {
            refuse_message(s, id, idlen, NULL, TENDERPOOL__V1__STATUS__STATUS_REJECTED,
                           "UNAUTHENTICATED", "member: its key was revoked or replaced");
            goto out;
        }
        auth = uid;
    }
    /* one arena per message: a plain batch needs its copy, spans and the workers' acks (about
     * 2x the wire size); a full decode (about 3x) takes a second chunk */
    tp_arena_t ar;
    tp_arena_init(&ar, 2 * zmq_msg_size(&raw) + 4096);
    if (route_plain(s, id, idlen, &ar, &raw, auth))
        goto out;
    Tenderpool__V1__ClientMessage *m = tenderpool__v1__client_message__unpack(
        tp_arena_pb(&ar), zmq_msg_size(&raw), zmq_msg_data(&raw));
    if (m == NULL || m->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND__NOT_SET) {
        refuse_message(s, id, idlen, NULL, TENDERPOOL__V1__STATUS__STATUS_REJECTED, "MALFORMED",
                       m ? "message: neither a batch nor a status query"
                         : "message: not a decodable tenderpool.v1.ClientMessage");
        tp_arena_release(&ar);
        goto out;
    }
    if (m->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH)
        route_batch(s, id, idlen, m, &ar, &raw, auth);
    else
        route_status(s, id, idlen, m, &ar, &raw, auth);
out:
    zmq_msg_close(&idm);
    zmq_msg_close(&raw);
}

/* ---- answers from workers ---- */

/* A worker's BatchAck for its items, in their order: each encoded Ack is kept as it is. */
static void merge_part(tp_supervisor_t *s, tp_pending_t *p, uint32_t w, const void *buf, size_t len)
{
    uint8_t *copy = tp_arena_alloc(&p->arena, len ? len : 1);
    if (len)
        memcpy(copy, buf, len);
    uint64_t id;
    int n = tp_wire_id_and_items(copy, len, &id, NULL, 0);
    tp_wire_span_t *acks = tp_arena_alloc(&p->arena, (size_t)(n > 0 ? n : 1) * sizeof(*acks));
    if (n > 0)
        (void)tp_wire_id_and_items(copy, len, &id, acks, (size_t)n);
    int k = 0;
    for (uint32_t i = 0; i < p->nitems; i++) {
        if (p->owner[i] != w)
            continue;
        if (k < n)
            p->acks[i] = acks[k++];
        else
            own_ack(s, p, i, "OVERLOADED", "worker answer incomplete; resend later");
    }
    if (n < 0 || k != n)
        tp_err("worker %u answered %d acks for %d items", w, n, k);
}

static void on_worker_answer(tp_supervisor_t *s, uint32_t w, const tp_ipc_hdr_t *h, const void *buf,
                             size_t len)
{
    tp_pending_t *p = pending_find(s, h->token);
    if (p == NULL || !(p->part_mask & (1ULL << w)))
        return; /* answered already (the worker was declared lost) */
    p->part_mask &= ~(1ULL << w);
    p->parts_left--;
    if (p->is_status || (h->flags & TP_IPC_F_WHOLE)) {
        send_client(s, p->client, p->client_len, buf, len);
        pending_free(s, p);
        return;
    }
    merge_part(s, p, w, buf, len);
    if (p->parts_left == 0)
        pending_complete(s, p);
}

void tp_route_worker_message(tp_supervisor_t *s)
{
    zmq_msg_t idm, hm, pm;
    zmq_msg_init(&idm);
    zmq_msg_init(&hm);
    zmq_msg_init(&pm);
    if (zmq_msg_recv(&idm, s->wsock, ZMQ_DONTWAIT) < 0)
        goto out;
    if (!zmq_msg_more(&idm) || zmq_msg_recv(&hm, s->wsock, 0) < 0)
        goto out;
    if (zmq_msg_more(&hm))
        zmq_msg_recv(&pm, s->wsock, 0);
    drain_frames(s->wsock);
    tp_ipc_hdr_t h;
    if (tp_ipc_hdr_check(zmq_msg_data(&hm), zmq_msg_size(&hm), &h, NULL) < 0 ||
        h.worker >= (uint32_t)s->cfg.worker_count) {
        tp_err("invalid message from a worker ignored");
        goto out;
    }
    tp_wproc_t *wp = &s->w[h.worker];
    wp->last_seen_ms = tp_sup_now_ms();
    switch (h.type) {
    case TP_IPC_HELLO:
        if (wp->pid == (pid_t)h.pid) {
            wp->ready = true;
            tp_info("worker %u (pid %u) ready", h.worker, h.pid);
            tp_control_worker_ready(s, h.worker);
        }
        break;
    case TP_IPC_HEARTBEAT: /* not a dead process's late one: its counters were retired */
        if (wp->pid == (pid_t)h.pid && zmq_msg_size(&pm) == sizeof(wp->beat))
            memcpy(&wp->beat, zmq_msg_data(&pm), sizeof(wp->beat));
        break;
    case TP_IPC_CONTROL_REPLY:
        if (h.worker == 0)
            tp_control_reply_message(s, &h, zmq_msg_data(&pm), zmq_msg_size(&pm));
        break;
    case TP_IPC_CLOSE_BEGIN:
    case TP_IPC_CLOSE_READY:
    case TP_IPC_CLOSE_DONE:
        tp_control_close_message(s, h.worker, &h, zmq_msg_data(&pm), zmq_msg_size(&pm));
        break;
    case TP_IPC_BATCH_ACKS:
    case TP_IPC_STATUS_REPLY:
        on_worker_answer(s, h.worker, &h, zmq_msg_data(&pm), zmq_msg_size(&pm));
        break;
    default:
        tp_err("unexpected message type %u from worker %u", h.type, h.worker);
    }
out:
    zmq_msg_close(&idm);
    zmq_msg_close(&hm);
    zmq_msg_close(&pm);
}

void tp_route_worker_lost(tp_supervisor_t *s, uint32_t w)
{
    for (int32_t i = 0; i < s->cappend; i++) {
        tp_pending_t *p = &s->pend[i];
        if (p->token == 0 || !(p->part_mask & (1ULL << w)))
            continue;
        if (p->is_status) {
            Tenderpool__V1__StatusReply sr = TENDERPOOL__V1__STATUS_REPLY__INIT;
            sr.query_id = p->query_id;
            sr.error_code = "OVERLOADED";
            sr.detail = "worker restarted; retry later";
            Tenderpool__V1__ServerMessage sm = TENDERPOOL__V1__SERVER_MESSAGE__INIT;
            sm.kind_case = TENDERPOOL__V1__SERVER_MESSAGE__KIND_STATUS;
            sm.status = &sr;
            send_server_message(s, p->client, p->client_len, &sm);
            pending_free(s, p);
            continue;
        }
        fail_part(s, p, w);
        if (p->parts_left == 0)
            pending_complete(s, p);
    }
}
