/*
 * PKCS#11 tokens: loading the module, finding (or initialising) the token,
 * logging in, the session pool, object lookup and error mapping.  Key
 * management is in p11_keys.c, operations in p11_ops.c.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11_internal.h"
#include "encoding.h"
#include "secmem.h"

CK_BBOOL cf_p11_true = CK_TRUE, cf_p11_false = CK_FALSE;

static _Thread_local CK_RV cf_p11_rv;

CK_RV cf_p11_last_rv(void)
{
    return cf_p11_rv;
}

static const struct {
    CK_RV rv;
    const char *name;
} cf_p11_rv_names[] = {
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID"},
    {CKR_UNWRAPPING_KEY_HANDLE_INVALID, "CKR_UNWRAPPING_KEY_HANDLE_INVALID"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
    {CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE"},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE"},
    {CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID"},
    {CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
};

static const char *cf_p11_rv_name(CK_RV rv)
{
    for (size_t i = 0; i < sizeof cf_p11_rv_names / sizeof *cf_p11_rv_names; i++)
        if (cf_p11_rv_names[i].rv == rv)
            return cf_p11_rv_names[i].name;
    return NULL;
}

/* Faults of the device or the session: the session is not to be reused. */
static bool cf_p11_rv_breaks_session(CK_RV rv)
{
    switch (rv) {
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_COUNT:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED: return true;
    default: return false;
    }
}

/* Handles of private objects die with the login (when the token forgot us,
 * or every session closed after a fault). */
static bool cf_p11_stale_handle(CK_RV rv)
{
    return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID ||
           rv == CKR_WRAPPING_KEY_HANDLE_INVALID || rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID;
}

bool cf_p11_retryable(CK_RV rv)
{
    if (cf_p11_stale_handle(rv))
        return true;
    switch (rv) {
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_USER_NOT_LOGGED_IN: return true;
    default: return false;
    }
}

static cf_err cf_p11_rv_code(CK_RV rv)
{
    switch (rv) {
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE: return CF_ERR_DECRYPT;
    case CKR_DATA_LEN_RANGE:
    case CKR_DATA_INVALID: return CF_ERR_BAD_INPUT;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_KEY_SIZE_RANGE: return CF_ERR_UNSUPPORTED;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_WRAPPING_KEY_HANDLE_INVALID:
    case CKR_UNWRAPPING_KEY_HANDLE_INVALID:
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LEN_RANGE: return CF_ERR_SEAL;
    default: return cf_p11_rv_breaks_session(rv) ? CF_ERR_SEAL : CF_ERR_CRYPTO;
    }
}

static bool cf_p11_fail_rv(const cf_p11 *p, CK_RV rv, const char *what, const char *file, int line)
{
    cf_p11_rv = rv;
    const char *name = cf_p11_rv_name(rv);
    char code[32];
    if (!name) {
        snprintf(code, sizeof code, "CKR 0x%lx", (unsigned long)rv);
        name = code;
    }
    const char *token = p ? p->label : "?";
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE)
        cf_error_raisef(CF_ERR_SEAL, file, line, "the PIN for PKCS#11 token '%s' is incorrect",
                        token);
    else if (rv == CKR_PIN_LOCKED)
        cf_error_raisef(CF_ERR_SEAL, file, line, "the PIN for PKCS#11 token '%s' is locked", token);
    else if (rv == CKR_PIN_EXPIRED)
        cf_error_raisef(CF_ERR_SEAL, file, line, "the PIN for PKCS#11 token '%s' has expired",
                        token);
    else if (cf_p11_rv_code(rv) == CF_ERR_DECRYPT)
        /* Client-level codes reach API clients: no token or Cryptoki names. */
        cf_error_raise(CF_ERR_DECRYPT, file, line, "the input does not decrypt or unwrap");
    else if (cf_p11_rv_code(rv) == CF_ERR_BAD_INPUT)
        cf_error_raise(CF_ERR_BAD_INPUT, file, line, "the input is not valid for this key");
    else if (cf_p11_rv_code(rv) == CF_ERR_UNSUPPORTED)
        cf_error_raise(CF_ERR_UNSUPPORTED, file, line, "the HSM does not support this operation");
    else /* 5xx: logged with this detail, never shown to clients */
        cf_error_raisef(cf_p11_rv_code(rv), file, line, "PKCS#11 token '%s': %s failed with %s",
                        token, what, name);
    return false;
}

bool cf_p11_fail(cf_p11_session *s, CK_RV rv, const char *what, const char *file, int line)
{
    if (cf_p11_rv_breaks_session(rv))
        s->broken = true;
    if (cf_p11_stale_handle(rv))
        s->broken = true; /* and the handle cache is dropped by cf_p11_run */
    return cf_p11_fail_rv(s->p, rv, what, file, line);
}

/* ---- module and token ---- */

static void cf_p11_label_text(const CK_UTF8CHAR *padded, char out[33])
{
    memcpy(out, padded, 32);
    out[32] = 0;
    for (int i = 31; i >= 0 && out[i] == ' '; i--)
        out[i] = 0;
}

static void cf_p11_label_padded(const char *label, CK_UTF8CHAR out[32])
{
    size_t n = strlen(label);
    memset(out, ' ', 32);
    memcpy(out, label, n > 32 ? 32 : n);
}

/* A module is initialised once per process however many handles use it
 * (C_Initialize and C_Finalize act on the whole library), so each module's
 * handles are counted; the last to close finalises it.  A process uses
 * one or two modules (a move between tokens); more are refused. */
#define CF_P11_MODULES 4

static struct {
    pthread_mutex_t lock;
    CK_FUNCTION_LIST *f[CF_P11_MODULES];
    unsigned users[CF_P11_MODULES];
} cf_p11_modules = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The module's slot in the table, or a free one; -1 when full.  Called
 * with the lock held. */
static int cf_p11_module_slot(CK_FUNCTION_LIST *f)
{
    int free_slot = -1;
    for (int i = 0; i < CF_P11_MODULES; i++) {
        if (cf_p11_modules.users[i] && cf_p11_modules.f[i] == f)
            return i;
        if (!cf_p11_modules.users[i] && free_slot < 0)
            free_slot = i;
    }
    return free_slot;
}

static bool cf_p11_load(cf_p11 *p, const char *module)
{
    p->lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    CF_ENSUREF(p->lib, CF_ERR_SEAL, "cannot load the PKCS#11 module %s: %s", module, dlerror());
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(p->lib, "C_GetFunctionList");
    CK_FUNCTION_LIST *f = NULL;
    CF_ENSUREF(get && get(&f) == CKR_OK && f, CF_ERR_SEAL,
               "%s is not a PKCS#11 module (no C_GetFunctionList)", module);
    pthread_mutex_lock(&cf_p11_modules.lock);
    int slot = cf_p11_module_slot(f);
    CK_RV rv = slot < 0 ? CKR_HOST_MEMORY : CKR_OK;
    if (slot >= 0 && !cf_p11_modules.users[slot]) {
        CK_C_INITIALIZE_ARGS args = {0};
        args.flags = CKF_OS_LOCKING_OK;
        rv = f->C_Initialize(&args);
        if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
            rv = CKR_OK;
    }
    if (rv == CKR_OK) {
        cf_p11_modules.f[slot] = f;
        cf_p11_modules.users[slot]++;
    }
    pthread_mutex_unlock(&cf_p11_modules.lock);
    if (rv != CKR_OK)
        return cf_p11_fail_rv(p, rv, "C_Initialize", __FILE__, __LINE__);
    p->f = f; /* from here on, close releases the module */
    return true;
}

static void cf_p11_unload(cf_p11 *p)
{
    pthread_mutex_lock(&cf_p11_modules.lock);
    int slot = cf_p11_module_slot(p->f);
    bool last = slot >= 0 && cf_p11_modules.f[slot] == p->f && cf_p11_modules.users[slot] &&
                --cf_p11_modules.users[slot] == 0;
    pthread_mutex_unlock(&cf_p11_modules.lock);
    if (last)
        p->f->C_Finalize(NULL);
}

/* The slot whose token carries `label`; CF_ERR_NOT_FOUND when none does. */
static bool cf_p11_find_slot(cf_p11 *p, const char *label, bool want_free, CK_SLOT_ID *out)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_RV rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        return cf_p11_fail_rv(p, rv, "C_GetSlotList", __FILE__, __LINE__);
    CK_RV failed = CKR_OK;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        CK_RV info_rv = p->f->C_GetTokenInfo(slots[i], &info);
        if (info_rv != CKR_OK) {
            failed = info_rv;
            continue;
        }
        char name[33];
        cf_p11_label_text(info.label, name);
        bool initialised = info.flags & CKF_TOKEN_INITIALIZED;
        if ((want_free && !initialised) ||
            (!want_free && initialised && strcmp(name, label) == 0)) {
            *out = slots[i];
            return true;
        }
    }
    /* A token that did not answer may be the one asked for. */
    if (failed != CKR_OK)
        return cf_p11_fail_rv(p, failed, "C_GetTokenInfo", __FILE__, __LINE__);
    CF_BAIL(CF_ERR_NOT_FOUND, want_free ? "no free PKCS#11 slot" : "no such token");
}

/* Initialises a token in the first free slot: SO PIN, label, user PIN. */
static bool cf_p11_init_token(cf_p11 *p, const cf_p11_config *cfg)
{
    CK_SLOT_ID slot;
    CF_GUARD(cf_p11_find_slot(p, NULL, true, &slot));
    CK_UTF8CHAR label[32];
    cf_p11_label_padded(cfg->token_label, label);
    CK_RV rv =
        p->f->C_InitToken(slot, (CK_UTF8CHAR *)cfg->init_so_pin.ptr, cfg->init_so_pin.len, label);
    if (rv != CKR_OK)
        return cf_p11_fail_rv(p, rv, "C_InitToken", __FILE__, __LINE__);
    /* Some modules (SoftHSM2) move an initialised token to a new slot id. */
    CF_GUARD(cf_p11_find_slot(p, cfg->token_label, false, &p->slot));
    CK_SESSION_HANDLE h;
    rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK)
        return cf_p11_fail_rv(p, rv, "C_OpenSession", __FILE__, __LINE__);
    rv = p->f->C_Login(h, CKU_SO, (CK_UTF8CHAR *)cfg->init_so_pin.ptr, cfg->init_so_pin.len);
    if (rv == CKR_OK)
        rv = p->f->C_InitPIN(h, (CK_UTF8CHAR *)cfg->pin.ptr, cfg->pin.len);
    if (rv == CKR_OK)
        rv = p->f->C_Logout(h);
    p->f->C_CloseSession(h);
    if (rv != CKR_OK)
        return cf_p11_fail_rv(p, rv, "initialising the user PIN", __FILE__, __LINE__);
    return true;
}

static bool cf_p11_login(cf_p11 *p, CK_SESSION_HANDLE h)
{
    CK_RV rv = p->f->C_Login(h, CKU_USER, p->pin, p->pin_len);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return true;
    return cf_p11_fail_rv(p, rv, "C_Login", __FILE__, __LINE__);
}

/* Finds the token (initialising one when asked and none has the label)
 * and logs in, so that a wrong or locked PIN stops the start. */
static bool cf_p11_attach(cf_p11 *p, const cf_p11_config *cfg)
{
    CF_GUARD(cf_p11_load(p, cfg->module));
    if (!cf_p11_find_slot(p, cfg->token_label, false, &p->slot)) {
        CF_GUARD(cf_error_code() == CF_ERR_NOT_FOUND);
        CF_ENSUREF(cfg->init_so_pin.len, CF_ERR_SEAL, "no PKCS#11 token labelled '%s' in %s",
                   cfg->token_label, cfg->module);
        CF_GUARD(cf_p11_init_token(p, cfg));
    }
    CK_MECHANISM_INFO info;
    p->has_rsa_aes_wrap =
        p->f->C_GetMechanismInfo(p->slot, CKM_RSA_AES_KEY_WRAP, &info) == CKR_OK &&
        (info.flags & CKF_UNWRAP);
    cf_p11_session s;
    CF_GUARD(cf_p11_acquire(p, &s));
    cf_p11_release(&s);
    return true;
}

bool cf_p11_open(const cf_p11_config *cfg, cf_p11 **out)
{
    CF_ENSURE(strlen(cfg->token_label) <= 32 && cfg->token_label[0], CF_ERR_BAD_INPUT,
              "PKCS#11 token labels are 1-32 characters");
    CF_ENSURE(cfg->pin.len > 0, CF_ERR_SEAL, "the PKCS#11 PIN is empty");
    CF_ENSURE(cfg->pin.len <= 256, CF_ERR_SEAL, "the PKCS#11 PIN is longer than 256 bytes");
    cf_p11 *p = calloc(1, sizeof *p);
    CF_ENSURE_ALLOC(p);
    snprintf(p->label, sizeof p->label, "%s", cfg->token_label);
    pthread_mutex_init(&p->lock, NULL);
    p->pin = cf_secret_alloc(cfg->pin.len);
    if (p->pin) {
        memcpy(p->pin, cfg->pin.ptr, cfg->pin.len);
        p->pin_len = cfg->pin.len;
    }
    if (!p->pin || !cf_p11_attach(p, cfg)) {
        if (!p->pin)
            CF_RAISE(CF_ERR_NOMEM, NULL);
        cf_p11_close(p);
        return false;
    }
    *out = p;
    return true;
}

void cf_p11_close(cf_p11 *p)
{
    if (!p)
        return;
    if (p->f) {
        for (size_t i = 0; i < p->n_idle; i++)
            p->f->C_CloseSession(p->idle[i]);
        cf_p11_unload(p);
    }
    if (p->lib)
        dlclose(p->lib);
    cf_secret_free(p->pin, p->pin_len);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *cf_p11_token_label(const cf_p11 *p)
{
    return p->label;
}

bool cf_p11_healthy(cf_p11 *p)
{
    CK_TOKEN_INFO info;
    return p->f->C_GetTokenInfo(p->slot, &info) == CKR_OK;
}

CK_RV cf_p11_input_rv(cf_p11 *p, CK_RV rv)
{
    if ((rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED || rv == CKR_DATA_INVALID) &&
        cf_p11_healthy(p))
        return CKR_ENCRYPTED_DATA_INVALID;
    return rv;
}

bool cf_p11_new_id(cf_p11_id *id)
{
    return cf_random_bytes(id->bytes, sizeof id->bytes);
}

void cf_p11_id_to_hex(const cf_p11_id *id, char out[CF_P11_ID_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < CF_P11_ID_LEN; i++) {
        out[2 * i] = digits[id->bytes[i] >> 4];
        out[2 * i + 1] = digits[id->bytes[i] & 15];
    }
    out[2 * CF_P11_ID_LEN] = 0;
}

bool cf_p11_id_from_hex(const char *hex, cf_p11_id *id)
{
    cf_buf raw;
    cf_buf_init(&raw, CF_P11_ID_LEN);
    bool ok = strlen(hex) == 2 * CF_P11_ID_LEN && cf_hex_decode(CF_SLICE_STR(hex), &raw) &&
              raw.len == CF_P11_ID_LEN;
    if (ok)
        memcpy(id->bytes, raw.data, CF_P11_ID_LEN);
    cf_buf_free(&raw);
    CF_ENSURE(ok, CF_ERR_BAD_INPUT, "malformed key id");
    return true;
}

/* ---- sessions ---- */

bool cf_p11_acquire(cf_p11 *p, cf_p11_session *s)
{
    s->p = p;
    s->broken = false;
    pthread_mutex_lock(&p->lock);
    bool pooled = p->n_idle > 0;
    if (pooled)
        s->h = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->lock);
    if (pooled)
        return true;
    CK_RV rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s->h);
    if (rv != CKR_OK)
        return cf_p11_fail_rv(p, rv, "C_OpenSession", __FILE__, __LINE__);
    /* Login state belongs to the application: the first session logs in,
     * later ones hear CKR_USER_ALREADY_LOGGED_IN; after a token reset the
     * next fresh session logs in again. */
    if (!cf_p11_login(p, s->h)) {
        p->f->C_CloseSession(s->h);
        return false;
    }
    return true;
}

void cf_p11_release(cf_p11_session *s)
{
    cf_p11 *p = s->p;
    bool keep = !s->broken;
    if (keep) {
        pthread_mutex_lock(&p->lock);
        keep = p->n_idle < CF_P11_POOL_MAX;
        if (keep)
            p->idle[p->n_idle++] = s->h;
        pthread_mutex_unlock(&p->lock);
    }
    if (!keep)
        p->f->C_CloseSession(s->h);
}

bool cf_p11_run(cf_p11 *p, cf_p11_op op, void *ctx)
{
    for (int attempt = 0;; attempt++) {
        cf_p11_session s;
        CF_GUARD(cf_p11_acquire(p, &s));
        cf_p11_rv = CKR_OK;
        bool ok = op(&s, ctx);
        CK_RV rv = cf_p11_rv;
        cf_p11_release(&s);
        if (ok || attempt > 0 || !cf_p11_retryable(rv))
            return ok;
        /* Stale session or handle (the token was reset): forget every
         * cached handle and every pooled session (they are as stale), and
         * try once more on a fresh session. */
        CK_SESSION_HANDLE stale[CF_P11_POOL_MAX];
        pthread_mutex_lock(&p->lock);
        memset(p->cache, 0, sizeof p->cache);
        size_t n = p->n_idle;
        memcpy(stale, p->idle, n * sizeof *stale);
        p->n_idle = 0;
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < n; i++)
            p->f->C_CloseSession(stale[i]);
    }
}

/* ---- objects ---- */

static size_t cf_p11_slot_of(const cf_p11_id *id, CK_OBJECT_CLASS cls)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < CF_P11_ID_LEN; i++)
        h = (h ^ id->bytes[i]) * 16777619u;
    return (h ^ (uint32_t)cls) % CF_P11_HANDLE_CACHE;
}

bool cf_p11_find(cf_p11_session *s, const cf_p11_id *id, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *out)
{
    cf_p11 *p = s->p;
    size_t slot = cf_p11_slot_of(id, cls);
    pthread_mutex_lock(&p->lock);
    cf_p11_cached *c = &p->cache[slot];
    bool hit = c->used && c->cls == cls && memcmp(c->id.bytes, id->bytes, CF_P11_ID_LEN) == 0;
    if (hit)
        *out = c->handle;
    pthread_mutex_unlock(&p->lock);
    if (hit)
        return true;
    CK_ATTRIBUTE tmpl[] = {
        CF_P11_ATTR(CKA_CLASS, &cls, sizeof cls),
        CF_P11_ATTR(CKA_ID, id->bytes, CF_P11_ID_LEN),
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    CF_P11_CALL(s, p->f->C_FindObjectsInit(s->h, tmpl, 2), "C_FindObjectsInit");
    CK_RV rv = p->f->C_FindObjects(s->h, found, 2, &n);
    p->f->C_FindObjectsFinal(s->h);
    if (rv != CKR_OK)
        return cf_p11_fail(s, rv, "C_FindObjects", __FILE__, __LINE__);
    CF_ENSURE(n == 1, n ? CF_ERR_SEAL : CF_ERR_NOT_FOUND,
              n ? "the token holds two objects with one key id" : "the key is not in the token");
    pthread_mutex_lock(&p->lock);
    *c = (cf_p11_cached){*id, cls, found[0], true};
    pthread_mutex_unlock(&p->lock);
    *out = found[0];
    return true;
}

void cf_p11_forget(cf_p11 *p, const cf_p11_id *id)
{
    static const CK_OBJECT_CLASS classes[] = {CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < 3; i++) {
        cf_p11_cached *c = &p->cache[cf_p11_slot_of(id, classes[i])];
        if (c->used && memcmp(c->id.bytes, id->bytes, CF_P11_ID_LEN) == 0)
            c->used = false;
    }
    pthread_mutex_unlock(&p->lock);
}

cf_slice cf_p11_curve_oid(cf_curve c)
{
    static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const uint8_t p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    static const uint8_t p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
    static const uint8_t k256[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};
    switch (c) {
    case CF_CURVE_P256: return cf_slice_of(p256, sizeof p256);
    case CF_CURVE_P384: return cf_slice_of(p384, sizeof p384);
    case CF_CURVE_P521: return cf_slice_of(p521, sizeof p521);
    case CF_CURVE_P256K: return cf_slice_of(k256, sizeof k256);
    default: return cf_slice_of(NULL, 0);
    }
}
