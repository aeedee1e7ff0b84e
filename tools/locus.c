/* locus.c — the command-line tool. Subcommands:
 *   locus train   [options]                 train (prints progress and a final summary)
 *   locus eval    RUN_DIR [options]         test accuracy of a run's latest checkpoint
 *   locus memplan [options] [--json]        the peak memory per tag a training run would use
 *   locus bench   [options] [--json]        time training steps or inference on synthetic data
 * Further subcommands live in tools/cmd_*.c (see cli.h); shared helpers in cli_common.c.
 * Options are the training configuration keys (`locus train --help`), given as --key value,
 * --key=value, --set key=value, or in a JSON file with --config FILE; later ones win.
 * Every failure becomes a message on stderr and a non-zero exit code (status_exit_code). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist/dist.h"
#include "locus/config.h"
#include "locus/train.h"
#include "methods/replace.h"
#include "train/bench.h"
#include "train/checkpoint.h"
#include "train/report.h"
#include "train/session_internal.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: locus <command> [options]\n\n"
            "commands:\n"
            "  train     train a model (locus train --help for every option)\n"
            "  eval      evaluate a run's latest checkpoint: locus eval RUN_DIR\n"
            "  memplan   predict peak memory per tag without training: locus memplan [train options] [--json]\n"
            "  bench     time training steps or inference on synthetic data: locus bench --help\n"
            "  export    write a run's model for PyTorch or ONNX: locus export RUN_DIR --format safetensors|onnx --out FILE\n"
            "  data      describe a dataset folder: locus data info DIR [--data NAME]\n"
            "  data fetch  download a dataset (cifar10, cifar100, svhn, stl10): locus data fetch NAME --dir DIR\n"
            "  plot      loss/accuracy/speed/memory figure of runs: locus plot RUN_DIR... --out FILE.png\n"
            "  help      this text\n\n"
            "quick start: locus train --config configs/default.json   (ResNet-8 on Fashion-MNIST, ~3 min)\n");
}

static Status parse_config(TrainConfig *cfg, int argc, char **argv, ErrorMsg *err) {
    int used = 0;
    Status st = config_parse_args(cfg, train_config_keys, argc - 1, argv + 1, &used, err);
    if (st) return st;
    if (used < argc - 1)
        return status_fail(err, LOCUS_ERR_ARG, "unexpected argument '%s'\nhint: options are --key value; see --help",
                           argv[1 + used]);
    return LOCUS_OK;
}

static int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: locus train [--config FILE] [--set key=value] [--KEY VALUE ...] [--resume RUN_DIR]\n\n"
               "  --resume RUN_DIR   continue a run from its last checkpoint (its config.json, then the\n"
               "                     options given here, e.g. --epochs to extend it)\n"
               "options:\n");
        {
            TrainConfig defaults;
            train_config_defaults(&defaults);
            config_print_help(stdout, &defaults, train_config_keys);
        }
        return 0;
    }
    ErrorMsg err = {{0}};
    TrainConfig cfg;
    train_config_defaults(&cfg);
    const char *resume = cli_take_option(&argc, argv, "--resume", 1);
    Status st = LOCUS_OK;
    if (resume) {
        char path[1100];
        snprintf(path, sizeof path, "%s/config.json", resume);
        st = config_load_json(&cfg, train_config_keys, path, &err);
        if (st) return cli_fail("train", status_wrap(&err, st, "cannot resume %s: ", resume), &err);
    }
    if ((st = parse_config(&cfg, argc, argv, &err))) return cli_fail("train", st, &err);
    st = train_run(&cfg, resume, &err);
    int code = st ? cli_fail("train", st, &err) : 0;
    dist_shutdown(code); /* under mpirun: a failed rank ends the whole job, no rank waits for it */
    return code;
}

static int cmd_memplan(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: locus memplan [train options] [--json]\n"
               "Predicts the peak memory per tag (param grad optim ema act scratch data) of `locus train`\n"
               "with the same options, without training. --json prints {\"mem_predicted_bytes\": {...}}.\n");
        return 0;
    }
    ErrorMsg err = {{0}};
    TrainConfig cfg;
    train_config_defaults(&cfg);
    int json = cli_take_option(&argc, argv, "--json", 0) != NULL;
    Status st = parse_config(&cfg, argc, argv, &err);
    if (st) return cli_fail("memplan", st, &err);
    MemReport plan, e2e;
    BlockMem blocks[LOCUS_MAX_BLOCKS];
    int n_blocks = 0;
    if ((st = train_memplan_blocks(&cfg, &plan, blocks, &n_blocks, &err))) return cli_fail("memplan", st, &err);
    TrainConfig cfg_e2e = cfg;
    snprintf(cfg_e2e.method, sizeof cfg_e2e.method, "e2e");
    cfg_e2e.k = 0;
    cfg_e2e.cuts[0] = 0;
    cfg_e2e.replace_every = 0;
    if ((st = train_memplan(&cfg_e2e, &e2e, &err))) return cli_fail("memplan", st, &err);
    double save_act = e2e.peak[MEM_TAG_ACT] ? 100.0 * (1.0 - (double)plan.peak[MEM_TAG_ACT] / e2e.peak[MEM_TAG_ACT]) : 0;
    double save_total = e2e.peak_total ? 100.0 * (1.0 - (double)plan.peak_total / e2e.peak_total) : 0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "mem_predicted_bytes", report_mem_json(&plan));
        cJSON_AddItemToObject(o, "mem_predicted_per_block", report_blocks_json(blocks, n_blocks));
        cJSON_AddNumberToObject(o, "train_flops_per_image", report_flops_per_image(blocks, n_blocks, cfg.batch));
        cJSON_AddItemToObject(o, "e2e_predicted_bytes", report_mem_json(&e2e));
        cJSON_AddNumberToObject(o, "act_saving_percent", save_act);
        cJSON_AddNumberToObject(o, "total_saving_percent", save_total);
        if ((st = replace_memplan_report(stdout, &cfg, &plan, o, &err))) return cJSON_Delete(o), cli_fail("memplan", st, &err);
        char *text = cJSON_Print(o);
        printf("%s\n", text);
        free(text);
        cJSON_Delete(o);
    } else {
        printf("memory plan for %s %s on %s, batch %ld, %ld threads, %d module%s:\n", cfg.model, cfg.method, cfg.data,
               (long)cfg.batch, (long)cfg.threads, n_blocks, n_blocks == 1 ? "" : "s");
        report_mem_table(stdout, &plan, NULL);
        if (n_blocks > 1) report_block_table(stdout, blocks, NULL, n_blocks);
        if (strcmp(cfg.method, "e2e")) {
            char a[32], b[32];
            printf("end-to-end (e2e) for comparison: act %s, total %s; %s saves %.1f%% of act, %.1f%% of total\n",
                   mem_format(e2e.peak[MEM_TAG_ACT], a, sizeof a), mem_format(e2e.peak_total, b, sizeof b),
                   cfg.method, save_act, save_total);
        }
        if ((st = replace_memplan_report(stdout, &cfg, &plan, NULL, &err))) return cli_fail("memplan", st, &err);
    }
    if (cfg.mem_limit > 0 && plan.peak_total > (size_t)cfg.mem_limit) {
        st = report_over_limit(&cfg, &plan, &err);
        return cli_fail("memplan", st, &err);
    }
    return 0;
}

static int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv) || argc < 2 || argv[1][0] == '-') {
        printf("usage: locus eval RUN_DIR [--data-dir DIR] [--limit-test N] [--threads N]\n"
               "Loads RUN_DIR/config.json and RUN_DIR/checkpoint.safetensors and prints the test accuracy.\n");
        return cli_wants_help(argc, argv) ? 0 : 2;
    }
    const char *dir = argv[1];
    ErrorMsg err = {{0}};
    TrainConfig cfg;
    train_config_defaults(&cfg);
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    Status st = config_load_json(&cfg, train_config_keys, path, &err);
    if (st) return cli_fail("eval", st, &err);
    if ((st = parse_config(&cfg, argc - 1, argv + 1, &err))) return cli_fail("eval", st, &err);
    Session s;
    st = session_open(&s, &cfg, 0, &err);
    RunState rs;
    double acc = 0;
    if (!st) st = checkpoint_load(&s, dir, &rs, &err);
    if (!st) st = session_evaluate(&s, &acc, &err);
    if (!st)
        printf("%s after epoch %d: test accuracy %.2f%% on %d images\n", dir, rs.epoch, 100 * acc, s.test_set.n);
    session_close(&s);
    return st ? cli_fail("eval", st, &err) : 0;
}

static int cmd_bench(int argc, char **argv) {
    BenchConfig cfg;
    bench_config_defaults(&cfg);
    if (cli_wants_help(argc, argv)) {
        printf("usage: locus bench [--KEY VALUE ...]\n"
               "Times training steps (forward + cross-entropy + backward + SGD) or inference forwards on a\n"
               "random batch; reports median/min/max step time, img/s, GFLOP/s and peak memory.\noptions:\n");
        config_print_help(stdout, &cfg, bench_config_keys);
        return 0;
    }
    ErrorMsg err = {{0}};
    int used = 0;
    Status st = config_parse_args(&cfg, bench_config_keys, argc - 1, argv + 1, &used, &err);
    if (!st && used < argc - 1)
        st = status_fail(&err, LOCUS_ERR_ARG, "unexpected argument '%s'\nhint: see locus bench --help", argv[1 + used]);
    BenchResult r;
    if (st || (st = bench_run(&cfg, &r, &err))) return cli_fail("bench", st, &err);
    if (cfg.json) {
        cJSON *o = bench_result_json(&cfg, &r);
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        bench_print(stdout, &cfg, &r);
    }
    bench_result_free(&r);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "data") && argc > 2 && !strcmp(argv[2], "fetch")) return cmd_data_fetch(argc - 2, argv + 2);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "memplan")) return cmd_memplan(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return cmd_data(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "locus: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
