/* onnx_verify.c — onnx_verify (interop.h): re-reads an exported file with protobuf-c and checks the
 * promises of onnx_export without any ONNX runtime: versions, the input/output signature, every
 * initializer against the model's parameter (name, dims, exact bytes), and that every node input exists
 * before the node runs. A pure-C check, so it runs where python3-onnx is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/onnx_export.h"
#include "locus/fileutil.h"
#include "locus/interop.h"

typedef struct Names {
    const char **v;
    int n;
} Names;

static int names_has(const Names *s, const char *name) {
    for (int i = s->n - 1; i >= 0; i--)
        if (!strcmp(s->v[i], name)) return 1;
    return 0;
}

static Status check_value(const char *path, const char *what, const Onnx__ValueInfoProto *v, const char *name,
                          const int64_t *dims, int ndims, ErrorMsg *err) {
    if (!v->name || strcmp(v->name, name))
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: the graph %s is '%s', expected '%s'\nhint: not written by "
                           "locus export", path, what, v->name ? v->name : "", name);
    const Onnx__TypeProto *tp = v->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type->shape ||
        tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
        (int)tp->tensor_type->shape->n_dim != ndims)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %s '%s' is not a float tensor of rank %d\nhint: not written "
                           "by locus export", path, what, name, ndims);
    for (int i = 0; i < ndims; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tp->tensor_type->shape->dim[i];
        int ok = dims[i] < 0 ? d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                             : d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                                   d->dim_value == dims[i];
        if (!ok)
            return status_fail(err, LOCUS_ERR_FORMAT, "%s: dimension %d of %s '%s' should be %s%lld\nhint: the file "
                               "does not belong to this model", path, i, what, name, dims[i] < 0 ? "symbolic, not " : "",
                               (long long)(dims[i] < 0 ? d->dim_value : dims[i]));
    }
    return LOCUS_OK;
}

static Status check_initializers(const char *path, const Onnx__GraphProto *gr, const Model *m, OnnxSummary *out,
                                 ErrorMsg *err) {
    const ParamStore *ps = m->params;
    int found = 0;
    for (size_t i = 0; i < gr->n_initializer; i++) {
        const Onnx__TensorProto *t = gr->initializer[i];
        if (!t->name) return status_fail(err, LOCUS_ERR_FORMAT, "%s: initializer %zu has no name", path, i);
        out->weight_bytes += t->raw_data.len;
        int h = params_find(ps, t->name);
        if (h < 0) {
            if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && t->raw_data.len > 64)
                return status_fail(err, LOCUS_ERR_FORMAT, "%s: initializer '%s' (%zu bytes) is not a parameter of "
                                   "%s\nhint: the file does not belong to this model", path, t->name, t->raw_data.len,
                                   m->arch);
            continue; /* a small constant: shape, axis or scale */
        }
        const ParamInfo *p = &ps->info[h];
        int same = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && (int)t->n_dims == p->shape.ndim &&
                   t->raw_data.len == p->numel * sizeof(float);
        for (int k = 0; same && k < p->shape.ndim; k++) same = t->dims[k] == p->shape.d[k];
        if (!same)
            return status_fail(err, LOCUS_ERR_FORMAT, "%s: initializer '%s' has %zu dims / %zu bytes, the parameter "
                               "%zu floats of rank %d\nhint: the file does not belong to this model", path, t->name,
                               t->n_dims, t->raw_data.len, p->numel, p->shape.ndim);
        if (memcmp(t->raw_data.data, params_value(ps, h), t->raw_data.len))
            return status_fail(err, LOCUS_ERR_FORMAT, "%s: initializer '%s' holds other values than the model's "
                               "parameter\nhint: the file was exported from other weights", path, t->name);
        found++;
    }
    if (found != ps->count)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %d of the model's %d parameters are initializers\nhint: the "
                           "export is incomplete", path, found, ps->count);
    out->initializers = (int)gr->n_initializer;
    return LOCUS_OK;
}

static Status check_nodes(const char *path, const Onnx__GraphProto *gr, OnnxSummary *out, ErrorMsg *err) {
    Names known = {calloc(gr->n_initializer + gr->n_node + 1, sizeof(char *)), 0};
    if (!known.v) return status_fail(err, LOCUS_ERR_OOM, "out of memory checking %s", path);
    Status st = LOCUS_OK;
    known.v[known.n++] = ONNX_INPUT;
    for (size_t i = 0; i < gr->n_initializer; i++) known.v[known.n++] = gr->initializer[i]->name;
    for (size_t i = 0; i < gr->n_node && !st; i++) {
        const Onnx__NodeProto *n = gr->node[i];
        for (size_t k = 0; k < n->n_input && !st; k++)
            if (!names_has(&known, n->input[k]))
                st = status_fail(err, LOCUS_ERR_FORMAT, "%s: node %zu (%s) reads '%s' before anything produces it\n"
                                 "hint: the graph is not in topological order or is damaged", path, i, n->op_type,
                                 n->input[k]);
        if (!st && n->n_output != 1)
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: node %zu (%s) has %zu outputs, expected 1", path, i,
                             n->op_type, n->n_output);
        if (st) break;
        known.v[known.n++] = n->output[0];
        char needle[40];
        snprintf(needle, sizeof needle, ",%s,", n->op_type);
        char hay[sizeof out->ops + 2];
        snprintf(hay, sizeof hay, ",%s,", out->ops);
        if (!strstr(hay, needle)) {
            size_t len = strlen(out->ops);
            snprintf(out->ops + len, sizeof out->ops - len, "%s%s", len ? "," : "", n->op_type);
        }
    }
    if (!st && (!gr->n_node || strcmp(gr->node[gr->n_node - 1]->output[0], ONNX_OUTPUT)))
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: the last node does not produce '%s'", path, ONNX_OUTPUT);
    out->nodes = (int)gr->n_node;
    free(known.v);
    return st;
}

Status onnx_verify(const char *path, const Model *m, OnnxSummary *out, ErrorMsg *err) {
    memset(out, 0, sizeof *out);
    size_t n = 0;
    char *buf = file_read_all(path, &n, err);
    if (!buf) return LOCUS_ERR_IO;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, n, (const uint8_t *)buf);
    free(buf);
    if (!mp)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s is not an ONNX model (protobuf-c cannot parse it)\nhint: the "
                           "file is damaged or truncated; export it again", path);
    Status st = LOCUS_OK;
    const Onnx__GraphProto *gr = mp->graph;
    out->ir_version = mp->ir_version;
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (!mp->opset_import[i]->domain || !mp->opset_import[i]->domain[0]) out->opset = mp->opset_import[i]->version;
    const int64_t in_dims[4] = {-1, m->in_c, m->in_h, m->in_w}, out_dims[2] = {-1, m->classes};
    if (out->ir_version != ONNX_IR_VERSION || out->opset != ONNX_OPSET)
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: IR version %lld, opset %lld; expected %d and %d", path,
                         out->ir_version, out->opset, ONNX_IR_VERSION, ONNX_OPSET);
    else if (!gr || gr->n_input != 1 || gr->n_output != 1)
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: expected a graph with one input and one output", path);
    if (!st) st = check_value(path, "input", gr->input[0], ONNX_INPUT, in_dims, 4, err);
    if (!st) st = check_value(path, "output", gr->output[0], ONNX_OUTPUT, out_dims, 2, err);
    if (!st) st = check_initializers(path, gr, m, out, err);
    if (!st) st = check_nodes(path, gr, out, err);
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}
