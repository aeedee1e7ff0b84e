/* gradpool.c — deterministic first-fit allocator for activation gradients (see arena.h).
 * Invariants: free blocks are sorted by offset, never adjacent to each other (coalesced) and never
 * touching `top` (a free block ending at top lowers top instead). Everything is MEM_ALIGN-rounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "locus/arena.h"
#include "locus/status.h"

static void pool_reset(GradPool *g, MemTracker *mt, MemTag tag) {
    memset(g, 0, sizeof *g);
    g->mt = mt;
    g->tag = tag;
    g->cap_free = 64;
    g->free_list = malloc(sizeof *g->free_list * (size_t)g->cap_free);
    CHECK(g->free_list, "out of memory for the grad pool's free list");
}

int gradpool_init(GradPool *g, size_t capacity, MemTracker *mt, MemTag tag) {
    pool_reset(g, mt, tag);
    g->capacity = mem_round_up(capacity);
    g->base = g->capacity ? mem_alloc_reserved(mt, tag, g->capacity) : NULL;
    if (g->capacity && !g->base) return -1;
    if (!g->capacity) g->capacity = 0;
    return 0;
}

void gradpool_init_plan(GradPool *g, MemTracker *mt, MemTag tag) {
    pool_reset(g, mt, tag);
    g->capacity = SIZE_MAX / 2;
}

void gradpool_free(GradPool *g) {
    if (g->live) mem_track_unuse(g->mt, g->tag, g->live);
    if (g->base) mem_free_reserved(g->mt, g->tag, g->base, g->capacity);
    free(g->free_list);
    memset(g, 0, sizeof *g);
}

float *gradpool_alloc_uninit(GradPool *g, size_t bytes, int *ok) {
    size_t n = mem_round_up(bytes);
    size_t off = SIZE_MAX;
    for (int i = 0; i < g->n_free; i++) {
        if (g->free_list[i].size >= n) {
            off = g->free_list[i].offset;
            g->free_list[i].offset += n;
            g->free_list[i].size -= n;
            if (g->free_list[i].size == 0) {
                memmove(&g->free_list[i], &g->free_list[i + 1], sizeof *g->free_list * (size_t)(g->n_free - i - 1));
                g->n_free--;
            }
            break;
        }
    }
    if (off == SIZE_MAX) {
        if (n > g->capacity - g->top) {
            *ok = 0;
            return NULL;
        }
        off = g->top;
        g->top += n;
        if (g->top > g->high) g->high = g->top;
    }
    *ok = 1;
    g->live += n;
    mem_track_use(g->mt, g->tag, n);
    g->last_offset = off;
    return g->base ? (float *)(g->base + off) : NULL;
}

float *gradpool_alloc(GradPool *g, size_t bytes, int *ok) {
    float *p = gradpool_alloc_uninit(g, bytes, ok);
    if (p) memset(p, 0, mem_round_up(bytes));
    return p;
}

size_t gradpool_last_offset(const GradPool *g) { return g->last_offset; }

void gradpool_release(GradPool *g, size_t offset, size_t bytes) {
    size_t n = mem_round_up(bytes);
    CHECK(g->live >= n, "grad pool: releasing %zu bytes, %zu live", n, g->live);
    g->live -= n;
    mem_track_unuse(g->mt, g->tag, n);
    if (offset + n == g->top) {
        g->top = offset;
        /* a free block that now touches top merges into it */
        if (g->n_free && g->free_list[g->n_free - 1].offset + g->free_list[g->n_free - 1].size == g->top) {
            g->top = g->free_list[g->n_free - 1].offset;
            g->n_free--;
        }
        return;
    }
    int i = 0;
    while (i < g->n_free && g->free_list[i].offset < offset) i++;
    /* merge with the previous and/or next block */
    int merged_prev = i > 0 && g->free_list[i - 1].offset + g->free_list[i - 1].size == offset;
    int merged_next = i < g->n_free && offset + n == g->free_list[i].offset;
    if (merged_prev && merged_next) {
        g->free_list[i - 1].size += n + g->free_list[i].size;
        memmove(&g->free_list[i], &g->free_list[i + 1], sizeof *g->free_list * (size_t)(g->n_free - i - 1));
        g->n_free--;
    } else if (merged_prev) {
        g->free_list[i - 1].size += n;
    } else if (merged_next) {
        g->free_list[i].offset = offset;
        g->free_list[i].size += n;
    } else {
        if (g->n_free == g->cap_free) {
            g->cap_free *= 2;
            g->free_list = realloc(g->free_list, sizeof *g->free_list * (size_t)g->cap_free);
            CHECK(g->free_list, "out of memory for the grad pool's free list");
        }
        memmove(&g->free_list[i + 1], &g->free_list[i], sizeof *g->free_list * (size_t)(g->n_free - i));
        g->free_list[i].offset = offset;
        g->free_list[i].size = n;
        g->n_free++;
    }
}
