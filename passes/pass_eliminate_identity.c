/* pass_eliminate_identity.c — removes Identity nodes and inference-mode Dropout (in place), keeping the names of
 * graph outputs: when the removed node's output is a graph output, the producer of its input writes it directly. */
#include "passes.h"

static bool dropout_is_identity(const ir_graph *g, const ir_node *n)
{
    if (n->n_out > 1 && n->out[1] >= 0 && pass_use_count(g, n->out[1]) > 0)
        return false; /* the mask is used */
    if (n->n_in > 2 && n->in[2] >= 0) {
        const ir_tensor *t = g->values[n->in[2]].init;
        if (!t || t->nbytes != 1 || *(const unsigned char *)t->data != 0)
            return false; /* training mode, or not known to be off */
    }
    return true;
}

int pass_eliminate_identity(ir_graph *g, hpk_err *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead || !(n->op == IR_OP_Identity || (n->op == IR_OP_Dropout && dropout_is_identity(g, n))))
            continue;
        int x = n->in[0], y = n->out[0];
        ir_value *xv = &g->values[x], *yv = &g->values[y];
        if (!(yv->flags & IR_VAL_OUTPUT)) {
            n->dead = true;
            pass_replace_uses(g, y, x);
            continue;
        }
        /* y is a graph output: let x's producer write y, if x is an ordinary intermediate */
        if (xv->producer < 0 || (xv->flags & (IR_VAL_OUTPUT | IR_VAL_INPUT)) || xv->init)
            continue;
        ir_node *p = &g->nodes[xv->producer];
        n->dead = true;
        for (int j = 0; j < p->n_out; j++)
            if (p->out[j] == x)
                p->out[j] = y;
        pass_replace_uses(g, x, y);
        yv->producer = xv->producer;
        xv->producer = -1;
    }
    return ir_graph_compact(g, err);
}
