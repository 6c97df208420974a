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

/* A conv node's geometry and its plain weights and bias (BatchNormalization folded in when it can be). */
typedef struct conv_part {
    int node;
    ir_window win;
    conv_geom cg;
    int wm, bm;    /* plain (goihw/oihw view) weights and [M] bias; bm -1 if none */
    int bn;        /* the folded BatchNormalization node, or -1 */
    int base_out;  /* the conv's (or the folded BN's) output value */
    bool wconst;   /* weights known at prepare time */
} conv_part;

static int conv_prep(be_plan *p, int ni, bool allow_fold, conv_part *cp)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[ni];
    int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1;
    int rc;
    memset(cp, 0, sizeof *cp);
    cp->node = ni;
    cp->bm = -1;
    if ((rc = ir_conv_window(n, &p->shapes[x], &p->shapes[w], &cp->win, p->err)))
        return rc;
    const ir_shape *xs = &p->shapes[x], *ws = &p->shapes[w];
    const ir_window *win = &cp->win;
    int64_t M = ws->d[0], G = win->group;
    conv_geom *cg = &cp->cg;
    for (int i = 0; i < 4; i++)
        cg->src[i] = xs->d[i];
    cg->dst[0] = xs->d[0], cg->dst[1] = M, cg->dst[2] = win->oh, cg->dst[3] = win->ow;
    if (G > 1) {
        cg->wnd = 5;
        cg->wei[0] = G, cg->wei[1] = M / G, cg->wei[2] = ws->d[1], cg->wei[3] = ws->d[2], cg->wei[4] = ws->d[3];
    } else {
        cg->wnd = 4;
        for (int i = 0; i < 4; i++)
            cg->wei[i] = ws->d[i];
    }
    cg->bias[0] = M;
    cg->strides[0] = win->sh, cg->strides[1] = win->sw;
    cg->dil[0] = win->dh - 1, cg->dil[1] = win->dw - 1;
    cg->pl[0] = win->pt, cg->pl[1] = win->pl;
    cg->pr[0] = win->pb, cg->pr[1] = win->pr;

    int wm, bm = -1;
    if ((rc = od_value_mem(p, w, ni, &wm)) || (b >= 0 && (rc = od_value_mem(p, b, ni, &bm))))
        return rc;
    cp->wconst = od_value_const(p, w) && (b < 0 || od_value_const(p, b));
    cp->bn = allow_fold ? bn_to_fold(p, ni) : -1;
    cp->base_out = n->out[0];
    if (cp->bn >= 0) {
        const ir_node *bnn = &g->nodes[cp->bn];
        fold_data *fd = malloc(sizeof *fd);
        if (!fd)
            return od_fail(p, HPK_ENOMEM, ni, "out of memory");
        fd->m = M;
        fd->k = ws->d[1] * ws->d[2] * ws->d[3];
        fd->eps = ir_attr_float(bnn, "epsilon", 1e-5f);
        int sw = od_storage_new(p, OD_ST_PERSIST, od_md_size(&p->mem[wm].md), g->values[w].name);
        int sb = od_storage_new(p, OD_ST_PERSIST, (size_t)M * sizeof(float), g->values[w].name);
        if (sw < 0 || sb < 0) {
            free(fd);
            return HPK_ENOMEM;
        }
        ir_shape bshape = {1, {M}};
        dnnl_memory_desc_t bmd;
        od_md_plain(&bmd, &bshape, IR_DT_F32);
        int nwm = od_mem_new(p, sw, 0, &p->mem[wm].md, IR_DT_F32, ws);
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
        cp->wconst = true;
        cp->base_out = bnn->out[0];
    }
    /* the weights seen as oneDNN's plain goihw (groups) or oihw */
    dnnl_memory_desc_t wplain;
    if (dnnl_memory_desc_init_by_tag(&wplain, cg->wnd, cg->wei, dnnl_f32, cg->wnd == 5 ? dnnl_goihw : dnnl_oihw) !=
        dnnl_success)
        return od_fail(p, HPK_EINTERNAL, ni, "weights descriptor");
    if ((cp->wm = od_mem_view(p, wm, &wplain, NULL)) < 0)
        return HPK_ENOMEM;
    cp->bm = bm;
    return HPK_OK;
}

/* weights in the layout `want` (reordered once if they are known at prepare time) */
static int conv_weights(be_plan *p, const conv_part *cp, const dnnl_memory_desc_t *want, int *out)
{
    if (od_md_eq(want, &p->mem[cp->wm].md)) {
        *out = cp->wm;
        return HPK_OK;
    }
    return od_reorder(p, cp->node, cp->wm, want, cp->wconst, out);
}

/* The depthwise 3x3 pad-1 conv reading only value v that oneDNN can fuse after a 1x1 conv, or -1. */
static int dw_to_fuse(be_plan *p, int v)
{
    const ir_graph *g = p->g;
    const od_value *val = &p->vals[v];
    if (!p->fuse || val->keep || val->readers != 1 || p->dtypes[v] != IR_DT_F32)
        return -1;
    int r = val->reader;
    const ir_node *n = &g->nodes[r];
    if (n->op != IR_OP_Conv || p->absorbed[r] || n->in[0] != v || n->in[1] == v || (n->n_in > 2 && n->in[2] == v))
        return -1;
    ir_window w;
    const ir_shape *xs = &p->shapes[v], *ws = &p->shapes[n->in[1]];
    if (ir_conv_window(n, xs, ws, &w, NULL))
        return -1;
    if (w.group != xs->d[1] || ws->d[0] != xs->d[1] || w.kh != 3 || w.kw != 3 || w.sh != w.sw ||
        (w.sh != 1 && w.sh != 2) || w.dh != 1 || w.dw != 1 || w.pt != 1 || w.pl != 1 || w.pb != 1 || w.pr != 1)
        return -1;
    if (!od_value_const(p, n->in[1]) || (n->n_in > 2 && n->in[2] >= 0 && !od_value_const(p, n->in[2])))
        return -1;
    return r;
}

static bool is_plain_1x1(const conv_part *cp)
{
    const ir_window *w = &cp->win;
    return w->kh == 1 && w->kw == 1 && w->sh == 1 && w->sw == 1 && w->pt == 0 && w->pl == 0 && w->pb == 0 &&
           w->pr == 0 && w->group == 1;
}

/* 1x1 conv [+ eltwise chain] + depthwise 3x3 [+ folded BN + eltwise chain] as one oneDNN primitive with a dw
 * post-op; *done false if oneDNN refuses it (the nodes then run apart). */
static int conv_dw_fused(be_plan *p, const conv_part *a, const od_chain *ch, bool *done)
{
    int ni = a->node, rc;
    *done = false;
    int v = ch->n > 0 ? ch->out[ch->n - 1] : a->base_out;
    int other;
    if (od_chain_has_sum(ch, ch->n, &other))
        return HPK_OK;
    int dwn = dw_to_fuse(p, v);
    if (dwn < 0)
        return HPK_OK;
    conv_part b;
    if ((rc = conv_prep(p, dwn, true, &b)))
        return rc;
    od_chain ch2;
    od_chain_find(p, b.bn >= 0 ? b.bn : dwn, b.base_out, false, &ch2);
    dnnl_memory_desc_t src_any, dst_any;
    od_md_any(&src_any, 4, (const int64_t *)a->cg.src);
    od_md_any(&dst_any, 4, (const int64_t *)a->cg.dst);
    dnnl_primitive_desc_t pd = NULL;
    int k2;
    for (k2 = ch2.n; k2 >= 0; k2--) {
        dnnl_primitive_attr_t attr;
        dnnl_post_ops_t po;
        if (!od_chain_cut_ok(&ch2, k2))
            continue;
        if ((rc = od_attr_new(p, &attr, ni)))
            return rc;
        dnnl_status_t s = dnnl_post_ops_create(&po);
        if (s != dnnl_success) {
            dnnl_primitive_attr_destroy(attr);
            return od_dnnl_fail(p, s, ni, "post-ops creation");
        }
        for (int i = 0; i < ch->n && s == dnnl_success; i++)
            s = dnnl_post_ops_append_eltwise(po, 1.0f, ch->post[i].alg, ch->post[i].alpha, ch->post[i].beta);
        if (s == dnnl_success)
            s = dnnl_post_ops_append_dw(po, dnnl_f32, dnnl_f32, dnnl_f32, 3, b.win.sh, 1, 0, 0, NULL);
        for (int i = 0; i < k2 && s == dnnl_success; i++)
            s = dnnl_post_ops_append_eltwise(po, 1.0f, ch2.post[i].alg, ch2.post[i].alpha, ch2.post[i].beta);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
        if (s == dnnl_success)
            s = conv_pd(p, &a->cg, &src_any, &dst_any, a->bm >= 0, attr, &pd);
        dnnl_primitive_attr_destroy(attr);
        if (s == dnnl_success)
            break;
    }
    if (!pd)
        return HPK_OK;
    /* the pd's dst is the depthwise conv's output */
    const dnnl_memory_desc_t *dmd = od_pd_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *dwmd = od_pd_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
    const dnnl_memory_desc_t *dbmd = od_pd_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS);
    if (!dmd || !dwmd || dmd->dims[2] != b.cg.dst[2] || dmd->dims[3] != b.cg.dst[3] || dmd->dims[1] != b.cg.dst[1]) {
        dnnl_primitive_desc_destroy(pd);
        return HPK_OK;
    }
    int sm, wm, dwm, dbm = -1, dm;
    int x = p->g->nodes[ni].in[0];
    int fin = k2 > 0 ? ch2.out[k2 - 1] : b.base_out;
    if ((rc = od_input_as(p, x, ni, od_pd_md(pd, dnnl_query_src_md, 0), &sm)) ||
        (rc = conv_weights(p, a, od_pd_md(pd, dnnl_query_weights_md, 0), &wm)) ||
        (rc = conv_weights(p, &b, dwmd, &dwm)))
        goto fail;
    if (b.bm >= 0) {
        dbm = b.bm;
        if (dbmd && dbmd->ndims > 0 && !od_md_eq(dbmd, &p->mem[b.bm].md) &&
            (rc = od_reorder(p, ni, b.bm, dbmd, b.wconst, &dbm)))
            goto fail;
    } else if (dbmd && dbmd->ndims > 0) { /* the fused dw always adds a bias: zeros */
        int st = od_storage_new(p, OD_ST_PERSIST, od_md_size(dbmd), "dw bias");
        if (st < 0 || (dbm = od_mem_new(p, st, 0, dbmd, IR_DT_F32, NULL)) < 0) {
            rc = HPK_ENOMEM;
            goto fail;
        }
    }
    if ((rc = od_output_new(p, fin, dmd, &dm)))
        goto fail;
    /* absorbed: the 1x1's BN and chain, the dw conv, its BN and chain */
    if (a->bn >= 0)
        p->absorbed[a->bn] = true;
    if ((rc = od_chain_commit(p, ch, ch->n, dm)))
        goto fail;
    p->absorbed[dwn] = true;
    if (b.bn >= 0)
        p->absorbed[b.bn] = true;
    if ((rc = od_chain_commit(p, &ch2, k2, dm)) || (rc = od_output_set(p, fin, dm)))
        goto fail;
    od_arg args[7];
    int na = 0;
    args[na++] = (od_arg){DNNL_ARG_SRC, sm};
    args[na++] = (od_arg){DNNL_ARG_WEIGHTS, wm};
    if (a->bm >= 0)
        args[na++] = (od_arg){DNNL_ARG_BIAS, a->bm};
    args[na++] = (od_arg){DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, dwm};
    if (dbm >= 0)
        args[na++] = (od_arg){DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, dbm};
    args[na++] = (od_arg){DNNL_ARG_DST, dm};
    *done = true;
    return od_step_prim(p, ni, pd, args, na, false);
fail:
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

int od_op_Conv(be_plan *p, int ni)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[ni];
    int x = n->in[0];
    int rc;
    conv_part a;
    if ((rc = conv_prep(p, ni, true, &a)))
        return rc;

    /* post-ops: the longest fusable chain oneDNN accepts */
    od_chain ch;
    od_chain_find(p, a.bn >= 0 ? a.bn : ni, a.base_out, true, &ch);
    if (is_plain_1x1(&a) && !getenv("HPK_ONEDNN_NO_DW_FUSION")) {
        bool done;
        if ((rc = conv_dw_fused(p, &a, &ch, &done)) || done)
            return rc;
    }
    dnnl_memory_desc_t src_any, dst_any;
    od_md_any(&src_any, 4, (const int64_t *)a.cg.src);
    od_md_any(&dst_any, 4, (const int64_t *)a.cg.dst);
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
        ds = conv_pd(p, &a.cg, &src_any, dst, a.bm >= 0, attr, &pd);
        if (ds == dnnl_success) {
            /* keep the input's layout if oneDNN runs the same implementation on it (saves a reorder) */
            int xm = p->vals[x].mem;
            const dnnl_memory_desc_t *want = od_pd_md(pd, dnnl_query_src_md, 0);
            if (xm >= 0 && p->mem[xm].has_md && !od_md_eq(want, &p->mem[xm].md)) {
                dnnl_primitive_desc_t pd2;
                if (conv_pd(p, &a.cg, &p->mem[xm].md, dst, a.bm >= 0, attr, &pd2) == dnnl_success) {
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

    int sm, wm, dm, other = -1;
    if ((rc = od_input_as(p, x, ni, od_pd_md(pd, dnnl_query_src_md, 0), &sm)) ||
        (rc = conv_weights(p, &a, od_pd_md(pd, dnnl_query_weights_md, 0), &wm)))
        goto fail;
    const dnnl_memory_desc_t *dmd = od_pd_md(pd, dnnl_query_dst_md, 0);
    if (od_chain_has_sum(&ch, k, &other)) {
        dm = p->vals[other].mem;
    } else if ((rc = od_output_new(p, k > 0 ? ch.out[k - 1] : a.base_out, dmd, &dm))) {
        goto fail;
    }
    if (a.bn >= 0)
        p->absorbed[a.bn] = true;
    if ((k == 0 && (rc = od_output_set(p, a.base_out, dm))) || (rc = od_chain_commit(p, &ch, k, dm)))
        goto fail;
    od_arg args[4];
    int na = 0;
    args[na++] = (od_arg){DNNL_ARG_SRC, sm};
    args[na++] = (od_arg){DNNL_ARG_WEIGHTS, wm};
    if (a.bm >= 0)
        args[na++] = (od_arg){DNNL_ARG_BIAS, a.bm};
    args[na++] = (od_arg){DNNL_ARG_DST, dm};
    return od_step_prim(p, ni, pd, args, na, false);
fail:
    dnnl_primitive_desc_destroy(pd);
    return rc;
}
