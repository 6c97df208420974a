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

#endif
