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

#endif
