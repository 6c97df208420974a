/* ref_softmax.c — Softmax and LogSoftmax, with both ONNX semantics (per axis from opset 13, coerce-to-2-D before).
 *
 *  - opset >= 13 (default axis -1): normalizes along the single dim `axis`.
 *  - opset < 13 (default axis 1): the input is viewed as 2-D [prod(dims[:axis]), prod(dims[axis:])] and each
 *    row is normalized as a whole.
 * Both are computed as [outer, len, inner] with the max subtracted first and the sum of exponentials in double.
 */
#include <math.h>

#include "ref.h"

static int softmax(ref_kctx *k, bool log_softmax)
{
    const hpk_tensor *x = k->in[0];
    const float *xp = x->data;
    float *yp = k->out[0]->data;
    const int r = x->rank;
    const bool per_axis = k->g->opset >= 13;
    int64_t axis = ir_attr_int(k->n, "axis", per_axis ? -1 : 1);
    if (axis < 0)
        axis += r;
    size_t outer = ref_dims_prod(x, 0, (int)axis), len, inner;
    if (per_axis) {
        len = (size_t)x->dims[axis];
        inner = ref_dims_prod(x, (int)axis + 1, r);
    } else {
        len = ref_dims_prod(x, (int)axis, r);
        inner = 1;
    }
    if (len == 0)
        return HPK_OK;
    for (size_t o = 0; o < outer; o++)
        for (size_t in = 0; in < inner; in++) {
            const float *xs = xp + o * len * inner + in;
            float *ys = yp + o * len * inner + in;
            float mx = -INFINITY;
            for (size_t i = 0; i < len; i++)
                if (xs[i * inner] > mx || isnan(xs[i * inner]))
                    mx = xs[i * inner];
            double s = 0.0;
            for (size_t i = 0; i < len; i++)
                s += exp((double)xs[i * inner] - (double)mx);
            if (log_softmax) {
                double ls = log(s);
                for (size_t i = 0; i < len; i++)
                    ys[i * inner] = (float)((double)xs[i * inner] - (double)mx - ls);
            } else {
                for (size_t i = 0; i < len; i++)
                    ys[i * inner] = (float)(exp((double)xs[i * inner] - (double)mx) / s);
            }
        }
    return HPK_OK;
}

int ref_op_Softmax(ref_kctx *k) { return softmax(k, false); }
int ref_op_LogSoftmax(ref_kctx *k) { return softmax(k, true); }
