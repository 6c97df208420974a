/* onednn_softmax.c — Softmax/LogSoftmax on oneDNN softmax_v2 (opset < 13 coerces the input to 2-D first), and
 * SoftmaxCrossEntropyLoss written by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

static int softmax(be_plan *p, int ni, bool log)
{
    const ir_node *n = &p->g->nodes[ni];
    int x = n->in[0], y = n->out[0], rc;
    const ir_shape *xs = &p->shapes[x];
    int r = xs->rank;
    int64_t axis = ir_attr_int(n, "axis", p->g->opset >= 13 ? -1 : 1);
    if (axis < 0)
        axis += r;
    ir_shape vs; /* the shape softmax runs on */
    int vaxis;
    if (p->g->opset >= 13) {
        vs = *xs;
        vaxis = (int)axis;
    } else {
        /* opset < 13: [prod(d < axis), prod(d >= axis)], normalized along dim 1 */
        vs.rank = 2;
        vs.d[0] = vs.d[1] = 1;
        for (int i = 0; i < r; i++)
            vs.d[i < axis ? 0 : 1] *= xs->d[i];
        vaxis = 1;
    }
    if (vs.rank > DNNL_MAX_NDIMS)
        return od_fail(p, HPK_EUNSUPPORTED, ni, "rank %d is more than oneDNN's %d", vs.rank, DNNL_MAX_NDIMS);
    dnnl_memory_desc_t md;
    if (od_md_plain(&md, &vs, IR_DT_F32))
        return od_fail(p, HPK_EINTERNAL, ni, "softmax descriptor");
    dnnl_softmax_v2_desc_t sd;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_softmax_v2_forward_desc_init(&sd, (dnnl_prop_kind_t)od_prop(p),
                                                        log ? dnnl_softmax_log : dnnl_softmax_accurate, &md, &md, vaxis);
    if (s == dnnl_success)
        s = od_pd_try(p, &pd, &sd, NULL);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, ni, "softmax");
    int xm, ym;
    if ((rc = od_input_plain(p, x, ni, &xm)) || (rc = od_output_new(p, y, NULL, &ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    int xv = od_mem_view(p, xm, &md, &vs), yv = od_mem_view(p, ym, &md, &vs);
    if (xv < 0 || yv < 0) {
        dnnl_primitive_desc_destroy(pd);
        return HPK_ENOMEM;
    }
    od_arg args[2] = {{DNNL_ARG_SRC, xv}, {DNNL_ARG_DST, yv}};
    return od_step_prim(p, ni, pd, args, 2, false);
}

int od_op_Softmax(be_plan *p, int ni) { return softmax(p, ni, false); }
int od_op_LogSoftmax(be_plan *p, int ni) { return softmax(p, ni, true); }

/* ---- SoftmaxCrossEntropyLoss and its gradient: by hand (a stable log-sum-exp per row) ------------------------ */

typedef struct sce_data {
    int64_t n, k;
    bool mean, i64;
    int node;
} sce_data;

static int64_t label_at(const void *l, bool i64, int64_t i)
{
    return i64 ? ((const int64_t *)l)[i] : ((const int32_t *)l)[i];
}

static double logsumexp(const float *s, int64_t K)
{
    float m = s[0];
    for (int64_t j = 1; j < K; j++)
        m = s[j] > m ? s[j] : m;
    double acc = 0;
    for (int64_t j = 0; j < K; j++)
        acc += exp((double)s[j] - m);
    return m + log(acc);
}

static int bad_label(be_plan *p, const sce_data *d, int64_t y, int64_t i, hpk_err *err)
{
    const ir_node *n = &p->g->nodes[d->node];
    return hpk_err_set(err, HPK_EINPUT, "node '%s' (%s): label %lld of sample %lld is outside [0, %lld)", n->name,
                       ir_op_table[n->op].onnx_name, (long long)y, (long long)i, (long long)d->k);
}

static int sce_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    const sce_data *d = s->data;
    const float *sc = od_ptr(p, od_arg_mem(s, 0));
    const void *lab = od_ptr(p, od_arg_mem(s, 1));
    float *loss = od_ptr(p, od_arg_mem(s, 2));
    int lm = od_arg_mem(s, 3);
    float *logp = lm >= 0 ? od_ptr(p, lm) : NULL;
    double total = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int64_t y = label_at(lab, d->i64, i);
        if (y < 0 || y >= d->k)
            return bad_label(p, d, y, i, err);
        double lse = logsumexp(sc + i * d->k, d->k);
        total += lse - sc[i * d->k + y];
        if (logp)
            for (int64_t j = 0; j < d->k; j++)
                logp[i * d->k + j] = (float)(sc[i * d->k + j] - lse);
    }
    *loss = (float)(d->mean && d->n > 0 ? total / (double)d->n : total);
    return HPK_OK;
}

static int sce_grad_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    const sce_data *d = s->data;
    double dl = *(const float *)od_ptr(p, od_arg_mem(s, 0));
    const float *sc = od_ptr(p, od_arg_mem(s, 1));
    const void *lab = od_ptr(p, od_arg_mem(s, 2));
    float *dx = od_ptr(p, od_arg_mem(s, 3));
    double scale = d->mean && d->n > 0 ? dl / (double)d->n : dl;
    for (int64_t i = 0; i < d->n; i++) {
        int64_t y = label_at(lab, d->i64, i);
        if (y < 0 || y >= d->k)
            return bad_label(p, d, y, i, err);
        double lse = logsumexp(sc + i * d->k, d->k);
        for (int64_t j = 0; j < d->k; j++)
            dx[i * d->k + j] = (float)(scale * (exp((double)sc[i * d->k + j] - lse) - (j == y ? 1.0 : 0.0)));
    }
    return HPK_OK;
}

static int sce(be_plan *p, int ni, bool grad)
{
    const ir_node *n = &p->g->nodes[ni];
    int scores = n->in[grad ? 1 : 0], labels = n->in[grad ? 2 : 1], rc;
    sce_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->n = p->shapes[scores].d[0];
    d->k = p->shapes[scores].d[1];
    d->mean = strcmp(ir_attr_str(n, "reduction", "mean"), "mean") == 0;
    d->i64 = p->dtypes[labels] == IR_DT_I64;
    d->node = ni;
    od_arg args[4];
    int na = 0, m;
    for (int j = 0; j < n->n_in && j < 3; j++) {
        if (n->in[j] < 0)
            continue;
        if ((rc = od_input_plain(p, n->in[j], ni, &m))) {
            free(d);
            return rc;
        }
        args[na++] = (od_arg){j, m};
    }
    int base = grad ? 3 : 2;
    for (int j = 0; j < n->n_out && j < 2; j++) {
        if (n->out[j] < 0)
            continue;
        if ((rc = od_output_new(p, n->out[j], NULL, &m))) {
            free(d);
            return rc;
        }
        args[na++] = (od_arg){base + j, m};
    }
    return od_step_kernel(p, ni, grad ? sce_grad_kernel : sce_kernel, d, args, na, false,
                          grad ? "hpk:sce_loss_grad" : "hpk:sce_loss");
}

int od_op_SoftmaxCrossEntropyLoss(be_plan *p, int ni) { return sce(p, ni, false); }
int od_op_SoftmaxCrossEntropyLossGrad(be_plan *p, int ni) { return sce(p, ni, true); }
