/* Random identifiers; see ids.h. */
#include "ids.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"

/* Random bytes for identifiers, drawn from OpenSSL 512 at a time per
 * thread: a RAND_bytes call cost more than the rest of an identifier, 2% of
 * the vault's CPU at one request id per request.  Identifiers are public
 * once issued, and the bytes are wiped as they are used.  A forked child
 * drops its copy, which would repeat its parent's. */
static _Thread_local uint8_t cf_id_pool[512];
static _Thread_local size_t cf_id_left;
static pthread_once_t cf_id_once = PTHREAD_ONCE_INIT;

static void cf_id_pool_forget(void)
{
    cf_id_left = 0;
}

static void cf_id_pool_init(void)
{
    (void)pthread_atfork(NULL, NULL, cf_id_pool_forget);
}

static bool cf_id_bytes(uint8_t out[16])
{
    pthread_once(&cf_id_once, cf_id_pool_init);
    if (cf_id_left < 16) {
        CF_GUARD(cf_random_bytes(cf_id_pool, sizeof cf_id_pool));
        cf_id_left = sizeof cf_id_pool;
    }
    uint8_t *next = cf_id_pool + sizeof cf_id_pool - cf_id_left;
    memcpy(out, next, 16);
    memset(next, 0, 16);
    cf_id_left -= 16;
    return true;
}

bool cf_uuid_v4(char out[CF_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t r[16];
    CF_GUARD(cf_id_bytes(r));
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    char *p = out;
    for (size_t i = 0; i < sizeof r; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[r[i] >> 4];
        *p++ = hex[r[i] & 0x0f];
    }
    *p = '\0';
    return true;
}
