/*
 * hash_pipe: a bounded single-producer, single-consumer queue of slots in
 * front of a cf_hasher running on its own thread (see hash_pipe.h).
 */
#include "hash_pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cf_hash_pipe {
    cf_hasher *hs;
    bool threaded, started, failed, closing;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint8_t *slots; /* SLOTS x SLOT bytes */
    size_t len[CF_HASH_PIPE_SLOTS];
    size_t head, count; /* filled slots waiting: [head, head + count) */
    size_t tail;        /* producer only: the slot being filled */
    size_t fill;        /* producer only: bytes in it */
};

static uint8_t *cf_slot(cf_hash_pipe *p, size_t i)
{
    return p->slots + (i % CF_HASH_PIPE_SLOTS) * CF_HASH_PIPE_SLOT;
}

static void *cf_hash_pipe_worker(void *arg)
{
    cf_hash_pipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->count == 0 && !p->closing)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->count == 0)
            break;
        size_t i = p->head % CF_HASH_PIPE_SLOTS;
        pthread_mutex_unlock(&p->lock);
        bool ok = cf_hasher_update(p->hs, cf_slice_of(cf_slot(p, i), p->len[i]));
        pthread_mutex_lock(&p->lock);
        p->failed |= !ok;
        p->head++;
        p->count--;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

bool cf_hash_pipe_new(cf_hash h, bool threaded, cf_hash_pipe **out)
{
    cf_hash_pipe *p = calloc(1, sizeof *p);
    CF_ENSURE_ALLOC(p);
    p->threaded = threaded;
    if (!cf_hasher_new(h, &p->hs)) {
        free(p);
        return false;
    }
    if (threaded) {
        p->slots = malloc((size_t)CF_HASH_PIPE_SLOTS * CF_HASH_PIPE_SLOT);
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->changed, NULL);
        p->started = p->slots && pthread_create(&p->thread, NULL, cf_hash_pipe_worker, p) == 0;
        if (!p->started) {
            cf_hash_pipe_free(p);
            CF_BAIL(CF_ERR_NOMEM, "cannot start a hashing thread");
        }
    }
    *out = p;
    return true;
}

/* Hands the producer's slot to the worker and waits for a free one. */
static void cf_hash_pipe_push(cf_hash_pipe *p)
{
    p->len[p->tail % CF_HASH_PIPE_SLOTS] = p->fill;
    p->tail++;
    p->fill = 0;
    pthread_mutex_lock(&p->lock);
    p->count++;
    pthread_cond_broadcast(&p->changed);
    while (p->count == CF_HASH_PIPE_SLOTS)
        pthread_cond_wait(&p->changed, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

bool cf_hash_pipe_update(cf_hash_pipe *p, cf_slice data)
{
    if (!p->threaded)
        return cf_hasher_update(p->hs, data);
    const uint8_t *src = data.ptr;
    size_t left = data.len;
    while (left) {
        /* The producer's slot follows the queued ones; push() waits for
         * room, so the worker is never reading it. */
        uint8_t *slot = cf_slot(p, p->tail);
        size_t n = CF_HASH_PIPE_SLOT - p->fill;
        if (n > left)
            n = left;
        memcpy(slot + p->fill, src, n);
        p->fill += n;
        src += n;
        left -= n;
        if (p->fill == CF_HASH_PIPE_SLOT)
            cf_hash_pipe_push(p);
    }
    return true;
}

static bool cf_hash_pipe_stop(cf_hash_pipe *p)
{
    if (!p->started)
        return true;
    pthread_mutex_lock(&p->lock);
    p->closing = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    p->started = false;
    return !p->failed;
}

bool cf_hash_pipe_final(cf_hash_pipe *p, uint8_t *out)
{
    if (p->threaded && p->fill)
        cf_hash_pipe_push(p);
    CF_ENSURE(cf_hash_pipe_stop(p), CF_ERR_CRYPTO, "hashing failed");
    return cf_hasher_final(p->hs, out);
}

void cf_hash_pipe_free(cf_hash_pipe *p)
{
    if (!p)
        return;
    cf_hash_pipe_stop(p); /* a failed hash only matters to final() */
    if (p->threaded) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->changed);
    }
    free(p->slots);
    cf_hasher_free(p->hs);
    free(p);
}
