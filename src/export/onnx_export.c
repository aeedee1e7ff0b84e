/* onnx_export.c — onnx_export (interop.h): declares the graph's input and output, lets the
 * architecture's builder add the nodes, and writes the model. */
#include "export/onnx_export.h"

#include <stdio.h>
#include <string.h>

#include "locus/interop.h"
#include "models/resnet.h"

Status onnx_export(const Model *m, const char *path, ErrorMsg *err) {
    OnnxGraph g;
    onnx_graph_init(&g, m->arch, m->params);
    const int64_t in_dims[4] = {-1, m->in_c, m->in_h, m->in_w}, out_dims[2] = {-1, m->classes};
    onnx_graph_input(&g, ONNX_INPUT, in_dims, 4);
    onnx_graph_output(&g, ONNX_OUTPUT, out_dims, 2);
    Status st;
    if (resnet_blocks_per_stage(m->arch))
        st = onnx_build_resnet(&g, m, err);
    else if (!strncmp(m->arch, "vit-", 4))
        st = onnx_build_vit(&g, m, err);
    else
        st = status_fail(err, LOCUS_ERR_ARG, "no ONNX exporter for %s\nhint: ResNets and ViTs can be exported", m->arch);
    char doc[160];
    snprintf(doc, sizeof doc, "%s exported by locus: input N x %d x %d x %d (normalised like the training data), "
             "output logits N x %d", m->arch, m->in_c, m->in_h, m->in_w, m->classes);
    if (!st) st = onnx_graph_write(&g, path, doc, err);
    onnx_graph_free(&g);
    return st;
}
