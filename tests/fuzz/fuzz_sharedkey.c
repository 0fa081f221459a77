/*
 * Shared Key over a request parsed from the fuzz input: lines are the
 * method, raw path, raw query, Authorization value, then "name:value"
 * headers.  Building any string-to-sign variant and verifying must never
 * crash or leak, and a built string must respect its cap.
 *
 * Canonicalisation invariants, abort() when one fails:
 *   - a request signed (HMAC-SHA256 with the account key, base64) over the
 *     string-to-sign of any variant verifies, as the official clients'
 *     signatures must; one flipped signature bit does not.  (Only for
 *     requests whose documented form can be built: the verifier refuses a
 *     malformed request, e.g. a bad escape in a query parameter that the JS
 *     form would drop, whatever its signature);
 *   - the order in which headers arrive and the case of their names do not
 *     change the string-to-sign (nor whether one can be built);
 *   - in the documented form (no JS_QUERY), neither does the order of the
 *     query parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "encoding.h"
#include "storage_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADERS 160

/* Signs `sts` as a client would and checks verification, then breaks
 * the signature by one bit and checks the refusal. */
static void check_signed(const cf_storage_request *req, bool lite, cf_slice sts)
{
    static const char key[] = "fuzz-account-key";
    uint8_t mac[32];
    if (!cf_hmac_sha256(CF_SLICE_LIT(key), sts, mac))
        abort();
    for (int flip = 0; flip < 2; flip++) {
        if (flip)
            mac[sts.len % 32] ^= (uint8_t)(1u << (sts.len % 8));
        cf_buf authz;
        cf_buf_init(&authz, 128);
        if (!cf_buf_append_str(&authz, lite ? "SharedKeyLite acct1:" : "SharedKey acct1:") ||
            !cf_base64_encode(cf_slice_of(mac, sizeof mac), &authz) || !cf_buf_terminate(&authz))
            abort();
        bool ok = false;
        bool verified =
            cf_sharedkey_verify(req, "acct1", CF_SLICE_LIT(key), (const char *)authz.data, &ok);
        if (verified != !flip || ok != !flip)
            abort();
        cf_buf_free(&authz);
    }
}

/* The query's '&'-separated parameters in reverse order. */
static char *reverse_query(const char *q)
{
    size_t len = strlen(q);
    char *out = malloc(len + 1), *o = out;
    if (!out)
        abort();
    for (size_t end = len;;) {
        size_t start = end;
        while (start > 0 && q[start - 1] != '&')
            start--;
        memcpy(o, q + start, end - start);
        o += end - start;
        if (start == 0)
            break;
        *o++ = '&';
        end = start - 1;
    }
    *o = 0;
    return out;
}

/* The same request with headers reversed and their names' case flipped,
 * and (documented form) the query reversed: the same string-to-sign. */
static void check_reordered(const cf_storage_request *req, bool lite, unsigned variant,
                            const cf_buf *want)
{
    static cf_storage_header hs[FUZZ_HEADERS];
    static char names[FUZZ_HEADERS][CF_STORAGE_MAX_HEADER_NAME + 1];
    size_t n = req->n_headers;
    for (size_t i = 0; i < n; i++) {
        const char *name = req->headers[n - 1 - i].name;
        if (strlen(name) > CF_STORAGE_MAX_HEADER_NAME)
            return; /* refused either way; the copy would not fit */
        size_t k = 0;
        for (; name[k]; k++) {
            char c = name[k];
            names[i][k] = (c >= 'a' && c <= 'z')   ? (char)(c - 32)
                          : (c >= 'A' && c <= 'Z') ? (char)(c + 32)
                                                   : c;
        }
        names[i][k] = 0;
        hs[i] = (cf_storage_header){names[i], req->headers[n - 1 - i].value};
    }
    char *query = NULL;
    if (req->query && !(variant & CF_SHAREDKEY_JS_QUERY) && !lite)
        query = reverse_query(req->query);
    cf_storage_request other = {req->method, req->path, query ? query : req->query, hs, n};
    cf_buf out;
    cf_buf_init(&out, CF_STORAGE_MAX_STS);
    bool built = cf_sharedkey_string_to_sign_ex(&other, "acct1", lite, variant, &out);
    if (built != (want != NULL) || (built && !cf_slice_eq(cf_buf_slice(&out), cf_buf_slice(want))))
        abort();
    cf_buf_free(&out);
    free(query);
}

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
    bool built = cf_sharedkey_string_to_sign_ex(&req, "acct1", lite, variant, &out);
    if (built && out.len > CF_STORAGE_MAX_STS)
        __builtin_trap();
    bool ok = false;
    if (cf_sharedkey_verify(&req, "acct1", CF_SLICE_LIT("fuzz-account-key"),
                            lines[3] ? lines[3] : "", &ok) != ok)
        __builtin_trap();
    check_reordered(&req, lite, variant, built ? &out : NULL);
    cf_buf spec;
    cf_buf_init(&spec, CF_STORAGE_MAX_STS);
    if (built && cf_sharedkey_string_to_sign_ex(&req, "acct1", lite, CF_SHAREDKEY_SPEC, &spec))
        check_signed(&req, lite, cf_buf_slice(&out));
    cf_buf_free(&spec);
    cf_buf_free(&out);
    free(text);
    return 0;
}
