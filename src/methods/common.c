/* common.c — see common.h. */
#include "methods/common.h"

#include <math.h>
#include <string.h>

Status method_check_loss(Tape *t, const Tensor *loss, TapeMark m, ErrorMsg *err) {
    if (!tape_ok(t)) return status_fail(err, t->status, "%s", t->err.text);
    if (!loss->data || isfinite(loss->data[0])) return LOCUS_OK;
    const TapeRecord *r = tape_first_nonfinite(t, m);
    return status_fail(err, LOCUS_ERR_NUMERIC,
                       "the loss is not finite (%g); the first layer with a non-finite output is %s (%s)\n"
                       "hint: lower --lr, or check the input data",
                       (double)loss->data[0], r ? r->layer->name : "(none: the loss itself)",
                       r ? r->layer->ops->type : "-");
}

Status method_head_backward(Tape *t, const AuxHead *head, const Layer *loss, Tensor *h, Tensor *target, float scale,
                            ErrorMsg *err) {
    TapeMark m = tape_mark(t);
    Tensor *l = tape_call2(t, loss, head ? aux_head_forward(head, t, h) : h, target);
    Status st = method_check_loss(t, l, m, err);
    if (!st && (st = tape_backward(t, &l, &scale, 1, m))) st = status_fail(err, st, "%s", t->err.text);
    tape_release(t, m);
    return st;
}

int method_count_correct(const Tensor *logits, const Tensor *labels) {
    if (!logits->data) return 0;
    int n = logits->shape.d[0], k = logits->shape.d[1], correct = 0;
    for (int i = 0; i < n; i++) {
        const float *row = logits->data + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (row[j] > row[best]) best = j;
        correct += best == (int)labels->data[i];
    }
    return correct;
}

void method_fill_result(const Tensor *loss, const Tensor *logits, const Tensor *labels, StepResult *r) {
    memset(r, 0, sizeof *r);
    if (!loss->data) return;
    r->loss = loss->data[0];
    r->correct = method_count_correct(logits, labels);
}

Tensor *method_image01(Tape *t, const Tensor *x, const float *mean, const float *std) {
    Tensor *img = tape_tensor(t, x->shape, 0);
    if (!img || !img->data) return img;
    int n = x->shape.d[0], c = x->shape.d[1];
    size_t plane = (size_t)x->shape.d[2] * x->shape.d[3];
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const float *src = x->data + ((size_t)i * c + ch) * plane;
            float *dst = img->data + ((size_t)i * c + ch) * plane;
            for (size_t q = 0; q < plane; q++) dst[q] = src[q] * std[ch] + mean[ch];
        }
    return img;
}
