/* test_optim.c — SGD against PyTorch's torch.optim.SGD (sgd_expected.h or a fresh --expect file), the
 * vectorized kernel against a scalar reference, config checks, and a checkpoint round trip of the momentum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ckpt.h"
#include "optim.h"
#include "schedule.h"
#include "sgd_expected.h"

#define NP 3
static const size_t k_sizes[NP] = {5, 7, 12};

typedef struct problem {
    float p[NP][12];
    float g[NP][12];
    train_param params[NP];
} problem;

static void problem_init(problem *pb)
{
    static const char *names[NP] = {"a.weight", "b.bias", "c.weight"};
    memset(pb, 0, sizeof *pb);
    for (int k = 0; k < NP; k++) {
        for (size_t i = 0; i < k_sizes[k]; i++)
            pb->p[k][i] = (float)((int)((i * 13 + 5 * (size_t)k) % 17) - 8) / 8.0f;
        pb->params[k] = (train_param){names[k], pb->p[k], pb->g[k], k_sizes[k]};
    }
}

/* gradient at step t: 0.5 * p + d_t, as the Python script computes it in float32 */
static void problem_grad(problem *pb, int t)
{
    for (int k = 0; k < NP; k++)
        for (size_t i = 0; i < k_sizes[k]; i++) {
            float d = (float)((int)((i * 7 + (size_t)t * 3 + (size_t)k) % 11) - 5) / 16.0f;
            pb->g[k][i] = pb->p[k][i] * 0.5f + d;
        }
}

static train_sgd_config case_config(int c)
{
    train_sgd_config cfg = train_sgd_config_default();
    cfg.momentum = sgd_ref_cases[c].momentum;
    cfg.dampening = sgd_ref_cases[c].dampening;
    cfg.weight_decay = sgd_ref_cases[c].wd;
    cfg.nesterov = sgd_ref_cases[c].nesterov != 0;
    return cfg;
}

/* Runs every case; expected values from lr[c][t] and vals[c][t][e]. Returns the largest relative error. */
static double run_reference(const double (*lr)[SGD_REF_STEPS], const float (*vals)[SGD_REF_STEPS][SGD_REF_ELEMS],
                            const char *source)
{
    double worst = 0;
    for (int c = 0; c < SGD_REF_CASES; c++) {
        problem pb;
        problem_init(&pb);
        train_sgd_config cfg = case_config(c);
        train_sgd *o;
        hpk_err err = {0};
        CHECKF(train_sgd_init(&o, &cfg, pb.params, NP, hpk_alloc_default(), &err) == HPK_OK, "%s", err.msg);
        train_schedule sch = {TRAIN_SCHED_COSINE, 0.05, SGD_REF_STEPS, 0};
        for (int t = 0; t < SGD_REF_STEPS; t++) {
            double mine = train_schedule_lr(&sch, t);
            CHECKF(fabs(mine - lr[c][t]) <= 1e-12 * lr[c][t], "case %s step %d: lr %.17g, torch %.17g",
                   sgd_ref_cases[c].name, t, mine, lr[c][t]);
            problem_grad(&pb, t);
            CHECK(train_sgd_step(o, pb.params, NP, (float)lr[c][t], &err) == HPK_OK);
            int e = 0;
            for (int k = 0; k < NP; k++)
                for (size_t i = 0; i < k_sizes[k]; i++, e++) {
                    double want = vals[c][t][e], got = pb.p[k][i];
                    double rel = fabs(got - want) / fmax(fabs(want), 1e-30);
                    if (rel > worst)
                        worst = rel;
                    CHECKF(rel <= 1e-6, "%s: case %s step %d param %d[%zu]: %.9g, torch %.9g", source,
                           sgd_ref_cases[c].name, t, k, i, got, want);
                }
        }
        CHECK(train_sgd_steps(o) == SGD_REF_STEPS);
        train_sgd_free(o);
    }
    printf("%s: largest relative difference from PyTorch %.3g\n", source, worst);
    return worst;
}

static int run_expect_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    static double lr[SGD_REF_CASES][SGD_REF_STEPS];
    static float vals[SGD_REF_CASES][SGD_REF_STEPS][SGD_REF_ELEMS];
    int ok = 1;
    for (int c = 0; c < SGD_REF_CASES && ok; c++) {
        for (int t = 0; t < SGD_REF_STEPS && ok; t++)
            ok = fscanf(f, "%lf", &lr[c][t]) == 1;
        for (int t = 0; t < SGD_REF_STEPS && ok; t++)
            for (int e = 0; e < SGD_REF_ELEMS && ok; e++)
                ok = fscanf(f, "%f", &vals[c][t][e]) == 1;
    }
    fclose(f);
    CHECKF(ok, "%s: expected %d numbers", path, SGD_REF_CASES * SGD_REF_STEPS * (1 + SGD_REF_ELEMS));
    if (ok)
        run_reference((const double(*)[SGD_REF_STEPS])lr, (const float(*)[SGD_REF_STEPS][SGD_REF_ELEMS])vals, path);
    return check_done("optim (fresh PyTorch values)");
}

/* the vectorized kernel equals a plain scalar loop bit for bit, tails included */
static void test_kernel_vs_scalar(void)
{
    const size_t n = 1003;
    float *p = malloc(n * 4), *q = malloc(n * 4), *g = malloc(n * 4), *buf = malloc(n * 4);
    for (int variant = 0; variant < 6; variant++) {
        train_sgd_config cfg = train_sgd_config_default();
        cfg.nesterov = variant & 1;
        cfg.weight_decay = (variant & 2) ? 0.0f : 3e-3f;
        if (variant >= 4) {
            cfg.momentum = variant == 4 ? 0.0f : 0.7f;
            cfg.nesterov = false;
            cfg.dampening = variant == 5 ? 0.25f : 0.0f;
        }
        ir_rng r;
        ir_rng_seed(&r, 42, (uint64_t)variant);
        for (size_t i = 0; i < n; i++)
            p[i] = q[i] = (float)ir_rng_normal(&r);
        train_param tp = {"w", p, g, n};
        train_sgd *o;
        hpk_err err = {0};
        CHECK(train_sgd_init(&o, &cfg, &tp, 1, hpk_alloc_default(), &err) == HPK_OK);
        int mismatches = 0;
        for (int t = 0; t < 5; t++) {
            for (size_t i = 0; i < n; i++)
                g[i] = (float)ir_rng_normal(&r);
            float lr = 0.05f / (float)(t + 1);
            CHECK(train_sgd_step(o, &tp, 1, lr, &err) == HPK_OK);
            float a = 1.0f - cfg.dampening;
            for (size_t i = 0; i < n; i++) { /* the reference, written as PyTorch's loop */
                float gi = g[i];
                if (cfg.weight_decay != 0)
                    gi = gi + cfg.weight_decay * q[i];
                if (cfg.momentum != 0) {
                    buf[i] = t == 0 ? gi : cfg.momentum * buf[i] + a * gi;
                    gi = cfg.nesterov ? gi + cfg.momentum * buf[i] : buf[i];
                }
                q[i] = q[i] - lr * gi;
            }
            mismatches += memcmp(p, q, n * 4) != 0;
            if (cfg.momentum != 0)
                mismatches += memcmp(train_sgd_buffer(o, 0), buf, n * 4) != 0;
            else
                CHECK(train_sgd_buffer(o, 0) == NULL);
        }
        CHECKF(mismatches == 0, "variant %d: vectorized update differs from the scalar loop", variant);
        train_sgd_free(o);
    }
    free(p);
    free(q);
    free(g);
    free(buf);
}

static void test_config(void)
{
    train_sgd_config d = train_sgd_config_default();
    CHECK(d.lr == 0.05f && d.momentum == 0.9f && d.weight_decay == 1e-4f && d.dampening == 0 && !d.nesterov);
    hpk_err err = {0};
    CHECK(train_sgd_config_check(&d, &err) == HPK_OK);
    train_sgd_config c = d;
    c.nesterov = true;
    c.momentum = 0;
    CHECK(train_sgd_config_check(&c, &err) == HPK_EUSAGE);
    CHECK(strstr(err.msg, "Nesterov") != NULL);
    c = d;
    c.nesterov = true;
    c.dampening = 0.1f;
    hpk_err_clear(&err);
    CHECK(train_sgd_config_check(&c, &err) == HPK_EUSAGE);
    c = d;
    c.lr = -1;
    hpk_err_clear(&err);
    CHECK(train_sgd_config_check(&c, &err) == HPK_EUSAGE && strstr(err.msg, "--lr"));
    c = d;
    c.weight_decay = NAN;
    hpk_err_clear(&err);
    CHECK(train_sgd_config_check(&c, &err) == HPK_EUSAGE && strstr(err.msg, "--wd"));

    /* parameter list checks */
    problem pb;
    problem_init(&pb);
    train_sgd *o;
    hpk_err_clear(&err);
    CHECK(train_sgd_init(&o, &d, pb.params, NP, hpk_alloc_default(), &err) == HPK_OK);
    problem_grad(&pb, 0);
    hpk_err_clear(&err);
    CHECK(train_sgd_step(o, pb.params, NP - 1, 0.1f, &err) == HPK_EINTERNAL);
    train_param swapped[NP] = {pb.params[1], pb.params[0], pb.params[2]};
    hpk_err_clear(&err);
    CHECK(train_sgd_step(o, swapped, NP, 0.1f, &err) == HPK_EINTERNAL);
    train_sgd_free(o);
    train_param dup[2] = {pb.params[0], pb.params[0]};
    hpk_err_clear(&err);
    CHECK(train_sgd_init(&o, &d, dup, 2, hpk_alloc_default(), &err) != HPK_OK && strstr(err.msg, "twice"));

    /* allocation failures are reported, nothing leaks */
    for (long k = 1; k < 12; k++) {
        hpk_failing_alloc fa = {.fail_at = k};
        hpk_err_clear(&err);
        int rc = train_sgd_init(&o, &d, pb.params, NP, hpk_alloc_failing(&fa), &err);
        if (rc == HPK_OK)
            train_sgd_free(o);
        else
            CHECK(rc == HPK_ENOMEM);
        CHECKF(fa.live == 0, "fail_at %ld: %ld blocks leaked", k, fa.live);
    }
}

/* resume: 3 steps, checkpoint (optimizer + params), 3 more steps == 6 uninterrupted steps, bit for bit */
static void test_resume(void)
{
    for (int c = 0; c < SGD_REF_CASES; c++) {
        train_sgd_config cfg = case_config(c);
        problem a, b;
        problem_init(&a);
        problem_init(&b);
        train_sgd *oa, *ob;
        hpk_err err = {0};
        CHECK(train_sgd_init(&oa, &cfg, a.params, NP, hpk_alloc_default(), &err) == HPK_OK);
        for (int t = 0; t < 3; t++) {
            problem_grad(&a, t);
            train_sgd_step(oa, a.params, NP, 0.05f, &err);
        }
        train_ckpt_writer *w;
        CHECK(train_ckpt_writer_init(&w, hpk_alloc_default(), &err) == HPK_OK);
        CHECK(train_sgd_save(oa, w, &err) == HPK_OK);
        for (int k = 0; k < NP; k++) {
            int64_t dim = (int64_t)k_sizes[k];
            CHECK(train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, a.params[k].name, HPK_DT_F32, 1, &dim, a.p[k], &err) ==
                  HPK_OK);
        }
        void *mem;
        size_t n;
        CHECKF(train_ckpt_serialize(w, &mem, &n, &err) == HPK_OK, "%s", err.msg);
        train_ckpt *ck;
        CHECKF(train_ckpt_parse(mem, n, "mem", hpk_alloc_default(), &ck, &err) == HPK_OK, "%s", err.msg);
        free(mem);
        train_ckpt_writer_free(w);
        CHECK(train_sgd_init(&ob, &cfg, b.params, NP, hpk_alloc_default(), &err) == HPK_OK);
        CHECKF(train_sgd_load(ob, ck, &err) == HPK_OK, "%s", err.msg);
        for (int k = 0; k < NP; k++)
            memcpy(b.p[k], train_ckpt_find(ck, TRAIN_CKPT_MODEL, b.params[k].name)->data, k_sizes[k] * 4);
        CHECK(train_sgd_steps(ob) == 3);
        for (int t = 3; t < 6; t++) {
            problem_grad(&a, t);
            problem_grad(&b, t);
            train_sgd_step(oa, a.params, NP, 0.02f, &err);
            train_sgd_step(ob, b.params, NP, 0.02f, &err);
        }
        CHECKF(memcmp(a.p, b.p, sizeof a.p) == 0, "case %s: resumed run differs", sgd_ref_cases[c].name);
        train_ckpt_free(ck);
        train_sgd_free(ob);

        /* a checkpoint without momentum buffers cannot resume a momentum run after step 0 */
        if (cfg.momentum != 0) {
            CHECK(train_ckpt_writer_init(&w, hpk_alloc_default(), &err) == HPK_OK);
            train_ckpt_add_str(w, "optim.kind", "sgd", &err);
            train_ckpt_add_i64(w, "optim.steps", 3, &err);
            int64_t dim = 5;
            static const float z[7];
            train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, "a.weight", HPK_DT_F32, 1, &dim, z, &err);
            CHECK(train_ckpt_serialize(w, &mem, &n, &err) == HPK_OK);
            CHECK(train_ckpt_parse(mem, n, "mem", hpk_alloc_default(), &ck, &err) == HPK_OK);
            free(mem);
            CHECK(train_sgd_init(&ob, &cfg, b.params, NP, hpk_alloc_default(), &err) == HPK_OK);
            hpk_err_clear(&err);
            CHECK(train_sgd_load(ob, ck, &err) == HPK_EINPUT);
            CHECKF(strstr(err.msg, "'b.bias' is missing") != NULL, "%s", err.msg);
            train_ckpt_free(ck);
            /* wrong size, and an unknown buffer */
            train_ckpt_writer_reset(w);
            train_ckpt_add_str(w, "optim.kind", "sgd", &err);
            train_ckpt_add_i64(w, "optim.steps", 3, &err);
            for (int k = 0; k < NP; k++) {
                int64_t d2 = k == 1 ? 6 : (int64_t)k_sizes[k];
                train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, a.params[k].name, HPK_DT_F32, 1, &d2, a.p[k], &err);
            }
            CHECK(train_ckpt_serialize(w, &mem, &n, &err) == HPK_OK);
            CHECK(train_ckpt_parse(mem, n, "mem", hpk_alloc_default(), &ck, &err) == HPK_OK);
            free(mem);
            hpk_err_clear(&err);
            CHECK(train_sgd_load(ob, ck, &err) == HPK_EINPUT && strstr(err.msg, "'b.bias' does not have 7"));
            train_ckpt_free(ck);
            train_ckpt_writer_reset(w);
            train_ckpt_add_str(w, "optim.kind", "sgd", &err);
            train_ckpt_add_i64(w, "optim.steps", 3, &err);
            for (int k = 0; k < NP; k++) {
                int64_t d2 = (int64_t)k_sizes[k];
                train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, a.params[k].name, HPK_DT_F32, 1, &d2, a.p[k], &err);
            }
            train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, "ghost", HPK_DT_F32, 1, &dim, z, &err);
            CHECK(train_ckpt_serialize(w, &mem, &n, &err) == HPK_OK);
            CHECK(train_ckpt_parse(mem, n, "mem", hpk_alloc_default(), &ck, &err) == HPK_OK);
            free(mem);
            hpk_err_clear(&err);
            CHECK(train_sgd_load(ob, ck, &err) == HPK_EINPUT && strstr(err.msg, "'ghost' belongs to no parameter"));
            CHECK(train_sgd_steps(ob) == 0); /* nothing changed */
            train_ckpt_free(ck);
            train_ckpt_writer_free(w);
            train_sgd_free(ob);
        }
        train_sgd_free(oa);
    }
}

static void test_graph_params(void)
{
    ir_graph *g;
    hpk_err err = {0};
    CHECK(ir_graph_init(&g, hpk_alloc_default(), &err) == HPK_OK);
    int64_t d1[2] = {4, 3}, d2[1] = {4}, d3[1] = {2};
    ir_shape s1 = ir_shape_make(2, d1), s2 = ir_shape_make(1, d2), s3 = ir_shape_make(1, d3);
    int w = ir_init_add(g, "fc.weight", IR_DT_F32, &s1, &err);
    int m = ir_init_add(g, "bn.running_mean", IR_DT_F32, &s2, &err);
    int b = ir_init_add(g, "fc.bias", IR_DT_F32, &s2, &err);
    int k = ir_init_add(g, "shape", IR_DT_I64, &s3, &err);
    g->values[w].flags |= IR_VAL_PARAM;
    g->values[m].flags |= IR_VAL_STATE;
    g->values[b].flags |= IR_VAL_PARAM;
    (void)k;
    train_param *p;
    int n;
    CHECK(train_params_from_graph(g, &p, &n, &err) == HPK_OK);
    CHECK(n == 2 && strcmp(p[0].name, "fc.weight") == 0 && p[0].n == 12 && strcmp(p[1].name, "fc.bias") == 0 &&
          p[1].n == 4 && p[0].data == g->values[w].init->data);
    train_params_free(g, p, n);
    g->values[k].flags |= IR_VAL_PARAM;
    CHECK(train_params_from_graph(g, &p, &n, &err) == HPK_EUNSUPPORTED && strstr(err.msg, "'shape'"));
    ir_graph_free(g);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--expect") == 0)
        return run_expect_file(argv[2]);
    run_reference(sgd_ref_lr, sgd_ref_values, "sgd_expected.h");
    test_kernel_vs_scalar();
    test_config();
    test_resume();
    test_graph_params();
    return check_done("optim");
}
