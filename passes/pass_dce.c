/* pass_dce.c — dead-code elimination: drops nodes no graph output depends on, then unused values (in place). */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

int pass_dce(ir_graph *g, hpk_err *err)
{
    char *live = calloc((size_t)g->n_values + 1, 1);
    if (!live)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in dce");
    for (int i = 0; i < g->n_outputs; i++)
        live[g->outputs[i]] = 1;
    for (int i = 0; i < g->n_stages; i++)
        if (g->stages[i].value >= 0)
            live[g->stages[i].value] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        ir_node *n = &g->nodes[i];
        bool used = false;
        for (int j = 0; j < n->n_out && !used; j++)
            used = n->out[j] >= 0 && live[n->out[j]];
        if (!used) {
            n->dead = true;
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                live[n->in[j]] = 1;
    }
    free(live);
    return ir_graph_compact(g, err);
}
