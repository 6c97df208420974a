/* train_eval.c — evaluation of an inference graph on a dataset: top-1, top-5 and the mean cross-entropy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data.h"
#include "train_int.h"

void train_topk(const float *logits, const int64_t *labels, int n, int k, long *top1, long *top5)
{
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * (size_t)k;
        int64_t y = labels[i];
        if (y < 0 || y >= k)
            continue;
        int above = 0; /* classes ranked before the true one; ties go to the lower index, as argmax */
        for (int j = 0; j < k; j++)
            above += z[j] > z[y] || (z[j] == z[y] && j < y);
        *top1 += above < 1;
        *top5 += above < 5;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int train_evaluate(ir_graph *g, const char *spec, const be_vtable *be, int threads, int batch, size_t mem_budget,
                   eval_result *r, hpk_err *err)
{
    memset(r, 0, sizeof *r);
    if (g->n_inputs != 1 || g->n_outputs < 1)
        return hpk_err_set(err, HPK_EINPUT, "evaluation needs a model with one input and a logits output");
    const ir_shape *is = &g->values[g->inputs[0]].shape;
    if (is->rank != 4 || is->d[1] < 1 || is->d[2] < 1 || is->d[3] != is->d[2])
        return hpk_err_set(err, HPK_EINPUT, "input '%s' must be N×C×S×S with C and S fixed",
                           g->values[g->inputs[0]].name);
    data_dataset *ds = NULL;
    data_loader *L = NULL;
    be_plan *p = NULL;
    int rc = data_dataset_open(&ds, spec, mem_budget, err);
    if (rc)
        return rc;
    data_loader_opts o;
    data_loader_opts_default(&o, ds, 0);
    o.batch = batch;
    o.size = (int)is->d[2];
    o.channels = (int)is->d[1];
    o.epochs = 1;
    o.threads = 2;
    o.mem_budget = mem_budget;
    if (data_dataset_info(ds)->is_float)
        o.size = 0;
    if ((rc = data_loader_create(&L, ds, &o, err)))
        goto done;
    ir_shape s = *is;
    s.d[0] = batch;
    be_options bo = {.threads = threads, .mem_budget = mem_budget};
    if ((rc = be->prepare(g, &bo, &s, &p, err)))
        goto done;
    hpk_tensor *x = be->io(p, g->inputs[0]);
    const hpk_tensor *z = be->io(p, g->outputs[0]);
    if (z->rank != 2) {
        rc = hpk_err_set(err, HPK_EINPUT, "output '%s' is not [N, classes] logits", g->values[g->outputs[0]].name);
        goto done;
    }
    int k = (int)z->dims[1];
    if (k < data_dataset_info(ds)->classes) {
        rc = hpk_err_set(err, HPK_EINPUT, "the model scores %d classes, the dataset has %d", k,
                         data_dataset_info(ds)->classes);
        goto done;
    }
    double t0 = now_s(), loss = 0;
    long top1 = 0, top5 = 0;
    data_batch b;
    for (;;) {
        int n = data_loader_next(L, &b, err);
        if (n < 0) {
            rc = -n;
            goto done;
        }
        if (n == 0)
            break;
        if ((size_t)b.c * (size_t)b.h * (size_t)b.w * (size_t)batch * sizeof(float) != x->nbytes) {
            rc = hpk_err_set(err, HPK_EINPUT, "%s: images are %d×%d×%d, the model takes %lld×%lld×%lld", spec, b.c,
                             b.h, b.w, (long long)is->d[1], (long long)is->d[2], (long long)is->d[3]);
            goto done;
        }
        memcpy(x->data, b.x, x->nbytes);
        if ((rc = be->run(p, err)))
            goto done;
        const float *zl = z->data;
        train_topk(zl, b.y, n, k, &top1, &top5);
        for (int i = 0; i < n; i++) { /* cross-entropy of the logits, stable */
            const float *zi = zl + (size_t)i * (size_t)k;
            float m = zi[0];
            for (int j = 1; j < k; j++)
                m = zi[j] > m ? zi[j] : m;
            double se = 0;
            for (int j = 0; j < k; j++)
                se += exp((double)zi[j] - m);
            loss += m + log(se) - zi[b.y[i]];
        }
        r->samples += n;
    }
    r->seconds = now_s() - t0;
    if (r->samples) {
        r->top1 = 100.0 * (double)top1 / (double)r->samples;
        r->top5 = 100.0 * (double)top5 / (double)r->samples;
        r->loss = loss / (double)r->samples;
    }
done:
    if (p)
        be->free(p);
    data_loader_free(L);
    data_dataset_free(ds);
    return rc;
}
