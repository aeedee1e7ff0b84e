/* tensor.h — the float32 tensor every layer reads and writes.
 *
 * Dimension letters, used in every shape comment of the code base:
 *   N batch, C channels, H height, W width (images are NCHW, row-major: W varies fastest),
 *   T tokens, D model width (token tensors are N x T x D), K classes.
 * A Tensor does not own its memory: data and grad point into an arena, the grad pool, a parameter
 * slab or a caller's buffer. grad is NULL until backward needs it; requires_grad == 0 means
 * "do not propagate into this tensor" (data inputs, detached block outputs). */
#ifndef LOCUS_TENSOR_H
#define LOCUS_TENSOR_H

#include <stddef.h>

#define TENSOR_MAX_DIMS 5

typedef struct Shape {
    int ndim;
    int d[TENSOR_MAX_DIMS];
} Shape;

typedef struct Tensor {
    Shape shape;
    float *data;       /* numel floats, or NULL while only planning memory */
    float *grad;       /* numel floats of dLoss/dTensor, or NULL */
    int requires_grad; /* 1: backward accumulates into grad */
    /* engine bookkeeping (tape.c): whether a pool block holds this tensor's gradient, and where;
     * kept separately from `grad` because in plan mode no memory (and so no pointer) exists. */
    int grad_held;
    size_t grad_offset;
    /* 1: the tape handed `grad` out uninitialised and no backward has written it yet. A layer whose ops
     * set grad_overwrite then writes (=) every element instead of accumulating (layer_grad_overwrite);
     * for any other layer the tape zeroes it first. Saves a memset and a read of every activation
     * gradient. */
    int grad_fresh;
} Tensor;

static inline size_t shape_numel(const Shape *s) {
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= (size_t)s->d[i];
    return n;
}
static inline size_t tensor_numel(const Tensor *t) { return shape_numel(&t->shape); }
static inline size_t tensor_bytes(const Tensor *t) { return tensor_numel(t) * sizeof(float); }

static inline Shape shape1(int a) { Shape s = {1, {a, 0, 0, 0, 0}}; return s; }
static inline Shape shape2(int a, int b) { Shape s = {2, {a, b, 0, 0, 0}}; return s; }
static inline Shape shape3(int a, int b, int c) { Shape s = {3, {a, b, c, 0, 0}}; return s; }
static inline Shape shape4(int a, int b, int c, int d) { Shape s = {4, {a, b, c, d, 0}}; return s; }

int shape_equal(const Shape *a, const Shape *b);
/* "[128, 16, 32, 32]" into buf; returns buf. */
const char *shape_format(const Shape *s, char *buf, size_t bufsize);

#endif
