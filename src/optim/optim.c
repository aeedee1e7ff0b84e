/* optim.c — SGD (momentum, Nesterov, weight decay) and AdamW with PyTorch semantics (see optim.h).
 *
 * SGD (torch.optim.SGD, dampening 0):   g = grad + wd*p;  b = mu*b + g (b = g at the first step, which
 *   equals mu*0 + g since b starts at zero);  g = nesterov ? g + mu*b : b;  p -= lr*g.
 * AdamW (torch.optim.AdamW):  p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). */
#include <math.h>
#include <stddef.h>

#include "locus/optim.h"

size_t optim_state_bytes(OptimKind kind, size_t numel_trainable) {
    return (kind == OPTIM_ADAMW ? 2 : 1) * numel_trainable * sizeof(float);
}

Status optim_init(Optimizer *o, const OptimConfig *cfg, ParamStore *ps, int threads, ErrorMsg *err) {
    CHECK(ps->finalized, "optimizer on an unfinalized parameter store");
    o->cfg = *cfg;
    o->ps = ps;
    o->t = 0;
    o->threads = threads > 0 ? threads : 1;
    size_t n = ps->numel_trainable * sizeof(float);
    o->m = mem_alloc(ps->mt, MEM_TAG_OPTIM, n);
    o->v = cfg->kind == OPTIM_ADAMW ? mem_alloc(ps->mt, MEM_TAG_OPTIM, n) : NULL;
    if (!o->m || (cfg->kind == OPTIM_ADAMW && !o->v))
        return status_fail(err, LOCUS_ERR_OOM, "cannot allocate optimizer state (%zu bytes)", n);
    return LOCUS_OK;
}

void optim_free(Optimizer *o) {
    size_t n = o->ps ? o->ps->numel_trainable * sizeof(float) : 0;
    if (o->m) mem_free(o->ps->mt, MEM_TAG_OPTIM, o->m, n);
    if (o->v) mem_free(o->ps->mt, MEM_TAG_OPTIM, o->v, n);
    o->m = o->v = NULL;
}

int optim_state_count(const Optimizer *o) { return o->cfg.kind == OPTIM_ADAMW ? 2 : 1; }
float *optim_state(const Optimizer *o, int i) { return i == 0 ? o->m : o->v; }

static void sgd_update(float *p, const float *g, float *b, ptrdiff_t n, float lr, const OptimConfig *c, int threads) {
    const float mu = c->momentum, wd = c->weight_decay;
#pragma omp parallel for schedule(static) num_threads(threads) if (n > 32768)
    for (ptrdiff_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        if (mu != 0.0f) {
            b[i] = mu * b[i] + gi;
            gi = c->nesterov ? gi + mu * b[i] : b[i];
        }
        p[i] -= lr * gi;
    }
}

static void adamw_update(float *p, const float *g, float *m, float *v, ptrdiff_t n, float lr, float bc1, float bc2,
                         const OptimConfig *c, int threads) {
    const float b1 = c->beta1, b2 = c->beta2, decay = 1.0f - lr * c->weight_decay;
    const float sbc2 = sqrtf(bc2);
#pragma omp parallel for schedule(static) num_threads(threads) if (n > 32768)
    for (ptrdiff_t i = 0; i < n; i++) {
        p[i] *= decay;
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / bc1) / (sqrtf(v[i]) / sbc2 + c->eps);
    }
}

void optim_step(Optimizer *o, float lr) {
    ParamStore *ps = o->ps;
    o->t++;
    float bc1 = 1.0f - (float)pow(o->cfg.beta1, (double)o->t);
    float bc2 = 1.0f - (float)pow(o->cfg.beta2, (double)o->t);
    for (int h = 0; h < ps->count; h++) {
        const ParamInfo *pi = &ps->info[h];
        if (pi->kind != PARAM_TRAINABLE) continue;
        float *p = params_value(ps, h), *g = params_grad(ps, h);
        ptrdiff_t n = (ptrdiff_t)pi->numel;
        if (o->cfg.kind == OPTIM_SGD)
            sgd_update(p, g, o->m + pi->grad_offset, n, lr, &o->cfg, o->threads);
        else
            adamw_update(p, g, o->m + pi->grad_offset, o->v + pi->grad_offset, n, lr, bc1, bc2, &o->cfg,
                         o->threads);
    }
}
