/* Time-based one-time passwords; see totp.h. */
#include "totp.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "secmem.h"

bool cf_totp_code(cf_slice secret, int64_t step, char out[CF_TOTP_DIGITS + 1])
{
    CF_ENSURE(step >= 0, CF_ERR_BAD_INPUT, "time step before the epoch");
    uint8_t counter[8], mac[20];
    for (int i = 7; i >= 0; i--, step >>= 8)
        counter[i] = (uint8_t)(step & 0xff);
    size_t mac_len = 0;
    CF_ENSURE(EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, secret.ptr, secret.len, counter,
                        sizeof counter, mac, sizeof mac, &mac_len) != NULL &&
                  mac_len == sizeof mac,
              CF_ERR_CRYPTO, "HMAC-SHA1 failed");
    /* RFC 4226 dynamic truncation. */
    unsigned off = mac[19] & 0x0f;
    uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
                   (uint32_t)mac[off + 2] << 8 | mac[off + 3];
    cf_memzero(mac, sizeof mac);
    snprintf(out, CF_TOTP_DIGITS + 1, "%06u", bin % 1000000u);
    return true;
}

bool cf_totp_check(cf_slice secret, const char *code, int64_t now, int64_t last_step, int64_t *step)
{
    CF_ENSURE(code && strlen(code) == CF_TOTP_DIGITS &&
                  strspn(code, "0123456789") == CF_TOTP_DIGITS,
              CF_ERR_UNAUTHORIZED, "The one-time code must be 6 digits.");
    int64_t current = now / CF_TOTP_STEP_SECONDS;
    bool found = false;
    /* Every candidate is computed and compared: no early exit to time. */
    for (int64_t s = current - 1; s <= current + 1; s++) {
        char expect[CF_TOTP_DIGITS + 1];
        CF_GUARD(cf_totp_code(secret, s, expect));
        bool match = cf_memeq_ct(expect, code, CF_TOTP_DIGITS);
        cf_memzero(expect, sizeof expect);
        if (match && s > last_step && !found) {
            *step = s;
            found = true;
        }
    }
    CF_ENSURE(found, CF_ERR_UNAUTHORIZED, "The one-time code is wrong or was used already.");
    return true;
}

bool cf_base32_encode(cf_slice in, cf_buf *out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in.len; i++) {
        acc = acc << 8 | in.ptr[i];
        bits += 8;
        while (bits >= 5) {
            CF_GUARD(cf_buf_append_u8(out, (uint8_t)alphabet[(acc >> (bits - 5)) & 31]));
            bits -= 5;
        }
    }
    if (bits > 0)
        CF_GUARD(cf_buf_append_u8(out, (uint8_t)alphabet[(acc << (5 - bits)) & 31]));
    return true;
}
