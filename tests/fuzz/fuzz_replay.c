/* fuzz_replay.c — a main() for the fuzz targets without libFuzzer: feeds files to LLVMFuzzerTestOneInput.
 *
 * usage: replay_TARGET [-v] PATH...     each PATH is a file or a folder (its regular files, in name order; names
 *                                       starting with '.' and README* are skipped)
 * Like SQLite's fuzzcheck: the seed corpus and every regression input run as an ordinary, deterministic test in
 * the normal and the sanitizer builds. Exit 0 when every input ran; a broken invariant aborts (the input's name is
 * printed first); a missing PATH is an error (a renamed corpus must not silently replay nothing). */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN 1
#endif
#endif

static char current[4096];

static void on_signal(int sig)
{
    static const char pre[] = "replay: crashed on input ";
    if (write(2, pre, sizeof pre - 1) < 0 || write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0) {
        /* nothing more can be done in a signal handler */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int verbose;
static long n_inputs;
static double slowest;
static char slowest_name[4096];

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "replay: out of memory reading %s\n", path);
            fclose(f);
            return 1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *q = realloc(buf, cap * 2);
        if (!q)
            free(buf);
        buf = q;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: read error on %s\n", path);
        free(buf);
        return 1;
    }
    snprintf(current, sizeof current, "%s", path);
    if (verbose)
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    /* an exact-size copy, so ASan sees reads past the input's end */
    uint8_t *in = malloc(n ? n : 1);
    if (!in) {
        free(buf);
        return 1;
    }
    if (n)
        memcpy(in, buf, n);
    free(buf);
    double t0 = now();
    LLVMFuzzerTestOneInput(in, n);
    double dt = now() - t0;
    free(in);
    if (dt > slowest) {
        slowest = dt;
        snprintf(slowest_name, sizeof slowest_name, "%s", path);
    }
    n_inputs++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: cannot list %s\n", path);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **q = realloc(names, cap * sizeof *q);
            if (!q) {
                rc = 1;
                break;
            }
            names = q;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) {
            rc = 1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!rc && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = replay_file(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
#ifndef REPLAY_ASAN
    /* sanitizers report crashes themselves (and abort with abort_on_error=1: SIGABRT is caught below) */
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    signal(SIGILL, on_signal);
#endif
    signal(SIGABRT, on_signal);
    int first = 1, rc = 0;
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        first = 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-v] FILE_OR_FOLDER...\n", argv[0]);
        return 2;
    }
    double t0 = now();
    for (int i = first; i < argc && !rc; i++)
        rc = replay_path(argv[i]);
    if (rc)
        return 1;
    printf("replayed %ld inputs in %.2f s; slowest %.3f s (%s)\n", n_inputs, now() - t0, slowest,
           slowest_name[0] ? slowest_name : "-");
    return 0;
}
