/* test_onednn_models.c — whole models through be_onednn against ONNX Runtime's outputs and be_ref.
 *
 * Usage: test_onednn_models MODEL.onnx INPUT.npy EXPECTED.npy [--no-ref]
 * Runs the model on be_onednn (inference fusions, then params_mutable: no fusion) and on be_ref, and compares
 * each with EXPECTED (ONNX Runtime's output) and with each other to 1e-4 (absolute, relative above 1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "onnx.h"

static int compare(const char *what, const float *a, const float *b, size_t n)
{
    size_t bad = 0, first = 0;
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double tol = 1e-4 * fmax(1.0, fabs((double)b[i]));
        if (!(d <= tol)) {
            if (!bad++)
                first = i;
        }
        if (d > worst || isnan(d))
            worst = d;
    }
    /* and relative to the output's magnitude, so that tiny logits are compared meaningfully too */
    bool rel_bad = scale > 0 && worst / scale > 1e-4;
    if (bad || rel_bad)
        fprintf(stderr, "%s: %zu of %zu elements differ (first at %zu: %g vs %g), max abs diff %g, relative to max "
                "|y| %g\n", what, bad, n, first, (double)a[first], (double)b[first], worst, scale > 0 ? worst / scale : 0);
    else
        printf("%s: %zu elements agree, max abs diff %.3g (%.3g of max |y| %.3g)\n", what, n, worst,
               scale > 0 ? worst / scale : 0.0, scale);
    return bad || rel_bad ? 1 : 0;
}

/* runs g on be with input x; returns a malloc'd copy of output 0 */
static float *run(ir_graph *g, const be_vtable *be, bool mutable_params, const hpk_tensor *x, size_t *n,
                  size_t *mem)
{
    be_options opt = {.threads = 2, .params_mutable = mutable_params};
    ir_shape s = ir_shape_make(x->rank, x->dims);
    be_plan *p;
    hpk_err err = {0};
    if (be->prepare(g, &opt, &s, &p, &err)) {
        fprintf(stderr, "%s prepare: %s\n", be->name, err.msg);
        return NULL;
    }
    float *out = NULL;
    for (int r = 0; r < 2; r++) {
        hpk_tensor *in = be->io(p, g->inputs[0]);
        memcpy(in->data, x->data, in->nbytes);
        if (be->run(p, &err)) {
            fprintf(stderr, "%s run: %s\n", be->name, err.msg);
            be->free(p);
            return NULL;
        }
    }
    hpk_tensor *y = be->io(p, g->outputs[0]);
    out = malloc(y->nbytes);
    memcpy(out, y->data, y->nbytes);
    *n = y->nbytes / sizeof(float);
    *mem = be->memory(p);
    be->free(p);
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_onednn_models MODEL.onnx INPUT.npy EXPECTED.npy [--no-ref]\n");
        return 2;
    }
    bool with_ref = !(argc > 4 && strcmp(argv[4], "--no-ref") == 0);
    hpk_err err = {0};
    ir_graph *g;
    hpk_tensor x, want;
    if (onnx_load(argv[1], (hpk_alloc){0}, NULL, &g, &err) || hpk_npy_load(argv[2], &x, &err) ||
        hpk_npy_load(argv[3], &want, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int fails = 0;
    size_t n = 0, n2 = 0, n3 = 0, mem = 0, mem2 = 0, mem3 = 0;
    float *a = run(g, &be_onednn, false, &x, &n, &mem);
    float *b = run(g, &be_onednn, true, &x, &n2, &mem2);
    float *r = with_ref ? run(g, &be_ref, false, &x, &n3, &mem3) : NULL;
    size_t wn = want.nbytes / sizeof(float);
    if (!a || !b || (with_ref && !r) || n != wn || n2 != wn || (with_ref && n3 != wn)) {
        fprintf(stderr, "a run failed or the output size disagrees with the expected %zu\n", wn);
        return 1;
    }
    fails += compare("onednn (fused) vs ONNX Runtime", a, want.data, wn);
    fails += compare("onednn (params_mutable) vs ONNX Runtime", b, want.data, wn);
    if (r) {
        fails += compare("onednn (fused) vs ref", a, r, wn);
        fails += compare("ref vs ONNX Runtime", r, want.data, wn);
    }
    printf("onednn plan memory %.2f MiB (params_mutable %.2f MiB); ref peak %.2f MiB\n", (double)mem / 1048576.0,
           (double)mem2 / 1048576.0, (double)mem3 / 1048576.0);
    free(a), free(b), free(r), free(x.data), free(want.data);
    ir_graph_free(g);
    return fails ? 1 : 0;
}
