/* onednn_eltwise.c — unary activations on oneDNN eltwise (in place when the input is dead), HardSwish patterns. */
#include <stdlib.h>

#include "onednn.h"

/* Runs the eltwise ops alg[0..k) on value x (any layout) into value y; in place when x may be overwritten. */
static int eltwise_chain(be_plan *p, int ni, int except, int x, int y, int k, const dnnl_alg_kind_t *alg,
                         const float *alpha, const float *beta)
{
    int xm, ym, rc;
    if ((rc = od_value_mem(p, x, ni, &xm)))
        return rc;
    if (!p->mem[xm].has_md || p->dtypes[x] != IR_DT_F32)
        return od_fail(p, HPK_EUNSUPPORTED, ni, "input '%s' must be float32", p->g->values[x].name);
    dnnl_memory_desc_t md = p->mem[xm].md;
    if (od_can_overwrite_ex(p, x, ni, except)) {
        ym = xm;
        od_output_set(p, y, ym);
    } else if ((rc = od_output_new(p, y, &md, &ym))) {
        return rc;
    }
    int src = xm;
    for (int i = 0; i < k; i++) {
        dnnl_eltwise_desc_t ed;
        dnnl_primitive_desc_t pd;
        dnnl_status_t s = dnnl_eltwise_forward_desc_init(&ed, (dnnl_prop_kind_t)od_prop(p), alg[i], &md, alpha[i], beta[i]);
        if (s == dnnl_success)
            s = od_pd_try(p, &pd, &ed, NULL);
        if (s != dnnl_success)
            return od_dnnl_fail(p, s, ni, "eltwise");
        od_arg args[2] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, ym}};
        if ((rc = od_step_prim(p, ni, pd, args, 2, false)))
            return rc;
        src = ym;
    }
    return HPK_OK;
}

static int unary(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    dnnl_alg_kind_t alg[2];
    float al[2], be[2];
    int k = od_eltwise_form(p, n, alg, al, be);
    if (k == 0) {
        float lo, hi;
        int rc = ir_clip_bounds(p->g, n, &lo, &hi, p->err);
        return rc ? rc : od_fail(p, HPK_EUNSUPPORTED, ni, "no eltwise form");
    }
    return eltwise_chain(p, ni, -1, n->in[0], n->out[0], k, alg, al, be);
}

int od_op_Relu(be_plan *p, int ni) { return unary(p, ni); }
int od_op_Clip(be_plan *p, int ni) { return unary(p, ni); }
int od_op_HardSwish(be_plan *p, int ni) { return unary(p, ni); }
int od_op_Sigmoid(be_plan *p, int ni) { return unary(p, ni); }
int od_op_Exp(be_plan *p, int ni) { return unary(p, ni); }

int od_op_HardSigmoid(be_plan *p, int ni)
{
    const ir_node *n = &p->g->nodes[ni];
    int mul = od_hardswish_mul(p, ni);
    if (mul >= 0) {
        /* Mul(x, HardSigmoid(x; 1/6, 1/2)) is HardSwish(x): one pass, the HardSigmoid output never exists */
        dnnl_alg_kind_t alg = dnnl_eltwise_hardswish;
        float z = 0;
        p->absorbed[mul] = true;
        return eltwise_chain(p, ni, mul, n->in[0], p->g->nodes[mul].out[0], 1, &alg, &z, &z);
    }
    return unary(p, ni);
}
