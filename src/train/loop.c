/* loop.c — the training run shared by all methods: epochs of steps, evaluation after each epoch,
 * a checkpoint after each epoch (atomic: a crash never loses a finished epoch), metrics.jsonl,
 * summary.json and the final table. Resuming restarts at the epoch after the checkpoint; since the
 * shuffle and augmentation are pure functions of (seed, epoch, index), the result is the same as an
 * uninterrupted run with the same seed and thread count. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "locus/fileutil.h"
#include "locus/method.h"
#include "methods/common.h"
#include "train/bench_profile.h"
#include "train/checkpoint.h"
#include "train/progress.h"
#include "train/report.h"
#include "train/session_internal.h"

LrSchedule train_make_schedule(const TrainConfig *c, int steps_per_epoch) {
    LrSchedule s = {0};
    s.lr0 = (float)c->lr;
    s.epochs = (int)c->epochs;
    s.steps_per_epoch = steps_per_epoch;
    s.gamma = (float)c->lr_gamma;
    s.step_epochs = (int)c->lr_step_epochs;
    s.warmup_steps = (int)c->warmup_steps;
    if (!strcmp(c->schedule, "constant")) s.kind = LR_CONSTANT;
    else if (!strcmp(c->schedule, "step")) s.kind = LR_STEP;
    else if (!strcmp(c->schedule, "warmup-cosine")) s.kind = LR_WARMUP_COSINE;
    else s.kind = LR_COSINE;
    return s;
}

Status session_evaluate(Session *s, double *acc, ErrorMsg *err) {
    Loader *l = &s->test_loader;
    loader_start_epoch(l, 0);
    const float *xb, *yb;
    int n;
    long correct = 0, total = 0;
    while (loader_next(l, &xb, &yb, &n)) {
        Tape *t = &s->tape;
        TapeMark m = tape_mark(t);
        Tensor *x = tape_wrap(t, shape4(n, s->test_set.c, s->test_set.h, s->test_set.w), (float *)xb, 0);
        Tensor *y = tape_wrap(t, shape1(n), (float *)yb, 0);
        Tensor *logits = session_eval_forward(s, x);
        if (!logits) {
            Status st = status_fail(err, t->status, "%s", t->err.text);
            tape_release(t, m);
            return st;
        }
        correct += method_count_correct(logits, y);
        total += n;
        tape_release(t, m);
    }
    *acc = total ? (double)correct / (double)total : 0.0;
    return loader_status(l, err); /* an image that could not be decoded ends the pass early */
}

void train_run_dir_path(const TrainConfig *c, char *buf, size_t n) {
    if (c->name[0])
        snprintf(buf, n, "%s/%s", c->out, c->name);
    else
        snprintf(buf, n, "%s/%s-%s-%s", c->out, c->model, c->data, c->method);
}

/* A new run must not mix its files with an older run's (metrics.jsonl would interleave two runs). */
Status train_claim_run_dir(const char *dir, int overwrite, ErrorMsg *err) {
    const char *files[] = {"checkpoint.safetensors", "metrics.jsonl", "summary.json"};
    char path[1200];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (access(path, F_OK)) continue;
        if (!overwrite)
            return status_fail(err, LOCUS_ERR_ARG,
                               "the run folder %s already holds a run (%s)\nhint: continue it with --resume %s, "
                               "start a new one with --name NEW, or replace it with --overwrite",
                               dir, files[i], dir);
        if (unlink(path))
            return status_fail(err, LOCUS_ERR_IO, "cannot remove %s of the old run\nhint: check permissions", path);
    }
    return LOCUS_OK;
}

Status train_run(const TrainConfig *cfg, const char *resume_dir, ErrorMsg *err) {
    if (strcmp(cfg->dist, "none")) return dist_train_run(cfg, resume_dir, err);
    if (dist_launch_size() > 1)
        return status_fail(err, LOCUS_ERR_ARG, "mpirun started %d copies of this run, but --dist is none: each "
                           "would train alone into the same folder\nhint: add --dist pipeline (local methods) or "
                           "--dist data", dist_launch_size());
    double t0 = progress_now();
    char dir[1024];
    if (resume_dir)
        snprintf(dir, sizeof dir, "%s", resume_dir);
    else
        train_run_dir_path(cfg, dir, sizeof dir);

    MemReport plan;
    BlockMem plan_blocks[LOCUS_MAX_BLOCKS];
    int plan_n = 0;
    Status st = train_memplan_blocks(cfg, &plan, plan_blocks, &plan_n, err);
    if (st) return st;
    if (cfg->mem_limit > 0 && plan.peak_total > (size_t)cfg->mem_limit) return report_over_limit(cfg, &plan, err);

    Session s;
    Profile prof = {0}; /* --profile */
    int prof_open = 0;
    TrainConfig open_cfg = *cfg;
    if (resume_dir) open_cfg.init_from[0] = 0; /* the checkpoint replaces those weights anyway */
    st = session_open(&s, &open_cfg, 0, err);
    if (st) {
        session_close(&s);
        return st;
    }
    if ((st = dir_ensure(dir, err))) goto done;
    char path[1200];
    if (!resume_dir && (st = train_claim_run_dir(dir, cfg->overwrite, err))) goto done;
    {
        char *json = config_to_json(cfg, train_config_keys);
        snprintf(path, sizeof path, "%s/config.json", dir);
        st = file_write_atomic(path, json, strlen(json), err);
        free(json);
        if (st) goto done;
    }
    report_start(stdout, &s, dir, &plan);

    RunState rs = {0};
    if (resume_dir) {
        if ((st = checkpoint_load(&s, dir, &rs, err))) goto done;
        if ((st = metrics_truncate(dir, rs.epoch, err))) goto done;
        printf("resumed from %s/checkpoint.safetensors after epoch %d (best test acc %.2f%%)\n", dir, rs.epoch,
               100 * rs.best_acc);
    }
    double prof_step_s = 0, prof_zero_s = 0, prof_optim_s = 0; /* sums over the profiled steps */
    if (cfg->profile) {
        if ((st = profile_init(&prof, 8192, err))) goto done;
        prof_open = 1;
        s.tape.profile = &prof; /* enabled only inside training steps: evaluation is not profiled */
    }
    Progress prog;
    progress_init(&prog, cfg->progress, stderr);
    int steps_per_epoch = loader_batches_per_epoch(&s.train_loader);
    LrSchedule sched = train_make_schedule(cfg, steps_per_epoch);
    long long total_steps = (long long)steps_per_epoch * (cfg->epochs - rs.epoch), done_steps = 0;
    double acc_last = rs.last_acc;
    for (int epoch = rs.epoch + 1; epoch <= cfg->epochs; epoch++) {
        double t_epoch = progress_now(), t_train = 0, loss_sum = 0;
        long correct = 0, seen = 0;
        loader_start_epoch(&s.train_loader, epoch);
        const float *xb, *yb;
        int n, step = 0;
        float lr = 0;
        while (loader_next(&s.train_loader, &xb, &yb, &n)) {
            double ts = progress_now();
            lr = lr_at(&sched, epoch, step);
            params_zero_grads(&s.ps);
            const double tz = progress_now();
            prof.enabled = prof_open;
            s.ctx.step = (uint64_t)rs.global_step;
            Tape *t = &s.tape;
            TapeMark m = tape_mark(t);
            Tensor *x = tape_wrap(t, shape4(n, s.train_set.c, s.train_set.h, s.train_set.w), (float *)xb, 0);
            Tensor *y = tape_wrap(t, shape1(n), (float *)yb, 0);
            StepResult r;
            st = s.method->step(&s, x, y, &r, err);
            tape_release(t, m);
            prof.enabled = 0;
            if (st) {
                progress_break(&prog);
                status_wrap(err, st, "epoch %d, step %d: ", epoch, step + 1);
                goto done;
            }
            const double to = progress_now();
            optim_step(&s.opt, lr);
            const double te = progress_now();
            prof_step_s += te - ts, prof_zero_s += tz - ts, prof_optim_s += te - to;
            rs.global_step++;
            step++;
            done_steps++;
            loss_sum += r.loss * n;
            correct += r.correct;
            seen += n;
            t_train += progress_now() - ts;
            progress_step(&prog, epoch, (int)cfg->epochs, step, steps_per_epoch, loss_sum / seen,
                          (double)correct / seen, seen / t_train, done_steps, total_steps);
        }
        progress_break(&prog);
        if ((st = loader_status(&s.train_loader, err))) goto done;
        rs.train_time += t_train;
        rs.train_images += seen;
        double acc;
        if ((st = session_evaluate(&s, &acc, err))) goto done;
        acc_last = acc;
        rs.last_acc = acc;
        if (acc > rs.best_acc || rs.best_epoch == 0) rs.best_acc = acc, rs.best_epoch = epoch;
        rs.epoch = epoch;
        if ((st = checkpoint_save(&s, dir, &rs, err))) goto done;
        char line[512];
        snprintf(line, sizeof line,
                 "{\"epoch\": %d, \"train_loss\": %.6f, \"train_acc\": %.6f, \"test_acc\": %.6f, \"lr\": %.6g, "
                 "\"img_per_s\": %.1f, \"epoch_s\": %.2f}",
                 epoch, loss_sum / seen, (double)correct / seen, acc, lr, seen / t_train, progress_now() - t_epoch);
        snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
        if ((st = jsonl_append(path, line, err))) goto done;
        printf("epoch %d/%d  train loss %.4f  train acc %.2f%%  test acc %.2f%%  (best %.2f%% @%d)  %.0f img/s  %.1fs\n",
               epoch, (int)cfg->epochs, loss_sum / seen, 100.0 * correct / seen, 100 * acc, 100 * rs.best_acc,
               rs.best_epoch, seen / t_train, progress_now() - t_epoch);
        fflush(stdout);
        if (cfg->stop_after > 0 && epoch >= cfg->stop_after && epoch < cfg->epochs) {
            printf("stopping after epoch %d as asked (--stop-after); continue with: locus train --resume %s\n",
                   epoch, dir);
            break;
        }
    }
    {
        Summary sum = {0};
        sum.acc_best = rs.best_acc;
        sum.acc_last = acc_last;
        sum.img_per_s = rs.train_time > 0 ? rs.train_images / rs.train_time : 0;
        sum.wall_s = progress_now() - t0;
        if (prof_open && done_steps > 0) {
            BenchProfile bp;
            const double k = 1.0 / (double)done_steps;
            if ((st = bench_profile_build(&prof, cfg->profile_layers, (int)done_steps, prof_step_s * k,
                                          prof_zero_s * k, prof_optim_s * k, &bp, err)))
                goto done;
            printf("\nwhere a training step goes (%lld steps of this run; evaluation not included):\n", done_steps);
            bench_profile_print(stdout, &bp);
            if (prof.dropped) printf("  (%d layer calls not timed: the profile table was full)\n", prof.dropped);
            sum.extra = cJSON_CreateObject();
            if (sum.extra) cJSON_AddItemToObject(sum.extra, "profile", bench_profile_json(&bp));
            bench_profile_free(&bp);
        }
        st = report_finish(stdout, &s, dir, &plan, plan_blocks, &sum, err);
    }
done:
    if (prof_open) profile_free(&prof);
    session_close(&s);
    return st;
}
