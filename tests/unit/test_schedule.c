/* test_schedule.c — learning-rate schedules against hand-computed values and PyTorch's CosineAnnealingLR. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "schedule.h"
#include "sgd_expected.h"

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(fabs(b), 1e-300) || a == b; }

int main(void)
{
    hpk_err err = {0};
    /* cosine, no warmup: torch's CosineAnnealingLR(T_max = 10) stepped per step */
    train_schedule s = {TRAIN_SCHED_COSINE, 0.05, SCHED_REF_T, 0};
    CHECK(train_schedule_check(&s, &err) == HPK_OK);
    for (int t = 0; t < SCHED_REF_T; t++)
        CHECKF(close_to(train_schedule_lr(&s, t), sched_ref_lr[t]), "step %d: %.17g vs torch %.17g", t,
               train_schedule_lr(&s, t), sched_ref_lr[t]);
    /* the SGD reference's 6-step schedule */
    s.total = SGD_REF_STEPS;
    for (int t = 0; t < SGD_REF_STEPS; t++)
        CHECK(close_to(train_schedule_lr(&s, t), sgd_ref_lr[0][t]));

    /* hand-computed: total 4, base 1: 1, (1+cos(pi/4))/2, 1/2, (1-cos(pi/4))/2; then 0 */
    train_schedule h = {TRAIN_SCHED_COSINE, 1.0, 4, 0};
    const double r2 = sqrt(0.5);
    CHECK(train_schedule_lr(&h, 0) == 1.0);
    CHECK(close_to(train_schedule_lr(&h, 1), (1 + r2) / 2));
    CHECK(close_to(train_schedule_lr(&h, 2), 0.5));
    CHECK(close_to(train_schedule_lr(&h, 3), (1 - r2) / 2));
    CHECK(train_schedule_lr(&h, 4) == 0 && train_schedule_lr(&h, 100) == 0 && train_schedule_lr(&h, -1) == 0);

    /* warmup 2 of total 6, base 0.4: 0.2, 0.4, then cosine over 4 steps: 0.4, 0.2(1+r2), 0.2, 0.2(1-r2) */
    train_schedule wu = {TRAIN_SCHED_COSINE, 0.4, 6, 2};
    CHECK(train_schedule_check(&wu, &err) == HPK_OK);
    CHECK(close_to(train_schedule_lr(&wu, 0), 0.2));
    CHECK(close_to(train_schedule_lr(&wu, 1), 0.4));
    CHECK(close_to(train_schedule_lr(&wu, 2), 0.4));
    CHECK(close_to(train_schedule_lr(&wu, 3), 0.2 * (1 + r2)));
    CHECK(close_to(train_schedule_lr(&wu, 4), 0.2));
    CHECK(close_to(train_schedule_lr(&wu, 5), 0.2 * (1 - r2)));
    CHECK(train_schedule_lr(&wu, 6) == 0);

    /* constant, with and without warmup */
    train_schedule c = {TRAIN_SCHED_CONST, 0.05, 10, 0};
    CHECK(train_schedule_lr(&c, 0) == 0.05 && train_schedule_lr(&c, 9) == 0.05 && train_schedule_lr(&c, 50) == 0.05);
    c.warmup = 4;
    CHECK(close_to(train_schedule_lr(&c, 0), 0.0125) && close_to(train_schedule_lr(&c, 2), 0.0375) &&
          train_schedule_lr(&c, 3) == 0.05 && train_schedule_lr(&c, 4) == 0.05);

    /* monotone non-increasing after warmup over a long run */
    train_schedule lg = {TRAIN_SCHED_COSINE, 0.05, 100000, 500};
    double prev = INFINITY;
    int mono = 1;
    for (int64_t t = 500; t < 100000; t++) {
        double v = train_schedule_lr(&lg, t);
        mono &= v <= prev && v > 0;
        prev = v;
    }
    CHECK(mono);

    /* flag validation */
    train_schedule bad = {TRAIN_SCHED_COSINE, 0.05, 10, 10};
    CHECK(train_schedule_check(&bad, &err) == HPK_EUSAGE && strstr(err.msg, "--warmup"));
    bad.warmup = -1;
    hpk_err_clear(&err);
    CHECK(train_schedule_check(&bad, &err) == HPK_EUSAGE);
    bad = (train_schedule){TRAIN_SCHED_COSINE, NAN, 10, 0};
    hpk_err_clear(&err);
    CHECK(train_schedule_check(&bad, &err) == HPK_EUSAGE && strstr(err.msg, "--lr"));
    bad = (train_schedule){TRAIN_SCHED_COSINE, 0.1, 0, 0};
    hpk_err_clear(&err);
    CHECK(train_schedule_check(&bad, &err) == HPK_EUSAGE);
    train_sched_kind k;
    CHECK(train_schedule_parse_kind("cosine", &k, &err) == HPK_OK && k == TRAIN_SCHED_COSINE);
    CHECK(train_schedule_parse_kind("const", &k, &err) == HPK_OK && k == TRAIN_SCHED_CONST);
    hpk_err_clear(&err);
    CHECK(train_schedule_parse_kind("step", &k, &err) == HPK_EUSAGE && strstr(err.msg, "--schedule"));
    CHECK(strcmp(train_schedule_kind_name(TRAIN_SCHED_COSINE), "cosine") == 0);
    return check_done("schedule");
}
