/*
 * Group commit: many writers, one fdatasync at a time.
 *
 * Writers append to a file (the blob store's SQLite WAL, the audit log)
 * under their own lock, then number the write with cf_group_sync_note().
 * A writer that needs its write on disk calls cf_group_sync_wait() with
 * that number, without its own lock.  If no fdatasync is running it
 * becomes the leader: it notes the highest number written so far, syncs,
 * and publishes that number as synced.  Writes numbered while it ran are
 * not covered; their writers wait and one of them leads the next round.
 * So each fdatasync covers every write numbered before it started, and
 * at most one runs at a time.
 *
 * A failed fdatasync is sticky: the kernel may have dropped the dirty
 * pages, so nothing written since the last good sync can be trusted to
 * reach the disk, and every later wait fails until a restart.
 */
#ifndef CF_GROUP_SYNC_H
#define CF_GROUP_SYNC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "result.h"

typedef struct {
    int fd;                   /* the file synced; not owned */
    _Atomic uint64_t written; /* writes numbered so far */
    _Atomic uint64_t synced;  /* writes known to be on disk (stored under mu) */
    pthread_mutex_t mu;       /* guards syncing and failed */
    pthread_cond_t done;      /* broadcast after each fdatasync */
    bool syncing;             /* a leader is in fdatasync */
    bool failed;              /* sticky: an fdatasync failed */
} cf_group_sync;

/* Starts with `last` writes numbered and on disk; fd -1 until
 * cf_group_sync_attach().  Pair with cf_group_sync_destroy(). */
void cf_group_sync_init(cf_group_sync *g, uint64_t last);
void cf_group_sync_destroy(cf_group_sync *g);

/* Sets the file to sync (once, before any wait) and counts every write
 * numbered so far as on disk: the caller has just synced it. */
void cf_group_sync_attach(cf_group_sync *g, int fd);

/* Numbers one more finished write (call after its bytes reach the file,
 * under the writer's own lock so numbers follow file order). */
uint64_t cf_group_sync_note(cf_group_sync *g);

/* The number of the last write noted. */
uint64_t cf_group_sync_last(cf_group_sync *g);

/* Whether write `seq` is known to be on disk, without waiting. */
CF_MUST_USE bool cf_group_sync_covers(cf_group_sync *g, uint64_t seq);

/* Whether an fdatasync has failed (sticky). */
CF_MUST_USE bool cf_group_sync_failed(cf_group_sync *g);

/* Returns once write `seq` is on disk.  Fails with CF_ERR_IO and `what`
 * as the detail when an fdatasync has failed (now or before). */
CF_MUST_USE bool cf_group_sync_wait(cf_group_sync *g, uint64_t seq, const char *what);

#endif
