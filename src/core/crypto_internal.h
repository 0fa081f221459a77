/*
 * What the crypto*.c files share, and nothing else may include: the
 * OpenSSL guard macros and scope-bound cleanup (CF_SCOPED, scoped.h) for
 * the OpenSSL objects more than one of them uses.
 */
#ifndef CF_CRYPTO_INTERNAL_H
#define CF_CRYPTO_INTERNAL_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "scoped.h"

/* Fail with `code` unless `cond` holds, dropping OpenSSL's error queue so
 * stale entries cannot surface in an unrelated later call. */
#define CF_OSSL_ENSURE(cond, code, detail) \
    do {                                   \
        if (!(cond)) {                     \
            ERR_clear_error();             \
            CF_RAISE((code), (detail));    \
            return false;                  \
        }                                  \
    } while (0)

/* OpenSSL's "1 means success" convention; anything else is CF_ERR_CRYPTO. */
#define CF_OSSL_GUARD(call) CF_OSSL_ENSURE((call) == 1, CF_ERR_CRYPTO, NULL)

static inline void cf_free_pkey_ctx(EVP_PKEY_CTX **p)
{
    EVP_PKEY_CTX_free(*p);
}
static inline void cf_free_pkey(EVP_PKEY **p)
{
    EVP_PKEY_free(*p);
}
/* Clears as it frees: BIGNUMs here may hold private key components. */
static inline void cf_free_bn(BIGNUM **p)
{
    BN_clear_free(*p);
}
static inline void cf_free_bio(BIO **p)
{
    BIO_free(*p);
}

#endif
