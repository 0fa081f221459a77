/*
 * A PKCS#11 module for tests that forwards every call to a real module
 * (SoftHSM2 by default, or $COFFER_SHIM_MODULE) and injects faults a real
 * token shows only on bad days.  The fault is read from the file named by
 * $COFFER_SHIM_CONTROL at every call, so a test changes it while the
 * service runs:
 *
 *   (empty, missing or "ok")  forward everything
 *   device_error              token calls answer CKR_DEVICE_ERROR (the
 *                             token failing at run time)
 *   pin_locked                C_Login answers CKR_PIN_LOCKED
 *   encrypt_error             only encryption fails (CKR_DEVICE_ERROR): a
 *                             token that dies half-way through a job
 *
 * Test code only: it is built into the test tree, never installed.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim;

typedef enum { FAULT_NONE, FAULT_DEVICE, FAULT_PIN_LOCKED, FAULT_ENCRYPT } fault;

static fault current(void)
{
    const char *path = getenv("COFFER_SHIM_CONTROL");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return FAULT_NONE;
    char word[64] = "";
    if (!fgets(word, sizeof word, f))
        word[0] = 0;
    fclose(f);
    if (strncmp(word, "device_error", 12) == 0)
        return FAULT_DEVICE;
    if (strncmp(word, "pin_locked", 10) == 0)
        return FAULT_PIN_LOCKED;
    if (strncmp(word, "encrypt_error", 13) == 0)
        return FAULT_ENCRYPT;
    return FAULT_NONE;
}

#define DEVICE_GUARD()                 \
    do {                               \
        if (current() == FAULT_DEVICE) \
            return CKR_DEVICE_ERROR;   \
    } while (0)

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    DEVICE_GUARD();
    return real->C_GetTokenInfo(slot, info);
}

static CK_RV shim_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
                              CK_SESSION_HANDLE_PTR out)
{
    DEVICE_GUARD();
    return real->C_OpenSession(slot, flags, app, notify, out);
}

static CK_RV shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    fault f = current();
    if (f == FAULT_DEVICE)
        return CKR_DEVICE_ERROR;
    if (f == FAULT_PIN_LOCKED)
        return CKR_PIN_LOCKED;
    return real->C_Login(s, user, pin, len);
}

static CK_RV shim_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    DEVICE_GUARD();
    return real->C_FindObjectsInit(s, t, n);
}

static CK_RV shim_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
                                    CK_ULONG n)
{
    DEVICE_GUARD();
    return real->C_GetAttributeValue(s, o, t, n);
}

static CK_RV shim_EncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    DEVICE_GUARD();
    if (current() == FAULT_ENCRYPT)
        return CKR_DEVICE_ERROR;
    return real->C_EncryptInit(s, m, k);
}

static CK_RV shim_Encrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    DEVICE_GUARD();
    return real->C_Encrypt(s, in, n, out, out_len);
}

static CK_RV shim_DecryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    DEVICE_GUARD();
    return real->C_DecryptInit(s, m, k);
}

static CK_RV shim_Decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    DEVICE_GUARD();
    return real->C_Decrypt(s, in, n, out, out_len);
}

static CK_RV shim_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    DEVICE_GUARD();
    return real->C_SignInit(s, m, k);
}

static CK_RV shim_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
    DEVICE_GUARD();
    return real->C_Sign(s, in, n, out, out_len);
}

static CK_RV shim_VerifyInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    DEVICE_GUARD();
    return real->C_VerifyInit(s, m, k);
}

static CK_RV shim_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
                              CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    DEVICE_GUARD();
    return real->C_GenerateKey(s, m, t, n, out);
}

static CK_RV shim_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pt,
                                  CK_ULONG pn, CK_ATTRIBUTE_PTR vt, CK_ULONG vn,
                                  CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
    DEVICE_GUARD();
    return real->C_GenerateKeyPair(s, m, pt, pn, vt, vn, pub, priv);
}

static CK_RV shim_WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE w,
                          CK_OBJECT_HANDLE k, CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    DEVICE_GUARD();
    return real->C_WrapKey(s, m, w, k, out, len);
}

static CK_RV shim_UnwrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE u,
                            CK_BYTE_PTR in, CK_ULONG n, CK_ATTRIBUTE_PTR t, CK_ULONG tn,
                            CK_OBJECT_HANDLE_PTR out)
{
    DEVICE_GUARD();
    return real->C_UnwrapKey(s, m, u, in, n, t, tn, out);
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    if (!real) {
        const char *path = getenv("COFFER_SHIM_MODULE");
        void *lib = dlopen(path ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
        CK_C_GetFunctionList get =
            lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
        if (!get || get(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        shim = *real;
        shim.C_GetFunctionList = C_GetFunctionList;
        shim.C_GetTokenInfo = shim_GetTokenInfo;
        shim.C_OpenSession = shim_OpenSession;
        shim.C_Login = shim_Login;
        shim.C_FindObjectsInit = shim_FindObjectsInit;
        shim.C_GetAttributeValue = shim_GetAttributeValue;
        shim.C_EncryptInit = shim_EncryptInit;
        shim.C_Encrypt = shim_Encrypt;
        shim.C_DecryptInit = shim_DecryptInit;
        shim.C_Decrypt = shim_Decrypt;
        shim.C_SignInit = shim_SignInit;
        shim.C_Sign = shim_Sign;
        shim.C_VerifyInit = shim_VerifyInit;
        shim.C_GenerateKey = shim_GenerateKey;
        shim.C_GenerateKeyPair = shim_GenerateKeyPair;
        shim.C_WrapKey = shim_WrapKey;
        shim.C_UnwrapKey = shim_UnwrapKey;
    }
    *out = &shim;
    return CKR_OK;
}
