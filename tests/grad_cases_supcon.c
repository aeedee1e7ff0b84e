/* grad_cases_supcon.c — gradient checks for the supervised contrastive loss (src/layers/supcon.c).
 * Labels are a fixed, non-differentiated input. The cases cover repeated classes, a class with a
 * single sample (an anchor without positives: contributes 0 but counts in N), tau = base tau (InfoPro)
 * and tau != base tau (the loss scale tau / base tau). Features are N(0, 1), so no norm is near the
 * 1e-12 clamp and the +/- eps probes stay on the smooth part. With tau = 0.07 the loss is strongly
 * curved, so eps is smaller than the harness default. */
#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/loss.h"

static Tensor *one_layer(void *user, Tape *t, Tensor *const *in, int n_in) {
    return tape_call(t, (const Layer *)user, in, n_in);
}

static int check(const char *name, float tau, float base_tau, int N, int D, const float *labels, uint64_t seed) {
    SupCon l;
    supcon_init(&l, name, tau, base_tau);
    return gradcheck_run(&(GradcheckCase){.name = name, .fn = one_layer, .user = &l, .n_in = 2,
                                          .in_shape = {shape2(N, D), shape1(N)}, .in_no_grad = {0, 1},
                                          .in_data = {NULL, labels}, .eps = 2e-3, .max_checks = 64, .seed = seed});
}

int grad_cases_supcon(void) {
    static const float labels6[6] = {0, 1, 0, 2, 1, 0};          /* class 2 has no positive */
    static const float labels8[8] = {3, 3, 1, 1, 1, 7, 3, 1};      /* class 7 has no positive */
    static const float labels4[4] = {0, 1, 1, 0};
    int bad = 0;
    bad += check("supcon N6 D5 tau0.07", 0.07f, 0.07f, 6, 5, labels6, 101);
    bad += check("supcon N8 D3 tau0.07", 0.07f, 0.07f, 8, 3, labels8, 102);
    bad += check("supcon N4 D2 tau0.5 base0.07", 0.5f, 0.07f, 4, 2, labels4, 103);
    return bad;
}
