/*
 * Scope-bound cleanup for any module: a variable declared
 *     CF_SCOPED(cf_free_heap) char *text = NULL;
 * has its cleanup function called with its address when it goes out of
 * scope, on every return path, so early returns through the CF_ENSURE
 * family cannot leak.  The cleanup takes a pointer to the variable and
 * must accept the variable's initial value (usually NULL).
 *
 * Cleanups for OpenSSL objects live in crypto_internal.h (OpenSSL stays
 * inside src/core/crypto*); generic ones live here.
 */
#ifndef CF_SCOPED_H
#define CF_SCOPED_H

#include <stdlib.h>
#include <unistd.h>

#define CF_SCOPED(fn) __attribute__((cleanup(fn)))

/* For malloc'ed memory that holds no secret (secrets use secmem.h). */
static inline void cf_free_heap(void *p)
{
    free(*(void **)p);
}

/* For file descriptors; -1 means none. */
static inline void cf_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

#endif
