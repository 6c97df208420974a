/* bench_ref.c — times the reference backend: single convs and a hand-built MobileNetV2 x1.0 at 224x224.
 *
 * usage: bench_ref [THREADS [RUNS]]   (defaults 1 and 3). Prints the best time of RUNS runs per graph.
 * The MobileNetV2 is torchvision's layout (Conv-BN-ReLU6 blocks, inverted residuals, 1x1 conv to 1280, GAP,
 * classifier to 1000) with random weights; it is meant for timing only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be.h"
#include "ir.h"

static hpk_err E;
static uint64_t rng = 42;

static void must(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench setup failed (%s): %s\n", what, E.msg);
        exit(1);
    }
}

static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1u << 23) - 1.0);
}

typedef struct builder {
    ir_graph *g;
    int count;
    int lo, hi; /* ReLU6 bounds */
} builder;

static int value(builder *b, const char *kind)
{
    char name[64];
    snprintf(name, sizeof name, "%s%d", kind, b->count++);
    int v = ir_value_add(b->g, name, IR_DT_UNDEF, NULL, &E);
    must(v < 0, name);
    return v;
}

static int param(builder *b, ir_shape s, float scale, float offset)
{
    char name[64];
    snprintf(name, sizeof name, "p%d", b->count++);
    int v = ir_init_add(b->g, name, IR_DT_F32, &s, &E);
    must(v < 0, name);
    float *d = b->g->values[v].init->data;
    size_t n = b->g->values[v].init->nbytes / sizeof(float);
    for (size_t i = 0; i < n; i++)
        d[i] = offset + scale * frand();
    return v;
}

/* Conv (no bias) -> BatchNormalization -> optional ReLU6 */
static int conv_bn(builder *b, int x, int cin, int cout, int k, int stride, int group, bool relu6)
{
    int64_t wd[4] = {cout, cin / group, k, k};
    ir_shape ws = ir_shape_make(4, wd);
    float scale = sqrtf(6.0f / (float)(cin / group * k * k));
    int w = param(b, ws, scale, 0);
    int y = value(b, "c");
    int in[2] = {x, w};
    int ni = ir_node_add(b->g, IR_OP_Conv, "conv", in, 2, &y, 1, &E);
    must(ni < 0, "conv");
    int64_t pad = (k - 1) / 2, pads[4] = {pad, pad, pad, pad}, st[2] = {stride, stride};
    must(ir_node_set_ints(b->g, ni, "pads", pads, 4, &E), "pads");
    must(ir_node_set_ints(b->g, ni, "strides", st, 2, &E), "strides");
    must(ir_node_set_int(b->g, ni, "group", group, &E), "group");
    int64_t cd[1] = {cout};
    ir_shape cs = ir_shape_make(1, cd);
    int bn_in[5] = {y, param(b, cs, 0.1f, 1.0f), param(b, cs, 0.1f, 0.0f), param(b, cs, 0.1f, 0.0f),
                    param(b, cs, 0.1f, 1.0f)};
    int z = value(b, "bn");
    must(ir_node_add(b->g, IR_OP_BatchNormalization, "bn", bn_in, 5, &z, 1, &E) < 0, "bn");
    if (!relu6)
        return z;
    int r = value(b, "relu6"), cin3[3] = {z, b->lo, b->hi};
    must(ir_node_add(b->g, IR_OP_Clip, "relu6", cin3, 3, &r, 1, &E) < 0, "clip");
    return r;
}

static ir_graph *mobilenetv2(int64_t size, int *xin, int *yout)
{
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    builder b = {0};
    must(ir_graph_init(&b.g, hpk_alloc_default(), &E), "graph");
    b.g->opset = 13;
    int64_t xd[4] = {1, 3, size, size};
    ir_shape xs = ir_shape_make(4, xd), s0 = ir_shape_make(0, NULL);
    int x = ir_value_add(b.g, "x", IR_DT_F32, &xs, &E);
    must(x < 0 || ir_graph_add_input(b.g, x, &E), "x");
    b.lo = ir_init_add(b.g, "zero", IR_DT_F32, &s0, &E);
    b.hi = ir_init_add(b.g, "six", IR_DT_F32, &s0, &E);
    must(b.lo < 0 || b.hi < 0, "bounds");
    *(float *)b.g->values[b.hi].init->data = 6.0f;
    int h = conv_bn(&b, x, 3, 32, 3, 2, 1, true), c = 32;
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < cfg[s][2]; i++) {
            int t = cfg[s][0], co = cfg[s][1], stride = i == 0 ? cfg[s][3] : 1, hid = c * t;
            int y = h;
            if (t != 1)
                y = conv_bn(&b, y, c, hid, 1, 1, 1, true);
            y = conv_bn(&b, y, hid, hid, 3, stride, hid, true);
            y = conv_bn(&b, y, hid, co, 1, 1, 1, false);
            if (stride == 1 && c == co) {
                int sum = value(&b, "add"), in[2] = {h, y};
                must(ir_node_add(b.g, IR_OP_Add, "add", in, 2, &sum, 1, &E) < 0, "add");
                y = sum;
            }
            h = y;
            c = co;
        }
    h = conv_bn(&b, h, c, 1280, 1, 1, 1, true);
    int gap = value(&b, "gap"), flat = value(&b, "flat"), y = value(&b, "logits");
    must(ir_node_add(b.g, IR_OP_GlobalAveragePool, "gap", &h, 1, &gap, 1, &E) < 0, "gap");
    must(ir_node_add(b.g, IR_OP_Flatten, "flatten", &gap, 1, &flat, 1, &E) < 0, "flatten");
    int64_t fd[2] = {1000, 1280}, bd[1] = {1000};
    ir_shape fs = ir_shape_make(2, fd), bs = ir_shape_make(1, bd);
    int gin[3] = {flat, param(&b, fs, 0.05f, 0), param(&b, bs, 0.01f, 0)};
    int ni = ir_node_add(b.g, IR_OP_Gemm, "fc", gin, 3, &y, 1, &E);
    must(ni < 0 || ir_node_set_int(b.g, ni, "transB", 1, &E), "fc");
    must(ir_graph_add_output(b.g, y, &E), "out");
    *xin = x;
    *yout = y;
    return b.g;
}

static ir_graph *single_conv(int64_t cin, int64_t cout, int64_t size, int k, int stride, int group, int *xin,
                             int *yout)
{
    builder b = {0};
    must(ir_graph_init(&b.g, hpk_alloc_default(), &E), "graph");
    b.g->opset = 13;
    int64_t xd[4] = {1, cin, size, size};
    ir_shape xs = ir_shape_make(4, xd);
    int x = ir_value_add(b.g, "x", IR_DT_F32, &xs, &E);
    must(x < 0 || ir_graph_add_input(b.g, x, &E), "x");
    int64_t wd[4] = {cout, cin / group, k, k};
    ir_shape ws = ir_shape_make(4, wd);
    int w = param(&b, ws, 0.1f, 0), y = value(&b, "y"), in[2] = {x, w};
    int ni = ir_node_add(b.g, IR_OP_Conv, "conv", in, 2, &y, 1, &E);
    int64_t pad = (k - 1) / 2, pads[4] = {pad, pad, pad, pad}, st[2] = {stride, stride};
    must(ni < 0 || ir_node_set_ints(b.g, ni, "pads", pads, 4, &E) || ir_node_set_ints(b.g, ni, "strides", st, 2, &E) ||
             ir_node_set_int(b.g, ni, "group", group, &E),
         "conv");
    must(ir_graph_add_output(b.g, y, &E), "out");
    *xin = x;
    *yout = y;
    return b.g;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* best of `runs` runs, in ms; prints a line (and, with by_op, the time per op type over all runs) */
static void time_graph(const char *what, ir_graph *g, int x, int y, int threads, int runs, bool by_op)
{
    be_options opt = {0};
    be_plan *p;
    ir_stats st;
    opt.threads = threads;
    opt.profile = by_op;
    must(ir_verify(g, &E), "verify");
    must(ir_graph_stats(g, &st, &E), "stats");
    ir_shape s = g->values[x].shape;
    must(be_ref.prepare(g, &opt, &s, &p, &E), "prepare");
    hpk_tensor *xt = be_ref.io(p, x);
    float *xd = xt->data;
    for (size_t i = 0; i < xt->nbytes / sizeof(float); i++)
        xd[i] = frand();
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        must(be_ref.run(p, &E), "run");
        double t = now_ms() - t0;
        best = t < best ? t : best;
    }
    const float *yd = be_ref.io(p, y)->data;
    printf("%-44s threads %d  %9.2f ms  %6.2f GMAC/s  (%.1f MMAC, y[0] = %g)\n", what, threads, best,
           (double)st.macs / best / 1e6, (double)st.macs / 1e6, (double)yd[0]);
    int np = 0;
    const be_profile_entry *prof = be_ref.profile(p, &np);
    if (prof && np > 0) {
        double per_op[IR_OP_COUNT] = {0};
        for (int i = 0; i < np; i++)
            if (prof[i].runs)
                per_op[g->nodes[prof[i].node].op] += prof[i].ms / (double)prof[i].runs;
        for (int op = 0; op < IR_OP_COUNT; op++)
            if (per_op[op] > 0)
                printf("    %-20s %8.2f ms per run\n", ir_op_table[op].id, per_op[op]);
    }
    be_ref.free(p);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, runs = argc > 2 ? atoi(argv[2]) : 3, x, y;
    ir_graph *g;
    g = single_conv(32, 32, 224, 3, 1, 1, &x, &y);
    time_graph("conv 3x3 32->32 224x224", g, x, y, threads, runs, false);
    ir_graph_free(g);
    g = single_conv(3, 32, 224, 3, 2, 1, &x, &y);
    time_graph("conv 3x3 s2 3->32 224x224 (stem)", g, x, y, threads, runs, false);
    ir_graph_free(g);
    g = single_conv(96, 96, 112, 3, 1, 96, &x, &y);
    time_graph("depthwise 3x3 96ch 112x112", g, x, y, threads, runs, false);
    ir_graph_free(g);
    g = single_conv(144, 144, 56, 3, 2, 144, &x, &y);
    time_graph("depthwise 3x3 s2 144ch 56x56", g, x, y, threads, runs, false);
    ir_graph_free(g);
    g = single_conv(16, 96, 112, 1, 1, 1, &x, &y);
    time_graph("conv 1x1 16->96 112x112", g, x, y, threads, runs, false);
    ir_graph_free(g);
    g = single_conv(144, 24, 56, 1, 1, 1, &x, &y);
    time_graph("conv 1x1 144->24 56x56", g, x, y, threads, runs, false);
    ir_graph_free(g);
    g = single_conv(320, 1280, 7, 1, 1, 1, &x, &y);
    time_graph("conv 1x1 320->1280 7x7", g, x, y, threads, runs, false);
    ir_graph_free(g);
    g = mobilenetv2(224, &x, &y);
    time_graph("MobileNetV2 x1.0 224x224 (unfused BN)", g, x, y, threads, runs, false);
    time_graph("  the same, profiled per op", g, x, y, threads, runs, true);
    ir_graph_free(g);
    return 0;
}
