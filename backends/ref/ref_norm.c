/* ref_norm.c — BatchNormalization: inference with running statistics, and training mode with batch statistics.
 *
 * Inputs X [N, C, spatial...], scale, B, input_mean, input_var (each [C]); attributes epsilon, momentum,
 * training_mode.
 *  - training_mode = 0: Y = scale * (X - input_mean) / sqrt(input_var + epsilon) + B. Optional outputs 1 and 2
 *    (only meaningful in training) receive input_mean and input_var unchanged.
 *  - training_mode = 1 (opset 14 semantics): per channel, over N and the spatial dims (count = N * spatial),
 *      mean = sum(X) / count,  var = sum((X - mean)^2) / count          (biased: used to normalize)
 *      Y = scale * (X - mean) / sqrt(var + epsilon) + B
 *      output 1 running_mean = momentum * input_mean + (1 - momentum) * mean
 *      output 2 running_var  = momentum * input_var  + (1 - momentum) * var * count / (count - 1)
 *    ONNX's momentum convention (the weight of the old value; PyTorch's momentum m corresponds to 1 - m). Like
 *    PyTorch, the running variance is updated with the UNBIASED batch variance (ONNX's spec leaves this open);
 *    with count == 1 the biased one (0) is used. Outputs 3 and 4 (the pre-14 saved_mean / saved_var), if
 *    requested, receive the batch mean and the biased batch variance.
 * Statistics and the per-channel affine coefficients are computed in double.
 */
#include <math.h>
#include <string.h>

#include "ref.h"

int ref_op_BatchNormalization(ref_kctx *k)
{
    const hpk_tensor *x = k->in[0];
    const float *xp = x->data, *scale = k->in[1]->data, *bias = k->in[2]->data;
    const float *rmean = k->in[3]->data, *rvar = k->in[4]->data;
    float *yp = k->out[0]->data;
    const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], S = ref_dims_prod(x, 2, x->rank);
    const double eps = ir_attr_float(k->n, "epsilon", 1e-5f);
    const double mom = ir_attr_float(k->n, "momentum", 0.9f);
    const bool training = ir_attr_int(k->n, "training_mode", 0) == 1;
    hpk_tensor *o_mean = ref_out(k, 1), *o_var = ref_out(k, 2), *o_smean = ref_out(k, 3), *o_svar = ref_out(k, 4);
    const size_t count = N * S;

    for (size_t c = 0; c < C; c++) {
        double mean, var;
        if (training) {
            double s = 0.0, ss = 0.0;
            for (size_t n = 0; n < N; n++)
                for (size_t i = 0; i < S; i++)
                    s += xp[(n * C + c) * S + i];
            mean = count ? s / (double)count : 0.0;
            for (size_t n = 0; n < N; n++)
                for (size_t i = 0; i < S; i++) {
                    double d = xp[(n * C + c) * S + i] - mean;
                    ss += d * d;
                }
            var = count ? ss / (double)count : 0.0;
            double unbiased = count > 1 ? ss / (double)(count - 1) : var;
            if (o_mean)
                ((float *)o_mean->data)[c] = (float)(mom * rmean[c] + (1.0 - mom) * mean);
            if (o_var)
                ((float *)o_var->data)[c] = (float)(mom * rvar[c] + (1.0 - mom) * unbiased);
            if (o_smean)
                ((float *)o_smean->data)[c] = (float)mean;
            if (o_svar)
                ((float *)o_svar->data)[c] = (float)var;
        } else {
            mean = rmean[c];
            var = rvar[c];
            if (o_mean)
                ((float *)o_mean->data)[c] = rmean[c];
            if (o_var)
                ((float *)o_var->data)[c] = rvar[c];
            if (o_smean)
                ((float *)o_smean->data)[c] = rmean[c];
            if (o_svar)
                ((float *)o_svar->data)[c] = rvar[c];
        }
        /* Y = X * a + b with a = scale / sqrt(var + eps), b = B - mean * a */
        const double a = scale[c] / sqrt(var + eps), b = bias[c] - mean * a;
        for (size_t n = 0; n < N; n++) {
            const float *xr = xp + (n * C + c) * S;
            float *yr = yp + (n * C + c) * S;
            for (size_t i = 0; i < S; i++)
                yr[i] = (float)(xr[i] * a + b);
        }
    }
    return HPK_OK;
}
