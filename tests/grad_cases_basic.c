/* grad_cases_basic.c — gradient checks for ReLU and crop2d.
 * Whole CIFAR ResNets are not checked here by finite differences: float32 central differences across the
 * thousands of ReLU kinks of a ResNet do not converge (measured on resnet8 in training mode: bn1.bias numeric
 * -0.178 / -0.174 / -0.169 at eps 1e-3 / 3e-4 / 1e-4 against an analytic -0.154 that PyTorch confirms; in
 * eval mode with BN set to keep ReLU inputs positive the loss grows so large that float32 rounding swamps the
 * differences). Whole-model gradients are checked against PyTorch in test_golden.c (resnet8 and vit-micro,
 * rel. error < 1e-6), the residual block by finite differences in grad_cases_core.c, the whole vit-micro by
 * finite differences in grad_cases_vit.c. */
#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/activation.h"
#include "layers/crop.h"

static Tensor *one_layer(void *user, Tape *t, Tensor *const *in, int n_in) {
    return tape_call(t, (const Layer *)user, in, n_in);
}

int grad_cases_basic(void) {
    int bad = 0;
    Relu relu;
    relu_init(&relu, "relu");
    bad += gradcheck_run(&(GradcheckCase){
        .name = "relu", .fn = one_layer, .user = &relu, .n_in = 1, .in_shape = {shape4(2, 3, 4, 5)}, .seed = 1});
    Crop2d crop;
    crop2d_init(&crop, "crop", 1, 2, 3, 2);
    bad += gradcheck_run(&(GradcheckCase){
        .name = "crop2d", .fn = one_layer, .user = &crop, .n_in = 1, .in_shape = {shape4(2, 3, 5, 6)}, .seed = 2});
    return bad;
}
