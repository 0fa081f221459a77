/*
 * The encryptiondata parser faces whatever the blob service returns as
 * metadata, i.e. whatever anyone with write access to the blob put there.
 * Any input must be refused cleanly or parsed into metadata within its
 * bounds; what is accepted must survive a round trip: for 2.x, built
 * again (2.0 only with its 4 MiB regions) and parsed back to the same
 * struct.  A refusal must be CF_ERR_BAD_INPUT, CF_ERR_TOO_LARGE or
 * CF_ERR_UNSUPPORTED, never an internal error.
 *
 * Seeds: what the three SDKs write (from tests/unit/vectors/cse_*.txt and
 * .NET/Java member orders), and near misses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_bounds(const cf_cse_meta *m, size_t size)
{
    size_t id_len = strnlen(m->key_id, sizeof m->key_id);
    if (size > CF_CSE_META_MAX || id_len == 0 || id_len > CF_CSE_KEY_ID_MAX ||
        m->wrapped_key_len < CF_CSE_WRAPPED_KEY_MIN || m->wrapped_key_len > CF_CSE_WRAPPED_KEY_MAX)
        __builtin_trap();
    if (m->protocol == CF_CSE_V1_0
            ? m->region_len != 0
            : m->region_len < CF_CSE_REGION_MIN || m->region_len > CF_CSE_REGION_MAX)
        __builtin_trap();
}

static void fuzz_round_trip(const cf_cse_meta *m)
{
    cf_buf json;
    cf_buf_init(&json, CF_CSE_META_MAX);
    bool built = cf_cse_meta_build(m, &json);
    bool buildable = m->protocol == CF_CSE_V2_1 ||
                     (m->protocol == CF_CSE_V2_0 && m->region_len == CF_CSE_REGION_DEFAULT);
    if (built != buildable)
        __builtin_trap();
    if (built) {
        cf_cse_meta again;
        if (!cf_cse_meta_parse(cf_buf_slice(&json), &again) || memcmp(&again, m, sizeof *m) != 0)
            __builtin_trap();
    }
    cf_buf_free(&json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_cse_meta m;
    if (!cf_cse_meta_parse(cf_slice_of(data, size), &m)) {
        cf_err e = cf_error_code();
        if (e != CF_ERR_BAD_INPUT && e != CF_ERR_TOO_LARGE && e != CF_ERR_UNSUPPORTED)
            __builtin_trap();
        return 0;
    }
    fuzz_check_bounds(&m, size);
    fuzz_round_trip(&m);
    return 0;
}
