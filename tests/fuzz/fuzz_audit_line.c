/*
 * The audit line parser `coffer audit verify` runs on files that may have
 * been tampered with.  Any input must be accepted or refused cleanly,
 * within the line cap, and an accepted line must carry a sequence number.
 */
#include <stdint.h>
#include <string.h>

#include "audit_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_audit_line_info info;
    if (cf_audit_line_parse(cf_slice_of(data, size), &info) &&
        (size > CF_AUDIT_LINE_MAX || info.seq == 0))
        __builtin_trap();
    return 0;
}
