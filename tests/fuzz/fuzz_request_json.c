/*
 * Request-body parsers of the vault: attributes and tags, rotation
 * policies with their ISO 8601 durations, and OAuth form bodies.  Any
 * input must be accepted or refused cleanly, without leaks.
 */
#include <stdint.h>
#include <string.h>

#include "form.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (body) {
        cf_object obj;
        cf_object_init(&obj);
        if (cf_object_parse_attributes(body, &obj) && obj.nbf && obj.exp && obj.nbf >= obj.exp)
            __builtin_trap(); /* the parser promised nbf < exp */
        cf_object_free(&obj);
        json_t *policy = NULL;
        if (cf_rotation_policy_parse(body, body, 1, &policy))
            json_decref(policy);
        const char *s = json_string_value(json_object_get(body, "d"));
        int64_t secs;
        if (s && cf_vault_iso_duration(s, &secs) && secs < 0)
            __builtin_trap();
        json_decref(body);
    }
    cf_buf out;
    cf_buf_init(&out, 4096);
    if (cf_form_get(cf_slice_of(data, size), "client_id", &out) && out.len > size)
        __builtin_trap();
    cf_buf_free(&out);
    return 0;
}
