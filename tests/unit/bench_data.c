/* bench_data.c — loader throughput: images/s a data_loader produces for a SPEC (not a test; run by hand). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_data SPEC [--eval] [--size S] [--resize R] [--pad P] [--batch B] "
                        "[--threads N] [--channels C] [--batches K] [--seed N]\n");
        return 2;
    }
    hpk_err err = {0};
    data_dataset *ds = NULL;
    double t0 = now();
    if (data_dataset_open(&ds, argv[1], 0, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_open = now() - t0;
    int train = 1;
    data_loader_opts o;
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--eval") == 0)
            train = 0;
    data_loader_opts_default(&o, ds, train);
    long batches = 200;
    for (int i = 2; i + 1 < argc; i++) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--size") == 0)
            o.size = (int)v;
        else if (strcmp(argv[i], "--resize") == 0)
            o.resize = (int)v;
        else if (strcmp(argv[i], "--pad") == 0)
            o.pad = (int)v;
        else if (strcmp(argv[i], "--batch") == 0)
            o.batch = (int)v;
        else if (strcmp(argv[i], "--threads") == 0)
            o.threads = (int)v;
        else if (strcmp(argv[i], "--channels") == 0)
            data_loader_opts_channels(&o, data_dataset_info(ds)->c, (int)v);
        else if (strcmp(argv[i], "--batches") == 0)
            batches = v;
        else if (strcmp(argv[i], "--seed") == 0)
            o.seed = (uint64_t)v;
        else
            continue;
        i++;
    }
    data_loader *L = NULL;
    if (data_loader_create(&L, ds, &o, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        data_dataset_free(ds);
        return 1;
    }
    int c, h, w;
    data_loader_geometry(L, &c, &h, &w);
    long images = 0, got = 0;
    double sum = 0;
    t0 = now();
    while (got < batches) {
        data_batch b;
        int n = data_loader_next(L, &b, &err);
        if (n < 0) {
            fprintf(stderr, "%s\n", err.msg);
            break;
        }
        if (n == 0)
            continue;
        sum += b.x[0];
        images += n;
        got++;
    }
    double dt = now() - t0;
    char rep[1024];
    if (data_dataset_skipped_report(ds, rep, sizeof rep, 5))
        printf("%s\n", rep);
    printf("%s: %zu items, open %.2f s; %s %d x %d x %d, batch %d, resize %d, pad %d, %d threads: %ld images in "
           "%.2f s (checksum %g)\n",
           argv[1], data_dataset_info(ds)->count, t_open, train ? "train" : "eval", c, h, w, o.batch, o.resize, o.pad,
           o.threads, images, dt, sum);
    printf("%.0f img/s\n", (double)images / dt);
    data_loader_free(L);
    data_dataset_free(ds);
    return 0;
}
