/*
 * SAS: parse a raw query string, then build the string-to-sign that fits
 * its kind, verify it and run the policy helpers.  Must never crash or
 * leak; a parsed SAS must be internally consistent.
 *
 * Decisions are also checked against a reference splitter written here
 * from the header's contract (one '&'-separated parameter at a time, the
 * name as sent, the value percent-decoded, '+' kept):
 *   - whatever the reference finds wrong at the parameter level (a known
 *     parameter repeated, empty, with a bad escape or a control character,
 *     longer than its field; sig missing, repeated or not 32 bytes of
 *     base64; sv not a date from 2020-12-06 on; too many parameters) the
 *     parser must refuse;
 *   - an accepted SAS holds exactly the reference's decoded values, its
 *     sig bytes, has_start/has_expiry for st/se, and the kind the present
 *     fields name;
 * and against itself under changes that must not matter: the parameters
 * in reverse order, an unknown parameter added; and one that must: a
 * known parameter sent twice.  abort() on any disagreement.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "encoding.h"
#include "storage_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_FIELD(f)                                      \
    {                                                     \
#f, offsetof(cf_sas, f), sizeof(((cf_sas *)0)->f) \
    }
static const struct {
    const char *name;
    size_t off, size;
} ref_fields[] = {
    REF_FIELD(sv),       REF_FIELD(ss),        REF_FIELD(srt),     REF_FIELD(sp),
    REF_FIELD(st),       REF_FIELD(se),        REF_FIELD(sip),     REF_FIELD(spr),
    REF_FIELD(sr),       REF_FIELD(si),        REF_FIELD(sdd),     REF_FIELD(ses),
    REF_FIELD(rscc),     REF_FIELD(rscd),      REF_FIELD(rsce),    REF_FIELD(rscl),
    REF_FIELD(rsct),     REF_FIELD(skoid),     REF_FIELD(sktid),   REF_FIELD(skt),
    REF_FIELD(ske),      REF_FIELD(sks),       REF_FIELD(skv),     REF_FIELD(saoid),
    REF_FIELD(suoid),    REF_FIELD(scid),      REF_FIELD(skdutid), REF_FIELD(sduoid),
    REF_FIELD(snapshot), REF_FIELD(versionid),
};
#define REF_NFIELDS (sizeof ref_fields / sizeof *ref_fields)

/* What the reference read: values NUL-terminated, "" when absent. */
typedef struct {
    bool refused; /* a parameter-level rule is broken */
    size_t params;
    char value[REF_NFIELDS][CF_SAS_FIELD_MAX + 1];
    uint8_t sig[32];
    bool has_sig;
    int first_known; /* index of a known field present, or -1 */
} ref_sas;

static int ref_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes [p, p + n) into out (room for cap bytes, plus a NUL);
 * the decoded length, or -1. */
static long ref_unescape(const char *p, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            if (n - i < 3 || ref_hex(p[i + 1]) < 0 || ref_hex(p[i + 2]) < 0)
                return -1;
            c = ref_hex(p[i + 1]) * 16 + ref_hex(p[i + 2]);
            i += 2;
        }
        if (len == cap)
            return -1;
        out[len++] = (char)c;
    }
    out[len] = 0;
    return (long)len;
}

static void ref_parameter(ref_sas *r, const char *p, size_t n)
{
    const char *eq = memchr(p, '=', n);
    size_t nlen = eq ? (size_t)(eq - p) : n;
    const char *v = eq ? eq + 1 : p + n;
    size_t vlen = eq ? n - nlen - 1 : 0;
    static char text[CF_STORAGE_MAX_QUERY + 1];
    if (nlen == 3 && memcmp(p, "sig", 3) == 0) {
        cf_buf sig;
        cf_buf_init(&sig, 64);
        long tlen = ref_unescape(v, vlen, text, CF_STORAGE_MAX_QUERY);
        if (r->has_sig || tlen < 0 || !cf_base64_decode(cf_slice_of(text, (size_t)tlen), &sig) ||
            sig.len != 32)
            r->refused = true;
        else
            memcpy(r->sig, sig.data, 32);
        r->has_sig = true;
        cf_buf_free(&sig);
        return;
    }
    for (size_t k = 0; k < REF_NFIELDS; k++) {
        if (strlen(ref_fields[k].name) != nlen || memcmp(p, ref_fields[k].name, nlen) != 0)
            continue;
        long len = ref_unescape(v, vlen, text, CF_STORAGE_MAX_QUERY);
        bool ctl = false;
        for (long i = 0; i < len; i++)
            ctl |= (unsigned char)text[i] < 0x20 || text[i] == 0x7f;
        if (r->value[k][0] || len <= 0 || ctl || (size_t)len >= ref_fields[k].size) {
            r->refused = true;
            return;
        }
        memcpy(r->value[k], text, (size_t)len + 1);
        if (r->first_known < 0)
            r->first_known = (int)k;
    }
}

static void ref_split(const char *q, ref_sas *r)
{
    memset(r, 0, sizeof *r);
    r->first_known = -1;
    size_t len = strlen(q);
    if (len > CF_STORAGE_MAX_QUERY)
        r->refused = true;
    for (size_t start = 0; start < len && !r->refused;) {
        size_t end = start;
        while (end < len && q[end] != '&')
            end++;
        if (end > start) {
            if (++r->params > CF_STORAGE_MAX_QUERY_PARAMS)
                r->refused = true;
            else
                ref_parameter(r, q + start, end - start);
        }
        start = end + 1;
    }
    const char *sv = r->value[0];
    bool sv_date = strlen(sv) == 10 && sv[4] == '-' && sv[7] == '-' &&
                   strspn(sv, "0123456789") == 4 && strspn(sv + 5, "0123456789") == 2 &&
                   strspn(sv + 8, "0123456789") == 2;
    if (!r->has_sig || !sv_date || strcmp(sv, "2020-12-06") < 0)
        r->refused = true;
}

static const char *ref_value(const ref_sas *r, const char *name)
{
    for (size_t k = 0; k < REF_NFIELDS; k++)
        if (strcmp(ref_fields[k].name, name) == 0)
            return r->value[k];
    abort();
}

/* The parser against the reference, for one query. */
static bool check_against_reference(const char *q, cf_sas *sas)
{
    static ref_sas ref;
    ref_split(q, &ref);
    bool ok = cf_sas_parse(q, sas);
    if (!ok)
        return false;
    if (ref.refused || memcmp(sas->sig, ref.sig, 32) != 0)
        abort();
    for (size_t k = 0; k < REF_NFIELDS; k++)
        if (strcmp((const char *)sas + ref_fields[k].off, ref.value[k]) != 0)
            abort();
    if (sas->has_start != (ref_value(&ref, "st")[0] != 0) ||
        sas->has_expiry != (ref_value(&ref, "se")[0] != 0))
        abort();
    bool account = ref_value(&ref, "ss")[0] || ref_value(&ref, "srt")[0];
    cf_sas_kind kind = account                       ? CF_SAS_ACCOUNT
                       : ref_value(&ref, "skoid")[0] ? CF_SAS_USER_DELEGATION
                                                     : CF_SAS_SERVICE;
    if (sas->kind != kind)
        abort();
    return true;
}

/* The query's non-empty parameters in reverse order. */
static char *reversed(const char *q)
{
    size_t len = strlen(q);
    char *out = malloc(len + 1), *o = out;
    if (!out)
        abort();
    size_t end = len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && q[start - 1] != '&')
            start--;
        if (end > start) {
            if (o != out)
                *o++ = '&';
            memcpy(o, q + start, end - start);
            o += end - start;
        }
        end = start ? start - 1 : 0;
    }
    *o = 0;
    return out;
}

/* q + "&" + extra */
static char *joined(const char *q, const char *extra)
{
    size_t a = strlen(q), b = strlen(extra);
    char *out = malloc(a + b + 2);
    if (!out)
        abort();
    memcpy(out, q, a);
    out[a] = '&';
    memcpy(out + a + 1, extra, b + 1);
    return out;
}

/* Changes that must not matter, and one that must. */
static void check_metamorphic(const char *q, bool accepted, const cf_sas *sas)
{
    cf_sas other;
    char *r = reversed(q);
    bool ok = check_against_reference(r, &other);
    if (ok != accepted || (ok && memcmp(&other, sas, sizeof other) != 0))
        abort();
    free(r);
    static ref_sas ref;
    ref_split(q, &ref);
    bool room = strlen(q) + 16 <= CF_STORAGE_MAX_QUERY && ref.params < CF_STORAGE_MAX_QUERY_PARAMS;
    if (room) {
        char *more = joined(q, "zz-unknown=1");
        ok = check_against_reference(more, &other);
        if (ok != accepted || (ok && memcmp(&other, sas, sizeof other) != 0))
            abort();
        free(more);
    }
    if (accepted && ref.first_known >= 0) {
        char extra[16];
        snprintf(extra, sizeof extra, "%s=x", ref_fields[ref.first_known].name);
        char *twice = joined(q, extra);
        if (cf_sas_parse(twice, &other))
            abort();
        free(twice);
    }
}

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
    bool accepted = check_against_reference(q, &sas);
    check_metamorphic(q, accepted, &sas);
    if (accepted) {
        if (!sas.sv[0] || (sas.kind == CF_SAS_ACCOUNT && (!sas.ss[0] || !sas.has_expiry)) ||
            (sas.kind != CF_SAS_ACCOUNT && !sas.sr[0]))
            __builtin_trap();
        cf_buf sts;
        cf_buf_init(&sts, CF_STORAGE_MAX_STS);
        bool built =
            sas.kind == CF_SAS_ACCOUNT
                ? cf_sas_string_to_sign_account(&sas, "acct1", &sts)
                : cf_sas_string_to_sign_service_blob(&sas, "acct1", "cont1", "dir/b", &sts);
        bool ok = false;
        if (built &&
            cf_sas_verify_signature(&sas, cf_buf_slice(&sts), CF_SLICE_LIT("k"), &ok) != ok)
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
