/* pass_fuse_hardswish.c — Mul(x, HardSigmoid(x; alpha 1/6, beta 1/2)) → HardSwish(x) (in place), for training graphs.
 * torchvision's MobileNetV3 exports hardswish in this form (ONNX has HardSwish only from opset 14); as one op its
 * forward and backward each make one pass over the tensor instead of four, and its gradient is PyTorch's
 * (x/3 + 1/2 on [−3, 3]). Not an `hpk opt` pass: a graph at opset < 14 cannot be exported with HardSwish. */
#include <math.h>

#include "passes.h"

/* the HardSigmoid node computing torch's hardsigmoid of x that produces h and is read only by one node, or -1 */
static int torch_hardsigmoid_of(const ir_graph *g, int h, int x)
{
    const ir_value *hv = &g->values[h];
    if (hv->producer < 0 || (hv->flags & (IR_VAL_OUTPUT | IR_VAL_INPUT)) || pass_use_count(g, h) != 1)
        return -1;
    const ir_node *s = &g->nodes[hv->producer];
    if (s->dead || s->op != IR_OP_HardSigmoid || s->in[0] != x)
        return -1;
    if (fabsf(ir_attr_float(s, "alpha", 0.2f) - 1.0f / 6.0f) > 1e-7f || ir_attr_float(s, "beta", 0.5f) != 0.5f)
        return -1;
    for (int i = 0; i < g->n_stages; i++)
        if (g->stages[i].value == h)
            return -1;
    return hv->producer;
}

int pass_fuse_hardswish(ir_graph *g, hpk_err *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead || n->op != IR_OP_Mul || n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
            continue;
        for (int k = 0; k < 2; k++) {
            int x = n->in[k], s = torch_hardsigmoid_of(g, n->in[1 - k], x);
            if (s < 0)
                continue;
            g->nodes[s].dead = true; /* ir_graph_compact drops it and recomputes producers */
            n->op = IR_OP_HardSwish;
            n->in[0] = x;
            n->in[1] = -1;
            n->n_in = 1;
            break;
        }
    }
    return ir_graph_compact(g, err);
}
