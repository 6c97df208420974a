/* data_npy.c — .npy pairs: float32 N×C×H×W (fed as they are) or uint8 N×H×W×C images, int64/int32 labels. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_int.h"

#define MAX_CLASSES (1 << 20)
#define MAX_FLOAT_CHANNELS 4096

static int file_size(const char *path, size_t *size, hpk_err *err)
{
    struct stat st;
    if (stat(path, &st))
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return hpk_err_set(err, HPK_EINPUT, "%s: not a regular file", path);
    *size = (size_t)st.st_size;
    return HPK_OK;
}

/* Validates an images tensor; fills c, h, w, is_float. */
static int check_images(const char *path, const hpk_tensor *t, int *c, int *h, int *w, int *is_float, hpk_err *err)
{
    const int64_t *d = t->dims;
    if (t->dtype == HPK_DT_F32) {
        if (t->rank != 4)
            return hpk_err_set(err, HPK_EINPUT, "%s: float32 images must be N x C x H x W, not rank %d", path,
                               t->rank);
        if (d[1] < 1 || d[1] > MAX_FLOAT_CHANNELS)
            return hpk_err_set(err, HPK_EINPUT, "%s: %lld channels", path, (long long)d[1]);
        *c = (int)d[1];
        *h = d[2] > 0 && d[2] <= DATA_MAX_SIDE ? (int)d[2] : 0;
        *w = d[3] > 0 && d[3] <= DATA_MAX_SIDE ? (int)d[3] : 0;
        *is_float = 1;
    } else if (t->dtype == HPK_DT_U8) {
        if (t->rank != 3 && t->rank != 4)
            return hpk_err_set(err, HPK_EINPUT, "%s: uint8 images must be N x H x W x C or N x H x W, not rank %d",
                               path, t->rank);
        int64_t ch = t->rank == 4 ? d[3] : 1;
        if (ch != 1 && ch != 3)
            return hpk_err_set(err, HPK_EINPUT, "%s: uint8 images with %lld channels (1 or 3; N x H x W x C)", path,
                               (long long)ch);
        *c = (int)ch;
        *h = d[1] > 0 && d[1] <= DATA_MAX_SIDE ? (int)d[1] : 0;
        *w = d[2] > 0 && d[2] <= DATA_MAX_SIDE ? (int)d[2] : 0;
        *is_float = 0;
    } else {
        return hpk_err_set(err, HPK_EINPUT, "%s: images of dtype %s (float32 N x C x H x W or uint8 N x H x W x C)",
                           path, hpk_dtype_name(t->dtype));
    }
    if (!*h || !*w)
        return hpk_err_set(err, HPK_EINPUT, "%s: image size must be 1..%d per side", path, DATA_MAX_SIDE);
    if (d[0] < 1)
        return hpk_err_set(err, HPK_EINPUT, "%s: no images", path);
    if (*is_float) {
        const float *p = t->data;
        size_t n = t->nbytes / sizeof(float);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(p[i]))
                return hpk_err_set(err, HPK_EINPUT, "%s: non-finite value at element %zu", path, i);
    }
    return HPK_OK;
}

/* Validates labels and widens them to int64 in t; *classes = max + 1. */
static int check_labels(const char *path, hpk_tensor *t, int *classes, hpk_err *err)
{
    if (t->dtype != HPK_DT_I64 && t->dtype != HPK_DT_I32)
        return hpk_err_set(err, HPK_EINPUT, "%s: labels of dtype %s (int64 or int32)", path,
                           hpk_dtype_name(t->dtype));
    if (!(t->rank == 1 || (t->rank == 2 && t->dims[1] == 1)))
        return hpk_err_set(err, HPK_EINPUT, "%s: labels must have shape (N,) or (N, 1)", path);
    size_t n = (size_t)t->dims[0];
    if (t->dtype == HPK_DT_I32) {
        size_t bytes;
        if (__builtin_mul_overflow(n ? n : 1, sizeof(int64_t), &bytes))
            return hpk_err_set(err, HPK_EINPUT, "%s: size overflows", path);
        void *q = realloc(t->data, bytes);
        if (!q)
            return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", path);
        t->data = q;
        const int32_t *s32 = q;
        int64_t *s64 = q;
        for (size_t i = n; i-- > 0;)
            s64[i] = s32[i];
        t->dtype = HPK_DT_I64;
        t->nbytes = n * sizeof(int64_t);
    }
    const int64_t *l = t->data;
    int64_t maxl = -1;
    for (size_t i = 0; i < n; i++) {
        if (l[i] < 0 || l[i] >= MAX_CLASSES)
            return hpk_err_set(err, HPK_EINPUT, "%s: label %lld at %zu is out of range [0, %d)", path,
                               (long long)l[i], i, MAX_CLASSES);
        if (l[i] > maxl)
            maxl = l[i];
    }
    *classes = (int)(maxl + 1);
    return HPK_OK;
}

int data_npy_open(data_dataset *ds, const char *images, const char *labels, size_t budget, hpk_err *err)
{
    size_t isz = 0, lsz = 0, need;
    int rc = file_size(images, &isz, err);
    if (rc || (rc = file_size(labels, &lsz, err)))
        return rc;
    /* the images and labels payloads are at most the files' sizes; int32 labels double when widened */
    if (__builtin_mul_overflow(lsz, (size_t)2, &need) || __builtin_add_overflow(need, isz, &need))
        return hpk_err_set(err, HPK_EINPUT, "%s: size overflows", images);
    if ((rc = data_budget_check(need, budget, images, err)))
        return rc;
    hpk_tensor it = {0}, lt = {0};
    int c = 0, h = 0, w = 0, is_float = 0, classes = 0;
    if ((rc = hpk_npy_load(labels, &lt, err)) || (rc = check_labels(labels, &lt, &classes, err)) ||
        (rc = hpk_npy_load(images, &it, err)) || (rc = check_images(images, &it, &c, &h, &w, &is_float, err)))
        goto fail;
    if (it.dims[0] != lt.dims[0]) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: %lld labels for %lld images in %s", labels, (long long)lt.dims[0],
                         (long long)it.dims[0], images);
        goto fail;
    }
    ds->info.kind = DATA_NPY;
    ds->info.preset = is_float ? DATA_PRESET_RAW : DATA_PRESET_IMAGENET;
    ds->info.count = (size_t)it.dims[0];
    ds->info.classes = classes;
    ds->info.c = c;
    ds->info.h = h;
    ds->info.w = w;
    ds->info.is_float = is_float;
    ds->info.mem_bytes = it.nbytes + lt.nbytes;
    if (is_float)
        ds->f32 = it.data;
    else
        ds->u8 = it.data;
    ds->labels = lt.data;
    return HPK_OK;
fail:
    free(it.data);
    free(lt.data);
    return rc;
}

int data_npy_probe(const char *path, hpk_err *err)
{
    hpk_tensor t = {0};
    int rc = hpk_npy_load(path, &t, err);
    if (rc)
        return rc;
    int c, h, w, is_float, classes;
    if (t.dtype == HPK_DT_I64 || t.dtype == HPK_DT_I32)
        rc = check_labels(path, &t, &classes, err);
    else
        rc = check_images(path, &t, &c, &h, &w, &is_float, err);
    free(t.data);
    return rc;
}
