/* mpi_report.c — the per-rank part of a distributed run's report (summary.json "ranks"), and the SIGTERM
 * message every surviving rank prints when mpirun ends the job because another rank died or failed.
 * The message lives in a static buffer: a signal handler can reach nothing else (the one piece of
 * process-wide state in locus, written only between epochs). */
#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dist/mpi_internal.h"

cJSON *dist_report(FILE *f, const char *mode, const RankStats *all, int ranks, const Session *root) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dist", mode);
    cJSON *arr = cJSON_AddArrayToObject(o, "ranks");
    char a[32], b[32];
    fprintf(f, "  %-5s %-5s %-7s %-8s %-14s %10s %6s %9s %9s %9s %12s %12s %s\n", "rank", "stage", "replica", "blocks",
            "units", "images/s", "busy", "wait in", "wait out", "allreduce", "act peak", "total peak", "plan==meas");
    for (int r = 0; r < ranks; r++) {
        const RankStats *rs = &all[r];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "rank", rs->rank);
        if (rs->stage >= 0) cJSON_AddNumberToObject(j, "stage", rs->stage);
        cJSON_AddNumberToObject(j, "replica", rs->replica);
        cJSON *blocks = cJSON_AddArrayToObject(j, "blocks");
        char units[160] = "all";
        if (rs->block_count) {
            for (int i = 0; i < rs->block_count; i++) cJSON_AddItemToArray(blocks, cJSON_CreateNumber(rs->block_first + i));
            const char *u0 = root->blocks[rs->block_first].units, *u1 = root->blocks[rs->block_first + rs->block_count - 1].units;
            snprintf(units, sizeof units, "%.*s-%s", (int)strcspn(u0, "-"), u0, strchr(u1, '-') ? strchr(u1, '-') + 1 : u1);
        } else {
            for (int i = 0; i < root->n_blocks; i++) cJSON_AddItemToArray(blocks, cJSON_CreateNumber(i));
        }
        cJSON_AddStringToObject(j, "units", units);
        double ips = rs->train_s > 0 ? rs->images / rs->train_s : 0, busy = rs->train_s > 0 ? rs->busy_s / rs->train_s : 0;
        cJSON_AddNumberToObject(j, "images", rs->images);
        cJSON_AddNumberToObject(j, "img_per_s", ips);
        cJSON_AddNumberToObject(j, "train_s", rs->train_s);
        cJSON_AddNumberToObject(j, "busy_fraction", busy);
        cJSON_AddNumberToObject(j, "wait_recv_s", rs->wait_recv_s);
        cJSON_AddNumberToObject(j, "wait_send_s", rs->wait_send_s);
        cJSON_AddNumberToObject(j, "wait_allreduce_s", rs->wait_allreduce_s);
        cJSON_AddNumberToObject(j, "send_bytes_per_batch", rs->send_bytes_per_batch);
        cJSON *bs = cJSON_AddArrayToObject(j, "block_seconds"), *bf = cJSON_AddArrayToObject(j, "block_flops");
        for (int i = 0; i < root->n_blocks; i++) {
            cJSON_AddItemToArray(bs, cJSON_CreateNumber(rs->block_seconds[i]));
            cJSON_AddItemToArray(bf, cJSON_CreateNumber(rs->block_flops[i]));
        }
        cJSON_AddItemToObject(j, "mem_peak_bytes", report_mem_json(&rs->measured));
        cJSON_AddItemToObject(j, "mem_predicted_bytes", report_mem_json(&rs->planned));
        cJSON_AddBoolToObject(j, "planned_equals_measured", rs->planned_ok);
        cJSON_AddItemToArray(arr, j);
        char bl[16];
        if (rs->block_count) snprintf(bl, sizeof bl, "%d-%d", rs->block_first, rs->block_first + rs->block_count - 1);
        else snprintf(bl, sizeof bl, "all");
        char stage[16];
        if (rs->stage >= 0) snprintf(stage, sizeof stage, "%d", rs->stage);
        else snprintf(stage, sizeof stage, "-");
        fprintf(f, "  %-5d %-5s %-7d %-8s %-14s %10.1f %5.0f%% %8.2fs %8.2fs %8.2fs %12s %12s %s\n", rs->rank, stage,
                rs->replica, bl, units, ips, 100 * busy, rs->wait_recv_s, rs->wait_send_s, rs->wait_allreduce_s,
                mem_format(rs->measured.peak[MEM_TAG_ACT], a, sizeof a),
                mem_format(rs->measured.peak_total, b, sizeof b), rs->planned_ok ? "yes" : "NO (a bug)");
    }
    return o;
}

static char term_msg[2][4000];
static volatile sig_atomic_t term_which;
static int sig_rank, sig_ranks;
static char sig_dir[1024];

static void on_term(int sig) {
    (void)sig;
    const char *m = term_msg[term_which];
    ssize_t w = write(STDERR_FILENO, m, strlen(m));
    (void)w;
    _exit(143);
}

void dist_signal_update(int epoch) {
    int next = !term_which;
    char what[1300];
    if (epoch > 0)
        snprintf(what, sizeof what, "the last checkpoint, %s/checkpoint.safetensors (epoch %d), is intact", sig_dir,
                 epoch);
    else if (epoch < 0)
        snprintf(what, sizeof what, "the last checkpoint in %s (one is written after each epoch) is intact", sig_dir);
    else
        snprintf(what, sizeof what, "no checkpoint was written yet (the first comes at the end of an epoch)");
    snprintf(term_msg[next], sizeof term_msg[next],
             "locus train (rank %d of %d): stopped because the job is ending (another rank died or failed: see its "
             "message; or mpirun was interrupted)\n  %s\nhint: continue with: mpirun -np %d locus train --resume %s\n",
             sig_rank, sig_ranks, what, sig_ranks, sig_dir);
    term_which = next;
}

void dist_signal_install(int rank, int ranks, const char *dir, int writer) {
    sig_rank = rank, sig_ranks = ranks;
    snprintf(sig_dir, sizeof sig_dir, "%s", dir);
    dist_signal_update(writer ? 0 : -1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
}
