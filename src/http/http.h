/*
 * HTTPS server glue over libmicrohttpd (GnuTLS), shared by every Coffer
 * service.
 *
 * A service supplies one handler; the glue collects the request body (up to
 * a cap; larger bodies get 413 without being read), calls the handler once
 * per request with everything parsed, and sends the response it filled in.
 * Connections are served by a few epoll threads; everything a service does
 * (begin, the body sink, the handler, the response reader, request_done)
 * runs on a bounded worker pool, so it may block on the database, fsync,
 * the HSM or the vault without stalling other clients.  Every connection
 * phase has a deadline (deadlines.h).
 *
 * TLS is always on unless the service opts into plain HTTP for
 * development; the priority string below is the only TLS policy:
 * TLS 1.3, and TLS 1.2 with ECDHE and AEAD ciphers only.
 */
#ifndef CF_HTTP_H
#define CF_HTTP_H

#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "deadlines.h"
#include "ids.h"

#define CF_TLS_PRIORITIES                                     \
    "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:" \
    "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AEAD:"     \
    "+SIGN-ALL:+GROUP-EC-ALL:+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE"

#define CF_REQUEST_ID_LEN CF_UUID_LEN

typedef struct cf_http_request cf_http_request;

/* Receives a streamed request body chunk by chunk (see cf_http_config.begin).
 * Returns false to refuse the rest: later chunks are read and dropped, and
 * the handler still runs and sees req->stream_failed. */
typedef bool (*cf_http_body_sink)(void *ctx, const uint8_t *data, size_t len);

struct cf_http_request {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* percent-decoded path, without the query */
    const char *raw_path; /* the request target as sent (path and query) */
    const char *client_addr;
    char request_id[CF_REQUEST_ID_LEN + 1];
    cf_buf body; /* the complete request body (buffered requests) */
    bool tls;
    /* Streaming: set by begin() when it answers CF_HTTP_STREAM. */
    cf_http_body_sink body_sink;
    void *body_ctx;
    uint64_t body_received;
    bool stream_failed; /* the sink refused a chunk */
    void *user;         /* the service's per-request state */
    /* The operation, once the service has routed the request: a static
     * string, the label of its metrics (NULL: "unrouted"). */
    const char *operation;
    void *conn; /* the libmicrohttpd connection; glue use only */
};

/* Reads response body bytes [pos, pos + max) into buf; returns the count
 * (> 0), or CF_HTTP_READ_ABORT to cut the connection (the client sees a
 * short response, never bytes that are not the body). */
#define CF_HTTP_READ_ABORT ((ssize_t)-2)
typedef ssize_t (*cf_http_body_reader)(void *ctx, uint64_t pos, char *buf, size_t max);

typedef struct {
    unsigned status;
    const char *content_type; /* static string; default application/json */
    cf_buf body;
    /* A streamed body instead of `body`: `length` bytes from reader(); free
     * (may be NULL) releases ctx once the response is done, sent or not. */
    struct {
        cf_http_body_reader reader;
        void (*free)(void *ctx);
        void *ctx;
        uint64_t length;
    } stream;
    /* Headers as packed "name\0value\0" pairs; use the helpers below. */
    cf_buf headers;
} cf_http_response;

typedef void (*cf_http_handler)(void *ctx, cf_http_request *req, cf_http_response *resp);

typedef enum {
    CF_HTTP_BUFFER = 0, /* collect the body (up to max_body), then call handler */
    CF_HTTP_STREAM,     /* body chunks go to req->body_sink, then handler */
    CF_HTTP_RESPOND,    /* begin() filled the response: drop the body, send it */
} cf_http_begin_result;

typedef struct {
    const char *name;      /* the service, for log lines */
    const char *listen;    /* "HOST:PORT" or "[V6]:PORT" */
    cf_slice tls_cert_pem; /* certificate chain; empty for plain HTTP */
    cf_slice tls_key_pem;  /* borrowed; the caller wipes it after start */
    size_t max_body;       /* buffered requests with larger bodies get 413 */
    unsigned max_connections;
    unsigned max_per_ip;          /* connections from one client address */
    unsigned timeout_seconds;     /* a response the client stops reading */
    cf_deadline_policy deadlines; /* zeros: the defaults in deadlines.h */
    unsigned workers;             /* worker threads; 0 = 4 per core, at least 8
                                     (or COFFER_WORKERS) */
    size_t connection_memory;     /* per-connection memory; 0 = CF_HTTP_CONN_MEMORY */
    bool cacheable;               /* no default "Cache-Control: no-store" (blob
                                     responses carry the blob's own) */
    /* A refused request's body (early answer, over the cap) is read and
     * dropped up to this many bytes so that the client, still sending,
     * reads the answer instead of a reset; past it the answer goes out and
     * the connection closes.  0 = 16 MiB. */
    uint64_t drain_max;
    cf_http_handler handler;
    void *ctx;
    /* Optional: called once headers are in, before any body, to choose how
     * the body is taken.  NULL = always CF_HTTP_BUFFER. */
    cf_http_begin_result (*begin)(void *ctx, cf_http_request *req, cf_http_response *resp);
    /* Optional: true when begin() for this request only looks at headers
     * (no disk, no database, no HSM, no network), so it may run on the
     * connection thread and save a trip through the worker pool.  NULL =
     * always on a worker. */
    bool (*begin_inline)(void *ctx, const cf_http_request *req);
    /* Optional: called when a request is finished or abandoned (client
     * gone), to release req->user. */
    void (*request_done)(void *ctx, cf_http_request *req);
    /* Status line and body for over-cap requests, in the service's format. */
    void (*render_too_large)(void *ctx, cf_http_response *resp);
} cf_http_config;

typedef struct cf_http_server cf_http_server;

CF_MUST_USE bool cf_http_start(const cf_http_config *config, cf_http_server **out);
void cf_http_stop(cf_http_server *server);
/* The port actually bound (useful with port 0). */
uint16_t cf_http_port(const cf_http_server *server);

/* Request accessors: NULL when absent.  Names are case-insensitive for
 * headers; query parameter names are matched after percent-decoding. */
const char *cf_http_header(const cf_http_request *req, const char *name);
const char *cf_http_query(const cf_http_request *req, const char *name);

/* Calls each(ctx, name, value) for every request header, in arrival order;
 * stops early when each returns false. */
void cf_http_each_header(const cf_http_request *req,
                         bool (*each)(void *ctx, const char *name, const char *value), void *ctx);

/* Response helpers.  Headers are capped at CF_HTTP_HEADERS_MAX bytes in all. */
#define CF_HTTP_HEADERS_MAX (64u * 1024)
/* libmicrohttpd's memory per connection (request line, headers, read
 * buffer).  It zeroes about half of it between keep-alive requests, so
 * more costs every small request a larger memset (128 KiB was 4% of the
 * vault's CPU); 32 KiB and 128 KiB were both slower than 64 KiB for small
 * requests and uploads alike (docs/benchmarks.md). */
#define CF_HTTP_CONN_MEMORY (64u * 1024)
CF_MUST_USE bool cf_http_add_header(cf_http_response *resp, const char *name, const char *value);
/* The value of a header added to the response, or NULL. */
const char *cf_http_response_header(const cf_http_response *resp, const char *name);
void cf_http_clear_headers(cf_http_response *resp);

/* GET /metrics with no query: the metrics endpoint, outside every API's
 * namespace (no Azure operation is a bare GET of that path). */
bool cf_http_is_metrics_request(const cf_http_request *req);
/* Fills `resp` with the process's metrics (metrics.h), 200. */
CF_MUST_USE bool cf_http_reply_metrics(cf_http_response *resp);

/* Whether the request target as sent holds an encoded NUL ("%00"): the
 * decoded path and query would be cut short there, so a name like
 * "a%00evil" would act on "a".  Services refuse such requests outright. */
bool cf_http_target_has_nul(const cf_http_request *req);

#endif
