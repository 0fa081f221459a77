/*
 * Group commit: numbering, waits covered by one fdatasync, many threads
 * at once, and a failed fdatasync that stays failed.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "group_sync.h"
#include "test.h"

#define THREADS 8
#define WRITES 200

static cf_group_sync shared;
static int shared_fd;
static pthread_mutex_t writer = PTHREAD_MUTEX_INITIALIZER;

static void *write_and_wait(void *arg)
{
    (void)arg;
    for (int i = 0; i < WRITES; i++) {
        pthread_mutex_lock(&writer);
        bool wrote = write(shared_fd, "x", 1) == 1;
        uint64_t n = cf_group_sync_note(&shared);
        pthread_mutex_unlock(&writer);
        if (!wrote || !cf_group_sync_wait(&shared, n, "sync failed") ||
            !cf_group_sync_covers(&shared, n))
            return (void *)1;
    }
    return NULL;
}

static void test_numbering(void)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/coffer-test-group-sync-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    cf_group_sync g;
    cf_group_sync_init(&g, 10);
    CHECK(cf_group_sync_last(&g) == 10 && cf_group_sync_covers(&g, 10));
    CHECK(cf_group_sync_note(&g) == 11 && !cf_group_sync_covers(&g, 11));
    cf_group_sync_attach(&g, fd); /* counts what came before as synced */
    CHECK(cf_group_sync_covers(&g, 11));
    CHECK(cf_group_sync_note(&g) == 12);
    CHECK(cf_group_sync_wait(&g, 12, "x") && cf_group_sync_covers(&g, 12));
    CHECK(!cf_group_sync_failed(&g));
    cf_group_sync_destroy(&g);
    close(fd);
    unlink(path);
}

static void test_concurrent(void)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/coffer-test-group-sync-c-%d", (int)getpid());
    shared_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(shared_fd >= 0);
    cf_group_sync_init(&shared, 0);
    cf_group_sync_attach(&shared, shared_fd);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, write_and_wait, NULL) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    CHECK(cf_group_sync_last(&shared) == THREADS * WRITES);
    CHECK(cf_group_sync_covers(&shared, THREADS * WRITES));
    cf_group_sync_destroy(&shared);
    close(shared_fd);
    unlink(path);
}

/* fdatasync on a pipe fails (EINVAL): the failure is reported with the
 * caller's detail and is sticky. */
static void test_failure_sticky(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    cf_group_sync g;
    cf_group_sync_init(&g, 0);
    cf_group_sync_attach(&g, p[1]);
    uint64_t n = cf_group_sync_note(&g);
    CHECK(!cf_group_sync_wait(&g, n, "the test log could not be synced"));
    CHECK(cf_error_code() == CF_ERR_IO &&
          strcmp(cf_error_detail(), "the test log could not be synced") == 0);
    CHECK(cf_group_sync_failed(&g));
    n = cf_group_sync_note(&g);
    CHECK(!cf_group_sync_wait(&g, n, "again"));
    CHECK(cf_group_sync_covers(&g, 0)); /* what was never written needs no sync */
    cf_group_sync_destroy(&g);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    RUN(test_numbering);
    RUN(test_concurrent);
    RUN(test_failure_sticky);
    TEST_DONE();
}
