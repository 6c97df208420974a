/* onednn_batch.c — micro-batching: which graphs compute every sample independently, and how many at a time.
 *
 * A graph is batch-separable when every graph input and output has the batch N as dim 0 and every node computes
 * sample i of its outputs from sample i of its batched inputs and from constants only (no BatchNormalization in
 * training mode, no Reshape that names N, no reduction or concatenation over dim 0...). Such a graph can run as
 * N/m plans of batch m over slices of the inputs and outputs, which keeps a micro-batch's activations in cache
 * where the whole batch would stream through memory at every layer. The analysis is conservative: anything it
 * does not know is not separable.
 */
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

enum { B_NONE, B_CONST, B_BATCH };

static bool all_const(const ir_node *n, const unsigned char *k, int from)
{
    for (int j = from; j < n->n_in; j++)
        if (n->in[j] >= 0 && k[n->in[j]] != B_CONST)
            return false;
    return true;
}

/* kind of node n's outputs given its inputs' kinds; B_NONE: not separable */
static int node_kind(const ir_graph *g, const ir_node *n, const unsigned char *k, const ir_shape *s, int64_t N)
{
    if (all_const(n, k, 0))
        return n->op == IR_OP_Dropout ? B_NONE : B_CONST; /* constants feed constants */
    int x = n->in[0];
    bool xb = x >= 0 && k[x] == B_BATCH && s[x].rank >= 1 && s[x].d[0] == N;
    int r = x >= 0 ? s[x].rank : 0;
    switch (n->op) {
    case IR_OP_Conv:
    case IR_OP_GlobalAveragePool:
    case IR_OP_GlobalMaxPool:
    case IR_OP_AveragePool:
    case IR_OP_MaxPool:
    case IR_OP_Relu:
    case IR_OP_Clip:
    case IR_OP_HardSigmoid:
    case IR_OP_HardSwish:
    case IR_OP_Sigmoid:
    case IR_OP_Identity:
        return xb && all_const(n, k, 1) ? B_BATCH : B_NONE;
    case IR_OP_BatchNormalization:
        return xb && all_const(n, k, 1) && ir_attr_int(n, "training_mode", 0) == 0 ? B_BATCH : B_NONE;
    case IR_OP_Dropout: {
        bool training = n->n_in > 2 && n->in[2] >= 0 && g->values[n->in[2]].init &&
                        *(const unsigned char *)g->values[n->in[2]].init->data != 0;
        return xb && all_const(n, k, 1) && !training ? B_BATCH : B_NONE;
    }
    case IR_OP_Add:
    case IR_OP_Sub:
    case IR_OP_Mul:
    case IR_OP_Div:
    case IR_OP_Pow: {
        int ro = s[n->out[0]].rank;
        for (int j = 0; j < 2; j++) {
            int v = n->in[j];
            if (k[v] == B_BATCH && (s[v].rank != ro || s[v].d[0] != N))
                return B_NONE;
            if (k[v] == B_CONST && s[v].rank == ro && ro > 0 && s[v].d[0] != 1)
                return B_NONE;
            if (k[v] == B_NONE)
                return B_NONE;
        }
        return B_BATCH;
    }
    case IR_OP_Flatten: {
        int64_t axis = ir_attr_int(n, "axis", 1);
        return xb && (axis == 1 || axis == 1 - r) ? B_BATCH : B_NONE;
    }
    case IR_OP_Reshape: {
        const ir_tensor *t = n->in[1] >= 0 ? g->values[n->in[1]].init : NULL;
        if (!xb || !t || t->dtype != IR_DT_I64 || t->shape.rank != 1 || t->shape.d[0] < 1)
            return B_NONE;
        const int64_t *d = t->data;
        /* dim 0 copied (0) or inferred (-1) with the other dims explicit and nonzero: N stays N */
        if (d[0] == 0)
            return ir_attr_int(n, "allowzero", 0) == 0 ? B_BATCH : B_NONE;
        if (d[0] != -1)
            return B_NONE;
        int64_t rest = 1, sample = 1;
        for (int64_t i = 1; i < t->shape.d[0]; i++) {
            if (d[i] <= 0)
                return B_NONE;
            rest *= d[i];
        }
        for (int i = 1; i < r; i++)
            sample *= s[x].d[i];
        return rest == sample ? B_BATCH : B_NONE; /* else -1 would regroup samples */
    }
    case IR_OP_Squeeze:
    case IR_OP_Unsqueeze:
    case IR_OP_ReduceMean: {
        int64_t axes[IR_MAX_RANK];
        int na = ir_node_axes(g, n, axes, NULL);
        if (!xb || na <= 0)
            return B_NONE; /* no axes: all of them (ReduceMean, Squeeze) */
        int rr = n->op == IR_OP_Unsqueeze ? r + na : r;
        for (int i = 0; i < na; i++)
            if (axes[i] == 0 || axes[i] == -rr)
                return B_NONE;
        if (n->op == IR_OP_ReduceMean && ir_attr_int(n, "noop_with_empty_axes", 0))
            return B_NONE;
        return B_BATCH;
    }
    case IR_OP_Gemm:
        if (!xb || ir_attr_int(n, "transA", 0) != 0 || !all_const(n, k, 1))
            return B_NONE;
        if (n->n_in > 2 && n->in[2] >= 0 && s[n->in[2]].rank == 2 && s[n->in[2]].d[0] != 1)
            return B_NONE;
        return B_BATCH;
    case IR_OP_MatMul:
        return xb && r >= 2 && k[n->in[1]] == B_CONST && s[n->in[1]].rank == 2 ? B_BATCH : B_NONE;
    case IR_OP_Softmax:
    case IR_OP_LogSoftmax: {
        int64_t axis = ir_attr_int(n, "axis", g->opset >= 13 ? -1 : 1);
        if (axis < 0)
            axis += r;
        return xb && axis >= 1 ? B_BATCH : B_NONE;
    }
    case IR_OP_Concat: {
        int64_t axis = ir_attr_int(n, "axis", 0);
        if (axis < 0)
            axis += r;
        if (axis == 0)
            return B_NONE;
        for (int j = 0; j < n->n_in; j++)
            if (k[n->in[j]] != B_BATCH || s[n->in[j]].d[0] != N)
                return B_NONE;
        return B_BATCH;
    }
    default:
        return B_NONE;
    }
}

int64_t od_batch_separable(const ir_graph *g, const ir_shape *shapes, size_t *per_sample)
{
    int64_t N = -1;
    *per_sample = 0;
    if (g->n_inputs < 1)
        return 0;
    unsigned char *k = calloc((size_t)g->n_values + 1, 1);
    if (!k)
        return 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init)
            k[v] = B_CONST;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (shapes[v].rank < 1 || (N >= 0 && shapes[v].d[0] != N)) {
            free(k);
            return 0;
        }
        N = shapes[v].d[0];
        k[v] = B_BATCH;
    }
    size_t peak = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        int kind = node_kind(g, n, k, shapes, N);
        if (kind == B_NONE) {
            free(k);
            return 0;
        }
        size_t bytes = 0;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0) {
                k[n->out[j]] = (unsigned char)kind;
                size_t c;
                if (kind == B_BATCH && !ir_shape_numel(&shapes[n->out[j]], &c))
                    bytes += c * 4;
            }
        for (int j = 0; j < n->n_in; j++) {
            size_t c;
            if (n->in[j] >= 0 && k[n->in[j]] == B_BATCH && !ir_shape_numel(&shapes[n->in[j]], &c))
                bytes += c * 4;
        }
        if (bytes > peak)
            peak = bytes;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (k[v] != B_BATCH || shapes[v].d[0] != N) {
            free(k);
            return 0;
        }
    }
    free(k);
    *per_sample = N > 0 ? peak / (size_t)N : 0;
    return N;
}
