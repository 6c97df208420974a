/* onednn_norm.c — BatchNormalization on oneDNN (inference: global statistics; training: batch statistics), and
 * LpNormalization written by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onednn.h"

enum { RS_MEAN, RS_VAR, RS_BMEAN, RS_BVAR, RS_OMEAN, RS_OVAR, RS_SMEAN, RS_SVAR };

typedef struct rs_data {
    int64_t c;
    double count; /* elements per channel */
    float momentum;
} rs_data;

/* running statistics: out = in * momentum + batch * (1 - momentum), the variance unbiased (like PyTorch and the
 * reference backend); saved_* are the batch mean and the biased batch variance */
static int running_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const rs_data *d = s->data;
    const float *m = od_ptr(p, od_arg_mem(s, RS_MEAN)), *v = od_ptr(p, od_arg_mem(s, RS_VAR));
    const float *bm = od_ptr(p, od_arg_mem(s, RS_BMEAN)), *bv = od_ptr(p, od_arg_mem(s, RS_BVAR));
    int om = od_arg_mem(s, RS_OMEAN), ov = od_arg_mem(s, RS_OVAR), sm = od_arg_mem(s, RS_SMEAN),
        sv = od_arg_mem(s, RS_SVAR);
    double mo = d->momentum, unb = d->count > 1 ? d->count / (d->count - 1) : 1.0;
    for (int64_t i = 0; i < d->c; i++) {
        if (om >= 0)
            ((float *)od_ptr(p, om))[i] = (float)(mo * m[i] + (1.0 - mo) * bm[i]);
        if (ov >= 0)
            ((float *)od_ptr(p, ov))[i] = (float)(mo * v[i] + (1.0 - mo) * bv[i] * unb);
        if (sm >= 0)
            ((float *)od_ptr(p, sm))[i] = bm[i];
        if (sv >= 0)
            ((float *)od_ptr(p, sv))[i] = bv[i];
    }
    return HPK_OK;
}

/* ---- per-channel sums over (sample, channel-block) tiles ---------------------------------------------------- */

/* one tile: s positions × blk channels, contiguous; accumulators per channel in double */
static inline __attribute__((always_inline)) void nc_tile_sums(const float *a, const float *b, int64_t s, int64_t blk,
                                                               const double *ka, const double *kb, double *pa,
                                                               double *pab)
{
    /* double accumulators: Σ dy of a BatchNormalization gradient cancels (Σ|dy| ≫ |Σ dy|), and float chunks of
     * 32 already put MobileNetV2's one-step comparison with PyTorch past its tolerance */
    double acc_a[OD_NC_MAX_BLK] = {0}, acc_ab[OD_NC_MAX_BLK] = {0};
    for (int64_t i = 0; i < s; i++)
        for (int64_t j = 0; j < blk; j++) {
            double da = (double)a[i * blk + j] - ka[j];
            acc_a[j] += da;
            acc_ab[j] += da * ((double)b[i * blk + j] - kb[j]);
        }
    for (int64_t j = 0; j < blk; j++)
        pa[j] = acc_a[j], pab[j] = acc_ab[j];
}

/* the plain layout's tile is one channel's run of s values */
static void nc_run_sums(const float *a, const float *b, int64_t s, double ka, double kb, double *pa, double *pab)
{
    double acc_a = 0, acc_ab = 0;
#pragma omp simd reduction(+ : acc_a, acc_ab)
    for (int64_t i = 0; i < s; i++) {
        double da = (double)a[i] - ka;
        acc_a += da;
        acc_ab += da * ((double)b[i] - kb);
    }
    *pa = acc_a, *pab = acc_ab;
}

/* the tile loop with blk a constant, one function per block size so each is multiversioned */
OD_MULTIVERSION static void nc_tile16(const float *a, const float *b, int64_t s, const double *ka, const double *kb,
                                      double *pa, double *pab)
{
    nc_tile_sums(a, b, s, 16, ka, kb, pa, pab);
}

OD_MULTIVERSION static void nc_tile8(const float *a, const float *b, int64_t s, const double *ka, const double *kb,
                                     double *pa, double *pab)
{
    nc_tile_sums(a, b, s, 8, ka, kb, pa, pab);
}

int od_nc_sums(const od_nc *g, const float *a, const double *ka, const float *b, const double *kb, double *sa,
               double *sab)
{
    int64_t blk = g->blk ? g->blk : 1, nb = (g->c + blk - 1) / blk, tiles = g->n * nb, run = g->s * blk;
    if (blk > OD_NC_MAX_BLK)
        return HPK_EUNSUPPORTED;
    double *part = malloc(sizeof(double) * (size_t)(tiles * blk * 2));
    if (!part)
        return HPK_ENOMEM;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t t = 0; t < tiles; t++) {
        int64_t cb = t % nb;
        double sha[OD_NC_MAX_BLK] = {0}, shb[OD_NC_MAX_BLK] = {0};
        for (int64_t j = 0; j < blk && cb * blk + j < g->c; j++)
            sha[j] = ka ? ka[cb * blk + j] : 0.0, shb[j] = kb ? kb[cb * blk + j] : 0.0;
        const float *ta = a + t * run, *tb = b + t * run;
        double *pa = part + t * blk * 2, *pab = pa + blk;
        if (blk == 16)
            nc_tile16(ta, tb, g->s, sha, shb, pa, pab);
        else if (blk == 8)
            nc_tile8(ta, tb, g->s, sha, shb, pa, pab);
        else if (blk == 1)
            nc_run_sums(ta, tb, g->s, sha[0], shb[0], pa, pab);
        else
            nc_tile_sums(ta, tb, g->s, blk, sha, shb, pa, pab);
    }
    for (int64_t c = 0; c < g->c; c++) {
        int64_t cb = c / blk, j = c % blk;
        double s1 = 0, s2 = 0;
        for (int64_t n = 0; n < g->n; n++) {
            const double *pa = part + (n * nb + cb) * blk * 2;
            s1 += pa[j], s2 += pa[blk + j];
        }
        sa[c] = s1;
        if (sab)
            sab[c] = s2;
    }
    free(part);
    return HPK_OK;
}

/* batch statistics in double: mean and the biased variance per channel, shifted by each channel's first value
 * (one pass without the cancellation of Σx² − (Σx)²/M) */
typedef struct bstat_data {
    od_nc g;
} bstat_data;

static int batch_stats_kernel(be_plan *p, const od_step *st, hpk_err *err)
{
    const bstat_data *d = st->data;
    const float *x = od_ptr(p, st->args[0].mem);
    float *mean = od_ptr(p, st->args[1].mem), *var = od_ptr(p, st->args[2].mem);
    int64_t C = d->g.c, blk = d->g.blk ? d->g.blk : 1;
    double cnt = (double)(d->g.n * d->g.s);
    double *k = malloc(sizeof(double) * (size_t)C * 3);
    if (!k)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory in BatchNormalization");
    double *s1 = k + C, *s2 = s1 + C;
    for (int64_t c = 0; c < C; c++) /* sample 0, position 0 of channel c */
        k[c] = d->g.s > 0 ? x[(c / blk) * d->g.s * blk + c % blk] : 0.0;
    int rc = od_nc_sums(&d->g, x, k, x, k, s1, s2);
    if (rc) {
        free(k);
        return hpk_err_set(err, rc, "BatchNormalization: cannot sum this layout");
    }
    for (int64_t c = 0; c < C; c++) {
        double m = cnt > 0 ? s1[c] / cnt : 0, v = cnt > 0 ? s2[c] / cnt - m * m : 0;
        mean[c] = (float)(k[c] + m);
        var[c] = (float)(v > 0 ? v : 0);
    }
    free(k);
    return HPK_OK;
}

int od_op_BatchNormalization(be_plan *p, int ni)
{
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[ni];
    int x = n->in[0], y = n->out[0], rc;
    bool training = ir_attr_int(n, "training_mode", 0) == 1;
    float eps = ir_attr_float(n, "epsilon", 1e-5f);
    int xm;
    if ((rc = od_value_mem(p, x, ni, &xm)))
        return rc;
    dnnl_memory_desc_t md = p->mem[xm].md;
    bool folded = p->shapes[x].rank > 5;
    ir_shape s3 = {3, {p->shapes[x].d[0], p->shapes[x].d[1], 1}};
    if (folded) {
        /* oneDNN normalizes ranks 2-5: fold the trailing spatial dims of the plain tensor into one */
        int pmx;
        if ((rc = od_input_plain(p, x, ni, &pmx)))
            return rc;
        for (int i = 2; i < p->shapes[x].rank; i++)
            s3.d[2] *= p->shapes[x].d[i];
        od_md_plain(&md, &s3, IR_DT_F32);
        if ((xm = od_mem_view(p, pmx, &md, &s3)) < 0)
            return HPK_ENOMEM;
    }
    /* training: the batch statistics come from a kernel that sums in double (oneDNN's are float32), then the
     * normalization runs with them as given statistics */
    unsigned flags = dnnl_use_scale | dnnl_use_shift | (unsigned)dnnl_use_global_stats;
    dnnl_batch_normalization_desc_t bd;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_batch_normalization_forward_desc_init(
        &bd, training ? dnnl_forward_training : dnnl_forward_inference, &md, eps, flags);
    if (s == dnnl_success)
        s = od_pd_try(p, &pd, &bd, NULL);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, ni, "batch normalization");
    int pm[5];
    for (int j = 1; j < 5; j++) {
        if ((rc = od_input_plain(p, n->in[j], ni, &pm[j]))) {
            dnnl_primitive_desc_destroy(pd);
            return rc;
        }
    }
    int ym;
    if (!training && !folded && od_can_overwrite(p, x, ni)) {
        ym = xm;
        od_output_set(p, y, ym);
    } else if ((rc = od_output_new(p, y, folded ? NULL : &md, &ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    } else if (folded && (ym = od_mem_view(p, ym, &md, &s3)) < 0) {
        dnnl_primitive_desc_destroy(pd);
        return HPK_ENOMEM;
    }
    od_arg args[7];
    int na = 0;
    args[na++] = (od_arg){DNNL_ARG_SRC, xm};
    args[na++] = (od_arg){DNNL_ARG_SCALE, pm[1]};
    args[na++] = (od_arg){DNNL_ARG_SHIFT, pm[2]};
    args[na++] = (od_arg){DNNL_ARG_DST, ym};
    int bmean = -1, bvar = -1;
    if (!training) {
        args[na++] = (od_arg){DNNL_ARG_MEAN, pm[3]};
        args[na++] = (od_arg){DNNL_ARG_VARIANCE, pm[4]};
    } else {
        ir_shape cs = {1, {p->shapes[x].d[1]}};
        dnnl_memory_desc_t cmd;
        od_md_plain(&cmd, &cs, IR_DT_F32);
        int s1 = od_storage_new(p, OD_ST_ARENA, od_md_size(&cmd), "batch mean");
        int s2 = od_storage_new(p, OD_ST_ARENA, od_md_size(&cmd), "batch variance");
        if (s1 < 0 || s2 < 0 || (bmean = od_mem_new(p, s1, 0, &cmd, IR_DT_F32, &cs)) < 0 ||
            (bvar = od_mem_new(p, s2, 0, &cmd, IR_DT_F32, &cs)) < 0) {
            dnnl_primitive_desc_destroy(pd);
            return HPK_ENOMEM;
        }
        args[na++] = (od_arg){DNNL_ARG_MEAN, bmean};
        args[na++] = (od_arg){DNNL_ARG_VARIANCE, bvar};
        int sx = xm;
        int64_t blk = od_md_channel_block(&md);
        if (blk > OD_NC_MAX_BLK)
            blk = -1;
        if (blk < 0 && (rc = od_input_plain(p, x, ni, &sx))) {
            dnnl_primitive_desc_destroy(pd);
            return rc;
        }
        bstat_data *bs = malloc(sizeof *bs);
        if (!bs) {
            dnnl_primitive_desc_destroy(pd);
            return od_fail(p, HPK_ENOMEM, ni, "out of memory");
        }
        bs->g = (od_nc){s3.d[0], s3.d[1], 1, blk < 0 ? 0 : blk};
        for (int i = 2; i < p->shapes[x].rank; i++)
            bs->g.s *= p->shapes[x].d[i];
        od_arg sa[3] = {{0, sx}, {1, bmean}, {2, bvar}};
        if ((rc = od_step_kernel(p, ni, batch_stats_kernel, bs, sa, 3, false, "hpk:bn_batch_stats"))) {
            dnnl_primitive_desc_destroy(pd);
            return rc;
        }
    }
    if ((rc = od_step_prim(p, ni, pd, args, na, false)))
        return rc;
    if (!training) {
        /* the optional outputs are the running statistics, unchanged: views */
        for (int j = 1; j < n->n_out && j < 5; j++)
            if (n->out[j] >= 0)
                od_output_set(p, n->out[j], pm[j & 1 ? 3 : 4]);
        return HPK_OK;
    }
    rs_data *d = malloc(sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    d->c = p->shapes[x].d[1];
    d->count = 1;
    for (int i = 0; i < p->shapes[x].rank; i++)
        d->count *= i == 1 ? 1.0 : (double)p->shapes[x].d[i];
    d->momentum = ir_attr_float(n, "momentum", 0.9f);
    od_arg ra[8];
    int nr = 0;
    ra[nr++] = (od_arg){RS_MEAN, pm[3]};
    ra[nr++] = (od_arg){RS_VAR, pm[4]};
    ra[nr++] = (od_arg){RS_BMEAN, bmean};
    ra[nr++] = (od_arg){RS_BVAR, bvar};
    for (int j = 1; j < n->n_out && j < 5; j++) {
        int om;
        if (n->out[j] < 0)
            continue;
        if ((rc = od_output_new(p, n->out[j], NULL, &om))) {
            free(d);
            return rc;
        }
        ra[nr++] = (od_arg){RS_OMEAN + j - 1, om};
    }
    return od_step_kernel(p, ni, running_kernel, d, ra, nr, false, "hpk:bn_running_stats");
}

/* ---- LpNormalization (p = 2) and its gradient: by hand, with the reference's floor on the norm ------------- */

typedef struct lp_data {
    size_t outer, len, inner;
} lp_data;

/* ‖x‖ along the axis, taken as max(‖x‖, 1e-12) so a zero vector cannot poison training */
static double lp_norm_at(const float *x, size_t base, size_t len, size_t inner)
{
    double s = 0;
    for (size_t j = 0; j < len; j++)
        s += (double)x[base + j * inner] * x[base + j * inner];
    return fmax(sqrt(s), 1e-12);
}

static int lpnorm_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const lp_data *d = s->data;
    const float *x = od_ptr(p, s->args[0].mem);
    float *y = od_ptr(p, s->args[1].mem);
    int64_t rows = (int64_t)(d->outer * d->inner);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t r = 0; r < rows; r++) {
        size_t base = (size_t)r / d->inner * d->len * d->inner + (size_t)r % d->inner;
        double nrm = lp_norm_at(x, base, d->len, d->inner);
        for (size_t j = 0; j < d->len; j++)
            y[base + j * d->inner] = (float)(x[base + j * d->inner] / nrm);
    }
    return HPK_OK;
}

static int lpnorm_grad_kernel(be_plan *p, const od_step *s, hpk_err *err)
{
    (void)err;
    const lp_data *d = s->data;
    const float *dy = od_ptr(p, s->args[0].mem), *x = od_ptr(p, s->args[1].mem);
    float *dx = od_ptr(p, s->args[2].mem);
    int64_t rows = (int64_t)(d->outer * d->inner);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t r = 0; r < rows; r++) {
        size_t base = (size_t)r / d->inner * d->len * d->inner + (size_t)r % d->inner;
        double nrm = lp_norm_at(x, base, d->len, d->inner), dot = 0;
        for (size_t j = 0; j < d->len; j++)
            dot += (double)dy[base + j * d->inner] * x[base + j * d->inner] / nrm;
        for (size_t j = 0; j < d->len; j++) {
            size_t at = base + j * d->inner;
            dx[at] = (float)((dy[at] - x[at] / nrm * dot) / nrm);
        }
    }
    return HPK_OK;
}

static int lpnorm(be_plan *p, int ni, bool grad)
{
    const ir_node *n = &p->g->nodes[ni];
    int x = n->in[grad ? 1 : 0], rc;
    const ir_shape *xs = &p->shapes[x];
    lp_data *d = calloc(1, sizeof *d);
    if (!d)
        return od_fail(p, HPK_ENOMEM, ni, "out of memory");
    int64_t axis = ir_attr_int(n, "axis", -1);
    if (axis < 0)
        axis += xs->rank;
    d->outer = d->len = d->inner = 1;
    for (int i = 0; i < xs->rank; i++)
        *(i < axis ? &d->outer : i == axis ? &d->len : &d->inner) *= (size_t)xs->d[i];
    int m0, m1 = -1, ym;
    if ((rc = od_input_plain(p, n->in[0], ni, &m0)) || (grad && (rc = od_input_plain(p, n->in[1], ni, &m1))) ||
        (rc = od_output_new(p, n->out[0], NULL, &ym))) {
        free(d);
        return rc;
    }
    if (grad) {
        od_arg args[3] = {{0, m0}, {1, m1}, {2, ym}};
        return od_step_kernel(p, ni, lpnorm_grad_kernel, d, args, 3, false, "hpk:lpnorm_grad");
    }
    od_arg args[2] = {{0, m0}, {1, ym}};
    return od_step_kernel(p, ni, lpnorm_kernel, d, args, 2, false, "hpk:lpnorm");
}

int od_op_LpNormalization(be_plan *p, int ni) { return lpnorm(p, ni, false); }
int od_op_LpNormalizationGrad(be_plan *p, int ni) { return lpnorm(p, ni, true); }
