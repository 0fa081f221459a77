/*
 * A bounded pool of threads for work that may block: the database, fsync,
 * the HSM, a call to the vault.  The connection threads only move bytes;
 * whatever a service does with a request runs here, so a slow disk or a
 * slow vault stalls the requests waiting on it and nothing else.
 *
 * Jobs start in the order posted, at most `at_once` at a time while they
 * keep finishing; the other threads stand by for jobs that block (a
 * watchdog starts the queue's head on one when the queue has not moved for
 * a tick of 5 ms; a job that announces its wait, blocking.h, stops counting
 * at once).  The queue needs no cap of its own: each
 * connection has at most one job queued at a time (it is suspended until
 * the job ends), so the connection limit bounds it.
 */
#ifndef CF_WORKERS_H
#define CF_WORKERS_H

#include <stdbool.h>

#include "result.h"

typedef struct cf_workers cf_workers;

typedef struct cf_job {
    void (*run)(struct cf_job *job);
    struct cf_job *next;
} cf_job;

/* `threads` threads, of which `at_once` (0 or more than `threads`: all)
 * run jobs at a time unless the watchdog finds them blocked. */
CF_MUST_USE bool cf_workers_start(unsigned threads, unsigned at_once, cf_workers **out);
/* False once the pool is stopping: the job will not run. */
CF_MUST_USE bool cf_workers_post(cf_workers *pool, cf_job *job);
/* Runs every job already posted, then joins the threads; later posts fail
 * (the pool stays valid until cf_workers_free). */
void cf_workers_stop(cf_workers *pool);
/* The watchdog's tick in milliseconds (tests: a long one shows what the
 * limit and announced waits do without it).  Takes effect from the next tick. */
void cf_workers_set_watch_period(cf_workers *pool, unsigned ms);
/* Jobs counted as running now: the limit's accounting, for tests. */
unsigned cf_workers_running(cf_workers *pool);
void cf_workers_free(cf_workers *pool);

#endif
