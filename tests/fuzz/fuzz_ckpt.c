/* fuzz_ckpt.c — fuzz target: the checkpoint reader (train_ckpt_parse, train_ckpt_read) and every lookup API.
 *
 * Each input is parsed twice: as it is, and with its checksums, file size and end marker repaired (so mutations
 * reach the section, metadata and tensor checks behind the CRCs instead of dying at the first checksum).
 * Invariants:
 *  - a rejection is a status with a one-line message "fuzz.hpk: ...", no checkpoint, no live allocation;
 *  - train_ckpt_read of the same bytes in a file gives the same status;
 *  - an accepted checkpoint: every tensor has a valid group, dtype, rank, dims whose product matches nbytes, an
 *    8-byte aligned payload (read in full), and train_ckpt_find returns it; every metadata entry is found by
 *    train_ckpt_meta_find, its typed getter returns its value and the other getters fail cleanly; RNG states and
 *    train_ckpt_load_graph (into a small fixed graph) succeed or fail cleanly;
 *  - an accepted checkpoint is canonical: writing its tensors and metadata again, in file order, through
 *    train_ckpt_serialize gives back the same bytes;
 *  - parsing it with one allocation failing fails with HPK_ENOMEM and frees everything. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "fuzz_common.h"

#define LABEL "fuzz.hpk"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A graph with two parameters and one state tensor, as a model's checkpoint group would hold. */
static ir_graph *small_graph(void)
{
    ir_graph *g = NULL;
    hpk_err err = {0};
    FUZZ_CHECK(ir_graph_init(&g, (hpk_alloc){0}, &err) == HPK_OK, "%s", err.msg);
    static const struct { const char *name; ir_dtype dt; int rank; int64_t d[2]; unsigned flags; } vals[] = {
        {"w", IR_DT_F32, 2, {2, 3}, IR_VAL_PARAM},
        {"b", IR_DT_F32, 1, {3, 0}, IR_VAL_PARAM},
        {"bn.mean", IR_DT_F32, 1, {3, 0}, IR_VAL_STATE},
        {"steps", IR_DT_I64, 0, {0, 0}, IR_VAL_STATE},
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        ir_shape s = ir_shape_make(vals[i].rank, vals[i].d);
        int v = ir_init_add(g, vals[i].name, vals[i].dt, &s, &err);
        FUZZ_CHECK(v >= 0, "%s", err.msg);
        g->values[v].flags |= vals[i].flags;
    }
    return g;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void check_meta(const train_ckpt *c, const train_ckpt_meta *m)
{
    FUZZ_CHECK(m->key && strlen(m->key) >= 1 && strlen(m->key) <= TRAIN_CKPT_MAX_NAME, "bad key");
    FUZZ_CHECK(train_ckpt_meta_find(c, m->key) == m, "meta_find('%s') does not find the entry", m->key);
    hpk_err err = {0};
    int64_t i = 0;
    double f = 0;
    const char *s = NULL;
    size_t len = 0;
    int ri = train_ckpt_get_i64(c, m->key, &i, &err);
    if (ri)
        fuzz_check_err(ri, &err, LABEL);
    hpk_err_clear(&err);
    int rf = train_ckpt_get_f64(c, m->key, &f, &err);
    if (rf)
        fuzz_check_err(rf, &err, LABEL);
    hpk_err_clear(&err);
    int rs = train_ckpt_get_str(c, m->key, &s, &len, &err);
    if (rs)
        fuzz_check_err(rs, &err, LABEL);
    switch (m->type) {
    case TRAIN_CKPT_I64: FUZZ_CHECK(!ri && rf && rs && i == m->i, "i64 '%s'", m->key); break;
    case TRAIN_CKPT_F64:
        FUZZ_CHECK(ri && !rf && rs && memcmp(&f, &m->f, sizeof f) == 0, "f64 '%s'", m->key);
        break;
    case TRAIN_CKPT_STR:
        FUZZ_CHECK(ri && rf && !rs && s == m->s && len == m->s_len && strlen(s) == len, "str '%s'", m->key);
        break;
    default: FUZZ_CHECK(0, "metadata '%s' has type %d", m->key, m->type);
    }
    if (ends_with(m->key, ".state") && strlen(m->key) > 6) {
        char prefix[TRAIN_CKPT_MAX_NAME + 1];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(m->key) - 6), m->key);
        ir_rng r;
        hpk_err_clear(&err);
        int rc = train_ckpt_get_rng(c, prefix, &r, &err);
        if (rc)
            fuzz_check_err(rc, &err, LABEL);
    }
}

/* Everything the API offers on an accepted checkpoint; then the re-serialization. */
static void check_accepted(const train_ckpt *c, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(strcmp(train_ckpt_label(c), LABEL) == 0, "label");
    int nt = train_ckpt_n_tensors(c), nm = train_ckpt_n_meta(c);
    FUZZ_CHECK(nt >= 0 && nm >= 0, "counts %d %d", nt, nm);
    FUZZ_CHECK(!train_ckpt_tensor_at(c, -1) && !train_ckpt_tensor_at(c, nt) && !train_ckpt_meta_at(c, -1) &&
                   !train_ckpt_meta_at(c, nm),
               "out-of-range index returned an entry");
    for (int i = 0; i < nt; i++) {
        const train_ckpt_tensor *t = train_ckpt_tensor_at(c, i);
        FUZZ_CHECK(t && t->name && strlen(t->name) >= 1 && strlen(t->name) <= TRAIN_CKPT_MAX_NAME, "tensor %d", i);
        FUZZ_CHECK(t->group < TRAIN_CKPT_MAX_GROUPS, "tensor '%s' group %u", t->name, t->group);
        FUZZ_CHECK(t->dtype == HPK_DT_F32 || t->dtype == HPK_DT_U8 || t->dtype == HPK_DT_I64, "tensor '%s' dtype %d",
                   t->name, t->dtype);
        FUZZ_CHECK(t->rank >= 0 && t->rank <= HPK_MAX_RANK, "tensor '%s' rank %d", t->name, t->rank);
        size_t numel = 0;
        FUZZ_CHECK(hpk_numel(t->rank, t->dims, &numel) == HPK_OK && numel * hpk_dtype_size(t->dtype) == t->nbytes,
                   "tensor '%s': dims and nbytes %zu disagree", t->name, t->nbytes);
        FUZZ_CHECK(((uintptr_t)t->data & 7u) == 0, "tensor '%s' payload is not 8-byte aligned", t->name);
        fuzz_touch(t->data, t->nbytes);
        FUZZ_CHECK(train_ckpt_find(c, t->group, t->name) == t, "find('%s', %u) does not find the tensor", t->name,
                   t->group);
    }
    FUZZ_CHECK(!train_ckpt_find(c, TRAIN_CKPT_MAX_GROUPS, "w"), "found a tensor in an impossible group");
    for (int i = 0; i < nm; i++)
        check_meta(c, train_ckpt_meta_at(c, i));
    hpk_err err = {0};
    int64_t x;
    if (!train_ckpt_meta_find(c, "")) {
        int rc = train_ckpt_get_i64(c, "", &x, &err);
        FUZZ_CHECK(rc != HPK_OK, "found a missing key");
        fuzz_check_err(rc, &err, LABEL);
    }
    hpk_err_clear(&err);
    ir_rng r;
    int rc = train_ckpt_get_rng(c, "rng", &r, &err);
    if (rc)
        fuzz_check_err(rc, &err, LABEL);

    ir_graph *g = small_graph();
    hpk_err_clear(&err);
    rc = train_ckpt_load_graph(c, g, &err);
    if (rc)
        fuzz_check_err(rc, &err, LABEL);
    ir_graph_free(g);

    /* canonical: the same content written again is the same file */
    hpk_failing_alloc fa = {0};
    train_ckpt_writer *w = NULL;
    hpk_err_clear(&err);
    FUZZ_CHECK(train_ckpt_writer_init(&w, hpk_alloc_failing(&fa), &err) == HPK_OK, "%s", err.msg);
    train_ckpt_writer_allow_nonfinite(w, true);
    rc = HPK_OK;
    for (int i = 0; i < nm && !rc; i++) {
        const train_ckpt_meta *m = train_ckpt_meta_at(c, i);
        rc = m->type == TRAIN_CKPT_I64   ? train_ckpt_add_i64(w, m->key, m->i, &err)
             : m->type == TRAIN_CKPT_F64 ? train_ckpt_add_f64(w, m->key, m->f, &err)
                                         : train_ckpt_add_str(w, m->key, m->s, &err);
    }
    for (int i = 0; i < nt && !rc; i++) {
        const train_ckpt_tensor *t = train_ckpt_tensor_at(c, i);
        rc = train_ckpt_add_tensor(w, t->group, t->name, t->dtype, t->rank, t->dims, t->data, &err);
    }
    FUZZ_CHECK(rc == HPK_OK, "the writer refuses what the reader accepted: %s", err.msg);
    void *out = NULL;
    size_t n = 0;
    rc = train_ckpt_serialize(w, &out, &n, &err);
    FUZZ_CHECK(rc == HPK_OK, "serialize: %s", err.msg);
    FUZZ_CHECK(n == size && memcmp(out, data, n) == 0, "an accepted checkpoint is not canonical (%zu vs %zu bytes)",
               n, size);
    hpk_alloc a = hpk_alloc_failing(&fa);
    a.fn(a.ud, out, n, 0);
    train_ckpt_writer_free(w);
    FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by the writer", fa.live);
}

/* Parses data; on success checks everything and the allocation-failure path. Returns the status. */
static int parse_and_check(const uint8_t *data, size_t size)
{
    hpk_failing_alloc fa = {0};
    train_ckpt *c = NULL;
    hpk_err err = {0};
    int rc = train_ckpt_parse(data, size, LABEL, hpk_alloc_failing(&fa), &c, &err);
    if (rc) {
        FUZZ_CHECK(c == NULL, "a failed parse returned a checkpoint");
        fuzz_check_err(rc, &err, LABEL);
        FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by a rejected parse", fa.live);
        return rc;
    }
    FUZZ_NOTE("accepted: %d tensors, %d metadata", train_ckpt_n_tensors(c), train_ckpt_n_meta(c));
    check_accepted(c, data, size);
    train_ckpt_free(c);
    FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by an accepted parse", fa.live);

    hpk_failing_alloc fb = {0};
    fb.fail_at = 1 + (long)(fuzz_hash(data, size) % (uint64_t)fa.count);
    hpk_err e2 = {0};
    int r2 = train_ckpt_parse(data, size, LABEL, hpk_alloc_failing(&fb), &c, &e2);
    FUZZ_CHECK(r2 == HPK_ENOMEM && c == NULL, "allocation %ld of %ld failed but the status is %d", fb.fail_at,
               fa.count, r2);
    fuzz_check_err(r2, &e2, LABEL);
    FUZZ_CHECK(fb.live == 0, "%ld blocks leaked when allocation %ld failed", fb.live, fb.fail_at);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int rc = parse_and_check(data, size);

    /* the file reader agrees with the memory parser */
    const char *path = fuzz_file("fuzz.hpk", data, size);
    train_ckpt *c = NULL;
    hpk_err err = {0};
    int rr = train_ckpt_read(path, hpk_alloc_default(), &c, &err);
    FUZZ_CHECK(rr == rc, "train_ckpt_read says %d, train_ckpt_parse %d: %s", rr, rc, err.msg);
    if (rr)
        fuzz_check_err(rr, &err, path);
    train_ckpt_free(c);

    /* repaired: file size, header CRC, end marker and whole-file CRC made right */
    if (size >= 64 + 8 && size <= ((size_t)64 << 20)) {
        uint8_t *fix = malloc(size);
        FUZZ_CHECK(fix != NULL, "out of memory");
        memcpy(fix, data, size);
        memcpy(fix, "HPKCKPT1", 8);
        put64(fix + 16, size);
        put32(fix + 56, train_crc32c(0, fix, 56));
        memcpy(fix + size - 4, "HPKE", 4);
        put32(fix + size - 8, train_crc32c(0, fix, size - 8));
        parse_and_check(fix, size);
        free(fix);
    }
    return 0;
}
