/*
 * The seal: whatever holds the root key that wraps a service's master key.
 *
 * Callers only wrap and unwrap; where the root key lives is the seal's
 * business.  Two seals exist:
 * - the PKCS#11 seal (seal_pkcs11.c), the default: the root key is a
 *   non-extractable AES-256 key inside a token, and wrapping runs there;
 * - the development file seal (seal_file.c): the root key is a file beside
 *   the data, so anyone who can read the directory can read every key; it
 *   exists only behind --dev-seal and the services warn at every start.
 * Which seal a data directory uses, and its wrapped master key, are recorded
 * in the directory (seal_dir.h).
 */
#ifndef CF_SEAL_H
#define CF_SEAL_H

#include "buf.h"
#include "p11.h"

typedef struct cf_seal cf_seal;

struct cf_seal {
    const char *kind; /* "file", "pkcs11" */
    /* Wraps a data key, binding `aad`. */
    bool (*wrap)(cf_seal *seal, cf_slice key, cf_slice aad, cf_buf *out);
    /* Unwraps into `out` (a secret buffer); CF_ERR_DECRYPT when the wrapped
     * key was not made by this seal with this `aad`. */
    bool (*unwrap)(cf_seal *seal, cf_slice wrapped, cf_slice aad, cf_buf *out);
    void (*destroy)(cf_seal *seal);
    /* PKCS#11 seal only (else NULL): the token, for keys that live in it;
     * the root key's id; and the key-wrapping root key's, which wraps
     * those keys for their backups. */
    cf_p11 *token;
    cf_p11_id root, wrap_root;
};

/* The two root keys of a PKCS#11 seal. */
typedef struct {
    cf_p11_id root;     /* encrypts and decrypts master keys (AES-GCM) */
    cf_p11_id wrap;     /* wraps and unwraps keys (KWP), unwrap template set */
    bool sealed_unwrap; /* the module took the unwrap template */
} cf_seal_roots;

/* Opens the file seal at `path`, creating a new random root key when the
 * file does not exist and `create` is set. */
CF_MUST_USE bool cf_seal_file_open(const char *path, bool create, cf_seal **out);

/* The PKCS#11 seal over an open token (which it then owns) and its root
 * keys: sensitive, non-extractable AES-256 token keys, the root key able
 * to encrypt and decrypt, the key-wrapping one to wrap and unwrap;
 * failures say which, in one line. */
CF_MUST_USE bool cf_seal_pkcs11_open(cf_p11 *token, const cf_seal_roots *roots, cf_seal **out);
/* Generates both in `token`, labelled "<service> root" and "<service>
 * root wrap".  The key-wrapping one gets an unwrap template that makes
 * every key it unwraps sensitive and non-extractable, so keys wrapped
 * under it (HSM key backups) never come back out of the token in clear,
 * even to someone holding the PIN; a module without unwrap templates gets
 * a key without it (roots->sealed_unwrap false). */
CF_MUST_USE bool cf_seal_pkcs11_create_roots(cf_p11 *token, const char *service,
                                             cf_seal_roots *roots);
/* Destroys the seal's root keys (a seal just made whose directory was not
 * switched to it); best effort. */
void cf_seal_pkcs11_discard_roots(cf_seal *seal);

static inline void cf_seal_destroy(cf_seal *seal)
{
    if (seal)
        seal->destroy(seal);
}

#endif
