/* shape_tensor.c — shape rules for layout and linear-algebra ops: Flatten, Reshape, Squeeze, Unsqueeze, Concat,
 * Constant, Gemm, MatMul, ReduceMean. */
#include <string.h>

#include "ir_rules.h"

/* Product of dims [from, to); symbolic if any factor is symbolic (or unknown in symbolic mode). INT64_MIN on
 * overflow (not -1: that is symbol 0). */
static int64_t dim_product(ir_infer *c, const ir_shape *s, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) {
        if (s->d[i] < 0) {
            /* a lone symbolic factor times ones keeps its symbol (the batch dim through Flatten) */
            bool lone = true;
            for (int j = from; j < to; j++)
                if (j != i && s->d[j] != 1)
                    lone = false;
            return lone ? s->d[i] : ir_infer_unknown_dim(c);
        }
        if (__builtin_mul_overflow(p, s->d[i], &p))
            return INT64_MIN;
    }
    return p;
}

static int norm_axis(ir_infer *c, int64_t axis, int rank, int64_t *out)
{
    if (axis < -rank || axis >= rank)
        return ir_infer_fail(c, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = axis < 0 ? axis + rank : axis;
    return HPK_OK;
}

int ir_shape_flatten(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_UNDEF);
    if (rc)
        return rc;
    int r = c->in[0].rank;
    int64_t axis = ir_attr_int(c->n, "axis", 1);
    if (axis < -r || axis > r)
        return ir_infer_fail(c, "axis %lld is out of range for rank %d", (long long)axis, r);
    if (axis < 0)
        axis += r;
    int64_t d[2] = {dim_product(c, &c->in[0], 0, (int)axis), dim_product(c, &c->in[0], (int)axis, r)};
    if (d[0] == INT64_MIN || d[1] == INT64_MIN)
        return ir_infer_fail(c, "the flattened size overflows");
    c->out[0] = ir_shape_make(2, d);
    c->out_dt[0] = c->in_dt[0];
    return HPK_OK;
}

int ir_shape_reshape(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_UNDEF);
    if (rc)
        return rc;
    const ir_tensor *t = ir_infer_const(c, 1);
    if (!t)
        return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (Reshape): the target shape is not a constant",
                           c->n->name);
    if (t->dtype != IR_DT_I64 || t->shape.rank != 1 || t->shape.d[0] > IR_MAX_RANK)
        return ir_infer_fail(c, "the target shape must be a 1-D int64 tensor of at most %d entries", IR_MAX_RANK);
    int r = (int)t->shape.d[0];
    const int64_t *want = t->data;
    bool allowzero = ir_attr_int(c->n, "allowzero", 0) != 0;
    ir_shape o;
    o.rank = r;
    int infer_at = -1;
    int64_t known = 1;
    bool sym = false;
    for (int i = 0; i < r; i++) {
        int64_t v = want[i];
        if (v == -1) {
            if (infer_at >= 0)
                return ir_infer_fail(c, "the target shape has more than one -1");
            infer_at = i;
            continue;
        }
        if (v == 0 && !allowzero) {
            if (i >= c->in[0].rank)
                return ir_infer_fail(c, "target dim %d is 0 (copy) but the input has rank %d", i, c->in[0].rank);
            v = c->in[0].d[i];
        } else if (v < 0) {
            return ir_infer_fail(c, "target dim %d is %lld", i, (long long)v);
        }
        o.d[i] = v;
        if (v < 0)
            sym = true;
        else if (__builtin_mul_overflow(known, v, &known))
            return ir_infer_fail(c, "the target shape overflows");
    }
    int64_t total = dim_product(c, &c->in[0], 0, c->in[0].rank);
    if (total < 0 && c->concrete)
        return ir_infer_fail(c, "the input size overflows");
    if (infer_at >= 0) {
        if (total < 0 || sym) {
            o.d[infer_at] = ir_infer_unknown_dim(c);
        } else {
            if (known == 0 || total % known)
                return ir_infer_fail(c, "cannot reshape %lld elements into the target shape", (long long)total);
            o.d[infer_at] = total / known;
        }
    } else if (total >= 0 && !sym && total != known) {
        return ir_infer_fail(c, "cannot reshape %lld elements into %lld", (long long)total, (long long)known);
    }
    c->out[0] = o;
    c->out_dt[0] = c->in_dt[0];
    return HPK_OK;
}

int ir_shape_squeeze(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_UNDEF);
    if (rc)
        return rc;
    int r = c->in[0].rank;
    bool drop[IR_MAX_RANK];
    int na = ir_infer_axes(c, r, drop);
    if (na < 0)
        return c->err ? c->err->code : HPK_EINPUT;
    for (int i = 0; i < r; i++) {
        if (na == 0 && c->in[0].d[i] < 0)
            return ir_infer_fail(c, "squeezing all unit dims of a shape with symbolic dims is ambiguous");
        if (na == 0)
            drop[i] = c->in[0].d[i] == 1;
        else if (drop[i] && c->in[0].d[i] >= 0 && c->in[0].d[i] != 1)
            return ir_infer_fail(c, "cannot squeeze axis %d of size %lld", i, (long long)c->in[0].d[i]);
    }
    ir_shape o;
    o.rank = 0;
    for (int i = 0; i < r; i++)
        if (!drop[i])
            o.d[o.rank++] = c->in[0].d[i];
    c->out[0] = o;
    c->out_dt[0] = c->in_dt[0];
    return HPK_OK;
}

int ir_shape_unsqueeze(ir_infer *c)
{
    int64_t axes[IR_MAX_RANK];
    int rc = ir_infer_need(c, 0, IR_DT_UNDEF);
    if (rc)
        return rc;
    int na = ir_node_axes(c->g, c->n, axes, c->err);
    if (na < 0)
        return c->err ? c->err->code : HPK_EINPUT;
    if (na == 0)
        return ir_infer_fail(c, "axes are required");
    int r = c->in[0].rank + na;
    if (r > IR_MAX_RANK)
        return ir_infer_fail(c, "the result would have rank %d, more than %d", r, IR_MAX_RANK);
    bool ins[IR_MAX_RANK];
    if (ir_infer_axes(c, r, ins) < 0) /* axes index the output */
        return c->err ? c->err->code : HPK_EINPUT;
    ir_shape o;
    o.rank = r;
    for (int i = 0, k = 0; i < r; i++)
        o.d[i] = ins[i] ? 1 : c->in[0].d[k++];
    c->out[0] = o;
    c->out_dt[0] = c->in_dt[0];
    return HPK_OK;
}

int ir_shape_concat(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_UNDEF);
    if (rc)
        return rc;
    int r = c->in[0].rank;
    int64_t axis = 0;
    if (!ir_attr_find(c->n, "axis"))
        return ir_infer_fail(c, "attribute 'axis' is required");
    if ((rc = norm_axis(c, ir_attr_int(c->n, "axis", 0), r, &axis)))
        return rc;
    ir_shape o = c->in[0];
    for (int i = 1; i < c->n->n_in; i++) {
        if ((rc = ir_infer_need(c, i, c->in_dt[0])))
            return rc;
        if (c->in[i].rank != r)
            return ir_infer_fail(c, "input %d has rank %d, input 0 has %d", i, c->in[i].rank, r);
        for (int d = 0; d < r; d++) {
            if (d == axis) {
                if (o.d[d] < 0 || c->in[i].d[d] < 0)
                    o.d[d] = ir_infer_unknown_dim(c);
                else if (__builtin_add_overflow(o.d[d], c->in[i].d[d], &o.d[d]))
                    return ir_infer_fail(c, "the concatenated size overflows");
            } else if (o.d[d] >= 0 && c->in[i].d[d] >= 0 && o.d[d] != c->in[i].d[d]) {
                return ir_infer_fail(c, "input %d disagrees on dim %d (%lld vs %lld)", i, d,
                                     (long long)c->in[i].d[d], (long long)o.d[d]);
            }
        }
    }
    c->out[0] = o;
    c->out_dt[0] = c->in_dt[0];
    return HPK_OK;
}

int ir_shape_constant(ir_infer *c)
{
    const ir_node *n = c->n;
    if (n->n_attr != 1)
        return ir_infer_fail(c, "exactly one value attribute is required, got %d attributes", n->n_attr);
    const ir_attr *a = &n->attr[0];
    ir_shape s = {0, {0}};
    if (strcmp(a->name, "value") == 0 && a->type == IR_ATTR_TENSOR && a->t) {
        c->out[0] = a->t->shape;
        c->out_dt[0] = a->t->dtype;
    } else if (strcmp(a->name, "value_float") == 0 && a->type == IR_ATTR_FLOAT) {
        c->out[0] = s;
        c->out_dt[0] = IR_DT_F32;
    } else if (strcmp(a->name, "value_int") == 0 && a->type == IR_ATTR_INT) {
        c->out[0] = s;
        c->out_dt[0] = IR_DT_I64;
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == IR_ATTR_FLOATS) {
        s.rank = 1;
        s.d[0] = a->n;
        c->out[0] = s;
        c->out_dt[0] = IR_DT_F32;
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == IR_ATTR_INTS) {
        s.rank = 1;
        s.d[0] = a->n;
        c->out[0] = s;
        c->out_dt[0] = IR_DT_I64;
    } else {
        return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (Constant): attribute '%s' is not supported",
                           n->name, a->name);
    }
    return HPK_OK;
}

int ir_shape_gemm(ir_infer *c)
{
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)) || (rc = ir_infer_need(c, 1, IR_DT_F32)))
        return rc;
    if (c->in[0].rank != 2 || c->in[1].rank != 2)
        return ir_infer_fail(c, "A and B must be 2-D, got ranks %d and %d", c->in[0].rank, c->in[1].rank);
    int64_t ta = ir_attr_int(c->n, "transA", 0), tb = ir_attr_int(c->n, "transB", 0);
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
        return ir_infer_fail(c, "transA and transB must be 0 or 1");
    int64_t m = c->in[0].d[ta ? 1 : 0], k = c->in[0].d[ta ? 0 : 1];
    int64_t kb = c->in[1].d[tb ? 1 : 0], nn = c->in[1].d[tb ? 0 : 1];
    if (k >= 0 && kb >= 0 && k != kb)
        return ir_infer_fail(c, "inner dimensions disagree (%lld vs %lld)", (long long)k, (long long)kb);
    ir_shape o;
    o.rank = 2;
    o.d[0] = m;
    o.d[1] = nn;
    if (c->n->n_in == 3 && c->n->in[2] >= 0) {
        if ((rc = ir_infer_need(c, 2, IR_DT_F32)))
            return rc;
        const ir_shape *cs = &c->in[2];
        if (cs->rank > 2)
            return ir_infer_fail(c, "C must have rank <= 2, got %d", cs->rank);
        for (int i = 0; i < cs->rank; i++) {
            int64_t want = o.d[2 - cs->rank + i], got = cs->d[i];
            if (got >= 0 && want >= 0 && got != 1 && got != want)
                return ir_infer_fail(c, "C does not broadcast to the result (dim %d: %lld vs %lld)", i,
                                     (long long)got, (long long)want);
        }
    }
    c->out[0] = o;
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

int ir_shape_matmul(ir_infer *c)
{
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)) || (rc = ir_infer_need(c, 1, IR_DT_F32)))
        return rc;
    ir_shape a = c->in[0], b = c->in[1];
    if (a.rank < 1 || b.rank < 1)
        return ir_infer_fail(c, "inputs must have rank >= 1");
    bool va = a.rank == 1, vb = b.rank == 1;
    if (va) { /* [K] -> [1,K] */
        a.rank = 2;
        a.d[1] = a.d[0];
        a.d[0] = 1;
    }
    if (vb) { /* [K] -> [K,1] */
        b.rank = 2;
        b.d[1] = 1;
    }
    int64_t k = a.d[a.rank - 1], kb = b.d[b.rank - 2];
    if (k >= 0 && kb >= 0 && k != kb)
        return ir_infer_fail(c, "inner dimensions disagree (%lld vs %lld)", (long long)k, (long long)kb);
    int br = (a.rank > b.rank ? a.rank : b.rank) - 2;
    ir_shape o;
    o.rank = br + 2;
    for (int i = 0; i < br; i++) {
        int ia = i - (br - (a.rank - 2)), ib = i - (br - (b.rank - 2));
        int64_t da = ia >= 0 ? a.d[ia] : 1, db = ib >= 0 ? b.d[ib] : 1;
        if (da == db || db == 1)
            o.d[i] = da;
        else if (da == 1)
            o.d[i] = db;
        else if (da >= 0 && db >= 0)
            return ir_infer_fail(c, "batch dims do not broadcast (%lld vs %lld)", (long long)da, (long long)db);
        else
            o.d[i] = da >= 0 ? da : db;
    }
    o.d[br] = a.d[a.rank - 2];
    o.d[br + 1] = b.d[b.rank - 1];
    /* drop the dims that 1-D operands added: B's trailing 1, then A's leading 1 (at index br) */
    if (vb)
        o.rank--;
    if (va) {
        for (int i = br; i < o.rank - 1; i++)
            o.d[i] = o.d[i + 1];
        o.rank--;
    }
    c->out[0] = o;
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

int ir_shape_reduce(ir_infer *c)
{
    int rc = ir_infer_need(c, 0, IR_DT_F32);
    if (rc)
        return rc;
    int r = c->in[0].rank;
    int64_t keep = ir_attr_int(c->n, "keepdims", 1), noop = ir_attr_int(c->n, "noop_with_empty_axes", 0);
    if ((keep != 0 && keep != 1) || (noop != 0 && noop != 1))
        return ir_infer_fail(c, "keepdims and noop_with_empty_axes must be 0 or 1");
    bool red[IR_MAX_RANK];
    int na = ir_infer_axes(c, r, red);
    if (na < 0)
        return c->err ? c->err->code : HPK_EINPUT;
    if (na == 0 && !noop) /* no axes: every dim, unless noop_with_empty_axes (then the identity) */
        for (int i = 0; i < r; i++)
            red[i] = true;
    ir_shape o;
    o.rank = 0;
    for (int i = 0; i < r; i++) {
        if (!red[i])
            o.d[o.rank++] = c->in[0].d[i];
        else if (keep)
            o.d[o.rank++] = 1;
    }
    c->out[0] = o;
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}
