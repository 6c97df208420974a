/* fuzz_data.h — shared checks of the dataset fuzz targets (fuzz_idx, fuzz_cifar, fuzz_npy): probe one file, open a
 * dataset from files in the scratch folder, and check what an accepted dataset hands out. */
#ifndef HPK_FUZZ_DATA_H
#define HPK_FUZZ_DATA_H

#include <math.h>

#include "data.h"
#include "fuzz_common.h"

#define FUZZ_DATA_BUDGET ((size_t)256 << 20)

/* data_probe_file on data written to the scratch file `name`: HPK_OK, or an error naming the file. */
static inline int fuzz_probe(int kind, const char *name, const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(name, data, size);
    hpk_err err = {0};
    int rc = data_probe_file(kind, path, &err);
    if (!rc)
        FUZZ_NOTE("probe %s: ok", name);
    if (rc)
        fuzz_check_err(rc, &err, path);
    return rc;
}

/* Checks an open dataset: its info, and items 0, count/2 and count-1 (pixels and labels read in full). */
static inline void fuzz_dataset_check(data_dataset *ds, int kind)
{
    const data_info *in = data_dataset_info(ds);
    FUZZ_NOTE("dataset: %zu items, %d classes, %d x %d x %d%s", in->count, in->classes, in->c, in->h, in->w,
              in->is_float ? " float" : "");
    FUZZ_CHECK(in->kind == kind, "kind %d", in->kind);
    FUZZ_CHECK(in->count >= 1, "an open dataset has no items");
    FUZZ_CHECK(in->classes >= 1, "%d classes", in->classes);
    FUZZ_CHECK(in->h >= 1 && in->w >= 1 && in->h <= DATA_MAX_SIDE && in->w <= DATA_MAX_SIDE, "geometry %d x %d",
               in->h, in->w);
    FUZZ_CHECK(in->is_float ? in->c >= 1 : (in->c == 1 || in->c == 3), "%d channels", in->c);
    data_scratch s = {0};
    size_t idx[3] = {0, in->count / 2, in->count - 1};
    for (int k = 0; k < 3; k++) {
        data_image img;
        int64_t label = -1;
        hpk_err err = {0};
        int rc = data_dataset_get(ds, idx[k], 0, &s, &img, &label, &err);
        FUZZ_CHECK(rc == HPK_OK, "item %zu: %s", idx[k], err.msg);
        FUZZ_CHECK(label >= 0 && label < in->classes, "item %zu: label %lld of %d classes", idx[k], (long long)label,
                   in->classes);
        FUZZ_CHECK(img.c == in->c && img.h == in->h && img.w == in->w && img.is_float == in->is_float, "item %zu",
                   idx[k]);
        size_t n = (size_t)img.c * (size_t)img.h * (size_t)img.w;
        if (img.is_float) {
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(isfinite(img.f32[i]), "item %zu: non-finite value %zu", idx[k], i);
        } else {
            fuzz_touch(img.u8, n);
        }
        char name[64];
        data_dataset_class_name(ds, (int)label, name, sizeof name);
        FUZZ_CHECK(name[0], "no class name");
    }
    data_scratch_free(&s);
}

/* data_dataset_open(spec): HPK_OK with the dataset checked and freed, or an error naming the scratch folder (or
 * the spec) — never "data: ..." for anything but memory. */
static inline int fuzz_dataset_open(const char *spec, int kind)
{
    data_dataset *ds = NULL;
    hpk_err err = {0};
    int rc = data_dataset_open(&ds, spec, FUZZ_DATA_BUDGET, &err);
    if (rc) {
        FUZZ_CHECK(ds == NULL, "a failed open returned a dataset");
        fuzz_check_err(rc, &err, NULL);
        FUZZ_CHECK(strncmp(err.msg, fuzz_dir(), strlen(fuzz_dir())) == 0 || rc == HPK_ENOMEM,
                   "the message names neither the folder nor a file in it: %s", err.msg);
        return rc;
    }
    fuzz_dataset_check(ds, kind);
    data_dataset_free(ds);
    return HPK_OK;
}

#endif
