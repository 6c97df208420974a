/* shape_nn.c — shape rules and attribute validation for Conv, pooling and BatchNormalization. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir_rules.h"

#define MAX_WINDOW ((int64_t)1 << 20) /* kernel, stride, dilation, pad bound: far beyond any real model */
#define MAX_SPATIAL (INT64_MAX / 4)   /* a declared spatial dim above this would overflow the window arithmetic */

static int node_err(hpk_err *err, const ir_node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int node_err(hpk_err *err, const ir_node *n, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): %s", n->name, ir_op_table[n->op].onnx_name, buf);
}

/* Reads an INTS attribute of exactly `want` entries, each in [lo, MAX_WINDOW]; absent: fills def. */
static int window_ints(const ir_node *n, const char *name, int want, int64_t lo, int64_t def, int64_t *out,
                       hpk_err *err)
{
    const int64_t *v;
    int cnt = ir_attr_ints(n, name, &v);
    if (cnt < 0) {
        if (ir_attr_find(n, name))
            return node_err(err, n, "attribute '%s' must be a list of ints", name);
        for (int i = 0; i < want; i++)
            out[i] = def;
        return HPK_OK;
    }
    if (cnt != want)
        return node_err(err, n, "attribute '%s' needs %d entries for a 2-D input, got %d", name, want, cnt);
    for (int i = 0; i < want; i++) {
        if (v[i] < lo || v[i] > MAX_WINDOW)
            return node_err(err, n, "attribute '%s' has an out-of-range value %lld", name, (long long)v[i]);
        out[i] = v[i];
    }
    return HPK_OK;
}

/* Output size of one spatial dim; in < 0 (symbolic) gives -1. */
static int out_dim(const ir_node *n, int64_t in, int64_t k, int64_t s, int64_t d, int64_t *pb, int64_t *pe,
                   const char *auto_pad, bool ceil_mode, int64_t *out, hpk_err *err)
{
    int64_t ek = (k - 1) * d + 1;
    if (in < 0) {
        *out = -1;
        return HPK_OK;
    }
    if (in > MAX_SPATIAL)
        return node_err(err, n, "spatial size %lld is too large", (long long)in);
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + ek - in;
        if (total < 0)
            total = 0;
        if (strcmp(auto_pad, "SAME_UPPER") == 0) {
            *pb = total / 2;
            *pe = total - total / 2;
        } else {
            *pe = total / 2;
            *pb = total - total / 2;
        }
        *out = o;
        return HPK_OK;
    }
    if (strcmp(auto_pad, "VALID") == 0)
        *pb = *pe = 0;
    int64_t span = in + *pb + *pe - ek;
    if (span < 0)
        return node_err(err, n, "the window (extent %lld) does not fit the padded input (size %lld)", (long long)ek, (long long)(in + *pb + *pe));
    int64_t o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    if (ceil_mode && (o - 1) * s >= in + *pb)
        o--; /* the last window must start inside the input or the leading pad */
    *out = o;
    return HPK_OK;
}

static int check_auto_pad(const ir_node *n, const char **ap, hpk_err *err)
{
    *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    if (strcmp(*ap, "NOTSET") && strcmp(*ap, "SAME_UPPER") && strcmp(*ap, "SAME_LOWER") && strcmp(*ap, "VALID"))
        return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): unknown auto_pad '%.32s'", n->name,
                           ir_op_table[n->op].onnx_name, *ap);
    return HPK_OK;
}

static int window_common(const ir_node *n, const ir_shape *x, int64_t kh, int64_t kw, bool dil_allowed,
                         ir_window *w, hpk_err *err)
{
    int64_t st[2], dl[2], pd[4];
    const char *ap;
    int rc;
    if ((rc = check_auto_pad(n, &ap, err)) || (rc = window_ints(n, "strides", 2, 1, 1, st, err)) ||
        (rc = window_ints(n, "pads", 4, 0, 0, pd, err)))
        return rc;
    if (dil_allowed) {
        if ((rc = window_ints(n, "dilations", 2, 1, 1, dl, err)))
            return rc;
    } else {
        dl[0] = dl[1] = 1;
    }
    w->kh = kh;
    w->kw = kw;
    w->sh = st[0];
    w->sw = st[1];
    w->dh = dl[0];
    w->dw = dl[1];
    w->pt = pd[0];
    w->pl = pd[1];
    w->pb = pd[2];
    w->pr = pd[3];
    if ((rc = out_dim(n, x->d[2], kh, w->sh, w->dh, &w->pt, &w->pb, ap, w->ceil_mode, &w->oh, err)) ||
        (rc = out_dim(n, x->d[3], kw, w->sw, w->dw, &w->pl, &w->pr, ap, w->ceil_mode, &w->ow, err)))
        return rc;
    return HPK_OK;
}

int ir_conv_window(const ir_node *n, const ir_shape *x, const ir_shape *w, ir_window *out, hpk_err *err)
{
    memset(out, 0, sizeof *out);
    if (x->rank != 4 || w->rank != 4)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "node '%s' (Conv): only 2-D convolution (rank-4 input and "
                           "weight) is supported, got ranks %d and %d", n->name, x->rank, w->rank);
    int64_t group = ir_attr_int(n, "group", 1);
    if (group < 1 || group > MAX_WINDOW)
        return node_err(err, n, "attribute 'group' is out of range (%lld)", (long long)group);
    out->group = group;
    if (w->d[0] < 1 || w->d[1] < 1 || w->d[2] < 1 || w->d[3] < 1 || w->d[2] > MAX_WINDOW || w->d[3] > MAX_WINDOW)
        return node_err(err, n, "the weight has an empty, negative or huge dim");
    if (w->d[0] % group)
        return node_err(err, n, "%lld output channels are not divisible by group %lld", (long long)w->d[0], (long long)group);
    int64_t wc;
    if (x->d[1] >= 0 && (__builtin_mul_overflow(w->d[1], group, &wc) || x->d[1] != wc))
        return hpk_err_set(err, HPK_EINPUT, "node '%s' (Conv): input has %lld channels, weight expects %lld x group %lld",
                           n->name, (long long)x->d[1], (long long)w->d[1], (long long)group);
    const int64_t *ks;
    int nk = ir_attr_ints(n, "kernel_shape", &ks);
    if (nk >= 0 && (nk != 2 || ks[0] != w->d[2] || ks[1] != w->d[3]))
        return node_err(err, n, "kernel_shape disagrees with the weight");
    return window_common(n, x, w->d[2], w->d[3], true, out, err);
}

int ir_pool_window(const ir_graph *g, const ir_node *n, const ir_shape *x, ir_window *out, hpk_err *err)
{
    int64_t ks[2];
    int rc;
    memset(out, 0, sizeof *out);
    if (x->rank != 4)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "node '%s' (%s): only 2-D pooling (rank-4 input) is supported, "
                           "got rank %d", n->name, ir_op_table[n->op].onnx_name, x->rank);
    if (!ir_attr_find(n, "kernel_shape"))
        return node_err(err, n, "attribute 'kernel_shape' is required");
    if ((rc = window_ints(n, "kernel_shape", 2, 1, 1, ks, err)))
        return rc;
    int64_t cm = ir_attr_int(n, "ceil_mode", 0);
    if (cm != 0 && cm != 1)
        return node_err(err, n, "attribute 'ceil_mode' must be 0 or 1, got %lld", (long long)cm);
    out->ceil_mode = cm == 1;
    int64_t cip = ir_attr_int(n, "count_include_pad", 0);
    if (cip != 0 && cip != 1)
        return node_err(err, n, "attribute 'count_include_pad' must be 0 or 1, got %lld", (long long)cip);
    out->count_include_pad = cip == 1;
    (void)g;
    return window_common(n, x, ks[0], ks[1], n->op == IR_OP_MaxPool, out, err);
}

int ir_shape_conv(ir_infer *c)
{
    ir_window w;
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)) || (rc = ir_infer_need(c, 1, IR_DT_F32)))
        return rc;
    if ((rc = ir_conv_window(c->n, &c->in[0], &c->in[1], &w, c->err)))
        return rc;
    if (c->n->n_in == 3 && c->n->in[2] >= 0) {
        if ((rc = ir_infer_need(c, 2, IR_DT_F32)))
            return rc;
        if (c->in[2].rank != 1 || c->in[2].d[0] != c->in[1].d[0])
            return ir_infer_fail(c, "bias must be 1-D of size %lld", (long long)c->in[1].d[0]);
    }
    int64_t d[4] = {c->in[0].d[0], c->in[1].d[0], w.oh, w.ow};
    if (d[2] < 0)
        d[2] = ir_infer_unknown_dim(c);
    if (d[3] < 0)
        d[3] = ir_infer_unknown_dim(c);
    c->out[0] = ir_shape_make(4, d);
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

int ir_shape_pool(ir_infer *c)
{
    ir_window w;
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)))
        return rc;
    if (c->n->n_out > 1 && c->n->out[1] >= 0)
        return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (MaxPool): the Indices output is not supported",
                           c->n->name);
    if (ir_attr_int(c->n, "storage_order", 0) != 0 && c->n->op == IR_OP_MaxPool)
        return ir_infer_fail(c, "storage_order must be 0 without an Indices output");
    if ((rc = ir_pool_window(c->g, c->n, &c->in[0], &w, c->err)))
        return rc;
    int64_t d[4] = {c->in[0].d[0], c->in[0].d[1], w.oh, w.ow};
    if (d[2] < 0)
        d[2] = ir_infer_unknown_dim(c);
    if (d[3] < 0)
        d[3] = ir_infer_unknown_dim(c);
    c->out[0] = ir_shape_make(4, d);
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

int ir_shape_global_pool(ir_infer *c)
{
    int rc;
    if ((rc = ir_infer_need(c, 0, IR_DT_F32)))
        return rc;
    if (c->in[0].rank < 3)
        return ir_infer_fail(c, "input must have rank >= 3, got %d", c->in[0].rank);
    c->out[0] = c->in[0];
    for (int i = 2; i < c->in[0].rank; i++)
        c->out[0].d[i] = 1;
    c->out_dt[0] = IR_DT_F32;
    return HPK_OK;
}

int ir_shape_batchnorm(ir_infer *c)
{
    int rc;
    for (int i = 0; i < 5; i++)
        if ((rc = ir_infer_need(c, i, IR_DT_F32)))
            return rc;
    if (c->in[0].rank < 2)
        return ir_infer_fail(c, "input must have rank >= 2, got %d", c->in[0].rank);
    int64_t ch = c->in[0].d[1];
    for (int i = 1; i < 5; i++)
        if (c->in[i].rank != 1 || (ch >= 0 && c->in[i].d[0] != ch))
            return ir_infer_fail(c, "input %d must be 1-D with %lld entries (the channel count)", i, (long long)ch);
    float eps = ir_attr_float(c->n, "epsilon", 1e-5f);
    if (!(eps >= 0.0f) || eps > 1.0f)
        return ir_infer_fail(c, "epsilon %g is out of range", (double)eps);
    float mom = ir_attr_float(c->n, "momentum", 0.9f);
    if (!(mom >= 0.0f && mom <= 1.0f))
        return ir_infer_fail(c, "momentum %g is out of range [0, 1]", (double)mom);
    int64_t tm = ir_attr_int(c->n, "training_mode", 0);
    if (tm != 0 && tm != 1)
        return ir_infer_fail(c, "training_mode must be 0 or 1, got %lld", (long long)tm);
    if (ir_attr_int(c->n, "spatial", 1) != 1)
        return hpk_err_set(c->err, HPK_EUNSUPPORTED, "node '%s' (BatchNormalization): spatial=0 is not supported",
                           c->n->name);
    c->out[0] = c->in[0];
    c->out_dt[0] = IR_DT_F32;
    for (int o = 1; o < c->n->n_out; o++) {
        c->out[o] = c->in[1];
        c->out_dt[o] = IR_DT_F32;
    }
    return HPK_OK;
}
