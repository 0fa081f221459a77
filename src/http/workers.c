#include "workers.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

/* A worker waiting for a job waits on its own semaphore, and a post hands
 * the job straight to it, so the woken thread never contends for the
 * pool's mutex to find its job.  With one condition variable for all
 * workers every wake-up was followed by a wait for that mutex: the largest
 * source of futex calls in the vault's profile (docs/benchmarks.md). */
typedef struct cf_worker {
    pthread_t thread;
    struct cf_workers *pool;
    sem_t wake;
    cf_job *job;                 /* handed over by a post; NULL: look again */
    struct cf_worker *next_idle; /* the idle stack, under the pool's mutex */
} cf_worker;

struct cf_workers {
    pthread_mutex_t mu;
    cf_job *head, *tail; /* posted while no worker was idle */
    cf_worker *idle;     /* the last to go idle first: its cache is warmest */
    bool stopping;
    bool joined; /* cf_workers_stop has run */
    unsigned count;
    cf_worker workers[];
};

/* The queue's first job, under the mutex; NULL if it is empty. */
static cf_job *cf_workers_take(cf_workers *pool)
{
    cf_job *job = pool->head;
    if (job) {
        pool->head = job->next;
        if (!pool->head)
            pool->tail = NULL;
    }
    return job;
}

static void *cf_workers_main(void *arg)
{
    cf_worker *self = arg;
    cf_workers *pool = self->pool;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        cf_job *job = cf_workers_take(pool);
        bool done = !job && pool->stopping; /* and nothing left */
        if (!job && !done) {
            self->job = NULL;
            self->next_idle = pool->idle;
            pool->idle = self;
        }
        pthread_mutex_unlock(&pool->mu);
        if (done)
            break;
        if (!job) {
            while (sem_wait(&self->wake) != 0)
                ;            /* EINTR */
            job = self->job; /* NULL when woken to stop */
        }
        if (job)
            job->run(job);
    }
    return NULL;
}

bool cf_workers_start(unsigned threads, cf_workers **out)
{
    cf_workers *pool = calloc(1, sizeof *pool + threads * sizeof(cf_worker));
    CF_ENSURE_ALLOC(pool);
    pthread_mutex_init(&pool->mu, NULL);
    for (; pool->count < threads; pool->count++) {
        cf_worker *w = &pool->workers[pool->count];
        w->pool = pool;
        if (sem_init(&w->wake, 0, 0) != 0)
            break;
        if (pthread_create(&w->thread, NULL, cf_workers_main, w) != 0) {
            sem_destroy(&w->wake);
            break;
        }
    }
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
    cf_worker *w = pool->idle;
    if (w) {
        pool->idle = w->next_idle;
        w->job = job;
    } else if (pool->tail) {
        pool->tail->next = job;
        pool->tail = job;
    } else {
        pool->head = pool->tail = job;
    }
    pthread_mutex_unlock(&pool->mu);
    if (w)
        sem_post(&w->wake);
    return true;
}

void cf_workers_stop(cf_workers *pool)
{
    if (!pool || pool->joined)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = true;
    for (cf_worker *w = pool->idle; w; w = w->next_idle) {
        w->job = NULL;
        sem_post(&w->wake);
    }
    pool->idle = NULL;
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->count; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pool->joined = true;
}

void cf_workers_free(cf_workers *pool)
{
    if (!pool)
        return;
    cf_workers_stop(pool);
    for (unsigned i = 0; i < pool->count; i++)
        sem_destroy(&pool->workers[i].wake);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
}
