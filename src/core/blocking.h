/*
 * Waits the calling thread announces: a disk sync, a network round trip.
 *
 * The HTTP worker pool runs one job per core at a time, because more only
 * take turns on the CPUs and for the stores' locks.  A job that is about
 * to wait says so with cf_blocking_enter(), and the pool lets a queued job
 * run meanwhile; cf_blocking_leave() when the wait is over.  On threads of
 * no such pool (the CLI, tests, the listener) both are no-ops.  Calls nest:
 * only the outermost pair reaches the pool.
 */
#ifndef CF_BLOCKING_H
#define CF_BLOCKING_H

#include <stdbool.h>

/* Called with true before the calling thread waits, false after. */
typedef void (*cf_blocking_hook)(void *ctx, bool waiting);

/* Installs the hook for the calling thread (a pool, for its own threads). */
void cf_blocking_bind(cf_blocking_hook hook, void *ctx);

void cf_blocking_enter(void);
void cf_blocking_leave(void);

/* For the pool, after each job: closes a wait the job left announced (a
 * bug: it would count against the pool no more) and returns false then. */
bool cf_blocking_settle(void);

/* Evaluates `call` between cf_blocking_enter() and cf_blocking_leave(). */
#define CF_WHILE_BLOCKED(call)                \
    ({                                        \
        cf_blocking_enter();                  \
        __typeof__(call) blocked_ret_ = call; \
        cf_blocking_leave();                  \
        blocked_ret_;                         \
    })

#endif
