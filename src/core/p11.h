/*
 * PKCS#11 tokens: the only place in Coffer that speaks Cryptoki, as
 * crypto*.c are the only place that speaks OpenSSL.
 *
 * A cf_p11 is one token of one vendor module: the module is loaded with
 * dlopen() by path and initialised for OS locking (once per process, however
 * many handles use it), the token is found by its label and the user logs
 * in with the PIN, which is kept in secret memory so that the process can
 * log in again after the token comes back from a fault.  Login belongs to
 * the process: a second handle on a token already logged in is not asked
 * for the PIN again.
 *
 * Every operation borrows a session from a pool and returns it; no lock is
 * held while the token works, so operations run in parallel.  A session
 * that fails with a device-level error is closed, never reused; the next
 * operation opens a fresh one (and logs in again if the token forgot us),
 * so service resumes by itself when the token works again.  Device-level
 * failures are CF_ERR_SEAL (the services answer 503); bad client input the
 * token refuses is CF_ERR_BAD_INPUT or CF_ERR_DECRYPT.
 *
 * Keys are named by a 16-byte CKA_ID that Coffer picks at random; a key
 * pair's private and public objects share it.  Private and secret objects
 * are always CKA_SENSITIVE and CKA_PRIVATE token objects; they are created
 * extractable only when the caller asks (the vault wraps each new key once,
 * inside the token, under the root key, then turns extraction off for good:
 * cf_p11_forbid_export).
 *
 * Secret outputs (decrypted data, unwrapped raw keys) must go to secret
 * buffers.
 */
#ifndef CF_P11_H
#define CF_P11_H

#include <stdint.h>

#include "buf.h"
#include "crypto.h"

#define CF_P11_ID_LEN 16
/* Largest RSA modulus Coffer asks a token for, in bytes. */
#define CF_P11_RSA_MAX 512

typedef struct cf_p11 cf_p11;

typedef struct {
    uint8_t bytes[CF_P11_ID_LEN];
} cf_p11_id;

typedef struct {
    const char *module;      /* path of the vendor's PKCS#11 library */
    const char *token_label; /* at most 32 characters */
    cf_slice pin;            /* user PIN, borrowed for the call */
    /* When no token has the label: initialise one in the first free slot
     * (software tokens such as SoftHSM2) with these PINs.  Empty = never. */
    cf_slice init_so_pin;
} cf_p11_config;

/* Loads, initialises, finds the token and logs in.  Failures say which in
 * one line: the module cannot be loaded, no token has the label, the PIN
 * is incorrect, the PIN is locked. */
CF_MUST_USE bool cf_p11_open(const cf_p11_config *cfg, cf_p11 **out);
void cf_p11_close(cf_p11 *p);
const char *cf_p11_token_label(const cf_p11 *p);
/* True when the token answers; used to tell a device fault from a bad
 * ciphertext when a module reports both as a general error. */
CF_MUST_USE bool cf_p11_healthy(cf_p11 *p);

CF_MUST_USE bool cf_p11_new_id(cf_p11_id *id);
/* Ids as 32 lowercase hex digits (seal.json, the store's props). */
#define CF_P11_ID_HEX (2 * CF_P11_ID_LEN + 1)
void cf_p11_id_to_hex(const cf_p11_id *id, char out[CF_P11_ID_HEX]);
CF_MUST_USE bool cf_p11_id_from_hex(const char *hex, cf_p11_id *id);

/* ---- keys ---- */
typedef enum { CF_P11_AES, CF_P11_RSA, CF_P11_EC } cf_p11_key_type;

/* What a key may do (CKA_ENCRYPT, ...); public objects get the public half. */
enum {
    CF_P11_USE_ENCRYPT = 1 << 0,
    CF_P11_USE_DECRYPT = 1 << 1,
    CF_P11_USE_SIGN = 1 << 2,
    CF_P11_USE_VERIFY = 1 << 3,
    CF_P11_USE_WRAP = 1 << 4,
    CF_P11_USE_UNWRAP = 1 << 5,
    CF_P11_USE_DERIVE = 1 << 6,
};

typedef struct {
    cf_p11_key_type type;
    unsigned bits;     /* AES: 128/192/256; RSA: modulus bits */
    uint32_t exponent; /* RSA */
    cf_curve curve;    /* EC */
    unsigned usage;    /* CF_P11_USE_* */
    bool extractable;  /* only until cf_p11_forbid_export */
    const char *label; /* CKA_LABEL, for operators; may be NULL */
    /* AES: whatever this key unwraps must come out sensitive and not
     * extractable (CKA_UNWRAP_TEMPLATE; the root key's, so that its
     * wrapped keys can never be unwrapped into exportable ones). */
    bool unwrap_sealed_only;
} cf_p11_key_spec;

/* Generates a token key (AES) or key pair (RSA, EC) named `id`. */
CF_MUST_USE bool cf_p11_generate(cf_p11 *p, const cf_p11_key_spec *spec, const cf_p11_id *id);

/* What a token says of a secret key, to check a root key before use. */
typedef struct {
    bool aes, sensitive, extractable, token;
    unsigned bits;
    bool can_encrypt, can_decrypt, can_wrap, can_unwrap;
} cf_p11_key_info;
CF_MUST_USE bool cf_p11_secret_info(cf_p11 *p, const cf_p11_id *id, cf_p11_key_info *info);

/* RSA: modulus and public exponent, big-endian, no leading zeros. */
CF_MUST_USE bool cf_p11_public_rsa(cf_p11 *p, const cf_p11_id *id, cf_buf *n, cf_buf *e);
/* EC: the uncompressed point 04||x||y of the public object. */
CF_MUST_USE bool cf_p11_public_ec(cf_p11 *p, const cf_p11_id *id, cf_buf *point);
/* After a private key entered the token by import or unwrap: computes its
 * public half inside the token (RSA: from the private object; EC: ECDH with
 * the base point gives x, a signature picks y) and stores it as the public
 * object of `id`, so public operations run in the token too. */
CF_MUST_USE bool cf_p11_add_public(cf_p11 *p, const cf_p11_key_spec *spec, const cf_p11_id *id);
/* Imports plaintext material (a client sent it) as a token key: AES raw
 * bytes or an RSA/EC private key as PKCS#8 DER. */
CF_MUST_USE bool cf_p11_import(cf_p11 *p, const cf_p11_key_spec *spec, cf_slice material,
                               const cf_p11_id *id);
/* Sets what the key may do (CF_P11_USE_*), on its private or secret object
 * and its public object. */
CF_MUST_USE bool cf_p11_set_usage(cf_p11 *p, const cf_p11_id *id, unsigned usage);

/* What a key in the token is, as the token says (to check an import). */
typedef struct {
    cf_p11_key_type type;
    unsigned bits;  /* AES key bits, RSA modulus bits */
    cf_curve curve; /* EC, when known_curve */
    bool known_curve;
} cf_p11_facts;
CF_MUST_USE bool cf_p11_key_facts(cf_p11 *p, const cf_p11_id *id, cf_p11_facts *facts);

/* Calls `each` with the id of every object labelled `label` (an id may
 * come more than once: a key pair has two objects). */
typedef bool (*cf_p11_id_cb)(void *ctx, const cf_p11_id *id);
CF_MUST_USE bool cf_p11_list_label(cf_p11 *p, const char *label, cf_p11_id_cb each, void *ctx);

/* Turns CKA_EXTRACTABLE off (it can never be turned on again). */
CF_MUST_USE bool cf_p11_forbid_export(cf_p11 *p, const cf_p11_id *id);
/* Destroys every object named `id`; absent objects are not an error. */
CF_MUST_USE bool cf_p11_destroy(cf_p11 *p, const cf_p11_id *id);

/* ---- operations ---- */
typedef enum {
    CF_P11_RSA_PKCS,    /* PKCS#1 v1.5 encryption; signature over the input as given */
    CF_P11_RSA_OAEP,    /* .hash SHA-1 or SHA-256 (MGF1 with the same hash) */
    CF_P11_RSA_PSS,     /* over a .hash digest, salt length = digest length */
    CF_P11_RSA_RAW,     /* X.509 raw RSA */
    CF_P11_ECDSA,       /* over a digest; r||s */
    CF_P11_AES_GCM,     /* .iv (12 bytes), .aad; ciphertext||16-byte tag */
    CF_P11_AES_CBC,     /* .iv (16 bytes), no padding */
    CF_P11_AES_CBC_PAD, /* .iv (16 bytes), PKCS#7 */
    CF_P11_AES_KW,      /* RFC 3394 (wrapping only) */
    CF_P11_AES_KWP,     /* RFC 5649 (wrapping only) */
} cf_p11_mech_kind;

typedef struct {
    cf_p11_mech_kind kind;
    cf_hash hash;
    cf_slice iv, aad;
    size_t key_bytes; /* RSA-OAEP: the modulus size (for padding done here) */
} cf_p11_mech;

CF_MUST_USE bool cf_p11_encrypt(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in,
                                cf_buf *out);
/* Fails with CF_ERR_DECRYPT when the input does not decrypt. */
CF_MUST_USE bool cf_p11_decrypt(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in,
                                cf_buf *out);
CF_MUST_USE bool cf_p11_sign(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in,
                             cf_buf *sig);
/* Sets *valid; fails only when the token cannot be asked. */
CF_MUST_USE bool cf_p11_verify(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in,
                               cf_slice sig, bool *valid);

/* ---- wrapping ---- */
/* Wraps raw key bytes (a client's key) under the AES key `kek` with KW or
 * KWP; the bytes enter the token only as a short-lived session object. */
CF_MUST_USE bool cf_p11_wrap_bytes(cf_p11 *p, const cf_p11_id *kek, cf_p11_mech_kind kind,
                                   cf_slice key, cf_buf *out);
/* The reverse; `out` must be secret.  CF_ERR_DECRYPT when it does not unwrap. */
CF_MUST_USE bool cf_p11_unwrap_bytes(cf_p11 *p, const cf_p11_id *kek, cf_p11_mech_kind kind,
                                     cf_slice wrapped, cf_buf *out);
/* Wraps the token key `target` (still extractable) under the AES key `kek`
 * with KWP; the key leaves the token only as that ciphertext. */
CF_MUST_USE bool cf_p11_wrap_key(cf_p11 *p, const cf_p11_id *kek, const cf_p11_id *target,
                                 cf_buf *out);
/* Unwraps a KWP blob under `kek` into a new token key `id` made as `spec`
 * says (AES raw bytes; RSA/EC PKCS#8).  CF_ERR_DECRYPT when it does not. */
CF_MUST_USE bool cf_p11_unwrap_key(cf_p11 *p, const cf_p11_id *kek, cf_slice wrapped,
                                   const cf_p11_key_spec *spec, const cf_p11_id *id);
/* Key Vault's BYOK transfer: `blob` is RSA-OAEP(`oaep_hash`) of an
 * ephemeral AES key under the private key `kek`, followed by the target key
 * under that AES key with KWP.  Both steps run in the token
 * (CKM_RSA_AES_KEY_WRAP where the module has it); the ephemeral key is a
 * session object destroyed before return. */
CF_MUST_USE bool cf_p11_unwrap_rsa_aes(cf_p11 *p, const cf_p11_id *kek, cf_hash oaep_hash,
                                       cf_slice blob, const cf_p11_key_spec *spec,
                                       const cf_p11_id *id);

#endif
