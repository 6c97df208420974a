/* ref_lpnorm.c — reference L2 normalization along an axis (LpNormalization, p = 2) and its gradient. */
#include <math.h>

#include "ref.h"

/* x viewed as [outer, len, inner] around the axis */
static void geometry(const ref_kctx *k, const hpk_tensor *x, size_t *outer, size_t *len, size_t *inner)
{
    int64_t axis = ir_attr_int(k->n, "axis", -1);
    if (axis < 0)
        axis += x->rank;
    *outer = *len = *inner = 1;
    for (int i = 0; i < x->rank; i++)
        *(i < axis ? outer : i == axis ? len : inner) *= (size_t)x->dims[i];
}

/* ONNX LpNormalization divides by the norm as is (a zero vector gives NaN there); hpk guards it with a tiny
 * floor so a dead feature vector cannot poison training: ‖x‖ is taken as max(‖x‖, 1e-12). */
static double norm_at(const float *x, size_t base, size_t len, size_t inner)
{
    double s = 0;
    for (size_t j = 0; j < len; j++)
        s += (double)x[base + j * inner] * x[base + j * inner];
    return fmax(sqrt(s), 1e-12);
}

int ref_op_LpNormalization(ref_kctx *k)
{
    size_t outer, len, inner;
    geometry(k, k->in[0], &outer, &len, &inner);
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            double nrm = norm_at(x, base, len, inner);
            for (size_t j = 0; j < len; j++)
                y[base + j * inner] = (float)(x[base + j * inner] / nrm);
        }
    return HPK_OK;
}

int ref_op_LpNormalizationGrad(ref_kctx *k)
{
    size_t outer, len, inner;
    geometry(k, k->in[1], &outer, &len, &inner);
    const float *dy = k->in[0]->data, *x = k->in[1]->data;
    float *dx = k->out[0]->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            double nrm = norm_at(x, base, len, inner), dot = 0;
            for (size_t j = 0; j < len; j++)
                dot += (double)dy[base + j * inner] * x[base + j * inner] / nrm;
            for (size_t j = 0; j < len; j++) {
                size_t at = base + j * inner;
                dx[at] = (float)((dy[at] - x[at] / nrm * dot) / nrm);
            }
        }
    return HPK_OK;
}
