/*
 * The write-back map (disk.h): NBD promises a write's durability only
 * after a flush (or with FUA), as a disk's volatile cache does, so writes
 * wait here, already encrypted, and go to the blob together: fewer, larger
 * Put Page calls, each a single transaction however many pages it holds.
 *
 * A hash table (open addressing, linear probing) of chunks by index, each
 * with its ciphertext and a bitmap of the 512-byte pages written; at most
 * capacity / CF_DISK_CHUNK chunks.  Entries leave only when the map is
 * sent.  One mutex guards it; the plugin makes sure no read is between
 * fetching a range and overlaying the map while the map is being sent.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"

#define CF_DISK_UNITS (CF_DISK_CHUNK / CF_DISK_PAGE) /* pages per chunk: 128 */

typedef struct {
    uint64_t chunk;
    uint64_t dirty[CF_DISK_UNITS / 64];
    uint8_t *data; /* NULL: a free slot */
} cf_disk_entry;

struct cf_disk_cache {
    pthread_mutex_t lock;
    cf_disk_entry *slots;
    size_t n_slots, used, max_used;
};

bool cf_disk_cache_new(uint64_t capacity, cf_disk_cache **out)
{
    size_t max = (size_t)(capacity / CF_DISK_CHUNK);
    CF_ENSURE(max >= 1 && max <= (1u << 20), CF_ERR_BAD_INPUT,
              "the write-back size must be 64 KiB to 64 GiB");
    cf_disk_cache *c = calloc(1, sizeof *c);
    CF_ENSURE_ALLOC(c);
    c->max_used = max;
    c->n_slots = 2;
    while (c->n_slots < 2 * max)
        c->n_slots *= 2;
    c->slots = calloc(c->n_slots, sizeof *c->slots);
    pthread_mutex_init(&c->lock, NULL);
    if (!c->slots) {
        cf_disk_cache_free(c);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    *out = c;
    return true;
}

static void cf_disk_cache_clear(cf_disk_cache *c)
{
    for (size_t i = 0; i < c->n_slots; i++) {
        free(c->slots[i].data);
        memset(&c->slots[i], 0, sizeof c->slots[i]);
    }
    c->used = 0;
}

void cf_disk_cache_free(cf_disk_cache *c)
{
    if (!c)
        return;
    if (c->slots)
        cf_disk_cache_clear(c);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The chunk's entry, or NULL (create: a new one, unless the map is full). */
static cf_disk_entry *cf_disk_find(cf_disk_cache *c, uint64_t chunk, bool create)
{
    size_t mask = c->n_slots - 1;
    for (size_t i = (size_t)(chunk * 0x9e3779b97f4a7c15ull >> 20) & mask;; i = (i + 1) & mask) {
        cf_disk_entry *e = &c->slots[i];
        if (e->data && e->chunk == chunk)
            return e;
        if (!e->data) {
            if (!create || c->used == c->max_used)
                return NULL;
            e->data = malloc(CF_DISK_CHUNK);
            if (!e->data)
                return NULL;
            e->chunk = chunk;
            memset(e->dirty, 0, sizeof e->dirty);
            c->used++;
            return e;
        }
    }
}

static bool cf_disk_unit_dirty(const cf_disk_entry *e, unsigned u)
{
    return (e->dirty[u / 64] >> (u % 64)) & 1;
}

/* The piece of [pos, end) in pos's chunk: its index, offset in it, length. */
typedef struct {
    uint64_t chunk, in, n;
} cf_disk_piece;

static cf_disk_piece cf_disk_piece_at(uint64_t pos, uint64_t end)
{
    cf_disk_piece p = {pos / CF_DISK_CHUNK, pos % CF_DISK_CHUNK, 0};
    p.n = CF_DISK_CHUNK - p.in < end - pos ? CF_DISK_CHUNK - p.in : end - pos;
    return p;
}

bool cf_disk_cache_put(cf_disk_cache *c, uint64_t off, const uint8_t *data, size_t len, bool *full)
{
    *full = false;
    pthread_mutex_lock(&c->lock);
    /* Room for every chunk first, so a write is kept whole or not at all. */
    size_t needed = 0;
    cf_disk_piece p;
    for (uint64_t pos = off; pos < off + len; pos += p.n) {
        p = cf_disk_piece_at(pos, off + len);
        needed += cf_disk_find(c, p.chunk, false) == NULL;
    }
    if (needed > c->max_used - c->used) {
        pthread_mutex_unlock(&c->lock);
        *full = true;
        return true;
    }
    bool ok = true;
    for (uint64_t pos = off; ok && pos < off + len; pos += p.n) {
        p = cf_disk_piece_at(pos, off + len);
        cf_disk_entry *e = cf_disk_find(c, p.chunk, true);
        ok = e != NULL;
        if (ok)
            memcpy(e->data + p.in, data + (pos - off), (size_t)p.n);
        for (uint64_t u = p.in / CF_DISK_PAGE; ok && u < (p.in + p.n) / CF_DISK_PAGE; u++)
            e->dirty[u / 64] |= 1ull << (u % 64);
    }
    pthread_mutex_unlock(&c->lock);
    CF_ENSURE(ok, CF_ERR_NOMEM, "no memory for the write-back map");
    return true;
}

/* Calls fn for every page of [off, off + len) the map holds a chunk for,
 * with that chunk's entry, the page's index in it and its byte offset from
 * `off` (the caller holds the lock). */
static void cf_disk_each_page(cf_disk_cache *c, uint64_t off, size_t len,
                              void (*fn)(cf_disk_entry *e, unsigned u, size_t at, void *ctx),
                              void *ctx)
{
    cf_disk_piece p;
    for (uint64_t pos = off; c->used && pos < off + len; pos += p.n) {
        p = cf_disk_piece_at(pos, off + len);
        cf_disk_entry *e = cf_disk_find(c, p.chunk, false);
        for (uint64_t u = p.in / CF_DISK_PAGE; e && u < (p.in + p.n) / CF_DISK_PAGE; u++)
            fn(e, (unsigned)u, (size_t)(p.chunk * CF_DISK_CHUNK + u * CF_DISK_PAGE - off), ctx);
    }
}

static void cf_disk_page_overlay(cf_disk_entry *e, unsigned u, size_t at, void *buf)
{
    if (cf_disk_unit_dirty(e, u))
        memcpy((uint8_t *)buf + at, e->data + u * CF_DISK_PAGE, CF_DISK_PAGE);
}

static void cf_disk_page_drop(cf_disk_entry *e, unsigned u, size_t at, void *ctx)
{
    (void)at;
    (void)ctx;
    e->dirty[u / 64] &= ~(1ull << (u % 64));
}

void cf_disk_cache_overlay(cf_disk_cache *c, uint64_t off, uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&c->lock);
    cf_disk_each_page(c, off, len, cf_disk_page_overlay, buf);
    pthread_mutex_unlock(&c->lock);
}

void cf_disk_cache_drop(cf_disk_cache *c, uint64_t off, size_t len)
{
    pthread_mutex_lock(&c->lock);
    cf_disk_each_page(c, off, len, cf_disk_page_drop, NULL);
    pthread_mutex_unlock(&c->lock);
}

bool cf_disk_cache_dirty(cf_disk_cache *c)
{
    pthread_mutex_lock(&c->lock);
    bool dirty = c->used > 0;
    pthread_mutex_unlock(&c->lock);
    return dirty;
}

static int cf_disk_entry_order(const void *a, const void *b)
{
    uint64_t x = (*(cf_disk_entry *const *)a)->chunk, y = (*(cf_disk_entry *const *)b)->chunk;
    return x < y ? -1 : x > y;
}

/* A run of adjacent written pages: one Put Page. */
typedef struct {
    uint64_t off;
    size_t len;
} cf_disk_run;

/* The runs of the map in blob order, each at most CF_DISK_MAX_CALL. */
static bool cf_disk_runs(cf_disk_cache *c, cf_disk_run **out, size_t *n_out)
{
    *n_out = 0;
    *out = NULL;
    if (!c->used)
        return true;
    cf_disk_entry **order = malloc(c->used * sizeof *order);
    cf_disk_run *runs = malloc(c->used * CF_DISK_UNITS * sizeof *runs);
    if (!order || !runs) {
        free(order);
        free(runs);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    size_t n = 0, k = 0;
    for (size_t i = 0; i < c->n_slots; i++)
        if (c->slots[i].data)
            order[n++] = &c->slots[i];
    qsort(order, n, sizeof *order, cf_disk_entry_order);
    for (size_t i = 0; i < n; i++)
        for (unsigned u = 0; u < CF_DISK_UNITS; u++) {
            if (!cf_disk_unit_dirty(order[i], u))
                continue;
            uint64_t at = order[i]->chunk * CF_DISK_CHUNK + u * CF_DISK_PAGE;
            cf_disk_run *r = k ? &runs[k - 1] : NULL;
            if (r && r->off + r->len == at && r->len < CF_DISK_MAX_CALL)
                r->len += CF_DISK_PAGE;
            else
                runs[k++] = (cf_disk_run){at, CF_DISK_PAGE};
        }
    free(order);
    *out = runs;
    *n_out = k;
    return true;
}

/* Several Put Page calls at once: each waits for the service's group
 * commit, which then makes them durable together.  Runs that share a
 * chunk go to one sender, one after the other (cf_disk_take). */
#define CF_DISK_SENDERS 4

typedef struct {
    cf_disk_cache *c;
    cf_disk_io *io;
    const cf_disk_run *runs;
    size_t n;
    size_t next; /* the next run not taken */
    _Atomic bool failed;
    pthread_mutex_t error_lock; /* also guards `next` */
    char error[256];
} cf_disk_sending;

/* Takes the next runs [*first, *end) to send: runs that share a chunk go
 * together, one after the other, so that no two calls at once rewrite
 * parts of one chunk (the service would make one of them start over). */
static bool cf_disk_take(cf_disk_sending *s, size_t *first, size_t *end)
{
    pthread_mutex_lock(&s->error_lock);
    size_t i = s->next, j = i;
    while (j < s->n && (j == i || (s->runs[j - 1].off + s->runs[j - 1].len - 1) / CF_DISK_CHUNK ==
                                      s->runs[j].off / CF_DISK_CHUNK))
        j++;
    s->next = j;
    pthread_mutex_unlock(&s->error_lock);
    *first = i;
    *end = j;
    return i < j;
}

static void *cf_disk_sender(void *arg)
{
    cf_disk_sending *s = arg;
    uint8_t *stage = malloc(CF_DISK_MAX_CALL);
    bool ok = stage != NULL;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    size_t i, end;
    while (ok && !s->failed && cf_disk_take(s, &i, &end)) {
        for (; ok && i < end; i++) {
            const cf_disk_run *r = &s->runs[i];
            /* The map stands still while it is sent (the plugin holds io_lock). */
            for (size_t at = 0; at < r->len; at += CF_DISK_PAGE) {
                uint64_t pos = r->off + at;
                const cf_disk_entry *e = cf_disk_find(s->c, pos / CF_DISK_CHUNK, false);
                memcpy(stage + at, e->data + pos % CF_DISK_CHUNK, CF_DISK_PAGE);
            }
            ok = cf_disk_io_write(s->io, r->off, stage, r->len);
        }
    }
    free(stage);
    if (!ok) {
        pthread_mutex_lock(&s->error_lock);
        if (!s->failed)
            snprintf(s->error, sizeof s->error, "%s", cf_error_detail());
        s->failed = true;
        pthread_mutex_unlock(&s->error_lock);
    }
    return NULL;
}

bool cf_disk_cache_send(cf_disk_cache *c, cf_disk_io *io)
{
    pthread_mutex_lock(&c->lock);
    cf_disk_sending s = {.c = c, .io = io, .error_lock = PTHREAD_MUTEX_INITIALIZER};
    cf_disk_run *runs = NULL;
    bool ok = cf_disk_runs(c, &runs, &s.n);
    s.runs = runs;
    pthread_t senders[CF_DISK_SENDERS];
    size_t started = 0;
    while (ok && started < CF_DISK_SENDERS && started < s.n &&
           pthread_create(&senders[started], NULL, cf_disk_sender, &s) == 0)
        started++;
    if (ok && s.n && !started) /* no thread: this one sends */
        cf_disk_sender(&s);
    for (size_t i = 0; i < started; i++)
        pthread_join(senders[i], NULL);
    if (ok && s.failed) {
        CF_RAISE(CF_ERR_IO, s.error);
        ok = false;
    }
    if (ok)
        cf_disk_cache_clear(c);
    pthread_mutex_unlock(&c->lock);
    free(runs);
    return ok;
}
