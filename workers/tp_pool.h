/* In-memory pooling of request lines into per-(round, key) aggregates: pure, no database, no IPC.
 */
#ifndef TP_POOL_H
#define TP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_decimal.h"
#include "tp_unit.h"

/* Longest round id a lot id may carry, and a buffer that holds any lot id:
 * "<round_id>-<12 hex digits>". */
#define TP_POOL_ROUND_MAX 48
#define TP_POOL_LOT_ID_MAX (TP_POOL_ROUND_MAX + 1 + 12 + 1)

/* The consolidation key of SPEC section 4. Strings are borrowed here; the pool copies them
 * when a line creates an aggregate. dimension is tp_dim_name() ("mass", ..., "package");
 * base_unit is the dimension's base unit, or the unit code itself for packaging codes
 * (so BX pools only with BX). No field may contain the byte 0x1f (the hash separator). */
typedef struct tp_pool_key {
    const char *round_id;
    char cpv[9]; /* 8 digits, check digit stripped */
    const char *item_key;
    const char *dimension;
    const char *base_unit;
    const char *delivery_zone;
    const char *currency;
} tp_pool_key_t;

/* One request line as the worker committed it. Strings are borrowed for the call. */
typedef struct tp_pool_line {
    tp_pool_key_t key;
    const char *member_id;
    tp_dec_t base_quantity; /* > 0, in key.base_unit (tp_unit_to_base) */
    tp_dec_t quantity;      /* as requested, in `unit`: the estimated value uses it */
    const tp_unit_t *unit;
    bool has_max_price;
    tp_dec_t max_unit_price; /* per `unit`, in key.currency; read only when has_max_price */
    int32_t need_by;         /* days since 1970-01-01 */
    uint64_t key_hash;       /* tp_pool_key_hash(&key) if the caller has it, else 0 */
} tp_pool_line_t;

/* A distinct member of a lot and how many of the lot's lines are its own. */
typedef struct tp_pool_member {
    const char *id; /* interned by the pool, or owned by a standalone aggregate */
    uint32_t lines;
} tp_pool_member_t;

/* How many of a lot's lines need delivery by one day (a multiset of need_by dates). */
typedef struct tp_pool_day {
    int32_t day; /* days since 1970-01-01 */
    uint32_t lines;
} tp_pool_day_t;

/* The running aggregate of one lot. Read-only outside pool.c. Members are sorted by id
 * (strcmp) and days ascending, so equal aggregates pack to equal bytes.
 *
 * Memory per lot (x86-64, glibc): sizeof(tp_pool_agg_t) (~180 B) + the key text
 * (~60 B) in one allocation, 16 B per distinct member and 8 B per distinct need_by day
 * (arrays grow by doubling), and one 8-byte hash slot at <= 50% load. Member ids are
 * interned once per pool, not per lot. tp_pool_bytes() reports the total. */
typedef struct tp_pool_agg {
    tp_pool_key_t key; /* points into this aggregate's own allocation */
    uint64_t hash;     /* FNV-1a 64 of the key: see tp_pool_key_hash */
    char lot_hash[13]; /* tenderpool.lot_key_hash() of the key: see tp_pool_lot_id */
    uint8_t mark;      /* free for the owner (the worker marks viable lots at a close) */
    tp_dec_t total;    /* sum of base_quantity, exact */
    tp_dec_t value;    /* sum of quantity * max_unit_price over priced lines, exact */
    uint32_t requests; /* lines in the lot */
    uint32_t priced;   /* lines with a max_unit_price: value is known for priced of requests */
    uint32_t nmembers, members_cap;
    uint32_t ndays, days_cap;
    tp_pool_member_t *members;
    tp_pool_day_t *days;
    bool standalone; /* owns its member ids: from tp_pool_agg_unpack / tp_pool_agg_copy */
} tp_pool_agg_t;

typedef struct tp_pool tp_pool_t;

/* Fill *key from its parts: cpv is 8 digits, optionally followed by "-<check digit>";
 * the dimension and base unit come from `unit`. Borrows every string. 0, or -1 when a field
 * is missing or empty, the cpv malformed, or a field contains 0x1f. */
int tp_pool_key_build(tp_pool_key_t *key, const char *round_id, const char *cpv,
                      const char *item_key, const tp_unit_t *unit, const char *delivery_zone,
                      const char *currency) __attribute__((warn_unused_result));

/* A 64-bit hash of round_id, cpv, item_key, dimension, base_unit, delivery_zone, currency
 * (each with its length), for this process's table only: never stored or sent (lots are named
 * by tp_pool_lot_id, the same in memory and SQL). */
uint64_t tp_pool_key_hash(const tp_pool_key_t *key);

/* The deterministic lot id "<round_id>-<h>", the id stored in tenderpool.lot: h is
 * tenderpool.lot_key_hash() (sql/002_rounds.sql), the first 12 lowercase hex digits of the MD5
 * of cpv, item_key, dimension, base_unit, delivery_zone, currency joined by 0x1f (no round).
 * 0, or -1 when the key is malformed, the round id is longer than TP_POOL_ROUND_MAX or
 * buflen < TP_POOL_LOT_ID_MAX. */
int tp_pool_lot_id(const tp_pool_key_t *key, char *buf, size_t buflen)
    __attribute__((warn_unused_result));
int tp_pool_agg_lot_id(const tp_pool_agg_t *a, char *buf, size_t buflen)
    __attribute__((warn_unused_result));

tp_pool_t *tp_pool_new(void);
/* Frees the pool and every aggregate in it; accepts NULL and clears the caller's pointer. */
void tp_pool_destroy(tp_pool_t **p);

/* Add a committed line to its key's aggregate (created on first use). 0, or -1 when the line
 * is malformed (bad key, no member, base_quantity <= 0) or a total would overflow; on -1
 * nothing changed. */
int tp_pool_add(tp_pool_t *p, const tp_pool_line_t *line) __attribute__((warn_unused_result));

/* Exact inverse of tp_pool_add for a line that was added (amend = remove the old revision,
 * add the new one, possibly under another key; cancel = remove). The aggregate is freed when
 * its last line leaves. -1, and nothing changed, when no aggregate could hold that line
 * (unknown key, member without lines, need_by day absent, total would go negative). */
int tp_pool_remove(tp_pool_t *p, const tp_pool_line_t *line) __attribute__((warn_unused_result));

/* The aggregate of key, created empty when absent (NULL when the key is malformed). An
 * aggregate left without lines by a failed tp_pool_agg_add is freed again. */
tp_pool_agg_t *tp_pool_get(tp_pool_t *p, const tp_pool_key_t *key);
/* The same with h = tp_pool_key_hash(key) already computed. */
tp_pool_agg_t *tp_pool_get_hashed(tp_pool_t *p, const tp_pool_key_t *key, uint64_t h);
/* tp_pool_get_hashed for a key tp_pool_key_build returned 0 for and nobody changed since:
 * its fields are not checked again (the per-request path after a commit). */
tp_pool_agg_t *tp_pool_get_built(tp_pool_t *p, const tp_pool_key_t *key, uint64_t h);
/* Prefetches a later tp_pool_get of the key hashed h (tp_pool_key_hash): stage 0 loads its
 * slot, stage 1 (a few lines later) the aggregate in it, stage 2 (later still) the middle of
 * its member and day arrays. Each stage reads only what the earlier ones loaded. */
void tp_pool_prefetch(const tp_pool_t *p, uint64_t h, int stage);

/* The same as tp_pool_add / tp_pool_remove for callers that keep the key's aggregate and a
 * line's contributions themselves: base_quantity > 0 in the key's base unit, value the line's
 * quantity * max_unit_price (NULL for a line without a price). tp_pool_agg_remove frees the
 * aggregate when its last line leaves (a is then invalid). 0, or -1 and nothing changed. */
int tp_pool_agg_add(tp_pool_t *p, tp_pool_agg_t *a, const char *member_id,
                    const tp_dec_t *base_quantity, const tp_dec_t *value, int32_t need_by)
    __attribute__((warn_unused_result));
int tp_pool_agg_remove(tp_pool_t *p, tp_pool_agg_t *a, const char *member_id,
                       const tp_dec_t *base_quantity, const tp_dec_t *value, int32_t need_by)
    __attribute__((warn_unused_result));

/* Number of aggregates (open lots) in the pool. */
size_t tp_pool_count(const tp_pool_t *p);

/* The aggregate of a key, or NULL. Valid until the next add/remove/drop. */
const tp_pool_agg_t *tp_pool_find(const tp_pool_t *p, const tp_pool_key_t *key);

/* Calls fn for each aggregate of round_id (every round when NULL) in ascending lot id order
 * (strcmp). Stops at the first non-zero return of fn and returns it. Returns -1 without
 * calling fn when two aggregates would share a lot id (a collision of 48 bits of MD5). fn must not
 * modify the pool. */
typedef int (*tp_pool_fn)(const tp_pool_agg_t *a, void *ctx);
int tp_pool_foreach(const tp_pool_t *p, const char *round_id, tp_pool_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* Free every aggregate of round_id (after its close); returns how many were dropped. */
size_t tp_pool_drop_round(tp_pool_t *p, const char *round_id);

/* Bytes held by the pool (aggregates, arrays, hash table, interned member ids). */
size_t tp_pool_bytes(const tp_pool_t *p);

/* Need-by bounds of a non-empty aggregate (days since 1970-01-01). */
int32_t tp_pool_agg_need_by_min(const tp_pool_agg_t *a);
int32_t tp_pool_agg_need_by_max(const tp_pool_agg_t *a);

/* A standalone deep copy (owns everything), e.g. as the target of merges. */
tp_pool_agg_t *tp_pool_agg_copy(const tp_pool_agg_t *a);
/* Frees a standalone aggregate; accepts NULL and clears the caller's pointer. Aggregates that
 * belong to a pool are freed by the pool, never here. */
void tp_pool_agg_destroy(tp_pool_agg_t **a);

/* Merge the partial aggregate `from` (same key, e.g. another worker's) into `into`, exactly:
 * totals add, a member present in both counts once (its line counts add), need_by multisets
 * unite. `into` must be standalone. 0, or -1 (into unchanged) when the keys differ, `into`
 * is not standalone, or a total would overflow. */
int tp_pool_merge(tp_pool_agg_t *into, const tp_pool_agg_t *from)
    __attribute__((warn_unused_result));

/* A lot is viable with at least min_members distinct members (SPEC section 4);
 * min_members below 1 counts as 1. */
bool tp_pool_viable(const tp_pool_agg_t *a, int min_members);

/* Serialize one aggregate. Format (all text, no terminator): "TPAGG1" followed by
 * netstrings "<len>:<bytes>," for: round_id, cpv, item_key, dimension, base_unit,
 * delivery_zone, currency, total, value (canonical decimals), requests, priced, nmembers,
 * then nmembers x (member_id, lines), ndays, then ndays x (day, lines) (decimal integers).
 * *out is malloc'd (the caller frees it). 0, or -1. */
int tp_pool_agg_pack(const tp_pool_agg_t *a, char **out, size_t *outlen)
    __attribute__((warn_unused_result));
/* The same bytes appended to the growing buffer *buf (*len used of *cap), after their length
 * as a host-order u32: one buffer for many aggregates, as a close's partials travel. 0, or -1
 * (nothing appended). */
int tp_pool_agg_pack_append(const tp_pool_agg_t *a, char **buf, size_t *len, size_t *cap)
    __attribute__((warn_unused_result));
/* Parse and check a packed aggregate (counts consistent, members and days sorted and
 * distinct): a new standalone aggregate, or NULL when the bytes are malformed. */
tp_pool_agg_t *tp_pool_agg_unpack(const void *buf, size_t len) __attribute__((warn_unused_result));

/* Carry-over at a round's close for a request of a non-viable lot (SPEC section 4: carried
 * at most max_carry_over times, then UNPOOLED). times_carried is how many times the request
 * has already been carried: CARRY while times_carried < max_carry_over, else UNPOOLED
 * (with the default 2: carried at the 1st and 2nd close, UNPOOLED at the 3rd). */
typedef enum tp_pool_carry {
    TP_POOL_CARRY,
    TP_POOL_UNPOOLED,
} tp_pool_carry_t;
tp_pool_carry_t tp_pool_carry_decision(int times_carried, int max_carry_over);

#endif
