/*
 * The worker pool: every posted job runs exactly once, jobs run in the
 * order posted when there is one worker, stop runs what was posted before
 * it, posting after stop fails (the caller keeps its job), and jobs that
 * block every thread allowed to run do not hold up the queue for long,
 * a job waiting between cf_blocking_enter and _leave does not count
 * against the limit, and, with the watchdog slowed to a minute, the limit
 * holds a job back and an announced wait releases it.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include "blocking.h"
#include "test.h"
#include "workers.h"

typedef struct {
    cf_job job;
    int id;
} counted_job;

static atomic_int runs;
static int order[64];
static atomic_int next_slot;

static void count_run(cf_job *job)
{
    counted_job *j = (counted_job *)job;
    order[atomic_fetch_add(&next_slot, 1) % 64] = j->id;
    atomic_fetch_add(&runs, 1);
}

static void test_all_jobs_run_once(void)
{
    cf_workers *pool = NULL;
    CHECK(cf_workers_start(4, 2, &pool));
    static counted_job jobs[1000];
    atomic_store(&runs, 0);
    for (int i = 0; i < 1000; i++) {
        jobs[i] = (counted_job){{count_run, NULL}, i};
        CHECK(cf_workers_post(pool, &jobs[i].job));
    }
    cf_workers_stop(pool); /* runs everything already posted */
    CHECK(atomic_load(&runs) == 1000);
    counted_job late = {{count_run, NULL}, -1};
    CHECK(!cf_workers_post(pool, &late.job));
    CHECK(atomic_load(&runs) == 1000);
    cf_workers_free(pool);
}

static void test_one_worker_keeps_order(void)
{
    cf_workers *pool = NULL;
    CHECK(cf_workers_start(1, 0, &pool));
    static counted_job jobs[64];
    atomic_store(&next_slot, 0);
    for (int i = 0; i < 64; i++) {
        jobs[i] = (counted_job){{count_run, NULL}, i};
        CHECK(cf_workers_post(pool, &jobs[i].job));
    }
    cf_workers_free(pool);
    bool in_order = true;
    for (int i = 0; i < 64; i++)
        in_order &= order[i] == i;
    CHECK(in_order);
}

static sem_t late_ran, held_started, held_release;

/* Says it started, then waits to be let go. */
static void held_job(cf_job *job)
{
    (void)job;
    sem_post(&held_started);
    sem_wait(&held_release);
}

static void note_late(cf_job *job)
{
    (void)job;
    sem_post(&late_ran);
}

/* The CLOCK_REALTIME time `ms` from now, as sem_timedwait wants it. */
static struct timespec after_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

static bool wait_up_to(sem_t *s, int seconds)
{
    struct timespec until = after_ms(seconds * 1000L);
    return sem_timedwait(s, &until) == 0;
}

/* Two jobs at a time, both blocked: the third still runs (the watchdog
 * gives it one of the standing-by threads), long before they end. */
static void test_blocked_jobs_do_not_stall_the_queue(void)
{
    sem_init(&held_release, 0, 0);
    sem_init(&held_started, 0, 0);
    sem_init(&late_ran, 0, 0);
    cf_workers *pool = NULL;
    CHECK(cf_workers_start(4, 2, &pool));
    cf_job blockers[2] = {{held_job, NULL}, {held_job, NULL}};
    cf_job late = {note_late, NULL};
    for (int i = 0; i < 2; i++)
        CHECK(cf_workers_post(pool, &blockers[i]));
    CHECK(wait_up_to(&held_started, 10) && wait_up_to(&held_started, 10));
    CHECK(cf_workers_post(pool, &late));
    CHECK(wait_up_to(&late_ran, 10));
    sem_post(&held_release);
    sem_post(&held_release);
    cf_workers_free(pool);
    sem_destroy(&held_release);
    sem_destroy(&held_started);
    sem_destroy(&late_ran);
}

static sem_t entered, may_leave, left;

static void announced_wait(cf_job *job)
{
    (void)job;
    cf_blocking_enter();
    cf_blocking_enter(); /* nested: only the outer pair counts */
    sem_post(&entered);
    sem_wait(&may_leave);
    cf_blocking_leave();
    cf_blocking_leave();
    sem_post(&left);
    sem_wait(&may_leave);
}

/* Whether the pool's count of running jobs reaches `n` within 10 s. */
static bool running_reaches(cf_workers *pool, unsigned n)
{
    for (int i = 0; i < 10000; i++) {
        if (cf_workers_running(pool) == n)
            return true;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return false;
}

/* One job at a time: while the first waits between enter and leave it is
 * not counted, so a second is handed a thread; back from its wait the
 * first counts again until it ends. */
static void test_announced_waits_free_their_place(void)
{
    sem_init(&entered, 0, 0);
    sem_init(&may_leave, 0, 0);
    sem_init(&left, 0, 0);
    cf_workers *pool = NULL;
    CHECK(cf_workers_start(2, 1, &pool));
    cf_job waiter = {announced_wait, NULL};
    CHECK(cf_workers_post(pool, &waiter));
    CHECK(wait_up_to(&entered, 10));
    CHECK(cf_workers_running(pool) == 0);
    sem_init(&late_ran, 0, 0);
    cf_job second = {note_late, NULL};
    CHECK(cf_workers_post(pool, &second));
    CHECK(wait_up_to(&late_ran, 10));
    CHECK(running_reaches(pool, 0)); /* the second has ended */
    sem_destroy(&late_ran);
    sem_post(&may_leave);
    CHECK(wait_up_to(&left, 10));
    CHECK(cf_workers_running(pool) == 1);
    sem_post(&may_leave);
    cf_workers_free(pool);
    sem_destroy(&entered);
    sem_destroy(&may_leave);
    sem_destroy(&left);
}

static sem_t announce_now, announced_release, announced_done;

static void announcing_job(cf_job *job)
{
    (void)job;
    sem_post(&held_started);
    sem_wait(&announce_now);
    cf_blocking_enter();
    sem_wait(&announced_release);
    cf_blocking_leave();
    sem_post(&announced_done);
}

static bool not_within(sem_t *s, long ms)
{
    struct timespec until = after_ms(ms);
    if (sem_timedwait(s, &until) != 0)
        return true;
    sem_post(s); /* it did run: put the token back for the caller */
    return false;
}

/* One job at a time and no watchdog to speak of: while the first runs, a
 * second waits in the queue however many threads are idle; when the first
 * announces a wait, the second starts. */
static void test_limit_and_announced_wait(void)
{
    sem_init(&held_started, 0, 0);
    sem_init(&held_release, 0, 0);
    sem_init(&announce_now, 0, 0);
    sem_init(&announced_release, 0, 0);
    sem_init(&announced_done, 0, 0);
    sem_init(&late_ran, 0, 0);
    cf_workers *pool = NULL;
    CHECK(cf_workers_start(3, 1, &pool));
    cf_workers_set_watch_period(pool, 60000);
    cf_job first = {announcing_job, NULL};
    cf_job second = {note_late, NULL};
    CHECK(cf_workers_post(pool, &first));
    CHECK(wait_up_to(&held_started, 10));
    CHECK(cf_workers_post(pool, &second));
    CHECK(not_within(&late_ran, 200)); /* held back by the limit */
    CHECK(cf_workers_running(pool) == 1);
    sem_post(&announce_now);
    CHECK(wait_up_to(&late_ran, 10)); /* started by the announcement */
    sem_post(&announced_release);
    CHECK(wait_up_to(&announced_done, 10));
    CHECK(running_reaches(pool, 0)); /* both have ended */
    cf_job third = {held_job, NULL}, fourth = {note_late, NULL};
    CHECK(cf_workers_post(pool, &third));
    CHECK(wait_up_to(&held_started, 10));
    CHECK(cf_workers_post(pool, &fourth));
    CHECK(not_within(&late_ran, 200)); /* an unannounced wait keeps its place */
    sem_post(&held_release);
    CHECK(wait_up_to(&late_ran, 10));
    cf_workers_free(pool);
    sem_destroy(&held_started);
    sem_destroy(&held_release);
    sem_destroy(&announce_now);
    sem_destroy(&announced_release);
    sem_destroy(&announced_done);
    sem_destroy(&late_ran);
}

int main(void)
{
    RUN(test_all_jobs_run_once);
    RUN(test_one_worker_keeps_order);
    RUN(test_blocked_jobs_do_not_stall_the_queue);
    RUN(test_announced_waits_free_their_place);
    RUN(test_limit_and_announced_wait);
    TEST_DONE();
}
