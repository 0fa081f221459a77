/*
 * Thread-local error record.  The detail is copied into a fixed buffer so
 * that raising an error never allocates and never fails.
 */
#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CF_ERROR_DETAIL_MAX 512

static const struct {
    const char *name;
    const char *message;
} cf_err_table[CF_ERR_COUNT] = {
    [CF_OK] = {"CF_OK", "success"},
    [CF_ERR_BAD_INPUT] = {"CF_ERR_BAD_INPUT", "invalid parameter"},
    [CF_ERR_TOO_LARGE] = {"CF_ERR_TOO_LARGE", "input too large"},
    [CF_ERR_NOT_FOUND] = {"CF_ERR_NOT_FOUND", "not found"},
    [CF_ERR_CONFLICT] = {"CF_ERR_CONFLICT", "conflict"},
    [CF_ERR_DELETED] = {"CF_ERR_DELETED", "object is deleted but recoverable"},
    [CF_ERR_UNAUTHORIZED] = {"CF_ERR_UNAUTHORIZED", "unauthorized"},
    [CF_ERR_FORBIDDEN] = {"CF_ERR_FORBIDDEN", "forbidden"},
    [CF_ERR_PROTECTED] = {"CF_ERR_PROTECTED", "refused by a protection setting"},
    [CF_ERR_OPERATION] = {"CF_ERR_OPERATION", "operation not permitted"},
    [CF_ERR_DISABLED] = {"CF_ERR_DISABLED", "object is disabled or outside its validity period"},
    [CF_ERR_UNSUPPORTED] = {"CF_ERR_UNSUPPORTED", "not supported"},
    [CF_ERR_DECRYPT] = {"CF_ERR_DECRYPT", "integrity check failed"},
    [CF_ERR_NOMEM] = {"CF_ERR_NOMEM", "out of memory"},
    [CF_ERR_IO] = {"CF_ERR_IO", "I/O error"},
    [CF_ERR_DB] = {"CF_ERR_DB", "database error"},
    [CF_ERR_CRYPTO] = {"CF_ERR_CRYPTO", "cryptographic operation failed"},
    [CF_ERR_SEAL] = {"CF_ERR_SEAL", "seal unavailable"},
    [CF_ERR_UNAVAILABLE] = {"CF_ERR_UNAVAILABLE", "storage engine unavailable"},
    [CF_ERR_INTERNAL] = {"CF_ERR_INTERNAL", "internal error"},
};

struct cf_error_record {
    cf_err code;
    const char *file;
    int line;
    bool has_detail;
    const char *reason;
    char detail[CF_ERROR_DETAIL_MAX];
    char where[CF_ERROR_DETAIL_MAX];
};

static _Thread_local struct cf_error_record cf_error_state;

struct cf_error_record *cf_error_save(void)
{
    struct cf_error_record *saved = malloc(sizeof *saved);
    if (saved)
        *saved = cf_error_state;
    return saved;
}

void cf_error_restore(struct cf_error_record *saved)
{
    if (saved)
        cf_error_state = *saved;
    free(saved);
}

bool cf_err_environmental(cf_err code)
{
    return code >= CF_ERR_NOMEM && code < CF_ERR_COUNT;
}

const char *cf_err_name(cf_err code)
{
    if ((unsigned)code >= CF_ERR_COUNT)
        return "CF_ERR_UNKNOWN";
    return cf_err_table[code].name;
}

void cf_error_raise(cf_err code, const char *file, int line, const char *detail)
{
    cf_error_state.code = code;
    cf_error_state.file = file;
    cf_error_state.line = line;
    cf_error_state.has_detail = detail != NULL;
    cf_error_state.reason = NULL;
    if (detail)
        snprintf(cf_error_state.detail, sizeof cf_error_state.detail, "%s", detail);
}

void cf_error_raise_reason(cf_err code, const char *reason, const char *file, int line,
                           const char *detail)
{
    cf_error_raise(code, file, line, detail);
    cf_error_state.reason = reason;
}

const char *cf_error_reason(void)
{
    return cf_error_state.code == CF_OK ? NULL : cf_error_state.reason;
}

void cf_error_raisef(cf_err code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cf_error_state.detail, sizeof cf_error_state.detail, fmt, ap);
    va_end(ap);
    cf_error_state.code = code;
    cf_error_state.file = file;
    cf_error_state.line = line;
    cf_error_state.has_detail = true;
    cf_error_state.reason = NULL;
}

cf_err cf_error_code(void)
{
    return cf_error_state.code;
}

const char *cf_error_detail(void)
{
    if (cf_error_state.has_detail)
        return cf_error_state.detail;
    cf_err code = cf_error_state.code;
    return (unsigned)code < CF_ERR_COUNT ? cf_err_table[code].message : "unknown error";
}

const char *cf_error_where(void)
{
    if (!cf_error_state.file)
        return "?";
    snprintf(cf_error_state.where, sizeof cf_error_state.where, "%s:%d", cf_error_state.file,
             cf_error_state.line);
    return cf_error_state.where;
}

void cf_error_clear(void)
{
    cf_error_state.code = CF_OK;
    cf_error_state.file = NULL;
    cf_error_state.has_detail = false;
    cf_error_state.reason = NULL;
}
