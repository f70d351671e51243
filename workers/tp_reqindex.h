/* In-memory index of the requests a worker owns: latest revision per (member, request_ref). */
#ifndef TP_REQINDEX_H
#define TP_REQINDEX_H

#include <stddef.h>
#include <stdint.h>

/* One entry per (member, request_ref) this worker has seen: 48 bytes + the ref text. */
typedef struct tp_reqent {
    uint64_t server_seq;   /* of the latest stored revision */
    uint64_t content_hash; /* of the latest stored revision's envelope */
    char *ref;             /* owned */
    uint32_t hash;         /* of (member, ref); 0 = empty slot */
    uint32_t member;       /* interned member index */
    uint32_t line;         /* its line in the open pool (tp_lines), 0 = none (not open) */
    uint32_t revision;     /* latest stored revision; 0 = not stored (undone) */
    uint32_t round;        /* interned round index */
    uint8_t op;            /* tp_op_t of the latest revision */
    uint8_t state;         /* tp_rstate_t: where the request stands after the closes so far */
} tp_reqent_t;

/* A request's state as tenderpool.requests derives it (closes move requests on). */
typedef enum tp_rstate {
    TP_RS_OPEN = 0,
    TP_RS_CARRIED_OVER,
    TP_RS_POOLED,
    TP_RS_UNPOOLED,
    TP_RS_CANCELLED,
} tp_rstate_t;

typedef struct tp_reqindex tp_reqindex_t;

tp_reqindex_t *tp_reqindex_new(void);
void tp_reqindex_destroy(tp_reqindex_t **ix);

/* Member and round interning: stable small integers for repeated strings. */
uint32_t tp_reqindex_member(tp_reqindex_t *ix, const char *member_id);
/* The member's index without interning it: UINT32_MAX when not seen yet. */
uint32_t tp_reqindex_member_find(const tp_reqindex_t *ix, const char *member_id);
const char *tp_reqindex_member_name(const tp_reqindex_t *ix, uint32_t member);
uint32_t tp_reqindex_round(tp_reqindex_t *ix, const char *round_id);
const char *tp_reqindex_round_name(const tp_reqindex_t *ix, uint32_t round);

/* Calls fn for every entry (in table order); fn may modify the entry, not the index. */
typedef void (*tp_reqindex_fn)(tp_reqent_t *e, void *ctx);
void tp_reqindex_foreach(tp_reqindex_t *ix, tp_reqindex_fn fn, void *ctx);

/* Find the entry for (member, ref); NULL when absent. */
tp_reqent_t *tp_reqindex_find(tp_reqindex_t *ix, uint32_t member, const char *ref);
/* Find or create (revision 0 when new). The pointer stays valid until the next insert. */
tp_reqent_t *tp_reqindex_upsert(tp_reqindex_t *ix, uint32_t member, const char *ref);

/* The same with h = tp_reqindex_hash(member, ref) computed once by the caller, who may also
 * prefetch a lookup ahead: stage 0 loads h's slot, stage 1 (later, the slot in cache) the ref
 * text of the entry found there. A batch prefetches all its items' slots before deciding them
 * one by one; the pool updates after a commit issue them a few items ahead. */
uint32_t tp_reqindex_hash(uint32_t member, const char *ref);
tp_reqent_t *tp_reqindex_find_hashed(tp_reqindex_t *ix, uint32_t h, uint32_t member,
                                     const char *ref);
tp_reqent_t *tp_reqindex_upsert_hashed(tp_reqindex_t *ix, uint32_t h, uint32_t member,
                                       const char *ref);
void tp_reqindex_prefetch_hashed(const tp_reqindex_t *ix, uint32_t h, int stage);

size_t tp_reqindex_count(const tp_reqindex_t *ix);
/* Bytes held by the index (table, refs, interned strings): for the memory target. */
size_t tp_reqindex_bytes(const tp_reqindex_t *ix);

#endif
