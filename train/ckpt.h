/* ckpt.h — training checkpoints: a versioned, checksummed container of named tensors and metadata, written
 * atomically (temp file, fsync, rename, fsync of the folder) and validated completely before it is trusted.
 *
 * File format, version 1 (all integers little-endian; offsets are absolute file offsets):
 *
 *   header, 64 bytes
 *     0  char[8] magic "HPKCKPT1"          32 u64 section table offset (64)
 *     8  u32 version (1)                   40 u8[16] reserved, zero
 *    12  u32 header size (64)              56 u32 CRC-32C of bytes 0..55
 *    16  u64 file size, trailer included   60 u32 reserved, zero
 *    24  u32 section count (3)
 *    28  u32 flags (0)
 *   section table: 3 entries of 32 bytes, kinds 1 META, 2 TENSORS, 3 DATA, each exactly once, in that order,
 *     contiguous, 8-byte aligned:   u32 kind, u32 entry count, u64 offset, u64 size, u64 reserved (0)
 *   META: entries of  u32 key length K, u32 type (1 int64, 2 float64, 3 string), u64 value length V,
 *     key (K bytes + NUL), value (int64/float64: 8 bytes; string: V bytes + NUL), zero padding to 8 bytes
 *   TENSORS: entries of  u32 name length L, u32 group, u32 dtype (ONNX code: 1 f32, 2 u8, 7 i64), u32 rank R,
 *     i64 dims[R], u64 payload offset, u64 payload size, name (L bytes + NUL), zero padding to 8 bytes
 *   DATA: the payloads, each at a 64-byte aligned offset inside the section, in entry order, not overlapping,
 *     size = product(dims) * element size; zero padding between them
 *   trailer, 8 bytes: u32 CRC-32C (Castagnoli) of every byte before it, char[4] "HPKE"
 *
 * Names and keys are 1..4095 bytes without NUL; a name is unique within its group, a key unique. Groups:
 * TRAIN_CKPT_MODEL holds the graph's parameters and BN statistics (by initializer name), TRAIN_CKPT_OPTIM the
 * optimizer's state (momentum buffers by parameter name); other groups (< TRAIN_CKPT_MAX_GROUPS) are free for
 * callers (e.g. an ONNX model's bytes as a u8 tensor). A reader checks the magic, version, header checksum,
 * the file size against the header (a shorter file is reported as "truncated at byte N"), the whole-file
 * checksum, and then every size, offset, name, dtype, rank and dims product with checked arithmetic, so a
 * crafted file whose checksums are right is still refused without a huge allocation or an out-of-bounds read.
 * Metadata keys used by the trainer (by convention): "step", "epoch", "batch" (index within the epoch),
 * "config" (the training configuration as text), RNG states via train_ckpt_add_rng.
 */
#ifndef HPK_TRAIN_CKPT_H
#define HPK_TRAIN_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hpk.h"
#include "ir.h"
#include "ir_rng.h"

#define TRAIN_CKPT_FILE "checkpoint.hpk" /* the run's latest checkpoint, replaced atomically */
#define TRAIN_CKPT_BEST "best.hpk"       /* optional: the best checkpoint by validation accuracy */
#define TRAIN_CKPT_VERSION 1u
#define TRAIN_CKPT_MAX_NAME 4095u
#define TRAIN_CKPT_MAX_GROUPS 16u

enum train_ckpt_group { TRAIN_CKPT_MODEL = 0, TRAIN_CKPT_OPTIM = 1 };
enum train_ckpt_meta_type { TRAIN_CKPT_I64 = 1, TRAIN_CKPT_F64 = 2, TRAIN_CKPT_STR = 3 };

/* A tensor in a read checkpoint: data points into the checkpoint's buffer (64-byte aligned in the file, at
 * least 8-byte aligned in memory), valid until train_ckpt_free. */
typedef struct train_ckpt_tensor {
    const char *name;
    unsigned group;
    int dtype; /* HPK_DT_F32, HPK_DT_U8 or HPK_DT_I64 */
    int rank;
    int64_t dims[HPK_MAX_RANK];
    const void *data;
    size_t nbytes;
} train_ckpt_tensor;

typedef struct train_ckpt_meta {
    const char *key;
    int type;    /* enum train_ckpt_meta_type */
    int64_t i;   /* TRAIN_CKPT_I64 */
    double f;    /* TRAIN_CKPT_F64 (bit-exact) */
    const char *s; /* TRAIN_CKPT_STR: NUL-terminated; s_len bytes (may contain no NUL) */
    size_t s_len;
} train_ckpt_meta;

/* ---- writing ------------------------------------------------------------------------------------------------
 * A writer collects references (tensor payloads are not copied: keep them alive and unchanged until the write)
 * and copies of names, keys and strings; train_ckpt_write can be called more than once. */
typedef struct train_ckpt_writer train_ckpt_writer;

/* Test hooks for fault injection: called instead of write(2)/fsync(2) on the temp file; return like them and
 * set errno. NULL restores the system calls. */
typedef struct train_ckpt_io {
    ssize_t (*write)(void *ud, int fd, const void *buf, size_t n);
    int (*fsync)(void *ud, int fd);
    void *ud;
} train_ckpt_io;

int train_ckpt_writer_init(train_ckpt_writer **out, hpk_alloc alloc, hpk_err *err);
void train_ckpt_writer_free(train_ckpt_writer *w);
/* Forgets every tensor and metadata entry (the writer can be reused for the next checkpoint). */
void train_ckpt_writer_reset(train_ckpt_writer *w);
void train_ckpt_writer_set_io(train_ckpt_writer *w, const train_ckpt_io *io);
/* By default a float32 tensor holding NaN or Inf is refused at write time (no poisoned checkpoint). */
void train_ckpt_writer_allow_nonfinite(train_ckpt_writer *w, bool allow);

/* Adds a tensor (dtype HPK_DT_F32, HPK_DT_U8 or HPK_DT_I64; rank 0..HPK_MAX_RANK; dims >= 0). A duplicate
 * (group, name) is an error. */
int train_ckpt_add_tensor(train_ckpt_writer *w, unsigned group, const char *name, int dtype, int rank,
                          const int64_t *dims, const void *data, hpk_err *err);
/* Metadata; a duplicate key is an error. Strings may hold any bytes but NUL. */
int train_ckpt_add_i64(train_ckpt_writer *w, const char *key, int64_t v, hpk_err *err);
int train_ckpt_add_f64(train_ckpt_writer *w, const char *key, double v, hpk_err *err);
int train_ckpt_add_str(train_ckpt_writer *w, const char *key, const char *s, hpk_err *err);
/* Saves an RNG's full state under "<prefix>.state", "<prefix>.inc", "<prefix>.spare_flag", "<prefix>.spare". */
int train_ckpt_add_rng(train_ckpt_writer *w, const char *prefix, const ir_rng *r, hpk_err *err);
/* Adds every initializer flagged IR_VAL_PARAM or IR_VAL_STATE of g (group TRAIN_CKPT_MODEL, by value name,
 * payload referenced). */
int train_ckpt_add_graph(train_ckpt_writer *w, const ir_graph *g, hpk_err *err);

/* Writes the checkpoint to path atomically: a temp file ".<name>.tmp.<pid>" in path's folder is written,
 * fsynced and renamed over path, then the folder is fsynced. Stale temp files of dead processes (left by a
 * kill -9) for the same target are removed first. On any failure (ENOSPC, EDQUOT, EIO, EFBIG from a file-size
 * limit: callers must ignore SIGXFSZ, ...) the temp file is removed, the previous file at path is untouched,
 * and the error names path and the cause, e.g. "run/checkpoint.hpk: disk full while writing the checkpoint;
 * the previous checkpoint is kept". */
int train_ckpt_write(train_ckpt_writer *w, const char *path, hpk_err *err);
/* Serializes into memory (allocated through the writer's hook; free with the same hook, size *n). For tests
 * and fuzzing. */
int train_ckpt_serialize(train_ckpt_writer *w, void **out, size_t *n, hpk_err *err);

/* ---- reading --------------------------------------------------------------------------------------------- */
typedef struct train_ckpt train_ckpt;

/* Reads and validates path (a regular file of at most TRAIN_CKPT_MAX_FILE bytes). Errors name path. */
#define TRAIN_CKPT_MAX_FILE ((uint64_t)1 << 40)
int train_ckpt_read(const char *path, hpk_alloc alloc, train_ckpt **out, hpk_err *err);
/* Validates a checkpoint held in memory (copied); label names it in errors. */
int train_ckpt_parse(const void *buf, size_t n, const char *label, hpk_alloc alloc, train_ckpt **out,
                     hpk_err *err);
void train_ckpt_free(train_ckpt *c);

const char *train_ckpt_label(const train_ckpt *c);
int train_ckpt_n_tensors(const train_ckpt *c);
const train_ckpt_tensor *train_ckpt_tensor_at(const train_ckpt *c, int i); /* file order */
const train_ckpt_tensor *train_ckpt_find(const train_ckpt *c, unsigned group, const char *name);
int train_ckpt_n_meta(const train_ckpt *c);
const train_ckpt_meta *train_ckpt_meta_at(const train_ckpt *c, int i);
const train_ckpt_meta *train_ckpt_meta_find(const train_ckpt *c, const char *key);
/* Typed lookups: a missing key or another type is an error naming the file and key. */
int train_ckpt_get_i64(const train_ckpt *c, const char *key, int64_t *out, hpk_err *err);
int train_ckpt_get_f64(const train_ckpt *c, const char *key, double *out, hpk_err *err);
int train_ckpt_get_str(const train_ckpt *c, const char *key, const char **out, size_t *len, hpk_err *err);
int train_ckpt_get_rng(const train_ckpt *c, const char *prefix, ir_rng *r, hpk_err *err);

/* Copies group TRAIN_CKPT_MODEL into g's initializers flagged IR_VAL_PARAM or IR_VAL_STATE, by name. Every
 * such initializer must have a tensor of the same dtype and shape, and every tensor of the group must match one
 * of them; otherwise nothing is copied and the error names the tensor ("missing", "not in the model", "shape
 * [..] but the model has [..]"). */
int train_ckpt_load_graph(const train_ckpt *c, ir_graph *g, hpk_err *err);

/* CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF): crc = train_crc32c(0, p, n) for a whole buffer,
 * or chained: train_crc32c(train_crc32c(0, a, na), b, nb). */
uint32_t train_crc32c(uint32_t crc, const void *p, size_t n);

#endif
