/* fuzz_common.h — shared pieces of hpk's fuzz targets: invariant checks on errors, scratch files, input splitting.
 *
 * Every target defines LLVMFuzzerTestOneInput and is built two ways (tests/fuzz/meson.build): with libFuzzer and
 * ASan/UBSan under clang (-Dfuzz=true), and with fuzz_replay.c's main() as an ordinary test that replays the seed
 * corpus and the regression inputs. A broken invariant prints one "fuzz check failed" line and aborts, which both
 * libFuzzer and the replay driver report as a failure. */
#ifndef HPK_FUZZ_COMMON_H
#define HPK_FUZZ_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                                       \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);                          \
            fprintf(stderr, __VA_ARGS__);                                                                           \
            fputc('\n', stderr);                                                                                    \
            abort();                                                                                                \
        }                                                                                                           \
    } while (0)

/* HPK_FUZZ_VERBOSE=1 in the environment: each target notes what it made of an input (for checking a corpus). */
static inline int fuzz_verbose(void)
{
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("HPK_FUZZ_VERBOSE");
        v = e && *e && *e != '0';
    }
    return v;
}

#define FUZZ_NOTE(...)                                                                                              \
    do {                                                                                                            \
        if (fuzz_verbose()) {                                                                                       \
            fprintf(stderr, "  ");                                                                                  \
            fprintf(stderr, __VA_ARGS__);                                                                           \
            fputc('\n', stderr);                                                                                    \
        }                                                                                                           \
    } while (0)

/* The error contract of every function reachable from file bytes: a status in 1..6 that is not HPK_EINTERNAL (a
 * hostile file must never reach a broken internal invariant) nor HPK_EUSAGE, err->code equal to it, and a message
 * that is non-empty, NUL-terminated inside msg, one line (no control characters at all) and starts with
 * "PREFIX: " (prefix NULL: any). */
static inline void fuzz_check_err(int rc, const hpk_err *err, const char *prefix)
{
    FUZZ_NOTE("status %d: %s", rc, err->msg);
    FUZZ_CHECK(rc >= HPK_EINPUT && rc <= HPK_EUNSUPPORTED && rc != HPK_EUSAGE, "status %d: %.200s", rc, err->msg);
    FUZZ_CHECK(err->code == rc, "status %d but err->code %d: %.200s", rc, err->code, err->msg);
    size_t len = strnlen(err->msg, sizeof err->msg);
    FUZZ_CHECK(len > 0 && len < sizeof err->msg, "message of %zu bytes", len);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f,
                   "control character 0x%02x at byte %zu of the message: %.200s", (unsigned char)err->msg[i], i,
                   err->msg);
    if (prefix) {
        size_t pl = strlen(prefix);
        FUZZ_CHECK(strncmp(err->msg, prefix, pl) == 0 && err->msg[pl] == ':' && err->msg[pl + 1] == ' ',
                   "the message does not start with '%s: ': %.200s", prefix, err->msg);
    }
}

/* FNV-1a of the input: a deterministic choice (which allocation to fail, which option to try) per input. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

/* Reads every byte of p[0..n) so ASan checks the whole range; returns a value the caller can ignore. */
static inline unsigned fuzz_touch(const void *p, size_t n)
{
    const volatile unsigned char *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    return s;
}

/* ---- scratch files: the readers take paths. One private folder per process on tmpfs (/dev/shm, else $TMPDIR or
 * /tmp), removed at exit; files are overwritten in place for every input. */
static char fuzz_dir_path[256];
static char fuzz_dir_files[16][64];
static int fuzz_dir_nfiles;

static void fuzz_dir_cleanup(void)
{
    char p[1400];
    for (int i = 0; i < fuzz_dir_nfiles; i++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_dir_path, fuzz_dir_files[i]);
        unlink(p);
    }
    if (fuzz_dir_path[0])
        rmdir(fuzz_dir_path);
}

static inline const char *fuzz_dir(void)
{
    if (fuzz_dir_path[0])
        return fuzz_dir_path;
    const char *bases[3] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 3; i++) {
        if (!bases[i] || !bases[i][0])
            continue;
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/hpk-fuzz-XXXXXX", bases[i]);
        if (mkdtemp(fuzz_dir_path)) {
            atexit(fuzz_dir_cleanup);
            return fuzz_dir_path;
        }
    }
    fprintf(stderr, "fuzz: cannot create a scratch folder: %s\n", strerror(errno));
    abort();
}

/* Writes data to fuzz_dir()/name (replacing it) and returns the path (static storage, one slot per name). */
static inline const char *fuzz_file(const char *name, const void *data, size_t n)
{
    static char paths[16][1400];
    int slot = -1;
    for (int i = 0; i < fuzz_dir_nfiles; i++)
        if (strcmp(fuzz_dir_files[i], name) == 0)
            slot = i;
    if (slot < 0) {
        FUZZ_CHECK(fuzz_dir_nfiles < 16 && strlen(name) < sizeof fuzz_dir_files[0], "too many scratch files");
        slot = fuzz_dir_nfiles++;
        snprintf(fuzz_dir_files[slot], sizeof fuzz_dir_files[slot], "%s", name);
    }
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fuzz_dir(), name);
    int fd = open(paths[slot], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0, "cannot create %s: %s", paths[slot], strerror(errno));
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        FUZZ_CHECK(k > 0, "cannot write %s: %s", paths[slot], strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    close(fd);
    return paths[slot];
}

/* Removes fuzz_dir()/name if it exists (a file left from an earlier input). */
static inline void fuzz_file_remove(const char *name)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir(), name);
    unlink(p);
}

/* ---- several files in one input: parts separated by a marker (the dictionaries list it) -------------------- */
typedef struct fuzz_part {
    const uint8_t *p;
    size_t n;
} fuzz_part;

static inline const uint8_t *fuzz_find(const uint8_t *p, size_t n, const char *m, size_t ml)
{
    for (size_t i = 0; ml <= n && i <= n - ml; i++)
        if (p[i] == (uint8_t)m[0] && memcmp(p + i, m, ml) == 0)
            return p + i;
    return NULL;
}

/* Splits data at each occurrence of marker into at most max parts (the last one keeps any further markers);
 * returns the count (1 if the marker does not occur). */
static inline int fuzz_split(const uint8_t *data, size_t size, const char *marker, fuzz_part *parts, int max)
{
    size_t ml = strlen(marker);
    int k = 0;
    const uint8_t *p = data, *end = data + size;
    while (k < max - 1) {
        const uint8_t *q = fuzz_find(p, (size_t)(end - p), marker, ml);
        if (!q)
            break;
        parts[k++] = (fuzz_part){p, (size_t)(q - p)};
        p = q + ml;
    }
    parts[k++] = (fuzz_part){p, (size_t)(end - p)};
    return k;
}

#endif
