#include "workers.h"

#include "blocking.h"
#include "log.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* A worker waiting for a job waits on its own semaphore, and a post hands
 * the job straight to it, so the woken thread never contends for the
 * pool's mutex to find its job.  With one condition variable for all
 * workers every wake-up was followed by a wait for that mutex: the largest
 * source of futex calls in the vault's profile (docs/benchmarks.md).
 *
 * At most `at_once` jobs (one per core) are handed out; more wait in the
 * queue for a worker to finish.  More running jobs than cores only took
 * turns on the CPUs and for the stores' locks: two workers served 13-16%
 * more small requests than four on two cores.  The other threads are there
 * for jobs that block (fsync, the vault over the network, PostgreSQL): a job
 * about to wait says so (blocking.h) and stops counting, so a queued job
 * starts at once.  For waits nobody announced (a cold disk read, a lock
 * held elsewhere), when the queue has not moved for a tick the watchdog
 * hands its head to an idle thread beyond the limit. */
typedef struct cf_worker {
    pthread_t thread;
    struct cf_workers *pool;
    sem_t wake;
    cf_job *job;                 /* handed over by a post; NULL: look again */
    struct cf_worker *next_idle; /* the idle stack, under the pool's mutex */
} cf_worker;

#define CF_WORKERS_TICK_NS 5000000 /* the watchdog's period: 5 ms */

struct cf_workers {
    pthread_mutex_t mu;
    pthread_cond_t queued; /* the watchdog sleeps here while nothing waits */
    cf_job *head, *tail;   /* posted while no worker could take them */
    cf_worker *idle;       /* the last to go idle first: its cache is warmest */
    unsigned running;      /* jobs being run */
    unsigned at_once;      /* jobs handed out before others queue */
    long tick_ns;          /* the watchdog's period */
    uint64_t dispatched;   /* jobs handed out so far: the watchdog's progress mark */
    pthread_t watchdog;
    bool watching;     /* the watchdog was started */
    bool watch_asleep; /* it waits for a job to be queued */
    bool stopping;
    bool joined; /* cf_workers_stop has run */
    unsigned count;
    cf_worker workers[];
};

/* The queue's first job, counted as running, under the mutex; NULL if the
 * queue is empty. */
static cf_job *cf_workers_take(cf_workers *pool)
{
    cf_job *job = pool->head;
    if (job) {
        pool->head = job->next;
        if (!pool->head)
            pool->tail = NULL;
        pool->running++;
        pool->dispatched++;
    }
    return job;
}

static void cf_workers_blocking(void *ctx, bool waiting);

static void *cf_workers_main(void *arg)
{
    cf_worker *self = arg;
    cf_workers *pool = self->pool;
    cf_blocking_bind(cf_workers_blocking, pool);
    bool ran = false;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        if (ran)
            pool->running--;
        /* Stopping drains the queue with every thread. */
        bool may_take = pool->running < pool->at_once || pool->stopping;
        cf_job *job = may_take ? cf_workers_take(pool) : NULL;
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
        ran = job != NULL;
        if (job) {
            job->run(job);
            if (!cf_blocking_settle())
                cf_log(CF_LOG_ERROR, NULL, "a worker job ended inside an announced wait");
        }
    }
    return NULL;
}

/* Under the mutex: hands the queue's head to the idle thread on top of the
 * stack, which the caller wakes; NULL when either is missing. */
static cf_worker *cf_workers_hand_queued(cf_workers *pool)
{
    cf_worker *w = pool->idle;
    if (!w || !pool->head)
        return NULL;
    pool->idle = w->next_idle;
    w->job = cf_workers_take(pool);
    return w;
}

/* The blocking.h hook: a job about to wait stops counting as running, and
 * the queue's head may start meanwhile; back from the wait it counts again
 * (over the limit until some job ends). */
static void cf_workers_blocking(void *ctx, bool waiting)
{
    cf_workers *pool = ctx;
    cf_worker *w = NULL;
    pthread_mutex_lock(&pool->mu);
    if (waiting) {
        pool->running--;
        if (pool->running < pool->at_once)
            w = cf_workers_hand_queued(pool);
    } else {
        pool->running++;
    }
    pthread_mutex_unlock(&pool->mu);
    if (w)
        sem_post(&w->wake);
}

static void cf_workers_deadline(struct timespec *t, long tick_ns)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += tick_ns / 1000000000L;
    t->tv_nsec += tick_ns % 1000000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* Sleeps while the queue is empty; while it is not, checks every tick that
 * some job left it, and otherwise starts its head on a thread beyond the
 * limit (the running jobs are taken to be blocked). */
static void *cf_workers_watch(void *arg)
{
    cf_workers *pool = arg;
    pthread_mutex_lock(&pool->mu);
    while (!pool->stopping) {
        if (!pool->head) {
            pool->watch_asleep = true;
            pthread_cond_wait(&pool->queued, &pool->mu);
            pool->watch_asleep = false;
            continue;
        }
        uint64_t mark = pool->dispatched;
        struct timespec until;
        cf_workers_deadline(&until, pool->tick_ns);
        while (!pool->stopping && pthread_cond_timedwait(&pool->queued, &pool->mu, &until) == 0)
            ; /* stop's broadcast is the only signal during a tick */
        if (pool->stopping || pool->dispatched != mark)
            continue;
        cf_worker *w = cf_workers_hand_queued(pool);
        if (w)
            sem_post(&w->wake);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

bool cf_workers_start(unsigned threads, unsigned at_once, cf_workers **out)
{
    cf_workers *pool = calloc(1, sizeof *pool + threads * sizeof(cf_worker));
    CF_ENSURE_ALLOC(pool);
    pool->at_once = at_once && at_once < threads ? at_once : threads;
    pool->tick_ns = CF_WORKERS_TICK_NS;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->queued, &attr);
    pthread_condattr_destroy(&attr);
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
    pool->watching = pool->count == threads && pool->at_once < threads &&
                     pthread_create(&pool->watchdog, NULL, cf_workers_watch, pool) == 0;
    if (pool->count < threads || (pool->at_once < threads && !pool->watching)) {
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
    cf_worker *w = pool->running < pool->at_once ? pool->idle : NULL;
    if (w) {
        pool->idle = w->next_idle;
        w->job = job;
        pool->running++;
        pool->dispatched++;
    } else if (pool->tail) {
        pool->tail->next = job;
        pool->tail = job;
    } else {
        pool->head = pool->tail = job;
        if (pool->watch_asleep)
            pthread_cond_signal(&pool->queued);
    }
    pthread_mutex_unlock(&pool->mu);
    if (w)
        sem_post(&w->wake);
    return true;
}

void cf_workers_set_watch_period(cf_workers *pool, unsigned ms)
{
    pthread_mutex_lock(&pool->mu);
    pool->tick_ns = (long)ms * 1000000L;
    pthread_mutex_unlock(&pool->mu);
}

unsigned cf_workers_running(cf_workers *pool)
{
    pthread_mutex_lock(&pool->mu);
    unsigned n = pool->running;
    pthread_mutex_unlock(&pool->mu);
    return n;
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
    pthread_cond_broadcast(&pool->queued);
    pthread_mutex_unlock(&pool->mu);
    if (pool->watching)
        pthread_join(pool->watchdog, NULL);
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
    pthread_cond_destroy(&pool->queued);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
}
