/* ref_thread.c — the reference backend's deterministic parallel-for over POSIX threads. */
#include <pthread.h>
#include <stdbool.h>

#include "ref.h"

#define REF_MAX_THREADS 256

typedef struct ref_chunk {
    ref_task_fn fn;
    void *ctx;
    int64_t begin, end;
} ref_chunk;

static void *chunk_run(void *p)
{
    ref_chunk *c = p;
    c->fn(c->ctx, c->begin, c->end);
    return NULL;
}

void ref_parallel(int threads, int64_t n, ref_task_fn fn, void *ctx)
{
    ref_chunk ch[REF_MAX_THREADS];
    pthread_t tid[REF_MAX_THREADS];
    bool started[REF_MAX_THREADS];
    if (n <= 0)
        return;
    if (threads > REF_MAX_THREADS)
        threads = REF_MAX_THREADS;
    if (threads > n)
        threads = (int)n;
    if (threads <= 1) {
        fn(ctx, 0, n);
        return;
    }
    /* static contiguous chunks: which thread runs a task never changes what the task computes */
    for (int t = 0; t < threads; t++) {
        ch[t].fn = fn;
        ch[t].ctx = ctx;
        ch[t].begin = n / threads * t + (t < n % threads ? t : n % threads);
        ch[t].end = ch[t].begin + n / threads + (t < n % threads ? 1 : 0);
    }
    for (int t = 1; t < threads; t++)
        started[t] = pthread_create(&tid[t], NULL, chunk_run, &ch[t]) == 0;
    chunk_run(&ch[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            chunk_run(&ch[t]); /* could not start a thread: run its chunk here */
    }
}
