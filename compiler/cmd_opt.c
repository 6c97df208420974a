/* cmd_opt.c — `hpk opt IN.onnx -o OUT.onnx [--passes a,b,...] [--check]`: graph passes, then export. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "cli.h"
#include "ir_rng.h"
#include "onnx.h"
#include "passes.h"

/* Runs both graphs on the same seeded random input and compares output 0. */
static int check_equal(ir_graph *a, ir_graph *b, const be_vtable *be, uint64_t seed, hpk_err *err)
{
    if (a->n_inputs != 1 || b->n_inputs != 1)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "--check needs a model with exactly one input");
    const ir_value *iv = &a->values[a->inputs[0]];
    hpk_tensor x = {.dtype = HPK_DT_F32, .rank = iv->shape.rank};
    if (iv->dtype != IR_DT_F32 || iv->shape.rank < 0)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "--check needs a float32 input of known rank");
    for (int i = 0; i < x.rank; i++)
        x.dims[i] = iv->shape.d[i] >= 0 ? iv->shape.d[i] : 2; /* symbolic (batch) dims: 2 */
    size_t n;
    if (hpk_numel(x.rank, x.dims, &n))
        return hpk_err_set(err, HPK_EINPUT, "input '%s' is too large", iv->name);
    x.nbytes = n * sizeof(float);
    float *xd = malloc(x.nbytes ? x.nbytes : 1);
    if (!xd)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory for the check input");
    ir_rng r;
    ir_rng_seed(&r, seed, 7);
    for (size_t i = 0; i < n; i++)
        xd[i] = (float)ir_rng_normal(&r);
    x.data = xd;
    hpk_tensor ya = {0}, yb = {0};
    int rc = cli_run_graph(a, be, 0, &x, &ya, err);
    if (!rc)
        rc = cli_run_graph(b, be, 0, &x, &yb, err);
    if (!rc) {
        size_t m = ya.nbytes / sizeof(float);
        double worst = 0, scale = 1;
        if (ya.nbytes != yb.nbytes || ya.rank != yb.rank) {
            rc = hpk_err_set(err, HPK_EINPUT, "check failed: outputs differ in shape");
        } else {
            const float *pa = ya.data, *pb = yb.data;
            for (size_t i = 0; i < m; i++) {
                double d = fabs((double)pa[i] - pb[i]);
                scale = fmax(scale, fabs(pa[i]));
                if (!(d <= worst))
                    worst = isnan(d) ? INFINITY : d;
            }
            double tol = 1e-4 * scale;
            printf("check: max abs diff %.3g over %zu outputs (tolerance %.3g): %s\n", worst, m, tol,
                   worst <= tol ? "ok" : "MISMATCH");
            if (!(worst <= tol))
                rc = hpk_err_set(err, HPK_EINPUT, "check failed: outputs differ by %.3g (tolerance %.3g)", worst,
                                 tol);
        }
    }
    free(xd);
    free(ya.data);
    free(yb.data);
    return rc;
}

int cmd_opt(int argc, char **argv, const cli_cmd *self)
{
    const char *out = NULL, *passes = NULL, *backend = "ref";
    bool check = false, list = false;
    long seed = 1;
    const cli_flag flags[] = {
        {"-o", CLI_STR, &out, "OUT.onnx", "where to write the result"},
        {"--passes", CLI_STR, &passes, "a,b,...", "passes to run in order (none: a faithful round trip)"},
        {"--check", CLI_BOOL, &check, NULL, "compare IN's and OUT's outputs on a random input"},
        {"--backend", CLI_STR, &backend, "NAME", "backend for --check (default ref)"},
        {"--seed", CLI_INT, &seed, "N", "seed of the --check input (default 1)"},
        {"--list", CLI_BOOL, &list, NULL, "list the passes and exit"},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, self, flags, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (list) {
        for (const pass_info *p = pass_table; p->name; p++)
            printf("%-16s %s\n", p->name, p->summary);
        return 0;
    }
    if (npos != 1 || !out) {
        cli_usage(stderr, self, flags);
        return 2;
    }
    if (passes) {
        char name[64];
        for (const char *s = passes; *s;) {
            size_t len = strcspn(s, ",");
            snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), s);
            if (!pass_find(name)) {
                fprintf(stderr, "hpk opt: unknown pass '%s' (hpk opt --list shows them)\n", name);
                return 2;
            }
            s += len + (s[len] == ',');
        }
    }
    const be_vtable *be = cli_backend(self, backend);
    if (!be)
        return 2;
    hpk_err err = {0};
    ir_graph *g = NULL, *orig = NULL;
    if ((rc = cli_load_model(pos[0], &g, &err)) || (check && (rc = ir_graph_clone(g, &orig, &err))) ||
        (passes && (rc = pass_run_list(g, passes, &err))) || (rc = onnx_save(g, out, &err)) ||
        (check && (rc = check_equal(orig, g, be, (uint64_t)seed, &err))))
        rc = cli_fail(self, &err);
    ir_graph_free(g);
    ir_graph_free(orig);
    return rc;
}
