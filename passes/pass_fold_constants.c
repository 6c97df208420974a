/* pass_fold_constants.c — evaluates nodes whose inputs are all initializers on the reference backend and
 * replaces them with initializers (in place). Trainable parameters are not constants. Stochastic nodes (Dropout) and graph outputs are left alone;
 * results above 64 MiB are not materialized. */
#include <string.h>

#include "be.h"
#include "passes.h"

#define FOLD_MAX_BYTES ((size_t)64 << 20)

/* Evaluates node ni of g in a one-node graph; stores its outputs as initializers of g. */
static int fold_node(ir_graph *g, int ni, hpk_err *err)
{
    ir_graph *t;
    int rc = ir_graph_init(&t, g->alloc, err);
    if (rc)
        return rc;
    t->opset = g->opset;
    const ir_node *n = &g->nodes[ni];
    int in[16], out[8], tn = -1;
    be_plan *plan = NULL;
    for (int j = 0; j < n->n_in; j++) {
        in[j] = -1;
        if (n->in[j] < 0)
            continue;
        const ir_value *v = &g->values[n->in[j]];
        int id = ir_graph_find(t, v->name);
        if (id < 0) {
            id = ir_init_add(t, v->name, v->init->dtype, &v->init->shape, err);
            if (id < 0)
                goto fail;
            memcpy(t->values[id].init->data, v->init->data, v->init->nbytes);
        }
        in[j] = id;
    }
    for (int j = 0; j < n->n_out; j++) {
        out[j] = -1;
        if (n->out[j] < 0)
            continue;
        if ((out[j] = ir_value_add(t, g->values[n->out[j]].name, IR_DT_UNDEF, NULL, err)) < 0 ||
            (rc = ir_graph_add_output(t, out[j], err)))
            goto fail;
    }
    tn = ir_node_add(t, n->op, n->name, in, n->n_in, out, n->n_out, err);
    if (tn < 0)
        goto fail;
    t->nodes[tn].attr = n->attr; /* borrowed for the evaluation; detached before t is freed */
    t->nodes[tn].n_attr = n->n_attr;
    if ((rc = ir_verify(t, err)) || (rc = be_ref.prepare(t, NULL, NULL, &plan, err)) ||
        (rc = be_ref.run(plan, err)))
        goto fail_rc;
    for (int j = 0; j < n->n_out; j++) {
        if (out[j] < 0)
            continue;
        const hpk_tensor *r = be_ref.io(plan, out[j]);
        ir_shape s = ir_shape_make(r->rank, r->dims);
        size_t bytes = 0;
        if (ir_shape_numel(&s, &bytes) || bytes * hpk_dtype_size(r->dtype) > FOLD_MAX_BYTES) {
            rc = HPK_OK; /* too big to be worth it: leave the node */
            goto done;
        }
        ir_tensor *c = ir_tensor_new(g, (ir_dtype)r->dtype, &s, err);
        if (!c)
            goto fail;
        memcpy(c->data, r->data, c->nbytes);
        ir_value *gv = &g->values[n->out[j]];
        gv->init = c;
        gv->dtype = c->dtype;
        gv->shape = s;
        gv->producer = -1;
    }
    g->nodes[ni].dead = true;
    rc = HPK_OK;
    goto done;
fail:
    rc = err && err->code ? err->code : HPK_ENOMEM;
fail_rc:
done:
    if (plan)
        be_ref.free(plan);
    if (tn >= 0)
        t->nodes[tn].n_attr = 0; /* borrowed attributes are not t's to free */
    ir_graph_free(t);
    return rc;
}

int pass_fold_constants(ir_graph *g, hpk_err *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead || n->op == IR_OP_Dropout || (ir_op_table[n->op].flags & IR_OPF_INTERNAL) || n->n_in > 16 ||
            n->n_out > 8)
            continue;
        bool all_const = true, is_output = false;
        for (int j = 0; j < n->n_in && all_const; j++)
            all_const = n->in[j] < 0 || (g->values[n->in[j]].init && !(g->values[n->in[j]].flags & IR_VAL_PARAM));
        for (int j = 0; j < n->n_out; j++)
            is_output |= n->out[j] >= 0 && (g->values[n->out[j]].flags & IR_VAL_OUTPUT);
        if (!all_const || is_output)
            continue;
        int rc = fold_node(g, i, err);
        if (rc)
            return rc;
    }
    return ir_graph_compact(g, err);
}
