/* onnx_opset.c — which form of a version-dependent op is valid at which default-domain opset (import and export). */
#include "onnx.h"

static bool has_input(const ir_node *n, int i)
{
    return i < n->n_in && n->in[i] >= 0;
}

static int bad(const ir_node *n, int64_t opset, const char *what, hpk_err *err)
{
    return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): %s at opset %lld", n->name, ir_op_table[n->op].onnx_name,
                       what, (long long)opset);
}

int onnx_node_check_opset(const ir_graph *g, const ir_node *n, int64_t opset, hpk_err *err)
{
    (void)g;
    switch (n->op) {
    case IR_OP_HardSwish:
        if (opset < 14)
            return bad(n, opset, "HardSwish exists from opset 14 (use HardSigmoid and Mul before)", err);
        break;
    case IR_OP_Clip:
        if (opset < 11 && (has_input(n, 1) || has_input(n, 2)))
            return bad(n, opset, "the bounds must be attributes 'min'/'max' before opset 11, not inputs", err);
        if (opset >= 11 && (ir_attr_find(n, "min") || ir_attr_find(n, "max")))
            return bad(n, opset, "the bounds must be inputs from opset 11, not attributes 'min'/'max'", err);
        break;
    case IR_OP_Squeeze:
    case IR_OP_Unsqueeze:
        if (opset < 13 && has_input(n, 1))
            return bad(n, opset, "axes must be an attribute before opset 13, not an input", err);
        if (opset >= 13 && ir_attr_find(n, "axes"))
            return bad(n, opset, "axes must be an input from opset 13, not an attribute", err);
        break;
    case IR_OP_Dropout:
        if (opset < 12 && (has_input(n, 1) || has_input(n, 2)))
            return bad(n, opset, "ratio must be an attribute before opset 12, not an input", err);
        if (opset >= 12 && ir_attr_find(n, "ratio"))
            return bad(n, opset, "ratio must be an input from opset 12, not an attribute", err);
        break;
    case IR_OP_ReduceMean:
        if (opset < 18 && has_input(n, 1))
            return bad(n, opset, "axes must be an attribute before opset 18, not an input", err);
        break;
    case IR_OP_Reshape:
        if (opset < 14 && ir_attr_find(n, "allowzero"))
            return bad(n, opset, "attribute 'allowzero' exists from opset 14", err);
        break;
    case IR_OP_BatchNormalization:
        if (opset < 14 && ir_attr_find(n, "training_mode"))
            return bad(n, opset, "attribute 'training_mode' exists from opset 14", err);
        break;
    default:
        break;
    }
    return HPK_OK;
}
