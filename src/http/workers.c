#include "workers.h"

#include <pthread.h>
#include <stdlib.h>

struct cf_workers {
    pthread_mutex_t mu;
    pthread_cond_t ready;
    cf_job *head, *tail;
    bool stopping;
    unsigned count;
    pthread_t threads[];
};

static void *cf_workers_main(void *arg)
{
    cf_workers *pool = arg;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->head && !pool->stopping)
            pthread_cond_wait(&pool->ready, &pool->mu);
        cf_job *job = pool->head;
        if (!job)
            break; /* stopping, and nothing left */
        pool->head = job->next;
        if (!pool->head)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->mu);
        job->run(job);
        pthread_mutex_lock(&pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

bool cf_workers_start(unsigned threads, cf_workers **out)
{
    cf_workers *pool = calloc(1, sizeof *pool + threads * sizeof(pthread_t));
    CF_ENSURE_ALLOC(pool);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->ready, NULL);
    for (; pool->count < threads; pool->count++)
        if (pthread_create(&pool->threads[pool->count], NULL, cf_workers_main, pool) != 0)
            break;
    if (pool->count < threads) {
        cf_workers_free(pool);
        CF_BAIL(CF_ERR_IO, "cannot start worker threads");
    }
    *out = pool;
    return true;
}

bool cf_workers_post(cf_workers *pool, cf_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&pool->mu);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->mu);
        return false;
    }
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->mu);
    return true;
}

void cf_workers_stop(cf_workers *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->count; i++)
        pthread_join(pool->threads[i], NULL);
    pool->count = 0;
}

void cf_workers_free(cf_workers *pool)
{
    if (!pool)
        return;
    cf_workers_stop(pool);
    pthread_cond_destroy(&pool->ready);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
}
