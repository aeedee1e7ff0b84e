/* arena.c — the stack arena (see arena.h). Invariant: used <= capacity, used % MEM_ALIGN == 0. */
#include "locus/arena.h"

#include <stdint.h>
#include <string.h>

#include "locus/status.h"

int arena_init(Arena *a, size_t capacity, MemTracker *mt, MemTag tag) {
    memset(a, 0, sizeof *a);
    a->mt = mt;
    a->tag = tag;
    a->capacity = mem_round_up(capacity);
    a->base = mem_alloc_reserved(mt, tag, a->capacity);
    return a->base ? 0 : -1;
}

void arena_init_plan(Arena *a, MemTracker *mt, MemTag tag) {
    memset(a, 0, sizeof *a);
    a->mt = mt;
    a->tag = tag;
    a->capacity = SIZE_MAX / 2;
}

void arena_free(Arena *a) {
    if (a->used) mem_track_unuse(a->mt, a->tag, a->used);
    if (a->base) mem_free_reserved(a->mt, a->tag, a->base, a->capacity);
    memset(a, 0, sizeof *a);
}

void *arena_alloc(Arena *a, size_t bytes, int *ok) {
    size_t n = mem_round_up(bytes);
    if (n > a->capacity - a->used) {
        if (ok) *ok = 0;
        CHECK(ok, "arena of %zu bytes is full (asked %zu more, %zu used)", a->capacity, n, a->used);
        return NULL;
    }
    if (ok) *ok = 1;
    void *p = a->base ? a->base + a->used : NULL;
    a->used += n;
    if (a->used > a->high) a->high = a->used;
    mem_track_use(a->mt, a->tag, n);
    return p;
}

void arena_release(Arena *a, size_t mark) {
    CHECK(mark <= a->used, "release to %zu above top %zu", mark, a->used);
    mem_track_unuse(a->mt, a->tag, a->used - mark);
    a->used = mark;
}
