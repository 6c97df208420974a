/* shape_elementwise.c — shape rules for unary activations, Clip, broadcasting binaries, Dropout, Softmax. */
#include <math.h>
#include <string.h>

#include "ir_rules.h"

int ir_shape_unary(ir_infer *c)
{
    /* Identity passes any dtype; the activations compute in float32 */
    int rc = ir_infer_need(c, 0, c->n->op == IR_OP_Identity ? IR_DT_UNDEF : IR_DT_F32);
    if (rc)
        return rc;
    if (c->n->op == IR_OP_HardSigmoid) {
        float a = ir_attr_float(c->n, "alpha", 0.2f), b = ir_attr_float(c->n, "beta", 0.5f);
        if (!isfinite(a) || !isfinite(b))
            return ir_infer_fail(c, "alpha and beta must be finite");
    }
    c->out[0] = c->in[0];
    c->out_dt[0] = c->in_dt[0];
    return HPK_OK;
}

int ir_shape_clip(ir_infer *c)
{
    float lo, hi;
    int rc = ir_infer_need(c, 0, IR_DT_F32);
    if (rc || (rc = ir_clip_bounds(c->g, c->n, &lo, &hi, c->err)))
        return rc;
    if (isnan(lo) || isnan(hi))
        return ir_infer_fail(c, "a bound is NaN");
    c->out[0] = c->in[0];
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

/* numpy broadcasting of two shapes, symbol-aware */
static int broadcast(ir_infer *c, const ir_shape *a, const ir_shape *b, ir_shape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da == db || db == 1)
            out->d[i] = da;
        else if (da == 1)
            out->d[i] = db;
        else if (da >= 0 && db >= 0)
            return ir_infer_fail(c, "shapes do not broadcast (dim %d: %lld vs %lld)", i, (long long)da,
                                 (long long)db);
        else if (da >= 0)
            out->d[i] = da;
        else if (db >= 0)
            out->d[i] = db;
        else
            out->d[i] = da; /* two different symbols: assume they agree, checked in concrete mode */
    }
    return HPK_OK;
}

int ir_shape_broadcast(ir_infer *c)
{
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)) || (rc = ir_infer_need(c, 1, IR_DT_UNDEF)))
        return rc;
    if (c->in_dt[1] != IR_DT_F32 && !(c->n->op == IR_OP_Pow && (c->in_dt[1] == IR_DT_I64 || c->in_dt[1] == IR_DT_I32)))
        return ir_infer_fail(c, "input 1 must be float32, got %s", ir_dtype_name(c->in_dt[1]));
    if ((rc = broadcast(c, &c->in[0], &c->in[1], &c->out[0])))
        return rc;
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

int ir_shape_dropout(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_F32);
    if (rc)
        return rc;
    float ratio = ir_attr_float(c->n, "ratio", 0.5f);
    const ir_tensor *t = ir_infer_const(c, 1);
    if (c->n->n_in > 1 && c->n->in[1] >= 0) {
        if (!t || t->dtype != IR_DT_F32 || t->nbytes != sizeof(float))
            return ir_infer_fail(c, "ratio must be a constant float32 scalar");
        ratio = *(const float *)t->data;
    }
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return ir_infer_fail(c, "ratio %g is out of range [0, 1)", (double)ratio);
    if (c->n->n_in > 2 && c->n->in[2] >= 0) {
        t = ir_infer_const(c, 2);
        if (!t || t->dtype != IR_DT_BOOL || t->nbytes != 1)
            return ir_infer_fail(c, "training_mode must be a constant bool scalar");
    }
    c->out[0] = c->in[0];
    c->out_dt[0] = IR_DT_F32;
    if (c->n->n_out > 1) {
        c->out[1] = c->in[0];
        c->out_dt[1] = IR_DT_BOOL;
    }
    return HPK_OK;
}

int ir_shape_softmax(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_F32);
    if (rc)
        return rc;
    int r = c->in[0].rank;
    int64_t axis = ir_attr_int(c->n, "axis", c->g->opset >= 13 ? -1 : 1);
    if (r < 1 || axis < -r || axis >= r)
        return ir_infer_fail(c, "axis %lld is out of range for rank %d", (long long)axis, r);
    c->out[0] = c->in[0];
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

int ir_shape_lpnorm(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_F32);
    if (rc)
        return rc;
    int r = c->in[0].rank;
    int64_t axis = ir_attr_int(c->n, "axis", -1), p = ir_attr_int(c->n, "p", 2);
    if (r < 1 || axis < -r || axis >= r)
        return ir_infer_fail(c, "axis %lld is out of range for rank %d", (long long)axis, r);
    if (p != 2)
        return p == 1 ? hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (LpNormalization): p=1 is not supported",
                                    c->n->name)
                      : ir_infer_fail(c, "p must be 1 or 2, got %lld", (long long)p);
    c->out[0] = c->in[0];
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}
