/* optim.h — SGD with momentum, bit-for-bit the update of PyTorch's torch.optim.SGD (single-tensor path).
 *
 * One step, per parameter p with gradient grad (float32 throughout, the same operation order as PyTorch):
 *     g = grad + wd * p                          (only if wd != 0: coupled L2, applied to every parameter)
 *     if momentum != 0:
 *         buf = g                                 (the first step of this optimizer: a copy)
 *         buf = momentum * buf + (1 - dampening) * g      (every later step)
 *         g   = nesterov ? g + momentum * buf : buf
 *     p = p - lr * g
 * The defaults are the paper's recipe: lr 0.05, momentum 0.9, wd 1e-4, dampening 0, no Nesterov. The learning
 * rate is passed to every step (it comes from schedule.h). Momentum buffers are owned by the optimizer and are
 * saved/restored through checkpoints (group TRAIN_CKPT_OPTIM) so a resumed run continues bit for bit.
 * The inner loops work on 4-float vectors (GCC/Clang vector extensions) so they vectorize at any -O level.
 */
#ifndef HPK_TRAIN_OPTIM_H
#define HPK_TRAIN_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hpk.h"
#include "ir.h"

struct train_ckpt;
struct train_ckpt_writer;

typedef struct train_sgd_config {
    float lr;           /* default learning rate (schedules pass their own per step) */
    float momentum;     /* 0 disables momentum buffers */
    float dampening;    /* 0 */
    float weight_decay; /* coupled L2, added to the gradient */
    bool nesterov;      /* requires momentum > 0 and dampening == 0 (as PyTorch) */
} train_sgd_config;

/* One parameter tensor: float32, n elements. grad is only read by train_sgd_step. */
typedef struct train_param {
    const char *name;
    float *data;
    const float *grad;
    size_t n;
} train_param;

typedef struct train_sgd train_sgd;

/* lr 0.05, momentum 0.9, dampening 0, weight decay 1e-4, no Nesterov. */
train_sgd_config train_sgd_config_default(void);
/* Rejects what PyTorch rejects (negative or non-finite lr/momentum/wd, Nesterov without momentum or with
 * dampening), naming the flag. */
int train_sgd_config_check(const train_sgd_config *cfg, hpk_err *err);

/* Creates an optimizer for n_params parameters (names copied; names must be unique and non-empty; sizes
 * recorded). data/grad pointers are not kept: every step receives the list again. */
int train_sgd_init(train_sgd **out, const train_sgd_config *cfg, const train_param *params, int n_params,
                   hpk_alloc alloc, hpk_err *err);
void train_sgd_free(train_sgd *o);

/* One update of every parameter with learning rate lr. params must be the list given to train_sgd_init (same
 * order, names and sizes; checked), with grad set. */
int train_sgd_step(train_sgd *o, const train_param *params, int n_params, float lr, hpk_err *err);

/* Steps taken so far (restored by train_sgd_load). */
int64_t train_sgd_steps(const train_sgd *o);
const train_sgd_config *train_sgd_config_get(const train_sgd *o);
/* The momentum buffer of parameter i (n floats), or NULL before the first step or with momentum 0. */
const float *train_sgd_buffer(const train_sgd *o, int i);

/* Adds the optimizer state to a checkpoint being written: the momentum buffers (group TRAIN_CKPT_OPTIM, named
 * as their parameters, referenced not copied: keep o alive until the write) and the metadata keys
 * "optim.kind" = "sgd", "optim.steps". */
int train_sgd_save(const train_sgd *o, struct train_ckpt_writer *w, hpk_err *err);
/* Restores the state saved by train_sgd_save. Everything is validated before anything changes: a missing or
 * extra buffer, a buffer whose shape differs from its parameter's size, or a missing key is an error naming the
 * tensor or key. */
int train_sgd_load(train_sgd *o, const struct train_ckpt *c, hpk_err *err);

/* Lists the graph's trainable parameters (initializers flagged IR_VAL_PARAM, in value order) as train_params
 * with data pointing at the initializer payloads and grad NULL. *out is allocated through g's allocator hook;
 * free it with train_params_free. A parameter that is not float32 is an error naming it. */
int train_params_from_graph(const ir_graph *g, train_param **out, int *n_out, hpk_err *err);
void train_params_free(const ir_graph *g, train_param *params, int n_params);

#endif
