/* progress.c — see progress.h. */
#include "train/progress.h"

#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(Progress *p, const char *mode, FILE *f) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->t_start = p->t_last = progress_now();
    p->last_decile = -1;
    if (!strcmp(mode, "none"))
        p->mode = 0;
    else if (!strcmp(mode, "line"))
        p->mode = 1;
    else
        p->mode = isatty(fileno(f)) ? 2 : 1;
}

static void format_eta(double s, char *buf, size_t n) {
    if (s < 0 || s > 1e7) s = 0;
    int h = (int)(s / 3600), m = (int)(s / 60) % 60, sec = (int)s % 60;
    if (h)
        snprintf(buf, n, "%dh%02dm", h, m);
    else
        snprintf(buf, n, "%dm%02ds", m, sec);
}

void progress_step(Progress *p, int epoch, int epochs, int step, int steps, double loss, double acc,
                   double img_per_s, long long done_steps, long long total_steps) {
    if (!p->mode) return;
    double now = progress_now();
    int decile = (int)(10.0 * step / (steps ? steps : 1));
    if (p->mode == 2 && now - p->t_last < 0.1 && step != steps) return;
    if (p->mode == 1 && decile == p->last_decile && now - p->t_last < 15 && step != steps) return;
    p->t_last = now;
    p->last_decile = decile;
    double elapsed = now - p->t_start;
    double eta = done_steps > 0 ? elapsed * (double)(total_steps - done_steps) / (double)done_steps : 0;
    char eta_s[32];
    format_eta(eta, eta_s, sizeof eta_s);
    char line[256];
    snprintf(line, sizeof line, "epoch %d/%d  step %d/%d  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s", epoch,
             epochs, step, steps, loss, 100.0 * acc, img_per_s, eta_s);
    if (p->mode == 2) {
        struct winsize ws;
        int width = ioctl(fileno(p->f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col - 1 : 120;
        if ((int)strlen(line) > width) line[width] = 0;
        fprintf(p->f, "\r\033[2K%s", line);
    } else {
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
}

void progress_break(Progress *p) {
    if (p->mode == 2) fprintf(p->f, "\n");
}
