/*
 * SAS: parse a raw query string, then build the string-to-sign that fits
 * its kind, verify it and run the policy helpers.  Must never crash or
 * leak; a parsed SAS must be internally consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "storage_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        if (!cf_crypto_init())
            abort();
        init = true;
    }
    char *q = malloc(size + 1);
    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = 0;
    cf_sas sas;
    (void)cf_sas_in_query(q);
    if (cf_sas_parse(q, &sas)) {
        if (!sas.sv[0] || (sas.kind == CF_SAS_ACCOUNT && (!sas.ss[0] || !sas.has_expiry)) ||
            (sas.kind != CF_SAS_ACCOUNT && !sas.sr[0]))
            __builtin_trap();
        cf_buf sts;
        cf_buf_init(&sts, CF_STORAGE_MAX_STS);
        bool built = sas.kind == CF_SAS_ACCOUNT
                         ? cf_sas_string_to_sign_account(&sas, "acct1", &sts)
                         : cf_sas_string_to_sign_service_blob(&sas, "acct1", "cont1", "dir/b", &sts);
        bool ok = false;
        if (built && cf_sas_verify_signature(&sas, cf_buf_slice(&sts), CF_SLICE_LIT("k"), &ok) != ok)
            __builtin_trap();
        cf_buf_free(&sts);
        (void)cf_sas_check_time(&sas, 1795915495);
        (void)cf_sas_check_ip(&sas, "10.0.0.7");
        (void)cf_sas_check_ip(&sas, "::1");
        (void)cf_sas_check_protocol(&sas, false);
        (void)cf_sas_permits(&sas, 'r');
        (void)cf_sas_permits_service(&sas, 'b');
        cf_sas_policy pol = {true, true, 0, 1795915495, "rl"};
        if (sas.kind == CF_SAS_SERVICE && sas.si[0])
            (void)cf_sas_apply_policy(&sas, &pol);
    }
    free(q);
    return 0;
}
