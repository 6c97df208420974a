/* onednn_pool.c — MaxPool/AveragePool/global pooling on oneDNN pooling, a plain kernel for what it cannot express. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

typedef struct pool_data {
    bool max, global;
    ir_window w;
    int64_t n, c, h, wd;  /* input [n, c, h, wd]; global: h = product of spatial dims, wd = 1 */
} pool_data;

/* ONNX pooling on NCHW: the average's divisor counts the pads only up to the declared pads (count_include_pad),
 * never the extra columns that ceil_mode adds. */
static int pool_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const pool_data *d = s->data;
    const float *x = od_ptr(p, s->args[0].mem);
    float *y = od_ptr(p, s->args[1].mem);
    int64_t nc = d->n * d->c;
    if (d->global) {
        int64_t hw = d->h;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int64_t i = 0; i < nc; i++) {
            const float *xi = x + i * hw;
            if (d->max) {
                float m = -INFINITY;
                for (int64_t j = 0; j < hw; j++)
                    m = xi[j] > m || isnan(xi[j]) ? xi[j] : m;
                y[i] = m;
            } else {
                double acc = 0;
                for (int64_t j = 0; j < hw; j++)
                    acc += xi[j];
                y[i] = (float)(acc / (double)hw);
            }
        }
        return HPK_OK;
    }
    const ir_window *w = &d->w;
    int64_t H = d->h, W = d->wd;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t i = 0; i < nc; i++) {
        const float *xi = x + i * H * W;
        float *yi = y + i * w->oh * w->ow;
        for (int64_t oy = 0; oy < w->oh; oy++)
            for (int64_t ox = 0; ox < w->ow; ox++) {
                int64_t y0 = oy * w->sh - w->pt, x0 = ox * w->sw - w->pl;
                float m = -INFINITY;
                double acc = 0;
                int64_t cnt = 0;
                for (int64_t ky = 0; ky < w->kh; ky++) {
                    int64_t iy = y0 + ky * w->dh;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int64_t kx = 0; kx < w->kw; kx++) {
                        int64_t ix = x0 + kx * w->dw;
                        if (ix < 0 || ix >= W)
                            continue;
                        float v = xi[iy * W + ix];
                        m = v > m || isnan(v) ? v : m;
                        acc += v;
                        cnt++;
                    }
                }
                if (d->max) {
                    yi[oy * w->ow + ox] = m;
                } else {
                    int64_t div = cnt;
                    if (w->count_include_pad) {
                        int64_t ye = y0 + w->kh, xe = x0 + w->kw;
                        if (ye > H + w->pb)
                            ye = H + w->pb;
                        if (xe > W + w->pr)
                            xe = W + w->pr;
                        div = (ye - y0) * (xe - x0);
                    }
                    yi[oy * w->ow + ox] = div > 0 ? (float)(acc / (double)div) : 0.0f;
                }
            }
    }
    return HPK_OK;
}

static int pool_hand(be_plan *p, int ni, pool_data *d)
{
    const ir_node *n = &p->g->nodes[ni];
    int xm, ym, rc;
    if ((rc = od_input_plain(p, n->in[0], ni, &xm)) || (rc = od_output_new(p, n->out[0], NULL, &ym))) {
        free(d);
        return rc;
    }
    od_arg args[2] = {{0, xm}, {1, ym}};
    return od_step_kernel(p, ni, pool_kernel, d, args, 2, false, d->max ? "hpk:maxpool" : "hpk:avgpool");
}

/* oneDNN pooling over value x's layout: kernel/stride/dilation/pads per spatial dim */
static int pool_dnnl(be_plan *p, int ni, dnnl_alg_kind_t alg, int sp, const dnnl_dim_t *k, const dnnl_dim_t *st,
                     const dnnl_dim_t *dl, const dnnl_dim_t *pl, const dnnl_dim_t *pr, bool *done)
{
    const ir_node *n = &p->g->nodes[ni];
    int x = n->in[0], y = n->out[0];
    int xm, rc;
    *done = false;
    if ((rc = od_value_mem(p, x, ni, &xm)))
        return rc;
    if (!p->mem[xm].has_md)
        return HPK_OK;
    dnnl_memory_desc_t xmd = p->mem[xm].md, ymd;
    od_md_any(&ymd, 2 + sp, p->shapes[y].d);
    dnnl_pooling_v2_desc_t pdsc;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg, &xmd, &ymd, st, k, dl, pl, pr);
    if (s == dnnl_success)
        s = od_pd_try(p, &pd, &pdsc, NULL);
    if (s != dnnl_success)
        return HPK_OK; /* not expressible: the caller runs the plain kernel */
    int ym;
    if ((rc = od_output_new(p, y, od_pd_md(pd, dnnl_query_dst_md, 0), &ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    od_arg args[2] = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym}};
    *done = true;
    return od_step_prim(p, ni, pd, args, 2, false);
}

static int pool(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    const ir_shape *xs = &p->shapes[n->in[0]];
    ir_window w;
    int rc;
    if ((rc = ir_pool_window(p->g, n, xs, &w, p->err)))
        return rc;
    bool max = n->op == IR_OP_MaxPool;
    int64_t ekh = (w.kh - 1) * w.dh + 1, ekw = (w.kw - 1) * w.dw + 1;
    /* oneDNN's right pad: what makes its floor formula give ONNX's output size */
    int64_t prh = (w.oh - 1) * w.sh + ekh - xs->d[2] - w.pt, prw = (w.ow - 1) * w.sw + ekw - xs->d[3] - w.pl;
    bool extra = prh > w.pb || prw > w.pr;
    if (max || !w.count_include_pad || !extra) {
        dnnl_dim_t k[2] = {w.kh, w.kw}, st[2] = {w.sh, w.sw}, dl[2] = {w.dh - 1, w.dw - 1};
        dnnl_dim_t pl[2] = {w.pt, w.pl}, pr[2] = {prh, prw};
        dnnl_alg_kind_t alg = max ? dnnl_pooling_max
                              : w.count_include_pad ? dnnl_pooling_avg_include_padding
                                                    : dnnl_pooling_avg_exclude_padding;
        bool done;
        if (prh >= 0 && prw >= 0) {
            if ((rc = pool_dnnl(p, ni, alg, 2, k, st, dl, pl, pr, &done)) || done)
                return rc;
        }
    }
    pool_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->max = max;
    d->w = w;
    d->n = xs->d[0], d->c = xs->d[1], d->h = xs->d[2], d->wd = xs->d[3];
    return pool_hand(p, ni, d);
}

static int global_pool(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    const ir_shape *xs = &p->shapes[n->in[0]];
    bool max = n->op == IR_OP_GlobalMaxPool;
    int sp = xs->rank - 2, rc;
    if (sp >= 1 && sp <= 3) {
        dnnl_dim_t k[3], st[3], dl[3] = {0}, pl[3] = {0}, pr[3] = {0};
        for (int i = 0; i < sp; i++)
            k[i] = st[i] = xs->d[2 + i];
        bool done;
        if ((rc = pool_dnnl(p, ni, max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, sp, k, st, dl, pl, pr,
                            &done)) || done)
            return rc;
    }
    pool_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->max = max;
    d->global = true;
    d->n = xs->d[0], d->c = xs->d[1], d->h = 1, d->wd = 1;
    for (int i = 2; i < xs->rank; i++)
        d->h *= xs->d[i];
    return pool_hand(p, ni, d);
}

int od_op_MaxPool(be_plan *p, int ni) { return pool(p, ni); }
int od_op_AveragePool(be_plan *p, int ni) { return pool(p, ni); }
int od_op_GlobalAveragePool(be_plan *p, int ni) { return global_pool(p, ni); }
int od_op_GlobalMaxPool(be_plan *p, int ni) { return global_pool(p, ni); }
