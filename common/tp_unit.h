/* The project's UN/ECE Rec 20 unit table: dimensions, base units and exact factors. */
#ifndef TP_UNIT_H
#define TP_UNIT_H

#include <stdbool.h>

#include "tp_decimal.h"

typedef enum tp_dim {
    TP_DIM_MASS,    /* base KGM */
    TP_DIM_VOLUME,  /* base MTQ */
    TP_DIM_LENGTH,  /* base MTR */
    TP_DIM_AREA,    /* base MTK */
    TP_DIM_COUNT,   /* base C62: quantities must convert to whole pieces */
    TP_DIM_ENERGY,  /* base KWH */
    TP_DIM_PACKAGE, /* no factor: pools only with itself, base unit is the code */
} tp_dim_t;

typedef struct tp_unit {
    const char *code; /* Rec 20 common code, e.g. "TNE" */
    const char *name; /* e.g. "tonne (metric ton)" */
    tp_dim_t dim;
    const char *base;   /* base unit code of the dimension ("KGM"), or code itself */
    const char *factor; /* exact factor to the base unit as decimal text ("1000") */
} tp_unit_t;

/* Lookup by exact code; NULL when the code is not in the table. */
const tp_unit_t *tp_unit_find(const char *code);

/* Name of a dimension: "mass", "volume", "length", "area", "count", "energy", "package". */
const char *tp_dim_name(tp_dim_t dim);

/* q (in unit u) -> quantity in u's base unit, exactly. 0, or -1 on overflow. */
int tp_unit_to_base(const tp_unit_t *u, const tp_dec_t *q, tp_dec_t *out)
    __attribute__((warn_unused_result));

/* The whole table, for listing and tests; *n receives the entry count. */
const tp_unit_t *tp_unit_table(int *n);

#endif
