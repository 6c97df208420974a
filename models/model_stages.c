/* model_stages.c — stage discovery on any graph: the main path's last tensor at each stride, and fc.
 *
 * The main path is the sequence of "cut" tensors: after node i in topological order, if exactly one tensor
 * computed from the input is still needed (by a later node or as the output), every input-to-output path goes
 * through it. Inside a residual block or a squeeze-excitation branch two tensors are live, so only the block's
 * output (the Add, the Mul) is on the main path. Feature maps are the rank-4 float cuts before global pooling
 * (or before the first rank-2 cut); grouping them by spatial size, stage k is the last tensor of the group at
 * stride 2^k, except that a trailing pointwise unit (1x1 Conv, optional BN, one or more activations) is not
 * counted: at a resolution change that unit is the next block's expansion, at the end it is the final 1x1 conv
 * of the classifier head (the design notes: "stage5 stride 32, then the 1x1 conv and the classifier"). fc is
 * the first rank-2 float cut after pooling: the pooled, flattened feature vector the classifier reads.
 * The builders (model_build.c) record the same tensors; tests/unit/test_models.c checks that they agree. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models.h"

/* If node n is an activation of one tensor (a unary elementwise op, or a gate x * f(x) such as the
 * HardSigmoid/Mul hardswish of opset < 14 or SiLU), returns that tensor; otherwise -1. */
static int act_source(const ir_graph *g, const ir_node *n)
{
    if ((ir_op_table[n->op].flags & IR_OPF_ELTWISE) && n->n_in >= 1)
        return n->in[0];
    if (n->op == IR_OP_Mul && n->n_in == 2 && n->in[0] >= 0 && n->in[1] >= 0) {
        for (int i = 0; i < 2; i++) {
            int a = n->in[i], b = n->in[1 - i], p = g->values[b].producer;
            if (p >= 0 && (ir_op_table[g->nodes[p].op].flags & IR_OPF_ELTWISE) && g->nodes[p].n_in >= 1 &&
                g->nodes[p].in[0] == a)
                return a;
        }
    }
    return -1;
}

static bool same_hw(const ir_shape *a, const ir_shape *b)
{
    return a->rank == 4 && b->rank == 4 && a->d[2] == b->d[2] && a->d[3] == b->d[3];
}

/* v without a trailing pointwise Conv [+ BN] + activation unit, when it has one whose input is a cut. */
static int strip_pointwise(const ir_graph *g, const char *is_cut, const ir_shape *shapes, int v)
{
    int cur = v, acts = 0, p;
    while ((p = g->values[cur].producer) >= 0) {
        int src = act_source(g, &g->nodes[p]);
        if (src < 0)
            break;
        cur = src;
        acts++;
    }
    if (!acts || p < 0)
        return v;
    if (g->nodes[p].op == IR_OP_BatchNormalization) {
        cur = g->nodes[p].in[0];
        if ((p = g->values[cur].producer) < 0)
            return v;
    }
    const ir_node *n = &g->nodes[p];
    if (n->op != IR_OP_Conv)
        return v;
    int x = n->in[0];
    ir_window w;
    hpk_err ignore = {0};
    if (x < 0 || !is_cut[x] || ir_conv_window(n, &shapes[x], &shapes[n->in[1]], &w, &ignore) != HPK_OK)
        return v;
    if (w.kh != 1 || w.kw != 1 || w.sh != 1 || w.sw != 1 || w.group != 1 || !same_hw(&shapes[x], &shapes[v]))
        return v;
    return x;
}

/* The stride exponent k at which an input side s becomes side h: ceil(s / 2^k) == h (padded "same" convs),
 * else floor(s / 2^k) == h ("valid" ones), else the nearest power of two. */
static int stride_exp(int64_t s, int64_t h)
{
    if (h <= 0 || s <= 0)
        return 0;
    for (int k = 0; k < 31; k++)
        if (((s + ((int64_t)1 << k) - 1) >> k) == h)
            return k;
    for (int k = 0; k < 31; k++)
        if ((s >> k) == h)
            return k;
    return (int)lround(log2((double)s / (double)h));
}

/* A node that computes something the output needs. */
static bool node_relevant(const ir_node *n, const char *rel)
{
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] >= 0 && rel[n->out[j]])
            return true;
    return false;
}

static bool is_global_pool(const ir_node *n)
{
    return n->op == IR_OP_GlobalAveragePool || n->op == IR_OP_GlobalMaxPool || n->op == IR_OP_ReduceMean;
}

int model_find_stages(ir_graph *g, hpk_err *err)
{
    int nv = g->n_values, in = -1, rc = HPK_OK;
    for (int i = 0; i < g->n_inputs && in < 0; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->dtype == IR_DT_F32 && v->shape.rank == 4)
            in = g->inputs[i];
    }
    g->n_stages = 0;
    if (in < 0 || g->n_outputs < 1)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "stage discovery needs a 4-D float32 input (N, C, H, W) and an "
                           "output");
    const ir_shape *is = &g->values[in].shape;
    if (is->d[2] < 1 || is->d[3] < 1)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "stage discovery needs a fixed input size: input '%s' has "
                           "symbolic spatial dims", g->values[in].name);

    size_t nz = (size_t)nv + 1;
    char *fwd = ir_alloc(g, nz), *bwd = ir_alloc(g, nz), *is_cut = ir_alloc(g, nz);
    int *remaining = ir_alloc(g, nz * sizeof(int)), *cuts = ir_alloc(g, nz * sizeof(int));
    ir_shape *shapes = ir_alloc(g, nz * sizeof(ir_shape)), *ins = ir_alloc(g, ((size_t)g->n_inputs + 1) * sizeof(ir_shape));
    ir_dtype *dts = ir_alloc(g, nz * sizeof(ir_dtype));
    if (!fwd || !bwd || !is_cut || !remaining || !cuts || !shapes || !ins || !dts) {
        rc = hpk_err_set(err, HPK_ENOMEM, "out of memory finding stages");
        goto done;
    }
    memset(fwd, 0, nz);
    memset(bwd, 0, nz);
    memset(is_cut, 0, nz);
    memset(remaining, 0, nz * sizeof(int));

    /* concrete shapes at batch 1 */
    for (int i = 0; i < g->n_inputs; i++) {
        ins[i] = g->values[g->inputs[i]].shape;
        if (ins[i].rank < 0) {
            rc = hpk_err_set(err, HPK_EINPUT, "input '%s' has no declared shape", g->values[g->inputs[i]].name);
            goto done;
        }
        for (int d = 0; d < ins[i].rank; d++)
            if (ins[i].d[d] < 0)
                ins[i].d[d] = 1;
    }
    if ((rc = ir_infer_concrete(g, ins, shapes, dts, err)))
        goto done;

    /* the tensors computed from the input (fwd) that the output depends on (bwd) */
    fwd[in] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        bool any = false;
        for (int j = 0; j < n->n_in; j++)
            any |= n->in[j] >= 0 && fwd[n->in[j]];
        for (int j = 0; any && j < n->n_out; j++)
            if (n->out[j] >= 0)
                fwd[n->out[j]] = 1;
    }
    int out = g->outputs[0];
    bwd[out] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const ir_node *n = &g->nodes[i];
        bool any = false;
        for (int j = 0; j < n->n_out; j++)
            any |= n->out[j] >= 0 && bwd[n->out[j]];
        for (int j = 0; any && j < n->n_in; j++)
            if (n->in[j] >= 0)
                bwd[n->in[j]] = 1;
    }
    for (int v = 0; v < nv; v++)
        fwd[v] = fwd[v] && bwd[v]; /* fwd now means "relevant" */
    if (!fwd[out])
        goto done; /* the output does not depend on the input: no stages */
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (!node_relevant(n, fwd))
            continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && fwd[n->in[j]])
                remaining[n->in[j]]++;
    }
    remaining[out]++; /* the output stays live to the end */

    /* walk: the cuts are the moments exactly one relevant tensor is live */
    int ncut = 0, live = 1;
    cuts[ncut++] = in;
    is_cut[in] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        int produced = -1, nprod = 0;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && fwd[n->out[j]]) {
                produced = n->out[j];
                nprod++;
                live++;
            }
        if (!nprod)
            continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && fwd[n->in[j]] && --remaining[n->in[j]] == 0)
                live--;
        if (live == 1 && nprod == 1 && remaining[produced] > 0) {
            cuts[ncut++] = produced;
            is_cut[produced] = 1;
        }
    }

    /* feature maps: the rank-4 float cuts before global pooling or the first rank-2 cut */
    int end = ncut;
    for (int i = 1; i < ncut; i++) {
        int v = cuts[i], p = g->values[v].producer;
        if ((p >= 0 && is_global_pool(&g->nodes[p])) || shapes[v].rank != 4) {
            end = i;
            break;
        }
    }
    int prev_k = 0;
    for (int i = 0; i < end; i++) {
        int v = cuts[i];
        if (dts[v] != IR_DT_F32 || shapes[v].rank != 4)
            continue;
        if (i + 1 < end && same_hw(&shapes[v], &shapes[cuts[i + 1]]))
            continue; /* not the last tensor at this resolution */
        int kh = stride_exp(is->d[2], shapes[v].d[2]), kw = stride_exp(is->d[3], shapes[v].d[3]);
        int k = kh > kw ? kh : kw;
        if (k < 1)
            continue;
        if (k <= prev_k)
            k = prev_k + 1; /* the main path only ever downsamples */
        if (k > 30)
            break;
        prev_k = k;
        char nm[16];
        snprintf(nm, sizeof nm, "stage%d", k);
        if ((rc = ir_stage_set(g, nm, strip_pointwise(g, is_cut, shapes, v), 1 << k, err)))
            goto done;
    }
    for (int i = end; i < ncut; i++)
        if (dts[cuts[i]] == IR_DT_F32 && shapes[cuts[i]].rank == 2) {
            rc = ir_stage_set(g, "fc", cuts[i], 0, err);
            break;
        }
done:
    ir_dealloc(g, fwd, nz);
    ir_dealloc(g, bwd, nz);
    ir_dealloc(g, is_cut, nz);
    ir_dealloc(g, remaining, nz * sizeof(int));
    ir_dealloc(g, cuts, nz * sizeof(int));
    ir_dealloc(g, shapes, nz * sizeof(ir_shape));
    ir_dealloc(g, ins, ((size_t)g->n_inputs + 1) * sizeof(ir_shape));
    ir_dealloc(g, dts, nz * sizeof(ir_dtype));
    return rc;
}
