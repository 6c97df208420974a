/* autodiff.h — reverse-mode differentiation as a pass: the driver's API and what a gradient rule sees.
 *
 * pass_autodiff appends the backward graph (like ONNX Runtime's gradient builder and ggml's build_backward):
 * seeds each loss with its weight λ, walks the forward nodes in reverse, and calls each node's gradient rule
 * (the op table's `grad` column, passes/grad_*.c). Contributions to one value are summed with Add nodes. For
 * every trainable parameter (IR_VAL_PARAM) that receives a gradient, the gradient becomes a graph output named
 * "grad/<param>". A node on the path from a parameter to a loss without a rule is an error naming it.
 *
 * Internal gradient ops (domain ai.hpk), inputs → outputs (attributes):
 *   ConvGrad(dY, X, W) → (dX, dW, dB)                       forward Conv's attributes; -1 outputs not needed
 *   BatchNormalizationGrad(dY, X, scale, saved_mean, saved_var) → (dX, dScale, dBias)   epsilon; batch stats
 *   MaxPoolGrad / AveragePoolGrad(dY, X) → dX                forward pooling attributes
 *   GlobalAveragePoolGrad / GlobalMaxPoolGrad(dY, X) → dX    (max: gradient to the first maximum)
 *   ReluGrad(dY, Y), SigmoidGrad(dY, Y) → dX                 from the forward output
 *   ClipGrad(dY, X) → dX                                     min, max (resolved floats)
 *   HardSigmoidGrad(dY, X), HardSwishGrad(dY, X) → dX        alpha, beta for HardSigmoid
 *   DropoutGrad(dY, mask) → dX                               ratio: dX = dY·mask/(1−ratio)
 *   SumToShape(dY, like) → dX                                sums broadcast dims of dY down to like's shape
 *   ReshapeLike(dY, like) → dX                               dY's data with like's shape
 *   SoftmaxGrad / LogSoftmaxGrad(dY, Y) → dX                 the forward axis (and opset semantics)
 *   ReduceMeanGrad(dY, X) → dX                               the forward axes and keepdims
 *   ConcatGrad(dY, X0, …) → (dX0, …)                         axis
 *   LpNormalizationGrad(dY, X) → dX                          axis (p = 2): (dY − y·⟨y, dY⟩)/‖x‖
 *   ReduceSumSquareGrad(dY, X) → dX                          the forward axes and keepdims: 2·x·dY
 *   SoftmaxCrossEntropyLossGrad(dLoss, scores, labels) → dScores   reduction
 * Kinks follow PyTorch, so one hpk step equals one PyTorch step: Relu'(0) = 0; Clip' is 1 on the open interval
 * (min, max) (hardtanh); HardSigmoid' is alpha strictly inside its ramp; HardSwish' is x/3 + 1/2 on [−3, 3].
 */
#ifndef HPK_AUTODIFF_H
#define HPK_AUTODIFF_H

#include "ir.h"

#define AD_MAX_IO 16

typedef struct ir_grad_ctx {
    ir_graph *g;
    int node;             /* the forward node (g->nodes may move while a rule adds nodes: use ad_node) */
    int dy[AD_MAX_IO];    /* per forward output: its gradient value, or -1 */
    bool need[AD_MAX_IO]; /* per forward input: a gradient is wanted */
    int dx[AD_MAX_IO];    /* per forward input: set by the rule (-1: none) */
    hpk_err *err;
} ir_grad_ctx;

/* The forward node (re-fetched: adding nodes may move the array). */
static inline ir_node *ad_node(ir_grad_ctx *c) { return &c->g->nodes[c->node]; }

/* Appends node `op` reading in[0..n_in) and producing n_out fresh float32 values named after the forward node
 * and `tag`; their ids go to out (an entry of -1 in want_out skips that output when want_out is non-NULL).
 * Returns the new node's index or -1 with c->err set. */
int ad_emit(ir_grad_ctx *c, ir_op op, const char *tag, const int *in, int n_in, int *out, int n_out,
            const bool *want_out);
/* Copies the forward node's attributes onto node ni. */
int ad_copy_attrs(ir_grad_ctx *c, int ni);
/* A float32 scalar initializer (shape []). */
int ad_scalar(ir_grad_ctx *c, float v);
/* Fails with "node 'X' (Op): no gradient for <what>". */
int ad_fail(ir_grad_ctx *c, const char *what);

typedef struct ad_loss {
    int value;    /* a scalar loss value */
    float weight; /* λ */
} ad_loss;

/* Appends the backward graph for the weighted sum of losses. */
int pass_autodiff(ir_graph *g, const ad_loss *losses, int n_losses, hpk_err *err);

/* Switches the forward graph to training semantics (in place): BatchNormalization gets training_mode=1 and
 * outputs (Y, new running mean "<mean>/new", new running var "<var>/new", saved batch mean, saved batch var);
 * the new running statistics become graph outputs. Dropout gets training_mode=true and a mask output. */
int pass_training_mode(ir_graph *g, hpk_err *err);

#endif
