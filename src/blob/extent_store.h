/*
 * The extent store: where coffer-blob keeps the stored bytes of extents
 * (sealed bodies, docs/extent-format.md) too large to go inline in its
 * database, by extent id.  One interface, two backends (docs/extent-store.md
 * has the layouts and the reasons behind them):
 *
 *   files:DIR    DIR/ab/cd/<id>, written as <id>.tmp, fsynced, renamed, the
 *                directory fsynced: exactly the blob store's layout and
 *                steps, so it can switch to this module without migrating;
 *   rados:POOL   Ceph RADOS, each extent striped over objects of a fixed
 *                chunk size, <id>.<8 hex digits of the chunk index>; the
 *                first one (the head) records the total length, written
 *                last, which is what makes the extent exist;
 *   rados:POOL/NS    the same, in RADOS namespace NS of the pool (the store
 *                sees and collects nothing outside it), so several stores
 *                can share a pool;
 *   rados:POOL@NAME  the same as Ceph client NAME ("coffer" means
 *                client.coffer; default: client.admin); both may be given,
 *                rados:POOL/NS@NAME.  POOL cannot contain '/' or '@'.
 *
 * RADOS reads its configuration as the ceph tools do: the file named by
 * CEPH_CONF, else /etc/ceph/ceph.conf, ~/.ceph/config, ./ceph.conf; then
 * CEPH_ARGS.  Where the configuration leaves them at their defaults (no
 * limit; 300 s to connect) the store sets the client's operation and
 * connect timeouts to `timeout_s` (10 s), so a dead monitor or OSD turns
 * into an error instead of a hang.
 *
 * The store sees opaque bytes: it neither encrypts nor authenticates
 * (cf_extent does both, above it).  What it guarantees:
 * - an extent becomes visible under its id only when cf_extent_store_finish
 *   succeeds, and is then durable (files: fsync of file and directory;
 *   RADOS: every write acknowledged, which the OSDs give once all replicas
 *   have it), so a caller may commit metadata that names it;
 * - a reader sees a finished extent whole, or CF_ERR_NOT_FOUND;
 * - an abandoned write (a writer freed unfinished, or a crash) leaves at
 *   most partial data that no reader sees and cf_extent_store_each removes
 *   once it is older than the cut-off.
 *
 * Threads: a store may be used from any number of threads at once; a
 * writer or a reader belongs to one thread at a time.  Memory: a files
 * writer or reader buffers nothing (the kernel does); a RADOS writer holds
 * at most (in_flight + 1) chunks, a RADOS reader that reads sequentially
 * two 512 KiB read-ahead windows (1 MiB), one that does not nothing.
 *
 * Errors: CF_ERR_BAD_INPUT for a malformed spec, id or range;
 * CF_ERR_NOT_FOUND for an extent that does not exist (or is unfinished);
 * CF_ERR_UNAVAILABLE when the cluster does not answer within the timeout
 * (a monitor or an OSD down or unreachable); CF_ERR_IO with a message
 * naming the operation for everything else the disk or the cluster
 * refused (and the reason "InsufficientStorage" when the disk or pool is
 * full).  Details never include an extent id.
 *
 * Names: cf_extent_store_* (this module, src/blob); the extent *format* is
 * cf_extent_* in src/core/extent.h.
 */
#ifndef CF_EXTENT_STORE_H
#define CF_EXTENT_STORE_H

#include <stdint.h>

#include "buf.h"
#include "extent.h"
#include "units.h"

/* Extent ids: 32 lowercase hex digits (16 random bytes). */
#define CF_EXTENT_STORE_ID_LEN 32
/* RADOS: bytes per object (docs/extent-store.md, "Chunk size"): 4 MiB,
 * Ceph's own object size, plus room for the sealing overhead of a 4 MiB
 * block (the SDKs' usual block) at any segment size, so such a block is
 * one object, written in one operation; a multiple of 64 KiB. */
#define CF_EXTENT_STORE_CHUNK_DEFAULT (4 * CF_MIB + 64 * CF_KIB)
#define CF_EXTENT_STORE_CHUNK_MIN (4 * CF_KIB)
/* Below Ceph's osd_max_write_size (90 MiB) with room to spare. */
#define CF_EXTENT_STORE_CHUNK_MAX (64 * CF_MIB)
/* RADOS: chunk writes (or reads) one writer (reader) keeps in flight. */
#define CF_EXTENT_STORE_IN_FLIGHT_DEFAULT 2
#define CF_EXTENT_STORE_IN_FLIGHT_MAX 16
/* RADOS: seconds before an operation or the connection gives up. */
#define CF_EXTENT_STORE_TIMEOUT_DEFAULT 10

typedef struct cf_extent_store cf_extent_store;
typedef struct cf_extent_store_writer cf_extent_store_writer;
typedef struct cf_extent_store_reader cf_extent_store_reader;

/* Tuning; a zero field takes its default.  The files backend ignores all. */
typedef struct {
    uint32_t chunk_size; /* RADOS object size for new extents, CHUNK_MIN..CHUNK_MAX */
    unsigned in_flight;  /* 1..IN_FLIGHT_MAX */
    unsigned timeout_s;  /* operation and connect timeout, seconds */
} cf_extent_store_options;

/* Opens the store that `spec` names (above); `opt` may be NULL.  files:
 * creates DIR (0700) if needed.  rados: connects and opens the pool;
 * CF_ERR_IO naming RADOS when the configuration, the cluster or the pool
 * cannot be reached. */
CF_MUST_USE bool cf_extent_store_open(const char *spec, const cf_extent_store_options *opt,
                                      cf_extent_store **out) __attribute__((nonnull(1, 3)));
/* Disconnects and frees; every writer and reader must be freed first.
 * NULL is ignored. */
void cf_extent_store_close(cf_extent_store *s);
/* "files" or "rados". */
const char *cf_extent_store_kind(const cf_extent_store *s) CF_NONNULL;

/* A fresh random id (NUL-terminated). */
CF_MUST_USE bool cf_extent_store_new_id(char id[CF_EXTENT_STORE_ID_LEN + 1]) CF_NONNULL;
/* Is `id` well-formed? */
bool cf_extent_store_id_valid(const char *id) CF_NONNULL;

/* ---- writing ---- */

/* Starts extent `id`, which must be fresh (a new random id): writing an id
 * that exists is not supported (RADOS refuses with CF_ERR_CONFLICT, files
 * would replace it). */
CF_MUST_USE bool cf_extent_store_create(cf_extent_store *s, const char *id,
                                        cf_extent_store_writer **out) CF_NONNULL;
/* Appends bytes (borrowed for the call).  After a failure the writer stays
 * failed; free it. */
CF_MUST_USE bool cf_extent_store_write(cf_extent_store_writer *w, cf_slice bytes) CF_NONNULL;
/* Makes the whole extent durable and visible under its id.  `length` (may
 * be NULL) receives its total length.  On failure nothing is visible once
 * the writer is freed. */
CF_MUST_USE bool cf_extent_store_finish(cf_extent_store_writer *w, uint64_t *length)
    __attribute__((nonnull(1)));
/* Frees the writer.  One that did not finish is aborted: what it wrote is
 * removed (best effort: what a dead cluster keeps, cf_extent_store_each
 * removes later).  NULL is ignored. */
void cf_extent_store_writer_free(cf_extent_store_writer *w);

/* ---- reading ---- */

/* Opens finished extent `id`; CF_ERR_NOT_FOUND when there is none. */
CF_MUST_USE bool cf_extent_store_reader_open(cf_extent_store *s, const char *id,
                                             cf_extent_store_reader **out) CF_NONNULL;
/* The extent's total length. */
uint64_t cf_extent_store_reader_length(const cf_extent_store_reader *r) CF_NONNULL;
/* Fills all `len` bytes at `off`, or fails: CF_ERR_BAD_INPUT when the range
 * passes the end, CF_ERR_IO when the stored bytes cannot be read (or are
 * shorter than the length recorded at open). */
CF_MUST_USE bool cf_extent_store_read_at(cf_extent_store_reader *r, uint64_t off, uint8_t *buf,
                                         size_t len) CF_NONNULL;
/* The reader as cf_extent's source (src/core/extent.h), valid while the
 * reader lives. */
cf_extent_source cf_extent_store_source(cf_extent_store_reader *r) CF_NONNULL;
/* NULL is ignored. */
void cf_extent_store_reader_close(cf_extent_store_reader *r);

/* ---- removal and garbage collection ---- */

/* Removes extent `id` (finished or partial); one that does not exist is
 * not an error. */
CF_MUST_USE bool cf_extent_store_remove(cf_extent_store *s, const char *id) CF_NONNULL;

/* Called with the id of a finished extent; returns false (with an error
 * raised) to stop the walk, which then fails with that error.  It may call
 * cf_extent_store_remove on the id it was given. */
typedef bool (*cf_extent_store_each_fn)(void *ctx, const char *id);

/* The walk garbage collection is built on: calls `fn` for every finished
 * extent last modified before `older_than` (Unix seconds), in no
 * particular order, and removes every partial write last touched before
 * then (files: <id>.tmp; RADOS: a head without a length and its chunks),
 * counting those in `*partials` (may be NULL).  Extents created or removed
 * while it runs may or may not be seen.  The cut-off must leave room for
 * writes in flight: a writer idle for longer loses its partial data. */
CF_MUST_USE bool cf_extent_store_each(cf_extent_store *s, int64_t older_than,
                                      cf_extent_store_each_fn fn, void *ctx, unsigned *partials)
    __attribute__((nonnull(1, 3)));

#endif
