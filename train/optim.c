/* optim.c — SGD with momentum/Nesterov/coupled weight decay, PyTorch's operation order, vectorized loops.
 *
 * Bit-exactness with PyTorch's single-tensor SGD: every line of the update is one float32 operation rounded
 * like PyTorch's (buf.mul_(m).add_(g, alpha=1-d) is round(round(m*buf) + round((1-d)*g)); p.add_(g, alpha=-lr)
 * is round(p - round(lr*g)) since negation is exact). This holds as long as the compiler does not contract
 * a*b+c into an FMA: GCC in ISO C mode (-std=c11) and Clang without FMA in the target both keep them apart.
 * (PyTorch's own AVX2 kernels may use FMA, so a comparison with PyTorch allows an ulp or so per step.)
 */
#include <math.h>
#include <string.h>

#include "ckpt.h"
#include "optim.h"

typedef struct sgd_param {
    char *name;
    size_t name_len;
    size_t n;
    float *buf; /* momentum buffer (n floats); NULL with momentum 0 */
    bool has_buf;
} sgd_param;

struct train_sgd {
    hpk_alloc alloc;
    train_sgd_config cfg;
    sgd_param *p;
    int n_params;
    int64_t steps;
};

train_sgd_config train_sgd_config_default(void)
{
    train_sgd_config c = {0.05f, 0.9f, 0.0f, 1e-4f, false};
    return c;
}

int train_sgd_config_check(const train_sgd_config *c, hpk_err *err)
{
    if (!isfinite(c->lr) || c->lr < 0)
        return hpk_err_set(err, HPK_EUSAGE, "--lr: invalid learning rate %g", (double)c->lr);
    if (!isfinite(c->momentum) || c->momentum < 0)
        return hpk_err_set(err, HPK_EUSAGE, "--momentum: invalid momentum %g", (double)c->momentum);
    if (!isfinite(c->weight_decay) || c->weight_decay < 0)
        return hpk_err_set(err, HPK_EUSAGE, "--wd: invalid weight decay %g", (double)c->weight_decay);
    if (!isfinite(c->dampening))
        return hpk_err_set(err, HPK_EUSAGE, "invalid dampening %g", (double)c->dampening);
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
        return hpk_err_set(err, HPK_EUSAGE, "Nesterov momentum requires a momentum > 0 and zero dampening");
    return HPK_OK;
}

void train_sgd_free(train_sgd *o)
{
    if (!o)
        return;
    hpk_alloc a = o->alloc;
    for (int i = 0; i < o->n_params; i++) {
        if (o->p[i].name)
            a.fn(a.ud, o->p[i].name, o->p[i].name_len + 1, 0);
        if (o->p[i].buf)
            a.fn(a.ud, o->p[i].buf, o->p[i].n * sizeof(float), 0);
    }
    if (o->p)
        a.fn(a.ud, o->p, (size_t)o->n_params * sizeof *o->p, 0);
    a.fn(a.ud, o, sizeof *o, 0);
}

int train_sgd_init(train_sgd **out, const train_sgd_config *cfg, const train_param *params, int n_params,
                   hpk_alloc alloc, hpk_err *err)
{
    *out = NULL;
    int rc = train_sgd_config_check(cfg, err);
    if (rc)
        return rc;
    if (n_params < 0)
        return hpk_err_set(err, HPK_EINTERNAL, "sgd: negative parameter count");
    train_sgd *o = alloc.fn(alloc.ud, NULL, 0, sizeof *o);
    if (!o)
        return hpk_err_set(err, HPK_ENOMEM, "sgd: out of memory");
    memset(o, 0, sizeof *o);
    o->alloc = alloc;
    o->cfg = *cfg;
    if (n_params > 0) {
        o->p = alloc.fn(alloc.ud, NULL, 0, (size_t)n_params * sizeof *o->p);
        if (!o->p) {
            train_sgd_free(o);
            return hpk_err_set(err, HPK_ENOMEM, "sgd: out of memory");
        }
        memset(o->p, 0, (size_t)n_params * sizeof *o->p);
    }
    o->n_params = n_params;
    for (int i = 0; i < n_params; i++) {
        const char *name = params[i].name ? params[i].name : "";
        sgd_param *p = &o->p[i];
        p->name_len = strlen(name);
        p->n = params[i].n;
        p->name = alloc.fn(alloc.ud, NULL, 0, p->name_len + 1);
        if (p->name)
            memcpy(p->name, name, p->name_len + 1);
        if (p->name && cfg->momentum != 0 && p->n > 0) {
            size_t bytes;
            if (__builtin_mul_overflow(p->n, sizeof(float), &bytes)) {
                train_sgd_free(o);
                return hpk_err_set(err, HPK_ENOMEM, "sgd: parameter '%s' is too large", name);
            }
            p->buf = alloc.fn(alloc.ud, NULL, 0, bytes);
            if (!p->buf) {
                train_sgd_free(o);
                return hpk_err_set(err, HPK_ENOMEM, "sgd: out of memory for the momentum of '%s'", name);
            }
            memset(p->buf, 0, bytes);
        }
        if (!p->name) {
            train_sgd_free(o);
            return hpk_err_set(err, HPK_ENOMEM, "sgd: out of memory");
        }
        if (p->name_len == 0) {
            train_sgd_free(o);
            return hpk_err_set(err, HPK_EINTERNAL, "sgd: parameter %d has no name", i);
        }
    }
    /* names must be unique (they key the checkpoint's momentum buffers); n log n is not needed for ~300 */
    for (int i = 0; i < n_params; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(o->p[i].name, o->p[j].name) == 0) {
                int r = hpk_err_set(err, HPK_EINTERNAL, "sgd: parameter '%s' is listed twice", o->p[i].name);
                train_sgd_free(o);
                return r;
            }
    *out = o;
    return HPK_OK;
}

/* ---- the update kernel ---------------------------------------------------------------------------------------
 * Specialized by constant flags (always inlined into each case of the dispatch switch):
 *   mode 0: no momentum; 1: first step (buf = g); 2: buf = m*buf + a*g. */
typedef float v4f __attribute__((vector_size(16))); /* SSE/NEON width: no ABI change, any target */

static inline v4f v_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void v_store(float *p, v4f v) { memcpy(p, &v, sizeof v); }
static inline v4f v_splat(float x) { return (v4f){x, x, x, x}; }

static inline __attribute__((always_inline)) void sgd_kernel(float *restrict p, const float *restrict g,
                                                             float *restrict buf, size_t n, float lr, float wd,
                                                             float m, float a, const int use_wd, const int mode,
                                                             const int nesterov)
{
    const v4f vlr = v_splat(lr), vwd = v_splat(wd), vm = v_splat(m), va = v_splat(a);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f pi = v_load(p + i), gi = v_load(g + i);
        if (use_wd)
            gi = gi + vwd * pi;
        if (mode != 0) {
            v4f b = mode == 1 ? gi : vm * v_load(buf + i) + va * gi;
            v_store(buf + i, b);
            gi = nesterov ? gi + vm * b : b;
        }
        v_store(p + i, pi - vlr * gi);
    }
    for (; i < n; i++) {
        float pi = p[i], gi = g[i];
        if (use_wd)
            gi = gi + wd * pi;
        if (mode != 0) {
            float b = mode == 1 ? gi : m * buf[i] + a * gi;
            buf[i] = b;
            gi = nesterov ? gi + m * b : b;
        }
        p[i] = pi - lr * gi;
    }
}

static void sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float wd, float m, float a,
                       int use_wd, int mode, int nesterov)
{
    switch ((use_wd << 3) | (mode << 1) | nesterov) {
#define K(W, M, N)                                                                                                  \
    case ((W) << 3) | ((M) << 1) | (N):                                                                             \
        sgd_kernel(p, g, buf, n, lr, wd, m, a, W, M, N);                                                            \
        break;
        K(0, 0, 0) K(1, 0, 0)
        K(0, 1, 0) K(0, 1, 1) K(1, 1, 0) K(1, 1, 1)
        K(0, 2, 0) K(0, 2, 1) K(1, 2, 0) K(1, 2, 1)
#undef K
    default:
        break;
    }
}

int train_sgd_step(train_sgd *o, const train_param *params, int n_params, float lr, hpk_err *err)
{
    if (n_params != o->n_params)
        return hpk_err_set(err, HPK_EINTERNAL, "sgd: %d parameters given, the optimizer has %d", n_params,
                           o->n_params);
    if (!isfinite(lr) || lr < 0)
        return hpk_err_set(err, HPK_EINTERNAL, "sgd: invalid learning rate %g", (double)lr);
    for (int i = 0; i < n_params; i++) {
        const sgd_param *sp = &o->p[i];
        if (params[i].n != sp->n || !params[i].name || strcmp(params[i].name, sp->name) != 0)
            return hpk_err_set(err, HPK_EINTERNAL, "sgd: parameter %d is '%s' (%zu elements), expected '%s' (%zu)", i,
                               params[i].name ? params[i].name : "", params[i].n, sp->name, sp->n);
        if (sp->n > 0 && (!params[i].data || !params[i].grad))
            return hpk_err_set(err, HPK_EINTERNAL, "sgd: parameter '%s' has no data or gradient", sp->name);
    }
    const train_sgd_config *c = &o->cfg;
    const int use_wd = c->weight_decay != 0;
    const float a = 1.0f - c->dampening;
    for (int i = 0; i < n_params; i++) {
        sgd_param *sp = &o->p[i];
        if (sp->n == 0)
            continue;
        int mode = 0;
        if (c->momentum != 0)
            mode = sp->has_buf ? 2 : 1;
        sgd_update(params[i].data, params[i].grad, sp->buf, sp->n, lr, c->weight_decay, c->momentum, a, use_wd, mode,
                   c->nesterov ? 1 : 0);
        if (mode)
            sp->has_buf = true;
    }
    o->steps++;
    return HPK_OK;
}

int64_t train_sgd_steps(const train_sgd *o) { return o->steps; }
const train_sgd_config *train_sgd_config_get(const train_sgd *o) { return &o->cfg; }

const float *train_sgd_buffer(const train_sgd *o, int i)
{
    if (i < 0 || i >= o->n_params || !o->p[i].has_buf)
        return NULL;
    return o->p[i].buf;
}

/* ---- checkpoints ------------------------------------------------------------------------------------------ */
int train_sgd_save(const train_sgd *o, train_ckpt_writer *w, hpk_err *err)
{
    int rc;
    if ((rc = train_ckpt_add_str(w, "optim.kind", "sgd", err)) || (rc = train_ckpt_add_i64(w, "optim.steps", o->steps, err)))
        return rc;
    for (int i = 0; i < o->n_params; i++) {
        const sgd_param *sp = &o->p[i];
        if (!sp->has_buf)
            continue;
        int64_t dim = (int64_t)sp->n;
        if ((rc = train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, sp->name, HPK_DT_F32, 1, &dim, sp->buf, err)))
            return rc;
    }
    return HPK_OK;
}

int train_sgd_load(train_sgd *o, const train_ckpt *c, hpk_err *err)
{
    const char *lb = train_ckpt_label(c);
    const char *kind;
    int64_t steps;
    int rc;
    if ((rc = train_ckpt_get_str(c, "optim.kind", &kind, NULL, err)) ||
        (rc = train_ckpt_get_i64(c, "optim.steps", &steps, err)))
        return rc;
    if (strcmp(kind, "sgd") != 0)
        return hpk_err_set(err, HPK_EINPUT, "%s: the optimizer state is '%.64s', not 'sgd'", lb, kind);
    if (steps < 0)
        return hpk_err_set(err, HPK_EINPUT, "%s: optim.steps is negative (%lld)", lb, (long long)steps);
    const bool want = o->cfg.momentum != 0 && steps > 0;
    int matched = 0;
    for (int i = 0; i < o->n_params; i++) {
        const sgd_param *sp = &o->p[i];
        const train_ckpt_tensor *t = train_ckpt_find(c, TRAIN_CKPT_OPTIM, sp->name);
        if (!t) {
            if (want && sp->n > 0)
                return hpk_err_set(err, HPK_EINPUT, "%s: the momentum buffer of '%s' is missing", lb, sp->name);
            continue;
        }
        matched++;
        if (o->cfg.momentum == 0)
            return hpk_err_set(err, HPK_EINPUT, "%s: momentum buffer '%s' found but momentum is 0", lb, sp->name);
        if (t->dtype != HPK_DT_F32 || t->rank != 1 || (uint64_t)t->dims[0] != (uint64_t)sp->n)
            return hpk_err_set(err, HPK_EINPUT, "%s: the momentum buffer of '%s' does not have %zu float32 elements",
                               lb, sp->name, sp->n);
    }
    int in_file = 0;
    for (int i = 0; i < train_ckpt_n_tensors(c); i++)
        in_file += train_ckpt_tensor_at(c, i)->group == TRAIN_CKPT_OPTIM;
    if (in_file != matched) {
        for (int i = 0; i < train_ckpt_n_tensors(c); i++) {
            const train_ckpt_tensor *t = train_ckpt_tensor_at(c, i);
            if (t->group != TRAIN_CKPT_OPTIM)
                continue;
            int j = 0;
            while (j < o->n_params && strcmp(o->p[j].name, t->name) != 0)
                j++;
            if (j == o->n_params)
                return hpk_err_set(err, HPK_EINPUT, "%s: momentum buffer '%s' belongs to no parameter of the model",
                                   lb, t->name);
        }
    }
    for (int i = 0; i < o->n_params; i++) {
        sgd_param *sp = &o->p[i];
        const train_ckpt_tensor *t = train_ckpt_find(c, TRAIN_CKPT_OPTIM, sp->name);
        sp->has_buf = t != NULL;
        if (t && sp->n)
            memcpy(sp->buf, t->data, sp->n * sizeof(float));
    }
    o->steps = steps;
    return HPK_OK;
}

/* ---- graph parameters ------------------------------------------------------------------------------------- */
int train_params_from_graph(const ir_graph *g, train_param **out, int *n_out, hpk_err *err)
{
    *out = NULL;
    *n_out = 0;
    int n = 0;
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->init || !(val->flags & IR_VAL_PARAM))
            continue;
        if (val->init->dtype != IR_DT_F32)
            return hpk_err_set(err, HPK_EUNSUPPORTED, "parameter '%s' is %s; only float32 parameters are trained",
                               val->name, ir_dtype_name(val->init->dtype));
        n++;
    }
    if (n == 0)
        return HPK_OK;
    train_param *p = g->alloc.fn(g->alloc.ud, NULL, 0, (size_t)n * sizeof *p);
    if (!p)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory listing parameters");
    int k = 0;
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->init || !(val->flags & IR_VAL_PARAM))
            continue;
        p[k].name = val->name;
        p[k].data = val->init->data;
        p[k].grad = NULL;
        p[k].n = val->init->nbytes / sizeof(float);
        k++;
    }
    *out = p;
    *n_out = n;
    return HPK_OK;
}

void train_params_free(const ir_graph *g, train_param *params, int n_params)
{
    if (params)
        g->alloc.fn(g->alloc.ud, params, (size_t)n_params * sizeof *params, 0);
}
