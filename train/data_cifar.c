/* data_cifar.c — CIFAR-10, binary version: records of 1 label byte + 3072 bytes (3 × 32 × 32, CHW). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_int.h"

#define REC 3073u
#define PIX 3072u
#define MAX_FILES 6

/* Sizes the record count of one file from its length. */
static int cifar_stat(const char *path, size_t *records, hpk_err *err)
{
    struct stat st;
    if (stat(path, &st))
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return hpk_err_set(err, HPK_EINPUT, "%s: not a regular file", path);
    if (st.st_size <= 0 || (uint64_t)st.st_size % REC)
        return hpk_err_set(err, HPK_EINPUT,
                           "%s: %lld bytes is not a positive multiple of 3073 (a CIFAR-10 record: label + 3x32x32)",
                           path, (long long)st.st_size);
    *records = (size_t)((uint64_t)st.st_size / REC);
    return HPK_OK;
}

/* Reads `records` records of path; with dst, stores pixels HWC at dst and labels at lab. */
static int cifar_read(const char *path, size_t records, uint8_t *dst, int64_t *lab, hpk_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    enum { CHUNK = 256 };
    unsigned char *buf = malloc((size_t)CHUNK * REC);
    if (!buf) {
        fclose(f);
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", path);
    }
    int rc = HPK_OK;
    for (size_t r = 0; r < records && !rc;) {
        size_t k = records - r < CHUNK ? records - r : CHUNK;
        if (fread(buf, REC, k, f) != k) {
            rc = hpk_err_set(err, HPK_EINPUT, "%s: truncated at record %zu", path, r);
            break;
        }
        for (size_t j = 0; j < k; j++, r++) {
            const unsigned char *rec = buf + j * REC;
            if (rec[0] >= 10) {
                rc = hpk_err_set(err, HPK_EINPUT, "%s: record %zu has label %d (CIFAR-10 has 10 classes)", path, r,
                                 rec[0]);
                break;
            }
            if (!dst)
                continue;
            lab[r] = rec[0];
            uint8_t *o = dst + r * PIX;
            for (unsigned p = 0; p < 1024; p++) {
                o[3 * p] = rec[1 + p];
                o[3 * p + 1] = rec[1 + 1024 + p];
                o[3 * p + 2] = rec[1 + 2048 + p];
            }
        }
    }
    if (!rc && fgetc(f) != EOF)
        rc = hpk_err_set(err, HPK_EINPUT, "%s: the file grew while being read", path);
    free(buf);
    fclose(f);
    return rc;
}

int data_cifar_open(data_dataset *ds, const char *dir, int test, size_t budget, hpk_err *err)
{
    /* DIR may be the extracted tarball's parent: accept DIR/cifar-10-batches-bin/ too */
    char root[4096], paths[MAX_FILES][4096], probe[4096];
    struct stat st;
    int rc = data_path_join(probe, sizeof probe, dir, test ? "test_batch.bin" : "data_batch_1.bin", err);
    if (rc)
        return rc;
    snprintf(root, sizeof root, "%s", dir);
    if (stat(probe, &st) != 0) {
        char sub[4096];
        if ((rc = data_path_join(sub, sizeof sub, dir, "cifar-10-batches-bin", err)))
            return rc;
        if ((rc = data_path_join(probe, sizeof probe, sub, test ? "test_batch.bin" : "data_batch_1.bin", err)))
            return rc;
        if (stat(probe, &st) != 0)
            return hpk_err_set(err, HPK_EINPUT, "%s: no %s here or in cifar-10-batches-bin/ (the binary version)",
                               dir, test ? "test_batch.bin" : "data_batch_1.bin");
        snprintf(root, sizeof root, "%s", sub);
    }
    int nfiles = test ? 1 : 5;
    size_t recs[MAX_FILES], count = 0, need, bytes;
    for (int k = 0; k < nfiles; k++) {
        char name[32];
        snprintf(name, sizeof name, test ? "test_batch.bin" : "data_batch_%d.bin", k + 1);
        if ((rc = data_path_join(paths[k], sizeof paths[k], root, name, err)) ||
            (rc = cifar_stat(paths[k], &recs[k], err)))
            return rc;
        if (__builtin_add_overflow(count, recs[k], &count))
            return hpk_err_set(err, HPK_EINPUT, "%s: size overflows", paths[k]);
    }
    if (__builtin_mul_overflow(count, (size_t)PIX, &bytes) ||
        __builtin_mul_overflow(count, sizeof(int64_t), &need) || __builtin_add_overflow(need, bytes, &need))
        return hpk_err_set(err, HPK_EINPUT, "%s: size overflows", root);
    if ((rc = data_budget_check(need, budget, root, err)))
        return rc;
    ds->u8 = malloc(bytes);
    ds->labels = malloc(count * sizeof(int64_t));
    if (!ds->u8 || !ds->labels)
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory (%zu bytes)", root, need);
    size_t at = 0;
    for (int k = 0; k < nfiles; k++) {
        if ((rc = cifar_read(paths[k], recs[k], ds->u8 + at * PIX, ds->labels + at, err)))
            return rc;
        at += recs[k];
    }
    ds->info.kind = DATA_CIFAR10;
    ds->info.preset = DATA_PRESET_CIFAR;
    ds->info.count = count;
    ds->info.classes = 10;
    ds->info.c = 3;
    ds->info.h = ds->info.w = 32;
    ds->info.is_float = 0;
    ds->info.mem_bytes = need;
    return HPK_OK;
}

int data_cifar_probe(const char *path, hpk_err *err)
{
    size_t records = 0;
    int rc = cifar_stat(path, &records, err);
    return rc ? rc : cifar_read(path, records, NULL, NULL, err);
}
