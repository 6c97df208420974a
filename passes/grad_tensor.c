/* grad_tensor.c — gradient rules for the layout ops: Flatten/Reshape/Squeeze/Unsqueeze and Concat. */
#include "autodiff.h"
#include "ir_rules.h"

int ir_grad_reshape_like(ir_grad_ctx *c)
{
    for (int j = 1; j < ad_node(c)->n_in; j++)
        if (c->need[j])
            return ad_fail(c, "the shape or axes input");
    if (!c->need[0])
        return HPK_OK;
    int in[2] = {c->dy[0], ad_node(c)->in[0]};
    return ad_emit(c, IR_OP_ReshapeLike, "dx", in, 2, &c->dx[0], 1, NULL) < 0 ? c->err->code : HPK_OK;
}

int ir_grad_concat(ir_grad_ctx *c)
{
    const ir_node *n = ad_node(c);
    int k = n->n_in;
    if (k > 8)
        return ad_fail(c, "more than 8 concatenated inputs");
    int in[9], out[8];
    bool want[8] = {false};
    in[0] = c->dy[0];
    for (int j = 0; j < k; j++) {
        in[j + 1] = n->in[j];
        want[j] = c->need[j];
    }
    int ni = ad_emit(c, IR_OP_ConcatGrad, "dx", in, k + 1, out, k, want);
    if (ni < 0)
        return c->err->code;
    for (int j = 0; j < k; j++)
        c->dx[j] = out[j];
    return ad_copy_attrs(c, ni);
}
