/* mem.h — tagged memory accounting, the product's core promise (DESIGN.md §4).
 *
 * Every byte the trainer uses is charged to one tag. For each tag we keep
 *   live     bytes handed out and not yet given back (what the computation uses now),
 *   reserved bytes obtained from the system for that tag (slabs, arena capacity),
 *   peak     the highest `live` ever seen,
 * and for the total, the peak of the *sum* of live bytes (not the sum of per-tag peaks).
 * A MemTracker is a plain value owned by its user (no global state). */
#ifndef LOCUS_MEM_H
#define LOCUS_MEM_H

#include <stddef.h>

typedef enum MemTag {
    MEM_TAG_PARAM = 0, /* parameter values and buffers (BN running stats) */
    MEM_TAG_GRAD,      /* parameter gradients */
    MEM_TAG_OPTIM,     /* optimizer state (momentum, Adam moments) */
    MEM_TAG_EMA,       /* EMA copies of parameters */
    MEM_TAG_ACT,       /* saved activations, activation gradients, tape records */
    MEM_TAG_SCRATCH,   /* the one shared workspace (im2col, partial sums) */
    MEM_TAG_DATA,      /* datasets in memory and batch buffers */
    MEM_TAG_COUNT
} MemTag;

typedef struct MemTracker {
    size_t live[MEM_TAG_COUNT];
    size_t peak[MEM_TAG_COUNT];
    size_t reserved[MEM_TAG_COUNT];
    size_t live_total;
    size_t peak_total;
    /* a second set of peaks over a window the caller opens (one local-learning block, say) */
    size_t window_peak[MEM_TAG_COUNT];
    size_t window_peak_total;
} MemTracker;

/* Lower-case tag name ("param", "act", ...): the keys of summary.json's mem objects. */
const char *mem_tag_name(MemTag tag);

/* Accounting only (no memory is touched). */
void mem_track_use(MemTracker *mt, MemTag tag, size_t bytes);
void mem_track_unuse(MemTracker *mt, MemTag tag, size_t bytes);
/* Forget peaks (live stays): used to measure one phase, e.g. steady-state training. */
void mem_reset_peaks(MemTracker *mt);
/* Starts a window: window peaks restart from the live bytes now. */
void mem_window_begin(MemTracker *mt);

/* A 64-byte-aligned, zeroed block that is both reserved and live for `tag`.
 * Returns NULL when the system refuses (caller reports LOCUS_ERR_OOM). mt may be NULL. */
void *mem_alloc(MemTracker *mt, MemTag tag, size_t bytes);
void mem_free(MemTracker *mt, MemTag tag, void *p, size_t bytes);
/* Reserve without marking live (arena capacity): mem_alloc_reserved/mem_free_reserved. */
void *mem_alloc_reserved(MemTracker *mt, MemTag tag, size_t bytes);
void mem_free_reserved(MemTracker *mt, MemTag tag, void *p, size_t bytes);

/* Human-readable byte count ("3.1 GiB", "512 B") into buf; returns buf. */
const char *mem_format(size_t bytes, char *buf, size_t bufsize);

#define MEM_ALIGN 64
static inline size_t mem_round_up(size_t bytes) { return (bytes + MEM_ALIGN - 1) & ~(size_t)(MEM_ALIGN - 1); }

#endif
