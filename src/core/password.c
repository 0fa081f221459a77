/* Argon2id password hashes; see password.h. */
#include "password.h"

#include <argon2.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

#include "crypto.h"

#define CF_ARGON2_MEMORY_KIB 19456
#define CF_ARGON2_PASSES 2
#define CF_ARGON2_LANES 1
#define CF_ARGON2_SALT_LEN 16
#define CF_ARGON2_HASH_LEN 32

static sem_t cf_password_slots;
static pthread_once_t cf_password_once = PTHREAD_ONCE_INIT;

static void cf_password_slots_init(void)
{
    sem_init(&cf_password_slots, 0, CF_PASSWORD_PARALLEL);
}

static void cf_password_enter(void)
{
    pthread_once(&cf_password_once, cf_password_slots_init);
    while (sem_wait(&cf_password_slots) != 0) {
    }
}

static void cf_password_leave(void)
{
    sem_post(&cf_password_slots);
}

/* Valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) without C0 controls or DEL. */
static bool cf_utf8_text(cf_slice s)
{
    for (size_t i = 0; i < s.len;) {
        uint8_t c = s.ptr[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (n == 0 || i + n > s.len || (n == 1 && (c < 0x20 || c == 0x7f)))
            return false;
        uint32_t cp = n == 1 ? c : c & (0xff >> (n + 1));
        for (size_t k = 1; k < n; k++) {
            if ((s.ptr[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s.ptr[i + k] & 0x3f);
        }
        static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

bool cf_password_acceptable(cf_slice password)
{
    CF_ENSURE(password.len >= CF_PASSWORD_MIN, CF_ERR_BAD_INPUT,
              "A password must be at least 12 characters long.");
    CF_ENSURE(password.len <= CF_PASSWORD_MAX, CF_ERR_BAD_INPUT,
              "A password must be at most 1024 bytes long.");
    CF_ENSURE(cf_utf8_text(password), CF_ERR_BAD_INPUT,
              "A password must be UTF-8 text without control characters.");
    return true;
}

bool cf_password_hash(cf_slice password, char out[CF_PASSWORD_HASH_MAX + 1])
{
    CF_ENSURE(password.len <= CF_PASSWORD_MAX, CF_ERR_BAD_INPUT, "password too long");
    uint8_t salt[CF_ARGON2_SALT_LEN];
    CF_GUARD(cf_random_bytes(salt, sizeof salt));
    cf_password_enter();
    int rc = argon2id_hash_encoded(CF_ARGON2_PASSES, CF_ARGON2_MEMORY_KIB, CF_ARGON2_LANES,
                                   password.ptr, password.len, salt, sizeof salt,
                                   CF_ARGON2_HASH_LEN, out, CF_PASSWORD_HASH_MAX + 1);
    cf_password_leave();
    CF_ENSURE(rc == ARGON2_OK, rc == ARGON2_MEMORY_ALLOCATION_ERROR ? CF_ERR_NOMEM : CF_ERR_CRYPTO,
              argon2_error_message(rc));
    return true;
}

bool cf_password_verify(const char *encoded, cf_slice password)
{
    /* The hash of a password nobody knows, with today's parameters. */
    static const char decoy[] = "$argon2id$v=19$m=19456,t=2,p=1$AQAAAAAAAAAAAAAAAAAAAA$"
                                "pknriHOlJzv0XkEtbatz6vkG87evVC/1hU61WI901QU";
    CF_ENSURE(password.len <= CF_PASSWORD_MAX, CF_ERR_UNAUTHORIZED, "Wrong user name or password.");
    CF_ENSURE(!encoded || strncmp(encoded, "$argon2id$", 10) == 0, CF_ERR_INTERNAL,
              "a stored password hash is not Argon2id");
    cf_password_enter();
    /* libargon2 compares the hashes in constant time. */
    int rc = argon2id_verify(encoded ? encoded : decoy, (const char *)password.ptr, password.len);
    cf_password_leave();
    CF_ENSURE(rc != ARGON2_MEMORY_ALLOCATION_ERROR, CF_ERR_NOMEM, "no memory to check a password");
    CF_ENSURE(encoded && rc == ARGON2_OK, CF_ERR_UNAUTHORIZED, "Wrong user name or password.");
    return true;
}
