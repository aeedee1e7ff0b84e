/* run_model.c — a trained model read back from its run folder (see interop.h), for `locus export`.
 *
 * The input geometry (C x H x W, classes) comes from the checkpoint's metadata ("input", "classes",
 * written since checkpoints learned them); for older checkpoints it is read from the dataset's first
 * test image, which needs the dataset on this machine. No training session is built: only the model's
 * parameters are allocated, and only the model's tensors are read from the checkpoint. */
#include <stdio.h>
#include <string.h>

#include "locus/interop.h"

static Status geometry_from_checkpoint(const char *path, ModelSpec *spec, ErrorMsg *err) {
    StFile f;
    Status st = safetensors_open(&f, path, err);
    if (st) return st;
    const char *input = safetensors_meta(&f, "input"), *classes = safetensors_meta(&f, "classes");
    if (input && classes && sscanf(input, "%dx%dx%d", &spec->in_c, &spec->in_h, &spec->in_w) == 3 &&
        sscanf(classes, "%d", &spec->classes) == 1) {
        safetensors_close(&f);
        return LOCUS_OK;
    }
    safetensors_close(&f);
    spec->classes = 0; /* older checkpoint: caller asks the dataset */
    return LOCUS_OK;
}

static Status geometry_from_dataset(const TrainConfig *cfg, ModelSpec *spec, ErrorMsg *err) {
    Dataset ds;
    Status st = dataset_load(&ds, cfg->data, cfg->data_dir[0] ? cfg->data_dir : NULL, 0, 1, NULL, err);
    if (st)
        return status_wrap(err, st, "the checkpoint does not record its input size, and the dataset to learn "
                           "it from cannot be read: ");
    spec->in_c = ds.c, spec->in_h = ds.h, spec->in_w = ds.w, spec->classes = ds.classes;
    dataset_free(&ds);
    return LOCUS_OK;
}

Status run_model_open(RunModel *r, const char *run_dir, ErrorMsg *err) {
    memset(r, 0, sizeof *r);
    params_init(&r->ps, &r->mt);
    train_config_defaults(&r->cfg);
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    Status st = config_load_json(&r->cfg, train_config_keys, path, err);
    if (st)
        return status_wrap(err, st, "%s is not a readable run folder (expected config.json and "
                           "checkpoint.safetensors written by locus train): ", run_dir);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run_dir);
    ModelSpec spec = {r->cfg.model, 0, 0, 0, 0};
    if ((st = geometry_from_checkpoint(path, &spec, err))) return status_wrap(err, st, "cannot read the checkpoint: ");
    if (!spec.classes && (st = geometry_from_dataset(&r->cfg, &spec, err))) return st;
    if ((st = model_create(&r->model, &spec, &r->ps, err))) return st;
    r->n_params = r->ps.count;
    if ((st = params_finalize(&r->ps, err))) return st;
    return state_dict_load(&r->ps, r->n_params, path, 1, r->cfg.model, err);
}

void run_model_close(RunModel *r) {
    if (r->model.params) model_free(&r->model);
    params_free(&r->ps);
    memset(r, 0, sizeof *r);
}
