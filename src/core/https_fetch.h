/*
 * One HTTPS request to coffer-vault (libcurl), for the services and
 * libraries that are its clients (vault_client.h).
 */
#ifndef CF_HTTPS_FETCH_H
#define CF_HTTPS_FETCH_H

#include "buf.h"

typedef struct {
    const char *method;         /* GET or POST */
    const char *url;            /* https only */
    const char *ca_file;        /* NULL or "": the system's CAs */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    cf_slice body;              /* POST body */
    long timeout_seconds;       /* 0: 10 s */
} cf_https_req;
/* One request; *status gets the HTTP status, `reply` the body (capped by
 * its max).  Fails (CF_ERR_IO, with curl's reason) only when no HTTP answer
 * came. */
CF_MUST_USE bool cf_https_fetch(const cf_https_req *r, long *status, cf_buf *reply);

#endif
