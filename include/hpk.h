/* hpk.h — hpk's public API: status and errors, the allocator hook, tensors, and graph/model/session entry points. */
#ifndef HPK_H
#define HPK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------------------------------------------
 * Every function reachable from file bytes or user flags returns one of these and fills an hpk_err with a
 * one-line reason naming the file, node or tensor. The library never exits the process. */
enum hpk_status {
    HPK_OK = 0,
    HPK_EINPUT = 1,       /* bad or hostile input: model, data, checkpoint, flag value */
    HPK_EUSAGE = 2,       /* command-line misuse */
    HPK_ENOMEM = 3,       /* an allocation failed or a size exceeded the budget */
    HPK_EIO = 4,          /* the operating system refused a read/write */
    HPK_EUNSUPPORTED = 5, /* valid input hpk does not handle (an op, a dtype) */
    HPK_EINTERNAL = 6     /* a broken internal invariant that could still be reported */
};

typedef struct hpk_err {
    int code;
    char msg[768];
} hpk_err;

/* Records `code` and a printf-style message in err (if err is non-NULL); returns code. Keeps the first error:
 * a later call does not overwrite an earlier message unless hpk_err_clear was called in between. Control
 * characters (names from a file may hold any) are replaced by '?', so the message is always one line. */
int hpk_err_set(hpk_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void hpk_err_clear(hpk_err *err);
/* Maps a status to the process exit status of the command-line contract: 0 ok, 2 usage, 1 anything else. */
int hpk_exit_status(int code);

/* ---- allocation ---------------------------------------------------------------------------------------------
 * Like lua_Alloc: nsize == 0 frees ptr and returns NULL; otherwise (re)allocates. Every allocation of the
 * importer, the graph and the passes goes through one of these so tests can fail the Nth allocation. */
typedef void *(*hpk_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);
typedef struct hpk_alloc {
    hpk_alloc_fn fn;
    void *ud;
} hpk_alloc;

hpk_alloc hpk_alloc_default(void);

/* A test allocator: fails the Nth allocation (1-based; 0 = never) and counts live blocks. */
typedef struct hpk_failing_alloc {
    long fail_at;    /* fail the allocation with this ordinal; 0 disables */
    long count;      /* allocations attempted so far */
    long live;       /* blocks currently allocated */
    int failed;      /* set once a failure has been injected */
} hpk_failing_alloc;
hpk_alloc hpk_alloc_failing(hpk_failing_alloc *state);

/* ---- tensors -------------------------------------------------------------------------------------------------
 * Dtype codes are ONNX TensorProto.DataType codes. */
#define HPK_MAX_RANK 8
enum hpk_dtype {
    HPK_DT_UNDEF = 0,
    HPK_DT_F32 = 1,
    HPK_DT_U8 = 2,
    HPK_DT_I8 = 3,
    HPK_DT_I32 = 6,
    HPK_DT_I64 = 7,
    HPK_DT_BOOL = 9,
    HPK_DT_F64 = 11
};

typedef struct hpk_tensor {
    int dtype;
    int rank;
    int64_t dims[HPK_MAX_RANK];
    void *data;
    size_t nbytes;
} hpk_tensor;

/* Size in bytes of one element of dtype, 0 for an unknown dtype. */
size_t hpk_dtype_size(int dtype);
const char *hpk_dtype_name(int dtype);
/* Element count of dims with overflow checking; returns 0 on success, HPK_EINPUT on overflow or negative dims. */
int hpk_numel(int rank, const int64_t *dims, size_t *out);

/* .npy I/O: float32/int64/uint8 little-endian C-order arrays. A loaded tensor owns data (free with free()). */
int hpk_npy_load(const char *path, hpk_tensor *out, hpk_err *err);
int hpk_npy_save(const char *path, const hpk_tensor *t, hpk_err *err);

#ifdef __cplusplus
}
#endif
#endif
