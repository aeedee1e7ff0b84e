/* pff.c — patch feature fusion's quadrants and reconstruction loss (see pff.h). */
#include "methods/pff.h"

#include "methods/common.h"

void pff_quadrants(Crop2d q[4], const char *name, int h, int w) {
    for (int i = 0; i < 4; i++) {
        int top = i / 2, left = i % 2;
        crop2d_init(&q[i], name, top ? h / 2 : 0, left ? w / 2 : 0, top ? h - h / 2 : h / 2, left ? w - w / 2 : w / 2);
    }
}

Status pff_losses(Tape *t, const Layer *bce, AuxHead *const *qdec, const Crop2d *qcrop, const Crop2d *img_crop,
                  Tensor *h, Tensor *img01, float lam, int sequential, Tensor **loss, float *scale, int *nl,
                  ErrorMsg *err) {
    for (int q = 0; q < 4; q++) {
        TapeMark mq = tape_mark(t);
        Tensor *rec = aux_head_forward(qdec[q], t, tape_call1(t, &qcrop[q].base, h));
        Tensor *l = tape_call2(t, bce, rec, tape_call1(t, &img_crop[q].base, img01));
        Status status = method_check_loss(t, l, mq, err);
        if (status) return status;
        if (!sequential) {
            loss[*nl] = l, scale[(*nl)++] = lam;
            continue;
        }
        if ((status = tape_backward(t, &l, &lam, 1, mq))) return status_fail(err, status, "%s", t->err.text);
        tape_release(t, mq);
    }
    return LOCUS_OK;
}

