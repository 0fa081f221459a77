/*
 * The clock of the bench load generators (vault_load, blob_load): start
 * `conns` worker threads, let them warm up one second, count for `seconds`,
 * stop and join them.  Workers loop until load_stopped() and report each
 * operation with load_count(ok).
 */
#ifndef CF_BENCH_LOAD_CLOCK_H
#define CF_BENCH_LOAD_CLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static atomic_long load_done, load_failed;
static atomic_bool load_stop;

static inline bool load_stopped(void)
{
    return atomic_load(&load_stop);
}

static inline void load_count(bool ok)
{
    atomic_fetch_add(ok ? &load_done : &load_failed, 1);
}

/* Runs the workers (each gets its index as its argument); *ops_per_s and
 * *failed describe the counted window. */
static inline void load_run(int conns, int seconds, void *(*worker)(void *), double *ops_per_s,
                            long *failed)
{
    pthread_t *threads = calloc((size_t)conns, sizeof *threads);
    for (long i = 0; i < conns; i++)
        pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    struct timespec warm = {1, 0}, run = {seconds, 0}, t0, t1;
    nanosleep(&warm, NULL);
    atomic_store(&load_done, 0);
    atomic_store(&load_failed, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nanosleep(&run, NULL);
    long ops = atomic_load(&load_done);
    *failed = atomic_load(&load_failed);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&load_stop, 1);
    for (int i = 0; i < conns; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    *ops_per_s = (double)ops / secs;
}

#endif
