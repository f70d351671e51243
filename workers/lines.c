/* Compact line arena: 32 bytes per open request, exact contributions recomputed on demand. */
#include <stdlib.h>
#include <string.h>

#include "tp_lines.h"
#include "tp_mem.h"

/* Largest coefficient kept: 18 digits (the validated maximum). */
#define LINE_COEF_MAX 999999999999999999LL

static int to_coef(const tp_dec_t *d, int64_t *coef, uint8_t *scale)
{
    tp_dec_t n = *d;
    tp_dec_normalize(&n);
    if (n.coef < 0 || n.coef > LINE_COEF_MAX || n.scale < 0 || n.scale >= TP_LINE_UNPRICED)
        return -1;
    *coef = (int64_t)n.coef;
    *scale = (uint8_t)n.scale;
    return 0;
}

static tp_dec_t from_coef(int64_t coef, uint8_t scale)
{
    tp_dec_t d = {.coef = coef, .scale = scale};
    return d;
}

int tp_line_set(tp_line_t *l, const tp_unit_t *unit, const tp_dec_t *qty, const tp_dec_t *price,
                int32_t need_by)
{
    int n;
    const tp_unit_t *table = tp_unit_table(&n);
    if (unit < table || unit >= table + n || unit - table > 0xfe ||
        to_coef(qty, &l->qty, &l->qscale) < 0)
        return -1;
    l->unit = (uint8_t)(unit - table);
    l->need_by = need_by;
    if (price == NULL) {
        l->price = 0;
        l->pscale = TP_LINE_UNPRICED;
        return 0;
    }
    return to_coef(price, &l->price, &l->pscale);
}

int tp_line_contrib(const tp_line_t *l, tp_dec_t *base, tp_dec_t *value, bool *priced)
{
    int n;
    const tp_unit_t *table = tp_unit_table(&n);
    tp_dec_t q = from_coef(l->qty, l->qscale);
    if (l->unit >= n || tp_unit_to_base(&table[l->unit], &q, base) < 0)
        return -1;
    *priced = l->pscale != TP_LINE_UNPRICED;
    if (!*priced)
        return 0;
    tp_dec_t p = from_coef(l->price, l->pscale);
    return tp_dec_mul(&q, &p, value);
}

uint32_t tp_lines_alloc(tp_lines_t *ls)
{
    uint32_t i = ls->free_head;
    if (i != 0) {
        ls->free_head = (uint32_t)ls->v[i].qty;
    } else {
        if (ls->n == 0)
            ls->n = 1; /* index 0 means "no line" */
        if (ls->n >= ls->cap) {
            ls->cap = ls->cap ? ls->cap * 2 : 1024;
            ls->v = xrealloc(ls->v, (size_t)ls->cap * sizeof(*ls->v));
        }
        i = ls->n++;
    }
    memset(&ls->v[i], 0, sizeof(ls->v[i]));
    ls->live++;
    return i;
}

tp_line_t *tp_lines_at(tp_lines_t *ls, uint32_t i)
{
    return i != 0 && i < ls->n ? &ls->v[i] : NULL;
}

void tp_lines_free(tp_lines_t *ls, uint32_t i)
{
    if (i == 0 || i >= ls->n)
        return;
    memset(&ls->v[i], 0, sizeof(ls->v[i]));
    ls->v[i].qty = ls->free_head;
    ls->free_head = i;
    ls->live--;
}

void tp_lines_clear(tp_lines_t *ls)
{
    free(ls->v);
    memset(ls, 0, sizeof(*ls));
}

size_t tp_lines_bytes(const tp_lines_t *ls)
{
    return (size_t)ls->cap * sizeof(tp_line_t);
}
