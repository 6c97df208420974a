/* pass_training_mode.c — switches a forward graph to training semantics (in place): BatchNormalization uses
 * batch statistics and outputs updated running statistics (graph outputs "<stat>/new") plus the saved batch
 * mean/variance the backward needs; Dropout becomes active and outputs its mask. */
#include <stdio.h>
#include <string.h>

#include "autodiff.h"

static int new_value(ir_graph *g, const char *base, const char *suffix, ir_dtype dt, hpk_err *err)
{
    char nm[512];
    snprintf(nm, sizeof nm, "%s/%s", base, suffix);
    const char *name = ir_graph_unique_name(g, nm);
    if (!name) {
        hpk_err_set(err, HPK_ENOMEM, "out of memory");
        return -1;
    }
    return ir_value_add(g, name, dt, NULL, err);
}

static int set_outputs(ir_graph *g, int ni, const int *out, int n, hpk_err *err)
{
    int *o = ir_arena_alloc(g, sizeof(int) * (size_t)n);
    if (!o)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory");
    memcpy(o, out, sizeof(int) * (size_t)n);
    g->nodes[ni].out = o;
    g->nodes[ni].n_out = n;
    return HPK_OK;
}

static int bn_train(ir_graph *g, int ni, hpk_err *err)
{
    ir_node *n = &g->nodes[ni];
    if (n->n_out > 1)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "node '%s' (BatchNormalization) already has training outputs",
                           n->name);
    int out[5] = {n->out[0], -1, -1, -1, -1};
    const char *mean = g->values[n->in[3]].name, *var = g->values[n->in[4]].name, *name = n->name;
    if ((out[1] = new_value(g, mean, "new", IR_DT_F32, err)) < 0 ||
        (out[2] = new_value(g, var, "new", IR_DT_F32, err)) < 0 ||
        (out[3] = new_value(g, name, "saved_mean", IR_DT_F32, err)) < 0 ||
        (out[4] = new_value(g, name, "saved_var", IR_DT_F32, err)) < 0)
        return err->code;
    int rc;
    if ((rc = set_outputs(g, ni, out, 5, err)) || (rc = ir_node_set_int(g, ni, "training_mode", 1, err)) ||
        (rc = ir_graph_add_output(g, out[1], err)) || (rc = ir_graph_add_output(g, out[2], err)))
        return rc;
    g->values[g->nodes[ni].in[3]].flags |= IR_VAL_STATE;
    g->values[g->nodes[ni].in[4]].flags |= IR_VAL_STATE;
    return HPK_OK;
}

static int dropout_train(ir_graph *g, int ni, hpk_err *err)
{
    ir_node *n = &g->nodes[ni];
    float ratio = ir_attr_float(n, "ratio", 0.5f);
    if (n->n_in > 1 && n->in[1] >= 0) {
        const ir_tensor *t = g->values[n->in[1]].init;
        if (!t)
            return hpk_err_set(err, HPK_EUNSUPPORTED, "node '%s' (Dropout): the ratio is not a constant", n->name);
        ratio = *(const float *)t->data;
    }
    ir_shape scalar = {0, {0}};
    char nm[512];
    snprintf(nm, sizeof nm, "%s/ratio", n->name);
    int r = ir_init_add(g, ir_graph_unique_name(g, nm), IR_DT_F32, &scalar, err);
    snprintf(nm, sizeof nm, "%s/training_mode", g->nodes[ni].name);
    int tm = r < 0 ? -1 : ir_init_add(g, ir_graph_unique_name(g, nm), IR_DT_BOOL, &scalar, err);
    if (r < 0 || tm < 0)
        return err->code;
    *(float *)g->values[r].init->data = ratio;
    *(unsigned char *)g->values[tm].init->data = 1;
    n = &g->nodes[ni];
    int mask = new_value(g, n->name, "mask", IR_DT_BOOL, err);
    if (mask < 0)
        return err->code;
    int in[3] = {g->nodes[ni].in[0], r, tm}, out[2] = {g->nodes[ni].out[0], mask};
    int *ip = ir_arena_alloc(g, sizeof in);
    if (!ip)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory");
    memcpy(ip, in, sizeof in);
    n = &g->nodes[ni];
    n->in = ip;
    n->n_in = 3;
    return set_outputs(g, ni, out, 2, err);
}

int pass_training_mode(ir_graph *g, hpk_err *err)
{
    int rc = HPK_OK;
    for (int i = 0; i < g->n_nodes && !rc; i++) {
        if (g->nodes[i].op == IR_OP_BatchNormalization && ir_attr_int(&g->nodes[i], "training_mode", 0) == 0)
            rc = bn_train(g, i, err);
        else if (g->nodes[i].op == IR_OP_Dropout && g->nodes[i].n_out < 2)
            rc = dropout_train(g, i, err);
    }
    if (rc)
        return rc;
    if ((rc = ir_graph_link(g, err)))
        return rc;
    return ir_infer_graph(g, err);
}
