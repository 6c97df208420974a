/* ir.h — hpk's graph IR: values, nodes, attributes, initializers, stages, and the op table's hooks.
 *
 * Invariants (checked by ir_verify):
 *  - SSA: every value has at most one producer (a node, or it is a graph input or an initializer).
 *  - nodes[] is in topological order: a node only reads values produced by earlier nodes, graph inputs or
 *    initializers. An omitted optional input is the value id -1.
 *  - every value name is unique within the graph; name -> id lookups go through ir_graph_find.
 *  - shapes: rank -1 is unknown; a dim >= 0 is known; a dim < 0 is symbolic, symbol id (-dim - 1), whose name
 *    is g->syms[id] (e.g. the batch dimension "N"). Concrete shapes (for a run) never contain symbols.
 * Memory: the graph owns everything reachable from it. Names, node arrays and attributes live in the graph's
 * arena; values/nodes arrays grow by realloc; initializer payloads are separate blocks. All of it goes through
 * the graph's allocator hook (hpk_alloc) so allocation failure can be injected in tests.
 */
#ifndef HPK_IR_H
#define HPK_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hpk.h"

#define IR_MAX_RANK HPK_MAX_RANK
#define IR_MAX_STAGES 16

typedef enum ir_dtype {
    IR_DT_UNDEF = HPK_DT_UNDEF,
    IR_DT_F32 = HPK_DT_F32,
    IR_DT_U8 = HPK_DT_U8,
    IR_DT_I8 = HPK_DT_I8,
    IR_DT_I32 = HPK_DT_I32,
    IR_DT_I64 = HPK_DT_I64,
    IR_DT_BOOL = HPK_DT_BOOL,
    IR_DT_F64 = HPK_DT_F64
} ir_dtype;

typedef struct ir_shape {
    int rank; /* -1: unknown */
    int64_t d[IR_MAX_RANK];
} ir_shape;

/* A constant tensor: initializers and tensor-valued attributes. data holds nbytes bytes, C order. */
typedef struct ir_tensor {
    ir_dtype dtype;
    ir_shape shape; /* always concrete */
    void *data;
    size_t nbytes;
} ir_tensor;

enum ir_value_flags {
    IR_VAL_INPUT = 1u << 0,  /* a graph input (fed at run time) */
    IR_VAL_OUTPUT = 1u << 1, /* a graph output */
    IR_VAL_PARAM = 1u << 2,  /* a trainable parameter (an initializer the optimizer updates) */
    IR_VAL_STATE = 1u << 3,  /* non-trainable state updated by training (BN running mean/var) */
    IR_VAL_HEAD = 1u << 4    /* belongs to a training-only head (removed by remove-heads) */
};

typedef struct ir_value {
    const char *name;
    ir_dtype dtype;
    ir_shape shape;
    int producer;   /* node index, or -1 for graph inputs and initializers */
    ir_tensor *init; /* non-NULL: this value is an initializer */
    unsigned flags;
} ir_value;

/* Attribute types use ONNX AttributeProto.AttributeType codes. */
typedef enum ir_attr_type {
    IR_ATTR_UNDEF = 0,
    IR_ATTR_FLOAT = 1,
    IR_ATTR_INT = 2,
    IR_ATTR_STRING = 3,
    IR_ATTR_TENSOR = 4,
    IR_ATTR_FLOATS = 6,
    IR_ATTR_INTS = 7,
    IR_ATTR_STRINGS = 8
} ir_attr_type;

typedef struct ir_attr {
    const char *name;
    ir_attr_type type;
    int64_t i;
    float f;
    const char *s; /* STRING: bytes (NUL-terminated copy; s_len gives the length) */
    size_t s_len;
    int n; /* element count for FLOATS/INTS/STRINGS */
    int64_t *ints;
    float *floats;
    const char **strings;
    ir_tensor *t;
} ir_attr;

/* ---- the op table -------------------------------------------------------------------------------------------
 * ops.def is the single place an op is declared; see the column description there. */
typedef enum ir_op {
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) IR_OP_##id,
#include "ops.def"
#undef OP
    IR_OP_COUNT
} ir_op;

enum ir_op_flags {
    IR_OPF_ONNX = 1u << 0,     /* a standard ONNX op (default domain), exportable */
    IR_OPF_INTERNAL = 1u << 1, /* hpk-internal (domain ai.hpk): training/gradient ops, never exported */
    IR_OPF_ELTWISE = 1u << 2,  /* elementwise unary: output shape = input shape */
    IR_OPF_NOGRAD = 1u << 3    /* has no inputs worth differentiating (constants, shape plumbing handled apart) */
};

struct ir_infer;
struct ir_graph;
struct ir_grad_ctx;

typedef struct ir_op_info {
    const char *id;       /* "Conv" */
    const char *domain;   /* "" for ONNX, "ai.hpk" for internal ops */
    const char *onnx_name;
    int min_in, max_in, min_out, max_out;
    unsigned flags;
    int (*shape)(struct ir_infer *c); /* validates attributes and inputs, sets output dtypes and shapes */
    int (*grad)(struct ir_grad_ctx *c); /* appends this node's backward; NULL: no gradient rule */
} ir_op_info;

extern const ir_op_info ir_op_table[IR_OP_COUNT];

/* Looks an op up by ONNX domain ("" or "ai.onnx" for the default domain) and name; returns -1 if unknown. */
int ir_op_lookup(const char *domain, const char *name);

typedef struct ir_node {
    ir_op op;
    const char *name;
    int n_in, n_out, n_attr;
    int *in;  /* value ids; -1 for an omitted optional input */
    int *out; /* value ids; -1 for an omitted optional output */
    ir_attr *attr;
    bool dead; /* marked by a pass for removal; ir_graph_compact drops it */
} ir_node;

/* A named stage: a tensor a training head can attach to (stage1..stage5 at strides 2..32, and fc). */
typedef struct ir_stage {
    const char *name;
    int value;  /* the stage's last tensor (for fc: the classifier's input features) */
    int stride; /* input size / stage resolution; 0 for fc */
} ir_stage;

typedef struct ir_arena_block ir_arena_block;

typedef struct ir_graph {
    hpk_alloc alloc;
    ir_arena_block *arena;

    ir_value *values;
    int n_values, cap_values;
    ir_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs; /* graph inputs that are not initializers, in order */
    int n_inputs, cap_inputs;
    int *outputs;
    int n_outputs, cap_outputs;

    const char **syms; /* symbolic dimension names */
    int n_syms, cap_syms;
    int *sym_index; /* name -> symbol id, open addressing like index; keeps ir_sym_get O(1) */
    int sym_index_cap;

    /* name -> value id, open addressing; slots hold id+1, 0 = empty */
    int *index;
    int index_cap;

    ir_stage stages[IR_MAX_STAGES];
    int n_stages;

    /* model metadata kept for a faithful export */
    const char *name;
    const char *producer_name;
    const char *producer_version;
    int64_t ir_version;
    int64_t opset;           /* default-domain opset */
    int64_t model_version;
    const char *doc;

    uint64_t name_counter; /* for ir_graph_unique_name */
} ir_graph;

/* ---- graph lifetime and building ----------------------------------------------------------------------- */
int ir_graph_init(ir_graph **out, hpk_alloc alloc, hpk_err *err);
void ir_graph_free(ir_graph *g);

/* Allocation through the graph's hook; NULL on failure (no error recorded: callers report). */
void *ir_alloc(ir_graph *g, size_t n);
void *ir_realloc(ir_graph *g, void *p, size_t osize, size_t nsize);
void ir_dealloc(ir_graph *g, void *p, size_t n);
/* Arena allocation: freed with the graph. Zeroed. */
void *ir_arena_alloc(ir_graph *g, size_t n);
const char *ir_strdup(ir_graph *g, const char *s);
const char *ir_strndup(ir_graph *g, const char *s, size_t n);

/* Returns the id of the value called name, or -1. */
int ir_graph_find(const ir_graph *g, const char *name);
/* Adds a value (name must be new); returns its id or -1 with err set. */
int ir_value_add(ir_graph *g, const char *name, ir_dtype dt, const ir_shape *shape, hpk_err *err);
/* Renames value v (the new name must be unused). */
int ir_value_rename(ir_graph *g, int v, const char *name, hpk_err *err);
/* Returns a name "<base>" or "<base>_<k>" not used in the graph (arena string). */
const char *ir_graph_unique_name(ir_graph *g, const char *base);
/* Adds an initializer value owning a fresh zeroed payload of the given dtype/shape; returns id or -1. */
int ir_init_add(ir_graph *g, const char *name, ir_dtype dt, const ir_shape *shape, hpk_err *err);
/* Allocates an ir_tensor with a zeroed payload (graph-owned). */
ir_tensor *ir_tensor_new(ir_graph *g, ir_dtype dt, const ir_shape *shape, hpk_err *err);
void ir_tensor_free(ir_graph *g, ir_tensor *t);
/* Appends a node; in/out ids are copied. Returns the node index or -1 with err set. */
int ir_node_add(ir_graph *g, ir_op op, const char *name, const int *in, int n_in, const int *out, int n_out,
                hpk_err *err);
/* Attribute setters on node index ni (copies data into the arena). */
int ir_node_set_int(ir_graph *g, int ni, const char *name, int64_t v, hpk_err *err);
int ir_node_set_float(ir_graph *g, int ni, const char *name, float v, hpk_err *err);
int ir_node_set_ints(ir_graph *g, int ni, const char *name, const int64_t *v, int n, hpk_err *err);
int ir_node_set_floats(ir_graph *g, int ni, const char *name, const float *v, int n, hpk_err *err);
int ir_node_set_string(ir_graph *g, int ni, const char *name, const char *s, hpk_err *err);
int ir_graph_add_input(ir_graph *g, int v, hpk_err *err);
int ir_graph_add_output(ir_graph *g, int v, hpk_err *err);
/* Returns the id of symbol name (creating it); -1 on allocation failure. */
int ir_sym_get(ir_graph *g, const char *name);
/* Records a stage; replaces a stage of the same name. */
int ir_stage_set(ir_graph *g, const char *name, int value, int stride, hpk_err *err);
const ir_stage *ir_stage_find(const ir_graph *g, const char *name);

/* Removes dead nodes and values nobody references (keeping inputs, outputs and stage tensors), renumbering
 * ids in nodes, inputs, outputs and stages. Recomputes producers. */
int ir_graph_compact(ir_graph *g, hpk_err *err);
/* Recomputes value producers from nodes; returns HPK_EINPUT if a value has two producers. */
int ir_graph_link(ir_graph *g, hpk_err *err);
/* Reorders nodes topologically (stable: keeps the current order where dependencies allow). A cycle or an
 * input that is never defined is an error naming a node. */
int ir_graph_toposort(ir_graph *g, hpk_err *err);
/* Deep copy (same allocator). */
int ir_graph_clone(const ir_graph *src, ir_graph **out, hpk_err *err);

/* ---- attributes ---------------------------------------------------------------------------------------- */
const ir_attr *ir_attr_find(const ir_node *n, const char *name);
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t def);
float ir_attr_float(const ir_node *n, const char *name, float def);
const char *ir_attr_str(const ir_node *n, const char *name, const char *def);
/* Returns the element count and sets *v, or -1 if absent (or of another type). */
int ir_attr_ints(const ir_node *n, const char *name, const int64_t **v);
int ir_attr_floats(const ir_node *n, const char *name, const float **v);

/* ---- shapes ---------------------------------------------------------------------------------------------- */
ir_shape ir_shape_make(int rank, const int64_t *d);
bool ir_shape_eq(const ir_shape *a, const ir_shape *b);
bool ir_shape_concrete(const ir_shape *s);
/* Element count of a concrete shape with overflow checks; HPK_EINPUT on overflow. */
int ir_shape_numel(const ir_shape *s, size_t *out);
/* Writes "[N,3,224,224]" (symbols by name) into buf. */
const char *ir_shape_str(const ir_graph *g, const ir_shape *s, char *buf, size_t n);
const char *ir_dtype_name(ir_dtype dt);
size_t ir_dtype_size(ir_dtype dt);

/* ---- shape inference ------------------------------------------------------------------------------------
 * One rule per op (the op table's `shape` column). A rule reads input shapes/dtypes from c->in/c->in_dt (rank
 * -1 and dtype UNDEF for an omitted optional input), the node's attributes, and constant input payloads
 * (ir_infer_const: needed for Reshape's shape, opset>=13 axes, Clip bounds...), then validates everything a
 * kernel will rely on and fills c->out/c->out_dt. A rule never trusts its input: a bad attribute is an error
 * naming the node. In symbolic mode (c->concrete false) unknown dims propagate as symbols. */
typedef struct ir_infer {
    ir_graph *g;
    const ir_node *n;
    int node_index;
    const ir_shape *in;
    const ir_dtype *in_dt;
    ir_shape *out;
    ir_dtype *out_dt;
    bool concrete;
    hpk_err *err;
    bool oom; /* set by ir_infer_unknown_dim when it could not allocate a symbol; the driver reports it */
} ir_infer;

/* Constant payload of input i if it is an initializer, else NULL. */
const ir_tensor *ir_infer_const(const ir_infer *c, int i);
/* Fails with "node 'name' (Op): <msg>"; returns HPK_EINPUT. */
int ir_infer_fail(ir_infer *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A fresh anonymous symbolic dim (symbolic mode), for results that depend on unknown dims. */
int64_t ir_infer_unknown_dim(ir_infer *c);

/* Symbolic inference over the whole graph: fills every value's dtype and shape (graph inputs keep theirs). */
int ir_infer_graph(ir_graph *g, hpk_err *err);
/* Concrete inference for a run: input_shapes[i] is the shape of g->inputs[i]; fills shapes[v] for every value
 * (shapes has g->n_values entries) and dtypes likewise. Rejects shapes that disagree with declared dims. */
int ir_infer_concrete(ir_graph *g, const ir_shape *input_shapes, ir_shape *shapes, ir_dtype *dtypes,
                      hpk_err *err);

/* ---- verification ---------------------------------------------------------------------------------------- */
/* SSA, topological order, every input defined, arities within the op table's bounds, dtypes and ranks
 * consistent with shape inference. */
int ir_verify(ir_graph *g, hpk_err *err);

/* ---- per-version helpers (ONNX moved several attributes to inputs over opsets) --------------------------- */
/* Clip bounds from attributes (opset < 11) or constant inputs (>= 11); defaults -inf/+inf. */
int ir_clip_bounds(const ir_graph *g, const ir_node *n, float *lo, float *hi, hpk_err *err);
/* Axes for Squeeze/Unsqueeze/ReduceMean from the attribute or the constant second input; returns count (0 if
 * none given) and copies up to IR_MAX_RANK entries into axes; -1 with err if the input is not constant. */
int ir_node_axes(const ir_graph *g, const ir_node *n, int64_t *axes, hpk_err *err);

/* Resolved sliding-window geometry of a 2-D Conv or pooling node for a concrete input (auto_pad applied). */
typedef struct ir_window {
    int64_t kh, kw;     /* kernel */
    int64_t sh, sw;     /* strides */
    int64_t dh, dw;     /* dilations */
    int64_t pt, pl, pb, pr; /* pads: top, left, bottom, right */
    int64_t group;      /* Conv only */
    int64_t oh, ow;     /* output spatial size */
    bool ceil_mode;
    bool count_include_pad;
} ir_window;
/* Validates a Conv node's attributes against input x [N,C,H,W] and weight w [M,C/group,kH,kW]; symbolic
 * spatial dims give unknown oh/ow (-1). Errors name the node. */
int ir_conv_window(const ir_node *n, const ir_shape *x, const ir_shape *w, ir_window *out, hpk_err *err);
/* The same for AveragePool/MaxPool (kernel_shape required). */
int ir_pool_window(const ir_graph *g, const ir_node *n, const ir_shape *x, ir_window *out, hpk_err *err);

/* Softmax/LogSoftmax geometry for a concrete input: the op works on `len` contiguous-with-stride-`inner`
 * elements, `outer` times. Opset >= 13: along one axis (default -1); opset < 13: the input coerced to 2-D at
 * axis (default 1), i.e. len = product of dims from axis on, inner = 1. */
void ir_softmax_geometry(const ir_graph *g, const ir_node *n, int rank, const int64_t *dims, size_t *outer,
                         size_t *len, size_t *inner);

/* Statistics used by hpk inspect and the tests. */
typedef struct ir_stats {
    uint64_t params;     /* elements of initializers that are not BN running statistics or shape constants */
    uint64_t macs;       /* multiply-accumulates for one batch-1 inference */
    int op_count[IR_OP_COUNT];
} ir_stats;
int ir_graph_stats(ir_graph *g, ir_stats *st, hpk_err *err);

#endif
