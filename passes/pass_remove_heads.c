/* pass_remove_heads.c — strips the training heads (in place): every output/input flagged IR_VAL_HEAD (head losses,
 * the main loss, the labels input) goes, then dead-code elimination removes the head subgraphs and prototypes.
 * What remains is the backbone and its classifier (with its fc kernel when that is poly/rbf). */
#include "heads.h"
#include "passes.h"

int pass_remove_heads(ir_graph *g, hpk_err *err)
{
    int k = 0;
    for (int i = 0; i < g->n_outputs; i++)
        if (!(g->values[g->outputs[i]].flags & IR_VAL_HEAD))
            g->outputs[k++] = g->outputs[i];
        else
            g->values[g->outputs[i]].flags &= ~(unsigned)IR_VAL_OUTPUT;
    g->n_outputs = k;
    k = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!(g->values[g->inputs[i]].flags & IR_VAL_HEAD))
            g->inputs[k++] = g->inputs[i];
        else
            g->values[g->inputs[i]].flags &= ~(unsigned)IR_VAL_INPUT;
    g->n_inputs = k;
    int rc = pass_dce(g, err);
    if (rc)
        return rc;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].flags & IR_VAL_HEAD)
            return hpk_err_set(err, HPK_EINTERNAL, "remove-heads left head tensor '%s' behind", g->values[v].name);
    return HPK_OK;
}
