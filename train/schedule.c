/* schedule.c — learning-rate schedules (cosine with optional linear warmup, constant); formulas in schedule.h. */
#include <math.h>
#include <string.h>

#include "schedule.h"

static const double k_pi = 3.14159265358979323846;

int train_schedule_check(const train_schedule *s, hpk_err *err)
{
    if (s->kind != TRAIN_SCHED_CONST && s->kind != TRAIN_SCHED_COSINE)
        return hpk_err_set(err, HPK_EUSAGE, "--schedule: unknown schedule %d", (int)s->kind);
    if (!isfinite(s->base_lr) || s->base_lr < 0)
        return hpk_err_set(err, HPK_EUSAGE, "--lr: invalid learning rate %g", s->base_lr);
    if (s->total <= 0)
        return hpk_err_set(err, HPK_EUSAGE, "--steps/--epochs: the run has %lld steps; it needs at least 1",
                           (long long)s->total);
    if (s->warmup < 0 || s->warmup >= s->total)
        return hpk_err_set(err, HPK_EUSAGE, "--warmup: %lld warmup steps; it must be in [0, %lld) (the run's steps)",
                           (long long)s->warmup, (long long)s->total);
    return HPK_OK;
}

double train_schedule_lr(const train_schedule *s, int64_t step)
{
    if (step < 0)
        return 0;
    int64_t w = s->warmup > 0 ? s->warmup : 0;
    if (step < w)
        return s->base_lr * (double)(step + 1) / (double)w;
    if (s->kind == TRAIN_SCHED_CONST)
        return s->base_lr;
    int64_t span = s->total - w;
    if (span <= 0 || step >= s->total)
        return 0;
    return s->base_lr * (1.0 + cos(k_pi * (double)(step - w) / (double)span)) / 2.0;
}

int train_schedule_parse_kind(const char *name, train_sched_kind *out, hpk_err *err)
{
    if (name && strcmp(name, "cosine") == 0) {
        *out = TRAIN_SCHED_COSINE;
        return HPK_OK;
    }
    if (name && (strcmp(name, "const") == 0 || strcmp(name, "constant") == 0)) {
        *out = TRAIN_SCHED_CONST;
        return HPK_OK;
    }
    return hpk_err_set(err, HPK_EUSAGE, "--schedule: '%s' is not a schedule (cosine or const)", name ? name : "");
}

const char *train_schedule_kind_name(train_sched_kind k) { return k == TRAIN_SCHED_COSINE ? "cosine" : "const"; }
