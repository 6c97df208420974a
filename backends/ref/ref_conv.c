/* ref_conv.c — the Conv kernel: 2-D, groups (incl. depthwise), strides, pads, dilations, bias; row-accumulating loops.
 *
 * y[n,m,oy,ox] = b[m] + sum over c (of m's group), ky, kx of w[m,c,ky,kx] * x[n, g*Cg+c, oy*sh-pt+ky*dh, ox*sw-pl+kx*dw]
 * with out-of-range input positions (the padding) contributing nothing. Every output element is accumulated in
 * float in the same order (bias, then c, ky, kx ascending) by exactly one task, whatever the thread count.
 *
 * Two loop nests, both with a contiguous innermost loop the compiler vectorizes:
 *  - general: one task per output plane (n, m); for each output row, axpy the valid span of an input row per
 *    (c, ky, kx). The valid ox span for each kx is computed once, so the inner loop has no bounds tests.
 *    Depthwise (group == C == M) is this nest with one input channel per plane.
 *  - 1x1, stride 1, no padding (the pointwise convs that dominate MobileNets): a matrix product
 *    y[m, p] = b[m] + sum_c w[m,c] x[c,p], one task per (n, tile of output positions) so an input tile stays in
 *    cache across all output channels, four output channels sharing each input load.
 */
#include <stdlib.h>

#include "ref.h"

#define CONV_TILE 256 /* output positions per 1x1 task */

typedef struct conv_ctx {
    const float *x, *w, *b;
    float *y;
    int64_t C, H, W, M, OH, OW, KH, KW, Cg, Mg, G;
    ir_window win;
    const int64_t *lo, *hi; /* per kx: the output columns [lo, hi) whose input column is inside the image */
    int64_t ntile;          /* 1x1: position tiles per image */
} conv_ctx;

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

static void conv_general(void *vc, int64_t t0, int64_t t1)
{
    const conv_ctx *c = vc;
    const ir_window *wn = &c->win;
    const int64_t HW = c->H * c->W, OHW = c->OH * c->OW, KK = c->KH * c->KW;
    for (int64_t t = t0; t < t1; t++) {
        int64_t n = t / c->M, m = t % c->M, g = m / c->Mg;
        const float *wm = c->w + m * c->Cg * KK;
        const float *xg = c->x + (n * c->C + g * c->Cg) * HW;
        float *yp = c->y + t * OHW; /* t == n*M + m */
        float bias = c->b ? c->b[m] : 0.0f;
        for (int64_t oy = 0; oy < c->OH; oy++) {
            float *yr = yp + oy * c->OW;
            for (int64_t ox = 0; ox < c->OW; ox++)
                yr[ox] = bias;
            for (int64_t ci = 0; ci < c->Cg; ci++) {
                const float *xp = xg + ci * HW;
                for (int64_t ky = 0; ky < c->KH; ky++) {
                    int64_t iy = oy * wn->sh - wn->pt + ky * wn->dh;
                    if (iy < 0 || iy >= c->H)
                        continue;
                    const float *xr = xp + iy * c->W;
                    const float *wr = wm + (ci * c->KH + ky) * c->KW;
                    for (int64_t kx = 0; kx < c->KW; kx++) {
                        int64_t lo = c->lo[kx], len = c->hi[kx] - lo;
                        if (len <= 0)
                            continue;
                        const float wv = wr[kx];
                        float *ys = yr + lo;
                        const float *xs = xr + lo * wn->sw + kx * wn->dw - wn->pl;
                        if (wn->sw == 1) {
                            for (int64_t j = 0; j < len; j++)
                                ys[j] += wv * xs[j];
                        } else {
                            const int64_t sw = wn->sw;
                            for (int64_t j = 0; j < len; j++)
                                ys[j] += wv * xs[j * sw];
                        }
                    }
                }
            }
        }
    }
}

/* y0..y3[j] = b + sum_c w_i[c] * x[c*xs + j]: four output channels sharing every input load */
static void pw4(float *restrict y0, float *restrict y1, float *restrict y2, float *restrict y3,
                const float *restrict w0, const float *restrict w1, const float *restrict w2,
                const float *restrict w3, const float *restrict x, int64_t xs, int64_t Cg, int64_t len)
{
    for (int64_t ci = 0; ci < Cg; ci++) {
        const float a0 = w0[ci], a1 = w1[ci], a2 = w2[ci], a3 = w3[ci];
        const float *restrict xc = x + ci * xs;
        for (int64_t j = 0; j < len; j++) {
            const float v = xc[j];
            y0[j] += a0 * v;
            y1[j] += a1 * v;
            y2[j] += a2 * v;
            y3[j] += a3 * v;
        }
    }
}

static void pw1(float *restrict y0, const float *restrict w0, const float *restrict x, int64_t xs, int64_t Cg,
                int64_t len)
{
    for (int64_t ci = 0; ci < Cg; ci++) {
        const float a0 = w0[ci];
        const float *restrict xc = x + ci * xs;
        for (int64_t j = 0; j < len; j++)
            y0[j] += a0 * xc[j];
    }
}

static void conv_1x1(void *vc, int64_t t0, int64_t t1)
{
    const conv_ctx *c = vc;
    const int64_t P = c->H * c->W;
    for (int64_t t = t0; t < t1; t++) {
        int64_t n = t / c->ntile, p0 = (t % c->ntile) * CONV_TILE;
        int64_t len = P - p0 < CONV_TILE ? P - p0 : CONV_TILE;
        for (int64_t g = 0; g < c->G; g++) {
            const float *xg = c->x + (n * c->C + g * c->Cg) * P + p0;
            int64_t m = g * c->Mg, mend = m + c->Mg;
            for (int64_t i = m; i < mend; i++) {
                float *yr = c->y + (n * c->M + i) * P + p0, bias = c->b ? c->b[i] : 0.0f;
                for (int64_t j = 0; j < len; j++)
                    yr[j] = bias;
            }
            for (; m + 4 <= mend; m += 4) {
                float *y0 = c->y + (n * c->M + m) * P + p0;
                const float *w0 = c->w + m * c->Cg;
                pw4(y0, y0 + P, y0 + 2 * P, y0 + 3 * P, w0, w0 + c->Cg, w0 + 2 * c->Cg, w0 + 3 * c->Cg, xg, P,
                    c->Cg, len);
            }
            for (; m < mend; m++)
                pw1(c->y + (n * c->M + m) * P + p0, c->w + m * c->Cg, xg, P, c->Cg, len);
        }
    }
}

int ref_op_Conv(ref_kctx *k)
{
    const hpk_tensor *x = k->in[0], *w = k->in[1], *b = ref_in(k, 2);
    hpk_tensor *y = k->out[0];
    conv_ctx c = {0};
    ir_shape xs = ref_shape(x), ws = ref_shape(w);
    int rc = ir_conv_window(k->n, &xs, &ws, &c.win, k->err);
    if (rc)
        return rc;
    if (y->rank != 4 || y->dims[2] != c.win.oh || y->dims[3] != c.win.ow)
        return ref_fail(k, HPK_EINTERNAL, "the output shape disagrees with the window");
    c.x = x->data;
    c.w = w->data;
    c.b = b ? b->data : NULL;
    c.y = y->data;
    c.C = x->dims[1];
    c.H = x->dims[2];
    c.W = x->dims[3];
    c.M = w->dims[0];
    c.KH = w->dims[2];
    c.KW = w->dims[3];
    c.OH = c.win.oh;
    c.OW = c.win.ow;
    c.G = c.win.group;
    c.Cg = w->dims[1];
    c.Mg = c.M / c.G;
    int64_t N = x->dims[0];
    if (N == 0 || c.M == 0 || c.OH == 0 || c.OW == 0)
        return HPK_OK;
    const ir_window *wn = &c.win;
    if (c.KH == 1 && c.KW == 1 && wn->sh == 1 && wn->sw == 1 && !wn->pt && !wn->pl && !wn->pb && !wn->pr) {
        c.ntile = (c.H * c.W + CONV_TILE - 1) / CONV_TILE;
        ref_parallel(k->threads, N * c.ntile, conv_1x1, &c);
        return HPK_OK;
    }
    int64_t *span = malloc(sizeof(int64_t) * 2 * (size_t)c.KW);
    if (!span)
        return ref_fail(k, HPK_ENOMEM, "out of memory");
    for (int64_t kx = 0; kx < c.KW; kx++) {
        /* 0 <= ox*sw + off < W  <=>  ceil(-off/sw) <= ox <= floor((W-1-off)/sw) */
        int64_t off = kx * wn->dw - wn->pl;
        int64_t lo = ceil_div(-off, wn->sw), hi = floor_div(c.W - 1 - off, wn->sw) + 1;
        lo = lo < 0 ? 0 : lo;
        hi = hi > c.OW ? c.OW : hi;
        span[kx] = lo;
        span[c.KW + kx] = hi < lo ? lo : hi;
    }
    c.lo = span;
    c.hi = span + c.KW;
    ref_parallel(k->threads, N * c.M, conv_general, &c);
    free(span);
    return HPK_OK;
}
