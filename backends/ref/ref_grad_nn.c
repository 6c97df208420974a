/* ref_grad_nn.c — reference backward kernels: ConvGrad, BatchNormalizationGrad and the pooling gradients. */
#include <math.h>
#include <string.h>

#include "ref.h"

static ir_shape shape_of(const hpk_tensor *t) { return ir_shape_make(t->rank, t->dims); }

int ref_op_ConvGrad(ref_kctx *k)
{
    const hpk_tensor *dyt = k->in[0], *xt = k->in[1], *wt = k->in[2];
    hpk_tensor *dxt = k->out[0], *dwt = k->out[1], *dbt = k->out[2];
    ir_shape xs = shape_of(xt), ws = shape_of(wt);
    ir_window w;
    int rc = ir_conv_window(k->n, &xs, &ws, &w, k->err);
    if (rc)
        return rc;
    const int64_t N = xt->dims[0], C = xt->dims[1], H = xt->dims[2], W = xt->dims[3];
    const int64_t M = wt->dims[0], Cg = wt->dims[1], KH = wt->dims[2], KW = wt->dims[3];
    const int64_t OH = dyt->dims[2], OW = dyt->dims[3], Mg = M / w.group;
    const float *dy = dyt->data, *x = xt->data, *wgt = wt->data;
    float *dx = dxt ? dxt->data : NULL, *dw = dwt ? dwt->data : NULL, *db = dbt ? dbt->data : NULL;
    if (dx)
        memset(dx, 0, dxt->nbytes);
    if (dw)
        memset(dw, 0, dwt->nbytes);
    if (db) {
        for (int64_t m = 0; m < M; m++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t i = 0; i < OH * OW; i++)
                    s += dy[(n * M + m) * OH * OW + i];
            db[m] = (float)s;
        }
    }
    (void)C;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++) {
            int64_t grp = m / Mg;
            const float *dyp = dy + (n * M + m) * OH * OW;
            for (int64_t c = 0; c < Cg; c++) {
                int64_t ci = grp * Cg + c;
                const float *xp = x + (n * C + ci) * H * W;
                float *dxp = dx ? dx + (n * C + ci) * H * W : NULL;
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++) {
                        int64_t widx = ((m * Cg + c) * KH + kh) * KW + kw;
                        float wv = wgt[widx];
                        double acc = 0;
                        for (int64_t oh = 0; oh < OH; oh++) {
                            int64_t ih = oh * w.sh - w.pt + kh * w.dh;
                            if (ih < 0 || ih >= H)
                                continue;
                            for (int64_t ow = 0; ow < OW; ow++) {
                                int64_t iw = ow * w.sw - w.pl + kw * w.dw;
                                if (iw < 0 || iw >= W)
                                    continue;
                                float g = dyp[oh * OW + ow];
                                acc += (double)g * xp[ih * W + iw];
                                if (dxp)
                                    dxp[ih * W + iw] += g * wv;
                            }
                        }
                        if (dw)
                            dw[widx] += (float)acc;
                    }
            }
        }
    return HPK_OK;
}

int ref_op_BatchNormalizationGrad(ref_kctx *k)
{
    const hpk_tensor *dyt = k->in[0], *xt = k->in[1];
    const float *dy = dyt->data, *x = xt->data, *scale = k->in[2]->data, *mean = k->in[3]->data,
                *var = k->in[4]->data;
    float *dx = k->out[0] ? k->out[0]->data : NULL, *dscale = k->out[1] ? k->out[1]->data : NULL,
          *dbias = k->out[2] ? k->out[2]->data : NULL;
    float eps = ir_attr_float(k->n, "epsilon", 1e-5f);
    int64_t N = xt->dims[0], C = xt->dims[1], S = 1;
    for (int i = 2; i < xt->rank; i++)
        S *= xt->dims[i];
    double M = (double)(N * S);
    for (int64_t c = 0; c < C; c++) {
        double inv = 1.0 / sqrt((double)var[c] + eps), sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++) {
                size_t at = (size_t)((n * C + c) * S + i);
                sdy += dy[at];
                sdyx += dy[at] * ((x[at] - mean[c]) * inv);
            }
        if (dbias)
            dbias[c] = (float)sdy;
        if (dscale)
            dscale[c] = (float)sdyx;
        if (!dx)
            continue;
        double k1 = scale[c] * inv / M;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++) {
                size_t at = (size_t)((n * C + c) * S + i);
                double xhat = (x[at] - mean[c]) * inv;
                dx[at] = (float)(k1 * (M * dy[at] - sdy - xhat * sdyx));
            }
    }
    return HPK_OK;
}

/* MaxPoolGrad / AveragePoolGrad share the window walk */
static int pool_grad(ref_kctx *k, bool is_max)
{
    const hpk_tensor *dyt = k->in[0], *xt = k->in[1];
    hpk_tensor *dxt = k->out[0];
    ir_shape xs = shape_of(xt);
    ir_window w;
    int rc = ir_pool_window(k->g, k->n, &xs, &w, k->err);
    if (rc)
        return rc;
    const int64_t NC = xt->dims[0] * xt->dims[1], H = xt->dims[2], W = xt->dims[3];
    const int64_t OH = dyt->dims[2], OW = dyt->dims[3];
    const float *dy = dyt->data, *x = xt->data;
    float *dx = dxt->data;
    memset(dx, 0, dxt->nbytes);
    for (int64_t p = 0; p < NC; p++) {
        const float *xp = x + p * H * W;
        float *dxp = dx + p * H * W;
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                float g = dy[(p * OH + oh) * OW + ow];
                int64_t h0 = oh * w.sh - w.pt, w0 = ow * w.sw - w.pl;
                if (is_max) {
                    int64_t best = -1;
                    float bv = -INFINITY;
                    for (int64_t kh = 0; kh < w.kh; kh++)
                        for (int64_t kw = 0; kw < w.kw; kw++) {
                            int64_t ih = h0 + kh * w.dh, iw = w0 + kw * w.dw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            if (best < 0 || xp[ih * W + iw] > bv) {
                                bv = xp[ih * W + iw];
                                best = ih * W + iw;
                            }
                        }
                    if (best >= 0)
                        dxp[best] += g;
                    continue;
                }
                /* average: the divisor the forward used */
                int64_t hs = h0, ws = w0, he = h0 + w.kh, we = w0 + w.kw;
                int64_t hpe = he < H + w.pb ? he : H + w.pb, wpe = we < W + w.pr ? we : W + w.pr;
                int64_t cnt;
                int64_t hc0 = hs < 0 ? 0 : hs, wc0 = ws < 0 ? 0 : ws, hc1 = he > H ? H : he, wc1 = we > W ? W : we;
                if (w.count_include_pad)
                    cnt = (hpe - hs) * (wpe - ws);
                else
                    cnt = (hc1 - hc0) * (wc1 - wc0);
                if (cnt <= 0)
                    continue;
                float share = g / (float)cnt;
                for (int64_t ih = hc0; ih < hc1; ih++)
                    for (int64_t iw = wc0; iw < wc1; iw++)
                        dxp[ih * W + iw] += share;
            }
    }
    return HPK_OK;
}

int ref_op_MaxPoolGrad(ref_kctx *k) { return pool_grad(k, true); }
int ref_op_AveragePoolGrad(ref_kctx *k) { return pool_grad(k, false); }

static int global_pool_grad(ref_kctx *k, bool is_max)
{
    const hpk_tensor *xt = k->in[1];
    const float *dy = k->in[0]->data, *x = xt->data;
    float *dx = k->out[0]->data;
    int64_t NC = xt->dims[0] * xt->dims[1], S = 1;
    for (int i = 2; i < xt->rank; i++)
        S *= xt->dims[i];
    for (int64_t p = 0; p < NC; p++) {
        const float *xp = x + p * S;
        float *dxp = dx + p * S;
        if (!is_max) {
            float share = dy[p] / (float)S;
            for (int64_t i = 0; i < S; i++)
                dxp[i] = share;
            continue;
        }
        int64_t best = 0;
        for (int64_t i = 1; i < S; i++)
            if (xp[i] > xp[best])
                best = i;
        for (int64_t i = 0; i < S; i++)
            dxp[i] = 0;
        dxp[best] = dy[p];
    }
    return HPK_OK;
}

int ref_op_GlobalAveragePoolGrad(ref_kctx *k) { return global_pool_grad(k, false); }
int ref_op_GlobalMaxPoolGrad(ref_kctx *k) { return global_pool_grad(k, true); }
