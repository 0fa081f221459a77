/*
 * The RADOS backend of the extent store (rados:POOL[/NAMESPACE][@CLIENT]);
 * the only librados user.  docs/extent-store.md explains the layout at
 * length.
 *
 * An extent is striped over objects of a fixed chunk size (4 MiB + 64 KiB
 * by default), named <id>.<chunk index as 8 hex digits>.  Chunk 0, the head,
 * carries two xattrs:
 *   coffer.extent  "v1 LENGTH CHUNK": the total length and the chunk size it
 *                  was written with; present only once every chunk is
 *                  durable, so its presence is the "finished" marker;
 *   coffer.chunks  while writing: "N", no chunk with index >= N exists (an
 *                  upper bound the writer raises, 8 chunks at a time, before
 *                  it writes past it); "xN" once garbage collection claimed
 *                  the partial extent for removal.
 * The head is created (exclusively) before any other chunk and removed
 * after all of them, so every chunk object has a head that bounds it, and
 * garbage collection needs to look at heads only.
 *
 * A writer buffers one chunk and hands full chunks to librados
 * asynchronously, keeping up to `in_flight` writes going (librados copies
 * the bytes, so memory is at most in_flight + 1 chunks); chunk writes past
 * the head wait for the head's acknowledgement.  finish waits for every
 * write, then sets coffer.extent (and drops coffer.chunks) on the head in
 * one operation.  An extent of one chunk is one operation in all: create,
 * write and mark.  RADOS acknowledges a write once every replica has it,
 * so an acknowledged extent is durable.
 *
 * The writer's head updates compare coffer.chunks with the value it wrote
 * last, and garbage collection claims a partial extent by rewriting that
 * value ("xN") under the same comparison: a writer that was only slow
 * (past the cut-off) then fails at its next head update or at finish
 * instead of marking an extent whose chunks are being removed.
 *
 * Reads: cf_extent reads an extent one segment (64 KiB) at a time, which
 * as one round trip each would make RADOS latency the limit; so a read
 * that continues where the last one ended streams through two read-ahead
 * windows of 512 KiB (one consumed, the next in flight), and any other read
 * goes straight into the caller's buffer, the chunks it touches read in
 * parallel (in_flight at a time), so a ranged read costs only its bytes.
 *
 * Errors: every librados failure becomes CF_ERR_IO "RADOS: <what>:
 * <strerror>", a full pool the reason "InsufficientStorage" (cf_io_fail),
 * a timeout (a cluster that does not answer) CF_ERR_UNAVAILABLE; a missing
 * head is CF_ERR_NOT_FOUND for readers and nothing at all for removal.
 */
#include "extent_store_internal.h"

#include <rados/librados.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "fsutil.h"

/* <id>.<8 hex digits> */
#define ES_OID_LEN (CF_EXTENT_STORE_ID_LEN + 9)
#define ES_XATTR_EXTENT "coffer.extent"
#define ES_XATTR_CHUNKS "coffer.chunks"
/* How far ahead of the chunk being written coffer.chunks is raised. */
#define ES_BOUND_STEP 8
/* Chunk indexes (and bounds) stay below this: 8 hex digits, top bit free. */
#define ES_CHUNKS_MAX 0x7fffffffu
/* Room for "v1 <20 digits> <10 digits>" and "x<10 digits>". */
#define ES_XATTR_MAX 48
#define ES_POOL_MAX 256
/* Read-ahead: a streaming reader holds two windows of this many bytes
 * (eight default segments; at 0.5 ms a round trip, ~1 GB/s a stream). */
#define ES_WINDOW (512 * CF_KIB)

typedef struct {
    cf_extent_store base;
    rados_t cluster;
    rados_ioctx_t io;
    uint32_t chunk;
    unsigned in_flight;
} es_rados;

/* A write or read in flight. */
typedef struct {
    rados_completion_t c; /* NULL: free */
    uint32_t idx;         /* the chunk */
    size_t want;          /* reads: bytes expected */
} es_slot;

typedef struct {
    cf_extent_store_writer base;
    es_rados *rs;
    uint8_t *fill; /* the chunk being filled (ciphertext only: ordinary memory) */
    size_t fill_len, fill_cap;
    uint32_t next;  /* index of the chunk in `fill` */
    uint32_t bound; /* coffer.chunks as last written; 0 = no head op sent */
    bool head_mine; /* a head op was sent that may have created the head */
    bool head_acked;
    bool timed_out; /* an operation timed out: removal would too */
    es_slot *ring;
    unsigned ring_pos;
} es_rados_writer;

/* Read-ahead window: a slice of one chunk, read (or being read) ahead. */
typedef struct {
    uint8_t *buf; /* ES_WINDOW bytes, allocated on first use */
    uint64_t off; /* extent offset of buf[0] */
    size_t len;   /* 0: holds nothing */
    es_slot io;   /* the read filling it, while in flight */
} es_window;

typedef struct {
    cf_extent_store_reader base;
    es_rados *rs;
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    uint32_t chunk;
    es_window win[2];
    uint64_t next_off; /* where the last read ended: a read there streams */
} es_rados_reader;

/* What a head says about its extent. */
typedef struct {
    bool finished;
    uint64_t length;                 /* finished only */
    uint32_t chunk;                  /* finished only */
    uint32_t bound;                  /* chunk objects that may exist */
    bool claimed;                    /* unfinished, claimed by garbage collection */
    bool malformed;                  /* xattrs of another format (or damaged) */
    char chunks_xattr[ES_XATTR_MAX]; /* as read, for a claim's comparison */
    uint64_t size;
    time_t mtime;
} es_head;

static void es_oid(const char *id, uint32_t idx, char out[ES_OID_LEN + 1])
{
    snprintf(out, ES_OID_LEN + 1, "%.32s.%08" PRIx32, id, idx);
}

/* Raises for librados error `rc` (negative errno): CF_ERR_UNAVAILABLE when
 * the cluster did not answer in time (nothing is wrong with the request or
 * the data: a retry may succeed, so a service answers 503), else CF_ERR_IO
 * (the reason InsufficientStorage for a full pool). */
static bool es_fail(const char *what, int rc)
{
    int err = rc < 0 ? -rc : EIO;
    if (err == ETIMEDOUT) {
        cf_error_raisef(CF_ERR_UNAVAILABLE, __FILE__, __LINE__,
                        "RADOS: %s (is the cluster reachable?): %s", what, strerror(err));
        return false;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "RADOS: %s", what);
    return cf_io_fail(msg, err);
}

/* ---- xattr values ---- */

/* Strict unsigned decimal: digits only, no leading zero, at most `max`. */
static bool es_parse_u64(const char *p, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Strict parses of the xattrs; false when a value is not what this code
 * writes (a later format, or damage). */
static bool es_parse_extent_xattr(const char *val, size_t len, es_head *h)
{
    if (len <= 3 || memcmp(val, "v1 ", 3) != 0)
        return false;
    const char *p = val + 3, *end = val + len;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    uint64_t length = 0, chunk = 0;
    if (!sp || !es_parse_u64(p, (size_t)(sp - p), UINT64_MAX, &length) ||
        !es_parse_u64(sp + 1, (size_t)(end - sp - 1), CF_EXTENT_STORE_CHUNK_MAX, &chunk) ||
        chunk < CF_EXTENT_STORE_CHUNK_MIN || length / chunk >= ES_CHUNKS_MAX)
        return false;
    h->finished = true;
    h->length = length;
    h->chunk = (uint32_t)chunk;
    h->bound = length ? (uint32_t)((length - 1) / chunk + 1) : 1;
    return true;
}

static bool es_parse_chunks_xattr(const char *val, size_t len, es_head *h)
{
    if (len >= sizeof h->chunks_xattr)
        return false;
    memcpy(h->chunks_xattr, val, len);
    h->chunks_xattr[len] = '\0';
    h->claimed = len && val[0] == 'x';
    uint64_t bound = 0;
    if (!es_parse_u64(val + h->claimed, len - h->claimed, ES_CHUNKS_MAX, &bound))
        return false;
    h->bound = bound ? (uint32_t)bound : 1;
    return true;
}

/* Reads extent `id`'s head: size, mtime and what its xattrs say (or that
 * they say something else: h->malformed).  *exists false (and true
 * returned) when there is no head. */
static bool es_head_read(es_rados *rs, const char *id, es_head *h, bool *exists)
{
    char oid[ES_OID_LEN + 1];
    es_oid(id, 0, oid);
    memset(h, 0, sizeof *h);
    h->bound = 1;
    rados_read_op_t op = rados_create_read_op();
    CF_ENSURE_ALLOC(op);
    rados_xattrs_iter_t it = NULL;
    int stat_rc = 0, xattr_rc = 0;
    rados_read_op_stat(op, &h->size, &h->mtime, &stat_rc);
    rados_read_op_getxattrs(op, &it, &xattr_rc);
    int rc = CF_WHILE_BLOCKED(rados_read_op_operate(op, rs->io, oid, 0));
    rados_release_read_op(op);
    *exists = rc != -ENOENT;
    if (rc >= 0 && (stat_rc < 0 || xattr_rc < 0))
        rc = stat_rc < 0 ? stat_rc : xattr_rc;
    if (rc < 0) {
        /* librados made the iterator with the operation, whatever came of it. */
        if (it)
            rados_getxattrs_end(it);
        return rc == -ENOENT || es_fail("reading an extent's head", rc);
    }
    const char *name, *val;
    size_t len;
    while (!h->malformed && rados_getxattrs_next(it, &name, &val, &len) == 0 && name) {
        if (strcmp(name, ES_XATTR_EXTENT) == 0)
            h->malformed = !es_parse_extent_xattr(val, len, h);
        else if (strcmp(name, ES_XATTR_CHUNKS) == 0 && !h->finished)
            h->malformed = !es_parse_chunks_xattr(val, len, h);
    }
    rados_getxattrs_end(it);
    return true;
}

#define ES_ENSURE_KNOWN(h) \
    CF_ENSURE(!(h).malformed, CF_ERR_IO, "RADOS: an extent's head is in an unknown format")

/* ---- removal ---- */

/* Waits for `sl`'s operation; its result (negative errno or bytes). */
static int es_slot_wait(es_slot *sl)
{
    if (!sl->c)
        return 0;
    cf_blocking_enter();
    rados_aio_wait_for_complete(sl->c);
    cf_blocking_leave();
    int rc = rados_aio_get_return_value(sl->c);
    rados_aio_release(sl->c);
    sl->c = NULL;
    return rc;
}

/* Removes chunks 1..bound-1 (in parallel, ENOENT being fine) and then the
 * head, so a head outlives every chunk it bounds.  Stops at the first
 * other failure: what is left keeps its head, for the next attempt. */
static bool es_remove_chunks(es_rados *rs, const char *id, uint32_t bound)
{
    es_slot ring[CF_EXTENT_STORE_IN_FLIGHT_MAX] = {0};
    unsigned n = rs->in_flight, pos = 0;
    int first_err = 0;
    char oid[ES_OID_LEN + 1];
    for (uint32_t i = bound - 1; i >= 1 && !first_err; i--) {
        int rc = es_slot_wait(&ring[pos]);
        if (rc < 0 && rc != -ENOENT)
            first_err = rc;
        es_oid(id, i, oid);
        rados_completion_t c = NULL;
        rc = rados_aio_create_completion2(NULL, NULL, &c);
        if (rc == 0)
            rc = rados_aio_remove(rs->io, oid, c);
        if (rc < 0) {
            if (c)
                rados_aio_release(c);
            first_err = first_err ? first_err : rc;
        } else {
            ring[pos].c = c;
        }
        pos = (pos + 1) % n;
    }
    for (unsigned i = 0; i < n; i++) {
        int rc = es_slot_wait(&ring[i]);
        if (rc < 0 && rc != -ENOENT && !first_err)
            first_err = rc;
    }
    if (first_err)
        return es_fail("removing an extent chunk", first_err);
    es_oid(id, 0, oid);
    int rc = CF_WHILE_BLOCKED(rados_remove(rs->io, oid));
    if (rc < 0 && rc != -ENOENT)
        return es_fail("removing an extent's head", rc);
    return true;
}

static bool es_rados_remove(cf_extent_store *s, const char *id)
{
    es_rados *rs = (es_rados *)s;
    es_head h;
    bool exists = false;
    CF_GUARD(es_head_read(rs, id, &h, &exists));
    if (!exists)
        return true;
    ES_ENSURE_KNOWN(h); /* removing a guessed set of chunks could orphan others */
    return es_remove_chunks(rs, id, h.bound);
}

/* ---- writing ---- */

/* Waits for a slot's write; a failure fails the writer. */
static bool es_w_wait(es_rados_writer *w, es_slot *sl)
{
    uint32_t idx = sl->idx;
    bool had = sl->c != NULL;
    int rc = es_slot_wait(sl);
    if (rc == -EEXIST && idx == 0) {
        w->head_mine = false; /* someone else's head: never remove it */
        CF_BAIL(CF_ERR_CONFLICT, "extent exists");
    }
    w->timed_out = w->timed_out || rc == -ETIMEDOUT;
    if (rc < 0)
        return es_fail(idx == 0 ? "writing an extent's head" : "writing an extent chunk", rc);
    if (had && idx == 0)
        w->head_acked = true;
    return true;
}

static bool es_w_wait_all(es_rados_writer *w)
{
    bool ok = true;
    for (unsigned i = 0; i < w->rs->in_flight; i++)
        ok = es_w_wait(w, &w->ring[i]) && ok;
    return ok;
}

/* The next free slot, waiting for the oldest write if all are busy. */
static bool es_w_slot(es_rados_writer *w, es_slot **out)
{
    es_slot *sl = &w->ring[w->ring_pos];
    w->ring_pos = (w->ring_pos + 1) % w->rs->in_flight;
    CF_GUARD(es_w_wait(w, sl));
    *out = sl;
    return true;
}

static bool es_w_head_acked(es_rados_writer *w)
{
    for (unsigned i = 0; !w->head_acked && i < w->rs->in_flight; i++)
        if (w->ring[i].c && w->ring[i].idx == 0)
            CF_GUARD(es_w_wait(w, &w->ring[i]));
    CF_ENSURE(w->head_acked, CF_ERR_INTERNAL, "extent head not written");
    return true;
}

static void es_bound_text(uint32_t bound, char out[ES_XATTR_MAX])
{
    snprintf(out, ES_XATTR_MAX, "%" PRIu32, bound);
}

/* A head update that holds only if coffer.chunks still reads as the writer
 * left it (garbage collection has not claimed the extent): the checks come
 * first, the caller adds the changes and runs it with es_w_head_run.  An
 * operation applies whole or not at all. */
static rados_write_op_t es_w_head_op(const es_rados_writer *w)
{
    char cur[ES_XATTR_MAX];
    es_bound_text(w->bound, cur);
    rados_write_op_t op = rados_create_write_op();
    if (op) {
        rados_write_op_assert_exists(op);
        rados_write_op_cmpxattr(op, ES_XATTR_CHUNKS, LIBRADOS_CMPXATTR_OP_EQ, cur, strlen(cur));
    }
    return op;
}

static bool es_w_head_run(es_rados_writer *w, rados_write_op_t op, const char *what)
{
    char oid[ES_OID_LEN + 1];
    es_oid(w->base.id, 0, oid);
    int rc = CF_WHILE_BLOCKED(rados_write_op_operate(op, w->rs->io, oid, NULL, 0));
    rados_release_write_op(op);
    w->timed_out = w->timed_out || rc == -ETIMEDOUT;
    if (rc == -ECANCELED || rc == -ENOENT)
        CF_BAIL(CF_ERR_IO, "RADOS: a partial extent was removed while being written");
    return rc >= 0 || es_fail(what, rc);
}

/* Raises coffer.chunks past chunk `idx` before that chunk is written. */
static bool es_w_raise_bound(es_rados_writer *w, uint32_t idx)
{
    uint32_t bound = idx >= ES_CHUNKS_MAX - ES_BOUND_STEP ? ES_CHUNKS_MAX : idx + ES_BOUND_STEP;
    char text[ES_XATTR_MAX];
    es_bound_text(bound, text);
    rados_write_op_t op = es_w_head_op(w);
    CF_ENSURE_ALLOC(op);
    rados_write_op_setxattr(op, ES_XATTR_CHUNKS, text, strlen(text));
    CF_GUARD(es_w_head_run(w, op, "raising an extent's chunk bound"));
    w->bound = bound;
    return true;
}

/* Sends the full `fill` as chunk `next`. */
static bool es_w_flush(es_rados_writer *w)
{
    CF_ENSURE(w->next < ES_CHUNKS_MAX - 1, CF_ERR_TOO_LARGE, "extent too large");
    char oid[ES_OID_LEN + 1];
    es_oid(w->base.id, w->next, oid);
    es_slot *sl = NULL;
    rados_completion_t c = NULL;
    int rc = 0;
    if (w->next == 0) {
        /* The head: created exclusively, with the first bound. */
        char text[ES_XATTR_MAX];
        es_bound_text(1 + ES_BOUND_STEP, text);
        rados_write_op_t op = rados_create_write_op();
        CF_ENSURE_ALLOC(op);
        rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
        rados_write_op_write_full(op, (const char *)w->fill, w->fill_len);
        rados_write_op_setxattr(op, ES_XATTR_CHUNKS, text, strlen(text));
        if (!es_w_slot(w, &sl)) {
            rados_release_write_op(op);
            return false;
        }
        rc = rados_aio_create_completion2(NULL, NULL, &c);
        if (rc == 0)
            rc = rados_aio_write_op_operate(op, w->rs->io, c, oid, NULL, 0);
        rados_release_write_op(op);
        w->head_mine = true;
        w->bound = 1 + ES_BOUND_STEP;
    } else {
        CF_GUARD(es_w_head_acked(w));
        if (w->next >= w->bound)
            CF_GUARD(es_w_raise_bound(w, w->next));
        CF_GUARD(es_w_slot(w, &sl));
        rc = rados_aio_create_completion2(NULL, NULL, &c);
        if (rc == 0)
            rc = rados_aio_write_full(w->rs->io, oid, c, (const char *)w->fill, w->fill_len);
    }
    if (rc < 0) {
        if (c)
            rados_aio_release(c);
        return es_fail("writing an extent chunk", rc);
    }
    sl->c = c;
    sl->idx = w->next;
    /* librados copied the bytes: the buffer is free again. */
    w->next++;
    w->fill_len = 0;
    return true;
}

static bool es_rados_write(cf_extent_store_writer *base, cf_slice bytes)
{
    es_rados_writer *w = (es_rados_writer *)base;
    const size_t chunk = w->rs->chunk;
    while (bytes.len) {
        if (w->fill_len == chunk) /* full, and more is coming */
            CF_GUARD(es_w_flush(w));
        size_t take = bytes.len < chunk - w->fill_len ? bytes.len : chunk - w->fill_len;
        if (w->fill_len + take > w->fill_cap) {
            /* Grown as needed, so a small extent holds little. */
            size_t cap = w->fill_cap ? w->fill_cap : 64 * CF_KIB;
            while (cap < w->fill_len + take)
                cap *= 2;
            cap = cap < chunk ? cap : chunk;
            uint8_t *p = realloc(w->fill, cap);
            CF_ENSURE_ALLOC(p);
            w->fill = p;
            w->fill_cap = cap;
        }
        memcpy(w->fill + w->fill_len, bytes.ptr, take);
        w->fill_len += take;
        bytes.ptr += take;
        bytes.len -= take;
    }
    return true;
}

static bool es_rados_finish(cf_extent_store_writer *base)
{
    es_rados_writer *w = (es_rados_writer *)base;
    char mark[ES_XATTR_MAX];
    snprintf(mark, sizeof mark, "v1 %" PRIu64 " %" PRIu32, base->length, w->rs->chunk);
    rados_write_op_t op = NULL;
    if (w->next == 0) {
        /* One chunk (or none): create, write and mark in one operation. */
        char oid[ES_OID_LEN + 1];
        es_oid(base->id, 0, oid);
        op = rados_create_write_op();
        CF_ENSURE_ALLOC(op);
        rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
        rados_write_op_write_full(op, w->fill ? (const char *)w->fill : "", w->fill_len);
        rados_write_op_setxattr(op, ES_XATTR_EXTENT, mark, strlen(mark));
        w->head_mine = true;
        int rc = CF_WHILE_BLOCKED(rados_write_op_operate(op, w->rs->io, oid, NULL, 0));
        rados_release_write_op(op);
        w->timed_out = rc == -ETIMEDOUT;
        if (rc == -EEXIST) {
            w->head_mine = false;
            CF_BAIL(CF_ERR_CONFLICT, "extent exists");
        }
        return rc >= 0 || es_fail("writing an extent", rc);
    }
    /* The last chunk (never empty: full chunks are sent only when more
     * bytes follow), every write acknowledged, then the marker. */
    CF_GUARD(es_w_flush(w));
    CF_GUARD(es_w_wait_all(w));
    free(w->fill);
    w->fill = NULL;
    w->fill_cap = 0;
    op = es_w_head_op(w);
    CF_ENSURE_ALLOC(op);
    rados_write_op_setxattr(op, ES_XATTR_EXTENT, mark, strlen(mark));
    rados_write_op_rmxattr(op, ES_XATTR_CHUNKS);
    return es_w_head_run(w, op, "marking an extent finished");
}

static void es_rados_writer_free(cf_extent_store_writer *base)
{
    es_rados_writer *w = (es_rados_writer *)base;
    /* Every operation ends before its completion is released. */
    for (unsigned i = 0; w->ring && i < w->rs->in_flight; i++) {
        bool head = w->ring[i].c && w->ring[i].idx == 0;
        /* Failures: the removal below covers them. */
        int rc = es_slot_wait(&w->ring[i]);
        if (rc == -EEXIST && head)
            w->head_mine = false;
        w->timed_out = w->timed_out || rc == -ETIMEDOUT;
    }
    if (!base->finished && w->head_mine && !w->timed_out) {
        /* Best effort: what a dead cluster keeps (or one that just timed
         * out: waiting out more timeouts here would only stall the caller)
         * garbage collection removes once it is old; the error is not the
         * caller's. */
        struct cf_error_record *saved = cf_error_save();
        (void)es_remove_chunks(w->rs, base->id, w->bound ? w->bound : 1);
        cf_error_restore(saved);
    }
    free(w->ring);
    free(w->fill);
    free(w);
}

static bool es_rados_create(cf_extent_store *s, const char *id, cf_extent_store_writer **out)
{
    (void)id; /* named by the caller's copy in base */
    es_rados *rs = (es_rados *)s;
    es_rados_writer *w = calloc(1, sizeof *w);
    CF_ENSURE_ALLOC(w);
    w->rs = rs;
    w->ring = calloc(rs->in_flight, sizeof *w->ring);
    if (!w->ring) {
        free(w);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    *out = &w->base;
    return true;
}

/* ---- reading ---- */

static bool es_rados_reader_open(cf_extent_store *s, const char *id, cf_extent_store_reader **out)
{
    es_rados *rs = (es_rados *)s;
    es_head h;
    bool exists = false;
    CF_GUARD(es_head_read(rs, id, &h, &exists));
    CF_ENSURE(exists, CF_ERR_NOT_FOUND, "no such extent");
    ES_ENSURE_KNOWN(h);
    CF_ENSURE(h.finished, CF_ERR_NOT_FOUND, "extent not finished");
    uint64_t head_len = h.length < h.chunk ? h.length : h.chunk;
    CF_ENSURE(h.size == head_len, CF_ERR_IO, "RADOS: an extent's head has the wrong size");
    es_rados_reader *r = calloc(1, sizeof *r);
    CF_ENSURE_ALLOC(r);
    r->rs = rs;
    memcpy(r->id, id, sizeof r->id);
    r->chunk = h.chunk;
    r->base.length = h.length;
    r->next_off = UINT64_MAX; /* the first read never streams */
    *out = &r->base;
    return true;
}

static bool es_read_result(int rc, size_t want)
{
    if (rc < 0)
        return es_fail(rc == -ENOENT ? "a chunk of an extent is missing" : "reading an extent", rc);
    CF_ENSURE((size_t)rc == want, CF_ERR_IO, "RADOS: an extent chunk is shorter than its length");
    return true;
}

/* Reads [off, off + len) straight into `buf`: one synchronous read within a
 * chunk, parallel ones (in_flight at a time) across chunks. */
static bool es_read_direct(es_rados_reader *r, uint64_t off, uint8_t *buf, size_t len)
{
    char oid[ES_OID_LEN + 1];
    uint64_t first = off / r->chunk, last = (off + len - 1) / r->chunk;
    if (first == last) {
        es_oid(r->id, (uint32_t)first, oid);
        int rc = CF_WHILE_BLOCKED(rados_read(r->rs->io, oid, (char *)buf, len, off % r->chunk));
        return es_read_result(rc, len);
    }
    es_slot ring[CF_EXTENT_STORE_IN_FLIGHT_MAX] = {0};
    unsigned n = r->rs->in_flight, pos = 0;
    bool ok = true;
    while (ok && len) {
        es_slot *sl = &ring[pos];
        pos = (pos + 1) % n;
        if (sl->c && !es_read_result(es_slot_wait(sl), sl->want)) {
            ok = false;
            break;
        }
        uint64_t in = off % r->chunk;
        size_t take = (size_t)(r->chunk - in) < len ? (size_t)(r->chunk - in) : len;
        es_oid(r->id, (uint32_t)(off / r->chunk), oid);
        rados_completion_t c = NULL;
        int rc = rados_aio_create_completion2(NULL, NULL, &c);
        if (rc == 0)
            rc = rados_aio_read(r->rs->io, oid, c, (char *)buf, take, in);
        if (rc < 0) {
            if (c)
                rados_aio_release(c);
            ok = es_fail("reading an extent", rc);
            break;
        }
        sl->c = c;
        sl->want = take;
        buf += take;
        off += take;
        len -= take;
    }
    /* Every read ends before the caller may reuse its buffer; the first
     * failure is the one reported. */
    for (unsigned i = 0; i < n; i++) {
        if (!ring[i].c)
            continue;
        int rc = es_slot_wait(&ring[i]);
        ok = ok && es_read_result(rc, ring[i].want);
    }
    return ok;
}

/* ---- read-ahead ---- */

/* Where window `w` may start for `off`: the ES_WINDOW-aligned offset within
 * off's chunk, so a window is one read of one object. */
static void es_window_place(const es_rados_reader *r, uint64_t off, es_window *w)
{
    uint64_t in = off % r->chunk;
    uint64_t start = off - in % ES_WINDOW;
    uint64_t chunk_end = off - in + r->chunk;
    uint64_t end = start + ES_WINDOW;
    end = end < chunk_end ? end : chunk_end;
    end = end < r->base.length ? end : r->base.length;
    w->off = start;
    w->len = (size_t)(end - start);
}

/* Ends window `w`'s read, if one is in flight; false (error raised) when it
 * failed, and the window is then empty. */
static bool es_window_settle(es_window *w)
{
    if (!w->io.c)
        return true;
    if (es_read_result(es_slot_wait(&w->io), w->io.want))
        return true;
    w->len = 0;
    return false;
}

/* Starts reading the window at `off` into `w` (its old contents dropped). */
static bool es_window_fetch(es_rados_reader *r, es_window *w, uint64_t off)
{
    struct cf_error_record *saved = cf_error_save();
    (void)es_window_settle(w); /* a read ahead nobody used: its failure too */
    cf_error_restore(saved);
    w->len = 0;
    if (!w->buf) {
        w->buf = malloc(ES_WINDOW);
        CF_ENSURE_ALLOC(w->buf);
    }
    es_window_place(r, off, w);
    char oid[ES_OID_LEN + 1];
    es_oid(r->id, (uint32_t)(w->off / r->chunk), oid);
    rados_completion_t c = NULL;
    int rc = rados_aio_create_completion2(NULL, NULL, &c);
    if (rc == 0)
        rc = rados_aio_read(r->rs->io, oid, c, (char *)w->buf, w->len, w->off % r->chunk);
    if (rc < 0) {
        if (c)
            rados_aio_release(c);
        w->len = 0;
        return es_fail("reading an extent", rc);
    }
    w->io.c = c;
    w->io.want = w->len;
    return true;
}

static es_window *es_window_holding(es_rados_reader *r, uint64_t off)
{
    for (int i = 0; i < 2; i++)
        if (r->win[i].len && off >= r->win[i].off && off - r->win[i].off < r->win[i].len)
            return &r->win[i];
    return NULL;
}

/* Reads through two windows: the one being consumed, and the next one
 * read ahead while the caller works on this.  A read that continues where
 * the previous one ended (or lands in a window) streams; any other read,
 * or one of a window or more, goes straight to RADOS, so a ranged read
 * costs no more than its bytes.  A reader that streams holds
 * 2 * ES_WINDOW bytes. */
static bool es_rados_read_at(cf_extent_store_reader *base, uint64_t off, uint8_t *buf, size_t len)
{
    es_rados_reader *r = (es_rados_reader *)base;
    while (len) {
        es_window *w = es_window_holding(r, off);
        if (!w) {
            if (off != r->next_off || len >= ES_WINDOW) {
                r->next_off = off + len;
                return es_read_direct(r, off, buf, len);
            }
            w = &r->win[0];
            CF_GUARD(es_window_fetch(r, w, off));
        }
        CF_GUARD(es_window_settle(w));
        size_t n = (size_t)(w->off + w->len - off);
        n = n < len ? n : len;
        memcpy(buf, w->buf + (off - w->off), n);
        buf += n;
        off += n;
        len -= n;
        r->next_off = off;
        /* Keep the window after this one coming. */
        es_window *other = w == &r->win[0] ? &r->win[1] : &r->win[0];
        uint64_t ahead = w->off + w->len;
        if (ahead < r->base.length && !(other->len && other->off == ahead) &&
            !es_window_fetch(r, other, ahead))
            cf_error_clear(); /* only a read ahead: the read itself succeeded */
    }
    return true;
}

static void es_rados_reader_close(cf_extent_store_reader *base)
{
    es_rados_reader *r = (es_rados_reader *)base;
    for (int i = 0; i < 2; i++) {
        (void)es_slot_wait(&r->win[i].io); /* before its buffer goes */
        free(r->win[i].buf);
    }
    free(r);
}

/* ---- the walk ---- */

/* Claims a partial extent for removal: rewrites coffer.chunks as "xN"
 * unless it changed since it was read (a writer still at work).
 * *claimed false when it did. */
static bool es_claim(es_rados *rs, const char *id, const es_head *h, bool *claimed)
{
    *claimed = true;
    if (h->claimed)
        return true; /* an earlier walk's, interrupted */
    char oid[ES_OID_LEN + 1], text[ES_XATTR_MAX];
    es_oid(id, 0, oid);
    snprintf(text, sizeof text, "x%" PRIu32, h->bound);
    rados_write_op_t op = rados_create_write_op();
    CF_ENSURE_ALLOC(op);
    rados_write_op_assert_exists(op);
    /* A head without a bound is no writer's (its first operation sets
     * one): nothing to compare. */
    if (h->chunks_xattr[0])
        rados_write_op_cmpxattr(op, ES_XATTR_CHUNKS, LIBRADOS_CMPXATTR_OP_EQ, h->chunks_xattr,
                                strlen(h->chunks_xattr));
    rados_write_op_setxattr(op, ES_XATTR_CHUNKS, text, strlen(text));
    int rc = CF_WHILE_BLOCKED(rados_write_op_operate(op, rs->io, oid, NULL, 0));
    rados_release_write_op(op);
    if (rc == -ECANCELED || rc == -ENOENT || rc == -ENODATA) {
        *claimed = false;
        return true;
    }
    return rc >= 0 || es_fail("claiming a partial extent", rc);
}

/* One listed object: a head whose extent is old is reported (finished) or
 * removed (partial); every other name is skipped. */
static bool es_walk_object(es_rados *rs, const char *name, size_t len, int64_t older_than,
                           cf_extent_store_each_fn fn, void *ctx, unsigned *partials)
{
    if (len != ES_OID_LEN || memcmp(name + CF_EXTENT_STORE_ID_LEN, ".00000000", 9) != 0)
        return true;
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    memcpy(id, name, CF_EXTENT_STORE_ID_LEN);
    id[CF_EXTENT_STORE_ID_LEN] = '\0';
    if (!cf_extent_store_id_valid(id))
        return true; /* not ours */
    es_head h;
    bool exists = false;
    CF_GUARD(es_head_read(rs, id, &h, &exists));
    if (!exists || h.malformed || (int64_t)h.mtime >= older_than)
        return true; /* gone, not ours to judge, or young */
    if (h.finished)
        return fn(ctx, id);
    bool claimed = false;
    CF_GUARD(es_claim(rs, id, &h, &claimed));
    if (!claimed)
        return true;
    CF_GUARD(es_remove_chunks(rs, id, h.bound));
    (*partials)++;
    return true;
}

static bool es_rados_each(cf_extent_store *s, int64_t older_than, cf_extent_store_each_fn fn,
                          void *ctx, unsigned *partials)
{
    es_rados *rs = (es_rados *)s;
    rados_list_ctx_t list = NULL;
    int rc = rados_nobjects_list_open(rs->io, &list);
    if (rc < 0)
        return es_fail("listing the pool", rc);
    bool ok = true;
    while (ok) {
        const char *name = NULL;
        size_t len = 0;
        rc = rados_nobjects_list_next2(list, &name, NULL, NULL, &len, NULL, NULL);
        if (rc == -ENOENT)
            break;
        if (rc < 0) {
            ok = es_fail("listing the pool", rc);
            break;
        }
        ok = es_walk_object(rs, name, len, older_than, fn, ctx, partials);
    }
    rados_nobjects_list_close(list);
    return ok;
}

/* ---- open / close ---- */

static void es_rados_close(cf_extent_store *s)
{
    es_rados *rs = (es_rados *)s;
    if (rs->io)
        rados_ioctx_destroy(rs->io);
    if (rs->cluster)
        rados_shutdown(rs->cluster);
    free(rs);
}

/* Sets `option` to `secs` where the configuration left it at `dflt`. */
static bool es_timeout(rados_t cluster, const char *option, double dflt, unsigned secs)
{
    char cur[64] = "";
    char *end = NULL;
    if (rados_conf_get(cluster, option, cur, sizeof cur) == 0) {
        double v = strtod(cur, &end);
        if (end != cur && v != dflt)
            return true; /* the operator chose */
    }
    char text[16];
    snprintf(text, sizeof text, "%u", secs);
    int rc = rados_conf_set(cluster, option, text);
    return rc >= 0 || es_fail("setting a client timeout", rc);
}

static bool es_connect(es_rados *rs, const char *pool, const char *ns, const char *client,
                       unsigned timeout_s)
{
    int rc = rados_create(&rs->cluster, client);
    if (rc < 0) {
        rs->cluster = NULL;
        return es_fail("cannot create a cluster handle", rc);
    }
    rc = rados_conf_read_file(rs->cluster, NULL);
    if (rc < 0)
        return es_fail("cannot read the Ceph configuration (CEPH_CONF or /etc/ceph/ceph.conf)", rc);
    rc = rados_conf_parse_env(rs->cluster, NULL);
    if (rc < 0)
        return es_fail("cannot parse CEPH_ARGS", rc);
    CF_GUARD(es_timeout(rs->cluster, "rados_osd_op_timeout", 0, timeout_s));
    CF_GUARD(es_timeout(rs->cluster, "rados_mon_op_timeout", 0, timeout_s));
    CF_GUARD(es_timeout(rs->cluster, "client_mount_timeout", 300, timeout_s));
    rc = rados_connect(rs->cluster);
    if (rc < 0)
        return es_fail("cannot connect to the cluster", rc);
    rc = rados_ioctx_create(rs->cluster, pool, &rs->io);
    if (rc < 0) {
        rs->io = NULL;
        return es_fail(rc == -ENOENT ? "no such pool" : "cannot open the pool", rc);
    }
    /* Every object and listing of the store is in this namespace ("" being
     * the pool's default one). */
    rados_ioctx_set_namespace(rs->io, ns);
    return true;
}

static const es_ops es_rados_ops = {
    .kind = "rados",
    .close = es_rados_close,
    .create = es_rados_create,
    .write = es_rados_write,
    .finish = es_rados_finish,
    .writer_free = es_rados_writer_free,
    .reader_open = es_rados_reader_open,
    .read_at = es_rados_read_at,
    .reader_close = es_rados_reader_close,
    .remove = es_rados_remove,
    .each = es_rados_each,
};

bool cf_es_rados_open(const char *arg, const cf_extent_store_options *opt, cf_extent_store **out)
{
    /* POOL[/NAMESPACE][@CLIENT]: the last '@' and then the first '/' split. */
    char pool[ES_POOL_MAX];
    CF_ENSURE(strlen(arg) < sizeof pool, CF_ERR_BAD_INPUT, "RADOS pool name too long");
    snprintf(pool, sizeof pool, "%s", arg);
    char *at = strrchr(pool, '@');
    const char *client = NULL, *ns = "";
    if (at) {
        *at = '\0';
        client = at + 1;
        CF_ENSURE(*client, CF_ERR_BAD_INPUT, "RADOS client name missing after '@'");
    }
    char *slash = strchr(pool, '/');
    if (slash) {
        *slash = '\0';
        ns = slash + 1;
        CF_ENSURE(*ns, CF_ERR_BAD_INPUT, "RADOS namespace missing after '/'");
    }
    CF_ENSURE(pool[0], CF_ERR_BAD_INPUT, "RADOS pool name missing");
    es_rados *rs = calloc(1, sizeof *rs);
    CF_ENSURE_ALLOC(rs);
    rs->base.ops = &es_rados_ops;
    rs->chunk = opt->chunk_size;
    rs->in_flight = opt->in_flight;
    if (!es_connect(rs, pool, ns, client, opt->timeout_s)) {
        struct cf_error_record *saved = cf_error_save();
        es_rados_close(&rs->base);
        cf_error_restore(saved);
        return false;
    }
    *out = &rs->base;
    return true;
}
