/* ref_pool.c — pooling kernels: MaxPool (dilations, ceil_mode), AveragePool (count_include_pad, ceil_mode), global avg/max.
 *
 * Window geometry (pads with auto_pad resolved, ceil_mode) comes from ir_pool_window, the same function the
 * shape rule uses. Conventions where ONNX is silent, matching PyTorch (and ONNX Runtime):
 *  - MaxPool: padding never wins (it acts as -inf); a NaN in the window gives NaN; a window with no input
 *    element at all (only possible when a pad is at least the kernel extent) gives -inf.
 *  - AveragePool with count_include_pad=1 divides by the number of window positions inside the *padded* input:
 *    positions a ceil_mode window hangs past the bottom/right pad are not counted (PyTorch's avg_pool2d).
 *    With count_include_pad=0 it divides by the number of input elements in the window; a window with none
 *    gives 0.
 * Sums are accumulated in double.
 */
#include <math.h>

#include "ref.h"

typedef struct pool_ctx {
    const float *x;
    float *y;
    int64_t H, W, OH, OW;
    ir_window win;
} pool_ctx;

static void maxpool_planes(void *vc, int64_t t0, int64_t t1)
{
    const pool_ctx *c = vc;
    const ir_window *w = &c->win;
    for (int64_t t = t0; t < t1; t++) {
        const float *xp = c->x + t * c->H * c->W;
        float *yp = c->y + t * c->OH * c->OW;
        for (int64_t oy = 0; oy < c->OH; oy++)
            for (int64_t ox = 0; ox < c->OW; ox++) {
                float m = -INFINITY;
                for (int64_t ky = 0; ky < w->kh; ky++) {
                    int64_t iy = oy * w->sh - w->pt + ky * w->dh;
                    if (iy < 0 || iy >= c->H)
                        continue;
                    for (int64_t kx = 0; kx < w->kw; kx++) {
                        int64_t ix = ox * w->sw - w->pl + kx * w->dw;
                        if (ix < 0 || ix >= c->W)
                            continue;
                        float v = xp[iy * c->W + ix];
                        if (v > m || isnan(v))
                            m = v;
                    }
                }
                yp[oy * c->OW + ox] = m;
            }
    }
}

static void avgpool_planes(void *vc, int64_t t0, int64_t t1)
{
    const pool_ctx *c = vc;
    const ir_window *w = &c->win;
    for (int64_t t = t0; t < t1; t++) {
        const float *xp = c->x + t * c->H * c->W;
        float *yp = c->y + t * c->OH * c->OW;
        for (int64_t oy = 0; oy < c->OH; oy++) {
            int64_t h0 = oy * w->sh - w->pt, h1 = h0 + w->kh;
            if (h1 > c->H + w->pb)
                h1 = c->H + w->pb;
            int64_t ph = h1 - h0; /* window rows inside the padded input */
            h0 = h0 < 0 ? 0 : h0;
            h1 = h1 > c->H ? c->H : h1;
            for (int64_t ox = 0; ox < c->OW; ox++) {
                int64_t w0 = ox * w->sw - w->pl, w1 = w0 + w->kw;
                if (w1 > c->W + w->pr)
                    w1 = c->W + w->pr;
                int64_t pw = w1 - w0;
                w0 = w0 < 0 ? 0 : w0;
                w1 = w1 > c->W ? c->W : w1;
                double s = 0.0;
                int64_t cnt = 0;
                for (int64_t iy = h0; iy < h1; iy++)
                    for (int64_t ix = w0; ix < w1; ix++) {
                        s += xp[iy * c->W + ix];
                        cnt++;
                    }
                int64_t div = w->count_include_pad ? ph * pw : cnt;
                yp[oy * c->OW + ox] = cnt > 0 && div > 0 ? (float)(s / (double)div) : 0.0f;
            }
        }
    }
}

static int pool(ref_kctx *k, ref_task_fn fn)
{
    const hpk_tensor *x = k->in[0];
    hpk_tensor *y = k->out[0];
    pool_ctx c;
    ir_shape xs = ref_shape(x);
    int rc = ir_pool_window(k->g, k->n, &xs, &c.win, k->err);
    if (rc)
        return rc;
    if (y->rank != 4 || y->dims[2] != c.win.oh || y->dims[3] != c.win.ow)
        return ref_fail(k, HPK_EINTERNAL, "the output shape disagrees with the window");
    c.x = x->data;
    c.y = y->data;
    c.H = x->dims[2];
    c.W = x->dims[3];
    c.OH = c.win.oh;
    c.OW = c.win.ow;
    ref_parallel(k->threads, x->dims[0] * x->dims[1], fn, &c);
    return HPK_OK;
}

int ref_op_MaxPool(ref_kctx *k)
{
    return pool(k, maxpool_planes);
}

int ref_op_AveragePool(ref_kctx *k)
{
    /* opset 19 added dilations to AveragePool; the shape rule computes the output without them */
    const int64_t *d;
    int nd = ir_attr_ints(k->n, "dilations", &d);
    for (int i = 0; i < nd; i++)
        if (d[i] != 1)
            return ref_fail(k, HPK_EUNSUPPORTED, "dilations other than 1 are not supported");
    return pool(k, avgpool_planes);
}

/* x [N, C, spatial...] -> y [N, C, 1...] */
int ref_op_GlobalAveragePool(ref_kctx *k)
{
    const hpk_tensor *x = k->in[0];
    const float *xp = x->data;
    float *yp = k->out[0]->data;
    size_t planes = ref_dims_prod(x, 0, 2), S = ref_dims_prod(x, 2, x->rank);
    for (size_t t = 0; t < planes; t++) {
        double s = 0.0;
        for (size_t i = 0; i < S; i++)
            s += xp[t * S + i];
        yp[t] = S ? (float)(s / (double)S) : NAN;
    }
    return HPK_OK;
}

int ref_op_GlobalMaxPool(ref_kctx *k)
{
    const hpk_tensor *x = k->in[0];
    const float *xp = x->data;
    float *yp = k->out[0]->data;
    size_t planes = ref_dims_prod(x, 0, 2), S = ref_dims_prod(x, 2, x->rank);
    for (size_t t = 0; t < planes; t++) {
        float m = -INFINITY;
        for (size_t i = 0; i < S; i++) {
            float v = xp[t * S + i];
            if (v > m || isnan(v))
                m = v;
        }
        yp[t] = m;
    }
    return HPK_OK;
}
