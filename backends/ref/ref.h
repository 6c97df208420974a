/* ref.h — the reference backend's kernel interface: plain, obviously-correct C, the oracle for every test. */
#ifndef HPK_REF_H
#define HPK_REF_H

#include "be.h"

/* What a kernel sees: the node, its concrete input/output tensors (NULL for an omitted optional one), and a
 * place for an error. Input tensors are read-only; outputs are preallocated with their inferred shapes. */
typedef struct ref_kctx {
    const ir_graph *g;
    const ir_node *n;
    const hpk_tensor *const *in;
    hpk_tensor *const *out;
    int threads;
    uint64_t seed; /* for stochastic ops (Dropout in training mode); advanced per run */
    hpk_err *err;
} ref_kctx;

/* One kernel per op of the op table (a missing one is a link error). */
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) int ref_op_##id(ref_kctx *k);
#include "ops.def"
#undef OP

/* Fails the kernel with "node 'name' (Op): msg". */
int ref_fail(ref_kctx *k, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline size_t ref_numel(const hpk_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

/* The concrete shape of a tensor as an ir_shape (for the ir_*_window helpers). */
static inline ir_shape ref_shape(const hpk_tensor *t)
{
    return ir_shape_make(t->rank, t->dims);
}

/* Product of dims [from, to) of t (1 for an empty range). The plan checked every tensor's size for overflow. */
static inline size_t ref_dims_prod(const hpk_tensor *t, int from, int to)
{
    size_t n = 1;
    for (int i = from; i < to; i++)
        n *= (size_t)t->dims[i];
    return n;
}

/* Input i of the kernel, or NULL if it is omitted (absent or an empty name). */
static inline const hpk_tensor *ref_in(const ref_kctx *k, int i)
{
    return i < k->n->n_in ? k->in[i] : NULL;
}

/* Output i of the kernel, or NULL if it is not requested. */
static inline hpk_tensor *ref_out(const ref_kctx *k, int i)
{
    return i < k->n->n_out ? k->out[i] : NULL;
}

/* A deterministic parallel loop: calls fn(ctx, begin, end) over disjoint contiguous chunks of [0, n) on up to
 * `threads` threads (<= 1: inline, in order). Kernels give every output element to exactly one task and
 * compute it in a fixed order, so results never depend on the thread count. */
typedef void (*ref_task_fn)(void *ctx, int64_t begin, int64_t end);
void ref_parallel(int threads, int64_t n, ref_task_fn fn, void *ctx);

#endif
