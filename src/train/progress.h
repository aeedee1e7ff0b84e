/* progress.h — the training progress display on stderr.
 * On a terminal ("auto"), one line redrawn at most 10 times a second; otherwise ("line", or auto when
 * stderr is not a terminal: CI, pipes), a plain line every 10% of an epoch or every 15 s. */
#ifndef LOCUS_TRAIN_PROGRESS_H
#define LOCUS_TRAIN_PROGRESS_H

#include <stdio.h>

typedef struct Progress {
    int mode;          /* 0 none, 1 line, 2 redraw */
    double t_start;    /* run start (for ETA) */
    double t_last;     /* last print */
    int last_decile;
    FILE *f;
} Progress;

void progress_init(Progress *p, const char *mode, FILE *f);
/* Called after each step. done_steps/total_steps count over the whole run, for the ETA. */
void progress_step(Progress *p, int epoch, int epochs, int step, int steps, double loss, double acc,
                   double img_per_s, long long done_steps, long long total_steps);
/* Ends the current line (before printing anything else). */
void progress_break(Progress *p);
double progress_now(void);

#endif
