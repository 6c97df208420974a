/* onednn_matmul.c — Gemm and MatMul on the oneDNN matmul primitive (transposes as strides, alpha/beta/C as post-ops). */
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

/* A plain 2-D descriptor of rows x cols, transposed (column-major) if trans */
static void md_2d(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, bool trans)
{
    dnnl_dims_t d = {rows, cols}, st;
    st[0] = trans ? 1 : cols;
    st[1] = trans ? rows : 1;
    dnnl_memory_desc_init_by_strides(md, 2, d, dnnl_f32, st);
}

/* A memory of the plain bytes of value v viewed through md. */
static int view_as(be_plan *p, int v, int ni, const dnnl_memory_desc_t *md, int *out)
{
    int m, rc;
    if ((rc = od_input_plain(p, v, ni, &m)))
        return rc;
    *out = od_mem_view(p, m, md, NULL);
    return *out < 0 ? HPK_ENOMEM : HPK_OK;
}

/* dst = src * factor (the Gemm's C scaled by beta) */
static int scale_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const float *x = od_ptr(p, s->args[0].mem);
    float *y = od_ptr(p, s->args[1].mem), f = *(const float *)s->data;
    size_t n = od_md_size(&p->mem[s->args[1].mem].md) / sizeof(float);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * f;
    return HPK_OK;
}

int od_op_Gemm(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int a = n->in[0], b = n->in[1], c = n->n_in > 2 ? n->in[2] : -1, y = n->out[0], rc;
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    float alpha = ir_attr_float(n, "alpha", 1.0f), beta = ir_attr_float(n, "beta", 1.0f);
    const ir_shape *as = &p->shapes[a], *bs = &p->shapes[b];
    int64_t M = ta ? as->d[1] : as->d[0], K = ta ? as->d[0] : as->d[1], N = tb ? bs->d[0] : bs->d[1];
    dnnl_memory_desc_t amd, bmd, cmd, ymd;
    md_2d(&amd, M, K, ta);
    md_2d(&bmd, K, N, tb);
    md_2d(&ymd, M, N, false);
    bool with_c = c >= 0 && beta != 0.0f;
    bool as_bias = with_c && alpha == 1.0f && beta == 1.0f;
    if (with_c) {
        /* C broadcasts to [M, N] from rank <= 2 */
        const ir_shape *cs = &p->shapes[c];
        dnnl_dims_t cd = {1, 1};
        if (cs->rank == 2)
            cd[0] = cs->d[0], cd[1] = cs->d[1];
        else if (cs->rank == 1)
            cd[1] = cs->d[0];
        dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_f32, dnnl_ab);
    }
    dnnl_primitive_attr_t attr;
    if ((rc = od_attr_new(p, &attr, ni)))
        return rc;
    dnnl_post_ops_t po;
    dnnl_status_t s = dnnl_post_ops_create(&po);
    if (s == dnnl_success) {
        /* alpha*AB + beta*C: linear(alpha), then add C scaled by beta beforehand (oneDNN 2.6 mis-computes a
         * trailing eltwise after a binary post-op on gemm:jit) */
        if (alpha != 1.0f)
            s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, alpha, 0.0f);
        if (s == dnnl_success && with_c && !as_bias)
            s = dnnl_post_ops_append_binary(po, dnnl_binary_add, &cmd);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
    }
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_matmul_desc_init(&md, &amd, &bmd, as_bias ? &cmd : NULL, &ymd);
    if (s == dnnl_success)
        s = od_pd_try(p, &pd, &md, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, ni, "matmul (Gemm)");
    int am, bm, cm = -1, ym;
    if ((rc = view_as(p, a, ni, &amd, &am)) || (rc = view_as(p, b, ni, &bmd, &bm)) ||
        (with_c && (rc = view_as(p, c, ni, &cmd, &cm))) || (rc = od_output_new(p, y, &ymd, &ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    if (with_c && beta != 1.0f) {
        bool once = od_value_const(p, c);
        int st = od_storage_new(p, once ? OD_ST_PERSIST : OD_ST_ARENA, od_md_size(&cmd), p->g->values[c].name);
        int sm = st < 0 ? -1 : od_mem_new(p, st, 0, &cmd, IR_DT_F32, NULL);
        float *f = malloc(sizeof *f);
        if (sm < 0 || !f) {
            free(f);
            dnnl_primitive_desc_destroy(pd);
            return od_fail(p, HPK_ENOMEM, ni, "out of memory");
        }
        p->st[st].last_node = ni;
        *f = beta;
        od_arg sa[2] = {{0, cm}, {1, sm}};
        if ((rc = od_step_kernel(p, ni, scale_kernel, f, sa, 2, once, "hpk:scale"))) {
            dnnl_primitive_desc_destroy(pd);
            return rc;
        }
        cm = sm;
    }
    od_arg args[4];
    int na = 0;
    args[na++] = (od_arg){DNNL_ARG_SRC, am};
    args[na++] = (od_arg){DNNL_ARG_WEIGHTS, bm};
    if (with_c)
        args[na++] = (od_arg){as_bias ? DNNL_ARG_BIAS : (DNNL_ARG_ATTR_MULTIPLE_POST_OP(alpha != 1.0f ? 1 : 0) | DNNL_ARG_SRC_1), cm};
    args[na++] = (od_arg){DNNL_ARG_DST, ym};
    return od_step_prim(p, ni, pd, args, na, false);
}

int od_op_MatMul(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int a = n->in[0], b = n->in[1], y = n->out[0], rc;
    ir_shape as = p->shapes[a], bs = p->shapes[b];
    if (as.rank == 1) { /* [K] -> [1, K] */
        as.rank = 2;
        as.d[1] = as.d[0];
        as.d[0] = 1;
    }
    if (bs.rank == 1) { /* [K] -> [K, 1] */
        bs.rank = 2;
        bs.d[1] = 1;
    }
    int r = as.rank > bs.rank ? as.rank : bs.rank;
    if (r > DNNL_MAX_NDIMS)
        return od_fail(p, HPK_EUNSUPPORTED, ni, "rank %d is more than oneDNN's %d", r, DNNL_MAX_NDIMS);
    ir_shape pa, pb, py;
    pa.rank = pb.rank = py.rank = r;
    for (int i = 0; i < r; i++) {
        int ka = i - (r - as.rank), kb = i - (r - bs.rank);
        pa.d[i] = ka >= 0 ? as.d[ka] : 1;
        pb.d[i] = kb >= 0 ? bs.d[kb] : 1;
        py.d[i] = pa.d[i] > pb.d[i] ? pa.d[i] : pb.d[i];
    }
    py.d[r - 2] = pa.d[r - 2];
    py.d[r - 1] = pb.d[r - 1];
    dnnl_memory_desc_t amd, bmd, ymd;
    if (od_md_plain(&amd, &pa, IR_DT_F32) || od_md_plain(&bmd, &pb, IR_DT_F32) || od_md_plain(&ymd, &py, IR_DT_F32))
        return od_fail(p, HPK_EINTERNAL, ni, "matmul descriptors");
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &ymd);
    if (s == dnnl_success)
        s = od_pd_try(p, &pd, &md, NULL);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, ni, "matmul");
    int am, bm, ym;
    if ((rc = view_as(p, a, ni, &amd, &am)) || (rc = view_as(p, b, ni, &bmd, &bm)) ||
        (rc = od_output_new(p, y, NULL, &ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    int yv = od_mem_view(p, ym, &ymd, &py);
    if (yv < 0) {
        dnnl_primitive_desc_destroy(pd);
        return HPK_ENOMEM;
    }
    od_arg args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, yv}};
    return od_step_prim(p, ni, pd, args, 3, false);
}
