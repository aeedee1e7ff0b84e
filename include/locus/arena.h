/* arena.h — per-step memory: a stack arena for activations and a grad pool for activation gradients.
 *
 * Arena: a bump allocator over one block reserved once. arena_mark() remembers the top,
 * arena_release() pops back to it. A barrier between local-learning blocks is a release, so freeing a
 * block's activations costs nothing. In plan mode (base == NULL) nothing is stored: the arena only
 * counts, which is how `locus memplan` predicts the peak by running the exact allocation sequence
 * of a training step without computing anything.
 *
 * GradPool: activation gradients die in a different order from the one they are born in (a tensor's
 * gradient is complete, and is freed, right after its producer's backward), so they do not fit a
 * stack. The pool is a deterministic first-fit allocator over one block: the same sequence of
 * requests gives the same offsets, in plan mode and for real, so planned peak == measured peak.
 *
 * Both charge their live bytes to MEM_TAG_ACT (or the tag given) of a MemTracker. */
#ifndef LOCUS_ARENA_H
#define LOCUS_ARENA_H

#include <stddef.h>

#include "locus/mem.h"

typedef struct Arena {
    char *base;      /* NULL in plan mode */
    size_t capacity; /* bytes reserved (SIZE_MAX-ish in plan mode) */
    size_t used;     /* bytes handed out (always a multiple of MEM_ALIGN) */
    size_t high;     /* highest `used` seen */
    MemTracker *mt;
    MemTag tag;
} Arena;

/* A real arena of `capacity` bytes, reserved under `tag`. Returns 0 on success, -1 if refused. */
int arena_init(Arena *a, size_t capacity, MemTracker *mt, MemTag tag);
/* A counting-only arena (plan mode). */
void arena_init_plan(Arena *a, MemTracker *mt, MemTag tag);
void arena_free(Arena *a);
static inline int arena_is_plan(const Arena *a) { return a->base == NULL; }

/* 64-byte-aligned block of `bytes`. In plan mode returns NULL. Sets *ok = 0 when the arena is full
 * (then returns NULL); ok may be NULL only for callers that have sized the arena by a plan. */
void *arena_alloc(Arena *a, size_t bytes, int *ok);
static inline size_t arena_mark(const Arena *a) { return a->used; }
void arena_release(Arena *a, size_t mark);

typedef struct GradPoolBlock {
    size_t offset, size;
} GradPoolBlock;

typedef struct GradPool {
    char *base;        /* NULL in plan mode */
    size_t capacity;   /* bytes reserved */
    size_t top;        /* end of the highest block ever handed out (bump pointer) */
    size_t high;       /* highest `top` seen: the capacity a real pool needs */
    size_t live;       /* bytes handed out now */
    size_t last_offset;/* offset of the last block handed out */
    GradPoolBlock *free_list; /* sorted by offset, coalesced, none touching `top` */
    int n_free, cap_free;
    MemTracker *mt;
    MemTag tag;
} GradPool;

int gradpool_init(GradPool *g, size_t capacity, MemTracker *mt, MemTag tag);
void gradpool_init_plan(GradPool *g, MemTracker *mt, MemTag tag);
void gradpool_free(GradPool *g);
/* Zeroed block of `bytes` (rounded up to MEM_ALIGN); NULL in plan mode; *ok = 0 when full. */
float *gradpool_alloc(GradPool *g, size_t bytes, int *ok);
/* The same block, not zeroed (the caller writes every byte before reading any). */
float *gradpool_alloc_uninit(GradPool *g, size_t bytes, int *ok);
/* Gives back the block at `offset` (as reported by gradpool_last_offset right after its alloc). */
void gradpool_release(GradPool *g, size_t offset, size_t bytes);
/* Offset of the last block handed out by gradpool_alloc (valid in plan mode too). */
size_t gradpool_last_offset(const GradPool *g);

#endif
