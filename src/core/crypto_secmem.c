/*
 * Secret memory over OpenSSL's secure heap (mlock'd, MADV_DONTDUMP, guard
 * pages).  When the heap cannot be set up or is full, allocation falls
 * back to OpenSSL's ordinary heap: such blocks are still wiped on free
 * (OPENSSL_secure_clear_free tells the two apart), and the process as a
 * whole is non-dumpable regardless.  A full heap must not turn into a
 * failed request.
 */
#include <openssl/crypto.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "secmem.h"

bool cf_secmem_init(size_t heap_size)
{
    struct rlimit none = {0, 0};
    CF_ENSURE(setrlimit(RLIMIT_CORE, &none) == 0, CF_ERR_INTERNAL, "cannot disable core dumps");
    CF_ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, CF_ERR_INTERNAL,
              "cannot mark process non-dumpable");
    if (!CRYPTO_secure_malloc_initialized())
        CF_ENSURE(CRYPTO_secure_malloc_init(heap_size, 32) != 0, CF_ERR_NOMEM,
                  "cannot create secure heap");
    return true;
}

void *cf_secret_alloc(size_t len)
{
    void *p = OPENSSL_secure_zalloc(len);
    return p ? p : OPENSSL_zalloc(len);
}

void cf_secret_free(void *p, size_t len)
{
    if (p)
        OPENSSL_secure_clear_free(p, len);
}

void cf_memzero(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
}

bool cf_memeq_ct(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
