/* schedule.h — learning-rate schedules: pure functions of (step, total steps, base lr, warmup steps).
 *
 * Steps are 0-based: step s is the s-th optimizer update of the run, s in [0, total). With W warmup steps
 * (0 <= W < total):
 *   warmup (s < W):           lr(s) = base * (s + 1) / W                  linear, reaching base at s = W - 1
 *   cosine (s >= W):          lr(s) = base * (1 + cos(pi * (s - W) / (total - W))) / 2
 *                             one period from base (s = W) towards 0 (s = total, never reached)
 *   const  (s >= W):          lr(s) = base
 * With W = 0 the cosine schedule is exactly torch.optim.lr_scheduler.CosineAnnealingLR(T_max = total,
 * eta_min = 0) stepped once per optimizer step (its closed form; PyTorch's recursive form agrees to ~1e-15).
 * Past the end (s >= total) the cosine schedule returns 0 (it does not rise again like PyTorch's).
 * Computed in double; the optimizer takes the result as float (as PyTorch casts its Python float).
 */
#ifndef HPK_TRAIN_SCHEDULE_H
#define HPK_TRAIN_SCHEDULE_H

#include <stdint.h>

#include "hpk.h"

typedef enum train_sched_kind { TRAIN_SCHED_CONST = 0, TRAIN_SCHED_COSINE = 1 } train_sched_kind;

typedef struct train_schedule {
    train_sched_kind kind;
    double base_lr;
    int64_t total;  /* total optimizer steps of the run, > 0 */
    int64_t warmup; /* linear warmup steps, 0 <= warmup < total */
} train_schedule;

/* Validates a schedule built from user flags (--lr, --schedule, --warmup, --epochs/--steps), naming the flag. */
int train_schedule_check(const train_schedule *s, hpk_err *err);
/* The learning rate at 0-based step (see the formulas above); 0 for step < 0. */
double train_schedule_lr(const train_schedule *s, int64_t step);
/* Parses "cosine" or "const" (also "constant"); returns HPK_EUSAGE naming --schedule otherwise. */
int train_schedule_parse_kind(const char *name, train_sched_kind *out, hpk_err *err);
const char *train_schedule_kind_name(train_sched_kind k);

#endif
