/*
 * Deadlines for every phase of a connection, so that a slow or idle client
 * costs kilobytes for a bounded time and never a thread:
 *
 *   HEADERS  from accept (or from the next request line) until the headers
 *            are in: TLS handshake, request line and headers as a whole;
 *   BODY     a minimum upload rate, checked per window;
 *   IDLE     keep-alive between requests;
 *   BUSY     a worker is on the request: no deadline (the server's time,
 *            not the client's, and it does not count against BODY);
 *   SENDING  the response: libmicrohttpd's idle timeout cuts a stalled
 *            reader.
 *
 * A sweeper thread shuts down the sockets of connections past their
 * deadline; libmicrohttpd then sees the end of the stream and cleans up as
 * for any closed connection.  The registry entry goes away (under the lock)
 * before libmicrohttpd closes the descriptor, so a reused descriptor number
 * is never shut down by mistake.
 */
#ifndef CF_DEADLINES_H
#define CF_DEADLINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"

typedef enum {
    CF_PHASE_HEADERS,
    CF_PHASE_BODY,
    CF_PHASE_BUSY,
    CF_PHASE_SENDING,
    CF_PHASE_IDLE,
} cf_phase;

typedef struct {
    unsigned headers_seconds;     /* 0 = 10 */
    unsigned idle_seconds;        /* 0 = 30 */
    unsigned body_window_seconds; /* 0 = 10 */
    uint64_t body_window_bytes;   /* minimum per window; 0 = 16 KiB */
} cf_deadline_policy;

typedef struct cf_deadlines cf_deadlines;
typedef struct cf_conn cf_conn;

CF_MUST_USE bool cf_deadlines_start(const cf_deadline_policy *policy, const char *service,
                                    cf_deadlines **out);
void cf_deadlines_stop(cf_deadlines *d);

/* A new connection (in HEADERS); NULL when out of memory. */
cf_conn *cf_conn_open(cf_deadlines *d, int fd);
void cf_conn_close(cf_deadlines *d, cf_conn *c);

void cf_conn_phase(cf_deadlines *d, cf_conn *c, cf_phase phase);
/* A request line arrived: an idle keep-alive connection is in HEADERS again. */
void cf_conn_request_line(cf_deadlines *d, cf_conn *c);
void cf_conn_body_bytes(cf_deadlines *d, cf_conn *c, size_t n);

/* Connections cut so far, per phase (tests and metrics). */
typedef struct {
    uint64_t headers, body, idle;
} cf_deadline_counts;
void cf_deadlines_counts(cf_deadlines *d, cf_deadline_counts *out);

#endif
