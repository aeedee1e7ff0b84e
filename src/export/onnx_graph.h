/* onnx_graph.h — a small builder for ONNX graphs on top of the protobuf-c structs generated from
 * Debian's onnx.proto (build/gen/onnx.pb-c.h): nodes in topological order, float initializers that
 * point at the ParamStore (weights are not copied; raw_data, little-endian), small int64/float
 * constants, and the graph's typed input/output. Every string and struct the graph owns is recorded
 * and released by onnx_graph_free. Allocation failures are sticky: builders keep going and
 * onnx_graph_write reports LOCUS_ERR_OOM. */
#ifndef LOCUS_EXPORT_ONNX_GRAPH_H
#define LOCUS_EXPORT_ONNX_GRAPH_H

#include <stdint.h>

#include "locus/params.h"
#include "locus/status.h"
#include "onnx.pb-c.h"

#define ONNX_IR_VERSION 8
#define ONNX_OPSET 17

typedef struct OnnxGraph {
    Onnx__GraphProto g;
    size_t cap_node, cap_init;
    void **owned;         /* every allocation, freed by onnx_graph_free */
    size_t n_owned, cap_owned;
    int counter;          /* for unique value names */
    int oom;
    const ParamStore *ps; /* where parameter initializers come from */
    char missing[96];     /* first parameter asked for that the store does not have */
} OnnxGraph;

/* An attribute of a node: ints (n_ints > 0 or a list), one int, or one float. */
typedef enum OnnxAttrKind { ONNX_ATTR_INT, ONNX_ATTR_INTS, ONNX_ATTR_FLOAT } OnnxAttrKind;
typedef struct OnnxAttr {
    const char *name;
    OnnxAttrKind kind;
    int64_t i;
    float f;
    const int64_t *ints;
    int n_ints;
} OnnxAttr;

void onnx_graph_init(OnnxGraph *g, const char *name, const ParamStore *ps);
void onnx_graph_free(OnnxGraph *g);

/* The initializer for parameter `name` of the ParamStore (added on first use; same shape as the
 * parameter); returns the value name (== name), or NULL (and g->missing set) when there is no such
 * parameter. */
const char *onnx_param(OnnxGraph *g, const char *name);
/* A constant int64 tensor (rank 1 of n values, or a scalar when scalar != 0), copied. */
const char *onnx_const_i64(OnnxGraph *g, const int64_t *v, int n, int scalar);
/* A constant float scalar. */
const char *onnx_const_f32(OnnxGraph *g, float v);

/* Appends a node with one output and returns the output's name: `out` if given, else a fresh name
 * built from `hint` ("hint" or "hint_<k>"). in: n_in value names. */
const char *onnx_node(OnnxGraph *g, const char *op, const char *hint, const char *out, const char *const *in,
                      int n_in, const OnnxAttr *attrs, int n_attrs);
static inline const char *onnx_node1(OnnxGraph *g, const char *op, const char *hint, const char *a) {
    return onnx_node(g, op, hint, NULL, &a, 1, NULL, 0);
}
static inline const char *onnx_node2(OnnxGraph *g, const char *op, const char *hint, const char *a, const char *b) {
    const char *in[2] = {a, b};
    return onnx_node(g, op, hint, NULL, in, 2, NULL, 0);
}

/* Declares a float graph input or output; dims[i] < 0 is the symbolic batch dimension "N". */
void onnx_graph_input(OnnxGraph *g, const char *name, const int64_t *dims, int ndims);
void onnx_graph_output(OnnxGraph *g, const char *name, const int64_t *dims, int ndims);

/* Wraps the graph in a ModelProto (IR 8, opset 17, producer "locus"), serialises it and writes path
 * atomically. LOCUS_ERR_ARG when a parameter was missing while building (g->missing). */
Status onnx_graph_write(OnnxGraph *g, const char *path, const char *doc, ErrorMsg *err);

#endif
