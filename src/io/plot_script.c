/* plot_script.c — the gnuplot script behind `locus plot`: one PNG with four panels (training loss and test
 * accuracy per epoch for every run, training images/s per run, peak memory per module), drawn by gnuplot's
 * pngcairo terminal (works without a display).
 *
 * The script is self-contained: the numbers sit in it as datablocks ($name << EOD), so `gnuplot FILE.gp`
 * redraws the figure anywhere, and the user can edit titles or sizes by hand. Run i has line type i + 1 (its
 * colour) in every panel. Text goes out with `noenhanced` (no ^ _ @ markup) and single-quoted strings (only ' is special). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/fileutil.h"
#include "locus/runlog.h"

typedef struct Text {
    char *s;
    size_t n, cap;
    int oom;
} Text;

__attribute__((format(printf, 2, 3))) static void put(Text *t, const char *fmt, ...) {
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int need = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (need < 0) return;
        if (t->s && t->n + (size_t)need < t->cap) {
            t->n += (size_t)need;
            return;
        }
        size_t cap = (t->cap ? 2 * t->cap : 1 << 14) + (size_t)need;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->s = p, t->cap = cap;
    }
}

/* Appends s as a gnuplot single-quoted string: ' doubled, control characters replaced. */
static void put_quoted(Text *t, const char *s) {
    put(t, "'");
    for (; *s; s++) {
        if (*s == '\'') put(t, "''");
        else put(t, "%c", (unsigned char)*s < 0x20 ? '?' : *s);
    }
    put(t, "'");
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* The run's name in the figure: the shortest tail of its path (whole folder names) that no other run shares,
 * e.g. "e2e", or "a/e2e" beside "b/e2e". */
static const char *short_name(const RunLog *runs, int n, int i) {
    const char *name = runs[i].name, *tail = base_name(name);
    for (;;) {
        size_t len = strlen(tail);
        int unique = 1;
        for (int j = 0; j < n && unique; j++) {
            size_t lj = strlen(runs[j].name);
            unique = j == i || lj < len || strcmp(runs[j].name + lj - len, tail) ||
                     (lj > len && runs[j].name[lj - len - 1] != '/');
        }
        if (unique || tail == name) return tail;
        do tail--; while (tail > name && tail[-1] != '/');
    }
}

/* short_name cut to its last 22 characters, for the tics under the bars. */
static void put_tic_name(Text *t, const RunLog *runs, int n, int i) {
    const char *s = short_name(runs, n, i);
    size_t len = strlen(s);
    char cut[32];
    if (len > 22) snprintf(cut, sizeof cut, "...%s", s + len - 22), s = cut;
    put_quoted(t, s);
}

static void put_label(Text *t, const RunLog *runs, int n, int i) {
    char label[512];
    const RunLog *r = &runs[i];
    if (r->model[0] || r->method[0])
        snprintf(label, sizeof label, "%s (%s%s%s)", short_name(runs, n, i), r->model,
                 r->model[0] && r->method[0] ? ", " : "", r->method);
    else
        snprintf(label, sizeof label, "%s", short_name(runs, n, i));
    put_quoted(t, label);
}

static void put_data(Text *t, const RunLog *runs, int n) {
    for (int i = 0; i < n; i++) {
        put(t, "$epochs%d << EOD\n# epoch  train_loss  test_acc_percent   (%s)\n", i, runs[i].name);
        for (int e = 0; e < runs[i].n_epochs; e++)
            put(t, "%d %.6g %.4f\n", runs[i].epochs[e].epoch, runs[i].epochs[e].train_loss,
                100 * runs[i].epochs[e].test_acc);
        put(t, "EOD\n");
        put(t, "$mem%d << EOD\n# module  act_MiB  total_MiB  units\n", i);
        for (int b = 0; b < runs[i].n_blocks; b++)
            put(t, "%d %.3f %.3f\n", b, runs[i].blocks[b].act_bytes / 1048576.0,
                runs[i].blocks[b].total_bytes / 1048576.0);
        put(t, "EOD\n");
    }
    put(t, "$speed << EOD\n# run  images_per_s\n");
    for (int i = 0; i < n; i++) put(t, "%d %.2f\n", i, runs[i].img_per_s);
    put(t, "EOD\n\n");
}

/* An empty panel with a message in the middle (gnuplot refuses to plot a datablock with no points). */
static void put_empty_panel(Text *t, const char *msg) {
    put(t, "set xrange [0:1]\nset yrange [0:1]\nunset xtics\nunset ytics\nunset key\n");
    put(t, "set label 1 '%s' at graph 0.5, 0.5 center\nplot 2 notitle\nunset label 1\nset xtics\nset ytics\n", msg);
}

static void put_curves(Text *t, const RunLog *runs, int n, int column) {
    put(t, "plot ");
    for (int i = 0; i < n; i++) {
        put(t, "%s$epochs%d using 1:%d with linespoints lt %d dt %d title ", i ? ", \\\n     " : "", i, column,
            i + 1, 1 + i / 10);
        put_label(t, runs, n, i);
    }
    put(t, "\n");
}

static void put_script(Text *t, const char *script_path, const char *png_path, const RunLog *runs, int n) {
    int max_epoch = 1, min_epoch = 1 << 30, max_blocks = 0, have_speed = 0;
    for (int i = 0; i < n; i++) {
        if (runs[i].epochs[runs[i].n_epochs - 1].epoch > max_epoch) max_epoch = runs[i].epochs[runs[i].n_epochs - 1].epoch;
        if (runs[i].epochs[0].epoch < min_epoch) min_epoch = runs[i].epochs[0].epoch;
        if (runs[i].n_blocks > max_blocks) max_blocks = runs[i].n_blocks;
        have_speed |= runs[i].img_per_s > 0;
    }
    put(t, "# written by `locus plot` from %d run folder%s; redraw with: gnuplot %s\n", n, n == 1 ? "" : "s",
        script_path);
    put(t, "# needs gnuplot with the pngcairo terminal (Debian: apt-get install gnuplot-nox)\n");
    put(t, "set terminal pngcairo size 1400,1000 font 'sans,11' noenhanced\nset output ");
    put_quoted(t, png_path);
    put(t, "\n\n");
    put_data(t, runs, n);
    int same_data = runs[0].dataset[0] != 0;
    for (int i = 1; i < n; i++) same_data &= !strcmp(runs[i].dataset, runs[0].dataset);
    put(t, "set multiplot layout 2,2 title ");
    char title[200];
    snprintf(title, sizeof title, "locus: %d run%s%s%s", n, n == 1 ? "" : "s", same_data ? " on " : "",
             same_data ? runs[0].dataset : "");
    put_quoted(t, title);
    put(t, " font 'sans,14'\n");
    /* colours of matplotlib's tab10 (clear on white); runs past 10 repeat them dashed */
    static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    for (int i = 0; i < 10; i++) put(t, "set linetype %d lc rgb '%s' lw 2 pt 7 ps 0.8\n", i + 1, colours[i]);
    put(t, "set linetype cycle 10\n");
    put(t, "set grid\nset key box opaque samplen 2\nset xlabel 'epoch'\n");
    if (max_epoch - min_epoch <= 20) put(t, "set xtics 1\n");
    put(t, "set xrange [%g:%g]\nset offsets 0, 0, graph 0.05, graph 0.05\n\n", min_epoch - 0.25, max_epoch + 0.25);
    put(t, "set title 'Training loss per epoch'\nset ylabel 'training loss (mean over the epoch)'\n");
    /* one legend for all panels, centred between the two rows (up to 3 runs per line) */
    size_t longest = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(short_name(runs, n, i)) + strlen(runs[i].model) + strlen(runs[i].method) + 5;
        longest = len > longest ? len : longest;
    }
    int key_cols = longest < 40 ? 3 : longest < 60 ? 2 : 1, key_rows = (n + key_cols - 1) / key_cols;
    put(t, "set key at screen 0.5, screen 0.505 center bottom vertical maxrows %d width 2\nset bmargin %d\n",
        key_rows, 5 + key_rows);
    put_curves(t, runs, n, 2);
    put(t, "unset key\n");
    put(t, "\nset title 'Test accuracy per epoch'\nset ylabel 'test accuracy (%%)'\n");
    put_curves(t, runs, n, 3);

    put(t, "\nset title 'Training speed (images/s over the whole run)'\nset xlabel ''\nset ylabel 'images/s'\n");
    put(t, "set bmargin\nset offsets 0, 0, 0, 0\nset style fill solid 0.85 border -1\nset boxwidth 0.6\nunset key\n");
    if (!have_speed) {
        put_empty_panel(t, "no images/s logged");
    } else {
        double top = 0;
        for (int i = 0; i < n; i++) top = runs[i].img_per_s > top ? runs[i].img_per_s : top;
        put(t, "set xrange [-0.6:%g]\nset yrange [0:%g]\nset xtics (", n - 0.4, top * 1.15); /* room for labels */
        for (int i = 0; i < n; i++) {
            put(t, "%s", i ? ", " : "");
            put_tic_name(t, runs, n, i);
            put(t, " %d", i);
        }
        put(t, ")%s\n", n > 4 ? " rotate by -25" : "");
        put(t, "plot $speed using 1:2:($1+1) with boxes lc variable lw 1 notitle, \\\n"
               "     $speed using 1:2:(sprintf('%%.0f', $2)) with labels offset 0,0.8 notitle\n");
        put(t, "set xtics norotate\n");
    }

    put(t, "\nset title 'Peak memory per module (solid: activations ACT, faded: all tags)'\n");
    put(t, "set xlabel 'module (trained in this order; end to end = one module)'\nset ylabel 'MiB'\n");
    if (!max_blocks) {
        put_empty_panel(t, "no summary.json yet (runs not finished)");
    } else {
        double w = 0.8 / n;
        put(t, "set xrange [-0.5:%g]\nset yrange [0:*]\nset xtics 1\nset boxwidth %g absolute\nunset key\n",
            max_blocks - 0.5, w * 0.95);
        put(t, "plot ");
        int first = 1;
        for (int i = 0; i < n; i++) {
            if (!runs[i].n_blocks) continue;
            double off = (i - (n - 1) / 2.0) * w;
            put(t, "%s$mem%d using ($1%+g):3 with boxes fs transparent solid 0.3 border -1 lc %d lw 1 notitle, \\\n"
                   "     $mem%d using ($1%+g):2 with boxes fs solid 0.85 border -1 lc %d lw 1 notitle",
                first ? "" : ", \\\n     ", i, off, i + 1, i, off, i + 1);
            first = 0;
        }
        put(t, "\n");
    }
    put(t, "unset multiplot\n");
}

Status plot_write_gnuplot(const char *script_path, const char *png_path, const RunLog *runs, int n, ErrorMsg *err) {
    if (n < 1) return status_fail(err, LOCUS_ERR_ARG, "nothing to plot\nhint: pass at least one run folder");
    Text t = {0};
    put_script(&t, script_path, png_path, runs, n);
    if (t.oom) {
        free(t.s);
        return status_fail(err, LOCUS_ERR_OOM, "out of memory writing %s\nhint: plot fewer runs", script_path);
    }
    Status st = file_write_atomic(script_path, t.s, t.n, err);
    free(t.s);
    return st;
}
