/* Bump allocation in chunks: a decoded ClientMessage costs a few mallocs, not one per field. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp_arena.h"
#include "tp_mem.h"

struct tp_arena_chunk {
    tp_arena_chunk_t *prev;
    size_t used, size;
    alignas(max_align_t) unsigned char data[];
};

#define ARENA_ALIGN (alignof(max_align_t))

void tp_arena_init(tp_arena_t *a, size_t hint)
{
    a->head = NULL;
    a->next_size = hint < 1024 ? 1024 : hint;
    a->pb = (ProtobufCAllocator){0};
}

/* n bytes at the head chunk's next offset rounded up to align (a power of two). */
static void *arena_bump(tp_arena_t *a, size_t n, size_t align)
{
    tp_arena_chunk_t *c = a->head;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (c == NULL || at > c->size || c->size - at < n) {
        size_t size = a->next_size > n ? a->next_size : n;
        c = xmalloc(sizeof(*c) + size);
        c->prev = a->head;
        c->used = 0;
        c->size = size;
        a->head = c;
        a->next_size = size * 2;
        at = 0;
    }
    void *p = c->data + at;
    c->used = at + n;
    return p;
}

void *tp_arena_alloc(tp_arena_t *a, size_t n)
{
    return arena_bump(a, n, ARENA_ALIGN);
}

char *tp_arena_strdup(tp_arena_t *a, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(arena_bump(a, n, 1), s, n);
}

size_t tp_arena_used(const tp_arena_t *a)
{
    size_t n = 0;
    for (const tp_arena_chunk_t *c = a->head; c; c = c->prev)
        n += c->used;
    return n;
}

void tp_arena_release(tp_arena_t *a)
{
    while (a->head) {
        tp_arena_chunk_t *prev = a->head->prev;
        free(a->head);
        a->head = prev;
    }
}

static void *pb_alloc(void *data, size_t n)
{
    return tp_arena_alloc(data, n);
}

static void pb_free(void *data, void *p)
{
    (void)data; /* released with the arena */
    (void)p;
}

ProtobufCAllocator *tp_arena_pb(tp_arena_t *a)
{
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
    return &a->pb;
}
