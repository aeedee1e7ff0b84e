/* profile.h — per-layer wall time of forward and backward calls, collected by the tape.
 *
 * Attach a Profile to a tape (tape->profile = &p) and every layer call the tape runs is timed: forward in
 * tape_call, backward in the replay, plus the time the tape spends zeroing activation gradients for layers
 * that cannot overwrite them. Entries are keyed by the Layer pointer (one per layer instance) in a table
 * sized once by profile_init, so timing a step allocates nothing. `enabled` = 0 pauses collection (the
 * benchmark's warm-up steps). The wall time of a layer includes its OpenMP parallel region, so with T
 * threads it is the time the step waits for that layer.
 * The first timed call of a layer records its shapes, from which a caller derives FLOPs. */
#ifndef LOCUS_PROFILE_H
#define LOCUS_PROFILE_H

#include "locus/layer.h"
#include "locus/status.h"

typedef struct ProfileEntry {
    const Layer *layer;   /* NULL: empty slot */
    Shape in_shape;       /* in[0] of the first timed forward */
    Shape out_shape;
    int in_grad;          /* the first timed backward propagated into in[0] (in[0]->grad != NULL) */
    long fwd_calls, bwd_calls;
    double fwd_s, bwd_s;
    int order;            /* first-seen order (forward order of the network) */
} ProfileEntry;

typedef struct Profile {
    ProfileEntry *slots;  /* open addressing on the layer pointer; cap is a power of two */
    int cap, n;
    int enabled;
    int dropped;          /* calls not recorded because the table was full */
    double grad_zero_s;   /* the tape zeroing activation gradients before a backward that accumulates */
} Profile;

/* A table for at least `layers` distinct layers. LOCUS_ERR_OOM when it cannot be allocated. */
Status profile_init(Profile *p, int layers, ErrorMsg *err);
void profile_free(Profile *p);
/* Forgets every time and count (keeps the table). */
void profile_reset(Profile *p);

/* Monotonic seconds. */
double profile_now(void);
void profile_add_forward(Profile *p, const Layer *l, Tensor *const *in, const Tensor *out, double seconds);
void profile_add_backward(Profile *p, const Layer *l, Tensor *const *in, double seconds);

/* The entries in first-seen order into out (at most max); returns how many. */
int profile_entries(const Profile *p, const ProfileEntry **out, int max);

#endif
