/* onednn.h — the oneDNN backend's private interface: the plan (storages, memories, steps) and per-op builders.
 *
 * A plan is built node by node. Each value of the graph gets a home memory: a layout (a oneDNN memory
 * descriptor, possibly blocked such as nChw8c) over a byte range of a storage. Storages are the units of the
 * memory plan: arena storages get an offset in one arena from their live interval over the steps (values whose
 * live intervals do not overlap share bytes), host storages are the plain io tensors, external storages are
 * graph-owned constants (initializers, Constant payloads), persistent storages hold what is prepared once
 * (reordered and folded weights). Steps are oneDNN primitives or hand-written kernels; "once" steps run at
 * prepare time (weights that cannot change), the others on every run, in order.
 *
 * Rules the builders keep:
 *  - a value that needs another layout is reordered into a new storage once (cached per value and layout);
 *  - an output may overwrite an input's storage in place only if od_can_overwrite says no later node reads it;
 *  - a node folded into another node's step is marked absorbed; its intermediate values are never materialized
 *    (fusions are only made when those values have one reader and need not be kept).
 *
 * Inference (options.params_mutable false): BatchNormalization after a Conv is folded into its weights at prepare
 * time, activations (ReLU, Clip, HardSigmoid, HardSwish and the Mul(x, HardSigmoid(x)) pattern, Sigmoid) and a
 * residual Add (as a sum into the other operand's buffer, when no later node reads it) become post-ops, a 1x1
 * conv absorbs a following depthwise 3x3 conv, weights are reordered once, and batch-separable graphs whose batch
 * is far beyond the caches run in micro-batches (onednn_batch.c). Training (params_mutable): no fusion, every
 * value (every pre-activation) is materialized for the backward nodes, weights are reordered on every run from
 * the initializers the optimizer updates. A backward primitive needing a forward workspace (max pooling) can get
 * it as one more arena storage whose live interval reaches its backward step; none is needed today (MaxPoolGrad
 * is by hand).
 */
#ifndef HPK_ONEDNN_H
#define HPK_ONEDNN_H

#include <stdbool.h>
#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

#include "be.h"

enum od_storage_kind {
    OD_ST_ARENA,    /* an intermediate: placed in the arena by the memory plan */
    OD_ST_HOST,     /* a graph input/output tensor handed to the caller (plain) */
    OD_ST_EXTERNAL, /* graph-owned bytes: an initializer or a Constant payload (never written) */
    OD_ST_PERSIST,  /* plan-owned, filled by once-steps at prepare (prepared weights) */
    OD_ST_SCRATCH   /* the shared oneDNN scratchpad */
};

typedef struct od_storage {
    int kind;
    size_t bytes;
    void *ptr;        /* resolved address (arena storages: arena + offset) */
    void *alloc;      /* what the plan allocated for it (host, persistent, scratchpad), freed with the plan */
    size_t offset;    /* arena offset */
    int first, last;  /* steps that touch it (run steps only); first < 0: untouched */
    int last_node;    /* last graph node that reads a value living here (in-place decisions) */
    bool readonly;    /* never overwritten in place: inputs, outputs, constants */
    bool mutable_src; /* an initializer the trainer may change between runs */
    bool used_at_run; /* referenced by a run step (persistent storages not needed after prepare are freed) */
    const char *what; /* a value name for messages */
} od_storage;

typedef struct od_mem {
    int storage;
    size_t offset;        /* bytes into the storage */
    bool has_md;          /* false: raw bytes (non-float dtypes), only hand kernels read them */
    dnnl_memory_desc_t md;
    ir_dtype dt;
    ir_shape shape;       /* logical shape */
    dnnl_memory_t m;      /* created after the memory plan */
} od_mem;

#define OD_MAX_CONV 4
typedef struct od_value {
    int mem;              /* home memory; -1 until produced (or never, if fused away) */
    int conv[OD_MAX_CONV]; /* reordered copies in other layouts */
    int n_conv;
    int readers;          /* reading node slots, +1 if a graph output */
    int reader;           /* the reading node if exactly one */
    int last_node;        /* index of the last reading node; n_nodes for graph outputs */
    bool keep;            /* must be materialized (graph output, or asked to be kept) */
} od_value;

struct be_plan;
struct od_step;
typedef int (*od_kernel_fn)(struct be_plan *p, const struct od_step *s, hpk_err *err);

typedef struct od_arg {
    int kind; /* DNNL_ARG_* for primitives; a position for kernels */
    int mem;
} od_arg;

typedef struct od_step {
    int node;  /* graph node the time is attributed to (-1: none) */
    int threads; /* 0: the plan's; 1: a node too small to share (created and run single-threaded) */
    bool once; /* runs once at prepare */
    dnnl_primitive_t prim;
    od_kernel_fn fn;
    void *data; /* kernel parameters (free()d with the plan) */
    od_arg *args;
    int nargs;
    dnnl_exec_arg_t *xargs;
    char *impl; /* oneDNN implementation name or "hpk:<kernel>" (owned) */
} od_step;

struct be_plan {
    ir_graph *g;
    be_options opt;
    hpk_err *err;
    int threads;
    bool fuse; /* inference fusions (BN folding, post-ops) allowed */
    ir_shape *shapes;
    ir_dtype *dtypes;
    od_value *vals;
    bool *absorbed; /* per node: computed by another node's step */
    dnnl_engine_t eng;
    dnnl_stream_t strm;

    od_storage *st;
    int n_st, cap_st;
    od_mem *mem;
    int n_mem, cap_mem;
    od_step *steps;
    int n_steps, cap_steps;

    hpk_tensor *io; /* per value; data set for graph inputs and outputs */
    int *io_storage; /* per value: host storage of an input/output, -1 */
    void *arena;
    size_t arena_bytes, persist_bytes, scratch_bytes;
    int scratch_storage;
    be_profile_entry *prof;
    long runs;
    uint64_t seed;
    bool seed_set; /* set_seed was called for the next run */
    int cur_threads; /* while building: the threads of the node being built (0: the plan's) */

    /* micro-batching (onednn_batch.c): this plan runs `inner`, a plan for `micro` samples, batch/micro times over
     * slices of its own io tensors */
    struct be_plan *inner;
    int64_t batch, micro;
};

/* ---- plan building (onednn_plan.c) ------------------------------------------------------------------- */
int od_fail(be_plan *p, int code, int node, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Reports a failed oneDNN call for node (or -1) and returns HPK_EINTERNAL/HPK_EUNSUPPORTED. */
int od_dnnl_fail(be_plan *p, dnnl_status_t s, int node, const char *what);

int od_storage_new(be_plan *p, int kind, size_t bytes, const char *what);
int od_mem_new(be_plan *p, int storage, size_t offset, const dnnl_memory_desc_t *md, ir_dtype dt,
               const ir_shape *shape);
/* The same bytes seen with another descriptor/shape (a view). */
int od_mem_view(be_plan *p, int mem, const dnnl_memory_desc_t *md, const ir_shape *shape);

/* Plain (dense, C-order) descriptor of a shape; rank 0 becomes [1]. Fails for dtypes oneDNN lacks. */
int od_md_plain(dnnl_memory_desc_t *md, const ir_shape *s, ir_dtype dt);
bool od_md_is_plain(const dnnl_memory_desc_t *md);
int od_md_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims);
/* 0 for the plain layout; B for a dense layout that blocks only the channels (dim 1) by B, as oneDNN's
 * convolutions produce (nChw8c...); -1 for anything else. */
int64_t od_md_channel_block(const dnnl_memory_desc_t *md);
/* The hand kernels' innermost tile loops, compiled for AVX-512, AVX2 and the baseline and picked at load time
 * (GCC/clang function multiversioning): they are compute-bound in double. ISO C mode keeps floating-point
 * contraction off, so every version computes the same bits. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(HPK_NO_TARGET_CLONES)
#define OD_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define OD_MULTIVERSION
#endif

/* A [N, C, S] tensor in the plain layout (blk 0) or channel-blocked by blk: [N, ceil(C/blk), S, blk], the padding
 * channels of the last block zero. Sums run over (sample, channel-block) tiles, each one contiguous run, in
 * double, reduced over the samples in a fixed order (the result does not depend on the thread count). */
typedef struct od_nc {
    int64_t n, c, s, blk;
} od_nc;
enum { OD_NC_MAX_BLK = 16 }; /* the largest channel block od_nc_sums takes */
/* Per channel c: sa[c] = Σ (a − ka[c]) and, when sab, sab[c] = Σ (a − ka[c])·(b − kb[c]); a NULL shift is 0.
 * HPK_OK or HPK_ENOMEM. */
int od_nc_sums(const od_nc *g, const float *a, const double *ka, const float *b, const double *kb, double *sa,
               double *sab);
size_t od_md_size(const dnnl_memory_desc_t *md);
bool od_md_eq(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);

/* The home memory of value v (it must have been produced). */
int od_value_mem(be_plan *p, int v, int node, int *mem);
/* Value v in layout want (reordered once and cached if its home layout differs). */
int od_input_as(be_plan *p, int v, int node, const dnnl_memory_desc_t *want, int *mem);
/* Value v in the plain layout (float or raw). */
int od_input_plain(be_plan *p, int v, int node, int *mem);
/* A fresh arena storage for output v with layout md (NULL: plain raw bytes of v's dtype). */
int od_output_new(be_plan *p, int v, const dnnl_memory_desc_t *md, int *mem);
/* Makes mem the home of output v (an in-place result or a view); updates the storage's last reader. */
int od_output_set(be_plan *p, int v, int mem);
/* True if node may overwrite value v's storage: not read-only and no node after `node` reads it. */
bool od_can_overwrite(const be_plan *p, int v, int node);
/* The same when node `except` (after `node`, absorbed into node's step) also reads v. */
bool od_can_overwrite_ex(const be_plan *p, int v, int node, int except);
/* True if v is an initializer-backed constant (through Identity views) that cannot change between runs. */
bool od_value_const(const be_plan *p, int v);

/* Primitive attributes with the user scratchpad mode (free with dnnl_primitive_attr_destroy). */
int od_attr_new(be_plan *p, dnnl_primitive_attr_t *attr, int node);
/* Creates a primitive descriptor; NULL attr means default attributes. Returns the dnnl status. */
dnnl_status_t od_pd_try(be_plan *p, dnnl_primitive_desc_t *pd, const void *op_desc, const_dnnl_primitive_attr_t attr);
const char *od_pd_impl(const_dnnl_primitive_desc_t pd);
const dnnl_memory_desc_t *od_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int index);
/* Adds a primitive step (takes ownership of pd); the scratchpad argument is added here. */
int od_step_prim(be_plan *p, int node, dnnl_primitive_desc_t pd, const od_arg *args, int nargs, bool once);
/* Adds a hand-written kernel step (takes ownership of data, which may be NULL). */
int od_step_kernel(be_plan *p, int node, od_kernel_fn fn, void *data, const od_arg *args, int nargs, bool once,
                   const char *impl);
/* Reorders mem into layout want; the result lives in a persistent storage if once, else in the arena. */
int od_reorder(be_plan *p, int node, int mem, const dnnl_memory_desc_t *want, bool once, int *out);
/* The address of a memory at run time. */
void *od_ptr(const be_plan *p, int mem);

/* ---- micro-batching (onednn_batch.c) --------------------------------------------------------------------- */
/* The batch N if every sample of g is computed independently (given concrete shapes of all values), else 0;
 * *per_sample receives the largest activation bytes one node touches per sample. */
int64_t od_batch_separable(const ir_graph *g, const ir_shape *shapes, size_t *per_sample);

/* ---- fusion helpers (onednn_plan.c) -------------------------------------------------------------------- */
#define OD_MAX_POST 8
typedef struct od_post {
    int kind; /* 0 eltwise, 1 sum */
    dnnl_alg_kind_t alg;
    float alpha, beta;
    int other; /* sum: the value accumulated into */
} od_post;
typedef struct od_chain {
    int n;
    od_post post[OD_MAX_POST];
    int nodes[OD_MAX_POST]; /* the absorbed node of each entry (a HardSwish pattern records the Mul) */
    int extra[OD_MAX_POST]; /* a second absorbed node (the HardSigmoid of a HardSwish pattern), -1 */
    int out[OD_MAX_POST];   /* the value computed after each entry */
} od_chain;
/* Eltwise form of a unary node: up to two oneDNN eltwise ops; returns the count, 0 if none. */
int od_eltwise_form(const be_plan *p, const ir_node *n, dnnl_alg_kind_t *alg, float *alpha, float *beta);
/* If value v (computed by node `at`) is consumed only by a fusable chain, describes it. The sum entry is only
 * allowed if allow_sum. */
void od_chain_find(be_plan *p, int at, int v, bool allow_sum, od_chain *c);
/* True if the chain may be cut after k entries (entries of one node stay together). */
bool od_chain_cut_ok(const od_chain *c, int k);
/* True if the first k entries contain the sum; *other receives its value. */
bool od_chain_has_sum(const od_chain *c, int k, int *other);
/* Appends the chain's first k entries as post-ops. */
int od_chain_post_ops(be_plan *p, const od_chain *c, int k, dnnl_primitive_attr_t attr, int node);
/* Marks the first k entries absorbed and makes mem the home of the last computed value. */
int od_chain_commit(be_plan *p, const od_chain *c, int k, int mem);
/* The HardSwish pattern Mul(x, HardSigmoid(x; 1/6, 1/2)) starting at HardSigmoid node hs: the Mul node or -1. */
int od_hardswish_mul(const be_plan *p, int hs);

/* ---- builders: one per op of the op table (a missing one is a link error) ---------------------------------- */
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) int od_op_##id(be_plan *p, int ni);
#include "ops.def"
#undef OP

/* The memory of a step argument by its kind/position; -1 if absent. */
static inline int od_arg_mem(const od_step *s, int kind)
{
    for (int i = 0; i < s->nargs; i++)
        if (s->args[i].kind == kind)
            return s->args[i].mem;
    return -1;
}
static inline int od_prop(const be_plan *p)
{
    return p->opt.params_mutable ? dnnl_forward_training : dnnl_forward_inference;
}

/* shared hand-written kernels */
int od_kernel_copy(be_plan *p, const od_step *s, hpk_err *err); /* args: 0 src, 1 dst (same byte size) */

#endif
