/* onnx_export.h — the per-architecture graph builders behind onnx_export (interop.h). Each appends
 * the nodes from the graph input ONNX_INPUT to the node producing ONNX_OUTPUT, using the model's
 * ParamStore (g->ps) for weights and shapes. */
#ifndef LOCUS_EXPORT_ONNX_EXPORT_H
#define LOCUS_EXPORT_ONNX_EXPORT_H

#include "export/onnx_graph.h"
#include "locus/model.h"

#define ONNX_INPUT "input"
#define ONNX_OUTPUT "logits"

Status onnx_build_resnet(OnnxGraph *g, const Model *m, ErrorMsg *err);
Status onnx_build_vit(OnnxGraph *g, const Model *m, ErrorMsg *err);

#endif
