/* lambda.h — where a local module sits on the loss-weight schedule, in the three conventions of the
 * papers' code (spec local-learning.md §1.4, §2.3, §3.3). Weights are linear in r:
 *   lambda1 = ixx1*(1-r) + ixx2*r (reconstruction),  lambda2 = ixy1*(1-r) + ixy2*r (label term)
 *   infopro: r = m/(K-2) for module m = 0..K-2 of K modules (r = 0 when K = 2)
 *   hpff:    r = m/(K-2) with K the nominal module count (--k), which can exceed the modules built
 *            (R-32 "K=16" has 15 segments)
 *   man:     r = stage/(K-2), stage = the stage (1..3) of the first block of the NEXT module (a quirk of
 *            the MAN code: modules in one stage share a weight); r is clamped to 1, which binds only for
 *            MAN at K < 5 (the authors ran K >= 8), where stage/(K-2) > 1 would turn lambda1 negative */
#ifndef LOCUS_METHODS_LAMBDA_H
#define LOCUS_METHODS_LAMBDA_H

typedef enum LambdaConvention { LAMBDA_INFOPRO = 0, LAMBDA_HPFF, LAMBDA_MAN } LambdaConvention;

/* 0 and sets *out for "infopro" | "hpff" | "man"; -1 otherwise. */
int lambda_convention_parse(const char *name, LambdaConvention *out);
/* r for module m of n modules; nominal_k: --k (0: n); next_stage: stage of the next module's first unit. */
double lambda_position(LambdaConvention c, int m, int n, int nominal_k, int next_stage);
/* lam = {ixx1, ixx2, ixy1, ixy2} */
void lambda_weights(const double lam[4], double r, float *lam_rec, float *lam_y);

#endif
