/* fuzz_onnx.c — fuzz target: ONNX import (onnx_load_buffer) → ir_verify → ir_infer_graph → export → re-import.
 *
 * Invariants, for every input:
 *  - a rejection is a status with a one-line message "fuzz.onnx: ...", no graph, and no live allocation;
 *  - an accepted model verifies and infers again (idempotent), clones, has statistics or a clean error, and its
 *    concrete inference at batch 1 keeps every rank symbolic inference found;
 *  - an accepted model exports; the export loads back as the same graph (ops, names, attributes, dtypes, shapes,
 *    initializer bytes, inputs, outputs), and exporting that gives the same bytes (a fixpoint); the clone exports
 *    to the same bytes too;
 *  - loading it again with one allocation failing (which one is drawn from the input) fails with HPK_ENOMEM and
 *    frees everything, or succeeds.
 * Leaks are counted through the allocator hook (hpk_alloc_failing with no failure), so they are caught without
 * LeakSanitizer too. External data is refused (base_dir NULL): the file-system cases live in tests/hostile.
 * An input that starts with "HPKG" is a recipe for the graph generator below (structure-aware fuzzing). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ir.h"
#include "onnx.h"

#define NAME "fuzz.onnx"
#define NAME2 "again.onnx"

static const onnx_limits k_limits = {0, 0, (size_t)64 << 20, (size_t)256 << 20};

/* ---- graph comparison (as tests/unit/test_onnx.c's graphs_same; here any difference aborts) --------------- */
static const char *sym_name(const ir_graph *g, int64_t d)
{
    int64_t s = -d - 1;
    return s < g->n_syms ? g->syms[s] : "<bad symbol>";
}

static bool shape_same(const ir_graph *a, const ir_shape *sa, const ir_graph *b, const ir_shape *sb)
{
    if (sa->rank != sb->rank)
        return false;
    for (int i = 0; i < sa->rank; i++) {
        int64_t x = sa->d[i], y = sb->d[i];
        if ((x >= 0) != (y >= 0))
            return false;
        if (x >= 0) {
            if (x != y)
                return false;
            continue;
        }
        const char *nx = sym_name(a, x), *ny = sym_name(b, y);
        if (!(nx[0] == '?' && ny[0] == '?') && strcmp(nx, ny) != 0)
            return false;
    }
    return true;
}

static bool tensor_same(const ir_tensor *x, const ir_tensor *y)
{
    return x->dtype == y->dtype && ir_shape_eq(&x->shape, &y->shape) && x->nbytes == y->nbytes &&
           (x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
}

static const char *vname(const ir_graph *g, int v) { return v < 0 ? "" : g->values[v].name; }
static bool str_same(const char *x, const char *y) { return strcmp(x ? x : "", y ? y : "") == 0; }

static bool attr_same(const ir_attr *p, const ir_attr *q)
{
    if (strcmp(p->name, q->name) != 0 || p->type != q->type)
        return false;
    switch (p->type) {
    case IR_ATTR_FLOAT: return memcmp(&p->f, &q->f, sizeof p->f) == 0;
    case IR_ATTR_INT: return p->i == q->i;
    case IR_ATTR_STRING: return p->s_len == q->s_len && (!p->s_len || memcmp(p->s, q->s, p->s_len) == 0);
    case IR_ATTR_TENSOR: return tensor_same(p->t, q->t);
    case IR_ATTR_FLOATS:
        return p->n == q->n && (!p->n || memcmp(p->floats, q->floats, sizeof(float) * (size_t)p->n) == 0);
    case IR_ATTR_INTS:
        return p->n == q->n && (!p->n || memcmp(p->ints, q->ints, sizeof(int64_t) * (size_t)p->n) == 0);
    case IR_ATTR_STRINGS:
        if (p->n != q->n)
            return false;
        for (int s = 0; s < p->n; s++)
            if (strcmp(p->strings[s], q->strings[s]) != 0)
                return false;
        return true;
    default: return false;
    }
}

static void check_same(const ir_graph *a, const ir_graph *b)
{
    char s1[256], s2[256];
    FUZZ_CHECK(a->opset == b->opset && a->ir_version == b->ir_version && a->model_version == b->model_version,
               "opset/ir_version/model_version %lld/%lld/%lld vs %lld/%lld/%lld", (long long)a->opset,
               (long long)a->ir_version, (long long)a->model_version, (long long)b->opset, (long long)b->ir_version,
               (long long)b->model_version);
    /* a graph without a producer is exported as producer "hpk" 0.1.0, an unnamed graph as "hpk" */
    bool ours = !a->producer_name || !a->producer_name[0];
    FUZZ_CHECK(str_same(ours ? "hpk" : a->producer_name, b->producer_name) &&
                   str_same(ours ? "0.1.0" : a->producer_version, b->producer_version) &&
                   str_same(a->name && a->name[0] ? a->name : "hpk", b->name) && str_same(a->doc, b->doc),
               "model metadata differs after the round trip");
    FUZZ_CHECK(a->n_nodes == b->n_nodes, "%d nodes vs %d", a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; i++) {
        const ir_node *x = &a->nodes[i], *y = &b->nodes[i];
        FUZZ_CHECK(x->op == y->op && strcmp(x->name, y->name) == 0 && x->n_in == y->n_in && x->n_out == y->n_out &&
                       x->n_attr == y->n_attr,
                   "node %d: '%s' %s vs '%s' %s", i, x->name, ir_op_table[x->op].id, y->name, ir_op_table[y->op].id);
        for (int j = 0; j < x->n_in; j++)
            FUZZ_CHECK(strcmp(vname(a, x->in[j]), vname(b, y->in[j])) == 0, "node '%s' input %d: '%s' vs '%s'",
                       x->name, j, vname(a, x->in[j]), vname(b, y->in[j]));
        for (int j = 0; j < x->n_out; j++)
            FUZZ_CHECK(strcmp(vname(a, x->out[j]), vname(b, y->out[j])) == 0, "node '%s' output %d: '%s' vs '%s'",
                       x->name, j, vname(a, x->out[j]), vname(b, y->out[j]));
        for (int k = 0; k < x->n_attr; k++)
            FUZZ_CHECK(attr_same(&x->attr[k], &y->attr[k]), "node '%s' attribute %d ('%s') differs", x->name, k,
                       x->attr[k].name);
    }
    FUZZ_CHECK(a->n_values == b->n_values, "%d values vs %d", a->n_values, b->n_values);
    for (int v = 0; v < a->n_values; v++) {
        const ir_value *x = &a->values[v];
        int w = ir_graph_find(b, x->name);
        FUZZ_CHECK(w >= 0, "value '%s' is missing after the round trip", x->name);
        const ir_value *y = &b->values[w];
        FUZZ_CHECK(x->dtype == y->dtype && shape_same(a, &x->shape, b, &y->shape), "value '%s': %s %s vs %s %s",
                   x->name, ir_dtype_name(x->dtype), ir_shape_str(a, &x->shape, s1, sizeof s1),
                   ir_dtype_name(y->dtype), ir_shape_str(b, &y->shape, s2, sizeof s2));
        FUZZ_CHECK((x->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)) == (y->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)),
                   "value '%s': input/output flags differ", x->name);
        FUZZ_CHECK(!x->init == !y->init && (!x->init || tensor_same(x->init, y->init)),
                   "initializer '%s' differs", x->name);
    }
    FUZZ_CHECK(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs, "%d/%d inputs/outputs vs %d/%d",
               a->n_inputs, a->n_outputs, b->n_inputs, b->n_outputs);
    for (int i = 0; i < a->n_inputs; i++)
        FUZZ_CHECK(strcmp(vname(a, a->inputs[i]), vname(b, b->inputs[i])) == 0, "input %d differs", i);
    for (int i = 0; i < a->n_outputs; i++)
        FUZZ_CHECK(strcmp(vname(a, a->outputs[i]), vname(b, b->outputs[i])) == 0, "output %d differs", i);
}

/* ---- checks on an accepted graph ----------------------------------------------------------------------- */

/* Concrete inference with every symbolic input dim set to 1: it may refuse (with a proper message), but what it
 * computes has the ranks symbolic inference found. */
static void check_concrete(ir_graph *g)
{
    size_t nv = (size_t)g->n_values + 1, ni = (size_t)g->n_inputs + 1;
    ir_shape *in = calloc(ni, sizeof *in), *shapes = calloc(nv, sizeof *shapes);
    ir_dtype *dts = calloc(nv, sizeof *dts);
    FUZZ_CHECK(in && shapes && dts, "out of memory");
    bool known = true;
    for (int i = 0; i < g->n_inputs; i++) {
        in[i] = g->values[g->inputs[i]].shape;
        known &= in[i].rank >= 0;
        for (int d = 0; d < in[i].rank; d++)
            if (in[i].d[d] < 0)
                in[i].d[d] = 1;
    }
    if (known) {
        hpk_err err = {0};
        int rc = ir_infer_concrete(g, in, shapes, dts, &err);
        if (rc) {
            fuzz_check_err(rc, &err, NULL);
        } else {
            for (int v = 0; v < g->n_values; v++) {
                const ir_value *val = &g->values[v];
                if (val->producer < 0 || val->shape.rank < 0)
                    continue;
                FUZZ_CHECK(shapes[v].rank == val->shape.rank, "value '%s': rank %d symbolically, %d concretely",
                           val->name, val->shape.rank, shapes[v].rank);
                FUZZ_CHECK(ir_shape_concrete(&shapes[v]), "value '%s': concrete inference left a symbol",
                           val->name);
            }
        }
    }
    free(in);
    free(shapes);
    free(dts);
}

static void check_accepted(ir_graph *g)
{
    hpk_err err = {0};
    int rc = ir_verify(g, &err);
    FUZZ_CHECK(rc == HPK_OK, "a loaded graph does not verify again: %s", err.msg);
    rc = ir_infer_graph(g, &err);
    FUZZ_CHECK(rc == HPK_OK, "a loaded graph does not infer again: %s", err.msg);
    check_concrete(g);
    ir_stats st;
    if ((rc = ir_graph_stats(g, &st, &err)))
        fuzz_check_err(rc, &err, NULL);

    /* export, re-import, compare, export again: the same bytes */
    void *buf = NULL, *buf2 = NULL, *buf3 = NULL;
    size_t n = 0, n2 = 0, n3 = 0;
    rc = onnx_save_buffer(g, &buf, &n, &err);
    FUZZ_CHECK(rc == HPK_OK, "what hpk imports it must export: %s", err.msg);
    hpk_failing_alloc fa = {0};
    ir_graph *h = NULL;
    rc = onnx_load_buffer(buf, n, NULL, NAME2, hpk_alloc_failing(&fa), NULL, &h, &err);
    FUZZ_CHECK(rc == HPK_OK, "what hpk exports it must import: %s", err.msg);
    check_same(g, h);
    rc = onnx_save_buffer(h, &buf2, &n2, &err);
    FUZZ_CHECK(rc == HPK_OK, "the re-imported graph does not export: %s", err.msg);
    FUZZ_CHECK(n == n2 && memcmp(buf, buf2, n) == 0, "export is not a fixpoint (%zu vs %zu bytes)", n, n2);
    ir_graph_free(h);
    FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by the re-import", fa.live);

    ir_graph *c = NULL;
    rc = ir_graph_clone(g, &c, &err);
    FUZZ_CHECK(rc == HPK_OK, "clone failed: %s", err.msg);
    rc = onnx_save_buffer(c, &buf3, &n3, &err);
    FUZZ_CHECK(rc == HPK_OK && n3 == n && memcmp(buf3, buf, n) == 0, "the clone exports differently: %s", err.msg);
    ir_graph_free(c);
    free(buf);
    free(buf2);
    free(buf3);
}


/* ---- the graph generator: an input starting with "HPKG" is a recipe, not a file --------------------------------
 * Random bytes seldom survive protobuf decoding and the importer's checks as a graph, so most shape-rule code is
 * reached only from the seeds' neighbourhood. A recipe builds a well-formed ModelProto with protobuf-c from the
 * bytes that follow: an opset, graph inputs (ranks, dims that are small, symbolic, missing or extreme),
 * initializers, nodes of any ONNX op hpk knows (inputs wired to earlier values, attributes relevant to the op with
 * interesting values), declared outputs and value_info. The packed bytes then take the same path as a file. */
#include "onnx.pb-c.h"

typedef struct gen {
    const uint8_t *p;
    size_t n, i;
    void **blocks;
    size_t nblocks, cap;
    char **names; /* values defined so far */
    int nnames, capnames;
} gen;

static void *gnew(gen *g, size_t size)
{
    void *q = calloc(1, size ? size : 1);
    FUZZ_CHECK(q != NULL, "out of memory");
    if (g->nblocks == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 256;
        g->blocks = realloc(g->blocks, g->cap * sizeof *g->blocks);
        FUZZ_CHECK(g->blocks != NULL, "out of memory");
    }
    g->blocks[g->nblocks++] = q;
    return q;
}

static char *gstr(gen *g, const char *s)
{
    char *q = gnew(g, strlen(s) + 1);
    memcpy(q, s, strlen(s) + 1);
    return q;
}

static unsigned gbyte(gen *g) { return g->i < g->n ? g->p[g->i++] : 0; }
static unsigned gpick(gen *g, unsigned n) { return n ? gbyte(g) % n : 0; }

static int64_t gint(gen *g)
{
    static const int64_t vals[] = {0, 1, 2, 3, -1, 4, 1, 2, 3, 0, -2, 5, 6, 7, 8, 16, 32, -3, 255, 1000,
                                   INT32_MAX, INT32_MIN, (int64_t)1 << 32, (int64_t)1 << 62, INT64_MAX, INT64_MIN,
                                   INT64_MAX - 1, INT64_MIN + 1, -((int64_t)1 << 40)};
    unsigned b = gbyte(g);
    if (b < 240)
        return vals[b % (sizeof vals / sizeof vals[0])];
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = v << 8 | gbyte(g);
    return (int64_t)v;
}

static float gfloat(gen *g)
{
    static const float vals[] = {0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 6.0f, 1e-5f, 0.2f, 1.0f / 6, -0.0f, 3.0f, 1e30f};
    unsigned b = gbyte(g);
    if (b < 200)
        return vals[b % (sizeof vals / sizeof vals[0])];
    if (b < 210)
        return NAN;
    if (b < 220)
        return b & 1 ? INFINITY : -INFINITY;
    uint32_t u = 0;
    for (int k = 0; k < 4; k++)
        u = u << 8 | gbyte(g);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void gname_add(gen *g, char *name)
{
    if (g->nnames == g->capnames) {
        g->capnames = g->capnames ? 2 * g->capnames : 32;
        g->names = realloc(g->names, (size_t)g->capnames * sizeof *g->names);
        FUZZ_CHECK(g->names != NULL, "out of memory");
    }
    g->names[g->nnames++] = name;
}

static Onnx__TypeProto *gtype(gen *g, int with_shape)
{
    static const int others[] = {6, 9, 2, 11, 3, 10, 8, 0, 16, 99};
    Onnx__TypeProto *t = gnew(g, sizeof *t);
    Onnx__TypeProto__Tensor *tt = gnew(g, sizeof *tt);
    *t = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
    *tt = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    tt->has_elem_type = 1;
    unsigned b = gbyte(g); /* mostly float32, some int64, rarely anything else */
    tt->elem_type = b < 200 ? 1 : b < 236 ? 7 : others[b % (sizeof others / sizeof others[0])];
    if (!with_shape || gpick(g, 8) == 0)
        return t;
    Onnx__TensorShapeProto *sp = gnew(g, sizeof *sp);
    *sp = (Onnx__TensorShapeProto)ONNX__TENSOR_SHAPE_PROTO__INIT;
    tt->shape = sp;
    sp->n_dim = gpick(g, 6);
    sp->dim = gnew(g, sp->n_dim * sizeof *sp->dim);
    for (size_t k = 0; k < sp->n_dim; k++) {
        Onnx__TensorShapeProto__Dimension *d = gnew(g, sizeof *d);
        *d = (Onnx__TensorShapeProto__Dimension)ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        b = gbyte(g);
        if (b < 120) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = 1 + b % 9;
        } else if (b < 200) {
            static const char *syms[] = {"N", "M", "batch", "N"};
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = gstr(g, syms[b % 4]);
        } else if (b < 236) {
            /* no value: an unknown dim */
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = gint(g);
        }
        sp->dim[k] = d;
    }
    return t;
}

static Onnx__ValueInfoProto *gvi(gen *g, char *name, int with_type)
{
    Onnx__ValueInfoProto *v = gnew(g, sizeof *v);
    *v = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
    v->name = name;
    if (with_type)
        v->type = gtype(g, 1);
    return v;
}

/* A small tensor: float32 or int64 (sometimes another dtype), dims mostly 0..4, a payload that fits them. */
static Onnx__TensorProto *gtensor(gen *g, char *name)
{
    Onnx__TensorProto *t = gnew(g, sizeof *t);
    *t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    t->name = name;
    static const int others[] = {6, 2, 9, 3, 11, 10};
    unsigned b = gbyte(g);
    int dt = b < 160 ? 1 : b < 240 ? 7 : others[b % (sizeof others / sizeof others[0])];
    t->has_data_type = 1;
    t->data_type = dt;
    t->n_dims = gpick(g, 5);
    t->dims = gnew(g, t->n_dims * sizeof *t->dims);
    uint64_t numel = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        b = gbyte(g);
        t->dims[k] = b < 250 ? (int64_t)(b % 5) : gint(g);
        if (t->dims[k] < 0 || __builtin_mul_overflow(numel, (uint64_t)t->dims[k], &numel))
            numel = UINT64_MAX;
    }
    size_t es = dt == 1 || dt == 6 ? 4 : dt == 7 || dt == 11 ? 8 : 1;
    size_t n = numel > 512 ? 1 + gpick(g, 16) : (size_t)numel; /* a claim that cannot fit: a short payload */
    uint8_t *raw = gnew(g, n * es);
    for (size_t k = 0; k < n; k++) {
        if (dt == 7) {
            int64_t v = gint(g);
            memcpy(raw + 8 * k, &v, 8);
        } else if (dt == 1) {
            float f = gfloat(g);
            memcpy(raw + 4 * k, &f, 4);
        } else {
            for (size_t j = 0; j < es; j++)
                raw[k * es + j] = (uint8_t)gbyte(g);
        }
    }
    t->has_raw_data = 1;
    t->raw_data.len = n * es;
    t->raw_data.data = raw;
    return t;
}

/* Attributes each op reads (name, type), then a few foreign ones. */
typedef struct gattr {
    const char *op, *name;
    int type;
} gattr;
enum { A_F = 1, A_I = 2, A_S = 3, A_T = 4, A_FS = 6, A_IS = 7 };
static const gattr k_attrs[] = {
    {"Conv", "kernel_shape", A_IS}, {"Conv", "pads", A_IS}, {"Conv", "strides", A_IS}, {"Conv", "dilations", A_IS},
    {"Conv", "group", A_I}, {"Conv", "auto_pad", A_S},
    {"BatchNormalization", "epsilon", A_F}, {"BatchNormalization", "momentum", A_F},
    {"BatchNormalization", "training_mode", A_I}, {"BatchNormalization", "spatial", A_I},
    {"Clip", "min", A_F}, {"Clip", "max", A_F}, {"HardSigmoid", "alpha", A_F}, {"HardSigmoid", "beta", A_F},
    {"AveragePool", "kernel_shape", A_IS}, {"AveragePool", "pads", A_IS}, {"AveragePool", "strides", A_IS},
    {"AveragePool", "ceil_mode", A_I}, {"AveragePool", "count_include_pad", A_I}, {"AveragePool", "auto_pad", A_S},
    {"AveragePool", "dilations", A_IS},
    {"MaxPool", "kernel_shape", A_IS}, {"MaxPool", "pads", A_IS}, {"MaxPool", "strides", A_IS},
    {"MaxPool", "ceil_mode", A_I}, {"MaxPool", "dilations", A_IS}, {"MaxPool", "auto_pad", A_S},
    {"MaxPool", "storage_order", A_I},
    {"Flatten", "axis", A_I}, {"Reshape", "allowzero", A_I}, {"Squeeze", "axes", A_IS}, {"Unsqueeze", "axes", A_IS},
    {"Gemm", "transA", A_I}, {"Gemm", "transB", A_I}, {"Gemm", "alpha", A_F}, {"Gemm", "beta", A_F},
    {"Dropout", "ratio", A_F}, {"Dropout", "seed", A_I},
    {"Constant", "value", A_T}, {"Constant", "value_float", A_F}, {"Constant", "value_floats", A_FS},
    {"Constant", "value_int", A_I}, {"Constant", "value_ints", A_IS},
    {"Softmax", "axis", A_I}, {"LogSoftmax", "axis", A_I}, {"Concat", "axis", A_I},
    {"ReduceMean", "axes", A_IS}, {"ReduceMean", "keepdims", A_I}, {"ReduceMean", "noop_with_empty_axes", A_I},
    {"ReduceSumSquare", "axes", A_IS}, {"ReduceSumSquare", "keepdims", A_I},
    {"LpNormalization", "axis", A_I}, {"LpNormalization", "p", A_I},
    {"SoftmaxCrossEntropyLoss", "reduction", A_S}, {"SoftmaxCrossEntropyLoss", "ignore_index", A_I},
};

static Onnx__AttributeProto *gattribute(gen *g, const char *name, int type)
{
    Onnx__AttributeProto *a = gnew(g, sizeof *a);
    *a = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
    a->name = gstr(g, name);
    if (gpick(g, 16) == 0) /* the wrong type now and then */
        type = (int)(1 + gpick(g, 7));
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    switch (type) {
    case A_F: a->has_f = 1; a->f = gfloat(g); break;
    case A_I: a->has_i = 1; a->i = gint(g); break;
    case A_S: {
        static const char *strs[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "mean", "sum", "none", "", "x"};
        const char *s = strs[gpick(g, sizeof strs / sizeof strs[0])];
        a->has_s = 1;
        a->s.len = strlen(s);
        a->s.data = (uint8_t *)gstr(g, s);
        break;
    }
    case A_T: a->t = gtensor(g, NULL); break;
    case A_FS:
        a->n_floats = gpick(g, 6);
        a->floats = gnew(g, a->n_floats * sizeof(float));
        for (size_t k = 0; k < a->n_floats; k++)
            a->floats[k] = gfloat(g);
        break;
    case A_IS:
        a->n_ints = gpick(g, 7);
        a->ints = gnew(g, a->n_ints * sizeof(int64_t));
        for (size_t k = 0; k < a->n_ints; k++)
            a->ints[k] = gint(g);
        break;
    default: break; /* type 5 (graph) with nothing set */
    }
    return a;
}

static char *gfresh(gen *g, const char *prefix, int k)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s%d", prefix, k);
    return gstr(g, buf);
}

/* Builds the recipe's model and packs it; *out is malloc'd. */
static void gen_model(const uint8_t *data, size_t size, uint8_t **out, size_t *n)
{
    gen G = {data, size, 0, NULL, 0, 0, NULL, 0, 0}, *g = &G;
    Onnx__ModelProto *mp = gnew(g, sizeof *mp);
    Onnx__GraphProto *gp = gnew(g, sizeof *gp);
    Onnx__OperatorSetIdProto *os = gnew(g, sizeof *os);
    *mp = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
    *gp = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
    *os = (Onnx__OperatorSetIdProto)ONNX__OPERATOR_SET_ID_PROTO__INIT;
    static const int64_t opsets[] = {13, 11, 12, 14, 17, 9, 10, 15, 16, 13, 14, 13};
    os->domain = gstr(g, "");
    os->has_version = 1;
    unsigned ob = gbyte(g);
    os->version = ob < 248 ? opsets[ob % (sizeof opsets / sizeof opsets[0])] : ob == 248 ? 8 : 18;
    mp->has_ir_version = 1;
    mp->ir_version = os->version >= 13 ? 8 : 6;
    mp->n_opset_import = 1;
    mp->opset_import = gnew(g, sizeof *mp->opset_import);
    mp->opset_import[0] = os;
    mp->graph = gp;
    gp->name = gstr(g, "gen");

    gp->n_input = 1 + gpick(g, 3);
    gp->input = gnew(g, gp->n_input * sizeof *gp->input);
    for (size_t k = 0; k < gp->n_input; k++) {
        char *nm = gfresh(g, "in", (int)k);
        gp->input[k] = gvi(g, nm, gpick(g, 64) != 0);
        gname_add(g, nm);
    }
    gp->n_initializer = gpick(g, 5);
    gp->initializer = gnew(g, gp->n_initializer * sizeof *gp->initializer);
    for (size_t k = 0; k < gp->n_initializer; k++) {
        char *nm = gfresh(g, "w", (int)k);
        gp->initializer[k] = gtensor(g, nm);
        gname_add(g, nm);
    }

    /* the ONNX ops of the op table */
    int ops[IR_OP_COUNT], nops = 0;
    for (int o = 0; o < IR_OP_COUNT; o++)
        if (ir_op_table[o].flags & IR_OPF_ONNX)
            ops[nops++] = o;
    gp->n_node = 1 + gpick(g, 8);
    gp->node = gnew(g, gp->n_node * sizeof *gp->node);
    int nv = 0;
    for (size_t k = 0; k < gp->n_node; k++) {
        Onnx__NodeProto *np = gnew(g, sizeof *np);
        *np = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
        const ir_op_info *op = &ir_op_table[ops[gpick(g, (unsigned)nops)]];
        np->op_type = gstr(g, op->onnx_name);
        np->name = gfresh(g, "n", (int)k);
        int max_in = op->max_in > 5 ? 5 : op->max_in;
        np->n_input = (size_t)(op->min_in + (int)gpick(g, (unsigned)(max_in - op->min_in + 1)));
        if (gpick(g, 32) == 0)
            np->n_input++; /* one too many */
        np->input = gnew(g, np->n_input * sizeof *np->input);
        for (size_t j = 0; j < np->n_input; j++) {
            /* "" (omitted), mostly one of the three latest values (chains), else any earlier value */
            unsigned b = gbyte(g), recent = (unsigned)(g->nnames < 3 ? g->nnames : 3);
            if (b < 4)
                np->input[j] = gstr(g, "");
            else if (b < 160)
                np->input[j] = g->names[g->nnames - 1 - (int)(b % recent)];
            else
                np->input[j] = g->names[b % (unsigned)g->nnames];
        }
        np->n_output = (size_t)(op->min_out + (int)gpick(g, (unsigned)(op->max_out - op->min_out + 1)));
        np->output = gnew(g, np->n_output * sizeof *np->output);
        for (size_t j = 0; j < np->n_output; j++)
            np->output[j] = gfresh(g, "t", nv++);
        for (size_t j = 0; j < np->n_output; j++)
            gname_add(g, np->output[j]);
        /* attributes: each relevant one with probability 1/2, sometimes a foreign one */
        Onnx__AttributeProto *attrs[24];
        size_t na = 0;
        for (size_t a = 0; a < sizeof k_attrs / sizeof k_attrs[0] && na < 23; a++)
            if (strcmp(k_attrs[a].op, op->onnx_name) == 0 && gpick(g, 2))
                attrs[na++] = gattribute(g, k_attrs[a].name, k_attrs[a].type);
        if (gpick(g, 16) == 0) {
            const gattr *f = &k_attrs[gpick(g, sizeof k_attrs / sizeof k_attrs[0])];
            attrs[na++] = gattribute(g, f->name, f->type);
        }
        np->n_attribute = na;
        np->attribute = gnew(g, na * sizeof *np->attribute);
        memcpy(np->attribute, attrs, na * sizeof *attrs);
        gp->node[k] = np;
    }
    /* outputs: the last node's, and maybe another value; value_info for a few */
    Onnx__NodeProto *last = gp->node[gp->n_node - 1];
    size_t extra = gpick(g, 8) == 0;
    gp->output = gnew(g, (last->n_output + extra) * sizeof *gp->output);
    for (size_t j = 0; j < last->n_output; j++)
        gp->output[gp->n_output++] = gvi(g, last->output[j], gpick(g, 8) != 0);
    for (size_t j = 0; j < extra && nv > 0; j++)
        gp->output[gp->n_output++] = gvi(g, gfresh(g, "t", (int)gpick(g, (unsigned)nv)), 1);
    gp->n_value_info = gpick(g, 3);
    gp->value_info = gnew(g, gp->n_value_info * sizeof *gp->value_info);
    for (size_t j = 0; j < gp->n_value_info; j++)
        gp->value_info[j] = gvi(g, nv ? gfresh(g, "t", (int)gpick(g, (unsigned)nv)) : gstr(g, "t0"), 1);

    *n = onnx__model_proto__get_packed_size(mp);
    *out = malloc(*n ? *n : 1);
    FUZZ_CHECK(*out != NULL, "out of memory");
    onnx__model_proto__pack(mp, *out);
    for (size_t k = 0; k < G.nblocks; k++)
        free(G.blocks[k]);
    free(G.blocks);
    free(G.names);
}

static int load_and_check(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "HPKG", 4) == 0) {
        uint8_t *model = NULL;
        size_t n = 0;
        gen_model(data + 4, size - 4, &model, &n);
        load_and_check(model, n);
        free(model);
        return 0;
    }
    return load_and_check(data, size);
}

static int load_and_check(const uint8_t *data, size_t size)
{
    hpk_failing_alloc fa = {0};
    ir_graph *g = NULL;
    hpk_err err = {0};
    int rc = onnx_load_buffer(data, size, NULL, NAME, hpk_alloc_failing(&fa), &k_limits, &g, &err);
    if (rc) {
        FUZZ_CHECK(g == NULL, "a failed load returned a graph");
        fuzz_check_err(rc, &err, NAME);
        FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by a rejected load: %s", fa.live, err.msg);
        return 0;
    }
    FUZZ_CHECK(g != NULL, "a successful load returned no graph");
    FUZZ_NOTE("accepted: opset %lld, %d nodes, %d values", (long long)g->opset, g->n_nodes, g->n_values);
    check_accepted(g);
    ir_graph_free(g);
    FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by an accepted load", fa.live);

    /* the same load with allocation number k failing */
    hpk_failing_alloc fb = {0};
    fb.fail_at = 1 + (long)(fuzz_hash(data, size) % (uint64_t)fa.count);
    hpk_err e2 = {0};
    rc = onnx_load_buffer(data, size, NULL, NAME, hpk_alloc_failing(&fb), &k_limits, &g, &e2);
    if (rc) {
        FUZZ_CHECK(g == NULL, "a failed load returned a graph");
        fuzz_check_err(rc, &e2, NAME);
        FUZZ_CHECK(rc == HPK_ENOMEM, "allocation %ld of %ld failed but the status is %d: %s", fb.fail_at, fa.count,
                   rc, e2.msg);
    } else {
        ir_graph_free(g);
    }
    FUZZ_CHECK(fb.live == 0, "%ld blocks leaked when allocation %ld failed", fb.live, fb.fail_at);
    return 0;
}
