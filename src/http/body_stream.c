#include "body_stream.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "secmem.h"

#define CF_STREAM_BLOCK_MAX (256u * 1024)

struct cf_body_stream {
    cf_job job;
    cf_workers *pool;
    struct MHD_Connection *conn;
    pthread_mutex_t mu;
    cf_http_body_reader reader;
    void (*release)(void *ctx);
    void *ctx;
    uint64_t length;
    size_t block;
    struct {
        char *data;
        size_t len;
        bool full;
    } slot[2];
    unsigned front; /* the slot being sent */
    size_t front_off;
    unsigned fill;     /* the slot the next read goes into */
    uint64_t fill_pos; /* body offset of the next read */
    bool running;      /* a worker is reading */
    bool waiting;      /* the connection is suspended for a block */
    bool failed;
    bool released; /* libmicrohttpd is done with the response */
};

static void cf_body_stream_run(cf_job *job);

size_t cf_body_stream_block(uint64_t length)
{
    size_t block = length < CF_STREAM_BLOCK_MAX ? (size_t)length : CF_STREAM_BLOCK_MAX;
    return block < 4096 ? 4096 : block;
}

cf_body_stream *cf_body_stream_new(cf_http_response *resp, cf_workers *pool, void *conn)
{
    cf_body_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->block = cf_body_stream_block(resp->stream.length);
    s->slot[0].data = malloc(s->block);
    s->slot[1].data = malloc(s->block);
    if (!s->slot[0].data || !s->slot[1].data) {
        free(s->slot[0].data);
        free(s->slot[1].data);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->job.run = cf_body_stream_run;
    s->pool = pool;
    s->conn = conn;
    s->reader = resp->stream.reader;
    s->release = resp->stream.free;
    s->ctx = resp->stream.ctx;
    s->length = resp->stream.length;
    resp->stream.free = NULL; /* ours now */
    return s;
}

static void cf_body_stream_destroy(cf_body_stream *s)
{
    if (s->release)
        s->release(s->ctx);
    for (int i = 0; i < 2; i++) {
        cf_memzero(s->slot[i].data, s->block); /* plaintext of stored data */
        free(s->slot[i].data);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Reads one block into the fill slot if it is free; false when there was
 * nothing to do.  Called with the lock held; drops it around the read. */
static bool cf_body_stream_fill_one(cf_body_stream *s)
{
    unsigned i = s->fill;
    if (s->failed || s->released || s->slot[i].full || s->fill_pos >= s->length)
        return false;
    uint64_t pos = s->fill_pos;
    size_t want = s->length - pos < s->block ? (size_t)(s->length - pos) : s->block;
    pthread_mutex_unlock(&s->mu);
    ssize_t n = s->reader(s->ctx, pos, s->slot[i].data, want);
    pthread_mutex_lock(&s->mu);
    if (n <= 0 || (size_t)n > want) {
        s->failed = true;
    } else {
        s->slot[i].len = (size_t)n;
        s->slot[i].full = true;
        s->fill_pos += (uint64_t)n;
        s->fill ^= 1u;
    }
    if (s->waiting) {
        s->waiting = false;
        MHD_resume_connection(s->conn);
    }
    return !s->failed;
}

static void cf_body_stream_run(cf_job *job)
{
    cf_body_stream *s = (cf_body_stream *)job;
    pthread_mutex_lock(&s->mu);
    while (cf_body_stream_fill_one(s))
        ;
    s->running = false;
    bool released = s->released;
    pthread_mutex_unlock(&s->mu);
    if (released)
        cf_body_stream_destroy(s);
}

void cf_body_stream_prime(cf_body_stream *s)
{
    pthread_mutex_lock(&s->mu);
    cf_body_stream_fill_one(s);
    pthread_mutex_unlock(&s->mu);
}

/* With the lock held: whether a worker should start on the next block
 * (then marked running; the caller posts it once the lock is released, so
 * that the woken worker does not wait for it, as in http.c). */
static bool cf_body_stream_due(cf_body_stream *s)
{
    if (s->running || s->failed || s->slot[s->fill].full || s->fill_pos >= s->length)
        return false;
    s->running = true;
    return true;
}

/* Without the lock: posts a due fill.  A pool that is shutting down fails
 * the stream, and resumes the connection if it waits, to end it. */
static void cf_body_stream_post(cf_body_stream *s)
{
    if (cf_workers_post(s->pool, &s->job))
        return;
    pthread_mutex_lock(&s->mu);
    s->running = false;
    s->failed = true;
    if (s->waiting) {
        s->waiting = false;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->mu);
}

ssize_t cf_body_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    cf_body_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    ssize_t ret = 0;
    unsigned i = s->front;
    bool due = false;
    if (s->slot[i].full) {
        size_t n = s->slot[i].len - s->front_off;
        if (n > max)
            n = max;
        memcpy(buf, s->slot[i].data + s->front_off, n);
        s->front_off += n;
        if (s->front_off == s->slot[i].len) {
            s->slot[i].full = false;
            s->front ^= 1u;
            s->front_off = 0;
        }
        ret = (ssize_t)n;
        due = cf_body_stream_due(s);
    } else if (s->failed) {
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        /* Nothing ready: wait off the connection thread. */
        due = cf_body_stream_due(s);
        s->waiting = true;
        MHD_suspend_connection(s->conn);
    }
    (void)pos;
    pthread_mutex_unlock(&s->mu);
    if (due)
        cf_body_stream_post(s);
    return ret;
}

void cf_body_stream_free(void *cls)
{
    cf_body_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    s->released = true;
    bool running = s->running;
    pthread_mutex_unlock(&s->mu);
    if (!running)
        cf_body_stream_destroy(s);
}
