/*
 * The worker pool: every posted job runs exactly once, jobs run in the
 * order posted when there is one worker, stop runs what was posted before
 * it, and posting after stop fails (the caller keeps its job).
 */
#include <pthread.h>
#include <stdatomic.h>

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
    CHECK(cf_workers_start(4, &pool));
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
    CHECK(cf_workers_start(1, &pool));
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

int main(void)
{
    RUN(test_all_jobs_run_once);
    RUN(test_one_worker_keeps_order);
    TEST_DONE();
}
