/* ir_verify.c — the graph verifier: SSA, topological order, defined inputs, arities, dtypes and ranks. */
#include <string.h>

#include "ir.h"

int ir_verify(ir_graph *g, hpk_err *err)
{
    int nv = g->n_values;
    /* 0 = undefined yet, 1 = available (input/initializer/produced earlier) */
    char *avail = ir_alloc(g, (size_t)nv + 1);
    int rc = HPK_OK;
    if (!avail)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory verifying the graph");
    memset(avail, 0, (size_t)nv + 1);
    for (int v = 0; v < nv; v++)
        if (g->values[v].init)
            avail[v] = 1;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (v < 0 || v >= nv) {
            rc = hpk_err_set(err, HPK_EINTERNAL, "graph input %d has an invalid value id", i);
            goto done;
        }
        if (g->values[v].init) {
            rc = hpk_err_set(err, HPK_EINPUT, "graph input '%s' is also an initializer", g->values[v].name);
            goto done;
        }
        if (avail[v]) {
            rc = hpk_err_set(err, HPK_EINPUT, "graph input '%s' is listed twice", g->values[v].name);
            goto done;
        }
        avail[v] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        const ir_op_info *op;
        if ((unsigned)n->op >= IR_OP_COUNT) {
            rc = hpk_err_set(err, HPK_EINTERNAL, "node '%s' has an invalid op", n->name);
            goto done;
        }
        op = &ir_op_table[n->op];
        if (n->n_in < op->min_in || n->n_in > op->max_in || n->n_out < op->min_out || n->n_out > op->max_out) {
            rc = hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): %d inputs and %d outputs, expected %d-%d and %d-%d",
                             n->name, op->onnx_name, n->n_in, n->n_out, op->min_in, op->max_in, op->min_out,
                             op->max_out);
            goto done;
        }
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0) {
                if (j < op->min_in) {
                    rc = hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): required input %d is missing", n->name,
                                     op->onnx_name, j);
                    goto done;
                }
                continue;
            }
            if (v >= nv) {
                rc = hpk_err_set(err, HPK_EINTERNAL, "node '%s' reads an invalid value id", n->name);
                goto done;
            }
            if (!avail[v]) {
                rc = hpk_err_set(err, HPK_EINPUT,
                                 "node '%s' (%s): input '%s' is not defined before it (undefined, or a cycle)",
                                 n->name, op->onnx_name, g->values[v].name);
                goto done;
            }
        }
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v < 0) {
                /* gradient ops compute only the outputs asked for (see passes/autodiff.h) */
                if (j < op->min_out && !(op->flags & IR_OPF_INTERNAL)) {
                    rc = hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): required output %d is missing", n->name,
                                     op->onnx_name, j);
                    goto done;
                }
                continue;
            }
            if (v >= nv) {
                rc = hpk_err_set(err, HPK_EINTERNAL, "node '%s' writes an invalid value id", n->name);
                goto done;
            }
            if (avail[v]) {
                rc = hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): output '%s' is already defined (SSA violation)",
                                 n->name, op->onnx_name, g->values[v].name);
                goto done;
            }
            avail[v] = 1;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (v < 0 || v >= nv || !avail[v]) {
            rc = hpk_err_set(err, HPK_EINPUT, "graph output '%s' is never computed",
                             v >= 0 && v < nv ? g->values[v].name : "?");
            goto done;
        }
    }
    for (int i = 0; i < g->n_stages; i++) {
        int v = g->stages[i].value;
        if (v < 0 || v >= nv || !avail[v]) {
            rc = hpk_err_set(err, HPK_EINTERNAL, "stage '%s' names no computed value", g->stages[i].name);
            goto done;
        }
    }
    if ((rc = ir_graph_link(g, err)))
        goto done;
    rc = ir_infer_graph(g, err);
done:
    ir_dealloc(g, avail, (size_t)nv + 1);
    return rc;
}
