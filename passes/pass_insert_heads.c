/* pass_insert_heads.c — inserts pooled prototype heads and their losses, converts the classifier's kernel
 * (see heads.h for the method); builds everything from standard ONNX ops so the classifier exports as is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"
#include "ir_rng.h"
#include "passes.h"

const char *head_kind_name(head_kind k)
{
    return k == HEAD_POLY ? "poly" : k == HEAD_LINEAR ? "linear" : "rbf";
}

int head_kind_parse(const char *s, head_kind *out)
{
    if (strcmp(s, "poly") == 0)
        *out = HEAD_POLY;
    else if (strcmp(s, "linear") == 0)
        *out = HEAD_LINEAR;
    else if (strcmp(s, "rbf") == 0)
        *out = HEAD_RBF;
    else
        return HPK_EUSAGE;
    return HPK_OK;
}

int heads_parse(heads_config *cfg, char *names, const char *weights, hpk_err *err)
{
    cfg->n = 0;
    for (char *tok = strtok(names, ","); tok; tok = strtok(NULL, ",")) {
        if (cfg->n >= HEADS_MAX)
            return hpk_err_set(err, HPK_EUSAGE, "at most %d heads", HEADS_MAX);
        for (int i = 0; i < cfg->n; i++)
            if (strcmp(cfg->names[i], tok) == 0)
                return hpk_err_set(err, HPK_EUSAGE, "head '%s' is listed twice", tok);
        cfg->names[cfg->n] = tok;
        cfg->weights[cfg->n] = 1.0f;
        cfg->n++;
    }
    if (!weights)
        return HPK_OK;
    int k = 0;
    const char *s = weights;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !(v >= 0) || v > 1e6)
            return hpk_err_set(err, HPK_EUSAGE, "bad head weight list '%s'", weights);
        if (k >= HEADS_MAX)
            return hpk_err_set(err, HPK_EUSAGE, "too many head weights in '%s'", weights);
        cfg->weights[k++] = (float)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return hpk_err_set(err, HPK_EUSAGE, "bad head weight list '%s'", weights);
    }
    if (k == 1)
        for (int i = 1; i < cfg->n; i++)
            cfg->weights[i] = cfg->weights[0];
    else if (k != cfg->n)
        return hpk_err_set(err, HPK_EUSAGE, "%d head weights for %d heads", k, cfg->n);
    return HPK_OK;
}

/* ---- small builders ------------------------------------------------------------------------------------- */

typedef struct hb {
    ir_graph *g;
    const char *prefix; /* "head/stage4" */
    unsigned flags;     /* IR_VAL_HEAD for stage heads */
    hpk_err *err;
    int rc;
} hb;

static int hb_value(hb *b, const char *what, ir_dtype dt)
{
    char nm[512];
    if (b->rc)
        return -1;
    snprintf(nm, sizeof nm, "%s/%s", b->prefix, what);
    const char *name = ir_graph_unique_name(b->g, nm);
    int v = name ? ir_value_add(b->g, name, dt, NULL, b->err) : -1;
    if (v < 0) {
        b->rc = b->err->code ? b->err->code : HPK_ENOMEM;
        return -1;
    }
    b->g->values[v].flags |= b->flags;
    return v;
}

static int hb_scalar(hb *b, const char *what, float x)
{
    char nm[512];
    ir_shape s = {0, {0}};
    if (b->rc)
        return -1;
    snprintf(nm, sizeof nm, "%s/%s", b->prefix, what);
    const char *name = ir_graph_unique_name(b->g, nm);
    int v = name ? ir_init_add(b->g, name, IR_DT_F32, &s, b->err) : -1;
    if (v < 0) {
        b->rc = b->err->code ? b->err->code : HPK_ENOMEM;
        return -1;
    }
    *(float *)b->g->values[v].init->data = x;
    b->g->values[v].flags |= b->flags;
    return v;
}

/* node op(in...) -> one new value; returns (value, and the node index through *ni if asked) */
static int hb_node(hb *b, ir_op op, const char *what, const int *in, int n_in, int *ni)
{
    if (b->rc)
        return -1;
    int out = hb_value(b, what, IR_DT_F32);
    char nm[512];
    snprintf(nm, sizeof nm, "%s/%s", b->prefix, what);
    int idx = out < 0 ? -1 : ir_node_add(b->g, op, nm, in, n_in, &out, 1, b->err);
    if (idx < 0) {
        b->rc = b->err->code ? b->err->code : HPK_ENOMEM;
        return -1;
    }
    if (ni)
        *ni = idx;
    return out;
}

static int hb_unary(hb *b, ir_op op, const char *what, int x) { return hb_node(b, op, what, &x, 1, NULL); }

static int hb_binary(hb *b, ir_op op, const char *what, int x, int y)
{
    int in[2] = {x, y};
    return hb_node(b, op, what, in, 2, NULL);
}

static void hb_set_int(hb *b, int ni, const char *name, int64_t v)
{
    if (!b->rc && ni >= 0)
        b->rc = ir_node_set_int(b->g, ni, name, v, b->err);
}

static void hb_set_float(hb *b, int ni, const char *name, float v)
{
    if (!b->rc && ni >= 0)
        b->rc = ir_node_set_float(b->g, ni, name, v, b->err);
}

/* f·Wᵀ·alpha */
static int hb_gemm(hb *b, const char *what, int f, int w, float alpha)
{
    int in[2] = {f, w}, ni = -1;
    int z = hb_node(b, IR_OP_Gemm, what, in, 2, &ni);
    hb_set_int(b, ni, "transB", 1);
    if (alpha != 1.0f)
        hb_set_float(b, ni, "alpha", alpha);
    return z;
}

static int hb_sumsq(hb *b, const char *what, int x, int keepdims)
{
    int ni = -1;
    int z = hb_node(b, IR_OP_ReduceSumSquare, what, &x, 1, &ni);
    int64_t axis = 1;
    if (!b->rc && ni >= 0)
        b->rc = ir_node_set_ints(b->g, ni, "axes", &axis, 1, b->err);
    hb_set_int(b, ni, "keepdims", keepdims);
    return z;
}

/* The logits of kernel p over features f [N,C] and prototypes w [K,C]. */
static int head_logits(hb *b, int f, int w, const head_params *p)
{
    if (p->normalize) {
        int ni = -1;
        f = hb_node(b, IR_OP_LpNormalization, "f_normalized", &f, 1, &ni);
        hb_set_int(b, ni, "axis", 1);
        w = hb_node(b, IR_OP_LpNormalization, "prototypes_normalized", &w, 1, &ni);
        hb_set_int(b, ni, "axis", 1);
    }
    switch (p->kind) {
    case HEAD_LINEAR: return hb_gemm(b, "logits", f, w, p->scale);
    case HEAD_POLY: {
        int t = hb_gemm(b, "dot", f, w, 1.0f);
        if (p->coef != 0.0f)
            t = hb_binary(b, IR_OP_Add, "shifted", t, hb_scalar(b, "coef", p->coef));
        if (p->degree != 1)
            t = hb_binary(b, IR_OP_Pow, "power", t, hb_scalar(b, "degree", (float)p->degree));
        return hb_binary(b, IR_OP_Mul, "logits", t, hb_scalar(b, "scale", p->scale));
    }
    case HEAD_RBF: {
        /* ‖f − w‖² = ‖f‖² − 2 f·w + ‖w‖² */
        int ff = hb_sumsq(b, "f_sq", f, 1), ww = hb_sumsq(b, "prototypes_sq", w, 0);
        int fw = hb_gemm(b, "dot_m2", f, w, -2.0f);
        int d2 = hb_binary(b, IR_OP_Add, "dist_sq", hb_binary(b, IR_OP_Add, "dist_sq_part", fw, ff), ww);
        int e = hb_unary(b, IR_OP_Exp, "kernel",
                         hb_binary(b, IR_OP_Mul, "neg_scaled", d2, hb_scalar(b, "neg_inv_gamma", -1.0f / p->gamma)));
        return hb_binary(b, IR_OP_Mul, "logits", e, hb_scalar(b, "scale", p->scale));
    }
    }
    return -1;
}

/* ---- the classifier ---------------------------------------------------------------------------------------- */

int pass_classifier_kind(ir_graph *g, const head_params *p, hpk_err *err)
{
    if (p->kind == HEAD_LINEAR)
        return HPK_OK; /* fc with linear logits is the network's own classifier: the paper's CE baseline */
    if (g->n_outputs < 1)
        return hpk_err_set(err, HPK_EINPUT, "the model has no output");
    int logits = g->outputs[0], pi = g->values[logits].producer;
    if (pi < 0 || g->nodes[pi].op != IR_OP_Gemm)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "the classifier (producer of '%s') is not a Gemm; the fc head "
                           "needs one", g->values[logits].name);
    ir_node *gemm = &g->nodes[pi];
    if (ir_attr_int(gemm, "transA", 0) != 0 || ir_attr_int(gemm, "transB", 0) != 1 ||
        ir_attr_float(gemm, "alpha", 1.0f) != 1.0f)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "classifier '%s': the fc head needs Gemm(f, W, transB=1)",
                           gemm->name);
    int f = gemm->in[0], w = gemm->in[1];
    hb b = {g, "fc", 0, err, 0};
    int z = head_logits(&b, f, w, p);
    if (b.rc)
        return b.rc;
    /* the last node of the chain writes the output value; the Gemm goes */
    int zi = g->values[z].producer;
    for (int o = 0; o < g->nodes[zi].n_out; o++)
        if (g->nodes[zi].out[o] == z)
            g->nodes[zi].out[o] = logits;
    g->nodes[pi].dead = true;
    g->values[z].producer = -1;
    int rc = ir_graph_compact(g, err); /* drops the dead Gemm first: the logits then have one producer */
    if (!rc)
        rc = ir_graph_toposort(g, err);
    return rc ? rc : ir_infer_graph(g, err);
}

/* ---- stage heads --------------------------------------------------------------------------------------------- */

static int stage_head(ir_graph *g, const char *name, int x, const head_params *p, int classes, int labels,
                      uint64_t seed, int *loss, hpk_err *err)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "head/%s", name);
    hb b = {g, prefix, IR_VAL_HEAD, err, 0};
    const ir_shape xshape = g->values[x].shape, *xs = &xshape; /* a copy: adding values moves g->values */
    int f = x;
    if (xs->rank == 4) {
        int pooled = hb_unary(&b, p->max_pool ? IR_OP_GlobalMaxPool : IR_OP_GlobalAveragePool, "pooled", x);
        f = hb_unary(&b, IR_OP_Flatten, "features", pooled);
    } else if (xs->rank != 2) {
        return hpk_err_set(err, HPK_EINPUT, "head '%s': tensor '%s' has rank %d (a head needs N×C×H×W or N×C)",
                           name, g->values[x].name, xs->rank);
    }
    int64_t ch = xs->d[1];
    if (ch <= 0)
        return hpk_err_set(err, HPK_EINPUT, "head '%s': tensor '%s' has no known channel count", name,
                           g->values[x].name);
    int64_t ws[2] = {classes, ch};
    ir_shape wshape = ir_shape_make(2, ws);
    char nm[512];
    snprintf(nm, sizeof nm, "%s/prototypes", prefix);
    const char *wname = ir_graph_unique_name(g, nm);
    int w = wname ? ir_init_add(g, wname, IR_DT_F32, &wshape, err) : -1;
    if (w < 0)
        return err->code ? err->code : HPK_ENOMEM;
    g->values[w].flags |= IR_VAL_PARAM | IR_VAL_HEAD;
    ir_rng r;
    ir_rng_seed(&r, seed, 0x4ead);
    float *wd = g->values[w].init->data;
    for (int64_t i = 0; i < classes * ch; i++)
        wd[i] = (float)(0.01 * ir_rng_normal(&r)); /* as torchvision's Linear layers: N(0, 0.01) */
    int z = head_logits(&b, f, w, p);
    int in[2] = {z, labels};
    *loss = b.rc ? -1 : hb_node(&b, IR_OP_SoftmaxCrossEntropyLoss, "loss", in, 2, NULL);
    if (b.rc)
        return b.rc;
    /* name the loss "loss/<head>" */
    snprintf(nm, sizeof nm, "loss/%s", name);
    int rc = ir_value_rename(g, *loss, ir_graph_unique_name(g, nm), err);
    return rc ? rc : ir_graph_add_output(g, *loss, err);
}

int pass_insert_heads(ir_graph *g, const heads_config *cfg, ad_loss *losses, int *n_losses, hpk_err *err)
{
    int rc;
    *n_losses = 0;
    if (g->n_inputs < 1 || g->n_outputs < 1)
        return hpk_err_set(err, HPK_EINPUT, "the model needs an input and an output");
    if ((rc = ir_infer_graph(g, err)))
        return rc;
    const ir_shape *ls = &g->values[g->outputs[0]].shape;
    if (ls->rank != 2 || ls->d[1] < 1)
        return hpk_err_set(err, HPK_EINPUT, "output '%s' is not [N, classes] logits", g->values[g->outputs[0]].name);
    int classes = (int)ls->d[1];
    float fc_weight = 1.0f;
    bool fc_listed = false;
    for (int i = 0; i < cfg->n; i++)
        if (strcmp(cfg->names[i], "fc") == 0) {
            fc_listed = true;
            fc_weight = cfg->weights[i];
        }
    if (fc_listed && (rc = pass_classifier_kind(g, &cfg->p, err)))
        return rc;
    /* labels [N] int64, N the input's batch dim */
    int64_t n = g->values[g->inputs[0]].shape.rank > 0 ? g->values[g->inputs[0]].shape.d[0] : -1;
    ir_shape lshape = ir_shape_make(1, &n);
    int labels = ir_value_add(g, ir_graph_unique_name(g, "labels"), IR_DT_I64, &lshape, err);
    if (labels < 0)
        return err->code;
    g->values[labels].flags |= IR_VAL_HEAD;
    if ((rc = ir_graph_add_input(g, labels, err)))
        return rc;
    /* the main loss */
    int logits = g->outputs[0];
    hb b = {g, "loss", IR_VAL_HEAD, err, 0};
    int in[2] = {logits, labels};
    int main_loss = hb_node(&b, IR_OP_SoftmaxCrossEntropyLoss, "fc", in, 2, NULL);
    if (b.rc)
        return b.rc;
    if ((rc = ir_graph_add_output(g, main_loss, err)))
        return rc;
    losses[(*n_losses)++] = (ad_loss){main_loss, fc_weight};
    for (int i = 0; i < cfg->n; i++) {
        const char *name = cfg->names[i];
        if (strcmp(name, "fc") == 0)
            continue;
        const ir_stage *st = ir_stage_find(g, name);
        int x = st ? st->value : ir_graph_find(g, name);
        if (x < 0)
            return hpk_err_set(err, HPK_EUSAGE, "--heads: '%s' is neither a stage nor a tensor of the model", name);
        int loss = -1;
        if ((rc = stage_head(g, name, x, &cfg->p, classes, labels, cfg->seed + (uint64_t)i * 7919u, &loss, err)))
            return rc;
        losses[(*n_losses)++] = (ad_loss){loss, cfg->weights[i]};
    }
    return ir_infer_graph(g, err);
}

/* the producer of v if it is op, else NULL */
static const ir_node *producer_of(const ir_graph *g, int v, ir_op op)
{
    if (v < 0 || g->values[v].producer < 0)
        return NULL;
    const ir_node *n = &g->nodes[g->values[v].producer];
    return n->op == op ? n : NULL;
}

static bool scalar_of(const ir_graph *g, int v, float *out)
{
    const ir_tensor *t = v >= 0 ? g->values[v].init : NULL;
    if (!t || t->dtype != IR_DT_F32 || t->nbytes != sizeof(float))
        return false;
    *out = *(const float *)t->data;
    return true;
}

void heads_describe_classifier(const ir_graph *g, char *buf, size_t n)
{
    snprintf(buf, n, "linear (Gemm)");
    if (g->n_outputs < 1)
        return;
    float s = 1, c = 0, d = 1, ng = 0;
    const ir_node *mul = producer_of(g, g->outputs[0], IR_OP_Mul), *gemm = NULL;
    if (!mul || !scalar_of(g, mul->in[1], &s))
        return;
    const ir_node *pw = producer_of(g, mul->in[0], IR_OP_Pow), *ex = producer_of(g, mul->in[0], IR_OP_Exp);
    const char *kind = "poly";
    if (pw) {
        if (!scalar_of(g, pw->in[1], &d))
            return;
        const ir_node *add = producer_of(g, pw->in[0], IR_OP_Add);
        if (add && scalar_of(g, add->in[1], &c))
            gemm = producer_of(g, add->in[0], IR_OP_Gemm);
        else
            gemm = producer_of(g, pw->in[0], IR_OP_Gemm);
    } else if (ex) {
        const ir_node *m2 = producer_of(g, ex->in[0], IR_OP_Mul);
        if (!m2 || !scalar_of(g, m2->in[1], &ng))
            return;
        kind = "rbf";
        const ir_node *a2 = producer_of(g, m2->in[0], IR_OP_Add), *a1 = a2 ? producer_of(g, a2->in[0], IR_OP_Add) : NULL;
        gemm = a1 ? producer_of(g, a1->in[0], IR_OP_Gemm) : NULL;
    } else {
        gemm = producer_of(g, mul->in[0], IR_OP_Gemm);
        if (!gemm)
            return;
        kind = "scaled linear";
    }
    if (!gemm)
        return;
    bool norm = producer_of(g, gemm->in[0], IR_OP_LpNormalization) != NULL;
    if (strcmp(kind, "poly") == 0)
        snprintf(buf, n, "poly s·(f·w + c)^d: d=%g c=%g s=%g%s", (double)d, (double)c, (double)s,
                 norm ? ", L2-normalized f and w" : "");
    else if (strcmp(kind, "rbf") == 0)
        snprintf(buf, n, "rbf s·exp(−‖f − w‖²/γ): γ=%g s=%g%s", ng != 0 ? -1.0 / (double)ng : 0.0, (double)s,
                 norm ? ", L2-normalized f and w" : "");
    else
        snprintf(buf, n, "linear s·f·w: s=%g%s", (double)s, norm ? ", L2-normalized f and w" : "");
}
