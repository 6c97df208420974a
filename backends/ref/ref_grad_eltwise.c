/* ref_grad_eltwise.c — reference backward kernels of the activations and Dropout (kinks as PyTorch's). */
#include "ref.h"

/* dX[i] = dY[i] · f'(saved[i]) */
#define ELTWISE_GRAD(name, expr)                                                                             \
    int ref_op_##name(ref_kctx *k)                                                                           \
    {                                                                                                        \
        const float *dy = k->in[0]->data, *s = k->in[1]->data;                                               \
        float *dx = k->out[0]->data;                                                                         \
        size_t n = ref_numel(k->out[0]);                                                                     \
        float alpha = ir_attr_float(k->n, "alpha", 0.2f), beta = ir_attr_float(k->n, "beta", 0.5f);          \
        float lo = ir_attr_float(k->n, "min", 0.0f), hi = ir_attr_float(k->n, "max", 0.0f);                  \
        (void)alpha;                                                                                         \
        (void)beta;                                                                                          \
        (void)lo;                                                                                            \
        (void)hi;                                                                                            \
        for (size_t i = 0; i < n; i++) {                                                                     \
            float v = s[i], g = dy[i];                                                                       \
            dx[i] = (expr);                                                                                  \
        }                                                                                                    \
        return HPK_OK;                                                                                       \
    }

ELTWISE_GRAD(ReluGrad, v > 0.0f ? g : 0.0f)
ELTWISE_GRAD(SigmoidGrad, g * v * (1.0f - v))
ELTWISE_GRAD(ClipGrad, (v > lo && v < hi) ? g : 0.0f)
ELTWISE_GRAD(HardSigmoidGrad, (alpha * v + beta > 0.0f && alpha * v + beta < 1.0f) ? g * alpha : 0.0f)
ELTWISE_GRAD(HardSwishGrad, v < -3.0f ? 0.0f : (v <= 3.0f ? g * (v / 3.0f + 0.5f) : g))

int ref_op_DropoutGrad(ref_kctx *k)
{
    const float *dy = k->in[0]->data;
    const unsigned char *mask = k->in[1]->data;
    float *dx = k->out[0]->data;
    float ratio = ir_attr_float(k->n, "ratio", 0.5f), scale = 1.0f / (1.0f - ratio);
    size_t n = ref_numel(k->out[0]);
    for (size_t i = 0; i < n; i++)
        dx[i] = mask[i] ? dy[i] * scale : 0.0f;
    return HPK_OK;
}
