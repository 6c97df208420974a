/* data_idx.c — IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed, read through zlib's gz* functions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_int.h"

/* An IDX file: magic 00 00 08 NDIMS, NDIMS big-endian u32 dims, then the unsigned bytes in C order.
 * A gzip header says nothing reliable about the decompressed size, so a header's claim is bounded by deflate's
 * maximum expansion (1032:1) of the compressed file before anything is allocated; the payload must then be
 * exactly as long as the header says. */
typedef struct idx_src {
    gzFile gz;
    const char *path;
    uint64_t max_bytes; /* an upper bound on the bytes the file can yield */
} idx_src;

static int src_open(idx_src *s, const char *path, hpk_err *err)
{
    struct stat st;
    s->gz = NULL;
    s->path = path;
    if (stat(path, &st))
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return hpk_err_set(err, HPK_EINPUT, "%s: not a regular file", path);
    s->gz = gzopen(path, "rb");
    if (!s->gz)
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(s->gz, 1u << 18);
    uint64_t size = (uint64_t)st.st_size;
    if (gzdirect(s->gz))
        s->max_bytes = size;
    else if (__builtin_mul_overflow(size, (uint64_t)1032, &s->max_bytes) ||
             __builtin_add_overflow(s->max_bytes, (uint64_t)1024, &s->max_bytes))
        s->max_bytes = UINT64_MAX;
    return HPK_OK;
}

static void src_close(idx_src *s)
{
    if (s->gz)
        gzclose(s->gz);
    s->gz = NULL;
}

/* Reads exactly n bytes (buf NULL: reads and discards them). */
static int src_read(idx_src *s, void *buf, size_t n, const char *what, hpk_err *err)
{
    unsigned char tmp[1 << 14];
    size_t done = 0;
    while (done < n) {
        size_t want = n - done;
        if (!buf && want > sizeof tmp)
            want = sizeof tmp;
        if (want > (1u << 30))
            want = 1u << 30;
        int got = gzread(s->gz, buf ? (unsigned char *)buf + done : tmp, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *m = gzerror(s->gz, &zerr);
            return hpk_err_set(err, HPK_EINPUT, "%s: %s: %s", s->path, what, zerr == Z_ERRNO ? strerror(errno) : m);
        }
        if (got == 0)
            return hpk_err_set(err, HPK_EINPUT, "%s: truncated %s (%zu of %zu bytes)", s->path, what, done, n);
        done += (size_t)got;
    }
    return HPK_OK;
}

/* The payload must end the file: one more byte is an error, and reading it makes zlib check the gzip trailer. */
static int src_expect_end(idx_src *s, hpk_err *err)
{
    unsigned char b;
    int got = gzread(s->gz, &b, 1);
    if (got < 0) {
        int zerr;
        const char *m = gzerror(s->gz, &zerr);
        return hpk_err_set(err, HPK_EINPUT, "%s: %s", s->path, zerr == Z_ERRNO ? strerror(errno) : m);
    }
    if (got > 0)
        return hpk_err_set(err, HPK_EINPUT, "%s: more bytes than the header's dimensions account for", s->path);
    return HPK_OK;
}

/* Reads the header; dims[] get the sizes, *payload their product (checked against the file's bound). */
static int idx_header(idx_src *s, int *ndims, uint32_t dims[3], size_t *payload, hpk_err *err)
{
    unsigned char h[12];
    int rc = src_read(s, h, 4, "header", err);
    if (rc)
        return rc;
    if (h[0] || h[1])
        return hpk_err_set(err, HPK_EINPUT, "%s: not an IDX file (magic %02x %02x %02x %02x)", s->path, h[0],
                           h[1], h[2], h[3]);
    if (h[2] != 0x08)
        return hpk_err_set(err, HPK_EINPUT, "%s: IDX element type 0x%02x is not unsigned byte (0x08)", s->path,
                           h[2]);
    if (h[3] < 1 || h[3] > 3)
        return hpk_err_set(err, HPK_EINPUT, "%s: IDX file with %d dimensions (1 for labels, 3 for images)",
                           s->path, h[3]);
    *ndims = h[3];
    if ((rc = src_read(s, h, 4u * (unsigned)*ndims, "header", err)))
        return rc;
    size_t n = 1;
    for (int i = 0; i < *ndims; i++) {
        dims[i] = (uint32_t)h[4 * i] << 24 | (uint32_t)h[4 * i + 1] << 16 | (uint32_t)h[4 * i + 2] << 8 |
                  (uint32_t)h[4 * i + 3];
        if (__builtin_mul_overflow(n, (size_t)dims[i], &n))
            return hpk_err_set(err, HPK_EINPUT, "%s: IDX dimensions overflow", s->path);
    }
    if ((uint64_t)n > s->max_bytes)
        return hpk_err_set(err, HPK_EINPUT,
                           "%s: truncated: the header claims %zu bytes of data, more than the file can hold", s->path,
                           n);
    *payload = n;
    return HPK_OK;
}

/* Finds DIR/BASE.gz or DIR/BASE. */
static int find_file(char *buf, size_t cap, const char *dir, const char *base, hpk_err *err)
{
    struct stat st;
    char name[128];
    snprintf(name, sizeof name, "%s.gz", base);
    int rc = data_path_join(buf, cap, dir, name, err);
    if (rc || stat(buf, &st) == 0)
        return rc;
    if ((rc = data_path_join(buf, cap, dir, base, err)))
        return rc;
    if (stat(buf, &st))
        return hpk_err_set(err, HPK_EINPUT, "%s: no %s.gz or %s in this folder", dir, base, base);
    return HPK_OK;
}

int data_idx_open(data_dataset *ds, const char *dir, int test, int fashion, size_t budget, hpk_err *err)
{
    char ipath[4096], lpath[4096], base[64];
    const char *split = test ? "t10k" : "train";
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    int rc = find_file(ipath, sizeof ipath, dir, base, err);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    if (rc || (rc = find_file(lpath, sizeof lpath, dir, base, err)))
        return rc;

    idx_src is = {0}, ls = {0};
    int ind = 0, lnd = 0;
    uint32_t idims[3] = {0}, ldims[3] = {0};
    size_t ibytes = 0, lbytes = 0, need = 0;
    if ((rc = src_open(&is, ipath, err)) || (rc = idx_header(&is, &ind, idims, &ibytes, err)))
        goto done;
    if (ind != 3) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: an images file has 3 dimensions, not %d", ipath, ind);
        goto done;
    }
    if (idims[0] == 0 || idims[1] == 0 || idims[2] == 0 || idims[1] > DATA_MAX_SIDE || idims[2] > DATA_MAX_SIDE) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: bad image dimensions %u x %u x %u", ipath, idims[0], idims[1],
                         idims[2]);
        goto done;
    }
    if ((rc = src_open(&ls, lpath, err)) || (rc = idx_header(&ls, &lnd, ldims, &lbytes, err)))
        goto done;
    if (lnd != 1) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: a labels file has 1 dimension, not %d", lpath, lnd);
        goto done;
    }
    if (ldims[0] != idims[0]) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: %u labels for %u images in %s", lpath, ldims[0], idims[0], ipath);
        goto done;
    }
    size_t count = idims[0];
    if (__builtin_mul_overflow(count, sizeof(int64_t), &need) || __builtin_add_overflow(need, ibytes, &need)) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: size overflows", ipath);
        goto done;
    }
    if ((rc = data_budget_check(need, budget, ipath, err)))
        goto done;

    /* labels: read as bytes into the int64 array, then widened in place from the end */
    ds->labels = malloc(count * sizeof(int64_t));
    if (!ds->labels) {
        rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", lpath);
        goto done;
    }
    uint8_t *lb = (uint8_t *)ds->labels;
    if ((rc = src_read(&ls, lb, count, "labels", err)) || (rc = src_expect_end(&ls, err)))
        goto done;
    int maxl = 0;
    for (size_t i = count; i-- > 0;) {
        uint8_t v = lb[i];
        if (v > maxl)
            maxl = v;
        ds->labels[i] = v;
    }
    if (fashion && maxl >= 10) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: label %d in a 10-class dataset", lpath, maxl);
        goto done;
    }

    ds->u8 = malloc(ibytes);
    if (!ds->u8) {
        rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory (%zu bytes)", ipath, ibytes);
        goto done;
    }
    if ((rc = src_read(&is, ds->u8, ibytes, "images", err)) || (rc = src_expect_end(&is, err)))
        goto done;

    ds->info.kind = DATA_IDX;
    ds->info.preset = DATA_PRESET_FASHION;
    ds->info.count = count;
    ds->info.classes = fashion ? 10 : maxl + 1;
    ds->info.c = 1;
    ds->info.h = (int)idims[1];
    ds->info.w = (int)idims[2];
    ds->info.is_float = 0;
    ds->info.mem_bytes = need;
done:
    src_close(&is);
    src_close(&ls);
    return rc;
}

int data_idx_probe(const char *path, hpk_err *err)
{
    idx_src s = {0};
    int nd = 0;
    uint32_t dims[3];
    size_t bytes = 0;
    int rc = src_open(&s, path, err);
    if (!rc)
        rc = idx_header(&s, &nd, dims, &bytes, err);
    if (!rc && nd == 2)
        rc = hpk_err_set(err, HPK_EINPUT, "%s: an IDX file with 2 dimensions is neither images nor labels", path);
    if (!rc && nd == 3 && (dims[1] == 0 || dims[2] == 0 || dims[1] > DATA_MAX_SIDE || dims[2] > DATA_MAX_SIDE))
        rc = hpk_err_set(err, HPK_EINPUT, "%s: bad image dimensions %u x %u x %u", path, dims[0], dims[1], dims[2]);
    if (!rc)
        rc = src_read(&s, NULL, bytes, nd == 3 ? "images" : "labels", err);
    if (!rc)
        rc = src_expect_end(&s, err);
    src_close(&s);
    return rc;
}
