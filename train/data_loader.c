/* data_loader.c — the batch loader: epoch permutations, worker threads, a ring of prefetched NCHW batches. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_int.h"

/* The batches form one sequence: ordinal g is batch g % bpe of epoch g / bpe (bpe = batches per epoch).
 * Slot g % K of the ring holds batch g. Workers claim ordinals in order under the mutex (computing the indices
 * of the batch there, so the epoch permutation is only touched under the mutex) and fill the slot without it;
 * a slot may be claimed for g only once the consumer has released g - K. The consumer holds the slot it last
 * returned until its next call. Everything a batch contains is a function of (seed, g), so who fills it and
 * when does not matter. */

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY };

typedef struct slot {
    float *x;
    int64_t *y;
    size_t *idx; /* batch: the items, in epoch order */
    long long g;
    int n;
    int state;
    int code;
    hpk_err err;
} slot;

struct data_loader {
    data_dataset *ds;
    data_loader_opts o;
    int out_c, out_h, out_w;
    size_t sample; /* floats per sample */
    long bpe;
    int want_short; /* JPEG DCT scaling hint */

    pthread_mutex_t mu;
    pthread_cond_t cv_space, cv_ready;
    long long g_claim;   /* next ordinal a worker claims */
    long long g_release; /* ordinals below this are released by the consumer */
    long long g_next;    /* next ordinal the consumer returns */
    long long g_end;     /* ordinals stop here (LLONG_MAX: endless) */
    int holding;         /* the consumer holds slot of g_next - 1 */
    int end_due;         /* the next call reports the end of an epoch */
    atomic_int stop;

    uint32_t *perm; /* the permutation of perm_epoch */
    long perm_epoch;

    slot *slots;
    int K;
    pthread_t *th;
    int nth;
    data_scratch sync_scratch; /* threads == 0 */
};

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Under the mutex: the items of batch g into s->idx, s->n. */
static void batch_items(data_loader *L, long long g, slot *s)
{
    long epoch = (long)(g / L->bpe), b = (long)(g % L->bpe);
    size_t count = L->ds->info.count, B = (size_t)L->o.batch, first = (size_t)b * B;
    size_t n = count - first < B ? count - first : B;
    if (L->o.shuffle && L->perm_epoch != epoch) {
        /* Fisher-Yates from the identity, drawn from (seed, epoch): any epoch can be regenerated alone */
        ir_rng r;
        ir_rng_seed(&r, splitmix64(L->o.seed) ^ splitmix64((uint64_t)epoch + 0x5eed), 0x5348554646ull);
        for (size_t i = 0; i < count; i++)
            L->perm[i] = (uint32_t)i;
        for (size_t i = count - 1; i > 0; i--) {
            size_t j = ir_rng_below(&r, (uint32_t)(i + 1));
            uint32_t t = L->perm[i];
            L->perm[i] = L->perm[j];
            L->perm[j] = t;
        }
        L->perm_epoch = epoch;
    }
    for (size_t j = 0; j < n; j++)
        s->idx[j] = L->o.shuffle ? L->perm[first + j] : first + j;
    s->n = (int)n;
    s->g = g;
}

/* Without the mutex: decodes and transforms the items of s. */
static int batch_fill(data_loader *L, slot *s, data_scratch *scr)
{
    long epoch = (long)(s->g / L->bpe);
    const data_info *in = &L->ds->info;
    hpk_err *err = &s->err;
    for (int j = 0; j < s->n; j++) {
        if (atomic_load(&L->stop))
            return HPK_OK; /* being freed: the batch is never read */
        size_t i = s->idx[j];
        data_image img;
        int64_t label;
        int rc = data_dataset_get_good(L->ds, i, L->want_short, scr, &img, &label, NULL, err);
        if (rc)
            return rc;
        float *xo = s->x + (size_t)j * L->sample;
        s->y[j] = label;
        if (in->is_float) {
            memcpy(xo, img.f32, L->sample * sizeof(float));
            continue;
        }
        /* the item's own stream: (seed, epoch, item) — the same whichever thread or batch position */
        ir_rng r;
        ir_rng_seed(&r, splitmix64(L->o.seed ^ splitmix64((uint64_t)epoch)), (uint64_t)i);
        data_xform x;
        if (data_xform_plan(&x, &L->o, L->out_c, L->out_h, img.c, img.h, img.w, &r))
            return hpk_err_set(err, HPK_EINTERNAL, "%s: item %zu: no transform for a %d x %d x %d image", in->path, i,
                               img.c, img.h, img.w);
        data_xform_apply(&x, &img, xo);
    }
    int B = L->o.batch;
    if (s->n < B) {
        memset(s->x + (size_t)s->n * L->sample, 0, (size_t)(B - s->n) * L->sample * sizeof(float));
        memset(s->y + s->n, 0, (size_t)(B - s->n) * sizeof(int64_t));
    }
    return HPK_OK;
}

static void *worker(void *arg)
{
    data_loader *L = arg;
    data_scratch scr = {0};
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!atomic_load(&L->stop) && L->g_claim < L->g_end && L->g_claim >= L->g_release + L->K)
            pthread_cond_wait(&L->cv_space, &L->mu);
        if (atomic_load(&L->stop) || L->g_claim >= L->g_end)
            break;
        long long g = L->g_claim++;
        slot *s = &L->slots[g % L->K];
        s->state = SLOT_FILLING;
        hpk_err_clear(&s->err);
        batch_items(L, g, s);
        pthread_mutex_unlock(&L->mu);
        int rc = batch_fill(L, s, &scr);
        pthread_mutex_lock(&L->mu);
        s->code = rc;
        s->state = SLOT_READY;
        pthread_cond_broadcast(&L->cv_ready);
    }
    pthread_mutex_unlock(&L->mu);
    data_scratch_free(&scr);
    return NULL;
}

void data_loader_opts_default(data_loader_opts *o, const data_dataset *ds, int train)
{
    static const float fm[3] = {0.2860f, 0.2860f, 0.2860f}, fs[3] = {0.3530f, 0.3530f, 0.3530f};
    static const float cm[3] = {0.4914f, 0.4822f, 0.4465f}, cs[3] = {0.2470f, 0.2435f, 0.2616f};
    static const float im[3] = {0.485f, 0.456f, 0.406f}, is[3] = {0.229f, 0.224f, 0.225f};
    static const float zm[3] = {0, 0, 0}, os[3] = {1, 1, 1};
    const data_info *in = &ds->info;
    memset(o, 0, sizeof *o);
    o->batch = 32;
    o->channels = in->c == 1 || in->c == 3 ? in->c : 0;
    o->augment = train;
    o->flip = 1;
    o->shuffle = train;
    o->drop_last = train;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus < 2 ? 1 : cpus > 4 ? 4 : (int)cpus;
    o->seed = 0;
    const float *m = im, *sd = is;
    switch (in->preset) {
    case DATA_PRESET_FASHION:
        m = fm, sd = fs;
        o->size = 32;
        o->pad = in->h < 32 && in->w < 32 ? (32 - (in->h > in->w ? in->h : in->w)) / 2 : 0;
        break;
    case DATA_PRESET_CIFAR:
        m = cm, sd = cs;
        o->size = 32;
        o->pad = 4;
        break;
    case DATA_PRESET_RAW:
        m = zm, sd = os;
        o->size = 0;
        o->augment = 0;
        o->flip = 0;
        break;
    default: /* ImageNet-style folders and uint8 npy */
        if (in->h && in->w && in->h <= 64 && in->w <= 64) {
            o->size = in->h < in->w ? in->h : in->w;
        } else {
            o->resize = 256;
            o->size = 224;
        }
        break;
    }
    memcpy(o->mean, m, sizeof o->mean);
    memcpy(o->std, sd, sizeof o->std);
}

void data_loader_opts_channels(data_loader_opts *o, int from, int to)
{
    if (from == 3 && to == 1) {
        o->mean[0] = 0.299f * o->mean[0] + 0.587f * o->mean[1] + 0.114f * o->mean[2];
        o->std[0] = 0.299f * o->std[0] + 0.587f * o->std[1] + 0.114f * o->std[2];
    } else if (from == 1 && to == 3) {
        o->mean[1] = o->mean[2] = o->mean[0];
        o->std[1] = o->std[2] = o->std[0];
    }
    o->channels = to;
}

long data_loader_batches_per_epoch(const data_loader *L) { return L->bpe; }

void data_loader_geometry(const data_loader *L, int *c, int *h, int *w)
{
    *c = L->out_c;
    *h = L->out_h;
    *w = L->out_w;
}

static void loader_release(data_loader *L)
{
    for (int k = 0; L->slots && k < L->K; k++) {
        free(L->slots[k].x);
        free(L->slots[k].y);
        free(L->slots[k].idx);
    }
    free(L->slots);
    free(L->perm);
    free(L->th);
    data_scratch_free(&L->sync_scratch);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv_space);
    pthread_cond_destroy(&L->cv_ready);
    free(L);
}

void data_loader_free(data_loader *L)
{
    if (!L)
        return;
    pthread_mutex_lock(&L->mu);
    atomic_store(&L->stop, 1);
    pthread_cond_broadcast(&L->cv_space);
    pthread_cond_broadcast(&L->cv_ready);
    pthread_mutex_unlock(&L->mu);
    for (int t = 0; t < L->nth; t++)
        pthread_join(L->th[t], NULL);
    loader_release(L);
}

int data_loader_create(data_loader **out, data_dataset *ds, const data_loader_opts *o, hpk_err *err)
{
    *out = NULL;
    const data_info *in = &ds->info;
    const char *name = in->path;
    if (o->batch < 1 || o->batch > (1 << 20))
        return hpk_err_set(err, HPK_EINPUT, "%s: batch size %d", name, o->batch);
    if (o->threads < 0 || o->threads > 256 || o->prefetch < 0 || o->prefetch > 1024)
        return hpk_err_set(err, HPK_EINPUT, "%s: %d loader threads, %d prefetched batches", name, o->threads,
                           o->prefetch);
    if (o->resize < 0 || o->resize > DATA_MAX_SIDE || o->pad < 0 || o->pad > 4096 || o->size < 0 ||
        o->size > 4096)
        return hpk_err_set(err, HPK_EINPUT, "%s: resize %d, pad %d, size %d out of range (size <= 4096)", name,
                           o->resize, o->pad, o->size);
    if (o->epochs < 0 || o->start_epoch < 0 || o->start_batch < 0 || (o->epochs && o->start_epoch >= o->epochs))
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot start at epoch %ld batch %ld of %ld epochs", name,
                           o->start_epoch, o->start_batch, o->epochs);
    if (in->count > UINT32_MAX)
        return hpk_err_set(err, HPK_EINPUT, "%s: %zu items is more than the loader handles", name, in->count);
    int out_c, out_h, out_w;
    if (in->is_float) {
        out_c = in->c;
        out_h = in->h;
        out_w = in->w;
        if ((o->size && (o->size != in->h || o->size != in->w)) || (o->channels && o->channels != in->c) ||
            o->resize)
            return hpk_err_set(err, HPK_EINPUT,
                               "%s: float32 images are fed as they are (%d x %d x %d): no resize, size or channels",
                               name, in->c, in->h, in->w);
    } else {
        out_c = o->channels ? o->channels : in->c;
        if (out_c != 1 && out_c != 3)
            return hpk_err_set(err, HPK_EINPUT, "%s: %d output channels (1 or 3)", name, out_c);
        if (!o->size && (!in->h || in->h != in->w))
            return hpk_err_set(err, HPK_EINPUT, "%s: the images have no single square size: give a size", name);
        out_h = out_w = o->size ? o->size : in->h;
        for (int c = 0; c < out_c; c++)
            if (!(o->std[c] > 0) || !(o->std[c] < 1e30f) || !(o->mean[c] > -1e30f && o->mean[c] < 1e30f))
                return hpk_err_set(err, HPK_EINPUT, "%s: normalization mean %g std %g for channel %d", name,
                                   (double)o->mean[c], (double)o->std[c], c);
    }
    size_t sample = (size_t)out_c * (size_t)out_h * (size_t)out_w;
    long bpe = (long)(o->drop_last ? in->count / (size_t)o->batch
                                   : (in->count + (size_t)o->batch - 1) / (size_t)o->batch);
    if (bpe < 1)
        return hpk_err_set(err, HPK_EINPUT, "%s: %zu items make no full batch of %d (drop_last)", name, in->count,
                           o->batch);
    if (o->start_batch >= bpe)
        return hpk_err_set(err, HPK_EINPUT, "%s: batch %ld is past the %ld batches of an epoch", name,
                           o->start_batch, bpe);
    long long g0, gend = LLONG_MAX;
    if (__builtin_mul_overflow((long long)o->start_epoch, (long long)bpe, &g0) ||
        __builtin_add_overflow(g0, (long long)o->start_batch, &g0) ||
        (o->epochs && __builtin_mul_overflow((long long)o->epochs, (long long)bpe, &gend)))
        return hpk_err_set(err, HPK_EINPUT, "%s: epoch %ld overflows", name, o->start_epoch);

    int nth = o->threads, K = nth ? (o->prefetch ? o->prefetch : 2 * nth) : 1;
    if (nth && K < 2)
        K = 2;
    size_t per_slot, ring, need, batch_bytes;
    if (__builtin_mul_overflow(sample, (size_t)o->batch, &batch_bytes) ||
        __builtin_mul_overflow(batch_bytes, sizeof(float), &batch_bytes) ||
        __builtin_add_overflow(batch_bytes, (size_t)o->batch * (sizeof(int64_t) + sizeof(size_t)), &per_slot) ||
        __builtin_mul_overflow(per_slot, (size_t)K, &ring) ||
        __builtin_add_overflow(ring, o->shuffle ? in->count * sizeof(uint32_t) : 0, &ring) ||
        __builtin_add_overflow(ring, in->mem_bytes, &need))
        return hpk_err_set(err, HPK_EINPUT, "%s: loader sizes overflow", name);
    char what[512];
    snprintf(what, sizeof what, "%s: the dataset plus %d prefetched batches of %d x %d x %d x %d", name, K,
             o->batch, out_c, out_h, out_w);
    int rc = data_budget_check(need, o->mem_budget, what, err);
    if (rc)
        return rc;

    data_loader *L = calloc(1, sizeof *L);
    if (!L)
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", name);
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv_space, NULL);
    pthread_cond_init(&L->cv_ready, NULL);
    atomic_init(&L->stop, 0);
    L->ds = ds;
    L->o = *o;
    L->out_c = out_c;
    L->out_h = out_h;
    L->out_w = out_w;
    L->sample = sample;
    L->bpe = bpe;
    L->want_short = o->resize ? o->resize : 0;
    L->g_claim = L->g_release = L->g_next = g0;
    L->g_end = gend;
    L->perm_epoch = -1;
    L->K = K;
    L->slots = calloc((size_t)K, sizeof *L->slots);
    L->perm = o->shuffle ? malloc(in->count * sizeof *L->perm) : NULL;
    int ok = L->slots && (!o->shuffle || L->perm);
    for (int k = 0; ok && k < K; k++) {
        slot *s = &L->slots[k];
        s->x = malloc(batch_bytes);
        s->y = malloc((size_t)o->batch * sizeof *s->y);
        s->idx = malloc((size_t)o->batch * sizeof *s->idx);
        s->g = -1;
        ok = s->x && s->y && s->idx;
    }
    if (!ok) {
        loader_release(L);
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory for %d prefetched batches (%zu bytes)", name, K, ring);
    }
    if (nth) {
        L->th = calloc((size_t)nth, sizeof *L->th);
        if (!L->th) {
            loader_release(L);
            return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", name);
        }
        /* a worker's frame holds the transform's row buffers (about 150 KB): ask for a roomy stack explicitly */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, (size_t)4 << 20);
        for (int t = 0; t < nth; t++) {
            if (pthread_create(&L->th[t], &attr, worker, L)) {
                pthread_attr_destroy(&attr);
                data_loader_free(L); /* joins the L->nth started so far */
                return hpk_err_set(err, HPK_EIO, "%s: cannot start loader thread %d", name, t);
            }
            L->nth = t + 1;
        }
        pthread_attr_destroy(&attr);
    }
    *out = L;
    return HPK_OK;
}

int data_loader_next(data_loader *L, data_batch *b, hpk_err *err)
{
    memset(b, 0, sizeof *b);
    if (L->holding) {
        pthread_mutex_lock(&L->mu);
        L->g_release = L->g_next;
        pthread_cond_broadcast(&L->cv_space);
        pthread_mutex_unlock(&L->mu);
        L->holding = 0;
    }
    if (L->end_due) {
        L->end_due = 0;
        return 0;
    }
    long long g = L->g_next;
    if (g >= L->g_end)
        return 0;
    slot *s = &L->slots[g % L->K];
    if (L->nth == 0) {
        hpk_err_clear(&s->err);
        batch_items(L, g, s);
        s->code = batch_fill(L, s, &L->sync_scratch);
        s->state = SLOT_READY;
    } else {
        pthread_mutex_lock(&L->mu);
        while (!(s->state == SLOT_READY && s->g == g))
            pthread_cond_wait(&L->cv_ready, &L->mu);
        pthread_mutex_unlock(&L->mu);
    }
    if (s->code) {
        hpk_err_set(err, s->code, "%s", s->err.msg);
        return -s->code; /* the failed batch is not consumed: every later call reports it again */
    }
    b->x = s->x;
    b->y = s->y;
    b->n = s->n;
    b->c = L->out_c;
    b->h = L->out_h;
    b->w = L->out_w;
    b->epoch = (long)(g / L->bpe);
    b->index = (long)(g % L->bpe);
    L->g_next = g + 1;
    L->holding = 1;
    if ((g + 1) % L->bpe == 0)
        L->end_due = 1;
    return s->n;
}
