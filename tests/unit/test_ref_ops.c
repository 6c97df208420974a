/* test_ref_ops.c — checks every reference-backend kernel against hand-computed values, per opset and edge case.
 *
 * Each case builds a small graph with the builder API, verifies it, runs it through be_ref and compares the
 * outputs with values written out by hand (or, for larger shapes, given by a naive formula written here, never
 * by a kernel). The last check asserts that every op of the op table was exercised.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "ir.h"

static int failures, checks;
static bool tested[IR_OP_COUNT];
static hpk_err E;

#define EXPECT(cond, ...)                                                                                     \
    do {                                                                                                      \
        checks++;                                                                                             \
        if (!(cond)) {                                                                                        \
            failures++;                                                                                       \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                                             \
            fprintf(stderr, __VA_ARGS__);                                                                     \
            fputc('\n', stderr);                                                                              \
        }                                                                                                     \
    } while (0)

/* a builder failure is a bug in this test: stop */
static void must(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "test setup failed (%s): %s\n", what, E.msg);
        exit(1);
    }
}

/* ---- shapes and builders --------------------------------------------------------------------------------- */
static ir_shape mk_shape(const int64_t *d, int rank)
{
    return ir_shape_make(rank, d);
}
#define S(...) mk_shape((const int64_t[]){__VA_ARGS__}, (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define S0 mk_shape(NULL, 0)
#define F(...) ((const float[]){__VA_ARGS__})
#define I64(...) ((const int64_t[]){__VA_ARGS__})
#define IN(...) (const int[]){__VA_ARGS__}, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))
#define OUT(...) IN(__VA_ARGS__)

static ir_graph *gnew(int64_t opset)
{
    ir_graph *g;
    hpk_err_clear(&E);
    must(ir_graph_init(&g, hpk_alloc_default(), &E), "graph");
    g->opset = opset;
    return g;
}

/* a graph input of dtype dt */
static int xin_t(ir_graph *g, const char *name, ir_dtype dt, ir_shape s)
{
    int v = ir_value_add(g, name, dt, &s, &E);
    must(v < 0, name);
    must(ir_graph_add_input(g, v, &E), name);
    return v;
}
static int xin(ir_graph *g, const char *name, ir_shape s) { return xin_t(g, name, IR_DT_F32, s); }

/* an initializer holding a copy of data */
static int init_t(ir_graph *g, const char *name, ir_dtype dt, ir_shape s, const void *data)
{
    int v = ir_init_add(g, name, dt, &s, &E);
    must(v < 0, name);
    if (g->values[v].init->nbytes)
        memcpy(g->values[v].init->data, data, g->values[v].init->nbytes);
    return v;
}
static int init_f(ir_graph *g, const char *name, ir_shape s, const float *d) { return init_t(g, name, IR_DT_F32, s, d); }
static int init_i64(ir_graph *g, const char *name, ir_shape s, const int64_t *d)
{
    return init_t(g, name, IR_DT_I64, s, d);
}
static int init_bool(ir_graph *g, const char *name, bool b)
{
    unsigned char v = b;
    return init_t(g, name, IR_DT_BOOL, S0, &v);
}

/* a value computed by a node; graph output */
static int yout(ir_graph *g, const char *name)
{
    int v = ir_value_add(g, name, IR_DT_UNDEF, NULL, &E);
    must(v < 0, name);
    must(ir_graph_add_output(g, v, &E), name);
    return v;
}
/* an intermediate value */
static int ymid(ir_graph *g, const char *name)
{
    int v = ir_value_add(g, name, IR_DT_UNDEF, NULL, &E);
    must(v < 0, name);
    return v;
}

static int node(ir_graph *g, ir_op op, const int *in, int nin, const int *out, int nout)
{
    char name[32];
    snprintf(name, sizeof name, "n%d", g->n_nodes);
    int ni = ir_node_add(g, op, name, in, nin, out, nout, &E);
    must(ni < 0, "node");
    tested[op] = true;
    return ni;
}
static void seti(ir_graph *g, int ni, const char *a, int64_t v) { must(ir_node_set_int(g, ni, a, v, &E), a); }
static void setf(ir_graph *g, int ni, const char *a, float v) { must(ir_node_set_float(g, ni, a, v, &E), a); }
static void sets(ir_graph *g, int ni, const char *a, const char *v) { must(ir_node_set_string(g, ni, a, v, &E), a); }
static void setis(ir_graph *g, int ni, const char *a, const int64_t *v, int n)
{
    must(ir_node_set_ints(g, ni, a, v, n, &E), a);
}
#define SETIS(g, ni, a, ...) setis(g, ni, a, I64(__VA_ARGS__), (int)(sizeof(I64(__VA_ARGS__)) / sizeof(int64_t)))

/* ---- running ------------------------------------------------------------------------------------------------ */
/* Verifies g and prepares a plan for the declared input shapes; NULL (and a failure) if either step fails. */
static be_plan *prep(ir_graph *g, int threads)
{
    ir_shape shapes[16];
    be_options opt = {0};
    be_plan *p = NULL;
    opt.threads = threads;
    hpk_err_clear(&E);
    int rc = ir_verify(g, &E);
    EXPECT(rc == HPK_OK, "ir_verify: %s", E.msg);
    if (rc)
        return NULL;
    for (int i = 0; i < g->n_inputs && i < 16; i++)
        shapes[i] = g->values[g->inputs[i]].shape;
    rc = be_ref.prepare(g, &opt, shapes, &p, &E);
    EXPECT(rc == HPK_OK, "prepare: %s", E.msg);
    return rc ? NULL : p;
}

static void feed(be_plan *p, int v, const void *data)
{
    hpk_tensor *t = be_ref.io(p, v);
    if (t && t->nbytes)
        memcpy(t->data, data, t->nbytes);
}

static bool run(be_plan *p)
{
    hpk_err_clear(&E);
    int rc = be_ref.run(p, &E);
    EXPECT(rc == HPK_OK, "run: %s", E.msg);
    return rc == HPK_OK;
}

static void done(ir_graph *g, be_plan *p)
{
    if (p)
        be_ref.free(p);
    ir_graph_free(g);
}

static bool close_to(double got, double want, double tol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= tol * (1.0 + fabs(want));
}

static bool shape_is(const hpk_tensor *t, ir_shape s)
{
    if (t->rank != s.rank)
        return false;
    for (int i = 0; i < s.rank; i++)
        if (t->dims[i] != s.d[i])
            return false;
    return true;
}

static void shape_str(const int64_t *d, int rank, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)d[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

/* Checks output v of p: float32, shape s, values want (within tol relative to 1 + |want|). */
static void check_f(const char *what, be_plan *p, int v, ir_shape s, const float *want, double tol)
{
    const hpk_tensor *t = be_ref.io(p, v);
    char a[96], b[96];
    EXPECT(t != NULL, "%s: no output tensor", what);
    if (!t)
        return;
    shape_str(t->dims, t->rank, a, sizeof a);
    shape_str(s.d, s.rank, b, sizeof b);
    EXPECT(t->dtype == HPK_DT_F32, "%s: dtype %s", what, hpk_dtype_name(t->dtype));
    EXPECT(shape_is(t, s), "%s: shape %s, want %s", what, a, b);
    if (t->dtype != HPK_DT_F32 || !shape_is(t, s))
        return;
    size_t n = t->nbytes / sizeof(float);
    const float *got = t->data;
    int shown = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = close_to(got[i], want[i], tol);
        checks++;
        if (!ok) {
            failures++;
            if (shown++ < 8)
                fprintf(stderr, "FAIL: %s: [%zu] = %.9g, want %.9g\n", what, i, (double)got[i], (double)want[i]);
        }
    }
}

/* Checks an output's raw bytes (any dtype). */
static void check_bytes(const char *what, be_plan *p, int v, ir_dtype dt, ir_shape s, const void *want)
{
    const hpk_tensor *t = be_ref.io(p, v);
    EXPECT(t && t->dtype == (int)dt && shape_is(t, s), "%s: dtype or shape differs", what);
    if (t && t->dtype == (int)dt && shape_is(t, s))
        EXPECT(t->nbytes == 0 || memcmp(t->data, want, t->nbytes) == 0, "%s: values differ", what);
}

static const float *outf(be_plan *p, int v) { return be_ref.io(p, v)->data; }

/* deterministic pseudo-random floats in [-1, 1) */
static uint64_t rng_state = 0x12345678u;
static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1u << 23) - 1.0);
}
static float *frand_n(size_t n)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    must(v == NULL, "malloc");
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
    return v;
}

/* ---- one-node graph helpers ---------------------------------------------------------------------------- */
/* y = op(x) for a single float input; checks y. Returns the node index via *ni if wanted before running. */
typedef void (*attr_fn)(ir_graph *g, int ni);
static void unary_case(const char *what, int64_t opset, ir_op op, attr_fn attrs, ir_shape s, const float *x,
                       const float *want, double tol)
{
    ir_graph *g = gnew(opset);
    int xv = xin(g, "x", s), yv = yout(g, "y");
    int ni = node(g, op, IN(xv), OUT(yv));
    if (attrs)
        attrs(g, ni);
    be_plan *p = prep(g, 1);
    if (p) {
        feed(p, xv, x);
        if (run(p))
            check_f(what, p, yv, s, want, tol);
    }
    done(g, p);
}

/* ================================ Conv ======================================================================= */

/* the definition, for shapes too large to write out: y[n,m,oy,ox] = b[m] + sum x * w over the valid taps */
static void conv_naive(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C, int64_t H,
                       int64_t W, int64_t M, int64_t KH, int64_t KW, int64_t group, int64_t sh, int64_t sw,
                       int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t OH, int64_t OW)
{
    int64_t Cg = C / group, Mg = M / group;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    double s = b ? b[m] : 0.0;
                    int64_t g = m / Mg;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t ky = 0; ky < KH; ky++)
                            for (int64_t kx = 0; kx < KW; kx++) {
                                int64_t iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                s += (double)x[((n * C + g * Cg + c) * H + iy) * W + ix] *
                                     w[((m * Cg + c) * KH + ky) * KW + kx];
                            }
                    y[((n * M + m) * OH + oy) * OW + ox] = (float)s;
                }
}

static void test_conv_hand(void)
{
    const float *x9 = F(1, 2, 3, 4, 5, 6, 7, 8, 9);
    /* valid 2x2 */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 1, 3, 3)), w = init_f(g, "w", S(1, 1, 2, 2), F(1, 2, 3, 4)), y = yout(g, "y");
        node(g, IR_OP_Conv, IN(x, w), OUT(y));
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, x9);
            if (run(p))
                check_f("conv valid", p, y, S(1, 1, 2, 2), F(37, 47, 67, 77), 1e-6);
        }
        done(g, p);
    }
    /* pads 1, stride 2, bias */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 1, 3, 3)), w = init_f(g, "w", S(1, 1, 2, 2), F(1, 2, 3, 4)),
            b = init_f(g, "b", S(1), F(10)), y = yout(g, "y");
        int ni = node(g, IR_OP_Conv, IN(x, w, b), OUT(y));
        SETIS(g, ni, "pads", 1, 1, 1, 1);
        SETIS(g, ni, "strides", 2, 2);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, x9);
            if (run(p))
                check_f("conv pads+stride+bias", p, y, S(1, 1, 2, 2), F(14, 28, 46, 87), 1e-6);
        }
        done(g, p);
    }
    /* dilation 2 */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 1, 3, 3)), w = init_f(g, "w", S(1, 1, 2, 2), F(1, 2, 3, 4)), y = yout(g, "y");
        int ni = node(g, IR_OP_Conv, IN(x, w), OUT(y));
        SETIS(g, ni, "dilations", 2, 2);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, x9);
            if (run(p))
                check_f("conv dilation", p, y, S(1, 1, 1, 1), F(64), 1e-6);
        }
        done(g, p);
    }
    /* depthwise 3x3, pad 1: channel 0 box-summed, channel 1 (all ones) sums the taps that land inside */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 2, 3, 3)),
            w = init_f(g, "w", S(2, 1, 3, 3), F(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
            y = yout(g, "y");
        int ni = node(g, IR_OP_Conv, IN(x, w), OUT(y));
        seti(g, ni, "group", 2);
        SETIS(g, ni, "pads", 1, 1, 1, 1);
        SETIS(g, ni, "kernel_shape", 3, 3);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1));
            if (run(p))
                check_f("conv depthwise", p, y, S(1, 2, 3, 3),
                        F(12, 21, 16, 27, 45, 33, 24, 39, 28, 28, 39, 24, 33, 45, 27, 16, 21, 12), 1e-6);
        }
        done(g, p);
    }
    /* group 2 with two input channels per group, 1x1 (the pointwise path) */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 4, 1, 2)), w = init_f(g, "w", S(2, 2, 1, 1), F(1, -1, 2, 0.5f)), y = yout(g, "y");
        int ni = node(g, IR_OP_Conv, IN(x, w), OUT(y));
        seti(g, ni, "group", 2);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3, 5, 7, 11, 13, 17));
            if (run(p))
                check_f("conv group 1x1", p, y, S(1, 2, 1, 2), F(-2, -3, 20.5f, 30.5f), 1e-6);
        }
        done(g, p);
    }
    /* auto_pad SAME_UPPER / SAME_LOWER, stride 2, 3x3 ones on a 4x4 input: the extra pad goes last / first */
    static const char *const modes[2] = {"SAME_UPPER", "SAME_LOWER"};
    static const float want[2][4] = {{59, 47, 56, 45}, {18, 37, 44, 82}};
    for (int i = 0; i < 2; i++) {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 1, 4, 4)), w = init_f(g, "w", S(1, 1, 3, 3), F(1, 1, 1, 1, 1, 1, 1, 1, 1)),
            y = yout(g, "y");
        int ni = node(g, IR_OP_Conv, IN(x, w), OUT(y));
        sets(g, ni, "auto_pad", modes[i]);
        SETIS(g, ni, "strides", 2, 2);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(3, 1, 4, 15, 5, 9, 2, 6, 10, 13, 12, 8, 0, 7, 14, 11));
            if (run(p))
                check_f(modes[i], p, y, S(1, 1, 2, 2), want[i], 1e-6);
        }
        done(g, p);
    }
}

typedef struct conv_case {
    const char *what;
    int64_t N, C, H, W, M, KH, KW, group, sh, sw, pt, pl, pb, pr, dh, dw;
    bool bias;
} conv_case;

/* Runs a conv case with `threads` threads; returns the output (malloc'ed) and checks it against conv_naive. */
static float *conv_formula_case(const conv_case *cc, int threads)
{
    int64_t OH = (cc->H + cc->pt + cc->pb - ((cc->KH - 1) * cc->dh + 1)) / cc->sh + 1;
    int64_t OW = (cc->W + cc->pl + cc->pr - ((cc->KW - 1) * cc->dw + 1)) / cc->sw + 1;
    size_t nx = (size_t)(cc->N * cc->C * cc->H * cc->W), nw = (size_t)(cc->M * (cc->C / cc->group) * cc->KH * cc->KW);
    size_t ny = (size_t)(cc->N * cc->M * OH * OW);
    float *x = frand_n(nx), *w = frand_n(nw), *b = frand_n((size_t)cc->M), *want = malloc(sizeof(float) * ny);
    float *got = malloc(sizeof(float) * (ny ? ny : 1));
    must(!want || !got, "malloc");
    conv_naive(x, w, cc->bias ? b : NULL, want, cc->N, cc->C, cc->H, cc->W, cc->M, cc->KH, cc->KW, cc->group, cc->sh,
               cc->sw, cc->pt, cc->pl, cc->dh, cc->dw, OH, OW);
    ir_graph *g = gnew(13);
    int xv = xin(g, "x", S(cc->N, cc->C, cc->H, cc->W));
    int wv = init_f(g, "w", S(cc->M, cc->C / cc->group, cc->KH, cc->KW), w);
    int bv = cc->bias ? init_f(g, "b", S(cc->M), b) : -1;
    int yv = yout(g, "y");
    int ni = cc->bias ? node(g, IR_OP_Conv, IN(xv, wv, bv), OUT(yv)) : node(g, IR_OP_Conv, IN(xv, wv), OUT(yv));
    seti(g, ni, "group", cc->group);
    SETIS(g, ni, "strides", cc->sh, cc->sw);
    SETIS(g, ni, "pads", cc->pt, cc->pl, cc->pb, cc->pr);
    SETIS(g, ni, "dilations", cc->dh, cc->dw);
    be_plan *p = prep(g, threads);
    if (p) {
        feed(p, xv, x);
        if (run(p)) {
            check_f(cc->what, p, yv, S(cc->N, cc->M, OH, OW), want, 1e-5);
            memcpy(got, outf(p, yv), sizeof(float) * ny);
        }
    }
    done(g, p);
    free(x);
    free(w);
    free(b);
    free(want);
    return got;
}

static void test_conv_formula(void)
{
    static const conv_case cases[] = {
        /* what                         N  C   H   W   M  KH KW grp sh sw pt pl pb pr dh dw bias */
        {"conv general mixed",          2, 6,  7,  9,  8, 3, 2, 2,  2, 1, 1, 0, 2, 1, 1, 2, true},
        {"conv 3x3 s2 stem",            1, 3,  15, 14, 5, 3, 3, 1,  2, 2, 1, 1, 1, 1, 1, 1, true},
        {"conv 3x3 s1 full",            2, 4,  6,  5,  6, 3, 3, 1,  1, 1, 1, 1, 1, 1, 1, 1, false},
        {"conv depthwise s2",           1, 5,  9,  8,  5, 3, 3, 5,  2, 2, 1, 1, 1, 1, 1, 1, true},
        {"conv depthwise multiplier 2", 1, 3,  5,  6,  6, 3, 3, 3,  1, 1, 1, 1, 1, 1, 1, 1, true},
        {"conv 1x1 tiles+remainder",    2, 7,  17, 19, 10, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, true},
        {"conv 1x1 groups",             1, 8,  3,  4,  12, 1, 1, 4, 1, 1, 0, 0, 0, 0, 1, 1, false},
        {"conv 1x1 stride 2",           1, 4,  7,  7,  6, 1, 1, 1,  2, 2, 0, 0, 0, 0, 1, 1, true},
        {"conv 1x1 padded",             1, 2,  3,  3,  3, 1, 1, 1,  1, 1, 1, 0, 0, 1, 1, 1, true},
        {"conv kernel wider than pad",  1, 2,  4,  3,  2, 2, 5, 1,  1, 3, 0, 2, 0, 2, 1, 1, true},
        {"conv huge pads",              1, 1,  2,  2,  1, 2, 2, 1,  1, 1, 3, 3, 3, 3, 1, 1, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        free(conv_formula_case(&cases[i], 1));
    /* threads never change a result: bitwise equal outputs with 1 and 3 threads */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t saved = rng_state;
        float *a = conv_formula_case(&cases[i], 1);
        rng_state = saved;
        float *b = conv_formula_case(&cases[i], 3);
        const conv_case *cc = &cases[i];
        int64_t OH = (cc->H + cc->pt + cc->pb - ((cc->KH - 1) * cc->dh + 1)) / cc->sh + 1;
        int64_t OW = (cc->W + cc->pl + cc->pr - ((cc->KW - 1) * cc->dw + 1)) / cc->sw + 1;
        EXPECT(memcmp(a, b, sizeof(float) * (size_t)(cc->N * cc->M * OH * OW)) == 0, "%s: threads change the result",
               cc->what);
        free(a);
        free(b);
    }
}

/* ================================ pooling ==================================================================== */

static const float X44[16] = {3, 1, 4, 15, 5, 9, 2, 6, 10, 13, 12, 8, 0, 7, 14, 11};

typedef struct pool_case {
    const char *what;
    ir_op op;
    int64_t k, s, pads, dil;
    int ceil, cip;
    int64_t o;
    float want[9];
} pool_case;

static void test_pool(void)
{
    /* 4x4 input X44; values checked against hand sums (and PyTorch's max_pool2d / avg_pool2d) */
    static const pool_case cases[] = {
        {"maxpool k2 s2", IR_OP_MaxPool, 2, 2, 0, 1, 0, 0, 2, {9, 15, 13, 14}},
        {"maxpool k3 s2 ceil", IR_OP_MaxPool, 3, 2, 0, 1, 1, 0, 2, {13, 15, 14, 14}},
        {"maxpool k2 dilation 2", IR_OP_MaxPool, 2, 1, 0, 2, 0, 0, 2, {12, 15, 14, 11}},
        {"maxpool k3 s2 pad1 ceil", IR_OP_MaxPool, 3, 2, 1, 1, 1, 0, 3, {9, 15, 15, 13, 14, 11, 7, 14, 11}},
        {"avgpool k2 s2", IR_OP_AveragePool, 2, 2, 0, 1, 0, 0, 2, {4.5f, 6.75f, 7.5f, 11.25f}},
        {"avgpool pad1 exclude pad", IR_OP_AveragePool, 3, 2, 1, 1, 0, 0, 2, {4.5f, 37.f / 6, 44.f / 6, 82.f / 9}},
        {"avgpool pad1 include pad", IR_OP_AveragePool, 3, 2, 1, 1, 0, 1, 2, {2, 37.f / 9, 44.f / 9, 82.f / 9}},
        {"avgpool ceil include pad", IR_OP_AveragePool, 3, 2, 0, 1, 1, 1, 2, {59.f / 9, 47.f / 6, 56.f / 6, 45.f / 4}},
        {"avgpool pad1 ceil include pad", IR_OP_AveragePool, 3, 2, 1, 1, 1, 1, 3,
         {2, 37.f / 9, 21.f / 6, 44.f / 9, 82.f / 9, 25.f / 6, 7.f / 6, 32.f / 6, 11.f / 4}},
        {"avgpool pad1 ceil exclude pad", IR_OP_AveragePool, 3, 2, 1, 1, 1, 0, 3,
         {4.5f, 37.f / 6, 10.5f, 44.f / 6, 82.f / 9, 25.f / 3, 3.5f, 32.f / 3, 11}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pool_case *pc = &cases[i];
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 1, 4, 4)), y = yout(g, "y");
        int ni = node(g, pc->op, IN(x), OUT(y));
        SETIS(g, ni, "kernel_shape", pc->k, pc->k);
        SETIS(g, ni, "strides", pc->s, pc->s);
        SETIS(g, ni, "pads", pc->pads, pc->pads, pc->pads, pc->pads);
        if (pc->dil != 1)
            SETIS(g, ni, "dilations", pc->dil, pc->dil);
        seti(g, ni, "ceil_mode", pc->ceil);
        if (pc->op == IR_OP_AveragePool)
            seti(g, ni, "count_include_pad", pc->cip);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, X44);
            if (run(p))
                check_f(pc->what, p, y, S(1, 1, pc->o, pc->o), pc->want, 1e-6);
        }
        done(g, p);
    }
    /* asymmetric pads (top/left only) */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 1, 4, 4)), y = yout(g, "y");
        int ni = node(g, IR_OP_MaxPool, IN(x), OUT(y));
        SETIS(g, ni, "kernel_shape", 2, 2);
        SETIS(g, ni, "strides", 2, 2);
        SETIS(g, ni, "pads", 1, 1, 0, 0);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, X44);
            if (run(p))
                check_f("maxpool top-left pads", p, y, S(1, 1, 2, 2), F(3, 4, 10, 13), 1e-6);
        }
        done(g, p);
    }
    /* padding never wins a max over negative inputs; two channels, batch 1 */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 2, 2, 2)), y = yout(g, "y");
        int ni = node(g, IR_OP_MaxPool, IN(x), OUT(y));
        SETIS(g, ni, "kernel_shape", 2, 2);
        SETIS(g, ni, "pads", 1, 1, 1, 1);
        be_plan *p = prep(g, 2);
        if (p) {
            feed(p, x, F(-1, -2, -3, -4, 1, 2, 3, 4));
            if (run(p))
                check_f("maxpool negative with pads", p, y, S(1, 2, 3, 3),
                        F(-1, -1, -2, -1, -1, -2, -3, -3, -4, 1, 2, 2, 3, 4, 4, 3, 4, 4), 1e-6);
        }
        done(g, p);
    }
    /* auto_pad SAME_UPPER on AveragePool: k3 s2 on 4x4 pads bottom/right by 1, excluded from the count */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 1, 4, 4)), y = yout(g, "y");
        int ni = node(g, IR_OP_AveragePool, IN(x), OUT(y));
        SETIS(g, ni, "kernel_shape", 3, 3);
        SETIS(g, ni, "strides", 2, 2);
        sets(g, ni, "auto_pad", "SAME_UPPER");
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, X44);
            if (run(p))
                check_f("avgpool SAME_UPPER", p, y, S(1, 1, 2, 2), F(59.f / 9, 47.f / 6, 56.f / 6, 45.f / 4), 1e-6);
        }
        done(g, p);
    }
    /* global pools: rank 4 and rank 3 */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 2, 2, 2)), x3 = xin(g, "x3", S(1, 2, 3));
        int ya = yout(g, "ya"), ym = yout(g, "ym"), ya3 = yout(g, "ya3"), ym3 = yout(g, "ym3");
        node(g, IR_OP_GlobalAveragePool, IN(x), OUT(ya));
        node(g, IR_OP_GlobalMaxPool, IN(x), OUT(ym));
        node(g, IR_OP_GlobalAveragePool, IN(x3), OUT(ya3));
        node(g, IR_OP_GlobalMaxPool, IN(x3), OUT(ym3));
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3, 4, 5, 6, 7, 9));
            feed(p, x3, F(1, 5, 3, -1, -2, -6));
            if (run(p)) {
                check_f("global avg", p, ya, S(1, 2, 1, 1), F(2.5f, 6.75f), 1e-6);
                check_f("global max", p, ym, S(1, 2, 1, 1), F(4, 9), 1e-6);
                check_f("global avg rank 3", p, ya3, S(1, 2, 1), F(3, -3), 1e-6);
                check_f("global max rank 3", p, ym3, S(1, 2, 1), F(5, -1), 1e-6);
            }
        }
        done(g, p);
    }
}

/* ================================ BatchNormalization ========================================================= */

static void test_batchnorm(void)
{
    /* inference: y = scale * (x - mean) / sqrt(var + eps) + B, with var + eps = 4 and 2.25 */
    {
        ir_graph *g = gnew(15);
        int x = xin(g, "x", S(1, 2, 1, 2)), sc = init_f(g, "s", S(2), F(3, 0.5f)), b = init_f(g, "b", S(2), F(1, -1)),
            m = init_f(g, "m", S(2), F(1, 2)), v = init_f(g, "v", S(2), F(3.5f, 1.75f)), y = yout(g, "y");
        int rm = yout(g, "rm"), rv = yout(g, "rv");
        int ni = node(g, IR_OP_BatchNormalization, IN(x, sc, b, m, v), OUT(y, rm, rv));
        setf(g, ni, "epsilon", 0.5f);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3, 4.5f));
            /* ch0: (x-1)/2*3+1 -> 1, 2.5; ch1: (x-2)/1.5*0.5-1 -> -2/3, -1/6 */
            if (run(p)) {
                check_f("bn inference", p, y, S(1, 2, 1, 2), F(1, 2.5f, -2.f / 3, -1.f / 6), 1e-6);
                /* outside training the running statistics pass through unchanged */
                check_f("bn inference mean out", p, rm, S(2), F(1, 2), 0);
                check_f("bn inference var out", p, rv, S(2), F(3.5f, 1.75f), 0);
            }
        }
        done(g, p);
    }
    /* training, N=2 C=2 S=2: ch0 {2,2,6,6}: mean 4, var 4 (unbiased 16/3); ch1 {-5,1,1,3}: mean 0, var 9
     * (unbiased 12). momentum 0.75, running mean {1,2}, var {2,4}. */
    {
        ir_graph *g = gnew(15);
        int x = xin(g, "x", S(2, 2, 1, 2)), sc = init_f(g, "s", S(2), F(1, 2)), b = init_f(g, "b", S(2), F(0, 1)),
            m = init_f(g, "m", S(2), F(1, 2)), v = init_f(g, "v", S(2), F(2, 4)), y = yout(g, "y"),
            rm = yout(g, "rm"), rv = yout(g, "rv");
        int ni = node(g, IR_OP_BatchNormalization, IN(x, sc, b, m, v), OUT(y, rm, rv));
        setf(g, ni, "epsilon", 0.0f);
        setf(g, ni, "momentum", 0.75f);
        seti(g, ni, "training_mode", 1);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(2, 2, -5, 1, 6, 6, 1, 3));
            if (run(p)) {
                check_f("bn training y", p, y, S(2, 2, 1, 2), F(-1, -1, -7.f / 3, 5.f / 3, 1, 1, 5.f / 3, 3), 1e-6);
                /* 0.75*1 + 0.25*4, 0.75*2 + 0.25*0 */
                check_f("bn training running mean", p, rm, S(2), F(1.75f, 1.5f), 1e-6);
                /* 0.75*2 + 0.25*16/3, 0.75*4 + 0.25*12: the unbiased batch variance */
                check_f("bn training running var", p, rv, S(2), F(1.5f + 4.f / 3, 6), 1e-6);
            }
        }
        done(g, p);
    }
    /* training on a rank-2 input [N, C], default momentum 0.9 and epsilon 1e-5; the pre-14 outputs 3 and 4
     * (saved mean, saved variance) get the batch mean and the biased batch variance */
    {
        ir_graph *g = gnew(15);
        int x = xin(g, "x", S(2, 2)), sc = init_f(g, "s", S(2), F(1, 1)), b = init_f(g, "b", S(2), F(0, 0)),
            m = init_f(g, "m", S(2), F(0, 0)), v = init_f(g, "v", S(2), F(1, 1)), y = yout(g, "y"),
            rm = yout(g, "rm"), rv = yout(g, "rv"), sm = yout(g, "sm"), sv = yout(g, "sv");
        int ni = node(g, IR_OP_BatchNormalization, IN(x, sc, b, m, v), OUT(y, rm, rv, sm, sv));
        seti(g, ni, "training_mode", 1);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3, 6)); /* ch0 {1,3}: mean 2 var 1; ch1 {2,6}: mean 4 var 4 */
            if (run(p)) {
                float a = (float)(1.0 / sqrt(1.0 + 1e-5)), c = (float)(2.0 / sqrt(4.0 + 1e-5));
                check_f("bn training rank 2 y", p, y, S(2, 2), F(-a, -c, a, c), 1e-6);
                check_f("bn training rank 2 mean", p, rm, S(2), F(0.2f, 0.4f), 1e-6);
                check_f("bn training rank 2 var", p, rv, S(2), F(0.9f + 0.1f * 2, 0.9f + 0.1f * 8), 1e-6);
                check_f("bn training saved mean", p, sm, S(2), F(2, 4), 1e-6);
                check_f("bn training saved var", p, sv, S(2), F(1, 4), 1e-6);
            }
        }
        done(g, p);
    }
}

/* ================================ unary elementwise ========================================================== */

static void hs_attrs(ir_graph *g, int ni)
{
    setf(g, ni, "alpha", 0.5f);
    setf(g, ni, "beta", 0.25f);
}
static void clip_attrs(ir_graph *g, int ni)
{
    setf(g, ni, "min", -1.0f);
    setf(g, ni, "max", 2.0f);
}

static void test_eltwise(void)
{
    unary_case("relu", 13, IR_OP_Relu, NULL, S(5), F(-2, -0.5f, 0, 0.5f, 3), F(0, 0, 0, 0.5f, 3), 0);
    unary_case("hardsigmoid default", 13, IR_OP_HardSigmoid, NULL, S(5), F(-3, -1, 0, 1, 3), F(0, 0.3f, 0.5f, 0.7f, 1),
               1e-6);
    unary_case("hardsigmoid alpha beta", 13, IR_OP_HardSigmoid, hs_attrs, S(4), F(-1, 0, 1, 2), F(0, 0.25f, 0.75f, 1),
               1e-6);
    unary_case("hardswish", 14, IR_OP_HardSwish, NULL, S(7), F(-4, -3, -1, 0, 1, 3, 4),
               F(0, 0, -1.f / 3, 0, 2.f / 3, 3, 4), 1e-6);
    unary_case("sigmoid", 13, IR_OP_Sigmoid, NULL, S(6), F(0, 2, -2, 100, -100, -1000),
               F(0.5f, (float)(1 / (1 + exp(-2.0))), (float)(1 / (1 + exp(2.0))), 1, (float)exp(-100.0), 0), 1e-6);
    unary_case("identity", 13, IR_OP_Identity, NULL, S(2, 2), F(1, -2, 3.5f, 1e30f), F(1, -2, 3.5f, 1e30f), 0);

    /* Clip: opset 6 takes min/max attributes; opset 13 ignores them and reads inputs */
    unary_case("clip opset 6 attrs", 6, IR_OP_Clip, clip_attrs, S(5), F(-3, -1, 0.5f, 2, 5), F(-1, -1, 0.5f, 2, 2), 0);
    unary_case("clip opset 13 attrs ignored", 13, IR_OP_Clip, clip_attrs, S(5), F(-3, -1, 0.5f, 2, 5),
               F(-3, -1, 0.5f, 2, 5), 0);
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(4)), lo = init_f(g, "lo", S0, F(0)), hi = init_f(g, "hi", S0, F(6)), y = yout(g, "y");
        int x2 = xin(g, "x2", S(3)), hi2 = init_f(g, "hi2", S0, F(1)), y2 = yout(g, "y2");
        node(g, IR_OP_Clip, IN(x, lo, hi), OUT(y));
        node(g, IR_OP_Clip, IN(x2, -1, hi2), OUT(y2)); /* min omitted */
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(-3, 0.5f, 6, 7));
            feed(p, x2, F(-3, 0.5f, 6));
            if (run(p)) {
                check_f("clip opset 13 inputs (relu6)", p, y, S(4), F(0, 0.5f, 6, 6), 0);
                check_f("clip opset 13 max only", p, y2, S(3), F(-3, 0.5f, 1), 0);
            }
        }
        done(g, p);
    }
    /* Identity of an int64 tensor: a byte copy */
    {
        ir_graph *g = gnew(13);
        int x = xin_t(g, "x", IR_DT_I64, S(3)), y = yout(g, "y");
        node(g, IR_OP_Identity, IN(x), OUT(y));
        be_plan *p = prep(g, 1);
        const int64_t v[3] = {1, -2, (int64_t)1 << 40};
        if (p) {
            feed(p, x, v);
            if (run(p))
                check_bytes("identity int64", p, y, IR_DT_I64, S(3), v);
        }
        done(g, p);
    }
    /* NaN propagates through every activation */
    {
        static const ir_op ops[] = {IR_OP_Relu, IR_OP_HardSigmoid, IR_OP_HardSwish, IR_OP_Sigmoid};
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            unary_case("nan propagates", 13, ops[i], NULL, S(1), F(NAN), F(NAN), 0);
        unary_case("nan through clip", 6, IR_OP_Clip, clip_attrs, S(1), F(NAN), F(NAN), 0);
    }
}

/* ================================ broadcasting binaries ===================================================== */

/* runs y = op(a, b) with a and b graph inputs of the given shapes */
static be_plan *binary_graph(ir_graph **gp, int64_t opset, ir_op op, ir_shape sa, ir_dtype bt, ir_shape sb, int *a,
                             int *b, int *y)
{
    ir_graph *g = gnew(opset);
    *a = xin(g, "a", sa);
    *b = xin_t(g, "b", bt, sb);
    *y = yout(g, "y");
    node(g, op, IN(*a, *b), OUT(*y));
    *gp = g;
    return prep(g, 1);
}

static void binary_hand(const char *what, ir_op op, ir_shape sa, const float *a, ir_shape sb, const float *b,
                        ir_shape sy, const float *want)
{
    ir_graph *g;
    int av, bv, yv;
    be_plan *p = binary_graph(&g, 13, op, sa, IR_DT_F32, sb, &av, &bv, &yv);
    if (p) {
        feed(p, av, a);
        feed(p, bv, b);
        if (run(p))
            check_f(what, p, yv, sy, want, 1e-6);
    }
    done(g, p);
}

/* index of output element (i0,i1,i2) of [d0,d1,d2] in an operand of shape [e0,e1,e2] (size-1 dims broadcast) */
static size_t bidx(const int64_t *e, int64_t i0, int64_t i1, int64_t i2)
{
    return (size_t)(((e[0] == 1 ? 0 : i0) * e[1] + (e[1] == 1 ? 0 : i1)) * e[2] + (e[2] == 1 ? 0 : i2));
}

static void test_binary(void)
{
    /* [2,3,4] + [3,1]: y[i,j,k] = a[i,j,k] + b[j] */
    {
        float a[24], b[3] = {1, 2, 3}, want[24];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++) {
                    a[(i * 3 + j) * 4 + k] = (float)(i * 100 + j * 10 + k);
                    want[(i * 3 + j) * 4 + k] = (float)(i * 100 + j * 10 + k) + b[j];
                }
        binary_hand("add [2,3,4]+[3,1]", IR_OP_Add, S(2, 3, 4), a, S(3, 1), b, S(2, 3, 4), want);
    }
    binary_hand("sub [2,1]-[1,3]", IR_OP_Sub, S(2, 1), F(10, 20), S(1, 3), F(1, 2, 3), S(2, 3), F(9, 8, 7, 19, 18, 17));
    binary_hand("mul by scalar", IR_OP_Mul, S(2, 2), F(1, 2, 3, 4), S0, F(3), S(2, 2), F(3, 6, 9, 12));
    binary_hand("mul scalar first", IR_OP_Mul, S0, F(-2), S(3), F(1, 2, 3), S(3), F(-2, -4, -6));
    binary_hand("mul same shape", IR_OP_Mul, S(2, 2), F(1, 2, 3, 4), S(2, 2), F(5, 6, 7, 8), S(2, 2), F(5, 12, 21, 32));
    binary_hand("div by [1]", IR_OP_Div, S(4), F(1, 2, 3, 4), S(1), F(2), S(4), F(0.5f, 1, 1.5f, 2));
    binary_hand("sub scalars", IR_OP_Sub, S0, F(5), S0, F(7), S0, F(-2));
    binary_hand("pow float exponent", IR_OP_Pow, S(2, 2), F(4, 9, 16, 25), S(2), F(0.5f, 2), S(2, 2), F(2, 81, 4, 625));
    /* both operands broadcast, in every arrangement of [2,1,4], [3,1], [1,3,1], [2,3,4] */
    {
        static const int64_t shapes[][3] = {{2, 1, 4}, {1, 3, 1}, {1, 1, 4}, {2, 3, 4}, {2, 3, 1}, {1, 1, 1}};
        static const ir_op ops[] = {IR_OP_Add, IR_OP_Sub, IR_OP_Mul, IR_OP_Div};
        for (size_t sa = 0; sa < 6; sa++)
            for (size_t sb = 0; sb < 6; sb++) {
                const int64_t *ea = shapes[sa], *eb = shapes[sb];
                int64_t d[3];
                for (int i = 0; i < 3; i++)
                    d[i] = ea[i] > eb[i] ? ea[i] : eb[i];
                float a[24], b[24], want[24];
                for (int i = 0; i < 24; i++) {
                    a[i] = (float)(i + 1);
                    b[i] = (float)(2 * i + 3);
                }
                ir_op op = ops[(sa + sb) % 4];
                for (int64_t i0 = 0; i0 < d[0]; i0++)
                    for (int64_t i1 = 0; i1 < d[1]; i1++)
                        for (int64_t i2 = 0; i2 < d[2]; i2++) {
                            float x = a[bidx(ea, i0, i1, i2)], z = b[bidx(eb, i0, i1, i2)];
                            float r = op == IR_OP_Add ? x + z : op == IR_OP_Sub ? x - z : op == IR_OP_Mul ? x * z : x / z;
                            want[(i0 * d[1] + i1) * d[2] + i2] = r;
                        }
                char what[64];
                snprintf(what, sizeof what, "broadcast %s case %zu,%zu", ir_op_table[op].id, sa, sb);
                /* drop the leading 1 of b's shape sometimes: rank 2 against rank 3 */
                ir_shape sbs = eb[0] == 1 && sb % 2 ? S(eb[1], eb[2]) : S(eb[0], eb[1], eb[2]);
                binary_hand(what, op, S(ea[0], ea[1], ea[2]), a, sbs, b, S(d[0], d[1], d[2]), want);
            }
    }
    /* Pow with an int64 and an int32 exponent */
    {
        ir_graph *g;
        int a, b, y;
        be_plan *p = binary_graph(&g, 13, IR_OP_Pow, S(3), IR_DT_I64, S(3), &a, &b, &y);
        if (p) {
            feed(p, a, F(2, -3, 1.5f));
            feed(p, b, I64(3, 3, 3));
            if (run(p))
                check_f("pow int64 exponent", p, y, S(3), F(8, -27, 3.375f), 1e-6);
        }
        done(g, p);
        const int32_t two = 2;
        p = binary_graph(&g, 13, IR_OP_Pow, S(2), IR_DT_I32, S0, &a, &b, &y);
        if (p) {
            feed(p, a, F(-3, 0.5f));
            feed(p, b, &two);
            if (run(p))
                check_f("pow int32 exponent", p, y, S(2), F(9, 0.25f), 1e-6);
        }
        done(g, p);
    }
    /* an empty broadcast result */
    binary_hand("add empty", IR_OP_Add, S(0, 3), F(0), S(3), F(1, 2, 3), S(0, 3), F(0));
}

/* ================================ Gemm / MatMul ============================================================== */

/* A [2,3], B [3,2], A*B = [[4,5],[10,11]] */
static const float GA[6] = {1, 2, 3, 4, 5, 6}, GAt[6] = {1, 4, 2, 5, 3, 6};
static const float GB[6] = {1, 0, 0, 1, 1, 1}, GBt[6] = {1, 0, 1, 0, 1, 1};

typedef struct gemm_case {
    const char *what;
    float alpha, beta;
    int crank;
    int64_t c0, c1;
    float c[4];
    float want[4];
} gemm_case;

static void test_gemm(void)
{
    static const gemm_case cases[] = {
        {"gemm", 1, 1, -1, 0, 0, {0}, {4, 5, 10, 11}},
        {"gemm alpha beta C[N]", 2, 0.5f, 1, 2, 0, {10, 20}, {13, 20, 25, 32}},
        {"gemm C[M,1]", 1, 1, 2, 2, 1, {1, 2}, {5, 6, 12, 13}},
        {"gemm C[1,N]", 1, 1, 2, 1, 2, {100, 200}, {104, 205, 110, 211}},
        {"gemm C scalar", 1, 1, 0, 0, 0, {7}, {11, 12, 17, 18}},
        {"gemm C[1]", 1, -1, 1, 1, 0, {3}, {1, 2, 7, 8}},
        {"gemm C[M,N]", 0.5f, 2, 2, 2, 2, {1, 2, 3, 4}, {4, 6.5f, 11, 13.5f}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const gemm_case *gc = &cases[i];
                ir_graph *g = gnew(13);
                int a = xin(g, "a", ta ? S(3, 2) : S(2, 3)), b = init_f(g, "b", tb ? S(2, 3) : S(3, 2), tb ? GBt : GB);
                int c = -1, y = yout(g, "y");
                if (gc->crank == 0)
                    c = init_f(g, "c", S0, gc->c);
                else if (gc->crank == 1)
                    c = init_f(g, "c", S(gc->c0), gc->c);
                else if (gc->crank == 2)
                    c = init_f(g, "c", S(gc->c0, gc->c1), gc->c);
                int ni = c >= 0 ? node(g, IR_OP_Gemm, IN(a, b, c), OUT(y)) : node(g, IR_OP_Gemm, IN(a, b), OUT(y));
                seti(g, ni, "transA", ta);
                seti(g, ni, "transB", tb);
                setf(g, ni, "alpha", gc->alpha);
                setf(g, ni, "beta", gc->beta);
                be_plan *p = prep(g, 1);
                char what[80];
                snprintf(what, sizeof what, "%s transA=%d transB=%d", gc->what, ta, tb);
                if (p) {
                    feed(p, a, ta ? GAt : GA);
                    if (run(p))
                        check_f(what, p, y, S(2, 2), gc->want, 1e-6);
                }
                done(g, p);
            }
    /* larger: K and N beyond one column block, transB (a classifier), compared with the double formula;
     * then again with 3 threads, which must give the same bits */
    {
        const int64_t M = 3, K = 300, N = 260;
        float *A = frand_n((size_t)(M * K)), *B = frand_n((size_t)(N * K)), *C = frand_n((size_t)N);
        float *want = malloc(sizeof(float) * (size_t)(M * N)), *first = malloc(sizeof(float) * (size_t)(M * N));
        must(!want || !first, "malloc");
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)A[i * K + k] * B[j * K + k];
                want[i * N + j] = (float)(s + C[j]);
            }
        for (int threads = 1; threads <= 3; threads += 2) {
            ir_graph *g = gnew(13);
            int a = xin(g, "a", S(M, K)), b = init_f(g, "b", S(N, K), B), c = init_f(g, "c", S(N), C), y = yout(g, "y");
            int ni = node(g, IR_OP_Gemm, IN(a, b, c), OUT(y));
            seti(g, ni, "transB", 1);
            be_plan *p = prep(g, threads);
            if (p) {
                feed(p, a, A);
                if (run(p)) {
                    check_f("gemm 3x300x260", p, y, S(M, N), want, 1e-5);
                    if (threads == 1)
                        memcpy(first, outf(p, y), sizeof(float) * (size_t)(M * N));
                    else
                        EXPECT(memcmp(first, outf(p, y), sizeof(float) * (size_t)(M * N)) == 0,
                               "gemm: threads change the result");
                }
            }
            done(g, p);
        }
        free(A);
        free(B);
        free(C);
        free(want);
        free(first);
    }
    /* K = 0: the product is empty, Y = beta * C */
    {
        ir_graph *g = gnew(13);
        int a = xin(g, "a", S(2, 0)), b = xin(g, "b", S(0, 2)), c = init_f(g, "c", S(2), F(1, 2)), y = yout(g, "y");
        int ni = node(g, IR_OP_Gemm, IN(a, b, c), OUT(y));
        setf(g, ni, "beta", 3);
        be_plan *p = prep(g, 1);
        if (p && run(p))
            check_f("gemm K=0", p, y, S(2, 2), F(3, 6, 3, 6), 0);
        done(g, p);
    }
}

static void matmul_hand(const char *what, ir_shape sa, const float *a, ir_shape sb, const float *b, ir_shape sy,
                        const float *want)
{
    ir_graph *g = gnew(13);
    int av = xin(g, "a", sa), bv = xin(g, "b", sb), yv = yout(g, "y");
    node(g, IR_OP_MatMul, IN(av, bv), OUT(yv));
    be_plan *p = prep(g, 2);
    if (p) {
        feed(p, av, a);
        feed(p, bv, b);
        if (run(p))
            check_f(what, p, yv, sy, want, 1e-6);
    }
    done(g, p);
}

static void test_matmul(void)
{
    matmul_hand("matmul 2d", S(2, 3), GA, S(3, 2), GB, S(2, 2), F(4, 5, 10, 11));
    matmul_hand("matmul 1d x 2d", S(3), F(1, 2, 3), S(3, 2), GB, S(2), F(4, 5));
    matmul_hand("matmul 2d x 1d", S(2, 3), GA, S(3), F(1, 1, 1), S(2), F(6, 15));
    matmul_hand("matmul 1d x 1d", S(3), F(1, 2, 3), S(3), F(4, 5, 6), S0, F(32));
    /* batch of A against one B: [2,2,3] x [3,2], batch 1 is 2A */
    matmul_hand("matmul batched A", S(2, 2, 3), F(1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12), S(3, 2), GB, S(2, 2, 2),
                F(4, 5, 10, 11, 8, 10, 20, 22));
    /* 1-D A against a batch of B: [3] x [2,3,2] -> [2,2]; batch 1 of B is -B */
    matmul_hand("matmul 1d x batched", S(3), F(1, 2, 3), S(2, 3, 2), F(1, 0, 0, 1, 1, 1, -1, 0, 0, -1, -1, -1),
                S(2, 2), F(4, 5, -4, -5));
    /* batch dims broadcast on both sides: [2,1,2,3] x [3,3,2] -> [2,3,2,2], by the formula */
    {
        float a[12], b[18], want[24];
        for (int i = 0; i < 12; i++)
            a[i] = (float)(i % 5) - 2;
        for (int i = 0; i < 18; i++)
            b[i] = (float)(i % 7) * 0.5f - 1;
        for (int i0 = 0; i0 < 2; i0++)
            for (int i1 = 0; i1 < 3; i1++)
                for (int r = 0; r < 2; r++)
                    for (int c = 0; c < 2; c++) {
                        float s = 0;
                        for (int k = 0; k < 3; k++)
                            s += a[(i0 * 2 + r) * 3 + k] * b[(i1 * 3 + k) * 2 + c];
                        want[((i0 * 3 + i1) * 2 + r) * 2 + c] = s;
                    }
        matmul_hand("matmul batch broadcast", S(2, 1, 2, 3), a, S(3, 3, 2), b, S(2, 3, 2, 2), want);
    }
    /* K = 0 gives zeros */
    matmul_hand("matmul K=0", S(2, 0), F(0), S(0, 3), F(0), S(2, 3), F(0, 0, 0, 0, 0, 0));
}

/* ================================ Softmax / LogSoftmax ======================================================= */

static void softmax_case(const char *what, int64_t opset, ir_op op, int64_t axis, ir_shape s, const float *x,
                         const float *want)
{
    ir_graph *g = gnew(opset);
    int xv = xin(g, "x", s), yv = yout(g, "y");
    int ni = node(g, op, IN(xv), OUT(yv));
    if (axis != 99)
        seti(g, ni, "axis", axis);
    be_plan *p = prep(g, 1);
    if (p) {
        feed(p, xv, x);
        if (run(p))
            check_f(what, p, yv, s, want, 1e-6);
    }
    done(g, p);
}

static void test_softmax(void)
{
    const double e1 = exp(1.0), e2 = exp(2.0), e3 = exp(3.0);
    const float *x = F(0, 1, 2, 3, 4, 4, 4, 4); /* [2,2,2] */
    /* opset 13, axis 1: each (i, k) pair over j: {0,2} and {1,3} normalize alike */
    const float a = (float)(1 / (1 + e2)), b = (float)(e2 / (1 + e2));
    softmax_case("softmax opset 13 axis 1", 13, IR_OP_Softmax, 1, S(2, 2, 2), x, F(a, a, b, b, 0.5f, 0.5f, 0.5f, 0.5f));
    /* opset 11, axis 1: rows of 4 ([2,4] view) */
    const double z = 1 + e1 + e2 + e3;
    const float *w11 = F((float)(1 / z), (float)(e1 / z), (float)(e2 / z), (float)(e3 / z), 0.25f, 0.25f, 0.25f, 0.25f);
    softmax_case("softmax opset 11 axis 1", 11, IR_OP_Softmax, 1, S(2, 2, 2), x, w11);
    /* defaults: opset 13 -> last axis; opset 11 -> axis 1 (coerced) */
    const float c = (float)(1 / (1 + e1)), d = (float)(e1 / (1 + e1));
    softmax_case("softmax opset 13 default axis", 13, IR_OP_Softmax, 99, S(2, 2, 2), x, F(c, d, c, d, 0.5f, 0.5f, 0.5f, 0.5f));
    softmax_case("softmax opset 11 default axis", 11, IR_OP_Softmax, 99, S(2, 2, 2), x, w11);
    softmax_case("softmax opset 11 axis 0", 11, IR_OP_Softmax, 0, S(2, 2), F(0, 1, 1, 0),
                 F((float)(1 / (2 + 2 * e1)), (float)(e1 / (2 + 2 * e1)), (float)(e1 / (2 + 2 * e1)), (float)(1 / (2 + 2 * e1))));
    /* log-softmax: log of the above */
    softmax_case("logsoftmax opset 13 axis 1", 13, IR_OP_LogSoftmax, 1, S(2, 2, 2), x,
                 F(logf(a), logf(a), logf(b), logf(b), logf(0.5f), logf(0.5f), logf(0.5f), logf(0.5f)));
    softmax_case("logsoftmax opset 11 axis -2", 11, IR_OP_LogSoftmax, -2, S(2, 2, 2), x,
                 F((float)-log(z), (float)(1 - log(z)), (float)(2 - log(z)), (float)(3 - log(z)), logf(0.25f),
                   logf(0.25f), logf(0.25f), logf(0.25f)));
    /* stability: huge logits */
    softmax_case("softmax stable", 13, IR_OP_Softmax, -1, S(2), F(1000, 1001), F(c, d));
    softmax_case("logsoftmax stable", 13, IR_OP_LogSoftmax, -1, S(2), F(1000, 1001),
                 F((float)-log(1 + e1), (float)(1 - log(1 + e1))));
    softmax_case("logsoftmax far apart", 13, IR_OP_LogSoftmax, -1, S(2), F(-1000, 0), F(-1000, 0));
}

/* ================================ ReduceMean ================================================================= */

static const float R232[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; /* [2,3,2] */

/* ReduceMean over R232: axes as the attribute (opset 13) or as an input (opset 18); n_axes < 0: none given */
static void reduce_case(const char *what, int64_t opset, const int64_t *axes, int n_axes, int keep, int noop,
                        ir_shape sy, const float *want)
{
    ir_graph *g = gnew(opset);
    int x = xin(g, "x", S(2, 3, 2)), y = yout(g, "y"), ni;
    if (opset >= 18 && n_axes >= 0) {
        int ax = init_i64(g, "axes", S(n_axes), axes);
        ni = node(g, IR_OP_ReduceMean, IN(x, ax), OUT(y));
    } else {
        ni = node(g, IR_OP_ReduceMean, IN(x), OUT(y));
        if (n_axes >= 0)
            setis(g, ni, "axes", axes, n_axes);
    }
    if (keep >= 0)
        seti(g, ni, "keepdims", keep);
    if (noop >= 0)
        seti(g, ni, "noop_with_empty_axes", noop);
    be_plan *p = prep(g, 1);
    if (p) {
        feed(p, x, R232);
        if (run(p))
            check_f(what, p, y, sy, want, 1e-6);
    }
    done(g, p);
}

static void test_reduce(void)
{
    reduce_case("reducemean axes [1] keepdims", 13, I64(1), 1, -1, -1, S(2, 1, 2), F(3, 4, 9, 10));
    reduce_case("reducemean axes [0,2] no keepdims", 13, I64(0, 2), 2, 0, -1, S(3), F(4.5f, 6.5f, 8.5f));
    reduce_case("reducemean all keepdims", 13, NULL, -1, 1, -1, S(1, 1, 1), F(6.5f));
    reduce_case("reducemean all no keepdims", 13, NULL, -1, 0, -1, S0, F(6.5f));
    reduce_case("reducemean axes [-1]", 13, I64(-1), 1, -1, -1, S(2, 3, 1), F(1.5f, 3.5f, 5.5f, 7.5f, 9.5f, 11.5f));
    reduce_case("reducemean axes [0]", 13, I64(0), 1, 0, -1, S(3, 2), F(4, 5, 6, 7, 8, 9));
    reduce_case("reducemean opset 18 axes input", 18, I64(1), 1, -1, -1, S(2, 1, 2), F(3, 4, 9, 10));
    reduce_case("reducemean opset 18 axes input [2,0]", 18, I64(2, 0), 2, 0, -1, S(3), F(4.5f, 6.5f, 8.5f));
    reduce_case("reducemean opset 18 empty axes", 18, I64(0), 0, 0, -1, S0, F(6.5f));
    reduce_case("reducemean opset 18 noop", 18, NULL, -1, -1, 1, S(2, 3, 2), R232);
}

/* ================================ layout ops, Concat, Constant, Dropout ====================================== */

/* runs a one-node reshaping graph on R232 and checks the shape and that the data is unchanged */
static void reshape_case(const char *what, ir_graph *g, int x, int y, ir_shape sy)
{
    be_plan *p = prep(g, 1);
    if (p) {
        feed(p, x, R232);
        if (run(p))
            check_f(what, p, y, sy, R232, 0);
    }
    done(g, p);
}

static void test_layout(void)
{
    static const struct {
        int64_t axis;
        int64_t d0, d1;
    } fl[] = {{1, 2, 6}, {0, 1, 12}, {2, 6, 2}, {-1, 6, 2}, {3, 12, 1}};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(2, 3, 2)), y = yout(g, "y");
        int ni = node(g, IR_OP_Flatten, IN(x), OUT(y));
        seti(g, ni, "axis", fl[i].axis);
        reshape_case("flatten", g, x, y, S(fl[i].d0, fl[i].d1));
    }
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(2, 3, 2)), sh = init_i64(g, "sh", S(2), I64(4, -1)), y = yout(g, "y");
        node(g, IR_OP_Reshape, IN(x, sh), OUT(y));
        reshape_case("reshape [4,-1]", g, x, y, S(4, 3));
    }
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(2, 3, 2)), sh = init_i64(g, "sh", S(3), I64(0, -1, 1)), y = yout(g, "y");
        node(g, IR_OP_Reshape, IN(x, sh), OUT(y));
        reshape_case("reshape [0,-1,1]", g, x, y, S(2, 6, 1));
    }
    /* Squeeze: axes attribute (opset 11) vs input (opset 13) */
    {
        ir_graph *g = gnew(11);
        int x = xin(g, "x", S(1, 2, 1, 3, 2)), y = yout(g, "y");
        int ni = node(g, IR_OP_Squeeze, IN(x), OUT(y));
        SETIS(g, ni, "axes", 0, 2);
        reshape_case("squeeze opset 11 attr", g, x, y, S(2, 3, 2));
    }
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 2, 1, 3, 2)), ax = init_i64(g, "ax", S(1), I64(-3)), y = yout(g, "y");
        node(g, IR_OP_Squeeze, IN(x, ax), OUT(y));
        reshape_case("squeeze opset 13 input", g, x, y, S(1, 2, 3, 2));
    }
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(1, 2, 1, 3, 2)), y = yout(g, "y");
        node(g, IR_OP_Squeeze, IN(x), OUT(y));
        reshape_case("squeeze all unit dims", g, x, y, S(2, 3, 2));
    }
    /* Unsqueeze: axes attribute (opset 11) vs input (opset 13) */
    {
        ir_graph *g = gnew(11);
        int x = xin(g, "x", S(2, 3, 2)), y = yout(g, "y");
        int ni = node(g, IR_OP_Unsqueeze, IN(x), OUT(y));
        SETIS(g, ni, "axes", 0, 4);
        reshape_case("unsqueeze opset 11 attr", g, x, y, S(1, 2, 3, 2, 1));
    }
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(2, 3, 2)), ax = init_i64(g, "ax", S(2), I64(1, -1)), y = yout(g, "y");
        node(g, IR_OP_Unsqueeze, IN(x, ax), OUT(y));
        reshape_case("unsqueeze opset 13 input", g, x, y, S(2, 1, 3, 2, 1));
    }
}

static void test_concat(void)
{
    /* axis 0, 1, -1 on 2-D; three inputs on a 3-D middle axis; int64 */
    {
        ir_graph *g = gnew(13);
        int a = xin(g, "a", S(1, 2)), b = xin(g, "b", S(2, 2)), y = yout(g, "y");
        int ni = node(g, IR_OP_Concat, IN(a, b), OUT(y));
        seti(g, ni, "axis", 0);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, a, F(1, 2));
            feed(p, b, F(3, 4, 5, 6));
            if (run(p))
                check_f("concat axis 0", p, y, S(3, 2), F(1, 2, 3, 4, 5, 6), 0);
        }
        done(g, p);
    }
    for (int axis = 1; axis >= -1; axis -= 2) {
        ir_graph *g = gnew(13);
        int a = xin(g, "a", S(2, 2)), b = xin(g, "b", S(2, 1)), y = yout(g, "y");
        int ni = node(g, IR_OP_Concat, IN(a, b), OUT(y));
        seti(g, ni, "axis", axis);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, a, F(1, 2, 3, 4));
            feed(p, b, F(5, 6));
            if (run(p))
                check_f(axis == 1 ? "concat axis 1" : "concat axis -1", p, y, S(2, 3), F(1, 2, 5, 3, 4, 6), 0);
        }
        done(g, p);
    }
    {
        ir_graph *g = gnew(13);
        int a = xin(g, "a", S(2, 1, 2)), b = xin(g, "b", S(2, 2, 2)), c = init_f(g, "c", S(2, 0, 2), F(0)),
            d = xin(g, "d", S(2, 1, 2)), y = yout(g, "y");
        int ni = node(g, IR_OP_Concat, IN(a, b, c, d), OUT(y));
        seti(g, ni, "axis", 1);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, a, F(1, 2, 3, 4));
            feed(p, b, F(10, 11, 12, 13, 14, 15, 16, 17));
            feed(p, d, F(-1, -2, -3, -4));
            if (run(p))
                check_f("concat four inputs (one empty) axis 1", p, y, S(2, 4, 2),
                        F(1, 2, 10, 11, 12, 13, -1, -2, 3, 4, 14, 15, 16, 17, -3, -4), 0);
        }
        done(g, p);
    }
    {
        ir_graph *g = gnew(13);
        int a = init_i64(g, "a", S(2), I64(1, 2)), b = init_i64(g, "b", S(1), I64(-7)), y = yout(g, "y");
        int ni = node(g, IR_OP_Concat, IN(a, b), OUT(y));
        seti(g, ni, "axis", 0);
        be_plan *p = prep(g, 1);
        if (p && run(p))
            check_bytes("concat int64", p, y, IR_DT_I64, S(3), I64(1, 2, -7));
        done(g, p);
    }
}

static void test_constant(void)
{
    ir_graph *g = gnew(13);
    int y1 = yout(g, "y1"), y2 = yout(g, "y2"), y3 = yout(g, "y3"), y4 = yout(g, "y4"), y5 = yout(g, "y5");
    int y6 = yout(g, "y6");
    int n1 = node(g, IR_OP_Constant, NULL, 0, OUT(y1));
    /* a tensor-valued attribute: there is no setter, so fill the slot by hand (the graph frees it) */
    seti(g, n1, "value", 0);
    ir_shape s = S(2, 2);
    ir_tensor *t = ir_tensor_new(g, IR_DT_F32, &s, &E);
    must(t == NULL, "tensor");
    memcpy(t->data, F(1.5f, -2, 3, 4), 16);
    g->nodes[n1].attr[0].type = IR_ATTR_TENSOR;
    g->nodes[n1].attr[0].t = t;
    int n2 = node(g, IR_OP_Constant, NULL, 0, OUT(y2));
    must(ir_node_set_floats(g, n2, "value_floats", F(0.25f, 8), 2, &E), "floats");
    int n3 = node(g, IR_OP_Constant, NULL, 0, OUT(y3));
    seti(g, n3, "value_int", 7);
    int n4 = node(g, IR_OP_Constant, NULL, 0, OUT(y4));
    SETIS(g, n4, "value_ints", 3, -4, 5);
    int n5 = node(g, IR_OP_Constant, NULL, 0, OUT(y5));
    setf(g, n5, "value_float", -0.5f);
    int n6 = node(g, IR_OP_Constant, NULL, 0, OUT(y6));
    seti(g, n6, "value", 0);
    s = S(3);
    t = ir_tensor_new(g, IR_DT_I64, &s, &E);
    must(t == NULL, "tensor");
    memcpy(t->data, I64(9, 8, 7), 24);
    g->nodes[n6].attr[0].type = IR_ATTR_TENSOR;
    g->nodes[n6].attr[0].t = t;
    be_plan *p = prep(g, 1);
    if (p && run(p)) {
        check_f("constant value", p, y1, S(2, 2), F(1.5f, -2, 3, 4), 0);
        check_f("constant value_floats", p, y2, S(2), F(0.25f, 8), 0);
        check_bytes("constant value_int", p, y3, IR_DT_I64, S0, I64(7));
        check_bytes("constant value_ints", p, y4, IR_DT_I64, S(3), I64(3, -4, 5));
        check_f("constant value_float", p, y5, S0, F(-0.5f), 0);
        check_bytes("constant int64 tensor", p, y6, IR_DT_I64, S(3), I64(9, 8, 7));
    }
    done(g, p);
}

/* Dropout in training mode on n ones: returns the output (malloc'ed) of the first run, checks the mask */
static float *dropout_train(int64_t n, float ratio, int runs)
{
    ir_graph *g = gnew(13);
    int x = xin(g, "x", S(n)), r = init_f(g, "ratio", S0, &ratio), tm = init_bool(g, "tm", true);
    int y = yout(g, "y"), m = yout(g, "mask");
    node(g, IR_OP_Dropout, IN(x, r, tm), OUT(y, m));
    be_plan *p = prep(g, 1);
    float *first = malloc(sizeof(float) * (size_t)n), *ones = malloc(sizeof(float) * (size_t)n);
    must(!first || !ones, "malloc");
    for (int64_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    for (int k = 0; p && k < runs; k++) {
        feed(p, x, ones);
        if (!run(p))
            break;
        const hpk_tensor *yt = be_ref.io(p, y), *mt = be_ref.io(p, m);
        EXPECT(mt->dtype == HPK_DT_BOOL && shape_is(mt, S(n)), "dropout mask: dtype or shape");
        const float *yv = yt->data;
        const unsigned char *mv = mt->data;
        int64_t kept = 0, bad = 0;
        for (int64_t i = 0; i < n; i++) {
            kept += mv[i];
            /* kept: x / (1 - ratio); dropped: 0 */
            if (!(mv[i] == 1 ? close_to(yv[i], 1.0 / (1.0 - ratio), 1e-6) : (mv[i] == 0 && yv[i] == 0.0f)))
                bad++;
        }
        EXPECT(bad == 0, "dropout training: %lld outputs disagree with the mask", (long long)bad);
        double frac = (double)kept / (double)n;
        EXPECT(fabs(frac - (1.0 - ratio)) < 0.02, "dropout training: kept fraction %.4f for ratio %.2f", frac,
               (double)ratio);
        if (k == 0)
            memcpy(first, yv, sizeof(float) * (size_t)n);
        else
            EXPECT(memcmp(first, yv, sizeof(float) * (size_t)n) != 0, "dropout: a second run drew the same mask");
    }
    done(g, p);
    free(ones);
    return first;
}

static void test_dropout(void)
{
    /* inference (opset 13, no training_mode): identity, mask all true */
    {
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(4)), y = yout(g, "y"), m = yout(g, "m");
        node(g, IR_OP_Dropout, IN(x), OUT(y, m));
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, -2, 3, 4));
            if (run(p)) {
                check_f("dropout inference", p, y, S(4), F(1, -2, 3, 4), 0);
                check_bytes("dropout inference mask", p, m, IR_DT_BOOL, S(4), (const unsigned char[]){1, 1, 1, 1});
            }
        }
        done(g, p);
    }
    /* opset 10: ratio attribute, always inference */
    {
        ir_graph *g = gnew(10);
        int x = xin(g, "x", S(3)), y = yout(g, "y");
        int ni = node(g, IR_OP_Dropout, IN(x), OUT(y));
        setf(g, ni, "ratio", 0.3f);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3));
            if (run(p))
                check_f("dropout opset 10", p, y, S(3), F(1, 2, 3), 0);
        }
        done(g, p);
    }
    /* training_mode a constant false: identity */
    {
        ir_graph *g = gnew(13);
        float half = 0.5f;
        int x = xin(g, "x", S(3)), r = init_f(g, "r", S0, &half), tm = init_bool(g, "tm", false), y = yout(g, "y");
        node(g, IR_OP_Dropout, IN(x, r, tm), OUT(y));
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3));
            if (run(p))
                check_f("dropout training_mode false", p, y, S(3), F(1, 2, 3), 0);
        }
        done(g, p);
    }
    /* training: inverted dropout consistent with its mask, about the right fraction kept, a new mask each run,
     * and the same first run from two fresh plans (deterministic) */
    float *a = dropout_train(20000, 0.5f, 3), *b = dropout_train(20000, 0.5f, 1);
    EXPECT(memcmp(a, b, sizeof(float) * 20000) == 0, "dropout training is not deterministic");
    free(a);
    free(b);
    free(dropout_train(20000, 0.2f, 2));
    /* training with ratio 0: identity, mask all true */
    {
        ir_graph *g = gnew(13);
        float zero = 0.0f;
        int x = xin(g, "x", S(3)), r = init_f(g, "r", S0, &zero), tm = init_bool(g, "tm", true), y = yout(g, "y"),
            m = yout(g, "m");
        node(g, IR_OP_Dropout, IN(x, r, tm), OUT(y, m));
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3));
            if (run(p)) {
                check_f("dropout training ratio 0", p, y, S(3), F(1, 2, 3), 0);
                check_bytes("dropout training ratio 0 mask", p, m, IR_DT_BOOL, S(3), (const unsigned char[]){1, 1, 1});
            }
        }
        done(g, p);
    }
}

/* ================================ a small chain ============================================================== */

/* conv -> BN -> clip -> GAP -> flatten -> gemm -> softmax, one output: intermediates are freed as they die */
static void test_chain(void)
{
    ir_graph *g = gnew(13);
    int x = xin(g, "x", S(1, 1, 2, 2)), w = init_f(g, "w", S(2, 1, 1, 1), F(1, -1)),
        s = init_f(g, "s", S(2), F(1, 1)), b = init_f(g, "b", S(2), F(0, 0)), m = init_f(g, "m", S(2), F(0, 0)),
        v = init_f(g, "v", S(2), F(1, 1)), lo = init_f(g, "lo", S0, F(0)), hi = init_f(g, "hi", S0, F(6)),
        fw = init_f(g, "fw", S(2, 2), F(1, 0, 0, 1));
    int c1 = ymid(g, "c1"), c2 = ymid(g, "c2"), c3 = ymid(g, "c3"), c4 = ymid(g, "c4"), c5 = ymid(g, "c5"),
        c6 = ymid(g, "c6"), y = yout(g, "y");
    node(g, IR_OP_Conv, IN(x, w), OUT(c1));
    int bn = node(g, IR_OP_BatchNormalization, IN(c1, s, b, m, v), OUT(c2));
    setf(g, bn, "epsilon", 0.0f);
    node(g, IR_OP_Clip, IN(c2, lo, hi), OUT(c3));
    node(g, IR_OP_GlobalAveragePool, IN(c3), OUT(c4));
    node(g, IR_OP_Flatten, IN(c4), OUT(c5));
    node(g, IR_OP_Gemm, IN(c5, fw), OUT(c6));
    node(g, IR_OP_Softmax, IN(c6), OUT(y));
    be_plan *p = prep(g, 1);
    if (p) {
        feed(p, x, F(1, 2, 3, 10));
        /* channel 0: clip(x) = {1,2,3,6}, mean 3; channel 1: clip(-x) = 0, mean 0; softmax(3, 0) */
        if (run(p))
            check_f("chain", p, y, S(1, 2), F((float)(1 / (1 + exp(-3.0))), (float)(1 / (1 + exp(3.0)))), 1e-6);
    }
    done(g, p);
}

/* ================================ head ops: Exp, LpNormalization, ReduceSumSquare, the loss ================== */

static void test_head_ops(void)
{
    unary_case("exp", 13, IR_OP_Exp, NULL, S(4), F(0, 1, -1, 2), F(1, (float)M_E, (float)(1 / M_E), (float)exp(2.0)),
               1e-6);
    {   /* rows (3, 4) and (0, 0) and (1, -1, ...) along axis 1: x / |x|; the zero row stays 0 (floored norm) */
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(3, 2)), y = yout(g, "y");
        seti(g, node(g, IR_OP_LpNormalization, IN(x), OUT(y)), "axis", 1);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(3, 4, 0, 0, 1, -1));
            if (run(p))
                check_f("lpnormalization axis 1", p, y, S(3, 2),
                        F(0.6f, 0.8f, 0, 0, (float)(1 / sqrt(2.0)), (float)(-1 / sqrt(2.0))), 1e-6);
        }
        done(g, p);
    }
    {   /* [[1,2],[3,4]] over axis 1 with keepdims: [[5],[25]]; over all without: 30 */
        ir_graph *g = gnew(13);
        int x = xin(g, "x", S(2, 2)), y = yout(g, "y"), y2 = yout(g, "y2");
        SETIS(g, node(g, IR_OP_ReduceSumSquare, IN(x), OUT(y)), "axes", 1);
        seti(g, node(g, IR_OP_ReduceSumSquare, IN(x), OUT(y2)), "keepdims", 0);
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, x, F(1, 2, 3, 4));
            if (run(p)) {
                check_f("reducesumsquare axes [1]", p, y, S(2, 1), F(5, 25), 1e-6);
                check_f("reducesumsquare all", p, y2, S0, F(30), 1e-6);
            }
        }
        done(g, p);
    }
    {   /* scores [[0, ln 3], [0, 0]], labels [1, 0]: losses ln(4/3) and ln 2; mean and sum */
        ir_graph *g = gnew(13);
        int s = xin(g, "s", S(2, 2)), l = init_i64(g, "l", S(2), I64(1, 0)), y = yout(g, "y"), y2 = yout(g, "y2"),
            lp = yout(g, "lp");
        node(g, IR_OP_SoftmaxCrossEntropyLoss, IN(s, l), OUT(y, lp));
        sets(g, node(g, IR_OP_SoftmaxCrossEntropyLoss, IN(s, l), OUT(y2)), "reduction", "sum");
        be_plan *p = prep(g, 1);
        if (p) {
            feed(p, s, F(0, (float)log(3.0), 0, 0));
            if (run(p)) {
                double a = log(4.0 / 3.0), b = log(2.0);
                check_f("softmaxcrossentropyloss mean", p, y, S0, F((float)((a + b) / 2)), 1e-6);
                check_f("softmaxcrossentropyloss sum", p, y2, S0, F((float)(a + b)), 1e-6);
                check_f("softmaxcrossentropyloss log_prob", p, lp, S(2, 2),
                        F((float)log(0.25), (float)log(0.75), (float)log(0.5), (float)log(0.5)), 1e-6);
            }
        }
        done(g, p);
    }
}

int main(void)
{
    test_conv_hand();
    test_conv_formula();
    test_pool();
    test_batchnorm();
    test_eltwise();
    test_binary();
    test_gemm();
    test_matmul();
    test_softmax();
    test_reduce();
    test_layout();
    test_concat();
    test_constant();
    test_dropout();
    test_chain();
    test_head_ops();
    /* the internal gradient ops are checked against finite differences by tests/unit/test_grad.c */
    for (int op = 0; op < IR_OP_COUNT; op++)
        EXPECT(tested[op] || (ir_op_table[op].flags & IR_OPF_INTERNAL), "op %s has no test here", ir_op_table[op].id);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
