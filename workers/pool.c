/* Per-(round, key) lot aggregates, exact under add/remove/merge; no database, no IPC, no clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_ipc.h"
#include "tp_mem.h"
#include "tp_md5.h"
#include "tp_pool.h"

#define KEY_SEP 0x1f
#define PACK_MAGIC "TPAGG1"

/* Member ids, interned once per pool: the membership is small and long-lived. */
typedef struct pool_strtab {
    char **slots; /* open addressing, NULL = empty */
    size_t nslots, count, bytes;
} pool_strtab_t;

struct tp_pool {
    tp_pool_agg_t **slots; /* open addressing by agg->hash, linear probing, NULL = empty */
    size_t nslots;         /* power of two, load <= 1/2 */
    size_t count;
    pool_strtab_t members;
};

/* ---- key ---- */

static bool field_ok(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (; *s; s++) /* short fields: a loop beats a call to strchr */
        if (*s == KEY_SEP)
            return false;
    return true;
}

static bool cpv_ok(const char *cpv)
{
    for (int i = 0; i < 8; i++)
        if (cpv[i] < '0' || cpv[i] > '9')
            return false;
    return cpv[8] == '\0';
}

static bool key_ok(const tp_pool_key_t *k)
{
    return field_ok(k->round_id) && strlen(k->round_id) <= TP_POOL_ROUND_MAX && cpv_ok(k->cpv) &&
           field_ok(k->item_key) && field_ok(k->dimension) && field_ok(k->base_unit) &&
           field_ok(k->delivery_zone) && field_ok(k->currency);
}

int tp_pool_key_build(tp_pool_key_t *key, const char *round_id, const char *cpv,
                      const char *item_key, const tp_unit_t *unit, const char *delivery_zone,
                      const char *currency)
{
    if (cpv == NULL || unit == NULL || strlen(cpv) < 8 || (cpv[8] != '\0' && cpv[8] != '-'))
        return -1;
    memset(key, 0, sizeof(*key));
    memcpy(key->cpv, cpv, 8);
    key->round_id = round_id;
    key->item_key = item_key;
    key->dimension = tp_dim_name(unit->dim);
    key->base_unit = unit->dim == TP_DIM_PACKAGE ? unit->code : unit->base;
    key->delivery_zone = delivery_zone;
    key->currency = currency;
    return key_ok(key) ? 0 : -1;
}

#define MIX_K 0x9e3779b97f4a7c15ULL

/* One field, eight bytes at a time (FNV's byte at a time was a quarter of the pool's cost);
 * its length is mixed in, so fields cannot slide into each other. */
static uint64_t hash_field(uint64_t h, const char *s)
{
    size_t n = strlen(s), i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * MIX_K;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, n - i);
    h = (h ^ tail ^ ((uint64_t)n << 56)) * MIX_K;
    return h ^ (h >> 29);
}

uint64_t tp_pool_key_hash(const tp_pool_key_t *key)
{
    uint64_t h = hash_field(TP_FNV_INIT, key->round_id);
    h = hash_field(h, key->cpv);
    h = hash_field(h, key->item_key);
    h = hash_field(h, key->dimension);
    h = hash_field(h, key->base_unit);
    h = hash_field(h, key->delivery_zone);
    h = hash_field(h, key->currency);
    h ^= h >> 33; /* murmur3's finalizer: every input bit reaches the low bits (the slot) */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* The 12 hex digits of tenderpool.lot_key_hash(): md5 of the key without the round, fields
 * joined by 0x1f (sql/002_rounds.sql), so that memory and SQL name a lot alike. */
static void key_lot_hash(const tp_pool_key_t *k, char out[13])
{
    char buf[4 * TP_POOL_ROUND_MAX + 1024], hex[33];
    int n = snprintf(buf, sizeof(buf), "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", k->cpv, k->item_key,
                     k->dimension, k->base_unit, k->delivery_zone, k->currency);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        char *big = xmalloc((size_t)n + 1);
        snprintf(big, (size_t)n + 1, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", k->cpv, k->item_key,
                 k->dimension, k->base_unit, k->delivery_zone, k->currency);
        tp_md5_hex(big, (size_t)n, hex);
        free(big);
    } else {
        tp_md5_hex(buf, (size_t)n, hex);
    }
    memcpy(out, hex, 12);
    out[12] = '\0';
}

static int format_lot_id(const char *round_id, const char *lot_hash, char *buf, size_t buflen)
{
    if (buflen < TP_POOL_LOT_ID_MAX || strlen(round_id) > TP_POOL_ROUND_MAX)
        return -1;
    snprintf(buf, buflen, "%s-%s", round_id, lot_hash);
    return 0;
}

int tp_pool_lot_id(const tp_pool_key_t *key, char *buf, size_t buflen)
{
    char h[13];
    if (!key_ok(key))
        return -1;
    key_lot_hash(key, h);
    return format_lot_id(key->round_id, h, buf, buflen);
}

int tp_pool_agg_lot_id(const tp_pool_agg_t *a, char *buf, size_t buflen)
{
    return format_lot_id(a->key.round_id, a->lot_hash, buf, buflen);
}

static bool key_eq(const tp_pool_key_t *a, const tp_pool_key_t *b)
{
    return strcmp(a->round_id, b->round_id) == 0 && strcmp(a->cpv, b->cpv) == 0 &&
           strcmp(a->item_key, b->item_key) == 0 && strcmp(a->dimension, b->dimension) == 0 &&
           strcmp(a->base_unit, b->base_unit) == 0 &&
           strcmp(a->delivery_zone, b->delivery_zone) == 0 && strcmp(a->currency, b->currency) == 0;
}

/* ---- aggregate storage ---- */

static size_t key_text_len(const tp_pool_key_t *k)
{
    return strlen(k->round_id) + strlen(k->item_key) + strlen(k->dimension) + strlen(k->base_unit) +
           strlen(k->delivery_zone) + strlen(k->currency) + 6;
}

static const char *copy_field(char **tail, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = *tail;
    memcpy(dst, s, n);
    *tail += n;
    return dst;
}

/* A new empty aggregate whose key text lives in the same allocation. */
static tp_pool_agg_t *agg_new(const tp_pool_key_t *key, bool standalone)
{
    tp_pool_agg_t *a = xcalloc(1, sizeof(*a) + key_text_len(key));
    char *tail = (char *)(a + 1);

    memcpy(a->key.cpv, key->cpv, sizeof(a->key.cpv));
    a->key.round_id = copy_field(&tail, key->round_id);
    a->key.item_key = copy_field(&tail, key->item_key);
    a->key.dimension = copy_field(&tail, key->dimension);
    a->key.base_unit = copy_field(&tail, key->base_unit);
    a->key.delivery_zone = copy_field(&tail, key->delivery_zone);
    a->key.currency = copy_field(&tail, key->currency);
    a->hash = tp_pool_key_hash(key);
    key_lot_hash(key, a->lot_hash);
    a->total = tp_dec_from_int(0);
    a->value = tp_dec_from_int(0);
    a->standalone = standalone;
    return a;
}

static void agg_free(tp_pool_agg_t *a)
{
    if (a->standalone)
        for (uint32_t i = 0; i < a->nmembers; i++)
            free((char *)a->members[i].id);
    free(a->members);
    free(a->days);
    free(a);
}

/* ---- distinct members: sorted by id, with line counts ---- */

/* 1 and *pos = index when id is a member, else 0 and *pos = insertion point. */
static int member_find(const tp_pool_agg_t *a, const char *id, uint32_t *pos)
{
    uint32_t lo = 0, hi = a->nmembers;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->members[mid].id, id);
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static void member_insert(tp_pool_agg_t *a, uint32_t pos, const char *id, uint32_t lines)
{
    if (a->nmembers == a->members_cap) {
        a->members_cap = a->members_cap ? a->members_cap * 2 : 1;
        a->members = xrealloc(a->members, a->members_cap * sizeof(*a->members));
    }
    memmove(&a->members[pos + 1], &a->members[pos], (a->nmembers - pos) * sizeof(*a->members));
    a->members[pos] = (tp_pool_member_t){.id = id, .lines = lines};
    a->nmembers++;
}

static void member_erase(tp_pool_agg_t *a, uint32_t pos)
{
    if (a->standalone)
        free((char *)a->members[pos].id);
    a->nmembers--;
    memmove(&a->members[pos], &a->members[pos + 1], (a->nmembers - pos) * sizeof(*a->members));
}

/* ---- need_by multiset: days ascending, with line counts ---- */

static int day_find(const tp_pool_agg_t *a, int32_t day, uint32_t *pos)
{
    uint32_t lo = 0, hi = a->ndays;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a->days[mid].day == day) {
            *pos = mid;
            return 1;
        }
        if (a->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static void day_add(tp_pool_agg_t *a, int32_t day, uint32_t lines)
{
    uint32_t pos;
    if (day_find(a, day, &pos)) {
        a->days[pos].lines += lines;
        return;
    }
    if (a->ndays == a->days_cap) {
        a->days_cap = a->days_cap ? a->days_cap * 2 : 1;
        a->days = xrealloc(a->days, a->days_cap * sizeof(*a->days));
    }
    memmove(&a->days[pos + 1], &a->days[pos], (a->ndays - pos) * sizeof(*a->days));
    a->days[pos] = (tp_pool_day_t){.day = day, .lines = lines};
    a->ndays++;
}

static void day_drop_one(tp_pool_agg_t *a, uint32_t pos)
{
    if (--a->days[pos].lines > 0)
        return;
    a->ndays--;
    memmove(&a->days[pos], &a->days[pos + 1], (a->ndays - pos) * sizeof(*a->days));
}

int32_t tp_pool_agg_need_by_min(const tp_pool_agg_t *a)
{
    return a->ndays ? a->days[0].day : 0;
}

int32_t tp_pool_agg_need_by_max(const tp_pool_agg_t *a)
{
    return a->ndays ? a->days[a->ndays - 1].day : 0;
}

/* ---- member interning ---- */

static void strtab_grow(pool_strtab_t *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 64;
    char **slots = xcalloc(n, sizeof(*slots));
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i] == NULL)
            continue;
        size_t j = tp_fnv1a(TP_FNV_INIT, t->slots[i], strlen(t->slots[i])) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
}

static const char *strtab_intern(pool_strtab_t *t, const char *s)
{
    if ((t->count + 1) * 2 > t->nslots)
        strtab_grow(t);
    size_t j = tp_fnv1a(TP_FNV_INIT, s, strlen(s)) & (t->nslots - 1);
    while (t->slots[j]) {
        if (strcmp(t->slots[j], s) == 0)
            return t->slots[j];
        j = (j + 1) & (t->nslots - 1);
    }
    t->slots[j] = xstrdup(s);
    t->count++;
    t->bytes += strlen(s) + 1;
    return t->slots[j];
}

static void strtab_free(pool_strtab_t *t)
{
    for (size_t i = 0; i < t->nslots; i++)
        free(t->slots[i]);
    free(t->slots);
}

/* ---- the pool's table of aggregates ---- */

tp_pool_t *tp_pool_new(void)
{
    tp_pool_t *p = xcalloc(1, sizeof(*p));
    p->nslots = 64;
    p->slots = xcalloc(p->nslots, sizeof(*p->slots));
    return p;
}

void tp_pool_destroy(tp_pool_t **pp)
{
    tp_pool_t *p = pp ? *pp : NULL;
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i])
            agg_free(p->slots[i]);
    free(p->slots);
    strtab_free(&p->members);
    free(p);
    *pp = NULL;
}

/* Slot index holding key's aggregate, or the empty slot where it would go. */
static size_t slot_find(const tp_pool_t *p, const tp_pool_key_t *key, uint64_t h)
{
    size_t mask = p->nslots - 1, j = h & mask;
    while (p->slots[j] && (p->slots[j]->hash != h || !key_eq(&p->slots[j]->key, key)))
        j = (j + 1) & mask;
    return j;
}

static void table_grow(tp_pool_t *p)
{
    size_t old_n = p->nslots;
    tp_pool_agg_t **old = p->slots;
    p->nslots = old_n * 2;
    p->slots = xcalloc(p->nslots, sizeof(*p->slots));
    for (size_t i = 0; i < old_n; i++) {
        if (old[i] == NULL)
            continue;
        size_t j = old[i]->hash & (p->nslots - 1);
        while (p->slots[j])
            j = (j + 1) & (p->nslots - 1);
        p->slots[j] = old[i];
    }
    free(old);
}

/* Empties slot i and shifts later entries of its probe run back (no tombstones). */
static void table_erase(tp_pool_t *p, size_t i)
{
    size_t mask = p->nslots - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (p->slots[j] == NULL)
            break;
        size_t home = p->slots[j]->hash & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        p->slots[i] = p->slots[j];
        i = j;
    }
    p->slots[i] = NULL;
    p->count--;
}

static tp_pool_agg_t *table_insert(tp_pool_t *p, const tp_pool_key_t *key)
{
    if ((p->count + 1) * 2 > p->nslots)
        table_grow(p);
    tp_pool_agg_t *a = agg_new(key, false);
    p->slots[slot_find(p, key, a->hash)] = a;
    p->count++;
    return a;
}

size_t tp_pool_count(const tp_pool_t *p)
{
    return p->count;
}

void tp_pool_prefetch(const tp_pool_t *p, uint64_t h, int stage)
{
    tp_pool_agg_t *const *slot = &p->slots[h & (p->nslots - 1)];
    if (stage == 0) {
        __builtin_prefetch(slot);
        return;
    }
    const tp_pool_agg_t *a = *slot;
    if (a && stage == 1) {
        for (size_t off = 0; off < sizeof(*a) + 64; off += 64)
            __builtin_prefetch((const char *)a + off); /* the struct and the key text after it */
        return;
    }
    if (a == NULL || a->hash != h)
        return;
    if (a->nmembers)
        __builtin_prefetch(&a->members[a->nmembers / 2]);
    if (a->ndays)
        __builtin_prefetch(&a->days[a->ndays / 2]);
}

const tp_pool_agg_t *tp_pool_find(const tp_pool_t *p, const tp_pool_key_t *key)
{
    if (!key_ok(key))
        return NULL;
    return p->slots[slot_find(p, key, tp_pool_key_hash(key))];
}

/* ---- add / remove ---- */

static bool line_ok(const tp_pool_line_t *l)
{
    return key_ok(&l->key) && l->member_id != NULL && l->member_id[0] != '\0' &&
           tp_dec_sign(&l->base_quantity) > 0;
}

/* quantity * max_unit_price, or 0 for an unpriced line. */
static int line_value(const tp_pool_line_t *l, tp_dec_t *out)
{
    *out = tp_dec_from_int(0);
    return l->has_max_price ? tp_dec_mul(&l->quantity, &l->max_unit_price, out) : 0;
}

/* a + sign * b into *out, normalized; -1 on overflow. */
static int dec_step(const tp_dec_t *a, const tp_dec_t *b, int sign, tp_dec_t *out)
{
    if ((sign > 0 ? tp_dec_add(a, b, out) : tp_dec_sub(a, b, out)) < 0)
        return -1;
    tp_dec_normalize(out);
    return 0;
}

tp_pool_agg_t *tp_pool_get(tp_pool_t *p, const tp_pool_key_t *key)
{
    return tp_pool_get_hashed(p, key, tp_pool_key_hash(key));
}

tp_pool_agg_t *tp_pool_get_hashed(tp_pool_t *p, const tp_pool_key_t *key, uint64_t h)
{
    return key_ok(key) ? tp_pool_get_built(p, key, h) : NULL;
}

tp_pool_agg_t *tp_pool_get_built(tp_pool_t *p, const tp_pool_key_t *key, uint64_t h)
{
    tp_pool_agg_t *a = p->slots[slot_find(p, key, h)];
    return a ? a : table_insert(p, key);
}

/* An aggregate created by tp_pool_get that never received a line leaves again. */
static void drop_if_empty(tp_pool_t *p, tp_pool_agg_t *a)
{
    if (a->requests != 0)
        return;
    table_erase(p, slot_find(p, &a->key, a->hash));
    agg_free(a);
}

int tp_pool_agg_add(tp_pool_t *p, tp_pool_agg_t *a, const char *member_id,
                    const tp_dec_t *base_quantity, const tp_dec_t *value, int32_t need_by)
{
    tp_dec_t total, sum;

    if (member_id == NULL || member_id[0] == '\0' || tp_dec_sign(base_quantity) <= 0 ||
        (value && tp_dec_sign(value) < 0) || a->requests == UINT32_MAX ||
        dec_step(&a->total, base_quantity, 1, &total) < 0 ||
        (value && dec_step(&a->value, value, 1, &sum) < 0)) {
        drop_if_empty(p, a);
        return -1;
    }
    uint32_t pos;
    if (member_find(a, member_id, &pos))
        a->members[pos].lines++;
    else
        member_insert(a, pos, strtab_intern(&p->members, member_id), 1);
    day_add(a, need_by, 1);
    a->total = total;
    if (value) {
        a->value = sum;
        a->priced++;
    }
    a->requests++;
    return 0;
}

/* The totals after taking a line out of a, or -1 when a cannot hold that line. */
static int removed_totals(const tp_pool_agg_t *a, const tp_dec_t *base, const tp_dec_t *value,
                          tp_dec_t *total, tp_dec_t *sum)
{
    if ((value && a->priced == 0) || (!value && a->priced == a->requests))
        return -1;
    *sum = a->value;
    if (dec_step(&a->total, base, -1, total) < 0 ||
        (value && dec_step(&a->value, value, -1, sum) < 0))
        return -1;
    if (tp_dec_sign(total) < 0 || tp_dec_sign(sum) < 0)
        return -1;
    /* the last line (or last priced line) must take exactly what is left */
    if ((a->requests == 1 && tp_dec_sign(total) != 0) ||
        (value && a->priced == 1 && tp_dec_sign(sum) != 0))
        return -1;
    return 0;
}

int tp_pool_agg_remove(tp_pool_t *p, tp_pool_agg_t *a, const char *member_id,
                       const tp_dec_t *base_quantity, const tp_dec_t *value, int32_t need_by)
{
    tp_dec_t total, sum;
    uint32_t mpos, dpos;

    if (member_id == NULL || a->requests == 0 || !member_find(a, member_id, &mpos) ||
        !day_find(a, need_by, &dpos) || removed_totals(a, base_quantity, value, &total, &sum) < 0)
        return -1;
    if (--a->members[mpos].lines == 0)
        member_erase(a, mpos);
    day_drop_one(a, dpos);
    a->total = total;
    a->value = sum;
    a->requests--;
    a->priced -= value != NULL;
    drop_if_empty(p, a);
    return 0;
}

int tp_pool_add(tp_pool_t *p, const tp_pool_line_t *line)
{
    tp_dec_t v;

    if (!line_ok(line) || line_value(line, &v) < 0)
        return -1;
    tp_pool_agg_t *a = tp_pool_get(p, &line->key);
    if (a == NULL)
        return -1;
    return tp_pool_agg_add(p, a, line->member_id, &line->base_quantity,
                           line->has_max_price ? &v : NULL, line->need_by);
}

int tp_pool_remove(tp_pool_t *p, const tp_pool_line_t *line)
{
    tp_dec_t v;

    if (!line_ok(line) || line_value(line, &v) < 0)
        return -1;
    tp_pool_agg_t *a = p->slots[slot_find(p, &line->key, tp_pool_key_hash(&line->key))];
    if (a == NULL)
        return -1;
    return tp_pool_agg_remove(p, a, line->member_id, &line->base_quantity,
                              line->has_max_price ? &v : NULL, line->need_by);
}

/* ---- iteration ---- */

typedef struct lot_ref {
    char id[TP_POOL_LOT_ID_MAX];
    const tp_pool_agg_t *agg;
} lot_ref_t;

static int lot_ref_cmp(const void *x, const void *y)
{
    return strcmp(((const lot_ref_t *)x)->id, ((const lot_ref_t *)y)->id);
}

/* The round's aggregates with their lot ids, sorted; *n receives the count. */
static lot_ref_t *collect_round(const tp_pool_t *p, const char *round_id, size_t *n)
{
    lot_ref_t *refs = xcalloc(p->count ? p->count : 1, sizeof(*refs));
    *n = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        const tp_pool_agg_t *a = p->slots[i];
        if (a == NULL || (round_id && strcmp(a->key.round_id, round_id) != 0))
            continue;
        if (tp_pool_agg_lot_id(a, refs[*n].id, sizeof(refs[*n].id)) < 0)
            continue; /* unreachable: key_ok bounds the round id */
        refs[(*n)++].agg = a;
    }
    qsort(refs, *n, sizeof(*refs), lot_ref_cmp);
    return refs;
}

int tp_pool_foreach(const tp_pool_t *p, const char *round_id, tp_pool_fn fn, void *ctx)
{
    size_t n;
    int rc = 0;
    lot_ref_t *refs = collect_round(p, round_id, &n);

    for (size_t i = 1; i < n; i++)
        if (strcmp(refs[i - 1].id, refs[i].id) == 0)
            rc = -1; /* two keys, one lot id: refuse rather than publish a merged id */
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(refs[i].agg, ctx);
    free(refs);
    return rc;
}

size_t tp_pool_drop_round(tp_pool_t *p, const char *round_id)
{
    size_t dropped = 0, i = 0;
    while (i < p->nslots) {
        tp_pool_agg_t *a = p->slots[i];
        if (a == NULL || strcmp(a->key.round_id, round_id) != 0) {
            i++;
            continue;
        }
        table_erase(p, i); /* an entry may shift into slot i: look at it again */
        agg_free(a);
        dropped++;
    }
    return dropped;
}

static size_t agg_bytes(const tp_pool_agg_t *a)
{
    return sizeof(*a) + key_text_len(&a->key) + a->members_cap * sizeof(*a->members) +
           a->days_cap * sizeof(*a->days);
}

size_t tp_pool_bytes(const tp_pool_t *p)
{
    size_t n = sizeof(*p) + p->nslots * sizeof(*p->slots);
    n += p->members.nslots * sizeof(*p->members.slots) + p->members.bytes;
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i])
            n += agg_bytes(p->slots[i]);
    return n;
}

/* ---- standalone aggregates and merge ---- */

tp_pool_agg_t *tp_pool_agg_copy(const tp_pool_agg_t *a)
{
    tp_pool_agg_t *c = agg_new(&a->key, true);
    c->total = a->total;
    c->value = a->value;
    c->requests = a->requests;
    c->priced = a->priced;
    for (uint32_t i = 0; i < a->nmembers; i++)
        member_insert(c, i, xstrdup(a->members[i].id), a->members[i].lines);
    for (uint32_t i = 0; i < a->ndays; i++)
        day_add(c, a->days[i].day, a->days[i].lines);
    return c;
}

void tp_pool_agg_destroy(tp_pool_agg_t **pa)
{
    tp_pool_agg_t *a = pa ? *pa : NULL;
    if (a == NULL)
        return;
    if (a->standalone)
        agg_free(a);
    *pa = NULL;
}

static void merge_members(tp_pool_agg_t *into, const tp_pool_agg_t *from)
{
    for (uint32_t i = 0; i < from->nmembers; i++) {
        uint32_t pos;
        if (member_find(into, from->members[i].id, &pos))
            into->members[pos].lines += from->members[i].lines;
        else
            member_insert(into, pos, xstrdup(from->members[i].id), from->members[i].lines);
    }
}

/* from's days into into's, both ascending by day: one linear merge, as day_add one by one
 * would give (which moved the array's tail for each day: a quarter of a round close). */
static void merge_days(tp_pool_agg_t *into, const tp_pool_agg_t *from)
{
    if (from->ndays == 0)
        return;
    size_t cap = (size_t)into->ndays + from->ndays;
    tp_pool_day_t *d = xmalloc(cap * sizeof(*d));
    uint32_t i = 0, j = 0, k = 0;
    while (i < into->ndays || j < from->ndays) {
        if (j == from->ndays || (i < into->ndays && into->days[i].day < from->days[j].day)) {
            d[k++] = into->days[i++];
        } else if (i == into->ndays || from->days[j].day < into->days[i].day) {
            d[k++] = from->days[j++];
        } else {
            d[k] = into->days[i++];
            d[k++].lines += from->days[j++].lines;
        }
    }
    free(into->days);
    into->days = d;
    into->ndays = k;
    into->days_cap = (uint32_t)cap;
}

int tp_pool_merge(tp_pool_agg_t *into, const tp_pool_agg_t *from)
{
    tp_dec_t total, value;

    if (!into->standalone || into->hash != from->hash || !key_eq(&into->key, &from->key))
        return -1;
    if (from->requests > UINT32_MAX - into->requests)
        return -1;
    if (dec_step(&into->total, &from->total, 1, &total) < 0 ||
        dec_step(&into->value, &from->value, 1, &value) < 0)
        return -1;
    merge_members(into, from);
    merge_days(into, from);
    into->total = total;
    into->value = value;
    into->requests += from->requests;
    into->priced += from->priced;
    return 0;
}

bool tp_pool_viable(const tp_pool_agg_t *a, int min_members)
{
    uint32_t need = min_members < 1 ? 1 : (uint32_t)min_members;
    return a != NULL && a->requests > 0 && a->nmembers >= need;
}

tp_pool_carry_t tp_pool_carry_decision(int times_carried, int max_carry_over)
{
    return times_carried < max_carry_over ? TP_POOL_CARRY : TP_POOL_UNPOOLED;
}

/* ---- pack ---- */

typedef struct packbuf {
    char *data;
    size_t len, cap;
} packbuf_t;

static void put_bytes(packbuf_t *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap)
            b->cap = b->cap ? b->cap * 2 : 256;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* v in decimal into buf (at least 21 bytes); its length. snprintf was most of a round
 * close's packing time (2 calls per field, some 400 fields per lot). */
static size_t fmt_int(char *buf, int64_t v)
{
    char tmp[24], *end = tmp + sizeof(tmp), *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    memcpy(buf, p, (size_t)(end - p));
    return (size_t)(end - p);
}

static void put_field(packbuf_t *b, const char *s, size_t n)
{
    char head[24];
    size_t h = fmt_int(head, (int64_t)n);
    head[h++] = ':';
    put_bytes(b, head, h);
    put_bytes(b, s, n);
    put_bytes(b, ",", 1);
}

static void put_str(packbuf_t *b, const char *s)
{
    put_field(b, s, strlen(s));
}

static void put_int(packbuf_t *b, int64_t v)
{
    char num[24];
    put_field(b, num, fmt_int(num, v));
}

static void put_dec(packbuf_t *b, const tp_dec_t *d)
{
    char num[TP_DEC_STR_MAX];
    tp_dec_format(d, num, sizeof(num));
    put_str(b, num);
}

static void pack_into(packbuf_t *b, const tp_pool_agg_t *a)
{
    const tp_pool_key_t *k = &a->key;

    put_bytes(b, PACK_MAGIC, strlen(PACK_MAGIC));
    put_str(b, k->round_id);
    put_str(b, k->cpv);
    put_str(b, k->item_key);
    put_str(b, k->dimension);
    put_str(b, k->base_unit);
    put_str(b, k->delivery_zone);
    put_str(b, k->currency);
    put_dec(b, &a->total);
    put_dec(b, &a->value);
    put_int(b, a->requests);
    put_int(b, a->priced);
    put_int(b, a->nmembers);
    for (uint32_t i = 0; i < a->nmembers; i++) {
        put_str(b, a->members[i].id);
        put_int(b, a->members[i].lines);
    }
    put_int(b, a->ndays);
    for (uint32_t i = 0; i < a->ndays; i++) {
        put_int(b, a->days[i].day);
        put_int(b, a->days[i].lines);
    }
}

int tp_pool_agg_pack(const tp_pool_agg_t *a, char **out, size_t *outlen)
{
    packbuf_t b = {0};
    pack_into(&b, a);
    *out = b.data;
    *outlen = b.len;
    return 0;
}

int tp_pool_agg_pack_append(const tp_pool_agg_t *a, char **buf, size_t *len, size_t *cap)
{
    packbuf_t b = {*buf, *len, *cap};
    size_t at = b.len;
    uint32_t n32 = 0;
    put_bytes(&b, &n32, 4); /* the length, written once known */
    pack_into(&b, a);
    int rc = b.len - at - 4 > UINT32_MAX ? -1 : 0;
    n32 = (uint32_t)(b.len - at - 4);
    memcpy(b.data + at, &n32, 4);
    *buf = b.data;
    *len = rc == 0 ? b.len : at;
    *cap = b.cap;
    return rc;
}

/* ---- unpack: every field checked, nothing trusted ---- */

typedef struct reader {
    const char *p, *end;
} reader_t;

/* Next netstring "<len>:<bytes>,"; 0, or -1 when malformed. */
static int get_field(reader_t *r, const char **s, size_t *n)
{
    size_t len = 0, digits = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && digits < 9) {
        len = len * 10 + (size_t)(*r->p++ - '0');
        digits++;
    }
    if (digits == 0 || r->p >= r->end || *r->p++ != ':' || (size_t)(r->end - r->p) < len + 1)
        return -1;
    *s = r->p;
    *n = len;
    r->p += len;
    return *r->p++ == ',' ? 0 : -1;
}

/* A field as a NUL-terminated malloc'd string without NUL or 0x1f bytes, or NULL. */
static char *get_str(reader_t *r)
{
    const char *s;
    size_t n;
    if (get_field(r, &s, &n) < 0 || n == 0 || memchr(s, '\0', n) || memchr(s, KEY_SEP, n))
        return NULL;
    return xstrndup(s, n);
}

/* An integer field: an optional '-' then digits only, within [lo, hi]. */
static int get_int(reader_t *r, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s;
    size_t n, i;
    if (get_field(r, &s, &n) < 0 || n == 0 || n >= 24)
        return -1;
    bool neg = s[0] == '-';
    uint64_t u = 0;
    for (i = neg; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || u > (UINT64_MAX - 9) / 10)
            return -1;
        u = u * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == (size_t)neg || u > (uint64_t)INT64_MAX + neg)
        return -1; /* no digit, or outside int64_t */
    int64_t v = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int get_u32(reader_t *r, uint32_t lo, uint32_t *out)
{
    int64_t v;
    if (get_int(r, lo, UINT32_MAX, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int get_dec(reader_t *r, tp_dec_t *out)
{
    const char *s;
    size_t n;
    char num[TP_DEC_STR_MAX];
    if (get_field(r, &s, &n) < 0 || n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    if (tp_dec_from_str(num, out) < 0 || tp_dec_sign(out) < 0)
        return -1;
    tp_dec_normalize(out);
    return 0;
}

/* Reads the seven key fields and allocates the aggregate; NULL when malformed. */
static tp_pool_agg_t *unpack_key(reader_t *r)
{
    char *f[7] = {0};
    tp_pool_agg_t *a = NULL;
    int got = 0;
    while (got < 7 && (f[got] = get_str(r)) != NULL)
        got++;
    if (got == 7 && strlen(f[1]) == 8) {
        tp_pool_key_t k = {.round_id = f[0],
                           .item_key = f[2],
                           .dimension = f[3],
                           .base_unit = f[4],
                           .delivery_zone = f[5],
                           .currency = f[6]};
        memcpy(k.cpv, f[1], 9);
        if (key_ok(&k))
            a = agg_new(&k, true);
    }
    for (int i = 0; i < got; i++)
        free(f[i]);
    return a;
}

static int unpack_members(reader_t *r, tp_pool_agg_t *a)
{
    uint32_t n, lines;
    uint64_t sum = 0;
    if (get_u32(r, 1, &n) < 0 || n > a->requests)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        char *id = get_str(r);
        if (id == NULL)
            return -1;
        if ((i > 0 && strcmp(a->members[i - 1].id, id) >= 0) || get_u32(r, 1, &lines) < 0) {
            free(id);
            return -1;
        }
        member_insert(a, i, id, lines);
        sum += lines;
    }
    return sum == a->requests ? 0 : -1;
}

static int unpack_days(reader_t *r, tp_pool_agg_t *a)
{
    uint32_t n, lines;
    int64_t day;
    uint64_t sum = 0;
    /* each day takes at least 8 bytes ("1:5,1:1,"): a count the bytes cannot hold is refused
     * before anything is allocated for it */
    if (get_u32(r, 1, &n) < 0 || n > a->requests || n > (size_t)(r->end - r->p) / 8)
        return -1;
    a->days = xrealloc(a->days, (size_t)n * sizeof(*a->days)); /* appended in order below */
    a->days_cap = n;
    for (uint32_t i = 0; i < n; i++) {
        if (get_int(r, INT32_MIN, INT32_MAX, &day) < 0 || get_u32(r, 1, &lines) < 0)
            return -1;
        if (i > 0 && a->days[i - 1].day >= day)
            return -1;
        a->days[a->ndays++] = (tp_pool_day_t){.day = (int32_t)day, .lines = lines};
        sum += lines;
    }
    return sum == a->requests ? 0 : -1;
}

static int unpack_body(reader_t *r, tp_pool_agg_t *a)
{
    if (get_dec(r, &a->total) < 0 || get_dec(r, &a->value) < 0 || get_u32(r, 1, &a->requests) < 0 ||
        get_u32(r, 0, &a->priced) < 0)
        return -1;
    if (tp_dec_sign(&a->total) <= 0 || a->priced > a->requests ||
        (a->priced == 0 && tp_dec_sign(&a->value) != 0))
        return -1;
    if (unpack_members(r, a) < 0 || unpack_days(r, a) < 0)
        return -1;
    return r->p == r->end ? 0 : -1;
}

tp_pool_agg_t *tp_pool_agg_unpack(const void *buf, size_t len)
{
    size_t mlen = strlen(PACK_MAGIC);
    reader_t r = {.p = buf, .end = (const char *)buf + len};

    if (buf == NULL || len < mlen || memcmp(buf, PACK_MAGIC, mlen) != 0)
        return NULL;
    r.p += mlen;
    tp_pool_agg_t *a = unpack_key(&r);
    if (a != NULL && unpack_body(&r, a) < 0)
        tp_pool_agg_destroy(&a);
    return a;
}
