/*
 * Failed-credential throttling: the free budget, locks that double up to
 * the cap, the budget refilling with time (and the key being forgotten),
 * success forgetting a client but never an address, a client locked at one
 * address staying free at another, and the table's bound.
 */
#include <stdio.h>

#include "test.h"
#include "throttle.h"

static cf_throttle *make(unsigned free_failures, unsigned max_entries)
{
    cf_throttle *t = NULL;
    cf_throttle_policy p = {.free_failures = free_failures,
                            .refill_seconds = 6,
                            .max_seconds = 60,
                            .max_entries = max_entries};
    CHECK(cf_throttle_new(&p, &t));
    return t;
}

static void test_budget_then_doubling_locks(void)
{
    cf_throttle *t = make(3, 0);
    int64_t now = 1000000; /* ms */
    for (int i = 0; i < 3; i++)
        CHECK(cf_throttle_fail(t, "k", 0, now) == 0);
    CHECK(cf_throttle_wait(t, "k", now) == 0);
    CHECK(cf_throttle_fail(t, "k", 0, now) == 1);
    CHECK(cf_throttle_wait(t, "k", now) == 1);
    CHECK(cf_throttle_wait(t, "k", now + 999) == 1); /* rounded up */
    CHECK(cf_throttle_wait(t, "k", now + 1000) == 0);
    CHECK(cf_throttle_fail(t, "k", 0, now + 1000) == 2);
    CHECK(cf_throttle_fail(t, "k", 0, now + 3000) == 4);
    unsigned lock = 0;
    for (int i = 0; i < 20; i++)
        lock = cf_throttle_fail(t, "k", 0, now + 3000);
    CHECK(lock == 60); /* capped */
    CHECK(cf_throttle_wait(t, "other", now) == 0);
    cf_throttle_free(t);
}

static void test_refill_forgets(void)
{
    cf_throttle *t = make(2, 0);
    CHECK(cf_throttle_fail(t, "k", 0, 0) == 0);
    CHECK(cf_throttle_fail(t, "k", 0, 0) == 0);
    CHECK(cf_throttle_fail(t, "k", 0, 0) == 1);
    /* One failure back per 6 s: 6 s later one more is free. */
    CHECK(cf_throttle_fail(t, "k", 0, 6000) == 0);
    CHECK(cf_throttle_fail(t, "k", 0, 6000) == 2); /* the lock history remains */
    /* Once the budget is full again, the key starts over. */
    CHECK(cf_throttle_fail(t, "k", 0, 100000) == 0);
    CHECK(cf_throttle_fail(t, "k", 0, 100000) == 0);
    CHECK(cf_throttle_fail(t, "k", 0, 100000) == 1);
    cf_throttle_free(t);
}

static void test_pairs(void)
{
    cf_throttle *t = make(2, 0);
    unsigned locked = 0;
    for (int i = 0; i < 3; i++)
        locked = cf_throttle_pair_record(t, "acct", "10.0.0.1", false);
    CHECK(locked == 1);
    CHECK(cf_throttle_pair_wait(t, "acct", "10.0.0.1") == 1);
    /* The owner elsewhere is not locked out. */
    CHECK(cf_throttle_pair_wait(t, "acct", "10.0.0.2") == 0);
    /* The address has four times the budget: other clients there still pass. */
    CHECK(cf_throttle_pair_wait(t, "other", "10.0.0.1") == 0);
    for (int i = 0; i < 6; i++)
        cf_throttle_pair_record(t, "cx", "10.0.0.1", false);
    CHECK(cf_throttle_pair_wait(t, "fresh", "10.0.0.1") > 0); /* 9 > 4 x 2 */
    /* Success forgets the client at that address, not the address. */
    cf_throttle_pair_record(t, "acct", "10.0.0.1", true);
    CHECK(cf_throttle_pair_wait(t, "acct", "10.0.0.9") == 0);
    CHECK(cf_throttle_pair_wait(t, "acct", "10.0.0.1") > 0); /* the address still is */
    cf_throttle_free(t);
}

static void test_bounded(void)
{
    cf_throttle *t = make(1, 64);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cf_throttle_fail(t, key, 0, 10000);
        cf_throttle_fail(t, key, 0, 10000);
    }
    /* The newest keys are kept (locked), the oldest were evicted. */
    CHECK(cf_throttle_wait(t, "k9999", 10000) == 1);
    CHECK(cf_throttle_wait(t, "k0", 10000) == 0);
    cf_throttle_free(t);
}

int main(void)
{
    RUN(test_budget_then_doubling_locks);
    RUN(test_refill_forgets);
    RUN(test_pairs);
    RUN(test_bounded);
    TEST_DONE();
}
