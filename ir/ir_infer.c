/* ir_infer.c — shape inference drivers (symbolic over the graph, concrete for a run) and rule helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir_rules.h"

const ir_tensor *ir_infer_const(const ir_infer *c, int i)
{
    if (i >= c->n->n_in || c->n->in[i] < 0)
        return NULL;
    return c->g->values[c->n->in[i]].init;
}

int ir_infer_fail(ir_infer *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return hpk_err_set(c->err, HPK_EINPUT, "node '%s' (%s): %s", c->n->name, ir_op_table[c->n->op].onnx_name,
                       buf);
}

int ir_infer_need(ir_infer *c, int i, ir_dtype dt)
{
    if (c->in[i].rank < 0)
        return ir_infer_fail(c, "input %d has an unknown shape", i);
    if (dt != IR_DT_UNDEF && c->in_dt[i] != dt)
        return ir_infer_fail(c, "input %d must be %s, got %s", i, ir_dtype_name(dt), ir_dtype_name(c->in_dt[i]));
    return HPK_OK;
}

int ir_infer_axes(ir_infer *c, int rank, bool *mask)
{
    int64_t axes[IR_MAX_RANK];
    int na = ir_node_axes(c->g, c->n, axes, c->err);
    if (na < 0)
        return -1;
    for (int i = 0; i < rank; i++)
        mask[i] = false;
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i];
        if (a < -rank || a >= rank)
            return ir_infer_fail(c, "axis %lld is out of range for rank %d", (long long)a, rank), -1;
        if (a < 0)
            a += rank;
        if (mask[a])
            return ir_infer_fail(c, "axis %lld is repeated", (long long)axes[i]), -1;
        mask[a] = true;
    }
    return na;
}

int64_t ir_infer_unknown_dim(ir_infer *c)
{
    char nm[48];
    snprintf(nm, sizeof nm, "?%d", c->g->n_syms);
    int s = ir_sym_get(c->g, nm);
    if (s < 0) { /* -1 would read as symbol 0: record the failure, the driver turns it into an error */
        c->oom = true;
        return -1;
    }
    return -(int64_t)s - 1;
}

/* Runs node ni's rule on the given per-value shapes/dtypes, writing its outputs' entries. */
static int infer_node(ir_graph *g, int ni, ir_shape *shapes, ir_dtype *dtypes, bool concrete, hpk_err *err)
{
    const ir_node *n = &g->nodes[ni];
    const ir_op_info *op = &ir_op_table[n->op];
    ir_shape in_s[16], out_s[8];
    ir_dtype in_d[16], out_d[8];
    ir_shape *ins = in_s;
    ir_dtype *ind = in_d;
    int rc;
    if (n->n_in < op->min_in || n->n_in > op->max_in)
        return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): %d inputs, expected %d to %d", n->name,
                           op->onnx_name, n->n_in, op->min_in, op->max_in);
    if (n->n_out < op->min_out || n->n_out > op->max_out || n->n_out > 8)
        return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): %d outputs, expected %d to %d", n->name,
                           op->onnx_name, n->n_out, op->min_out, op->max_out);
    if (n->n_in > 16) {
        ins = ir_alloc(g, sizeof(ir_shape) * (size_t)n->n_in);
        ind = ir_alloc(g, sizeof(ir_dtype) * (size_t)n->n_in);
        if (!ins || !ind) {
            ir_dealloc(g, ins, sizeof(ir_shape) * (size_t)n->n_in);
            ir_dealloc(g, ind, sizeof(ir_dtype) * (size_t)n->n_in);
            return hpk_err_set(err, HPK_ENOMEM, "out of memory inferring node '%s'", n->name);
        }
    }
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v < 0) {
            ins[i].rank = -1;
            ind[i] = IR_DT_UNDEF;
        } else {
            ins[i] = shapes[v];
            ind[i] = dtypes[v];
        }
    }
    for (int o = 0; o < n->n_out; o++) {
        out_s[o].rank = -1;
        out_d[o] = IR_DT_UNDEF;
    }
    ir_infer c = {g, n, ni, ins, ind, out_s, out_d, concrete, err, false};
    rc = op->shape(&c);
    if (!rc && c.oom)
        rc = hpk_err_set(err, HPK_ENOMEM, "out of memory inferring node '%s'", n->name);
    if (ins != in_s) {
        ir_dealloc(g, ins, sizeof(ir_shape) * (size_t)n->n_in);
        ir_dealloc(g, ind, sizeof(ir_dtype) * (size_t)n->n_in);
    }
    if (rc)
        return rc;
    for (int o = 0; o < n->n_out; o++) {
        int v = n->out[o];
        if (v < 0)
            continue;
        if (concrete) {
            size_t cnt;
            if (!ir_shape_concrete(&out_s[o]))
                return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): output '%s' has no concrete shape", n->name,
                                   op->onnx_name, g->values[v].name);
            if (ir_shape_numel(&out_s[o], &cnt) || cnt > ((size_t)1 << 40))
                return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): output '%s' is impossibly large", n->name,
                                   op->onnx_name, g->values[v].name);
        }
        shapes[v] = out_s[o];
        dtypes[v] = out_d[o];
    }
    return HPK_OK;
}

int ir_infer_graph(ir_graph *g, hpk_err *err)
{
    size_t nv = (size_t)g->n_values + 1;
    ir_shape *shapes = ir_alloc(g, sizeof(ir_shape) * nv);
    ir_dtype *dtypes = ir_alloc(g, sizeof(ir_dtype) * nv);
    int rc = HPK_OK;
    if (!shapes || !dtypes) {
        rc = hpk_err_set(err, HPK_ENOMEM, "out of memory in shape inference");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (val->init) {
            shapes[v] = val->init->shape;
            dtypes[v] = val->init->dtype;
        } else if (val->flags & IR_VAL_INPUT) {
            shapes[v] = val->shape;
            dtypes[v] = val->dtype;
        } else {
            shapes[v].rank = -1;
            dtypes[v] = IR_DT_UNDEF;
        }
    }
    for (int i = 0; i < g->n_nodes && !rc; i++)
        rc = infer_node(g, i, shapes, dtypes, false, err);
    if (rc)
        goto done;
    for (int v = 0; v < g->n_values; v++) {
        ir_value *val = &g->values[v];
        if (val->producer < 0)
            continue;
        /* a declared concrete dim (from value_info or graph outputs) must agree with the inferred one */
        if (val->shape.rank >= 0 && shapes[v].rank >= 0) {
            bool bad = val->shape.rank != shapes[v].rank;
            for (int d = 0; !bad && d < val->shape.rank; d++)
                bad = val->shape.d[d] >= 0 && shapes[v].d[d] >= 0 && val->shape.d[d] != shapes[v].d[d];
            if (bad) {
                char a[128], b[128];
                rc = hpk_err_set(err, HPK_EINPUT, "value '%s' is declared %s but computes to %s", val->name,
                                 ir_shape_str(g, &val->shape, a, sizeof a), ir_shape_str(g, &shapes[v], b, sizeof b));
                goto done;
            }
            /* keep declared names for symbolic dims the rules could not name */
            for (int d = 0; d < val->shape.rank; d++)
                if (shapes[v].d[d] < 0 && val->shape.d[d] >= 0)
                    shapes[v].d[d] = val->shape.d[d];
                else if (shapes[v].d[d] < 0 && val->shape.d[d] < 0) {
                    int64_t sym = -shapes[v].d[d] - 1;
                    if (sym < g->n_syms && g->syms[sym][0] == '?')
                        shapes[v].d[d] = val->shape.d[d];
                }
        }
        if (val->dtype != IR_DT_UNDEF && dtypes[v] != IR_DT_UNDEF && val->dtype != dtypes[v]) {
            rc = hpk_err_set(err, HPK_EINPUT, "value '%s' is declared %s but computes to %s", val->name,
                             ir_dtype_name(val->dtype), ir_dtype_name(dtypes[v]));
            goto done;
        }
        val->shape = shapes[v];
        val->dtype = dtypes[v];
    }
done:
    ir_dealloc(g, shapes, sizeof(ir_shape) * nv);
    ir_dealloc(g, dtypes, sizeof(ir_dtype) * nv);
    return rc;
}

int ir_infer_concrete(ir_graph *g, const ir_shape *input_shapes, ir_shape *shapes, ir_dtype *dtypes,
                      hpk_err *err)
{
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (val->init) {
            shapes[v] = val->init->shape;
            dtypes[v] = val->init->dtype;
        } else {
            shapes[v].rank = -1;
            dtypes[v] = val->dtype;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        const ir_value *val = &g->values[v];
        const ir_shape *s = &input_shapes[i];
        char a[128], b[128];
        bool bad = !ir_shape_concrete(s);
        if (!bad && val->shape.rank >= 0) {
            bad = s->rank != val->shape.rank;
            for (int d = 0; !bad && d < s->rank; d++)
                bad = val->shape.d[d] >= 0 && val->shape.d[d] != s->d[d];
        }
        if (bad)
            return hpk_err_set(err, HPK_EINPUT, "input '%s' expects shape %s, got %s", val->name,
                               ir_shape_str(g, &val->shape, a, sizeof a), ir_shape_str(g, s, b, sizeof b));
        shapes[v] = *s;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        int rc = infer_node(g, i, shapes, dtypes, true, err);
        if (rc)
            return rc;
    }
    return HPK_OK;
}
