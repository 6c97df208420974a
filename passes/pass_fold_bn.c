/* pass_fold_bn.c — folds inference-form BatchNormalization into the Conv or Gemm that feeds it (in place):
 * W' = W·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β. Folded weights are new initializers
 * (the originals may be shared); the BN's output name is kept, so downstream names do not change. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "passes.h"

/* The initializer behind v, looking through Identity nodes (exporters alias shared constants that way). */
static int through_identity(const ir_graph *g, int v)
{
    while (v >= 0 && !g->values[v].init && g->values[v].producer >= 0 &&
           g->nodes[g->values[v].producer].op == IR_OP_Identity)
        v = g->nodes[g->values[v].producer].in[0];
    return v;
}

static const float *const_f32(const ir_graph *g, int v, int64_t count)
{
    v = through_identity(g, v);
    if (v < 0 || !g->values[v].init)
        return NULL;
    const ir_tensor *t = g->values[v].init;
    if (t->dtype != IR_DT_F32 || t->nbytes != (size_t)count * sizeof(float))
        return NULL;
    return t->data;
}

/* New initializer holding a copy of value src's payload (or zeros of shape s if src < 0). */
static int clone_init(ir_graph *g, int src, const ir_shape *s, const char *base, hpk_err *err)
{
    char nm[512];
    snprintf(nm, sizeof nm, "%s_bnfold", base);
    const char *name = ir_graph_unique_name(g, nm);
    if (!name)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory folding BN"), -1;
    int id = ir_init_add(g, name, IR_DT_F32, src >= 0 ? &g->values[src].init->shape : s, err);
    if (id >= 0 && src >= 0)
        memcpy(g->values[id].init->data, g->values[src].init->data, g->values[src].init->nbytes);
    return id;
}

static int fold_one(ir_graph *g, int pi, int bi, hpk_err *err)
{
    ir_node *bn = &g->nodes[bi];
    int64_t ch = g->values[bn->in[1]].shape.d[0];
    const float *gamma = const_f32(g, bn->in[1], ch), *beta = const_f32(g, bn->in[2], ch),
                *mean = const_f32(g, bn->in[3], ch), *var = const_f32(g, bn->in[4], ch);
    if (!gamma || !beta || !mean || !var)
        return HPK_OK; /* statistics not constant: leave it */
    float eps = ir_attr_float(bn, "epsilon", 1e-5f);
    ir_node *p = &g->nodes[pi];
    bool is_conv = p->op == IR_OP_Conv;
    int64_t trans_b = is_conv ? 0 : ir_attr_int(p, "transB", 0);
    int w = through_identity(g, p->in[1]);
    const ir_tensor *wt = g->values[w].init;
    if (!wt || wt->dtype != IR_DT_F32)
        return HPK_OK;
    if (!is_conv && (ir_attr_float(p, "alpha", 1.0f) != 1.0f || ir_attr_float(p, "beta", 1.0f) != 1.0f ||
                     ir_attr_int(p, "transA", 0) != 0))
        return HPK_OK;
    int64_t out_ch = is_conv ? wt->shape.d[0] : (trans_b ? wt->shape.d[0] : wt->shape.d[1]);
    if (out_ch != ch)
        return HPK_OK;
    int b = p->n_in > 2 ? through_identity(g, p->in[2]) : -1;
    if (b >= 0 && !const_f32(g, b, ch))
        return HPK_OK; /* a bias that is not a per-channel constant (Gemm broadcasting C) */
    ir_shape bs = ir_shape_make(1, &ch);
    int nw = clone_init(g, w, NULL, g->values[w].name, err);
    if (nw < 0)
        return err->code;
    int nb = clone_init(g, b, &bs, b >= 0 ? g->values[b].name : g->values[w].name, err);
    if (nb < 0)
        return err->code;
    p = &g->nodes[pi]; /* arrays may have moved */
    bn = &g->nodes[bi];
    float *W = g->values[nw].init->data, *B = g->values[nb].init->data;
    size_t per = g->values[nw].init->nbytes / sizeof(float) / (size_t)ch;
    for (int64_t c = 0; c < ch; c++) {
        double sc = gamma[c] / sqrt((double)var[c] + (double)eps);
        if (is_conv || trans_b) {
            for (size_t k = 0; k < per; k++)
                W[(size_t)c * per + k] = (float)(W[(size_t)c * per + k] * sc);
        } else {
            for (size_t k = 0; k < per; k++) /* W is [K, N]: column c */
                W[k * (size_t)ch + (size_t)c] = (float)(W[k * (size_t)ch + (size_t)c] * sc);
        }
        B[c] = (float)(((double)B[c] - mean[c]) * sc + beta[c]);
    }
    int conv_out = p->out[0], y = bn->out[0];
    int ins[3] = {p->in[0], nw, nb};
    /* the producer now writes the BN's output; its own output value disappears */
    if (p->n_in < 3) {
        int *ni = ir_arena_alloc(g, sizeof(int) * 3);
        if (!ni)
            return hpk_err_set(err, HPK_ENOMEM, "out of memory folding BN");
        p->in = ni;
        p->n_in = 3;
    }
    memcpy(p->in, ins, sizeof ins);
    p->out[0] = y;
    bn->dead = true;
    g->values[y].producer = pi;
    g->values[conv_out].producer = -1;
    return HPK_OK;
}

int pass_fold_bn(ir_graph *g, hpk_err *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *bn = &g->nodes[i];
        if (bn->dead || bn->op != IR_OP_BatchNormalization || bn->n_out != 1 ||
            ir_attr_int(bn, "training_mode", 0) != 0)
            continue;
        int x = bn->in[0];
        int pi = g->values[x].producer;
        if (pi < 0 || (g->nodes[pi].op != IR_OP_Conv && g->nodes[pi].op != IR_OP_Gemm))
            continue;
        if (pass_use_count(g, x) != 1 || (g->values[x].flags & IR_VAL_OUTPUT))
            continue;
        for (int s = 0; s < g->n_stages; s++)
            if (g->stages[s].value == x)
                g->stages[s].value = bn->out[0];
        int rc = fold_one(g, pi, i, err);
        if (rc)
            return rc;
    }
    return ir_graph_compact(g, err);
}
