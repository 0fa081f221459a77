/*
 * Structured logs for the servers: one JSON object a line on stderr, with
 * the request id on every line that belongs to a request.  Library code
 * does not log; it returns errors.  Never pass secret bytes to these calls:
 * callers log names, ids, codes and sizes only.
 */
#ifndef CF_LOG_H
#define CF_LOG_H

#include <stdbool.h>

#include "result.h"

typedef enum { CF_LOG_DEBUG, CF_LOG_INFO, CF_LOG_WARN, CF_LOG_ERROR } cf_log_level;

void cf_log_set_level(cf_log_level level);
/* By name: "debug", "info", "warn" or "error"; false for anything else. */
CF_MUST_USE bool cf_log_set_level_name(const char *name);
/* `request_id` may be NULL; the message is JSON-escaped. */
void cf_log(cf_log_level level, const char *request_id, const char *fmt, ...) CF_PRINTF(3, 4);

#endif
