/* test_onednn_ops.c — every op of the op table through be_onednn against be_ref, on generated graphs.
 *
 * A generator per op (gen_<Op>, declared from ops.def: a missing one does not compile) builds small graphs with
 * random inputs and initializers covering the op's variants (strides, pads, groups, depthwise, dilations,
 * ceil_mode, broadcasting, transposes, per-opset forms) and the backend's fusions (BatchNormalization folding,
 * activation post-ops, residual sums, the HardSwish pattern, in-place and blocked-layout paths). Each graph runs
 * on be_ref and on be_onednn twice: with inference fusions, and with params_mutable (no fusion, weights reordered
 * every run); each plan runs twice. Outputs must agree to 1e-4 (absolute, relative for values above 1). At the end
 * every op id must have been covered by at least one case, or the test fails.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "ir.h"
#include "ir_rng.h"

static int failures, cases;
static int covered[IR_OP_COUNT];
static hpk_err E;
static const char *only; /* run only cases whose name contains this (argv[1]) */
static int verbose;
static const char *mode = ""; /* HPK_ONEDNN_MICROBATCH of this pass */

static void must(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "test setup failed (%s): %s\n", what, E.msg);
        exit(1);
    }
}

/* ---- the case builder ------------------------------------------------------------------------------------- */

typedef struct tc {
    ir_graph *g;
    char name[160];
    ir_rng rng;
    int nv; /* value name counter */
} tc;

static ir_shape shp(int rank, const int64_t *d) { return ir_shape_make(rank, d); }
#define S(...) shp((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__})
#define S0 shp(0, NULL)
#define I64(...) (const int64_t[]){__VA_ARGS__}, (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static tc *tc_new(int64_t opset, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tc *tc_new(int64_t opset, const char *fmt, ...)
{
    static tc t;
    memset(&t, 0, sizeof t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t.name, sizeof t.name, fmt, ap);
    va_end(ap);
    if (*mode) {
        size_t l = strlen(t.name);
        snprintf(t.name + l, sizeof t.name - l, " (micro-batch %s)", mode);
    }
    hpk_err_clear(&E);
    must(ir_graph_init(&t.g, hpk_alloc_default(), &E), "graph");
    t.g->opset = opset;
    uint64_t h = 1469598103934665603ull;
    for (const char *c = t.name; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    ir_rng_seed(&t.rng, h, 7);
    return &t;
}

static const char *vname(tc *t, const char *base)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%s_%d", base, t->nv++);
    return buf;
}

/* a float32 graph input (fed uniform in [-1, 1] scaled by `scale`) */
static int in_f(tc *t, ir_shape s)
{
    int v = ir_value_add(t->g, vname(t, "x"), IR_DT_F32, &s, &E);
    must(v < 0, "input");
    must(ir_graph_add_input(t->g, v, &E), "input");
    return v;
}

/* a float32 initializer uniform in [lo, hi] */
static int init_u(tc *t, ir_shape s, float lo, float hi)
{
    int v = ir_init_add(t->g, vname(t, "w"), IR_DT_F32, &s, &E);
    must(v < 0, "init");
    ir_tensor *tt = t->g->values[v].init;
    float *d = tt->data;
    for (size_t i = 0; i < tt->nbytes / sizeof(float); i++)
        d[i] = lo + (hi - lo) * (float)ir_rng_uniform(&t->rng);
    return v;
}
static int init_i64(tc *t, const int64_t *vals, int n)
{
    ir_shape s = S(n);
    int v = ir_init_add(t->g, vname(t, "i"), IR_DT_I64, &s, &E);
    must(v < 0, "init");
    if (n)
        memcpy(t->g->values[v].init->data, vals, sizeof(int64_t) * (size_t)n);
    return v;
}
static int init_scalar(tc *t, ir_dtype dt, double val)
{
    ir_shape s = S0;
    int v = ir_init_add(t->g, vname(t, "s"), dt, &s, &E);
    must(v < 0, "init");
    void *d = t->g->values[v].init->data;
    switch (dt) {
    case IR_DT_F32: *(float *)d = (float)val; break;
    case IR_DT_I64: *(int64_t *)d = (int64_t)val; break;
    case IR_DT_BOOL: *(unsigned char *)d = val != 0; break;
    default: break;
    }
    return v;
}

/* a node with n_out fresh outputs (returns the node index; outputs via out0/outk) */
static int node(tc *t, ir_op op, const int *in, int n_in, int n_out)
{
    int out[8];
    ir_shape unk = {-1, {0}};
    for (int i = 0; i < n_out; i++) {
        out[i] = ir_value_add(t->g, vname(t, "y"), IR_DT_UNDEF, &unk, &E);
        must(out[i] < 0, "value");
    }
    int ni = ir_node_add(t->g, op, vname(t, ir_op_table[op].id), in, n_in, out, n_out, &E);
    must(ni < 0, "node");
    covered[op]++;
    return ni;
}
#define IN(...) (const int[]){__VA_ARGS__}, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))
static int outk(tc *t, int ni, int k) { return t->g->nodes[ni].out[k]; }
/* a one-output node: returns its output value */
static int op1(tc *t, ir_op op, const int *in, int n_in) { return outk(t, node(t, op, in, n_in, 1), 0); }
#define OP1(t, op, ...) op1(t, IR_OP_##op, IN(__VA_ARGS__))

static int last_node(tc *t) { return t->g->n_nodes - 1; }
static void a_int(tc *t, const char *name, int64_t v) { must(ir_node_set_int(t->g, last_node(t), name, v, &E), name); }
static void a_float(tc *t, const char *name, float v) { must(ir_node_set_float(t->g, last_node(t), name, v, &E), name); }
static void a_ints(tc *t, const char *name, const int64_t *v, int n) { must(ir_node_set_ints(t->g, last_node(t), name, v, n, &E), name); }
static void a_str(tc *t, const char *name, const char *s) { must(ir_node_set_string(t->g, last_node(t), name, s, &E), name); }
static void out(tc *t, int v) { must(ir_graph_add_output(t->g, v, &E), "output"); }

/* ---- running and comparing -------------------------------------------------------------------------------- */

typedef struct result {
    int n;
    hpk_tensor t[8];
} result;

static void result_free(result *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->t[i].data);
    r->n = 0;
}

static int run_backend(tc *t, const be_vtable *be, const be_options *opt, const ir_shape *shapes, float **inputs,
                       result *res, int runs)
{
    be_plan *p;
    hpk_err err = {0};
    int rc = be->prepare(t->g, opt, shapes, &p, &err);
    if (rc) {
        fprintf(stderr, "%s: %s prepare failed: %s\n", t->name, be->name, err.msg);
        return rc;
    }
    for (int r = 0; r < runs && !rc; r++) {
        for (int i = 0; i < t->g->n_inputs; i++) {
            hpk_tensor *x = be->io(p, t->g->inputs[i]);
            memcpy(x->data, inputs[i], x->nbytes);
        }
        if ((rc = be->run(p, &err)))
            fprintf(stderr, "%s: %s run failed: %s\n", t->name, be->name, err.msg);
    }
    res->n = 0;
    for (int i = 0; !rc && i < t->g->n_outputs && i < 8; i++) {
        hpk_tensor *y = be->io(p, t->g->outputs[i]);
        res->t[i] = *y;
        res->t[i].data = malloc(y->nbytes ? y->nbytes : 1);
        memcpy(res->t[i].data, y->data, y->nbytes);
        res->n++;
    }
    be->free(p);
    return rc;
}

/* 1e-4 absolute, relative above 1 */
static bool close_enough(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))
        return a == b;
    float tol = 1e-4f * fmaxf(1.0f, fabsf(b));
    return fabsf(a - b) <= tol;
}

static bool compare(tc *t, const char *what, const result *a, const result *ref)
{
    if (a->n != ref->n) {
        fprintf(stderr, "%s [%s]: %d outputs vs %d\n", t->name, what, a->n, ref->n);
        return false;
    }
    for (int i = 0; i < a->n; i++) {
        const hpk_tensor *x = &a->t[i], *y = &ref->t[i];
        if (x->dtype != y->dtype || x->rank != y->rank || x->nbytes != y->nbytes ||
            memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->rank)) {
            fprintf(stderr, "%s [%s]: output %d differs in dtype/shape\n", t->name, what, i);
            return false;
        }
        if (x->dtype != HPK_DT_F32) {
            if (memcmp(x->data, y->data, x->nbytes)) {
                fprintf(stderr, "%s [%s]: output %d (%s) differs\n", t->name, what, i, hpk_dtype_name(x->dtype));
                return false;
            }
            continue;
        }
        const float *p = x->data, *q = y->data;
        size_t n = x->nbytes / sizeof(float), bad = 0, first = 0;
        float worst = 0;
        for (size_t k = 0; k < n; k++)
            if (!close_enough(p[k], q[k])) {
                if (!bad++)
                    first = k;
                float d = fabsf(p[k] - q[k]);
                if (d > worst || isnan(d))
                    worst = d;
            }
        if (bad) {
            fprintf(stderr, "%s [%s]: output %d: %zu of %zu elements differ (first at %zu: %g vs ref %g; worst %g)\n",
                    t->name, what, i, bad, n, first, (double)p[first], (double)q[first], (double)worst);
            return false;
        }
    }
    return true;
}

/* feed scale per input (default 1) */
static float feed_scale[16];
static float feed_offset[16];

static void tc_run(tc *t)
{
    ir_graph *g = t->g;
    if (only && !strstr(t->name, only)) {
        ir_graph_free(g);
        memset(feed_scale, 0, sizeof feed_scale);
        memset(feed_offset, 0, sizeof feed_offset);
        return;
    }
    cases++;
    hpk_err_clear(&E);
    if (ir_infer_graph(g, &E) || ir_verify(g, &E)) {
        fprintf(stderr, "%s: the test graph is invalid: %s\n", t->name, E.msg);
        failures++;
        ir_graph_free(g);
        return;
    }
    ir_shape shapes[16];
    float *inputs[16];
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        shapes[i] = v->shape;
        size_t n;
        must(ir_shape_numel(&v->shape, &n), "numel");
        inputs[i] = malloc(sizeof(float) * (n ? n : 1));
        float sc = feed_scale[i] ? feed_scale[i] : 1.0f;
        for (size_t k = 0; k < n; k++)
            inputs[i][k] = feed_offset[i] + sc * (2.0f * (float)ir_rng_uniform(&t->rng) - 1.0f);
    }
    memset(feed_scale, 0, sizeof feed_scale);
    memset(feed_offset, 0, sizeof feed_offset);
    result ref = {0}, a = {0}, b = {0};
    be_options o_ref = {.threads = 1}, o_inf = {.threads = 2}, o_mut = {.threads = 2, .params_mutable = true};
    bool ok = run_backend(t, &be_ref, &o_ref, shapes, inputs, &ref, 2) == 0; /* 2 runs: the same dropout seeds */
    ok = ok && run_backend(t, &be_onednn, &o_inf, shapes, inputs, &a, 2) == 0 && compare(t, "fused", &a, &ref);
    ok = ok && run_backend(t, &be_onednn, &o_mut, shapes, inputs, &b, 2) == 0 && compare(t, "params_mutable", &b, &ref);
    if (!ok)
        failures++;
    else if (verbose)
        fprintf(stderr, "ok  %s\n", t->name);
    result_free(&ref), result_free(&a), result_free(&b);
    for (int i = 0; i < g->n_inputs; i++)
        free(inputs[i]);
    ir_graph_free(g);
}

/* ---- shared pieces ------------------------------------------------------------------------------------------ */

/* a Conv with random weights (scaled by fan-in) and optional bias */
static int conv(tc *t, int x, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad, int64_t group,
                bool bias)
{
    float r = 1.0f / sqrtf((float)(cin / group * k * k));
    int w = init_u(t, S(cout, cin / group, k, k), -r, r);
    int y;
    if (bias)
        y = OP1(t, Conv, x, w, init_u(t, S(cout), -0.5f, 0.5f));
    else
        y = OP1(t, Conv, x, w);
    a_ints(t, "kernel_shape", I64(k, k));
    a_ints(t, "strides", I64(stride, stride));
    a_ints(t, "pads", I64(pad, pad, pad, pad));
    if (group > 1)
        a_int(t, "group", group);
    return y;
}

static int bn(tc *t, int x, int64_t c)
{
    int y = OP1(t, BatchNormalization, x, init_u(t, S(c), 0.5f, 1.5f), init_u(t, S(c), -0.5f, 0.5f),
                init_u(t, S(c), -0.3f, 0.3f), init_u(t, S(c), 0.5f, 1.5f));
    a_float(t, "epsilon", 1e-3f);
    return y;
}

static int clip6(tc *t, int x)
{
    return OP1(t, Clip, x, init_scalar(t, IR_DT_F32, 0), init_scalar(t, IR_DT_F32, 6));
}

static int hardswish_pattern(tc *t, int x)
{
    int h = OP1(t, HardSigmoid, x);
    a_float(t, "alpha", 1.0f / 6.0f);
    return OP1(t, Mul, x, h);
}

/* ---- generators: one per op ----------------------------------------------------------------------------------- */
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) static void gen_##id(void);
#include "ops.def"
#undef OP

static void gen_Conv(void)
{
    static const struct {
        int64_t n, c, h, w, m, k, s, p, g;
        bool bias;
    } v[] = {
        {2, 8, 9, 9, 16, 3, 1, 1, 1, true},   {2, 3, 17, 17, 16, 3, 2, 1, 1, true}, /* first layer, ic = 3 */
        {1, 16, 8, 8, 16, 3, 2, 1, 16, true}, /* depthwise s2 */
        {2, 24, 7, 7, 24, 3, 1, 1, 24, false}, /* depthwise, no bias */
        {1, 12, 6, 6, 20, 1, 1, 0, 1, true},  /* channels not a multiple of 8 */
        {1, 8, 7, 7, 12, 3, 1, 0, 2, true},   /* groups */
        {2, 16, 5, 5, 32, 1, 1, 0, 1, false}, /* 1x1 */
        {1, 4, 11, 11, 8, 5, 3, 2, 1, true},  /* k5 s3 */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(13, "Conv n%lld c%lld %lldx%lld m%lld k%lld s%lld p%lld g%lld%s", (long long)v[i].n,
                       (long long)v[i].c, (long long)v[i].h, (long long)v[i].w, (long long)v[i].m, (long long)v[i].k,
                       (long long)v[i].s, (long long)v[i].p, (long long)v[i].g, v[i].bias ? "" : " nobias");
        int x = in_f(t, S(v[i].n, v[i].c, v[i].h, v[i].w));
        out(t, conv(t, x, v[i].c, v[i].m, v[i].k, v[i].s, v[i].p, v[i].g, v[i].bias));
        tc_run(t);
    }
    { /* asymmetric pads, dilation, rectangular kernel */
        tc *t = tc_new(13, "Conv k1x3 dil2 asym pads");
        int x = in_f(t, S(2, 6, 9, 10));
        int y = OP1(t, Conv, x, init_u(t, S(8, 6, 1, 3), -0.3f, 0.3f), init_u(t, S(8), -0.5f, 0.5f));
        a_ints(t, "dilations", I64(2, 2));
        a_ints(t, "pads", I64(0, 1, 1, 2));
        out(t, y);
        tc_run(t);
    }
    static const char *ap[] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    for (int i = 0; i < 3; i++) {
        tc *t = tc_new(13, "Conv auto_pad %s s2", ap[i]);
        int x = in_f(t, S(1, 8, 10, 10));
        int y = OP1(t, Conv, x, init_u(t, S(8, 8, 3, 3), -0.2f, 0.2f));
        a_str(t, "auto_pad", ap[i]);
        a_ints(t, "strides", I64(2, 2));
        out(t, y);
        tc_run(t);
    }
    { /* a MobileNetV2 inverted residual: 1x1 expand + BN + ReLU6, dw 3x3 + BN + ReLU6, 1x1 project + BN, Add */
        tc *t = tc_new(13, "Conv MobileNetV2 block (BN fold, clip, residual sum)");
        int x = in_f(t, S(2, 16, 8, 8));
        int h0 = conv(t, x, 16, 16, 1, 1, 0, 1, false); /* x is produced by a conv too: blocked */
        int h = clip6(t, bn(t, conv(t, h0, 16, 48, 1, 1, 0, 1, false), 48));
        h = clip6(t, bn(t, conv(t, h, 48, 48, 3, 1, 1, 48, false), 48));
        h = bn(t, conv(t, h, 48, 16, 1, 1, 0, 1, false), 16);
        out(t, OP1(t, Add, h0, h));
        tc_run(t);
    }
    { /* a batch of 6: micro-batches of 1, 2, 3 or 6 samples; Flatten and Gemm at the end */
        tc *t = tc_new(13, "Conv N6 block, pooled classifier");
        int x = in_f(t, S(6, 8, 10, 10));
        int h0 = OP1(t, Relu, conv(t, x, 8, 16, 3, 2, 1, 1, true));
        int h = clip6(t, conv(t, h0, 16, 32, 1, 1, 0, 1, true));
        h = clip6(t, conv(t, h, 32, 32, 3, 1, 1, 32, true));
        h = OP1(t, Add, conv(t, h, 32, 16, 1, 1, 0, 1, true), h0);
        int f = OP1(t, Flatten, OP1(t, GlobalAveragePool, h));
        int y = OP1(t, Gemm, f, init_u(t, S(10, 16), -0.3f, 0.3f), init_u(t, S(10), -0.1f, 0.1f));
        a_int(t, "transB", 1);
        out(t, OP1(t, Softmax, y));
        out(t, h);
        tc_run(t);
    }
    static const int64_t dwv[][3] = {{7, 2, 1}, {8, 2, 0}, {9, 1, 1}, {6, 1, 0}}; /* size, stride, BN after dw */
    for (int i = 0; i < 4; i++) { /* 1x1 expand + ReLU6 then depthwise 3x3: a dw post-op candidate */
        tc *t = tc_new(13, "Conv 1x1 then depthwise %lldx%lld s%lld%s", (long long)dwv[i][0], (long long)dwv[i][0],
                       (long long)dwv[i][1], dwv[i][2] ? " + BN" : " no bias");
        int x = in_f(t, S(2, 8, dwv[i][0], dwv[i][0]));
        int h = clip6(t, conv(t, x, 8, 24, 1, 1, 0, 1, true));
        h = conv(t, h, 24, 24, 3, dwv[i][1], 1, 24, false);
        if (dwv[i][2])
            h = clip6(t, bn(t, h, 24));
        out(t, conv(t, h, 24, 8, 1, 1, 0, 1, true));
        tc_run(t);
    }
    { /* a ResNet basic block: conv-bn-relu, conv-bn, add, relu */
        tc *t = tc_new(13, "Conv ResNet block (sum then relu)");
        int x = in_f(t, S(2, 8, 6, 6));
        int a = OP1(t, Relu, conv(t, x, 8, 8, 3, 1, 1, 1, true));
        int h = OP1(t, Relu, bn(t, conv(t, a, 8, 8, 3, 1, 1, 1, false), 8));
        h = bn(t, conv(t, h, 8, 8, 3, 1, 1, 1, false), 8);
        out(t, OP1(t, Relu, OP1(t, Add, h, a)));
        tc_run(t);
    }
    { /* MobileNetV3 pieces: HardSwish pattern fused, SE block with HardSigmoid, Relu */
        tc *t = tc_new(13, "Conv MobileNetV3 block (hardswish pattern, SE)");
        int x = in_f(t, S(2, 3, 16, 16));
        int h = hardswish_pattern(t, conv(t, x, 3, 16, 3, 2, 1, 1, true));
        int d = OP1(t, Relu, conv(t, h, 16, 16, 3, 2, 1, 16, true));
        int s = OP1(t, GlobalAveragePool, d);
        s = OP1(t, Relu, conv(t, s, 16, 8, 1, 1, 0, 1, true));
        s = OP1(t, HardSigmoid, conv(t, s, 8, 16, 1, 1, 0, 1, true));
        a_float(t, "alpha", 1.0f / 6.0f);
        int m = OP1(t, Mul, s, d);
        out(t, hardswish_pattern(t, conv(t, m, 16, 24, 1, 1, 0, 1, true)));
        tc_run(t);
    }
    { /* fusion blockers: a conv output read twice, a BN output that is a graph output, a sum into a graph input */
        tc *t = tc_new(13, "Conv fusion blockers");
        int x = in_f(t, S(1, 8, 6, 6));
        int c = conv(t, x, 8, 8, 3, 1, 1, 1, true);
        int r = OP1(t, Relu, c);
        int b = bn(t, conv(t, r, 8, 8, 1, 1, 0, 1, true), 8);
        int s = OP1(t, Add, conv(t, b, 8, 8, 3, 1, 1, 1, true), x);
        out(t, c);
        out(t, b);
        out(t, OP1(t, Add, s, c));
        tc_run(t);
    }
    { /* the other operand produced after the conv: the sum cannot fuse there */
        tc *t = tc_new(13, "Conv residual operand produced later");
        int x = in_f(t, S(1, 8, 5, 5));
        int a = conv(t, x, 8, 8, 1, 1, 0, 1, true);
        int b = conv(t, x, 8, 8, 3, 1, 1, 1, true);
        out(t, OP1(t, Relu, OP1(t, Add, a, b)));
        tc_run(t);
    }
}

static void gen_BatchNormalization(void)
{
    {
        tc *t = tc_new(15, "BatchNormalization 4D input");
        out(t, bn(t, in_f(t, S(2, 5, 4, 3)), 5));
        tc_run(t);
    }
    {
        tc *t = tc_new(15, "BatchNormalization 2D input");
        out(t, bn(t, in_f(t, S(4, 6)), 6));
        tc_run(t);
    }
    {
        tc *t = tc_new(15, "BatchNormalization after a conv (blocked), in place");
        int x = in_f(t, S(1, 8, 5, 5));
        int c = OP1(t, Relu, conv(t, x, 8, 16, 3, 1, 1, 1, true));
        out(t, OP1(t, Relu, bn(t, c, 16)));
        tc_run(t);
    }
    {
        tc *t = tc_new(15, "BatchNormalization training_mode outputs");
        int x = in_f(t, S(3, 4, 5, 2));
        int ni = node(t, IR_OP_BatchNormalization,
                      IN(x, init_u(t, S(4), 0.5f, 1.5f), init_u(t, S(4), -0.5f, 0.5f), init_u(t, S(4), -0.3f, 0.3f),
                         init_u(t, S(4), 0.5f, 1.5f)),
                      3);
        a_int(t, "training_mode", 1);
        a_float(t, "momentum", 0.8f);
        out(t, outk(t, ni, 0));
        out(t, outk(t, ni, 1));
        out(t, outk(t, ni, 2));
        tc_run(t);
    }
    {
        tc *t = tc_new(15, "BatchNormalization inference extra outputs");
        int x = in_f(t, S(2, 4, 3, 3));
        int ni = node(t, IR_OP_BatchNormalization,
                      IN(x, init_u(t, S(4), 0.5f, 1.5f), init_u(t, S(4), -0.5f, 0.5f), init_u(t, S(4), -0.3f, 0.3f),
                         init_u(t, S(4), 0.5f, 1.5f)),
                      3);
        out(t, outk(t, ni, 0));
        out(t, outk(t, ni, 1));
        out(t, outk(t, ni, 2));
        tc_run(t);
    }
}

/* unary ops on a graph input (not in place) and on an intermediate of a blocked layout (in place) */
static void unary_cases(ir_op op, void (*attrs)(tc *t), const char *tag)
{
    {
        tc *t = tc_new(13, "%s %s on an input", ir_op_table[op].id, tag);
        feed_scale[0] = 5;
        int y = op1(t, op, IN(in_f(t, S(2, 3, 4, 5))));
        if (attrs)
            attrs(t);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s %s on a conv output, chained", ir_op_table[op].id, tag);
        feed_scale[0] = 3;
        int x = in_f(t, S(2, 8, 5, 5));
        int c = conv(t, x, 8, 12, 3, 1, 1, 1, true);
        int a = OP1(t, Relu, x);
        int y = op1(t, op, IN(a));
        if (attrs)
            attrs(t);
        int z = op1(t, op, IN(OP1(t, Add, c, c)));
        if (attrs)
            attrs(t);
        out(t, y);
        out(t, z);
        tc_run(t);
    }
}

static void gen_Relu(void) { unary_cases(IR_OP_Relu, NULL, ""); }
static void gen_Sigmoid(void) { unary_cases(IR_OP_Sigmoid, NULL, ""); }
static void gen_HardSwish(void) { unary_cases(IR_OP_HardSwish, NULL, ""); }
static void hs_attrs(tc *t)
{
    a_float(t, "alpha", 0.3f);
    a_float(t, "beta", 0.4f);
}
static void gen_HardSigmoid(void)
{
    unary_cases(IR_OP_HardSigmoid, NULL, "default");
    unary_cases(IR_OP_HardSigmoid, hs_attrs, "alpha .3 beta .4");
    {
        tc *t = tc_new(13, "HardSigmoid HardSwish pattern on an input, x read again later");
        feed_scale[0] = 5;
        int x = in_f(t, S(2, 8, 3, 3));
        int h = hardswish_pattern(t, x);
        out(t, h);
        out(t, OP1(t, Add, h, x));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "HardSigmoid HardSwish pattern in place");
        feed_scale[0] = 5;
        int x = OP1(t, Relu, in_f(t, S(2, 8, 3, 3)));
        out(t, hardswish_pattern(t, OP1(t, Sub, x, init_scalar(t, IR_DT_F32, 2))));
        tc_run(t);
    }
}

static void gen_Clip(void)
{
    {
        tc *t = tc_new(13, "Clip min and max inputs");
        feed_scale[0] = 8;
        out(t, clip6(t, in_f(t, S(2, 3, 4, 5))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Clip max only, after a conv");
        int x = in_f(t, S(1, 4, 5, 5));
        out(t, OP1(t, Clip, conv(t, x, 4, 8, 3, 1, 1, 1, true), -1, init_scalar(t, IR_DT_F32, 0.25)));
        tc_run(t);
    }
    {
        tc *t = tc_new(6, "Clip opset 6 attributes");
        feed_scale[0] = 3;
        int y = OP1(t, Clip, in_f(t, S(3, 7)));
        a_float(t, "min", -0.5f);
        a_float(t, "max", 1.5f);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Clip no bounds");
        out(t, OP1(t, Clip, in_f(t, S(5))));
        tc_run(t);
    }
}

static void binary_cases(ir_op op)
{
    const char *id = ir_op_table[op].id;
    static const struct {
        const char *what;
        int ra, rb;
        int64_t a[4], b[4];
    } v[] = {
        {"same shape", 4, 4, {2, 3, 4, 5}, {2, 3, 4, 5}},
        {"[N,C,H,W] by [N,C,1,1]", 4, 4, {2, 16, 4, 5}, {2, 16, 1, 1}},
        {"[N,C,1,1] by [N,C,H,W]", 4, 4, {2, 16, 1, 1}, {2, 16, 4, 5}},
        {"by [C,1,1]", 4, 3, {2, 6, 3, 3}, {6, 1, 1}},
        {"by a scalar", 3, 0, {2, 3, 4}, {0}},
        {"scalar by", 0, 2, {0}, {4, 3}},
        {"[N,1] by [1,M]", 2, 2, {5, 1}, {1, 7}},
        {"by [W]", 4, 1, {1, 2, 3, 6}, {6}},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(13, "%s %s", id, v[i].what);
        int a = in_f(t, shp(v[i].ra, v[i].a)), b = in_f(t, shp(v[i].rb, v[i].b));
        if (op == IR_OP_Div)
            feed_offset[1] = 2; /* away from zero */
        out(t, op1(t, op, IN(a, b)));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s blocked by broadcast initializer, then relu", id);
        int x = in_f(t, S(2, 8, 4, 4));
        int c = conv(t, x, 8, 16, 3, 1, 1, 1, true);
        out(t, OP1(t, Relu, op1(t, op, IN(c, init_u(t, S(1, 16, 1, 1), 1.0f, 2.0f)))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s SE-like: blocked [N,C,H,W] by its blocked pooled [N,C,1,1], 20 channels", id);
        int x = in_f(t, S(2, 8, 5, 5));
        int c = conv(t, x, 8, 20, 3, 1, 1, 1, true);
        int s = OP1(t, Relu, conv(t, OP1(t, GlobalAveragePool, c), 20, 20, 1, 1, 0, 1, true));
        if (op == IR_OP_Div) { /* denominators away from zero */
            s = OP1(t, Add, s, init_scalar(t, IR_DT_F32, 1));
            c = OP1(t, Add, OP1(t, Relu, c), init_scalar(t, IR_DT_F32, 1));
        }
        out(t, op1(t, op, IN(s, c)));
        out(t, op1(t, op, IN(c, s)));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s of two conv outputs (layouts), in place", id);
        int x = in_f(t, S(1, 8, 4, 4));
        int c1 = conv(t, x, 8, 8, 3, 1, 1, 1, true), c2 = OP1(t, Relu, conv(t, x, 8, 8, 1, 1, 0, 1, true));
        if (op == IR_OP_Div)
            c2 = OP1(t, Add, c2, init_scalar(t, IR_DT_F32, 1));
        out(t, op1(t, op, IN(c1, c2)));
        tc_run(t);
    }
}
static void gen_Add(void) { binary_cases(IR_OP_Add); }
static void gen_Sub(void) { binary_cases(IR_OP_Sub); }
static void gen_Mul(void) { binary_cases(IR_OP_Mul); }
static void gen_Div(void) { binary_cases(IR_OP_Div); }

static void gen_Pow(void)
{
    {
        tc *t = tc_new(13, "Pow tensor exponent broadcast");
        feed_offset[0] = 2;
        out(t, OP1(t, Pow, in_f(t, S(2, 3, 4)), in_f(t, S(4))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Pow square of negatives");
        feed_scale[0] = 3;
        out(t, OP1(t, Pow, in_f(t, S(2, 5)), init_scalar(t, IR_DT_F32, 2)));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Pow int64 exponent");
        out(t, OP1(t, Pow, in_f(t, S(3, 4)), init_scalar(t, IR_DT_I64, 3)));
        tc_run(t);
    }
}

static void global_cases(ir_op op)
{
    const char *id = ir_op_table[op].id;
    static const struct { int r; int64_t d[5]; } v[] = {{4, {2, 5, 6, 7}}, {3, {2, 3, 9}}, {5, {1, 4, 3, 3, 2}}};
    for (size_t i = 0; i < 3; i++) {
        tc *t = tc_new(13, "%s rank %d", id, v[i].r);
        out(t, op1(t, op, IN(in_f(t, shp(v[i].r, v[i].d)))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s after a conv (blocked), 20 channels", id);
        int x = in_f(t, S(2, 8, 7, 7));
        out(t, op1(t, op, IN(conv(t, x, 8, 20, 3, 2, 1, 1, true))));
        tc_run(t);
    }
}
static void gen_GlobalAveragePool(void) { global_cases(IR_OP_GlobalAveragePool); }
static void gen_GlobalMaxPool(void) { global_cases(IR_OP_GlobalMaxPool); }

static void pool_cases(ir_op op)
{
    const char *id = ir_op_table[op].id;
    static const struct {
        int64_t h, w, k, s, p;
        int ceil, cip, dil;
        const char *ap;
    } v[] = {
        {8, 8, 3, 2, 1, 0, 0, 1, NULL}, {8, 8, 3, 2, 1, 0, 1, 1, NULL}, {7, 7, 3, 2, 0, 1, 0, 1, NULL},
        {7, 7, 3, 2, 1, 1, 1, 1, NULL}, {8, 9, 2, 2, 0, 1, 1, 1, NULL}, {9, 9, 2, 2, 0, 0, 0, 1, NULL},
        {10, 10, 3, 1, 1, 0, 0, 2, NULL}, {9, 8, 3, 2, 0, 0, 0, 1, "SAME_UPPER"},
        {9, 8, 3, 2, 0, 0, 1, 1, "SAME_LOWER"}, {6, 6, 2, 2, 0, 0, 0, 1, "VALID"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i].dil > 1 && op != IR_OP_MaxPool)
            continue;
        tc *t = tc_new(13, "%s %lldx%lld k%lld s%lld p%lld ceil%d cip%d dil%d %s", id, (long long)v[i].h,
                       (long long)v[i].w, (long long)v[i].k, (long long)v[i].s, (long long)v[i].p, v[i].ceil, v[i].cip,
                       v[i].dil, v[i].ap ? v[i].ap : "");
        int y = op1(t, op, IN(in_f(t, S(2, 3, v[i].h, v[i].w))));
        a_ints(t, "kernel_shape", I64(v[i].k, v[i].k));
        a_ints(t, "strides", I64(v[i].s, v[i].s));
        if (v[i].ap)
            a_str(t, "auto_pad", v[i].ap);
        else
            a_ints(t, "pads", I64(v[i].p, v[i].p, v[i].p, v[i].p));
        if (v[i].ceil)
            a_int(t, "ceil_mode", 1);
        if (v[i].cip && op == IR_OP_AveragePool)
            a_int(t, "count_include_pad", 1);
        if (v[i].dil > 1)
            a_ints(t, "dilations", I64(v[i].dil, v[i].dil));
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s after a conv (blocked) k3 s2 p1", id);
        int x = in_f(t, S(2, 8, 9, 9));
        int y = op1(t, op, IN(OP1(t, Relu, conv(t, x, 8, 16, 3, 1, 1, 1, true))));
        a_ints(t, "kernel_shape", I64(3, 3));
        a_ints(t, "strides", I64(2, 2));
        a_ints(t, "pads", I64(1, 1, 1, 1));
        out(t, y);
        tc_run(t);
    }
}
static void gen_AveragePool(void) { pool_cases(IR_OP_AveragePool); }
static void gen_MaxPool(void) { pool_cases(IR_OP_MaxPool); }

static void gen_Flatten(void)
{
    static const int64_t axes[] = {1, 0, 2, -1, 4};
    for (int i = 0; i < 5; i++) {
        tc *t = tc_new(13, "Flatten axis %lld", (long long)axes[i]);
        int y = OP1(t, Flatten, in_f(t, S(2, 3, 4, 5)));
        a_int(t, "axis", axes[i]);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Flatten after a conv (blocked) then Gemm");
        int x = in_f(t, S(2, 8, 4, 4));
        int f = OP1(t, Flatten, OP1(t, GlobalAveragePool, conv(t, x, 8, 20, 3, 1, 1, 1, true)));
        int y = OP1(t, Gemm, f, init_u(t, S(10, 20), -0.3f, 0.3f), init_u(t, S(10), -0.1f, 0.1f));
        a_int(t, "transB", 1);
        out(t, y);
        tc_run(t);
    }
}

static void gen_Reshape(void)
{
    {
        tc *t = tc_new(13, "Reshape with -1 and 0");
        out(t, OP1(t, Reshape, in_f(t, S(2, 3, 4, 5)), init_i64(t, I64(0, -1, 5))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Reshape a conv output (blocked), then a conv");
        int x = in_f(t, S(1, 8, 4, 4));
        int r = OP1(t, Reshape, conv(t, x, 8, 16, 1, 1, 0, 1, true), init_i64(t, I64(1, 32, 2, 4)));
        out(t, OP1(t, Relu, conv(t, r, 32, 8, 1, 1, 0, 1, true)));
        tc_run(t);
    }
}

static void gen_Squeeze(void)
{
    {
        tc *t = tc_new(13, "Squeeze axes input");
        out(t, OP1(t, Squeeze, in_f(t, S(2, 1, 3, 1)), init_i64(t, I64(1, -1))));
        tc_run(t);
    }
    {
        tc *t = tc_new(11, "Squeeze opset 11 attribute");
        int y = OP1(t, Squeeze, in_f(t, S(1, 4, 1)));
        a_ints(t, "axes", I64(0));
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Squeeze all unit dims of a pooled conv output");
        int x = in_f(t, S(1, 8, 4, 4));
        out(t, OP1(t, Squeeze, OP1(t, GlobalMaxPool, conv(t, x, 8, 16, 3, 1, 1, 1, true))));
        tc_run(t);
    }
}

static void gen_Unsqueeze(void)
{
    {
        tc *t = tc_new(13, "Unsqueeze axes input");
        out(t, OP1(t, Unsqueeze, in_f(t, S(3, 4)), init_i64(t, I64(0, 3))));
        tc_run(t);
    }
    {
        tc *t = tc_new(11, "Unsqueeze opset 11 attribute, then Add");
        int x = in_f(t, S(3, 4));
        int y = OP1(t, Unsqueeze, x);
        a_ints(t, "axes", I64(-1));
        out(t, OP1(t, Add, y, in_f(t, S(3, 4, 2))));
        tc_run(t);
    }
}

static void gen_Gemm(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            tc *t = tc_new(13, "Gemm transA %d transB %d", ta, tb);
            int a = in_f(t, ta ? S(7, 3) : S(3, 7));
            int y = OP1(t, Gemm, a, init_u(t, tb ? S(5, 7) : S(7, 5), -1, 1), init_u(t, S(5), -1, 1));
            a_int(t, "transA", ta);
            a_int(t, "transB", tb);
            out(t, y);
            tc_run(t);
        }
    static const struct { const char *what; int rc; int64_t c[2]; float alpha, beta; } v[] = {
        {"C [M,N] alpha 0.5 beta 2", 2, {3, 5}, 0.5f, 2.0f},
        {"C [1] beta 0.25", 1, {1, 0}, 1.0f, 0.25f},
        {"C scalar alpha 3", 0, {0, 0}, 3.0f, 1.0f},
        {"C [M,1]", 2, {3, 1}, 1.0f, 1.0f},
        {"beta 0", 1, {5, 0}, 1.0f, 0.0f},
        {"no C alpha 2", -1, {0, 0}, 2.0f, 1.0f},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(13, "Gemm %s", v[i].what);
        int a = in_f(t, S(3, 4)), b = in_f(t, S(4, 5));
        int y;
        if (v[i].rc >= 0)
            y = OP1(t, Gemm, a, b, init_u(t, shp(v[i].rc, v[i].c), -1, 1));
        else
            y = OP1(t, Gemm, a, b);
        a_float(t, "alpha", v[i].alpha);
        a_float(t, "beta", v[i].beta);
        out(t, y);
        tc_run(t);
    }
}

static void gen_MatMul(void)
{
    static const struct { const char *what; int ra, rb; int64_t a[4], b[4]; } v[] = {
        {"2D", 2, 2, {3, 4}, {4, 6}},
        {"3D batched", 3, 3, {2, 3, 4}, {2, 4, 5}},
        {"batch broadcast", 4, 3, {2, 3, 4, 5}, {3, 5, 2}},
        {"batch broadcast of A", 3, 3, {1, 3, 4}, {4, 4, 2}},
        {"1D by 2D", 1, 2, {4}, {4, 3}},
        {"2D by 1D", 2, 1, {3, 4}, {4}},
        {"3D by 2D", 3, 2, {2, 3, 4}, {4, 5}},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(13, "MatMul %s", v[i].what);
        out(t, OP1(t, MatMul, in_f(t, shp(v[i].ra, v[i].a)), in_f(t, shp(v[i].rb, v[i].b))));
        tc_run(t);
    }
}

static void gen_Identity(void)
{
    {
        tc *t = tc_new(13, "Identity of an input");
        out(t, OP1(t, Identity, in_f(t, S(3, 4))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Identity of an initializer as a conv bias, and of a conv output");
        int x = in_f(t, S(1, 4, 5, 5));
        int b = OP1(t, Identity, init_u(t, S(8), -1, 1));
        int y = OP1(t, Conv, x, init_u(t, S(8, 4, 3, 3), -0.3f, 0.3f), b);
        out(t, OP1(t, Relu, OP1(t, Identity, y)));
        tc_run(t);
    }
}

static void gen_Dropout(void)
{
    {
        tc *t = tc_new(13, "Dropout inference with mask");
        int ni = node(t, IR_OP_Dropout, IN(in_f(t, S(2, 3, 4))), 2);
        out(t, outk(t, ni, 0));
        out(t, outk(t, ni, 1));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Dropout training mode ratio 0.3 with mask");
        int ni = node(t, IR_OP_Dropout, IN(in_f(t, S(2, 3, 40)), init_scalar(t, IR_DT_F32, 0.3),
                                        init_scalar(t, IR_DT_BOOL, 1)), 2);
        out(t, outk(t, ni, 0));
        out(t, outk(t, ni, 1));
        tc_run(t);
    }
    {
        tc *t = tc_new(10, "Dropout opset 10 after a conv");
        int x = in_f(t, S(1, 4, 5, 5));
        int y = OP1(t, Dropout, conv(t, x, 4, 8, 3, 1, 1, 1, true));
        a_float(t, "ratio", 0.2f);
        out(t, OP1(t, Relu, y));
        tc_run(t);
    }
}

static void gen_Constant(void)
{
    {
        tc *t = tc_new(13, "Constant tensor added to an input");
        int x = in_f(t, S(2, 3));
        int c = op1(t, IR_OP_Constant, NULL, 0);
        ir_shape s = S(3);
        ir_tensor *tt = ir_tensor_new(t->g, IR_DT_F32, &s, &E);
        must(!tt, "tensor");
        float *d = tt->data;
        d[0] = 1, d[1] = -2, d[2] = 0.5f;
        ir_node *n = &t->g->nodes[last_node(t)];
        ir_attr *a = ir_arena_alloc(t->g, sizeof *a);
        must(!a, "attr");
        a->name = ir_strdup(t->g, "value");
        a->type = IR_ATTR_TENSOR;
        a->t = tt;
        n->attr = a;
        n->n_attr = 1;
        out(t, OP1(t, Add, x, c));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Constant value_float and value_ints");
        int x = in_f(t, S(2, 3));
        int c = op1(t, IR_OP_Constant, NULL, 0);
        a_float(t, "value_float", 2.5f);
        int shape = op1(t, IR_OP_Constant, NULL, 0);
        a_ints(t, "value_ints", I64(3, 2));
        out(t, OP1(t, Mul, x, c));
        out(t, shape);
        tc_run(t);
    }
}

static void softmax_cases(ir_op op)
{
    const char *id = ir_op_table[op].id;
    static const struct { int64_t opset, axis; int r; int64_t d[4]; bool has_axis; } v[] = {
        {13, -1, 2, {4, 10}, false}, {13, 1, 3, {2, 5, 3}, true}, {13, 0, 3, {3, 2, 4}, true},
        {11, 1, 4, {2, 3, 2, 2}, false}, {11, 2, 4, {2, 3, 4, 2}, true}, {11, 0, 2, {3, 4}, true},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(v[i].opset, "%s opset %lld axis %lld rank %d", id, (long long)v[i].opset, (long long)v[i].axis,
                       v[i].r);
        feed_scale[0] = 4;
        int y = op1(t, op, IN(in_f(t, shp(v[i].r, v[i].d))));
        if (v[i].has_axis)
            a_int(t, "axis", v[i].axis);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s classifier after Gemm", id);
        int y = OP1(t, Gemm, in_f(t, S(4, 16)), init_u(t, S(10, 16), -1, 1), init_u(t, S(10), -1, 1));
        a_int(t, "transB", 1);
        out(t, op1(t, op, IN(y)));
        tc_run(t);
    }
}
static void gen_Softmax(void) { softmax_cases(IR_OP_Softmax); }
static void gen_LogSoftmax(void) { softmax_cases(IR_OP_LogSoftmax); }

static void gen_Concat(void)
{
    {
        tc *t = tc_new(13, "Concat axis 1 of conv outputs (blocked) and an input");
        int x = in_f(t, S(2, 8, 5, 5));
        int y = OP1(t, Concat, conv(t, x, 8, 16, 3, 1, 1, 1, true), conv(t, x, 8, 8, 1, 1, 0, 1, true), x);
        a_int(t, "axis", 1);
        out(t, OP1(t, Relu, y));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Concat axis 0, three inputs, channels 3");
        int y = OP1(t, Concat, in_f(t, S(1, 3, 2)), in_f(t, S(2, 3, 2)), in_f(t, S(3, 3, 2)));
        a_int(t, "axis", 0);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Concat axis -1 odd sizes");
        int y = OP1(t, Concat, in_f(t, S(2, 3, 5)), in_f(t, S(2, 3, 3)));
        a_int(t, "axis", -1);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "Concat int64 shapes");
        int y = OP1(t, Concat, init_i64(t, I64(2, 3)), init_i64(t, I64(4)));
        a_int(t, "axis", 0);
        out(t, y);
        tc_run(t);
    }
}

static void gen_ReduceMean(void)
{
    static const struct { int64_t opset; int keep; int na; int64_t axes[3]; } v[] = {
        {13, 1, 2, {2, 3}}, {13, 0, 2, {2, 3}}, {13, 0, 1, {-1}}, {13, 1, 0, {0}}, {18, 1, 2, {1, 3}},
        {18, 0, 1, {0}}, {13, 0, 3, {0, 1, 2}},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(v[i].opset, "ReduceMean opset %lld keepdims %d axes %d", (long long)v[i].opset, v[i].keep,
                       v[i].na);
        int x = in_f(t, S(2, 3, 4, 5));
        int y;
        if (v[i].opset >= 18 && v[i].na)
            y = OP1(t, ReduceMean, x, init_i64(t, v[i].axes, v[i].na));
        else
            y = OP1(t, ReduceMean, x);
        if (v[i].opset < 18 && v[i].na)
            a_ints(t, "axes", v[i].axes, v[i].na);
        a_int(t, "keepdims", v[i].keep);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "ReduceMean spatial of a conv output (blocked)");
        int x = in_f(t, S(2, 8, 5, 5));
        int y = OP1(t, ReduceMean, conv(t, x, 8, 16, 3, 1, 1, 1, true));
        a_ints(t, "axes", I64(2, 3));
        a_int(t, "keepdims", 0);
        out(t, y);
        tc_run(t);
    }
}

/* ---- training ops: the forward additions and the gradients ------------------------------------------------ */

static void gen_Exp(void) { unary_cases(IR_OP_Exp, NULL, ""); }

static void gen_LpNormalization(void)
{
    static const struct { int r; int64_t d[4]; int64_t axis; } v[] = {{2, {4, 10}, -1}, {4, {2, 5, 3, 3}, 1}, {3, {3, 4, 5}, 0}};
    for (int i = 0; i < 3; i++) {
        tc *t = tc_new(13, "LpNormalization rank %d axis %lld", v[i].r, (long long)v[i].axis);
        int y = OP1(t, LpNormalization, in_f(t, shp(v[i].r, v[i].d)));
        a_int(t, "axis", v[i].axis);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "LpNormalization of pooled conv features");
        int x = in_f(t, S(2, 8, 5, 5));
        int f = OP1(t, Flatten, OP1(t, GlobalAveragePool, conv(t, x, 8, 16, 3, 1, 1, 1, true)));
        out(t, OP1(t, LpNormalization, f));
        tc_run(t);
    }
}

static void gen_ReduceSumSquare(void)
{
    static const struct { int64_t opset; int keep; int na; int64_t axes[3]; int noop; } v[] = {
        {13, 1, 2, {2, 3}, 0}, {13, 0, 1, {1}, 0}, {13, 0, 0, {0}, 0}, {18, 1, 1, {-1}, 0}, {18, 1, 0, {0}, 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(v[i].opset, "ReduceSumSquare opset %lld keepdims %d axes %d noop %d", (long long)v[i].opset,
                       v[i].keep, v[i].na, v[i].noop);
        int x = in_f(t, S(2, 3, 4, 5));
        int y;
        if (v[i].opset >= 18 && v[i].na)
            y = OP1(t, ReduceSumSquare, x, init_i64(t, v[i].axes, v[i].na));
        else
            y = OP1(t, ReduceSumSquare, x);
        if (v[i].opset < 18 && v[i].na)
            a_ints(t, "axes", v[i].axes, v[i].na);
        a_int(t, "keepdims", v[i].keep);
        if (v[i].noop)
            a_int(t, "noop_with_empty_axes", 1);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(18, "ReduceMean noop_with_empty_axes");
        int y = OP1(t, ReduceMean, in_f(t, S(2, 3)));
        a_int(t, "noop_with_empty_axes", 1);
        out(t, OP1(t, Relu, y));
        tc_run(t);
    }
}

static void gen_SoftmaxCrossEntropyLoss(void)
{
    for (int red = 0; red < 2; red++)
        for (int lp = 0; lp < 2; lp++) {
            tc *t = tc_new(13, "SoftmaxCrossEntropyLoss reduction %s%s", red ? "sum" : "mean", lp ? " log_prob" : "");
            feed_scale[0] = 4;
            int s = in_f(t, S(6, 5));
            int ni = node(t, IR_OP_SoftmaxCrossEntropyLoss, IN(s, init_i64(t, I64(0, 4, 2, 2, 1, 3))), lp ? 2 : 1);
            a_str(t, "reduction", red ? "sum" : "mean");
            out(t, outk(t, ni, 0));
            if (lp)
                out(t, outk(t, ni, 1));
            tc_run(t);
        }
}

static void gen_SoftmaxCrossEntropyLossGrad(void)
{
    for (int red = 0; red < 2; red++) {
        tc *t = tc_new(13, "SoftmaxCrossEntropyLossGrad reduction %s", red ? "sum" : "mean");
        int dl = in_f(t, S0);
        int y = OP1(t, SoftmaxCrossEntropyLossGrad, dl, in_f(t, S(4, 7)), init_i64(t, I64(6, 0, 3, 3)));
        a_str(t, "reduction", red ? "sum" : "mean");
        out(t, y);
        tc_run(t);
    }
}

/* a node with some outputs omitted (mask bit k set: output k absent) */
static int node_omit(tc *t, ir_op op, const int *in, int n_in, int n_out, unsigned omit)
{
    int ni = node(t, op, in, n_in, n_out);
    for (int k = 0; k < n_out; k++)
        if (omit & (1u << k))
            t->g->nodes[ni].out[k] = -1;
    return ni;
}

static void gen_ConvGrad(void)
{
    static const struct { int64_t n, c, h, m, k, s, p, g, dil; unsigned omit; } v[] = {
        {2, 4, 7, 6, 3, 1, 1, 1, 1, 0}, {2, 8, 9, 8, 3, 2, 1, 8, 1, 0}, {1, 6, 8, 4, 3, 1, 2, 2, 2, 0},
        {2, 16, 5, 8, 1, 1, 0, 1, 1, 0}, {1, 3, 9, 8, 3, 2, 1, 1, 1, 1}, {2, 4, 6, 4, 3, 1, 1, 1, 1, 4},
        {2, 4, 6, 4, 3, 1, 1, 1, 1, 6}, {2, 16, 5, 8, 1, 1, 0, 1, 1, 1}, {2, 12, 4, 20, 1, 1, 0, 1, 1, 2},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int64_t ek = (v[i].k - 1) * v[i].dil + 1, oh = (v[i].h + 2 * v[i].p - ek) / v[i].s + 1;
        tc *t = tc_new(13, "ConvGrad c%lld h%lld m%lld k%lld s%lld p%lld g%lld dil%lld omit%u", (long long)v[i].c,
                       (long long)v[i].h, (long long)v[i].m, (long long)v[i].k, (long long)v[i].s, (long long)v[i].p,
                       (long long)v[i].g, (long long)v[i].dil, v[i].omit);
        int dy = in_f(t, S(v[i].n, v[i].m, oh, oh)), x = in_f(t, S(v[i].n, v[i].c, v[i].h, v[i].h));
        int w = init_u(t, S(v[i].m, v[i].c / v[i].g, v[i].k, v[i].k), -0.5f, 0.5f);
        int ni = node_omit(t, IR_OP_ConvGrad, IN(dy, x, w), 3, v[i].omit);
        a_ints(t, "kernel_shape", I64(v[i].k, v[i].k));
        a_ints(t, "strides", I64(v[i].s, v[i].s));
        a_ints(t, "pads", I64(v[i].p, v[i].p, v[i].p, v[i].p));
        a_ints(t, "dilations", I64(v[i].dil, v[i].dil));
        a_int(t, "group", v[i].g);
        for (int k = 0; k < 3; k++)
            if (outk(t, ni, k) >= 0)
                out(t, outk(t, ni, k));
        tc_run(t);
    }
    { /* dY from a conv (blocked), X from a relu of a conv */
        tc *t = tc_new(13, "ConvGrad on blocked tensors");
        int x0 = in_f(t, S(2, 8, 6, 6));
        int x = OP1(t, Relu, conv(t, x0, 8, 16, 3, 1, 1, 1, true));
        int dy = conv(t, x0, 8, 16, 1, 1, 0, 1, true);
        int ni = node(t, IR_OP_ConvGrad, IN(dy, x, init_u(t, S(16, 16, 3, 3), -0.3f, 0.3f)), 3);
        a_ints(t, "pads", I64(1, 1, 1, 1));
        out(t, outk(t, ni, 0));
        out(t, outk(t, ni, 1));
        out(t, outk(t, ni, 2));
        tc_run(t);
    }
}

static void gen_BatchNormalizationGrad(void)
{
    static const struct { int r; int64_t d[4]; unsigned omit; } v[] = {{4, {3, 5, 4, 4}, 0}, {2, {8, 6}, 0}, {3, {2, 4, 7}, 6}, {4, {2, 3, 2, 2}, 1}};
    for (int i = 0; i < 4; i++) {
        tc *t = tc_new(15, "BatchNormalizationGrad rank %d omit%u", v[i].r, v[i].omit);
        int64_t c = v[i].d[1];
        int dy = in_f(t, shp(v[i].r, v[i].d)), x = in_f(t, shp(v[i].r, v[i].d));
        int ni = node_omit(t, IR_OP_BatchNormalizationGrad,
                           IN(dy, x, init_u(t, S(c), 0.5f, 1.5f), init_u(t, S(c), -0.2f, 0.2f),
                              init_u(t, S(c), 0.3f, 0.6f)), 3, v[i].omit);
        a_float(t, "epsilon", 1e-3f);
        for (int k = 0; k < 3; k++)
            if (outk(t, ni, k) >= 0)
                out(t, outk(t, ni, k));
        tc_run(t);
    }
    {
        tc *t = tc_new(15, "BatchNormalizationGrad on blocked tensors");
        int x0 = in_f(t, S(2, 8, 5, 5));
        int x = conv(t, x0, 8, 16, 3, 1, 1, 1, true), dy = conv(t, x0, 8, 16, 1, 1, 0, 1, true);
        int ni = node(t, IR_OP_BatchNormalizationGrad,
                      IN(dy, x, init_u(t, S(16), 0.5f, 1.5f), init_u(t, S(16), -0.2f, 0.2f), init_u(t, S(16), 0.3f, 0.6f)), 3);
        out(t, outk(t, ni, 0));
        out(t, outk(t, ni, 1));
        out(t, outk(t, ni, 2));
        tc_run(t);
    }
}

static void pool_grad_cases(ir_op op)
{
    static const struct { int64_t h, k, s, p; int ceil, cip, dil; } v[] = {
        {8, 3, 2, 1, 0, 0, 1}, {7, 3, 2, 1, 1, 1, 1}, {7, 3, 2, 0, 1, 0, 1}, {9, 2, 2, 0, 0, 1, 1}, {10, 3, 1, 1, 0, 0, 2},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i].dil > 1 && op != IR_OP_MaxPoolGrad)
            continue;
        int64_t ek = (v[i].k - 1) * v[i].dil + 1, span = v[i].h + 2 * v[i].p - ek;
        int64_t oh = v[i].ceil ? (span + v[i].s - 1) / v[i].s + 1 : span / v[i].s + 1;
        if (v[i].ceil && (oh - 1) * v[i].s >= v[i].h + v[i].p)
            oh--;
        tc *t = tc_new(13, "%s h%lld k%lld s%lld p%lld ceil%d cip%d dil%d", ir_op_table[op].id, (long long)v[i].h,
                       (long long)v[i].k, (long long)v[i].s, (long long)v[i].p, v[i].ceil, v[i].cip, v[i].dil);
        int dy = in_f(t, S(2, 3, oh, oh)), x = in_f(t, S(2, 3, v[i].h, v[i].h));
        int y = op1(t, op, IN(dy, x));
        a_ints(t, "kernel_shape", I64(v[i].k, v[i].k));
        a_ints(t, "strides", I64(v[i].s, v[i].s));
        a_ints(t, "pads", I64(v[i].p, v[i].p, v[i].p, v[i].p));
        if (v[i].ceil)
            a_int(t, "ceil_mode", 1);
        if (v[i].cip && op == IR_OP_AveragePoolGrad)
            a_int(t, "count_include_pad", 1);
        if (v[i].dil > 1)
            a_ints(t, "dilations", I64(v[i].dil, v[i].dil));
        out(t, y);
        tc_run(t);
    }
}
static void gen_MaxPoolGrad(void) { pool_grad_cases(IR_OP_MaxPoolGrad); }
static void gen_AveragePoolGrad(void) { pool_grad_cases(IR_OP_AveragePoolGrad); }

static void global_pool_grad_cases(ir_op op)
{
    {
        tc *t = tc_new(13, "%s rank 4", ir_op_table[op].id);
        out(t, op1(t, op, IN(in_f(t, S(2, 5, 1, 1)), in_f(t, S(2, 5, 4, 3)))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s rank 3, blocked X", ir_op_table[op].id);
        out(t, op1(t, op, IN(in_f(t, S(2, 4, 1)), in_f(t, S(2, 4, 9)))));
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s of a conv output", ir_op_table[op].id);
        int x = conv(t, in_f(t, S(2, 8, 5, 5)), 8, 16, 3, 1, 1, 1, true);
        out(t, op1(t, op, IN(in_f(t, S(2, 16, 1, 1)), x)));
        tc_run(t);
    }
}
static void gen_GlobalAveragePoolGrad(void) { global_pool_grad_cases(IR_OP_GlobalAveragePoolGrad); }
static void gen_GlobalMaxPoolGrad(void) { global_pool_grad_cases(IR_OP_GlobalMaxPoolGrad); }

/* dX = dY * f'(saved): saved a graph input (plain) and a conv output (blocked, 12 channels: padded) */
static void eltwise_grad_cases(ir_op op, void (*attrs)(tc *t))
{
    {
        tc *t = tc_new(13, "%s on inputs", ir_op_table[op].id);
        feed_scale[1] = 5;
        int y = op1(t, op, IN(in_f(t, S(2, 3, 4, 5)), in_f(t, S(2, 3, 4, 5))));
        if (attrs)
            attrs(t);
        out(t, y);
        tc_run(t);
    }
    {
        tc *t = tc_new(13, "%s on blocked tensors", ir_op_table[op].id);
        int x0 = in_f(t, S(2, 8, 5, 5));
        int sv = conv(t, x0, 8, 12, 3, 1, 1, 1, true), dy = conv(t, x0, 8, 12, 1, 1, 0, 1, true);
        int y = op1(t, op, IN(dy, OP1(t, Mul, sv, init_scalar(t, IR_DT_F32, 4))));
        if (attrs)
            attrs(t);
        out(t, y);
        tc_run(t);
    }
}
static void clipg_attrs(tc *t)
{
    a_float(t, "min", -0.5f);
    a_float(t, "max", 1.0f);
}
static void hsg_attrs(tc *t)
{
    a_float(t, "alpha", 1.0f / 6.0f);
    a_float(t, "beta", 0.5f);
}
static void gen_ReluGrad(void) { eltwise_grad_cases(IR_OP_ReluGrad, NULL); }
static void gen_ClipGrad(void) { eltwise_grad_cases(IR_OP_ClipGrad, clipg_attrs); }
static void gen_HardSigmoidGrad(void) { eltwise_grad_cases(IR_OP_HardSigmoidGrad, hsg_attrs); }
static void gen_HardSwishGrad(void) { eltwise_grad_cases(IR_OP_HardSwishGrad, NULL); }
static void gen_SigmoidGrad(void) { eltwise_grad_cases(IR_OP_SigmoidGrad, NULL); }

static void gen_DropoutGrad(void)
{
    tc *t = tc_new(13, "DropoutGrad of a training dropout's mask");
    int ni = node(t, IR_OP_Dropout, IN(in_f(t, S(2, 3, 40)), init_scalar(t, IR_DT_F32, 0.25),
                                       init_scalar(t, IR_DT_BOOL, 1)), 2);
    int y = OP1(t, DropoutGrad, in_f(t, S(2, 3, 40)), outk(t, ni, 1));
    a_float(t, "ratio", 0.25f);
    out(t, y);
    out(t, outk(t, ni, 0));
    tc_run(t);
}

static void gen_SumToShape(void)
{
    static const struct { const char *what; int ry, rl; int64_t y[4], l[4]; } v[] = {
        {"to [C,1,1]", 4, 3, {2, 6, 3, 3}, {6, 1, 1}}, {"to [1,C,1,1]", 4, 4, {2, 5, 3, 2}, {1, 5, 1, 1}},
        {"to a scalar", 3, 0, {2, 3, 4}, {0}}, {"to [W]", 3, 1, {2, 3, 4}, {4}}, {"same shape", 2, 2, {3, 4}, {3, 4}},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tc *t = tc_new(13, "SumToShape %s", v[i].what);
        out(t, OP1(t, SumToShape, in_f(t, shp(v[i].ry, v[i].y)), in_f(t, shp(v[i].rl, v[i].l))));
        tc_run(t);
    }
}

static void gen_ReshapeLike(void)
{
    tc *t = tc_new(13, "ReshapeLike of a conv output");
    int x = conv(t, in_f(t, S(2, 4, 3, 3)), 4, 8, 1, 1, 0, 1, true);
    out(t, OP1(t, ReshapeLike, x, in_f(t, S(2, 72))));
    tc_run(t);
}

static void softmax_grad_cases(ir_op fwd, ir_op op)
{
    static const struct { int64_t opset, axis; int r; int64_t d[4]; bool has; } v[] = {
        {13, -1, 2, {4, 10}, false}, {13, 1, 3, {2, 5, 3}, true}, {11, 1, 4, {2, 3, 2, 2}, false},
    };
    for (int i = 0; i < 3; i++) {
        tc *t = tc_new(v[i].opset, "%s opset %lld axis %lld", ir_op_table[op].id, (long long)v[i].opset, (long long)v[i].axis);
        feed_scale[0] = 3;
        int y = op1(t, fwd, IN(in_f(t, shp(v[i].r, v[i].d))));
        if (v[i].has)
            a_int(t, "axis", v[i].axis);
        int dx = op1(t, op, IN(in_f(t, shp(v[i].r, v[i].d)), y));
        if (v[i].has)
            a_int(t, "axis", v[i].axis);
        out(t, dx);
        tc_run(t);
    }
}
static void gen_SoftmaxGrad(void) { softmax_grad_cases(IR_OP_Softmax, IR_OP_SoftmaxGrad); }
static void gen_LogSoftmaxGrad(void) { softmax_grad_cases(IR_OP_LogSoftmax, IR_OP_LogSoftmaxGrad); }

static void reduce_grad_cases(ir_op op)
{
    static const struct { int na; int64_t axes[2]; int keep; } v[] = {{2, {2, 3}, 1}, {1, {1}, 0}, {0, {0}, 0}};
    for (int i = 0; i < 3; i++) {
        tc *t = tc_new(13, "%s axes %d keepdims %d", ir_op_table[op].id, v[i].na, v[i].keep);
        int64_t yd[4] = {2, 3, 4, 5};
        int yr = 4;
        if (v[i].na == 0) {
            yr = v[i].keep ? 4 : 0;
            for (int k = 0; k < 4; k++)
                yd[k] = 1;
        } else if (v[i].keep) {
            for (int k = 0; k < v[i].na; k++)
                yd[v[i].axes[k]] = 1;
        } else {
            yr = 0;
            for (int k = 0; k < 4; k++) {
                bool r = false;
                for (int j = 0; j < v[i].na; j++)
                    r |= v[i].axes[j] == k;
                if (!r)
                    yd[yr++] = yd[k];
            }
        }
        int y = op1(t, op, IN(in_f(t, shp(yr, yd)), in_f(t, S(2, 3, 4, 5))));
        if (v[i].na)
            a_ints(t, "axes", v[i].axes, v[i].na);
        a_int(t, "keepdims", v[i].keep);
        out(t, y);
        tc_run(t);
    }
}
static void gen_ReduceMeanGrad(void) { reduce_grad_cases(IR_OP_ReduceMeanGrad); }
static void gen_ReduceSumSquareGrad(void) { reduce_grad_cases(IR_OP_ReduceSumSquareGrad); }

static void gen_ConcatGrad(void)
{
    static const struct { int64_t axis; unsigned omit; } v[] = {{1, 0}, {0, 0}, {-1, 2}};
    for (int i = 0; i < 3; i++) {
        tc *t = tc_new(13, "ConcatGrad axis %lld omit%u", (long long)v[i].axis, v[i].omit);
        int64_t a = v[i].axis < 0 ? 2 : v[i].axis;
        int64_t d0[3] = {2, 3, 4}, d1[3] = {2, 3, 4}, dy[3] = {2, 3, 4};
        d1[a] = 5;
        dy[a] = d0[a] + d1[a];
        int ni = node_omit(t, IR_OP_ConcatGrad, IN(in_f(t, shp(3, dy)), in_f(t, shp(3, d0)), in_f(t, shp(3, d1))), 2,
                           v[i].omit);
        a_int(t, "axis", v[i].axis);
        for (int k = 0; k < 2; k++)
            if (outk(t, ni, k) >= 0)
                out(t, outk(t, ni, k));
        tc_run(t);
    }
}

static void gen_LpNormalizationGrad(void)
{
    static const struct { int r; int64_t d[4]; int64_t axis; } v[] = {{2, {4, 10}, -1}, {4, {2, 5, 3, 3}, 1}};
    for (int i = 0; i < 2; i++) {
        tc *t = tc_new(13, "LpNormalizationGrad rank %d axis %lld", v[i].r, (long long)v[i].axis);
        int y = OP1(t, LpNormalizationGrad, in_f(t, shp(v[i].r, v[i].d)), in_f(t, shp(v[i].r, v[i].d)));
        a_int(t, "axis", v[i].axis);
        out(t, y);
        tc_run(t);
    }
}

typedef void (*gen_fn)(void);
static const gen_fn generators[IR_OP_COUNT] = {
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) [IR_OP_##id] = gen_##id,
#include "ops.def"
#undef OP
};

int main(int argc, char **argv)
{
    if (argc > 1)
        only = argv[1];
    verbose = getenv("VERBOSE") != NULL;
    /* three passes: the backend's micro-batch choice, whole batches only, one sample at a time */
    static const char *modes[] = {"", "0", "1"};
    for (int m = 0; m < 3; m++) {
        setenv("HPK_ONEDNN_MICROBATCH", modes[m], 1);
        mode = modes[m];
        for (int op = 0; op < IR_OP_COUNT; op++)
            generators[op]();
    }
    if (!only)
        for (int op = 0; op < IR_OP_COUNT; op++)
            if (!covered[op]) {
                fprintf(stderr, "op %s has no test case\n", ir_op_table[op].id);
                failures++;
            }
    printf("%d cases, %d failures\n", cases, failures);
    return failures ? 1 : 0;
}
