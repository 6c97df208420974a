/* onednn_grad.c — the backward ops of training graphs: ConvGrad on oneDNN's backward primitives;
 * BatchNormalizationGrad, pooling, activation, softmax, reduction and shape gradients by hand (oneDNN 2.6 has no
 * backward for binary/sum/concat/reduction, and its max-pooling backward needs a forward workspace). The hand
 * kernels follow the reference backend's definitions exactly (kinks, tie-breaking, divisors). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

static size_t numel_of(const ir_shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= (size_t)s->d[i];
    return n;
}

/* ---- ConvGrad: oneDNN convolution backward data / backward weights ----------------------------------------- */

/* dB[m] = sum over rows r of dY[r, m] (dY as [rows, M], row-major: NHWC), in double */
typedef struct rowsum_data {
    int64_t rows, m;
} rowsum_data;

static int rowsum_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    const rowsum_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem);
    float *db = od_ptr(p, s->args[1].mem);
    double *acc = calloc((size_t)d->m, sizeof *acc);
    if (!acc)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in ConvGrad");
    for (int64_t r = 0; r < d->rows; r++)
        for (int64_t m = 0; m < d->m; m++)
            acc[m] += dy[r * d->m + m];
    for (int64_t m = 0; m < d->m; m++)
        db[m] = (float)acc[m];
    free(acc);
    return HPK_OK;
}

/* dW (and dB) of a 1x1 stride-1 unpadded ungrouped convolution as one matmul over NHWC views:
 * dW[M, C] = dY[NHW, M]^T X[NHW, C]. oneDNN 2.6's jit_1x1 backward-weights is ~30x slower than the forward
 * convolution on MobileNets' small feature maps; the matmul runs at the forward's speed. */
static int conv1x1_dweights(be_plan *p, int ni, int dy, int x, int dw, int db, int64_t M, int64_t C)
{
    const ir_shape *xs = &p->shapes[x];
    int64_t N = xs->d[0], H = xs->d[2], W = xs->d[3], R = N * H * W;
    dnnl_dims_t yd = {N, M, H, W}, xd = {N, C, H, W};
    dnnl_memory_desc_t ynhwc, xnhwc, amd, bmd, cmd;
    dnnl_memory_desc_init_by_tag(&ynhwc, 4, yd, dnnl_f32, dnnl_acdb);
    dnnl_memory_desc_init_by_tag(&xnhwc, 4, xd, dnnl_f32, dnnl_acdb);
    dnnl_dims_t ad = {M, R}, as = {1, M}, bd = {R, C}, bs = {C, 1}, cd = {M, C}, cs = {C, 1};
    dnnl_memory_desc_init_by_strides(&amd, 2, ad, dnnl_f32, as);
    dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dnnl_f32, bs);
    dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs);
    int ym, xm, rc;
    if ((rc = od_input_as(p, dy, ni, &ynhwc, &ym)))
        return rc;
    if (dw >= 0) {
        dnnl_matmul_desc_t md;
        dnnl_primitive_desc_t pd;
        dnnl_status_t s = dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd);
        if (s == dnnl_success)
            s = od_pd_try(p, &pd, &md, NULL);
        if (s != dnnl_success)
            return od_dnnl_fail(p, s, ni, "matmul (1x1 weight gradient)");
        int wm, av, bv, cv;
        if ((rc = od_input_as(p, x, ni, &xnhwc, &xm)) || (rc = od_output_new(p, dw, NULL, &wm))) {
            dnnl_primitive_desc_destroy(pd);
            return rc;
        }
        if ((av = od_mem_view(p, ym, &amd, NULL)) < 0 || (bv = od_mem_view(p, xm, &bmd, NULL)) < 0 ||
            (cv = od_mem_view(p, wm, &cmd, NULL)) < 0) {
            dnnl_primitive_desc_destroy(pd);
            return HPK_ENOMEM;
        }
        od_arg args[3] = {{DNNL_ARG_SRC, av}, {DNNL_ARG_WEIGHTS, bv}, {DNNL_ARG_DST, cv}};
        if ((rc = od_step_prim(p, ni, pd, args, 3, false)))
            return rc;
    }
    if (db >= 0) {
        rowsum_data *d = malloc(sizeof *d);
        int bm;
        if (!d)
            return od_fail(p, HPK_ENOMEM, ni, "out of memory");
        d->rows = R;
        d->m = M;
        if ((rc = od_output_new(p, db, NULL, &bm))) {
            free(d);
            return rc;
        }
        od_arg args[2] = {{0, ym}, {1, bm}};
        if ((rc = od_step_kernel(p, ni, rowsum_kernel, d, args, 2, false, "hpk:bias_grad")))
            return rc;
    }
    return HPK_OK;
}

/* dW (and dB) of a depthwise convolution by hand, on the input's own layout (plain or channel-blocked): oneDNN
 * 2.6 has a jit backward-weights kernel for 3x3 depthwise only and falls back to a generic gemm ~100x slower for
 * MobileNetV3's 5x5 ones. Per (sample, channel-block) tile, rows accumulate in float and tiles in double; the
 * tiles reduce over the samples in a fixed order. */
typedef struct dwg_data {
    int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, blk;
} dwg_data;

static inline __attribute__((always_inline)) void dwg_tile(const dwg_data *d, const float *x, const float *dy,
                                                           double *acc, float *row, int64_t blk)
{
    int64_t K = d->kh * d->kw;
    for (int64_t k = 0; k < K * blk; k++)
        acc[k] = 0;
    for (int64_t oh = 0; oh < d->oh; oh++) {
        for (int64_t k = 0; k < K * blk; k++)
            row[k] = 0;
        for (int64_t kh = 0; kh < d->kh; kh++) {
            int64_t ih = oh * d->sh - d->pt + kh * d->dh;
            if (ih < 0 || ih >= d->h)
                continue;
            for (int64_t kw = 0; kw < d->kw; kw++) {
                /* the output columns whose input column is inside the image */
                int64_t off = kw * d->dw - d->pl, ow0 = 0, ow1 = d->ow;
                while (ow0 < ow1 && ow0 * d->sw + off < 0)
                    ow0++;
                while (ow1 > ow0 && (ow1 - 1) * d->sw + off >= d->w)
                    ow1--;
                float *r = row + (kh * d->kw + kw) * blk, a[16] = {0}; /* a: in registers (blk is a constant) */
                const float *yr = dy + oh * d->ow * blk, *xr = x + ih * d->w * blk;
                for (int64_t ow = ow0; ow < ow1; ow++) {
                    const float *yp = yr + ow * blk, *xp = xr + (ow * d->sw + off) * blk;
                    for (int64_t j = 0; j < blk; j++)
                        a[j] += yp[j] * xp[j];
                }
                for (int64_t j = 0; j < blk; j++)
                    r[j] += a[j];
            }
        }
        for (int64_t k = 0; k < K * blk; k++)
            acc[k] += row[k];
    }
}

OD_MULTIVERSION static void dwg_tile16(const dwg_data *d, const float *x, const float *dy, double *acc, float *row)
{
    dwg_tile(d, x, dy, acc, row, 16);
}

OD_MULTIVERSION static void dwg_tile8(const dwg_data *d, const float *x, const float *dy, double *acc, float *row)
{
    dwg_tile(d, x, dy, acc, row, 8);
}

static int dw_dweights_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    const dwg_data *d = s->data;
    const float *dy = od_ptr(p, od_arg_mem(s, 0)), *x = od_ptr(p, od_arg_mem(s, 1));
    int mw = od_arg_mem(s, 2), mb = od_arg_mem(s, 3);
    int64_t blk = d->blk ? d->blk : 1, nb = (d->c + blk - 1) / blk, tiles = d->n * nb, K = d->kh * d->kw;
    int64_t xrun = d->h * d->w * blk, yrun = d->oh * d->ow * blk;
    double *part = malloc(sizeof(double) * (size_t)(tiles * K * blk));
    float *rows = malloc(sizeof(float) * (size_t)(tiles * K * blk));
    if (!part || !rows) {
        free(part), free(rows);
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in ConvGrad");
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t t = 0; t < tiles; t++) {
        double *acc = part + t * K * blk;
        float *row = rows + t * K * blk;
        if (blk == 16)
            dwg_tile16(d, x + t * xrun, dy + t * yrun, acc, row);
        else if (blk == 8)
            dwg_tile8(d, x + t * xrun, dy + t * yrun, acc, row);
        else
            dwg_tile(d, x + t * xrun, dy + t * yrun, acc, row, blk);
    }
    if (mw >= 0) {
        float *dw = od_ptr(p, mw); /* plain [C, 1, KH, KW] */
        for (int64_t c = 0; c < d->c; c++)
            for (int64_t k = 0; k < K; k++) {
                double v = 0;
                for (int64_t n = 0; n < d->n; n++)
                    v += part[((n * nb + c / blk) * K + k) * blk + c % blk];
                dw[c * K + k] = (float)v;
            }
    }
    free(part), free(rows);
    if (mb >= 0) {
        od_nc g = {d->n, d->c, d->oh * d->ow, d->blk};
        double *sb = malloc(sizeof(double) * (size_t)d->c);
        int rc = sb ? od_nc_sums(&g, dy, NULL, dy, NULL, sb, NULL) : HPK_ENOMEM;
        if (!rc)
            for (int64_t c = 0; c < d->c; c++)
                ((float *)od_ptr(p, mb))[c] = (float)sb[c];
        free(sb);
        if (rc)
            return hpk_err_set(err, rc, "ConvGrad: cannot sum the bias gradient");
    }
    return HPK_OK;
}

static int dw_dweights(be_plan *p, int ni, int dy, int x, int dw, int db, const ir_window *win)
{
    const ir_shape *xs = &p->shapes[x];
    int xm, dym, rc;
    if ((rc = od_value_mem(p, x, ni, &xm)))
        return rc;
    int64_t blk = p->mem[xm].has_md ? od_md_channel_block(&p->mem[xm].md) : -1;
    if (blk != 8 && blk != 16) { /* dwg_tile's accumulators hold 16 channels: other layouts go plain */
        blk = 0;
        if ((rc = od_input_plain(p, x, ni, &xm)))
            return rc;
    }
    dnnl_dims_t yd = {xs->d[0], xs->d[1], win->oh, win->ow};
    dnnl_memory_desc_t ymd;
    dnnl_memory_desc_init_by_tag(&ymd, 4, yd, dnnl_f32,
                                 blk == 16 ? dnnl_aBcd16b : blk == 8 ? dnnl_aBcd8b : dnnl_abcd);
    if ((rc = od_input_as(p, dy, ni, &ymd, &dym)))
        return rc;
    dwg_data *d = malloc(sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    *d = (dwg_data){xs->d[0], xs->d[1], xs->d[2], xs->d[3], win->oh, win->ow, win->kh, win->kw, win->sh, win->sw,
                    win->dh, win->dw, win->pt, win->pl, blk};
    od_arg args[4];
    int na = 0, m;
    args[na++] = (od_arg){0, dym};
    args[na++] = (od_arg){1, xm};
    if (dw >= 0) {
        if ((rc = od_output_new(p, dw, NULL, &m))) {
            free(d);
            return rc;
        }
        args[na++] = (od_arg){2, m};
    }
    if (db >= 0) {
        if ((rc = od_output_new(p, db, NULL, &m))) {
            free(d);
            return rc;
        }
        args[na++] = (od_arg){3, m};
    }
    return od_step_kernel(p, ni, dw_dweights_kernel, d, args, na, false, "hpk:dw_weight_grad");
}

int od_op_ConvGrad(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int dy = n->in[0], x = n->in[1], w = n->in[2];
    int dx = n->out[0], dw = n->n_out > 1 ? n->out[1] : -1, db = n->n_out > 2 ? n->out[2] : -1;
    const ir_shape *xs = &p->shapes[x], *ws = &p->shapes[w];
    ir_window win;
    int rc;
    if ((rc = ir_conv_window(n, xs, ws, &win, p->err)))
        return rc;
    int64_t M = ws->d[0], G = win.group;
    if (G == 1 && win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 && win.dh == 1 && win.dw == 1 &&
        win.pt == 0 && win.pl == 0 && win.pb == 0 && win.pr == 0 && (dw >= 0 || db >= 0)) {
        if ((rc = conv1x1_dweights(p, ni, dy, x, dw, db, M, xs->d[1])))
            return rc;
        dw = db = -1; /* the rest: dX only */
        if (dx < 0)
            return HPK_OK;
    }
    dnnl_dims_t sd, wd, bd = {M}, dd, st = {win.sh, win.sw}, dl = {win.dh - 1, win.dw - 1}, pl = {win.pt, win.pl},
                                      pr = {win.pb, win.pr};
    int wnd = G > 1 ? 5 : 4;
    for (int i = 0; i < 4; i++)
        sd[i] = xs->d[i];
    dd[0] = xs->d[0], dd[1] = M, dd[2] = win.oh, dd[3] = win.ow;
    if (G > 1) {
        wd[0] = G, wd[1] = M / G, wd[2] = ws->d[1], wd[3] = ws->d[2], wd[4] = ws->d[3];
    } else {
        for (int i = 0; i < 4; i++)
            wd[i] = ws->d[i];
    }
    dnnl_memory_desc_t s_any, w_any, d_any, b_md, w_plain;
    dnnl_memory_desc_init_by_tag(&s_any, 4, sd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w_any, wnd, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&d_any, 4, dd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    dnnl_memory_desc_init_by_tag(&w_plain, wnd, wd, dnnl_f32, wnd == 5 ? dnnl_goihw : dnnl_oihw);
    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL;
    dnnl_status_t s = dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                                                 &s_any, &w_any, db >= 0 ? &b_md : NULL, &d_any, st,
                                                                 dl, pl, pr);
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&fpd, &fd, NULL, p->eng, NULL);
    if (s == dnnl_success && dx >= 0) {
        dnnl_primitive_attr_t attr;
        if ((rc = od_attr_new(p, &attr, ni)))
            goto fail;
        s = dnnl_dilated_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &s_any, &w_any, &d_any,
                                                              st, dl, pl, pr);
        if (s == dnnl_success)
            s = dnnl_primitive_desc_create(&dpd, &bdd, attr, p->eng, fpd);
        dnnl_primitive_attr_destroy(attr);
    }
    if (s == dnnl_success && (dw >= 0 || db >= 0)) {
        dnnl_primitive_attr_t attr;
        if ((rc = od_attr_new(p, &attr, ni)))
            goto fail;
        s = dnnl_dilated_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &s_any, &w_any,
                                                                 db >= 0 ? &b_md : NULL, &d_any, st, dl, pl, pr);
        if (s == dnnl_success)
            s = dnnl_primitive_desc_create(&wpd, &bwd, attr, p->eng, fpd);
        dnnl_primitive_attr_destroy(attr);
    }
    if (s != dnnl_success) {
        rc = od_dnnl_fail(p, s, ni, "convolution backward");
        goto fail;
    }
    dnnl_primitive_desc_destroy(fpd);
    fpd = NULL;
    const char *impl = NULL;
    if (wpd && G == xs->d[1] && G == M && dnnl_primitive_desc_query(wpd, dnnl_query_impl_info_str, 0,
                                                                       (void *)&impl) == dnnl_success &&
        impl && strstr(impl, "gemm")) {
        dnnl_primitive_desc_destroy(wpd);
        wpd = NULL;
        if ((rc = dw_dweights(p, ni, dy, x, dw, db, &win)))
            goto fail;
    }
    if (dpd) {
        int dym, wm, wv, dxm;
        if ((rc = od_input_as(p, dy, ni, od_pd_md(dpd, dnnl_query_diff_dst_md, 0), &dym)) ||
            (rc = od_value_mem(p, w, ni, &wm)))
            goto fail;
        if ((wv = od_mem_view(p, wm, &w_plain, NULL)) < 0) {
            rc = HPK_ENOMEM;
            goto fail;
        }
        const dnnl_memory_desc_t *wwant = od_pd_md(dpd, dnnl_query_weights_md, 0);
        if (!od_md_eq(wwant, &w_plain) && (rc = od_reorder(p, ni, wv, wwant, od_value_const(p, w), &wv)))
            goto fail;
        if ((rc = od_output_new(p, dx, od_pd_md(dpd, dnnl_query_diff_src_md, 0), &dxm)))
            goto fail;
        od_arg args[3] = {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wv}, {DNNL_ARG_DIFF_SRC, dxm}};
        rc = od_step_prim(p, ni, dpd, args, 3, false);
        dpd = NULL;
        if (rc)
            goto fail;
    }
    if (wpd) {
        int dym, xm, dwm = -1, dwv, dbm = -1;
        if ((rc = od_input_as(p, dy, ni, od_pd_md(wpd, dnnl_query_diff_dst_md, 0), &dym)) ||
            (rc = od_input_as(p, x, ni, od_pd_md(wpd, dnnl_query_src_md, 0), &xm)))
            goto fail;
        /* dW and dB in plain layouts (the optimizer reads them); a blocked dW goes through a scratch buffer */
        const dnnl_memory_desc_t dwmd_v = *od_pd_md(wpd, dnnl_query_diff_weights_md, 0), *dwmd = &dwmd_v;
        if (dw >= 0) {
            if ((rc = od_output_new(p, dw, NULL, &dwm)))
                goto fail;
            if ((dwv = od_mem_view(p, dwm, &w_plain, NULL)) < 0) {
                rc = HPK_ENOMEM;
                goto fail;
            }
        }
        int target = dw >= 0 ? dwv : -1, wout = target;
        if (dw < 0 || !od_md_eq(dwmd, &w_plain)) {
            int tst = od_storage_new(p, OD_ST_ARENA, od_md_size(dwmd), "conv weight gradient");
            if (tst < 0 || (wout = od_mem_new(p, tst, 0, dwmd, IR_DT_F32, NULL)) < 0) {
                rc = HPK_ENOMEM;
                goto fail;
            }
            p->st[tst].last_node = ni;
        }
        if (db >= 0) {
            if ((rc = od_output_new(p, db, NULL, &dbm)))
                goto fail;
        }
        od_arg args[5];
        int na = 0;
        args[na++] = (od_arg){DNNL_ARG_SRC, xm};
        args[na++] = (od_arg){DNNL_ARG_DIFF_DST, dym};
        args[na++] = (od_arg){DNNL_ARG_DIFF_WEIGHTS, wout};
        if (dbm >= 0)
            args[na++] = (od_arg){DNNL_ARG_DIFF_BIAS, dbm};
        rc = od_step_prim(p, ni, wpd, args, na, false);
        wpd = NULL;
        if (rc)
            goto fail;
        if (target >= 0 && wout != target) {
            dnnl_primitive_desc_t rpd;
            dnnl_primitive_attr_t attr;
            if ((rc = od_attr_new(p, &attr, ni)))
                goto fail;
            s = dnnl_reorder_primitive_desc_create(&rpd, dwmd, p->eng, &w_plain, p->eng, attr);
            dnnl_primitive_attr_destroy(attr);
            if (s != dnnl_success) {
                rc = od_dnnl_fail(p, s, ni, "reorder");
                goto fail;
            }
            od_arg ra[2] = {{DNNL_ARG_FROM, wout}, {DNNL_ARG_TO, target}};
            if ((rc = od_step_prim(p, ni, rpd, ra, 2, false)))
                goto fail;
        }
    }
    return HPK_OK;
fail:
    if (fpd)
        dnnl_primitive_desc_destroy(fpd);
    if (dpd)
        dnnl_primitive_desc_destroy(dpd);
    if (wpd)
        dnnl_primitive_desc_destroy(wpd);
    return rc;
}

/* ---- BatchNormalizationGrad: by hand, sums in double ---------------------------------------------------------
 * dX = scale·inv/M · (M·dY − Σ dY − x̂·Σ dY·x̂), dScale = Σ dY·x̂, dBias = Σ dY, x̂ = (X − mean)·inv, over M = N·S
 * elements per channel. oneDNN's backward sums in float32, and the formula cancels: with per-tensor updates
 * compared to PyTorch in float64 (tests/py/torch_step.py) its error is about twice PyTorch's float32 one. Works
 * on the plain layout and on channel-blocked ones (nChw8c, nChw16c: the forward convolutions' outputs) in place. */

typedef struct bng_data {
    od_nc g;
    double eps;
} bng_data;

/* dx of one (sample, channel-block) tile: a, b, c0 per padded channel are k1·M, −k1·inv·Σdy·x̂ and −k1·Σdy, mu the
 * mean; applied in double (in float, MobileNetV2's one-step comparison with PyTorch drifts past its tolerance) */
static inline __attribute__((always_inline)) void bng_tile(const float *dy, const float *x, float *dx, int64_t s,
                                                           int64_t blk, const double *a, const double *b,
                                                           const double *c0, const double *mu)
{
    for (int64_t i = 0; i < s; i++)
        for (int64_t j = 0; j < blk; j++)
            dx[i * blk + j] = (float)(a[j] * dy[i * blk + j] + b[j] * ((double)x[i * blk + j] - mu[j]) + c0[j]);
}

OD_MULTIVERSION static void bng_tile16(const float *dy, const float *x, float *dx, int64_t s, const double *a,
                                       const double *b, const double *c0, const double *mu)
{
    bng_tile(dy, x, dx, s, 16, a, b, c0, mu);
}

OD_MULTIVERSION static void bng_tile8(const float *dy, const float *x, float *dx, int64_t s, const double *a,
                                      const double *b, const double *c0, const double *mu)
{
    bng_tile(dy, x, dx, s, 8, a, b, c0, mu);
}

static int bn_grad_kernel(be_plan *p, const od_step *st, hpk_err *err)
{
    const bng_data *d = st->data;
    const float *dy = od_ptr(p, od_arg_mem(st, 0)), *x = od_ptr(p, od_arg_mem(st, 1));
    const float *scale = od_ptr(p, od_arg_mem(st, 2)), *mean = od_ptr(p, od_arg_mem(st, 3)),
                *var = od_ptr(p, od_arg_mem(st, 4));
    int mx = od_arg_mem(st, 5), ms = od_arg_mem(st, 6), mb = od_arg_mem(st, 7);
    float *dx = mx >= 0 ? od_ptr(p, mx) : NULL, *dscale = ms >= 0 ? od_ptr(p, ms) : NULL,
          *dbias = mb >= 0 ? od_ptr(p, mb) : NULL;
    int64_t C = d->g.c, blk = d->g.blk ? d->g.blk : 1, nb = (C + blk - 1) / blk, cpad = nb * blk;
    double M = (double)(d->g.n * d->g.s);
    /* mu, sdy, sdyx (Σ dy·(x − mu), then ·inv), and the dx coefficients a, b, c0 per padded channel */
    double *w = calloc((size_t)cpad * 6, sizeof *w);
    if (!w)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in BatchNormalizationGrad");
    double *mu = w, *sdy = w + cpad, *sdyx = w + 2 * cpad, *ca = w + 3 * cpad, *cb = w + 4 * cpad,
           *c0 = w + 5 * cpad;
    for (int64_t c = 0; c < C; c++)
        mu[c] = mean[c];
    int rc = od_nc_sums(&d->g, dy, NULL, x, mu, sdy, sdyx);
    if (rc) {
        free(w);
        return hpk_err_set(err, rc, "BatchNormalizationGrad: cannot sum this layout");
    }
    for (int64_t c = 0; c < C; c++) {
        double inv = 1.0 / sqrt((double)var[c] + d->eps), k1 = scale[c] * inv / M;
        sdyx[c] *= inv;
        if (dbias)
            dbias[c] = (float)sdy[c];
        if (dscale)
            dscale[c] = (float)sdyx[c];
        ca[c] = k1 * M, cb[c] = -k1 * inv * sdyx[c], c0[c] = -k1 * sdy[c]; /* padding channels: all 0, dx 0 */
    }
    if (dx) {
        int64_t tiles = d->g.n * nb, run = d->g.s * blk;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int64_t t = 0; t < tiles; t++) {
            int64_t o = (t % nb) * blk;
            if (blk == 16)
                bng_tile16(dy + t * run, x + t * run, dx + t * run, d->g.s, ca + o, cb + o, c0 + o, mu + o);
            else if (blk == 8)
                bng_tile8(dy + t * run, x + t * run, dx + t * run, d->g.s, ca + o, cb + o, c0 + o, mu + o);
            else
                bng_tile(dy + t * run, x + t * run, dx + t * run, d->g.s, blk, ca + o, cb + o, c0 + o, mu + o);
        }
    }
    free(w);
    return HPK_OK;
}

int od_op_BatchNormalizationGrad(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int dy = n->in[0], x = n->in[1], rc;
    const ir_shape *xs = &p->shapes[x];
    int xm, dym;
    if ((rc = od_value_mem(p, x, ni, &xm)))
        return rc;
    int64_t blk = p->mem[xm].has_md ? od_md_channel_block(&p->mem[xm].md) : -1;
    if (blk < 0 || blk > OD_NC_MAX_BLK) {
        if ((rc = od_input_plain(p, x, ni, &xm)))
            return rc;
        blk = 0;
    }
    dnnl_memory_desc_t md = p->mem[xm].md;
    bng_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->g = (od_nc){xs->d[0], xs->rank > 1 ? xs->d[1] : 1, 1, blk};
    for (int i = 2; i < xs->rank; i++)
        d->g.s *= xs->d[i];
    d->eps = ir_attr_float(n, "epsilon", 1e-5f);
    od_arg args[8];
    int na = 0, m;
    if ((rc = od_input_as(p, dy, ni, &md, &dym))) {
        free(d);
        return rc;
    }
    args[na++] = (od_arg){0, dym};
    args[na++] = (od_arg){1, xm};
    for (int j = 2; j < 5; j++) {
        if ((rc = od_input_plain(p, n->in[j], ni, &m))) {
            free(d);
            return rc;
        }
        args[na++] = (od_arg){j, m};
    }
    for (int j = 0; j < 3 && j < n->n_out; j++) {
        if (n->out[j] < 0)
            continue;
        if ((rc = od_output_new(p, n->out[j], j == 0 ? &md : NULL, &m))) {
            free(d);
            return rc;
        }
        args[na++] = (od_arg){5 + j, m};
    }
    return od_step_kernel(p, ni, bn_grad_kernel, d, args, na, false, "hpk:bn_grad");
}

/* ---- pooling gradients (plain NCHW, the reference's tie-breaking and divisors) ------------------------------ */

typedef struct poolg_data {
    bool max, global;
    ir_window w;
    int64_t nc, h, wd, oh, ow; /* global: h = spatial size */
} poolg_data;

static int poolg_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const poolg_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem), *x = od_ptr(p, s->args[1].mem);
    float *dx = od_ptr(p, s->args[2].mem);
    if (d->global) {
        int64_t S = d->h;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int64_t c = 0; c < d->nc; c++) {
            const float *xp = x + c * S;
            float *dxp = dx + c * S;
            if (!d->max) {
                float share = dy[c] / (float)S;
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
            dxp[best] = dy[c];
        }
        return HPK_OK;
    }
    const ir_window *w = &d->w;
    int64_t H = d->h, W = d->wd, OH = d->oh, OW = d->ow;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t c = 0; c < d->nc; c++) {
        const float *xp = x + c * H * W;
        float *dxp = dx + c * H * W;
        memset(dxp, 0, sizeof(float) * (size_t)(H * W));
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                float g = dy[(c * OH + oh) * OW + ow];
                int64_t h0 = oh * w->sh - w->pt, w0 = ow * w->sw - w->pl;
                if (d->max) {
                    int64_t best = -1;
                    float bv = -INFINITY;
                    for (int64_t kh = 0; kh < w->kh; kh++)
                        for (int64_t kw = 0; kw < w->kw; kw++) {
                            int64_t ih = h0 + kh * w->dh, iw = w0 + kw * w->dw;
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
                int64_t he = h0 + w->kh, we = w0 + w->kw;
                int64_t hpe = he < H + w->pb ? he : H + w->pb, wpe = we < W + w->pr ? we : W + w->pr;
                int64_t hc0 = h0 < 0 ? 0 : h0, wc0 = w0 < 0 ? 0 : w0, hc1 = he > H ? H : he, wc1 = we > W ? W : we;
                int64_t cnt = w->count_include_pad ? (hpe - h0) * (wpe - w0) : (hc1 - hc0) * (wc1 - wc0);
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

static int pool_grad(be_plan *p, int ni, bool max, bool global)
{
    const ir_node *n = &p->g->nodes[ni];
    int dy = n->in[0], x = n->in[1], rc;
    const ir_shape *xs = &p->shapes[x];
    poolg_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->max = max;
    d->global = global;
    d->nc = xs->d[0] * xs->d[1];
    if (global) {
        d->h = 1;
        for (int i = 2; i < xs->rank; i++)
            d->h *= xs->d[i];
    } else {
        if ((rc = ir_pool_window(p->g, n, xs, &d->w, p->err))) {
            free(d);
            return rc;
        }
        d->h = xs->d[2], d->wd = xs->d[3], d->oh = p->shapes[dy].d[2], d->ow = p->shapes[dy].d[3];
    }
    int dym, xm, dxm;
    if ((rc = od_input_plain(p, dy, ni, &dym)) || (rc = od_input_plain(p, x, ni, &xm)) ||
        (rc = od_output_new(p, n->out[0], NULL, &dxm))) {
        free(d);
        return rc;
    }
    od_arg args[3] = {{0, dym}, {1, xm}, {2, dxm}};
    return od_step_kernel(p, ni, poolg_kernel, d, args, 3, false, "hpk:pool_grad");
}

int od_op_MaxPoolGrad(be_plan *p, int ni) { return pool_grad(p, ni, true, false); }
int od_op_AveragePoolGrad(be_plan *p, int ni) { return pool_grad(p, ni, false, false); }
int od_op_GlobalAveragePoolGrad(be_plan *p, int ni) { return pool_grad(p, ni, false, true); }
int od_op_GlobalMaxPoolGrad(be_plan *p, int ni) { return pool_grad(p, ni, true, true); }

/* ---- activation gradients: dX = dY * f'(saved), on any layout shared by dY and saved ------------------------ */

typedef struct eg_data {
    int op;
    float a, b; /* HardSigmoid alpha/beta; Clip min/max; Dropout scale */
    size_t n;
} eg_data;

static int eltwise_grad_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const eg_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem);
    const void *sv = od_ptr(p, s->args[1].mem);
    float *dx = od_ptr(p, s->args[2].mem);
    const float *v = sv;
    const unsigned char *mask = sv;
    float a = d->a, b = d->b;
    int64_t n = (int64_t)d->n;
    switch (d->op) {
#ifdef _OPENMP
#define EG_LOOP(expr)                                                                                         \
    {                                                                                                         \
        _Pragma("omp parallel for simd schedule(static)") for (int64_t i = 0; i < n; i++) {                  \
            const float g = dy[i];                                                                            \
            dx[i] = (expr);                                                                                   \
        }                                                                                                     \
    }                                                                                                         \
    break
#else
#define EG_LOOP(expr)                                                                                         \
    for (int64_t i = 0; i < n; i++) {                                                                         \
        const float g = dy[i];                                                                                \
        dx[i] = (expr);                                                                                       \
    }                                                                                                         \
    break
#endif
    case IR_OP_ReluGrad: EG_LOOP(v[i] > 0.0f ? g : 0.0f);
    case IR_OP_SigmoidGrad: EG_LOOP(g * v[i] * (1.0f - v[i]));
    case IR_OP_ClipGrad: EG_LOOP(((v[i] > a) & (v[i] < b)) ? g : 0.0f);
    case IR_OP_HardSigmoidGrad: EG_LOOP(((a * v[i] + b > 0.0f) & (a * v[i] + b < 1.0f)) ? g * a : 0.0f);
    case IR_OP_HardSwishGrad: EG_LOOP(v[i] < -3.0f ? 0.0f : (v[i] <= 3.0f ? g * (v[i] / 3.0f + 0.5f) : g));
    case IR_OP_DropoutGrad: EG_LOOP(mask[i] ? g * a : 0.0f);
    default: break;
#undef EG_LOOP
    }
    return HPK_OK;
}

static int eltwise_grad(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int dy = n->in[0], sv = n->in[1], rc;
    eg_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->op = n->op;
    switch (n->op) {
    case IR_OP_ClipGrad: d->a = ir_attr_float(n, "min", 0.0f), d->b = ir_attr_float(n, "max", 0.0f); break;
    case IR_OP_HardSigmoidGrad: d->a = ir_attr_float(n, "alpha", 0.2f), d->b = ir_attr_float(n, "beta", 0.5f); break;
    case IR_OP_DropoutGrad: d->a = 1.0f / (1.0f - ir_attr_float(n, "ratio", 0.5f)); break;
    default: break;
    }
    int dym, svm, dxm;
    if (n->op == IR_OP_DropoutGrad) { /* the mask is bytes: plain both */
        if ((rc = od_input_plain(p, dy, ni, &dym)) || (rc = od_input_plain(p, sv, ni, &svm)) ||
            (rc = od_output_new(p, n->out[0], NULL, &dxm))) {
            free(d);
            return rc;
        }
        d->n = numel_of(&p->shapes[dy]);
    } else {
        /* the saved tensor's layout (often blocked, from the forward): dY joins it, dX takes it */
        if ((rc = od_value_mem(p, sv, ni, &svm))) {
            free(d);
            return rc;
        }
        dnnl_memory_desc_t md = p->mem[svm].md;
        if (!p->mem[svm].has_md) {
            free(d);
            return od_fail(p, HPK_EINTERNAL, ni, "the saved tensor has no layout");
        }
        if ((rc = od_input_as(p, dy, ni, &md, &dym)) || (rc = od_output_new(p, n->out[0], &md, &dxm))) {
            free(d);
            return rc;
        }
        d->n = od_md_size(&md) / sizeof(float); /* padding included: zeros stay zeros */
    }
    od_arg args[3] = {{0, dym}, {1, svm}, {2, dxm}};
    return od_step_kernel(p, ni, eltwise_grad_kernel, d, args, 3, false, "hpk:eltwise_grad");
}

int od_op_ReluGrad(be_plan *p, int ni) { return eltwise_grad(p, ni); }
int od_op_ClipGrad(be_plan *p, int ni) { return eltwise_grad(p, ni); }
int od_op_HardSigmoidGrad(be_plan *p, int ni) { return eltwise_grad(p, ni); }
int od_op_HardSwishGrad(be_plan *p, int ni) { return eltwise_grad(p, ni); }
int od_op_SigmoidGrad(be_plan *p, int ni) { return eltwise_grad(p, ni); }
int od_op_DropoutGrad(be_plan *p, int ni) { return eltwise_grad(p, ni); }

/* ---- shape gradients ----------------------------------------------------------------------------------------- */

typedef struct st_data {
    int rank;
    int64_t dims[IR_MAX_RANK]; /* dY */
    int64_t st[IR_MAX_RANK];   /* the target's strides aligned to dY, 0 on summed dims */
    size_t out_n;
} st_data;

/* SumToShape: dX (shaped like the target) = dY summed over its broadcast dims */
static int sum_to_shape_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    const st_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem);
    float *dx = od_ptr(p, s->args[1].mem);
    double *acc = calloc(d->out_n ? d->out_n : 1, sizeof *acc);
    if (!acc)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in SumToShape");
    int64_t idx[IR_MAX_RANK] = {0};
    size_t total = 1, off = 0;
    for (int i = 0; i < d->rank; i++)
        total *= (size_t)d->dims[i];
    for (size_t i = 0; i < total; i++) {
        acc[off] += dy[i];
        for (int k = d->rank - 1; k >= 0; k--) {
            off += (size_t)d->st[k];
            if (++idx[k] < d->dims[k])
                break;
            off -= (size_t)(d->st[k] * d->dims[k]);
            idx[k] = 0;
        }
    }
    for (size_t i = 0; i < d->out_n; i++)
        dx[i] = (float)acc[i];
    free(acc);
    return HPK_OK;
}

/* SumToShape of [N, C, H, W] to [N, C, 1, 1] (the squeeze-excitation scale's gradient) on dY's own layout, plain or
 * channel-blocked: the N samples' channel blocks are consecutive in memory, so dY is one sample of N·Cpad channels
 * for od_nc_sums */
static int sum_spatial_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    const od_nc *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem);
    float *dx = od_ptr(p, s->args[1].mem);
    int64_t blk = d->blk ? d->blk : 1, cpad = (d->c + blk - 1) / blk * blk;
    od_nc one = {1, d->n * cpad, d->s, d->blk};
    double *sum = malloc(sizeof(double) * (size_t)one.c);
    int rc = sum ? od_nc_sums(&one, dy, NULL, dy, NULL, sum, NULL) : HPK_ENOMEM;
    for (int64_t n = 0; !rc && n < d->n; n++)
        for (int64_t c = 0; c < d->c; c++)
            dx[n * d->c + c] = (float)sum[n * cpad + c];
    free(sum);
    return rc ? hpk_err_set(err, rc, "SumToShape: cannot sum this layout") : HPK_OK;
}

static bool sum_is_spatial(const ir_shape *ys, const ir_shape *ls)
{
    if (ys->rank < 3 || ls->rank != ys->rank || ls->d[0] != ys->d[0] || ls->d[1] != ys->d[1])
        return false;
    for (int i = 2; i < ls->rank; i++)
        if (ls->d[i] != 1)
            return false;
    return true;
}

int od_op_SumToShape(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int dy = n->in[0], like = n->in[1], rc;
    const ir_shape *ys = &p->shapes[dy], *ls = &p->shapes[like];
    if (ir_shape_eq(ys, ls)) { /* nothing to sum: dY itself */
        int m;
        if ((rc = od_value_mem(p, dy, ni, &m)))
            return rc;
        return od_output_set(p, n->out[0], m);
    }
    if (sum_is_spatial(ys, ls)) {
        int dym, dxm;
        if ((rc = od_value_mem(p, dy, ni, &dym)))
            return rc;
        int64_t blk = p->mem[dym].has_md ? od_md_channel_block(&p->mem[dym].md) : -1;
        if (blk != 0 && blk != 8 && blk != 16) {
            blk = 0;
            if ((rc = od_input_plain(p, dy, ni, &dym)))
                return rc;
        }
        od_nc *d = malloc(sizeof *d);
        if (!d)
            return od_fail(p, HPK_ENOMEM, ni, "out of memory");
        *d = (od_nc){ys->d[0], ys->d[1], 1, blk};
        for (int i = 2; i < ys->rank; i++)
            d->s *= ys->d[i];
        if ((rc = od_output_new(p, n->out[0], NULL, &dxm))) {
            free(d);
            return rc;
        }
        od_arg args[2] = {{0, dym}, {1, dxm}};
        return od_step_kernel(p, ni, sum_spatial_kernel, d, args, 2, false, "hpk:sum_spatial");
    }
    st_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->rank = ys->rank;
    int64_t acc = 1;
    for (int i = ys->rank - 1; i >= 0; i--) {
        int j = i - (ys->rank - ls->rank);
        int64_t dl = j >= 0 ? ls->d[j] : 1;
        d->dims[i] = ys->d[i];
        d->st[i] = dl == 1 ? 0 : acc;
        acc *= dl;
    }
    d->out_n = (size_t)acc;
    int dym, dxm;
    if ((rc = od_input_plain(p, dy, ni, &dym)) || (rc = od_output_new(p, n->out[0], NULL, &dxm))) {
        free(d);
        return rc;
    }
    od_arg args[2] = {{0, dym}, {1, dxm}};
    return od_step_kernel(p, ni, sum_to_shape_kernel, d, args, 2, false, "hpk:sum_to_shape");
}

int od_op_ReshapeLike(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int xm, rc, y = n->out[0];
    if ((rc = od_input_plain(p, n->in[0], ni, &xm)))
        return rc;
    dnnl_memory_desc_t md;
    bool has = p->mem[xm].has_md && od_md_plain(&md, &p->shapes[y], p->dtypes[y]) == 0;
    int ym = od_mem_view(p, xm, has ? &md : NULL, &p->shapes[y]);
    return ym < 0 ? HPK_ENOMEM : od_output_set(p, y, ym);
}

typedef struct cg_data {
    size_t outer, ylen, n;
    size_t len[];  /* per output: elements per outer row (0: not requested) */
} cg_data;

static int concat_grad_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const cg_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem);
    size_t off = 0;
    for (size_t j = 0; j < d->n; j++) {
        int m = od_arg_mem(s, (int)j + 1);
        if (m >= 0) {
            float *o = od_ptr(p, m);
            for (size_t r = 0; r < d->outer; r++)
                memcpy(o + r * d->len[j], dy + r * d->ylen + off, d->len[j] * sizeof(float));
        }
        off += d->len[j];
    }
    return HPK_OK;
}

int od_op_ConcatGrad(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    const ir_shape *ys = &p->shapes[n->in[0]];
    int r = ys->rank, rc;
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += r;
    int nout = n->n_out;
    cg_data *d = calloc(1, sizeof *d + sizeof(size_t) * (size_t)nout);
    od_arg *args = calloc((size_t)nout + 2, sizeof *args);
    if (!d || !args) {
        free(d), free(args);
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    }
    size_t inner = 1;
    d->outer = 1;
    for (int i = 0; i < axis; i++)
        d->outer *= (size_t)ys->d[i];
    for (int i = (int)axis + 1; i < r; i++)
        inner *= (size_t)ys->d[i];
    d->ylen = (size_t)ys->d[axis] * inner;
    d->n = (size_t)nout;
    int na = 0, m;
    if ((rc = od_input_plain(p, n->in[0], ni, &m))) {
        free(d), free(args);
        return rc;
    }
    args[na++] = (od_arg){0, m};
    for (int j = 0; j < nout; j++) {
        d->len[j] = (size_t)p->shapes[n->in[j + 1]].d[axis] * inner;
        if (n->out[j] < 0)
            continue;
        if ((rc = od_output_new(p, n->out[j], NULL, &m))) {
            free(d), free(args);
            return rc;
        }
        args[na++] = (od_arg){j + 1, m};
    }
    rc = od_step_kernel(p, ni, concat_grad_kernel, d, args, na, false, "hpk:concat_grad");
    free(args);
    return rc;
}

/* ---- reduction gradients ------------------------------------------------------------------------------------- */

typedef struct rg_data {
    bool sumsq;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t st[IR_MAX_RANK]; /* dY's strides aligned to X, 0 on reduced dims */
    float count;
} rg_data;

static int reduce_grad_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const rg_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem), *x = od_ptr(p, s->args[1].mem);
    float *dx = od_ptr(p, s->args[2].mem);
    int64_t idx[IR_MAX_RANK] = {0};
    size_t total = 1, off = 0;
    for (int i = 0; i < d->rank; i++)
        total *= (size_t)d->dims[i];
    for (size_t i = 0; i < total; i++) {
        dx[i] = d->sumsq ? 2.0f * x[i] * dy[off] : dy[off] / d->count;
        for (int k = d->rank - 1; k >= 0; k--) {
            off += (size_t)d->st[k];
            if (++idx[k] < d->dims[k])
                break;
            off -= (size_t)(d->st[k] * d->dims[k]);
            idx[k] = 0;
        }
    }
    return HPK_OK;
}

static int reduce_grad(be_plan *p, int ni, bool sumsq)
{
    const ir_node *n = &p->g->nodes[ni];
    const ir_shape *xs = &p->shapes[n->in[1]];
    int64_t axes[IR_MAX_RANK];
    int na = ir_node_axes(p->g, n, axes, p->err), rc;
    if (na < 0)
        return p->err && p->err->code ? p->err->code : HPK_EINPUT;
    bool red[IR_MAX_RANK] = {false};
    for (int i = 0; i < na; i++)
        red[axes[i] < 0 ? axes[i] + xs->rank : axes[i]] = true;
    if (na == 0)
        for (int i = 0; i < xs->rank; i++)
            red[i] = true;
    rg_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->sumsq = sumsq;
    d->rank = xs->rank;
    int64_t s = 1;
    double count = 1;
    for (int i = xs->rank - 1; i >= 0; i--) {
        d->dims[i] = xs->d[i];
        d->st[i] = red[i] ? 0 : s;
        if (red[i])
            count *= (double)xs->d[i];
        else
            s *= xs->d[i];
    }
    d->count = (float)count;
    int dym, xm, dxm;
    if ((rc = od_input_plain(p, n->in[0], ni, &dym)) || (rc = od_input_plain(p, n->in[1], ni, &xm)) ||
        (rc = od_output_new(p, n->out[0], NULL, &dxm))) {
        free(d);
        return rc;
    }
    od_arg args[3] = {{0, dym}, {1, xm}, {2, dxm}};
    return od_step_kernel(p, ni, reduce_grad_kernel, d, args, 3, false, "hpk:reduce_grad");
}

int od_op_ReduceMeanGrad(be_plan *p, int ni) { return reduce_grad(p, ni, false); }
int od_op_ReduceSumSquareGrad(be_plan *p, int ni) { return reduce_grad(p, ni, true); }

/* ---- softmax gradients ----------------------------------------------------------------------------------------- */

typedef struct sg_data {
    bool log;
    size_t outer, len, inner;
} sg_data;

static int softmax_grad_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const sg_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem), *y = od_ptr(p, s->args[1].mem);
    float *dx = od_ptr(p, s->args[2].mem);
    int64_t rows = (int64_t)(d->outer * d->inner);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t r = 0; r < rows; r++) {
        size_t o = (size_t)r / d->inner, i = (size_t)r % d->inner, base = o * d->len * d->inner + i;
        double sum = 0;
        for (size_t j = 0; j < d->len; j++) {
            size_t at = base + j * d->inner;
            sum += d->log ? dy[at] : (double)dy[at] * y[at];
        }
        for (size_t j = 0; j < d->len; j++) {
            size_t at = base + j * d->inner;
            dx[at] = d->log ? (float)(dy[at] - exp((double)y[at]) * sum) : (float)(y[at] * (dy[at] - sum));
        }
    }
    return HPK_OK;
}

static int softmax_grad(be_plan *p, int ni, bool log)
{
    const ir_node *n = &p->g->nodes[ni];
    const ir_shape *ys = &p->shapes[n->in[1]];
    int rc;
    sg_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->log = log;
    ir_softmax_geometry(p->g, n, ys->rank, ys->d, &d->outer, &d->len, &d->inner);
    int dym, ym, dxm;
    if ((rc = od_input_plain(p, n->in[0], ni, &dym)) || (rc = od_input_plain(p, n->in[1], ni, &ym)) ||
        (rc = od_output_new(p, n->out[0], NULL, &dxm))) {
        free(d);
        return rc;
    }
    od_arg args[3] = {{0, dym}, {1, ym}, {2, dxm}};
    return od_step_kernel(p, ni, softmax_grad_kernel, d, args, 3, false, "hpk:softmax_grad");
}

int od_op_SoftmaxGrad(be_plan *p, int ni) { return softmax_grad(p, ni, false); }
int od_op_LogSoftmaxGrad(be_plan *p, int ni) { return softmax_grad(p, ni, true); }
