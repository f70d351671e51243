/* The raw protobuf frame, for what protobuf-c's decoded strings hide: NUL bytes inside them. */
#ifndef TP_WIRE_H
#define TP_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Walk a ClientMessage frame. For a Batch, per_item[i] (i < nitems) receives the name of the
 * first string field of envelope i that contains a NUL byte ("request_ref", ...), or NULL;
 * for a StatusQuery, *status_field likewise (either pointer may be NULL when not wanted).
 * Returns the number of envelopes seen, or -1 when the frame is not well-formed protobuf
 * (the decoder would have refused it too). */
int tp_wire_nul_fields(const uint8_t *buf, size_t len, const char **per_item, size_t nitems,
                       const char **status_field);

#endif
