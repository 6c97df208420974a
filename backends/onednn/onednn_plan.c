/* onednn_plan.c — the oneDNN backend's plan: shapes, fusion chains, layouts, liveness-based memory plan, run. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "onednn.h"

typedef int (*od_builder)(be_plan *p, int ni);

static const od_builder od_builders[IR_OP_COUNT] = {
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) [IR_OP_##id] = od_op_##id,
#include "ops.def"
#undef OP
};

#define OD_ALIGN 64

/* ---- errors ------------------------------------------------------------------------------------------------ */

int od_fail(be_plan *p, int code, int node, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (node >= 0 && node < p->g->n_nodes) {
        const ir_node *n = &p->g->nodes[node];
        return hpk_err_set(p->err, code, "node '%s' (%s): %s", n->name, ir_op_table[n->op].onnx_name, buf);
    }
    return hpk_err_set(p->err, code, "onednn: %s", buf);
}

static const char *dnnl_status_name(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

int od_dnnl_fail(be_plan *p, dnnl_status_t s, int node, const char *what)
{
    int code = s == dnnl_out_of_memory ? HPK_ENOMEM : s == dnnl_unimplemented ? HPK_EUNSUPPORTED : HPK_EINTERNAL;
    return od_fail(p, code, node, "oneDNN %s failed: %s", what, dnnl_status_name(s));
}

/* ---- growth ---------------------------------------------------------------------------------------------- */

static int grow(void **arr, int *cap, int need, size_t elsz)
{
    if (need <= *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*arr, (size_t)nc * elsz);
    if (!q)
        return -1;
    memset((char *)q + (size_t)*cap * elsz, 0, (size_t)(nc - *cap) * elsz);
    *arr = q;
    *cap = nc;
    return 0;
}

int od_storage_new(be_plan *p, int kind, size_t bytes, const char *what)
{
    if (grow((void **)&p->st, &p->cap_st, p->n_st + 1, sizeof *p->st))
        return od_fail(p, HPK_ENOMEM, -1, "out of memory planning storage"), -1;
    od_storage *s = &p->st[p->n_st];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->bytes = bytes;
    s->first = s->last = -1;
    s->last_node = -1;
    s->what = what ? what : "";
    s->readonly = kind == OD_ST_HOST || kind == OD_ST_EXTERNAL;
    return p->n_st++;
}

int od_mem_new(be_plan *p, int storage, size_t offset, const dnnl_memory_desc_t *md, ir_dtype dt,
               const ir_shape *shape)
{
    od_mem nm; /* md and shape may point into p->mem, which may move */
    memset(&nm, 0, sizeof nm);
    nm.storage = storage;
    nm.offset = offset;
    nm.has_md = md != NULL;
    if (md)
        nm.md = *md;
    nm.dt = dt;
    if (shape)
        nm.shape = *shape;
    if (grow((void **)&p->mem, &p->cap_mem, p->n_mem + 1, sizeof *p->mem))
        return od_fail(p, HPK_ENOMEM, -1, "out of memory planning memory"), -1;
    p->mem[p->n_mem] = nm;
    return p->n_mem++;
}

int od_mem_view(be_plan *p, int mem, const dnnl_memory_desc_t *md, const ir_shape *shape)
{
    od_mem m = p->mem[mem];
    return od_mem_new(p, m.storage, m.offset, md, m.dt, shape ? shape : &m.shape);
}

void *od_ptr(const be_plan *p, int mem)
{
    const od_mem *m = &p->mem[mem];
    return (char *)p->st[m->storage].ptr + m->offset;
}

/* ---- memory descriptors ------------------------------------------------------------------------------ */

static int dnnl_dt(ir_dtype dt, dnnl_data_type_t *out)
{
    switch (dt) {
    case IR_DT_F32: *out = dnnl_f32; return 0;
    case IR_DT_I32: *out = dnnl_s32; return 0;
    case IR_DT_I8: *out = dnnl_s8; return 0;
    case IR_DT_U8:
    case IR_DT_BOOL: *out = dnnl_u8; return 0;
    default: return -1;
    }
}

int od_md_plain(dnnl_memory_desc_t *md, const ir_shape *s, ir_dtype dt)
{
    dnnl_data_type_t ddt;
    dnnl_dims_t dims, strides;
    if (dnnl_dt(dt, &ddt) || s->rank > DNNL_MAX_NDIMS)
        return -1;
    int r = s->rank;
    if (r == 0) {
        dims[0] = 1;
        r = 1;
    } else {
        for (int i = 0; i < r; i++)
            dims[i] = s->d[i];
    }
    dnnl_dim_t st = 1;
    for (int i = r - 1; i >= 0; i--) {
        strides[i] = st;
        st *= dims[i] > 0 ? dims[i] : 1;
    }
    return dnnl_memory_desc_init_by_strides(md, r, dims, ddt, strides) == dnnl_success ? 0 : -1;
}

bool od_md_is_plain(const dnnl_memory_desc_t *md)
{
    if (md->format_kind != dnnl_blocked || md->format_desc.blocking.inner_nblks != 0 || md->offset0 != 0)
        return false;
    dnnl_dim_t st = 1;
    for (int i = md->ndims - 1; i >= 0; i--) {
        if (md->padded_dims[i] != md->dims[i])
            return false;
        if (md->dims[i] != 1 && md->format_desc.blocking.strides[i] != st)
            return false;
        st *= md->dims[i];
    }
    return true;
}

int od_md_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims)
{
    dnnl_dims_t d;
    for (int i = 0; i < rank; i++)
        d[i] = dims[i];
    return dnnl_memory_desc_init_by_tag(md, rank, d, dnnl_f32, dnnl_format_tag_any) == dnnl_success ? 0 : -1;
}

size_t od_md_size(const dnnl_memory_desc_t *md) { return dnnl_memory_desc_get_size(md); }

bool od_md_eq(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) { return dnnl_memory_desc_equal(a, b) != 0; }

/* 0: the plain layout; B: a dense layout blocking only the channels by B (aBcd8b, aBc16b...); -1: neither */
int64_t od_md_channel_block(const dnnl_memory_desc_t *md)
{
    if (od_md_is_plain(md))
        return 0;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (md->format_kind != dnnl_blocked || b->inner_nblks != 1 || b->inner_idxs[0] != 1 || md->offset0 != 0)
        return -1;
    int64_t B = b->inner_blks[0], st = B;
    for (int i = md->ndims - 1; i >= 2; i--) { /* spatial dims dense inside, then the channel blocks, then N */
        if (b->strides[i] != st)
            return -1;
        st *= md->padded_dims[i];
    }
    if (b->strides[1] != st || b->strides[0] != st * (md->padded_dims[1] / B))
        return -1;
    return B;
}

static size_t mem_bytes(const be_plan *p, int mem)
{
    const od_mem *m = &p->mem[mem];
    if (m->has_md)
        return od_md_size(&m->md);
    size_t n = 1;
    for (int i = 0; i < m->shape.rank; i++)
        n *= (size_t)m->shape.d[i];
    return n * ir_dtype_size(m->dt);
}

/* ---- values ------------------------------------------------------------------------------------------- */

int od_value_mem(be_plan *p, int v, int node, int *mem)
{
    if (v < 0 || v >= p->g->n_values || p->vals[v].mem < 0)
        return od_fail(p, HPK_EINTERNAL, node, "value '%s' is used before it is computed",
                       v >= 0 && v < p->g->n_values ? p->g->values[v].name : "?");
    *mem = p->vals[v].mem;
    return HPK_OK;
}

bool od_value_const(const be_plan *p, int v)
{
    int m = p->vals[v].mem;
    if (m < 0)
        return false;
    const od_storage *s = &p->st[p->mem[m].storage];
    return s->kind == OD_ST_EXTERNAL && !s->mutable_src;
}

int od_input_as(be_plan *p, int v, int node, const dnnl_memory_desc_t *want, int *mem)
{
    int m, rc;
    if ((rc = od_value_mem(p, v, node, &m)))
        return rc;
    if (p->mem[m].has_md && od_md_eq(&p->mem[m].md, want)) {
        *mem = m;
        return HPK_OK;
    }
    od_value *val = &p->vals[v];
    for (int i = 0; i < val->n_conv; i++)
        if (od_md_eq(&p->mem[val->conv[i]].md, want)) {
            *mem = val->conv[i];
            return HPK_OK;
        }
    if (!p->mem[m].has_md)
        return od_fail(p, HPK_EINTERNAL, node, "value '%s' (%s) has no oneDNN layout", p->g->values[v].name,
                       ir_dtype_name(p->mem[m].dt));
    int out;
    if ((rc = od_reorder(p, node, m, want, od_value_const(p, v), &out)))
        return rc;
    od_storage *s = &p->st[p->mem[out].storage];
    if (s->last_node < val->last_node)
        s->last_node = val->last_node;
    if (val->n_conv < OD_MAX_CONV)
        val->conv[val->n_conv++] = out;
    *mem = out;
    return HPK_OK;
}

int od_input_plain(be_plan *p, int v, int node, int *mem)
{
    int m, rc;
    if ((rc = od_value_mem(p, v, node, &m)))
        return rc;
    if (!p->mem[m].has_md || od_md_is_plain(&p->mem[m].md)) {
        *mem = m;
        return HPK_OK;
    }
    dnnl_memory_desc_t md;
    if (od_md_plain(&md, &p->shapes[v], p->dtypes[v]))
        return od_fail(p, HPK_EINTERNAL, node, "no plain layout for '%s'", p->g->values[v].name);
    return od_input_as(p, v, node, &md, mem);
}

int od_output_set(be_plan *p, int v, int mem)
{
    od_value *val = &p->vals[v];
    od_storage *s = &p->st[p->mem[mem].storage];
    val->mem = mem;
    if (s->last_node < val->last_node)
        s->last_node = val->last_node;
    if (val->keep)
        s->readonly = true;
    return HPK_OK;
}

int od_output_new(be_plan *p, int v, const dnnl_memory_desc_t *md, int *mem)
{
    dnnl_memory_desc_t plain;
    size_t bytes;
    if (!md && !od_md_plain(&plain, &p->shapes[v], p->dtypes[v]))
        md = &plain;
    if (md) {
        bytes = od_md_size(md);
    } else {
        size_t n;
        if (ir_shape_numel(&p->shapes[v], &n) || __builtin_mul_overflow(n, ir_dtype_size(p->dtypes[v]), &bytes))
            return od_fail(p, HPK_EINPUT, -1, "tensor '%s' is too large", p->g->values[v].name);
    }
    int s = od_storage_new(p, OD_ST_ARENA, bytes, p->g->values[v].name);
    if (s < 0)
        return HPK_ENOMEM;
    int m = od_mem_new(p, s, 0, md, p->dtypes[v], &p->shapes[v]);
    if (m < 0)
        return HPK_ENOMEM;
    *mem = m;
    return od_output_set(p, v, m);
}

bool od_can_overwrite(const be_plan *p, int v, int node)
{
    int m = p->vals[v].mem;
    if (m < 0)
        return false;
    const od_storage *s = &p->st[p->mem[m].storage];
    return s->kind == OD_ST_ARENA && !s->readonly && s->last_node <= node;
}

bool od_can_overwrite_ex(const be_plan *p, int v, int node, int except)
{
    int m = p->vals[v].mem;
    if (m < 0)
        return false;
    int sid = p->mem[m].storage;
    const od_storage *s = &p->st[sid];
    if (s->kind != OD_ST_ARENA || s->readonly)
        return false;
    if (s->last_node <= node)
        return true;
    for (int i = node + 1; i < p->g->n_nodes; i++) {
        if (i == except)
            continue;
        const ir_node *n = &p->g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int u = n->in[j];
            if (u >= 0 && p->vals[u].mem >= 0 && p->mem[p->vals[u].mem].storage == sid)
                return false;
        }
    }
    return true;
}

/* ---- primitives and steps --------------------------------------------------------------------------------- */

int od_attr_new(be_plan *p, dnnl_primitive_attr_t *attr, int node)
{
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s == dnnl_success && (s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user)))
        dnnl_primitive_attr_destroy(*attr);
    return s == dnnl_success ? HPK_OK : od_dnnl_fail(p, s, node, "attribute creation");
}

dnnl_status_t od_pd_try(be_plan *p, dnnl_primitive_desc_t *pd, const void *op_desc, const_dnnl_primitive_attr_t attr)
{
    dnnl_primitive_attr_t own = NULL;
    dnnl_status_t s;
    *pd = NULL;
    if (!attr) {
        if ((s = dnnl_primitive_attr_create(&own)) != dnnl_success)
            return s;
        if ((s = dnnl_primitive_attr_set_scratchpad_mode(own, dnnl_scratchpad_mode_user)) != dnnl_success) {
            dnnl_primitive_attr_destroy(own);
            return s;
        }
        attr = own;
    }
    s = dnnl_primitive_desc_create(pd, (const_dnnl_op_desc_t)op_desc, attr, p->eng, NULL);
    if (own)
        dnnl_primitive_attr_destroy(own);
    if (s != dnnl_success)
        *pd = NULL;
    return s;
}

const char *od_pd_impl(const_dnnl_primitive_desc_t pd)
{
    const char *s = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&s) != dnnl_success || !s)
        return "?";
    return s;
}

const dnnl_memory_desc_t *od_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int index)
{
    return dnnl_primitive_desc_query_md(pd, what, index);
}

static int step_new(be_plan *p, int node, const od_arg *args, int nargs, int extra, od_step **out)
{
    if (grow((void **)&p->steps, &p->cap_steps, p->n_steps + 1, sizeof *p->steps))
        return od_fail(p, HPK_ENOMEM, node, "out of memory planning steps");
    od_step *s = &p->steps[p->n_steps];
    memset(s, 0, sizeof *s);
    s->node = node;
    s->threads = p->cur_threads;
    s->args = calloc((size_t)(nargs + extra + 1), sizeof *s->args);
    if (!s->args)
        return od_fail(p, HPK_ENOMEM, node, "out of memory planning steps");
    for (int i = 0; i < nargs; i++)
        s->args[i] = args[i];
    s->nargs = nargs;
    p->n_steps++;
    *out = s;
    return HPK_OK;
}

int od_step_prim(be_plan *p, int node, dnnl_primitive_desc_t pd, const od_arg *args, int nargs, bool once)
{
    od_step *s;
    dnnl_primitive_t prim;
    dnnl_status_t ds = dnnl_primitive_create(&prim, pd);
    if (ds != dnnl_success) {
        dnnl_primitive_desc_destroy(pd);
        return od_dnnl_fail(p, ds, node, "primitive creation");
    }
    const dnnl_memory_desc_t *smd = od_pd_md(pd, dnnl_query_scratchpad_md, 0);
    size_t ssize = smd ? od_md_size(smd) : 0;
    int smem = -1;
    if (ssize) {
        smem = od_mem_new(p, p->scratch_storage, 0, smd, IR_DT_U8, NULL);
        if (smem < 0) {
            dnnl_primitive_desc_destroy(pd);
            dnnl_primitive_destroy(prim);
            return HPK_ENOMEM;
        }
        if (ssize > p->scratch_bytes)
            p->scratch_bytes = ssize;
    }
    const char *impl = od_pd_impl(pd);
    int rc = step_new(p, node, args, nargs, 1, &s);
    if (rc) {
        dnnl_primitive_desc_destroy(pd);
        dnnl_primitive_destroy(prim);
        return rc;
    }
    s->prim = prim;
    s->once = once;
    s->impl = strdup(impl);
    if (smem >= 0)
        s->args[s->nargs++] = (od_arg){DNNL_ARG_SCRATCHPAD, smem};
    dnnl_primitive_desc_destroy(pd);
    return HPK_OK;
}

int od_step_kernel(be_plan *p, int node, od_kernel_fn fn, void *data, const od_arg *args, int nargs, bool once,
                   const char *impl)
{
    od_step *s;
    int rc = step_new(p, node, args, nargs, 0, &s);
    if (rc) {
        free(data);
        return rc;
    }
    s->fn = fn;
    s->data = data;
    s->once = once;
    s->impl = strdup(impl ? impl : "hpk");
    return HPK_OK;
}

int od_reorder(be_plan *p, int node, int mem, const dnnl_memory_desc_t *want, bool once, int *out)
{
    dnnl_primitive_desc_t pd;
    dnnl_primitive_attr_t attr;
    int rc = od_attr_new(p, &attr, node);
    if (rc)
        return rc;
    od_mem src = p->mem[mem];
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, &src.md, p->eng, want, p->eng, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, node, "reorder");
    int st = od_storage_new(p, once ? OD_ST_PERSIST : OD_ST_ARENA, od_md_size(want), p->st[src.storage].what);
    if (st < 0) {
        dnnl_primitive_desc_destroy(pd);
        return HPK_ENOMEM;
    }
    p->st[st].last_node = node;
    int m = od_mem_new(p, st, 0, want, src.dt, &src.shape);
    if (m < 0) {
        dnnl_primitive_desc_destroy(pd);
        return HPK_ENOMEM;
    }
    od_arg args[2] = {{DNNL_ARG_FROM, mem}, {DNNL_ARG_TO, m}};
    if ((rc = od_step_prim(p, node, pd, args, 2, once)))
        return rc;
    *out = m;
    return HPK_OK;
}

int od_kernel_copy(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    size_t n = mem_bytes(p, s->args[1].mem);
    memcpy(od_ptr(p, s->args[1].mem), od_ptr(p, s->args[0].mem), n);
    return HPK_OK;
}

/* ---- fusion chains ------------------------------------------------------------------------------------------ */

int od_eltwise_form(const be_plan *p, const ir_node *n, dnnl_alg_kind_t *alg, float *alpha, float *beta)
{
    switch (n->op) {
    case IR_OP_Relu:
        alg[0] = dnnl_eltwise_relu, alpha[0] = 0, beta[0] = 0;
        return 1;
    case IR_OP_Clip: {
        float lo, hi;
        if (ir_clip_bounds(p->g, n, &lo, &hi, NULL))
            return 0;
        alg[0] = dnnl_eltwise_clip, alpha[0] = lo, beta[0] = hi;
        return 1;
    }
    case IR_OP_HardSigmoid:
        alg[0] = dnnl_eltwise_linear, alpha[0] = ir_attr_float(n, "alpha", 0.2f), beta[0] = ir_attr_float(n, "beta", 0.5f);
        alg[1] = dnnl_eltwise_clip, alpha[1] = 0, beta[1] = 1;
        return 2;
    case IR_OP_HardSwish:
        alg[0] = dnnl_eltwise_hardswish, alpha[0] = 0, beta[0] = 0;
        return 1;
    case IR_OP_Sigmoid:
        alg[0] = dnnl_eltwise_logistic, alpha[0] = 0, beta[0] = 0;
        return 1;
    case IR_OP_Exp:
        alg[0] = dnnl_eltwise_exp, alpha[0] = 0, beta[0] = 0;
        return 1;
    default:
        return 0;
    }
}

int od_hardswish_mul(const be_plan *p, int hs)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[hs];
    if (n->op != IR_OP_HardSigmoid)
        return -1;
    float a = ir_attr_float(n, "alpha", 0.2f), b = ir_attr_float(n, "beta", 0.5f);
    if (fabsf(a - 1.0f / 6.0f) > 1e-7f || b != 0.5f)
        return -1;
    int x = n->in[0], y = n->out[0];
    const od_value *vy = &p->vals[y];
    if (vy->keep || vy->readers != 1 || vy->reader <= hs)
        return -1;
    const ir_node *m = &g->nodes[vy->reader];
    if (m->op != IR_OP_Mul || p->absorbed[vy->reader])
        return -1;
    if (!((m->in[0] == x && m->in[1] == y) || (m->in[0] == y && m->in[1] == x)) || x == y)
        return -1;
    return vy->reader;
}

/* The nodes after `from` reading value v, up to max of them; returns the count (may exceed max). */
static int readers_of(const be_plan *p, int v, int from, int *out, int max)
{
    int cnt = 0;
    for (int i = from; i < p->g->n_nodes; i++) {
        const ir_node *n = &p->g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == v) {
                if (cnt < max)
                    out[cnt] = i;
                cnt++;
                break;
            }
    }
    return cnt;
}

/* May the step of node `at` accumulate into value o's storage on behalf of Add node `add`? */
static bool sum_target_ok(const be_plan *p, int at, int add, int o)
{
    int m = p->vals[o].mem;
    if (m < 0 || !p->mem[m].has_md || p->dtypes[o] != IR_DT_F32)
        return false;
    int s = p->mem[m].storage;
    const od_storage *st = &p->st[s];
    if (st->kind != OD_ST_ARENA || st->readonly)
        return false;
    for (int i = at; i < p->g->n_nodes; i++) {
        if (i == add)
            continue;
        const ir_node *n = &p->g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int u = n->in[j];
            if (u >= 0 && p->vals[u].mem >= 0 && p->mem[p->vals[u].mem].storage == s)
                return false;
        }
    }
    return true;
}

void od_chain_find(be_plan *p, int at, int v, bool allow_sum, od_chain *c)
{
    const ir_graph *g = p->g;
    bool have_sum = false;
    c->n = 0;
    if (!p->fuse)
        return;
    int cur = v;
    while (c->n < OD_MAX_POST - 2) {
        const od_value *cv = &p->vals[cur];
        if (cv->keep || p->dtypes[cur] != IR_DT_F32)
            break;
        int rd[3];
        int nr = readers_of(p, cur, at + 1, rd, 3);
        if (nr != cv->readers)
            break; /* read by the node itself or earlier: not a chain */
        if (nr == 2) {
            /* Mul(x, HardSigmoid(x)) with x read by those two only: HardSwish */
            int hs = g->nodes[rd[0]].op == IR_OP_HardSigmoid ? rd[0] : rd[1];
            int mul = od_hardswish_mul(p, hs);
            if (mul < 0 || p->absorbed[hs] || (rd[0] != mul && rd[1] != mul) || g->nodes[hs].in[0] != cur)
                break;
            od_post *e = &c->post[c->n];
            e->kind = 0, e->alg = dnnl_eltwise_hardswish, e->alpha = 0, e->beta = 0, e->other = -1;
            c->nodes[c->n] = mul, c->extra[c->n] = hs, c->out[c->n] = g->nodes[mul].out[0];
            c->n++;
            cur = g->nodes[mul].out[0];
            continue;
        }
        if (nr != 1)
            break;
        int r = rd[0];
        const ir_node *rn = &g->nodes[r];
        if (p->absorbed[r] || rn->n_out < 1 || rn->out[0] < 0)
            break;
        dnnl_alg_kind_t alg[2];
        float al[2], be[2];
        int ne = od_eltwise_form(p, rn, alg, al, be);
        if (ne > 0 && rn->in[0] == cur) {
            if (rn->op == IR_OP_HardSigmoid && od_hardswish_mul(p, r) >= 0)
                break; /* x itself goes on to the Mul: not a chain */
            for (int k = 0; k < ne; k++) {
                od_post *e = &c->post[c->n];
                e->kind = 0, e->alg = alg[k], e->alpha = al[k], e->beta = be[k], e->other = -1;
                c->nodes[c->n] = r, c->extra[c->n] = -1, c->out[c->n] = rn->out[0];
                c->n++;
            }
            cur = rn->out[0];
            continue;
        }
        if (rn->op == IR_OP_Add && allow_sum && !have_sum && rn->in[0] != rn->in[1]) {
            int o = rn->in[0] == cur ? rn->in[1] : rn->in[0];
            if (!ir_shape_eq(&p->shapes[o], &p->shapes[cur]) || !ir_shape_eq(&p->shapes[rn->out[0]], &p->shapes[cur]))
                break;
            if (!sum_target_ok(p, at, r, o))
                break;
            od_post *e = &c->post[c->n];
            e->kind = 1, e->alg = dnnl_alg_kind_undef, e->alpha = 0, e->beta = 0, e->other = o;
            c->nodes[c->n] = r, c->extra[c->n] = -1, c->out[c->n] = rn->out[0];
            c->n++;
            have_sum = true;
            cur = rn->out[0];
            continue;
        }
        break;
    }
}

bool od_chain_has_sum(const od_chain *c, int k, int *other)
{
    for (int i = 0; i < k; i++)
        if (c->post[i].kind == 1) {
            *other = c->post[i].other;
            return true;
        }
    return false;
}

bool od_chain_cut_ok(const od_chain *c, int k)
{
    return k == 0 || k == c->n || c->nodes[k] != c->nodes[k - 1];
}

int od_chain_post_ops(be_plan *p, const od_chain *c, int k, dnnl_primitive_attr_t attr, int node)
{
    dnnl_post_ops_t po;
    dnnl_status_t s = dnnl_post_ops_create(&po);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, node, "post-ops creation");
    for (int i = 0; i < k && s == dnnl_success; i++) {
        const od_post *e = &c->post[i];
        if (e->kind == 0)
            s = dnnl_post_ops_append_eltwise(po, 1.0f, e->alg, e->alpha, e->beta);
        else
            s = dnnl_post_ops_append_sum(po, 1.0f);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    return s == dnnl_success ? HPK_OK : od_dnnl_fail(p, s, node, "post-ops");
}

int od_chain_commit(be_plan *p, const od_chain *c, int k, int mem)
{
    for (int i = 0; i < k; i++) {
        p->absorbed[c->nodes[i]] = true;
        if (c->extra[i] >= 0)
            p->absorbed[c->extra[i]] = true;
    }
    if (k > 0)
        return od_output_set(p, c->out[k - 1], mem);
    return HPK_OK;
}

/* ---- prepare --------------------------------------------------------------------------------------------- */

static void plan_free(be_plan *p)
{
    if (!p)
        return;
    if (p->inner) {
        plan_free(p->inner);
        for (int v = 0; v < p->g->n_values; v++)
            free(p->io[v].data);
    }
    for (int i = 0; i < p->n_steps; i++) {
        od_step *s = &p->steps[i];
        if (s->prim)
            dnnl_primitive_destroy(s->prim);
        free(s->data);
        free(s->args);
        free(s->xargs);
        free(s->impl);
    }
    free(p->steps);
    for (int i = 0; i < p->n_mem; i++)
        if (p->mem[i].m)
            dnnl_memory_destroy(p->mem[i].m);
    free(p->mem);
    for (int i = 0; i < p->n_st; i++)
        free(p->st[i].alloc);
    free(p->st);
    free(p->arena);
    if (p->strm)
        dnnl_stream_destroy(p->strm);
    if (p->eng)
        dnnl_engine_destroy(p->eng);
    free(p->shapes);
    free(p->dtypes);
    free(p->vals);
    free(p->absorbed);
    free(p->io);
    free(p->io_storage);
    free(p->prof);
    free(p);
}

static size_t align_up(size_t n) { return (n + OD_ALIGN - 1) / OD_ALIGN * OD_ALIGN; }

static void *aligned_zalloc(size_t n)
{
    size_t sz = align_up(n ? n : 1);
    void *q = aligned_alloc(OD_ALIGN, sz);
    if (q)
        memset(q, 0, sz);
    return q;
}

typedef struct { int st; size_t bytes; } od_place;

static int place_cmp(const void *a, const void *b)
{
    const od_place *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->st - y->st;
}

/* Greedy-by-size placement: each storage, largest first, takes the lowest offset that no placed storage with
 * an overlapping live interval occupies. */
static int memory_plan(be_plan *p)
{
    int n = 0;
    od_place *pl = calloc((size_t)p->n_st + 1, sizeof *pl);
    int *placed = calloc((size_t)p->n_st + 1, sizeof *placed);
    int *ov = calloc((size_t)p->n_st + 1, sizeof *ov);
    if (!pl || !placed || !ov) {
        free(pl), free(placed), free(ov);
        return od_fail(p, HPK_ENOMEM, -1, "out of memory in the memory plan");
    }
    for (int i = 0; i < p->n_st; i++)
        if (p->st[i].kind == OD_ST_ARENA && p->st[i].first >= 0)
            pl[n++] = (od_place){i, align_up(p->st[i].bytes)};
    qsort(pl, (size_t)n, sizeof *pl, place_cmp);
    int np = 0;
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        od_storage *s = &p->st[pl[k].st];
        int no = 0;
        for (int j = 0; j < np; j++) {
            const od_storage *t = &p->st[placed[j]];
            if (t->first <= s->last && s->first <= t->last)
                ov[no++] = placed[j];
        }
        /* sort overlapping by offset (insertion sort: small) */
        for (int a = 1; a < no; a++) {
            int x = ov[a], b = a - 1;
            while (b >= 0 && p->st[ov[b]].offset > p->st[x].offset) {
                ov[b + 1] = ov[b];
                b--;
            }
            ov[b + 1] = x;
        }
        size_t off = 0;
        for (int j = 0; j < no; j++) {
            const od_storage *t = &p->st[ov[j]];
            if (t->offset >= off + pl[k].bytes)
                break;
            size_t end = t->offset + align_up(t->bytes);
            if (end > off)
                off = end;
        }
        s->offset = off;
        if (off + pl[k].bytes > total)
            total = off + pl[k].bytes;
        placed[np++] = pl[k].st;
    }
    p->arena_bytes = total;
    free(pl), free(placed), free(ov);
    return HPK_OK;
}

static int build_graph_io(be_plan *p)
{
    ir_graph *g = p->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (p->io_storage[v] >= 0)
            continue;
        size_t n, bytes;
        if (ir_shape_numel(&p->shapes[v], &n) || __builtin_mul_overflow(n, ir_dtype_size(p->dtypes[v]), &bytes))
            return od_fail(p, HPK_EINPUT, -1, "input '%s' is too large", g->values[v].name);
        int s = od_storage_new(p, OD_ST_HOST, bytes, g->values[v].name);
        if (s < 0)
            return HPK_ENOMEM;
        dnnl_memory_desc_t md;
        bool has = od_md_plain(&md, &p->shapes[v], p->dtypes[v]) == 0;
        int m = od_mem_new(p, s, 0, has ? &md : NULL, p->dtypes[v], &p->shapes[v]);
        if (m < 0)
            return HPK_ENOMEM;
        p->vals[v].mem = m;
        p->io_storage[v] = s;
        hpk_tensor *t = &p->io[v];
        t->dtype = (int)p->dtypes[v];
        t->rank = p->shapes[v].rank;
        for (int d = 0; d < t->rank; d++)
            t->dims[d] = p->shapes[v].d[d];
        t->nbytes = bytes;
    }
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->init)
            continue;
        int s = od_storage_new(p, OD_ST_EXTERNAL, val->init->nbytes, val->name);
        if (s < 0)
            return HPK_ENOMEM;
        p->st[s].ptr = val->init->data;
        p->st[s].mutable_src = p->opt.params_mutable;
        dnnl_memory_desc_t md;
        bool has = od_md_plain(&md, &val->init->shape, val->init->dtype) == 0;
        int m = od_mem_new(p, s, 0, has ? &md : NULL, val->init->dtype, &val->init->shape);
        if (m < 0)
            return HPK_ENOMEM;
        p->vals[v].mem = m;
    }
    return HPK_OK;
}

static int build_outputs(be_plan *p)
{
    ir_graph *g = p->g;
    int end = g->n_nodes;
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i], src, rc;
        if (p->io_storage[v] >= 0)
            continue; /* an input that is also an output, or a repeated output */
        if ((rc = od_input_plain(p, v, end, &src)))
            return rc;
        size_t bytes = mem_bytes(p, src);
        int s = od_storage_new(p, OD_ST_HOST, bytes, g->values[v].name);
        if (s < 0)
            return HPK_ENOMEM;
        int m = od_mem_new(p, s, 0, p->mem[src].has_md ? &p->mem[src].md : NULL, p->dtypes[v], &p->shapes[v]);
        if (m < 0)
            return HPK_ENOMEM;
        od_arg args[2] = {{0, src}, {1, m}};
        if ((rc = od_step_kernel(p, -1, od_kernel_copy, NULL, args, 2, false, "hpk:copy")))
            return rc;
        p->io_storage[v] = s;
        hpk_tensor *t = &p->io[v];
        t->dtype = (int)p->dtypes[v];
        t->rank = p->shapes[v].rank;
        for (int d = 0; d < t->rank; d++)
            t->dims[d] = p->shapes[v].d[d];
        t->nbytes = bytes;
    }
    return HPK_OK;
}

static int finalize(be_plan *p)
{
    int rc;
    /* live intervals over run steps */
    for (int k = 0; k < p->n_steps; k++) {
        od_step *s = &p->steps[k];
        for (int a = 0; a < s->nargs; a++) {
            od_storage *st = &p->st[p->mem[s->args[a].mem].storage];
            if (s->once) {
                if (st->kind == OD_ST_ARENA)
                    return od_fail(p, HPK_EINTERNAL, s->node, "a prepare-time step reads an intermediate");
                continue;
            }
            st->used_at_run = true;
            if (st->first < 0)
                st->first = k;
            st->last = k;
        }
    }
    if ((rc = memory_plan(p)))
        return rc;
    size_t total = p->arena_bytes + p->scratch_bytes;
    for (int i = 0; i < p->n_st; i++)
        if (p->st[i].kind == OD_ST_PERSIST || p->st[i].kind == OD_ST_HOST)
            total += p->st[i].bytes;
    if (p->opt.mem_budget && total > p->opt.mem_budget)
        return od_fail(p, HPK_ENOMEM, -1, "the plan needs %zu bytes, over the budget of %zu", total,
                       p->opt.mem_budget);
    if (p->arena_bytes && !(p->arena = aligned_zalloc(p->arena_bytes)))
        return od_fail(p, HPK_ENOMEM, -1, "out of memory for %zu bytes of activations", p->arena_bytes);
    for (int i = 0; i < p->n_st; i++) {
        od_storage *s = &p->st[i];
        switch (s->kind) {
        case OD_ST_ARENA: s->ptr = p->arena ? (char *)p->arena + s->offset : NULL; break;
        case OD_ST_HOST:
        case OD_ST_PERSIST:
            if (!(s->ptr = s->alloc = aligned_zalloc(s->bytes)))
                return od_fail(p, HPK_ENOMEM, -1, "out of memory for '%s' (%zu bytes)", s->what, s->bytes);
            if (s->kind == OD_ST_PERSIST)
                p->persist_bytes += s->bytes;
            break;
        case OD_ST_SCRATCH:
            s->bytes = p->scratch_bytes;
            if (!(s->ptr = s->alloc = aligned_zalloc(s->bytes)))
                return od_fail(p, HPK_ENOMEM, -1, "out of memory for the scratchpad (%zu bytes)", s->bytes);
            break;
        default: break;
        }
    }
    for (int i = 0; i < p->n_mem; i++) {
        od_mem *m = &p->mem[i];
        if (!m->has_md)
            continue;
        dnnl_status_t s = dnnl_memory_create(&m->m, &m->md, p->eng, od_ptr(p, i));
        if (s != dnnl_success)
            return od_dnnl_fail(p, s, -1, "memory creation");
    }
    for (int k = 0; k < p->n_steps; k++) {
        od_step *s = &p->steps[k];
        if (!s->prim)
            continue;
        if (!(s->xargs = calloc((size_t)s->nargs + 1, sizeof *s->xargs)))
            return od_fail(p, HPK_ENOMEM, -1, "out of memory");
        for (int a = 0; a < s->nargs; a++) {
            s->xargs[a].arg = s->args[a].kind;
            s->xargs[a].memory = p->mem[s->args[a].mem].m;
        }
    }
    for (int v = 0; v < p->g->n_values; v++)
        if (p->io_storage[v] >= 0)
            p->io[v].data = p->st[p->io_storage[v]].ptr;
    return HPK_OK;
}

static int exec_step_on(be_plan *p, od_step *s);

/* runs a step, single-threaded if it was built so (no parallel region: nothing to wait for) */
static int exec_step(be_plan *p, od_step *s)
{
#ifdef _OPENMP
    if (s->threads > 0) {
        int nthr = omp_get_max_threads();
        if (nthr != s->threads) {
            omp_set_num_threads(s->threads);
            int rc = exec_step_on(p, s);
            omp_set_num_threads(nthr);
            return rc;
        }
    }
#endif
    return exec_step_on(p, s);
}

static int exec_step_on(be_plan *p, od_step *s)
{
    if (s->prim) {
        dnnl_status_t ds = dnnl_primitive_execute(s->prim, p->strm, s->nargs, s->xargs);
        if (ds != dnnl_success)
            return od_dnnl_fail(p, ds, s->node, "execution");
        return HPK_OK;
    }
    return s->fn(p, s, p->err);
}

static int run_once_steps(be_plan *p)
{
    for (int k = 0; k < p->n_steps; k++) {
        int rc;
        if (p->steps[k].once && (rc = exec_step(p, &p->steps[k])))
            return rc;
    }
    dnnl_stream_wait(p->strm);
    /* persistent storages only the prepare-time steps needed */
    for (int i = 0; i < p->n_st; i++) {
        od_storage *s = &p->st[i];
        if (s->kind == OD_ST_PERSIST && !s->used_at_run && s->alloc) {
            free(s->alloc);
            s->ptr = s->alloc = NULL;
            p->persist_bytes -= s->bytes;
        }
    }
    return HPK_OK;
}

static void set_threads(const be_plan *p)
{
#ifdef _OPENMP
    if (p->opt.threads > 0)
        omp_set_num_threads(p->opt.threads);
#else
    (void)p;
#endif
}

/* A node whose work is too small to share between threads: a parallel region would cost more than it saves,
 * and on a loaded machine each region may wait a scheduler tick for a preempted thread (squeeze-excitation
 * 1x1 convolutions on [N, C, 1, 1], small classifiers...). */
static bool node_is_small(const be_plan *p, int ni)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[ni];
    double bytes = 0, macs = 0, outn = 0;
    if (ir_op_table[n->op].flags & IR_OPF_INTERNAL)
        return false; /* the training graph's backward ops keep the plan's threads */
    for (int j = 0; j < n->n_in; j++) {
        size_t c;
        int v = n->in[j];
        if (v >= 0 && !g->values[v].init && !ir_shape_numel(&p->shapes[v], &c))
            bytes += (double)c * (double)ir_dtype_size(p->dtypes[v]);
    }
    for (int j = 0; j < n->n_out; j++) {
        size_t c;
        int v = n->out[j];
        if (v >= 0 && !ir_shape_numel(&p->shapes[v], &c)) {
            bytes += (double)c * (double)ir_dtype_size(p->dtypes[v]);
            if (j == 0)
                outn = (double)c;
        }
    }
    const ir_shape *w = n->n_in > 1 && n->in[1] >= 0 ? &p->shapes[n->in[1]] : NULL;
    if (n->op == IR_OP_Conv && w && w->rank == 4)
        macs = outn * (double)(w->d[1] * w->d[2] * w->d[3]);
    else if ((n->op == IR_OP_Gemm || n->op == IR_OP_MatMul) && n->in[0] >= 0 && p->shapes[n->in[0]].rank >= 1) {
        const ir_shape *a = &p->shapes[n->in[0]];
        bool ta = n->op == IR_OP_Gemm && ir_attr_int(n, "transA", 0);
        macs = outn * (double)(ta && a->rank == 2 ? a->d[0] : a->d[a->rank - 1]);
    }
    return bytes <= 256.0 * 1024 && macs <= 2e6;
}

static int plan_build(ir_graph *g, const be_options *opt, const ir_shape *input_shapes, be_plan **out, hpk_err *err)
{
    int rc;
    *out = NULL;
    be_plan *p = calloc(1, sizeof *p);
    if (!p)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory preparing a plan");
    p->g = g;
    p->err = err;
    p->scratch_storage = -1;
    if (opt)
        p->opt = *opt;
    p->fuse = !p->opt.params_mutable;
    set_threads(p);
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    p->shapes = calloc(nv, sizeof *p->shapes);
    p->dtypes = calloc(nv, sizeof *p->dtypes);
    p->vals = calloc(nv, sizeof *p->vals);
    p->io = calloc(nv, sizeof *p->io);
    p->io_storage = calloc(nv, sizeof *p->io_storage);
    p->absorbed = calloc(nn, sizeof *p->absorbed);
    p->prof = calloc(nn, sizeof *p->prof);
    if (!p->shapes || !p->dtypes || !p->vals || !p->io || !p->io_storage || !p->absorbed || !p->prof) {
        plan_free(p);
        return hpk_err_set(err, HPK_ENOMEM, "out of memory preparing a plan");
    }
    if ((rc = ir_infer_concrete(g, input_shapes, p->shapes, p->dtypes, err))) {
        plan_free(p);
        return rc;
    }
    dnnl_status_t ds = dnnl_engine_create(&p->eng, dnnl_cpu, 0);
    if (ds == dnnl_success)
        ds = dnnl_stream_create(&p->strm, p->eng, dnnl_stream_default_flags);
    if (ds != dnnl_success) {
        rc = od_dnnl_fail(p, ds, -1, "engine creation");
        plan_free(p);
        return rc;
    }
    for (int v = 0; v < g->n_values; v++) {
        p->vals[v].mem = -1;
        p->vals[v].reader = -1;
        p->vals[v].last_node = -1;
        p->io_storage[v] = -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0)
                continue;
            bool again = false;
            for (int k = 0; k < j; k++)
                again |= n->in[k] == v;
            if (!again) {
                p->vals[v].readers++;
                p->vals[v].reader = i;
            }
            p->vals[v].last_node = i;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        od_value *val = &p->vals[g->outputs[i]];
        val->readers++;
        val->keep = true;
        val->last_node = g->n_nodes;
    }
    p->scratch_storage = od_storage_new(p, OD_ST_SCRATCH, 0, "scratchpad");
    if (p->scratch_storage < 0 || (rc = build_graph_io(p))) {
        rc = p->scratch_storage < 0 ? HPK_ENOMEM : rc;
        plan_free(p);
        return rc;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (p->absorbed[i])
            continue;
#ifdef _OPENMP
        int nthr = omp_get_max_threads();
        bool small = nthr > 1 && node_is_small(p, i);
        if (small) { /* created single-threaded (oneDNN sizes its work split at creation) */
            omp_set_num_threads(1);
            p->cur_threads = 1;
        }
#endif
        rc = od_builders[g->nodes[i].op](p, i);
#ifdef _OPENMP
        if (small) {
            omp_set_num_threads(nthr);
            p->cur_threads = 0;
        }
#endif
        if (rc) {
            plan_free(p);
            return rc;
        }
    }
    if ((rc = build_outputs(p)) || (rc = finalize(p)) || (rc = run_once_steps(p))) {
        plan_free(p);
        return rc;
    }
    p->seed = 0x9e3779b97f4a7c15ull;
    p->err = NULL;
    *out = p;
    return HPK_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run_single(be_plan *p, hpk_err *err)
{
    int rc = HPK_OK;
    p->err = err;
    set_threads(p);
    if (!p->seed_set)
        p->seed = p->seed * 6364136223846793005ull + 1442695040888963407ull;
    p->seed_set = false;
    for (int k = 0; k < p->n_steps && !rc; k++) {
        od_step *s = &p->steps[k];
        if (s->once)
            continue;
        if (p->opt.profile && s->node >= 0) {
            double t0 = now_ms();
            rc = exec_step(p, s);
            p->prof[s->node].ms += now_ms() - t0;
        } else {
            rc = exec_step(p, s);
        }
    }
    if (!rc)
        dnnl_stream_wait(p->strm);
    p->runs++;
    for (int i = 0; i < p->g->n_nodes; i++) {
        p->prof[i].node = i;
        p->prof[i].runs = p->absorbed[i] ? 0 : p->runs;
    }
    p->err = NULL;
    return rc;
}

/* ---- micro-batching ------------------------------------------------------------------------------------------ */

/* Points a host storage (a graph input or output of an inner plan) at other bytes. */
static int host_repoint(be_plan *p, int storage, void *ptr)
{
    p->st[storage].ptr = ptr;
    for (int i = 0; i < p->n_mem; i++) {
        od_mem *m = &p->mem[i];
        if (m->storage != storage || !m->m)
            continue;
        dnnl_status_t s = dnnl_memory_set_data_handle(m->m, (char *)ptr + m->offset);
        if (s != dnnl_success)
            return od_dnnl_fail(p, s, -1, "memory handle");
    }
    return HPK_OK;
}

/* The micro-batch: a divisor of N whose working set stays near the cache (HPK_ONEDNN_MICROBATCH=m forces m where m
 * divides N; 0 turns micro-batching off). Only for batches whose working set is far beyond the caches: on a quiet
 * machine micro-batches of MobileNets run ~5% faster, but every micro-batch multiplies the parallel regions, and
 * on a shared, loaded machine each region waits for a preempted thread: there the whole batch is far faster. */
static int64_t micro_size(int64_t N, size_t per_sample)
{
    const char *env = getenv("HPK_ONEDNN_MICROBATCH");
    if (env && *env) {
        long m = strtol(env, NULL, 10);
        return m > 0 && m < N && N % m == 0 ? m : 0;
    }
    const size_t target = (size_t)48 << 20, whole = (size_t)512 << 20;
    if ((size_t)N * per_sample <= whole)
        return 0; /* the whole batch: one plan */
    int64_t best = 0;
    for (int64_t m = 1; m < N; m++)
        if (N % m == 0 && (best == 0 || (size_t)m * per_sample <= target))
            best = m;
    return best;
}

static int micro_prepare(ir_graph *g, const be_options *opt, const ir_shape *input_shapes, be_plan **out,
                         hpk_err *err)
{
    *out = NULL;
    size_t nv = (size_t)g->n_values + 1, per_sample = 0;
    ir_shape *shapes = calloc(nv, sizeof *shapes), *mshapes = calloc((size_t)g->n_inputs + 1, sizeof *mshapes);
    ir_dtype *dtypes = calloc(nv, sizeof *dtypes);
    be_plan *p = NULL;
    int rc = HPK_EUNSUPPORTED;
    hpk_err local = {0};
    if (!shapes || !mshapes || !dtypes)
        goto done;
    if (opt && opt->params_mutable)
        goto done;
    if (ir_infer_concrete(g, input_shapes, shapes, dtypes, &local))
        goto done;
    int64_t N = od_batch_separable(g, shapes, &per_sample);
    int64_t m = N > 1 ? micro_size(N, per_sample) : 0;
    if (m <= 0)
        goto done;
    for (int i = 0; i < g->n_inputs; i++) {
        mshapes[i] = input_shapes[i];
        mshapes[i].d[0] = m;
    }
    if (!(p = calloc(1, sizeof *p)) || !(p->io = calloc(nv, sizeof *p->io)) ||
        !(p->prof = calloc((size_t)g->n_nodes + 1, sizeof *p->prof))) {
        rc = hpk_err_set(err, HPK_ENOMEM, "out of memory preparing a plan");
        goto done;
    }
    p->g = g;
    if (opt)
        p->opt = *opt;
    p->batch = N;
    p->micro = m;
    if ((rc = plan_build(g, opt, mshapes, &p->inner, &local)))
        goto done; /* e.g. a shape that names the batch: the caller plans the whole batch */
    for (int pass = 0; pass < 2; pass++) {
        const int *vs = pass ? g->outputs : g->inputs;
        int nvs = pass ? g->n_outputs : g->n_inputs;
        for (int i = 0; i < nvs; i++) {
            int v = vs[i];
            hpk_tensor *t = &p->io[v];
            if (t->data)
                continue;
            *t = p->inner->io[v];
            t->dims[0] = N;
            t->nbytes = p->inner->io[v].nbytes / (size_t)m * (size_t)N;
            if (!(t->data = calloc(1, t->nbytes ? t->nbytes : 1))) {
                rc = hpk_err_set(err, HPK_ENOMEM, "out of memory for '%s'", g->values[v].name);
                goto done;
            }
        }
    }
    rc = HPK_OK;
done:
    free(shapes), free(mshapes), free(dtypes);
    if (rc) {
        plan_free(p);
        if (rc != HPK_ENOMEM)
            rc = HPK_EUNSUPPORTED;
        return rc;
    }
    *out = p;
    return HPK_OK;
}

static int micro_run(be_plan *p, hpk_err *err)
{
    be_plan *in = p->inner;
    int rc = HPK_OK;
    for (int64_t c = 0; c < p->batch / p->micro && !rc; c++) {
        for (int v = 0; v < p->g->n_values && !rc; v++) {
            if (!p->io[v].data || in->io_storage[v] < 0)
                continue;
            size_t chunk = in->io[v].nbytes;
            in->err = err;
            rc = host_repoint(in, in->io_storage[v], (char *)p->io[v].data + (size_t)c * chunk);
        }
        if (!rc)
            rc = run_single(in, err);
    }
    p->runs++;
    if (p->opt.profile)
        for (int i = 0; i < p->g->n_nodes; i++) {
            p->prof[i] = in->prof[i];
            p->prof[i].runs = in->prof[i].runs ? p->runs : 0;
        }
    return rc;
}

static int od_prepare(ir_graph *g, const be_options *opt, const ir_shape *input_shapes, be_plan **out, hpk_err *err)
{
    int rc = micro_prepare(g, opt, input_shapes, out, err);
    if (rc == HPK_OK || rc == HPK_ENOMEM)
        return rc;
    return plan_build(g, opt, input_shapes, out, err);
}

static int od_run(be_plan *p, hpk_err *err) { return p->inner ? micro_run(p, err) : run_single(p, err); }

/* seeds the stochastic ops of the next run (the reference backend's scheme: node i draws from seed + i) */
static void od_set_seed(be_plan *p, uint64_t seed)
{
    be_plan *q = p->inner ? p->inner : p;
    q->seed = seed;
    q->seed_set = true;
}

static hpk_tensor *od_io(be_plan *p, int v)
{
    if (v < 0 || v >= p->g->n_values)
        return NULL;
    if (p->inner)
        return p->io[v].data ? &p->io[v] : NULL;
    return p->io_storage[v] >= 0 ? &p->io[v] : NULL;
}

static size_t od_memory(const be_plan *p)
{
    if (p->inner)
        return od_memory(p->inner);
    return p->arena_bytes + p->scratch_bytes + p->persist_bytes;
}

static const be_profile_entry *od_profile(const be_plan *p, int *n)
{
    *n = p->opt.profile ? p->g->n_nodes : 0;
    return p->opt.profile ? p->prof : NULL;
}

static bool od_supports(const ir_graph *g, const ir_node *n)
{
    (void)g;
    return n->op < IR_OP_COUNT && od_builders[n->op] != NULL;
}

const be_vtable be_onednn = {
    .name = "onednn",
    .supports = od_supports,
    .prepare = od_prepare,
    .run = od_run,
    .set_seed = od_set_seed,
    .io = od_io,
    .memory = od_memory,
    .profile = od_profile,
    .free = plan_free,
};
