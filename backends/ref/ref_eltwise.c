/* ref_eltwise.c — elementwise unary kernels: Relu, Clip, HardSigmoid, HardSwish, Sigmoid, Identity.
 *
 * A NaN input gives a NaN output for every op (Relu and Clip compare so that NaN falls through).
 */
#include <math.h>
#include <string.h>

#include "ref.h"

int ref_op_Relu(ref_kctx *k)
{
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    size_t n = ref_numel(k->in[0]);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
    return HPK_OK;
}

/* y = min(max(x, lo), hi) like numpy.clip (so lo > hi gives hi); bounds from attributes (opset < 11) or the
 * constant inputs 1 and 2 (opset >= 11), each defaulting to -inf / +inf. */
int ref_op_Clip(ref_kctx *k)
{
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    size_t n = ref_numel(k->in[0]);
    float lo, hi;
    int rc = ir_clip_bounds(k->g, k->n, &lo, &hi, k->err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
    return HPK_OK;
}

/* y = max(0, min(1, alpha * x + beta)) */
int ref_op_HardSigmoid(ref_kctx *k)
{
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    size_t n = ref_numel(k->in[0]);
    const float alpha = ir_attr_float(k->n, "alpha", 0.2f), beta = ir_attr_float(k->n, "beta", 0.5f);
    for (size_t i = 0; i < n; i++) {
        float v = alpha * x[i] + beta;
        v = v > 1.0f ? 1.0f : v;
        y[i] = v < 0.0f ? 0.0f : v;
    }
    return HPK_OK;
}

/* y = x * max(0, min(1, x / 6 + 0.5)) */
int ref_op_HardSwish(ref_kctx *k)
{
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    size_t n = ref_numel(k->in[0]);
    for (size_t i = 0; i < n; i++) {
        float v = x[i] / 6.0f + 0.5f;
        v = v > 1.0f ? 1.0f : v;
        v = v < 0.0f ? 0.0f : v;
        y[i] = x[i] * v;
    }
    return HPK_OK;
}

/* y = 1 / (1 + exp(-x)), evaluated without overflow: exp of a non-positive argument only */
int ref_op_Sigmoid(ref_kctx *k)
{
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    size_t n = ref_numel(k->in[0]);
    for (size_t i = 0; i < n; i++) {
        if (x[i] >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        } else {
            float e = expf(x[i]);
            y[i] = e / (1.0f + e);
        }
    }
    return HPK_OK;
}

int ref_op_Exp(ref_kctx *k)
{
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    size_t n = ref_numel(k->in[0]);
    for (size_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
    return HPK_OK;
}

/* any dtype: a byte copy */
int ref_op_Identity(ref_kctx *k)
{
    if (k->in[0]->nbytes != k->out[0]->nbytes)
        return ref_fail(k, HPK_EINTERNAL, "input and output sizes differ");
    if (k->out[0]->nbytes)
        memcpy(k->out[0]->data, k->in[0]->data, k->out[0]->nbytes);
    return HPK_OK;
}
