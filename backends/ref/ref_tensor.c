/* ref_tensor.c — layout and constant kernels: Flatten, Reshape, Squeeze, Unsqueeze, Concat, Constant, Dropout.
 *
 * The reshaping ops keep C order, so they are byte copies of input 0 (shapes come from the shape rules; the
 * axes/shape inputs are read there). Concat works for any dtype and axis. Dropout:
 *  - inference (no training_mode input, or a constant false): Y = X; the optional mask is all true.
 *  - training_mode a constant true: inverted dropout. Element i is kept iff u_i >= ratio, where u_i in [0, 1)
 *    is a hash of (k->seed, i) (splitmix64; the plan advances the seed every run), and a kept element is scaled
 *    by 1 / (1 - ratio). Deterministic for a given seed and independent of threads. ratio = 0 keeps everything.
 */
#include <string.h>

#include "ref.h"

static int copy0(ref_kctx *k)
{
    const hpk_tensor *x = k->in[0];
    hpk_tensor *y = k->out[0];
    if (x->nbytes != y->nbytes)
        return ref_fail(k, HPK_EINTERNAL, "input and output sizes differ (%zu vs %zu bytes)", x->nbytes, y->nbytes);
    if (y->nbytes)
        memcpy(y->data, x->data, y->nbytes);
    return HPK_OK;
}

int ref_op_Flatten(ref_kctx *k) { return copy0(k); }
int ref_op_Reshape(ref_kctx *k) { return copy0(k); }
int ref_op_Squeeze(ref_kctx *k) { return copy0(k); }
int ref_op_Unsqueeze(ref_kctx *k) { return copy0(k); }

int ref_op_Concat(ref_kctx *k)
{
    hpk_tensor *y = k->out[0];
    const int r = y->rank;
    int64_t axis = ir_attr_int(k->n, "axis", 0);
    if (axis < 0)
        axis += r;
    const size_t es = hpk_dtype_size(y->dtype);
    const size_t outer = ref_dims_prod(y, 0, (int)axis), inner = ref_dims_prod(y, (int)axis + 1, r) * es;
    unsigned char *dst = y->data;
    size_t written = 0;
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < k->n->n_in; i++) {
            const hpk_tensor *x = k->in[i];
            if (!x)
                continue;
            size_t chunk = (size_t)x->dims[axis] * inner;
            if (!chunk)
                continue;
            if (written + chunk > y->nbytes || (o + 1) * chunk > x->nbytes)
                return ref_fail(k, HPK_EINTERNAL, "input %d does not fit the output", i);
            memcpy(dst + written, (const unsigned char *)x->data + o * chunk, chunk);
            written += chunk;
        }
    return HPK_OK;
}

int ref_op_Constant(ref_kctx *k)
{
    const ir_attr *a = &k->n->attr[0];
    hpk_tensor *y = k->out[0];
    const void *src;
    size_t bytes;
    float f;
    int64_t i;
    switch (a->type) {
    case IR_ATTR_TENSOR: src = a->t->data; bytes = a->t->nbytes; break;
    case IR_ATTR_FLOAT: f = a->f; src = &f; bytes = sizeof f; break;
    case IR_ATTR_INT: i = a->i; src = &i; bytes = sizeof i; break;
    case IR_ATTR_FLOATS: src = a->floats; bytes = sizeof(float) * (size_t)a->n; break;
    case IR_ATTR_INTS: src = a->ints; bytes = sizeof(int64_t) * (size_t)a->n; break;
    default: return ref_fail(k, HPK_EUNSUPPORTED, "attribute '%s' is not supported", a->name);
    }
    if (bytes != y->nbytes)
        return ref_fail(k, HPK_EINTERNAL, "the value has %zu bytes, the output %zu", bytes, y->nbytes);
    if (bytes)
        memcpy(y->data, src, bytes);
    return HPK_OK;
}

/* splitmix64's finalizer over (seed, i): a counter-based generator, so element i's draw is fixed */
static uint64_t mix(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int ref_op_Dropout(ref_kctx *k)
{
    const hpk_tensor *x = k->in[0], *tr = ref_in(k, 2), *rt = ref_in(k, 1);
    hpk_tensor *y = k->out[0], *mask = ref_out(k, 1);
    const float *xp = x->data;
    float *yp = y->data;
    unsigned char *mp = mask ? mask->data : NULL;
    size_t n = ref_numel(x);
    float ratio = rt ? *(const float *)rt->data : ir_attr_float(k->n, "ratio", 0.5f);
    bool training = tr && *(const unsigned char *)tr->data != 0;
    if (!training || ratio == 0.0f) {
        int rc = copy0(k);
        if (mp)
            memset(mp, 1, n);
        return rc;
    }
    const float scale = 1.0f / (1.0f - ratio);
    for (size_t i = 0; i < n; i++) {
        float u = (float)(mix(k->seed, i) >> 40) * 0x1p-24f; /* 24 random bits: exact in float, in [0, 1) */
        bool keep = u >= ratio;
        yp[i] = keep ? xp[i] * scale : 0.0f;
        if (mp)
            mp[i] = keep;
    }
    return HPK_OK;
}
