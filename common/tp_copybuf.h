/* PostgreSQL COPY BINARY payloads: the header, rows of typed fields, the trailer. */
#ifndef TP_COPYBUF_H
#define TP_COPYBUF_H

#include <stddef.h>
#include <stdint.h>

#include "tp_decimal.h"

/* A COPY BINARY payload under construction. */
typedef struct tp_copybuf {
    char *data;
    size_t len, cap;
    size_t rows;
} tp_copybuf_t;

void tp_copybuf_reset(tp_copybuf_t *b); /* empty, with the COPY BINARY header */
void tp_copybuf_free(tp_copybuf_t *b);
void tp_copybuf_row(tp_copybuf_t *b, int16_t nfields);
void tp_copybuf_null(tp_copybuf_t *b);
void tp_copybuf_text(tp_copybuf_t *b, const char *s);
void tp_copybuf_int2(tp_copybuf_t *b, int16_t v);
void tp_copybuf_int4(tp_copybuf_t *b, int32_t v);
void tp_copybuf_int8(tp_copybuf_t *b, int64_t v);
void tp_copybuf_numeric(tp_copybuf_t *b, const tp_dec_t *d);
void tp_copybuf_date(tp_copybuf_t *b, long days_since_1970);
void tp_copybuf_timestamptz(tp_copybuf_t *b, int64_t usec_since_1970);
void tp_copybuf_finish(tp_copybuf_t *b); /* append the trailer */

#endif
