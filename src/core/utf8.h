/*
 * Strict UTF-8 (RFC 3629; Unicode table 3-7): no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequences.  The one decoder (and encoder) every module uses (blob names, XML text,
 * audit lines).
 */
#ifndef CF_UTF8_H
#define CF_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Length (1-4) of the well-formed sequence at p[0], with `left` bytes
 * available, its code point in *cp (may be NULL); 0 when there is none
 * (malformed, or left == 0). */
CF_MUST_USE size_t cf_utf8_decode(const uint8_t *p, size_t left, uint32_t *cp);

/* Writes code point `cp` as UTF-8 into out[0..4); its length (1-4), or 0
 * for a surrogate or anything above U+10FFFF. */
CF_MUST_USE size_t cf_utf8_encode(uint32_t cp, uint8_t out[4]);

/* Whether all of `text` is well-formed UTF-8. */
CF_MUST_USE bool cf_utf8_valid(cf_slice text);

/* UTF-16LE (Windows' "Unicode", as SQL Server's formats use it), appended
 * to `out`: from well-formed UTF-8, and back from well-formed UTF-16LE
 * (an even length, surrogates only in pairs).  CF_ERR_BAD_INPUT
 * otherwise; CF_ERR_TOO_LARGE past out's cap. */
CF_MUST_USE bool cf_utf16le_from_utf8(cf_slice utf8, cf_buf *out) CF_NONNULL;
CF_MUST_USE bool cf_utf8_from_utf16le(cf_slice utf16, cf_buf *out) CF_NONNULL;

#endif
