/* interop.h — moving a model's weights in and out of locus: PyTorch state dicts (safetensors) both
 * ways, inference on a batch, and ONNX export.
 *
 * State dicts use the ParamStore's names, which are PyTorch's (layer1.0.conv1.weight,
 * layer1.0.bn1.running_mean, blocks.0.attn.qkv.weight, ...), with PyTorch's shapes, so
 * `torch.nn.Module.load_state_dict(safetensors.torch.load_file(F), strict=True)` of the reference
 * modules (tools/ref/make_golden.py) takes a locus export unchanged, and a PyTorch state dict saved with
 * safetensors loads into locus. BatchNorm's num_batches_tracked is not written (locus does not track it,
 * and PyTorch fills a missing one with 0 when the dict carries no version metadata, as a plain dict from
 * safetensors does); on import it is accepted and ignored.
 *
 * Only the first `count` tensors of a ParamStore are involved: the model's own parameters, which are
 * registered before any method's auxiliary heads (session.c), so aux heads never leave and are never
 * overwritten. */
#ifndef LOCUS_INTEROP_H
#define LOCUS_INTEROP_H

#include "locus/model.h"
#include "locus/safetensors.h"
#include "locus/train.h"

/* Converts tensor t (F32, F64, F16 or BF16) to t->numel floats in dst. Any other dtype:
 * LOCUS_ERR_FORMAT naming the file (f) and the tensor. */
Status state_dict_tensor_f32(const StFile *f, const StTensor *t, float *dst, ErrorMsg *err);

/* Fills ps's tensors [0, count) from the safetensors file at path, by name. `what` names the model in
 * messages ("resnet8"). Errors (LOCUS_ERR_FORMAT, one message listing every problem, with a hint):
 * missing tensors, shape mismatches (both shapes), non-float dtypes, and — unless allow_extra —
 * tensors the model does not have ("*.num_batches_tracked" of one of its BatchNorms excepted). Nothing
 * is written into ps unless the whole file matches. I/O: LOCUS_ERR_IO. */
Status state_dict_load(ParamStore *ps, int count, const char *path, int allow_extra, const char *what,
                       ErrorMsg *err);
/* Writes ps's tensors [0, count) as F32 to path (atomically), with optional metadata (NULL-terminated
 * key, value, ... list; "format": "pt" is always added, as safetensors.torch.save_file does). */
Status state_dict_save(const ParamStore *ps, int count, const char *path, const char *const *meta_kv,
                       ErrorMsg *err);

/* Evaluation-mode logits (n x m->classes floats) of the batch x (n x in_c x in_h x in_w floats): a predictor
 * (predictor.h: micro-batches, one pipeline per thread) opened for the call and closed before returning (ACT and
 * SCRATCH of mt). */
Status model_predict(Model *m, MemTracker *mt, const float *x, int n, int threads, float *logits, ErrorMsg *err);

/* A trained model read back from a run folder: its resolved configuration (config.json), the model
 * built for the run's input geometry, and the weights of checkpoint.safetensors (aux heads and
 * optimizer state in the checkpoint are skipped). The model points into the struct: do not copy or
 * move a RunModel while it is open. Free with run_model_close (also after a failed open). */
typedef struct RunModel {
    TrainConfig cfg;
    MemTracker mt;
    ParamStore ps;
    Model model;
    int n_params; /* ps.count: the model's tensors */
} RunModel;
Status run_model_open(RunModel *r, const char *run_dir, ErrorMsg *err);
void run_model_close(RunModel *r);

/* ONNX (opset 17, IR version 8) for inference: input "input" N x C x H x W (N dynamic), output "logits"
 * N x classes, weights as initializers under their PyTorch names. ResNets: Conv, BatchNormalization,
 * Relu, Add, GlobalAveragePool, Flatten, Gemm. ViT: Conv, Reshape, Transpose, Shape, Slice, Concat,
 * Expand, Add, LayerNormalization, MatMul, Mul, Softmax, Erf, Gather, Gemm. LOCUS_ERR_ARG for an
 * architecture without an exporter, LOCUS_ERR_IO when the file cannot be written. */
Status onnx_export(const Model *m, const char *path, ErrorMsg *err);

/* What onnx_verify found. */
typedef struct OnnxSummary {
    long long ir_version, opset;
    int nodes, initializers;
    size_t weight_bytes;
    char ops[256]; /* distinct op types in first-use order, comma-separated */
} OnnxSummary;
/* Re-reads an ONNX file with protobuf-c and checks what onnx_export promises for model m: IR version 8,
 * opset 17, one input "input" [N, C, H, W] with N symbolic, one output "logits" [N, classes], every
 * initializer named after one of m's parameters with its shape and its exact bytes, every parameter
 * present, every node input produced before use (topological order), and the final node producing
 * "logits". LOCUS_ERR_FORMAT naming the first violation. */
Status onnx_verify(const char *path, const Model *m, OnnxSummary *out, ErrorMsg *err);

#endif
