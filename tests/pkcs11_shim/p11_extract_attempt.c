/*
 * An attacker's attempt to get a private key out of a PKCS#11 token, for
 * tests (pkcs11-tool cannot read or wrap private keys, so this does what it
 * would): logs in as the user, finds the private key with CKA_ID = argv[3],
 * then tries to read CKA_VALUE / CKA_PRIVATE_EXPONENT / the EC private
 * value, and to wrap the key out with an AES key of its own making.
 * Prints each attempt's return value; exits 0 only if every attempt
 * failed, 1 if any got key material out, 2 on usage or setup errors.
 *
 *   p11_extract_attempt MODULE PIN ID_HEX   (token: the first with a slot)
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList get = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST *f = NULL;
    if (!get || get(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK)
        return 2;
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_SESSION_HANDLE s;
    if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0 ||
        f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
        f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)argv[2], strlen(argv[2])) != CKR_OK)
        return 2;
    unsigned char id[64];
    size_t id_len = strlen(argv[3]) / 2;
    for (size_t i = 0; i < id_len && i < sizeof id; i++)
        sscanf(argv[3] + 2 * i, "%2hhx", &id[i]);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, id, id_len}};
    CK_OBJECT_HANDLE key;
    CK_ULONG found = 0;
    if (f->C_FindObjectsInit(s, find, 2) != CKR_OK ||
        f->C_FindObjects(s, &key, 1, &found) != CKR_OK)
        return 2;
    f->C_FindObjectsFinal(s);
    if (found != 1) {
        fprintf(stderr, "no private key with that id\n");
        return 2;
    }
    int leaked = 0;
    static unsigned char buf[8192];
    CK_ATTRIBUTE_TYPE secret_attrs[] = {CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1};
    const char *names[] = {"CKA_VALUE", "CKA_PRIVATE_EXPONENT", "CKA_PRIME_1"};
    for (int i = 0; i < 3; i++) {
        CK_ATTRIBUTE a = {secret_attrs[i], buf, sizeof buf};
        CK_RV rv = f->C_GetAttributeValue(s, key, &a, 1);
        int got = rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION && a.ulValueLen > 0;
        printf("read %s: rv 0x%lx%s\n", names[i], rv, got ? " LEAKED" : "");
        leaked |= got;
    }
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG len = 32;
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &(CK_BBOOL){CK_FALSE}, 1},
                         {CKA_WRAP, &yes, 1},
                         {CKA_VALUE_LEN, &len, sizeof len}};
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0}, wrap = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    CK_OBJECT_HANDLE mine;
    if (f->C_GenerateKey(s, &gen, kt, 3, &mine) != CKR_OK)
        return 2;
    CK_ULONG wlen = sizeof buf;
    CK_RV rv = f->C_WrapKey(s, &wrap, mine, key, buf, &wlen);
    printf("wrap out with an AES key of mine: rv 0x%lx%s\n", rv, rv == CKR_OK ? " LEAKED" : "");
    leaked |= rv == CKR_OK;
    f->C_Finalize(NULL);
    return leaked ? 1 : 0;
}
