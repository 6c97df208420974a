/* grad_binary.c — gradient rules for the broadcasting binaries Add, Sub, Mul, Div and Pow (constant exponent). */
#include <math.h>

#include "autodiff.h"
#include "ir_rules.h"

/* Emits a two-input, one-output node; returns its output value or -1. */
static int emit2(ir_grad_ctx *c, ir_op op, const char *tag, int a, int b)
{
    int in[2] = {a, b}, out;
    return ad_emit(c, op, tag, in, 2, &out, 1, NULL) < 0 ? -1 : out;
}

/* dY reduced to the shape of forward input j (a no-op when the shapes already agree). */
static int reduce_to_input(ir_grad_ctx *c, int dy, int j)
{
    const ir_graph *g = c->g;
    int x = ad_node(c)->in[j], y = ad_node(c)->out[0];
    if (ir_shape_eq(&g->values[x].shape, &g->values[y].shape))
        return dy;
    return emit2(c, IR_OP_SumToShape, j ? "sumb" : "suma", dy, x);
}

static int scaled(ir_grad_ctx *c, int v, float k, const char *tag)
{
    int s = ad_scalar(c, k);
    return s < 0 ? -1 : emit2(c, IR_OP_Mul, tag, v, s);
}

#define CHECK(v)                                                                                             \
    do {                                                                                                     \
        if ((v) < 0)                                                                                         \
            return c->err->code ? c->err->code : HPK_ENOMEM;                                                 \
    } while (0)

int ir_grad_add(ir_grad_ctx *c)
{
    for (int j = 0; j < 2; j++)
        if (c->need[j])
            CHECK(c->dx[j] = reduce_to_input(c, c->dy[0], j));
    return HPK_OK;
}

int ir_grad_sub(ir_grad_ctx *c)
{
    if (c->need[0])
        CHECK(c->dx[0] = reduce_to_input(c, c->dy[0], 0));
    if (c->need[1]) {
        int neg = scaled(c, c->dy[0], -1.0f, "neg");
        CHECK(neg);
        CHECK(c->dx[1] = reduce_to_input(c, neg, 1));
    }
    return HPK_OK;
}

int ir_grad_mul(ir_grad_ctx *c)
{
    for (int j = 0; j < 2; j++)
        if (c->need[j]) {
            int other = ad_node(c)->in[1 - j];
            int t = emit2(c, IR_OP_Mul, j ? "mulb" : "mula", c->dy[0], other);
            CHECK(t);
            CHECK(c->dx[j] = reduce_to_input(c, t, j));
        }
    return HPK_OK;
}

int ir_grad_div(ir_grad_ctx *c)
{
    int b = ad_node(c)->in[1], y = ad_node(c)->out[0];
    if (c->need[0]) {
        int t = emit2(c, IR_OP_Div, "diva", c->dy[0], b);
        CHECK(t);
        CHECK(c->dx[0] = reduce_to_input(c, t, 0));
    }
    if (c->need[1]) { /* d(a/b)/db = −y/b */
        int t = emit2(c, IR_OP_Mul, "divb", c->dy[0], y);
        CHECK(t);
        t = emit2(c, IR_OP_Div, "divb", t, b);
        CHECK(t);
        t = scaled(c, t, -1.0f, "neg");
        CHECK(t);
        CHECK(c->dx[1] = reduce_to_input(c, t, 1));
    }
    return HPK_OK;
}

int ir_grad_pow(ir_grad_ctx *c)
{
    const ir_graph *g = c->g;
    int e = ad_node(c)->in[1];
    if (c->need[1])
        return ad_fail(c, "the exponent (it must be a constant)");
    if (!c->need[0])
        return HPK_OK;
    const ir_tensor *t = g->values[e].init;
    size_t n;
    if (!t || ir_shape_numel(&t->shape, &n) || n != 1)
        return ad_fail(c, "a non-scalar or non-constant exponent");
    double p = t->dtype == IR_DT_F32 ? *(const float *)t->data
               : t->dtype == IR_DT_I64 ? (double)*(const int64_t *)t->data
               : t->dtype == IR_DT_I32 ? *(const int32_t *)t->data : NAN;
    if (isnan(p))
        return ad_fail(c, "an exponent of this dtype");
    /* dA = dY · p · A^(p−1) */
    int pm1 = ad_scalar(c, (float)(p - 1.0));
    CHECK(pm1);
    int a = ad_node(c)->in[0];
    int apow = emit2(c, IR_OP_Pow, "pow", a, pm1);
    CHECK(apow);
    int k = scaled(c, apow, (float)p, "pow");
    CHECK(k);
    int d = emit2(c, IR_OP_Mul, "pow", c->dy[0], k);
    CHECK(d);
    CHECK(c->dx[0] = reduce_to_input(c, d, 0));
    return HPK_OK;
}
