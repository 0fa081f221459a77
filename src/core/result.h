/*
 * Results and errors.
 *
 * Every fallible function in Coffer returns `bool` marked CF_MUST_USE: true
 * on success, false on failure with the reason in a thread-local error
 * record (a code from one table, the file:line that raised it and an
 * optional short detail for the client).  The guard macros below keep the
 * happy path straight and branch only on failure, after s2n's safety macros
 * (see docs/SAFETY-MACROS.md).
 *
 * Details are shown to API clients: they must never carry secret bytes.
 */
#ifndef CF_RESULT_H
#define CF_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#define CF_MUST_USE __attribute__((warn_unused_result))
#define CF_NONNULL __attribute__((nonnull))
#define CF_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* One table of error codes; categories group them for mapping to services. */
typedef enum {
    CF_OK = 0,
    /* caller's fault */
    CF_ERR_BAD_INPUT,    /* malformed or invalid parameter */
    CF_ERR_TOO_LARGE,    /* an input exceeded its cap */
    CF_ERR_NOT_FOUND,    /* object does not exist */
    CF_ERR_CONFLICT,     /* object exists / state forbids it */
    CF_ERR_DELETED,      /* name held by a soft-deleted object */
    CF_ERR_UNAUTHORIZED, /* missing or invalid credentials */
    CF_ERR_FORBIDDEN,    /* authenticated but not permitted */
    CF_ERR_PROTECTED,    /* refused by a protection setting (purge protection) */
    CF_ERR_OPERATION,    /* operation not allowed on this object */
    CF_ERR_DISABLED,     /* object disabled, not yet valid or expired */
    CF_ERR_UNSUPPORTED,  /* algorithm or feature not supported */
    CF_ERR_DECRYPT,      /* authentication / integrity check failed */
    /* our fault or the environment's */
    CF_ERR_NOMEM,
    CF_ERR_IO,
    CF_ERR_DB,
    CF_ERR_CRYPTO,
    CF_ERR_SEAL,
    CF_ERR_UNAVAILABLE, /* a backing engine (PostgreSQL, RADOS) cannot be reached */
    CF_ERR_INTERNAL,
    CF_ERR_COUNT
} cf_err;

/* Whether `code` is a failure of the service or what it runs on (memory,
 * disk, database, HSM), not a verdict about the request: such a failure
 * must never be answered as a wrong credential or a missing object. */
bool cf_err_environmental(cf_err code);

/* Symbolic name of an error code, e.g. "CF_ERR_NOT_FOUND". */
const char *cf_err_name(cf_err code);

/* Record an error for the current thread.  `detail` may be NULL. */
void cf_error_raise(cf_err code, const char *file, int line, const char *detail);
void cf_error_raisef(cf_err code, const char *file, int line, const char *fmt, ...) CF_PRINTF(4, 5);

/* As cf_error_raise, also naming the service's own error code for this
 * failure (a static string such as "LeaseIdMissing"), for services whose
 * API has finer codes than the categories above. */
void cf_error_raise_reason(cf_err code, const char *reason, const char *file, int line,
                           const char *detail);

cf_err cf_error_code(void);
/* The reason given with cf_error_raise_reason for the current error, or NULL. */
const char *cf_error_reason(void);
/* The detail, or the default message of the code; never NULL. */
const char *cf_error_detail(void);
/* "file:line" of the raise, for logs; never NULL. */
const char *cf_error_where(void);
void cf_error_clear(void);

/* Keeps the current error across clean-up that may raise its own:
 * save, clean up, restore (which frees the copy; NULL is ignored). */
struct cf_error_record;
struct cf_error_record *cf_error_save(void);
void cf_error_restore(struct cf_error_record *saved);

#define CF_RAISE(code, detail) cf_error_raise((code), __FILE__, __LINE__, (detail))

#define CF_RAISE_REASON(code, reason, detail) \
    cf_error_raise_reason((code), (reason), __FILE__, __LINE__, (detail))

/* Fail with `code` and service reason `reason` unless `cond` holds. */
#define CF_ENSURE_REASON(cond, code, reason, detail)     \
    do {                                                 \
        if (!(cond)) {                                   \
            CF_RAISE_REASON((code), (reason), (detail)); \
            return false;                                \
        }                                                \
    } while (0)

/* Fail with `code` unless `cond` holds. */
#define CF_ENSURE(cond, code, detail)   \
    do {                                \
        if (!(cond)) {                  \
            CF_RAISE((code), (detail)); \
            return false;               \
        }                               \
    } while (0)

/* Fail with `code` and a formatted detail unless `cond` holds. */
#define CF_ENSUREF(cond, code, ...)                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            cf_error_raisef((code), __FILE__, __LINE__, __VA_ARGS__); \
            return false;                                             \
        }                                                             \
    } while (0)

#define CF_ENSURE_REF(p) CF_ENSURE((p) != NULL, CF_ERR_INTERNAL, "null reference")

/* `call` must succeed; when it fails because something was not found
 * (CF_ERR_NOT_FOUND), fail with `code` and `detail` instead.  Any other
 * failure stands: a missing row is a verdict about the request, a store
 * that cannot be reached is not (it must not become a 401 or a 404). */
#define CF_ENSURE_FOUND(call, code, detail)          \
    do {                                             \
        if (!(call)) {                               \
            if (cf_error_code() == CF_ERR_NOT_FOUND) \
                CF_RAISE((code), (detail));          \
            return false;                            \
        }                                            \
    } while (0)

/* Propagate a failure already recorded by a callee. */
#define CF_GUARD(x)       \
    do {                  \
        if (!(x))         \
            return false; \
    } while (0)

/* Fail now. */
#define CF_BAIL(code, detail)       \
    do {                            \
        CF_RAISE((code), (detail)); \
        return false;               \
    } while (0)

/* Allocation that fails with CF_ERR_NOMEM. */
#define CF_ENSURE_ALLOC(p) CF_ENSURE((p) != NULL, CF_ERR_NOMEM, NULL)

#endif
