/*
 * Streamed response bodies, read ahead on the worker pool.
 *
 * libmicrohttpd asks for response bytes on a connection thread, which must
 * never block on a disk or a decryption.  The service's reader therefore
 * runs on a worker, one block ahead: while the connection thread sends one
 * block, a worker reads and decrypts the next into the other of two slots.
 * When the connection thread finds no block ready it suspends the
 * connection, and the worker resumes it once the block is in.
 */
#ifndef CF_BODY_STREAM_H
#define CF_BODY_STREAM_H

#include <stdint.h>
#include <sys/types.h>

#include "http.h"
#include "workers.h"

typedef struct cf_body_stream cf_body_stream;

/* Takes over reader/free/ctx from resp->stream (free runs exactly once). */
cf_body_stream *cf_body_stream_new(cf_http_response *resp, cf_workers *pool, void *conn);
/* Fills the first block in the calling (worker) thread, so that a small
 * body goes out without a second trip through the pool. */
void cf_body_stream_prime(cf_body_stream *s);
/* libmicrohttpd's content reader and free callbacks. */
ssize_t cf_body_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void cf_body_stream_free(void *cls);
/* The block size to give libmicrohttpd for this body. */
size_t cf_body_stream_block(uint64_t length);

#endif
