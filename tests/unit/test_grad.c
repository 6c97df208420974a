/* test_grad.c — gradient checks: every op with a gradient rule, autodiff on each backend vs central finite
 * differences of the reference forward (accumulated in double), with inputs kept away from kinks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "be.h"
#include "ir_rng.h"

static int failures;
static bool covered[IR_OP_COUNT];
static ir_rng rng;
static hpk_err err;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, err.msg);           \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

/* ---- building blocks ---------------------------------------------------------------------------------------- */

enum dist { D_NORMAL, D_AWAY0, D_AWAY_CLIP, D_AWAY_HS, D_POSITIVE, D_DISTINCT };

static float sample(enum dist d)
{
    for (;;) {
        float v = (float)ir_rng_normal(&rng);
        switch (d) {
        case D_NORMAL: return v;
        case D_AWAY0: if (fabsf(v) > 0.05f) return v; break;
        case D_AWAY_CLIP: v *= 4; if (fabsf(v) > 0.05f && fabsf(v - 6) > 0.05f && fabsf(v - 1) > 0.05f) return v; break;
        case D_AWAY_HS: v *= 4; if (fabsf(v + 3) > 0.05f && fabsf(v - 3) > 0.05f) return v; break;
        case D_POSITIVE: return 0.5f + fabsf(v);
        case D_DISTINCT: return v; /* made distinct by param() */
        }
    }
}

/* A trainable parameter of the given shape. */
static int param(ir_graph *g, const char *name, int rank, const int64_t *d, enum dist dist)
{
    ir_shape s = ir_shape_make(rank, d);
    int v = ir_init_add(g, name, IR_DT_F32, &s, &err);
    CHECK(v >= 0);
    g->values[v].flags |= IR_VAL_PARAM;
    float *p = g->values[v].init->data;
    size_t n = g->values[v].init->nbytes / sizeof(float);
    for (size_t i = 0; i < n; i++)
        p[i] = sample(dist);
    if (dist == D_DISTINCT) { /* a shuffled ramp: well-separated values, no ties for max-pooling */
        for (size_t i = 0; i < n; i++)
            p[i] = ((float)i - (float)n / 2) * 0.1f;
        for (size_t i = n; i-- > 1;) {
            size_t j = ir_rng_below(&rng, (uint32_t)(i + 1));
            float t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }
    return v;
}

static int constant(ir_graph *g, const char *name, ir_dtype dt, int rank, const int64_t *d, const void *data)
{
    ir_shape s = ir_shape_make(rank, d);
    int v = ir_init_add(g, name, dt, &s, &err);
    CHECK(v >= 0);
    memcpy(g->values[v].init->data, data, g->values[v].init->nbytes);
    return v;
}

static int value(ir_graph *g, const char *name)
{
    int v = ir_value_add(g, name, IR_DT_UNDEF, NULL, &err);
    CHECK(v >= 0);
    return v;
}

static int node(ir_graph *g, ir_op op, const int *in, int n_in, int out)
{
    int ni = ir_node_add(g, op, ir_op_table[op].id, in, n_in, &out, 1, &err);
    CHECK(ni >= 0);
    return ni;
}

/* ---- the harness ------------------------------------------------------------------------------------------- */

/* Adds loss = mean(y ⊙ R) with a random R (or uses y itself when it is already a scalar loss). */
static int add_loss(ir_graph *g, int y)
{
    CHECK(ir_infer_graph(g, &err) == HPK_OK);
    if (g->values[y].shape.rank == 0)
        return y;
    ir_shape s = g->values[y].shape;
    int r = ir_init_add(g, "R", IR_DT_F32, &s, &err);
    CHECK(r >= 0);
    float *rp = g->values[r].init->data;
    for (size_t i = 0; i < g->values[r].init->nbytes / sizeof(float); i++)
        rp[i] = (float)ir_rng_normal(&rng);
    int m = value(g, "weighted"), loss = value(g, "loss");
    int in[2] = {y, r};
    node(g, IR_OP_Mul, in, 2, m);
    int ni = node(g, IR_OP_ReduceMean, &m, 1, loss);
    CHECK(ir_node_set_int(g, ni, "keepdims", 0, &err) == HPK_OK);
    return loss;
}

static double run_loss(ir_graph *g, int loss)
{
    be_plan *p = NULL;
    CHECK(be_ref.prepare(g, NULL, NULL, &p, &err) == HPK_OK);
    CHECK(be_ref.run(p, &err) == HPK_OK);
    double l = *(const float *)be_ref.io(p, loss)->data;
    be_ref.free(p);
    return l;
}

static void check_case(const char *name, ir_graph *g, int y, const be_vtable *be, float rel_h)
{
    int loss = add_loss(g, y);
    CHECK(ir_graph_add_output(g, loss, &err) == HPK_OK);
    ir_graph *fwd, *train;
    CHECK(ir_graph_clone(g, &fwd, &err) == HPK_OK);
    CHECK(pass_training_mode(fwd, &err) == HPK_OK);
    CHECK(ir_graph_clone(g, &train, &err) == HPK_OK);
    CHECK(pass_training_mode(train, &err) == HPK_OK);
    ad_loss l = {ir_graph_find(train, g->values[loss].name), 1.0f};
    if (pass_autodiff(train, &l, 1, &err)) {
        fprintf(stderr, "FAIL %s: autodiff: %s\n", name, err.msg);
        failures++;
        goto done;
    }
    CHECK(ir_verify(train, &err) == HPK_OK);
    be_plan *p = NULL;
    be_options opt = {.params_mutable = true};
    if (be->prepare(train, &opt, NULL, &p, &err) || be->run(p, &err)) {
        fprintf(stderr, "FAIL %s [%s]: %s\n", name, be->name, err.msg);
        failures++;
        if (p)
            be->free(p);
        goto done;
    }
    double worst = 0;
    int checked = 0;
    for (int v = 0; v < fwd->n_values; v++) {
        if (!(fwd->values[v].flags & IR_VAL_PARAM))
            continue;
        char gname[512];
        snprintf(gname, sizeof gname, "grad/%s", fwd->values[v].name);
        int gv = ir_graph_find(train, gname);
        if (gv < 0) {
            fprintf(stderr, "FAIL %s: no gradient for '%s'\n", name, fwd->values[v].name);
            failures++;
            continue;
        }
        const float *ga = be->io(p, gv)->data;
        float *theta = fwd->values[v].init->data;
        size_t n = fwd->values[v].init->nbytes / sizeof(float);
        size_t step = n > 24 ? n / 24 : 1;
        for (size_t i = 0; i < n; i += step) {
            float keep = theta[i];
            float h = rel_h * fmaxf(1.0f, fabsf(keep));
            theta[i] = keep + h;
            double lp = run_loss(fwd, ir_graph_find(fwd, g->values[loss].name));
            theta[i] = keep - h;
            double lm = run_loss(fwd, ir_graph_find(fwd, g->values[loss].name));
            theta[i] = keep;
            double num = (lp - lm) / (double)((keep + h) - (keep - h));
            double e = fabs(num - ga[i]) / fmax(1e-2, fabs(num) + fabs(ga[i]));
            if (e > worst)
                worst = e;
            if (e > 2e-2) {
                fprintf(stderr, "FAIL %s [%s]: d loss/d %s[%zu]: autodiff %.6g, finite difference %.6g\n", name,
                        be->name, fwd->values[v].name, i, ga[i], num);
                failures++;
                i = n; /* one report per parameter */
            }
            checked++;
        }
    }
    printf("%-28s [%s] %3d partials, worst relative error %.2e\n", name, be->name, checked, worst);
    be->free(p);
done:
    ir_graph_free(fwd);
    ir_graph_free(train);
}

/* ---- the cases: one builder per op (variant) ------------------------------------------------------------- */

typedef int (*build_fn)(ir_graph *g);

static int unary(ir_graph *g, ir_op op, enum dist d)
{
    int64_t s[4] = {2, 3, 4, 5};
    int x = param(g, "x", 4, s, d), y = value(g, "y");
    node(g, op, &x, 1, y);
    return y;
}

static int b_relu(ir_graph *g) { return unary(g, IR_OP_Relu, D_AWAY0); }
static int b_sigmoid(ir_graph *g) { return unary(g, IR_OP_Sigmoid, D_NORMAL); }
static int b_hardswish(ir_graph *g) { return unary(g, IR_OP_HardSwish, D_AWAY_HS); }
static int b_identity(ir_graph *g) { return unary(g, IR_OP_Identity, D_NORMAL); }
static int b_gap(ir_graph *g) { return unary(g, IR_OP_GlobalAveragePool, D_NORMAL); }
static int b_gmp(ir_graph *g) { return unary(g, IR_OP_GlobalMaxPool, D_DISTINCT); }
static int b_flatten(ir_graph *g) { return unary(g, IR_OP_Flatten, D_NORMAL); }

static int b_hardsigmoid(ir_graph *g)
{
    int y = unary(g, IR_OP_HardSigmoid, D_AWAY_HS);
    CHECK(ir_node_set_float(g, g->n_nodes - 1, "alpha", 1.0f / 6.0f, &err) == HPK_OK);
    return y;
}

static int b_clip13(ir_graph *g)
{
    int64_t s[2] = {4, 6};
    float lo = 0, hi = 6;
    int x = param(g, "x", 2, s, D_AWAY_CLIP), y = value(g, "y");
    int in[3] = {x, constant(g, "lo", IR_DT_F32, 0, NULL, &lo), constant(g, "hi", IR_DT_F32, 0, NULL, &hi)};
    node(g, IR_OP_Clip, in, 3, y);
    return y;
}

static int b_clip9(ir_graph *g)
{
    g->opset = 9;
    int64_t s[2] = {4, 6};
    int x = param(g, "x", 2, s, D_AWAY_CLIP), y = value(g, "y");
    int ni = node(g, IR_OP_Clip, &x, 1, y);
    CHECK(ir_node_set_float(g, ni, "min", 0.0f, &err) == HPK_OK);
    CHECK(ir_node_set_float(g, ni, "max", 1.0f, &err) == HPK_OK);
    return y;
}

static int binary(ir_graph *g, ir_op op, int ra, const int64_t *a, int rb, const int64_t *b, enum dist db)
{
    int x = param(g, "a", ra, a, D_NORMAL), w = param(g, "b", rb, b, db), y = value(g, "y");
    int in[2] = {x, w};
    node(g, op, in, 2, y);
    return y;
}

static const int64_t S234[3] = {2, 3, 4}, S31[2] = {3, 1}, S4[1] = {4};
static int b_add(ir_graph *g) { return binary(g, IR_OP_Add, 3, S234, 2, S31, D_NORMAL); }
static int b_sub(ir_graph *g) { return binary(g, IR_OP_Sub, 1, S4, 3, S234, D_NORMAL); }
static int b_mul(ir_graph *g) { return binary(g, IR_OP_Mul, 3, S234, 2, S31, D_NORMAL); }
static int b_div(ir_graph *g) { return binary(g, IR_OP_Div, 3, S234, 1, S4, D_POSITIVE); }

static int b_pow(ir_graph *g)
{
    int64_t s[2] = {3, 5};
    float e = 2.0f;
    int x = param(g, "x", 2, s, D_NORMAL), y = value(g, "y");
    int in[2] = {x, constant(g, "e", IR_DT_F32, 0, NULL, &e)};
    node(g, IR_OP_Pow, in, 2, y);
    return y;
}

static int conv(ir_graph *g, int64_t c, int64_t m, int64_t group, int64_t k, int64_t stride, int64_t pad,
                int64_t dil, bool bias)
{
    int64_t xs[4] = {2, c, 7, 6}, ws[4] = {m, c / group, k, k}, bs[1] = {m};
    int x = param(g, "x", 4, xs, D_NORMAL), w = param(g, "w", 4, ws, D_NORMAL), y = value(g, "y");
    int in[3] = {x, w, bias ? param(g, "b", 1, bs, D_NORMAL) : -1};
    int ni = node(g, IR_OP_Conv, in, bias ? 3 : 2, y);
    int64_t st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad}, dl[2] = {dil, dil};
    CHECK(ir_node_set_int(g, ni, "group", group, &err) == HPK_OK);
    CHECK(ir_node_set_ints(g, ni, "strides", st, 2, &err) == HPK_OK);
    CHECK(ir_node_set_ints(g, ni, "pads", pd, 4, &err) == HPK_OK);
    CHECK(ir_node_set_ints(g, ni, "dilations", dl, 2, &err) == HPK_OK);
    return y;
}

static int b_conv(ir_graph *g) { return conv(g, 3, 4, 1, 3, 1, 1, 1, true); }
static int b_conv_s2(ir_graph *g) { return conv(g, 4, 6, 2, 3, 2, 1, 1, false); }
static int b_conv_dw(ir_graph *g) { return conv(g, 4, 4, 4, 3, 2, 1, 1, false); }
/* depthwise 5x5 (its weight gradient is hpk's own kernel on oneDNN): on a plain input, and after a 1x1 conv so the
 * input arrives channel-blocked (20 channels: a partial last block) */
static int b_conv_dw5(ir_graph *g) { return conv(g, 6, 6, 6, 5, 2, 2, 1, true); }
static int b_conv_pw_dw5(ir_graph *g)
{
    int64_t xs[4] = {2, 20, 7, 6}, w1s[4] = {20, 20, 1, 1}, w2s[4] = {20, 1, 5, 5}, pd[4] = {2, 2, 2, 2};
    int x = param(g, "x", 4, xs, D_NORMAL), w1 = param(g, "w1", 4, w1s, D_NORMAL),
        w2 = param(g, "w2", 4, w2s, D_NORMAL), t = value(g, "t"), y = value(g, "y");
    int in1[2] = {x, w1};
    node(g, IR_OP_Conv, in1, 2, t);
    int in2[2] = {t, w2};
    int ni = node(g, IR_OP_Conv, in2, 2, y);
    CHECK(ir_node_set_int(g, ni, "group", 20, &err) == HPK_OK);
    CHECK(ir_node_set_ints(g, ni, "pads", pd, 4, &err) == HPK_OK);
    return y;
}
/* the squeeze-excitation multiply: x [2, 20, 3, 3] (channel-blocked: out of a 1x1 conv) times s [2, 20, 1, 1]; its
 * gradient for s sums dY·x over the spatial dims on the blocked layout */
static int b_se_mul(ir_graph *g)
{
    int64_t xs[4] = {2, 20, 3, 3}, ws[4] = {20, 20, 1, 1}, ss[4] = {2, 20, 1, 1};
    int x = param(g, "x", 4, xs, D_NORMAL), w = param(g, "w", 4, ws, D_NORMAL), s = param(g, "s", 4, ss, D_NORMAL),
        t = value(g, "t"), y = value(g, "y");
    int in1[2] = {x, w};
    node(g, IR_OP_Conv, in1, 2, t);
    int in2[2] = {t, s};
    node(g, IR_OP_Mul, in2, 2, y);
    return y;
}
static int b_conv_dil(ir_graph *g) { return conv(g, 2, 3, 1, 3, 1, 2, 2, true); }
static int b_conv_1x1(ir_graph *g) { return conv(g, 5, 3, 1, 1, 1, 0, 1, false); }

static int b_bn(ir_graph *g)
{
    int64_t xs[4] = {3, 4, 3, 2}, cs[1] = {4};
    float zero[4] = {0}, one[4] = {1, 1, 1, 1};
    int in[5] = {param(g, "x", 4, xs, D_NORMAL), param(g, "scale", 1, cs, D_NORMAL), param(g, "bias", 1, cs, D_NORMAL),
                 constant(g, "mean", IR_DT_F32, 1, cs, zero), constant(g, "var", IR_DT_F32, 1, cs, one)};
    int y = value(g, "y");
    node(g, IR_OP_BatchNormalization, in, 5, y);
    return y;
}

static int pool(ir_graph *g, ir_op op, int64_t k, int64_t s, int64_t pad, int ceil, int cip)
{
    int64_t xs[4] = {2, 3, 7, 7};
    int x = param(g, "x", 4, xs, D_DISTINCT), y = value(g, "y");
    int ni = node(g, op, &x, 1, y);
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pd[4] = {pad, pad, pad, pad};
    CHECK(ir_node_set_ints(g, ni, "kernel_shape", ks, 2, &err) == HPK_OK);
    CHECK(ir_node_set_ints(g, ni, "strides", st, 2, &err) == HPK_OK);
    CHECK(ir_node_set_ints(g, ni, "pads", pd, 4, &err) == HPK_OK);
    if (ceil)
        CHECK(ir_node_set_int(g, ni, "ceil_mode", 1, &err) == HPK_OK);
    if (cip)
        CHECK(ir_node_set_int(g, ni, "count_include_pad", 1, &err) == HPK_OK);
    return y;
}

static int b_maxpool(ir_graph *g) { return pool(g, IR_OP_MaxPool, 3, 2, 1, 0, 0); }
static int b_maxpool_ceil(ir_graph *g) { return pool(g, IR_OP_MaxPool, 2, 2, 0, 1, 0); }
static int b_avgpool(ir_graph *g) { return pool(g, IR_OP_AveragePool, 3, 2, 1, 0, 0); }
static int b_avgpool_cip(ir_graph *g) { return pool(g, IR_OP_AveragePool, 3, 2, 1, 1, 1); }

static int b_reshape(ir_graph *g)
{
    int64_t s[3] = {2, 3, 4}, sh[2] = {4, 6}, two = 2;
    int x = param(g, "x", 3, s, D_NORMAL), y = value(g, "y");
    int in[2] = {x, constant(g, "shape", IR_DT_I64, 1, &two, sh)};
    node(g, IR_OP_Reshape, in, 2, y);
    return y;
}

static int b_squeeze(ir_graph *g)
{
    int64_t s[3] = {2, 1, 4}, ax = 1, one = 1;
    int x = param(g, "x", 3, s, D_NORMAL), y = value(g, "y");
    int in[2] = {x, constant(g, "axes", IR_DT_I64, 1, &one, &ax)};
    node(g, IR_OP_Squeeze, in, 2, y);
    return y;
}

static int b_unsqueeze(ir_graph *g)
{
    g->opset = 11;
    int64_t s[2] = {2, 4}, ax[2] = {0, 3};
    int x = param(g, "x", 2, s, D_NORMAL), y = value(g, "y");
    int ni = node(g, IR_OP_Unsqueeze, &x, 1, y);
    CHECK(ir_node_set_ints(g, ni, "axes", ax, 2, &err) == HPK_OK);
    return y;
}

static int gemm(ir_graph *g, int ta, int tb, float alpha, float beta, int c_rank)
{
    int64_t as[2] = {ta ? 4 : 3, ta ? 3 : 4}, bs[2] = {tb ? 5 : 4, tb ? 4 : 5}, cs[2] = {1, 5};
    int in[3] = {param(g, "A", 2, as, D_NORMAL), param(g, "B", 2, bs, D_NORMAL),
                 c_rank == 1 ? param(g, "C", 1, cs + 1, D_NORMAL) : param(g, "C", 2, cs, D_NORMAL)};
    int y = value(g, "y");
    int ni = node(g, IR_OP_Gemm, in, 3, y);
    CHECK(ir_node_set_int(g, ni, "transA", ta, &err) == HPK_OK);
    CHECK(ir_node_set_int(g, ni, "transB", tb, &err) == HPK_OK);
    CHECK(ir_node_set_float(g, ni, "alpha", alpha, &err) == HPK_OK);
    CHECK(ir_node_set_float(g, ni, "beta", beta, &err) == HPK_OK);
    return y;
}

static int b_gemm(ir_graph *g) { return gemm(g, 0, 1, 1.0f, 1.0f, 1); }
static int b_gemm_ta(ir_graph *g) { return gemm(g, 1, 0, 0.5f, 2.0f, 2); }
static int b_gemm_tab(ir_graph *g) { return gemm(g, 1, 1, 1.5f, 1.0f, 1); }

static int b_matmul(ir_graph *g)
{
    int64_t as[2] = {3, 4}, bs[2] = {4, 2};
    return binary(g, IR_OP_MatMul, 2, as, 2, bs, D_NORMAL);
}

static int softmax(ir_graph *g, ir_op op, int opset, int64_t axis)
{
    g->opset = opset;
    int64_t s[3] = {2, 3, 4};
    int x = param(g, "x", 3, s, D_NORMAL), y = value(g, "y");
    int ni = node(g, op, &x, 1, y);
    CHECK(ir_node_set_int(g, ni, "axis", axis, &err) == HPK_OK);
    return y;
}

static int b_softmax13(ir_graph *g) { return softmax(g, IR_OP_Softmax, 13, 1); }
static int b_softmax11(ir_graph *g) { return softmax(g, IR_OP_Softmax, 11, 1); }
static int b_logsoftmax13(ir_graph *g) { return softmax(g, IR_OP_LogSoftmax, 13, -1); }

static int b_concat(ir_graph *g)
{
    int64_t a[3] = {2, 3, 2}, b[3] = {2, 1, 2};
    int in[2] = {param(g, "a", 3, a, D_NORMAL), param(g, "b", 3, b, D_NORMAL)}, y = value(g, "y");
    int ni = node(g, IR_OP_Concat, in, 2, y);
    CHECK(ir_node_set_int(g, ni, "axis", 1, &err) == HPK_OK);
    return y;
}

static int b_reducemean(ir_graph *g)
{
    int64_t s[3] = {2, 3, 4}, ax[2] = {0, 2};
    int x = param(g, "x", 3, s, D_NORMAL), y = value(g, "y");
    int ni = node(g, IR_OP_ReduceMean, &x, 1, y);
    CHECK(ir_node_set_ints(g, ni, "axes", ax, 2, &err) == HPK_OK);
    return y;
}

static int b_sce(ir_graph *g)
{
    int64_t s[2] = {5, 4}, n = 5, labels[5] = {0, 3, 1, 1, 2};
    int in[2] = {param(g, "scores", 2, s, D_NORMAL), constant(g, "labels", IR_DT_I64, 1, &n, labels)};
    int y = value(g, "loss_sce");
    node(g, IR_OP_SoftmaxCrossEntropyLoss, in, 2, y);
    return y;
}

/* a small network: conv → BN → ReLU6 → GAP → flatten → Gemm → loss: the rules composed */
static int b_chain(ir_graph *g)
{
    int c = conv(g, 3, 4, 1, 3, 2, 1, 1, false);
    int64_t cs[1] = {4};
    float zero[4] = {0}, one[4] = {1, 1, 1, 1}, lo = 0, hi = 6;
    int bn_in[5] = {c, param(g, "gamma", 1, cs, D_POSITIVE), param(g, "beta", 1, cs, D_NORMAL),
                    constant(g, "rm", IR_DT_F32, 1, cs, zero), constant(g, "rv", IR_DT_F32, 1, cs, one)};
    int b = value(g, "bn"), r = value(g, "relu6"), p = value(g, "gap"), f = value(g, "flat"), z = value(g, "logits");
    node(g, IR_OP_BatchNormalization, bn_in, 5, b);
    int clip_in[3] = {b, constant(g, "lo", IR_DT_F32, 0, NULL, &lo), constant(g, "hi", IR_DT_F32, 0, NULL, &hi)};
    node(g, IR_OP_Clip, clip_in, 3, r);
    node(g, IR_OP_GlobalAveragePool, &r, 1, p);
    node(g, IR_OP_Flatten, &p, 1, f);
    int64_t ws[2] = {3, 4};
    int gin[2] = {f, param(g, "fc", 2, ws, D_NORMAL)};
    int ni = node(g, IR_OP_Gemm, gin, 2, z);
    CHECK(ir_node_set_int(g, ni, "transB", 1, &err) == HPK_OK);
    int64_t n = 2, labels[2] = {2, 0};
    int lin[2] = {z, constant(g, "labels", IR_DT_I64, 1, &n, labels)}, l = value(g, "loss_chain");
    node(g, IR_OP_SoftmaxCrossEntropyLoss, lin, 2, l);
    return l;
}

static int b_exp(ir_graph *g) { return unary(g, IR_OP_Exp, D_NORMAL); }

static int b_lpnorm(ir_graph *g)
{
    int64_t s[2] = {3, 5};
    int x = param(g, "x", 2, s, D_NORMAL), y = value(g, "y");
    int ni = node(g, IR_OP_LpNormalization, &x, 1, y);
    CHECK(ir_node_set_int(g, ni, "axis", 1, &err) == HPK_OK);
    return y;
}

static int b_sumsq(ir_graph *g)
{
    int64_t s[3] = {2, 3, 4}, ax = 1;
    int x = param(g, "x", 3, s, D_NORMAL), y = value(g, "y");
    int ni = node(g, IR_OP_ReduceSumSquare, &x, 1, y);
    CHECK(ir_node_set_ints(g, ni, "axes", &ax, 1, &err) == HPK_OK);
    return y;
}

/* a poly head as pass_insert_heads builds it: s·(f̂·ŵ + c)^d, then the loss */
static int b_poly_head(ir_graph *g)
{
    int64_t fs[2] = {4, 6}, ws[2] = {3, 6}, n = 4, labels[4] = {0, 2, 1, 2};
    float c = 1.0f, d = 2.0f, sc = 4.0f;
    int f = param(g, "f", 2, fs, D_NORMAL), w = param(g, "w", 2, ws, D_NORMAL);
    int fn = value(g, "fn"), wn = value(g, "wn"), dot = value(g, "dot"), sh = value(g, "sh"), pw = value(g, "pw"),
        z = value(g, "z"), l = value(g, "loss_head");
    CHECK(ir_node_set_int(g, node(g, IR_OP_LpNormalization, &f, 1, fn), "axis", 1, &err) == HPK_OK);
    CHECK(ir_node_set_int(g, node(g, IR_OP_LpNormalization, &w, 1, wn), "axis", 1, &err) == HPK_OK);
    int gin[2] = {fn, wn};
    CHECK(ir_node_set_int(g, node(g, IR_OP_Gemm, gin, 2, dot), "transB", 1, &err) == HPK_OK);
    int ain[2] = {dot, constant(g, "c", IR_DT_F32, 0, NULL, &c)}, pin[2] = {sh, constant(g, "d", IR_DT_F32, 0, NULL, &d)},
        min[2] = {pw, constant(g, "s", IR_DT_F32, 0, NULL, &sc)};
    node(g, IR_OP_Add, ain, 2, sh);
    node(g, IR_OP_Pow, pin, 2, pw);
    node(g, IR_OP_Mul, min, 2, z);
    int lin[2] = {z, constant(g, "labels", IR_DT_I64, 1, &n, labels)};
    node(g, IR_OP_SoftmaxCrossEntropyLoss, lin, 2, l);
    return l;
}

static const struct {
    const char *name;
    build_fn build;
    float h; /* finite-difference step, relative */
} cases[] = {
    {"Relu", b_relu, 1e-2f}, {"Sigmoid", b_sigmoid, 1e-2f}, {"HardSwish", b_hardswish, 1e-2f}, {"HardSigmoid", b_hardsigmoid, 1e-2f},
    {"Identity", b_identity, 1e-2f}, {"Clip (opset 13)", b_clip13, 1e-2f}, {"Clip (opset 9)", b_clip9, 1e-2f},
    {"Add (broadcast)", b_add, 1e-2f}, {"Sub (broadcast)", b_sub, 1e-2f}, {"Mul (broadcast)", b_mul, 1e-2f}, {"Div (broadcast)", b_div, 1e-2f},
    {"Pow (x^2)", b_pow, 1e-2f}, {"Conv", b_conv, 1e-2f}, {"Conv stride 2 group 2", b_conv_s2, 1e-2f}, {"Conv depthwise", b_conv_dw, 1e-2f},
    {"Conv depthwise 5x5 stride 2 bias", b_conv_dw5, 1e-2f}, {"Conv 1x1 then depthwise 5x5", b_conv_pw_dw5, 1e-2f},
    {"Conv 1x1 then Mul by [N, C, 1, 1]", b_se_mul, 1e-2f},
    {"Conv dilated", b_conv_dil, 1e-2f}, {"Conv 1x1", b_conv_1x1, 1e-2f}, {"BatchNormalization", b_bn, 1e-2f},
    {"GlobalAveragePool", b_gap, 1e-2f}, {"GlobalMaxPool", b_gmp, 1e-2f}, {"MaxPool", b_maxpool, 1e-2f},
    {"MaxPool ceil_mode", b_maxpool_ceil, 1e-2f}, {"AveragePool", b_avgpool, 1e-2f}, {"AveragePool pad+ceil", b_avgpool_cip, 1e-2f},
    {"Flatten", b_flatten, 1e-2f}, {"Reshape", b_reshape, 1e-2f}, {"Squeeze", b_squeeze, 1e-2f}, {"Unsqueeze (opset 11)", b_unsqueeze, 1e-2f},
    {"Gemm transB", b_gemm, 1e-2f}, {"Gemm transA", b_gemm_ta, 1e-2f}, {"Gemm transA transB", b_gemm_tab, 1e-2f},
    {"MatMul", b_matmul, 1e-2f}, {"Softmax (opset 13)", b_softmax13, 1e-2f}, {"Softmax (opset 11)", b_softmax11, 1e-2f},
    {"LogSoftmax", b_logsoftmax13, 1e-2f}, {"Concat", b_concat, 1e-2f}, {"ReduceMean", b_reducemean, 1e-2f},
    {"SoftmaxCrossEntropyLoss", b_sce, 1e-2f}, {"conv-bn-relu6-gap-gemm-loss", b_chain, 1e-3f},
    {"Exp", b_exp, 1e-2f}, {"LpNormalization", b_lpnorm, 1e-2f}, {"ReduceSumSquare", b_sumsq, 1e-2f},
    {"poly head (normalized)", b_poly_head, 1e-2f},
};

/* Dropout is stochastic: check DropoutGrad exactly against the mask the forward drew. */
static void check_dropout(const be_vtable *be)
{
    ir_graph *g;
    CHECK(ir_graph_init(&g, hpk_alloc_default(), &err) == HPK_OK);
    int64_t s[2] = {8, 16};
    int x = param(g, "x", 2, s, D_NORMAL), y = value(g, "y");
    int ni = node(g, IR_OP_Dropout, &x, 1, y);
    CHECK(ir_node_set_float(g, ni, "ratio", 0.25f, &err) == HPK_OK);
    int loss = add_loss(g, y);
    CHECK(ir_graph_add_output(g, loss, &err) == HPK_OK);
    CHECK(pass_training_mode(g, &err) == HPK_OK);
    int mask = ir_graph_find(g, "Dropout/mask");
    CHECK(mask >= 0);
    CHECK(ir_graph_add_output(g, mask, &err) == HPK_OK);
    ad_loss l = {loss, 1.0f};
    CHECK(pass_autodiff(g, &l, 1, &err) == HPK_OK);
    be_plan *p;
    be_options opt = {.params_mutable = true};
    CHECK(be->prepare(g, &opt, NULL, &p, &err) == HPK_OK && be->run(p, &err) == HPK_OK);
    const unsigned char *m = be->io(p, mask)->data;
    const float *gx = be->io(p, ir_graph_find(g, "grad/x"))->data, *r = g->values[ir_graph_find(g, "R")].init->data;
    int kept = 0, bad = 0;
    for (int i = 0; i < 128; i++) {
        float want = m[i] ? r[i] / 0.75f / 128.0f : 0.0f;
        kept += m[i] != 0;
        bad += fabsf(gx[i] - want) > 1e-6f;
    }
    printf("%-28s [%s] kept %d/128, %d wrong partials\n", "Dropout (ratio 0.25)", be->name, kept, bad);
    if (bad || kept < 70 || kept > 120) {
        fprintf(stderr, "FAIL Dropout [%s]\n", be->name);
        failures++;
    }
    be->free(p);
    ir_graph_free(g);
}

int main(int argc, char **argv)
{
    const be_vtable *bes[2] = {&be_ref, NULL};
    int nbe = 1;
#if defined(HPK_HAVE_ONEDNN) && !defined(TEST_REF_ONLY)
    if (!(argc > 1 && strcmp(argv[1], "--ref-only") == 0))
        bes[nbe++] = &be_onednn;
#else
    (void)argc;
    (void)argv;
#endif
    for (int b = 0; b < nbe; b++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            ir_graph *g;
            ir_rng_seed(&rng, 1234 + i, 1);
            CHECK(ir_graph_init(&g, hpk_alloc_default(), &err) == HPK_OK);
            int y = cases[i].build(g);
            for (int k = 0; k < g->n_nodes; k++)
                covered[g->nodes[k].op] = true;
            check_case(cases[i].name, g, y, bes[b], cases[i].h);
            ir_graph_free(g);
        }
        check_dropout(bes[b]);
    }
    /* every op with a gradient rule has a case above */
    covered[IR_OP_Dropout] = true;
    for (int op = 0; op < IR_OP_COUNT; op++)
        if (ir_op_table[op].grad && !covered[op]) {
            fprintf(stderr, "FAIL: op %s has a gradient rule but no gradient check\n", ir_op_table[op].id);
            failures++;
        }
    printf("%s\n", failures ? "gradient checks FAILED" : "all gradient checks passed");
    return failures ? 1 : 0;
}
