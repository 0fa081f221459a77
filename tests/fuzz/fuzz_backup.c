/*
 * The backup payload parser for keys and secrets (the bytes inside the authenticated
 * envelope; see src/vault/key_backup.c).  Everything it hands out must lie
 * inside the input.
 */
#include <stdint.h>

#include "resource.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *fuzz_base;
static size_t fuzz_size;

static bool each_version(void *ctx, cf_object *obj, cf_slice material)
{
    (void)ctx;
    if (material.ptr < fuzz_base || material.ptr + material.len > fuzz_base + fuzz_size)
        __builtin_trap();
    if (!cf_vault_valid_object_name(obj->name) || !obj->props)
        __builtin_trap();
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_base = data;
    fuzz_size = size;
    (void)cf_backup_parse_payload(&cf_keys_resource, cf_slice_of(data, size), each_version, NULL);
    (void)cf_backup_parse_payload(&cf_secrets_resource, cf_slice_of(data, size), each_version,
                                  NULL);
    return 0;
}
