/* grad_eltwise.c — gradient rules for the elementwise activations, Identity and Dropout. */
#include "autodiff.h"
#include "ir_rules.h"

/* Emits op(dY, saved) → dX, saved being the forward input (from_output false) or output. */
static int eltwise_rule(ir_grad_ctx *c, ir_op op, bool from_output)
{
    if (!c->need[0])
        return HPK_OK;
    const ir_node *n = ad_node(c);
    int in[2] = {c->dy[0], from_output ? n->out[0] : n->in[0]};
    int ni = ad_emit(c, op, "dx", in, 2, &c->dx[0], 1, NULL);
    return ni < 0 ? c->err->code : ad_copy_attrs(c, ni);
}

int ir_grad_relu(ir_grad_ctx *c) { return eltwise_rule(c, IR_OP_ReluGrad, true); }
int ir_grad_sigmoid(ir_grad_ctx *c) { return eltwise_rule(c, IR_OP_SigmoidGrad, true); }
int ir_grad_hardsigmoid(ir_grad_ctx *c) { return eltwise_rule(c, IR_OP_HardSigmoidGrad, false); }
int ir_grad_hardswish(ir_grad_ctx *c) { return eltwise_rule(c, IR_OP_HardSwishGrad, false); }

int ir_grad_clip(ir_grad_ctx *c)
{
    float lo, hi;
    if (c->need[1] || c->need[2])
        return ad_fail(c, "the bounds");
    if (!c->need[0])
        return HPK_OK;
    int rc = ir_clip_bounds(c->g, ad_node(c), &lo, &hi, c->err);
    if (rc)
        return rc;
    int in[2] = {c->dy[0], ad_node(c)->in[0]};
    int ni = ad_emit(c, IR_OP_ClipGrad, "dx", in, 2, &c->dx[0], 1, NULL);
    if (ni < 0)
        return c->err->code;
    if ((rc = ir_node_set_float(c->g, ni, "min", lo, c->err)) || (rc = ir_node_set_float(c->g, ni, "max", hi, c->err)))
        return rc;
    return HPK_OK;
}

int ir_grad_identity(ir_grad_ctx *c)
{
    c->dx[0] = c->dy[0];
    return HPK_OK;
}

int ir_grad_dropout(ir_grad_ctx *c)
{
    const ir_node *n = ad_node(c);
    if (c->need[1] || c->need[2])
        return ad_fail(c, "the ratio or training_mode inputs");
    if (!c->need[0])
        return HPK_OK;
    if (n->n_out < 2 || n->out[1] < 0) { /* no mask: inference mode, the identity */
        c->dx[0] = c->dy[0];
        return HPK_OK;
    }
    float ratio = ir_attr_float(n, "ratio", 0.5f);
    if (n->n_in > 1 && n->in[1] >= 0 && c->g->values[n->in[1]].init)
        ratio = *(const float *)c->g->values[n->in[1]].init->data;
    int in[2] = {c->dy[0], n->out[1]};
    int ni = ad_emit(c, IR_OP_DropoutGrad, "dx", in, 2, &c->dx[0], 1, NULL);
    if (ni < 0)
        return c->err->code;
    return ir_node_set_float(c->g, ni, "ratio", ratio, c->err);
}

int ir_grad_exp(ir_grad_ctx *c)
{
    if (!c->need[0])
        return HPK_OK;
    int in[2] = {c->dy[0], ad_node(c)->out[0]}; /* d exp(x) = exp(x) dx */
    return ad_emit(c, IR_OP_Mul, "dx", in, 2, &c->dx[0], 1, NULL) < 0 ? c->err->code : HPK_OK;
}

int ir_grad_lpnorm(ir_grad_ctx *c) { return eltwise_rule(c, IR_OP_LpNormalizationGrad, false); }
