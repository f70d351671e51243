/* The raw protobuf frame, for what protobuf-c's decoded strings hide: NUL bytes inside them. */
#ifndef TP_WIRE_H
#define TP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_arena.h"

/* Walk a ClientMessage frame. For a Batch, per_item[i] (i < nitems) receives the name of the
 * first string field of envelope i that contains a NUL byte ("request_ref", ...), or NULL;
 * for a StatusQuery, *status_field likewise (either pointer may be NULL when not wanted).
 * Returns the number of envelopes seen, or -1 when the frame is not well-formed protobuf
 * (the decoder would have refused it too). */
int tp_wire_nul_fields(const uint8_t *buf, size_t len, const char **per_item, size_t nitems,
                       const char **status_field);

/* Bytes of one embedded message inside a frame. */
typedef struct tp_wire_span {
    const uint8_t *p;
    size_t len;
} tp_wire_span_t;

/* A ClientMessage frame holding a Batch in the plain shape every client sends: the batch field
 * once, no status field. Then each envelope decodes on its own exactly as inside the whole
 * message, so a worker decodes only the envelopes it owns. Fills items[i] for i < max with
 * envelope i's bytes and *batch_id (0 when absent; the last one when repeated, as protobuf-c
 * does). Returns the number of envelopes, or -1 when the frame has another shape or a field
 * of the wrong wire type (decode the whole message instead). */
int tp_wire_batch_items(const uint8_t *buf, size_t len, uint64_t *batch_id, tp_wire_span_t *items,
                        size_t max);

/* A message whose field 1 is a uint64 and field 2 a repeated message (Batch: batch_id and
 * items; BatchAck: batch_id and acks): *id (0 when absent, the last when repeated) and the
 * bytes of each field-2 element in order, in items[i] for i < max. Returns their number, or
 * -1 when malformed or a field has the wrong wire type. */
int tp_wire_id_and_items(const uint8_t *buf, size_t len, uint64_t *id, tp_wire_span_t *items,
                         size_t max);

/* v as a protobuf varint at p (up to 10 bytes); returns the byte after it. */
uint8_t *tp_wire_put_varint(uint8_t *p, uint64_t v);

/* Bytes of a ServerMessage holding BatchAck{batch_id, acks} from the acks' encoded bytes, as
 * protobuf-c packs it; out NULL: only the size. */
size_t tp_wire_put_batch_ack(uint8_t *out, uint64_t batch_id, const tp_wire_span_t *acks, size_t n);

/* What the supervisor routes an Envelope by, read from its bytes: member_id and the body's
 * request_ref, each up to its first NUL byte as protobuf-c hands strings over (empty when
 * absent; the last one when repeated). Returns 1 when the envelope has exactly one body
 * field and every field of the protocol has its wire type (so protobuf-c decodes it, with
 * these values), 0 otherwise: decode the whole message instead. */
int tp_wire_envelope_route(tp_wire_span_t env, tp_wire_span_t *member, tp_wire_span_t *ref);

/* The name of the first string field of one Envelope's bytes that contains a NUL byte, or
 * NULL; -1 when the bytes are not well-formed protobuf. */
int tp_wire_envelope_nul(tp_wire_span_t env, const char **field);

/* One Envelope in the plain shape (tp_wire_envelope_route's conditions: exactly one body,
 * every field of the protocol with its wire type) decoded into arena memory, with the values
 * protobuf-c's unpack gives (strings up to their first NUL byte; unknown fields dropped), and
 * *nul_field as tp_wire_envelope_nul finds it. One copy of the bytes and one pass, where
 * protobuf-c makes two passes and one allocation per field. Returns 1 decoded, 0 not in the
 * plain shape or malformed (*out untouched: decode it with protobuf-c, which decides). */
int tp_wire_envelope_decode(tp_wire_span_t env, tp_arena_t *ar, Tenderpool__V1__Envelope **out,
                            const char **nul_field);

/* A BatchAck{batch_id, acks} as protobuf-c packs it, wrapped in a ServerMessage when
 * wrapped is nonzero (the reply to a batch one worker answers whole); out NULL: only the
 * size. One pass over each ack to size it and one to write it, no allocation. */
size_t tp_wire_put_acks(uint8_t *out, int wrapped, uint64_t batch_id,
                        Tenderpool__V1__Ack *const *acks, size_t n);

#endif
