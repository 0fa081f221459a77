/*
 * application/x-www-form-urlencoded bodies (OAuth token requests).
 */
#ifndef CF_FORM_H
#define CF_FORM_H

#include "buf.h"

/* Finds `name` in the form and percent-decodes its value into `out`.
 * Fails with CF_ERR_NOT_FOUND when absent, CF_ERR_BAD_INPUT when malformed
 * or repeated. */
CF_MUST_USE bool cf_form_get(cf_slice form, const char *name, cf_buf *out);

/* Appends "name=value" (joined by '&'), the value percent-encoded with
 * RFC 3986's unreserved characters kept. */
CF_MUST_USE bool cf_form_append(cf_buf *out, const char *name, const char *value);

#endif
