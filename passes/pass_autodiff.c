/* pass_autodiff.c — appends the backward graph of a weighted sum of losses (reverse mode, rules per op). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"

int ad_emit(ir_grad_ctx *c, ir_op op, const char *tag, const int *in, int n_in, int *out, int n_out,
            const bool *want_out)
{
    ir_graph *g = c->g;
    char base[512];
    for (int o = 0; o < n_out; o++) {
        out[o] = -1;
        if (want_out && !want_out[o])
            continue;
        snprintf(base, sizeof base, "grad/%s/%s%d", ad_node(c)->name, tag, o);
        const char *nm = ir_graph_unique_name(g, base);
        if (!nm || (out[o] = ir_value_add(g, nm, IR_DT_F32, NULL, c->err)) < 0)
            return hpk_err_set(c->err, HPK_ENOMEM, "out of memory building the backward graph"), -1;
    }
    snprintf(base, sizeof base, "%s/grad_%s", ad_node(c)->name, tag);
    return ir_node_add(g, op, base, in, n_in, out, n_out, c->err);
}

int ad_copy_attrs(ir_grad_ctx *c, int ni)
{
    ir_graph *g = c->g;
    const ir_node *f = ad_node(c);
    if (f->n_attr == 0)
        return HPK_OK;
    ir_attr *a = ir_arena_alloc(g, sizeof(ir_attr) * (size_t)f->n_attr);
    if (!a)
        return hpk_err_set(c->err, HPK_ENOMEM, "out of memory building the backward graph");
    for (int i = 0; i < f->n_attr; i++) {
        a[i] = f->attr[i];
        a[i].t = NULL; /* tensor attributes (Constant only) are never needed by gradient ops */
    }
    g->nodes[ni].attr = a; /* names and arrays are arena-owned and immutable: sharing them is safe */
    g->nodes[ni].n_attr = f->n_attr;
    return HPK_OK;
}

int ad_scalar(ir_grad_ctx *c, float v)
{
    char base[512];
    ir_shape s = {0, {0}};
    snprintf(base, sizeof base, "grad/%s/const", ad_node(c)->name);
    const char *nm = ir_graph_unique_name(c->g, base);
    int id = nm ? ir_init_add(c->g, nm, IR_DT_F32, &s, c->err) : -1;
    if (id >= 0)
        *(float *)c->g->values[id].init->data = v;
    return id;
}

int ad_fail(ir_grad_ctx *c, const char *what)
{
    const ir_node *n = ad_node(c);
    return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (%s): no gradient for %s", n->name,
                       ir_op_table[n->op].onnx_name, what);
}

/* acc[v] += contribution (an Add node when v already has a gradient) */
static int accumulate(ir_graph *g, int *acc, int v, int contrib, hpk_err *err)
{
    if (acc[v] < 0) {
        acc[v] = contrib;
        return HPK_OK;
    }
    char base[512];
    snprintf(base, sizeof base, "grad/%s/sum", g->values[v].name);
    const char *nm = ir_graph_unique_name(g, base);
    int s = nm ? ir_value_add(g, nm, IR_DT_F32, NULL, err) : -1;
    if (s < 0)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory building the backward graph");
    int in[2] = {acc[v], contrib};
    if (ir_node_add(g, IR_OP_Add, nm, in, 2, &s, 1, err) < 0)
        return err->code;
    acc[v] = s;
    return HPK_OK;
}

int pass_autodiff(ir_graph *g, const ad_loss *losses, int n_losses, hpk_err *err)
{
    int rc = ir_infer_graph(g, err);
    if (rc)
        return rc;
    int n_fwd = g->n_nodes, nv0 = g->n_values;
    /* gradients accumulate only into forward values (ids < nv0); values created below are appended */
    size_t cap = (size_t)nv0 + 1;
    int *acc = malloc(sizeof(int) * cap);
    char *req = calloc(cap, 1);
    if (!acc || !req) {
        free(acc);
        free(req);
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in autodiff");
    }
    for (size_t v = 0; v < cap; v++)
        acc[v] = -1;
    /* which values depend on a parameter */
    for (int v = 0; v < nv0; v++)
        req[v] = (g->values[v].flags & IR_VAL_PARAM) != 0;
    for (int i = 0; i < n_fwd; i++) {
        const ir_node *n = &g->nodes[i];
        bool any = false;
        for (int j = 0; j < n->n_in; j++)
            any |= n->in[j] >= 0 && req[n->in[j]];
        if (any && !(ir_op_table[n->op].flags & IR_OPF_NOGRAD))
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] >= 0)
                    req[n->out[j]] = 1;
    }
    for (int l = 0; l < n_losses; l++) {
        int v = losses[l].value;
        if (v < 0 || v >= nv0 || g->values[v].shape.rank != 0) {
            rc = hpk_err_set(err, HPK_EINPUT, "loss '%s' is not a scalar", v >= 0 && v < nv0 ? g->values[v].name : "?");
            goto done;
        }
        ir_shape s = {0, {0}};
        char nm[512];
        snprintf(nm, sizeof nm, "lossweight/%s", g->values[v].name);
        const char *name = ir_graph_unique_name(g, nm);
        int seed = name ? ir_init_add(g, name, IR_DT_F32, &s, err) : -1;
        if (seed < 0) {
            rc = err->code ? err->code : HPK_ENOMEM;
            goto done;
        }
        *(float *)g->values[seed].init->data = losses[l].weight;
        if ((rc = accumulate(g, acc, v, seed, err)))
            goto done;
    }
    for (int i = n_fwd - 1; i >= 0; i--) {
        ir_grad_ctx c;
        memset(&c, 0, sizeof c);
        c.g = g;
        c.node = i;
        c.err = err;
        const ir_node *n = &g->nodes[i];
        bool has_dy = false, want = false;
        if (n->n_in > AD_MAX_IO || n->n_out > AD_MAX_IO)
            continue;
        for (int o = 0; o < n->n_out; o++) {
            c.dy[o] = n->out[o] >= 0 ? acc[n->out[o]] : -1;
            has_dy |= c.dy[o] >= 0;
        }
        for (int j = 0; j < n->n_in; j++) {
            c.need[j] = n->in[j] >= 0 && req[n->in[j]];
            c.dx[j] = -1;
            want |= c.need[j];
        }
        if (!has_dy || !want)
            continue;
        const ir_op_info *op = &ir_op_table[n->op];
        if (!op->grad) {
            rc = hpk_err_set(err, HPK_EUNSUPPORTED,
                             "node '%s' (%s) is on the path from a parameter to the loss but has no gradient rule",
                             n->name, op->onnx_name);
            goto done;
        }
        if ((rc = op->grad(&c)))
            goto done;
        /* accumulate() adds nodes: g->nodes may move, so index it afresh every time */
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (c.dx[j] >= 0 && c.need[j] && (rc = accumulate(g, acc, g->nodes[i].in[j], c.dx[j], err)))
                goto done;
    }
    for (int v = 0; v < nv0; v++) {
        if (!(g->values[v].flags & IR_VAL_PARAM) || acc[v] < 0)
            continue;
        char nm[512];
        snprintf(nm, sizeof nm, "grad/%s", g->values[v].name);
        int gv = acc[v];
        /* a gradient that is itself a parameter or a seed (a loss on a raw parameter) needs a copy to rename */
        if (g->values[gv].init || (g->values[gv].flags & (IR_VAL_OUTPUT | IR_VAL_INPUT))) {
            int cp = ir_value_add(g, nm, IR_DT_F32, NULL, err);
            if (cp < 0 || ir_node_add(g, IR_OP_Identity, nm, &gv, 1, &cp, 1, err) < 0) {
                rc = err->code;
                goto done;
            }
            gv = cp;
        } else if ((rc = ir_value_rename(g, gv, nm, err))) {
            goto done;
        }
        if ((rc = ir_graph_add_output(g, gv, err)))
            goto done;
    }
    rc = ir_infer_graph(g, err);
done:
    free(acc);
    free(req);
    return rc;
}
