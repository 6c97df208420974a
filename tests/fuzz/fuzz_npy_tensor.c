/* fuzz_npy_tensor.c — fuzz target: hpk_npy_load (the .npy reader of `hpk run --input`) and its save round trip.
 *
 * Invariants: a rejection is a status with a one-line message naming the file and no data; an accepted array has
 * a known dtype, rank 0..8, non-negative dims whose product times the element size is nbytes, and nbytes readable
 * bytes; hpk_npy_save writes it back (or refuses a dtype it cannot write with HPK_EUNSUPPORTED), and loading that
 * gives the same dtype, dims and bytes; nothing leaks. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("in.npy", data, size);
    hpk_tensor t;
    hpk_err err = {0};
    int rc = hpk_npy_load(path, &t, &err);
    if (rc) {
        fuzz_check_err(rc, &err, path);
        FUZZ_CHECK(t.data == NULL, "a failed load left data");
        return 0;
    }
    FUZZ_NOTE("loaded: %s rank %d, %zu bytes", hpk_dtype_name(t.dtype), t.rank, t.nbytes);
    FUZZ_CHECK(hpk_dtype_size(t.dtype) > 0, "dtype %d", t.dtype);
    FUZZ_CHECK(t.rank >= 0 && t.rank <= HPK_MAX_RANK, "rank %d", t.rank);
    size_t n = 0;
    FUZZ_CHECK(hpk_numel(t.rank, t.dims, &n) == HPK_OK && n * hpk_dtype_size(t.dtype) == t.nbytes,
               "dims and nbytes %zu disagree", t.nbytes);
    FUZZ_CHECK(t.data != NULL, "no data");
    fuzz_touch(t.data, t.nbytes);

    const char *out = fuzz_file("out.npy", "", 0);
    hpk_err e2 = {0};
    rc = hpk_npy_save(out, &t, &e2);
    if (rc) {
        fuzz_check_err(rc, &e2, out);
        FUZZ_CHECK(rc == HPK_EUNSUPPORTED, "save failed: %s", e2.msg);
    } else {
        hpk_tensor u;
        rc = hpk_npy_load(out, &u, &e2);
        FUZZ_CHECK(rc == HPK_OK, "a saved array does not load: %s", e2.msg);
        FUZZ_CHECK(u.dtype == t.dtype && u.rank == t.rank && u.nbytes == t.nbytes &&
                       memcmp(u.dims, t.dims, sizeof(int64_t) * (size_t)t.rank) == 0 &&
                       (t.nbytes == 0 || memcmp(u.data, t.data, t.nbytes) == 0),
                   "the saved array loads differently");
        free(u.data);
    }
    free(t.data);
    return 0;
}
