/* A bump allocator for one decoded message: many small allocations, one release. */
#ifndef TP_ARENA_H
#define TP_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct tp_arena_chunk tp_arena_chunk_t;

typedef struct tp_arena {
    tp_arena_chunk_t *head; /* the chunk being filled; older ones linked behind it */
    size_t next_size;       /* size of the next chunk to allocate */
    ProtobufCAllocator pb;  /* protobuf-c's view of this arena (free is a no-op) */
} tp_arena_t;

/* An arena whose first chunk holds about `hint` bytes. */
void tp_arena_init(tp_arena_t *a, size_t hint);
/* n bytes aligned for any type; never NULL (exits on memory exhaustion like xmalloc). */
void *tp_arena_alloc(tp_arena_t *a, size_t n);
/* A copy of s, byte-aligned (strings packed end to end). */
char *tp_arena_strdup(tp_arena_t *a, const char *s);
/* Bytes handed out so far (alignment padding included). */
size_t tp_arena_used(const tp_arena_t *a);
/* Release everything allocated from a (a may be reused after tp_arena_init). */
void tp_arena_release(tp_arena_t *a);
/* The allocator to pass to protobuf-c's unpack: everything it allocates lives in a. */
ProtobufCAllocator *tp_arena_pb(tp_arena_t *a);

#endif
