/*
 * Set Container ACL and Set Blob Service Properties bodies (the first byte
 * picks which): must never crash or leak; whatever parses must render, and
 * the rendering must parse back to the same thing (the canonical form is a
 * fixed point), and merging it into the defaults must work.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_acl(cf_slice in)
{
    cf_blob_acl acl, back;
    memset(&acl, 0, sizeof acl);
    memset(&back, 0, sizeof back);
    if (!cf_blob_xml_parse_acl(in, &acl))
        return;
    if (acl.n > CF_BLOB_ACL_MAX)
        __builtin_trap();
    cf_buf out;
    cf_buf_init(&out, 1 << 16);
    if (!cf_blob_xml_render_acl(&acl, &out) || !cf_blob_xml_parse_acl(cf_buf_slice(&out), &back) ||
        back.n != acl.n || memcmp(back.policies, acl.policies, sizeof acl.policies) != 0)
        __builtin_trap();
    cf_buf_free(&out);
}

static void fuzz_props(cf_slice in)
{
    cf_blob_service_props p, q, stored;
    if (!cf_blob_xml_parse_service_props(in, &p))
        return;
    cf_buf a, b;
    cf_buf_init(&a, 1 << 20);
    cf_buf_init(&b, 1 << 20);
    if (!cf_blob_xml_render_service_props(&p, &a) ||
        !cf_blob_xml_parse_service_props(cf_buf_slice(&a), &q) ||
        !cf_blob_xml_render_service_props(&q, &b) || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        __builtin_trap();
    cf_blob_service_props_init(&stored);
    if (!cf_blob_service_props_merge(&stored, &p))
        __builtin_trap();
    cf_blob_service_props_free(&p); /* the merge holds its own copies */
    cf_buf_clear(&a);
    if (!cf_blob_xml_render_service_props(&stored, &a))
        __builtin_trap();
    cf_blob_service_props_free(&stored);
    cf_blob_service_props_free(&q);
    cf_buf_free(&a);
    cf_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    cf_slice in = cf_slice_of(data + 1, size - 1);
    if (data[0] & 1)
        fuzz_props(in);
    else
        fuzz_acl(in);
    return 0;
}
