/* onednn_binary.c — Add/Sub/Mul/Div on oneDNN binary (with fused activations), a broadcasting kernel, Pow. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

/* numpy broadcasting on plain layouts: strides are 0 along broadcast dims */
typedef struct bcast_data {
    int op;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
    ir_dtype bdt; /* Pow: the exponent's dtype */
} bcast_data;

static inline float bcast_get_b(const void *b, ir_dtype dt, int64_t i)
{
    switch (dt) {
    case IR_DT_I64: return (float)((const int64_t *)b)[i];
    case IR_DT_I32: return (float)((const int32_t *)b)[i];
    default: return ((const float *)b)[i];
    }
}

static int bcast_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const bcast_data *d = s->data;
    const float *a = od_ptr(p, s->args[0].mem);
    const void *b = od_ptr(p, s->args[1].mem);
    float *y = od_ptr(p, s->args[2].mem);
    int r = d->rank;
    int64_t inner = r > 0 ? d->dims[r - 1] : 1, outer = 1;
    for (int i = 0; i < r - 1; i++)
        outer *= d->dims[i];
    int64_t ia_s = r > 0 ? d->sa[r - 1] : 0, ib_s = r > 0 ? d->sb[r - 1] : 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t o = 0; o < outer; o++) {
        int64_t rem = o, oa = 0, ob = 0;
        for (int i = r - 2; i >= 0; i--) {
            int64_t k = rem % d->dims[i];
            rem /= d->dims[i];
            oa += k * d->sa[i];
            ob += k * d->sb[i];
        }
        float *yo = y + o * inner;
        for (int64_t j = 0; j < inner; j++) {
            float x = a[oa + j * ia_s], z = bcast_get_b(b, d->bdt, ob + j * ib_s);
            float v;
            switch (d->op) {
            case IR_OP_Add: v = x + z; break;
            case IR_OP_Sub: v = x - z; break;
            case IR_OP_Mul: v = x * z; break;
            case IR_OP_Div: v = x / z; break;
            default: v = powf(x, z); break;
            }
            yo[j] = v;
        }
    }
    return HPK_OK;
}

/* the shape s right-aligned to rank r (leading ones) */
static ir_shape pad_shape(const ir_shape *s, int r)
{
    ir_shape o;
    o.rank = r;
    for (int i = 0; i < r; i++) {
        int k = i - (r - s->rank);
        o.d[i] = k >= 0 ? s->d[k] : 1;
    }
    return o;
}

static void dense_strides(const ir_shape *s, const ir_shape *out, int64_t *st)
{
    int64_t acc = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        st[i] = (s->d[i] == 1 && out->d[i] != 1) ? 0 : acc;
        acc *= s->d[i];
    }
}

static int bcast_step(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int a = n->in[0], b = n->in[1], y = n->out[0];
    int am, bm, ym, rc;
    const ir_shape *so = &p->shapes[y];
    bcast_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->op = n->op;
    d->rank = so->rank;
    d->bdt = p->dtypes[b];
    ir_shape pa = pad_shape(&p->shapes[a], so->rank), pb = pad_shape(&p->shapes[b], so->rank);
    for (int i = 0; i < so->rank; i++)
        d->dims[i] = so->d[i];
    dense_strides(&pa, so, d->sa);
    dense_strides(&pb, so, d->sb);
    if ((rc = od_input_plain(p, a, ni, &am)) || (rc = od_input_plain(p, b, ni, &bm)) ||
        (rc = od_output_new(p, y, NULL, &ym))) {
        free(d);
        return rc;
    }
    od_arg args[3] = {{0, am}, {1, bm}, {2, ym}};
    return od_step_kernel(p, ni, bcast_kernel, d, args, 3, false, "hpk:broadcast");
}

static int plain_view(be_plan *p, int v, int ni, const ir_shape *s, int *out)
{
    int m, rc;
    if ((rc = od_input_plain(p, v, ni, &m)))
        return rc;
    if (p->mem[m].shape.rank == s->rank && ir_shape_eq(&p->mem[m].shape, s)) {
        *out = m;
        return HPK_OK;
    }
    dnnl_memory_desc_t md;
    if (od_md_plain(&md, s, IR_DT_F32))
        return od_fail(p, HPK_EINTERNAL, ni, "no plain layout");
    *out = od_mem_view(p, m, &md, s);
    return *out < 0 ? HPK_ENOMEM : HPK_OK;
}

static int binary(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int a = n->in[0], b = n->in[1], y = n->out[0];
    const ir_shape *so = &p->shapes[y];
    int r = so->rank, rc;
    if (n->op == IR_OP_Pow || r == 0 || r > DNNL_MAX_NDIMS || p->dtypes[a] != IR_DT_F32 || p->dtypes[b] != IR_DT_F32)
        return bcast_step(p, ni);
    ir_shape pa = pad_shape(&p->shapes[a], r), pb = pad_shape(&p->shapes[b], r);
    bool fa = ir_shape_eq(&pa, so), fb = ir_shape_eq(&pb, so);
    if (!fa && fb && (n->op == IR_OP_Add || n->op == IR_OP_Mul)) {
        int t = a;
        a = b, b = t;
        ir_shape ts = pa;
        pa = pb, pb = ts;
        fa = true, fb = false;
    }
    if (!fa)
        return bcast_step(p, ni);
    int am, bm;
    if (p->shapes[a].rank == r) {
        if ((rc = od_value_mem(p, a, ni, &am)))
            return rc;
        if (!p->mem[am].has_md)
            return bcast_step(p, ni);
    } else if ((rc = plain_view(p, a, ni, &pa, &am))) {
        return rc;
    }
    dnnl_memory_desc_t amd = p->mem[am].md;
    dnnl_alg_kind_t alg = n->op == IR_OP_Add ? dnnl_binary_add
                          : n->op == IR_OP_Sub ? dnnl_binary_sub
                          : n->op == IR_OP_Mul ? dnnl_binary_mul
                                               : dnnl_binary_div;
    dnnl_binary_desc_t bd;
    dnnl_status_t s;
    if (fb && p->shapes[b].rank == r) {
        rc = od_input_as(p, b, ni, &amd, &bm);
    } else {
        /* a broadcast operand: its own layout if oneDNN's jit takes it (a blocked [N,C,1,1] next to a blocked
         * [N,C,H,W]), else plain */
        rc = HPK_OK;
        bm = -1;
        int hm = p->vals[b].mem;
        if (p->shapes[b].rank == r && hm >= 0 && p->mem[hm].has_md) {
            dnnl_memory_desc_t hmd = p->mem[hm].md;
            dnnl_primitive_desc_t tpd;
            if (dnnl_binary_desc_init(&bd, alg, &amd, &hmd, &amd) == dnnl_success &&
                od_pd_try(p, &tpd, &bd, NULL) == dnnl_success) {
                if (strncmp(od_pd_impl(tpd), "ref", 3) != 0)
                    bm = hm;
                dnnl_primitive_desc_destroy(tpd);
            }
        }
        /* else the big operand's channel blocking (oneDNN chooses nhwc for some [N,C,1,1] convolution outputs,
         * and its binary then falls back to the reference kernel, ~100x slower than the jit) */
        int64_t blk = od_md_channel_block(&amd);
        if (bm < 0 && r == 4 && p->shapes[b].rank == 4 && (blk == 8 || blk == 16)) {
            dnnl_memory_desc_t bt;
            dnnl_dims_t bd4 = {p->shapes[b].d[0], p->shapes[b].d[1], p->shapes[b].d[2], p->shapes[b].d[3]};
            dnnl_primitive_desc_t tpd;
            if (dnnl_memory_desc_init_by_tag(&bt, 4, bd4, dnnl_f32, blk == 16 ? dnnl_aBcd16b : dnnl_aBcd8b) ==
                    dnnl_success &&
                dnnl_binary_desc_init(&bd, alg, &amd, &bt, &amd) == dnnl_success &&
                od_pd_try(p, &tpd, &bd, NULL) == dnnl_success) {
                bool jit = strncmp(od_pd_impl(tpd), "ref", 3) != 0;
                dnnl_primitive_desc_destroy(tpd);
                if (jit && (rc = od_input_as(p, b, ni, &bt, &bm)))
                    return rc;
            }
        }
        if (bm < 0)
            rc = plain_view(p, b, ni, &pb, &bm);
    }
    if (rc)
        return rc;
    dnnl_memory_desc_t bmd = p->mem[bm].md;
    s = dnnl_binary_desc_init(&bd, alg, &amd, &bmd, &amd);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, ni, "binary");
    od_chain ch;
    od_chain_find(p, ni, y, false, &ch);
    /* oneDNN 2.6's jit binary computes eltwise post-ops wrongly on the padded tail of a blocked layout */
    for (int i = 0; i < amd.ndims; i++)
        if (amd.padded_dims[i] != amd.dims[i])
            ch.n = 0;
    dnnl_primitive_desc_t pd = NULL;
    int k;
    for (k = ch.n; k >= 0; k--) {
        dnnl_primitive_attr_t attr;
        if (!od_chain_cut_ok(&ch, k))
            continue;
        if ((rc = od_attr_new(p, &attr, ni)))
            return rc;
        if ((rc = od_chain_post_ops(p, &ch, k, attr, ni))) {
            dnnl_primitive_attr_destroy(attr);
            return rc;
        }
        s = od_pd_try(p, &pd, &bd, attr);
        dnnl_primitive_attr_destroy(attr);
        if (s == dnnl_success)
            break;
    }
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, ni, "binary");
    int ym;
    int fin = k > 0 ? ch.out[k - 1] : y;
    bool inplace = od_can_overwrite(p, a, ni) && (fb || p->mem[bm].storage != p->mem[am].storage);
    if (inplace) {
        ym = am;
        od_output_set(p, fin, ym);
    } else if ((rc = od_output_new(p, fin, &amd, &ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    if (k == 0)
        od_output_set(p, y, ym);
    if ((rc = od_chain_commit(p, &ch, k, ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    od_arg args[3] = {{DNNL_ARG_SRC_0, am}, {DNNL_ARG_SRC_1, bm}, {DNNL_ARG_DST, ym}};
    return od_step_prim(p, ni, pd, args, 3, false);
}

int od_op_Add(be_plan *p, int ni) { return binary(p, ni); }
int od_op_Sub(be_plan *p, int ni) { return binary(p, ni); }
int od_op_Mul(be_plan *p, int ni) { return binary(p, ni); }
int od_op_Div(be_plan *p, int ni) { return binary(p, ni); }
int od_op_Pow(be_plan *p, int ni) { return bcast_step(p, ni); }
