/* be.h — the backend interface: a small table of functions (supports / prepare / run / io / free).
 *
 * A plan is a graph compiled for one set of concrete input shapes. The caller writes graph inputs into the
 * plain (C-order, dense) host tensors that be->io returns for input values, calls run, and reads outputs the
 * same way. Initializers are read from the graph: with options.params_mutable the backend re-reads them on
 * every run (training: the optimizer updates them in place between runs); otherwise it may transform and cache
 * them at prepare time (inference).
 */
#ifndef HPK_BE_H
#define HPK_BE_H

#include <stdbool.h>

#include "ir.h"

typedef struct be_options {
    int threads;         /* 0: the backend's default */
    bool params_mutable; /* initializers may change between runs */
    size_t mem_budget;   /* bytes; 0 = unlimited. prepare fails with HPK_ENOMEM before allocating beyond it */
    bool profile;        /* collect per-node times (be_profile) */
} be_options;

typedef struct be_plan be_plan;

typedef struct be_profile_entry {
    int node;
    double ms; /* accumulated over runs */
    long runs;
} be_profile_entry;

typedef struct be_vtable {
    const char *name;
    /* true if the backend can run node n of g (every op of the op table, for a complete backend) */
    bool (*supports)(const ir_graph *g, const ir_node *n);
    /* compiles g for concrete shapes of its inputs (input_shapes[i] for g->inputs[i]). g must outlive the plan
     * and must not change structurally while the plan exists. */
    int (*prepare)(ir_graph *g, const be_options *opt, const ir_shape *input_shapes, be_plan **out, hpk_err *err);
    int (*run)(be_plan *p, hpk_err *err);
    /* seeds the stochastic ops (Dropout) of the next run; without a call, each run draws a fresh seed. The
     * trainer seeds every step from (run seed, step) so a resumed run repeats an uninterrupted one exactly. */
    void (*set_seed)(be_plan *p, uint64_t seed);
    /* the plain host tensor of a graph input or output value; NULL for any other value */
    hpk_tensor *(*io)(be_plan *p, int value_id);
    /* bytes of intermediate memory the plan holds (for budgets and benchmarks) */
    size_t (*memory)(const be_plan *p);
    /* per-node profile (NULL if not collected); *n receives the entry count */
    const be_profile_entry *(*profile)(const be_plan *p, int *n);
    void (*free)(be_plan *p);
} be_vtable;

extern const be_vtable be_ref;
#ifdef HPK_HAVE_ONEDNN
extern const be_vtable be_onednn;
#endif

/* Finds a backend by name ("ref", "onednn"); NULL if unknown. */
const be_vtable *be_find(const char *name);
/* The default backend for inference and training (onednn when built, else ref). */
const be_vtable *be_default(void);

#endif
