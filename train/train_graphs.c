/* train_graphs.c — the graphs of a run: base model (built or imported), heads, training and evaluation graphs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "onnx.h"
#include "passes.h"
#include "train_int.h"

/* Imported models carry no trainable/state flags: Conv and Gemm weights and biases, MatMul constant operands
 * and BatchNormalization scale/bias are parameters; BN running statistics are state. */
static void mark_params(ir_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0 || !g->values[v].init || g->values[v].init->dtype != IR_DT_F32)
                continue;
            bool param = false, state = false;
            switch (n->op) {
            case IR_OP_Conv: param = j >= 1; break;
            case IR_OP_Gemm: param = true; break;
            case IR_OP_MatMul: param = true; break;
            case IR_OP_BatchNormalization: param = j == 1 || j == 2; state = j >= 3; break;
            default: break;
            }
            if (param)
                g->values[v].flags |= IR_VAL_PARAM;
            if (state)
                g->values[v].flags |= IR_VAL_STATE;
        }
    }
}

int train_base_model(const train_config *c, int data_classes, int data_size, int data_channels, ir_graph **out,
                     hpk_err *err)
{
    int rc;
    *out = NULL;
    if (c->onnx) {
        ir_graph *g;
        if ((rc = onnx_load(c->onnx, hpk_alloc_default(), NULL, &g, err)))
            return rc;
        /* exporters alias identical initializers through Identity nodes (torch.onnx dedups the equal BN weights
         * of a fresh model): folding them gives every parameter back its own tensor before training unties them */
        bool has_flags = false;
        for (int v = 0; v < g->n_values; v++)
            has_flags |= (g->values[v].flags & (IR_VAL_PARAM | IR_VAL_STATE)) != 0;
        if ((rc = pass_fold_constants(g, err)) || (rc = ir_verify(g, err))) {
            ir_graph_free(g);
            return rc;
        }
        if (!has_flags)
            mark_params(g);
        if (g->n_stages == 0 && model_find_stages(g, err) != HPK_OK)
            hpk_err_clear(err); /* stages are only needed for stage heads; pass_insert_heads reports it */
        *out = g;
        return HPK_OK;
    }
    model_config mc;
    model_config_init(&mc, c->model);
    mc.width = c->width;
    mc.classes = c->classes ? c->classes : data_classes;
    mc.input_size = c->input_size ? c->input_size : data_size;
    mc.in_channels = c->in_channels ? c->in_channels : data_channels;
    mc.seed = c->seed;
    return model_build(&mc, hpk_alloc_default(), out, err);
}

void train_graphs_free(train_graphs *rg)
{
    ir_graph_free(rg->base);
    ir_graph_free(rg->heads);
    ir_graph_free(rg->train);
    ir_graph_free(rg->eval);
    memset(rg, 0, sizeof *rg);
}

int train_heads_config(const train_config *c, heads_config *hc, char *names_buf, size_t cap, hpk_err *err)
{
    memset(hc, 0, sizeof *hc);
    snprintf(names_buf, cap, "%s", c->heads);
    hc->p = c->hp;
    hc->seed = c->seed ^ 0x9e3779b97f4a7c15ull;
    return heads_parse(hc, names_buf, c->head_weights[0] ? c->head_weights : NULL, err);
}

int train_graphs_build(const train_config *c, ir_graph *base, train_graphs *rg, bool with_train, hpk_err *err)
{
    int rc;
    memset(rg, 0, sizeof *rg);
    rg->base = base;
    heads_config hc;
    if ((rc = train_heads_config(c, &hc, rg->head_names, sizeof rg->head_names, err)))
        return rc;
    if ((rc = ir_graph_clone(base, &rg->heads, err)) ||
        (rc = pass_insert_heads(rg->heads, &hc, rg->losses, &rg->n_losses, err)) ||
        (rc = ir_verify(rg->heads, err)))
        return rc;
    for (int i = 0; i < rg->n_losses; i++)
        snprintf(rg->loss_names[i], sizeof rg->loss_names[i], "%s", rg->heads->values[rg->losses[i].value].name + 5);
    if ((rc = ir_graph_clone(rg->heads, &rg->eval, err)) || (rc = pass_remove_heads(rg->eval, err)) ||
        (rc = ir_verify(rg->eval, err)))
        return rc;
    if (!with_train)
        return HPK_OK;
    /* the training graph fuses torch's hardswish into one op (pass_fuse_hardswish.c); compaction renumbers
     * values, so the losses are found again by name */
    ad_loss *losses = rg->train_losses;
    if ((rc = ir_graph_clone(rg->heads, &rg->train, err)) || (rc = pass_fuse_hardswish(rg->train, err)))
        return rc;
    for (int i = 0; i < rg->n_losses; i++) {
        losses[i] = rg->losses[i];
        losses[i].value = ir_graph_find(rg->train, rg->heads->values[rg->losses[i].value].name);
        if (losses[i].value < 0)
            return hpk_err_set(err, HPK_EINTERNAL, "training graph: loss %s lost by the HardSwish fusion",
                               rg->heads->values[rg->losses[i].value].name);
    }
    if ((rc = pass_training_mode(rg->train, err)) ||
        (rc = pass_autodiff(rg->train, losses, rg->n_losses, err)) || (rc = ir_verify(rg->train, err)))
        return rc;
    return HPK_OK;
}

int train_copy_params(const ir_graph *src, ir_graph *dst, hpk_err *err)
{
    for (int v = 0; v < dst->n_values; v++) {
        ir_value *d = &dst->values[v];
        if (!d->init || !(d->flags & (IR_VAL_PARAM | IR_VAL_STATE)))
            continue;
        int s = ir_graph_find(src, d->name);
        if (s < 0 || !src->values[s].init || src->values[s].init->nbytes != d->init->nbytes)
            return hpk_err_set(err, HPK_EINTERNAL, "parameter '%s' is missing from the training graph", d->name);
        memcpy(d->init->data, src->values[s].init->data, d->init->nbytes);
    }
    return HPK_OK;
}

int train_build_training_graph(const train_config *c, ir_graph *base, ir_graph **out, hpk_err *err)
{
    train_graphs rg;
    *out = NULL;
    int rc = train_graphs_build(c, base, &rg, true, err);
    if (!rc) {
        *out = rg.train;
        rg.train = NULL;
    }
    train_graphs_free(&rg);
    return rc;
}
