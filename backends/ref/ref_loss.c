/* ref_loss.c — reference softmax cross-entropy loss (fused, stable log-softmax + NLL) and its gradient. */
#include <math.h>
#include <string.h>

#include "ref.h"

static int64_t label_at(const hpk_tensor *t, size_t i)
{
    return t->dtype == HPK_DT_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

/* log-sum-exp of row s[0..K) */
static double logsumexp(const float *s, int64_t K)
{
    float m = s[0];
    for (int64_t j = 1; j < K; j++)
        m = s[j] > m ? s[j] : m;
    double acc = 0;
    for (int64_t j = 0; j < K; j++)
        acc += exp((double)s[j] - m);
    return m + log(acc);
}

static bool mean_reduction(const ir_node *n) { return strcmp(ir_attr_str(n, "reduction", "mean"), "mean") == 0; }

int ref_op_SoftmaxCrossEntropyLoss(ref_kctx *k)
{
    const hpk_tensor *st = k->in[0], *lt = k->in[1];
    int64_t N = st->dims[0], K = st->dims[1];
    const float *s = st->data;
    double total = 0;
    for (int64_t n = 0; n < N; n++) {
        int64_t y = label_at(lt, (size_t)n);
        if (y < 0 || y >= K)
            return ref_fail(k, HPK_EINPUT, "label %lld of sample %lld is outside [0, %lld)", (long long)y,
                            (long long)n, (long long)K);
        double lse = logsumexp(s + n * K, K);
        total += lse - s[n * K + y];
        if (k->n->n_out > 1 && k->out[1])
            for (int64_t j = 0; j < K; j++)
                ((float *)k->out[1]->data)[n * K + j] = (float)(s[n * K + j] - lse);
    }
    *(float *)k->out[0]->data = (float)(mean_reduction(k->n) && N > 0 ? total / (double)N : total);
    return HPK_OK;
}

int ref_op_SoftmaxCrossEntropyLossGrad(ref_kctx *k)
{
    const hpk_tensor *st = k->in[1], *lt = k->in[2];
    int64_t N = st->dims[0], K = st->dims[1];
    const float *s = st->data;
    float *dx = k->out[0]->data;
    double dl = *(const float *)k->in[0]->data;
    double scale = mean_reduction(k->n) && N > 0 ? dl / (double)N : dl;
    for (int64_t n = 0; n < N; n++) {
        int64_t y = label_at(lt, (size_t)n);
        if (y < 0 || y >= K)
            return ref_fail(k, HPK_EINPUT, "label %lld of sample %lld is outside [0, %lld)", (long long)y,
                            (long long)n, (long long)K);
        double lse = logsumexp(s + n * K, K);
        for (int64_t j = 0; j < K; j++)
            dx[n * K + j] = (float)(scale * (exp((double)s[n * K + j] - lse) - (j == y ? 1.0 : 0.0)));
    }
    return HPK_OK;
}
