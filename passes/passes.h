/* passes.h — graph → graph rewrites: the registry of passes.def and helpers passes share. */
#ifndef HPK_PASSES_H
#define HPK_PASSES_H

#include "ir.h"

typedef struct pass_info {
    const char *name;    /* as given to hpk opt --passes */
    const char *summary;
    int (*run)(ir_graph *g, hpk_err *err);
} pass_info;

#define PASS(cname, name, summary) int pass_##cname(ir_graph *g, hpk_err *err);
#include "passes.def"
#undef PASS

/* Internal passes, not offered by hpk opt (see their files): the training graph's HardSwish fusion. */
int pass_fuse_hardswish(ir_graph *g, hpk_err *err);

/* All registered passes, NULL-terminated by name. */
extern const pass_info pass_table[];
const pass_info *pass_find(const char *name);
/* Runs a comma-separated list of passes in order, verifying the graph after each. */
int pass_run_list(ir_graph *g, const char *csv, hpk_err *err);

/* Helpers: replace every read of value `from` (node inputs, graph outputs, stages) with `to`. */
void pass_replace_uses(ir_graph *g, int from, int to);
/* Number of nodes reading value v (counting each input slot), plus 1 if it is a graph output. */
int pass_use_count(const ir_graph *g, int v);

#endif
