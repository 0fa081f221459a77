#include "throttle.h"

#include "units.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct cf_throttle_entry {
    struct cf_throttle_entry *chain;         /* hash bucket */
    struct cf_throttle_entry *older, *newer; /* by last failure */
    char key[CF_THROTTLE_KEY_MAX + 1];
    double budget;        /* failures left, as of `updated` */
    int64_t updated;      /* ms */
    unsigned locks;       /* locks since the budget was last full */
    int64_t locked_until; /* ms */
} cf_throttle_entry;

struct cf_throttle {
    pthread_mutex_t mu;
    cf_throttle_policy policy;
    cf_throttle_entry **buckets;
    size_t nbuckets, count;
    cf_throttle_entry *oldest, *newest;
};

bool cf_throttle_new(const cf_throttle_policy *policy, cf_throttle **out)
{
    cf_throttle *t = calloc(1, sizeof *t);
    CF_ENSURE_ALLOC(t);
    t->policy = *policy;
    if (!t->policy.free_failures)
        t->policy.free_failures = CF_THROTTLE_FREE_FAILURES;
    if (!t->policy.refill_seconds)
        t->policy.refill_seconds = CF_THROTTLE_REFILL_SECONDS;
    if (!t->policy.max_seconds)
        t->policy.max_seconds = CF_THROTTLE_MAX_SECONDS;
    if (!t->policy.max_entries)
        t->policy.max_entries = CF_THROTTLE_MAX_ENTRIES;
    t->nbuckets = t->policy.max_entries * 2;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return true;
}

void cf_throttle_free(cf_throttle *t)
{
    if (!t)
        return;
    for (cf_throttle_entry *e = t->oldest; e;) {
        cf_throttle_entry *next = e->newer;
        free(e);
        e = next;
    }
    free(t->buckets);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static size_t cf_throttle_hash(const cf_throttle *t, const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; key[i] && i < CF_THROTTLE_KEY_MAX; i++)
        h = (h ^ (uint8_t)key[i]) * 1099511628211ull;
    return (size_t)(h % t->nbuckets);
}

static cf_throttle_entry **cf_throttle_slot(cf_throttle *t, const char *key)
{
    cf_throttle_entry **p = &t->buckets[cf_throttle_hash(t, key)];
    while (*p && strncmp((*p)->key, key, CF_THROTTLE_KEY_MAX) != 0)
        p = &(*p)->chain;
    return p;
}

static void cf_throttle_unlink_age(cf_throttle *t, cf_throttle_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        t->newest = e->older;
    e->older = e->newer = NULL;
}

static void cf_throttle_remove(cf_throttle *t, cf_throttle_entry *e)
{
    cf_throttle_entry **p = cf_throttle_slot(t, e->key);
    if (*p == e)
        *p = e->chain;
    cf_throttle_unlink_age(t, e);
    t->count--;
    free(e);
}

/* Refills the budget up to `now`; true when it is full again and the key
 * is not locked: nothing left to remember. */
static bool cf_throttle_refill(const cf_throttle *t, cf_throttle_entry *e, unsigned budget,
                               int64_t now)
{
    if (now > e->updated) {
        e->budget +=
            (double)(now - e->updated) / ((double)CF_MS_PER_SECOND * t->policy.refill_seconds);
        e->updated = now;
    }
    if (e->budget >= budget) {
        e->budget = budget;
        return now >= e->locked_until;
    }
    return false;
}

unsigned cf_throttle_wait(cf_throttle *t, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&t->mu);
    int64_t now = now_ms;
    cf_throttle_entry *e = *cf_throttle_slot(t, key);
    unsigned wait =
        e && e->locked_until > now
            ? (unsigned)((e->locked_until - now + CF_MS_PER_SECOND - 1) / CF_MS_PER_SECOND)
            : 0;
    pthread_mutex_unlock(&t->mu);
    return wait;
}

unsigned cf_throttle_fail(cf_throttle *t, const char *key, unsigned budget, int64_t now_ms)
{
    int64_t now = now_ms;
    if (!budget)
        budget = t->policy.free_failures;
    pthread_mutex_lock(&t->mu);
    cf_throttle_entry *e = *cf_throttle_slot(t, key);
    if (e && cf_throttle_refill(t, e, budget, now)) {
        cf_throttle_remove(t, e);
        e = NULL;
    }
    if (!e) {
        if (t->count >= t->policy.max_entries)
            cf_throttle_remove(t, t->oldest);
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&t->mu);
            return 0;
        }
        strncpy(e->key, key, CF_THROTTLE_KEY_MAX);
        e->budget = budget;
        e->updated = now;
        cf_throttle_entry **p = cf_throttle_slot(t, key);
        e->chain = *p;
        *p = e;
        t->count++;
    } else {
        cf_throttle_unlink_age(t, e);
    }
    e->older = t->newest;
    if (t->newest)
        t->newest->newer = e;
    else
        t->oldest = e;
    t->newest = e;
    unsigned lock = 0;
    if (e->budget >= 1) {
        e->budget -= 1;
    } else {
        lock = e->locks >= 31 ? t->policy.max_seconds : 1u << e->locks;
        if (lock > t->policy.max_seconds)
            lock = t->policy.max_seconds;
        e->locks++;
        e->locked_until = now + 1000LL * lock;
    }
    pthread_mutex_unlock(&t->mu);
    return lock;
}

void cf_throttle_succeed(cf_throttle *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    cf_throttle_entry *e = *cf_throttle_slot(t, key);
    if (e)
        cf_throttle_remove(t, e);
    pthread_mutex_unlock(&t->mu);
}

static void cf_throttle_keys(const char *client, const char *addr, char *ck, char *ak, size_t len)
{
    snprintf(ck, len, "c:%s@%s", client ? client : "", addr ? addr : "");
    snprintf(ak, len, "a:%s", addr ? addr : "");
}

static int64_t cf_throttle_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CF_MS_PER_SECOND + ts.tv_nsec / CF_NS_PER_MS;
}

unsigned cf_throttle_pair_wait(cf_throttle *t, const char *client, const char *addr)
{
    int64_t now = cf_throttle_clock();
    char ck[CF_THROTTLE_KEY_MAX + 1], ak[CF_THROTTLE_KEY_MAX + 1];
    cf_throttle_keys(client, addr, ck, ak, sizeof ck);
    unsigned a = cf_throttle_wait(t, ck, now), b = cf_throttle_wait(t, ak, now);
    return a > b ? a : b;
}

unsigned cf_throttle_pair_record(cf_throttle *t, const char *client, const char *addr, bool ok)
{
    int64_t now = cf_throttle_clock();
    char ck[CF_THROTTLE_KEY_MAX + 1], ak[CF_THROTTLE_KEY_MAX + 1];
    cf_throttle_keys(client, addr, ck, ak, sizeof ck);
    if (ok) {
        cf_throttle_succeed(t, ck);
        return 0;
    }
    unsigned a = cf_throttle_fail(t, ck, 0, now);
    unsigned b = cf_throttle_fail(t, ak, 4 * t->policy.free_failures, now);
    return a > b ? a : b;
}
