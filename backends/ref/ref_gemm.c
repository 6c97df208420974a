/* ref_gemm.c — matrix products: Gemm (transA/transB, alpha, beta, broadcast C) and MatMul (numpy semantics).
 *
 * Both reduce to rows of Y[i, :] = sum_k A'[i, k] * B'[k, :], with B' row-major [K][N] (Gemm with transB packs
 * B' once). Each output row is accumulated in double over k ascending, a block of columns at a time, by one
 * task: vectorizable, accurate enough to serve as an oracle, and independent of the thread count.
 * MatMul: a 1-D A is [1, K] and a 1-D B is [K, 1] (the added dim is not in the output); batch dims broadcast.
 */
#include <stdlib.h>
#include <string.h>

#include "ref.h"

#define MM_COLS 256

typedef struct mm_ctx {
    const float *A, *B;
    float *Y;
    int64_t M, N, K;
    int64_t sam, sak;           /* A'[i, k] = A[i * sam + k * sak] */
    const int64_t *offa, *offb; /* per batch element offsets into A and B; NULL: 0 */
    double alpha, beta;
    const float *C; /* Gemm: C[i * scm + j * scn] (stride 0 broadcasts) */
    int64_t scm, scn;
} mm_ctx;

static void mm_rows(void *vc, int64_t t0, int64_t t1)
{
    const mm_ctx *c = vc;
    double acc[MM_COLS];
    for (int64_t t = t0; t < t1; t++) {
        int64_t bi = t / c->M, i = t % c->M;
        const float *A = c->A + (c->offa ? c->offa[bi] : 0) + i * c->sam;
        const float *B = c->B + (c->offb ? c->offb[bi] : 0);
        float *y = c->Y + t * c->N;
        for (int64_t j0 = 0; j0 < c->N; j0 += MM_COLS) {
            int64_t jl = c->N - j0 < MM_COLS ? c->N - j0 : MM_COLS;
            for (int64_t j = 0; j < jl; j++)
                acc[j] = 0.0;
            for (int64_t kk = 0; kk < c->K; kk++) {
                const double av = A[kk * c->sak];
                const float *brow = B + kk * c->N + j0;
                for (int64_t j = 0; j < jl; j++)
                    acc[j] += av * (double)brow[j];
            }
            if (c->C) {
                for (int64_t j = 0; j < jl; j++)
                    y[j0 + j] = (float)(c->alpha * acc[j] + c->beta * (double)c->C[i * c->scm + (j0 + j) * c->scn]);
            } else {
                for (int64_t j = 0; j < jl; j++)
                    y[j0 + j] = (float)(c->alpha * acc[j]);
            }
        }
    }
}

int ref_op_Gemm(ref_kctx *k)
{
    const hpk_tensor *a = k->in[0], *b = k->in[1], *cc = ref_in(k, 2);
    hpk_tensor *y = k->out[0];
    const bool ta = ir_attr_int(k->n, "transA", 0) != 0, tb = ir_attr_int(k->n, "transB", 0) != 0;
    mm_ctx c = {0};
    c.M = y->dims[0];
    c.N = y->dims[1];
    c.K = a->dims[ta ? 0 : 1];
    c.A = a->data;
    c.sam = ta ? 1 : c.K;
    c.sak = ta ? c.M : 1;
    c.Y = y->data;
    c.alpha = ir_attr_float(k->n, "alpha", 1.0f);
    c.beta = ir_attr_float(k->n, "beta", 1.0f);
    if (cc) {
        c.C = cc->data;
        if (cc->rank == 2) {
            c.scm = cc->dims[0] == 1 ? 0 : cc->dims[1];
            c.scn = cc->dims[1] == 1 ? 0 : 1;
        } else if (cc->rank == 1) {
            c.scn = cc->dims[0] == 1 ? 0 : 1;
        }
    }
    float *bt = NULL;
    if (tb) { /* B is [N, K]: pack B' = B^T as [K, N] */
        const float *bp = b->data;
        bt = malloc(sizeof(float) * ((size_t)(c.K * c.N) + 1));
        if (!bt)
            return ref_fail(k, HPK_ENOMEM, "out of memory");
        for (int64_t n = 0; n < c.N; n++)
            for (int64_t kk = 0; kk < c.K; kk++)
                bt[kk * c.N + n] = bp[n * c.K + kk];
        c.B = bt;
    } else {
        c.B = b->data;
    }
    ref_parallel(k->threads, c.M, mm_rows, &c);
    free(bt);
    return HPK_OK;
}

int ref_op_MatMul(ref_kctx *k)
{
    const hpk_tensor *a = k->in[0], *b = k->in[1];
    mm_ctx c = {0};
    int ra = a->rank, rb = b->rank;
    c.M = ra == 1 ? 1 : a->dims[ra - 2];
    c.K = a->dims[ra - 1];
    c.N = rb == 1 ? 1 : b->dims[rb - 1];
    c.A = a->data;
    c.B = b->data;
    c.Y = k->out[0]->data;
    c.sam = c.K;
    c.sak = 1;
    c.alpha = 1.0;
    /* batch dims: A's dims before its last two, B's likewise, broadcast against each other */
    int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0, br = ba > bb ? ba : bb;
    int64_t bd[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK], nbatch = 1;
    int64_t ka = c.M * c.K, kb = c.K * c.N; /* matrix sizes: the strides of the innermost batch dim */
    for (int i = br - 1; i >= 0; i--) {
        int ia = i - (br - ba), ib = i - (br - bb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        bd[i] = da > db ? da : db;
        sa[i] = da == 1 ? 0 : ka;
        sb[i] = db == 1 ? 0 : kb;
        ka *= da;
        kb *= db;
        nbatch *= bd[i];
    }
    if (nbatch == 0 || c.M == 0 || c.N == 0)
        return HPK_OK;
    int64_t *off = malloc(sizeof(int64_t) * 2 * (size_t)nbatch);
    if (!off)
        return ref_fail(k, HPK_ENOMEM, "out of memory");
    int64_t idx[IR_MAX_RANK] = {0}, oa = 0, ob = 0;
    for (int64_t t = 0; t < nbatch; t++) {
        off[t] = oa;
        off[nbatch + t] = ob;
        for (int i = br - 1; i >= 0; i--) {
            oa += sa[i];
            ob += sb[i];
            if (++idx[i] < bd[i])
                break;
            oa -= sa[i] * bd[i];
            ob -= sb[i] * bd[i];
            idx[i] = 0;
        }
    }
    c.offa = off;
    c.offb = off + nbatch;
    ref_parallel(k->threads, nbatch * c.M, mm_rows, &c);
    free(off);
    return HPK_OK;
}
