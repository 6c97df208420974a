/* grad_nn.c — gradient rules for Conv, BatchNormalization (training mode) and pooling. */
#include "autodiff.h"
#include "ir_rules.h"

/* Emits op(dY, X) → dX carrying the forward attributes. */
static int saved_input_rule(ir_grad_ctx *c, ir_op op)
{
    if (!c->need[0])
        return HPK_OK;
    int in[2] = {c->dy[0], ad_node(c)->in[0]};
    int ni = ad_emit(c, op, "dx", in, 2, &c->dx[0], 1, NULL);
    return ni < 0 ? c->err->code : ad_copy_attrs(c, ni);
}

int ir_grad_conv(ir_grad_ctx *c)
{
    const ir_node *n = ad_node(c);
    int in[3] = {c->dy[0], n->in[0], n->in[1]}, out[3];
    bool want[3] = {c->need[0], c->need[1], n->n_in > 2 && c->need[2]};
    int ni = ad_emit(c, IR_OP_ConvGrad, "conv", in, 3, out, 3, want);
    if (ni < 0)
        return c->err->code;
    for (int i = 0; i < 3; i++)
        c->dx[i] = out[i];
    return ad_copy_attrs(c, ni);
}

int ir_grad_batchnorm(ir_grad_ctx *c)
{
    const ir_node *n = ad_node(c);
    if (ir_attr_int(n, "training_mode", 0) != 1 || n->n_out < 5)
        return ad_fail(c, "inference-mode BatchNormalization (the training graph needs pass_training_mode)");
    if (c->need[3] || c->need[4])
        return ad_fail(c, "the running statistics (they are state, not parameters)");
    int in[5] = {c->dy[0], n->in[0], n->in[1], n->out[3], n->out[4]}, out[3];
    bool want[3] = {c->need[0], c->need[1], c->need[2]};
    int ni = ad_emit(c, IR_OP_BatchNormalizationGrad, "bn", in, 5, out, 3, want);
    if (ni < 0)
        return c->err->code;
    for (int i = 0; i < 3; i++)
        c->dx[i] = out[i];
    return ad_copy_attrs(c, ni);
}

int ir_grad_maxpool(ir_grad_ctx *c) { return saved_input_rule(c, IR_OP_MaxPoolGrad); }
int ir_grad_avgpool(ir_grad_ctx *c) { return saved_input_rule(c, IR_OP_AveragePoolGrad); }
int ir_grad_global_avgpool(ir_grad_ctx *c) { return saved_input_rule(c, IR_OP_GlobalAveragePoolGrad); }
int ir_grad_global_maxpool(ir_grad_ctx *c) { return saved_input_rule(c, IR_OP_GlobalMaxPoolGrad); }
