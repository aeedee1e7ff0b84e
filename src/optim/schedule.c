/* schedule.c — learning-rate schedules (see optim.h). LR_WARMUP_COSINE is the papers' formula as coded
 * (spec local-learning.md §0.3), 1-based epochs:
 *   e <= 10: lr = 0.5*lr0*(1+cos(pi*e/E))*(e-1)/10 + 0.01*(11-e)/10
 *   e >  10: lr = 0.5*lr0*(1+cos(pi*e/E)) */
#include <math.h>

#include "locus/optim.h"

float lr_at(const LrSchedule *s, int epoch, int step_in_epoch) {
    const double pi = 3.14159265358979323846;
    double e = epoch, E = s->epochs > 0 ? s->epochs : 1;
    switch (s->kind) {
    case LR_CONSTANT: return s->lr0;
    case LR_STEP: return s->lr0 * powf(s->gamma, (float)((epoch - 1) / (s->step_epochs > 0 ? s->step_epochs : 1)));
    case LR_WARMUP_COSINE: {
        double c = 0.5 * s->lr0 * (1.0 + cos(pi * e / E));
        if (epoch <= 10) return (float)(c * (e - 1) / 10.0 + 0.01 * (11 - e) / 10.0);
        return (float)c;
    }
    case LR_COSINE: {
        double step = (double)(epoch - 1) * s->steps_per_epoch + step_in_epoch;
        double total = E * s->steps_per_epoch;
        if (step < s->warmup_steps) return (float)(s->lr0 * (step + 1) / s->warmup_steps);
        double span = total - s->warmup_steps;
        double frac = span > 0 ? (step - s->warmup_steps) / span : 0.0;
        return (float)(s->lr0 * 0.5 * (1.0 + cos(pi * frac)));
    }
    }
    return s->lr0;
}
