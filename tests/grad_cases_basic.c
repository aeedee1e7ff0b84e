/* grad_cases_basic.c — gradient checks for the elementwise layers. */
#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/activation.h"

static Tensor *one_layer(void *user, Tape *t, Tensor *const *in, int n_in) {
    return tape_call(t, (const Layer *)user, in, n_in);
}

int grad_cases_basic(void) {
    int bad = 0;
    Relu relu;
    relu_init(&relu, "relu");
    bad += gradcheck_run(&(GradcheckCase){
        .name = "relu", .fn = one_layer, .user = &relu, .n_in = 1, .in_shape = {shape4(2, 3, 4, 5)}, .seed = 1});
    return bad;
}
