/* Merge partial lot aggregates from all workers into the COPY rows of a round's lots. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_civil.h"
#include "tp_lotmerge.h"
#include "tp_mem.h"
#include "tp_pool.h"

typedef struct rowbuf {
    char *p;
    size_t len, cap;
} rowbuf_t;

static void put(rowbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* A COPY text field (backslash doubled; fields hold no control characters) and a separator. */
static void field(rowbuf_t *b, const char *s, char sep)
{
    for (const char *q = s; *q; q++) {
        if (*q == '\\')
            put(b, "\\", 1);
        put(b, q, 1);
    }
    put(b, &sep, 1);
}

static void date_field(rowbuf_t *b, int32_t day)
{
    int y, m, d;
    char s[32];
    tp_civil_from_days(day, &y, &m, &d);
    snprintf(s, sizeof(s), "%04d-%02d-%02d", y, m, d);
    field(b, s, '\t');
}

static void row(rowbuf_t *b, const tp_pool_agg_t *a, int min_members)
{
    char id[TP_POOL_LOT_ID_MAX], num[TP_DEC_STR_MAX];
    if (tp_pool_agg_lot_id(a, id, sizeof(id)) < 0)
        id[0] = '\0'; /* unreachable: the round id was checked; the seal refuses an empty id */
    field(b, id, '\t');
    field(b, a->key.round_id, '\t');
    field(b, a->key.cpv, '\t');
    field(b, a->key.item_key, '\t');
    field(b, a->key.dimension, '\t');
    field(b, a->key.base_unit, '\t');
    field(b, a->key.delivery_zone, '\t');
    field(b, a->key.currency, '\t');
    tp_dec_format(&a->total, num, sizeof(num));
    field(b, num, '\t');
    snprintf(num, sizeof(num), "%u", a->nmembers);
    field(b, num, '\t');
    snprintf(num, sizeof(num), "%u", a->requests);
    field(b, num, '\t');
    date_field(b, tp_pool_agg_need_by_min(a));
    date_field(b, tp_pool_agg_need_by_max(a));
    if (a->priced) {
        tp_dec_format(&a->value, num, sizeof(num));
        field(b, num, '\t');
    } else {
        put(b, "\\N\t", 3);
    }
    field(b, tp_pool_viable(a, min_members) ? "viable" : "below_threshold", '\n');
}

static int by_lot_hash(const void *x, const void *y)
{
    const tp_pool_agg_t *a = *(tp_pool_agg_t *const *)x, *b = *(tp_pool_agg_t *const *)y;
    return strcmp(a->lot_hash, b->lot_hash);
}

static int read_u32(const char **p, const char *end, uint32_t *v)
{
    if ((size_t)(end - *p) < 4)
        return -1;
    memcpy(v, *p, 4);
    *p += 4;
    return *v <= (size_t)(end - *p) ? 0 : -1;
}

/* Unpack every aggregate of every worker's part into *out. */
static int unpack_all(const char *p, const char *end, const char *round, tp_pool_agg_t ***out,
                      size_t *n, char *err, size_t errlen)
{
    size_t cap = 0;
    for (int worker = 0; p < end; worker++) {
        uint32_t plen;
        if (read_u32(&p, end, &plen) < 0) {
            snprintf(err, errlen, "partial aggregates: worker part %d is truncated", worker);
            return -1;
        }
        const char *q = p, *qend = p + plen;
        p = qend;
        while (q < qend) {
            uint32_t alen;
            tp_pool_agg_t *a;
            if (read_u32(&q, qend, &alen) < 0 || (a = tp_pool_agg_unpack(q, alen)) == NULL) {
                snprintf(err, errlen, "partial aggregates: worker part %d is malformed", worker);
                return -1;
            }
            q += alen;
            if (*n == cap) {
                cap = cap ? cap * 2 : 1024;
                *out = xrealloc(*out, cap * sizeof(**out));
            }
            (*out)[(*n)++] = a;
            if (strcmp(a->key.round_id, round) != 0) {
                snprintf(err, errlen, "partial aggregates: a lot of round %s in the close of %s",
                         a->key.round_id, round);
                return -1;
            }
        }
    }
    return 0;
}

int tp_lots_merge(const void *tail, size_t len, const char *round, int min_members, char **rows,
                  size_t *rowlen, int *lots, int *viable, char *err, size_t errlen)
{
    tp_pool_agg_t **v = NULL;
    size_t n = 0;
    rowbuf_t b = {0};
    int rc = -1;
    *lots = *viable = 0;
    if (unpack_all(tail, (const char *)tail + len, round, &v, &n, err, errlen) < 0)
        goto out;
    if (n > 1)
        qsort(v, n, sizeof(*v), by_lot_hash);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        for (; j < n && strcmp(v[j]->lot_hash, v[i]->lot_hash) == 0; j++) {
            if (tp_pool_merge(v[i], v[j]) < 0) {
                snprintf(err, errlen,
                         "lot %s-%s: two consolidation keys share this id, or a total "
                         "overflows",
                         round, v[i]->lot_hash);
                goto out;
            }
        }
        row(&b, v[i], min_members);
        (*lots)++;
        *viable += tp_pool_viable(v[i], min_members);
        i = j;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        tp_pool_agg_destroy(&v[i]);
    free(v);
    if (rc < 0) {
        free(b.p);
        b.p = NULL;
        b.len = 0;
    }
    *rows = b.p;
    *rowlen = b.len;
    return rc;
}
