/* Compact lines of the open requests a worker pools: what undoing a line's contribution needs. */
#ifndef TP_LINES_H
#define TP_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_decimal.h"
#include "tp_pool.h"
#include "tp_unit.h"

#define TP_LINE_UNPRICED 0xff /* pscale of a line without max_unit_price */

/* 32 bytes per open request. Quantities and prices have at most 18 digits (SPEC section 3:
 * 12 integer and 6 fraction digits), so an int64 coefficient and a scale hold them exactly;
 * the base quantity and the value are recomputed from them, bit for bit as at the add. */
typedef struct tp_line {
    tp_pool_agg_t *agg; /* its lot in the worker's pool; NULL: a free slot */
    int64_t qty;        /* quantity = qty / 10^qscale, in the request's unit; free slot: next */
    int64_t price;      /* max_unit_price = price / 10^pscale */
    int32_t need_by;    /* days since 1970-01-01 */
    uint8_t unit;       /* index in tp_unit_table() */
    uint8_t qscale;
    uint8_t pscale;  /* TP_LINE_UNPRICED: no price */
    uint8_t carries; /* times carried over to a next round */
} tp_line_t;

/* An arena of lines addressed by index (index 0 is never used: "no line"). */
typedef struct tp_lines {
    tp_line_t *v;
    uint32_t n, cap;
    uint32_t free_head; /* a free slot, 0 = none */
    size_t live;
} tp_lines_t;

/* Fill *l from a request's unit, quantity (> 0), price (NULL: none) and need_by day; agg and
 * carries are left to the caller. 0, or -1 when a value has more than 18 digits. */
int tp_line_set(tp_line_t *l, const tp_unit_t *unit, const tp_dec_t *qty, const tp_dec_t *price,
                int32_t need_by) __attribute__((warn_unused_result));

/* The line's contribution to its lot: base quantity in the unit's base unit and, when priced,
 * quantity * max_unit_price (*priced false: *value untouched). 0, or -1 on overflow. */
int tp_line_contrib(const tp_line_t *l, tp_dec_t *base, tp_dec_t *value, bool *priced)
    __attribute__((warn_unused_result));

/* A free slot's index (zeroed line); the pointer from tp_lines_at stays valid until the next
 * tp_lines_alloc. */
uint32_t tp_lines_alloc(tp_lines_t *ls);
tp_line_t *tp_lines_at(tp_lines_t *ls, uint32_t i);
void tp_lines_free(tp_lines_t *ls, uint32_t i);
/* Frees everything (the arena may be reused afterwards). */
void tp_lines_clear(tp_lines_t *ls);
size_t tp_lines_bytes(const tp_lines_t *ls);

#endif
