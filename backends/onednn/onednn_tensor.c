/* onednn_tensor.c — reshape-likes as zero-copy views, Identity, Dropout, Constant, Concat, ReduceMean/SumSquare. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

/* ---- views -------------------------------------------------------------------------------------------------- */

/* Output 0 is input 0's plain bytes with the output's shape. */
static int view_op(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int x = n->in[0], y = n->out[0], xm, rc;
    if ((rc = od_input_plain(p, x, ni, &xm)))
        return rc;
    dnnl_memory_desc_t md;
    bool has = p->mem[xm].has_md && od_md_plain(&md, &p->shapes[y], p->dtypes[y]) == 0;
    int ym = od_mem_view(p, xm, has ? &md : NULL, &p->shapes[y]);
    if (ym < 0)
        return HPK_ENOMEM;
    return od_output_set(p, y, ym);
}

int od_op_Flatten(be_plan *p, int ni) { return view_op(p, ni); }
int od_op_Reshape(be_plan *p, int ni) { return view_op(p, ni); }
int od_op_Squeeze(be_plan *p, int ni) { return view_op(p, ni); }
int od_op_Unsqueeze(be_plan *p, int ni) { return view_op(p, ni); }

int od_op_Identity(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int xm, rc;
    if ((rc = od_value_mem(p, n->in[0], ni, &xm)))
        return rc;
    return od_output_set(p, n->out[0], xm);
}

/* ---- Dropout ------------------------------------------------------------------------------------------------ */

typedef struct drop_data {
    float ratio;
    size_t n;
    int node;
} drop_data;

static int fill_ones_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const drop_data *d = s->data;
    memset(od_ptr(p, s->args[0].mem), 1, d->n);
    return HPK_OK;
}

/* splitmix64's finalizer over (seed, i): element i's draw is fixed for a seed (the reference backend's scheme) */
static uint64_t mix(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* training-mode dropout: y = x * mask / (1 - ratio), element i kept iff u_i >= ratio, u_i from (run seed + node, i) */
static int dropout_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const drop_data *d = s->data;
    const float *x = od_ptr(p, od_arg_mem(s, 0));
    float *y = od_ptr(p, od_arg_mem(s, 1));
    int mm = od_arg_mem(s, 2);
    unsigned char *mask = mm >= 0 ? od_ptr(p, mm) : NULL;
    uint64_t seed = p->seed + (uint64_t)d->node;
    float scale = 1.0f / (1.0f - d->ratio);
    for (size_t i = 0; i < d->n; i++) {
        float u = (float)(mix(seed, i) >> 40) * 0x1p-24f;
        bool keep = u >= d->ratio;
        y[i] = keep ? x[i] * scale : 0.0f;
        if (mask)
            mask[i] = keep;
    }
    return HPK_OK;
}

int od_op_Dropout(be_plan *p, int ni)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[ni];
    int x = n->in[0], y = n->out[0], rc;
    float ratio = ir_attr_float(n, "ratio", 0.5f);
    bool training = false;
    if (n->n_in > 1 && n->in[1] >= 0 && g->values[n->in[1]].init)
        ratio = *(const float *)g->values[n->in[1]].init->data;
    if (n->n_in > 2 && n->in[2] >= 0 && g->values[n->in[2]].init)
        training = *(const unsigned char *)g->values[n->in[2]].init->data != 0;
    int mask = n->n_out > 1 ? n->out[1] : -1;
    size_t cnt;
    if (ir_shape_numel(&p->shapes[x], &cnt))
        return od_fail(p, HPK_EINPUT, ni, "input is too large");
    drop_data *d = malloc(sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->ratio = ratio;
    d->n = cnt;
    d->node = ni;
    if (!training || ratio == 0.0f) {
        int xm;
        if ((rc = od_value_mem(p, x, ni, &xm)) || (rc = od_output_set(p, y, xm))) {
            free(d);
            return rc;
        }
        if (mask < 0) {
            free(d);
            return HPK_OK;
        }
        int s = od_storage_new(p, OD_ST_PERSIST, cnt, g->values[mask].name);
        int mm = s < 0 ? -1 : od_mem_new(p, s, 0, NULL, IR_DT_BOOL, &p->shapes[mask]);
        if (mm < 0) {
            free(d);
            return HPK_ENOMEM;
        }
        od_output_set(p, mask, mm);
        od_arg a = {0, mm};
        return od_step_kernel(p, ni, fill_ones_kernel, d, &a, 1, true, "hpk:ones");
    }
    int xm, ym, mm = -1;
    if ((rc = od_input_plain(p, x, ni, &xm)) || (rc = od_output_new(p, y, NULL, &ym)) ||
        (mask >= 0 && (rc = od_output_new(p, mask, NULL, &mm)))) {
        free(d);
        return rc;
    }
    od_arg args[3] = {{0, xm}, {1, ym}, {2, mm}};
    return od_step_kernel(p, ni, dropout_kernel, d, args, mask >= 0 ? 3 : 2, false, "hpk:dropout");
}

/* ---- Constant ----------------------------------------------------------------------------------------------- */

int od_op_Constant(be_plan *p, int ni)
{
    ir_node *n = &p->g->nodes[ni];
    ir_attr *a = &n->attr[0];
    int y = n->out[0];
    void *data;
    size_t bytes;
    switch (a->type) {
    case IR_ATTR_TENSOR: data = a->t->data, bytes = a->t->nbytes; break;
    case IR_ATTR_FLOAT: data = &a->f, bytes = sizeof a->f; break;
    case IR_ATTR_INT: data = &a->i, bytes = sizeof a->i; break;
    case IR_ATTR_FLOATS: data = a->floats, bytes = sizeof(float) * (size_t)a->n; break;
    case IR_ATTR_INTS: data = a->ints, bytes = sizeof(int64_t) * (size_t)a->n; break;
    default: return od_fail(p, HPK_EUNSUPPORTED, ni, "unsupported value attribute");
    }
    int s = od_storage_new(p, OD_ST_EXTERNAL, bytes, p->g->values[y].name);
    if (s < 0)
        return HPK_ENOMEM;
    p->st[s].ptr = data;
    dnnl_memory_desc_t md;
    bool has = od_md_plain(&md, &p->shapes[y], p->dtypes[y]) == 0;
    int m = od_mem_new(p, s, 0, has ? &md : NULL, p->dtypes[y], &p->shapes[y]);
    if (m < 0)
        return HPK_ENOMEM;
    return od_output_set(p, y, m);
}

/* ---- Concat ------------------------------------------------------------------------------------------------- */

typedef struct concat_data {
    int64_t outer;
    size_t out_row;   /* bytes of one outer row of the output */
    int n;
    size_t row[];     /* bytes of one outer row of each input */
} concat_data;

static int concat_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const concat_data *d = s->data;
    char *y = od_ptr(p, s->args[d->n].mem);
    for (int64_t o = 0; o < d->outer; o++) {
        char *dst = y + (size_t)o * d->out_row;
        for (int i = 0; i < d->n; i++) {
            memcpy(dst, (const char *)od_ptr(p, s->args[i].mem) + (size_t)o * d->row[i], d->row[i]);
            dst += d->row[i];
        }
    }
    return HPK_OK;
}

int od_op_Concat(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int y = n->out[0], rc;
    const ir_shape *ys = &p->shapes[y];
    int r = ys->rank;
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += r;
    od_arg *args = calloc((size_t)n->n_in + 1, sizeof *args);
    if (!args)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    if (p->dtypes[y] == IR_DT_F32 && n->n_in <= 4096) {
        dnnl_memory_desc_t *mds = calloc((size_t)n->n_in, sizeof *mds);
        bool ok = mds != NULL;
        for (int i = 0; ok && i < n->n_in; i++) {
            int m;
            if ((rc = od_value_mem(p, n->in[i], ni, &m))) {
                free(mds), free(args);
                return rc;
            }
            ok = p->mem[m].has_md;
            if (ok)
                mds[i] = p->mem[m].md;
            args[i] = (od_arg){DNNL_ARG_MULTIPLE_SRC + i, m};
        }
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_attr_t attr = NULL;
        dnnl_status_t s = dnnl_unimplemented;
        if (ok && !(rc = od_attr_new(p, &attr, ni))) {
            dnnl_memory_desc_t any;
            od_md_any(&any, r, ys->d);
            s = dnnl_concat_primitive_desc_create(&pd, &any, n->n_in, (int)axis, mds, attr, p->eng);
            dnnl_primitive_attr_destroy(attr);
        }
        free(mds);
        if (s == dnnl_success) {
            int ym;
            if ((rc = od_output_new(p, y, od_pd_md(pd, dnnl_query_dst_md, 0), &ym))) {
                dnnl_primitive_desc_destroy(pd);
                free(args);
                return rc;
            }
            args[n->n_in] = (od_arg){DNNL_ARG_DST, ym};
            rc = od_step_prim(p, ni, pd, args, n->n_in + 1, false);
            free(args);
            return rc;
        }
    }
    /* any dtype: plain rows */
    concat_data *d = calloc(1, sizeof *d + sizeof(size_t) * (size_t)n->n_in);
    if (!d) {
        free(args);
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    }
    size_t es = ir_dtype_size(p->dtypes[y]);
    d->n = n->n_in;
    d->outer = 1;
    for (int i = 0; i < axis; i++)
        d->outer *= ys->d[i];
    for (int i = 0; i < n->n_in; i++) {
        const ir_shape *xs = &p->shapes[n->in[i]];
        size_t row = es;
        for (int k = (int)axis; k < r; k++)
            row *= (size_t)xs->d[k];
        d->row[i] = row;
        d->out_row += row;
        int m;
        if ((rc = od_input_plain(p, n->in[i], ni, &m))) {
            free(d), free(args);
            return rc;
        }
        args[i] = (od_arg){i, m};
    }
    int ym;
    if ((rc = od_output_new(p, y, NULL, &ym))) {
        free(d), free(args);
        return rc;
    }
    args[n->n_in] = (od_arg){n->n_in, ym};
    rc = od_step_kernel(p, ni, concat_kernel, d, args, n->n_in + 1, false, "hpk:concat");
    free(args);
    return rc;
}

/* ---- ReduceMean, ReduceSumSquare ------------------------------------------------------------------------ */

typedef struct reduce_data {
    bool sumsq;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t ost[IR_MAX_RANK]; /* output strides, 0 along reduced dims */
    size_t out_n;
    double div;
} reduce_data;

static int reduce_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    const reduce_data *d = s->data;
    const float *x = od_ptr(p, s->args[0].mem);
    float *y = od_ptr(p, s->args[1].mem);
    double *acc = calloc(d->out_n ? d->out_n : 1, sizeof *acc);
    if (!acc)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in a reduction");
    size_t total = 1;
    for (int i = 0; i < d->rank; i++)
        total *= (size_t)d->dims[i];
    int64_t idx[IR_MAX_RANK] = {0};
    size_t o = 0;
    for (size_t i = 0; i < total; i++) {
        acc[o] += d->sumsq ? (double)x[i] * x[i] : x[i];
        for (int k = d->rank - 1; k >= 0; k--) {
            o += (size_t)d->ost[k];
            if (++idx[k] < d->dims[k])
                break;
            o -= (size_t)(d->ost[k] * d->dims[k]);
            idx[k] = 0;
        }
    }
    for (size_t i = 0; i < d->out_n; i++)
        y[i] = (float)(d->sumsq ? acc[i] : acc[i] / d->div);
    free(acc);
    return HPK_OK;
}

static int reduce(be_plan *p, int ni, bool sumsq)
{
    const ir_node *n = &p->g->nodes[ni];
    int x = n->in[0], y = n->out[0], rc;
    const ir_shape *xs = &p->shapes[x];
    int64_t axes[IR_MAX_RANK];
    int na = ir_node_axes(p->g, n, axes, p->err);
    if (na < 0)
        return p->err && p->err->code ? p->err->code : HPK_EINPUT;
    bool noop = na == 0 && ir_attr_int(n, "noop_with_empty_axes", 0) != 0;
    if (noop && !sumsq) { /* the input itself */
        int xm;
        if ((rc = od_value_mem(p, x, ni, &xm)))
            return rc;
        return od_output_set(p, y, xm);
    }
    bool red[IR_MAX_RANK] = {false};
    for (int i = 0; i < na; i++)
        red[axes[i] < 0 ? axes[i] + xs->rank : axes[i]] = true;
    if (na == 0 && !noop)
        for (int i = 0; i < xs->rank; i++)
            red[i] = true;
    ir_shape ks = *xs; /* the output with kept dims */
    double div = 1;
    for (int i = 0; i < xs->rank; i++)
        if (red[i]) {
            div *= (double)xs->d[i];
            ks.d[i] = 1;
        }
    int xm, ym;
    dnnl_memory_desc_t kmd;
    if ((rc = od_value_mem(p, x, ni, &xm)))
        return rc;
    if (xs->rank >= 1 && p->mem[xm].has_md && !od_md_plain(&kmd, &ks, IR_DT_F32) && !ir_shape_eq(&ks, xs) &&
        div > 0) {
        dnnl_reduction_desc_t rd;
        dnnl_primitive_desc_t pd;
        dnnl_memory_desc_t xmd = p->mem[xm].md;
        dnnl_status_t s = dnnl_reduction_desc_init(&rd, sumsq ? dnnl_reduction_norm_lp_power_p_sum : dnnl_reduction_mean,
                                                   &xmd, &kmd, sumsq ? 2.0f : 0.0f, 0.0f);
        if (s == dnnl_success && od_pd_try(p, &pd, &rd, NULL) == dnnl_success) {
            int km;
            if ((rc = od_output_new(p, y, NULL, &ym))) {
                dnnl_primitive_desc_destroy(pd);
                return rc;
            }
            if ((km = od_mem_view(p, ym, &kmd, &ks)) < 0) {
                dnnl_primitive_desc_destroy(pd);
                return HPK_ENOMEM;
            }
            od_arg args[2] = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, km}};
            return od_step_prim(p, ni, pd, args, 2, false);
        }
    }
    reduce_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->sumsq = sumsq;
    d->rank = xs->rank;
    d->div = div > 0 ? div : NAN;
    int64_t acc = 1;
    for (int i = xs->rank - 1; i >= 0; i--) {
        d->dims[i] = xs->d[i];
        d->ost[i] = red[i] ? 0 : acc;
        acc *= ks.d[i];
    }
    d->out_n = (size_t)acc;
    if ((rc = od_input_plain(p, x, ni, &xm)) || (rc = od_output_new(p, y, NULL, &ym))) {
        free(d);
        return rc;
    }
    od_arg args[2] = {{0, xm}, {1, ym}};
    return od_step_kernel(p, ni, reduce_kernel, d, args, 2, false, sumsq ? "hpk:reduce_sum_square" : "hpk:reduce_mean");
}

int od_op_ReduceMean(be_plan *p, int ni) { return reduce(p, ni, false); }
int od_op_ReduceSumSquare(be_plan *p, int ni) { return reduce(p, ni, true); }
