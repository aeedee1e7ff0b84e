/* onnx_graph.c — see onnx_graph.h. protobuf-c messages are plain structs initialised with their
 * generated *__INIT values; repeated fields are (count, pointer array) pairs grown here by doubling. */
#include "export/onnx_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/fileutil.h"

static void *owned_alloc(OnnxGraph *g, size_t bytes) {
    if (g->oom) return NULL;
    if (g->n_owned == g->cap_owned) {
        size_t cap = g->cap_owned ? 2 * g->cap_owned : 256;
        void **grown = realloc(g->owned, cap * sizeof *grown);
        if (!grown) return g->oom = 1, NULL;
        g->owned = grown, g->cap_owned = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) return g->oom = 1, NULL;
    g->owned[g->n_owned++] = p;
    return p;
}

static char *owned_str(OnnxGraph *g, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = owned_alloc(g, n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Makes room for one more pointer in a repeated field (count *n, array *arr, capacity *cap). */
static int grow(OnnxGraph *g, void ***arr, size_t n, size_t *cap) {
    if (g->oom) return 0;
    if (n < *cap) return 1;
    size_t c = *cap ? 2 * *cap : 64;
    void **grown = owned_alloc(g, c * sizeof *grown);
    if (!grown) return 0;
    if (n) memcpy(grown, *arr, n * sizeof *grown);
    *arr = grown, *cap = c;
    return 1;
}

void onnx_graph_init(OnnxGraph *g, const char *name, const ParamStore *ps) {
    memset(g, 0, sizeof *g);
    onnx__graph_proto__init(&g->g);
    g->ps = ps;
    g->g.name = owned_str(g, name);
}

void onnx_graph_free(OnnxGraph *g) {
    for (size_t i = 0; i < g->n_owned; i++) free(g->owned[i]);
    free(g->owned);
    memset(g, 0, sizeof *g);
}

static Onnx__TensorProto *new_tensor(OnnxGraph *g, const char *name, int32_t type, const int64_t *dims, int ndims) {
    Onnx__TensorProto *t = owned_alloc(g, sizeof *t);
    int64_t *d = owned_alloc(g, sizeof(int64_t) * (size_t)(ndims ? ndims : 1));
    if (!t || !d || !grow(g, (void ***)&g->g.initializer, g->g.n_initializer, &g->cap_init)) return NULL;
    onnx__tensor_proto__init(t);
    t->name = owned_str(g, name);
    t->has_data_type = 1;
    t->data_type = type;
    if (ndims) memcpy(d, dims, sizeof(int64_t) * (size_t)ndims);
    t->n_dims = (size_t)ndims;
    t->dims = d;
    t->has_raw_data = 1;
    g->g.initializer[g->g.n_initializer++] = t;
    return t;
}

const char *onnx_param(OnnxGraph *g, const char *name) {
    for (size_t i = 0; i < g->g.n_initializer; i++)
        if (g->g.initializer[i]->name && !strcmp(g->g.initializer[i]->name, name)) return g->g.initializer[i]->name;
    int h = params_find(g->ps, name);
    if (h < 0) {
        if (!g->missing[0]) snprintf(g->missing, sizeof g->missing, "%s", name);
        return NULL;
    }
    const ParamInfo *p = &g->ps->info[h];
    int64_t dims[TENSOR_MAX_DIMS];
    for (int k = 0; k < p->shape.ndim; k++) dims[k] = p->shape.d[k];
    Onnx__TensorProto *t = new_tensor(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, p->shape.ndim);
    if (!t) return NULL;
    t->raw_data.len = p->numel * sizeof(float); /* host is little-endian (safetensors.h checks) */
    t->raw_data.data = (uint8_t *)params_value(g->ps, h);
    return t->name;
}

static const char *fresh_name(OnnxGraph *g, const char *hint) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s_%d", hint, g->counter++);
    return owned_str(g, buf);
}

const char *onnx_const_i64(OnnxGraph *g, const int64_t *v, int n, int scalar) {
    const char *name = fresh_name(g, "const");
    int64_t dims[1] = {n};
    Onnx__TensorProto *t = name ? new_tensor(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, dims, scalar ? 0 : 1) : NULL;
    uint8_t *data = owned_alloc(g, sizeof(int64_t) * (size_t)n);
    if (!t || !data) return NULL;
    memcpy(data, v, sizeof(int64_t) * (size_t)n);
    t->raw_data.len = sizeof(int64_t) * (size_t)n;
    t->raw_data.data = data;
    return t->name;
}

const char *onnx_const_f32(OnnxGraph *g, float v) {
    const char *name = fresh_name(g, "const");
    Onnx__TensorProto *t = name ? new_tensor(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0) : NULL;
    uint8_t *data = owned_alloc(g, sizeof v);
    if (!t || !data) return NULL;
    memcpy(data, &v, sizeof v);
    t->raw_data.len = sizeof v;
    t->raw_data.data = data;
    return t->name;
}

static Onnx__AttributeProto *new_attr(OnnxGraph *g, const OnnxAttr *a) {
    Onnx__AttributeProto *p = owned_alloc(g, sizeof *p);
    if (!p) return NULL;
    onnx__attribute_proto__init(p);
    p->name = owned_str(g, a->name);
    p->has_type = 1;
    if (a->kind == ONNX_ATTR_INT) {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        p->has_i = 1, p->i = a->i;
    } else if (a->kind == ONNX_ATTR_FLOAT) {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        p->has_f = 1, p->f = a->f;
    } else {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        p->ints = owned_alloc(g, sizeof(int64_t) * (size_t)a->n_ints);
        if (!p->ints) return NULL;
        memcpy(p->ints, a->ints, sizeof(int64_t) * (size_t)a->n_ints);
        p->n_ints = (size_t)a->n_ints;
    }
    return p;
}

const char *onnx_node(OnnxGraph *g, const char *op, const char *hint, const char *out, const char *const *in,
                      int n_in, const OnnxAttr *attrs, int n_attrs) {
    for (int i = 0; i < n_in; i++)
        if (!in[i]) return NULL; /* an earlier failure (missing parameter or out of memory) */
    Onnx__NodeProto *n = owned_alloc(g, sizeof *n);
    char **inputs = owned_alloc(g, sizeof(char *) * (size_t)(n_in ? n_in : 1));
    char **outputs = owned_alloc(g, sizeof(char *));
    Onnx__AttributeProto **ap = owned_alloc(g, sizeof *ap * (size_t)(n_attrs ? n_attrs : 1));
    const char *name = out ? owned_str(g, out) : fresh_name(g, hint);
    if (!n || !inputs || !outputs || !ap || !name || !grow(g, (void ***)&g->g.node, g->g.n_node, &g->cap_node))
        return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < n_in; i++) inputs[i] = (char *)in[i];
    for (int i = 0; i < n_attrs; i++)
        if (!(ap[i] = new_attr(g, &attrs[i]))) return NULL;
    outputs[0] = (char *)name;
    n->input = inputs, n->n_input = (size_t)n_in;
    n->output = outputs, n->n_output = 1;
    n->attribute = ap, n->n_attribute = (size_t)n_attrs;
    n->name = (char *)name;
    n->op_type = owned_str(g, op);
    g->g.node[g->g.n_node++] = n;
    return name;
}

static Onnx__ValueInfoProto *value_info(OnnxGraph *g, const char *name, const int64_t *dims, int ndims) {
    Onnx__ValueInfoProto *v = owned_alloc(g, sizeof *v);
    Onnx__TypeProto *tp = owned_alloc(g, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = owned_alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *sh = owned_alloc(g, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **d = owned_alloc(g, sizeof *d * (size_t)ndims);
    if (!v || !tp || !tt || !sh || !d) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < ndims; i++) {
        if (!(d[i] = owned_alloc(g, sizeof *d[i]))) return NULL;
        onnx__tensor_shape_proto__dimension__init(d[i]);
        if (dims[i] < 0) {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d[i]->dim_param = owned_str(g, "N");
        } else {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[i]->dim_value = dims[i];
        }
    }
    sh->n_dim = (size_t)ndims, sh->dim = d;
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = owned_str(g, name);
    v->type = tp;
    return v;
}

static void add_value(OnnxGraph *g, Onnx__ValueInfoProto ***arr, size_t *n, const char *name, const int64_t *dims,
                      int ndims) {
    Onnx__ValueInfoProto *v = value_info(g, name, dims, ndims);
    Onnx__ValueInfoProto **grown = owned_alloc(g, sizeof *grown * (*n + 1));
    if (!v || !grown) return;
    if (*n) memcpy(grown, *arr, sizeof *grown * *n);
    grown[(*n)++] = v;
    *arr = grown;
}

void onnx_graph_input(OnnxGraph *g, const char *name, const int64_t *dims, int ndims) {
    add_value(g, &g->g.input, &g->g.n_input, name, dims, ndims);
}

void onnx_graph_output(OnnxGraph *g, const char *name, const int64_t *dims, int ndims) {
    add_value(g, &g->g.output, &g->g.n_output, name, dims, ndims);
}

Status onnx_graph_write(OnnxGraph *g, const char *path, const char *doc, ErrorMsg *err) {
    if (g->missing[0])
        return status_fail(err, LOCUS_ERR_ARG, "ONNX export: the model has no parameter '%s'\nhint: this model's "
                           "layout is not one the exporter knows", g->missing);
    if (g->oom) return status_fail(err, LOCUS_ERR_OOM, "out of memory building the ONNX graph for %s", path);
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1, opset.version = ONNX_OPSET;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1, model.ir_version = ONNX_IR_VERSION;
    model.n_opset_import = 1, model.opset_import = opsets;
    model.producer_name = "locus";
    model.producer_version = "1";
    model.doc_string = (char *)doc;
    model.graph = &g->g;
    size_t n = protobuf_c_message_get_packed_size(&model.base);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return status_fail(err, LOCUS_ERR_OOM, "out of memory serialising %zu bytes of ONNX for %s", n, path);
    size_t packed = protobuf_c_message_pack(&model.base, buf);
    Status st = packed == n ? file_write_atomic(path, buf, n, err)
                            : status_fail(err, LOCUS_ERR_INTERNAL, "protobuf-c packed %zu of %zu bytes", packed, n);
    free(buf);
    return st;
}
