/*
 * Time-based one-time passwords (RFC 6238) as authenticator apps use them:
 * HMAC-SHA1, 6 digits, 30-second steps, a 20-byte secret shared as base32
 * in an otpauth:// URI.  The caller keeps the secret sealed and remembers
 * the last step it accepted, so a code is good once (no replay).
 */
#ifndef CF_TOTP_H
#define CF_TOTP_H

#include <stdint.h>

#include "buf.h"

#define CF_TOTP_SECRET_LEN 20
#define CF_TOTP_STEP_SECONDS 30
#define CF_TOTP_DIGITS 6

/* The code for time step `step` (unix time / 30), as 6 digits and NUL. */
CF_MUST_USE bool cf_totp_code(cf_slice secret, int64_t step, char out[CF_TOTP_DIGITS + 1]);

/* Whether `code` is the code of a step within one of `now`'s (clock skew)
 * and later than `last_step`; the step it matched goes to *step.  Compares
 * in constant time. */
CF_MUST_USE bool cf_totp_check(cf_slice secret, const char *code, int64_t now, int64_t last_step,
                               int64_t *step);

/* RFC 4648 base32, no padding (what otpauth:// URIs carry). */
CF_MUST_USE bool cf_base32_encode(cf_slice in, cf_buf *out);

#endif
