/* cmd_bench.c — `hpk bench`: inference or training-step throughput of a model on a backend, with a per-op profile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be.h"
#include "cli.h"
#include "ir_rng.h"
#include "models.h"
#include "optim.h"
#include "trainer.h"

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmHWM (peak resident set) of this process in KiB, 0 if unknown */
static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct prof_row {
    int node;
    double ms;
} prof_row;

static int prof_cmp(const void *a, const void *b)
{
    const prof_row *x = a, *y = b;
    return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : x->node - y->node;
}

/* the per-op profile: the heaviest nodes, then totals per op type */
static void print_profile(const ir_graph *g, const be_profile_entry *pe, int n, long runs, int top)
{
    prof_row *rows = calloc((size_t)n + 1, sizeof *rows);
    double by_op[IR_OP_COUNT] = {0}, total = 0;
    int count_op[IR_OP_COUNT] = {0}, fused_op[IR_OP_COUNT] = {0};
    if (!rows)
        return;
    for (int i = 0; i < n; i++) {
        const ir_node *nd = &g->nodes[pe[i].node];
        rows[i].node = pe[i].node;
        rows[i].ms = runs > 0 ? pe[i].ms / (double)runs : 0;
        by_op[nd->op] += rows[i].ms;
        count_op[nd->op]++;
        if (pe[i].runs == 0)
            fused_op[nd->op]++;
        total += rows[i].ms;
    }
    qsort(rows, (size_t)n, sizeof *rows, prof_cmp);
    printf("profile: %.2f ms per run in nodes (times of fused nodes are in the node they were fused into)\n", total);
    printf("  %-8s %6s  %-20s %s\n", "ms/run", "%", "op", "node");
    for (int i = 0; i < n && i < top; i++) {
        const ir_node *nd = &g->nodes[rows[i].node];
        printf("  %8.3f %6.2f  %-20s %s\n", rows[i].ms, total > 0 ? 100.0 * rows[i].ms / total : 0.0,
               ir_op_table[nd->op].id, nd->name);
    }
    printf("  by op type:\n");
    for (int op = 0; op < IR_OP_COUNT; op++)
        if (count_op[op])
            printf("  %8.3f %6.2f  %-20s %d nodes, %d fused into others\n", by_op[op],
                   total > 0 ? 100.0 * by_op[op] / total : 0.0, ir_op_table[op].id, count_op[op], fused_op[op]);
    free(rows);
}

int cmd_bench(int argc, char **argv, const cli_cmd *self)
{
    const char *model_name = NULL, *backend = NULL, *heads = NULL;
    long batch = 32, size = 0, threads = 0, runs = 5, warmup = 1;
    double width = 1.0;
    bool train = false, profile = false;
    const cli_flag flags[] = {
        {"--model", CLI_STR, &model_name, "NAME", "a built-in model (mobilenetv2 | mobilenetv3-small | mobilenetv3-large)"},
        {"--width", CLI_DOUBLE, &width, "W", "width multiplier of a built-in model (default 1.0)"},
        {"--batch", CLI_INT, &batch, "B", "batch size (default 32)"},
        {"--input-size", CLI_INT, &size, "S", "input height and width (default: the model's, else 224)"},
        {"--train", CLI_BOOL, &train, NULL, "time training steps instead of inference"},
        {"--heads", CLI_STR, &heads, "LIST", "training heads (with --train)"},
        {"--backend", CLI_STR, &backend, "NAME", "ref | onednn (default: onednn when built)"},
        {"--threads", CLI_INT, &threads, "N", "threads (default: the backend's)"},
        {"--runs", CLI_INT, &runs, "R", "timed runs (default 5); img/s uses the median"},
        {"--warmup", CLI_INT, &warmup, "W", "untimed runs first (default 1)"},
        {"--profile", CLI_BOOL, &profile, NULL, "print a per-op profile of the timed runs"},
        {NULL, CLI_BOOL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int npos, rc;
    if ((rc = cli_parse(argc, argv, self, flags, pos, 1, &npos)))
        return rc < 0 ? 0 : rc;
    if ((model_name != NULL) == (npos == 1) || (heads && !train)) {
        fprintf(stderr, "hpk bench: give a model file or --model NAME; --heads needs --train (see hpk bench --help)\n");
        return 2;
    }
    if (batch < 1 || batch > 65536 || size < 0 || size > 65536 || threads < 0 || threads > 1024 || runs < 1 ||
        runs > 100000 || warmup < 0 || warmup > 1000 || !(width > 0 && width <= 4)) {
        fprintf(stderr, "hpk bench: a flag value is out of range (see hpk bench --help)\n");
        return 2;
    }
    const be_vtable *be = backend ? be_find(backend) : be_default();
    if (!be) {
        fprintf(stderr, "hpk bench: unknown backend '%s'\n", backend);
        return 2;
    }
    hpk_err err = {0};
    ir_graph *g = NULL;
    const char *what = model_name ? model_name : pos[0];
    if (model_name) {
        model_config mc;
        model_config_init(&mc, model_name);
        mc.width = width;
        mc.input_size = size > 0 ? (int)size : 224;
        rc = model_build(&mc, hpk_alloc_default(), &g, &err);
    } else {
        rc = cli_load_model(pos[0], &g, &err);
    }
    if (!rc && train) { /* the training step: heads, losses, training-mode BN/Dropout, backward */
        train_config tc;
        train_config_default(&tc);
        snprintf(tc.heads, sizeof tc.heads, "%s", heads ? heads : "");
        if (heads && strlen(heads) >= sizeof tc.heads)
            rc = hpk_err_set(&err, HPK_EUSAGE, "--heads list is too long");
        ir_graph *t = NULL;
        if (!rc)
            rc = train_build_training_graph(&tc, g, &t, &err);
        else
            ir_graph_free(g);
        g = t;
    }
    if (rc) {
        ir_graph_free(g);
        return cli_fail(self, &err);
    }
    ir_shape *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    if (!shapes) {
        ir_graph_free(g);
        hpk_err_set(&err, HPK_ENOMEM, "out of memory");
        return cli_fail(self, &err);
    }
    /* inputs: the batch for the first dim, --input-size (or 224) for symbolic trailing dims of image inputs */
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        ir_shape s = v->shape;
        if (s.rank < 1) {
            fprintf(stderr, "hpk bench: %s: input '%s' has no known rank\n", what, v->name);
            free(shapes);
            ir_graph_free(g);
            return 1;
        }
        s.d[0] = batch;
        for (int d = 1; d < s.rank; d++)
            if (d >= 2 && (size > 0 || s.d[d] < 0))
                s.d[d] = size > 0 ? size : 224;
            else if (s.d[d] < 0)
                s.d[d] = 1;
        shapes[i] = s;
    }
    be_options opt = {.threads = (int)threads, .profile = profile, .params_mutable = train};
    be_plan *p = NULL;
    double t0 = bench_now();
    if ((rc = be->prepare(g, &opt, shapes, &p, &err))) {
        free(shapes);
        ir_graph_free(g);
        return cli_fail(self, &err);
    }
    double t_prep = bench_now() - t0;
    ir_rng rng;
    ir_rng_seed(&rng, 42, 1);
    int64_t classes = g->n_outputs ? g->values[g->outputs[0]].shape.d[1] : 1;
    for (int i = 0; i < g->n_inputs; i++) {
        hpk_tensor *x = be->io(p, g->inputs[i]);
        if (x && x->dtype == HPK_DT_F32)
            for (size_t k = 0; k < x->nbytes / sizeof(float); k++)
                ((float *)x->data)[k] = (float)(2.0 * ir_rng_uniform(&rng) - 1.0);
        if (x && x->dtype == HPK_DT_I64) /* labels */
            for (size_t k = 0; k < x->nbytes / sizeof(int64_t); k++)
                ((int64_t *)x->data)[k] = (int64_t)ir_rng_below(&rng, (uint32_t)(classes > 0 ? classes : 1));
    }
    /* training: the SGD update over every parameter is part of the timed step */
    train_sgd *sgd = NULL;
    train_param *params = NULL;
    int n_params = 0;
    if (train) {
        train_sgd_config sc = train_sgd_config_default();
        rc = train_params_from_graph(g, &params, &n_params, &err);
        int k = 0;
        for (int i = 0; !rc && i < n_params; i++) {
            char nm[512];
            snprintf(nm, sizeof nm, "grad/%s", params[i].name);
            int gv = ir_graph_find(g, nm);
            if (gv < 0)
                continue;
            params[k] = params[i];
            params[k++].grad = be->io(p, gv)->data;
        }
        n_params = k;
        if (!rc)
            rc = train_sgd_init(&sgd, &sc, params, n_params, hpk_alloc_default(), &err);
    }
    double *times = calloc((size_t)runs, sizeof *times);
    for (long r = 0; times && r < warmup + runs && !rc; r++) {
        double s = bench_now();
        rc = be->run(p, &err);
        if (!rc && sgd)
            rc = train_sgd_step(sgd, params, n_params, 0.01f, &err);
        double e = bench_now() - s;
        if (r >= warmup) {
            times[r - warmup] = e;
            fprintf(stderr, "run %ld: %.3f s\n", r - warmup + 1, e);
        }
    }
    train_sgd_free(sgd);
    if (params)
        train_params_free(g, params, n_params);
    if (!times || rc) {
        if (!times)
            hpk_err_set(&err, HPK_ENOMEM, "out of memory");
        free(times);
        be->free(p);
        free(shapes);
        ir_graph_free(g);
        return cli_fail(self, &err);
    }
    qsort(times, (size_t)runs, sizeof *times, dbl_cmp);
    double med = times[runs / 2];
    if (profile) {
        int n = 0;
        const be_profile_entry *pe = be->profile(p, &n);
        if (pe)
            print_profile(g, pe, n, warmup + runs, 40);
    }
    printf("model %s%s, backend %s, batch %ld, input %s, prepare %.3f s\n", what, train ? " (training step)" : "",
           be->name, batch,
           ir_shape_str(g, &shapes[0], (char[128]){0}, 128), t_prep);
    printf("median %.4f s per batch (min %.4f, max %.4f over %ld runs)\n", med, times[0], times[runs - 1], runs);
    printf("plan memory %.1f MiB, peak RSS %.1f MiB\n", (double)be->memory(p) / 1048576.0, (double)peak_rss_kb() / 1024.0);
    printf("%.1f img/s\n", (double)batch / med);
    free(times);
    be->free(p);
    free(shapes);
    ir_graph_free(g);
    return 0;
}
