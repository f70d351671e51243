/* Test client: protocol messages built from text fields, sent to the real daemon over ZeroMQ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

void tp_test_date(char out[11], int days)
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

tp_test_item_t tp_test_item_default(const char *member, const char *ref)
{
    static char need_by[11];
    tp_test_date(need_by, 30);
    tp_test_item_t it = {.op = "submit",
                         .member_id = member,
                         .request_ref = ref,
                         .revision = 1,
                         .cpv = "18424300",
                         .item_key = "GLOVE-NITRILE-M",
                         .description = "Nitrile gloves, size M",
                         .quantity = "10",
                         .unit = "H87",
                         .need_by = need_by,
                         .delivery_zone = "FRK24",
                         .currency = "EUR",
                         .max_unit_price = "",
                         .reason = ""};
    return it;
}

void *tp_test_connect(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, hwm = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_connect(s, endpoint) < 0)
        cr_assert_fail("connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

static char *s_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

uint8_t *tp_test_pack_batch(uint64_t batch_id, const tp_test_item_t *items, size_t n, size_t *len)
{
    Tenderpool__V1__Envelope *env = calloc(n ? n : 1, sizeof(*env));
    Tenderpool__V1__Envelope **envp = calloc(n ? n : 1, sizeof(*envp));
    Tenderpool__V1__PurchaseRequest *pr = calloc(n ? n : 1, sizeof(*pr));
    Tenderpool__V1__Cancel *cn = calloc(n ? n : 1, sizeof(*cn));
    for (size_t i = 0; i < n; i++) {
        const tp_test_item_t *it = &items[i];
        tenderpool__v1__envelope__init(&env[i]);
        envp[i] = &env[i];
        env[i].member_id = s_or_empty(it->member_id);
        if (it->op && strcmp(it->op, "cancel") == 0) {
            tenderpool__v1__cancel__init(&cn[i]);
            cn[i].request_ref = s_or_empty(it->request_ref);
            cn[i].revision = it->revision;
            cn[i].reason = s_or_empty(it->reason);
            env[i].body_case = TENDERPOOL__V1__ENVELOPE__BODY_CANCEL;
            env[i].cancel = &cn[i];
            continue;
        }
        tenderpool__v1__purchase_request__init(&pr[i]);
        Tenderpool__V1__PurchaseRequest *p = &pr[i];
        p->request_ref = s_or_empty(it->request_ref);
        p->revision = it->revision;
        p->cpv = s_or_empty(it->cpv);
        p->item_key = s_or_empty(it->item_key);
        p->description = s_or_empty(it->description);
        p->quantity = s_or_empty(it->quantity);
        p->unit = s_or_empty(it->unit);
        p->need_by = s_or_empty(it->need_by);
        p->delivery_zone = s_or_empty(it->delivery_zone);
        p->currency = s_or_empty(it->currency);
        p->max_unit_price = s_or_empty(it->max_unit_price);
        bool amend = it->op && strcmp(it->op, "amend") == 0;
        env[i].body_case =
            amend ? TENDERPOOL__V1__ENVELOPE__BODY_AMEND : TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT;
        if (amend)
            env[i].amend = p;
        else
            env[i].submit = p;
    }
    Tenderpool__V1__Batch b = TENDERPOOL__V1__BATCH__INIT;
    b.batch_id = batch_id;
    b.n_items = n;
    b.items = envp;
    Tenderpool__V1__ClientMessage m = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    m.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH;
    m.batch = &b;
    *len = tenderpool__v1__client_message__get_packed_size(&m);
    uint8_t *buf = malloc(*len ? *len : 1);
    tenderpool__v1__client_message__pack(&m, buf);
    free(env);
    free(envp);
    free(pr);
    free(cn);
    return buf;
}

uint8_t *tp_test_pack_status(uint64_t query_id, const char *member, const char *const *refs,
                             size_t nrefs, const char *round_id, size_t *len)
{
    Tenderpool__V1__StatusQuery q = TENDERPOOL__V1__STATUS_QUERY__INIT;
    q.query_id = query_id;
    q.member_id = s_or_empty(member);
    q.n_request_refs = nrefs;
    q.request_refs = (char **)refs;
    q.round_id = s_or_empty(round_id);
    Tenderpool__V1__ClientMessage m = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    m.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_STATUS;
    m.status = &q;
    *len = tenderpool__v1__client_message__get_packed_size(&m);
    uint8_t *buf = malloc(*len ? *len : 1);
    tenderpool__v1__client_message__pack(&m, buf);
    return buf;
}

void tp_test_send(void *sock, const void *buf, size_t len)
{
    if (zmq_send(sock, buf, len, 0) < 0)
        cr_assert_fail("send: %s", zmq_strerror(zmq_errno()));
}

Tenderpool__V1__ServerMessage *tp_test_recv(void *sock, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, sock, 0);
    Tenderpool__V1__ServerMessage *sm =
        tenderpool__v1__server_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    cr_assert_not_null(sm, "the daemon sent an undecodable ServerMessage");
    return sm;
}

Tenderpool__V1__BatchAck *tp_test_batch(void *sock, const tp_test_item_t *items, size_t n,
                                        Tenderpool__V1__ServerMessage **owner)
{
    static uint64_t next_id = 1000;
    uint64_t id = next_id++;
    size_t len;
    uint8_t *buf = tp_test_pack_batch(id, items, n, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 15000);
    cr_assert_not_null(sm, "no BatchAck within 15 s");
    cr_assert_eq(sm->kind_case, TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK);
    cr_assert_eq(sm->batch_ack->batch_id, id, "BatchAck for another batch");
    cr_assert_eq(sm->batch_ack->n_acks, n, "one ack per envelope: got %zu for %zu",
                 sm->batch_ack->n_acks, n);
    *owner = sm;
    return sm->batch_ack;
}

const char *tp_test_status_name(Tenderpool__V1__Status st)
{
    static const char *names[] = {"UNSPECIFIED", "ACCEPTED", "DUPLICATE",
                                  "STALE",       "REJECTED", "RETRY_LATER"};
    return (unsigned)st < 6 ? names[st] : "?";
}

void tp_test_session_start(tp_test_daemon_t *d, void **zctx, void **sock, PGconn **db)
{
    tp_test_reset_db();
    memset(d, 0, sizeof(*d));
    tp_test_daemon_start(d, 2, "1w", NULL);
    *zctx = zmq_ctx_new();
    *sock = tp_test_connect(*zctx, d->endpoint);
    *db = tp_test_pg();
}

void tp_test_session_stop(tp_test_daemon_t *d, void **zctx, void **sock, PGconn **db)
{
    zmq_close(*sock);
    zmq_ctx_term(*zctx);
    if (*db)
        PQfinish(*db);
    *db = NULL;
    int st = tp_test_daemon_stop(d);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tenderpoold exit status %d after SIGTERM",
              st);
}

tp_test_item_t tp_test_item_line(const char *member, const char *ref, const char *cpv,
                                 const char *item, const char *qty, const char *unit)
{
    tp_test_item_t it = tp_test_item_default(member, ref);
    it.cpv = cpv;
    it.item_key = item;
    it.quantity = qty;
    it.unit = unit;
    return it;
}

void tp_test_send_accepted(void *sock, const tp_test_item_t *items, size_t n)
{
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, items, n, &sm);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ba->acks[i]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED, "%s: %s %s",
                     items[i].request_ref, ba->acks[i]->error_code, ba->acks[i]->detail);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
}
