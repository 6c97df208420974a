/* test_onnx.c — ONNX import/export tests: load (CLI-like), round trips, builder graphs, allocation failures, wire scan.
 *
 * usage: test_onnx load FILE                 prints "FILE: reason" and exits like `hpk inspect` (0 ok, 1 rejected)
 *        test_onnx roundtrip FILE OUT.onnx    import -> export -> import: same graph, bit-identical payloads
 *        test_onnx builder OUTDIR             builder-API graphs -> export -> import; files left in OUTDIR
 *        test_onnx allocfail FILE [EXHAUSTIVE [STRIDE]]   fail the Nth allocation for N = 1.. until a load
 *                                             succeeds, then the same for exporting the loaded graph
 *        test_onnx buffer CORPUS_DIR          onnx_load_buffer: memory loads, external data refusal, limits
 *        test_onnx wire                       unit tests of the wire-format scanner
 *        test_onnx export-errors              export refusals (internal ops, undefined dtypes)
 * Exit status 0 on success; failures print "FAIL: ..." on stderr and exit 1 (load: the importer's status). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ir.h"
#include "onnx.h"
#include "onnx.pb-c.h"
#include "onnx_wire.h"

static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failures++;
}

/* ---- graph comparison ------------------------------------------------------------------------------------ */

static const char *sym_name(const ir_graph *g, int64_t d)
{
    int64_t s = -d - 1;
    return s < g->n_syms ? g->syms[s] : "<bad symbol>";
}

/* Same dims: concrete equal, named symbols equal by name, anonymous ("?k") symbols match each other. */
static int shape_same(const ir_graph *a, const ir_shape *sa, const ir_graph *b, const ir_shape *sb)
{
    if (sa->rank != sb->rank)
        return 0;
    for (int i = 0; i < sa->rank; i++) {
        int64_t x = sa->d[i], y = sb->d[i];
        if ((x >= 0) != (y >= 0))
            return 0;
        if (x >= 0) {
            if (x != y)
                return 0;
            continue;
        }
        const char *nx = sym_name(a, x), *ny = sym_name(b, y);
        if (nx[0] == '?' && ny[0] == '?')
            continue;
        if (strcmp(nx, ny) != 0)
            return 0;
    }
    return 1;
}

static int tensor_same(const ir_tensor *x, const ir_tensor *y)
{
    return x->dtype == y->dtype && ir_shape_eq(&x->shape, &y->shape) && x->nbytes == y->nbytes &&
           (x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
}

static const char *vname(const ir_graph *g, int v)
{
    return v < 0 ? "" : g->values[v].name;
}

static int str_same(const char *x, const char *y)
{
    return strcmp(x ? x : "", y ? y : "") == 0;
}

/* Compares everything import/export should preserve; reports each difference under `tag`. */
static int graphs_same(const char *tag, const ir_graph *a, const ir_graph *b)
{
    int before = failures;
    char s1[256], s2[256];
    if (a->opset != b->opset || a->ir_version != b->ir_version || a->model_version != b->model_version)
        fail("%s: opset/ir_version/model_version %lld/%lld/%lld vs %lld/%lld/%lld", tag, (long long)a->opset,
             (long long)a->ir_version, (long long)a->model_version, (long long)b->opset, (long long)b->ir_version,
             (long long)b->model_version);
    /* a graph without a producer (built by hpk) is exported as producer "hpk" 0.1.0, an unnamed graph as "hpk" */
    bool ours = !a->producer_name || !a->producer_name[0];
    const char *pn = ours ? "hpk" : a->producer_name, *pv = ours ? "0.1.0" : a->producer_version;
    const char *gn = a->name && a->name[0] ? a->name : "hpk";
    if (!str_same(pn, b->producer_name) || !str_same(pv, b->producer_version) || !str_same(gn, b->name) ||
        !str_same(a->doc, b->doc))
        fail("%s: metadata differs ('%s' '%s' '%s' vs '%s' '%s' '%s')", tag, a->producer_name, a->producer_version,
             a->name, b->producer_name, b->producer_version, b->name);
    if (a->n_nodes != b->n_nodes)
        fail("%s: %d nodes vs %d", tag, a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes && i < b->n_nodes; i++) {
        const ir_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (x->op != y->op || strcmp(x->name, y->name) || x->n_in != y->n_in || x->n_out != y->n_out ||
            x->n_attr != y->n_attr) {
            fail("%s: node %d: '%s' %s vs '%s' %s", tag, i, x->name, ir_op_table[x->op].id, y->name,
                 ir_op_table[y->op].id);
            continue;
        }
        for (int j = 0; j < x->n_in; j++)
            if (strcmp(vname(a, x->in[j]), vname(b, y->in[j])))
                fail("%s: node '%s' input %d: '%s' vs '%s'", tag, x->name, j, vname(a, x->in[j]), vname(b, y->in[j]));
        for (int j = 0; j < x->n_out; j++)
            if (strcmp(vname(a, x->out[j]), vname(b, y->out[j])))
                fail("%s: node '%s' output %d: '%s' vs '%s'", tag, x->name, j, vname(a, x->out[j]),
                     vname(b, y->out[j]));
        for (int k = 0; k < x->n_attr; k++) {
            const ir_attr *p = &x->attr[k], *q = &y->attr[k];
            int same = strcmp(p->name, q->name) == 0 && p->type == q->type;
            if (same) {
                switch (p->type) {
                case IR_ATTR_FLOAT: same = memcmp(&p->f, &q->f, sizeof p->f) == 0; break;
                case IR_ATTR_INT: same = p->i == q->i; break;
                case IR_ATTR_STRING: same = p->s_len == q->s_len && memcmp(p->s, q->s, p->s_len) == 0; break;
                case IR_ATTR_TENSOR: same = tensor_same(p->t, q->t); break;
                case IR_ATTR_FLOATS:
                    same = p->n == q->n && (!p->n || memcmp(p->floats, q->floats, sizeof(float) * (size_t)p->n) == 0);
                    break;
                case IR_ATTR_INTS:
                    same = p->n == q->n && (!p->n || memcmp(p->ints, q->ints, sizeof(int64_t) * (size_t)p->n) == 0);
                    break;
                case IR_ATTR_STRINGS:
                    same = p->n == q->n;
                    for (int s = 0; same && s < p->n; s++)
                        same = strcmp(p->strings[s], q->strings[s]) == 0;
                    break;
                default: same = 0;
                }
            }
            if (!same)
                fail("%s: node '%s' attribute %d ('%s') differs", tag, x->name, k, p->name);
        }
    }
    if (a->n_values != b->n_values)
        fail("%s: %d values vs %d", tag, a->n_values, b->n_values);
    for (int v = 0; v < a->n_values; v++) {
        const ir_value *x = &a->values[v];
        int w = ir_graph_find(b, x->name);
        if (w < 0) {
            fail("%s: value '%s' is missing after the round trip", tag, x->name);
            continue;
        }
        const ir_value *y = &b->values[w];
        if (x->dtype != y->dtype || !shape_same(a, &x->shape, b, &y->shape))
            fail("%s: value '%s': %s %s vs %s %s", tag, x->name, ir_dtype_name(x->dtype),
                 ir_shape_str(a, &x->shape, s1, sizeof s1), ir_dtype_name(y->dtype),
                 ir_shape_str(b, &y->shape, s2, sizeof s2));
        if ((x->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)) != (y->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)))
            fail("%s: value '%s': input/output flags differ", tag, x->name);
        if (!x->init != !y->init)
            fail("%s: value '%s': initializer in one graph only", tag, x->name);
        else if (x->init && !tensor_same(x->init, y->init))
            fail("%s: initializer '%s' differs (dtype, shape or bytes)", tag, x->name);
    }
    if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs)
        fail("%s: %d/%d inputs/outputs vs %d/%d", tag, a->n_inputs, a->n_outputs, b->n_inputs, b->n_outputs);
    for (int i = 0; i < a->n_inputs && i < b->n_inputs; i++)
        if (strcmp(vname(a, a->inputs[i]), vname(b, b->inputs[i])))
            fail("%s: input %d: '%s' vs '%s'", tag, i, vname(a, a->inputs[i]), vname(b, b->inputs[i]));
    for (int i = 0; i < a->n_outputs && i < b->n_outputs; i++)
        if (strcmp(vname(a, a->outputs[i]), vname(b, b->outputs[i])))
            fail("%s: output %d: '%s' vs '%s'", tag, i, vname(a, a->outputs[i]), vname(b, b->outputs[i]));
    if (a->n_stages != b->n_stages)
        fail("%s: %d stages vs %d", tag, a->n_stages, b->n_stages);
    for (int i = 0; i < a->n_stages && i < b->n_stages; i++)
        if (strcmp(a->stages[i].name, b->stages[i].name) || a->stages[i].stride != b->stages[i].stride ||
            strcmp(vname(a, a->stages[i].value), vname(b, b->stages[i].value)))
            fail("%s: stage %d differs ('%s' vs '%s')", tag, i, a->stages[i].name, b->stages[i].name);
    return failures == before;
}

/* ---- load / round trip ------------------------------------------------------------------------------------- */

static int cmd_load(const char *path)
{
    ir_graph *g;
    hpk_err err = {0};
    hpk_alloc a = {0};
    int rc = onnx_load(path, a, NULL, &g, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return hpk_exit_status(rc);
    }
    int n_init = 0;
    for (int v = 0; v < g->n_values; v++)
        n_init += g->values[v].init != NULL;
    printf("%s: ok, opset %lld, %d nodes, %d values, %d initializers\n", path, (long long)g->opset, g->n_nodes,
           g->n_values, n_init);
    ir_graph_free(g);
    return 0;
}

static int read_file(const char *path, void **buf, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(*buf, 1, (size_t)sz, f);
    fclose(f);
    return *n == (size_t)sz ? 0 : -1;
}

/* a -> save(out) -> b; compares a and b, and that exporting b gives the same bytes as the file. */
static int roundtrip_graph(const char *tag, ir_graph *a, const char *out)
{
    hpk_err err = {0};
    ir_graph *b = NULL;
    void *file = NULL, *again = NULL;
    size_t nf = 0, na = 0;
    if (onnx_save(a, out, &err)) {
        fail("%s: save: %s", tag, err.msg);
        return 0;
    }
    if (onnx_load(out, (hpk_alloc){0}, NULL, &b, &err)) {
        fail("%s: reload: %s", tag, err.msg);
        return 0;
    }
    graphs_same(tag, a, b);
    if (read_file(out, &file, &nf))
        fail("%s: cannot read back %s", tag, out);
    else if (onnx_save_buffer(b, &again, &na, &err))
        fail("%s: export of the reloaded graph: %s", tag, err.msg);
    else if (na != nf || memcmp(file, again, nf))
        fail("%s: exporting the reloaded graph gives different bytes (%zu vs %zu)", tag, na, nf);
    free(file);
    free(again);
    ir_graph_free(b);
    return 1;
}

static int cmd_roundtrip(const char *path, const char *out)
{
    ir_graph *a;
    hpk_err err = {0};
    if (onnx_load(path, (hpk_alloc){0}, NULL, &a, &err)) {
        fail("load %s", err.msg);
        return 1;
    }
    roundtrip_graph(path, a, out);
    ir_graph_free(a);
    if (!failures)
        printf("%s: round trip ok\n", path);
    return failures != 0;
}

/* ---- builder graphs -------------------------------------------------------------------------------------- */

#define CHECK(x)                                                                                            \
    do {                                                                                                    \
        if (!(x)) {                                                                                         \
            fail("%s:%d: %s (%s)", __FILE__, __LINE__, #x, err->msg);                                        \
            goto out;                                                                                       \
        }                                                                                                   \
    } while (0)

static uint32_t rng_state = 12345;
static float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static int init_rand(ir_graph *g, const char *name, int rank, const int64_t *d, hpk_err *err)
{
    ir_shape s = ir_shape_make(rank, d);
    int v = ir_init_add(g, name, IR_DT_F32, &s, err);
    if (v < 0)
        return -1;
    float *p = g->values[v].init->data;
    for (size_t i = 0; i < g->values[v].init->nbytes / sizeof(float); i++)
        p[i] = frand();
    return v;
}

static int init_i64(ir_graph *g, const char *name, int n, const int64_t *vals, hpk_err *err)
{
    int64_t d[1] = {n};
    ir_shape s = ir_shape_make(1, d);
    int v = ir_init_add(g, name, IR_DT_I64, &s, err);
    if (v >= 0 && n)
        memcpy(g->values[v].init->data, vals, sizeof(int64_t) * (size_t)n);
    return v;
}

static int init_scalar(ir_graph *g, const char *name, float x, hpk_err *err)
{
    ir_shape s = ir_shape_make(0, NULL);
    int v = ir_init_add(g, name, IR_DT_F32, &s, err);
    if (v >= 0)
        memcpy(g->values[v].init->data, &x, sizeof x);
    return v;
}

/* Adds node op reading ins (value ids) and writing one new value named out; returns the node index. */
static int add1(ir_graph *g, ir_op op, const char *name, const int *in, int n_in, const char *out, int *out_v,
                hpk_err *err)
{
    int o = ir_value_add(g, out, IR_DT_UNDEF, NULL, err);
    if (o < 0)
        return -1;
    *out_v = o;
    return ir_node_add(g, op, name, in, n_in, &o, 1, err);
}

/* Every op in the table at opset 13, every attribute type the exporter writes, and initializers of every dtype. */
static ir_graph *build_all_ops(hpk_err *err)
{
    ir_graph *g;
    if (ir_graph_init(&g, (hpk_alloc){0}, err))
        return NULL;
    int n_sym = ir_sym_get(g, "batch");
    int64_t xd[4] = {-(int64_t)n_sym - 1, 4, 12, 12};
    ir_shape xs = ir_shape_make(4, xd);
    int x, t, u, w, b, ni, tmp[4];
    int64_t wd[4] = {8, 4, 3, 3}, bd[1] = {8}, dwd[4] = {8, 1, 3, 3};
    CHECK((x = ir_value_add(g, "x", IR_DT_F32, &xs, err)) >= 0 && !ir_graph_add_input(g, x, err));
    g->opset = 14; /* HardSwish */
    g->name = ir_strdup(g, "all_ops");
    g->doc = ir_strdup(g, "built by test_onnx");
    g->model_version = 3;
    /* Conv with bias, explicit pads/strides/dilations/kernel_shape/auto_pad string */
    CHECK((w = init_rand(g, "conv1.w", 4, wd, err)) >= 0 && (b = init_rand(g, "conv1.b", 1, bd, err)) >= 0);
    CHECK((ni = add1(g, IR_OP_Conv, "conv1", (int[]){x, w, b}, 3, "c1", &t, err)) >= 0);
    CHECK(!ir_node_set_ints(g, ni, "pads", (int64_t[]){1, 1, 1, 1}, 4, err));
    CHECK(!ir_node_set_ints(g, ni, "strides", (int64_t[]){1, 1}, 2, err));
    CHECK(!ir_node_set_ints(g, ni, "dilations", (int64_t[]){1, 1}, 2, err));
    CHECK(!ir_node_set_ints(g, ni, "kernel_shape", (int64_t[]){3, 3}, 2, err));
    CHECK(!ir_node_set_string(g, ni, "auto_pad", "NOTSET", err));
    CHECK(!ir_node_set_int(g, ni, "group", 1, err));
    /* BatchNormalization */
    int bn[4];
    const char *bnn[4] = {"bn.scale", "bn.bias", "bn.mean", "bn.var"};
    for (int i = 0; i < 4; i++)
        CHECK((bn[i] = init_rand(g, bnn[i], 1, bd, err)) >= 0);
    for (int i = 0; i < 8; i++)
        ((float *)g->values[bn[3]].init->data)[i] += 1.0f;
    CHECK((ni = add1(g, IR_OP_BatchNormalization, "bn", (int[]){t, bn[0], bn[1], bn[2], bn[3]}, 5, "b1", &u, err)) >= 0);
    CHECK(!ir_node_set_float(g, ni, "epsilon", 1e-5f, err) && !ir_node_set_float(g, ni, "momentum", 0.9f, err));
    CHECK(add1(g, IR_OP_Relu, "relu", &u, 1, "r1", &t, err) >= 0);
    /* Clip with constant bounds (opset 13: inputs), and with the max omitted */
    int lo, hi;
    CHECK((lo = init_scalar(g, "clip.lo", 0.0f, err)) >= 0 && (hi = init_scalar(g, "clip.hi", 6.0f, err)) >= 0);
    CHECK(add1(g, IR_OP_Clip, "clip", (int[]){t, lo, hi}, 3, "cl1", &u, err) >= 0);
    CHECK(add1(g, IR_OP_Clip, "clip_lo_only", (int[]){u, lo, -1}, 3, "cl2", &t, err) >= 0);
    /* depthwise conv, group 8, stride 2 */
    CHECK((w = init_rand(g, "dw.w", 4, dwd, err)) >= 0);
    CHECK((ni = add1(g, IR_OP_Conv, "dwconv", (int[]){t, w}, 2, "dw1", &u, err)) >= 0);
    CHECK(!ir_node_set_int(g, ni, "group", 8, err) && !ir_node_set_ints(g, ni, "strides", (int64_t[]){2, 2}, 2, err));
    CHECK(!ir_node_set_ints(g, ni, "pads", (int64_t[]){1, 1, 1, 1}, 4, err));
    /* activations */
    CHECK((ni = add1(g, IR_OP_HardSigmoid, "hsig", &u, 1, "hs1", &t, err)) >= 0);
    CHECK(!ir_node_set_float(g, ni, "alpha", 1.0f / 6, err) && !ir_node_set_float(g, ni, "beta", 0.5f, err));
    CHECK(add1(g, IR_OP_HardSwish, "hswish", &t, 1, "hw1", &u, err) >= 0);
    CHECK(add1(g, IR_OP_Sigmoid, "sigmoid", &u, 1, "sg1", &t, err) >= 0);
    /* binaries against a broadcast constant */
    int64_t cd[3] = {8, 1, 1};
    int c;
    CHECK((c = init_rand(g, "chan.const", 3, cd, err)) >= 0);
    CHECK(add1(g, IR_OP_Add, "add", (int[]){t, c}, 2, "a1", &u, err) >= 0);
    CHECK(add1(g, IR_OP_Sub, "sub", (int[]){u, c}, 2, "s1", &t, err) >= 0);
    CHECK(add1(g, IR_OP_Mul, "mul", (int[]){t, c}, 2, "m1", &u, err) >= 0);
    CHECK(add1(g, IR_OP_Div, "div", (int[]){u, c}, 2, "d1", &t, err) >= 0);
    int two;
    CHECK((two = init_scalar(g, "two", 2.0f, err)) >= 0);
    CHECK(add1(g, IR_OP_Pow, "pow", (int[]){t, two}, 2, "p1", &u, err) >= 0);
    /* pooling */
    CHECK((ni = add1(g, IR_OP_MaxPool, "maxpool", &u, 1, "mp1", &t, err)) >= 0);
    CHECK(!ir_node_set_ints(g, ni, "kernel_shape", (int64_t[]){3, 3}, 2, err));
    CHECK(!ir_node_set_ints(g, ni, "pads", (int64_t[]){1, 1, 1, 1}, 4, err));
    CHECK(!ir_node_set_ints(g, ni, "strides", (int64_t[]){1, 1}, 2, err));
    CHECK(!ir_node_set_int(g, ni, "ceil_mode", 0, err));
    CHECK((ni = add1(g, IR_OP_AveragePool, "avgpool", &t, 1, "ap1", &u, err)) >= 0);
    CHECK(!ir_node_set_ints(g, ni, "kernel_shape", (int64_t[]){2, 2}, 2, err));
    CHECK(!ir_node_set_ints(g, ni, "strides", (int64_t[]){2, 2}, 2, err));
    CHECK(!ir_node_set_int(g, ni, "count_include_pad", 1, err));
    int gap, gmp;
    CHECK(add1(g, IR_OP_GlobalAveragePool, "gap", &u, 1, "gap1", &gap, err) >= 0);
    CHECK(add1(g, IR_OP_GlobalMaxPool, "gmp", &u, 1, "gmp1", &gmp, err) >= 0);
    /* Concat along channels, Reshape, Squeeze/Unsqueeze (axes inputs), Flatten */
    CHECK((ni = add1(g, IR_OP_Concat, "concat", (int[]){gap, gmp}, 2, "cat1", &t, err)) >= 0);
    CHECK(!ir_node_set_int(g, ni, "axis", 1, err));
    int sh, ax;
    CHECK((ax = init_i64(g, "axes23", 2, (int64_t[]){2, 3}, err)) >= 0);
    CHECK(add1(g, IR_OP_Squeeze, "squeeze", (int[]){t, ax}, 2, "sq1", &u, err) >= 0);
    CHECK(add1(g, IR_OP_Unsqueeze, "unsqueeze", (int[]){u, ax}, 2, "usq1", &t, err) >= 0);
    CHECK((sh = init_i64(g, "shape2", 2, (int64_t[]){0, -1}, err)) >= 0);
    CHECK(add1(g, IR_OP_Reshape, "reshape", (int[]){t, sh}, 2, "rs1", &u, err) >= 0);
    CHECK((ni = add1(g, IR_OP_Flatten, "flatten", &u, 1, "fl1", &t, err)) >= 0);
    CHECK(!ir_node_set_int(g, ni, "axis", 1, err));
    /* Gemm (transB) and MatMul, Identity, Dropout, Softmax/LogSoftmax, ReduceMean */
    int64_t fcd[2] = {10, 16}, mmd[2] = {10, 10}, fcb[1] = {10};
    CHECK((w = init_rand(g, "fc.w", 2, fcd, err)) >= 0 && (b = init_rand(g, "fc.b", 1, fcb, err)) >= 0);
    CHECK((ni = add1(g, IR_OP_Gemm, "fc", (int[]){t, w, b}, 3, "fc1", &u, err)) >= 0);
    CHECK(!ir_node_set_int(g, ni, "transB", 1, err) && !ir_node_set_float(g, ni, "alpha", 1.0f, err));
    CHECK((w = init_rand(g, "mm.w", 2, mmd, err)) >= 0);
    CHECK(add1(g, IR_OP_MatMul, "matmul", (int[]){u, w}, 2, "mm1", &t, err) >= 0);
    CHECK(add1(g, IR_OP_Identity, "identity", &t, 1, "id1", &u, err) >= 0);
    CHECK(add1(g, IR_OP_Dropout, "dropout", &u, 1, "do1", &t, err) >= 0);
    CHECK((ni = add1(g, IR_OP_Softmax, "softmax", &t, 1, "sm1", &u, err)) >= 0);
    CHECK(!ir_node_set_int(g, ni, "axis", -1, err));
    CHECK((ni = add1(g, IR_OP_LogSoftmax, "logsoftmax", &u, 1, "lsm1", &tmp[0], err)) >= 0);
    CHECK(!ir_node_set_int(g, ni, "axis", 1, err));
    CHECK((ni = add1(g, IR_OP_ReduceMean, "reducemean", &tmp[0], 1, "rm1", &tmp[1], err)) >= 0);
    CHECK(!ir_node_set_ints(g, ni, "axes", (int64_t[]){1}, 1, err) && !ir_node_set_int(g, ni, "keepdims", 1, err));
    CHECK(!ir_graph_add_output(g, tmp[0], err) && !ir_graph_add_output(g, tmp[1], err));
    /* unused initializers of every dtype, including empty and scalar ones */
    static const ir_dtype dts[] = {IR_DT_U8, IR_DT_I8, IR_DT_I32, IR_DT_I64, IR_DT_BOOL, IR_DT_F64, IR_DT_F32};
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        char nm[32];
        int64_t d3[3] = {2, 3, (int64_t)i};
        snprintf(nm, sizeof nm, "extra_%s", ir_dtype_name(dts[i]));
        ir_shape s = ir_shape_make(3, d3);
        int v;
        CHECK((v = ir_init_add(g, nm, dts[i], &s, err)) >= 0);
        unsigned char *p = g->values[v].init->data;
        for (size_t k = 0; k < g->values[v].init->nbytes; k++)
            p[k] = dts[i] == IR_DT_BOOL ? (unsigned char)(k & 1) : (unsigned char)(k * 37 + 11);
    }
    CHECK(init_scalar(g, "extra_scalar", -0.0f, err) >= 0);
    CHECK(!ir_stage_set(g, "stage1", ir_graph_find(g, "dw1"), 2, err));
    CHECK(!ir_stage_set(g, "fc", ir_graph_find(g, "fl1"), 0, err));
    CHECK(!ir_verify(g, err));
    return g;
out:
    ir_graph_free(g);
    return NULL;
}

/* Opset 9 conventions: Clip bounds and Squeeze/Unsqueeze axes as attributes, default Softmax axis, anonymous dims. */
static ir_graph *build_opset9(hpk_err *err)
{
    ir_graph *g;
    if (ir_graph_init(&g, (hpk_alloc){0}, err))
        return NULL;
    g->opset = 9;
    g->ir_version = 4;
    int anon = ir_sym_get(g, "?0");
    int64_t xd[3] = {-(int64_t)anon - 1, 5, 1};
    ir_shape xs = ir_shape_make(3, xd);
    int x, t, u, ni;
    CHECK((x = ir_value_add(g, "in", IR_DT_F32, &xs, err)) >= 0 && !ir_graph_add_input(g, x, err));
    CHECK((ni = add1(g, IR_OP_Clip, "clip9", &x, 1, "c", &t, err)) >= 0);
    CHECK(!ir_node_set_float(g, ni, "min", -1.0f, err) && !ir_node_set_float(g, ni, "max", 1.0f, err));
    CHECK((ni = add1(g, IR_OP_Squeeze, "sq9", &t, 1, "s", &u, err)) >= 0);
    CHECK(!ir_node_set_ints(g, ni, "axes", (int64_t[]){2}, 1, err));
    CHECK((ni = add1(g, IR_OP_Unsqueeze, "usq9", &u, 1, "us", &t, err)) >= 0);
    CHECK(!ir_node_set_ints(g, ni, "axes", (int64_t[]){0}, 1, err));
    CHECK((ni = add1(g, IR_OP_Flatten, "flat9", &t, 1, "f", &u, err)) >= 0);
    CHECK((ni = add1(g, IR_OP_Dropout, "drop9", &u, 1, "d", &t, err)) >= 0);
    CHECK(!ir_node_set_float(g, ni, "ratio", 0.25f, err));
    CHECK(add1(g, IR_OP_Softmax, "softmax9", &t, 1, "y", &u, err) >= 0);
    CHECK(!ir_graph_add_output(g, u, err));
    CHECK(!ir_verify(g, err));
    return g;
out:
    ir_graph_free(g);
    return NULL;
}

/* IR version 3 (initializers must also be graph inputs), odd names, attributes of every type the IR has. */
static ir_graph *build_attr_types(hpk_err *err)
{
    ir_graph *g;
    if (ir_graph_init(&g, (hpk_alloc){0}, err))
        return NULL;
    g->ir_version = 3;
    g->opset = 11;
    g->producer_name = ir_strdup(g, "someone else");
    g->producer_version = ir_strdup(g, "");
    int64_t xd[2] = {2, 3};
    ir_shape xs = ir_shape_make(2, xd);
    int x, t, ni, w;
    CHECK((x = ir_value_add(g, "x with spaces/and:colons", IR_DT_F32, &xs, err)) >= 0 && !ir_graph_add_input(g, x, err));
    CHECK((w = init_rand(g, "w\xc3\xa9" "ight", 2, xd, err)) >= 0);
    CHECK((ni = add1(g, IR_OP_Add, "n\xc3\xb6" "de 1", (int[]){x, w}, 2, "sum", &t, err)) >= 0);
    CHECK(!ir_node_set_float(g, ni, "f", -1.5e-30f, err));
    CHECK(!ir_node_set_int(g, ni, "i", INT64_MIN, err));
    CHECK(!ir_node_set_string(g, ni, "s", "", err));
    CHECK(!ir_node_set_floats(g, ni, "fs", (float[]){1.0f, NAN, -INFINITY}, 3, err));
    CHECK(!ir_node_set_ints(g, ni, "is", NULL, 0, err));
    CHECK(!ir_node_set_floats(g, ni, "fs_empty", NULL, 0, err));
    {
        ir_attr *a = NULL;
        ir_node *n = &g->nodes[ni];
        ir_attr *na = ir_arena_alloc(g, sizeof(ir_attr) * (size_t)(n->n_attr + 2));
        CHECK(na);
        memcpy(na, n->attr, sizeof(ir_attr) * (size_t)n->n_attr);
        n->attr = na;
        a = &na[n->n_attr++];
        a->name = ir_strdup(g, "ss");
        a->type = IR_ATTR_STRINGS;
        a->n = 2;
        a->strings = ir_arena_alloc(g, 2 * sizeof(char *));
        CHECK(a->strings);
        a->strings[0] = ir_strdup(g, "alpha");
        a->strings[1] = ir_strdup(g, "");
        a = &na[n->n_attr++];
        a->name = ir_strdup(g, "t");
        a->type = IR_ATTR_TENSOR;
        int64_t td[2] = {2, 2};
        ir_shape ts = ir_shape_make(2, td);
        CHECK((a->t = ir_tensor_new(g, IR_DT_I32, &ts, err)));
        for (int k = 0; k < 4; k++)
            ((int32_t *)a->t->data)[k] = -k * 1000;
    }
    CHECK(!ir_graph_add_output(g, t, err));
    /* an output that is directly an initializer */
    CHECK(!ir_graph_add_output(g, w, err));
    CHECK(!ir_verify(g, err));
    return g;
out:
    ir_graph_free(g);
    return NULL;
}

static int cmd_builder(const char *dir)
{
    hpk_err err = {0};
    struct {
        const char *name;
        ir_graph *(*build)(hpk_err *);
    } cases[] = {{"builder_all_ops", build_all_ops}, {"builder_opset9", build_opset9},
                 {"builder_attr_types", build_attr_types}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1024];
        hpk_err_clear(&err);
        ir_graph *g = cases[i].build(&err);
        if (!g) {
            fail("%s: build failed: %s", cases[i].name, err.msg);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s.onnx", dir, cases[i].name);
        roundtrip_graph(cases[i].name, g, path);
        ir_graph_free(g);
    }
    if (!failures)
        printf("builder graphs: round trips ok\n");
    return failures != 0;
}

/* ---- export refusals ------------------------------------------------------------------------------------ */

static int cmd_export_errors(void)
{
    hpk_err err_s = {0}, *err = &err_s;
    ir_graph *g = NULL;
    void *buf = NULL;
    size_t n;
    int internal = -1;
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (ir_op_table[i].flags & IR_OPF_INTERNAL)
            internal = i;
    CHECK(!ir_graph_init(&g, (hpk_alloc){0}, err));
    int64_t d[1] = {4};
    ir_shape s = ir_shape_make(1, d);
    int x, y;
    CHECK((x = ir_value_add(g, "x", IR_DT_F32, &s, err)) >= 0 && !ir_graph_add_input(g, x, err));
    CHECK((y = ir_value_add(g, "y", IR_DT_UNDEF, NULL, err)) >= 0);
    CHECK(ir_node_add(g, IR_OP_Relu, "r", &x, 1, &y, 1, err) >= 0);
    CHECK(!ir_graph_add_output(g, y, err));
    /* an output without a dtype (inference not run) is refused with a message naming it */
    hpk_err e2 = {0};
    if (onnx_save_buffer(g, &buf, &n, &e2) == HPK_OK || !strstr(e2.msg, "'y'"))
        fail("export of an output without dtype: rc %d '%s'", e2.code, e2.msg);
    free(buf);
    buf = NULL;
    CHECK(!ir_verify(g, err));
    if (internal >= 0) {
        g->nodes[0].op = (ir_op)internal;
        hpk_err_clear(&e2);
        if (onnx_save_buffer(g, &buf, &n, &e2) == HPK_OK || !strstr(e2.msg, "'r'"))
            fail("export of an internal op: rc %d '%s'", e2.code, e2.msg);
        free(buf);
        buf = NULL;
    } else {
        printf("(no internal op in the table yet: the internal-op refusal is not exercised)\n");
    }
    /* an op that does not exist at the graph's opset, and an argument in another opset's form */
    g->nodes[0].op = IR_OP_HardSwish;
    hpk_err_clear(&e2);
    if (onnx_save_buffer(g, &buf, &n, &e2) == HPK_OK || !strstr(e2.msg, "'r'") || !strstr(e2.msg, "opset 13"))
        fail("export of HardSwish at opset 13: rc %d '%s'", e2.code, e2.msg);
    free(buf);
    buf = NULL;
    g->opset = 14;
    hpk_err_clear(&e2);
    if (onnx_save_buffer(g, &buf, &n, &e2) != HPK_OK)
        fail("export of HardSwish at opset 14: '%s'", e2.msg);
    free(buf);
    buf = NULL;
    g->nodes[0].op = IR_OP_Clip;
    CHECK(!ir_node_set_float(g, 0, "min", 0.0f, err));
    hpk_err_clear(&e2);
    if (onnx_save_buffer(g, &buf, &n, &e2) == HPK_OK || !strstr(e2.msg, "'min'"))
        fail("export of Clip with attribute bounds at opset 14: rc %d '%s'", e2.code, e2.msg);
    free(buf);
    buf = NULL;
    g->opset = 10;
    hpk_err_clear(&e2);
    if (onnx_save_buffer(g, &buf, &n, &e2) != HPK_OK)
        fail("export of Clip with attribute bounds at opset 10: '%s'", e2.msg);
    free(buf);
    buf = NULL;
    /* writing into a folder that does not exist fails cleanly and names the file */
    hpk_err_clear(&e2);
    g->nodes[0].op = IR_OP_Relu;
    if (onnx_save(g, "/nonexistent-hpk-dir/x.onnx", &e2) == HPK_OK || !strstr(e2.msg, "/nonexistent-hpk-dir/x.onnx"))
        fail("save into a missing folder: rc %d '%s'", e2.code, e2.msg);
out:
    ir_graph_free(g);
    if (!failures)
        printf("export refusals ok\n");
    return failures != 0;
}

/* ---- allocation failures ---------------------------------------------------------------------------------- */

/* Fails allocation N for N = 1..exhaustive, then every `stride`-th N, until a load succeeds without an injected
 * failure. Every injected failure must give an error (never a crash, never a silent success) and no leak. */
static int cmd_allocfail(const char *path, long exhaustive, long stride)
{
    long n = 1, runs = 0;
    clock_t t0 = clock();
    for (;;) {
        hpk_failing_alloc st = {n, 0, 0, 0};
        ir_graph *g = NULL;
        hpk_err err = {0};
        int rc = onnx_load(path, hpk_alloc_failing(&st), NULL, &g, &err);
        runs++;
        if (rc == HPK_OK) {
            ir_graph_free(g);
            if (st.failed) {
                fail("allocation %ld failed but the load succeeded", n);
                break;
            }
            if (st.live != 0)
                fail("a clean load leaks %ld blocks", st.live);
            printf("%s: %ld allocations in a clean load; %ld failure points tried in %.1fs, all reported\n", path,
                   st.count, runs - 1, (double)(clock() - t0) / CLOCKS_PER_SEC);
            break;
        }
        if (g)
            fail("allocation %ld: error but a graph was returned", n);
        if (!st.failed)
            fail("allocation %ld: load failed without an injected failure: %s", n, err.msg);
        if (rc != HPK_ENOMEM)
            fail("allocation %ld: status %d, expected HPK_ENOMEM (%s)", n, rc, err.msg);
        if (strncmp(err.msg, path, strlen(path)) != 0 || strchr(err.msg, '\n'))
            fail("allocation %ld: message does not start with the path: %s", n, err.msg);
        if (st.live != 0)
            fail("allocation %ld: %ld blocks leaked after '%s'", n, st.live, err.msg);
        if (failures > 20)
            break;
        n += n < exhaustive ? 1 : stride;
    }
    if (failures)
        return 1;
    /* export: the ModelProto is built through the graph's allocator; fail each of those allocations in turn */
    hpk_failing_alloc st = {0, 0, 0, 0};
    ir_graph *g = NULL;
    hpk_err err = {0};
    if (onnx_load(path, hpk_alloc_failing(&st), NULL, &g, &err)) {
        fail("load for the export test: %s", err.msg);
        return 1;
    }
    long live0 = st.live, tried = 0;
    for (n = 1;; n++, tried++) {
        void *buf = NULL;
        size_t nb;
        st.fail_at = st.count + n;
        st.failed = 0;
        hpk_err_clear(&err);
        int rc = onnx_save_buffer(g, &buf, &nb, &err);
        free(buf);
        if (st.live != live0)
            fail("export, allocation %ld: %ld blocks leaked", n, st.live - live0);
        if (rc == HPK_OK) {
            if (st.failed)
                fail("export, allocation %ld failed but the export succeeded", n);
            break;
        }
        if (!st.failed || rc != HPK_ENOMEM)
            fail("export, allocation %ld: status %d without an injected failure: %s", n, rc, err.msg);
        if (failures > 20)
            break;
    }
    ir_graph_free(g);
    if (st.live)
        fail("export test: %ld blocks leaked", st.live);
    printf("%s: export: %ld failure points, all reported\n", path, tried);
    return failures != 0;
}

/* ---- loading from memory, limits ---------------------------------------------------------------------- */

static void expect_load(const char *what, const void *buf, size_t n, const char *dir, const onnx_limits *lim,
                        int want_rc, const char *substr)
{
    ir_graph *g = NULL;
    hpk_err err = {0};
    int rc = onnx_load_buffer(buf, n, dir, "mem.onnx", (hpk_alloc){0}, lim, &g, &err);
    if (rc != want_rc)
        fail("%s: status %d, expected %d (%s)", what, rc, want_rc, err.msg);
    else if (rc && (strncmp(err.msg, "mem.onnx: ", 10) != 0 || (substr && !strstr(err.msg, substr))))
        fail("%s: message '%s' (wanted 'mem.onnx: ...%s...')", what, err.msg, substr ? substr : "");
    if ((rc == HPK_OK) != (g != NULL))
        fail("%s: status %d but graph %p", what, rc, (void *)g);
    ir_graph_free(g);
}

static int cmd_buffer(const char *corpus)
{
    char p1[1024], p2[1024];
    void *base = NULL, *ext = NULL;
    size_t nb, ne;
    snprintf(p1, sizeof p1, "%s/valid_base.onnx", corpus);
    snprintf(p2, sizeof p2, "%s/valid_external.onnx", corpus);
    if (read_file(p1, &base, &nb) || read_file(p2, &ext, &ne)) {
        fail("cannot read %s or %s", p1, p2);
        return 1;
    }
    expect_load("from memory", base, nb, NULL, NULL, HPK_OK, NULL);
    expect_load("external data without a folder", ext, ne, NULL, NULL, HPK_EINPUT, "refused");
    expect_load("external data with its folder", ext, ne, corpus, NULL, HPK_OK, NULL);
    expect_load("empty buffer", base, 0, NULL, NULL, HPK_EINPUT, "empty");
    onnx_limits lim = {100, 0, 0, 0};
    expect_load("file size limit", base, nb, NULL, &lim, HPK_ENOMEM, "limit");
    lim = (onnx_limits){0, 0, 100, 0};
    expect_load("tensor size limit", base, nb, NULL, &lim, HPK_ENOMEM, "conv.weight");
    lim = (onnx_limits){0, 3, 0, 0};
    expect_load("nesting limit", base, nb, NULL, &lim, HPK_EINPUT, "deeper than 3");
    lim = (onnx_limits){0, 0, 0, 1000};
    expect_load("decoded size limit", base, nb, NULL, &lim, HPK_ENOMEM, "memory");
    ir_graph *g = (ir_graph *)1;
    hpk_err err = {0};
    if (onnx_load("/nonexistent/model.onnx", (hpk_alloc){0}, NULL, &g, &err) == HPK_OK || g ||
        strncmp(err.msg, "/nonexistent/model.onnx: ", 25) != 0)
        fail("missing file: '%s'", err.msg);
    free(base);
    free(ext);
    if (!failures)
        printf("loading from memory and limits ok\n");
    return failures != 0;
}

/* ---- wire scanner unit tests ---------------------------------------------------------------------------- */

static int scan(const uint8_t *b, size_t n, int depth, size_t budget, hpk_err *err)
{
    hpk_err_clear(err);
    return onnx_wire_scan(b, n, &onnx__model_proto__descriptor, depth, budget, (hpk_alloc){0}, NULL, err);
}

static void expect_scan(const char *what, const uint8_t *b, size_t n, int want_ok, const char *substr)
{
    hpk_err err = {0};
    int rc = scan(b, n, 64, (size_t)1 << 30, &err);
    if (want_ok && rc)
        fail("wire %s: rejected: %s", what, err.msg);
    if (!want_ok && (rc == HPK_OK || (substr && !strstr(err.msg, substr))))
        fail("wire %s: rc %d, message '%s' (wanted '%s')", what, rc, err.msg, substr ? substr : "");
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t k = 0;
    do {
        p[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return k;
}

static int cmd_wire(void)
{
    uint8_t b[64];
    /* ir_version = 8; producer_name = "x" */
    const uint8_t ok[] = {0x08, 0x08, 0x12, 0x01, 'x'};
    expect_scan("minimal", ok, sizeof ok, 1, NULL);
    expect_scan("empty message", ok, 0, 1, NULL);
    const uint8_t tag0[] = {0x00, 0x01};
    expect_scan("field number 0", tag0, sizeof tag0, 0, "field number 0");
    const uint8_t group[] = {0x0b, 0x0c};
    expect_scan("group wire type", group, sizeof group, 0, "group");
    const uint8_t wt7[] = {0x0f};
    expect_scan("wire type 7", wt7, sizeof wt7, 0, "invalid");
    const uint8_t longvar[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_scan("11-byte varint", longvar, sizeof longvar, 0, "longer than 10");
    const uint8_t cutvar[] = {0x08, 0xff, 0xff};
    expect_scan("cut varint", cutvar, sizeof cutvar, 0, "truncated");
    const uint8_t longtag[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00};
    expect_scan("6-byte tag", longtag, sizeof longtag, 0, "longer than 5");
    const uint8_t bigfield[] = {0xf8, 0xff, 0xff, 0xff, 0x1f, 0x00}; /* field number 2^32-1 */
    expect_scan("field number above 2^29", bigfield, sizeof bigfield, 0, "invalid");
    const uint8_t strlen_big[] = {0x12, 0xff, 0xff, 0xff, 0xff, 0x07, 'x'};
    expect_scan("string length 2^31-1", strlen_big, sizeof strlen_big, 0, "declares");
    const uint8_t strlen_huge[] = {0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'};
    expect_scan("string length above 2 GiB", strlen_huge, sizeof strlen_huge, 0, "above 2 GiB");
    const uint8_t fixed_cut[] = {0x0d, 0x00, 0x00}; /* unknown field 1? no: field 1 is ir_version, varint */
    expect_scan("wire type mismatch", fixed_cut, sizeof fixed_cut, 0, "wire type");
    const uint8_t unk_fixed_cut[] = {0x7d, 0x00, 0x00}; /* unknown field 15, 32-bit, cut */
    expect_scan("cut fixed32", unk_fixed_cut, sizeof unk_fixed_cut, 0, "runs past");
    const uint8_t unknown_ok[] = {0x7a, 0x02, 0xff, 0xff, 0x79, 1, 2, 3, 4, 5, 6, 7, 8};
    expect_scan("unknown fields skipped", unknown_ok, sizeof unknown_ok, 1, NULL);
    /* a sub-message whose inner string runs past the sub-message (but not the buffer) */
    const uint8_t inner[] = {0x3a, 0x03, 0x12, 0x05, 'a', 'b', 'c', 'd', 'e'};
    expect_scan("inner length past its message", inner, sizeof inner, 0, "onnx.GraphProto.name");
    /* packed dims with a cut varint: graph { initializer { dims: packed [0xff] } } */
    const uint8_t packed[] = {0x3a, 0x05, 0x2a, 0x03, 0x0a, 0x01, 0xff};
    expect_scan("cut packed varint", packed, sizeof packed, 0, "packed");
    const uint8_t twice[] = {0x3a, 0x00, 0x3a, 0x00};
    expect_scan("graph given twice", twice, sizeof twice, 0, "appears twice");
    const uint8_t opset_twice[] = {0x42, 0x00, 0x42, 0x00}; /* repeated opset_import: fine */
    expect_scan("repeated message field", opset_twice, sizeof opset_twice, 1, NULL);
    const uint8_t packed_ok[] = {0x3a, 0x06, 0x2a, 0x04, 0x0a, 0x02, 0x03, 0x04};
    expect_scan("packed dims", packed_ok, sizeof packed_ok, 1, NULL);
    const uint8_t packed_f[] = {0x3a, 0x07, 0x2a, 0x05, 0x22, 0x03, 0, 0, 0}; /* float_data packed, 3 bytes */
    expect_scan("packed floats not a multiple of 4", packed_f, sizeof packed_f, 0, "multiple of 4");
    /* nesting: graph { node { attribute { g { node { attribute { g ... } } } } } } */
    {
        size_t levels = 3000, cap = levels * 16 + 16, n = 0;
        uint8_t *buf = malloc(cap), *rev = malloc(cap);
        size_t len = 0, k = 0;
        /* build inside out into rev (reversed), then flip */
        for (size_t i = 0; i < levels; i++) {
            static const uint8_t keys[3] = {0x32, 0x2a, 0x0a}; /* AttributeProto.g, NodeProto.attribute, GraphProto.node */
            for (int j = 0; j < 3; j++) {
                uint8_t tmp[10];
                size_t vl = put_varint(tmp, len);
                for (size_t q = vl; q-- > 0;)
                    rev[k++] = tmp[q];
                rev[k++] = keys[j];
                len += vl + 1;
            }
        }
        {
            uint8_t tmp[10];
            size_t vl = put_varint(tmp, len);
            for (size_t q = vl; q-- > 0;)
                rev[k++] = tmp[q];
            rev[k++] = 0x3a; /* ModelProto.graph */
        }
        for (size_t i = 0; i < k; i++)
            buf[n++] = rev[k - 1 - i];
        hpk_err err = {0};
        if (scan(buf, n, 64, (size_t)1 << 30, &err) == HPK_OK || !strstr(err.msg, "deeper than 64"))
            fail("wire nesting: '%s'", err.msg);
        if (scan(buf, n, 100000, (size_t)1 << 30, &err) == HPK_OK || !strstr(err.msg, "deeper than 1000"))
            fail("wire nesting above the ceiling: '%s'", err.msg);
        onnx_wire_stats st;
        if (onnx_wire_scan(buf, n, &onnx__model_proto__descriptor, 64, (size_t)1 << 30, (hpk_alloc){0}, &st, &err) ==
                HPK_OK || st.depth != 64)
            fail("wire nesting stats: depth %d", st.depth);
        /* a budget: the same bytes with a tiny decoded-size budget */
        if (scan(buf, 40, 64, 100, &err) == HPK_OK || !strstr(err.msg, "memory"))
            fail("wire budget: '%s'", err.msg);
        free(buf);
        free(rev);
    }
    /* amplification: many empty sub-messages are bounded by the budget */
    {
        size_t cnt = 100000, n = 0;
        uint8_t *buf = malloc(cnt * 2 + 16);
        n += put_varint(buf, 0x3a);
        n += put_varint(buf + n, cnt * 2);
        for (size_t i = 0; i < cnt; i++) {
            buf[n++] = 0x0a; /* GraphProto.node, empty */
            buf[n++] = 0x00;
        }
        hpk_err err = {0};
        if (scan(buf, n, 64, n * 8, &err) == HPK_OK || !strstr(err.msg, "memory"))
            fail("wire amplification: '%s'", err.msg);
        if (scan(buf, n, 64, (size_t)1 << 30, &err) != HPK_OK)
            fail("wire amplification within budget: '%s'", err.msg);
        free(buf);
    }
    (void)b;
    if (!failures)
        printf("wire scanner ok\n");
    return failures != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "load") == 0)
        return cmd_load(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "roundtrip") == 0)
        return cmd_roundtrip(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "builder") == 0)
        return cmd_builder(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "allocfail") == 0)
        return cmd_allocfail(argv[2], argc > 3 ? atol(argv[3]) : 1L << 40, argc > 4 ? atol(argv[4]) : 1);
    if (argc >= 3 && strcmp(argv[1], "buffer") == 0)
        return cmd_buffer(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "wire") == 0)
        return cmd_wire();
    if (argc >= 2 && strcmp(argv[1], "export-errors") == 0)
        return cmd_export_errors();
    fprintf(stderr, "usage: test_onnx load FILE | roundtrip FILE OUT | builder DIR | allocfail FILE [N [STRIDE]] | "
                    "wire | export-errors\n");
    return 2;
}
