/*
 * The bearer-token parser every request goes through before anything
 * else.  Parsing must never crash or leak; a parsed token must have
 * object header and claims and a signing input inside the token.
 */
#include <stdint.h>

#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_jwt jwt;
    cf_jwt_init(&jwt);
    if (cf_jwt_parse(cf_slice_of(data, size), &jwt)) {
        if (!json_is_object(jwt.header) || !json_is_object(jwt.claims) ||
            jwt.signing_input.ptr != data || jwt.signing_input.len >= size)
            __builtin_trap();
    }
    cf_jwt_free(&jwt);
    return 0;
}
