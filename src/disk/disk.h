/*
 * coffer-disk: an nbdkit plugin that serves a page blob of coffer-blob as
 * a block device whose sectors are encrypted on this host (docs/disks.md).
 *
 *   plugin.c      nbdkit's callbacks, the configuration, the volume key
 *                 (unwrapped through coffer-vault, checked again after the
 *                 cache period), sector encryption
 *   disk_io.c     the blob over HTTPS: ranged reads, Put Page, clears and
 *                 the metadata, through a pool of connections (one per
 *                 thread at a time)
 *   disk_cache.c  the write-back map: ciphertext sectors written but not
 *                 yet sent, bounded, sent as Put Page calls on flush, FUA,
 *                 or when it fills
 *
 * Sectors are encrypted before they reach the map, so nothing in this
 * process's memory beyond one request's buffer is plaintext.
 */
#ifndef CF_DISK_H
#define CF_DISK_H

#include <stdint.h>

#include "buf.h"
#include "disk_meta.h"
#include "result.h"

#define CF_DISK_PAGE 512u
#define CF_DISK_CHUNK (64u * 1024)          /* the map's unit, the blob's chunk */
#define CF_DISK_MAX_CALL (4u * 1024 * 1024) /* Put Page's limit */

/* ---- disk_io.c ---- */

typedef struct cf_disk_io cf_disk_io;

/* The blob CONTAINER/NAME through the connection string `conn` (copied,
 * secret) and CA file (may be ""). */
CF_MUST_USE bool cf_disk_io_open(const char *conn, const char *ca_file, const char *container,
                                 const char *name, cf_disk_io **out);
void cf_disk_io_close(cf_disk_io *io);
/* The blob's size and its coffer disk metadata (not checked). */
CF_MUST_USE bool cf_disk_io_stat(cf_disk_io *io, uint64_t *size, cf_disk_meta *meta);
/* [off, off + len) of the blob into buf. */
CF_MUST_USE bool cf_disk_io_read(cf_disk_io *io, uint64_t off, uint8_t *buf, size_t len);
/* Put Page of `data` (NULL: clear) over [off, off + len), len <= 4 MiB. */
CF_MUST_USE bool cf_disk_io_write(cf_disk_io *io, uint64_t off, const uint8_t *data, size_t len);

/* ---- disk_cache.c ---- */

typedef struct cf_disk_cache cf_disk_cache;

/* A map of at most `capacity` bytes (whole chunks). */
CF_MUST_USE bool cf_disk_cache_new(uint64_t capacity, cf_disk_cache **out);
void cf_disk_cache_free(cf_disk_cache *c);
/* Keeps ciphertext `data` for [off, off + len) (512-aligned); *full when
 * it did not fit (nothing kept: send the map, then try again). */
CF_MUST_USE bool cf_disk_cache_put(cf_disk_cache *c, uint64_t off, const uint8_t *data, size_t len,
                                   bool *full);
/* Copies the map's bytes within [off, off + len) over buf. */
void cf_disk_cache_overlay(cf_disk_cache *c, uint64_t off, uint8_t *buf, size_t len);
/* Forgets what the map holds within [off, off + len) (it is being zeroed). */
void cf_disk_cache_drop(cf_disk_cache *c, uint64_t off, size_t len);
/* Sends everything in the map, adjacent pages together (up to 4 MiB a
 * call), and empties it; on failure what was not sent stays. */
CF_MUST_USE bool cf_disk_cache_send(cf_disk_cache *c, cf_disk_io *io);
/* Whether the map holds anything. */
bool cf_disk_cache_dirty(cf_disk_cache *c);

#endif
