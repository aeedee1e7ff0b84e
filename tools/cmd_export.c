/* cmd_export.c — `locus export RUN_DIR --format safetensors|onnx --out FILE`: a trained model's weights
 * for other tools. safetensors: the model's parameters and buffers under their PyTorch state_dict
 * names (no aux heads, no optimizer state), for torch.nn.Module.load_state_dict or `locus train
 * --init-from`. onnx: an inference graph (opset 17), re-read and verified after writing. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "locus/interop.h"

static void export_usage(FILE *f) {
    fprintf(f, "usage: locus export RUN_DIR --format safetensors|onnx --out FILE\n"
               "Writes the model of a training run (RUN_DIR/checkpoint.safetensors, the last epoch's weights):\n"
               "  safetensors  parameters and buffers with PyTorch state_dict names (no aux heads, no optimizer\n"
               "               state): torch model.load_state_dict(safetensors.torch.load_file(FILE)), or\n"
               "               locus train --init-from FILE\n"
               "  onnx         inference graph, opset 17, input \"input\" N x C x H x W (N dynamic), output\n"
               "               \"logits\"; checked by re-reading it after writing\n");
}

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        export_usage(stdout);
        return 0;
    }
    ErrorMsg err = {{0}};
    const char *format = cli_take_option(&argc, argv, "--format", 1);
    const char *out = cli_take_option(&argc, argv, "--out", 1);
    if (argc != 2 || argv[1][0] == '-') {
        export_usage(stderr);
        return cli_fail("export", status_fail(&err, LOCUS_ERR_ARG, "%s\nhint: locus export RUN_DIR --format "
                                              "safetensors --out model.safetensors",
                                              argc < 2 ? "missing RUN_DIR" : "unexpected argument"), &err);
    }
    if (!format || (strcmp(format, "safetensors") && strcmp(format, "onnx")))
        return cli_fail("export", status_fail(&err, LOCUS_ERR_ARG, "%s%s%s\nhint: --format safetensors (PyTorch "
                                              "state dict) or --format onnx", format ? "unknown format '" : "missing --format",
                                              format ? format : "", format ? "'" : ""), &err);
    if (!out || !out[0])
        return cli_fail("export", status_fail(&err, LOCUS_ERR_ARG, "missing --out FILE\nhint: e.g. --out %s",
                                              strcmp(format, "onnx") ? "model.safetensors" : "model.onnx"), &err);
    RunModel r;
    Status st = run_model_open(&r, argv[1], &err);
    if (!st && !strcmp(format, "safetensors")) {
        char shape[64];
        snprintf(shape, sizeof shape, "%dx%dx%d", r.model.in_c, r.model.in_h, r.model.in_w);
        const char *meta[] = {"locus_model", r.cfg.model, "locus_input", shape, NULL};
        st = state_dict_save(&r.ps, r.n_params, out, meta, &err);
        if (!st) printf("wrote %s: %s, %d tensors (PyTorch state_dict names), input %s\n", out, r.cfg.model,
                        r.n_params, shape);
    } else if (!st) {
        OnnxSummary sum;
        st = onnx_export(&r.model, out, &err);
        if (!st) st = onnx_verify(out, &r.model, &sum, &err);
        if (!st)
            printf("wrote %s: %s, ONNX IR %lld opset %lld, %d nodes (%s), %d initializers (%zu bytes); "
                   "re-read and verified\n", out, r.cfg.model, sum.ir_version, sum.opset, sum.nodes, sum.ops,
                   sum.initializers, sum.weight_bytes);
    }
    run_model_close(&r);
    return st ? cli_fail("export", st, &err) : 0;
}
