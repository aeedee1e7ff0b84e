/* cmd_plot.c — `locus plot RUN_DIR [RUN_DIR...] --out FILE.png`: one figure comparing runs (training loss and
 * test accuracy per epoch, images/s, peak memory per module). The library reads the runs and writes a
 * self-contained gnuplot script next to the PNG (FILE.gp, src/io/plot_script.c); this command runs gnuplot on
 * it. Without gnuplot the script stays there and the error says how to install gnuplot and redraw. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "locus/runlog.h"

#define PLOT_MAX_RUNS 16

/* 1 when an executable called name is on $PATH. */
static int on_path(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        char full[4200];
        snprintf(dir, sizeof dir, "%.*s", (int)n, path);
        snprintf(full, sizeof full, "%s/%s", n ? dir : ".", name);
        if (access(full, X_OK) == 0) return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* Runs `gnuplot script`; its own messages go to our stderr. */
static Status run_gnuplot(const char *script, ErrorMsg *err) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot start gnuplot: %s\nhint: run it yourself: gnuplot %s",
                           strerror(errno), script);
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) return status_fail(err, LOCUS_ERR_IO, "waiting for gnuplot: %s\nhint: -", strerror(errno));
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        return status_fail(err, LOCUS_ERR_IO, "gnuplot failed (%s %d) on %s; its messages are above\nhint: the "
                           "script needs the pngcairo terminal (Debian's gnuplot-nox has it); try: gnuplot %s",
                           WIFEXITED(ws) ? "exit code" : "signal", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws),
                           script, script);
    return LOCUS_OK;
}

static void print_usage(FILE *f) {
    fprintf(f, "usage: locus plot RUN_DIR [RUN_DIR...] --out FILE.png\n\n"
               "Draws one PNG comparing up to %d runs of `locus train`: training loss and test accuracy per epoch\n"
               "(RUN_DIR/metrics.jsonl), training images/s, and the peak memory of each module (summary.json's\n"
               "mem_peak_per_block; activations solid, all tags faded). Also writes FILE.gp, a gnuplot script\n"
               "holding the data: edit it and redraw with `gnuplot FILE.gp`. Needs gnuplot with the pngcairo\n"
               "terminal (Debian: apt-get install gnuplot-nox); no display needed.\n",
            PLOT_MAX_RUNS);
}

int cmd_plot(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        print_usage(stdout);
        return 0;
    }
    const char *out = cli_take_option(&argc, argv, "--out", 1);
    ErrorMsg err = {{0}};
    Status st = LOCUS_OK;
    if (!out || !*out)
        st = status_fail(&err, LOCUS_ERR_ARG, "no output file\nhint: pass --out FILE.png");
    else if (argc < 2)
        st = status_fail(&err, LOCUS_ERR_ARG, "no run folder given\nhint: locus plot runs/a runs/b --out cmp.png");
    else if (argc - 1 > PLOT_MAX_RUNS)
        st = status_fail(&err, LOCUS_ERR_ARG, "%d run folders; at most %d fit in one figure\nhint: plot fewer runs",
                         argc - 1, PLOT_MAX_RUNS);
    for (int i = 1; !st && i < argc; i++)
        if (argv[i][0] == '-')
            st = status_fail(&err, LOCUS_ERR_ARG, "unknown option '%s'\nhint: see locus plot --help", argv[i]);
    if (st) return cli_fail("plot", st, &err);

    char script[1100];
    size_t len = strlen(out);
    if (len > 4 && !strcmp(out + len - 4, ".png"))
        snprintf(script, sizeof script, "%.*s.gp", (int)(len - 4), out);
    else
        snprintf(script, sizeof script, "%s.gp", out);
    RunLog runs[PLOT_MAX_RUNS];
    int n = 0;
    for (int i = 1; !st && i < argc; i++) {
        st = runlog_read(&runs[n], argv[i], &err);
        n++;
    }
    if (!st) st = plot_write_gnuplot(script, out, runs, n, &err);
    for (int i = 0; i < n; i++) runlog_free(&runs[i]);
    if (st) return cli_fail("plot", st, &err);
    if (!on_path("gnuplot")) {
        status_fail(&err, LOCUS_ERR_IO, "gnuplot is not installed (not on PATH); the plot script is ready in %s\n"
                    "hint: apt-get install gnuplot-nox, then run: gnuplot %s   (or run this command again)", script,
                    script);
        return cli_fail("plot", LOCUS_ERR_IO, &err);
    }
    if (unlink(out) != 0 && errno != ENOENT) { /* a failed gnuplot must not leave an old figure behind */
        status_fail(&err, LOCUS_ERR_IO, "cannot replace %s: %s\nhint: check permissions", out, strerror(errno));
        return cli_fail("plot", LOCUS_ERR_IO, &err);
    }
    if ((st = run_gnuplot(script, &err))) return cli_fail("plot", st, &err);
    struct stat sb;
    if (stat(out, &sb) != 0 || sb.st_size == 0) {
        status_fail(&err, LOCUS_ERR_IO, "gnuplot ran but wrote no %s\nhint: check the folder is writable, and try: "
                    "gnuplot %s", out, script);
        return cli_fail("plot", LOCUS_ERR_IO, &err);
    }
    printf("wrote %s (%d run%s; gnuplot script with the data: %s)\n", out, n, n == 1 ? "" : "s", script);
    return 0;
}
