/* report.c — see report.h. */
#include "train/report.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "locus/fileutil.h"
#include "locus/method.h"
#include "methods/replace.h"

MemReport report_from_tracker(const MemTracker *mt) {
    MemReport r;
    for (int t = 0; t < MEM_TAG_COUNT; t++) r.peak[t] = mt->peak[t];
    r.peak_total = mt->peak_total;
    return r;
}

void report_mem_table(FILE *f, const MemReport *planned, const MemReport *measured) {
    char a[32], b[32];
    fprintf(f, "  %-8s %12s %12s\n", "memory", "planned", measured ? "measured" : "");
    for (int t = 0; t < MEM_TAG_COUNT; t++)
        fprintf(f, "  %-8s %12s %12s\n", mem_tag_name((MemTag)t), mem_format(planned->peak[t], a, sizeof a),
                measured ? mem_format(measured->peak[t], b, sizeof b) : "");
    fprintf(f, "  %-8s %12s %12s\n", "total", mem_format(planned->peak_total, a, sizeof a),
            measured ? mem_format(measured->peak_total, b, sizeof b) : "");
}

cJSON *report_mem_json(const MemReport *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "total", (double)m->peak_total);
    for (int t = 0; t < MEM_TAG_COUNT; t++) cJSON_AddNumberToObject(o, mem_tag_name((MemTag)t), (double)m->peak[t]);
    return o;
}

void report_start(FILE *f, const Session *s, const char *dir, const MemReport *plan) {
    fprintf(f, "locus train: %s on %s (%d train / %d test images, %dx%dx%d), method %s, run folder %s\n",
            s->cfg.model, s->cfg.data, s->train_set.n, s->test_set.n, s->train_set.c, s->train_set.h,
            s->train_set.w, s->cfg.method, dir);
    fprintf(f, "resolved configuration:\n");
    config_print(f, &s->cfg, train_config_keys);
    fprintf(f, "learnable parameters: %zu\n", params_count_trainable(&s->ps));
    replace_report_params(f, s);
    fprintf(f, "memory plan (peak per tag):\n");
    report_mem_table(f, plan, NULL);
    fflush(f);
}

void report_block_table(FILE *f, const BlockMem *planned, const BlockMem *measured, int n) {
    char a[32], b[32], c[32], d[32];
    fprintf(f, "  %-6s %-14s %12s %12s", "block", "units", "act plan", "total plan");
    if (measured) fprintf(f, " %12s %12s", "act meas.", "total meas.");
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "  %-6d %-14s %12s %12s", i, planned[i].units,
                mem_format(planned[i].peak.peak[MEM_TAG_ACT], a, sizeof a),
                mem_format(planned[i].peak.peak_total, b, sizeof b));
        if (measured)
            fprintf(f, " %12s %12s", mem_format(measured[i].peak.peak[MEM_TAG_ACT], c, sizeof c),
                    mem_format(measured[i].peak.peak_total, d, sizeof d));
        fprintf(f, "\n");
    }
}

double report_flops_per_image(const BlockMem *blocks, int n, int64_t batch) {
    double f = 0;
    for (int i = 0; i < n; i++) f += blocks[i].flops;
    return batch > 0 ? f / (double)batch : 0;
}

cJSON *report_blocks_json(const BlockMem *blocks, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = report_mem_json(&blocks[i].peak);
        cJSON_AddNumberToObject(o, "block", i);
        cJSON_AddStringToObject(o, "units", blocks[i].units);
        if (blocks[i].flops > 0) cJSON_AddNumberToObject(o, "flops_per_step", blocks[i].flops);
        if (blocks[i].seconds > 0) cJSON_AddNumberToObject(o, "seconds", blocks[i].seconds);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

Status report_finish(FILE *f, const Session *s, const char *dir, const MemReport *plan, const BlockMem *plan_blocks,
                     const Summary *sum, ErrorMsg *err) {
    MemReport measured = report_from_tracker(&s->mt);
    fprintf(f, "\n== summary: %s %s on %s, %d epochs ==\n", s->cfg.model, s->cfg.method, s->cfg.data,
            (int)s->cfg.epochs);
    fprintf(f, "  test accuracy   best %.2f%%   last %.2f%%\n", 100 * sum->acc_best, 100 * sum->acc_last);
    fprintf(f, "  training speed  %.0f images/s (%d threads)\n", sum->img_per_s, (int)s->cfg.threads);
    fprintf(f, "  wall time       %.1f s\n", sum->wall_s);
    fprintf(f, "  peak memory by tag:\n");
    report_mem_table(f, plan, &measured);
    int same = memcmp(plan, &measured, sizeof measured) == 0;
    for (int b = 0; b < s->n_blocks; b++)
        same &= memcmp(&plan_blocks[b].peak, &s->blocks[b].peak, sizeof(MemReport)) == 0;
    if (s->n_blocks > 1) {
        fprintf(f, "  peak memory by block (%d modules):\n", s->n_blocks);
        report_block_table(f, plan_blocks, s->blocks, s->n_blocks);
    }
    fprintf(f, "  planned == measured: %s\n", same ? "yes" : "NO (report this as a bug)");
    if (strcmp(s->cfg.method, "e2e")) {
        /* the same run trained end to end, planned: what local learning saved */
        TrainConfig e2e = s->cfg;
        snprintf(e2e.method, sizeof e2e.method, "e2e");
        e2e.k = 0, e2e.cuts[0] = 0, e2e.replace_every = 0;
        MemReport ep;
        ErrorMsg e2;
        if (train_memplan(&e2e, &ep, &e2) == LOCUS_OK) {
            char a[32], b[32], c[32], d[32];
            fprintf(f, "  vs end-to-end   act %s (e2e %s, %.1f%% saved)   total %s (e2e %s, %.1f%% saved)\n",
                    mem_format(measured.peak[MEM_TAG_ACT], a, sizeof a), mem_format(ep.peak[MEM_TAG_ACT], b, sizeof b),
                    100.0 * (1.0 - (double)measured.peak[MEM_TAG_ACT] / (double)ep.peak[MEM_TAG_ACT]),
                    mem_format(measured.peak_total, c, sizeof c), mem_format(ep.peak_total, d, sizeof d),
                    100.0 * (1.0 - (double)measured.peak_total / (double)ep.peak_total));
        }
    }
    cJSON *replace_json = replace_report_summary(f, s);
    fprintf(f, "  run folder      %s (config.json, metrics.jsonl, checkpoint.safetensors, summary.json)\n", dir);

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", s->cfg.model);
    cJSON_AddStringToObject(o, "method", s->cfg.method);
    cJSON_AddStringToObject(o, "dataset", s->cfg.data);
    cJSON_AddNumberToObject(o, "epochs", (double)s->cfg.epochs);
    cJSON_AddNumberToObject(o, "batch", (double)s->cfg.batch);
    cJSON_AddNumberToObject(o, "threads", (double)s->cfg.threads);
    cJSON_AddNumberToObject(o, "test_acc_best", sum->acc_best);
    cJSON_AddNumberToObject(o, "test_acc_last", sum->acc_last);
    cJSON_AddNumberToObject(o, "train_img_per_s", sum->img_per_s);
    cJSON_AddNumberToObject(o, "wall_s", sum->wall_s);
    cJSON_AddNumberToObject(o, "params_learnable", (double)params_count_trainable(&s->ps));
    cJSON_AddItemToObject(o, "mem_peak_bytes", report_mem_json(&measured));
    cJSON_AddItemToObject(o, "mem_predicted_bytes", report_mem_json(plan));
    cJSON_AddItemToObject(o, "mem_peak_per_block", report_blocks_json(s->blocks, s->n_blocks));
    cJSON_AddItemToObject(o, "mem_predicted_per_block", report_blocks_json(plan_blocks, s->n_blocks));
    cJSON_AddNumberToObject(o, "train_flops_per_image", report_flops_per_image(plan_blocks, s->n_blocks, s->cfg.batch));
    if (replace_json) cJSON_AddItemToObject(o, "replace", replace_json);
    if (sum->extra) {
        while (sum->extra->child) {
            cJSON *item = cJSON_DetachItemViaPointer(sum->extra, sum->extra->child);
            cJSON_AddItemToObject(o, item->string, item);
        }
        cJSON_Delete(sum->extra);
    }
    char *json = cJSON_Print(o);
    cJSON_Delete(o);
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    Status st = file_write_atomic(path, json, strlen(json), err);
    free(json);
    return st;
}

Status report_over_limit(const TrainConfig *cfg, const MemReport *plan, ErrorMsg *err) {
    char need[32], lim[32], act[32];
    ErrorMsg e2;
    /* the largest batch (halving) that fits */
    TrainConfig c = *cfg;
    long fits_batch = 0;
    for (c.batch = cfg->batch / 2; c.batch >= 1; c.batch /= 2) {
        MemReport r;
        if (train_memplan(&c, &r, &e2)) break;
        if (r.peak_total <= (size_t)cfg->mem_limit) {
            fits_batch = (long)c.batch;
            break;
        }
    }
    /* for local learning, the smallest K above the current one that fits at this batch */
    long fits_k = 0;
    if (strcmp(cfg->method, "e2e")) {
        const int ks[] = {2, 4, 8, 16, 32, 55};
        c = *cfg;
        c.cuts[0] = 0;
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
            if (ks[i] <= cfg->k) continue;
            c.k = ks[i];
            MemReport r;
            if (train_memplan(&c, &r, &e2)) continue; /* K too large for this network */
            if (r.peak_total <= (size_t)cfg->mem_limit) {
                fits_k = ks[i];
                break;
            }
        }
    }
    char hint[160];
    if (fits_batch && fits_k)
        snprintf(hint, sizeof hint, "--batch %ld fits, and so does --k %ld at this batch", fits_batch, fits_k);
    else if (fits_batch)
        snprintf(hint, sizeof hint, "--batch %ld fits", fits_batch);
    else if (fits_k)
        snprintf(hint, sizeof hint, "--k %ld fits at this batch", fits_k);
    else
        snprintf(hint, sizeof hint, "no batch size fits; the parameters and data alone exceed it");
    return status_fail(err, LOCUS_ERR_OOM,
                       "batch %ld needs %s at peak (%s of it activations, ACT); the limit is %s\nhint: %s",
                       (long)cfg->batch, mem_format(plan->peak_total, need, sizeof need),
                       mem_format(plan->peak[MEM_TAG_ACT], act, sizeof act),
                       mem_format((size_t)cfg->mem_limit, lim, sizeof lim), hint);
}
