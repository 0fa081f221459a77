/*
 * The seal: whatever holds the root key that wraps data keys.
 *
 * Callers only wrap and unwrap; where the root key lives is the seal's
 * business.  Implementations: the development file seal (seal_file.c, a
 * key file with mode 0600; it warns loudly) and, next, a PKCS#11 token
 * where the root key is non-extractable.  Adding one must not change
 * callers.
 */
#ifndef CF_SEAL_H
#define CF_SEAL_H

#include "buf.h"

typedef struct cf_seal cf_seal;

struct cf_seal {
    const char *kind; /* "file", "pkcs11" */
    /* Wraps a data key, binding `aad`. */
    bool (*wrap)(cf_seal *seal, cf_slice key, cf_slice aad, cf_buf *out);
    /* Unwraps into `out` (a secret buffer). */
    bool (*unwrap)(cf_seal *seal, cf_slice wrapped, cf_slice aad, cf_buf *out);
    void (*destroy)(cf_seal *seal);
};

/* Opens the file seal at `path`, creating a new random root key when the
 * file does not exist and `create` is set. */
CF_MUST_USE bool cf_seal_file_open(const char *path, bool create, cf_seal **out);

static inline void cf_seal_destroy(cf_seal *seal)
{
    if (seal)
        seal->destroy(seal);
}

#endif
