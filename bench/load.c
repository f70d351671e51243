/* Bench client side: simulated members, one DEALER socket each, polled from one thread;
 * sends batches, matches acks, records latencies. Never touches the database. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_arena.h"
#include "tp_bench.h"
#include "tp_mem.h"
#include "tp_wire.h"

#define SLOT_BITS 12                /* batch_id = gen << 24 | member << 12 | slot */
#define LATENCY_ID_BIT (1ULL << 62) /* latency-phase batch ids: bit | message number */
#define PROBE_INTERVAL_MS 500
#define ALIVE_CHECK_NS 1000000000LL
#define STALL_NS 30000000000LL /* no ack for this long: the daemon is stuck */

/* One in-flight batch of a member. */
typedef struct bench_slot {
    uint64_t batch_id; /* 0: free */
    int64_t sent_ns;
    int n;
    long *seqs; /* the items' sequence numbers, for resending RETRY_LATER ones */
} bench_slot_t;

typedef struct bench_member {
    void *sock;
    long index;
    long next_seq, end_seq; /* ingest items not yet sent */
    long *retry;            /* RETRY_LATER items to resend */
    long nretry, cap_retry;
    bench_slot_t *slots; /* window of them */
    long in_flight;
    bool probed;
    /* ingest: the Batch items of every fresh batch, encoded before the clock starts (as
     * baseline A encodes its COPY rows): batch k holds seqs pre_first + k * batch onwards */
    uint8_t *pre;
    size_t *pre_off; /* batch k's items are pre[pre_off[k] .. pre_off[k + 1]) */
    long pre_first, pre_batches;
} bench_member_t;

/* Latency samples, grown as needed. */
typedef struct bench_samples {
    int64_t *ns;
    long n, cap;
} bench_samples_t;

struct tp_bench_client {
    const tp_bench_opts_t *o;
    void *zctx;
    bench_member_t *m;
    zmq_pollitem_t *items;
    uint64_t gen;
    /* one batch being built */
    tp_bench_req_t *reqs;
    Tenderpool__V1__PurchaseRequest *pr;
    Tenderpool__V1__Envelope *env;
    Tenderpool__V1__Envelope **envp;
    uint8_t *pack;
    size_t pack_cap;
    tp_arena_t ack_arena; /* replies are decoded into it, released after each */
    /* the running phase */
    tp_bench_load_t *out;
    bench_samples_t lat;
    bench_samples_t lag; /* latency phase: actual - intended send time */
    long resolved;       /* items with a final status */
    long target;         /* ingest: requests of the running phase */
    char phase;          /* ingest: 'i' durable ingest, 'c' round-close data set */
    int64_t last_ack_ns;
    int64_t *sched;         /* latency phase: intended send time per message */
    int64_t sched_t0;       /* latency phase: when message 0 was due */
    int64_t *win_max;       /* latency phase: slowest ack per 100 ms window of send times */
    long probe_interval_ms; /* readiness: StatusQuery resent after this long unanswered */
    int64_t rt_ack_ns;      /* restart: when the round-trip batch was acked, 0 not yet */
    int rt_status;          /* its item's status */
};

typedef void (*bench_ack_fn)(tp_bench_client_t *c, bench_member_t *m,
                             const Tenderpool__V1__BatchAck *ack);

static void samples_add(bench_samples_t *s, int64_t v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->ns = xrealloc(s->ns, (size_t)s->cap * sizeof(*s->ns));
    }
    s->ns[s->n++] = v;
}

static void *member_socket(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(s, endpoint) < 0) {
        fprintf(stderr, "tenderpool-bench: connect %s: %s\n", endpoint, zmq_strerror(errno));
        exit(1);
    }
    return s;
}

tp_bench_client_t *tp_bench_client_new(const tp_bench_opts_t *o, const char *endpoint)
{
    tp_bench_client_t *c = xcalloc(1, sizeof(*c));
    c->o = o;
    c->probe_interval_ms = PROBE_INTERVAL_MS;
    c->zctx = zmq_ctx_new();
    c->m = xcalloc((size_t)o->members, sizeof(*c->m));
    c->items = xcalloc((size_t)o->members, sizeof(*c->items));
    for (long i = 0; i < o->members; i++) {
        bench_member_t *m = &c->m[i];
        m->index = i;
        m->sock = member_socket(c->zctx, endpoint);
        m->slots = xcalloc((size_t)o->window, sizeof(*m->slots));
        for (long s = 0; s < o->window; s++)
            m->slots[s].seqs = xcalloc((size_t)o->batch, sizeof(long));
        c->items[i] = (zmq_pollitem_t){.socket = m->sock, .events = ZMQ_POLLIN};
    }
    tp_arena_init(&c->ack_arena, 16384);
    size_t n = (size_t)o->batch;
    c->reqs = xcalloc(n, sizeof(*c->reqs));
    c->pr = xcalloc(n, sizeof(*c->pr));
    c->env = xcalloc(n, sizeof(*c->env));
    c->envp = xcalloc(n, sizeof(*c->envp));
    return c;
}

void tp_bench_client_destroy(tp_bench_client_t **pc)
{
    tp_bench_client_t *c = pc ? *pc : NULL;
    if (c == NULL)
        return;
    for (long i = 0; i < c->o->members; i++) {
        zmq_close(c->m[i].sock);
        for (long s = 0; s < c->o->window; s++)
            free(c->m[i].slots[s].seqs);
        free(c->m[i].slots);
        free(c->m[i].retry);
        free(c->m[i].pre);
        free(c->m[i].pre_off);
    }
    zmq_ctx_term(c->zctx);
    free(c->m);
    free(c->items);
    free(c->reqs);
    free(c->pr);
    free(c->env);
    free(c->envp);
    free(c->pack);
    free(c->lat.ns);
    free(c->lag.ns);
    free(c->sched);
    tp_arena_release(&c->ack_arena);
    free(c);
    *pc = NULL;
}

/* ---- sending ---- */

static void envelope_set(tp_bench_client_t *c, int i)
{
    tp_bench_req_t *r = &c->reqs[i];
    Tenderpool__V1__PurchaseRequest *p = &c->pr[i];
    tenderpool__v1__purchase_request__init(p);
    p->request_ref = r->request_ref;
    p->revision = 1;
    p->cpv = (char *)r->cpv;
    p->item_key = r->item_key;
    p->description = (char *)r->description;
    p->quantity = r->quantity; /* decimal strings, as the protocol requires */
    p->unit = (char *)r->unit;
    p->need_by = r->need_by;
    p->delivery_zone = (char *)r->zone;
    p->currency = (char *)r->currency;
    p->max_unit_price = r->max_unit_price;
    tenderpool__v1__envelope__init(&c->env[i]);
    c->env[i].member_id = r->member_id;
    c->env[i].body_case = TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT;
    c->env[i].submit = p;
    c->envp[i] = &c->env[i];
}

/* Packs msg into c->pack; returns its size. */
static size_t pack_message(tp_bench_client_t *c, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > c->pack_cap) {
        c->pack_cap = n * 2;
        c->pack = xrealloc(c->pack, c->pack_cap);
    }
    protobuf_c_message_pack(msg, c->pack);
    return n;
}

static int send_packed(void *sock, const tp_bench_client_t *c, size_t n)
{
    if (zmq_send(sock, c->pack, n, ZMQ_DONTWAIT) < 0) {
        fprintf(stderr, "tenderpool-bench: send: %s\n", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* Packs one Batch of the given items of member m (phase 'i' ingest, 'c' round-close data
 * set, 'l' latency) into c->pack; returns its size. */
static size_t pack_batch(tp_bench_client_t *c, const bench_member_t *m, uint64_t batch_id,
                         const long *seqs, int n, char phase)
{
    for (int i = 0; i < n; i++) {
        tp_bench_req_fill(&c->reqs[i], c->o, phase, m->index, seqs[i]);
        envelope_set(c, i);
    }
    Tenderpool__V1__Batch b = TENDERPOOL__V1__BATCH__INIT;
    b.batch_id = batch_id;
    b.n_items = (size_t)n;
    b.items = c->envp;
    Tenderpool__V1__ClientMessage cm = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    cm.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH;
    cm.batch = &b;
    return pack_message(c, &cm.base);
}

/* Sends one Batch of the given items of member m. */
static int send_batch(tp_bench_client_t *c, bench_member_t *m, uint64_t batch_id, const long *seqs,
                      int n, char phase)
{
    size_t len = pack_batch(c, m, batch_id, seqs, n, phase);
    c->out->sent_items += n;
    return send_packed(m->sock, c, len);
}

/* ---- ingest batches encoded before the clock starts ---- */

/* The key of field `name` of d with wire type wt, as a protobuf varint into p. */
static size_t put_key(uint8_t *p, const ProtobufCMessageDescriptor *d, const char *name,
                      ProtobufCWireType wt)
{
    uint64_t key = (uint64_t)protobuf_c_message_descriptor_get_field_by_name(d, name)->id << 3 | wt;
    return (size_t)(tp_wire_put_varint(p, key) - p);
}

/* Encodes every fresh batch of member m (the items field of a Batch, each envelope as
 * protobuf-c packs it): sending one then costs a header and a copy, like baseline A's rows. */
static void preencode(tp_bench_client_t *c, bench_member_t *m)
{
    long b = c->o->batch, nseq = m->end_seq - m->next_seq;
    uint8_t key[8];
    size_t keylen = put_key(key, &tenderpool__v1__batch__descriptor, "items",
                            PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    m->pre_first = m->next_seq;
    m->pre_batches = (nseq + b - 1) / b;
    m->pre_off = xrealloc(m->pre_off, (size_t)(m->pre_batches + 1) * sizeof(size_t));
    size_t cap = (size_t)nseq * 160 + 1024, len = 0;
    m->pre = xrealloc(m->pre, cap);
    for (long k = 0; k < m->pre_batches; k++) {
        m->pre_off[k] = len;
        for (long seq = m->pre_first + k * b; seq < m->pre_first + (k + 1) * b && seq < m->end_seq;
             seq++) {
            tp_bench_req_fill(&c->reqs[0], c->o, c->phase, m->index, seq);
            envelope_set(c, 0);
            size_t el = tenderpool__v1__envelope__get_packed_size(&c->env[0]);
            if (len + keylen + 10 + el > cap) {
                cap = (len + keylen + 10 + el) * 2;
                m->pre = xrealloc(m->pre, cap);
            }
            memcpy(m->pre + len, key, keylen);
            len += keylen;
            len = (size_t)(tp_wire_put_varint(m->pre + len, el) - m->pre);
            len += tenderpool__v1__envelope__pack(&c->env[0], m->pre + len);
        }
    }
    m->pre_off[m->pre_batches] = len;
}

/* Pre-encoded batch k of member m as a ClientMessage with batch_id: into out (NULL: size). */
static size_t prepacked(const bench_member_t *m, long k, uint64_t batch_id, uint8_t *out)
{
    uint8_t hdr[40], body[20];
    size_t ilen = m->pre_off[k + 1] - m->pre_off[k];
    size_t bn =
        put_key(body, &tenderpool__v1__batch__descriptor, "batch_id", PROTOBUF_C_WIRE_TYPE_VARINT);
    bn = (size_t)(tp_wire_put_varint(body + bn, batch_id) - body);
    size_t hn = put_key(hdr, &tenderpool__v1__client_message__descriptor, "batch",
                        PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    hn = (size_t)(tp_wire_put_varint(hdr + hn, bn + ilen) - hdr);
    if (out) {
        memcpy(out, hdr, hn);
        memcpy(out + hn, body, bn);
        memcpy(out + hn + bn, m->pre + m->pre_off[k], ilen);
    }
    return hn + bn + ilen;
}

/* Checks that batch 0 of m, pre-encoded, is byte for byte what protobuf-c packs. */
static int prepacked_check(tp_bench_client_t *c, bench_member_t *m)
{
    if (m->pre_batches == 0)
        return 0;
    long n = m->end_seq - m->pre_first < c->o->batch ? m->end_seq - m->pre_first : c->o->batch;
    long *seqs = xcalloc((size_t)n, sizeof(*seqs));
    for (long i = 0; i < n; i++)
        seqs[i] = m->pre_first + i;
    uint64_t id = 0x123456789ULL;
    size_t want = pack_batch(c, m, id, seqs, (int)n, c->phase), got = prepacked(m, 0, id, NULL);
    uint8_t *p = xmalloc(got);
    prepacked(m, 0, id, p);
    int same = want == got && memcmp(c->pack, p, want) == 0;
    free(p);
    free(seqs);
    if (!same)
        fprintf(stderr, "tenderpool-bench: pre-encoded batch differs from protobuf-c's pack\n");
    return same ? 0 : -1;
}

static int send_prepacked(bench_member_t *m, long k, uint64_t batch_id)
{
    zmq_msg_t msg;
    zmq_msg_init_size(&msg, prepacked(m, k, batch_id, NULL));
    prepacked(m, k, batch_id, zmq_msg_data(&msg));
    if (zmq_msg_send(&msg, m->sock, ZMQ_DONTWAIT) < 0) {
        fprintf(stderr, "tenderpool-bench: send: %s\n", zmq_strerror(errno));
        zmq_msg_close(&msg);
        return -1;
    }
    return 0;
}

static void preencoded_free(bench_member_t *m)
{
    free(m->pre);
    free(m->pre_off);
    m->pre = NULL;
    m->pre_off = NULL;
    m->pre_batches = 0;
}

static int send_probe(tp_bench_client_t *c, bench_member_t *m)
{
    char member[24], *refs[] = {"probe"};
    snprintf(member, sizeof(member), "bench-m%03ld", m->index);
    Tenderpool__V1__StatusQuery q = TENDERPOOL__V1__STATUS_QUERY__INIT;
    q.query_id = 1;
    q.member_id = member;
    q.n_request_refs = 1;
    q.request_refs = refs;
    Tenderpool__V1__ClientMessage cm = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    cm.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_STATUS;
    cm.status = &q;
    return send_packed(m->sock, c, pack_message(c, &cm.base));
}

/* ---- receiving ---- */

/* Reads every waiting reply of member m; acks go to fn, status replies mark the probe. */
static void drain_member(tp_bench_client_t *c, bench_member_t *m, bench_ack_fn fn)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, m->sock, ZMQ_DONTWAIT) >= 0) {
        Tenderpool__V1__ServerMessage *sm = tenderpool__v1__server_message__unpack(
            tp_arena_pb(&c->ack_arena), zmq_msg_size(&msg), zmq_msg_data(&msg));
        if (sm && sm->kind_case == TENDERPOOL__V1__SERVER_MESSAGE__KIND_STATUS)
            m->probed = true;
        else if (sm && sm->kind_case == TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK && fn)
            fn(c, m, sm->batch_ack);
        else if (sm == NULL)
            fprintf(stderr, "tenderpool-bench: undecodable reply ignored\n");
        tp_arena_release(&c->ack_arena);
        tp_arena_init(&c->ack_arena, 16384);
    }
    zmq_msg_close(&msg);
}

/* Waits up to timeout_ms for replies, then reads all of them. */
static int pump(tp_bench_client_t *c, long timeout_ms, bench_ack_fn fn)
{
    if (zmq_poll(c->items, (int)c->o->members, timeout_ms) < 0 && errno != EINTR) {
        fprintf(stderr, "tenderpool-bench: poll: %s\n", zmq_strerror(errno));
        return -1;
    }
    for (long i = 0; i < c->o->members; i++)
        if (c->items[i].revents & ZMQ_POLLIN)
            drain_member(c, &c->m[i], fn);
    return 0;
}

/* Counts one item's final or transient status; true when it must be resent. */
static bool count_status(tp_bench_client_t *c, const Tenderpool__V1__Ack *a)
{
    int st = (int)a->status;
    if (st < 0 || st >= TP_BENCH_NSTATUS)
        st = 0;
    c->out->status[st]++;
    if (st != TENDERPOOL__V1__STATUS__STATUS_ACCEPTED && !c->out->first_error[0])
        snprintf(c->out->first_error, sizeof(c->out->first_error), "status %d %s: %s (ref %s)", st,
                 a->error_code, a->detail, a->request_ref);
    return st == TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER;
}

static void retry_push(bench_member_t *m, long seq)
{
    if (m->nretry == m->cap_retry) {
        m->cap_retry = m->cap_retry ? m->cap_retry * 2 : 1024;
        m->retry = xrealloc(m->retry, (size_t)m->cap_retry * sizeof(long));
    }
    m->retry[m->nretry++] = seq;
}

/* ---- readiness ---- */

static bool all_probed(const tp_bench_client_t *c)
{
    for (long i = 0; i < c->o->members; i++)
        if (!c->m[i].probed)
            return false;
    return true;
}

int tp_bench_client_wait_ready(tp_bench_client_t *c, tp_bench_daemon_t *d, int timeout_s)
{
    tp_bench_load_t scratch = {0};
    c->out = &scratch;
    int64_t end = tp_bench_now_ns() + (int64_t)timeout_s * 1000000000LL, next = 0;
    while (!all_probed(c)) {
        if (tp_bench_now_ns() > end || !tp_bench_daemon_alive(d)) {
            fprintf(stderr, "tenderpool-bench: the daemon did not answer within %d s\n", timeout_s);
            return -1;
        }
        if (tp_bench_now_ns() >= next) {
            for (long i = 0; i < c->o->members; i++)
                if (!c->m[i].probed && send_probe(c, &c->m[i]) < 0)
                    return -1;
            next = tp_bench_now_ns() + c->probe_interval_ms * 1000000LL;
        }
        if (pump(c, 50, NULL) < 0)
            return -1;
    }
    return 0;
}

static void on_roundtrip_ack(tp_bench_client_t *c, bench_member_t *m,
                             const Tenderpool__V1__BatchAck *ack)
{
    (void)m;
    if (ack->batch_id != 1 || c->rt_ack_ns)
        return;
    c->rt_ack_ns = tp_bench_now_ns();
    c->rt_status = ack->n_acks > 0 ? (int)ack->acks[0]->status : 0;
}

int tp_bench_client_restart_probe(tp_bench_client_t *c, tp_bench_daemon_t *d, int64_t t0,
                                  int64_t end, int64_t status_end, tp_bench_probe_t *out)
{
    tp_bench_load_t scratch = {0};
    c->out = &scratch;
    c->rt_ack_ns = 0;
    long seq = 0; /* request 0 of member 0 of the round-close data set: stored, so DUPLICATE */
    if (send_batch(c, &c->m[0], 1, &seq, 1, 'c') < 0)
        return -1;
    for (long i = 0; i < c->o->members; i++)
        if (send_probe(c, &c->m[i]) < 0)
            return -1;
    int64_t status_ns = 0;
    while (!c->rt_ack_ns || !status_ns) {
        int64_t now = tp_bench_now_ns();
        if ((c->rt_ack_ns ? now > status_end : now > end) || !tp_bench_daemon_alive(d))
            break;
        if (pump(c, 10, on_roundtrip_ack) < 0)
            return -1;
        if (!status_ns && all_probed(c))
            status_ns = tp_bench_now_ns();
    }
    out->batch_ms = c->rt_ack_ns ? (double)(c->rt_ack_ns - t0) / 1e6 : -1;
    out->batch_status = c->rt_status;
    out->status_ms = status_ns ? (double)(status_ns - t0) / 1e6 : -1;
    return c->rt_ack_ns ? 0 : -1; /* a slow StatusQuery is reported, not a failure */
}

/* ---- durable ingest: windows of batches, closed loop per member ---- */

static void on_ingest_ack(tp_bench_client_t *c, bench_member_t *m,
                          const Tenderpool__V1__BatchAck *ack)
{
    uint64_t id = ack->batch_id;
    long slot = (long)(id & ((1u << SLOT_BITS) - 1));
    bench_slot_t *s = slot < c->o->window ? &m->slots[slot] : NULL;
    if (s == NULL || s->batch_id != id || id == 0) {
        fprintf(stderr, "tenderpool-bench: ack for unknown batch %llu ignored\n",
                (unsigned long long)id);
        return;
    }
    c->last_ack_ns = tp_bench_now_ns();
    samples_add(&c->lat, c->last_ack_ns - s->sent_ns);
    for (int i = 0; i < s->n; i++) {
        bool again = i >= (int)ack->n_acks || count_status(c, ack->acks[i]);
        if (again)
            retry_push(m, s->seqs[i]);
        else
            c->resolved++;
    }
    s->batch_id = 0;
    m->in_flight--;
}

static bench_slot_t *free_slot(bench_member_t *m, long window, long *index)
{
    for (long i = 0; i < window; i++)
        if (m->slots[i].batch_id == 0) {
            *index = i;
            return &m->slots[i];
        }
    return NULL;
}

/* Next batch of member m: resends first, then new items. 0 sent, 1 nothing to send, -1 error. */
static int ingest_send_next(tp_bench_client_t *c, bench_member_t *m)
{
    long si;
    bench_slot_t *s = free_slot(m, c->o->window, &si);
    if (s == NULL || (m->nretry == 0 && m->next_seq == m->end_seq))
        return 1;
    /* resends travel alone, so that fresh batches stay the pre-encoded ones */
    s->n = 0;
    while (s->n < c->o->batch && m->nretry > 0)
        s->seqs[s->n++] = m->retry[--m->nretry];
    long k = s->n ? -1 : (m->next_seq - m->pre_first) / c->o->batch;
    while (k >= 0 && s->n < c->o->batch && m->next_seq < m->end_seq)
        s->seqs[s->n++] = m->next_seq++;
    s->batch_id = (++c->gen << 24) | ((uint64_t)m->index << SLOT_BITS) | (uint64_t)si;
    s->sent_ns = tp_bench_now_ns();
    m->in_flight++;
    if (k >= 0 && k < m->pre_batches)
        return send_prepacked(m, k, s->batch_id);
    return send_batch(c, m, s->batch_id, s->seqs, s->n, c->phase);
}

static int ingest_fill_windows(tp_bench_client_t *c)
{
    for (long i = 0; i < c->o->members; i++) {
        int rc;
        while ((rc = ingest_send_next(c, &c->m[i])) == 0)
            ;
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void ingest_assign(tp_bench_client_t *c)
{
    long per = c->target / c->o->members, extra = c->target % c->o->members, at = 0;
    for (long i = 0; i < c->o->members; i++) {
        bench_member_t *m = &c->m[i];
        m->next_seq = at;
        m->end_seq = at + per + (i < extra);
        at = m->end_seq;
        m->nretry = 0;
    }
}

static void phase_begin(tp_bench_client_t *c, tp_bench_load_t *out)
{
    memset(out, 0, sizeof(*out));
    c->out = out;
    c->lat.n = 0;
    c->lag.n = 0;
    c->resolved = 0;
    c->last_ack_ns = 0;
}

static void progress(const tp_bench_client_t *c, int64_t t0, int64_t *next_note)
{
    int64_t now = tp_bench_now_ns();
    if (now < *next_note)
        return;
    fprintf(stderr, "  ... %ld/%ld answered after %.0f s\n", c->resolved, c->target,
            (double)(now - t0) / 1e9);
    *next_note = now + 5000000000LL;
}

int tp_bench_ingest(tp_bench_client_t *c, tp_bench_daemon_t *d, char phase, long n,
                    tp_bench_load_t *out)
{
    phase_begin(c, out);
    c->target = n;
    c->phase = phase;
    ingest_assign(c);
    for (long i = 0; i < c->o->members; i++) {
        preencode(c, &c->m[i]);
        if (prepacked_check(c, &c->m[i]) < 0)
            return -1;
    }
    int64_t t0 = tp_bench_now_ns(), next_alive = t0 + ALIVE_CHECK_NS, note = t0 + 5000000000LL;
    int64_t end = t0 + (60 + n / 10000) * 1000000000LL;
    int rc = 0;
    while (rc == 0 && c->resolved < n) {
        int64_t now = tp_bench_now_ns();
        int64_t last = c->last_ack_ns > t0 ? c->last_ack_ns : t0;
        if (now > end || now - last > STALL_NS) {
            fprintf(stderr, "tenderpool-bench: ingest %s\n",
                    now > end ? "timed out" : "stalled: no ack for 30 s");
            rc = -1;
        } else if (now > next_alive) {
            rc = tp_bench_daemon_alive(d) ? 0 : -1;
            next_alive = now + ALIVE_CHECK_NS;
            progress(c, t0, &note);
        }
        if (rc == 0)
            rc = ingest_fill_windows(c) < 0 || pump(c, 100, on_ingest_ack) < 0 ? -1 : 0;
    }
    out->missing = n - c->resolved;
    out->seconds = (double)((c->last_ack_ns ? c->last_ack_ns : tp_bench_now_ns()) - t0) / 1e9;
    out->rate = out->seconds > 0
                    ? (double)out->status[TENDERPOOL__V1__STATUS__STATUS_ACCEPTED] / out->seconds
                    : 0;
    tp_bench_lat_summary(c->lat.ns, c->lat.n, &out->lat);
    for (long i = 0; i < c->o->members; i++)
        preencoded_free(&c->m[i]);
    return rc;
}

/* ---- latency: single-request messages at a fixed offered rate, open loop ---- */

static void on_latency_ack(tp_bench_client_t *c, bench_member_t *m,
                           const Tenderpool__V1__BatchAck *ack)
{
    uint64_t k = ack->batch_id & ~LATENCY_ID_BIT;
    long total = c->o->latency_rate * c->o->latency_seconds;
    if (!(ack->batch_id & LATENCY_ID_BIT) || (long)k >= total || c->sched[k] == 0) {
        fprintf(stderr, "tenderpool-bench: unexpected ack %llu ignored\n",
                (unsigned long long)ack->batch_id);
        return;
    }
    c->last_ack_ns = tp_bench_now_ns();
    /* from the intended send time: a late sender does not hide queueing (no coordinated omission)
     */
    samples_add(&c->lat, c->last_ack_ns - c->sched[k]);
    long win = (long)((c->sched[k] - c->sched_t0) / 100000000LL);
    if (c->last_ack_ns - c->sched[k] > c->win_max[win])
        c->win_max[win] = c->last_ack_ns - c->sched[k];
    c->sched[k] = 0;
    c->resolved++;
    if (ack->n_acks < 1)
        c->out->status[0]++;
    else
        count_status(c, ack->acks[0]);
}

static int latency_send(tp_bench_client_t *c, long k, int64_t due)
{
    bench_member_t *m = &c->m[k % c->o->members];
    long seq = k / c->o->members;
    c->sched[k] = due;
    int rc = send_batch(c, m, LATENCY_ID_BIT | (uint64_t)k, &seq, 1, 'l');
    samples_add(&c->lag, tp_bench_now_ns() - due);
    return rc;
}

/* Sleeps until the next send is due, reading replies meanwhile. */
static int latency_wait(tp_bench_client_t *c, int64_t due)
{
    int64_t wait = due - tp_bench_now_ns();
    if (wait >= 2000000)
        return pump(c, (long)(wait / 1000000) - 1, on_latency_ack);
    if (pump(c, 0, on_latency_ack) < 0)
        return -1;
    wait = due - tp_bench_now_ns();
    if (wait > 0) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int tp_bench_latency(tp_bench_client_t *c, tp_bench_daemon_t *d, tp_bench_load_t *out)
{
    phase_begin(c, out);
    long total = c->o->latency_rate * c->o->latency_seconds, k = 0;
    c->sched = xcalloc((size_t)total, sizeof(int64_t));
    long nwin = c->o->latency_seconds * 10 + 1;
    c->win_max = xcalloc((size_t)nwin, sizeof(int64_t));
    double step = 1e9 / (double)c->o->latency_rate;
    int64_t t0 = tp_bench_now_ns() + 1000000, last_send = t0, end = 0;
    c->sched_t0 = t0;
    int rc = 0;
    while (rc == 0 && c->resolved < total) {
        int64_t now = tp_bench_now_ns();
        while (rc == 0 && k < total && t0 + (int64_t)(step * (double)k) <= now) {
            rc = latency_send(c, k, t0 + (int64_t)(step * (double)k));
            last_send = now;
            if (++k == total)
                end = now + 30000000000LL;
        }
        if (rc == 0 && k < total)
            rc = latency_wait(c, t0 + (int64_t)(step * (double)k));
        else if (rc == 0)
            rc = now > end || !tp_bench_daemon_alive(d) ? -1 : pump(c, 10, on_latency_ack);
    }
    out->missing = total - c->resolved;
    out->seconds = (double)(last_send - t0) / 1e9;
    out->offered_rate = out->seconds > 0 ? (double)(k - 1) / out->seconds : 0;
    out->rate = out->offered_rate;
    tp_bench_lat_summary(c->lat.ns, c->lat.n, &out->lat);
    tp_bench_lat_summary(c->lag.ns, c->lag.n, &out->send_lag);
    for (long i = 0; i < nwin; i++) {
        if ((double)c->win_max[i] / 1e6 <= TP_BENCH_SPIKE_MS)
            continue;
        if (out->nspike < TP_BENCH_NSPIKE) {
            out->spike_at_s[out->nspike] = (double)i / 10;
            out->spike_ms[out->nspike++] = (double)c->win_max[i] / 1e6;
        }
        out->spikes++;
    }
    free(c->win_max);
    c->win_max = NULL;
    free(c->sched);
    c->sched = NULL;
    if (rc < 0)
        fprintf(stderr, "tenderpool-bench: latency phase: %ld messages unanswered\n", out->missing);
    return rc;
}
