/*
 * Crash-safe file helpers: write to a temporary file, fsync it, rename it
 * into place and fsync the directory, so a reader sees the old file or the
 * new one, never a torn mix.
 */
#ifndef CF_FSUTIL_H
#define CF_FSUTIL_H

#include <sys/types.h>

#include "buf.h"

CF_MUST_USE bool cf_write_file_atomic(const char *path, cf_slice data, mode_t mode);
/* fsyncs the file `path` (its data and size); raised as cf_io_fail. */
CF_MUST_USE bool cf_fsync_file(const char *path);
/* fsyncs the directory holding `path`, so a created or renamed entry is
 * durable. */
CF_MUST_USE bool cf_fsync_dir_of(const char *path);
/* Reads a whole file of at most `max` bytes into `out`. */
CF_MUST_USE bool cf_read_file(const char *path, size_t max, cf_buf *out);
/* Reads exactly `len` bytes (the file must be that long). */
CF_MUST_USE bool cf_read_file_exact(const char *path, void *out, size_t len);
/* mkdir -p with `mode` for each created component. */
CF_MUST_USE bool cf_mkdirs(const char *path, mode_t mode);
CF_MUST_USE bool cf_file_exists(const char *path);
/* Raises an I/O failure of `what` (errno `err`) and returns false.  A full
 * disk (ENOSPC, EDQUOT) gets the reason "InsufficientStorage" and an error
 * log line: it is the operator's to fix and the client's to know (nothing
 * was stored; reads go on). */
CF_MUST_USE bool cf_io_fail(const char *what, int err);
/* Takes an exclusive lock (flock) on `path`, creating it (0600); fails with
 * CF_ERR_CONFLICT when another process holds it.  The lock lasts until the
 * descriptor is closed (or the process ends). */
CF_MUST_USE bool cf_lock_file(const char *path, int *fd);
/* rm -r (no symlinks followed); an absent path is not an error. */
CF_MUST_USE bool cf_remove_tree(const char *path);
/* Overwrites a small file (a key) with random bytes, syncs, and unlinks it.
 * On flash or copy-on-write storage old blocks may survive the overwrite;
 * the key file is for development only for that reason too. */
CF_MUST_USE bool cf_destroy_file(const char *path);

#endif
