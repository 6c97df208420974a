/* shape_grad.c — shape rules for the loss and the internal gradient ops of training graphs. */
#include <string.h>

#include "ir_rules.h"

int ir_shape_sce_loss(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_F32);
    if (rc)
        return rc;
    if (c->in[0].rank != 2)
        return ir_infer_fail(c, "scores must be [N, classes], got rank %d", c->in[0].rank);
    if (c->in[1].rank != 1 || (c->in_dt[1] != IR_DT_I64 && c->in_dt[1] != IR_DT_I32))
        return ir_infer_fail(c, "labels must be a 1-D int64 tensor");
    if (c->in[0].d[0] >= 0 && c->in[1].d[0] >= 0 && c->in[0].d[0] != c->in[1].d[0])
        return ir_infer_fail(c, "%lld scores but %lld labels", (long long)c->in[0].d[0], (long long)c->in[1].d[0]);
    if (c->n->n_in > 2 && c->n->in[2] >= 0)
        return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (SoftmaxCrossEntropyLoss): class weights are not "
                           "supported", c->n->name);
    if (ir_attr_find(c->n, "ignore_index"))
        return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (SoftmaxCrossEntropyLoss): ignore_index is not "
                           "supported", c->n->name);
    const char *red = ir_attr_str(c->n, "reduction", "mean");
    if (strcmp(red, "mean") && strcmp(red, "sum"))
        return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (SoftmaxCrossEntropyLoss): reduction '%.16s' is not "
                           "supported (mean, sum)", c->n->name, red);
    c->out[0].rank = 0;
    c->out_dt[0] = IR_DT_F32;
    if (c->n->n_out > 1) {
        c->out[1] = c->in[0];
        c->out_dt[1] = IR_DT_F32;
    }
    return HPK_OK;
}

/* ConvGrad(dY, X, W) -> (dX, dW, dB): the forward Conv's attributes */
int ir_shape_conv_grad(ir_infer *c)
{
    int rc;
    for (int i = 0; i < 3; i++)
        if ((rc = ir_infer_need(c, i, IR_DT_F32)))
            return rc;
    ir_window w;
    if ((rc = ir_conv_window(c->n, &c->in[1], &c->in[2], &w, c->err)))
        return rc;
    if (c->in[0].rank != 4 || (c->concrete && (c->in[0].d[2] != w.oh || c->in[0].d[3] != w.ow)))
        return ir_infer_fail(c, "dY does not have the forward output's shape");
    c->out[0] = c->in[1];
    c->out[1] = c->in[2];
    c->out[2].rank = 1;
    c->out[2].d[0] = c->in[2].d[0];
    c->out_dt[0] = c->out_dt[1] = c->out_dt[2] = IR_DT_F32;
    return HPK_OK;
}

/* BatchNormalizationGrad(dY, X, scale, saved_mean, saved_var) -> (dX, dScale, dBias): attribute epsilon */
int ir_shape_bn_grad(ir_infer *c)
{
    int rc;
    for (int i = 0; i < 5; i++)
        if ((rc = ir_infer_need(c, i, IR_DT_F32)))
            return rc;
    if (!ir_shape_eq(&c->in[0], &c->in[1]) && c->concrete)
        return ir_infer_fail(c, "dY and X differ in shape");
    c->out[0] = c->in[1];
    c->out[1] = c->in[2];
    c->out[2] = c->in[2];
    c->out_dt[0] = c->out_dt[1] = c->out_dt[2] = IR_DT_F32;
    return HPK_OK;
}

/* Op(dY, like, ...) -> dX shaped like the second input */
int ir_shape_like_second(ir_infer *c)
{
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)))
        return rc;
    if (c->in[1].rank < 0)
        return ir_infer_fail(c, "input 1 has an unknown shape");
    if (c->concrete) {
        size_t a, b;
        ir_op op = c->n->op;
        if (op == IR_OP_SumToShape) {
            const ir_shape *y = &c->in[0], *l = &c->in[1];
            bool ok = l->rank <= y->rank;
            for (int i = 0; ok && i < l->rank; i++) {
                int64_t dl = l->d[l->rank - 1 - i], dy = y->d[y->rank - 1 - i];
                ok = dl == dy || dl == 1;
            }
            if (!ok)
                return ir_infer_fail(c, "cannot sum dY down to the target shape");
        } else if (op == IR_OP_ReshapeLike) {
            if (ir_shape_numel(&c->in[0], &a) || ir_shape_numel(&c->in[1], &b) || a != b)
                return ir_infer_fail(c, "element counts differ");
        } else if (op != IR_OP_GlobalAveragePoolGrad && op != IR_OP_GlobalMaxPoolGrad &&
                   op != IR_OP_MaxPoolGrad && op != IR_OP_AveragePoolGrad && op != IR_OP_ReduceMeanGrad && op != IR_OP_ReduceSumSquareGrad &&
                   op != IR_OP_SoftmaxCrossEntropyLossGrad && !ir_shape_eq(&c->in[0], &c->in[1])) {
            return ir_infer_fail(c, "dY and the saved tensor differ in shape");
        }
    }
    c->out[0] = c->in[1];
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

/* ConcatGrad(dY, X0, X1, ...) -> (dX0, dX1, ...): attribute axis */
int ir_shape_concat_grad(ir_infer *c)
{
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)))
        return rc;
    if (c->n->n_out != c->n->n_in - 1)
        return ir_infer_fail(c, "needs one output per concatenated input");
    for (int i = 1; i < c->n->n_in; i++) {
        c->out[i - 1] = c->in[i];
        c->out_dt[i - 1] = c->in_dt[i];
    }
    return HPK_OK;
}
