/* test_models.c — the model builders: torchvision's parameter and MAC counts, shapes, stages, init, seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "models.h"
#include "onnx.h"

static int failures;

#define CHECK(cond, ...)                                                                                       \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            failures++;                                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                                      \
            fputc('\n', stderr);                                                                               \
        }                                                                                                      \
    } while (0)

static const char *const FAMILIES[3] = {"mobilenetv2", "mobilenetv3-small", "mobilenetv3-large"};
static const double WIDTHS[3] = {0.5, 0.75, 1.0};

/* Trainable parameters of torchvision 0.14 (Debian python3-torchvision), 1000 classes, [family][width]:
 * /usr/bin/python3 -c "import torchvision.models as m; [print(f, w, sum(p.numel() for p in getattr(m, f)(width_mult=w, num_classes=1000).parameters() if p.requires_grad)) for f in ('mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large') for w in (0.5, 0.75, 1.0)]"
 */
static const uint64_t TV_PARAMS[3][3] = {
    {1968680, 2636424, 3504872}, /* mobilenet_v2 */
    {917264, 1653920, 2542856},  /* mobilenet_v3_small */
    {1734576, 3377576, 5483032}, /* mobilenet_v3_large */
};

/* Multiply-accumulates of every Conv2d and Linear at batch 1, 3x224x224 (what ir_graph_stats counts), from
 * forward hooks on the same torchvision models:
 * /usr/bin/python3 -c "import torch, torchvision.models as m
 * def macs(net):
 *     t = [0]
 *     def hook(mod, i, o):
 *         if isinstance(mod, torch.nn.Conv2d): t[0] += o.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
 *         elif isinstance(mod, torch.nn.Linear): t[0] += mod.in_features * mod.out_features
 *     for mod in net.modules(): mod.register_forward_hook(hook)
 *     net.eval()(torch.zeros(1, 3, 224, 224)); return t[0]
 * [print(f, w, macs(getattr(m, f)(width_mult=w))) for f in ('mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large') for w in (0.5, 0.75, 1.0)]"
 */
static const uint64_t TV_MACS[3][3] = {
    {97131840, 209069792, 300774272},
    {18970736, 39115576, 56510400},
    {64962192, 140033816, 216589760},
};

/* Channels of stage1..stage5 and fc at width 1.0 (torchvision's features[i] outputs). */
static const int64_t STAGE_CH[3][6] = {
    {16, 24, 32, 96, 320, 1280},
    {16, 16, 24, 48, 96, 576},
    {16, 24, 40, 112, 160, 960},
};
/* The tensors: the outputs of these torchvision feature blocks. */
static const char *const STAGE_TENSOR[3][6] = {
    {"features.1", "features.3", "features.6", "features.13", "features.17", "flatten"},
    {"features.0", "features.1", "features.3", "features.8", "features.11", "flatten"},
    {"features.1", "features.3", "features.6", "features.12", "features.15", "flatten"},
};

static ir_graph *build(const char *name, double width, int classes, int size, int in_ch, uint64_t seed)
{
    model_config cfg;
    model_config_init(&cfg, name);
    cfg.width = width;
    cfg.classes = classes;
    cfg.input_size = size;
    cfg.in_channels = in_ch;
    cfg.seed = seed;
    hpk_err err = {0};
    ir_graph *g = NULL;
    int rc = model_build(&cfg, hpk_alloc_default(), &g, &err);
    CHECK(rc == HPK_OK && g, "%s x%g: %s", name, width, err.msg);
    return rc == HPK_OK ? g : NULL;
}

static const ir_value *find(const ir_graph *g, const char *name)
{
    int v = ir_graph_find(g, name);
    return v >= 0 ? &g->values[v] : NULL;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Stage table: stage1..5 at strides 2..32 with the right spatial size, fc rank 2, in that order. */
static void check_stages(const ir_graph *g, const char *what, int size)
{
    CHECK(g->n_stages == 6, "%s: %d stages", what, g->n_stages);
    for (int k = 1; k <= 5 && k <= g->n_stages; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "stage%d", k);
        const ir_stage *s = &g->stages[k - 1];
        CHECK(strcmp(s->name, nm) == 0, "%s: stage %d is '%s'", what, k, s->name);
        CHECK(s->stride == 1 << k, "%s: %s stride %d", what, nm, s->stride);
        const ir_shape *sh = &g->values[s->value].shape;
        int64_t want = ceil_div(size, 1 << k);
        CHECK(sh->rank == 4 && sh->d[0] < 0 && sh->d[2] == want && sh->d[3] == want,
              "%s: %s (%s) is %lldx%lld, want %lld", what, nm, g->values[s->value].name, (long long)sh->d[2],
              (long long)sh->d[3], (long long)want);
    }
    if (g->n_stages == 6) {
        const ir_stage *fc = &g->stages[5];
        CHECK(strcmp(fc->name, "fc") == 0 && fc->stride == 0, "%s: last stage '%s' stride %d", what, fc->name,
              fc->stride);
        CHECK(g->values[fc->value].shape.rank == 2, "%s: fc has rank %d", what, g->values[fc->value].shape.rank);
    }
}

/* model_find_stages on a copy must name the same tensors as the builder. */
static void check_find_stages(const ir_graph *g, const char *what)
{
    hpk_err err = {0};
    ir_graph *c = NULL;
    if (ir_graph_clone(g, &c, &err)) {
        CHECK(0, "%s: clone: %s", what, err.msg);
        return;
    }
    int rc = model_find_stages(c, &err);
    CHECK(rc == HPK_OK, "%s: model_find_stages: %s", what, err.msg);
    CHECK(c->n_stages == g->n_stages, "%s: found %d stages, the builder recorded %d", what, c->n_stages,
          g->n_stages);
    for (int i = 0; i < g->n_stages && i < c->n_stages; i++) {
        const ir_stage *a = &g->stages[i], *b = &c->stages[i];
        CHECK(strcmp(a->name, b->name) == 0 && a->stride == b->stride &&
                  strcmp(g->values[a->value].name, c->values[b->value].name) == 0,
              "%s: builder %s=%s/%d, found %s=%s/%d", what, a->name, g->values[a->value].name, a->stride, b->name,
              c->values[b->value].name, b->stride);
    }
    ir_graph_free(c);
}

static void test_torchvision_counts(void)
{
    for (int f = 0; f < 3; f++)
        for (int w = 0; w < 3; w++) {
            char what[64];
            snprintf(what, sizeof what, "%s x%g", FAMILIES[f], WIDTHS[w]);
            ir_graph *g = build(FAMILIES[f], WIDTHS[w], 1000, 224, 3, 0);
            if (!g)
                continue;
            hpk_err err = {0};
            ir_stats st;
            CHECK(ir_verify(g, &err) == HPK_OK, "%s: verify: %s", what, err.msg);
            CHECK(ir_graph_stats(g, &st, &err) == HPK_OK, "%s: stats: %s", what, err.msg);
            CHECK(st.params == TV_PARAMS[f][w], "%s: %llu params, torchvision %llu", what,
                  (unsigned long long)st.params, (unsigned long long)TV_PARAMS[f][w]);
            CHECK(st.macs == TV_MACS[f][w], "%s: %llu MACs, torchvision %llu", what, (unsigned long long)st.macs,
                  (unsigned long long)TV_MACS[f][w]);
            printf("%-18s x%-5g params %8llu (torchvision %8llu)  MACs %10llu (torchvision %10llu)\n", FAMILIES[f],
                   WIDTHS[w], (unsigned long long)st.params, (unsigned long long)TV_PARAMS[f][w],
                   (unsigned long long)st.macs, (unsigned long long)TV_MACS[f][w]);
            /* the parameter flags agree with the count */
            uint64_t flagged = 0;
            for (int v = 0; v < g->n_values; v++)
                if (g->values[v].flags & IR_VAL_PARAM) {
                    size_t n;
                    CHECK(ir_shape_numel(&g->values[v].init->shape, &n) == HPK_OK, "numel");
                    flagged += n;
                }
            CHECK(flagged == st.params, "%s: %llu elements flagged IR_VAL_PARAM", what, (unsigned long long)flagged);
            /* input, output, opset */
            CHECK(g->n_inputs == 1 && strcmp(g->values[g->inputs[0]].name, "input") == 0, "%s: input", what);
            CHECK(g->n_outputs == 1, "%s: outputs", what);
            if (g->n_outputs == 1) {
                const ir_value *y = &g->values[g->outputs[0]];
                CHECK(strcmp(y->name, "logits") == 0 && y->shape.rank == 2 && y->shape.d[0] < 0 &&
                          strcmp(g->syms[-y->shape.d[0] - 1], "N") == 0 && y->shape.d[1] == 1000,
                      "%s: output %s", what, y->name);
            }
            CHECK(g->opset == 13, "%s: opset %lld", what, (long long)g->opset);
            check_stages(g, what, 224);
            if (WIDTHS[w] == 1.0 && g->n_stages == 6)
                for (int k = 0; k < 6; k++) {
                    const ir_value *v = &g->values[g->stages[k].value];
                    CHECK(v->shape.d[1] == STAGE_CH[f][k] && strcmp(v->name, STAGE_TENSOR[f][k]) == 0,
                          "%s: %s is %s with %lld channels, want %s with %lld", what, g->stages[k].name, v->name,
                          (long long)v->shape.d[1], STAGE_TENSOR[f][k], (long long)STAGE_CH[f][k]);
                }
            check_find_stages(g, what);
            ir_graph_free(g);
        }
}

/* torchvision's state_dict names and the ONNX forms of BN, Clip, HardSigmoid, Dropout, Gemm. */
static void test_names_and_attributes(void)
{
    ir_graph *g = build("mobilenetv2", 1.0, 1000, 224, 3, 0);
    if (g) {
        const ir_value *v = find(g, "features.0.0.weight");
        CHECK(v && v->init && v->shape.rank == 4 && v->shape.d[0] == 32 && v->shape.d[1] == 3 && v->shape.d[2] == 3,
              "features.0.0.weight");
        CHECK(find(g, "features.1.conv.0.0.weight") && find(g, "features.1.conv.1.weight") &&
                  find(g, "features.1.conv.2.running_var"),
              "V2 block without expansion: conv.0 dw, conv.1 project, conv.2 BN");
        CHECK(find(g, "features.2.conv.0.0.weight") && find(g, "features.2.conv.1.0.weight") &&
                  find(g, "features.2.conv.2.weight") && find(g, "features.2.conv.3.running_mean"),
              "V2 block: conv.0 expand, conv.1 dw, conv.2 project, conv.3 BN");
        CHECK(find(g, "features.18.0.weight") && find(g, "features.18.1.bias"), "V2 last conv");
        v = find(g, "classifier.1.weight");
        CHECK(v && v->shape.d[0] == 1000 && v->shape.d[1] == 1280, "classifier.1.weight");
        v = find(g, "features.2.conv.1.1.running_mean");
        CHECK(v && (v->flags & IR_VAL_STATE) && !(v->flags & IR_VAL_PARAM), "running_mean is state");
        v = find(g, "features.2.conv.1.1.weight");
        CHECK(v && (v->flags & IR_VAL_PARAM), "BN weight is a parameter");
        int bn = 0, clip = 0, drop = 0, gemm = 0, add = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const ir_node *n = &g->nodes[i];
            if (n->op == IR_OP_BatchNormalization) {
                bn++;
                CHECK(n->n_in == 5 && n->n_out == 1 && ir_attr_float(n, "epsilon", 0) == 1e-5f &&
                          ir_attr_float(n, "momentum", 0) == 0.9f,
                      "V2 BN %s", n->name);
            } else if (n->op == IR_OP_Clip) {
                float lo, hi;
                hpk_err err = {0};
                clip++;
                CHECK(ir_clip_bounds(g, n, &lo, &hi, &err) == HPK_OK && lo == 0.0f && hi == 6.0f, "ReLU6 %s",
                      n->name);
                CHECK(n->n_in == 3 && g->values[n->in[1]].init && g->values[n->in[2]].init, "Clip bounds inputs");
            } else if (n->op == IR_OP_Dropout) {
                drop++;
                CHECK(n->n_in == 2 && g->values[n->in[1]].init &&
                          *(const float *)g->values[n->in[1]].init->data == 0.2f && !ir_attr_find(n, "ratio"),
                      "Dropout ratio 0.2 as an input");
            } else if (n->op == IR_OP_Gemm) {
                gemm++;
                CHECK(ir_attr_int(n, "transB", 0) == 1, "Gemm transB");
            } else if (n->op == IR_OP_Add) {
                add++;
            } else if (n->op == IR_OP_Conv) {
                CHECK(n->n_in == 2, "V2 Conv %s has a bias", n->name);
            }
        }
        CHECK(bn == 52 && clip == 35 && drop == 1 && gemm == 1 && add == 10, "V2 op counts bn %d clip %d drop %d "
              "gemm %d add %d", bn, clip, drop, gemm, add);
        ir_graph_free(g);
    }
    g = build("mobilenetv3-small", 1.0, 1000, 224, 3, 0);
    if (g) {
        /* features.1: no expansion (16 -> 16), so block.0 is the depthwise conv and block.1 the SE */
        CHECK(find(g, "features.1.block.0.0.weight") && find(g, "features.1.block.1.fc1.weight") &&
                  find(g, "features.1.block.1.fc1.bias") && find(g, "features.1.block.1.fc2.bias") &&
                  find(g, "features.1.block.2.1.running_var"),
              "V3-small features.1 names");
        const ir_value *v = find(g, "features.1.block.1.fc1.weight");
        CHECK(v && v->shape.d[0] == 8 && v->shape.d[1] == 16, "SE squeeze = make_divisible(16 // 4, 8) = 8");
        CHECK(find(g, "features.12.0.weight") && find(g, "classifier.0.weight") && find(g, "classifier.3.bias"),
              "V3 head names");
        v = find(g, "classifier.0.weight");
        CHECK(v && v->shape.d[0] == 1024 && v->shape.d[1] == 576, "classifier.0.weight");
        int hsig = 0, hs_alpha = 1;
        for (int i = 0; i < g->n_nodes; i++) {
            const ir_node *n = &g->nodes[i];
            if (n->op == IR_OP_BatchNormalization)
                CHECK(ir_attr_float(n, "epsilon", 0) == 1e-3f && ir_attr_float(n, "momentum", 0) == 0.99f,
                      "V3 BN %s", n->name);
            if (n->op == IR_OP_HardSigmoid) {
                hsig++;
                hs_alpha &= ir_attr_float(n, "alpha", 0) == 1.0f / 6.0f && ir_attr_float(n, "beta", 0) == 0.5f;
            }
            CHECK(n->op != IR_OP_HardSwish, "opset 13 has no HardSwish");
        }
        /* the same HardSigmoid/Mul count as torchvision's opset-13 export (tests/data/fixtures) */
        CHECK(hsig == 28 && hs_alpha, "V3-small: %d HardSigmoid", hsig);
        ir_graph_free(g);
    }
}

/* Kaiming-normal fan-out for convs, normal(0, 0.01) for linears, zero biases, BN 1/0, running stats 0/1. */
static void test_init(void)
{
    ir_graph *g = build("mobilenetv3-large", 1.0, 1000, 224, 3, 7);
    if (!g)
        return;
    double conv_z2 = 0, conv_z = 0, lin_s2 = 0, lin_s = 0;
    size_t conv_n = 0, lin_n = 0;
    int big = 0;
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->init || val->init->dtype != IR_DT_F32)
            continue;
        const float *p = val->init->data;
        size_t n = val->init->nbytes / sizeof(float);
        const char *dot = strrchr(val->name, '.');
        const char *leaf = dot ? dot + 1 : val->name;
        bool conv = val->shape.rank == 4, lin = val->shape.rank == 2;
        if (conv || lin) {
            double std = conv ? sqrt(2.0 / (double)(val->shape.d[0] * val->shape.d[2] * val->shape.d[3])) : 0.01;
            double s = 0, s2 = 0;
            for (size_t i = 0; i < n; i++) {
                double z = p[i] / std;
                s += z;
                s2 += z * z;
            }
            if (conv) {
                conv_z += s;
                conv_z2 += s2;
                conv_n += n;
            } else {
                lin_s += s;
                lin_s2 += s2;
                lin_n += n;
            }
            if (n >= 20000) { /* each big tensor on its own: std within 3% */
                double m = s / (double)n, sd = sqrt(s2 / (double)n - m * m);
                CHECK(fabs(sd - 1.0) < 0.03 && fabs(m) < 0.03, "%s: std/expected %.4f, mean %.4f", val->name, sd, m);
                big++;
            }
        } else if (strcmp(leaf, "bias") == 0 || strcmp(leaf, "running_mean") == 0) {
            for (size_t i = 0; i < n; i++)
                CHECK(p[i] == 0.0f, "%s[%zu] = %g", val->name, i, (double)p[i]);
        } else if (strcmp(leaf, "weight") == 0 || strcmp(leaf, "running_var") == 0) {
            for (size_t i = 0; i < n; i++)
                CHECK(p[i] == 1.0f, "%s[%zu] = %g", val->name, i, (double)p[i]);
        }
    }
    double cm = conv_z / (double)conv_n, csd = sqrt(conv_z2 / (double)conv_n - cm * cm);
    double lm = lin_s / (double)lin_n, lsd = sqrt(lin_s2 / (double)lin_n - lm * lm);
    printf("init: conv weights std/sqrt(2/fan_out) = %.4f (mean %.4f, %zu values); linear std/0.01 = %.4f "
           "(mean %.4f, %zu values); %d tensors checked alone\n", csd, cm, conv_n, lsd, lm, lin_n, big);
    CHECK(fabs(csd - 1.0) < 0.005 && fabs(cm) < 0.005, "conv init std ratio %.4f mean %.4f", csd, cm);
    CHECK(fabs(lsd - 1.0) < 0.005 && fabs(lm) < 0.005, "linear init std ratio %.4f mean %.4f", lsd, lm);
    CHECK(big > 10, "only %d big tensors", big);
    ir_graph_free(g);
}

static bool same_inits(const ir_graph *a, const ir_graph *b, int *n_differ)
{
    bool same_layout = a->n_values == b->n_values;
    *n_differ = 0;
    for (int v = 0; same_layout && v < a->n_values; v++) {
        const ir_tensor *ta = a->values[v].init, *tb = b->values[v].init;
        if (!ta || !tb) {
            same_layout &= !ta && !tb;
            continue;
        }
        same_layout &= ta->nbytes == tb->nbytes && strcmp(a->values[v].name, b->values[v].name) == 0;
        if (same_layout && memcmp(ta->data, tb->data, ta->nbytes) != 0)
            (*n_differ)++;
    }
    return same_layout;
}

static void test_seeds(void)
{
    for (int f = 0; f < 3; f++) {
        ir_graph *a = build(FAMILIES[f], 0.75, 10, 64, 3, 42), *b = build(FAMILIES[f], 0.75, 10, 64, 3, 42),
                 *c = build(FAMILIES[f], 0.75, 10, 64, 3, 43);
        int d_ab = -1, d_ac = -1, random = 0;
        if (a && b && c) {
            CHECK(same_inits(a, b, &d_ab) && d_ab == 0, "%s: same seed, %d tensors differ", FAMILIES[f], d_ab);
            CHECK(same_inits(a, c, &d_ac), "%s: layout", FAMILIES[f]);
            for (int v = 0; v < a->n_values; v++)
                random += a->values[v].init && (a->values[v].shape.rank == 4 || a->values[v].shape.rank == 2);
            CHECK(d_ac == random, "%s: another seed changes %d of %d random tensors", FAMILIES[f], d_ac, random);
        }
        ir_graph_free(a);
        ir_graph_free(b);
        ir_graph_free(c);
    }
}

/* Fashion-MNIST (1x28x28, 10 classes), the smallest input (17 px), odd sizes, other widths and channels. */
static void test_other_configs(void)
{
    static const struct {
        double width;
        int classes, size, in_ch;
    } cfgs[] = {
        {1.0, 10, 28, 1}, {0.5, 10, 17, 1}, {0.35, 7, 33, 4}, {1.4, 3, 97, 3}, {0.1, 1, 64, 2}, {2.0, 100, 40, 3},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        for (int f = 0; f < 3; f++) {
            char what[96];
            snprintf(what, sizeof what, "%s x%g %d classes %dx%dx%d", FAMILIES[f], cfgs[i].width, cfgs[i].classes,
                     cfgs[i].in_ch, cfgs[i].size, cfgs[i].size);
            ir_graph *g = build(FAMILIES[f], cfgs[i].width, cfgs[i].classes, cfgs[i].size, cfgs[i].in_ch, 1);
            if (!g)
                continue;
            const ir_value *x = &g->values[g->inputs[0]], *y = &g->values[g->outputs[0]];
            CHECK(x->shape.d[1] == cfgs[i].in_ch && x->shape.d[2] == cfgs[i].size && x->shape.d[3] == cfgs[i].size,
                  "%s: input shape", what);
            CHECK(y->shape.d[1] == cfgs[i].classes, "%s: logits shape", what);
            const ir_value *w0 = find(g, "features.0.0.weight");
            CHECK(w0 && w0->shape.d[1] == cfgs[i].in_ch, "%s: stem weight", what);
            check_stages(g, what, cfgs[i].size);
            check_find_stages(g, what);
            /* every parameter is counted, a 1-element classifier bias too */
            ir_stats st;
            hpk_err err = {0};
            uint64_t flagged = 0;
            for (int v = 0; v < g->n_values; v++)
                if (g->values[v].flags & IR_VAL_PARAM)
                    flagged += g->values[v].init->nbytes / sizeof(float);
            CHECK(ir_graph_stats(g, &st, &err) == HPK_OK && st.params == flagged, "%s: %llu params, %llu flagged",
                  what, (unsigned long long)st.params, (unsigned long long)flagged);
            ir_graph_free(g);
        }
}

static void test_bad_configs(void)
{
    static const struct {
        const char *name;
        double width;
        int classes, size, in_ch;
        float dropout;
        const char *msg;
    } bad[] = {
        {"mobilenetv4", 1, 10, 224, 3, 0.2f, "unknown model"},
        {NULL, 1, 10, 224, 3, 0.2f, "unknown model"},
        {"MobileNetV2", 1, 10, 224, 3, 0.2f, "unknown model"},
        {"mobilenetv2", 0, 10, 224, 3, 0.2f, "width"},
        {"mobilenetv2", -0.5, 10, 224, 3, 0.2f, "width"},
        {"mobilenetv2", NAN, 10, 224, 3, 0.2f, "width"},
        {"mobilenetv2", INFINITY, 10, 224, 3, 0.2f, "width"},
        {"mobilenetv2", 4.01, 10, 224, 3, 0.2f, "width"},
        {"mobilenetv3-small", 1, 0, 224, 3, 0.2f, "classes"},
        {"mobilenetv3-small", 1, -3, 224, 3, 0.2f, "classes"},
        {"mobilenetv3-small", 1, 100001, 224, 3, 0.2f, "classes"},
        {"mobilenetv3-large", 1, 10, 16, 3, 0.2f, "input size"},
        {"mobilenetv3-large", 1, 10, 0, 3, 0.2f, "input size"},
        {"mobilenetv3-large", 1, 10, -224, 3, 0.2f, "input size"},
        {"mobilenetv3-large", 1, 10, 4097, 3, 0.2f, "input size"},
        {"mobilenetv2", 1, 10, 224, 0, 0.2f, "input channels"},
        {"mobilenetv2", 1, 10, 224, 1025, 0.2f, "input channels"},
        {"mobilenetv2", 1, 10, 224, 3, 1.0f, "dropout"},
        {"mobilenetv2", 1, 10, 224, 3, -0.1f, "dropout"},
        {"mobilenetv2", 1, 10, 224, 3, NAN, "dropout"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        model_config cfg;
        model_config_init(&cfg, bad[i].name);
        cfg.width = bad[i].width;
        cfg.classes = bad[i].classes;
        cfg.input_size = bad[i].size;
        cfg.in_channels = bad[i].in_ch;
        cfg.dropout = bad[i].dropout;
        hpk_err err = {0};
        ir_graph *g = (ir_graph *)&err; /* must be reset to NULL */
        int rc = model_build(&cfg, hpk_alloc_default(), &g, &err);
        CHECK(rc == HPK_EINPUT && g == NULL && strstr(err.msg, bad[i].msg), "bad config %zu: rc %d, '%s'", i, rc,
              err.msg);
    }
    const char *names[4];
    int n = model_names(names, 4);
    CHECK(n == 3 && strcmp(names[0], "mobilenetv2") == 0 && strcmp(names[2], "mobilenetv3-large") == 0,
          "model_names");
    CHECK(model_names(NULL, 0) == 3, "model_names count");
}

/* Allocation failure at every point: an error, no graph, nothing leaked. */
static void test_alloc_failures(void)
{
    for (int f = 0; f < 3; f++) {
        hpk_failing_alloc st = {0};
        model_config cfg;
        model_config_init(&cfg, FAMILIES[f]);
        cfg.width = 0.5;
        cfg.classes = 10;
        cfg.input_size = 32;
        ir_graph *g = NULL;
        hpk_err err = {0};
        CHECK(model_build(&cfg, hpk_alloc_failing(&st), &g, &err) == HPK_OK, "%s: %s", FAMILIES[f], err.msg);
        ir_graph_free(g);
        long total = st.count;
        CHECK(st.live == 0 && total > 100, "%s: live %ld after free, %ld allocations", FAMILIES[f], st.live, total);
        int tried = 0;
        for (long k = 1; k <= total; k++) {
            hpk_failing_alloc fs = {.fail_at = k};
            hpk_err e2 = {0};
            g = NULL;
            int rc = model_build(&cfg, hpk_alloc_failing(&fs), &g, &e2);
            tried++;
            if (fs.failed) {
                CHECK(rc != HPK_OK && g == NULL && e2.msg[0], "%s: failing allocation %ld: rc %d", FAMILIES[f], k, rc);
                CHECK(fs.live == 0, "%s: failing allocation %ld leaks %ld blocks", FAMILIES[f], k, fs.live);
            }
            ir_graph_free(g);
        }
        /* stage discovery too: the graph and its copies on a failing allocator, failing the kth allocation
         * model_find_stages makes */
        hpk_failing_alloc cs = {0};
        g = NULL;
        CHECK(model_build(&cfg, hpk_alloc_failing(&cs), &g, &err) == HPK_OK, "rebuild: %s", err.msg);
        for (long k = 1; g && k <= 16; k++) {
            ir_graph *c = NULL;
            hpk_err e3 = {0};
            long base = cs.live;
            if (ir_graph_clone(g, &c, &e3))
                break;
            cs.fail_at = cs.count + k;
            cs.failed = 0;
            int rc = model_find_stages(c, &e3);
            cs.fail_at = 0;
            CHECK(cs.failed ? rc != HPK_OK && e3.msg[0] : rc == HPK_OK, "%s: model_find_stages, failing "
                  "allocation %ld: rc %d", FAMILIES[f], k, rc);
            ir_graph_free(c);
            CHECK(cs.live == base, "%s: model_find_stages leaks after failing allocation %ld", FAMILIES[f], k);
        }
        ir_graph_free(g);
        (void)tried;
    }
}

/* A hand-made graph for model_find_stages: input [N, C, h, w] (h < 0: symbolic) then ops chained on it. */
typedef struct tiny {
    ir_graph *g;
    hpk_err err;
    int x;
} tiny;

static void tiny_init(tiny *t, int rank, int64_t h)
{
    memset(t, 0, sizeof *t);
    CHECK(ir_graph_init(&t->g, hpk_alloc_default(), &t->err) == HPK_OK, "init");
    int64_t d[4] = {-(int64_t)ir_sym_get(t->g, "N") - 1, 3, h < 0 ? -(int64_t)ir_sym_get(t->g, "H") - 1 : h, 32};
    ir_shape s = ir_shape_make(rank, d);
    t->x = ir_value_add(t->g, "input", IR_DT_F32, &s, &t->err);
    CHECK(t->x >= 0 && ir_graph_add_input(t->g, t->x, &t->err) == HPK_OK, "input");
}

static int tiny_op(tiny *t, ir_op op, const char *name, int a, int b)
{
    int in[2] = {a, b}, y = ir_value_add(t->g, name, IR_DT_F32, NULL, &t->err);
    CHECK(y >= 0 && ir_node_add(t->g, op, name, in, b >= 0 ? 2 : 1, &y, 1, &t->err) >= 0, "%s", t->err.msg);
    return y;
}

static int tiny_conv(tiny *t, const char *name, int x, int64_t cin, int64_t cout, int64_t k, int64_t stride)
{
    char wn[64];
    snprintf(wn, sizeof wn, "%s.weight", name);
    int64_t wd[4] = {cout, cin, k, k}, st[2] = {stride, stride}, p = (k - 1) / 2, pads[4] = {p, p, p, p};
    ir_shape ws = ir_shape_make(4, wd);
    int w = ir_init_add(t->g, wn, IR_DT_F32, &ws, &t->err);
    int y = tiny_op(t, IR_OP_Conv, name, x, w);
    int ni = t->g->n_nodes - 1;
    CHECK(ir_node_set_ints(t->g, ni, "strides", st, 2, &t->err) == HPK_OK &&
              ir_node_set_ints(t->g, ni, "pads", pads, 4, &t->err) == HPK_OK,
          "conv attrs");
    return y;
}

static void test_find_stages_edges(void)
{
    tiny t;
    /* rank-2 input: no feature maps to find */
    tiny_init(&t, 2, 32);
    ir_graph_add_output(t.g, tiny_op(&t, IR_OP_Relu, "y", t.x, -1), &t.err);
    CHECK(model_find_stages(t.g, &t.err) == HPK_EUNSUPPORTED && strstr(t.err.msg, "4-D"), "rank 2: %s", t.err.msg);
    ir_graph_free(t.g);
    /* symbolic height */
    tiny_init(&t, 4, -1);
    ir_graph_add_output(t.g, tiny_op(&t, IR_OP_Relu, "y", t.x, -1), &t.err);
    CHECK(model_find_stages(t.g, &t.err) == HPK_EUNSUPPORTED && strstr(t.err.msg, "symbolic"), "symbolic: %s",
          t.err.msg);
    ir_graph_free(t.g);
    /* an output that does not depend on the input: no stages, no error */
    tiny_init(&t, 4, 32);
    int64_t one = 4;
    ir_shape cs = ir_shape_make(1, &one);
    int c = ir_init_add(t.g, "c", IR_DT_F32, &cs, &t.err);
    ir_graph_add_output(t.g, tiny_op(&t, IR_OP_Relu, "y", c, -1), &t.err);
    ir_graph_add_output(t.g, tiny_op(&t, IR_OP_Relu, "z", t.x, -1), &t.err);
    CHECK(ir_verify(t.g, &t.err) == HPK_OK, "%s", t.err.msg);
    CHECK(model_find_stages(t.g, &t.err) == HPK_OK && t.g->n_stages == 0, "constant output: %d stages, %s",
          t.g->n_stages, t.err.msg);
    ir_graph_free(t.g);
    /* stem 3x3/2 + ReLU, a 1x1 + ReLU, a residual 3x3/2 pair, a 1x1 head conv + ReLU, GAP, Flatten, Gemm:
     * stage1 is the stem (the 1x1 unit after it is stripped), stage2 the Add, fc the Flatten */
    tiny_init(&t, 4, 32);
    int y = tiny_op(&t, IR_OP_Relu, "stem", tiny_conv(&t, "stem.conv", t.x, 3, 8, 3, 2), -1);
    y = tiny_op(&t, IR_OP_Relu, "expand", tiny_conv(&t, "expand.conv", y, 8, 16, 1, 1), -1);
    y = tiny_op(&t, IR_OP_Relu, "down", tiny_conv(&t, "down.conv", y, 16, 16, 3, 2), -1);
    int br = tiny_op(&t, IR_OP_Relu, "branch", tiny_conv(&t, "branch.conv", y, 16, 16, 3, 1), -1);
    y = tiny_op(&t, IR_OP_Add, "block", y, br);
    y = tiny_op(&t, IR_OP_Relu, "head", tiny_conv(&t, "head.conv", y, 16, 32, 1, 1), -1);
    y = tiny_op(&t, IR_OP_Flatten, "flat", tiny_op(&t, IR_OP_GlobalAveragePool, "gap", y, -1), -1);
    int64_t wd[2] = {5, 32};
    ir_shape ws = ir_shape_make(2, wd);
    int w = ir_init_add(t.g, "fc.weight", IR_DT_F32, &ws, &t.err);
    y = tiny_op(&t, IR_OP_Gemm, "logits", y, w);
    ir_node_set_int(t.g, t.g->n_nodes - 1, "transB", 1, &t.err);
    ir_graph_add_output(t.g, y, &t.err);
    CHECK(ir_verify(t.g, &t.err) == HPK_OK, "%s", t.err.msg);
    CHECK(model_find_stages(t.g, &t.err) == HPK_OK && t.g->n_stages == 3, "tiny net: %d stages, %s", t.g->n_stages,
          t.err.msg);
    static const char *const want[3][2] = {{"stage1", "stem"}, {"stage2", "block"}, {"fc", "flat"}};
    for (int i = 0; i < 3 && i < t.g->n_stages; i++)
        CHECK(strcmp(t.g->stages[i].name, want[i][0]) == 0 &&
                  strcmp(t.g->values[t.g->stages[i].value].name, want[i][1]) == 0,
              "tiny net: %s = %s", t.g->stages[i].name, t.g->values[t.g->stages[i].value].name);
    ir_graph_free(t.g);
}

/* Runs g on the ref backend on x; returns a malloc'd copy of the output (n floats) or NULL. */
static float *run_ref(ir_graph *g, const float *x, const int64_t *xd, size_t *n)
{
    hpk_err err = {0};
    be_plan *p = NULL;
    ir_shape s = ir_shape_make(4, xd);
    be_options opt = {.threads = 1};
    float *y = NULL;
    if (be_ref.prepare(g, &opt, &s, &p, &err) == HPK_OK) {
        hpk_tensor *in = be_ref.io(p, g->inputs[0]);
        memcpy(in->data, x, in->nbytes);
        if (be_ref.run(p, &err) == HPK_OK) {
            const hpk_tensor *out = be_ref.io(p, g->outputs[0]);
            *n = out->nbytes / sizeof(float);
            if ((y = malloc(out->nbytes)))
                memcpy(y, out->data, out->nbytes);
        }
        be_ref.free(p);
    }
    CHECK(y, "ref run: %s", err.msg);
    return y;
}

/* Export and re-import: the same initializers and parameter count, stage discovery on the imported graph finds
 * the builder's stages, and the ref backend gives bit-identical outputs on both graphs. */
static void test_onnx_roundtrip(void)
{
    for (int f = 0; f < 3; f++) {
        ir_graph *g = build(FAMILIES[f], 0.5, 10, 40, 3, 9), *h = NULL;
        if (!g)
            continue;
        void *buf = NULL;
        size_t nbuf = 0;
        hpk_err err = {0};
        CHECK(onnx_save_buffer(g, &buf, &nbuf, &err) == HPK_OK, "%s: export: %s", FAMILIES[f], err.msg);
        CHECK(buf && onnx_load_buffer(buf, nbuf, NULL, FAMILIES[f], (hpk_alloc){0}, NULL, &h, &err) == HPK_OK,
              "%s: import: %s", FAMILIES[f], err.msg);
        free(buf);
        if (h) {
            ir_stats a, b;
            CHECK(ir_graph_stats(g, &a, &err) == HPK_OK && ir_graph_stats(h, &b, &err) == HPK_OK &&
                      a.params == b.params && a.macs == b.macs,
                  "%s: stats differ after the round trip", FAMILIES[f]);
            int inits = 0;
            for (int v = 0; v < g->n_values; v++) {
                const ir_value *gv = &g->values[v];
                if (!gv->init)
                    continue;
                inits++;
                const ir_value *hv = find(h, gv->name);
                CHECK(hv && hv->init && hv->init->nbytes == gv->init->nbytes &&
                          memcmp(hv->init->data, gv->init->data, gv->init->nbytes) == 0,
                      "%s: initializer %s differs after the round trip", FAMILIES[f], gv->name);
            }
            CHECK(inits > 100, "%s: %d initializers", FAMILIES[f], inits);
            if (h->n_stages == 0)
                CHECK(model_find_stages(h, &err) == HPK_OK, "%s: %s", FAMILIES[f], err.msg);
            CHECK(h->n_stages == g->n_stages, "%s: %d stages after the round trip", FAMILIES[f], h->n_stages);
            for (int i = 0; i < g->n_stages && i < h->n_stages; i++)
                CHECK(strcmp(g->stages[i].name, h->stages[i].name) == 0 && g->stages[i].stride == h->stages[i].stride &&
                          strcmp(g->values[g->stages[i].value].name, h->values[h->stages[i].value].name) == 0,
                      "%s: %s is %s after the round trip", FAMILIES[f], g->stages[i].name,
                      h->values[h->stages[i].value].name);
            int64_t xd[4] = {2, 3, 40, 40};
            size_t nx = 2 * 3 * 40 * 40, ny1 = 0, ny2 = 0;
            float *x = malloc(nx * sizeof(float));
            for (size_t i = 0; x && i < nx; i++)
                x[i] = (float)sin((double)i * 0.37) * 2.0f;
            float *y1 = x ? run_ref(g, x, xd, &ny1) : NULL, *y2 = x ? run_ref(h, x, xd, &ny2) : NULL;
            CHECK(y1 && y2 && ny1 == 20 && ny2 == 20 && memcmp(y1, y2, ny1 * sizeof(float)) == 0,
                  "%s: the ref backend disagrees on the built and the re-imported graph", FAMILIES[f]);
            bool finite = y1 != NULL;
            for (size_t i = 0; y1 && i < ny1; i++)
                finite &= isfinite(y1[i]) != 0;
            CHECK(finite, "%s: non-finite logits", FAMILIES[f]);
            free(x);
            free(y1);
            free(y2);
        }
        ir_graph_free(g);
        ir_graph_free(h);
    }
}

/* torchvision's exports (tests/data/fixtures, BN folded and not): stage discovery names their feature blocks. */
static void test_fixture_stages(const char *dir)
{
    static const struct {
        const char *file;
        int blocks[5];
    } fx[] = {
        {"mobilenetv2_w0.5_c10_op13.onnx", {1, 3, 6, 13, 17}},
        {"mobilenetv2_w0.5_c10_op13_bn.onnx", {1, 3, 6, 13, 17}},
        {"mobilenetv3small_w0.5_c10_op13.onnx", {0, 1, 3, 8, 11}},
        {"mobilenetv3small_w0.5_c10_op13_bn.onnx", {0, 1, 3, 8, 11}},
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, fx[i].file);
        hpk_err err = {0};
        ir_graph *g = NULL;
        if (onnx_load(path, (hpk_alloc){0}, NULL, &g, &err)) {
            CHECK(0, "%s: %s", path, err.msg);
            continue;
        }
        CHECK(model_find_stages(g, &err) == HPK_OK && g->n_stages == 6, "%s: %d stages, %s", fx[i].file,
              g->n_stages, err.msg);
        for (int k = 0; k < 5 && k < g->n_stages; k++) {
            char want[64];
            snprintf(want, sizeof want, "/features/features.%d/", fx[i].blocks[k]);
            const char *got = g->values[g->stages[k].value].name;
            CHECK(strncmp(got, want, strlen(want)) == 0 && g->stages[k].stride == 2 << k, "%s: stage%d = %s",
                  fx[i].file, k + 1, got);
        }
        if (g->n_stages == 6)
            CHECK(strcmp(g->stages[5].name, "fc") == 0 && strstr(g->values[g->stages[5].value].name, "Flatten"),
                  "%s: fc = %s", fx[i].file, g->values[g->stages[5].value].name);
        ir_graph_free(g);
    }
}

int main(int argc, char **argv)
{
    test_torchvision_counts();
    test_names_and_attributes();
    test_init();
    test_seeds();
    test_other_configs();
    test_bad_configs();
    test_alloc_failures();
    test_find_stages_edges();
    test_onnx_roundtrip();
    if (argc > 1)
        test_fixture_stages(argv[1]);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all model checks passed\n");
    return 0;
}
