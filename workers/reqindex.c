/* Open-addressing hash index of owned requests; interning keeps entries small. */
#include <stdlib.h>
#include <string.h>

#include "tp_arena.h"
#include "tp_ipc.h"
#include "tp_mem.h"
#include "tp_reqindex.h"

typedef struct tp_strtab {
    char **names;
    uint64_t *hashes; /* open-addressing table of indices+1 into names */
    uint32_t *slots;
    size_t count, cap, nslots;
} tp_strtab_t;

struct tp_reqindex {
    tp_reqent_t *slots;
    size_t nslots; /* power of two */
    size_t count;
    tp_arena_t refs; /* the entries' ref strings, packed: entries are never removed */
    tp_strtab_t members;
    tp_strtab_t rounds;
};

uint32_t tp_reqindex_hash(uint32_t member, const char *ref)
{
    uint64_t h = tp_fnv1a(TP_FNV_INIT, &member, sizeof(member));
    h = tp_fnv1a(h, ref, strlen(ref));
    uint32_t h32 = (uint32_t)(h ^ (h >> 32));
    return h32 ? h32 : 1;
}

/* Index of s in t, or UINT32_MAX when absent. */
static uint32_t strtab_find(const tp_strtab_t *t, const char *s, uint64_t h)
{
    if (t->nslots == 0)
        return UINT32_MAX;
    for (size_t j = h & (t->nslots - 1); t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
        uint32_t i = t->slots[j] - 1;
        if (t->hashes[i] == h && strcmp(t->names[i], s) == 0)
            return i;
    }
    return UINT32_MAX;
}

static uint32_t strtab_intern(tp_strtab_t *t, const char *s)
{
    uint64_t h = tp_fnv1a(TP_FNV_INIT, s, strlen(s));
    uint32_t found = strtab_find(t, s, h);
    if (found != UINT32_MAX)
        return found;
    if (t->nslots == 0 || (t->count + 1) * 2 > t->nslots) {
        size_t n = t->nslots ? t->nslots * 2 : 64;
        uint32_t *slots = xcalloc(n, sizeof(*slots));
        for (size_t i = 0; i < t->count; i++) {
            size_t j = t->hashes[i] & (n - 1);
            while (slots[j])
                j = (j + 1) & (n - 1);
            slots[j] = (uint32_t)i + 1;
        }
        free(t->slots);
        t->slots = slots;
        t->nslots = n;
    }
    size_t j = h & (t->nslots - 1);
    while (t->slots[j])
        j = (j + 1) & (t->nslots - 1);
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->names = xrealloc(t->names, t->cap * sizeof(*t->names));
        t->hashes = xrealloc(t->hashes, t->cap * sizeof(*t->hashes));
    }
    t->names[t->count] = xstrdup(s);
    t->hashes[t->count] = h;
    t->slots[j] = (uint32_t)t->count + 1;
    return (uint32_t)t->count++;
}

static void strtab_free(tp_strtab_t *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->names[i]);
    free(t->names);
    free(t->hashes);
    free(t->slots);
}

tp_reqindex_t *tp_reqindex_new(void)
{
    tp_reqindex_t *ix = xcalloc(1, sizeof(*ix));
    ix->nslots = 1024;
    ix->slots = xcalloc(ix->nslots, sizeof(*ix->slots));
    tp_arena_init(&ix->refs, 64 * 1024);
    return ix;
}

void tp_reqindex_destroy(tp_reqindex_t **pix)
{
    tp_reqindex_t *ix = pix ? *pix : NULL;
    if (ix == NULL)
        return;
    tp_arena_release(&ix->refs);
    free(ix->slots);
    strtab_free(&ix->members);
    strtab_free(&ix->rounds);
    free(ix);
    *pix = NULL;
}

uint32_t tp_reqindex_member(tp_reqindex_t *ix, const char *member_id)
{
    return strtab_intern(&ix->members, member_id);
}

uint32_t tp_reqindex_member_find(const tp_reqindex_t *ix, const char *member_id)
{
    return strtab_find(&ix->members, member_id,
                       tp_fnv1a(TP_FNV_INIT, member_id, strlen(member_id)));
}

void tp_reqindex_prefetch_hashed(const tp_reqindex_t *ix, uint32_t h, int stage)
{
    const tp_reqent_t *e = &ix->slots[h & (ix->nslots - 1)];
    if (stage == 0) {
        __builtin_prefetch(e);
        __builtin_prefetch((const char *)(e + 1) - 1); /* an entry may straddle two lines */
    } else if (e->hash == h) {
        __builtin_prefetch(e->ref);
    }
}

const char *tp_reqindex_member_name(const tp_reqindex_t *ix, uint32_t member)
{
    return member < ix->members.count ? ix->members.names[member] : "";
}

uint32_t tp_reqindex_round(tp_reqindex_t *ix, const char *round_id)
{
    return strtab_intern(&ix->rounds, round_id);
}

const char *tp_reqindex_round_name(const tp_reqindex_t *ix, uint32_t round)
{
    return round < ix->rounds.count ? ix->rounds.names[round] : "";
}

static tp_reqent_t *probe(tp_reqindex_t *ix, uint32_t h, uint32_t member, const char *ref)
{
    size_t j = h & (ix->nslots - 1);
    for (;;) {
        tp_reqent_t *e = &ix->slots[j];
        if (e->hash == 0 || (e->hash == h && e->member == member && strcmp(e->ref, ref) == 0))
            return e;
        j = (j + 1) & (ix->nslots - 1);
    }
}

static void grow(tp_reqindex_t *ix)
{
    size_t old_n = ix->nslots;
    tp_reqent_t *old = ix->slots;
    ix->nslots = old_n * 2;
    ix->slots = xcalloc(ix->nslots, sizeof(*ix->slots));
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].hash == 0)
            continue;
        size_t j = old[i].hash & (ix->nslots - 1);
        while (ix->slots[j].hash)
            j = (j + 1) & (ix->nslots - 1);
        ix->slots[j] = old[i];
    }
    free(old);
}

tp_reqent_t *tp_reqindex_find(tp_reqindex_t *ix, uint32_t member, const char *ref)
{
    return tp_reqindex_find_hashed(ix, tp_reqindex_hash(member, ref), member, ref);
}

tp_reqent_t *tp_reqindex_find_hashed(tp_reqindex_t *ix, uint32_t h, uint32_t member,
                                     const char *ref)
{
    tp_reqent_t *e = probe(ix, h, member, ref);
    return e->hash ? e : NULL;
}

tp_reqent_t *tp_reqindex_upsert(tp_reqindex_t *ix, uint32_t member, const char *ref)
{
    return tp_reqindex_upsert_hashed(ix, tp_reqindex_hash(member, ref), member, ref);
}

tp_reqent_t *tp_reqindex_upsert_hashed(tp_reqindex_t *ix, uint32_t h, uint32_t member,
                                       const char *ref)
{
    if ((ix->count + 1) * 4 > ix->nslots * 3)
        grow(ix);
    tp_reqent_t *e = probe(ix, h, member, ref);
    if (e->hash == 0) {
        memset(e, 0, sizeof(*e));
        e->hash = h;
        e->member = member;
        e->ref = tp_arena_strdup(&ix->refs, ref);
        ix->count++;
    }
    return e;
}

void tp_reqindex_foreach(tp_reqindex_t *ix, tp_reqindex_fn fn, void *ctx)
{
    for (size_t i = 0; i < ix->nslots; i++)
        if (ix->slots[i].hash)
            fn(&ix->slots[i], ctx);
}

size_t tp_reqindex_count(const tp_reqindex_t *ix)
{
    return ix->count;
}

size_t tp_reqindex_bytes(const tp_reqindex_t *ix)
{
    return ix->nslots * sizeof(tp_reqent_t) + tp_arena_used(&ix->refs);
}
