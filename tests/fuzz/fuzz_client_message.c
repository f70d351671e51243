/* libFuzzer target: one untrusted ClientMessage frame, decoded and validated as the supervisor
 * and a worker do, then the reply packed and what would be stored encoded and checked. Links
 * common/ only (never workers/ or daemon/); every broken invariant aborts, so it is a finding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_copybuf.h"
#include "tp_fuzz_fixture.h"
#include "tp_validate.h"
#include "tp_wire.h"

#define FUZZ_NCTX 2
#define FUZZ_MAX_INT 12 /* SPEC 3: at most 12 integer and 6 fraction digits */
#define FUZZ_MAX_FRAC 6
#define FUZZ_MAX_TEXT 512
#define FUZZ_MAX_ITEM_KEY 128
#define FUZZ_MAX_NEED_BY_DAYS 731 /* two years, one of them leap */
#define FUZZ_STATUS_MAX_REFS 1000
#define FUZZ_ROUND_ID "2026-W48"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzzer's one context: the validation contexts of both security modes. */
typedef struct fuzz_world {
    tp_cpv_set_t *cpv;
    tp_validate_ctx_t ctx[FUZZ_NCTX];
    tp_copybuf_t copy; /* reused: a worker keeps its COPY buffer too */
    bool verbose;      /* TP_FUZZ_VERBOSE set: one line per envelope, to read a seed's fate */
} fuzz_world_t;

static fuzz_world_t world;

static void fuzz_fail(const char *what, const char *value)
{
    fprintf(stderr, "fuzz_client_message: invariant broken: %s ('%s')\n", what,
            value ? value : "(null)");
    abort();
}

#define FUZZ_CHECK(cond, value)                                                                    \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(#cond, (value));                                                             \
    } while (0)

/* ---- the world ---- */

static tp_cpv_set_t *fixture_cpv_set(void)
{
    static const char *const codes[] = {TP_FUZZ_CPV_CODES};
    tp_cpv_set_t *set = tp_cpv_set_new();
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (tp_cpv_set_add(set, codes[i]) != 0)
            fuzz_fail("fixture CPV code", codes[i]);
    tp_cpv_set_seal(set);
    return set;
}

/* ctx[0]: security = none with an imported CPV list; ctx[1]: curve, format-only CPV check,
 * its accept date set per batch (accept_date_of). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    world.cpv = fixture_cpv_set();
    world.ctx[0] = (tp_validate_ctx_t){.cpv = world.cpv,
                                       .today_y = TP_FUZZ_TODAY_Y,
                                       .today_m = TP_FUZZ_TODAY_M,
                                       .today_d = TP_FUZZ_TODAY_D,
                                       .member_required = true};
    world.ctx[1] = (tp_validate_ctx_t){.today_y = TP_FUZZ_TODAY_Y,
                                       .today_m = TP_FUZZ_TODAY_M,
                                       .today_d = TP_FUZZ_TODAY_D,
                                       .auth_member = TP_FUZZ_AUTH_MEMBER};
    world.verbose = getenv("TP_FUZZ_VERBOSE") != NULL;
    return 0;
}

/* ---- exact decimals ---- */

static __int128 pow10_i128(int k)
{
    __int128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* At most max_int integer and max_frac fraction digits, as the wire allows. */
static bool dec_fits(const tp_dec_t *d, int max_int, int max_frac)
{
    if (d->scale < 0 || d->scale > max_frac)
        return false;
    __int128 lim = pow10_i128(max_int + d->scale);
    return d->coef < lim && d->coef > -lim;
}

/* The canonical text of d parses back to the same value. */
static void check_dec_text(const tp_dec_t *d)
{
    char txt[TP_DEC_STR_MAX];
    tp_dec_t back;
    tp_dec_format(d, txt, sizeof(txt));
    FUZZ_CHECK(tp_dec_from_str(txt, &back) == 0, txt);
    FUZZ_CHECK(tp_dec_cmp(&back, d) == 0, txt);
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)be16(p) << 16 | be16(p + 2);
}

/* Reads back one binary numeric field as PostgreSQL would (sum of base-10000 digits). */
static tp_dec_t numeric_value(const unsigned char *p, size_t avail)
{
    FUZZ_CHECK(avail >= 12 && be32(p) == 8 + 2 * be16(p + 4) && avail == 4 + be32(p), NULL);
    unsigned nd = be16(p + 4), sign = be16(p + 8), dscale = be16(p + 10);
    int weight = (int16_t)be16(p + 6);
    FUZZ_CHECK(sign == 0 || sign == 0x4000, NULL);
    FUZZ_CHECK(nd == 0 || (be16(p + 12) != 0 && be16(p + 12 + 2 * (nd - 1)) != 0), NULL);
    __int128 coef = 0;
    for (unsigned g = 0; g < nd; g++) {
        unsigned digit = be16(p + 12 + 2 * g);
        int exp10 = 4 * (weight - (int)g) + (int)dscale;
        __int128 term;
        FUZZ_CHECK(digit < 10000 && exp10 > -4 && exp10 <= 38, NULL);
        for (; exp10 < 0; exp10++) { /* the last group's padding below the display scale */
            FUZZ_CHECK(digit % 10 == 0, NULL);
            digit /= 10;
        }
        FUZZ_CHECK(!__builtin_mul_overflow((__int128)digit, pow10_i128(exp10), &term) &&
                       !__builtin_add_overflow(coef, term, &coef),
                   NULL);
    }
    return (tp_dec_t){.coef = sign ? -coef : coef, .scale = (int32_t)dscale};
}

/* The COPY BINARY numeric a worker stores holds exactly d. */
static void check_numeric(const tp_dec_t *d)
{
    char txt[TP_DEC_STR_MAX];
    tp_copybuf_t *b = &world.copy;
    tp_copybuf_reset(b);
    size_t at = b->len;
    tp_copybuf_numeric(b, d);
    tp_dec_t back = numeric_value((const unsigned char *)b->data + at, b->len - at);
    tp_dec_format(d, txt, sizeof(txt));
    FUZZ_CHECK(tp_dec_cmp(&back, d) == 0, txt);
}

static void check_amount(const tp_dec_t *d)
{
    check_dec_text(d);
    check_numeric(d);
}

/* ---- an accepted envelope ---- */

static void check_member(const tp_validate_ctx_t *ctx, const tp_request_t *q)
{
    if (ctx->auth_member != NULL)
        FUZZ_CHECK(strcmp(q->member_id, ctx->auth_member) == 0, q->member_id);
    else if (ctx->member_required)
        FUZZ_CHECK(tp_valid_member_id(q->member_id), q->member_id);
}

static tp_op_t op_of(const Tenderpool__V1__Envelope *env)
{
    switch (env->body_case) {
    case TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT:
        return TP_OP_SUBMIT;
    case TENDERPOOL__V1__ENVELOPE__BODY_AMEND:
        return TP_OP_AMEND;
    default:
        return TP_OP_CANCEL;
    }
}

static void check_quantity(const tp_request_t *q)
{
    tp_dec_t base;
    FUZZ_CHECK(tp_dec_sign(&q->quantity) > 0, q->unit->code);
    FUZZ_CHECK(dec_fits(&q->quantity, FUZZ_MAX_INT, FUZZ_MAX_FRAC), q->unit->code);
    FUZZ_CHECK(tp_unit_find(q->unit->code) == q->unit, q->unit->code);
    FUZZ_CHECK(tp_unit_to_base(q->unit, &q->quantity, &base) == 0, q->unit->code);
    FUZZ_CHECK(tp_dec_cmp(&base, &q->base_quantity) == 0, q->unit->code);
    if (q->unit->dim == TP_DIM_COUNT)
        FUZZ_CHECK(tp_dec_is_integer(&q->base_quantity), q->unit->code);
    check_amount(&q->quantity);
    check_amount(&q->base_quantity);
}

static long ymd_key(long y, int m, int d)
{
    return y * 10000 + m * 100 + d;
}

/* SPEC: not before the accept date, at most 2 years ahead; compared as (y, m, d) with the year
 * raised by 2, which clamps a 29 February to the 28th exactly as PostgreSQL does. */
static bool need_by_in_range(const tp_validate_ctx_t *ctx, int y, int m, int d)
{
    long key = ymd_key(y, m, d);
    return key >= ymd_key(ctx->today_y, ctx->today_m, ctx->today_d) &&
           key <= ymd_key(ctx->today_y + 2L, ctx->today_m, ctx->today_d);
}

static void check_need_by(const tp_validate_ctx_t *ctx, const tp_request_t *q)
{
    long day = tp_days_from_civil(q->need_by_y, q->need_by_m, q->need_by_d);
    long today = tp_days_from_civil(ctx->today_y, ctx->today_m, ctx->today_d);
    int y, m, d;
    tp_civil_from_days(day, &y, &m, &d);
    FUZZ_CHECK(y == q->need_by_y && m == q->need_by_m && d == q->need_by_d, NULL);
    FUZZ_CHECK(day >= today && day - today <= FUZZ_MAX_NEED_BY_DAYS, NULL);
    FUZZ_CHECK(need_by_in_range(ctx, y, m, d), NULL);
}

static void check_purchase(const tp_validate_ctx_t *ctx, const tp_request_t *q)
{
    char code8[9];
    FUZZ_CHECK(tp_cpv_parse(q->cpv, code8) && strcmp(code8, q->cpv) == 0, q->cpv);
    if (ctx->cpv != NULL)
        FUZZ_CHECK(tp_cpv_set_has(ctx->cpv, q->cpv), q->cpv);
    FUZZ_CHECK(tp_valid_utf8_text(q->item_key, 1, FUZZ_MAX_ITEM_KEY), NULL);
    FUZZ_CHECK(tp_valid_utf8_text(q->description, 0, FUZZ_MAX_TEXT), NULL);
    FUZZ_CHECK(q->unit != NULL, NULL);
    check_quantity(q);
    check_need_by(ctx, q);
    FUZZ_CHECK(tp_valid_delivery_zone(q->delivery_zone), q->delivery_zone);
    FUZZ_CHECK(tp_valid_currency(q->currency), q->currency);
    if (q->has_max_price) {
        FUZZ_CHECK(tp_dec_sign(&q->max_unit_price) >= 0, NULL);
        FUZZ_CHECK(dec_fits(&q->max_unit_price, FUZZ_MAX_INT, FUZZ_MAX_FRAC), NULL);
        check_amount(&q->max_unit_price);
    }
}

/* What SPEC section 3 promises about every envelope tp_validate_envelope lets through. */
static void check_accepted(const tp_validate_ctx_t *ctx, const Tenderpool__V1__Envelope *env,
                           const tp_request_t *q)
{
    FUZZ_CHECK(q->op == op_of(env), NULL);
    check_member(ctx, q);
    FUZZ_CHECK(tp_valid_request_ref(q->request_ref), q->request_ref);
    FUZZ_CHECK(q->revision >= 1 && q->revision <= TP_MAX_REVISION, NULL);
    FUZZ_CHECK(q->op != TP_OP_SUBMIT || q->revision == 1, NULL);
    if (q->op == TP_OP_CANCEL)
        FUZZ_CHECK(tp_valid_utf8_text(q->reason, 0, FUZZ_MAX_TEXT), NULL);
    else
        check_purchase(ctx, q);
}

/* ---- a rejected envelope ---- */

static bool known_code(const char *code)
{
    static const char *const codes[] = {"MALFORMED",    "MEMBER_MISMATCH", "INVALID_FIELD",
                                        "UNKNOWN_UNIT", "UNKNOWN_CPV",     "UNKNOWN_REQUEST",
                                        "ROUND_CLOSED", "BATCH_TOO_LARGE", "UNAUTHENTICATED"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (code != NULL && strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* A real date refused as need_by is out of range indeed. */
static void check_need_by_refusal(const tp_validate_ctx_t *ctx, const Tenderpool__V1__Envelope *env,
                                  const tp_reject_t *rej)
{
    const Tenderpool__V1__PurchaseRequest *pr = NULL; /* submit, amend, cancel: a union */
    int y, m, d;
    if (env->body_case == TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT)
        pr = env->submit;
    else if (env->body_case == TENDERPOOL__V1__ENVELOPE__BODY_AMEND)
        pr = env->amend;
    if (pr == NULL || strncmp(rej->detail, "need_by:", 8) != 0)
        return;
    if (tp_parse_date(pr->need_by, &y, &m, &d))
        FUZZ_CHECK(!need_by_in_range(ctx, y, m, d), pr->need_by);
}

/* The detail goes back to the client in a protobuf string: it must be valid UTF-8. */
static void check_rejected(const tp_validate_ctx_t *ctx, const Tenderpool__V1__Envelope *env,
                           const tp_reject_t *rej)
{
    size_t n = strnlen(rej->detail, sizeof(rej->detail));
    FUZZ_CHECK(known_code(rej->code), rej->code);
    FUZZ_CHECK(n > 0 && n < sizeof(rej->detail), NULL);
    FUZZ_CHECK(tp_valid_utf8(rej->detail, n), NULL);
    if (env != NULL)
        check_need_by_refusal(ctx, env, rej);
}

/* ---- a batch ---- */

/* As the worker's echo_ref: the envelope's request_ref only when it is valid UTF-8. */
static void echo_ref(Tenderpool__V1__Ack *a, const Tenderpool__V1__Envelope *env)
{
    const char *ref = "";
    if (env->body_case == TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT && env->submit)
        ref = env->submit->request_ref;
    else if (env->body_case == TENDERPOOL__V1__ENVELOPE__BODY_AMEND && env->amend)
        ref = env->amend->request_ref;
    else if (env->body_case == TENDERPOOL__V1__ENVELOPE__BODY_CANCEL && env->cancel)
        ref = env->cancel->request_ref;
    FUZZ_CHECK(ref != NULL, NULL);
    a->request_ref = (char *)(tp_valid_utf8(ref, strlen(ref)) ? ref : "");
}

static void validate_item(const tp_validate_ctx_t *ctx, const Tenderpool__V1__Envelope *env,
                          Tenderpool__V1__Ack *a, tp_reject_t *rej)
{
    tp_request_t q;
    tenderpool__v1__ack__init(a);
    echo_ref(a, env);
    if (tp_validate_envelope(ctx, env, &q, rej) < 0) {
        check_rejected(ctx, env, rej);
        a->status = TENDERPOOL__V1__STATUS__STATUS_REJECTED;
        a->error_code = (char *)rej->code;
        a->detail = rej->detail;
        if (world.verbose)
            fprintf(stderr, "  %s: %s %s\n", a->request_ref, rej->code, rej->detail);
        return;
    }
    check_accepted(ctx, env, &q);
    a->revision = q.revision;
    a->status = TENDERPOOL__V1__STATUS__STATUS_ACCEPTED;
    a->round_id = FUZZ_ROUND_ID;
    if (world.verbose)
        fprintf(stderr, "  %s: ACCEPTED (op %d, revision %u)\n", a->request_ref, (int)q.op,
                (unsigned)q.revision);
}

static void check_same_ack(const Tenderpool__V1__Ack *a, const Tenderpool__V1__Ack *b)
{
    FUZZ_CHECK(a->status == b->status, a->request_ref);
    FUZZ_CHECK(strcmp(a->request_ref, b->request_ref) == 0, a->request_ref);
    FUZZ_CHECK(strcmp(a->error_code, b->error_code) == 0, a->error_code);
    FUZZ_CHECK(strcmp(a->detail, b->detail) == 0, a->detail);
    FUZZ_CHECK(tp_valid_utf8(b->request_ref, strlen(b->request_ref)), NULL);
}

/* The BatchAck a worker sends decodes to one ack per envelope, unchanged. */
static void check_batch_reply(uint64_t batch_id, Tenderpool__V1__Ack **ackp, size_t n)
{
    Tenderpool__V1__BatchAck ba = TENDERPOOL__V1__BATCH_ACK__INIT;
    Tenderpool__V1__ServerMessage sm = TENDERPOOL__V1__SERVER_MESSAGE__INIT;
    ba.batch_id = batch_id;
    ba.n_acks = n;
    ba.acks = ackp;
    sm.kind_case = TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK;
    sm.batch_ack = &ba;
    size_t len = tenderpool__v1__server_message__get_packed_size(&sm);
    uint8_t *buf = malloc(len ? len : 1);
    FUZZ_CHECK(buf != NULL && tenderpool__v1__server_message__pack(&sm, buf) == len, NULL);
    /* the workers encode their replies with tp_wire_put_acks: protobuf-c's bytes exactly */
    uint8_t *own = malloc(len ? len : 1);
    FUZZ_CHECK(own != NULL && tp_wire_put_acks(NULL, 1, batch_id, ackp, n) == len &&
                   tp_wire_put_acks(own, 1, batch_id, ackp, n) == len && memcmp(own, buf, len) == 0,
               "tp_wire_put_acks differs from protobuf-c's pack");
    free(own);
    Tenderpool__V1__ServerMessage *back = tenderpool__v1__server_message__unpack(NULL, len, buf);
    FUZZ_CHECK(back != NULL && back->batch_ack != NULL && back->batch_ack->n_acks == n, NULL);
    for (size_t i = 0; i < n; i++)
        check_same_ack(ackp[i], back->batch_ack->acks[i]);
    tenderpool__v1__server_message__free_unpacked(back, NULL);
    free(buf);
}

/* The curve context's accept date for this batch (see TP_FUZZ_DATE_SPAN). */
static void accept_date_of(const Tenderpool__V1__Batch *b, tp_validate_ctx_t *ctx)
{
    long day = tp_days_from_civil(TP_FUZZ_TODAY_Y, TP_FUZZ_TODAY_M, TP_FUZZ_TODAY_D);
    tp_civil_from_days(day + (long)(b->batch_id % TP_FUZZ_DATE_SPAN), &ctx->today_y, &ctx->today_m,
                       &ctx->today_d);
}

static void fuzz_batch(const Tenderpool__V1__Batch *b)
{
    if (b->n_items == 0 || b->n_items > TP_FUZZ_MAX_BATCH_ITEMS)
        return; /* refused whole by the supervisor: no worker sees it */
    Tenderpool__V1__Ack *acks = calloc(b->n_items, sizeof(*acks));
    Tenderpool__V1__Ack **ackp = calloc(b->n_items, sizeof(*ackp));
    tp_reject_t *rej = calloc(b->n_items, sizeof(*rej));
    FUZZ_CHECK(acks != NULL && ackp != NULL && rej != NULL, NULL);
    accept_date_of(b, &world.ctx[1]);
    for (int c = 0; c < FUZZ_NCTX; c++) {
        for (size_t i = 0; i < b->n_items; i++) {
            FUZZ_CHECK(b->items[i] != NULL, NULL);
            validate_item(&world.ctx[c], b->items[i], &acks[i], &rej[i]);
            ackp[i] = &acks[i];
        }
        check_batch_reply(b->batch_id, ackp, b->n_items);
    }
    free(rej);
    free(ackp);
    free(acks);
}

/* ---- a status query ---- */

/* A ref that passes goes unescaped into a PostgreSQL text[] literal (workers/status.c). */
static void check_status_ref(const char *ref)
{
    FUZZ_CHECK(ref != NULL, NULL);
    if (!tp_valid_request_ref(ref))
        return;
    FUZZ_CHECK(strpbrk(ref, "\"\\,{} \t\n") == NULL && strlen(ref) <= 64, ref);
    FUZZ_CHECK(tp_valid_utf8(ref, strlen(ref)), ref);
}

/* The member a worker answers for (member_of in workers/status.c), in both modes. */
static void check_status_member(const Tenderpool__V1__StatusQuery *q)
{
    FUZZ_CHECK(q->member_id != NULL && q->round_id != NULL, NULL);
    if (!tp_valid_member_id(q->member_id))
        return;
    FUZZ_CHECK(strlen(q->member_id) >= 1 && strlen(q->member_id) <= 64, q->member_id);
    FUZZ_CHECK(strspn(q->member_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789._-") == strlen(q->member_id),
               q->member_id);
}

/* The StatusReply echoes each ref only when it is valid UTF-8, and decodes. */
static void check_status_reply(const Tenderpool__V1__StatusQuery *q)
{
    size_t n = q->n_request_refs;
    Tenderpool__V1__RequestStatus *st = calloc(n ? n : 1, sizeof(*st));
    Tenderpool__V1__RequestStatus **stp = calloc(n ? n : 1, sizeof(*stp));
    FUZZ_CHECK(st != NULL && stp != NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        const char *ref = q->request_refs[i];
        tenderpool__v1__request_status__init(&st[i]);
        st[i].request_ref = (char *)(tp_valid_utf8(ref, strlen(ref)) ? ref : "");
        st[i].state = TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_UNKNOWN;
        stp[i] = &st[i];
    }
    Tenderpool__V1__StatusReply sr = TENDERPOOL__V1__STATUS_REPLY__INIT;
    sr.query_id = q->query_id;
    sr.n_requests = n;
    sr.requests = stp;
    size_t len = tenderpool__v1__status_reply__get_packed_size(&sr);
    uint8_t *buf = malloc(len ? len : 1);
    FUZZ_CHECK(buf != NULL && tenderpool__v1__status_reply__pack(&sr, buf) == len, NULL);
    Tenderpool__V1__StatusReply *back = tenderpool__v1__status_reply__unpack(NULL, len, buf);
    FUZZ_CHECK(back != NULL && back->n_requests == n && back->query_id == q->query_id, NULL);
    tenderpool__v1__status_reply__free_unpacked(back, NULL);
    free(buf);
    free(stp);
    free(st);
}

static void fuzz_status(const Tenderpool__V1__StatusQuery *q)
{
    check_status_member(q);
    if (q->n_request_refs > FUZZ_STATUS_MAX_REFS)
        return; /* refused BATCH_TOO_LARGE before any ref is read */
    for (size_t i = 0; i < q->n_request_refs; i++)
        check_status_ref(q->request_refs[i]);
    check_status_reply(q);
}

/* ---- the frame ---- */

/* Packed bytes of an envelope (malloc'd), to compare two decodings of one. */
static uint8_t *pack_envelope(const Tenderpool__V1__Envelope *e, size_t *len)
{
    *len = tenderpool__v1__envelope__get_packed_size(e);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf == NULL)
        abort();
    tenderpool__v1__envelope__pack(e, buf);
    return buf;
}

static void check_same_string(const char *a, const char *b, const char *what)
{
    FUZZ_CHECK(a != NULL && b != NULL && strcmp(a, b) == 0, what);
}

/* Every field the workers read, equal in the fast decode (a) and protobuf-c's (b). */
static void check_same_envelope(const Tenderpool__V1__Envelope *a,
                                const Tenderpool__V1__Envelope *b)
{
    const char *what = "the fast envelope decode differs from protobuf-c";
    check_same_string(a->member_id, b->member_id, what);
    FUZZ_CHECK(a->body_case == b->body_case, what);
    if (a->body_case == TENDERPOOL__V1__ENVELOPE__BODY_CANCEL) {
        FUZZ_CHECK(a->cancel != NULL && b->cancel != NULL, what);
        check_same_string(a->cancel->request_ref, b->cancel->request_ref, what);
        FUZZ_CHECK(a->cancel->revision == b->cancel->revision, what);
        check_same_string(a->cancel->reason, b->cancel->reason, what);
        return;
    }
    const Tenderpool__V1__PurchaseRequest *p = a->submit, *q = b->submit; /* or amend */
    FUZZ_CHECK(p != NULL && q != NULL && p->revision == q->revision, what);
    check_same_string(p->request_ref, q->request_ref, what);
    check_same_string(p->cpv, q->cpv, what);
    check_same_string(p->item_key, q->item_key, what);
    check_same_string(p->description, q->description, what);
    check_same_string(p->quantity, q->quantity, what);
    check_same_string(p->unit, q->unit, what);
    check_same_string(p->need_by, q->need_by, what);
    check_same_string(p->delivery_zone, q->delivery_zone, what);
    check_same_string(p->currency, q->currency, what);
    check_same_string(p->max_unit_price, q->max_unit_price, what);
}

/* The workers' one-pass decode of an envelope (tp_wire_envelope_decode) takes every envelope
 * the supervisor routes from the wire, and gives protobuf-c's values and NUL finding. */
static void fuzz_fast_decode(tp_wire_span_t sp, const Tenderpool__V1__Envelope *whole,
                             const char *nul_name)
{
    tp_arena_t ar;
    tp_arena_init(&ar, sp.len + 256);
    Tenderpool__V1__Envelope *e = NULL;
    const char *f = "unset";
    tp_wire_span_t member, ref;
    int rc = tp_wire_envelope_decode(sp, &ar, &e, &f);
    int routed = tp_wire_envelope_route(sp, &member, &ref);
    FUZZ_CHECK(rc == routed, "the fast decode and the route disagree on the plain shape");
    if (rc == 1) {
        check_same_envelope(e, whole);
        FUZZ_CHECK((f == NULL) == (nul_name == NULL) && (f == NULL || strcmp(f, nul_name) == 0),
                   "the fast decode's NUL finding differs");
    }
    tp_arena_release(&ar);
}

/* The worker's split of a plain batch (tp_wire_batch_items): when it accepts the frame, it
 * sees the same envelopes in the same order as the whole decode, each decoding on its own to
 * the same content, with the same NUL findings, and the same batch_id. */
static void fuzz_split(const uint8_t *data, size_t size, const Tenderpool__V1__ClientMessage *m,
                       const char **names)
{
    uint64_t id;
    int count = tp_wire_batch_items(data, size, &id, NULL, 0);
    if (count < 0)
        return; /* decoded whole by the worker, as before */
    FUZZ_CHECK(m->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH && m->batch != NULL,
               "the split took a frame that is not a batch");
    FUZZ_CHECK((size_t)count == m->batch->n_items, "the split counts other envelopes");
    FUZZ_CHECK(id == m->batch->batch_id, "the split reads another batch_id");
    tp_wire_span_t *sp = calloc((size_t)count + 1, sizeof(*sp));
    if (sp == NULL)
        abort();
    FUZZ_CHECK(tp_wire_batch_items(data, size, &id, sp, (size_t)count) == count,
               "the split is not repeatable");
    for (int i = 0; i < count; i++) {
        Tenderpool__V1__Envelope *e = tenderpool__v1__envelope__unpack(NULL, sp[i].len, sp[i].p);
        FUZZ_CHECK(e != NULL, "an envelope of a decodable batch does not decode alone");
        size_t la, lb;
        uint8_t *a = pack_envelope(e, &la), *b = pack_envelope(m->batch->items[i], &lb);
        FUZZ_CHECK(la == lb && memcmp(a, b, la) == 0, "an envelope decodes to other content alone");
        free(a);
        free(b);
        tenderpool__v1__envelope__free_unpacked(e, NULL);
        const char *f = NULL;
        FUZZ_CHECK(tp_wire_envelope_nul(sp[i], &f) == 0, "a decodable envelope walks as malformed");
        FUZZ_CHECK((f == NULL) == (names[i] == NULL) && (f == NULL || strcmp(f, names[i]) == 0),
                   "the NUL finding differs between the split and the whole walk");
        fuzz_fast_decode(sp[i], m->batch->items[i], names[i]);
    }
    free(sp);
}

/* The worker's raw walk for NUL bytes (common/wire.c) parses the same untrusted frame: it must
 * not crash or read out of bounds, and names only fields of the protocol. */
static void fuzz_wire(const uint8_t *data, size_t size, const Tenderpool__V1__ClientMessage *m)
{
    size_t n = m->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH && m->batch
                   ? m->batch->n_items
                   : 0;
    const char **names = calloc(n ? n : 1, sizeof(*names));
    const char *status = NULL;
    /* the walk accepts every frame protobuf-c decodes: else NUL bytes would go unchecked */
    FUZZ_CHECK(tp_wire_nul_fields(data, size, names, n, &status) >= 0,
               "a frame protobuf-c decodes walks as malformed");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(names[i] == NULL || names[i][0] != '\0', "an empty field name");
    FUZZ_CHECK(status == NULL || status[0] != '\0', "an empty field name");
    fuzz_split(data, size, m, names);
    free(names);
}

static bool span_is(tp_wire_span_t sp, const char *s)
{
    return sp.len == strlen(s) && memcmp(sp.p, s, sp.len) == 0;
}

/* The supervisor routes a plain batch from its bytes (tp_wire_envelope_route): whenever it
 * does, protobuf-c decodes the frame, to the same envelopes with the same member_id and
 * request_ref, so every item goes to the worker the full decode would pick. */
static void fuzz_route(const uint8_t *data, size_t size, const Tenderpool__V1__ClientMessage *m)
{
    uint64_t id;
    int n = tp_wire_batch_items(data, size, &id, NULL, 0);
    if (n <= 0)
        return;
    tp_wire_span_t *sp = calloc((size_t)n * 3, sizeof(*sp));
    if (sp == NULL)
        abort();
    tp_wire_span_t *member = sp + n, *ref = sp + 2 * n;
    (void)tp_wire_batch_items(data, size, &id, sp, (size_t)n);
    bool routed = true;
    for (int i = 0; i < n && routed; i++)
        routed = tp_wire_envelope_route(sp[i], &member[i], &ref[i]) == 1;
    if (routed) {
        FUZZ_CHECK(m != NULL, "routed from the wire, but protobuf-c refuses the frame");
        FUZZ_CHECK(m->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH &&
                       m->batch->n_items == (size_t)n,
                   "routed from the wire: other envelopes than the decode");
        for (int i = 0; i < n; i++) {
            const Tenderpool__V1__Envelope *e = m->batch->items[i];
            FUZZ_CHECK(e->body_case != TENDERPOOL__V1__ENVELOPE__BODY__NOT_SET,
                       "routed from the wire: an envelope without a body");
            FUZZ_CHECK(span_is(member[i], e->member_id), "routed by another member_id");
            FUZZ_CHECK(span_is(ref[i], tp_envelope_ref(e)), "routed by another request_ref");
        }
    }
    free(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Tenderpool__V1__ClientMessage *m = tenderpool__v1__client_message__unpack(NULL, size, data);
    fuzz_route(data, size, m);
    if (m == NULL) {
        (void)tp_wire_nul_fields(data, size, NULL, 0, NULL); /* must not crash either */
        return 0; /* undecodable: one REJECTED/MALFORMED ack, nothing else looked at */
    }
    fuzz_wire(data, size, m);
    if (m->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH && m->batch != NULL)
        fuzz_batch(m->batch);
    else if (m->kind_case == TENDERPOOL__V1__CLIENT_MESSAGE__KIND_STATUS && m->status != NULL)
        fuzz_status(m->status);
    tenderpool__v1__client_message__free_unpacked(m, NULL);
    return 0;
}
