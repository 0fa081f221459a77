/*
 * Shared Key over a request parsed from the fuzz input: lines are the
 * method, raw path, raw query, Authorization value, then "name:value"
 * headers.  Building any string-to-sign variant and verifying must never
 * crash or leak, and a built string must respect its cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "storage_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADERS 160

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        if (!cf_crypto_init())
            abort();
        init = true;
    }
    if (size < 1)
        return 0;
    unsigned variant = data[0] % CF_SHAREDKEY_VARIANTS;
    bool lite = data[0] & 0x80;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;

    char *lines[4 + FUZZ_HEADERS] = {0};
    size_t n = 0;
    for (char *p = text; p && n < sizeof lines / sizeof *lines;) {
        lines[n++] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = 0;
    }
    static cf_storage_header hs[FUZZ_HEADERS];
    size_t nh = 0;
    for (size_t i = 4; i < n; i++) {
        char *colon = strchr(lines[i], ':');
        if (!colon)
            continue;
        *colon = 0;
        hs[nh++] = (cf_storage_header){lines[i], colon + 1};
    }
    cf_storage_request req = {lines[0] ? lines[0] : "", lines[1] ? lines[1] : "", lines[2], hs, nh};

    cf_buf out;
    cf_buf_init(&out, CF_STORAGE_MAX_STS);
    if (cf_sharedkey_string_to_sign_ex(&req, "acct1", lite, variant, &out) &&
        out.len > CF_STORAGE_MAX_STS)
        __builtin_trap();
    cf_buf_free(&out);
    bool ok = false;
    if (cf_sharedkey_verify(&req, "acct1", CF_SLICE_LIT("fuzz-account-key"),
                            lines[3] ? lines[3] : "", &ok) != ok)
        __builtin_trap();
    free(text);
    return 0;
}
