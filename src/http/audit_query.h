/*
 * An audit log read over HTTP, filtered (audit_query.c): both services'
 * audit endpoints answer with it.
 */
#ifndef COFFER_AUDIT_QUERY_H
#define COFFER_AUDIT_QUERY_H

#include <jansson.h>

#include "http.h"

/* The newest lines of DATA_DIR/audit.log that the request's query
 * (principal, operation, object, result, since, until, top, verify)
 * selects, as {"value":[...],"scanned":N[,"verification":{...}]}.
 * CF_ERR_BAD_INPUT for a bad parameter, CF_ERR_IO when unreadable. */
CF_MUST_USE bool cf_audit_query(const cf_http_request *req, const char *data_dir, json_t **out);

#endif
