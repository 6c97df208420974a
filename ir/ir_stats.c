/* ir_stats.c — parameter and multiply-accumulate counts, and op histograms, for hpk inspect and the tests.
 * Parameters: float initializers of more than one element, minus BN running statistics (state). A scalar
 * float initializer is a constant (a Clip bound, a Pow exponent), not a parameter, unless it is flagged
 * IR_VAL_PARAM (a built model's 1-class classifier bias). MACs: Conv, Gemm and
 * MatMul at batch 1 with every symbolic input dim taken as 1 (the usual convention of thop/ptflops). */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

int ir_graph_stats(ir_graph *g, ir_stats *st, hpk_err *err)
{
    memset(st, 0, sizeof *st);
    char *state = calloc((size_t)g->n_values + 1, 1);
    ir_shape *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
    ir_shape *shapes = calloc((size_t)g->n_values + 1, sizeof *shapes);
    ir_dtype *dts = calloc((size_t)g->n_values + 1, sizeof *dts);
    int rc = HPK_OK;
    if (!state || !in || !shapes || !dts) {
        rc = hpk_err_set(err, HPK_ENOMEM, "out of memory computing statistics");
        goto done;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        st->op_count[n->op]++;
        if (n->op == IR_OP_BatchNormalization)
            for (int j = 3; j < 5 && j < n->n_in; j++)
                if (n->in[j] >= 0)
                    state[n->in[j]] = 1;
    }
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        size_t cnt;
        if (!val->init || val->init->dtype != IR_DT_F32 || state[v] || (val->flags & IR_VAL_STATE))
            continue;
        if (ir_shape_numel(&val->init->shape, &cnt) == HPK_OK && (cnt > 1 || (val->flags & IR_VAL_PARAM)))
            st->params += cnt;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        in[i] = g->values[g->inputs[i]].shape;
        if (in[i].rank < 0) {
            rc = hpk_err_set(err, HPK_EINPUT, "input '%s' has no declared shape", g->values[g->inputs[i]].name);
            goto done;
        }
        for (int d = 0; d < in[i].rank; d++)
            if (in[i].d[d] < 0)
                in[i].d[d] = 1;
    }
    if ((rc = ir_infer_concrete(g, in, shapes, dts, err)))
        goto done;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        uint64_t m = 0;
        if (n->op == IR_OP_Conv) {
            const ir_shape *w = &shapes[n->in[1]], *y = &shapes[n->out[0]];
            m = (uint64_t)y->d[0] * (uint64_t)y->d[1] * (uint64_t)y->d[2] * (uint64_t)y->d[3] *
                (uint64_t)w->d[1] * (uint64_t)w->d[2] * (uint64_t)w->d[3];
        } else if (n->op == IR_OP_Gemm || n->op == IR_OP_MatMul) {
            const ir_shape *a = &shapes[n->in[0]], *y = &shapes[n->out[0]];
            uint64_t out = 1;
            for (int d = 0; d < y->rank; d++)
                out *= (uint64_t)y->d[d];
            int64_t k = a->rank >= 1 ? a->d[a->rank - 1] : 1;
            if (n->op == IR_OP_Gemm && ir_attr_int(n, "transA", 0))
                k = a->d[0];
            m = out * (uint64_t)k;
        }
        st->macs += m;
    }
done:
    free(state);
    free(in);
    free(shapes);
    free(dts);
    return rc;
}
