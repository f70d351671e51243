/* Unit tests for the raw protobuf walk that finds NUL bytes protobuf-c's strings hide. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tp_testclient.h"
#include "tp_wire.h"

/* Replace the first occurrence of `mark` in buf by a NUL byte. */
static void nul_at(uint8_t *buf, size_t len, char mark)
{
    uint8_t *p = memchr(buf, mark, len);
    cr_assert_not_null(p, "fixture has '%c'", mark);
    *p = '\0';
}

Test(wire, clean_batches_have_no_nul_fields)
{
    tp_test_item_t it[3] = {
        tp_test_item_default("acme", "a"),
        tp_test_item_default("acme", "b"),
        {.op = "cancel", .member_id = "acme", .request_ref = "c", .revision = 2, .reason = "gone"}};
    size_t len;
    uint8_t *buf = tp_test_pack_batch(1, it, 3, &len);
    const char *f[3] = {"x", "x", "x"};
    cr_expect_eq(tp_wire_nul_fields(buf, len, f, 3, NULL), 3);
    for (int i = 0; i < 3; i++)
        cr_expect_null(f[i], "item %d", i);
    free(buf);
}

Test(wire, each_string_field_is_named)
{
    static const struct {
        const char *field;
    } cases[] = {{"member_id"},     {"request_ref"}, {"cpv"},           {"item_key"},
                 {"description"},   {"quantity"},    {"unit"},          {"need_by"},
                 {"delivery_zone"}, {"currency"},    {"max_unit_price"}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        tp_test_item_t it[2] = {tp_test_item_default("acme", "r0"),
                                tp_test_item_default("acme", "r1")};
        const char *f = cases[k].field;
        /* a '~' only in that field of item 1 */
        if (strcmp(f, "member_id") == 0)
            it[1].member_id = "ac~me";
        else if (strcmp(f, "request_ref") == 0)
            it[1].request_ref = "r~1";
        else if (strcmp(f, "cpv") == 0)
            it[1].cpv = "1842~300";
        else if (strcmp(f, "item_key") == 0)
            it[1].item_key = "gl~oves";
        else if (strcmp(f, "description") == 0)
            it[1].description = "d~";
        else if (strcmp(f, "quantity") == 0)
            it[1].quantity = "1~0";
        else if (strcmp(f, "unit") == 0)
            it[1].unit = "H~7";
        else if (strcmp(f, "need_by") == 0)
            it[1].need_by = "2027-01~1";
        else if (strcmp(f, "delivery_zone") == 0)
            it[1].delivery_zone = "FR~";
        else if (strcmp(f, "currency") == 0)
            it[1].currency = "EU~";
        else
            it[1].max_unit_price = "1~";
        size_t len;
        uint8_t *buf = tp_test_pack_batch(1, it, 2, &len);
        nul_at(buf, len, '~');
        const char *got[2];
        cr_expect_eq(tp_wire_nul_fields(buf, len, got, 2, NULL), 2);
        cr_expect_null(got[0]);
        cr_expect(got[1] && strcmp(got[1], f) == 0, "%s: got %s", f, got[1] ? got[1] : "NULL");
        free(buf);
    }
}

Test(wire, cancel_reason_and_status_query)
{
    tp_test_item_t c = {.op = "cancel",
                        .member_id = "m",
                        .request_ref = "r",
                        .revision = 2,
                        .reason = "no~ longer"};
    size_t len;
    uint8_t *buf = tp_test_pack_batch(1, &c, 1, &len);
    nul_at(buf, len, '~');
    const char *got[1];
    cr_expect_eq(tp_wire_nul_fields(buf, len, got, 1, NULL), 1);
    cr_expect_str_eq(got[0], "reason");
    free(buf);
    const char *refs[] = {"ok", "b~d"};
    buf = tp_test_pack_status(3, "m", refs, 2, NULL, &len);
    nul_at(buf, len, '~');
    const char *st = NULL;
    cr_expect_eq(tp_wire_nul_fields(buf, len, NULL, 0, &st), 0);
    cr_expect_str_eq(st, "request_refs");
    free(buf);
}

Test(wire, malformed_frames)
{
    static const uint8_t truncated[] = {0x0a, 0x10, 0x12, 0x03};
    static const uint8_t bad_wire_type[] = {0x0f, 0x00};
    cr_expect_eq(tp_wire_nul_fields(truncated, sizeof(truncated), NULL, 0, NULL), -1);
    cr_expect_eq(tp_wire_nul_fields(bad_wire_type, sizeof(bad_wire_type), NULL, 0, NULL), -1);
    cr_expect_eq(tp_wire_nul_fields((const uint8_t *)"", 0, NULL, 0, NULL), 0);
}

/* Each envelope's span decodes on its own to what the whole message holds at that index. */
Test(wire, batch_items_split_a_plain_batch)
{
    tp_test_item_t it[3] = {
        tp_test_item_default("acme", "a-1"),
        tp_test_item_default("bolt", "b-1"),
        {.op = "cancel", .member_id = "acme", .request_ref = "c", .revision = 2, .reason = "gone"}};
    size_t len;
    uint8_t *buf = tp_test_pack_batch(77, it, 3, &len);
    uint64_t batch_id = 0;
    cr_assert_eq(tp_wire_batch_items(buf, len, &batch_id, NULL, 0), 3, "counting needs no array");
    tp_wire_span_t sp[3];
    cr_assert_eq(tp_wire_batch_items(buf, len, &batch_id, sp, 3), 3);
    cr_expect_eq(batch_id, 77);
    const char *refs[3] = {"a-1", "b-1", "c"}, *members[3] = {"acme", "bolt", "acme"};
    for (int i = 0; i < 3; i++) {
        Tenderpool__V1__Envelope *e = tenderpool__v1__envelope__unpack(NULL, sp[i].len, sp[i].p);
        cr_assert_not_null(e, "envelope %d decodes alone", i);
        cr_expect_str_eq(e->member_id, members[i]);
        const char *ref = e->body_case == TENDERPOOL__V1__ENVELOPE__BODY_CANCEL
                              ? e->cancel->request_ref
                              : e->submit->request_ref;
        cr_expect_str_eq(ref, refs[i]);
        tenderpool__v1__envelope__free_unpacked(e, NULL);
        const char *f = "x";
        cr_expect_eq(tp_wire_envelope_nul(sp[i], &f), 0);
        cr_expect_null(f);
    }
    nul_at(buf, len, 'b'); /* "bolt": envelope 1's member_id */
    const char *f = NULL;
    cr_assert_eq(tp_wire_batch_items(buf, len, &batch_id, sp, 3), 3);
    cr_expect_eq(tp_wire_envelope_nul(sp[1], &f), 0);
    cr_expect_str_eq(f, "member_id");
    free(buf);
}

/* Shapes protobuf-c decodes by merging or by keeping the last kind: the worker decodes those
 * whole, so the split refuses them. */
Test(wire, batch_items_refuse_other_shapes)
{
    tp_test_item_t it[1] = {tp_test_item_default("acme", "a-1")};
    size_t len;
    uint8_t *buf = tp_test_pack_batch(5, it, 1, &len);
    uint64_t id;
    uint8_t *twice = malloc(2 * len);
    memcpy(twice, buf, len);
    memcpy(twice + len, buf, len); /* two batch fields: the decoder merges them */
    cr_expect_eq(tp_wire_batch_items(twice, 2 * len, &id, NULL, 0), -1);
    static const uint8_t status_after[] = {0x0a, 0x02, 0x08, 0x01, 0x12, 0x00};
    cr_expect_eq(tp_wire_batch_items(status_after, sizeof(status_after), &id, NULL, 0), -1,
                 "a status field after the batch: the last kind wins");
    static const uint8_t id_as_bytes[] = {0x0a, 0x03, 0x0a, 0x01, 0x07};
    cr_expect_eq(tp_wire_batch_items(id_as_bytes, sizeof(id_as_bytes), &id, NULL, 0), -1,
                 "batch_id with a length-delimited wire type");
    static const uint8_t unknown_fields[] = {0x18, 0x05, 0x0a, 0x04, 0x08, 0x09, 0x20, 0x01};
    cr_expect_eq(tp_wire_batch_items(unknown_fields, sizeof(unknown_fields), &id, NULL, 0), 0,
                 "unknown fields are skipped, as the decoder does");
    cr_expect_eq(id, 9);
    static const uint8_t truncated[] = {0x0a, 0x10, 0x12, 0x03};
    cr_expect_eq(tp_wire_batch_items(truncated, sizeof(truncated), &id, NULL, 0), -1);
    cr_expect_eq(tp_wire_batch_items((const uint8_t *)"", 0, &id, NULL, 0), -1, "no batch");
    free(twice);
    free(buf);
}

/* The supervisor splices the workers' encoded acks into the client's BatchAck: the bytes must
 * be the ones protobuf-c packs for the same acks, whatever the batch_id (0 is not written). */
Test(wire, spliced_batch_ack_is_what_protobuf_c_packs)
{
    Tenderpool__V1__Ack a[3] = {TENDERPOOL__V1__ACK__INIT, TENDERPOOL__V1__ACK__INIT,
                                TENDERPOOL__V1__ACK__INIT};
    a[0].request_ref = "r-1";
    a[0].revision = 1;
    a[0].status = TENDERPOOL__V1__STATUS__STATUS_ACCEPTED;
    a[0].round_id = "2026-W48";
    a[0].server_seq = 1234567890123ULL;
    a[1].request_ref = "r-2";
    a[1].status = TENDERPOOL__V1__STATUS__STATUS_REJECTED;
    a[1].error_code = "INVALID_FIELD";
    a[1].detail = "quantity: not a decimal";
    /* a[2]: every field default: an empty Ack, encoded as zero bytes */
    Tenderpool__V1__Ack *ap[3] = {&a[0], &a[1], &a[2]};
    static const uint64_t ids[] = {0, 1, 300, UINT64_MAX};
    for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
        Tenderpool__V1__BatchAck ba = TENDERPOOL__V1__BATCH_ACK__INIT;
        ba.batch_id = ids[k];
        ba.n_acks = 3;
        ba.acks = ap;
        /* a worker's part: BatchAck bytes, split back into the encoded acks */
        size_t plen = tenderpool__v1__batch_ack__get_packed_size(&ba);
        uint8_t *part = malloc(plen);
        tenderpool__v1__batch_ack__pack(&ba, part);
        uint64_t id;
        tp_wire_span_t sp[3];
        cr_assert_eq(tp_wire_id_and_items(part, plen, &id, sp, 3), 3);
        cr_expect_eq(id, ids[k]);
        cr_expect_eq(sp[2].len, 0, "an empty Ack is zero bytes");
        /* the client's message, spliced and packed */
        Tenderpool__V1__ServerMessage sm = TENDERPOOL__V1__SERVER_MESSAGE__INIT;
        sm.kind_case = TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK;
        sm.batch_ack = &ba;
        size_t want_len = tenderpool__v1__server_message__get_packed_size(&sm);
        uint8_t *want = malloc(want_len);
        tenderpool__v1__server_message__pack(&sm, want);
        size_t got_len = tp_wire_put_batch_ack(NULL, ids[k], sp, 3);
        cr_assert_eq(got_len, want_len, "batch_id %llu", (unsigned long long)ids[k]);
        uint8_t *got = malloc(got_len);
        cr_assert_eq(tp_wire_put_batch_ack(got, ids[k], sp, 3), got_len);
        cr_expect_eq(memcmp(got, want, got_len), 0, "batch_id %llu", (unsigned long long)ids[k]);
        free(got);
        free(want);
        free(part);
    }
}

/* What the supervisor routes a plain envelope by, read from its bytes. */
Test(wire, envelope_route_reads_member_and_ref)
{
    tp_test_item_t it[3] = {
        tp_test_item_default("acme", "a-1"),
        tp_test_item_default("bolt", "b-1"),
        {.op = "cancel", .member_id = "acme", .request_ref = "c-9", .revision = 2, .reason = "x"}};
    size_t len;
    uint8_t *buf = tp_test_pack_batch(3, it, 3, &len);
    uint64_t id;
    tp_wire_span_t sp[3], member, ref;
    cr_assert_eq(tp_wire_batch_items(buf, len, &id, sp, 3), 3);
    const char *members[3] = {"acme", "bolt", "acme"}, *refs[3] = {"a-1", "b-1", "c-9"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tp_wire_envelope_route(sp[i], &member, &ref), 1, "envelope %d", i);
        cr_expect(member.len == strlen(members[i]) &&
                  memcmp(member.p, members[i], member.len) == 0);
        cr_expect(ref.len == strlen(refs[i]) && memcmp(ref.p, refs[i], ref.len) == 0);
    }
    /* up to the first NUL, as protobuf-c's C strings */
    uint8_t *bolt = NULL;
    for (size_t k = 0; k + 4 <= len && bolt == NULL; k++)
        if (memcmp(buf + k, "bolt", 4) == 0)
            bolt = buf + k;
    cr_assert_not_null(bolt);
    bolt[1] = '\0'; /* "bolt" -> "b" */
    cr_assert_eq(tp_wire_batch_items(buf, len, &id, sp, 3), 3);
    cr_assert_eq(tp_wire_envelope_route(sp[1], &member, &ref), 1);
    cr_expect_eq(member.len, 1);
    free(buf);
    /* shapes decoded whole instead */
    static const uint8_t no_body[] = {0x0a, 0x01, 'm'};
    static const uint8_t two_bodies[] = {0x12, 0x02, 0x0a, 0x00, 0x1a, 0x00};
    static const uint8_t member_as_varint[] = {0x08, 0x01, 0x12, 0x00};
    static const uint8_t revision_as_bytes[] = {0x12, 0x03, 0x12, 0x01, 0x07};
    static const uint8_t cpv_as_varint[] = {0x12, 0x02, 0x18, 0x01};
    static const uint8_t huge_field[] = {0x12, 0x00, 0xfa, 0xff, 0xff, 0xff, 0x1f, 0x00};
    const struct {
        const uint8_t *b;
        size_t n;
        const char *what;
    } no[] = {{no_body, sizeof(no_body), "no body"},
              {two_bodies, sizeof(two_bodies), "two bodies: merged by the decoder"},
              {member_as_varint, sizeof(member_as_varint), "member_id as a varint"},
              {revision_as_bytes, sizeof(revision_as_bytes), "revision length-delimited"},
              {cpv_as_varint, sizeof(cpv_as_varint), "cpv as a varint"},
              {huge_field, sizeof(huge_field), "field number above 2^29 - 1"}};
    for (size_t k = 0; k < sizeof(no) / sizeof(no[0]); k++)
        cr_expect_eq(tp_wire_envelope_route((tp_wire_span_t){no[k].b, no[k].n}, &member, &ref), 0,
                     "%s", no[k].what);
    static const uint8_t unknown_ok[] = {0x12, 0x05, 0x0a, 0x01, 'r', 0x60, 0x01, 0x28, 0x05};
    cr_expect_eq(
        tp_wire_envelope_route((tp_wire_span_t){unknown_ok, sizeof(unknown_ok)}, &member, &ref), 1,
        "unknown fields are skipped");
    cr_expect(ref.len == 1 && ref.p[0] == 'r');
    cr_expect_eq(member.len, 0, "no member_id: empty, as decoded");
}

/* protobuf-c reads a field key or a length prefix in at most 5 bytes and refuses the frame
 * otherwise: the walks must not take such a frame as plain (found in review: it was routed
 * from the wire and stored, though the decoder refuses it). */
Test(wire, overlong_keys_and_lengths_are_refused_as_the_decoder_does)
{
    /* Batch{batch_id (key 0x08 written in 6 bytes) = 7, items: Envelope{m1, submit{r1, 1}}} */
    static const uint8_t long_key[] = {0x0a, 0x15, 0x88, 0x80, 0x80, 0x80, 0x80, 0x00,
                                       0x07, 0x12, 0x0c, 0x0a, 0x02, 'm',  '1',  0x12,
                                       0x06, 0x0a, 0x02, 'r',  '1',  0x10, 0x01};
    /* the same with member_id's length (2) written in 6 bytes instead of the key */
    static const uint8_t long_len[] = {0x0a, 0x15, 0x08, 0x07, 0x12, 0x11, 0x0a, 0x82,
                                       0x80, 0x80, 0x80, 0x80, 0x00, 'm',  '1',  0x12,
                                       0x06, 0x0a, 0x02, 'r',  '1',  0x10, 0x01};
    uint64_t id;
    tp_wire_span_t sp[2], member, ref;
    cr_expect_null(tenderpool__v1__client_message__unpack(NULL, sizeof(long_key), long_key),
                   "the fixture is one protobuf-c refuses");
    cr_expect_null(tenderpool__v1__client_message__unpack(NULL, sizeof(long_len), long_len));
    cr_expect_eq(tp_wire_batch_items(long_key, sizeof(long_key), &id, sp, 2), -1);
    cr_assert_eq(tp_wire_batch_items(long_len, sizeof(long_len), &id, sp, 2), 1,
                 "the batch itself is well formed");
    cr_expect_eq(tp_wire_envelope_route(sp[0], &member, &ref), 0, "member_id's long length");
    cr_expect_eq(tp_wire_nul_fields(long_len, sizeof(long_len), NULL, 0, NULL), -1);
}

/* protobuf-c takes a key written overlong whose field number is 0 as an unknown field (its
 * first byte has the continuation bit): the walks skip it too (found by the fuzzer: the
 * worker took a decodable envelope for malformed). A plain 1-byte key of field 0 is refused
 * by both. */
Test(wire, overlong_field_zero_is_an_unknown_field)
{
    /* Envelope{member_id "m", [key 0 varint as 80 80 80 80 00] 7, submit{request_ref "r"}} */
    static const uint8_t env[] = {0x0a, 0x01, 'm',  0x80, 0x80, 0x80, 0x80,
                                  0x00, 0x07, 0x12, 0x03, 0x0a, 0x01, 'r'};
    static const uint8_t zero_key[] = {0x0a, 0x01, 'm', 0x02, 0x00};
    Tenderpool__V1__Envelope *e = tenderpool__v1__envelope__unpack(NULL, sizeof(env), env);
    cr_assert_not_null(e, "the fixture is one protobuf-c decodes");
    tenderpool__v1__envelope__free_unpacked(e, NULL);
    cr_expect_null(tenderpool__v1__envelope__unpack(NULL, sizeof(zero_key), zero_key));
    tp_wire_span_t member, ref;
    const char *f = "x";
    cr_expect_eq(tp_wire_envelope_nul((tp_wire_span_t){env, sizeof(env)}, &f), 0);
    cr_expect_null(f);
    cr_expect_eq(tp_wire_envelope_route((tp_wire_span_t){env, sizeof(env)}, &member, &ref), 1);
    cr_expect(member.len == 1 && member.p[0] == 'm' && ref.len == 1 && ref.p[0] == 'r');
    cr_expect_eq(tp_wire_envelope_nul((tp_wire_span_t){zero_key, sizeof(zero_key)}, &f), -1);
}

Test(wire, put_varint_reference_encodings)
{
    uint8_t b[12];
    cr_expect_eq(tp_wire_put_varint(b, 0) - b, 1);
    cr_expect_eq(b[0], 0x00);
    cr_expect_eq(tp_wire_put_varint(b, 300) - b, 2, "300 is two bytes");
    cr_expect(b[0] == 0xac && b[1] == 0x02, "300 is ac 02");
    cr_expect_eq(tp_wire_put_varint(b, UINT64_MAX) - b, 10, "the longest varint");
    cr_expect_eq(b[9], 0x01);
}

/* The fast decode of one envelope equals protobuf-c's on every field the workers read. */
static void expect_same_envelope(const Tenderpool__V1__Envelope *a,
                                 const Tenderpool__V1__Envelope *b, const char *what)
{
    cr_expect_str_eq(a->member_id, b->member_id, "%s: member_id", what);
    cr_assert_eq(a->body_case, b->body_case, "%s: body", what);
    if (a->body_case == TENDERPOOL__V1__ENVELOPE__BODY_CANCEL) {
        cr_expect_str_eq(a->cancel->request_ref, b->cancel->request_ref, "%s", what);
        cr_expect_eq(a->cancel->revision, b->cancel->revision, "%s", what);
        cr_expect_str_eq(a->cancel->reason, b->cancel->reason, "%s", what);
        return;
    }
    const Tenderpool__V1__PurchaseRequest *p = a->submit, *q = b->submit;
    cr_expect_eq(p->revision, q->revision, "%s: revision", what);
    const char *const pa[] = {p->request_ref, p->cpv,           p->item_key, p->description,
                              p->quantity,    p->unit,          p->need_by,  p->delivery_zone,
                              p->currency,    p->max_unit_price},
                      *const pb[] = {q->request_ref,   q->cpv,           q->item_key,
                                     q->description,   q->quantity,      q->unit,
                                     q->need_by,       q->delivery_zone, q->currency,
                                     q->max_unit_price};
    for (size_t k = 0; k < sizeof(pa) / sizeof(*pa); k++)
        cr_expect_str_eq(pa[k], pb[k], "%s: string field %zu", what, k);
}

/* Decodes span both ways; returns what the fast decode returned, after comparing. */
static int fast_vs_protobuf_c(tp_wire_span_t sp, const char *what)
{
    tp_arena_t ar;
    tp_arena_init(&ar, 64); /* small: strings in several chunks must work too */
    Tenderpool__V1__Envelope *fast = NULL;
    const char *f = "unset", *g = "unset";
    int rc = tp_wire_envelope_decode(sp, &ar, &fast, &f);
    Tenderpool__V1__Envelope *slow = tenderpool__v1__envelope__unpack(NULL, sp.len, sp.p);
    if (rc == 1) {
        cr_assert_not_null(slow, "%s: decoded fast, refused by protobuf-c", what);
        expect_same_envelope(fast, slow, what);
        cr_assert_eq(tp_wire_envelope_nul(sp, &g), 0);
        cr_expect((f == NULL && g == NULL) || (f && g && strcmp(f, g) == 0),
                  "%s: NUL finding %s against %s", what, f ? f : "none", g ? g : "none");
    }
    if (slow)
        tenderpool__v1__envelope__free_unpacked(slow, NULL);
    tp_arena_release(&ar);
    return rc;
}

Test(wire, fast_envelope_decode_equals_protobuf_c)
{
    tp_test_item_t it[4] = {
        tp_test_item_default("acme", "a"),
        tp_test_item_default("acme", "b~nul"),
        {.op = "cancel", .member_id = "acme", .request_ref = "c", .revision = 2, .reason = "g~"},
        tp_test_item_default("", "d")};
    it[1].description = "";
    it[1].max_unit_price = "";
    it[2].reason = "g~";
    size_t len;
    uint8_t *buf = tp_test_pack_batch(9, it, 4, &len);
    nul_at(buf, len, '~'); /* item 1's request_ref */
    nul_at(buf, len, '~'); /* item 2's reason */
    uint64_t id;
    tp_wire_span_t sp[4];
    cr_assert_eq(tp_wire_batch_items(buf, len, &id, sp, 4), 4);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(fast_vs_protobuf_c(sp[i], "packed item"), 1, "item %d", i);
    tp_arena_t ar;
    tp_arena_init(&ar, 64);
    Tenderpool__V1__Envelope *e;
    const char *f;
    cr_assert_eq(tp_wire_envelope_decode(sp[1], &ar, &e, &f), 1);
    cr_expect_str_eq(f, "request_ref");
    cr_expect_str_eq(e->submit->request_ref, "b", "cut at the NUL, as protobuf-c's C string");
    cr_assert_eq(tp_wire_envelope_decode(sp[2], &ar, &e, &f), 1);
    cr_expect_str_eq(f, "reason");
    cr_expect_eq(e->body_case, TENDERPOOL__V1__ENVELOPE__BODY_CANCEL);
    cr_expect_eq(e->cancel->revision, 2);
    tp_arena_release(&ar);
    free(buf);

    /* hand-written: repeated fields (the last wins), unknown fields of every wire type, a
     * revision above 2^32 (the low 32 bits), a string ending the envelope */
    static const uint8_t repeated[] = {0x0a, 0x01, 'x',  0x1a, 0x0c, 0x0a, 0x01,
                                       'r',  0x10, 0x03, 0x0a, 0x01, 's',  0x10,
                                       0x04, 0x1a, 0x00, 0x0a, 0x02, 'm',  '2'};
    static const uint8_t unknown[] = {0x60, 0x05, 0x69, 1,    2,    3,    4,    5,    6,    7,
                                      8,    0x12, 0x0e, 0x0a, 0x01, 'r',  0x65, 1,    2,    3,
                                      4,    0x62, 0x02, 'z',  'z',  0x10, 0x01, 0x72, 0x01, 'u'};
    static const uint8_t big_revision[] = {0x22, 0x09, 0x10, 0x85, 0x80, 0x80,
                                           0x80, 0x10, 0x1a, 0x01, 'w'};
    cr_expect_eq(fast_vs_protobuf_c((tp_wire_span_t){repeated, sizeof(repeated)}, "repeated"), 1);
    cr_expect_eq(fast_vs_protobuf_c((tp_wire_span_t){unknown, sizeof(unknown)}, "unknown"), 1);
    cr_expect_eq(fast_vs_protobuf_c((tp_wire_span_t){big_revision, sizeof(big_revision)}, "rev"),
                 1);
    tp_arena_init(&ar, 64);
    cr_assert_eq(tp_wire_envelope_decode((tp_wire_span_t){repeated, sizeof(repeated)}, &ar, &e, &f),
                 1);
    cr_expect_str_eq(e->member_id, "m2");
    cr_expect_str_eq(e->amend->request_ref, "s");
    cr_expect_eq(e->amend->revision, 4);
    cr_expect_str_eq(e->amend->cpv, "");
    tp_arena_release(&ar);

    /* not the plain shape: left to protobuf-c */
    static const uint8_t two_bodies[] = {0x12, 0x02, 0x0a, 0x00, 0x1a, 0x00};
    static const uint8_t no_body[] = {0x0a, 0x01, 'm'};
    static const uint8_t revision_as_bytes[] = {0x12, 0x03, 0x12, 0x01, 0x07};
    static const uint8_t truncated[] = {0x12, 0x05, 0x0a, 0x01, 'r'};
    static const uint8_t group[] = {0x0b, 0x0c, 0x12, 0x00};
    cr_expect_eq(fast_vs_protobuf_c((tp_wire_span_t){two_bodies, sizeof(two_bodies)}, "2"), 0);
    cr_expect_eq(fast_vs_protobuf_c((tp_wire_span_t){no_body, sizeof(no_body)}, "none"), 0);
    cr_expect_eq(
        fast_vs_protobuf_c((tp_wire_span_t){revision_as_bytes, sizeof(revision_as_bytes)}, "r"), 0);
    cr_expect_eq(fast_vs_protobuf_c((tp_wire_span_t){truncated, sizeof(truncated)}, "t"), 0);
    cr_expect_eq(fast_vs_protobuf_c((tp_wire_span_t){group, sizeof(group)}, "group"), 0);
}

/* The workers' ack encoder gives protobuf-c's bytes, bare and wrapped, for acks with every
 * field empty or set: zero values left out, lengths of one and two bytes, a 64-bit seq. */
Test(wire, put_acks_is_what_protobuf_c_packs)
{
    static const char *const strs[] = {"", "r1", "INVALID_FIELD", NULL};
    char longdetail[300];
    memset(longdetail, 'd', sizeof(longdetail) - 1);
    longdetail[sizeof(longdetail) - 1] = '\0';
    enum { N = 40 };
    Tenderpool__V1__Ack acks[N], *ackp[N];
    unsigned seed = 7;
    for (int i = 0; i < N; i++) {
        tenderpool__v1__ack__init(&acks[i]);
        seed = seed * 1103515245u + 12345u;
        acks[i].request_ref = (char *)(strs[seed % 3]);
        acks[i].revision = (seed >> 4) % 3 == 0 ? 0 : (seed >> 4) % 300;
        acks[i].status = (Tenderpool__V1__Status)((seed >> 8) % 6);
        acks[i].error_code = (char *)(strs[(seed >> 12) % 3]);
        acks[i].detail = (seed >> 14) % 4 == 0 ? longdetail : (char *)strs[(seed >> 16) % 3];
        acks[i].round_id = (char *)((seed >> 18) % 2 ? "2026-W48" : "");
        acks[i].server_seq = (seed >> 20) % 3 == 0 ? 0 : ((uint64_t)seed << 30) + i;
        ackp[i] = &acks[i];
    }
    const uint64_t ids[] = {0, 1, 300, UINT64_MAX};
    for (size_t k = 0; k < sizeof(ids) / sizeof(*ids); k++)
        for (size_t n = 0; n <= N; n += (n < 3 ? 1 : 13)) {
            Tenderpool__V1__BatchAck ba = TENDERPOOL__V1__BATCH_ACK__INIT;
            ba.batch_id = ids[k];
            ba.n_acks = n;
            ba.acks = ackp;
            Tenderpool__V1__ServerMessage sm = TENDERPOOL__V1__SERVER_MESSAGE__INIT;
            sm.kind_case = TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK;
            sm.batch_ack = &ba;
            for (int wrapped = 0; wrapped < 2; wrapped++) {
                size_t want = wrapped ? tenderpool__v1__server_message__get_packed_size(&sm)
                                      : tenderpool__v1__batch_ack__get_packed_size(&ba);
                uint8_t *a = malloc(want + 1), *b = malloc(want + 1);
                if (wrapped)
                    tenderpool__v1__server_message__pack(&sm, a);
                else
                    tenderpool__v1__batch_ack__pack(&ba, a);
                cr_assert_eq(tp_wire_put_acks(NULL, wrapped, ids[k], ackp, n), want,
                             "size, id %zu, %zu acks, wrapped %d", k, n, wrapped);
                cr_assert_eq(tp_wire_put_acks(b, wrapped, ids[k], ackp, n), want);
                cr_expect_eq(memcmp(a, b, want), 0, "bytes, id %zu, %zu acks, wrapped %d", k, n,
                             wrapped);
                free(a);
                free(b);
            }
        }
}
