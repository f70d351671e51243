/* Minimal protobuf wire walk over ClientMessage: NUL bytes, envelope spans, plain envelopes. */
#include <stddef.h>
#include <string.h>

#include "tp_wire.h"

#define WIRE_MAX_FIELD 536870911u /* 2^29 - 1: protobuf's largest field number */

typedef struct wreader {
    const uint8_t *p, *end;
} wreader_t;

/* A varint of at most maxbytes bytes (10 for a value; protobuf-c reads a field key or a length
 * prefix in at most 5 and refuses the frame otherwise). */
static int varint_max(wreader_t *r, uint64_t *v, int maxbytes)
{
    *v = 0;
    for (int shift = 0; shift < 7 * maxbytes && shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* A varint whose first byte is the whole of it (the usual case), else varint_max's loop. */
static inline int varint_fast(wreader_t *r, uint64_t *v, int maxbytes)
{
    if (r->p < r->end && *r->p < 0x80) {
        *v = *r->p++;
        return 0;
    }
    return varint_max(r, v, maxbytes);
}

/* The next field: its number, for length-delimited ones its bytes in *sub (wt 2), for varints
 * their value in *val (wt 0); fixed-size ones are skipped. 1 read, 0 at the end, -1 malformed. */
static inline int next_field_v(wreader_t *r, uint32_t *num, int *wt, wreader_t *sub, uint64_t *val)
{
    uint64_t key, v;
    if (r->p >= r->end)
        return 0;
    /* as protobuf-c's parse_tag_and_wiretype: at most 5 bytes, and a first byte with tag bits
     * or a continuation (so field 0 is refused unless written overlong, then an unknown field) */
    if ((*r->p & 0xf8) == 0 || varint_fast(r, &key, 5) < 0 || (key >> 3) > UINT32_MAX)
        return -1;
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0:
        return varint_fast(r, val, 10) < 0 ? -1 : 1;
    case 1:
    case 5: {
        size_t n = *wt == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return -1;
        r->p += n;
        return 1;
    }
    case 2:
        if (varint_fast(r, &v, 5) < 0 || v > (uint64_t)(r->end - r->p))
            return -1;
        sub->p = r->p;
        sub->end = r->p + v;
        r->p += v;
        return 1;
    default:
        return -1;
    }
}

static int next_field(wreader_t *r, uint32_t *num, int *wt, wreader_t *sub)
{
    uint64_t v;
    return next_field_v(r, num, wt, sub, &v);
}

/* names[k] is the name of string field k (NULL: not a string); fields listed in `nested`
 * are messages walked with the same name table (PurchaseRequest and Cancel share theirs). */
static const char *const request_names[] = {
    NULL,       "request_ref", NULL,      "cpv",           "item_key", "description",
    "quantity", "unit",        "need_by", "delivery_zone", "currency", "max_unit_price"};
static const char *const cancel_names[] = {NULL, "request_ref", NULL, "reason"};
static const char *const status_names[] = {NULL, NULL, "member_id", "request_refs", "round_id"};

/* The first string field of m (a flat message) holding a NUL, or NULL; -1 when malformed. */
static int flat(wreader_t m, const char *const *names, size_t nnames, const char **found)
{
    uint32_t num;
    int wt, rc;
    wreader_t sub;
    while ((rc = next_field(&m, &num, &wt, &sub)) == 1)
        if (wt == 2 && num < nnames && names[num] && *found == NULL &&
            memchr(sub.p, 0, (size_t)(sub.end - sub.p)) != NULL)
            *found = names[num];
    return rc;
}

static int envelope(wreader_t m, const char **found)
{
    uint32_t num;
    int wt, rc;
    wreader_t sub;
    while ((rc = next_field(&m, &num, &wt, &sub)) == 1) {
        if (wt != 2)
            continue;
        if (num == 1 && *found == NULL && memchr(sub.p, 0, (size_t)(sub.end - sub.p)))
            *found = "member_id";
        else if ((num == 2 || num == 3) &&
                 flat(sub, request_names, sizeof(request_names) / sizeof(*request_names), found) <
                     0)
            return -1;
        else if (num == 4 &&
                 flat(sub, cancel_names, sizeof(cancel_names) / sizeof(*cancel_names), found) < 0)
            return -1;
    }
    return rc;
}

int tp_wire_nul_fields(const uint8_t *buf, size_t len, const char **per_item, size_t nitems,
                       const char **status_field)
{
    wreader_t r = {buf, buf + len}, sub, item;
    uint32_t num, inum;
    int wt, iwt, rc, irc;
    size_t n = 0;
    for (size_t i = 0; per_item && i < nitems; i++)
        per_item[i] = NULL;
    if (status_field)
        *status_field = NULL;
    while ((rc = next_field(&r, &num, &wt, &sub)) == 1) {
        if (wt != 2)
            continue;
        if (num == 2) { /* StatusQuery */
            const char *f = NULL;
            if (flat(sub, status_names, sizeof(status_names) / sizeof(*status_names), &f) < 0)
                return -1;
            if (status_field && f)
                *status_field = f;
            continue;
        }
        if (num != 1)
            continue;
        while ((irc = next_field(&sub, &inum, &iwt, &item)) == 1) { /* Batch */
            if (inum != 2 || iwt != 2)
                continue;
            const char *f = NULL;
            if (envelope(item, &f) < 0)
                return -1;
            if (per_item && n < nitems)
                per_item[n] = f;
            n++;
        }
        if (irc < 0)
            return -1;
    }
    return rc < 0 ? -1 : (int)(n > INT32_MAX ? INT32_MAX : n);
}

int tp_wire_envelope_nul(tp_wire_span_t env, const char **field)
{
    *field = NULL;
    wreader_t m = {env.p, env.p + env.len};
    return envelope(m, field) < 0 ? -1 : 0;
}

static int id_and_items(wreader_t b, uint64_t *batch_id, tp_wire_span_t *items, size_t max)
{
    uint32_t num;
    int wt, rc;
    wreader_t sub = {NULL, NULL};
    uint64_t v = 0;
    size_t n = 0;
    while ((rc = next_field_v(&b, &num, &wt, &sub, &v)) == 1) {
        if (num > WIRE_MAX_FIELD)
            return -1;
        if (num == 1) { /* batch_id: the last one wins */
            if (wt != 0)
                return -1;
            *batch_id = v;
        } else if (num == 2) { /* items */
            if (wt != 2)
                return -1;
            if (n < max)
                items[n] = (tp_wire_span_t){sub.p, (size_t)(sub.end - sub.p)};
            n++;
        }
    }
    return rc < 0 || n > INT32_MAX ? -1 : (int)n;
}

int tp_wire_batch_items(const uint8_t *buf, size_t len, uint64_t *batch_id, tp_wire_span_t *items,
                        size_t max)
{
    wreader_t r = {buf, buf + len}, sub = {NULL, NULL}, batch = {NULL, NULL};
    uint32_t num;
    int wt, rc, nbatch = 0;
    *batch_id = 0;
    while ((rc = next_field(&r, &num, &wt, &sub)) == 1) {
        if (num == 2 || num > WIRE_MAX_FIELD)
            return -1; /* a StatusQuery, or both kinds: the decoder keeps the last */
        if (num == 1) {
            if (wt != 2 || ++nbatch > 1)
                return -1; /* repeated: the decoder keeps the last (walked whole instead) */
            batch = sub;
        }
    }
    if (rc < 0 || nbatch != 1)
        return -1;
    return id_and_items(batch, batch_id, items, max);
}

int tp_wire_id_and_items(const uint8_t *buf, size_t len, uint64_t *id, tp_wire_span_t *items,
                         size_t max)
{
    wreader_t r = {buf, buf + len};
    *id = 0;
    return id_and_items(r, id, items, max);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

uint8_t *tp_wire_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

size_t tp_wire_put_batch_ack(uint8_t *out, uint64_t batch_id, const tp_wire_span_t *acks, size_t n)
{
    size_t inner = batch_id ? 1 + varint_len(batch_id) : 0; /* proto3: a 0 is not written */
    for (size_t i = 0; i < n; i++)
        inner += 1 + varint_len(acks[i].len) + acks[i].len;
    size_t total = 1 + varint_len(inner) + inner;
    if (out == NULL)
        return total;
    uint8_t *p = out;
    *p++ = 0x0a; /* ServerMessage.batch_ack: field 1, length-delimited */
    p = tp_wire_put_varint(p, inner);
    if (batch_id) {
        *p++ = 0x08; /* BatchAck.batch_id: field 1, varint */
        p = tp_wire_put_varint(p, batch_id);
    }
    for (size_t i = 0; i < n; i++) {
        *p++ = 0x12; /* BatchAck.acks: field 2, length-delimited */
        p = tp_wire_put_varint(p, acks[i].len);
        if (acks[i].len)
            memcpy(p, acks[i].p, acks[i].len);
        p += acks[i].len;
    }
    return total;
}

/* A string field's bytes up to the first NUL (protobuf-c's C string). */
static tp_wire_span_t c_string(wreader_t s)
{
    size_t n = (size_t)(s.end - s.p);
    const uint8_t *z = memchr(s.p, 0, n);
    return (tp_wire_span_t){s.p, z ? (size_t)(z - s.p) : n};
}

/* A PurchaseRequest (is_cancel 0) or Cancel (1) with the wire type of each of its fields
 * (field 2, revision: varint; the others: length-delimited); *ref its request_ref. */
static int body_route(wreader_t b, int is_cancel, tp_wire_span_t *ref)
{
    uint32_t num, last = is_cancel ? 3 : 11;
    int wt, rc;
    wreader_t sub = {NULL, NULL};
    uint64_t v;
    while ((rc = next_field_v(&b, &num, &wt, &sub, &v)) == 1) {
        if (num > WIRE_MAX_FIELD)
            return 0;
        if (num == 2 ? wt != 0 : (num >= 1 && num <= last && wt != 2))
            return 0;
        if (num == 1)
            *ref = c_string(sub);
    }
    return rc == 0;
}

int tp_wire_envelope_route(tp_wire_span_t env, tp_wire_span_t *member, tp_wire_span_t *ref)
{
    wreader_t m = {env.p, env.p + env.len}, sub = {NULL, NULL}, body = {NULL, NULL};
    uint32_t num, bnum = 0;
    int wt, rc, nbody = 0;
    uint64_t v;
    *member = *ref = (tp_wire_span_t){(const uint8_t *)"", 0};
    while ((rc = next_field_v(&m, &num, &wt, &sub, &v)) == 1) {
        if (num > WIRE_MAX_FIELD || (num >= 1 && num <= 4 && wt != 2))
            return 0;
        if (num == 1)
            *member = c_string(sub);
        else if (num >= 2 && num <= 4) {
            nbody++;
            bnum = num;
            body = sub;
        }
    }
    if (rc != 0 || nbody != 1)
        return 0; /* malformed, no body, or several: the decoder keeps the last, merged */
    return body_route(body, bnum == 4, ref);
}

/* ---- decoding an envelope in the plain shape ---- */

/* Where PurchaseRequest's (and Cancel's, cancel_offs) string field k lives; 0: not a string. */
static const size_t request_offs[] = {0,
                                      offsetof(Tenderpool__V1__PurchaseRequest, request_ref),
                                      0,
                                      offsetof(Tenderpool__V1__PurchaseRequest, cpv),
                                      offsetof(Tenderpool__V1__PurchaseRequest, item_key),
                                      offsetof(Tenderpool__V1__PurchaseRequest, description),
                                      offsetof(Tenderpool__V1__PurchaseRequest, quantity),
                                      offsetof(Tenderpool__V1__PurchaseRequest, unit),
                                      offsetof(Tenderpool__V1__PurchaseRequest, need_by),
                                      offsetof(Tenderpool__V1__PurchaseRequest, delivery_zone),
                                      offsetof(Tenderpool__V1__PurchaseRequest, currency),
                                      offsetof(Tenderpool__V1__PurchaseRequest, max_unit_price)};
static const size_t cancel_offs[] = {0, offsetof(Tenderpool__V1__Cancel, request_ref), 0,
                                     offsetof(Tenderpool__V1__Cancel, reason)};

/* The envelope's bytes are copied once (copy, from base); a string field is used in place in
 * the copy, ended by a NUL written over the byte after it: always a later field's key or the
 * byte past the envelope, never another string's content. Notes the first field holding a
 * NUL byte, in wire order, as tp_wire_envelope_nul does. */
typedef struct envdec {
    const uint8_t *base;
    char *copy;
    const char **nul;
} envdec_t;

static char *dec_string(envdec_t *d, wreader_t s, const char *name)
{
    size_t off = (size_t)(s.p - d->base), n = (size_t)(s.end - s.p);
    if (*d->nul == NULL && memchr(s.p, 0, n) != NULL)
        *d->nul = name;
    d->copy[off + n] = '\0';
    return d->copy + off;
}

/* A PurchaseRequest or a Cancel (offs/names/nfields: its table) into msg, revision at rev;
 * 0 when not in the plain shape (a field of the protocol with another wire type). */
static int dec_body(envdec_t *d, wreader_t b, void *msg, uint32_t *rev, const size_t *offs,
                    const char *const *names, uint32_t nfields)
{
    uint32_t num;
    int wt, rc;
    wreader_t sub = {NULL, NULL};
    uint64_t v = 0;
    while ((rc = next_field_v(&b, &num, &wt, &sub, &v)) == 1) {
        if (num > WIRE_MAX_FIELD)
            return 0;
        if (num == 2) {
            if (wt != 0)
                return 0;
            *rev = (uint32_t)v; /* protobuf-c keeps the low 32 bits; the last one wins */
        } else if (num >= 1 && num < nfields) {
            if (wt != 2)
                return 0;
            *(char **)((char *)msg + offs[num]) = dec_string(d, sub, names[num]);
        } /* unknown fields are skipped (protobuf-c keeps them; nothing reads them) */
    }
    return rc == 0;
}

int tp_wire_envelope_decode(tp_wire_span_t env, tp_arena_t *ar, Tenderpool__V1__Envelope **out,
                            const char **nul_field)
{
    envdec_t d = {env.p, tp_arena_alloc(ar, env.len + 1), nul_field};
    Tenderpool__V1__Envelope *e = tp_arena_alloc(ar, sizeof(*e));
    *e = (Tenderpool__V1__Envelope)TENDERPOOL__V1__ENVELOPE__INIT;
    *nul_field = NULL;
    if (env.len)
        memcpy(d.copy, env.p, env.len);
    d.copy[env.len] = '\0';
    wreader_t m = {env.p, env.p + env.len}, sub = {NULL, NULL};
    uint32_t num;
    int wt, rc, nbody = 0;
    uint64_t v;
    while ((rc = next_field_v(&m, &num, &wt, &sub, &v)) == 1) {
        if (num > WIRE_MAX_FIELD || (num >= 1 && num <= 4 && wt != 2))
            return 0;
        if (num == 1) {
            e->member_id = dec_string(&d, sub, "member_id");
        } else if (num == 4) {
            Tenderpool__V1__Cancel *c = tp_arena_alloc(ar, sizeof(*c));
            *c = (Tenderpool__V1__Cancel)TENDERPOOL__V1__CANCEL__INIT;
            if (++nbody > 1 || !dec_body(&d, sub, c, &c->revision, cancel_offs, cancel_names,
                                         sizeof(cancel_offs) / sizeof(*cancel_offs)))
                return 0;
            e->body_case = TENDERPOOL__V1__ENVELOPE__BODY_CANCEL;
            e->cancel = c;
        } else if (num == 2 || num == 3) {
            Tenderpool__V1__PurchaseRequest *pr = tp_arena_alloc(ar, sizeof(*pr));
            *pr = (Tenderpool__V1__PurchaseRequest)TENDERPOOL__V1__PURCHASE_REQUEST__INIT;
            if (++nbody > 1 || !dec_body(&d, sub, pr, &pr->revision, request_offs, request_names,
                                         sizeof(request_offs) / sizeof(*request_offs)))
                return 0;
            e->body_case = num == 2 ? TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT
                                    : TENDERPOOL__V1__ENVELOPE__BODY_AMEND;
            e->submit = pr; /* submit and amend share the union */
        }
    }
    if (rc != 0 || nbody != 1)
        return 0; /* malformed, no body, or several: the decoder keeps the last, merged */
    *out = e;
    return 1;
}

/* ---- encoding the workers' acks ---- */

/* A proto3 string field (tag: its key byte): nothing when empty, as protobuf-c packs it. */
static size_t put_string(uint8_t *p, uint8_t tag, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0)
        return 0;
    if (p) {
        *p++ = tag;
        p = tp_wire_put_varint(p, n);
        memcpy(p, s, n);
    }
    return 1 + varint_len(n) + n;
}

/* A proto3 varint field: nothing when 0. */
static size_t put_uint(uint8_t *p, uint8_t tag, uint64_t v)
{
    if (v == 0)
        return 0;
    if (p) {
        *p++ = tag;
        tp_wire_put_varint(p, v);
    }
    return 1 + varint_len(v);
}

/* One Ack's fields in field order, as protobuf-c packs them; out NULL: only the size. */
static size_t put_ack(uint8_t *out, const Tenderpool__V1__Ack *a)
{
    size_t n = 0;
    n += put_string(out ? out + n : NULL, 0x0a, a->request_ref);
    n += put_uint(out ? out + n : NULL, 0x10, a->revision);
    /* an enum is an int32: a negative one is sign-extended to ten bytes */
    n += put_uint(out ? out + n : NULL, 0x18, (uint64_t)(int64_t)a->status);
    n += put_string(out ? out + n : NULL, 0x22, a->error_code);
    n += put_string(out ? out + n : NULL, 0x2a, a->detail);
    n += put_string(out ? out + n : NULL, 0x32, a->round_id);
    n += put_uint(out ? out + n : NULL, 0x38, a->server_seq);
    return n;
}

size_t tp_wire_put_acks(uint8_t *out, int wrapped, uint64_t batch_id,
                        Tenderpool__V1__Ack *const *acks, size_t n)
{
    size_t inner = put_uint(NULL, 0x08, batch_id);
    for (size_t i = 0; i < n; i++) {
        size_t k = put_ack(NULL, acks[i]);
        inner += 1 + varint_len(k) + k;
    }
    size_t total = wrapped ? 1 + varint_len(inner) + inner : inner;
    if (out == NULL)
        return total;
    uint8_t *p = out;
    if (wrapped) {
        *p++ = 0x0a; /* ServerMessage.batch_ack */
        p = tp_wire_put_varint(p, inner);
    }
    p += put_uint(p, 0x08, batch_id);
    for (size_t i = 0; i < n; i++) {
        *p++ = 0x12; /* BatchAck.acks */
        p = tp_wire_put_varint(p, put_ack(NULL, acks[i]));
        p += put_ack(p, acks[i]);
    }
    return total;
}
