/* Bump allocation in chunks: a decoded ClientMessage costs a few mallocs, not one per field. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

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

void *tp_arena_alloc(tp_arena_t *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    tp_arena_chunk_t *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        size_t size = a->next_size > n ? a->next_size : n;
        c = xmalloc(sizeof(*c) + size);
        c->prev = a->head;
        c->used = 0;
        c->size = size;
        a->head = c;
        a->next_size = size * 2;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
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
