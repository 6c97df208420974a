/* onednn_conv.c — Conv on oneDNN: blocked layouts, BatchNormalization folded into weights, fused post-ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

enum { FOLD_W, FOLD_B, FOLD_SCALE, FOLD_SHIFT, FOLD_MEAN, FOLD_VAR, FOLD_WOUT, FOLD_BOUT };

typedef struct fold_data {
    int64_t m, k; /* output channels, weights per output channel */
    float eps;
} fold_data;

/* W'[m,:] = W[m,:] * s[m], b'[m] = (b[m] - mean[m]) * s[m] + shift[m], s = scale / sqrt(var + eps) */
static int fold_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const fold_data *d = s->data;
    const float *w = od_ptr(p, od_arg_mem(s, FOLD_W));
    int bm = od_arg_mem(s, FOLD_B);
    const float *b = bm >= 0 ? od_ptr(p, bm) : NULL;
    const float *sc = od_ptr(p, od_arg_mem(s, FOLD_SCALE)), *sh = od_ptr(p, od_arg_mem(s, FOLD_SHIFT));
    const float *mean = od_ptr(p, od_arg_mem(s, FOLD_MEAN)), *var = od_ptr(p, od_arg_mem(s, FOLD_VAR));
    float *wo = od_ptr(p, od_arg_mem(s, FOLD_WOUT)), *bo = od_ptr(p, od_arg_mem(s, FOLD_BOUT));
    for (int64_t m = 0; m < d->m; m++) {
        double a = (double)sc[m] / sqrt((double)var[m] + (double)d->eps);
        for (int64_t j = 0; j < d->k; j++)
            wo[m * d->k + j] = (float)((double)w[m * d->k + j] * a);
        bo[m] = (float)(((b ? (double)b[m] : 0.0) - (double)mean[m]) * a + (double)sh[m]);
    }
    return HPK_OK;
}

/* The BatchNormalization node that reads only this conv's output and can be folded into it, or -1. */
static int bn_to_fold(const be_plan *p, int ni)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[ni];
    int y = n->out[0];
    if (!p->fuse || p->vals[y].keep || p->vals[y].readers != 1)
        return -1;
    int r = p->vals[y].reader;
    const ir_node *bn = &g->nodes[r];
    if (bn->op != IR_OP_BatchNormalization || p->absorbed[r] || bn->in[0] != y)
        return -1;
    if (ir_attr_int(bn, "training_mode", 0) != 0)
        return -1;
    for (int j = 1; j < bn->n_out; j++)
        if (bn->out[j] >= 0 && p->vals[bn->out[j]].readers > 0)
            return -1;
    for (int j = 1; j < 5; j++)
        if (!od_value_const(p, bn->in[j]))
            return -1;
    if (!od_value_const(p, n->in[1]) || (n->n_in > 2 && n->in[2] >= 0 && !od_value_const(p, n->in[2])))
        return -1;
    return r;
}

typedef struct conv_geom {
    dnnl_dims_t src, wei, bias, dst, strides, dil, pl, pr;
    int wnd;
} conv_geom;

static dnnl_status_t conv_pd(be_plan *p, const conv_geom *cg, const dnnl_memory_desc_t *src,
                             const dnnl_memory_desc_t *dst, bool bias, const_dnnl_primitive_attr_t attr,
                             dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t wmd, bmd;
    dnnl_convolution_desc_t cd;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&wmd, cg->wnd, cg->wei, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success && bias)
        s = dnnl_memory_desc_init_by_tag(&bmd, 1, cg->bias, dnnl_f32, dnnl_a);
    if (s == dnnl_success)
        s = dnnl_dilated_convolution_forward_desc_init(&cd, (dnnl_prop_kind_t)od_prop(p), dnnl_convolution_direct, src,
                                                       &wmd, bias ? &bmd : NULL, dst, cg->strides, cg->dil, cg->pl,
                                                       cg->pr);
    if (s != dnnl_success)
        return s;
    return od_pd_try(p, pd, &cd, attr);
}

int od_op_Conv(be_plan *p, int ni)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[ni];
    int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1;
    ir_window win;
    int rc;
    if ((rc = ir_conv_window(n, &p->shapes[x], &p->shapes[w], &win, p->err)))
        return rc;
    const ir_shape *xs = &p->shapes[x], *ws = &p->shapes[w];
    int64_t M = ws->d[0], G = win.group;
    conv_geom cg;
    memset(&cg, 0, sizeof cg);
    for (int i = 0; i < 4; i++)
        cg.src[i] = xs->d[i];
    cg.dst[0] = xs->d[0], cg.dst[1] = M, cg.dst[2] = win.oh, cg.dst[3] = win.ow;
    if (G > 1) {
        cg.wnd = 5;
        cg.wei[0] = G, cg.wei[1] = M / G, cg.wei[2] = ws->d[1], cg.wei[3] = ws->d[2], cg.wei[4] = ws->d[3];
    } else {
        cg.wnd = 4;
        for (int i = 0; i < 4; i++)
            cg.wei[i] = ws->d[i];
    }
    cg.bias[0] = M;
    cg.strides[0] = win.sh, cg.strides[1] = win.sw;
    cg.dil[0] = win.dh - 1, cg.dil[1] = win.dw - 1;
    cg.pl[0] = win.pt, cg.pl[1] = win.pl;
    cg.pr[0] = win.pb, cg.pr[1] = win.pr;

    /* weights and bias: the initializers, or BatchNormalization folded into them at prepare time */
    int wm, bm = -1;
    int bn = bn_to_fold(p, ni);
    if ((rc = od_value_mem(p, w, ni, &wm)) || (b >= 0 && (rc = od_value_mem(p, b, ni, &bm))))
        return rc;
    bool wconst = od_value_const(p, w);
    int base_out = n->out[0];
    if (bn >= 0) {
        const ir_node *bnn = &g->nodes[bn];
        fold_data *fd = malloc(sizeof *fd);
        if (!fd)
            return od_fail(p, HPK_ENOMEM, ni, "out of memory");
        fd->m = M;
        fd->k = ws->d[1] * ws->d[2] * ws->d[3];
        fd->eps = ir_attr_float(bnn, "epsilon", 1e-5f);
        int sw = od_storage_new(p, OD_ST_PERSIST, p->mem[wm].has_md ? od_md_size(&p->mem[wm].md) : 0, g->values[w].name);
        int sb = od_storage_new(p, OD_ST_PERSIST, (size_t)M * sizeof(float), g->values[w].name);
        if (sw < 0 || sb < 0) {
            free(fd);
            return HPK_ENOMEM;
        }
        ir_shape bshape = {1, {M}};
        int nwm = od_mem_new(p, sw, 0, &p->mem[wm].md, IR_DT_F32, ws);
        dnnl_memory_desc_t bmd;
        od_md_plain(&bmd, &bshape, IR_DT_F32);
        int nbm = od_mem_new(p, sb, 0, &bmd, IR_DT_F32, &bshape);
        if (nwm < 0 || nbm < 0) {
            free(fd);
            return HPK_ENOMEM;
        }
        od_arg args[8];
        int na = 0;
        args[na++] = (od_arg){FOLD_W, wm};
        if (bm >= 0)
            args[na++] = (od_arg){FOLD_B, bm};
        for (int j = 1; j < 5; j++) {
            int mm;
            if ((rc = od_value_mem(p, bnn->in[j], ni, &mm))) {
                free(fd);
                return rc;
            }
            args[na++] = (od_arg){FOLD_SCALE + j - 1, mm};
        }
        args[na++] = (od_arg){FOLD_WOUT, nwm};
        args[na++] = (od_arg){FOLD_BOUT, nbm};
        if ((rc = od_step_kernel(p, ni, fold_kernel, fd, args, na, true, "hpk:bn_fold")))
            return rc;
        wm = nwm;
        bm = nbm;
        base_out = bnn->out[0];
        p->absorbed[bn] = true;
    }

    /* post-ops: the longest fusable chain oneDNN accepts */
    od_chain ch;
    od_chain_find(p, bn >= 0 ? bn : ni, base_out, true, &ch);
    dnnl_memory_desc_t src_any, dst_any;
    od_md_any(&src_any, 4, xs->d);
    od_md_any(&dst_any, 4, (const int64_t *)cg.dst);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int k;
    dnnl_status_t ds = dnnl_unimplemented;
    for (k = ch.n; k >= 0; k--) {
        if (!od_chain_cut_ok(&ch, k))
            continue;
        int other = -1;
        const dnnl_memory_desc_t *dst = &dst_any;
        if (od_chain_has_sum(&ch, k, &other))
            dst = &p->mem[p->vals[other].mem].md;
        if ((rc = od_attr_new(p, &attr, ni)))
            return rc;
        if ((rc = od_chain_post_ops(p, &ch, k, attr, ni))) {
            dnnl_primitive_attr_destroy(attr);
            return rc;
        }
        ds = conv_pd(p, &cg, &src_any, dst, bm >= 0, attr, &pd);
        if (ds == dnnl_success) {
            /* keep the input's layout if oneDNN runs the same implementation on it (saves a reorder) */
            int xm = p->vals[x].mem;
            const dnnl_memory_desc_t *want = od_pd_md(pd, dnnl_query_src_md, 0);
            if (xm >= 0 && p->mem[xm].has_md && !od_md_eq(want, &p->mem[xm].md)) {
                dnnl_primitive_desc_t pd2;
                if (conv_pd(p, &cg, &p->mem[xm].md, dst, bm >= 0, attr, &pd2) == dnnl_success) {
                    if (strcmp(od_pd_impl(pd2), od_pd_impl(pd)) == 0) {
                        dnnl_primitive_desc_destroy(pd);
                        pd = pd2;
                    } else {
                        dnnl_primitive_desc_destroy(pd2);
                    }
                }
            }
            dnnl_primitive_attr_destroy(attr);
            break;
        }
        dnnl_primitive_attr_destroy(attr);
    }
    if (ds != dnnl_success)
        return od_dnnl_fail(p, ds, ni, "convolution");

    int sm, dm, other = -1;
    if ((rc = od_input_as(p, x, ni, od_pd_md(pd, dnnl_query_src_md, 0), &sm)))
        goto fail;
    /* weights: plain goihw/oihw view of the (folded) weights, reordered to oneDNN's layout */
    dnnl_memory_desc_t wplain;
    if (dnnl_memory_desc_init_by_tag(&wplain, cg.wnd, cg.wei, dnnl_f32, cg.wnd == 5 ? dnnl_goihw : dnnl_oihw) !=
        dnnl_success) {
        rc = od_fail(p, HPK_EINTERNAL, ni, "weights descriptor");
        goto fail;
    }
    int wv = od_mem_view(p, wm, &wplain, NULL);
    if (wv < 0) {
        rc = HPK_ENOMEM;
        goto fail;
    }
    const dnnl_memory_desc_t *wwant = od_pd_md(pd, dnnl_query_weights_md, 0);
    bool once = bn >= 0 || wconst;
    if (!od_md_eq(wwant, &wplain)) {
        if ((rc = od_reorder(p, ni, wv, wwant, once, &wv)))
            goto fail;
    }
    const dnnl_memory_desc_t *dmd = od_pd_md(pd, dnnl_query_dst_md, 0);
    if (od_chain_has_sum(&ch, k, &other)) {
        dm = p->vals[other].mem;
    } else if ((rc = od_output_new(p, k > 0 ? ch.out[k - 1] : base_out, dmd, &dm))) {
        goto fail;
    }
    if (k == 0 && (rc = od_output_set(p, base_out, dm)))
        goto fail;
    if ((rc = od_chain_commit(p, &ch, k, dm)))
        goto fail;
    od_arg args[4];
    int na = 0;
    args[na++] = (od_arg){DNNL_ARG_SRC, sm};
    args[na++] = (od_arg){DNNL_ARG_WEIGHTS, wv};
    if (bm >= 0)
        args[na++] = (od_arg){DNNL_ARG_BIAS, bm};
    args[na++] = (od_arg){DNNL_ARG_DST, dm};
    return od_step_prim(p, ni, pd, args, na, false);
fail:
    dnnl_primitive_desc_destroy(pd);
    return rc;
}
