/* ref_binary.c — broadcasting binary kernels: Add, Sub, Mul, Div, Pow (numpy multidirectional broadcasting).
 *
 * Both inputs are aligned to the output's rank from the right; a dim of size 1 (or a missing leading dim)
 * repeats, i.e. has stride 0. Adjacent dims that are laid out contiguously in both inputs are merged first, so
 * same-shape and scalar operands run as one flat, vectorizable loop and [2,3,4] + [3,1] runs rows of 4.
 * Pow's exponent may be float32, int64 or int32; it is evaluated as pow() in double.
 */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

typedef struct bcast {
    int r;                 /* merged rank (>= 1) */
    int64_t d[IR_MAX_RANK]; /* merged output dims */
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK]; /* element strides of a and b (0: broadcast) */
} bcast;

static void bcast_init(bcast *bc, const hpk_tensor *y, const hpk_tensor *a, const hpk_tensor *b)
{
    int r = y->rank, k = 0;
    int64_t d[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK];
    int64_t ka = 1, kb = 1; /* running contiguous strides of a and b, from the innermost dim */
    for (int i = r - 1; i >= 0; i--) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        d[i] = y->dims[i];
        sa[i] = da == 1 ? 0 : ka;
        sb[i] = db == 1 ? 0 : kb;
        ka *= da;
        kb *= db;
    }
    /* drop unit dims, merge dim i into the inner one when both operands continue contiguously */
    for (int i = r - 1; i >= 0; i--) {
        if (d[i] == 1)
            continue;
        if (k > 0) {
            int j = k - 1; /* the innermost merged dim so far (stored reversed) */
            if (sa[i] == bc->sa[j] * bc->d[j] && sb[i] == bc->sb[j] * bc->d[j]) {
                bc->d[j] *= d[i];
                continue;
            }
        }
        bc->d[k] = d[i];
        bc->sa[k] = sa[i];
        bc->sb[k] = sb[i];
        k++;
    }
    if (k == 0) { /* every dim is 1 (or rank 0): one element */
        bc->d[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
        k = 1;
    }
    /* reverse into outermost-first order */
    for (int i = 0; i < k / 2; i++) {
        int64_t t;
        t = bc->d[i], bc->d[i] = bc->d[k - 1 - i], bc->d[k - 1 - i] = t;
        t = bc->sa[i], bc->sa[i] = bc->sa[k - 1 - i], bc->sa[k - 1 - i] = t;
        t = bc->sb[i], bc->sb[i] = bc->sb[k - 1 - i], bc->sb[k - 1 - i] = t;
    }
    bc->r = k;
}

/* One row of `len` outputs; A and B name the operands in EXPR. Unit-stride and broadcast cases get their own
 * loops so the compiler vectorizes them. */
#define ROW(EXPR)                                                                                          \
    do {                                                                                                   \
        if (sa == 1 && sb == 1) {                                                                          \
            for (int64_t j = 0; j < len; j++) {                                                            \
                const float A = a[j], B = b[j];                                                            \
                y[j] = EXPR;                                                                               \
            }                                                                                              \
        } else if (sa == 1 && sb == 0) {                                                                   \
            const float B = b[0];                                                                          \
            for (int64_t j = 0; j < len; j++) {                                                            \
                const float A = a[j];                                                                      \
                y[j] = EXPR;                                                                               \
            }                                                                                              \
        } else if (sa == 0 && sb == 1) {                                                                   \
            const float A = a[0];                                                                          \
            for (int64_t j = 0; j < len; j++) {                                                            \
                const float B = b[j];                                                                      \
                y[j] = EXPR;                                                                               \
            }                                                                                              \
        } else {                                                                                           \
            for (int64_t j = 0; j < len; j++) {                                                            \
                const float A = a[j * sa], B = b[j * sb];                                                  \
                y[j] = EXPR;                                                                               \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

static void row(ir_op op, float *restrict y, const float *restrict a, int64_t sa, const float *restrict b,
                int64_t sb, const double *restrict bd, int64_t len)
{
    switch (op) {
    case IR_OP_Add: ROW(A + B); break;
    case IR_OP_Sub: ROW(A - B); break;
    case IR_OP_Mul: ROW(A * B); break;
    case IR_OP_Div: ROW(A / B); break;
    default: /* Pow: the exponent was converted to double */
        for (int64_t j = 0; j < len; j++)
            y[j] = (float)pow((double)a[j * sa], bd[j * sb]);
        break;
    }
}

static int binary(ref_kctx *k)
{
    const hpk_tensor *a = k->in[0], *b = k->in[1];
    hpk_tensor *y = k->out[0];
    const float *ap = a->data, *bp = k->n->op == IR_OP_Pow ? NULL : b->data; /* Pow reads bd */
    float *yp = y->data;
    double *bd = NULL;
    bcast bc;
    if (ref_numel(y) == 0)
        return HPK_OK;
    if (k->n->op == IR_OP_Pow) {
        size_t nb = ref_numel(b);
        bd = malloc(sizeof(double) * (nb ? nb : 1));
        if (!bd)
            return ref_fail(k, HPK_ENOMEM, "out of memory");
        for (size_t i = 0; i < nb; i++) {
            switch (b->dtype) {
            case HPK_DT_F32: bd[i] = ((const float *)b->data)[i]; break;
            case HPK_DT_I64: bd[i] = (double)((const int64_t *)b->data)[i]; break;
            case HPK_DT_I32: bd[i] = ((const int32_t *)b->data)[i]; break;
            default: free(bd); return ref_fail(k, HPK_EUNSUPPORTED, "exponent dtype %s", hpk_dtype_name(b->dtype));
            }
        }
    }
    bcast_init(&bc, y, a, b);
    const int r = bc.r;
    const int64_t len = bc.d[r - 1], sa = bc.sa[r - 1], sb = bc.sb[r - 1];
    int64_t idx[IR_MAX_RANK] = {0}, oa = 0, ob = 0, rows = 1;
    for (int i = 0; i < r - 1; i++)
        rows *= bc.d[i];
    for (int64_t t = 0; t < rows; t++) {
        row(k->n->op, yp + t * len, ap + oa, sa, bp ? bp + ob : NULL, sb, bd ? bd + ob : NULL, len);
        /* advance the outer multi-index (dims 0 .. r-2) and the operand offsets with it */
        for (int i = r - 2; i >= 0; i--) {
            oa += bc.sa[i];
            ob += bc.sb[i];
            if (++idx[i] < bc.d[i])
                break;
            oa -= bc.sa[i] * bc.d[i];
            ob -= bc.sb[i] * bc.d[i];
            idx[i] = 0;
        }
    }
    free(bd);
    return HPK_OK;
}

int ref_op_Add(ref_kctx *k) { return binary(k); }
int ref_op_Sub(ref_kctx *k) { return binary(k); }
int ref_op_Mul(ref_kctx *k) { return binary(k); }
int ref_op_Div(ref_kctx *k) { return binary(k); }
int ref_op_Pow(ref_kctx *k) { return binary(k); }
