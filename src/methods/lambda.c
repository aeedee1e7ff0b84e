/* lambda.c — see lambda.h. */
#include "methods/lambda.h"

#include <string.h>

int lambda_convention_parse(const char *name, LambdaConvention *out) {
    if (!strcmp(name, "infopro")) *out = LAMBDA_INFOPRO;
    else if (!strcmp(name, "hpff")) *out = LAMBDA_HPFF;
    else if (!strcmp(name, "man")) *out = LAMBDA_MAN;
    else return -1;
    return 0;
}

double lambda_position(LambdaConvention c, int m, int n, int nominal_k, int next_stage) {
    int k = (c != LAMBDA_INFOPRO && nominal_k > 0) ? nominal_k : n;
    if (k <= 2) return 0.0;
    double pos = c == LAMBDA_MAN ? next_stage : m;
    double r = pos / (double)(k - 2);
    return r > 1.0 ? 1.0 : r; /* MAN at K < 5: stage 3 / (K-2) > 1 would make lambda1 negative */
}

void lambda_weights(const double lam[4], double r, float *lam_rec, float *lam_y) {
    *lam_rec = (float)(lam[0] * (1.0 - r) + lam[1] * r);
    *lam_y = (float)(lam[2] * (1.0 - r) + lam[3] * r);
}
