/* ref_backend.c — the reference backend's plan: concrete shapes, buffers freed after their last use, dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ref.h"

typedef int (*ref_kernel)(ref_kctx *k);

static const ref_kernel ref_kernels[IR_OP_COUNT] = {
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) [IR_OP_##id] = ref_op_##id,
#include "ops.def"
#undef OP
};

struct be_plan {
    ir_graph *g;
    be_options opt;
    hpk_tensor *t;     /* one per value */
    ir_shape *shapes;  /* concrete shapes per value */
    ir_dtype *dtypes;
    int *last_use;     /* node index of the last reader, -1 if none */
    unsigned char *keep; /* graph inputs/outputs and initializers: never freed by liveness */
    size_t peak, cur;
    uint64_t seed;
    bool seed_set; /* set_seed was called for the next run */
    be_profile_entry *prof;
};

int ref_fail(ref_kctx *k, int code, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return hpk_err_set(k->err, code, "node '%s' (%s): %s", k->n->name, ir_op_table[k->n->op].onnx_name, buf);
}

static bool ref_supports(const ir_graph *g, const ir_node *n)
{
    (void)g;
    return n->op < IR_OP_COUNT && ref_kernels[n->op] != NULL;
}

static void plan_free(be_plan *p)
{
    if (!p)
        return;
    if (p->t) {
        for (int v = 0; v < p->g->n_values; v++)
            if (!p->g->values[v].init)
                free(p->t[v].data);
        free(p->t);
    }
    free(p->shapes);
    free(p->dtypes);
    free(p->last_use);
    free(p->keep);
    free(p->prof);
    free(p);
}

static int tensor_alloc(be_plan *p, int v, hpk_err *err)
{
    hpk_tensor *t = &p->t[v];
    if (t->data)
        return HPK_OK;
    size_t bytes = t->nbytes ? t->nbytes : 1;
    t->data = calloc(1, bytes);
    if (!t->data)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory for tensor '%s' (%zu bytes)", p->g->values[v].name,
                           bytes);
    p->cur += t->nbytes;
    if (p->cur > p->peak)
        p->peak = p->cur;
    return HPK_OK;
}

static int ref_prepare(ir_graph *g, const be_options *opt, const ir_shape *input_shapes, be_plan **out,
                       hpk_err *err)
{
    int rc;
    *out = NULL;
    be_plan *p = calloc(1, sizeof *p);
    if (!p)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory preparing a plan");
    p->g = g;
    if (opt)
        p->opt = *opt;
    size_t nv = (size_t)g->n_values + 1;
    p->t = calloc(nv, sizeof *p->t);
    p->shapes = calloc(nv, sizeof *p->shapes);
    p->dtypes = calloc(nv, sizeof *p->dtypes);
    p->last_use = calloc(nv, sizeof *p->last_use);
    p->keep = calloc(nv, 1);
    p->prof = calloc((size_t)g->n_nodes + 1, sizeof *p->prof);
    if (!p->t || !p->shapes || !p->dtypes || !p->last_use || !p->keep || !p->prof) {
        plan_free(p);
        return hpk_err_set(err, HPK_ENOMEM, "out of memory preparing a plan");
    }
    if ((rc = ir_infer_concrete(g, input_shapes, p->shapes, p->dtypes, err))) {
        plan_free(p);
        return rc;
    }
    size_t total = 0;
    for (int v = 0; v < g->n_values; v++) {
        hpk_tensor *t = &p->t[v];
        const ir_value *val = &g->values[v];
        p->last_use[v] = -1;
        t->dtype = (int)p->dtypes[v];
        t->rank = p->shapes[v].rank < 0 ? 0 : p->shapes[v].rank;
        for (int i = 0; i < t->rank; i++)
            t->dims[i] = p->shapes[v].d[i];
        if (val->init) {
            t->data = val->init->data;
            t->nbytes = val->init->nbytes;
            p->keep[v] = 1;
            continue;
        }
        size_t n, bytes;
        if (hpk_numel(t->rank, t->dims, &n) || __builtin_mul_overflow(n, hpk_dtype_size(t->dtype), &bytes) ||
            __builtin_add_overflow(total, bytes, &total)) {
            plan_free(p);
            return hpk_err_set(err, HPK_EINPUT, "tensor '%s' is too large", val->name);
        }
        t->nbytes = bytes;
        if (val->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT))
            p->keep[v] = 1;
    }
    if (p->opt.mem_budget && total > p->opt.mem_budget) {
        size_t budget = p->opt.mem_budget;
        plan_free(p);
        return hpk_err_set(err, HPK_ENOMEM, "the graph needs %.1f MiB of activations at this batch size, over the "
                           "memory budget of %.1f MiB", (double)total / 1048576.0, (double)budget / 1048576.0);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                p->last_use[n->in[j]] = i;
    }
    for (int v = 0; v < g->n_values; v++)
        if (p->keep[v] && !g->values[v].init && (rc = tensor_alloc(p, v, err))) {
            plan_free(p);
            return rc;
        }
    p->seed = 0x9e3779b97f4a7c15ull;
    *out = p;
    return HPK_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int ref_run(be_plan *p, hpk_err *err)
{
    ir_graph *g = p->g;
    const hpk_tensor *inbuf[64];
    hpk_tensor *outbuf[8];
    int rc = HPK_OK;
    if (!p->seed_set)
        p->seed = p->seed * 6364136223846793005ull + 1442695040888963407ull;
    p->seed_set = false;
    for (int i = 0; i < g->n_nodes && !rc; i++) {
        const ir_node *n = &g->nodes[i];
        const hpk_tensor **in = inbuf;
        if (n->n_in > 64 && !(in = calloc((size_t)n->n_in, sizeof *in)))
            return hpk_err_set(err, HPK_ENOMEM, "out of memory running node '%s'", n->name);
        for (int j = 0; j < n->n_in; j++)
            in[j] = n->in[j] >= 0 ? &p->t[n->in[j]] : NULL;
        for (int j = 0; j < n->n_out && j < 8; j++) {
            outbuf[j] = NULL;
            if (n->out[j] >= 0) {
                if ((rc = tensor_alloc(p, n->out[j], err)))
                    break;
                outbuf[j] = &p->t[n->out[j]];
            }
        }
        if (!rc) {
            ref_kctx k = {g, n, in, outbuf, p->opt.threads, p->seed + (uint64_t)i, err};
            double t0 = p->opt.profile ? now_ms() : 0;
            rc = ref_kernels[n->op](&k);
            if (p->opt.profile) {
                p->prof[i].node = i;
                p->prof[i].ms += now_ms() - t0;
                p->prof[i].runs++;
            }
        }
        if (in != inbuf)
            free(in);
        /* free intermediates whose last reader was this node (and outputs nobody reads) */
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v >= 0 && !p->keep[v] && p->last_use[v] == i && p->t[v].data) {
                p->cur -= p->t[v].nbytes;
                free(p->t[v].data);
                p->t[v].data = NULL;
            }
        }
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v >= 0 && !p->keep[v] && p->last_use[v] < 0 && p->t[v].data) {
                p->cur -= p->t[v].nbytes;
                free(p->t[v].data);
                p->t[v].data = NULL;
            }
        }
    }
    return rc;
}

static void ref_set_seed(be_plan *p, uint64_t seed)
{
    p->seed = seed;
    p->seed_set = true;
}

static hpk_tensor *ref_io(be_plan *p, int v)
{
    if (v < 0 || v >= p->g->n_values)
        return NULL;
    if (!(p->g->values[v].flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)))
        return NULL;
    return &p->t[v];
}

static size_t ref_memory(const be_plan *p) { return p->peak; }

static const be_profile_entry *ref_profile(const be_plan *p, int *n)
{
    *n = p->opt.profile ? p->g->n_nodes : 0;
    return p->opt.profile ? p->prof : NULL;
}

const be_vtable be_ref = {
    .name = "ref",
    .supports = ref_supports,
    .prepare = ref_prepare,
    .run = ref_run,
    .set_seed = ref_set_seed,
    .io = ref_io,
    .memory = ref_memory,
    .profile = ref_profile,
    .free = plan_free,
};
