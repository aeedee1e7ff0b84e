/* config_keys.c — every training option: its key (= long option, with '-' for '_'), type, range and
 * help text, and the defaults. The defaults train ResNet-8 on
 * Fashion-MNIST (Debian's dataset-fashion-mnist), finishing in minutes on 2 cores. */
#include <stddef.h>
#include <string.h>

#include "locus/train.h"

#define K(name, type, lo, hi, choices, help) \
    {#name, type, offsetof(TrainConfig, name), sizeof(((TrainConfig *)0)->name), lo, hi, choices, help}

const CfgKey train_config_keys[] = {
    K(model, CFG_STRING, 0, 0, "resnet8|resnet20|resnet32|resnet44|resnet56|resnet110|vit-tiny|vit-micro",
      "network architecture"),
    K(data, CFG_STRING, 0, 0, "fashion-mnist|mnist|cifar10|cifar100|svhn|stl10|imagefolder", "dataset"),
    K(data_dir, CFG_STRING, 0, 0, NULL,
      "dataset folder (default: the Debian package's for fashion-mnist, ./data for cifar10/cifar100/svhn/stl10)"),
    K(method, CFG_STRING, 0, 0, "e2e|greedy|dgl|infopro|pff|hilo|hpff|man|man++|replace", "training method"),
    K(cuts, CFG_STRING, 0, 0, NULL,
      "local learning: cut after these units, e.g. \"1.2,2.1,3.0\" (stage.index; 0.0 = the stem)"),
    K(k, CFG_INT, 0, LOCUS_MAX_BLOCKS, NULL,
      "local learning: number of modules K (the papers' cut lists for resnet32/110, balanced otherwise; 0 = use --cuts)"),
    K(k_convention, CFG_STRING, 0, 0, "auto|infopro|hpff",
      "which papers' cut lists --k maps to (infopro: stem may be its own module; hpff: stem merged into the first; "
      "auto: hpff for hilo, hpff, man, man++, infopro otherwise)"),
    K(aux, CFG_STRING, 0, 0, "default|greedy|dgl|dgl-orig|1c2f|2c2f|infopro",
      "auxiliary classifier of local modules (default: greedy->greedy, dgl->dgl, infopro->1c2f, hilo/hpff->2c2f, "
      "man/man++->infopro = decoder + 2c2f)"),
    K(infopro_mode, CFG_STRING, 0, 0, "contrast|softmax", "InfoPro's label term: SupCon (contrast) or CE (softmax)"),
    K(lambda_convention, CFG_STRING, 0, 0, "auto|infopro|hpff|man",
      "how a module's loss weights follow its position (the InfoPro, HPFF or MAN code's convention; auto: the "
      "method's own; man = the MAN code's stage-based ratio, infopro/hpff = module-based)"),
    K(pff_sequential, CFG_BOOL, 0, 1, NULL,
      "PFF: backpropagate each patch decoder at once, so one patch is alive at a time (same gradients, less memory)"),
    K(hilo_wx, CFG_FLOAT, 0, 1000, NULL, "HiLo: weight of the independent losses (the HPFF code's wx)"),
    K(hilo_wy, CFG_FLOAT, 0, 1000, NULL, "HiLo: weight of the cascade losses (the HPFF code's wy)"),
    K(hilo_mode, CFG_STRING, 0, 0, "recompute|once|naive",
      "HiLo/HPFF: recompute = one segment's activations alive, each block evaluated twice (least memory); once = "
      "each block evaluated once, two segments alive (fastest); naive = three evaluations like the reference code"),
    K(recompute_units, CFG_BOOL, 0, 1, NULL,
      "e2e: keep only each unit's output in the forward and evaluate every unit again in the backward (gradient "
      "checkpointing: same gradients, a fraction of the activation memory, one more forward per step)"),
    K(profile, CFG_BOOL, 0, 1, NULL,
      "time every layer's forward and backward in the training steps; the run ends with ms and GFLOP/s per layer "
      "type and convolution geometry per step, auxiliary heads included (summary.json: \"profile\")"),
    K(profile_layers, CFG_BOOL, 0, 1, NULL, "with --profile: one row per layer (by name) instead of per type"),
    K(ixx1, CFG_FLOAT, -1, 1000, NULL, "InfoPro lambda1 (reconstruction) of the first module (-1: the paper's value for K)"),
    K(ixx2, CFG_FLOAT, -1, 1000, NULL, "InfoPro lambda1 of the last local module (-1: the paper's value for K)"),
    K(ixy1, CFG_FLOAT, -1, 1000, NULL, "InfoPro lambda2 (label term) of the first module (-1: the paper's value for K)"),
    K(ixy2, CFG_FLOAT, -1, 1000, NULL, "InfoPro lambda2 of the last local module (-1: the paper's value for K)"),
    K(ema_decay, CFG_FLOAT, 0, 1, NULL, "MAN/MAN++: EMA momentum m of the EMA copies (theta = m theta + (1-m) theta_next)"),
    K(man_init, CFG_STRING, 0, 0, "random|copy",
      "MAN/MAN++: LB and EMA copies start from a fresh random init (the authors' code) or from the next block's weights"),
    K(epochs, CFG_INT, 1, 100000, NULL, "epochs"),
    K(batch, CFG_INT, 1, 65536, NULL, "batch size"),
    K(lr, CFG_FLOAT, 0, 100, NULL, "base learning rate"),
    K(optimizer, CFG_STRING, 0, 0, "sgd|adamw", "optimizer"),
    K(momentum, CFG_FLOAT, 0, 1, NULL, "SGD momentum"),
    K(nesterov, CFG_BOOL, 0, 1, NULL, "SGD Nesterov momentum"),
    K(weight_decay, CFG_FLOAT, 0, 10, NULL, "weight decay (SGD: L2 on all parameters; AdamW: decoupled)"),
    K(beta1, CFG_FLOAT, 0, 1, NULL, "AdamW beta1"),
    K(beta2, CFG_FLOAT, 0, 1, NULL, "AdamW beta2"),
    K(schedule, CFG_STRING, 0, 0, "constant|step|cosine|warmup-cosine",
      "learning-rate schedule (warmup-cosine = the papers' per-epoch schedule)"),
    K(warmup_steps, CFG_INT, 0, 100000000, NULL, "linear warm-up steps of the cosine schedule"),
    K(lr_step_epochs, CFG_INT, 1, 100000, NULL, "step schedule: epochs between decays"),
    K(lr_gamma, CFG_FLOAT, 0, 1, NULL, "step schedule: decay factor"),
    K(label_smoothing, CFG_FLOAT, 0, 0.99, NULL, "label smoothing of the cross-entropy"),
    K(augment, CFG_BOOL, 0, 1, NULL, "training augmentation (pad + random crop + flip)"),
    K(seed, CFG_INT, 0, 9007199254740991.0, NULL, "random seed (init, shuffle, augmentation, dropout)"),
    K(threads, CFG_INT, 1, 256, NULL, "OpenMP threads"),
    K(out, CFG_STRING, 0, 0, NULL, "folder that holds the run folders"),
    K(name, CFG_STRING, 0, 0, NULL, "run name (folder <out>/<name>; default: <model>-<data>-<method>)"),
    K(limit_train, CFG_INT, 0, 100000000, NULL, "use only the first N training images (0 = all)"),
    K(limit_test, CFG_INT, 0, 100000000, NULL, "use only the first N test images (0 = all)"),
    K(stop_after, CFG_INT, 0, 100000, NULL,
      "stop after this many epochs, keeping the schedule of --epochs (continue later with --resume; 0 = run all)"),
    K(overwrite, CFG_BOOL, 0, 1, NULL, "replace a finished or interrupted run in the same run folder"),
    K(mem_limit, CFG_INT, 0, 9.2e18, NULL, "refuse to start if the planned peak exceeds this many bytes (K/M/G suffixes; 0 = no limit)"),
    K(progress, CFG_STRING, 0, 0, "auto|line|none", "progress display (auto: redraw on a terminal, lines otherwise)"),
    K(init_from, CFG_STRING, 0, 0, NULL,
      "start from these weights: a PyTorch state dict in safetensors (PyTorch names; aux heads keep their init)"),
    K(cifar100_labels, CFG_STRING, 0, 0, "fine|coarse", "cifar100: the 100 fine labels or the 20 coarse superclasses"),
    K(image_size, CFG_INT, 8, 4096, NULL, "imagefolder: side of the square samples (e.g. 32, 64, 96, 224)"),
    K(decode_threads, CFG_INT, 1, 64, NULL, "imagefolder: threads decoding each batch (per loader)"),
    K(image_max_pixels, CFG_INT, 0, 1e9, NULL,
      "imagefolder: decoded pixels per image at most (bigger JPEGs are DCT-scaled down; 0 = max(2^20, 64 x size^2))"),
    K(dist, CFG_STRING, 0, 0, "none|pipeline|data",
      "distributed training under mpirun: pipeline (local-learning blocks on ranks) or data (shards of each batch)"),
    K(dist_map, CFG_STRING, 0, 0, NULL, "--dist pipeline: blocks per rank, e.g. \"3,1\" (default: balanced by predicted FLOPs)"),
    K(dist_queue, CFG_INT, 1, 64, NULL, "--dist pipeline: batches in flight between two ranks (bounds memory)"),
    K(dist_replicas, CFG_INT, 1, 64, NULL,
      "--dist pipeline: N copies of the pipeline, each training on 1/N of every batch, gradients summed per stage "
      "(mpirun -np = stages x N)"),
    K(dist_sync_bn, CFG_BOOL, 0, 1, NULL,
      "--dist data or --dist-replicas > 1: BatchNorm normalises with the whole batch's statistics, synchronised "
      "over the shards (SyncBatchNorm; off: each shard's own, as PyTorch DDP)"),
    K(replace_every, CFG_INT, -1, 1000, NULL,
      "Replacement Learning with any method: every K-th block (K >= 2) whose neighbours have the same parameter "
      "shapes computes its weights as a*prev + b*next (0 = off; -1 = 4 with --method replace, off otherwise)"),
    K(replace_count, CFG_STRING, 0, 0, "network|stage",
      "Replacement Learning: count blocks over the whole network (the paper) or within each stage"),
    K(replace_neighbour_grad, CFG_BOOL, 0, 1, NULL,
      "Replacement Learning: the neighbours also get the replaced block's weight gradient (a*dP, b*dP; the "
      "paper's Eq. 15); --no-replace-neighbour-grad: only a and b do"),
    K(replace_scope, CFG_STRING, 0, 0, "default|all",
      "Replacement Learning: what is replaced (default: the whole residual block, or the ViT's attention "
      "qkv + proj; all: every parameter of the ViT block)"),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

void train_config_defaults(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->model, "resnet8");
    strcpy(c->data, "fashion-mnist");
    strcpy(c->method, "e2e");
    strcpy(c->k_convention, "auto");
    strcpy(c->aux, "default");
    strcpy(c->infopro_mode, "contrast");
    strcpy(c->lambda_convention, "auto");
    c->pff_sequential = 1;
    strcpy(c->hilo_mode, "recompute");
    c->hilo_wx = 0.001;
    c->hilo_wy = 0.999;
    c->ixx1 = c->ixx2 = c->ixy1 = c->ixy2 = -1;
    c->ema_decay = 0.995;
    strcpy(c->man_init, "random");
    c->epochs = 3;
    c->batch = 128;
    c->lr = 0.1;
    strcpy(c->optimizer, "sgd");
    c->momentum = 0.9;
    c->nesterov = 1;
    c->weight_decay = 1e-4;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    strcpy(c->schedule, "cosine");
    c->warmup_steps = 0;
    c->lr_step_epochs = 30;
    c->lr_gamma = 0.1;
    c->augment = 1;
    c->seed = 1;
    c->threads = 2;
    strcpy(c->out, "runs");
    strcpy(c->progress, "auto");
    strcpy(c->cifar100_labels, "fine");
    c->image_size = 224;
    c->decode_threads = 2;
    strcpy(c->dist, "none");
    c->dist_queue = 2;
    c->dist_replicas = 1;
    c->replace_every = -1;
    strcpy(c->replace_count, "network");
    c->replace_neighbour_grad = 1;
    strcpy(c->replace_scope, "default");
}
