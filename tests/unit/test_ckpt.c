/* test_ckpt.c — checkpoints: round trip, every bit flip, every truncation, crafted headers with right checksums,
 * allocation failures, failing writes (RLIMIT_FSIZE, injected ENOSPC/EIO/EINTR/short writes), kill -9 mid-write. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ckpt.h"

static char g_dir[256];

/* ---- helpers ------------------------------------------------------------------------------------------------ */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* recompute both checksums of a (crafted) checkpoint so the structural checks are what gets tested */
static void fix_crcs(unsigned char *b, size_t n)
{
    if (n >= 64)
        put32(b + 56, crc32c_bitwise(b, 56));
    if (n >= 8)
        put32(b + n - 8, crc32c_bitwise(b, n - 8));
}

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static void write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* an allocator that records the largest request */
typedef struct track_alloc {
    size_t max_request;
    long live;
} track_alloc;

static void *track_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    track_alloc *t = ud;
    (void)osize;
    if (nsize == 0) {
        if (ptr)
            t->live--;
        free(ptr);
        return NULL;
    }
    if (nsize > t->max_request)
        t->max_request = nsize;
    void *q = realloc(ptr, nsize);
    if (q && !ptr)
        t->live++;
    return q;
}

/* ---- a sample checkpoint ------------------------------------------------------------------------------------ */
static float g_w[6] = {1.5f, -2.25f, 3.0f, 0.125f, -0.0f, 1e-30f};
static float g_m[6] = {0.5f, 0.25f, -0.75f, 1.0f, 2.0f, 3.0f};
static unsigned char g_u8[5] = {0, 1, 127, 128, 255};
static int64_t g_i64 = -1234567890123ll;

static void add_sample(train_ckpt_writer *w, int with_text)
{
    hpk_err err = {0};
    int64_t d2[2] = {2, 3}, d1[1] = {5}, d0z[2] = {0, 3}, d6[1] = {6};
    int64_t d8[8] = {1, 1, 2, 1, 3, 1, 1, 1};
    CHECK(train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "conv.weight", HPK_DT_F32, 2, d2, g_w, &err) == HPK_OK);
    CHECK(train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "bytes", HPK_DT_U8, 1, d1, g_u8, &err) == HPK_OK);
    CHECK(train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "scalar", HPK_DT_I64, 0, NULL, &g_i64, &err) == HPK_OK);
    CHECK(train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "empty", HPK_DT_F32, 2, d0z, NULL, &err) == HPK_OK);
    CHECK(train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, "conv.weight", HPK_DT_F32, 1, d6, g_m, &err) == HPK_OK);
    CHECK(train_ckpt_add_tensor(w, 7, "rank8", HPK_DT_F32, 8, d8, g_w, &err) == HPK_OK);
    CHECK(train_ckpt_add_i64(w, "step", 1234, &err) == HPK_OK);
    CHECK(train_ckpt_add_i64(w, "epoch", -3, &err) == HPK_OK);
    CHECK(train_ckpt_add_f64(w, "best_top1", 91.25, &err) == HPK_OK);
    CHECK(train_ckpt_add_str(w, "empty_str", "", &err) == HPK_OK);
    if (with_text)
        CHECK(train_ckpt_add_str(w, "config", "model=mobilenetv2\nwidth=0.5\nheads=fc,stage5,stage4\n", &err) ==
              HPK_OK);
    ir_rng r;
    ir_rng_seed(&r, 7, 3);
    ir_rng_normal(&r); /* leaves a spare */
    CHECK(train_ckpt_add_rng(w, "rng.data", &r, &err) == HPK_OK);
}

static unsigned char *sample_bytes(size_t *n, int with_text)
{
    train_ckpt_writer *w;
    hpk_err err = {0};
    train_ckpt_writer_init(&w, hpk_alloc_default(), &err);
    add_sample(w, with_text);
    void *mem = NULL;
    CHECKF(train_ckpt_serialize(w, &mem, n, &err) == HPK_OK, "%s", err.msg);
    train_ckpt_writer_free(w);
    return mem;
}

static void check_sample(const train_ckpt *c)
{
    CHECK(train_ckpt_n_tensors(c) == 6 && train_ckpt_n_meta(c) >= 8);
    const train_ckpt_tensor *t = train_ckpt_find(c, TRAIN_CKPT_MODEL, "conv.weight");
    CHECK(t && t->dtype == HPK_DT_F32 && t->rank == 2 && t->dims[0] == 2 && t->dims[1] == 3 && t->nbytes == 24 &&
          memcmp(t->data, g_w, 24) == 0);
    CHECK(t && ((uintptr_t)t->data & 7u) == 0);
    t = train_ckpt_find(c, TRAIN_CKPT_OPTIM, "conv.weight");
    CHECK(t && t->rank == 1 && t->dims[0] == 6 && memcmp(t->data, g_m, 24) == 0);
    t = train_ckpt_find(c, TRAIN_CKPT_MODEL, "bytes");
    CHECK(t && t->dtype == HPK_DT_U8 && t->nbytes == 5 && memcmp(t->data, g_u8, 5) == 0);
    t = train_ckpt_find(c, TRAIN_CKPT_MODEL, "scalar");
    CHECK(t && t->dtype == HPK_DT_I64 && t->rank == 0 && t->nbytes == 8 && memcmp(t->data, &g_i64, 8) == 0);
    t = train_ckpt_find(c, TRAIN_CKPT_MODEL, "empty");
    CHECK(t && t->nbytes == 0 && t->dims[0] == 0 && t->dims[1] == 3);
    t = train_ckpt_find(c, 7, "rank8");
    CHECK(t && t->rank == 8 && t->dims[4] == 3 && t->nbytes == 24);
    CHECK(train_ckpt_find(c, TRAIN_CKPT_OPTIM, "bytes") == NULL);
    CHECK(train_ckpt_find(c, TRAIN_CKPT_MODEL, "nope") == NULL);
    hpk_err err = {0};
    int64_t i;
    double f;
    const char *s;
    size_t len;
    CHECK(train_ckpt_get_i64(c, "step", &i, &err) == HPK_OK && i == 1234);
    CHECK(train_ckpt_get_i64(c, "epoch", &i, &err) == HPK_OK && i == -3);
    CHECK(train_ckpt_get_f64(c, "best_top1", &f, &err) == HPK_OK && f == 91.25);
    CHECK(train_ckpt_get_str(c, "empty_str", &s, &len, &err) == HPK_OK && len == 0 && s[0] == 0);
    CHECK(train_ckpt_get_i64(c, "missing", &i, &err) == HPK_EINPUT && strstr(err.msg, "no 'missing'"));
    hpk_err_clear(&err);
    CHECK(train_ckpt_get_str(c, "step", &s, &len, &err) == HPK_EINPUT && strstr(err.msg, "'step' is an integer"));
    ir_rng r, q;
    ir_rng_seed(&r, 7, 3);
    ir_rng_normal(&r);
    hpk_err_clear(&err);
    CHECK(train_ckpt_get_rng(c, "rng.data", &q, &err) == HPK_OK);
    CHECK(q.state == r.state && q.inc == r.inc && q.has_spare == r.has_spare && q.spare == r.spare);
    CHECK(ir_rng_normal(&q) == ir_rng_normal(&r) && ir_rng_u32(&q) == ir_rng_u32(&r));
}

/* ---- tests ------------------------------------------------------------------------------------------------ */
static void test_crc(void)
{
    CHECK(train_crc32c(0, "123456789", 9) == 0xe3069283u);
    CHECK(train_crc32c(train_crc32c(0, "1234", 4), "56789", 5) == 0xe3069283u);
    CHECK(train_crc32c(0, "", 0) == 0);
    unsigned char buf[1100];
    ir_rng r;
    ir_rng_seed(&r, 1, 1);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)ir_rng_u32(&r);
    int bad = 0;
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 1 + n / 7)
            bad += train_crc32c(0, buf + off, n) != crc32c_bitwise(buf + off, n);
    CHECK(bad == 0);
}

static void test_round_trip(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/checkpoint.hpk", g_dir);
    train_ckpt_writer *w;
    hpk_err err = {0};
    CHECK(train_ckpt_writer_init(&w, hpk_alloc_default(), &err) == HPK_OK);
    add_sample(w, 1);
    CHECKF(train_ckpt_write(w, path, &err) == HPK_OK, "%s", err.msg);
    void *mem;
    size_t n, fn;
    CHECK(train_ckpt_serialize(w, &mem, &n, &err) == HPK_OK);
    unsigned char *file = read_file(path, &fn);
    CHECK(file && fn == n && memcmp(file, mem, n) == 0); /* file == serialized bytes: deterministic */
    CHECK(memcmp(file, "HPKCKPT1", 8) == 0 && memcmp(file + n - 4, "HPKE", 4) == 0);
    CHECK(count_temps(g_dir) == 0);

    train_ckpt *c;
    CHECKF(train_ckpt_read(path, hpk_alloc_default(), &c, &err) == HPK_OK, "%s", err.msg);
    if (c) {
        check_sample(c);
        CHECK(strcmp(train_ckpt_label(c), path) == 0);
        const char *s;
        CHECK(train_ckpt_get_str(c, "config", &s, NULL, &err) == HPK_OK && strstr(s, "heads=fc,stage5,stage4\n"));
        /* re-serializing what was read gives the same bytes */
        train_ckpt_writer *w2;
        train_ckpt_writer_init(&w2, hpk_alloc_default(), &err);
        for (int i = 0; i < train_ckpt_n_meta(c); i++) {
            const train_ckpt_meta *m = train_ckpt_meta_at(c, i);
            if (m->type == TRAIN_CKPT_I64)
                train_ckpt_add_i64(w2, m->key, m->i, &err);
            else if (m->type == TRAIN_CKPT_F64)
                train_ckpt_add_f64(w2, m->key, m->f, &err);
            else
                train_ckpt_add_str(w2, m->key, m->s, &err);
        }
        for (int i = 0; i < train_ckpt_n_tensors(c); i++) {
            const train_ckpt_tensor *t = train_ckpt_tensor_at(c, i);
            train_ckpt_add_tensor(w2, t->group, t->name, t->dtype, t->rank, t->dims, t->data, &err);
        }
        /* same order of additions -> same bytes */
        void *mem2;
        size_t n2;
        CHECK(train_ckpt_serialize(w2, &mem2, &n2, &err) == HPK_OK);
        CHECK(n2 == n && memcmp(mem2, mem, n) == 0);
        free(mem2);
        train_ckpt_writer_free(w2);
        train_ckpt_free(c);
    }
    free(mem);
    free(file);

    /* a second write replaces the first; reset + reuse of the writer */
    train_ckpt_writer_reset(w);
    hpk_err_clear(&err);
    CHECK(train_ckpt_add_i64(w, "step", 99, &err) == HPK_OK);
    CHECK(train_ckpt_write(w, path, &err) == HPK_OK);
    CHECK(train_ckpt_read(path, hpk_alloc_default(), &c, &err) == HPK_OK);
    int64_t st = 0;
    CHECK(c && train_ckpt_n_tensors(c) == 0 && train_ckpt_get_i64(c, "step", &st, &err) == HPK_OK && st == 99);
    train_ckpt_free(c);

    /* writer-side refusals */
    float bad[3] = {1, NAN, 2};
    int64_t d3 = 3;
    train_ckpt_writer_reset(w);
    CHECK(train_ckpt_add_tensor(w, 0, "w", HPK_DT_F32, 1, &d3, bad, &err) == HPK_OK);
    hpk_err_clear(&err);
    CHECK(train_ckpt_write(w, path, &err) == HPK_EINPUT);
    CHECKF(strstr(err.msg, path) && strstr(err.msg, "'w' holds NaN at element 1"), "%s", err.msg);
    train_ckpt_writer_allow_nonfinite(w, true);
    hpk_err_clear(&err);
    CHECK(train_ckpt_write(w, path, &err) == HPK_OK);
    CHECK(train_ckpt_read(path, hpk_alloc_default(), &c, &err) == HPK_OK);
    CHECK(c && memcmp(train_ckpt_find(c, 0, "w")->data, bad, 12) == 0);
    train_ckpt_free(c);
    CHECK(train_ckpt_add_tensor(w, 0, "w", HPK_DT_F32, 1, &d3, bad, &err) == HPK_OK);
    hpk_err_clear(&err);
    CHECK(train_ckpt_write(w, path, &err) != HPK_OK && strstr(err.msg, "'w' (group 0) added twice"));
    hpk_err_clear(&err);
    CHECK(train_ckpt_add_tensor(w, 0, "d", HPK_DT_F64, 1, &d3, bad, &err) == HPK_EUNSUPPORTED);
    hpk_err_clear(&err);
    CHECK(train_ckpt_add_tensor(w, 0, "", HPK_DT_F32, 1, &d3, bad, &err) == HPK_EINPUT);
    int64_t neg = -1;
    hpk_err_clear(&err);
    CHECK(train_ckpt_add_tensor(w, 0, "n", HPK_DT_F32, 1, &neg, bad, &err) == HPK_EINPUT);
    hpk_err_clear(&err);
    CHECK(train_ckpt_add_tensor(w, 99, "g", HPK_DT_F32, 1, &d3, bad, &err) == HPK_EINPUT);
    hpk_err_clear(&err);
    char dirpath[300];
    snprintf(dirpath, sizeof dirpath, "%s/", g_dir);
    train_ckpt_writer_reset(w);
    CHECK(train_ckpt_write(w, dirpath, &err) == HPK_EINPUT && strstr(err.msg, "must name a file"));
    train_ckpt_writer_free(w);

    /* read-side: missing file, a folder, a FIFO */
    char p2[300];
    snprintf(p2, sizeof p2, "%s/nothing.hpk", g_dir);
    hpk_err_clear(&err);
    CHECK(train_ckpt_read(p2, hpk_alloc_default(), &c, &err) == HPK_EINPUT && strstr(err.msg, p2) && !c);
    hpk_err_clear(&err);
    CHECK(train_ckpt_read(g_dir, hpk_alloc_default(), &c, &err) == HPK_EINPUT && strstr(err.msg, "regular file"));
    snprintf(p2, sizeof p2, "%s/fifo", g_dir);
    CHECK(mkfifo(p2, 0600) == 0);
    hpk_err_clear(&err);
    CHECK(train_ckpt_read(p2, hpk_alloc_default(), &c, &err) == HPK_EINPUT && strstr(err.msg, "regular file"));
    unlink(p2);
    unlink(path);
}

static void test_graph(void)
{
    ir_graph *g;
    hpk_err err = {0};
    CHECK(ir_graph_init(&g, hpk_alloc_default(), &err) == HPK_OK);
    int64_t d1[4] = {8, 3, 3, 3}, d2[1] = {8}, d3[1] = {2};
    ir_shape s1 = ir_shape_make(4, d1), s2 = ir_shape_make(1, d2), s3 = ir_shape_make(1, d3);
    int w = ir_init_add(g, "conv.weight", IR_DT_F32, &s1, &err);
    int m = ir_init_add(g, "bn.running_var", IR_DT_F32, &s2, &err);
    int k = ir_init_add(g, "reshape.shape", IR_DT_I64, &s3, &err);
    g->values[w].flags |= IR_VAL_PARAM;
    g->values[m].flags |= IR_VAL_STATE;
    float *wd = g->values[w].init->data, *md = g->values[m].init->data;
    for (int i = 0; i < 216; i++)
        wd[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 8; i++)
        md[i] = 1.0f + (float)i;
    ((int64_t *)g->values[k].init->data)[0] = -1;

    train_ckpt_writer *wr;
    train_ckpt_writer_init(&wr, hpk_alloc_default(), &err);
    CHECK(train_ckpt_add_graph(wr, g, &err) == HPK_OK);
    void *mem;
    size_t n;
    CHECK(train_ckpt_serialize(wr, &mem, &n, &err) == HPK_OK);
    train_ckpt *c;
    CHECK(train_ckpt_parse(mem, n, "run/checkpoint.hpk", hpk_alloc_default(), &c, &err) == HPK_OK);
    CHECK(train_ckpt_n_tensors(c) == 2); /* the shape constant is not saved */
    float saved_w[216];
    memcpy(saved_w, wd, sizeof saved_w);
    memset(wd, 0, 216 * 4);
    memset(md, 0, 8 * 4);
    CHECKF(train_ckpt_load_graph(c, g, &err) == HPK_OK, "%s", err.msg);
    CHECK(memcmp(wd, saved_w, sizeof saved_w) == 0 && md[7] == 8.0f);
    train_ckpt_free(c);
    free(mem);

    /* a model with an extra parameter: "missing" */
    int64_t d4[1] = {4};
    ir_shape s4 = ir_shape_make(1, d4);
    int b = ir_init_add(g, "fc.bias", IR_DT_F32, &s4, &err);
    g->values[b].flags |= IR_VAL_PARAM;
    train_ckpt_writer_reset(wr);
    train_ckpt_add_graph(wr, g, &err);
    g->values[b].flags = 0; /* hide it while writing the checkpoint below ... */
    void *mem_full;
    size_t n_full;
    CHECK(train_ckpt_serialize(wr, &mem_full, &n_full, &err) == HPK_OK);
    train_ckpt_writer_reset(wr);
    train_ckpt_add_graph(wr, g, &err);
    CHECK(train_ckpt_serialize(wr, &mem, &n, &err) == HPK_OK);
    g->values[b].flags = IR_VAL_PARAM; /* ... and show it again */
    CHECK(train_ckpt_parse(mem, n, "run/checkpoint.hpk", hpk_alloc_default(), &c, &err) == HPK_OK);
    wd[0] = 42.0f;
    hpk_err_clear(&err);
    CHECK(train_ckpt_load_graph(c, g, &err) == HPK_EINPUT);
    CHECKF(strstr(err.msg, "run/checkpoint.hpk: tensor 'fc.bias' of the model is missing"), "%s", err.msg);
    CHECK(wd[0] == 42.0f); /* nothing copied */
    train_ckpt_free(c);
    free(mem);
    /* a checkpoint with a tensor the model lacks: "not a parameter" */
    g->values[b].flags = 0;
    CHECK(train_ckpt_parse(mem_full, n_full, "ck", hpk_alloc_default(), &c, &err) == HPK_OK);
    hpk_err_clear(&err);
    CHECK(train_ckpt_load_graph(c, g, &err) == HPK_EINPUT);
    CHECKF(strstr(err.msg, "checkpoint tensor 'fc.bias' is not a parameter"), "%s", err.msg);
    CHECK(wd[0] == 42.0f);
    train_ckpt_free(c);
    free(mem_full);
    /* shape and dtype mismatches */
    train_ckpt_writer_reset(wr);
    int64_t dw[4] = {8, 3, 1, 1};
    static float zeros[216];
    train_ckpt_add_tensor(wr, 0, "conv.weight", HPK_DT_F32, 4, dw, zeros, &err);
    train_ckpt_add_tensor(wr, 0, "bn.running_var", HPK_DT_F32, 1, d2, zeros, &err);
    CHECK(train_ckpt_serialize(wr, &mem, &n, &err) == HPK_OK);
    CHECK(train_ckpt_parse(mem, n, "ck", hpk_alloc_default(), &c, &err) == HPK_OK);
    hpk_err_clear(&err);
    CHECK(train_ckpt_load_graph(c, g, &err) == HPK_EINPUT);
    CHECKF(strstr(err.msg, "'conv.weight' has shape [8,3,1,1] in the checkpoint but [8,3,3,3] in the model"), "%s",
           err.msg);
    train_ckpt_free(c);
    free(mem);
    train_ckpt_writer_reset(wr);
    train_ckpt_add_tensor(wr, 0, "conv.weight", HPK_DT_F32, 4, d1, zeros, &err);
    train_ckpt_add_tensor(wr, 0, "bn.running_var", HPK_DT_I64, 1, d2, zeros, &err);
    CHECK(train_ckpt_serialize(wr, &mem, &n, &err) == HPK_OK);
    CHECK(train_ckpt_parse(mem, n, "ck", hpk_alloc_default(), &c, &err) == HPK_OK);
    hpk_err_clear(&err);
    CHECK(train_ckpt_load_graph(c, g, &err) == HPK_EINPUT && strstr(err.msg, "'bn.running_var' is int64"));
    train_ckpt_free(c);
    free(mem);
    train_ckpt_writer_free(wr);
    ir_graph_free(g);
}

static void test_bit_flips(void)
{
    size_t n;
    unsigned char *b = sample_bytes(&n, 0);
    int undetected = 0, flips = 0;
    hpk_err err;
    for (size_t bit = 0; bit < n * 8; bit++) {
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        train_ckpt *c = NULL;
        hpk_err_clear(&err);
        int rc = train_ckpt_parse(b, n, "flip.hpk", hpk_alloc_default(), &c, &err);
        flips++;
        if (rc == HPK_OK) {
            undetected++;
            train_ckpt_free(c);
            fprintf(stderr, "undetected flip of bit %zu\n", bit);
        } else if (!strstr(err.msg, "flip.hpk: ")) {
            undetected++;
            fprintf(stderr, "flip %zu: message without the file name: %s\n", bit, err.msg);
        }
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    CHECKF(undetected == 0, "%d of %d single-bit flips undetected", undetected, flips);
    printf("bit flips: %d of %d (every bit of a %zu-byte checkpoint) detected\n", flips - undetected, flips, n);

    /* through the file reader too, a sample of positions, and double flips */
    char path[300];
    snprintf(path, sizeof path, "%s/flip.hpk", g_dir);
    int missed = 0;
    for (size_t bit = 3; bit < n * 8; bit += 37) {
        size_t bit2 = (bit * 7919) % (n * 8);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        b[bit2 / 8] ^= (unsigned char)(1u << (bit2 % 8));
        write_file(path, b, n);
        train_ckpt *c = NULL;
        hpk_err_clear(&err);
        int rc = train_ckpt_read(path, hpk_alloc_default(), &c, &err);
        missed += (rc == HPK_OK) != (bit == bit2);
        if (c)
            train_ckpt_free(c);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        b[bit2 / 8] ^= (unsigned char)(1u << (bit2 % 8));
    }
    CHECK(missed == 0);
    /* the messages: a payload flip is a checksum mismatch, a header flip a header checksum mismatch */
    b[n - 20] ^= 1;
    train_ckpt *c;
    hpk_err_clear(&err);
    CHECK(train_ckpt_parse(b, n, "x.hpk", hpk_alloc_default(), &c, &err) == HPK_EINPUT);
    CHECKF(strstr(err.msg, "x.hpk: checksum mismatch"), "%s", err.msg);
    b[n - 20] ^= 1;
    b[20] ^= 4;
    hpk_err_clear(&err);
    CHECK(train_ckpt_parse(b, n, "x.hpk", hpk_alloc_default(), &c, &err) == HPK_EINPUT);
    CHECKF(strstr(err.msg, "header checksum mismatch"), "%s", err.msg);
    b[20] ^= 4;
    b[0] ^= 1;
    hpk_err_clear(&err);
    CHECK(train_ckpt_parse(b, n, "x.hpk", hpk_alloc_default(), &c, &err) == HPK_EINPUT && strstr(err.msg, "bad magic"));
    b[0] ^= 1;
    unlink(path);
    free(b);
}

static void test_truncation(void)
{
    size_t n;
    unsigned char *b = sample_bytes(&n, 1);
    int bad = 0;
    hpk_err err;
    char want[64];
    for (size_t len = 0; len < n; len++) {
        train_ckpt *c = NULL;
        hpk_err_clear(&err);
        int rc = train_ckpt_parse(b, len, "t.hpk", hpk_alloc_default(), &c, &err);
        snprintf(want, sizeof want, "t.hpk: truncated at byte %zu", len);
        if (rc == HPK_OK || !strstr(err.msg, want)) {
            bad++;
            fprintf(stderr, "truncation to %zu: %s\n", len, rc == HPK_OK ? "accepted" : err.msg);
            if (c)
                train_ckpt_free(c);
        }
    }
    CHECKF(bad == 0, "%d of %zu truncations not reported as such", bad, n);
    printf("truncations: all %zu lengths refused with \"truncated at byte N\"\n", n);
    /* through the file reader, a few lengths */
    char path[300];
    snprintf(path, sizeof path, "%s/trunc.hpk", g_dir);
    for (size_t len = 0; len < n; len += n / 7 + 1) {
        write_file(path, b, len);
        train_ckpt *c = NULL;
        hpk_err_clear(&err);
        CHECK(train_ckpt_read(path, hpk_alloc_default(), &c, &err) == HPK_EINPUT && strstr(err.msg, "truncated"));
        CHECK(strstr(err.msg, path) == err.msg);
    }
    /* appended bytes */
    unsigned char *longer = malloc(n + 3);
    memcpy(longer, b, n);
    memset(longer + n, 0, 3);
    train_ckpt *c;
    hpk_err_clear(&err);
    CHECK(train_ckpt_parse(longer, n + 3, "t.hpk", hpk_alloc_default(), &c, &err) == HPK_EINPUT &&
          strstr(err.msg, "trailing data"));
    free(longer);
    unlink(path);
    free(b);
}

/* Offsets inside the sample without text: found by walking the format like the reader does. */
typedef struct sample_map {
    size_t meta_off, tens_off, data_off;
    size_t t0; /* first tensor entry ("conv.weight", rank 2) */
    size_t t1; /* second ("bytes", rank 1) */
} sample_map;

static sample_map map_sample(const unsigned char *b)
{
    sample_map m;
    m.meta_off = (size_t)get64(b + 64 + 8);
    m.tens_off = (size_t)get64(b + 96 + 8);
    m.data_off = (size_t)get64(b + 128 + 8);
    m.t0 = m.tens_off;
    size_t l0 = (size_t)b[m.t0], r0 = b[m.t0 + 12];
    m.t1 = m.t0 + ((16 + 8 * r0 + 16 + l0 + 1 + 7) & ~(size_t)7);
    return m;
}

static int parse_crafted(unsigned char *b, size_t n, const char *expect, size_t *max_request)
{
    fix_crcs(b, n);
    track_alloc ta = {0, 0};
    hpk_alloc a = {track_fn, &ta};
    train_ckpt *c = NULL;
    hpk_err err = {0};
    int rc = train_ckpt_parse(b, n, "crafted.hpk", a, &c, &err);
    if (c)
        train_ckpt_free(c);
    if (max_request)
        *max_request = ta.max_request;
    CHECKF(ta.live == 0, "crafted (%s): %ld blocks leaked", expect, ta.live);
    CHECKF(rc == HPK_EINPUT && strstr(err.msg, expect), "expected '%s', got rc %d: %s", expect, rc, err.msg);
    return rc;
}

static void test_crafted(void)
{
    size_t n;
    unsigned char *orig = sample_bytes(&n, 0);
    unsigned char *b = malloc(n);
    sample_map m = map_sample(orig);
    CHECK(memcmp(orig + m.t0 + 48, "conv.weight", 12) == 0 && memcmp(orig + m.t1 + 40, "bytes", 6) == 0);
    size_t maxreq;
    /* conv.weight claims 2^60 bytes: dims [2^58] (rank stays 2: [2^29, 2^29] floats) and payload size 2^60 */
    memcpy(b, orig, n);
    put64(b + m.t0 + 16, 1ull << 29);
    put64(b + m.t0 + 24, 1ull << 29);
    put64(b + m.t0 + 40, 1ull << 60);
    parse_crafted(b, n, "runs past the data section", &maxreq);
    CHECKF(maxreq <= 4 * n + 4096, "a 2^60-byte claim led to a %zu-byte allocation", maxreq);
    /* the same claim with the payload size left alone: dims disagree with the payload */
    memcpy(b, orig, n);
    put64(b + m.t0 + 16, 1ull << 29);
    put64(b + m.t0 + 24, 1ull << 29);
    parse_crafted(b, n, "its dims need", &maxreq);
    CHECK(maxreq <= 4 * n + 4096);
    /* dims whose product overflows 64 bits */
    memcpy(b, orig, n);
    put64(b + m.t0 + 16, 1ull << 40);
    put64(b + m.t0 + 24, 1ull << 40);
    parse_crafted(b, n, "more than 2^64", NULL);
    /* a negative dim */
    memcpy(b, orig, n);
    put64(b + m.t0 + 16, (uint64_t)-2);
    parse_crafted(b, n, "is negative", NULL);
    /* a payload offset off the canonical place, and one far past the end */
    memcpy(b, orig, n);
    put64(b + m.t0 + 32, get64(orig + m.t0 + 32) + 64);
    parse_crafted(b, n, "payload offset", NULL);
    memcpy(b, orig, n);
    put64(b + m.t0 + 32, (uint64_t)-64);
    parse_crafted(b, n, "payload offset", NULL);
    /* huge entry counts: no allocation proportional to the claim */
    memcpy(b, orig, n);
    put32(b + 96 + 4, 0x7fffffffu);
    put32(b + 128 + 4, 0x7fffffffu);
    parse_crafted(b, n, "claims 2147483647 entries", &maxreq);
    CHECK(maxreq <= 4 * n + 4096);
    memcpy(b, orig, n);
    put32(b + 64 + 4, 0xffffffffu);
    parse_crafted(b, n, "claims", &maxreq);
    CHECK(maxreq <= 4 * n + 4096);
    memcpy(b, orig, n);
    put32(b + 96 + 4, 3);
    parse_crafted(b, n, "3 tensor entries but 6 payloads", NULL);
    /* name length 0, huge, and past the section; a name with a NUL inside */
    memcpy(b, orig, n);
    put32(b + m.t0, 0);
    parse_crafted(b, n, "name length 0", NULL);
    memcpy(b, orig, n);
    put32(b + m.t0, 0xffffff00u);
    parse_crafted(b, n, "out of range", NULL);
    memcpy(b, orig, n);
    put32(b + m.t1, 4000);
    parse_crafted(b, n, "runs past its section", NULL);
    memcpy(b, orig, n);
    b[m.t0 + 48 + 4] = 0;
    parse_crafted(b, n, "not a string", NULL);
    /* duplicate names: rename "bytes" (group 0) to "conv." ... use "empty" slot instead: make two "conv.weight" */
    memcpy(b, orig, n);
    {
        /* the 4th entry "empty" (group 0, rank 2, 5-char name) becomes "bytes" */
        size_t t2 = m.t1 + ((16 + 8 + 16 + 5 + 1 + 7) & ~(size_t)7);                  /* "scalar", rank 0 */
        size_t t3 = t2 + ((16 + 0 + 16 + 6 + 1 + 7) & ~(size_t)7);                     /* "empty", rank 2 */
        CHECK(memcmp(b + t3 + 48, "empty", 6) == 0);
        memcpy(b + t3 + 48, "bytes", 5);
        parse_crafted(b, n, "tensor 'bytes' appears twice in group 0", NULL);
    }
    /* dtype, rank, group out of range */
    memcpy(b, orig, n);
    put32(b + m.t0 + 8, HPK_DT_F64);
    parse_crafted(b, n, "dtype 11", NULL);
    memcpy(b, orig, n);
    put32(b + m.t0 + 12, 9);
    parse_crafted(b, n, "rank 9", NULL);
    memcpy(b, orig, n);
    put32(b + m.t0 + 4, 16);
    parse_crafted(b, n, "group 16", NULL);
    /* section table and header fields */
    memcpy(b, orig, n);
    put64(b + 64 + 8, 168);
    parse_crafted(b, n, "out of place", NULL);
    memcpy(b, orig, n);
    put64(b + 64 + 16, (uint64_t)-8);
    parse_crafted(b, n, "out of place", NULL);
    memcpy(b, orig, n);
    put32(b + 64, 2);
    parse_crafted(b, n, "not the expected section", NULL);
    memcpy(b, orig, n);
    put32(b + 8, 2);
    parse_crafted(b, n, "version 2 is not supported", NULL);
    memcpy(b, orig, n);
    put64(b + 16, 1ull << 62);
    parse_crafted(b, n, "truncated at byte", &maxreq);
    CHECK(maxreq <= 4 * n + 4096);
    memcpy(b, orig, n);
    put64(b + 16, 100);
    parse_crafted(b, n, "less than the minimum", NULL);
    memcpy(b, orig, n);
    b[45] = 1;
    parse_crafted(b, n, "unexpected header fields", NULL);
    memcpy(b, orig, n);
    memcpy(b + n - 4, "HPKX", 4);
    parse_crafted(b, n, "end marker", NULL);
    /* metadata: bad type, number with 4 bytes, string without NUL, non-zero padding */
    memcpy(b, orig, n);
    put32(b + m.meta_off + 4, 9);
    parse_crafted(b, n, "unknown type 9", NULL);
    memcpy(b, orig, n);
    put64(b + m.meta_off + 8, 4);
    parse_crafted(b, n, "has 4 bytes, not 8", NULL);
    memcpy(b, orig, n);
    put64(b + m.meta_off + 8, 1ull << 62);
    parse_crafted(b, n, "a number has", NULL);
    memcpy(b, orig, n);
    b[m.meta_off + 16 + 4] = 'x'; /* "step" key: overwrite its NUL */
    parse_crafted(b, n, "not a string", NULL);
    memcpy(b, orig, n);
    b[m.meta_off + 16 + 4 + 1 + 8 + 2] = 7; /* the padding after "step"'s value */
    parse_crafted(b, n, "non-zero padding", NULL);

    /* random structural fuzzing with right checksums: never a crash, leak or out-of-bounds (ASan) */
    ir_rng r;
    ir_rng_seed(&r, 2024, 5);
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(b, orig, n);
        int edits = 1 + (int)ir_rng_below(&r, 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = ir_rng_below(&r, 4) ? ir_rng_below(&r, (uint32_t)(m.data_off + 8)) : ir_rng_below(&r, (uint32_t)n);
            switch (ir_rng_below(&r, 4)) {
            case 0:
                b[pos] ^= (unsigned char)(1u << ir_rng_below(&r, 8));
                break;
            case 1:
                b[pos] = (unsigned char)ir_rng_u32(&r);
                break;
            case 2:
                if (pos + 8 <= n)
                    put64(b + pos, (uint64_t)1 << ir_rng_below(&r, 64));
                break;
            default:
                if (pos + 4 <= n)
                    put32(b + pos, ir_rng_u32(&r));
                break;
            }
        }
        size_t len = ir_rng_below(&r, 16) ? n : ir_rng_below(&r, (uint32_t)n + 1);
        fix_crcs(b, len);
        track_alloc ta = {0, 0};
        hpk_alloc a = {track_fn, &ta};
        train_ckpt *c = NULL;
        hpk_err err = {0};
        if (train_ckpt_parse(b, len, "fuzz", a, &c, &err) == HPK_OK) {
            accepted++;
            for (int i = 0; i < train_ckpt_n_tensors(c); i++) { /* touch every byte the reader hands out */
                const train_ckpt_tensor *t = train_ckpt_tensor_at(c, i);
                volatile unsigned char s = 0;
                for (size_t k = 0; k < t->nbytes; k++)
                    s ^= ((const unsigned char *)t->data)[k];
                (void)s;
                (void)strlen(t->name);
            }
            train_ckpt_free(c);
        }
        if (ta.live != 0 || ta.max_request > 4 * n + 4096) {
            CHECKF(0, "fuzz iteration %d: live %ld, max request %zu", it, ta.live, ta.max_request);
            break;
        }
    }
    printf("structural fuzzing: 20000 mutants with fixed checksums, %d accepted (harmless edits), none crashed\n",
           accepted);
    free(b);
    free(orig);
}

static void test_alloc_failures(void)
{
    size_t n;
    unsigned char *b = sample_bytes(&n, 1);
    char path[300];
    snprintf(path, sizeof path, "%s/alloc.hpk", g_dir);
    write_file(path, b, n);
    int ok_seen = 0;
    for (long k = 1; k < 40; k++) {
        hpk_failing_alloc fa = {.fail_at = k};
        train_ckpt *c = NULL;
        hpk_err err = {0};
        int rc = train_ckpt_read(path, hpk_alloc_failing(&fa), &c, &err);
        if (rc == HPK_OK) {
            ok_seen = 1;
            check_sample(c);
            train_ckpt_free(c);
        } else {
            CHECKF(rc == HPK_ENOMEM && strstr(err.msg, path), "fail_at %ld: rc %d %s", k, rc, err.msg);
        }
        CHECKF(fa.live == 0, "read, fail_at %ld: %ld blocks leaked", k, fa.live);
    }
    CHECK(ok_seen);
    char wpath[300];
    snprintf(wpath, sizeof wpath, "%s/alloc_w.hpk", g_dir);
    for (long k = 1; k < 60; k++) {
        hpk_failing_alloc fa = {.fail_at = k};
        hpk_alloc a = hpk_alloc_failing(&fa);
        train_ckpt_writer *w = NULL;
        hpk_err err = {0};
        if (train_ckpt_writer_init(&w, a, &err) == HPK_OK) {
            int64_t d = 6;
            int rc = train_ckpt_add_tensor(w, 0, "a", HPK_DT_F32, 1, &d, g_w, &err);
            if (!rc)
                rc = train_ckpt_add_str(w, "config", "x=1", &err);
            if (!rc)
                rc = train_ckpt_add_i64(w, "step", 1, &err);
            if (!rc)
                rc = train_ckpt_add_tensor(w, 1, "a", HPK_DT_F32, 1, &d, g_m, &err);
            if (!rc)
                rc = train_ckpt_write(w, wpath, &err);
            CHECK(rc == HPK_OK || rc == HPK_ENOMEM);
            train_ckpt_writer_free(w);
        }
        CHECKF(fa.live == 0, "write, fail_at %ld: %ld blocks leaked", k, fa.live);
        CHECK(count_temps(g_dir) == 0);
    }
    unlink(path);
    unlink(wpath);
    free(b);
}

/* ---- failing writes ----------------------------------------------------------------------------------------- */
typedef struct fault {
    long fail_after; /* bytes accepted before failing; -1: never */
    int err_no;
    long written;
    int short_writes; /* accept at most 7 bytes per call */
    int eintr_every;  /* every Nth call fails with EINTR */
    int calls;
    int fsync_errno;
} fault;

static ssize_t fault_write(void *ud, int fd, const void *buf, size_t n)
{
    fault *f = ud;
    f->calls++;
    if (f->eintr_every && f->calls % f->eintr_every == 0) {
        errno = EINTR;
        return -1;
    }
    if (f->short_writes && n > 7)
        n = 1 + (size_t)f->calls % 7;
    if (f->fail_after >= 0 && f->written + (long)n > f->fail_after) {
        long room = f->fail_after - f->written;
        if (room <= 0) {
            errno = f->err_no;
            return -1;
        }
        n = (size_t)room; /* a partial write first, like the kernel at a limit */
    }
    ssize_t k = write(fd, buf, n);
    if (k > 0)
        f->written += k;
    return k;
}

static int fault_fsync(void *ud, int fd)
{
    fault *f = ud;
    if (f->fsync_errno) {
        errno = f->fsync_errno;
        return -1;
    }
    return fsync(fd);
}

static train_ckpt_writer *big_writer(float *data, size_t n, int64_t step)
{
    train_ckpt_writer *w;
    hpk_err err = {0};
    train_ckpt_writer_init(&w, hpk_alloc_default(), &err);
    int64_t d = (int64_t)n;
    train_ckpt_add_tensor(w, 0, "w", HPK_DT_F32, 1, &d, data, &err);
    train_ckpt_add_i64(w, "step", step, &err);
    return w;
}

static void test_write_faults(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/checkpoint.hpk", g_dir);
    const size_t nf = 300000; /* 1.2 MB: larger than the writer's staging buffer */
    float *data = malloc(nf * 4);
    for (size_t i = 0; i < nf; i++)
        data[i] = (float)i;

    /* no previous checkpoint: the message says none was written, and none exists */
    unlink(path);
    train_ckpt_writer *w = big_writer(data, nf, 1);
    fault f = {.fail_after = 1000, .err_no = ENOSPC};
    train_ckpt_io io = {fault_write, fault_fsync, &f};
    train_ckpt_writer_set_io(w, &io);
    hpk_err err = {0};
    CHECK(train_ckpt_write(w, path, &err) == HPK_EIO);
    CHECKF(strstr(err.msg, path) == err.msg &&
               strstr(err.msg, "disk full while writing the checkpoint; no checkpoint was written"),
           "%s", err.msg);
    CHECK(access(path, F_OK) != 0 && count_temps(g_dir) == 0);

    /* a good checkpoint, then failures at many points of the next write: the old one stays, no temp remains */
    train_ckpt_writer_set_io(w, NULL);
    hpk_err_clear(&err);
    CHECK(train_ckpt_write(w, path, &err) == HPK_OK);
    size_t old_n;
    unsigned char *old = read_file(path, &old_n);
    train_ckpt_writer_free(w);
    float *data2 = malloc(nf * 4);
    for (size_t i = 0; i < nf; i++)
        data2[i] = -(float)i;
    w = big_writer(data2, nf, 2);
    const long points[] = {0, 1, 63, 64, 100, 4095, 4096, 1 << 20, (1 << 20) + 1, 1199999, (long)old_n - 9};
    const int errs[] = {ENOSPC, EIO, EFBIG, EDQUOT, EACCES};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        int e = errs[i % 5];
        fault ff = {.fail_after = points[i], .err_no = e};
        train_ckpt_io io2 = {fault_write, fault_fsync, &ff};
        train_ckpt_writer_set_io(w, &io2);
        hpk_err_clear(&err);
        CHECK(train_ckpt_write(w, path, &err) == HPK_EIO);
        const char *want = e == ENOSPC || e == EDQUOT ? "disk full while writing the checkpoint"
                           : e == EFBIG               ? "file-size limit"
                           : e == EIO                 ? "I/O error"
                                                      : "Permission denied";
        CHECKF(strstr(err.msg, want) && strstr(err.msg, "the previous checkpoint is kept"), "%s", err.msg);
        size_t cur_n;
        unsigned char *cur = read_file(path, &cur_n);
        CHECK(cur && cur_n == old_n && memcmp(cur, old, old_n) == 0);
        free(cur);
        CHECK(count_temps(g_dir) == 0);
    }
    /* fsync failing */
    fault fs = {.fail_after = -1, .fsync_errno = EIO};
    train_ckpt_io io3 = {fault_write, fault_fsync, &fs};
    train_ckpt_writer_set_io(w, &io3);
    hpk_err_clear(&err);
    CHECK(train_ckpt_write(w, path, &err) == HPK_EIO && strstr(err.msg, "I/O error") &&
          strstr(err.msg, "previous checkpoint is kept"));
    size_t cur_n;
    unsigned char *cur = read_file(path, &cur_n);
    CHECK(cur && cur_n == old_n && memcmp(cur, old, old_n) == 0 && count_temps(g_dir) == 0);
    free(cur);
    /* short writes and EINTR: the write completes and is correct */
    fault sw = {.fail_after = -1, .short_writes = 1, .eintr_every = 5};
    train_ckpt_io io4 = {fault_write, fault_fsync, &sw};
    train_ckpt_writer_set_io(w, &io4);
    train_ckpt_writer_reset(w);
    int64_t d = 2000;
    train_ckpt_add_tensor(w, 0, "w", HPK_DT_F32, 1, &d, data2, &err);
    hpk_err_clear(&err);
    CHECKF(train_ckpt_write(w, path, &err) == HPK_OK, "%s", err.msg);
    train_ckpt *c;
    CHECK(train_ckpt_read(path, hpk_alloc_default(), &c, &err) == HPK_OK &&
          memcmp(train_ckpt_find(c, 0, "w")->data, data2, 8000) == 0);
    train_ckpt_free(c);
    CHECK(sw.calls > 100);
    train_ckpt_writer_free(w);

    /* a real file-size limit (RLIMIT_FSIZE) in a child with SIGXFSZ ignored, as the trainer runs */
    w = big_writer(data, nf, 3);
    hpk_err_clear(&err);
    CHECK(train_ckpt_write(w, path, &err) == HPK_OK);
    train_ckpt_writer_free(w);
    free(old);
    old = read_file(path, &old_n);
    for (int ignore = 1; ignore >= 0; ignore--) {
        int pfd[2];
        CHECK(pipe(pfd) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            if (ignore)
                signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {500000, 500000};
            setrlimit(RLIMIT_FSIZE, &rl);
            train_ckpt_writer *cw = big_writer(data2, nf, 4);
            hpk_err e2 = {0};
            int rc = train_ckpt_write(cw, path, &e2);
            ssize_t wr = write(pfd[1], e2.msg, strlen(e2.msg) + 1);
            (void)wr;
            _exit(rc == HPK_EIO ? 0 : 1);
        }
        close(pfd[1]);
        char msg[800] = {0};
        ssize_t got = read(pfd[0], msg, sizeof msg - 1);
        (void)got;
        close(pfd[0]);
        int status;
        waitpid(pid, &status, 0);
        if (ignore) {
            CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
            CHECKF(strstr(msg, "file-size limit was reached while writing the checkpoint; the previous checkpoint "
                               "is kept"),
                   "%s", msg);
            CHECK(count_temps(g_dir) == 0);
        } else {
            /* SIGXFSZ not ignored: the process dies mid-write, leaving its temp file; the old file is intact */
            CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ);
            CHECK(count_temps(g_dir) == 1);
        }
        cur = read_file(path, &cur_n);
        CHECK(cur && cur_n == old_n && memcmp(cur, old, old_n) == 0);
        free(cur);
    }
    /* the next successful write removes the dead process's temp file */
    w = big_writer(data, 10, 5);
    hpk_err_clear(&err);
    CHECK(train_ckpt_write(w, path, &err) == HPK_OK && count_temps(g_dir) == 0);
    train_ckpt_writer_free(w);
    free(old);
    free(data);
    free(data2);
    unlink(path);
}

/* ---- kill -9 during checkpoint writes ------------------------------------------------------------------------ */
#define KILL_N (1u << 20) /* 4 MB of floats per checkpoint */

static float kill_value(int64_t step, size_t i) { return (float)((uint32_t)(step * 2654435761u) ^ (uint32_t)i); }

static void kill_child(const char *path, int64_t from, int ready_fd)
{
    float *data = malloc(KILL_N * sizeof(float));
    train_ckpt_writer *w;
    hpk_err err = {0};
    train_ckpt_writer_init(&w, hpk_alloc_default(), &err);
    int64_t d = KILL_N;
    char sbuf[32];
    for (int64_t step = from + 1;; step++) {
        for (size_t i = 0; i < KILL_N; i++)
            data[i] = kill_value(step, i);
        train_ckpt_writer_reset(w);
        train_ckpt_add_tensor(w, 0, "w", HPK_DT_F32, 1, &d, data, &err);
        train_ckpt_add_i64(w, "step", step, &err);
        snprintf(sbuf, sizeof sbuf, "step=%lld", (long long)step);
        train_ckpt_add_str(w, "config", sbuf, &err);
        if (train_ckpt_write(w, path, &err) != HPK_OK)
            _exit(3);
        if (ready_fd >= 0) { /* tell the parent the first write is done */
            ssize_t k = write(ready_fd, "r", 1);
            (void)k;
            close(ready_fd);
            ready_fd = -1;
        }
    }
}

static int64_t verify_kill_ckpt(const char *path, int *ok)
{
    train_ckpt *c;
    hpk_err err = {0};
    *ok = 0;
    if (train_ckpt_read(path, hpk_alloc_default(), &c, &err) != HPK_OK) {
        fprintf(stderr, "after kill -9: %s\n", err.msg);
        return -1;
    }
    int64_t step = -1;
    const char *cfg;
    char want[32];
    const train_ckpt_tensor *t = train_ckpt_find(c, 0, "w");
    if (train_ckpt_get_i64(c, "step", &step, &err) == HPK_OK && train_ckpt_get_str(c, "config", &cfg, NULL, &err) == 0 &&
        t && t->nbytes == KILL_N * 4) {
        snprintf(want, sizeof want, "step=%lld", (long long)step);
        const float *f = t->data;
        int good = strcmp(cfg, want) == 0;
        for (size_t i = 0; i < KILL_N && good; i += 4099)
            good = f[i] == kill_value(step, i);
        good = good && f[KILL_N - 1] == kill_value(step, KILL_N - 1);
        *ok = good;
    }
    train_ckpt_free(c);
    return step;
}

static void test_kill9(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/kill.hpk", g_dir);
    unlink(path);
    int64_t last = 0;
    int rounds = 50, mid_write = 0, bad = 0, advanced = 0;
    srand((unsigned)time(NULL));
    for (int r = 0; r < rounds; r++) {
        int pfd[2];
        if (pipe(pfd) != 0)
            break;
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            kill_child(path, last, r == 0 ? pfd[1] : -1);
            _exit(0);
        }
        close(pfd[1]);
        if (r == 0) { /* wait until the first checkpoint exists */
            char ch;
            ssize_t k = read(pfd[0], &ch, 1);
            (void)k;
        }
        close(pfd[0]);
        struct timespec ts = {0, (long)(rand() % 40000) * 1000L}; /* 0..40 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        mid_write += count_temps(g_dir) > 0;
        int ok;
        int64_t step = verify_kill_ckpt(path, &ok);
        if (!ok || step < last) {
            bad++;
            fprintf(stderr, "round %d: checkpoint invalid or went back (step %lld, previous %lld)\n", r,
                    (long long)step, (long long)last);
        }
        advanced += step > last;
        if (step > last)
            last = step;
    }
    CHECKF(bad == 0, "%d of %d kills left a bad checkpoint", bad, rounds);
    printf("kill -9: %d rounds, %d killed mid-write (temp file left), %d advanced, last step %lld, all valid\n", rounds,
           mid_write, advanced, (long long)last);
    /* a later write cleans the dead writers' temp files */
    train_ckpt_writer *w;
    hpk_err err = {0};
    train_ckpt_writer_init(&w, hpk_alloc_default(), &err);
    train_ckpt_add_i64(w, "step", last + 1, &err);
    CHECK(train_ckpt_write(w, path, &err) == HPK_OK && count_temps(g_dir) == 0);
    train_ckpt_writer_free(w);
    unlink(path);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[600];
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof g_dir, "%s/hpk-ckpt-XXXXXX", base);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    test_crc();
    test_round_trip();
    test_graph();
    test_bit_flips();
    test_truncation();
    test_crafted();
    test_alloc_failures();
    test_write_faults();
    if (!quick)
        test_kill9();
    remove_dir(g_dir);
    return check_done("ckpt");
}
