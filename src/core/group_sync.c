/*
 * Group commit (see group_sync.h): the leader/follower fdatasync shared by
 * the blob store's WAL and the audit log.
 */
#include "group_sync.h"
#include "blocking.h"

#include <unistd.h>

void cf_group_sync_init(cf_group_sync *g, uint64_t last)
{
    g->fd = -1;
    atomic_init(&g->written, last);
    atomic_init(&g->synced, last);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->done, NULL);
    g->syncing = false;
    g->failed = false;
}

void cf_group_sync_destroy(cf_group_sync *g)
{
    pthread_cond_destroy(&g->done);
    pthread_mutex_destroy(&g->mu);
}

void cf_group_sync_attach(cf_group_sync *g, int fd)
{
    pthread_mutex_lock(&g->mu);
    g->fd = fd;
    atomic_store(&g->synced, atomic_load(&g->written));
    pthread_mutex_unlock(&g->mu);
}

uint64_t cf_group_sync_note(cf_group_sync *g)
{
    /* Numbered after the write returned: its bytes are in the file (not
     * yet synced) before any sync that reads this number starts. */
    return atomic_fetch_add(&g->written, 1) + 1;
}

uint64_t cf_group_sync_last(cf_group_sync *g)
{
    return atomic_load(&g->written);
}

bool cf_group_sync_covers(cf_group_sync *g, uint64_t seq)
{
    return atomic_load(&g->synced) >= seq;
}

bool cf_group_sync_failed(cf_group_sync *g)
{
    pthread_mutex_lock(&g->mu);
    bool failed = g->failed;
    pthread_mutex_unlock(&g->mu);
    return failed;
}

/* Called and returns with mu held. */
static bool cf_group_sync_locked(cf_group_sync *g, uint64_t seq)
{
    while (atomic_load(&g->synced) < seq) {
        if (g->failed)
            return false;
        if (g->syncing) {
            pthread_cond_wait(&g->done, &g->mu);
            continue;
        }
        g->syncing = true;
        uint64_t target = atomic_load(&g->written);
        pthread_mutex_unlock(&g->mu);
        int rc = fdatasync(g->fd);
        pthread_mutex_lock(&g->mu);
        g->syncing = false;
        if (rc == 0 && target > atomic_load(&g->synced))
            atomic_store(&g->synced, target);
        if (rc != 0)
            g->failed = true;
        pthread_cond_broadcast(&g->done);
    }
    return true;
}

bool cf_group_sync_wait(cf_group_sync *g, uint64_t seq, const char *what)
{
    /* Writes a finished sync already covers: no lock, no wait. */
    if (cf_group_sync_covers(g, seq))
        return true;
    cf_blocking_enter();
    pthread_mutex_lock(&g->mu);
    bool synced = cf_group_sync_locked(g, seq);
    pthread_mutex_unlock(&g->mu);
    cf_blocking_leave();
    CF_ENSURE(synced, CF_ERR_IO, what);
    return true;
}
