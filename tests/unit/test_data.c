/* test_data.c — the data pipelines: readers, hostile files, augmentation, loader determinism, threads, budgets. */
#define _GNU_SOURCE /* nftw's FTW_DEPTH, FTW_PHYS */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"

#ifdef HPK_HAVE_IMAGES
#include <jpeglib.h>
#include <png.h>
#endif

static int failures, checks;
#define CHECK(cond)                                                                                                   \
    do {                                                                                                              \
        checks++;                                                                                                     \
        if (!(cond)) {                                                                                                \
            failures++;                                                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                 \
        }                                                                                                             \
    } while (0)
#define CHECK_RC(rc, want, err)                                                                                       \
    do {                                                                                                              \
        int rc_ = (rc);                                                                                               \
        checks++;                                                                                                     \
        if (rc_ != (want)) {                                                                                          \
            failures++;                                                                                               \
            fprintf(stderr, "%s:%d: %s returned %d, want %d (%s)\n", __FILE__, __LINE__, #rc, rc_, (int)(want),       \
                    (err)->msg);                                                                                      \
        }                                                                                                             \
    } while (0)

static char tmp_root[256];

static const char *tpath(const char *rel)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_root, rel);
    return buf[k];
}

static void mkdirs(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", tmp_root, rel);
    for (char *s = p + strlen(tmp_root) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void write_gz(const char *path, const void *b, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (!g || (n && gzwrite(g, b, (unsigned)n) != (int)n)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    gzclose(g);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int contains(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

/* ---- Fashion-MNIST, the real files ------------------------------------------------------------------------- */
static void test_fashion(void)
{
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK)) {
        fprintf(stderr, "test_fashion: dataset-fashion-mnist is not installed, skipped\n");
        return;
    }
    hpk_err err = {0};
    data_dataset *ds = NULL;
    CHECK_RC(data_dataset_open(&ds, "fashion-mnist", 0, &err), HPK_OK, &err);
    if (!ds)
        return;
    const data_info *in = data_dataset_info(ds);
    CHECK(in->count == 60000 && in->h == 28 && in->w == 28 && in->c == 1 && in->classes == 10 && !in->is_float);
    CHECK(in->kind == DATA_IDX && in->preset == DATA_PRESET_FASHION);
    /* Known values, from:
     * /usr/bin/python3 -c "import gzip,numpy as np; d='/usr/share/datasets/fashion-mnist/';
     *   l=np.frombuffer(gzip.open(d+'train-labels-idx1-ubyte.gz').read(),np.uint8,offset=8);
     *   i=np.frombuffer(gzip.open(d+'train-images-idx3-ubyte.gz').read(),np.uint8,offset=16).reshape(-1,28,28);
     *   print(l[:10].tolist(), l[-1], i[0,14].tolist(), int(i[0].sum()), int(i[-1].sum()))"
     * → [9, 0, 0, 3, 0, 2, 7, 2, 5, 5] 5 [0, 0, 1, 4, 6, 7, 2, 0, 0, 0, 0, 0, 237, 226, 217, 223, 222, 219, 222, 221,
     *   216, 223, 229, 215, 218, 255, 77, 0] 76247 16684 */
    static const int64_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const uint8_t row14[28] = {0,   0,   1,   4,   6,   7,   2,   0,   0,   0,   0,   0,   237, 226,
                                      217, 223, 222, 219, 222, 221, 216, 223, 229, 215, 218, 255, 77,  0};
    data_scratch s = {0};
    data_image img;
    int64_t label;
    for (size_t i = 0; i < 10; i++) {
        CHECK_RC(data_dataset_get(ds, i, 0, &s, &img, &label, &err), HPK_OK, &err);
        CHECK(label == first[i]);
    }
    CHECK_RC(data_dataset_get(ds, 0, 0, &s, &img, &label, &err), HPK_OK, &err);
    CHECK(img.c == 1 && img.h == 28 && img.w == 28 && memcmp(img.u8 + 14 * 28, row14, 28) == 0);
    long sum = 0;
    for (int k = 0; k < 784; k++)
        sum += img.u8[k];
    CHECK(sum == 76247);
    CHECK_RC(data_dataset_get(ds, 59999, 0, &s, &img, &label, &err), HPK_OK, &err);
    sum = 0;
    for (int k = 0; k < 784; k++)
        sum += img.u8[k];
    CHECK(sum == 16684 && label == 5);
    data_dataset_free(ds);

    /* the test split: labels[:10] = [9, 2, 1, 1, 6, 1, 4, 6, 5, 7], image 0 sums to 33456 (same command, t10k) */
    static const int64_t tfirst[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    CHECK_RC(data_dataset_open(&ds, "fashion-mnist:test", 0, &err), HPK_OK, &err);
    if (ds) {
        CHECK(data_dataset_info(ds)->count == 10000);
        for (size_t i = 0; i < 10; i++) {
            CHECK_RC(data_dataset_get(ds, i, 0, &s, &img, &label, &err), HPK_OK, &err);
            CHECK(label == tfirst[i]);
        }
        CHECK_RC(data_dataset_get(ds, 0, 0, &s, &img, &label, &err), HPK_OK, &err);
        sum = 0;
        for (int k = 0; k < 784; k++)
            sum += img.u8[k];
        CHECK(sum == 33456);
        data_dataset_free(ds);
    }
    /* idx:DIR on the same folder */
    CHECK_RC(data_dataset_open(&ds, "idx:/usr/share/datasets/fashion-mnist:test", 0, &err), HPK_OK, &err);
    if (ds) {
        CHECK(data_dataset_info(ds)->count == 10000 && data_dataset_info(ds)->classes == 10);
        data_dataset_free(ds);
    }
    CHECK_RC(data_probe_file(DATA_PROBE_IDX, "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", &err),
             HPK_OK, &err);

    /* the memory budget: 47 MB of images do not fit in 10 MB, refused before allocating */
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, "fashion-mnist", 10u << 20, &err), HPK_ENOMEM, &err);
    CHECK(ds == NULL && contains(err.msg, "memory budget") && contains(err.msg, "train-images-idx3-ubyte.gz"));
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, "fashion-mnist", 100u << 20, &err), HPK_OK, &err);
    data_dataset_free(ds);
    data_scratch_free(&s);
}

/* ---- IDX, synthetic and hostile ------------------------------------------------------------------------------ */
static size_t idx_images(uint8_t *b, uint32_t n, uint32_t h, uint32_t w, int fill)
{
    b[0] = b[1] = 0;
    b[2] = 8;
    b[3] = 3;
    be32(b + 4, n);
    be32(b + 8, h);
    be32(b + 12, w);
    if (fill)
        for (size_t i = 0; i < (size_t)n * h * w; i++)
            b[16 + i] = (uint8_t)(i * 7);
    return 16;
}

static size_t idx_labels(uint8_t *b, uint32_t n, int fill)
{
    b[0] = b[1] = 0;
    b[2] = 8;
    b[3] = 1;
    be32(b + 4, n);
    if (fill)
        for (uint32_t i = 0; i < n; i++)
            b[8 + i] = (uint8_t)(i % 4);
    return 8;
}

static void expect_idx_error(const char *dir, const char *what, const char *msg_part)
{
    hpk_err err = {0};
    data_dataset *ds = NULL;
    char spec[1100];
    snprintf(spec, sizeof spec, "idx:%s", tpath(dir));
    int rc = data_dataset_open(&ds, spec, 0, &err);
    checks++;
    if (rc == HPK_OK || ds || !contains(err.msg, msg_part)) {
        failures++;
        fprintf(stderr, "idx %s: rc %d, message '%s', want one containing '%s'\n", what, rc, err.msg, msg_part);
    }
    data_dataset_free(ds);
}

static void test_idx(void)
{
    uint8_t img[16 + 5 * 3 * 4 + 8], lab[8 + 5 + 4];
    size_t ih = idx_images(img, 5, 3, 4, 1), lh = idx_labels(lab, 5, 1);
    size_t isz = ih + 60, lsz = lh + 5;
    /* good, gzip-compressed */
    mkdirs("idx/good");
    write_gz(tpath("idx/good/train-images-idx3-ubyte.gz"), img, isz);
    write_gz(tpath("idx/good/train-labels-idx1-ubyte.gz"), lab, lsz);
    /* good, plain, test split */
    write_bytes(tpath("idx/good/t10k-images-idx3-ubyte"), img, isz);
    write_bytes(tpath("idx/good/t10k-labels-idx1-ubyte"), lab, lsz);
    hpk_err err = {0};
    data_dataset *ds = NULL;
    char spec[1100];
    for (int test = 0; test < 2; test++) {
        snprintf(spec, sizeof spec, "idx:%s%s", tpath("idx/good"), test ? ":test" : "");
        CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
        if (!ds)
            continue;
        const data_info *in = data_dataset_info(ds);
        CHECK(in->count == 5 && in->h == 3 && in->w == 4 && in->c == 1 && in->classes == 4);
        data_scratch s = {0};
        data_image im;
        int64_t l;
        CHECK_RC(data_dataset_get(ds, 2, 0, &s, &im, &l, &err), HPK_OK, &err);
        CHECK(l == 2 && im.u8[0] == (uint8_t)(24 * 7) && im.u8[11] == (uint8_t)(35 * 7));
        data_dataset_free(ds);
        ds = NULL;
    }

    uint8_t buf[256];
    /* bad magic */
    mkdirs("idx/magic");
    memcpy(buf, img, isz);
    buf[0] = 0x1f;
    write_bytes(tpath("idx/magic/train-images-idx3-ubyte"), buf, isz);
    write_bytes(tpath("idx/magic/train-labels-idx1-ubyte"), lab, lsz);
    expect_idx_error("idx/magic", "bad magic", "not an IDX file");
    /* element type int32 */
    mkdirs("idx/type");
    memcpy(buf, img, isz);
    buf[2] = 0x0c;
    write_bytes(tpath("idx/type/train-images-idx3-ubyte"), buf, isz);
    write_bytes(tpath("idx/type/train-labels-idx1-ubyte"), lab, lsz);
    expect_idx_error("idx/type", "int32 elements", "not unsigned byte");
    /* huge dims: 4294967295 x 16384 x 16384 in a tiny file (refused before allocating) */
    mkdirs("idx/huge");
    idx_images(buf, 0xffffffffu, 16384, 16384, 0);
    write_gz(tpath("idx/huge/train-images-idx3-ubyte.gz"), buf, 16);
    write_bytes(tpath("idx/huge/train-labels-idx1-ubyte"), lab, lsz);
    expect_idx_error("idx/huge", "huge dims", "more than the file can hold");
    idx_images(buf, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0);
    write_gz(tpath("idx/huge/train-images-idx3-ubyte.gz"), buf, 16);
    expect_idx_error("idx/huge", "overflowing dims", "overflow");
    {
        /* a side beyond the limit, with a payload that matches the header */
        uint8_t *side = calloc(1, 16 + 5 * 20000 * 2);
        idx_images(side, 5, 20000, 2, 0);
        write_gz(tpath("idx/huge/train-images-idx3-ubyte.gz"), side, 16 + 5 * 20000 * 2);
        free(side);
        expect_idx_error("idx/huge", "absurd side", "bad image dimensions");
        idx_images(buf, 0, 28, 28, 0);
        write_gz(tpath("idx/huge/train-images-idx3-ubyte.gz"), buf, 16);
        expect_idx_error("idx/huge", "no images", "bad image dimensions");
        idx_images(buf, 0xffffffffu, 16384, 16384, 0);
        write_gz(tpath("idx/huge/train-images-idx3-ubyte.gz"), buf, 16);
    }
    /* truncated payload (gz and plain) */
    mkdirs("idx/trunc");
    write_gz(tpath("idx/trunc/train-images-idx3-ubyte.gz"), img, isz - 7);
    write_bytes(tpath("idx/trunc/train-labels-idx1-ubyte"), lab, lsz);
    expect_idx_error("idx/trunc", "truncated gz", "truncated");
    remove(tpath("idx/trunc/train-images-idx3-ubyte.gz"));
    write_bytes(tpath("idx/trunc/train-images-idx3-ubyte"), img, 10);
    expect_idx_error("idx/trunc", "truncated header", "truncated");
    /* trailing bytes */
    mkdirs("idx/trail");
    memcpy(buf, img, isz);
    write_bytes(tpath("idx/trail/train-images-idx3-ubyte"), buf, isz + 3);
    write_bytes(tpath("idx/trail/train-labels-idx1-ubyte"), lab, lsz);
    expect_idx_error("idx/trail", "trailing bytes", "more bytes than");
    /* count mismatch */
    mkdirs("idx/count");
    write_bytes(tpath("idx/count/train-images-idx3-ubyte"), img, isz);
    idx_labels(buf, 4, 1);
    write_bytes(tpath("idx/count/train-labels-idx1-ubyte"), buf, 8 + 4);
    expect_idx_error("idx/count", "count mismatch", "4 labels for 5 images");
    /* labels file with 3 dimensions */
    write_bytes(tpath("idx/count/train-labels-idx1-ubyte"), img, isz);
    expect_idx_error("idx/count", "labels with 3 dims", "1 dimension");
    /* a corrupt gzip stream: flip bytes in the middle of the deflate data */
    mkdirs("idx/zcorrupt");
    {
        uint8_t big[16 + 40 * 28 * 28];
        idx_images(big, 40, 28, 28, 1);
        write_gz(tpath("idx/zcorrupt/train-images-idx3-ubyte.gz"), big, sizeof big);
        FILE *f = fopen(tpath("idx/zcorrupt/train-images-idx3-ubyte.gz"), "r+b");
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        for (long k = 20; k < n - 12; k += 5) {
            fseek(f, k, SEEK_SET);
            fputc(0xa5, f);
        }
        fclose(f);
        uint8_t l40[8 + 40];
        idx_labels(l40, 40, 1);
        write_bytes(tpath("idx/zcorrupt/train-labels-idx1-ubyte"), l40, sizeof l40);
        expect_idx_error("idx/zcorrupt", "corrupt gzip", "train-images-idx3-ubyte.gz");
    }
    /* missing files, empty spec, unknown spec */
    mkdirs("idx/empty");
    expect_idx_error("idx/empty", "missing", "no train-images-idx3-ubyte.gz");
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, "idx:", 0, &err), HPK_EINPUT, &err);
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, "mnist", 0, &err), HPK_EINPUT, &err);
    CHECK(contains(err.msg, "unknown data SPEC"));
    /* probes */
    hpk_err_clear(&err);
    CHECK_RC(data_probe_file(DATA_PROBE_IDX, tpath("idx/good/train-images-idx3-ubyte.gz"), &err), HPK_OK, &err);
    hpk_err_clear(&err);
    CHECK_RC(data_probe_file(DATA_PROBE_IDX, tpath("idx/huge/train-images-idx3-ubyte.gz"), &err), HPK_EINPUT, &err);
    hpk_err_clear(&err);
    CHECK_RC(data_probe_file(DATA_PROBE_IDX, tpath("idx/zcorrupt/train-images-idx3-ubyte.gz"), &err), HPK_EINPUT,
             &err);
}

/* ---- CIFAR-10 ---------------------------------------------------------------------------------------------- */
static uint8_t cifar_pix(size_t rec, int c, int y, int x)
{
    return (uint8_t)(rec * 31 + (size_t)c * 101 + (size_t)y * 7 + (size_t)x * 3);
}

static void write_cifar(const char *rel, size_t first, size_t n, int bad_label)
{
    uint8_t *b = malloc(n * 3073);
    for (size_t r = 0; r < n; r++) {
        uint8_t *p = b + r * 3073;
        p[0] = (uint8_t)((first + r) % 10);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    p[1 + c * 1024 + y * 32 + x] = cifar_pix(first + r, c, y, x);
    }
    if (bad_label)
        b[(n - 1) * 3073] = 10;
    write_bytes(tpath(rel), b, n * 3073);
    free(b);
}

static void test_cifar(void)
{
    mkdirs("cifar/cifar-10-batches-bin");
    char rel[64];
    for (int k = 1; k <= 5; k++) {
        snprintf(rel, sizeof rel, "cifar/cifar-10-batches-bin/data_batch_%d.bin", k);
        write_cifar(rel, (size_t)(k - 1) * 3, 3, 0);
    }
    write_cifar("cifar/cifar-10-batches-bin/test_batch.bin", 100, 2, 0);
    hpk_err err = {0};
    data_dataset *ds = NULL;
    char spec[1100];
    snprintf(spec, sizeof spec, "cifar10:%s", tpath("cifar")); /* the tarball's sub-folder is found */
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (ds) {
        const data_info *in = data_dataset_info(ds);
        CHECK(in->count == 15 && in->c == 3 && in->h == 32 && in->w == 32 && in->classes == 10);
        data_scratch s = {0};
        data_image im;
        int64_t l;
        CHECK_RC(data_dataset_get(ds, 7, 0, &s, &im, &l, &err), HPK_OK, &err);
        CHECK(l == 7);
        int ok = 1;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                for (int c = 0; c < 3; c++)
                    ok &= im.u8[(y * 32 + x) * 3 + c] == cifar_pix(7, c, y, x);
        CHECK(ok);
        data_dataset_free(ds);
    }
    snprintf(spec, sizeof spec, "cifar10:%s:test", tpath("cifar/cifar-10-batches-bin"));
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (ds) {
        CHECK(data_dataset_info(ds)->count == 2 && ds);
        data_dataset_free(ds);
    }
    /* budget: 15 x 3072 + 15 x 8 bytes */
    snprintf(spec, sizeof spec, "cifar10:%s", tpath("cifar"));
    CHECK_RC(data_dataset_open(&ds, spec, 15 * 3080 - 1, &err), HPK_ENOMEM, &err);
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 15 * 3080, &err), HPK_OK, &err);
    data_dataset_free(ds);
    ds = NULL;
    /* a label of 10 */
    write_cifar("cifar/cifar-10-batches-bin/data_batch_3.bin", 6, 3, 1);
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_EINPUT, &err);
    CHECK(contains(err.msg, "data_batch_3.bin") && contains(err.msg, "label 10"));
    hpk_err_clear(&err);
    CHECK_RC(data_probe_file(DATA_PROBE_CIFAR, tpath("cifar/cifar-10-batches-bin/data_batch_3.bin"), &err),
             HPK_EINPUT, &err);
    /* a size that is not a multiple of 3073 */
    write_cifar("cifar/cifar-10-batches-bin/data_batch_3.bin", 6, 3, 0);
    FILE *f = fopen(tpath("cifar/cifar-10-batches-bin/data_batch_4.bin"), "ab");
    fputc(1, f);
    fclose(f);
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_EINPUT, &err);
    CHECK(contains(err.msg, "data_batch_4.bin") && contains(err.msg, "multiple of 3073"));
    /* empty file, missing file */
    write_bytes(tpath("cifar/cifar-10-batches-bin/data_batch_4.bin"), "", 0);
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_EINPUT, &err);
    remove(tpath("cifar/cifar-10-batches-bin/data_batch_4.bin"));
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_EINPUT, &err);
    CHECK(contains(err.msg, "data_batch_4.bin"));
    hpk_err_clear(&err);
    snprintf(spec, sizeof spec, "cifar10:%s", tpath("nowhere"));
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_EINPUT, &err);
    CHECK(ds == NULL);
}

/* ---- npy pairs --------------------------------------------------------------------------------------------- */
static void save_npy(const char *rel, int dtype, int rank, const int64_t *dims, const void *data)
{
    hpk_tensor t = {0};
    t.dtype = dtype;
    t.rank = rank;
    memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    t.data = (void *)(uintptr_t)data;
    hpk_err err = {0};
    if (hpk_npy_save(tpath(rel), &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

static void expect_npy(const char *imgs, const char *labs, int want, const char *msg_part)
{
    char spec[2200];
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath(imgs), tpath(labs));
    hpk_err err = {0};
    data_dataset *ds = NULL;
    int rc = data_dataset_open(&ds, spec, 0, &err);
    checks++;
    if (rc != want || (msg_part && !contains(err.msg, msg_part))) {
        failures++;
        fprintf(stderr, "npy %s,%s: rc %d '%s', want %d '%s'\n", imgs, labs, rc, err.msg, want,
                msg_part ? msg_part : "");
    }
    data_dataset_free(ds);
}

static void test_npy(void)
{
    mkdirs("npy");
    float f[6 * 2 * 3 * 5];
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        f[i] = (float)i * 0.25f - 3.0f;
    uint8_t u[7 * 4 * 5 * 3];
    for (size_t i = 0; i < sizeof u; i++)
        u[i] = (uint8_t)(i * 13);
    int64_t l64[7] = {0, 1, 2, 0, 1, 2, 5};
    int32_t l32[7] = {3, 1, 2, 0, 1, 2, 0};
    save_npy("npy/f.npy", HPK_DT_F32, 4, (int64_t[]){6, 2, 3, 5}, f);
    save_npy("npy/u.npy", HPK_DT_U8, 4, (int64_t[]){7, 4, 5, 3}, u);
    save_npy("npy/ug.npy", HPK_DT_U8, 3, (int64_t[]){7, 4, 5}, u);
    save_npy("npy/l64.npy", HPK_DT_I64, 1, (int64_t[]){6}, l64);
    save_npy("npy/l32.npy", HPK_DT_I32, 2, (int64_t[]){7, 1}, l32);
    save_npy("npy/l64_7.npy", HPK_DT_I64, 1, (int64_t[]){7}, l64);

    hpk_err err = {0};
    data_dataset *ds = NULL;
    char spec[2200];
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("npy/f.npy"), tpath("npy/l64.npy"));
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (ds) {
        const data_info *in = data_dataset_info(ds);
        CHECK(in->count == 6 && in->is_float && in->c == 2 && in->h == 3 && in->w == 5 && in->classes == 3);
        /* fed as they are: the loader's batches are the data (no shuffle, eval) */
        data_loader_opts o;
        data_loader_opts_default(&o, ds, 0);
        o.batch = 4;
        o.threads = 2;
        data_loader *L = NULL;
        CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_OK, &err);
        data_batch b;
        int n = L ? data_loader_next(L, &b, &err) : -1;
        CHECK(n == 4 && b.c == 2 && b.h == 3 && b.w == 5 && memcmp(b.x, f, 4 * 30 * sizeof(float)) == 0);
        CHECK(b.y[0] == 0 && b.y[3] == 0 && b.y[2] == 2);
        n = L ? data_loader_next(L, &b, &err) : -1;
        CHECK(n == 2 && memcmp(b.x, f + 4 * 30, 2 * 30 * sizeof(float)) == 0 && b.x[2 * 30] == 0);
        CHECK(L && data_loader_next(L, &b, &err) == 0);
        data_loader_free(L);
        /* a size other than the native one is refused */
        o.size = 8;
        hpk_err_clear(&err);
        CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_EINPUT, &err);
        data_dataset_free(ds);
    }
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("npy/u.npy"), tpath("npy/l32.npy"));
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (ds) {
        const data_info *in = data_dataset_info(ds);
        CHECK(in->count == 7 && !in->is_float && in->c == 3 && in->h == 4 && in->w == 5 && in->classes == 4);
        data_scratch s = {0};
        data_image im;
        int64_t l;
        CHECK_RC(data_dataset_get(ds, 6, 0, &s, &im, &l, &err), HPK_OK, &err);
        CHECK(l == 0 && im.c == 3 && im.u8[0] == u[6 * 60] && im.u8[59] == u[6 * 60 + 59]);
        data_dataset_free(ds);
    }
    expect_npy("npy/ug.npy", "npy/l64_7.npy", HPK_OK, NULL);
    /* hostile or inconsistent */
    expect_npy("npy/f.npy", "npy/l32.npy", HPK_EINPUT, "7 labels for 6 images");
    expect_npy("npy/l64.npy", "npy/l64.npy", HPK_EINPUT, "images of dtype int64");
    expect_npy("npy/f.npy", "npy/f.npy", HPK_EINPUT, "labels of dtype float32");
    int64_t neg[6] = {0, 1, -1, 0, 0, 0};
    save_npy("npy/neg.npy", HPK_DT_I64, 1, (int64_t[]){6}, neg);
    expect_npy("npy/f.npy", "npy/neg.npy", HPK_EINPUT, "label -1");
    f[17] = NAN;
    save_npy("npy/nan.npy", HPK_DT_F32, 4, (int64_t[]){6, 2, 3, 5}, f);
    expect_npy("npy/nan.npy", "npy/l64.npy", HPK_EINPUT, "non-finite value at element 17");
    save_npy("npy/u4.npy", HPK_DT_U8, 4, (int64_t[]){7, 2, 5, 6}, u);
    expect_npy("npy/u4.npy", "npy/l64_7.npy", HPK_EINPUT, "6 channels");
    save_npy("npy/r2.npy", HPK_DT_F32, 2, (int64_t[]){6, 30}, f);
    expect_npy("npy/r2.npy", "npy/l64.npy", HPK_EINPUT, "N x C x H x W");
    /* a header claiming a huge shape over a tiny payload */
    {
        const char hdr[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 3, 224, 224), }";
        uint8_t b[256] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
        size_t hl = sizeof hdr - 1, pad = 64 - (10 + hl + 1) % 64;
        memcpy(b + 10, hdr, hl);
        memset(b + 10 + hl, ' ', pad);
        b[10 + hl + pad] = '\n';
        b[8] = (uint8_t)(hl + pad + 1);
        write_bytes(tpath("npy/huge.npy"), b, 10 + hl + pad + 1 + 16);
        expect_npy("npy/huge.npy", "npy/l64.npy", HPK_EINPUT, "huge.npy");
        hpk_err_clear(&err);
        CHECK_RC(data_probe_file(DATA_PROBE_NPY, tpath("npy/huge.npy"), &err), HPK_EINPUT, &err);
        write_bytes(tpath("npy/trunc.npy"), b, 30);
        expect_npy("npy/trunc.npy", "npy/l64.npy", HPK_EINPUT, "trunc.npy");
    }
    expect_npy("npy/f.npy", "npy/missing.npy", HPK_EINPUT, "missing.npy");
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, "npy:onlyone.npy", 0, &err), HPK_EINPUT, &err);
    /* the budget: about 360 + 2 x 176 bytes */
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("npy/u.npy"), tpath("npy/l32.npy"));
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 100, &err), HPK_ENOMEM, &err);
    CHECK(contains(err.msg, "memory budget"));
    hpk_err_clear(&err);
    CHECK_RC(data_probe_file(DATA_PROBE_NPY, tpath("npy/l32.npy"), &err), HPK_OK, &err);
}

/* ---- the transform ------------------------------------------------------------------------------------------ */
static int near(float a, float b, float tol) { return fabsf(a - b) <= tol * (1 + fabsf(b)); }

static void test_xform(void)
{
    data_loader_opts o;
    memset(&o, 0, sizeof o);
    for (int c = 0; c < 3; c++) {
        o.mean[c] = 0.5f;
        o.std[c] = 0.25f;
    }
    /* normalization of known values: ((v / 255) - 0.5) / 0.25 */
    uint8_t g[3 * 4]; /* 3 x 4 gray */
    for (int i = 0; i < 12; i++)
        g[i] = (uint8_t)(i * 20 + 5);
    data_image im = {1, 3, 4, 0, g, NULL};
    data_xform x;
    float out[3 * 16 * 16];
    /* eval, size 6: the 3 x 4 image is centered in a zero field at row (6-3)/2 = 1, column 1 */
    CHECK(data_xform_plan(&x, &o, 1, 6, 1, 3, 4, NULL) == HPK_OK);
    CHECK(x.oy == -1 && x.ox == -1 && !x.flip);
    data_xform_apply(&x, &im, out);
    int ok = 1;
    for (int y = 0; y < 6; y++)
        for (int xx = 0; xx < 6; xx++) {
            int sy = y - 1, sx = xx - 1;
            float v = sy >= 0 && sy < 3 && sx >= 0 && sx < 4 ? g[sy * 4 + sx] : 0;
            ok &= near(out[y * 6 + xx], (v / 255.0f - 0.5f) / 0.25f, 1e-6f);
        }
    CHECK(ok);
    CHECK(near(out[0], -2.0f, 1e-7f));
    /* pad 2, crop 4 at (3, 1) with a flip, by hand: padded image 7 x 8; crop rows 3..6, columns 1..4, mirrored */
    o.augment = 1;
    o.pad = 2;
    o.flip = 1;
    ir_rng r;
    ir_rng_seed(&r, 1, 2);
    CHECK(data_xform_plan(&x, &o, 1, 4, 1, 3, 4, &r) == HPK_OK);
    CHECK(x.oy >= 0 && x.oy <= 3 && x.ox >= 0 && x.ox <= 4);
    x.oy = 3;
    x.ox = 1;
    x.flip = 1;
    data_xform_apply(&x, &im, out);
    ok = 1;
    for (int y = 0; y < 4; y++)
        for (int xx = 0; xx < 4; xx++) {
            int py = y + 3, px = (3 - xx) + 1, sy = py - 2, sx = px - 2;
            float v = sy >= 0 && sy < 3 && sx >= 0 && sx < 4 ? g[sy * 4 + sx] : 0;
            ok &= near(out[y * 4 + xx], (v / 255.0f - 0.5f) / 0.25f, 1e-6f);
        }
    CHECK(ok);
    /* gray → 3 channels replicates; RGB → 1 channel is the luminance */
    o.augment = 0;
    o.pad = 0;
    CHECK(data_xform_plan(&x, &o, 3, 4, 1, 3, 4, NULL) == HPK_OK);
    data_xform_apply(&x, &im, out);
    CHECK(x.oy == 0 && memcmp(out, out + 16, 16 * sizeof(float)) == 0 &&
          memcmp(out, out + 32, 16 * sizeof(float)) == 0);
    CHECK(near(out[0], ((float)g[0] / 255.0f - 0.5f) / 0.25f, 1e-6f));
    uint8_t rgb[2 * 2 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    data_image ic = {3, 2, 2, 0, rgb, NULL};
    CHECK(data_xform_plan(&x, &o, 1, 2, 3, 2, 2, NULL) == HPK_OK);
    data_xform_apply(&x, &ic, out);
    CHECK(near(out[0], (0.299f - 0.5f) / 0.25f, 1e-5f) && near(out[1], (0.587f - 0.5f) / 0.25f, 1e-5f));
    CHECK(near(out[3], ((0.299f * 10 + 0.587f * 20 + 0.114f * 30) / 255.0f - 0.5f) / 0.25f, 1e-5f));
    /* center crop offsets round half to even, as Python's round(): (ph - S) = 3 → 2, 5 → 2, 1 → 0 */
    CHECK(data_xform_plan(&x, &o, 1, 4, 1, 7, 9, NULL) == HPK_OK && x.oy == 2 && x.ox == 2);
    CHECK(data_xform_plan(&x, &o, 1, 4, 1, 5, 8, NULL) == HPK_OK && x.oy == 0 && x.ox == 2);
    /* resize of a constant image stays exactly constant */
    static uint8_t cst[37 * 53 * 3];
    memset(cst, 123, sizeof cst);
    data_image cim = {3, 37, 53, 0, cst, NULL};
    o.resize = 20;
    CHECK(data_xform_plan(&x, &o, 3, 16, 3, 37, 53, NULL) == HPK_OK && x.rh == 20 && x.rw == 28);
    data_xform_apply(&x, &cim, out);
    ok = 1;
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 256; k++)
            ok &= out[c * 256 + k] == 123.0f * x.scale[c] + x.bias[c];
    CHECK(ok);
    /* bilinear resize against torch.nn.functional.interpolate(x, size, mode='bilinear', align_corners=False):
     * /usr/bin/python3 -c "import torch,torch.nn.functional as F;
     *   x=torch.tensor([[0.,100.,50.],[200.,255.,10.]]).reshape(1,1,2,3);
     *   print(F.interpolate(x,size=(4,6),mode='bilinear',align_corners=False).flatten().tolist())" */
    static const float up[24] = {0.0f,   25.0f,    75.0f,    87.5f,    62.5f,   50.0f, 50.0f,  72.1875f,
                                 116.5625f, 114.0625f, 64.6875f, 40.0f, 150.0f, 166.5625f, 199.6875f, 167.1875f,
                                 69.0625f, 20.0f, 200.0f, 213.75f, 241.25f, 193.75f, 71.25f, 10.0f};
    uint8_t small[6] = {0, 100, 50, 200, 255, 10};
    data_image sim = {1, 2, 3, 0, small, NULL};
    o.resize = 4; /* 2 x 3 → 4 x 6, placed in a 6 x 6 field at row 1 */
    o.mean[0] = 0;
    o.std[0] = 1.0f / 255.0f;
    CHECK(data_xform_plan(&x, &o, 1, 6, 1, 2, 3, NULL) == HPK_OK && x.rh == 4 && x.rw == 6 && x.oy == -1);
    data_xform_apply(&x, &sim, out);
    ok = 1;
    for (int k = 0; k < 24; k++)
        ok &= near(out[6 + k], up[k], 1e-4f);
    ok &= out[0] == 0 && out[35] == 0;
    CHECK(ok);
    /* downscale 5 x 7 → 3 x 4 (x = arange(35) * 7 % 256; same command with size=(3,4)) */
    static const float down[12] = {18.958332f, 31.208334f, 43.458332f, 55.708332f, 100.624992f, 112.875f,
                                   125.124992f, 137.375f, 182.291656f, 194.541656f, 206.791656f, 219.041656f};
    uint8_t d57[35];
    for (int i = 0; i < 35; i++)
        d57[i] = (uint8_t)(i * 7 % 256);
    data_image dim = {1, 5, 7, 0, d57, NULL};
    o.resize = 3;
    CHECK(data_xform_plan(&x, &o, 1, 4, 1, 5, 7, NULL) == HPK_OK && x.rh == 3 && x.rw == 4 && x.oy == 0);
    data_xform_apply(&x, &dim, out);
    ok = 1;
    for (int k = 0; k < 12; k++)
        ok &= near(out[k], down[k], 1e-4f);
    CHECK(ok);
    /* a zero-sized image is refused */
    CHECK(data_xform_plan(&x, &o, 1, 4, 1, 0, 7, NULL) == HPK_EINPUT);
}

/* ---- the loader: determinism, epochs, resume, augmentation as the set of crops ------------------------------ */
/* A uint8 npy dataset of n items, 8 x 8 gray; item i has label i % 10 and pixels (i * 3 + y * 8 + x) % 251. */
static void make_index_npy(const char *imgs, const char *labs, int n)
{
    uint8_t *u = malloc((size_t)n * 64);
    int64_t *l = malloc((size_t)n * sizeof *l);
    for (int i = 0; i < n; i++) {
        l[i] = i % 10;
        for (int k = 0; k < 64; k++)
            u[i * 64 + k] = (uint8_t)((i * 3 + k) % 251);
    }
    save_npy(imgs, HPK_DT_U8, 4, (int64_t[]){n, 8, 8, 1}, u);
    save_npy(labs, HPK_DT_I64, 1, (int64_t[]){n}, l);
    free(u);
    free(l);
}

typedef struct run {
    float *x;
    int64_t *y;
    int *n;
    long nb;
} run;

/* Collects up to max returns of data_loader_next (n = 0 markers included). */
static run collect(data_dataset *ds, const data_loader_opts *o, long max)
{
    run r = {0};
    hpk_err err = {0};
    data_loader *L = NULL;
    CHECK_RC(data_loader_create(&L, ds, o, &err), HPK_OK, &err);
    if (!L)
        return r;
    int c, h, w;
    data_loader_geometry(L, &c, &h, &w);
    size_t per = (size_t)o->batch * (size_t)(c * h * w);
    r.x = calloc((size_t)max, per * sizeof(float));
    r.y = calloc((size_t)max * (size_t)o->batch, sizeof(int64_t));
    r.n = calloc((size_t)max, sizeof(int));
    for (r.nb = 0; r.nb < max; r.nb++) {
        data_batch b;
        int n = data_loader_next(L, &b, &err);
        CHECK(n >= 0);
        if (n < 0) {
            fprintf(stderr, "%s\n", err.msg);
            break;
        }
        r.n[r.nb] = n;
        if (n > 0) {
            memcpy(r.x + (size_t)r.nb * per, b.x, per * sizeof(float));
            memcpy(r.y + (size_t)r.nb * (size_t)o->batch, b.y, (size_t)o->batch * sizeof(int64_t));
        }
    }
    data_loader_free(L);
    return r;
}

static int same_run(const run *a, const run *b, size_t per, int batch)
{
    if (a->nb != b->nb || !a->x || !b->x)
        return 0;
    return memcmp(a->n, b->n, (size_t)a->nb * sizeof(int)) == 0 &&
           memcmp(a->x, b->x, (size_t)a->nb * per * sizeof(float)) == 0 &&
           memcmp(a->y, b->y, (size_t)a->nb * (size_t)batch * sizeof(int64_t)) == 0;
}

static void free_run(run *r)
{
    free(r->x);
    free(r->y);
    free(r->n);
    memset(r, 0, sizeof *r);
}

static void test_loader(void)
{
    mkdirs("loader");
    make_index_npy("loader/i.npy", "loader/l.npy", 100);
    char spec[2200];
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("loader/i.npy"), tpath("loader/l.npy"));
    hpk_err err = {0};
    data_dataset *ds = NULL;
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (!ds)
        return;
    data_loader_opts o;
    data_loader_opts_default(&o, ds, 1);
    CHECK(o.size == 8 && o.resize == 0 && o.augment && o.shuffle && o.drop_last);
    o.batch = 16;
    o.pad = 2;
    o.seed = 1234;
    o.epochs = 3;
    o.threads = 0;
    const size_t per = 16 * 64;
    /* 100 items, batch 16, drop_last: 6 batches, then the epoch marker; 3 epochs = 21 returns, then 0 for good */
    run r0 = collect(ds, &o, 23);
    int ok = r0.nb == 23;
    for (long k = 0; k < r0.nb; k++)
        ok &= r0.n[k] == ((k % 7 == 6 || k >= 21) ? 0 : 16);
    CHECK(ok);
    for (int th = 1; th <= 4; th += 3) {
        o.threads = th;
        o.prefetch = th == 4 ? 3 : 0;
        run r1 = collect(ds, &o, 23);
        CHECK(same_run(&r0, &r1, per, 16)); /* bit-identical whatever the number of threads */
        free_run(&r1);
    }
    /* every batch is a valid augmentation of its items: one of the (crop, flip) choices of pad 2 + crop 8 */
    ok = 1;
    int flips = 0, offsets[5] = {0};
    for (long k = 0; k < r0.nb; k++) {
        if (!r0.n[k])
            continue;
        for (int j = 0; j < 16; j++) {
            const float *s = r0.x + (size_t)k * per + (size_t)j * 64;
            int found = 0;
            for (int item = 0; item < 100 && !found; item++) {
                if (item % 10 != r0.y[(size_t)k * 16 + (size_t)j])
                    continue;
                for (int oy = 0; oy <= 4 && !found; oy++)
                    for (int ox = 0; ox <= 4 && !found; ox++)
                        for (int fl = 0; fl < 2 && !found; fl++) {
                            int m = 1;
                            for (int y = 0; y < 8 && m; y++)
                                for (int xx = 0; xx < 8 && m; xx++) {
                                    int sy = y + oy - 2, sx = (fl ? 7 - xx : xx) + ox - 2;
                                    float v = sy >= 0 && sy < 8 && sx >= 0 && sx < 8
                                                  ? (float)((item * 3 + sy * 8 + sx) % 251)
                                                  : 0.0f;
                                    m = near(s[y * 8 + xx], (v / 255.0f - o.mean[0]) / o.std[0], 1e-5f);
                                }
                            if (m) {
                                found = 1;
                                flips += fl;
                                offsets[ox]++;
                            }
                        }
            }
            ok &= found;
        }
    }
    CHECK(ok);
    CHECK(flips > 50 && flips < 238 && offsets[0] > 0 && offsets[4] > 0); /* 288 samples: both flips, all shifts */
    /* shuffled: each epoch's order differs and is a permutation (checked on an eval-style run with labels = items) */
    run r2;
    o.seed = 99;
    o.threads = 2;
    r2 = collect(ds, &o, 7);
    CHECK(!same_run(&r0, &r2, per, 16) && r2.nb == 7);
    free_run(&r2);
    /* resume: starting at (epoch 1, batch 2) gives the same batches as a run from the start */
    o.seed = 1234;
    o.start_epoch = 1;
    o.start_batch = 2;
    o.threads = 3;
    run r3 = collect(ds, &o, 5);
    CHECK(r3.nb == 5 && r3.x && memcmp(r3.x, r0.x + (size_t)9 * per, 4 * per * sizeof(float)) == 0 &&
          r3.n[4] == 0 && memcmp(r3.y, r0.y + 9 * 16, 4 * 16 * sizeof(int64_t)) == 0);
    free_run(&r3);
    o.start_epoch = 3;
    hpk_err_clear(&err);
    data_loader *L = NULL;
    CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_EINPUT, &err); /* past the last epoch */
    o.start_epoch = 0;
    o.start_batch = 6;
    hpk_err_clear(&err);
    CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_EINPUT, &err); /* past the last batch */
    free_run(&r0);

    /* evaluation: file order, full last partial batch, no augmentation */
    data_loader_opts_default(&o, ds, 0);
    o.batch = 16;
    o.epochs = 1;
    o.threads = 2;
    run e = collect(ds, &o, 9);
    ok = e.nb == 9 && e.n[6] == 4 && e.n[7] == 0 && e.n[8] == 0;
    for (int k = 0; ok && k < 100; k++) {
        size_t b = (size_t)k / 16, j = (size_t)k % 16;
        ok &= e.y[b * 16 + j] == k % 10;
        ok &= near(e.x[b * per + j * 64 + 9], ((float)((k * 3 + 9) % 251) / 255.0f - o.mean[0]) / o.std[0], 1e-5f);
    }
    CHECK(ok);
    CHECK(e.x && e.x[6 * per + 4 * 64] == 0.0f && e.y[6 * 16 + 4] == 0); /* past n: zeros */
    free_run(&e);
    /* shuffled evaluation epochs are permutations: every item once */
    o.shuffle = 1;
    o.seed = 5;
    o.epochs = 2;
    o.batch = 7;
    o.channels = 3; /* gray → 3 channels */
    data_loader_opts_channels(&o, 1, 3);
    L = NULL;
    CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_OK, &err);
    if (L) {
        CHECK(data_loader_batches_per_epoch(L) == 15);
        for (int ep = 0; ep < 2; ep++) {
            int seen[100] = {0}, total = 0, n;
            data_batch b;
            while ((n = data_loader_next(L, &b, &err)) > 0) {
                CHECK(b.c == 3 && b.epoch == ep);
                for (int j = 0; j < n; j++) {
                    /* recover the item from its pixel (0, 0): (item * 3) % 251 */
                    float v = (b.x[(size_t)j * 192] * o.std[0] + o.mean[0]) * 255.0f;
                    int item = -1;
                    for (int i = 0; i < 100; i++)
                        if (fabsf((float)((i * 3) % 251) - v) < 0.01f)
                            item = i;
                    if (item >= 0)
                        seen[item]++;
                    total++;
                }
            }
            CHECK(n == 0 && total == 100);
            int all = 1;
            for (int i = 0; i < 100; i++)
                all &= seen[i] == 1;
            CHECK(all);
        }
        data_batch b;
        CHECK(data_loader_next(L, &b, &err) == 0);
        data_loader_free(L);
    }

    /* budget: the ring counts */
    data_loader_opts_default(&o, ds, 1);
    o.batch = 16;
    o.threads = 2;
    o.mem_budget = data_dataset_info(ds)->mem_bytes + 1000;
    hpk_err_clear(&err);
    L = NULL;
    CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_ENOMEM, &err);
    CHECK(L == NULL && contains(err.msg, "memory budget") && contains(err.msg, "prefetched batches"));
    /* bad options */
    data_loader_opts_default(&o, ds, 1);
    o.batch = 0;
    hpk_err_clear(&err);
    CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_EINPUT, &err);
    o.batch = 101;
    hpk_err_clear(&err);
    CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_EINPUT, &err); /* no full batch with drop_last */
    o.batch = 10;
    o.std[0] = 0;
    hpk_err_clear(&err);
    CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_EINPUT, &err);

    /* shutdown at any point: right away, mid-epoch, with endless epochs and more threads than batches */
    data_loader_opts_default(&o, ds, 1);
    o.batch = 8;
    o.threads = 4;
    for (int k = 0; k < 20; k++) {
        L = NULL;
        CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_OK, &err);
        data_batch b;
        for (int j = 0; j < k % 5; j++)
            CHECK(data_loader_next(L, &b, &err) >= 0);
        data_loader_free(L);
    }
    data_dataset_free(ds);
}

static void test_fashion_loader(void)
{
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK))
        return;
    hpk_err err = {0};
    data_dataset *ds = NULL;
    CHECK_RC(data_dataset_open(&ds, "fashion-mnist:test", 0, &err), HPK_OK, &err);
    if (!ds)
        return;
    data_loader_opts o;
    data_loader_opts_default(&o, ds, 1);
    CHECK(o.size == 32 && o.pad == 2 && o.channels == 1 && near(o.mean[0], 0.2860f, 1e-6f));
    o.batch = 64;
    o.seed = 7;
    o.threads = 0;
    o.epochs = 0;
    run a = collect(ds, &o, 40);
    o.threads = 4;
    run b = collect(ds, &o, 40);
    CHECK(same_run(&a, &b, 64 * 1024, 64));
    /* 28 px padded to 32: the border rows are the normalized zero */
    CHECK(a.x && a.x[0] == -0.2860f / 0.3530f && a.x[31 * 32 + 5] == -0.2860f / 0.3530f);
    free_run(&a);
    free_run(&b);
    data_dataset_free(ds);
}

#ifdef HPK_HAVE_IMAGES
static int data_read_file_for_test(const char *path, data_scratch *s, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return HPK_EIO;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    free(s->file);
    s->file = malloc((size_t)size + 1);
    s->file_cap = (size_t)size + 1;
    *n = fread(s->file, 1, (size_t)size, f);
    fclose(f);
    return *n == (size_t)size ? HPK_OK : HPK_EIO;
}

/* ---- folders of images, good and bad ---------------------------------------------------------------------- */
/* a smooth pattern (JPEG keeps it within a few levels) */
static uint8_t pix_at(int y, int x, int c) { return (uint8_t)(y * 3 + x * 2 + c * 40); }

static void write_png(const char *path, int w, int h, int ctype, int depth_in)
{
    int depth = depth_in < 0 ? -depth_in : depth_in, interlace = depth_in < 0;
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (!f || !p || !info || setjmp(png_jmpbuf(p))) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color pal[256];
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        for (int k = 0; k < 256; k++)
            pal[k] = (png_color){(png_byte)k, (png_byte)(255 - k), (png_byte)(k / 2)};
        png_set_PLTE(p, info, pal, 256);
    }
    png_write_info(p, info);
    int ch = ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_PALETTE ? 1
             : ctype == PNG_COLOR_TYPE_GRAY_ALPHA                             ? 2
             : ctype == PNG_COLOR_TYPE_RGB                                    ? 3
                                                                              : 4;
    int bps = depth / 8;
    size_t rb = depth == 1 ? ((size_t)w + 7) / 8 : (size_t)w * (size_t)ch * (size_t)bps;
    uint8_t *img = calloc((size_t)h, rb);
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++) {
        uint8_t *row = rows[y] = img + (size_t)y * rb;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                uint8_t v = (ch == 2 || ch == 4) && c == ch - 1 ? (uint8_t)(x * 40) : pix_at(y, x, c);
                if (depth == 1) {
                    if ((x + y) & 1) /* a checkerboard */
                        row[x / 8] |= (uint8_t)(0x80 >> (x % 8));
                } else if (bps == 2) {
                    row[(x * ch + c) * 2] = v; /* 16-bit: v * 257, so dropping the low byte gives v */
                    row[(x * ch + c) * 2 + 1] = v;
                } else {
                    row[x * ch + c] = v;
                }
            }
    }
    if (interlace)
        png_set_interlace_handling(p);
    png_write_image(p, rows);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(rows);
    free(img);
    fclose(f);
}

/* A JPEG in memory (free with free()). */
static uint8_t *make_jpeg(int w, int h, int ch, int quality, size_t *n)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr em;
    ci.err = jpeg_std_error(&em);
    jpeg_create_compress(&ci);
    unsigned char *buf = NULL;
    unsigned long size = 0;
    jpeg_mem_dest(&ci, &buf, &size);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = ch;
    ci.in_color_space = ch == 1 ? JCS_GRAYSCALE : ch == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality < 0 ? -quality : quality, TRUE);
    if (quality < 0) /* negative quality: progressive */
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * (size_t)ch);
    while (ci.next_scanline < ci.image_height) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                row[x * ch + c] =
                    ch == 4 ? (uint8_t)(c == 3 ? 255 : 200 - 50 * c) : pix_at((int)ci.next_scanline, x, c);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    *n = size;
    return buf;
}

static void write_huge_png(const char *path, uint32_t w, uint32_t h)
{
    uint8_t b[8 + 25 + 12 + 12];
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    be32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    be32(b + 16, w);
    be32(b + 20, h);
    b[24] = 8;
    b[25] = 2;
    b[26] = b[27] = b[28] = 0;
    be32(b + 29, (uint32_t)crc32(0, b + 12, 17));
    be32(b + 33, 0); /* an empty IDAT */
    memcpy(b + 37, "IDAT", 4);
    be32(b + 41, (uint32_t)crc32(0, b + 37, 4));
    be32(b + 45, 0);
    memcpy(b + 49, "IEND", 4);
    be32(b + 53, (uint32_t)crc32(0, b + 49, 4));
    write_bytes(path, b, sizeof b);
}

/* Patches the SOF0 dimensions of a JPEG. */
static void jpeg_set_dims(uint8_t *b, size_t n, unsigned w, unsigned h)
{
    for (size_t k = 2; k + 9 < n; k++)
        if (b[k] == 0xff && b[k + 1] == 0xc0) {
            b[k + 5] = (uint8_t)(h >> 8);
            b[k + 6] = (uint8_t)h;
            b[k + 7] = (uint8_t)(w >> 8);
            b[k + 8] = (uint8_t)w;
            return;
        }
}

static void test_folder(void)
{
    mkdirs("folder/cat");
    mkdirs("folder/dog");
    mkdirs("folder/eel");
    mkdirs("folder/.hidden_class");
    /* good images */
    write_png(tpath("folder/cat/a_gray.png"), 20, 12, PNG_COLOR_TYPE_GRAY, 8);
    write_png(tpath("folder/cat/b_rgb.png"), 17, 9, PNG_COLOR_TYPE_RGB, 8);
    write_png(tpath("folder/cat/c_rgba.png"), 10, 10, PNG_COLOR_TYPE_RGB_ALPHA, 8);
    write_png(tpath("folder/dog/d_rgb16.png"), 8, 11, PNG_COLOR_TYPE_RGB, 16);
    write_png(tpath("folder/dog/e_pal.png"), 9, 9, PNG_COLOR_TYPE_PALETTE, 8);
    write_png(tpath("folder/dog/f_graya.png"), 9, 7, PNG_COLOR_TYPE_GRAY_ALPHA, 8);
    size_t n;
    uint8_t *j = make_jpeg(40, 30, 3, 95, &n);
    write_bytes(tpath("folder/eel/g_rgb.jpg"), j, n);
    write_bytes(tpath("folder/eel/h_jpeg_named.png"), j, n); /* the format is told by magic, not by name */
    /* bad ones */
    write_bytes(tpath("folder/cat/zero.png"), "", 0);
    write_bytes(tpath("folder/cat/text.jpg"), "hello, I am not an image\n", 25);
    write_bytes(tpath("folder/dog/trunc.jpg"), j, n / 2);
    uint8_t *bad = malloc(n);
    memcpy(bad, j, n);
    for (size_t k = n / 3; k < n - 2; k++) /* scan data scrambled after the headers */
        bad[k] = (uint8_t)(k * 151 + 17);
    write_bytes(tpath("folder/dog/corrupt.jpg"), bad, n);
    memcpy(bad, j, n);
    jpeg_set_dims(bad, n, 60000, 60000);
    write_bytes(tpath("folder/eel/huge.jpg"), bad, n);
    memcpy(bad, j, n);
    jpeg_set_dims(bad, n, 16000, 16000); /* within the side limit, 256 Mpixel in all */
    write_bytes(tpath("folder/eel/huge2.jpg"), bad, n);
    free(bad);
    write_huge_png(tpath("folder/eel/huge.png"), 100000, 100000);
    {
        /* a PNG with a corrupted IDAT byte (CRC mismatch) and a truncated PNG */
        FILE *f = fopen(tpath("folder/cat/b_rgb.png"), "rb");
        uint8_t pb[4096];
        size_t pn = fread(pb, 1, sizeof pb, f);
        fclose(f);
        write_bytes(tpath("folder/cat/trunc.png"), pb, pn - 40);
        pb[pn - 30] ^= 0x55;
        write_bytes(tpath("folder/cat/crc.png"), pb, pn);
    }
    write_bytes(tpath("folder/cat/.DS_Store"), "junk", 4); /* hidden: not an item */
    free(j);
    j = make_jpeg(33, 21, 1, 90, &n);
    write_bytes(tpath("folder/eel/i_gray.jpg"), j, n);
    free(j);
    const int nbad = 9;
    static const char *bad_names[] = {"cat/crc.png", "cat/text.jpg", "cat/trunc.png", "cat/zero.png",
                                      "dog/corrupt.jpg", "dog/trunc.jpg", "eel/huge.jpg", "eel/huge.png",
                                      "eel/huge2.jpg"};

    hpk_err err = {0};
    data_dataset *ds = NULL;
    char spec[1100], name[64];
    snprintf(spec, sizeof spec, "folder:%s", tpath("folder"));
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (!ds)
        return;
    const data_info *in = data_dataset_info(ds);
    CHECK(in->count == 18 && in->classes == 3 && in->kind == DATA_FOLDER && in->c == 3 && in->h == 0);
    CHECK(strcmp(data_dataset_class_name(ds, 0, name, sizeof name), "cat") == 0 &&
          strcmp(data_dataset_class_name(ds, 2, name, sizeof name), "eel") == 0);
    /* direct decoding: the good ones decode with known pixels, the bad ones fail with a reason, never a crash */
    data_scratch s = {0};
    data_image im;
    int64_t l;
    int good = 0, bads = 0;
    for (size_t i = 0; i < in->count; i++) {
        hpk_err e = {0};
        int rc = data_dataset_get(ds, i, 0, &s, &im, &l, &e);
        if (rc == HPK_OK)
            good++;
        else
            bads++;
        CHECK(rc == HPK_OK || rc == HPK_EINPUT);
    }
    CHECK(good == 9 && bads == nbad);
    /* exact PNG pixels: cat/a_gray.png is item 0 (gray), cat/b_rgb.png item 1 (RGB), cat/c_rgba.png item 2 */
    CHECK_RC(data_dataset_get(ds, 0, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 1 && im.h == 12 && im.w == 20 && l == 0 && im.u8[5 * 20 + 7] == pix_at(5, 7, 0));
    CHECK_RC(data_dataset_get(ds, 1, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 3 && im.h == 9 && im.w == 17 && im.u8[(4 * 17 + 3) * 3 + 2] == pix_at(4, 3, 2));
    CHECK_RC(data_dataset_get(ds, 2, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 3 && im.u8[(9 * 10 + 9) * 3 + 1] == pix_at(9, 9, 1)); /* alpha dropped */
    /* dog/: corrupt.jpg 7, d_rgb16.png 8, e_pal.png 9, f_graya.png 10, trunc.jpg 11 */
    CHECK_RC(data_dataset_get(ds, 8, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 3 && im.h == 11 && im.w == 8 && l == 1 && im.u8[(10 * 8 + 7) * 3] == pix_at(10, 7, 0));
    CHECK_RC(data_dataset_get(ds, 9, 0, &s, &im, &l, &err), HPK_OK, &err);
    uint8_t pv = pix_at(2, 3, 0);
    CHECK(im.c == 3 && im.u8[(2 * 9 + 3) * 3] == pv && im.u8[(2 * 9 + 3) * 3 + 1] == 255 - pv);
    CHECK_RC(data_dataset_get(ds, 10, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 1 && im.u8[3 * 9 + 4] == pix_at(3, 4, 0));
    /* eel/: g_rgb.jpg 12, h_jpeg_named.png 13, huge.jpg 14, huge.png 15, huge2.jpg 16, i_gray.jpg 17 */
    CHECK_RC(data_dataset_get(ds, 13, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 3 && im.h == 30 && im.w == 40 && l == 2 && abs(im.u8[(20 * 40 + 10) * 3] - pix_at(20, 10, 0)) < 8);
    CHECK_RC(data_dataset_get(ds, 17, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 1 && im.h == 21 && im.w == 33);
    /* the DCT-scaled decode: 40 x 30 with want_short 8 decodes at 1/4 (30 / 4 → 8 >= 8; 30 / 8 → 4 < 8) */
    CHECK_RC(data_dataset_get(ds, 12, 8, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.h == 8 && im.w == 10);
    static const struct {
        size_t i;
        const char *why;
    } reasons[] = {{3, "corrupt PNG"},      {4, "not a JPEG or PNG"}, {5, "truncated"},      {6, "empty file"},
                   {7, "corrupt"},  {11, "corrupt JPEG"},     {14, "beyond the limits"}, {15, "IHDR"},
                   {16, "beyond the limits"}};
    for (size_t k = 0; k < sizeof reasons / sizeof *reasons; k++) {
        hpk_err e = {0};
        CHECK_RC(data_dataset_get(ds, reasons[k].i, 0, &s, &im, &l, &e), HPK_EINPUT, &e);
        if (!contains(e.msg, reasons[k].why)) {
            failures++;
            fprintf(stderr, "item %zu: '%s' does not say '%s'\n", reasons[k].i, e.msg, reasons[k].why);
        }
    }
    /* substitution: a bad item is replaced by the next good one in file order */
    size_t used = 0;
    CHECK_RC(data_dataset_get_good(ds, 3, 0, &s, &im, &l, &used, &err), HPK_OK, &err);
    CHECK(used == 8 && l == 1);
    CHECK_RC(data_dataset_get_good(ds, 14, 0, &s, &im, &l, &used, &err), HPK_OK, &err);
    CHECK(used == 17);
    data_scratch_free(&s);
    data_dataset_free(ds);

    /* a training loader over the folder: everything bad is skipped, counted and reported; 1 and 4 threads agree */
    run rr[2];
    for (int t = 0; t < 2; t++) {
        CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
        if (!ds)
            return;
        data_loader_opts o;
        data_loader_opts_default(&o, ds, 1);
        CHECK(o.resize == 256 && o.size == 224 && near(o.mean[1], 0.456f, 1e-6f));
        o.resize = 24;
        o.size = 16;
        o.batch = 5;
        o.seed = 3;
        o.epochs = 2;
        o.threads = t ? 4 : 1;
        rr[t] = collect(ds, &o, 9); /* 3 batches + marker, twice, then 0 */
        CHECK(rr[t].nb == 9 && rr[t].n[0] == 5 && rr[t].n[3] == 0 && rr[t].n[7] == 0);
        data_skip sk[16];
        size_t total = data_dataset_skipped(ds, sk, 16);
        /* drop_last leaves 3 items out of each epoch, so not every bad file need have been met: decode the rest */
        data_scratch s2 = {0};
        for (size_t i = 0; i < 18; i++)
            CHECK(data_dataset_get_good(ds, i, 0, &s2, &im, &l, NULL, &err) == HPK_OK);
        data_scratch_free(&s2);
        total = data_dataset_skipped(ds, sk, 16);
        CHECK(total == (size_t)nbad);
        int names_ok = 1;
        for (int k = 0; k < nbad; k++)
            names_ok &= strcmp(sk[k].path, bad_names[k]) == 0 && sk[k].why[0] != 0;
        CHECK(names_ok);
        char rep[2048];
        CHECK(data_dataset_skipped_report(ds, rep, sizeof rep, 3) == (size_t)nbad);
        CHECK(contains(rep, "skipped 9 undecodable images in") && contains(rep, "cat/crc.png (") &&
              contains(rep, "cat/trunc.png") && contains(rep, ", ...") && !contains(rep, "dog/"));
        if (t == 0)
            printf("report: %s\n", rep);
        data_dataset_free(ds);
    }
    CHECK(same_run(&rr[0], &rr[1], 5 * 3 * 16 * 16, 5));
    free_run(&rr[0]);
    free_run(&rr[1]);

    /* probes */
    CHECK_RC(data_probe_file(DATA_PROBE_IMAGE, tpath("folder/eel/g_rgb.jpg"), &err), HPK_OK, &err);
    hpk_err_clear(&err);
    CHECK_RC(data_probe_file(DATA_PROBE_IMAGE, tpath("folder/eel/huge.png"), &err), HPK_EINPUT, &err);

    /* a folder of nothing but bad images: a loader error with a message, not a hang or a crash */
    mkdirs("allbad/x");
    write_bytes(tpath("allbad/x/a.jpg"), "nope", 4);
    write_bytes(tpath("allbad/x/b.png"), "", 0);
    snprintf(spec, sizeof spec, "folder:%s", tpath("allbad"));
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (ds) {
        data_loader_opts o;
        data_loader_opts_default(&o, ds, 0);
        o.batch = 2;
        o.threads = 2;
        data_loader *L = NULL;
        CHECK_RC(data_loader_create(&L, ds, &o, &err), HPK_OK, &err);
        data_batch b;
        hpk_err_clear(&err);
        CHECK(L && data_loader_next(L, &b, &err) == -HPK_EINPUT && contains(err.msg, "no item decodes"));
        data_loader_free(L);
        data_dataset_free(ds);
    }
    /* folders without classes or files */
    mkdirs("noclass");
    snprintf(spec, sizeof spec, "folder:%s", tpath("noclass"));
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_EINPUT, &err);
    mkdirs("nofiles/a");
    snprintf(spec, sizeof spec, "folder:%s", tpath("nofiles"));
    hpk_err_clear(&err);
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_EINPUT, &err);
}

/* More decoder paths: CMYK and progressive JPEG, interlaced and 1-bit PNG; a FIFO in a class folder is no item. */
static void test_images_more(void)
{
    mkdirs("more/a");
    size_t n;
    uint8_t *j = make_jpeg(24, 16, 4, 95, &n);
    write_bytes(tpath("more/a/1_cmyk.jpg"), j, n);
    free(j);
    j = make_jpeg(40, 30, 3, -90, &n);
    write_bytes(tpath("more/a/2_progressive.jpg"), j, n);
    free(j);
    write_png(tpath("more/a/3_adam7.png"), 13, 11, PNG_COLOR_TYPE_RGB, -8);
    write_png(tpath("more/a/4_bits.png"), 11, 5, PNG_COLOR_TYPE_GRAY, 1);
    CHECK(mkfifo(tpath("more/a/5_fifo.png"), 0600) == 0);
    hpk_err err = {0};
    data_dataset *ds = NULL;
    char spec[1100];
    snprintf(spec, sizeof spec, "folder:%s", tpath("more"));
    CHECK_RC(data_dataset_open(&ds, spec, 0, &err), HPK_OK, &err);
    if (!ds)
        return;
    CHECK(data_dataset_info(ds)->count == 4);
    data_scratch s = {0};
    data_image im;
    int64_t l;
    /* Adobe CMYK is stored inverted: C = 200, M = 150, Y = 100, K = 255 → R, G, B = 200, 150, 100 */
    CHECK_RC(data_dataset_get(ds, 0, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 3 && im.h == 16 && im.w == 24 && abs(im.u8[0] - 200) <= 2 && abs(im.u8[1] - 150) <= 2 &&
          abs(im.u8[2] - 100) <= 2);
    CHECK_RC(data_dataset_get(ds, 1, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 3 && im.h == 30 && im.w == 40 && abs(im.u8[(20 * 40 + 10) * 3 + 1] - pix_at(20, 10, 1)) < 8);
    CHECK_RC(data_dataset_get(ds, 2, 0, &s, &im, &l, &err), HPK_OK, &err);
    int ok = im.c == 3 && im.h == 11 && im.w == 13;
    for (int y = 0; ok && y < 11; y++)
        for (int x = 0; x < 13; x++)
            for (int c = 0; c < 3; c++)
                ok &= im.u8[(y * 13 + x) * 3 + c] == pix_at(y, x, c);
    CHECK(ok);
    CHECK_RC(data_dataset_get(ds, 3, 0, &s, &im, &l, &err), HPK_OK, &err);
    CHECK(im.c == 1 && im.h == 5 && im.w == 11 && im.u8[0] == 0 && im.u8[1] == 255 && im.u8[11] == 255);
    /* the FIFO swapped in for a listed file: refused at once (not a regular file), no hang */
    rename(tpath("more/a/3_adam7.png"), tpath("more/a/3_moved.png"));
    rename(tpath("more/a/5_fifo.png"), tpath("more/a/3_adam7.png"));
    hpk_err e = {0};
    CHECK_RC(data_dataset_get(ds, 2, 0, &s, &im, &l, &e), HPK_EINPUT, &e);
    CHECK(contains(e.msg, "not a regular file"));
    data_scratch_free(&s);
    data_dataset_free(ds);
}

#endif

/* Mutation smoke test (a stand-in until the libFuzzer targets of issue 7): seeded byte flips, insertions and
 * truncations of good files must only ever give HPK_OK or an error, never a crash (run under ASan/UBSan). */
static void mutate(ir_rng *r, uint8_t *b, size_t *n, size_t cap)
{
    int kinds = 1 + (int)ir_rng_below(r, 4);
    for (int k = 0; k < kinds && *n; k++) {
        size_t at = ir_rng_below(r, (uint32_t)*n);
        switch (ir_rng_below(r, 4)) {
        case 0: b[at] ^= (uint8_t)(1u << ir_rng_below(r, 8)); break;
        case 1: b[at] = (uint8_t)ir_rng_u32(r); break;
        case 2: *n = at + 1; break; /* truncate */
        default:                    /* a 0xff or a huge byte run, as in markers and dimensions */
            for (size_t j = at; j < *n && j < at + 4 && j < cap; j++)
                b[j] = ir_rng_below(r, 2) ? 0xff : 0x7f;
            break;
        }
    }
}

static void test_mutations(void)
{
    ir_rng r;
    ir_rng_seed(&r, 2024, 7);
    hpk_err err;
    const char *env = getenv("HPK_DATA_MUTATIONS"); /* a longer run by hand: HPK_DATA_MUTATIONS=100000 */
    int iters = env ? atoi(env) : 1000;
    int ok = 0, bad = 0, other = 0;
#ifdef HPK_HAVE_IMAGES
    size_t jn = 0;
    uint8_t *jpg = make_jpeg(24, 20, 3, 80, &jn), *pjpg;
    size_t pn = 0;
    pjpg = make_jpeg(24, 20, 3, -80, &pn);
    write_png(tpath("mut.png"), 12, 10, PNG_COLOR_TYPE_RGB_ALPHA, -8);
    data_scratch s = {0};
    size_t png_n = 0;
    CHECK(data_read_file_for_test(tpath("mut.png"), &s, &png_n) == HPK_OK);
    uint8_t *png = malloc(png_n);
    memcpy(png, s.file, png_n);
    uint8_t buf[8192];
    for (int it = 0; it < 3 * iters; it++) {
        const uint8_t *src = it % 3 == 0 ? jpg : it % 3 == 1 ? pjpg : png;
        size_t n = it % 3 == 0 ? jn : it % 3 == 1 ? pn : png_n;
        if (n > sizeof buf)
            n = sizeof buf;
        memcpy(buf, src, n);
        mutate(&r, buf, &n, sizeof buf);
        data_image im;
        hpk_err_clear(&err);
        int rc = data_image_decode(buf, n, (int)ir_rng_below(&r, 3) * 4, &s, &im, "mutant", &err);
        if (rc == HPK_OK && (im.c < 1 || im.h < 1 || im.w < 1))
            other++;
        rc == HPK_OK ? ok++ : rc == HPK_EINPUT ? bad++ : other++;
    }
    free(jpg);
    free(pjpg);
    free(png);
    data_scratch_free(&s);
#endif
    /* IDX, CIFAR and npy headers, through files */
    uint8_t idx[16 + 2 * 5 * 5], cif[3073 * 2], npy[256];
    idx_images(idx, 2, 5, 5, 1);
    for (size_t k = 0; k < sizeof cif; k++)
        cif[k] = (uint8_t)(k % 3073 == 0 ? 3 : k);
    int64_t lab[3] = {1, 2, 3};
    save_npy("mut_l.npy", HPK_DT_I64, 1, (int64_t[]){3}, lab);
    FILE *f = fopen(tpath("mut_l.npy"), "rb");
    size_t npy_n = fread(npy, 1, sizeof npy, f);
    fclose(f);
    for (int it = 0; it < iters; it++) {
        uint8_t b[sizeof cif];
        const uint8_t *src = it % 3 == 0 ? idx : it % 3 == 1 ? cif : npy;
        size_t n = it % 3 == 0 ? sizeof idx : it % 3 == 1 ? sizeof cif : npy_n;
        memcpy(b, src, n);
        mutate(&r, b, &n, sizeof b);
        const char *path = tpath(it % 6 == 0 ? "mut.idx" : "mut.bin");
        if (it % 6 == 3) {
            write_gz(path, b, n);
        } else {
            write_bytes(path, b, n);
        }
        hpk_err_clear(&err);
        int kind = it % 3 == 0 ? DATA_PROBE_IDX : it % 3 == 1 ? DATA_PROBE_CIFAR : DATA_PROBE_NPY;
        int rc = data_probe_file(kind, path, &err);
        rc == HPK_OK ? ok++ : rc == HPK_EINPUT ? bad++ : other++;
        CHECK(rc == HPK_OK || err.msg[0]);
    }
    CHECK(other == 0);
    printf("mutations: %d decoded, %d refused\n", ok, bad);
}

int main(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/hpk-test-data-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_fashion();
    test_idx();
    test_cifar();
    test_npy();
    test_xform();
    test_loader();
    test_fashion_loader();
#ifdef HPK_HAVE_IMAGES
    test_folder();
    test_images_more();
#else
    fprintf(stderr, "built without libjpeg/libpng: folder tests skipped\n");
#endif
    test_mutations();
    nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    printf("test_data: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
