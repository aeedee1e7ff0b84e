/* mem.c — tagged accounting and aligned allocation (see mem.h).
 * Allocation goes through the system once per slab/arena; nothing here is called in the step loop. */
#include "locus/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/status.h"

static const char *const tag_names[MEM_TAG_COUNT] = {"param", "grad", "optim", "ema", "act", "scratch", "data"};

const char *mem_tag_name(MemTag tag) {
    CHECK(tag >= 0 && tag < MEM_TAG_COUNT, "bad tag %d", (int)tag);
    return tag_names[tag];
}

void mem_track_use(MemTracker *mt, MemTag tag, size_t bytes) {
    if (!mt) return;
    mt->live[tag] += bytes;
    mt->live_total += bytes;
    if (mt->live[tag] > mt->peak[tag]) mt->peak[tag] = mt->live[tag];
    if (mt->live_total > mt->peak_total) mt->peak_total = mt->live_total;
    if (mt->live[tag] > mt->window_peak[tag]) mt->window_peak[tag] = mt->live[tag];
    if (mt->live_total > mt->window_peak_total) mt->window_peak_total = mt->live_total;
}

void mem_track_unuse(MemTracker *mt, MemTag tag, size_t bytes) {
    if (!mt) return;
    CHECK(mt->live[tag] >= bytes, "tag %s: freeing %zu bytes but only %zu live", mem_tag_name(tag), bytes,
          mt->live[tag]);
    mt->live[tag] -= bytes;
    mt->live_total -= bytes;
}

void mem_reset_peaks(MemTracker *mt) {
    for (int t = 0; t < MEM_TAG_COUNT; t++) mt->peak[t] = mt->live[t];
    mt->peak_total = mt->live_total;
}

void mem_window_begin(MemTracker *mt) {
    for (int t = 0; t < MEM_TAG_COUNT; t++) mt->window_peak[t] = mt->live[t];
    mt->window_peak_total = mt->live_total;
}

void *mem_alloc_reserved(MemTracker *mt, MemTag tag, size_t bytes) {
    size_t rounded = mem_round_up(bytes ? bytes : 1);
    void *p = aligned_alloc(MEM_ALIGN, rounded);
    if (!p) return NULL;
    memset(p, 0, rounded); /* touch once now, so no page fault happens later in the step loop */
    if (mt) mt->reserved[tag] += bytes;
    return p;
}

void mem_free_reserved(MemTracker *mt, MemTag tag, void *p, size_t bytes) {
    if (!p) return;
    free(p);
    if (mt) {
        CHECK(mt->reserved[tag] >= bytes, "tag %s: unreserving more than reserved", mem_tag_name(tag));
        mt->reserved[tag] -= bytes;
    }
}

void *mem_alloc(MemTracker *mt, MemTag tag, size_t bytes) {
    void *p = mem_alloc_reserved(mt, tag, bytes);
    if (p) mem_track_use(mt, tag, bytes);
    return p;
}

void mem_free(MemTracker *mt, MemTag tag, void *p, size_t bytes) {
    if (!p) return;
    mem_track_unuse(mt, tag, bytes);
    mem_free_reserved(mt, tag, p, bytes);
}

const char *mem_format(size_t bytes, char *buf, size_t bufsize) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, bufsize, "%zu B", bytes);
    else
        snprintf(buf, bufsize, "%.1f %s", v, units[u]);
    return buf;
}
