/*
 * Failed-credential throttling: exponential back-off per key.
 *
 * Each key has a budget of failures that refills steadily (one per
 * `refill_seconds`, up to `free_failures`): occasional mistakes cost
 * nothing.  A failure with the budget spent locks the key, for twice as
 * long as its previous lock (1 s, 2 s, 4 s ... up to `max_seconds`); a key
 * whose budget has refilled completely is forgotten, lock history and all.
 * Checked before any credential is verified, so a locked key costs no
 * signature check and no database read.
 *
 * The table is bounded (`max_entries`, least recently failed evicted
 * first): an attacker with many addresses cannot grow it, and at worst
 * pushes out keys that were failing least recently.
 */
#ifndef CF_THROTTLE_H
#define CF_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"

/* The policy's defaults (a field left 0). */
#define CF_THROTTLE_FREE_FAILURES 10
#define CF_THROTTLE_REFILL_SECONDS 6
#define CF_THROTTLE_MAX_SECONDS 60
#define CF_THROTTLE_MAX_ENTRIES 8192

typedef struct {
    unsigned free_failures;  /* budget; 0 = CF_THROTTLE_FREE_FAILURES */
    unsigned refill_seconds; /* one failure back per this many seconds; 0 = ..._REFILL_SECONDS */
    unsigned max_seconds;    /* longest lock; 0 = CF_THROTTLE_MAX_SECONDS */
    size_t max_entries;      /* 0 = CF_THROTTLE_MAX_ENTRIES */
} cf_throttle_policy;

typedef struct cf_throttle cf_throttle;

CF_MUST_USE bool cf_throttle_new(const cf_throttle_policy *policy, cf_throttle **out);
void cf_throttle_free(cf_throttle *t);

/* Seconds (rounded up) until `key` may try again; 0 = now.  `now_ms` is a
 * monotonic clock in milliseconds.  Keys are truncated to
 * CF_THROTTLE_KEY_MAX bytes. */
#define CF_THROTTLE_KEY_MAX 127
unsigned cf_throttle_wait(cf_throttle *t, const char *key, int64_t now_ms);
/* Records a failure against a budget of `budget` failures (0 = the
 * policy's); returns the seconds the key is now locked (0 while the budget
 * lasts). */
unsigned cf_throttle_fail(cf_throttle *t, const char *key, unsigned budget, int64_t now_ms);
void cf_throttle_succeed(cf_throttle *t, const char *key);

/* What every credential check uses: the client id it names, counted per
 * address it is tried from (so that guessing from one place never locks
 * the owner out elsewhere), and the address itself, with a budget four
 * times larger (many clients can share one address).  _wait is the longer
 * of the two waits; _record counts a failure against both (returning the
 * longer new lock) or, on success, forgets the client id at that address
 * (never the address: one good credential must not clear another's
 * guessing).  Both read the monotonic clock. */
unsigned cf_throttle_pair_wait(cf_throttle *t, const char *client, const char *addr);
unsigned cf_throttle_pair_record(cf_throttle *t, const char *client, const char *addr, bool ok);

#endif
