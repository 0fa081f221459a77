/*
 * HTTPS server glue over libmicrohttpd (GnuTLS), shared by every Coffer
 * service.
 *
 * A service supplies one handler; the glue collects the request body (up to
 * a cap; larger bodies get 413 without being read), calls the handler once
 * per request with everything parsed, and sends the response it filled in.
 * Handlers run in a thread per connection, so they may block on the
 * database or on fsync without stalling other clients.
 *
 * TLS is always on unless the service opts into plain HTTP for
 * development; the priority string below is the only TLS policy:
 * TLS 1.3, and TLS 1.2 with ECDHE and AEAD ciphers only.
 */
#ifndef CF_HTTP_H
#define CF_HTTP_H

#include <stdint.h>

#include "buf.h"
#include "ids.h"

#define CF_TLS_PRIORITIES                                                      \
    "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:"                  \
    "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AEAD:"                      \
    "+SIGN-ALL:+GROUP-EC-ALL:+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE"

#define CF_REQUEST_ID_LEN CF_UUID_LEN

typedef struct cf_http_request cf_http_request;

struct cf_http_request {
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* percent-decoded path, without the query */
    const char *raw_path;   /* the request target as sent (path and query) */
    const char *client_addr;
    char request_id[CF_REQUEST_ID_LEN + 1];
    cf_buf body;            /* the complete request body */
    bool tls;
    void *conn;             /* the libmicrohttpd connection; glue use only */
};

#define CF_HTTP_MAX_HEADERS 12

typedef struct {
    unsigned status;
    const char *content_type; /* static string; default application/json */
    cf_buf body;
    size_t n_headers;
    struct {
        char name[48];
        char value[512];
    } headers[CF_HTTP_MAX_HEADERS];
} cf_http_response;

typedef void (*cf_http_handler)(void *ctx, cf_http_request *req, cf_http_response *resp);

typedef struct {
    const char *listen;      /* "HOST:PORT" or "[V6]:PORT" */
    cf_slice tls_cert_pem;   /* certificate chain; empty for plain HTTP */
    cf_slice tls_key_pem;    /* borrowed; the caller wipes it after start */
    size_t max_body;         /* requests with larger bodies get 413 */
    unsigned max_connections;
    unsigned max_per_ip;     /* connections from one client address */
    unsigned timeout_seconds;/* idle connection timeout */
    cf_http_handler handler;
    void *ctx;
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

/* Response helpers. */
CF_MUST_USE bool cf_http_add_header(cf_http_response *resp, const char *name, const char *value);

#endif
