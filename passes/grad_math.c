/* grad_math.c — gradient rules for Gemm, MatMul (2-D), Softmax, LogSoftmax, ReduceMean and the loss. */
#include "autodiff.h"
#include "ir_rules.h"

/* Emits Gemm(a, b) with the given transposes and alpha; returns its output or -1. */
static int gemm(ir_grad_ctx *c, const char *tag, int a, int b, int ta, int tb, float alpha)
{
    int in[2] = {a, b}, out;
    int ni = ad_emit(c, IR_OP_Gemm, tag, in, 2, &out, 1, NULL);
    if (ni < 0)
        return -1;
    if ((ta && ir_node_set_int(c->g, ni, "transA", 1, c->err)) ||
        (tb && ir_node_set_int(c->g, ni, "transB", 1, c->err)) ||
        (alpha != 1.0f && ir_node_set_float(c->g, ni, "alpha", alpha, c->err)))
        return -1;
    return out;
}

/* Y = α·op(A)·op(B) [+ β·C] */
static int gemm_rule(ir_grad_ctx *c, int ta, int tb, float alpha, float beta)
{
    /* ids only: emitting nodes moves g->nodes */
    int a = ad_node(c)->in[0], b = ad_node(c)->in[1], dy = c->dy[0];
    int cin = ad_node(c)->n_in > 2 ? ad_node(c)->in[2] : -1;
    if (c->need[0]) {
        /* dop(A) = α·dY·op(B)ᵀ; dA = dop(A) or its transpose */
        c->dx[0] = !ta ? gemm(c, "da", dy, b, 0, !tb, alpha) : gemm(c, "da", b, dy, tb, 1, alpha);
        if (c->dx[0] < 0)
            return c->err->code ? c->err->code : HPK_ENOMEM;
    }
    if (c->need[1]) {
        /* dop(B) = α·op(A)ᵀ·dY */
        c->dx[1] = !tb ? gemm(c, "db", a, dy, !ta, 0, alpha) : gemm(c, "db", dy, a, 1, ta, alpha);
        if (c->dx[1] < 0)
            return c->err->code ? c->err->code : HPK_ENOMEM;
    }
    if (cin >= 0 && c->need[2]) {
        int in[2] = {dy, cin}, s;
        if (ad_emit(c, IR_OP_SumToShape, "dc", in, 2, &s, 1, NULL) < 0)
            return c->err->code;
        if (beta != 1.0f) {
            int k = ad_scalar(c, beta);
            int in2[2] = {s, k};
            if (k < 0 || ad_emit(c, IR_OP_Mul, "dc", in2, 2, &s, 1, NULL) < 0)
                return c->err->code ? c->err->code : HPK_ENOMEM;
        }
        c->dx[2] = s;
    }
    return HPK_OK;
}

int ir_grad_gemm(ir_grad_ctx *c)
{
    const ir_node *n = ad_node(c);
    return gemm_rule(c, (int)ir_attr_int(n, "transA", 0), (int)ir_attr_int(n, "transB", 0),
                     ir_attr_float(n, "alpha", 1.0f), ir_attr_float(n, "beta", 1.0f));
}

int ir_grad_matmul(ir_grad_ctx *c)
{
    const ir_node *n = ad_node(c);
    if (c->g->values[n->in[0]].shape.rank != 2 || c->g->values[n->in[1]].shape.rank != 2)
        return ad_fail(c, "MatMul operands that are not 2-D");
    return gemm_rule(c, 0, 0, 1.0f, 1.0f);
}

static int from_output_rule(ir_grad_ctx *c, ir_op op)
{
    if (!c->need[0])
        return HPK_OK;
    int in[2] = {c->dy[0], ad_node(c)->out[0]};
    int ni = ad_emit(c, op, "dx", in, 2, &c->dx[0], 1, NULL);
    return ni < 0 ? c->err->code : ad_copy_attrs(c, ni);
}

int ir_grad_softmax(ir_grad_ctx *c) { return from_output_rule(c, IR_OP_SoftmaxGrad); }
int ir_grad_logsoftmax(ir_grad_ctx *c) { return from_output_rule(c, IR_OP_LogSoftmaxGrad); }

int ir_grad_reducemean(ir_grad_ctx *c)
{
    if (ad_node(c)->n_in > 1 && c->need[1])
        return ad_fail(c, "the axes input");
    if (!c->need[0])
        return HPK_OK;
    if (ad_node(c)->n_in > 1 && ad_node(c)->in[1] >= 0)
        return ad_fail(c, "axes given as an input (opset 18 form)");
    int in[2] = {c->dy[0], ad_node(c)->in[0]};
    int ni = ad_emit(c, IR_OP_ReduceMeanGrad, "dx", in, 2, &c->dx[0], 1, NULL);
    return ni < 0 ? c->err->code : ad_copy_attrs(c, ni);
}

int ir_grad_reducesumsquare(ir_grad_ctx *c)
{
    if (ad_node(c)->n_in > 1 && (c->need[1] || ad_node(c)->in[1] >= 0))
        return ad_fail(c, "axes given as an input");
    if (!c->need[0])
        return HPK_OK;
    int in[2] = {c->dy[0], ad_node(c)->in[0]};
    int ni = ad_emit(c, IR_OP_ReduceSumSquareGrad, "dx", in, 2, &c->dx[0], 1, NULL);
    return ni < 0 ? c->err->code : ad_copy_attrs(c, ni);
}

int ir_grad_sce_loss(ir_grad_ctx *c)
{
    if (c->need[1])
        return ad_fail(c, "the labels");
    if (!c->need[0])
        return HPK_OK;
    if (ad_node(c)->n_out > 1 && c->dy[1] >= 0)
        return ad_fail(c, "the log_prob output");
    int in[3] = {c->dy[0], ad_node(c)->in[0], ad_node(c)->in[1]};
    int ni = ad_emit(c, IR_OP_SoftmaxCrossEntropyLossGrad, "dx", in, 3, &c->dx[0], 1, NULL);
    return ni < 0 ? c->err->code : ad_copy_attrs(c, ni);
}
