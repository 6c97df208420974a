/* ref_grad_tensor.c — reference backward kernels: SumToShape, ReshapeLike, ConcatGrad, reduction gradients and the
 * Softmax/LogSoftmax gradients. */
#include <math.h>
#include <string.h>

#include "ref.h"

/* Strides of `like` aligned to dY's rank, 0 on broadcast dims. */
static void broadcast_strides(const hpk_tensor *y, const hpk_tensor *like, int64_t *st)
{
    int64_t s = 1;
    for (int i = y->rank - 1; i >= 0; i--) {
        int j = i - (y->rank - like->rank);
        int64_t d = j >= 0 ? like->dims[j] : 1;
        st[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

int ref_op_SumToShape(ref_kctx *k)
{
    const hpk_tensor *y = k->in[0];
    hpk_tensor *x = k->out[0];
    int64_t st[HPK_MAX_RANK], idx[HPK_MAX_RANK] = {0};
    broadcast_strides(y, k->in[1], st);
    memset(x->data, 0, x->nbytes);
    const float *dy = y->data;
    float *dx = x->data;
    size_t n = ref_numel(y);
    for (size_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < y->rank; d++)
            off += idx[d] * st[d];
        dx[off] += dy[i];
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return HPK_OK;
}

int ref_op_ReshapeLike(ref_kctx *k)
{
    memcpy(k->out[0]->data, k->in[0]->data, k->out[0]->nbytes);
    return HPK_OK;
}

int ref_op_ConcatGrad(ref_kctx *k)
{
    const hpk_tensor *y = k->in[0];
    int r = y->rank;
    int64_t axis = ir_attr_int(k->n, "axis", 0);
    if (axis < 0)
        axis += r;
    size_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= (size_t)y->dims[i];
    for (int i = (int)axis + 1; i < r; i++)
        inner *= (size_t)y->dims[i];
    size_t ylen = (size_t)y->dims[axis] * inner, off = 0;
    for (int j = 0; j < k->n->n_out; j++) {
        size_t len = (size_t)k->in[j + 1]->dims[axis] * inner;
        if (k->out[j])
            for (size_t o = 0; o < outer; o++)
                memcpy((float *)k->out[j]->data + o * len, (const float *)y->data + o * ylen + off,
                       len * sizeof(float));
        off += len;
    }
    return HPK_OK;
}

/* dX[i] = f(dY broadcast back over the reduced axes, x[i], count) */
static int reduce_grad(ref_kctx *k, bool sum_square)
{
    const hpk_tensor *x = k->in[1];
    int64_t axes[IR_MAX_RANK];
    int na = ir_node_axes(k->g, k->n, axes, k->err);
    if (na < 0)
        return k->err->code;
    bool red[IR_MAX_RANK] = {false};
    for (int i = 0; i < na; i++)
        red[axes[i] < 0 ? axes[i] + x->rank : axes[i]] = true;
    if (na == 0)
        for (int i = 0; i < x->rank; i++)
            red[i] = true;
    /* dY viewed with x's rank: reduced dims have size 1 (stride 0) */
    int64_t st[HPK_MAX_RANK], s = 1, idx[HPK_MAX_RANK] = {0};
    size_t count = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        st[i] = red[i] ? 0 : s;
        if (!red[i])
            s *= x->dims[i];
        else
            count *= (size_t)x->dims[i];
    }
    const float *dy = k->in[0]->data, *xv = x->data;
    float *dx = k->out[0]->data;
    size_t n = ref_numel(x);
    for (size_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < x->rank; d++)
            off += idx[d] * st[d];
        dx[i] = sum_square ? 2.0f * xv[i] * dy[off] : dy[off] / (float)count;
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < x->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return HPK_OK;
}

int ref_op_ReduceMeanGrad(ref_kctx *k) { return reduce_grad(k, false); }
int ref_op_ReduceSumSquareGrad(ref_kctx *k) { return reduce_grad(k, true); }

static int softmax_grad(ref_kctx *k, bool is_log)
{
    const hpk_tensor *yt = k->in[1];
    size_t outer, len, inner;
    ir_softmax_geometry(k->g, k->n, yt->rank, yt->dims, &outer, &len, &inner);
    const float *dy = k->in[0]->data, *y = yt->data;
    float *dx = k->out[0]->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            double s = 0;
            for (size_t j = 0; j < len; j++) {
                size_t at = base + j * inner;
                s += is_log ? dy[at] : (double)dy[at] * y[at];
            }
            for (size_t j = 0; j < len; j++) {
                size_t at = base + j * inner;
                dx[at] = is_log ? (float)(dy[at] - exp((double)y[at]) * s) : (float)(y[at] * (dy[at] - s));
            }
        }
    return HPK_OK;
}

int ref_op_SoftmaxGrad(ref_kctx *k) { return softmax_grad(k, false); }
int ref_op_LogSoftmaxGrad(ref_kctx *k) { return softmax_grad(k, true); }
