/* model_build.c — model_build's dispatch and checks, and the layer helpers the model families share. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir_rng.h"
#include "model_int.h"

int64_t model_make_divisible(double v, int64_t divisor)
{
    int64_t nv = (int64_t)(v + (double)divisor / 2) / divisor * divisor;
    if (nv < divisor)
        nv = divisor;
    if ((double)nv < 0.9 * v)
        nv += divisor;
    return nv;
}

/* ---- initializers ---------------------------------------------------------------------------------------- */

enum fill { FILL_CONST, FILL_NORMAL };

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* A float32 initializer filled with the constant arg, or normal(0, arg) from a stream of its own (seed, hash of
 * the name): a tensor's values depend on the seed and its name and shape only, not on the build order. */
static int add_f32(mb_ctx *c, const char *name, int rank, const int64_t *d, unsigned flags, enum fill fill,
                   double arg)
{
    ir_shape s = ir_shape_make(rank, d);
    int v = ir_init_add(c->g, name, IR_DT_F32, &s, c->err);
    if (v < 0)
        return -1;
    ir_tensor *t = c->g->values[v].init;
    float *p = t->data;
    size_t n = t->nbytes / sizeof(float);
    if (fill == FILL_CONST) {
        for (size_t i = 0; i < n; i++)
            p[i] = (float)arg;
    } else {
        ir_rng r;
        ir_rng_seed(&r, c->seed, name_hash(name));
        for (size_t i = 0; i < n; i++)
            p[i] = (float)(ir_rng_normal(&r) * arg);
    }
    c->g->values[v].flags |= flags;
    return v;
}

static int scalar_const(mb_ctx *c, int *slot, const char *name, float value)
{
    if (*slot < 0)
        *slot = add_f32(c, name, 0, NULL, 0, FILL_CONST, value);
    return *slot;
}

/* ---- nodes ----------------------------------------------------------------------------------------------- */

/* Appends a one-output node named like its output value; returns the value id, *ni the node index. */
static int node1(mb_ctx *c, ir_op op, const char *out_name, const int *in, int n_in, int *ni)
{
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0)
            return -1; /* an input failed earlier; its error is recorded */
    int y = ir_value_add(c->g, out_name, IR_DT_F32, NULL, c->err);
    if (y < 0)
        return -1;
    int n = ir_node_add(c->g, op, out_name, in, n_in, &y, 1, c->err);
    if (n < 0)
        return -1;
    if (ni)
        *ni = n;
    return y;
}

static const char *join(char *buf, size_t n, const char *prefix, const char *suffix)
{
    snprintf(buf, n, "%s.%s", prefix, suffix);
    return buf;
}

int mb_conv(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t cin, int64_t cout, int k,
            int stride, int64_t groups, bool bias)
{
    char nm[160];
    int64_t wd[4] = {cout, cin / groups, k, k};
    /* torch.nn.init.kaiming_normal_(mode="fan_out"): std = gain / sqrt(fan_out), gain sqrt(2) (ReLU),
     * fan_out = out_channels * kh * kw (the group count does not enter) */
    double std = sqrt(2.0 / (double)(cout * k * k));
    int in[3];
    in[0] = x;
    in[1] = add_f32(c, join(nm, sizeof nm, prefix, "weight"), 4, wd, IR_VAL_PARAM, FILL_NORMAL, std);
    in[2] = bias ? add_f32(c, join(nm, sizeof nm, prefix, "bias"), 1, &cout, IR_VAL_PARAM, FILL_CONST, 0) : 0;
    int ni, y = node1(c, IR_OP_Conv, out_name ? out_name : prefix, in, bias ? 3 : 2, &ni);
    if (y < 0)
        return -1;
    int64_t pad = (k - 1) / 2, ones[2] = {1, 1}, ks[2] = {k, k}, pads[4] = {pad, pad, pad, pad},
            st[2] = {stride, stride};
    if (ir_node_set_ints(c->g, ni, "dilations", ones, 2, c->err) ||
        ir_node_set_int(c->g, ni, "group", groups, c->err) ||
        ir_node_set_ints(c->g, ni, "kernel_shape", ks, 2, c->err) ||
        ir_node_set_ints(c->g, ni, "pads", pads, 4, c->err) ||
        ir_node_set_ints(c->g, ni, "strides", st, 2, c->err))
        return -1;
    return y;
}

int mb_bn(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t ch)
{
    char nm[160];
    int in[5] = {
        x,
        add_f32(c, join(nm, sizeof nm, prefix, "weight"), 1, &ch, IR_VAL_PARAM, FILL_CONST, 1),
        add_f32(c, join(nm, sizeof nm, prefix, "bias"), 1, &ch, IR_VAL_PARAM, FILL_CONST, 0),
        add_f32(c, join(nm, sizeof nm, prefix, "running_mean"), 1, &ch, IR_VAL_STATE, FILL_CONST, 0),
        add_f32(c, join(nm, sizeof nm, prefix, "running_var"), 1, &ch, IR_VAL_STATE, FILL_CONST, 1),
    };
    int ni, y = node1(c, IR_OP_BatchNormalization, out_name ? out_name : prefix, in, 5, &ni);
    if (y < 0 || ir_node_set_float(c->g, ni, "epsilon", c->bn_eps, c->err) ||
        ir_node_set_float(c->g, ni, "momentum", c->bn_momentum, c->err))
        return -1;
    return y;
}

static int hardsigmoid(mb_ctx *c, const char *out_name, int x)
{
    /* torch.nn.Hardsigmoid: relu6(x + 3) / 6 */
    int ni, y = node1(c, IR_OP_HardSigmoid, out_name, &x, 1, &ni);
    if (y < 0 || ir_node_set_float(c->g, ni, "alpha", 1.0f / 6.0f, c->err) ||
        ir_node_set_float(c->g, ni, "beta", 0.5f, c->err))
        return -1;
    return y;
}

int mb_act_add(mb_ctx *c, mb_act act, const char *out_name, int x)
{
    char nm[160];
    switch (act) {
    case MB_ACT_NONE: return x;
    case MB_ACT_RELU: return node1(c, IR_OP_Relu, out_name, &x, 1, NULL);
    case MB_ACT_RELU6: {
        int in[3] = {x, scalar_const(c, &c->clip_lo, "relu6.min", 0.0f),
                     scalar_const(c, &c->clip_hi, "relu6.max", 6.0f)};
        return node1(c, IR_OP_Clip, out_name, in, 3, NULL);
    }
    case MB_ACT_HARDSWISH: {
        int in[2] = {x, hardsigmoid(c, join(nm, sizeof nm, out_name, "hardsigmoid"), x)};
        return node1(c, IR_OP_Mul, out_name, in, 2, NULL);
    }
    }
    return -1;
}

int mb_conv_bn_act(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t cin, int64_t cout, int k,
                   int stride, int64_t groups, mb_act act)
{
    char p0[160], p1[160], p2[160];
    const char *bn_out = act == MB_ACT_NONE && out_name ? out_name : join(p1, sizeof p1, prefix, "1");
    int y = mb_conv(c, join(p0, sizeof p0, prefix, "0"), NULL, x, cin, cout, k, stride, groups, false);
    y = y < 0 ? -1 : mb_bn(c, join(p1, sizeof p1, prefix, "1"), bn_out, y, cout);
    if (y < 0 || act == MB_ACT_NONE)
        return y;
    return mb_act_add(c, act, out_name ? out_name : join(p2, sizeof p2, prefix, "2"), y);
}

int mb_se(mb_ctx *c, const char *prefix, int x, int64_t ch, int64_t squeeze)
{
    char nm[160];
    int s = node1(c, IR_OP_GlobalAveragePool, join(nm, sizeof nm, prefix, "avgpool"), &x, 1, NULL);
    s = s < 0 ? -1 : mb_conv(c, join(nm, sizeof nm, prefix, "fc1"), NULL, s, ch, squeeze, 1, 1, 1, true);
    s = s < 0 ? -1 : mb_act_add(c, MB_ACT_RELU, join(nm, sizeof nm, prefix, "activation"), s);
    s = s < 0 ? -1 : mb_conv(c, join(nm, sizeof nm, prefix, "fc2"), NULL, s, squeeze, ch, 1, 1, 1, true);
    s = s < 0 ? -1 : hardsigmoid(c, join(nm, sizeof nm, prefix, "scale_activation"), s);
    int in[2] = {s, x}; /* scale * input */
    return node1(c, IR_OP_Mul, prefix, in, 2, NULL);
}

static int inverted_residual(mb_ctx *c, int index, const mb_block *b)
{
    char pre[64], out[32], p[96], q[96];
    snprintf(pre, sizeof pre, "features.%d.%s", index, b->seq);
    snprintf(out, sizeof out, "features.%d", index);
    bool res = b->stride == 1 && b->in == b->out;
    const char *proj_out = res ? NULL : out; /* the block's output is called features.<index> */
    int k = 0, y = c->x;
#define SUB(buf) (snprintf(buf, sizeof buf, "%s.%d", pre, k++), buf)
    if (b->exp != b->in)
        y = mb_conv_bn_act(c, SUB(p), NULL, y, b->in, b->exp, 1, 1, 1, b->act);
    y = y < 0 ? -1 : mb_conv_bn_act(c, SUB(p), NULL, y, b->exp, b->exp, b->kernel, b->stride, b->exp, b->act);
    if (b->se)
        y = y < 0 ? -1 : mb_se(c, SUB(p), y, b->exp, b->se);
    if (b->split_project) {
        y = y < 0 ? -1 : mb_conv(c, SUB(p), NULL, y, b->exp, b->out, 1, 1, 1, false);
        y = y < 0 ? -1 : mb_bn(c, SUB(q), proj_out, y, b->out);
    } else {
        y = y < 0 ? -1 : mb_conv_bn_act(c, SUB(p), proj_out, y, b->exp, b->out, 1, 1, 1, MB_ACT_NONE);
    }
#undef SUB
    if (res) {
        int in[2] = {c->x, y};
        y = node1(c, IR_OP_Add, out, in, 2, NULL);
    }
    if (y < 0)
        return -1;
    c->x = y;
    c->ch = b->out;
    c->stride *= b->stride;
    return y;
}

/* Records the main-path tensor as stage k (stride 2^k) when the next unit changes the resolution. */
static int stage_mark(mb_ctx *c, int next_stride)
{
    if (next_stride == 1 || c->stride < 2)
        return HPK_OK;
    char nm[16];
    int k = 0;
    while ((1 << k) < c->stride)
        k++;
    snprintf(nm, sizeof nm, "stage%d", k);
    return ir_stage_set(c->g, nm, c->x, c->stride, c->err);
}

int mb_input(mb_ctx *c, const model_config *cfg)
{
    int sym = ir_sym_get(c->g, "N");
    if (sym < 0)
        return hpk_err_set(c->err, HPK_ENOMEM, "out of memory building %s", cfg->name), -1;
    int64_t d[4] = {-(int64_t)sym - 1, cfg->in_channels, cfg->input_size, cfg->input_size};
    ir_shape s = ir_shape_make(4, d);
    int x = ir_value_add(c->g, "input", IR_DT_F32, &s, c->err);
    if (x < 0 || ir_graph_add_input(c->g, x, c->err))
        return -1;
    c->x = x;
    c->ch = cfg->in_channels;
    c->stride = 1;
    return x;
}

int mb_stem_and_blocks(mb_ctx *c, int64_t stem_ch, mb_act stem_act, const mb_block *blocks, int nb)
{
    int y = mb_conv_bn_act(c, "features.0", "features.0", c->x, c->ch, stem_ch, 3, 2, 1, stem_act);
    if (y < 0)
        return -1;
    c->x = y;
    c->ch = stem_ch;
    c->stride = 2;
    if (stage_mark(c, nb ? blocks[0].stride : 0))
        return -1;
    for (int i = 0; i < nb; i++)
        if (inverted_residual(c, i + 1, &blocks[i]) < 0 || stage_mark(c, i + 1 < nb ? blocks[i + 1].stride : 0))
            return -1;
    return c->x;
}

int mb_pool_flatten(mb_ctx *c)
{
    int y = node1(c, IR_OP_GlobalAveragePool, "avgpool", &c->x, 1, NULL), ni;
    y = y < 0 ? -1 : node1(c, IR_OP_Flatten, "flatten", &y, 1, &ni);
    if (y < 0 || ir_node_set_int(c->g, ni, "axis", 1, c->err) || ir_stage_set(c->g, "fc", y, 0, c->err))
        return -1;
    c->x = y;
    return y;
}

int mb_linear(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t in, int64_t out)
{
    char nm[160];
    int64_t wd[2] = {out, in};
    int args[3] = {
        x,
        add_f32(c, join(nm, sizeof nm, prefix, "weight"), 2, wd, IR_VAL_PARAM, FILL_NORMAL, 0.01),
        add_f32(c, join(nm, sizeof nm, prefix, "bias"), 1, &out, IR_VAL_PARAM, FILL_CONST, 0),
    };
    int ni, y = node1(c, IR_OP_Gemm, out_name ? out_name : prefix, args, 3, &ni);
    if (y < 0 || ir_node_set_float(c->g, ni, "alpha", 1.0f, c->err) ||
        ir_node_set_float(c->g, ni, "beta", 1.0f, c->err) || ir_node_set_int(c->g, ni, "transB", 1, c->err))
        return -1;
    return y;
}

int mb_dropout(mb_ctx *c, const char *name, int x)
{
    int in[2] = {x, scalar_const(c, &c->drop_ratio, "dropout.ratio", c->dropout)};
    return node1(c, IR_OP_Dropout, name, in, 2, NULL);
}

int mb_output(mb_ctx *c, int v)
{
    if (v < 0)
        return -1;
    return ir_graph_add_output(c->g, v, c->err) ? -1 : v;
}

/* ---- model_build ------------------------------------------------------------------------------------------ */

static const struct family {
    const char *name;
    int (*build)(mb_ctx *c, const model_config *cfg);
} families[] = {
    {"mobilenetv2", model_mobilenetv2},
    {"mobilenetv3-small", model_mobilenetv3_small},
    {"mobilenetv3-large", model_mobilenetv3_large},
};
#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))

int model_names(const char **names, int max)
{
    for (int i = 0; i < N_FAMILIES && i < max; i++)
        names[i] = families[i].name;
    return N_FAMILIES;
}

void model_config_init(model_config *cfg, const char *name)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->name = name;
    cfg->width = 1.0;
    cfg->classes = 1000;
    cfg->input_size = 224;
    cfg->in_channels = 3;
    cfg->seed = 0;
    cfg->dropout = 0.2f;
}

static int check_config(const model_config *cfg, const struct family **fam, hpk_err *err)
{
    *fam = NULL;
    for (int i = 0; cfg->name && i < N_FAMILIES; i++)
        if (strcmp(cfg->name, families[i].name) == 0)
            *fam = &families[i];
    if (!*fam)
        return hpk_err_set(err, HPK_EINPUT, "unknown model '%.64s' (known: mobilenetv2, mobilenetv3-small, "
                           "mobilenetv3-large)", cfg->name ? cfg->name : "(null)");
    if (!(cfg->width > 0.0 && cfg->width <= MODEL_MAX_WIDTH))
        return hpk_err_set(err, HPK_EINPUT, "%s: width multiplier %g is out of range (0, %g]", cfg->name,
                           cfg->width, MODEL_MAX_WIDTH);
    if (cfg->classes < 1 || cfg->classes > MODEL_MAX_CLASSES)
        return hpk_err_set(err, HPK_EINPUT, "%s: number of classes %d is out of range [1, %d]", cfg->name,
                           cfg->classes, MODEL_MAX_CLASSES);
    if (cfg->input_size < MODEL_MIN_INPUT || cfg->input_size > MODEL_MAX_INPUT)
        return hpk_err_set(err, HPK_EINPUT, "%s: input size %d is out of range [%d, %d] (the network "
                           "downsamples by 32 and each of its five strides needs its own resolution)",
                           cfg->name, cfg->input_size, MODEL_MIN_INPUT, MODEL_MAX_INPUT);
    if (cfg->in_channels < 1 || cfg->in_channels > MODEL_MAX_IN_CHANNELS)
        return hpk_err_set(err, HPK_EINPUT, "%s: input channels %d is out of range [1, %d]", cfg->name,
                           cfg->in_channels, MODEL_MAX_IN_CHANNELS);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return hpk_err_set(err, HPK_EINPUT, "%s: dropout ratio %g is out of range [0, 1)", cfg->name,
                           (double)cfg->dropout);
    return HPK_OK;
}

int model_build(const model_config *cfg, hpk_alloc alloc, ir_graph **out, hpk_err *err)
{
    const struct family *fam;
    ir_graph *g = NULL;
    int rc;
    *out = NULL;
    if ((rc = check_config(cfg, &fam, err)) || (rc = ir_graph_init(&g, alloc, err)))
        return rc;
    mb_ctx c = {.g = g, .err = err, .seed = cfg->seed, .dropout = cfg->dropout,
                .clip_lo = -1, .clip_hi = -1, .drop_ratio = -1, .x = -1};
    char doc[256];
    snprintf(doc, sizeof doc, "%s width %g, %d classes, input %dx%dx%d, dropout %g, seed %llu (torchvision's "
             "architecture, built by hpk)", cfg->name, cfg->width, cfg->classes, cfg->in_channels,
             cfg->input_size, cfg->input_size, (double)cfg->dropout, (unsigned long long)cfg->seed);
    g->opset = 13;
    g->name = ir_strdup(g, cfg->name);
    g->producer_name = ir_strdup(g, "hpk");
    g->producer_version = ir_strdup(g, "0.1.0");
    g->doc = ir_strdup(g, doc);
    if (!g->name || !g->producer_name || !g->producer_version || !g->doc)
        rc = hpk_err_set(err, HPK_ENOMEM, "out of memory building %s", cfg->name);
    else if (fam->build(&c, cfg) < 0)
        rc = err && err->code ? err->code : HPK_ENOMEM;
    else
        rc = ir_verify(g, err);
    if (rc) {
        if (err && !err->code)
            hpk_err_set(err, rc, "building %s failed", cfg->name);
        ir_graph_free(g);
        return rc;
    }
    *out = g;
    return HPK_OK;
}
