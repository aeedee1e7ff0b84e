/* test_dist.c — distributed training under mpirun (issue 7), through the CLI on loopback:
 *  - pipeline on 1, 2 and 4 ranks == single-process local training: identical loss curves and
 *    bit-identical checkpoints (DGL on ResNet-8; InfoPro on ResNet-20 K=4 over 4 ranks, whose decoders
 *    need the image forwarded); summary.json's ranks list; planned == measured memory on every rank
 *  - data parallel over 2 ranks == single process at the same global batch on the ViT (no BatchNorm),
 *    within float summation tolerance; ResNet (BN per shard) runs; ResNet with --dist-sync-bn == single
 *  - 2 stages x 2 replicas (--dist-replicas 2, 4 ranks) == the 2-stage pipeline at the same global batch with
 *    synchronised BatchNorm (loss curves, checkpoints within float summation tolerance), and clearly not
 *    without it; summary.json names each rank's stage and replica; stopped and resumed on the same layout it
 *    ends bit-identical to the uninterrupted run; a rank count not divisible by the replicas is refused
 *  - a run stopped on 2 ranks resumes on 1 rank and ends where the uninterrupted run ends
 *  - a rank killed with SIGKILL ends the job (no hang) with a message on the other rank, and the last
 *    checkpoint is intact and resumable
 *  - mpirun without --dist, bad --dist-map, e2e pipelined: clear errors
 * Skipped (77) when mpirun is missing, locus was built without MPI, or Fashion-MNIST is absent. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "locus/fileutil.h"
#include "locus/safetensors.h"
#include "cli_capture.h"
#include "expect.h"

static const char *bin;
static char tmp[256];
static char out_text[1 << 17];

#define MPIRUN "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 " \
               "timeout 120 mpirun --oversubscribe --bind-to none -np"
#define TINY "--limit-train 200 --limit-test 128 --batch 64 --progress none --threads 1 --epochs 2 --overwrite"

/* Runs a shell command line, captures stdout+stderr into out_text, returns the exit code. */
static int sh(const char *fmt, const char *a, const char *b) {
    char cmd[4096], line[3000], log[400];
    snprintf(line, sizeof line, fmt, a, b);
    snprintf(log, sizeof log, "%s/out.txt", tmp);
    snprintf(cmd, sizeof cmd, "%s > %s 2>&1", line, log);
    return cli_system_capture(cmd, log, out_text, sizeof out_text);
}

static int single(const char *name, const char *args) {
    char fmt[3000];
    snprintf(fmt, sizeof fmt, "OMP_WAIT_POLICY=passive %s train --out %s --name %%s %s %%s", bin, tmp, TINY);
    return sh(fmt, name, args);
}

static int mpi(int np, const char *name, const char *args) {
    char fmt[3000];
    snprintf(fmt, sizeof fmt, MPIRUN " %d %s train --out %s --name %%s %s %%s", np, bin, tmp, TINY);
    return sh(fmt, name, args);
}

/* Largest |a - b| / (1 + |a|) over every tensor of two runs' checkpoints; -1 when they do not match up. */
static double checkpoint_diff(const char *run_a, const char *run_b) {
    char pa[400], pb[400];
    snprintf(pa, sizeof pa, "%s/%s/checkpoint.safetensors", tmp, run_a);
    snprintf(pb, sizeof pb, "%s/%s/checkpoint.safetensors", tmp, run_b);
    StFile a, b;
    ErrorMsg err;
    if (safetensors_open(&a, pa, &err)) return printf("  %s\n", err.text), -1;
    if (safetensors_open(&b, pb, &err)) return safetensors_close(&a), printf("  %s\n", err.text), -1;
    double worst = a.count == b.count && a.count > 0 ? 0 : -1;
    for (int i = 0; worst >= 0 && i < a.count; i++) {
        const StTensor *ta = &a.tensors[i], *tb = safetensors_find(&b, ta->name);
        if (!tb || tb->numel != ta->numel || !ta->data || !tb->data) {
            worst = -1;
            break;
        }
        for (size_t j = 0; j < ta->numel; j++) {
            double d = fabs((double)ta->data[j] - tb->data[j]) / (1 + fabs((double)ta->data[j]));
            if (!(d <= worst)) worst = isnan(d) ? 1e30 : d;
        }
    }
    safetensors_close(&a);
    safetensors_close(&b);
    return worst;
}

/* metrics.jsonl train_loss of each epoch, as one string ("2.361369 2.228104 "). */
static void loss_curve(const char *run, char *buf, size_t n) {
    char path[400], line[1024];
    snprintf(path, sizeof path, "%s/%s/metrics.jsonl", tmp, run);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"train_loss\": ");
        if (p) snprintf(buf + strlen(buf), n - strlen(buf), "%.6s ", p + 14);
    }
    if (f) fclose(f);
}

static cJSON *summary(const char *run) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s/summary.json", tmp, run);
    ErrorMsg err;
    size_t n;
    char *text = file_read_all(path, &n, &err);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static void expect_same_run(const char *a, const char *b, double tol, const char *what) {
    char ca[256], cb[256];
    loss_curve(a, ca, sizeof ca);
    loss_curve(b, cb, sizeof cb);
    EXPECT(ca[0] && !strcmp(ca, cb), "%s: loss curves '%s' vs '%s'", what, ca, cb);
    double d = checkpoint_diff(a, b);
    EXPECT(d >= 0 && d <= tol, "%s: checkpoints differ by %g (tolerance %g)", what, d, tol);
}

/* pipeline: replicas copies of the pipeline (rank = replica * stages + stage), each block on one rank of each;
 * 0: data parallel, every rank lists every block. */
static void expect_ranks(const char *run, int ranks, int pipeline) {
    cJSON *j = summary(run);
    cJSON *arr = j ? cJSON_GetObjectItem(j, "ranks") : NULL;
    EXPECT(arr && cJSON_GetArraySize(arr) == ranks, "%s: summary.json has a ranks list of %d", run, ranks);
    int blocks_seen = 0;
    for (int r = 0; arr && r < cJSON_GetArraySize(arr); r++) {
        cJSON *o = cJSON_GetArrayItem(arr, r);
        double busy = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "busy_fraction"));
        double ips = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "img_per_s"));
        cJSON *mem = cJSON_GetObjectItem(o, "mem_peak_bytes");
        EXPECT(busy > 0 && busy <= 1.0001 && ips > 0, "%s rank %d: busy %g, %g img/s", run, r, busy, ips);
        EXPECT(mem && cJSON_GetNumberValue(cJSON_GetObjectItem(mem, "act")) > 0, "%s rank %d: memory by tag", run, r);
        EXPECT(cJSON_IsTrue(cJSON_GetObjectItem(o, "planned_equals_measured")), "%s rank %d: planned == measured",
               run, r);
        blocks_seen += cJSON_GetArraySize(cJSON_GetObjectItem(o, "blocks"));
        if (pipeline) {
            int stages = ranks / pipeline, stage = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "stage"));
            int replica = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "replica"));
            EXPECT(cJSON_GetObjectItem(o, "stage") && stage == r % stages && replica == r / stages,
                   "%s rank %d: stage %d replica %d, want %d and %d", run, r, stage, replica, r % stages, r / stages);
        }
    }
    int n_blocks = cJSON_GetArraySize(cJSON_GetObjectItem(j, "mem_peak_per_block"));
    /* pipeline: every block on exactly one rank of each replica; data parallel: every rank lists all blocks */
    EXPECT(blocks_seen == (pipeline ? pipeline * n_blocks : ranks * n_blocks), "%s: %d blocks listed over the ranks, "
           "%d in the network", run, blocks_seen, n_blocks);
    cJSON_Delete(j);
}

static void test_pipeline_equals_single(void) {
    const char *dgl = "--model resnet8 --method dgl --k 3";
    EXPECT(single("dgl-single", dgl) == 0, "single-process DGL: %s", out_text);
    EXPECT(mpi(1, "dgl-p1", "--model resnet8 --method dgl --k 3 --dist pipeline") == 0 &&
           strstr(out_text, "pipeline over 1 ranks"), "pipeline on 1 rank: %s", out_text);
    expect_same_run("dgl-single", "dgl-p1", 0, "pipeline 1 rank vs single");
    EXPECT(mpi(2, "dgl-p2", "--model resnet8 --method dgl --k 3 --dist pipeline --set dist_queue=1") == 0,
           "pipeline on 2 ranks: %s", out_text);
    expect_same_run("dgl-single", "dgl-p2", 0, "pipeline 2 ranks vs single");
    expect_ranks("dgl-p2", 2, 1);
    EXPECT(strstr(out_text, "rank 0: blocks") && strstr(out_text, "rank 1: blocks"), "assignment printed: %s",
           out_text);

    const char *ip = "--model resnet20 --method infopro --k 4 --limit-train 96 --batch 32 --epochs 1";
    EXPECT(single("ip-single", ip) == 0, "single-process InfoPro: %s", out_text);
    char args[400];
    snprintf(args, sizeof args, "%s --dist pipeline", ip);
    EXPECT(mpi(4, "ip-p4", args) == 0, "InfoPro pipeline on 4 ranks: %s", out_text);
    expect_same_run("ip-single", "ip-p4", 0, "InfoPro pipeline 4 ranks vs single");
    expect_ranks("ip-p4", 4, 1);
    snprintf(args, sizeof args, "%s --dist pipeline --dist-map 3,1", ip);
    EXPECT(mpi(2, "ip-map", args) == 0 && strstr(out_text, "rank 0: blocks 0-2"), "explicit map: %s", out_text);
    expect_same_run("ip-single", "ip-map", 0, "InfoPro pipeline with --dist-map 3,1 vs single");
}

static void test_data_parallel(void) {
    EXPECT(single("vit-single", "--model vit-micro") == 0, "single ViT: %s", out_text);
    EXPECT(mpi(2, "vit-d2", "--model vit-micro --dist data") == 0 && strstr(out_text, "data parallel over 2"),
           "data parallel on 2 ranks: %s", out_text);
    double d = checkpoint_diff("vit-single", "vit-d2");
    EXPECT(d >= 0 && d < 2e-4, "data parallel vs single: checkpoints differ by %g", d);
    char a[256], b[256];
    loss_curve("vit-single", a, sizeof a);
    loss_curve("vit-d2", b, sizeof b);
    EXPECT(a[0] && fabs(atof(a) - atof(b)) < 1e-4, "loss curves %s vs %s", a, b);
    expect_ranks("vit-d2", 2, 0);
    EXPECT(mpi(2, "rn-d2", "--model resnet8 --method dgl --k 2 --dist data --epochs 1") == 0,
           "data parallel with BatchNorm and a local method: %s", out_text);
    /* synchronised BN: the single-process run, on a ResNet (two steps: e2e amplifies float noise quickly) */
    const char *rn = "--model resnet8 --epochs 1 --limit-train 128";
    EXPECT(single("rn-single", rn) == 0, "single ResNet: %s", out_text);
    snprintf(b, sizeof b, "%s --dist data --dist-sync-bn", rn);
    EXPECT(mpi(2, "rn-sync", b) == 0 && strstr(out_text, "BatchNorm synchronised"), "data parallel, sync BN: %s",
           out_text);
    d = checkpoint_diff("rn-single", "rn-sync");
    EXPECT(d >= 0 && d < 1e-3, "data parallel with synchronised BN vs single: checkpoints differ by %g", d);
}

/* Pipeline stages x data-parallel replicas against the pipeline alone, at the same global batch. */
static void test_replicas(void) {
    const char *g = "--model resnet8 --method greedy --k 3 --dist pipeline";
    char args[400], a[256], b[256];
    EXPECT(mpi(2, "g-p2", g) == 0, "2-stage pipeline: %s", out_text);
    snprintf(args, sizeof args, "%s --dist-replicas 2 --dist-sync-bn", g);
    EXPECT(mpi(4, "g-p2x2", args) == 0 && strstr(out_text, "2 stages x 2 replicas = 4 ranks") &&
           strstr(out_text, "synchronised"), "2 stages x 2 replicas: %s", out_text);
    loss_curve("g-p2", a, sizeof a);
    loss_curve("g-p2x2", b, sizeof b);
    const char *pa = a, *pb = b;
    int epochs = 0;
    for (char *ea, *eb;; pa = ea, pb = eb, epochs++) {
        double la = strtod(pa, &ea), lb = strtod(pb, &eb);
        if (ea == pa || eb == pb) break;
        EXPECT(fabs(la - lb) < 1e-4, "epoch %d: loss %g with 2 replicas, %g with 1", epochs + 1, lb, la);
    }
    EXPECT(epochs == 2, "two epochs in each loss curve: '%s' vs '%s'", a, b);
    double d_sync = checkpoint_diff("g-p2", "g-p2x2");
    EXPECT(d_sync >= 0 && d_sync < 5e-3, "2x2 with synchronised BN vs 2x1: checkpoints differ by %g", d_sync);
    expect_ranks("g-p2x2", 4, 2);
    /* BN per shard is another computation: the test above can tell */
    snprintf(args, sizeof args, "%s --dist-replicas 2", g);
    EXPECT(mpi(4, "g-p2x2-local", args) == 0 && strstr(out_text, "each shard's own"), "2x2, BN per shard: %s",
           out_text);
    double d_local = checkpoint_diff("g-p2", "g-p2x2-local");
    EXPECT(d_local > 5 * d_sync, "BN per shard differs from one process by %g, synchronised by %g", d_local, d_sync);
    /* checkpoint and resume on 2 x 2: every rank loads the root's one checkpoint */
    snprintf(args, sizeof args, "%s --dist-replicas 2 --dist-sync-bn --stop-after 1", g);
    EXPECT(mpi(4, "g-resume", args) == 0 && strstr(out_text, "--stop-after"), "2x2 stop after 1: %s", out_text);
    char fmt[1200];
    snprintf(fmt, sizeof fmt, MPIRUN " 4 %s train --resume %s/%%s --progress none%%s", bin, tmp);
    EXPECT(sh(fmt, "g-resume", " --stop-after 0") == 0 && strstr(out_text, "on 4 ranks"), "resume on 2x2: %s",
           out_text);
    expect_same_run("g-p2x2", "g-resume", 0, "2x2 stopped + resumed vs uninterrupted");
    /* a rank count that is not stages x replicas, replicas without a pipeline */
    snprintf(args, sizeof args, "%s --dist-replicas 2", g);
    EXPECT(mpi(3, "bad-rep", args) != 0 && strstr(out_text, "--dist-replicas 2 needs a number of ranks divisible by 2"),
           "3 ranks with 2 replicas: %s", out_text);
    EXPECT(mpi(2, "bad-rep-data", "--dist data --dist-replicas 2") != 0 && strstr(out_text, "copies of a pipeline"),
           "--dist-replicas with --dist data: %s", out_text);
}

static void test_resume_on_fewer_ranks(void) {
    const char *dgl = "--model resnet8 --method dgl --k 3 --epochs 3";
    char args[300];
    EXPECT(single("r-single", dgl) == 0, "single 3 epochs: %s", out_text);
    snprintf(args, sizeof args, "%s --dist pipeline --stop-after 1", dgl);
    EXPECT(mpi(2, "r-pipe", args) == 0 && strstr(out_text, "--stop-after"), "stop after 1: %s", out_text);
    char fmt[1200];
    snprintf(fmt, sizeof fmt, MPIRUN " 1 %s train --resume %s/%%s --progress none%%s", bin, tmp);
    EXPECT(sh(fmt, "r-pipe", " --stop-after 0") == 0 && strstr(out_text, "on 1 ranks"), "resume on 1 rank: %s", out_text);
    expect_same_run("r-single", "r-pipe", 0, "2 ranks stopped + resumed on 1 vs single");
}

/* The pid of a child of `parent` (an mpirun rank), or -1. */
static pid_t child_of(pid_t parent) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *close = strrchr(buf, ')');
        int ppid = 0;
        if (close && sscanf(close + 2, "%*c %d", &ppid) == 1 && ppid == parent && strstr(buf, "(locus)"))
            found = atoi(e->d_name);
    }
    if (d) closedir(d);
    return found;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_killed_rank(void) {
    char log[400], ckpt[400], cmd[2000];
    snprintf(log, sizeof log, "%s/kill.txt", tmp);
    snprintf(ckpt, sizeof ckpt, "%s/kill/checkpoint.safetensors", tmp);
    snprintf(cmd, sizeof cmd,
             "exec env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive mpirun "
             "--oversubscribe --bind-to none -np 2 %s train --out %s --name kill %s --model resnet8 --method dgl "
             "--k 3 --epochs 200 --dist pipeline > %s 2>&1", bin, tmp, TINY, log);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    double t0 = now_s();
    struct stat st;
    while (stat(ckpt, &st) && now_s() - t0 < 60) usleep(20000);
    EXPECT(!stat(ckpt, &st), "a first checkpoint appeared");
    pid_t victim = child_of(pid);
    EXPECT(victim > 0, "found a rank of mpirun %d", (int)pid);
    if (victim > 0) kill(victim, SIGKILL);
    int status = 0, done = 0;
    while (now_s() - t0 < 90 && !(done = waitpid(pid, &status, WNOHANG) == pid)) usleep(50000);
    EXPECT(done, "mpirun ended after a rank was killed (no hang)");
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    EXPECT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the job did not report success");
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(out_text, 1, sizeof out_text - 1, f) : 0;
    out_text[n] = 0;
    if (f) fclose(f);
    EXPECT(strstr(out_text, "stopped because the job is ending") && strstr(out_text, "is intact") &&
           strstr(out_text, "--resume"), "the surviving rank says why it stopped and how to resume: %s", out_text);
    StFile sf;
    ErrorMsg err;
    Status s = safetensors_open(&sf, ckpt, &err);
    EXPECT(!s && atoi(safetensors_meta(&sf, "epoch") ? safetensors_meta(&sf, "epoch") : "0") >= 1,
           "the last checkpoint is intact: %s", s ? err.text : "");
    if (!s) safetensors_close(&sf);
    char fmt[1200];
    snprintf(fmt, sizeof fmt, MPIRUN " 2 %s train --resume %s/%%s --epochs 1%%s", bin, tmp);
    /* resuming works (here with --epochs lowered so it ends at once: nothing left to train) */
    EXPECT(sh(fmt, "kill", " --progress none") == 0, "resume after the kill: %s", out_text);
}

static void test_errors(void) {
    char fmt[1200];
    snprintf(fmt, sizeof fmt, MPIRUN " 2 %s train --out %s --name %%s %s%%s", bin, tmp, TINY);
    EXPECT(sh(fmt, "nodist", "") != 0 && strstr(out_text, "--dist is none"), "mpirun without --dist: %s", out_text);
    EXPECT(mpi(2, "e2e", "--dist pipeline") != 0 && strstr(out_text, "not one"), "e2e pipelined: %s", out_text);
    EXPECT(mpi(2, "badmap", "--method dgl --k 3 --dist pipeline --dist-map 2,2") != 0 &&
           strstr(out_text, "--dist-map"), "bad map: %s", out_text);
    EXPECT(mpi(2, "toomany", "--method dgl --k 1 --dist pipeline") != 0 && strstr(out_text, "at least 2 blocks"),
           "more ranks than blocks: %s", out_text);
    EXPECT(mpi(2, "profile", "--method dgl --k 2 --dist pipeline --profile") != 0 &&
               strstr(out_text, "--profile is not available with --dist"), "--profile under --dist: %s", out_text);
}

int main(void) {
    bin = getenv("LOCUS_BIN");
    if (!bin) return printf("skip: LOCUS_BIN not set (run through make test)\n"), 77;
    if (system("command -v mpirun > /dev/null 2>&1"))
        return printf("skip: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)\n"), 77;
    if (access("/usr/share/datasets/fashion-mnist", R_OK))
        return printf("skip: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)\n"), 77;
    /* Under `make asan`: Open MPI 4.1 leaks at MPI_Finalize, inside libmpi and its dlopen'd plugins (LeakSanitizer
     * cannot suppress those by name), which would fail every MPI run; leak checking of the ranks is off here, the
     * address and UB checks stay on. Single-process leaks are covered by the other tests. */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 0);
    snprintf(tmp, sizeof tmp, "/tmp/locus-test-dist-XXXXXX");
    if (!mkdtemp(tmp)) return printf("cannot make a temporary folder\n"), 1;
    if (single("probe", "--dist data --epochs 1 --limit-train 64") != 0 && strstr(out_text, "built without MPI"))
        return printf("skip: locus was built without MPI (make MPI=1)\n"), 77;
    double t0 = now_s();
    test_errors();
    printf("errors: %.1f s\n", now_s() - t0);
    test_pipeline_equals_single();
    printf("pipeline == single: %.1f s\n", now_s() - t0);
    test_data_parallel();
    printf("data parallel: %.1f s\n", now_s() - t0);
    test_replicas();
    printf("replicas: %.1f s\n", now_s() - t0);
    test_resume_on_fewer_ranks();
    printf("resume: %.1f s\n", now_s() - t0);
    test_killed_rank();
    printf("killed rank: %.1f s\n", now_s() - t0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (!expect_failures && system(cmd)) printf("could not remove %s\n", tmp);
    return expect_report();
}
