/* ref_reduce.c — ReduceMean and ReduceSumSquare: axes from the attribute (opset < 18) or the constant second input, keepdims.
 *
 * No axes reduces every dim, unless noop_with_empty_axes = 1 (then the output is the input). keepdims only
 * changes the output's shape, not its memory order. Sums are accumulated in double, in input order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

static int reduce(ref_kctx *k, bool sum_square)
{
    const hpk_tensor *x = k->in[0];
    hpk_tensor *y = k->out[0];
    const float *xp = x->data;
    float *yp = y->data;
    const int r = x->rank;
    int64_t axes[IR_MAX_RANK];
    bool red[IR_MAX_RANK] = {false};
    int na = ir_node_axes(k->g, k->n, axes, k->err);
    if (na < 0)
        return k->err && k->err->code ? k->err->code : HPK_EINPUT;
    for (int i = 0; i < na; i++)
        red[axes[i] < 0 ? axes[i] + r : axes[i]] = true;
    if (na == 0 && ir_attr_int(k->n, "noop_with_empty_axes", 0) == 0)
        for (int i = 0; i < r; i++)
            red[i] = true;
    size_t nx = ref_numel(x), ny = ref_numel(y);
    if (nx == ny) { /* only unit dims (or none) reduced: the mean of one element is itself */
        for (size_t i = 0; i < ny; i++)
            yp[i] = sum_square ? xp[i] * xp[i] : xp[i];
        return HPK_OK;
    }
    /* output strides per input dim; 0 for a reduced dim */
    int64_t os[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, stride = 1, count = 1;
    for (int i = r - 1; i >= 0; i--) {
        os[i] = red[i] ? 0 : stride;
        if (red[i])
            count *= x->dims[i];
        else
            stride *= x->dims[i];
    }
    if ((size_t)stride != ny)
        return ref_fail(k, HPK_EINTERNAL, "the output size disagrees with the reduced axes");
    double *acc = calloc(ny ? ny : 1, sizeof(double));
    if (!acc)
        return ref_fail(k, HPK_ENOMEM, "out of memory");
    if (nx > 0) {
        const int64_t len = x->dims[r - 1], sl = os[r - 1]; /* r >= 1 here: a rank-0 input has nx == ny */
        size_t rows = nx / (size_t)len;
        int64_t o = 0;
        for (size_t t = 0; t < rows; t++) {
            const float *xr = xp + t * (size_t)len;
            for (int64_t j = 0; j < len; j++)
                acc[o + j * sl] += sum_square ? (double)xr[j] * xr[j] : xr[j];
            for (int i = r - 2; i >= 0; i--) {
                o += os[i];
                if (++idx[i] < x->dims[i])
                    break;
                o -= os[i] * x->dims[i];
                idx[i] = 0;
            }
        }
    }
    for (size_t i = 0; i < ny; i++)
        yp[i] = sum_square ? (float)acc[i] : count ? (float)(acc[i] / (double)count) : NAN;
    free(acc);
    return HPK_OK;
}

int ref_op_ReduceMean(ref_kctx *k) { return reduce(k, false); }
int ref_op_ReduceSumSquare(ref_kctx *k) { return reduce(k, true); }
