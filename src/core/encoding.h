/*
 * Text encodings: base64 (RFC 4648 §4), base64url without padding (§5, as
 * JWK and JWS use it; padded input is accepted), lowercase hex, and percent
 * encoding and decoding of URL components.  Decoders reject any character outside their
 * alphabet and any non-canonical trailing bits.
 */
#ifndef CF_ENCODING_H
#define CF_ENCODING_H

#include "buf.h"

CF_MUST_USE bool cf_base64_encode(cf_slice in, cf_buf *out);
CF_MUST_USE bool cf_base64_decode(cf_slice in, cf_buf *out);
CF_MUST_USE bool cf_base64url_encode(cf_slice in, cf_buf *out);
CF_MUST_USE bool cf_base64url_decode(cf_slice in, cf_buf *out);
CF_MUST_USE bool cf_hex_encode(cf_slice in, cf_buf *out);
CF_MUST_USE bool cf_hex_decode(cf_slice in, cf_buf *out);
/* Appends `text` percent-encoded: everything but RFC 3986's unreserved
 * characters (and '/' with `keep_slash`, for paths) becomes %XX. */
CF_MUST_USE bool cf_percent_encode(cf_buf *out, const char *text, bool keep_slash);
/* Percent-decodes; with `plus_is_space` (form bodies) '+' becomes ' '. */
CF_MUST_USE bool cf_percent_decode(cf_slice in, bool plus_is_space, cf_buf *out);

#endif
