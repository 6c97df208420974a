/* ir_ops.c — the op table built from ops.def, op lookup, and the version-dependent attribute helpers. */
#include <math.h>
#include <string.h>

#include "ir.h"

#include "ir_rules.h"

#define ir_grad_none NULL

const ir_op_info ir_op_table[IR_OP_COUNT] = {
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) \
    [IR_OP_##id] = {#id, dom, oname, min_in, max_in, min_out, max_out, flags, ir_shape_##shape, ir_grad_##grad},
#include "ops.def"
#undef OP
};

int ir_op_lookup(const char *domain, const char *name)
{
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (strcmp(ir_op_table[i].domain, domain) == 0 && strcmp(ir_op_table[i].onnx_name, name) == 0)
            return i;
    return -1;
}

/* Reads element k of a constant tensor as a double (float or integer dtypes). */
static int tensor_get(const ir_tensor *t, size_t k, double *out)
{
    switch (t->dtype) {
    case IR_DT_F32: *out = ((const float *)t->data)[k]; return 0;
    case IR_DT_F64: *out = ((const double *)t->data)[k]; return 0;
    case IR_DT_I64: *out = (double)((const int64_t *)t->data)[k]; return 0;
    case IR_DT_I32: *out = ((const int32_t *)t->data)[k]; return 0;
    default: return -1;
    }
}

int ir_clip_bounds(const ir_graph *g, const ir_node *n, float *lo, float *hi, hpk_err *err)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (g->opset < 11) {
        *lo = ir_attr_float(n, "min", -INFINITY);
        *hi = ir_attr_float(n, "max", INFINITY);
        return HPK_OK;
    }
    for (int i = 1; i < 3 && i < n->n_in; i++) {
        if (n->in[i] < 0)
            continue;
        const ir_tensor *t = g->values[n->in[i]].init;
        size_t cnt;
        double v;
        if (!t)
            return hpk_err_set(err, HPK_EUNSUPPORTED, "node '%s' (Clip): bound '%s' is not a constant", n->name,
                               g->values[n->in[i]].name);
        if (ir_shape_numel(&t->shape, &cnt) || cnt != 1 || tensor_get(t, 0, &v))
            return hpk_err_set(err, HPK_EINPUT, "node '%s' (Clip): bound '%s' is not a numeric scalar", n->name,
                               g->values[n->in[i]].name);
        if (i == 1)
            *lo = (float)v;
        else
            *hi = (float)v;
    }
    return HPK_OK;
}

int ir_node_axes(const ir_graph *g, const ir_node *n, int64_t *axes, hpk_err *err)
{
    const int64_t *a;
    int cnt = ir_attr_ints(n, "axes", &a);
    if (cnt >= 0) {
        if (cnt > IR_MAX_RANK)
            return hpk_err_set(err, HPK_EINPUT, "node '%s': %d axes, more than rank %d allows", n->name, cnt,
                               IR_MAX_RANK), -1;
        memcpy(axes, a, sizeof(int64_t) * (size_t)cnt);
        return cnt;
    }
    /* internal gradient ops carry the forward's axes as an attribute; their second input is a tensor */
    if (n->n_in < 2 || n->in[1] < 0 || (ir_op_table[n->op].flags & IR_OPF_INTERNAL))
        return 0;
    const ir_tensor *t = g->values[n->in[1]].init;
    if (!t)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "node '%s': axes input '%s' is not a constant", n->name,
                           g->values[n->in[1]].name), -1;
    size_t k;
    if (t->dtype != IR_DT_I64 || t->shape.rank > 1 || ir_shape_numel(&t->shape, &k))
        return hpk_err_set(err, HPK_EINPUT, "node '%s': axes input '%s' must be a 1-D int64 tensor", n->name,
                           g->values[n->in[1]].name), -1;
    if (k > IR_MAX_RANK)
        return hpk_err_set(err, HPK_EINPUT, "node '%s': %zu axes, more than rank %d allows", n->name, k,
                           IR_MAX_RANK), -1;
    memcpy(axes, t->data, sizeof(int64_t) * k);
    return (int)k;
}

void ir_softmax_geometry(const ir_graph *g, const ir_node *n, int rank, const int64_t *dims, size_t *outer,
                         size_t *len, size_t *inner)
{
    bool v13 = g->opset >= 13;
    int64_t axis = ir_attr_int(n, "axis", v13 ? -1 : 1);
    if (axis < 0)
        axis += rank;
    *outer = *len = *inner = 1;
    for (int i = 0; i < rank; i++) {
        size_t d = (size_t)dims[i];
        if (i < axis)
            *outer *= d;
        else if (i == axis || !v13)
            *len *= d;
        else
            *inner *= d;
    }
}
