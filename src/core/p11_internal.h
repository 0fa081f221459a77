/*
 * What the p11*.c files share: the token handle, the session pool, object
 * lookup and the mapping of Cryptoki return values to Coffer errors.  No
 * file outside src/core/p11*.c includes this (or pkcs11.h).
 */
#ifndef CF_P11_INTERNAL_H
#define CF_P11_INTERNAL_H

#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdatomic.h>

#include "p11.h"

/* Sessions kept open for reuse; more may be open at once while busy. */
#define CF_P11_POOL_MAX 64
/* Object handles remembered per id (direct-mapped; a collision evicts). */
#define CF_P11_HANDLE_CACHE 1024

typedef struct {
    cf_p11_id id;
    CK_OBJECT_CLASS cls;
    CK_OBJECT_HANDLE handle;
    bool used;
} cf_p11_cached;

struct cf_p11 {
    void *lib;
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slot;
    char label[33];
    uint8_t *pin; /* secret memory */
    size_t pin_len;
    pthread_mutex_t lock; /* guards the pool and the cache, never a token call */
    CK_SESSION_HANDLE idle[CF_P11_POOL_MAX];
    size_t n_idle;
    cf_p11_cached cache[CF_P11_HANDLE_CACHE];
    bool has_rsa_aes_wrap;    /* the module offers CKM_RSA_AES_KEY_WRAP */
    atomic_bool no_sha2_oaep; /* it refused RSA-OAEP with SHA-2 (SoftHSM2 2.6) */
};

/* A borrowed session; `broken` set by a failed call closes it on release. */
typedef struct {
    cf_p11 *p;
    CK_SESSION_HANDLE h;
    bool broken;
} cf_p11_session;

CF_MUST_USE bool cf_p11_acquire(cf_p11 *p, cf_p11_session *s);
void cf_p11_release(cf_p11_session *s);

/* Records `rv` from `what` as the thread's error (CF_ERR_SEAL for device
 * faults, client-level codes for refused input) and marks the session
 * broken when the session cannot be trusted any more.  Returns false. */
CF_MUST_USE bool cf_p11_fail(cf_p11_session *s, CK_RV rv, const char *what, const char *file,
                             int line);
#define CF_P11_CALL(s, call, what)                                    \
    do {                                                              \
        CK_RV rv_ = (call);                                           \
        if (rv_ != CKR_OK)                                            \
            return cf_p11_fail((s), rv_, (what), __FILE__, __LINE__); \
    } while (0)

/* True for return values after which a retry on a fresh session may work
 * (the token was reset, the session or handle went stale). */
CF_MUST_USE bool cf_p11_retryable(CK_RV rv);
/* The last Cryptoki return value seen by this thread (for retry decisions). */
CK_RV cf_p11_last_rv(void);

/* Modules report a failed integrity check (a GCM tag, a wrapped key, a
 * padding) as a general error as often as with a precise code: a general
 * error from a token that still answers is the input's fault and becomes
 * CKR_ENCRYPTED_DATA_INVALID; from one that does not, it stays a fault. */
CK_RV cf_p11_input_rv(cf_p11 *p, CK_RV rv);

/* Finds the object of class `cls` named `id` (cached). */
CF_MUST_USE bool cf_p11_find(cf_p11_session *s, const cf_p11_id *id, CK_OBJECT_CLASS cls,
                             CK_OBJECT_HANDLE *out);
void cf_p11_forget(cf_p11 *p, const cf_p11_id *id);

/* Runs `op(s, ctx)` on a pooled session, once more on a fresh session when
 * the first failure says the session or a handle went stale. */
typedef bool (*cf_p11_op)(cf_p11_session *s, void *ctx);
CF_MUST_USE bool cf_p11_run(cf_p11 *p, cf_p11_op op, void *ctx);

/* Template helpers. */
#define CF_P11_ATTR(type, ptr, len) ((CK_ATTRIBUTE){(type), (void *)(ptr), (CK_ULONG)(len)})
#define CF_P11_BOOL(type, v) \
    CF_P11_ATTR((type), (v) ? &cf_p11_true : &cf_p11_false, sizeof(CK_BBOOL))
extern CK_BBOOL cf_p11_true, cf_p11_false;

/* Reads one attribute of up to `max` bytes, appended to `out`. */
CF_MUST_USE bool cf_p11_get_bytes(cf_p11_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                                  size_t max, cf_buf *out);
/* Unwraps `wrapped` with `mech` under `kek` into a new object named `id`
 * made as `spec` says; CF_ERR_DECRYPT when the ciphertext does not unwrap. */
CF_MUST_USE bool cf_p11_unwrap_into(cf_p11_session *s, CK_MECHANISM *mech, CK_OBJECT_HANDLE kek,
                                    cf_slice wrapped, const cf_p11_key_spec *spec,
                                    const cf_p11_id *id);

/* A session secret key made from bytes this process holds: a transport
 * key (AES, sensitive, can only unwrap) or a client's key bytes to be
 * wrapped (generic, extractable).  Destroy it after use. */
CF_MUST_USE bool cf_p11_session_secret(cf_p11_session *s, cf_slice value, bool transport,
                                       CK_OBJECT_HANDLE *out);

/* Big-endian integers (CKA_MODULUS...) without their leading zeros. */
void cf_p11_strip_zeros(cf_buf *b);

/* DER of the curve's OID (CKA_EC_PARAMS). */
cf_slice cf_p11_curve_oid(cf_curve c);

#endif
