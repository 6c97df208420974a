/* ir_rules.h — prototypes of the op table's hooks (shape rules ir_shape_*, gradient rules ir_grad_*). */
#ifndef HPK_IR_RULES_H
#define HPK_IR_RULES_H

#include "ir.h"

/* grad `none` is declared but never defined: the table maps it to NULL */
#define OP(id, dom, oname, min_in, max_in, min_out, max_out, shape, grad, flags) \
    int ir_shape_##shape(ir_infer *c);                                            \
    int ir_grad_##grad(struct ir_grad_ctx *c);
#include "ops.def"
#undef OP

/* Input i must have a known shape and (unless dt is UNDEF) dtype dt; fails naming the node otherwise. */
int ir_infer_need(ir_infer *c, int i, ir_dtype dt);
/* The node's axes (attribute or constant input, see ir_node_axes) normalized against rank into mask[rank];
 * repeated or out-of-range axes fail. Returns the count (0: none given) or -1 with c->err set. */
int ir_infer_axes(ir_infer *c, int rank, bool *mask);

#endif
