/*
 * Shared Key, Shared Key Lite and SAS: known answers from the official JS
 * SDK's own signers (vectors/storage_auth.txt), the client-quirk variants,
 * caps, and the rejects.
 */
#include <inttypes.h>

#include "encoding.h"
#include "vectors/kat.h"
#include "storage_auth.h"
#include "test.h"

#define MAX_H 32

typedef struct {
    cf_storage_request req;
    cf_storage_header h[MAX_H];
    json_t *json;
} test_req;

static void req_from_kat(test_req *t, const kat_rec *r)
{
    t->json = json_loads(kat_get(r, "headers"), 0, NULL);
    if (!t->json || json_array_size(t->json) > MAX_H)
        abort();
    size_t i;
    json_t *pair;
    json_array_foreach(t->json, i, pair)
    {
        t->h[i].name = json_string_value(json_array_get(pair, 0));
        t->h[i].value = json_string_value(json_array_get(pair, 1));
    }
    t->req = (cf_storage_request){kat_get(r, "method"), kat_get(r, "path"), kat_get(r, "query"),
                                  t->h, json_array_size(t->json)};
}

/* A JSON string field decoded into a malloc'd C string. */
static char *kat_jstr(const kat_rec *r, const char *name)
{
    json_t *j = json_loads(kat_get(r, name), JSON_DECODE_ANY, NULL);
    if (!json_is_string(j))
        abort();
    char *s = strdup(json_string_value(j));
    json_decref(j);
    return s;
}

static void kat_key(const kat_rec *r, cf_buf *key)
{
    cf_buf_init(key, 128);
    if (!cf_base64_decode(CF_SLICE_STR(kat_get(r, "key")), key))
        abort();
}

static bool sts_is(const cf_storage_request *req, bool lite, unsigned variant, const char *want)
{
    cf_buf out;
    cf_buf_init(&out, CF_STORAGE_MAX_STS);
    bool ok = cf_sharedkey_string_to_sign_ex(req, "acct1", lite, variant, &out) &&
              cf_slice_eq_str(cf_buf_slice(&out), want);
    if (!ok)
        fprintf(stderr, "  got: %.*s\n", (int)out.len, out.data ? (char *)out.data : "");
    cf_buf_free(&out);
    return ok;
}

static bool verify_fails(const cf_storage_request *req, const char *account, cf_slice key,
                         const char *authz, cf_err want)
{
    bool ok = true;
    return !cf_sharedkey_verify(req, account, key, authz, &ok) && !ok && cf_error_code() == want;
}

static void check_sharedkey_record(const kat_rec *r, bool lite)
{
    const char *name = kat_get(r, "name");
    fprintf(stderr, "   %s\n", name);
    test_req t;
    req_from_kat(&t, r);
    cf_buf key;
    kat_key(r, &key);
    char *want = kat_jstr(r, "string_to_sign");
    const char *authz = kat_get(r, "authorization");

    if (lite) {
        CHECK(sts_is(&t.req, true, CF_SHAREDKEY_SPEC, want));
    } else {
        if (strcmp(name, "odd_meta_names") == 0) {
            /* The SDK orders these names by a Windows collation Coffer does
             * not implement yet (storage_auth.h): a known gap, pinned here
             * so that closing it shows up as a test to update. */
            CHECK(!sts_is(&t.req, false, CF_SHAREDKEY_SPEC, want));
            CHECK(!sts_is(&t.req, false, CF_SHAREDKEY_JS, want));
            free(want);
            cf_buf_free(&key);
            json_decref(t.json);
            return;
        }
        /* The SDK's exact form... */
        CHECK(sts_is(&t.req, false, CF_SHAREDKEY_JS, want));
        /* ...which is the documented form unless a known quirk applies. */
        if (strcmp(name, "content_encoding_language") == 0) {
            CHECK(!sts_is(&t.req, false, CF_SHAREDKEY_SPEC, want));
            CHECK(sts_is(&t.req, false, CF_SHAREDKEY_LANG_FIRST, want));
        } else {
            CHECK(sts_is(&t.req, false, CF_SHAREDKEY_SPEC, want));
        }
    }
    bool ok = false;
    CHECK(cf_sharedkey_verify(&t.req, "acct1", cf_buf_slice(&key), authz, &ok) && ok);

    /* Wrong account, wrong key, other scheme. */
    CHECK(verify_fails(&t.req, "acct2", cf_buf_slice(&key), authz, CF_ERR_UNAUTHORIZED));
    key.data[0] ^= 1;
    CHECK(verify_fails(&t.req, "acct1", cf_buf_slice(&key), authz, CF_ERR_UNAUTHORIZED));
    key.data[0] ^= 1;
    char other[600];
    snprintf(other, sizeof other, "%s%s", lite ? "SharedKey " : "SharedKeyLite ",
             strchr(authz, ' ') + 1);
    CHECK(verify_fails(&t.req, "acct1", cf_buf_slice(&key), other, CF_ERR_UNAUTHORIZED));

    /* Tampered header value, path and query. */
    test_req m = t;
    m.req.headers = m.h;
    for (size_t i = 0; i < m.req.n_headers; i++)
        if (strcasecmp(m.h[i].name, "x-ms-date") == 0)
            m.h[i].value = "Sun, 29 Nov 2026 00:24:56 GMT";
    CHECK(verify_fails(&m.req, "acct1", cf_buf_slice(&key), authz, CF_ERR_UNAUTHORIZED));
    m = t;
    m.req.path = "/acct1/cont1/other";
    CHECK(verify_fails(&m.req, "acct1", cf_buf_slice(&key), authz, CF_ERR_UNAUTHORIZED));
    m = t;
    char q[512];
    snprintf(q, sizeof q, "%s%scomp=tags", t.req.query, t.req.query[0] ? "&" : "");
    m.req.query = q;
    CHECK(verify_fails(&m.req, "acct1", cf_buf_slice(&key), authz, CF_ERR_UNAUTHORIZED));
    /* An extra signed header. */
    m = t;
    m.h[m.req.n_headers] = (cf_storage_header){"x-ms-meta-extra", "1"};
    m.req.headers = m.h;
    m.req.n_headers++;
    CHECK(verify_fails(&m.req, "acct1", cf_buf_slice(&key), authz, CF_ERR_UNAUTHORIZED));

    free(want);
    cf_buf_free(&key);
    json_decref(t.json);
}

static void check_sas_record(const kat_rec *r, bool account)
{
    fprintf(stderr, "   %s\n", kat_get(r, "name"));
    cf_buf key;
    kat_key(r, &key);
    char *want = kat_jstr(r, "string_to_sign");
    const char *query = kat_get(r, "query");
    char full[2048];
    const char *extra = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], "snapshot") == 0 || strcmp(r->name[i], "versionid") == 0)
            extra = r->name[i];
    /* bs/bv SAS sign the request's own snapshot/versionid parameter. */
    if (extra)
        snprintf(full, sizeof full, "%s=%s&%s", extra, kat_get(r, extra), query);
    else
        snprintf(full, sizeof full, "%s", query);

    cf_sas sas;
    CHECK(cf_sas_in_query(full));
    CHECK(cf_sas_parse(full, &sas));
    CHECK(sas.kind == (account ? CF_SAS_ACCOUNT : CF_SAS_SERVICE));
    cf_buf sig;
    cf_buf_init(&sig, 64);
    CHECK(cf_base64_decode(CF_SLICE_STR(kat_get(r, "sig")), &sig) && sig.len == 32 &&
          memcmp(sig.data, sas.sig, 32) == 0);
    cf_buf sts;
    cf_buf_init(&sts, CF_STORAGE_MAX_STS);
    if (account)
        CHECK(cf_sas_string_to_sign_account(&sas, "acct1", &sts));
    else
        CHECK(cf_sas_string_to_sign_service_blob(&sas, "acct1", kat_get(r, "container"),
                                                 kat_get(r, "blob"), &sts));
    CHECK(cf_slice_eq_str(cf_buf_slice(&sts), want));
    bool ok = false;
    CHECK(cf_sas_verify_signature(&sas, cf_buf_slice(&sts), cf_buf_slice(&key), &ok) && ok);
    key.data[5] ^= 0x80;
    CHECK(!cf_sas_verify_signature(&sas, cf_buf_slice(&sts), cf_buf_slice(&key), &ok) && !ok &&
          cf_error_code() == CF_ERR_UNAUTHORIZED);
    key.data[5] ^= 0x80;
    /* Tampered: another account, and a different blob name. */
    cf_buf_clear(&sts);
    if (account) {
        CHECK(cf_sas_string_to_sign_account(&sas, "acct2", &sts));
    } else {
        CHECK(cf_sas_string_to_sign_service_blob(&sas, "acct1", "cont2", kat_get(r, "blob"), &sts));
    }
    CHECK(!cf_sas_verify_signature(&sas, cf_buf_slice(&sts), cf_buf_slice(&key), &ok) &&
          cf_error_code() == CF_ERR_UNAUTHORIZED);
    /* Tampered permissions in the query. */
    cf_sas sas2 = sas;
    sas2.sp[0] = sas2.sp[0] == 'r' ? 'w' : 'r';
    cf_buf_clear(&sts);
    if (account)
        CHECK(cf_sas_string_to_sign_account(&sas2, "acct1", &sts));
    else
        CHECK(cf_sas_string_to_sign_service_blob(&sas2, "acct1", kat_get(r, "container"),
                                                 kat_get(r, "blob"), &sts));
    CHECK(!cf_sas_verify_signature(&sas2, cf_buf_slice(&sts), cf_buf_slice(&key), &ok));
    cf_buf_free(&sts);
    cf_buf_free(&sig);
    cf_buf_free(&key);
    free(want);
}

static void test_vectors(void)
{
    kat_file k;
    kat_rec r;
    int n = 0;
    kat_open(&k, "storage_auth.txt");
    while (kat_next(&k, &r)) {
        const char *kind = kat_get(&r, "kind");
        if (strcmp(kind, "sharedkey") == 0)
            check_sharedkey_record(&r, false);
        else if (strcmp(kind, "sharedkeylite") == 0)
            check_sharedkey_record(&r, true);
        else if (strcmp(kind, "sas_account") == 0)
            check_sas_record(&r, true);
        else if (strcmp(kind, "sas_service") == 0)
            check_sas_record(&r, false);
        else
            abort();
        n++;
    }
    CHECK(n == 18);
    kat_close(&k);
}

/* ---- Shared Key rules on hand-built requests ---- */

#define REQ(m, p, q, hs) ((cf_storage_request){(m), (p), (q), (hs), sizeof(hs) / sizeof *(hs)})

static void test_sharedkey_rules(void)
{
    cf_storage_header h1[] = {{"Content-Length", "0"},
                              {"X-MS-Meta-B", "  a \t  b  "},
                              {"x-ms-date", "d"},
                              {"content-type", "t"}};
    cf_storage_request req = REQ("get", "/acct1/c/b%2F", "Comp=x&b=2&a=&b=1&empty", h1);
    CHECK(sts_is(&req, false, CF_SHAREDKEY_SPEC,
                 "GET\n\n\n\n\nt\n\n\n\n\n\n\nx-ms-date:d\nx-ms-meta-b:a b\n"
                 "/acct1/acct1/c/b%2F\na:\nb:1,2\ncomp:x\nempty:"));
    CHECK(sts_is(&req, false, CF_SHAREDKEY_NO_FOLD | CF_SHAREDKEY_JS_QUERY,
                 "GET\n\n\n\n\nt\n\n\n\n\n\n\nx-ms-date:d\nx-ms-meta-b:a \t  b  \n"
                 "/acct1/acct1/c/b%2F\nb:1\ncomp:x"));
    CHECK(sts_is(&req, true, CF_SHAREDKEY_SPEC,
                 "GET\n\nt\n\nx-ms-date:d\nx-ms-meta-b:a b\n/acct1/acct1/c/b%2F?comp=x"));

    cf_buf out;
    cf_buf_init(&out, CF_STORAGE_MAX_STS);
    CHECK(!cf_sharedkey_string_to_sign_ex(&req, "acct1", false, 99, &out));

    /* Duplicate signed headers are refused, standard or x-ms-. */
    cf_storage_header dup1[] = {{"Range", "bytes=0-1"}, {"range", "bytes=0-2"}};
    cf_storage_header dup2[] = {{"x-ms-meta-a", "1"}, {"X-Ms-Meta-A", "2"}};
    cf_storage_request d1 = REQ("GET", "/a/c", "", dup1), d2 = REQ("GET", "/a/c", "", dup2);
    CHECK(!cf_sharedkey_string_to_sign(&d1, "acct1", false, &out) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_sharedkey_string_to_sign(&d2, "acct1", true, &out) &&
          cf_error_code() == CF_ERR_BAD_INPUT);

    /* Malformed views. */
    cf_storage_header ok_h[] = {{"x-ms-date", "d"}};
    const char *bad_paths[] = {"", "acct1/c", "/a b", "/a\nb", "/a?b"};
    for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
        cf_storage_request b = REQ("GET", bad_paths[i], NULL, ok_h);
        CHECK(!cf_sharedkey_string_to_sign(&b, "acct1", false, &out) &&
              cf_error_code() == CF_ERR_BAD_INPUT);
    }
    const char *bad_queries[] = {"a=%zz", "a=%0a", "=x", "a=\n"};
    for (size_t i = 0; i < sizeof bad_queries / sizeof *bad_queries; i++) {
        cf_storage_request b = REQ("GET", "/a", bad_queries[i], ok_h);
        CHECK(!cf_sharedkey_string_to_sign(&b, "acct1", false, &out) &&
              cf_error_code() == CF_ERR_BAD_INPUT);
    }
    cf_storage_header bad_h[][1] = {
        {{"x-ms-a b", "1"}}, {{"", "1"}}, {{"x-ms-a", "1\r\n2"}}, {{"x-ms-\xc3\xa9", "1"}}};
    for (size_t i = 0; i < sizeof bad_h / sizeof *bad_h; i++) {
        cf_storage_request b = REQ("GET", "/a", NULL, bad_h[i]);
        CHECK(!cf_sharedkey_string_to_sign(&b, "acct1", false, &out) &&
              cf_error_code() == CF_ERR_BAD_INPUT);
    }
    cf_storage_request bm = REQ("G T", "/a", NULL, ok_h);
    CHECK(!cf_sharedkey_string_to_sign(&bm, "acct1", false, &out));
    CHECK(!cf_sharedkey_string_to_sign(&req, "", false, &out));
    CHECK(!cf_sharedkey_string_to_sign(&req, "a\nb", false, &out));
    cf_buf_free(&out);
}

static void test_sharedkey_caps(void)
{
    cf_buf out;
    cf_buf_init(&out, CF_STORAGE_MAX_STS);
    char *big = malloc(CF_STORAGE_MAX_QUERY + 2);
    cf_storage_header one[] = {{"x-ms-date", "d"}};

    memset(big, 'a', CF_STORAGE_MAX_PATH + 1);
    big[0] = '/';
    big[CF_STORAGE_MAX_PATH + 1] = 0;
    cf_storage_request r = REQ("GET", big, NULL, one);
    CHECK(!cf_sharedkey_string_to_sign(&r, "acct1", false, &out) &&
          cf_error_code() == CF_ERR_TOO_LARGE);
    big[CF_STORAGE_MAX_PATH] = 0; /* exactly at the cap is fine */
    CHECK(cf_sharedkey_string_to_sign(&r, "acct1", false, &out));
    cf_buf_clear(&out);

    memset(big, 'q', CF_STORAGE_MAX_QUERY + 1);
    big[CF_STORAGE_MAX_QUERY + 1] = 0;
    r = REQ("GET", "/a", big, one);
    CHECK(!cf_sharedkey_string_to_sign(&r, "acct1", false, &out) &&
          cf_error_code() == CF_ERR_TOO_LARGE);

    /* 65 query parameters. */
    size_t n = 0;
    for (int i = 0; i < 65; i++) {
        big[n++] = 'p';
        big[n++] = (char)('0' + i / 10);
        big[n++] = (char)('0' + i % 10);
        big[n++] = '&';
    }
    big[n] = 0;
    r = REQ("GET", "/a", big, one);
    CHECK(!cf_sharedkey_string_to_sign(&r, "acct1", false, &out) &&
          cf_error_code() == CF_ERR_TOO_LARGE);

    /* 129 x-ms- headers; 128 are fine. */
    static cf_storage_header many[CF_STORAGE_MAX_XMS_HEADERS + 1];
    static char names[CF_STORAGE_MAX_XMS_HEADERS + 1][16];
    for (int i = 0; i <= CF_STORAGE_MAX_XMS_HEADERS; i++) {
        snprintf(names[i], sizeof names[i], "x-ms-meta-%03d", i);
        many[i] = (cf_storage_header){names[i], "v"};
    }
    r = (cf_storage_request){"GET", "/a", NULL, many, CF_STORAGE_MAX_XMS_HEADERS + 1};
    CHECK(!cf_sharedkey_string_to_sign(&r, "acct1", false, &out) &&
          cf_error_code() == CF_ERR_TOO_LARGE);
    r.n_headers--;
    CHECK(cf_sharedkey_string_to_sign(&r, "acct1", false, &out));
    cf_buf_clear(&out);

    /* A header value past its cap, and a string-to-sign past 64 KiB. */
    char *val = malloc(CF_STORAGE_MAX_HEADER_VALUE + 2);
    memset(val, 'v', CF_STORAGE_MAX_HEADER_VALUE + 1);
    val[CF_STORAGE_MAX_HEADER_VALUE + 1] = 0;
    cf_storage_header bigh[] = {{"x-ms-meta-a", val}};
    r = REQ("GET", "/a", NULL, bigh);
    CHECK(!cf_sharedkey_string_to_sign(&r, "acct1", false, &out) &&
          cf_error_code() == CF_ERR_TOO_LARGE);
    val[CF_STORAGE_MAX_HEADER_VALUE] = 0;
    for (int i = 0; i < 9; i++)
        many[i].value = val;
    r = (cf_storage_request){"GET", "/a", NULL, many, 9};
    CHECK(!cf_sharedkey_string_to_sign(&r, "acct1", false, &out) &&
          cf_error_code() == CF_ERR_TOO_LARGE);
    free(val);
    free(big);
    cf_buf_free(&out);
}

static void test_authorization_malformed(void)
{
    cf_storage_header h[] = {{"x-ms-date", "d"}};
    cf_storage_request req = REQ("GET", "/acct1/c", NULL, h);
    cf_slice key = CF_SLICE_LIT("0123456789abcdef");
    const char *bad[] = {"",
                         "SharedKey",
                         "SharedKey ",
                         "sharedkey acct1:uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fw=",
                         "Bearer abc",
                         "SharedKey acct1",
                         "SharedKey :uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fw=",
                         "SharedKey acct1:",
                         "SharedKey acct1:!!!!",
                         "SharedKey acct1:AAAA",
                         "SharedKey  acct1:uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fw=",
                         "SharedKey acct1:uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fw= ",
                         "SharedKey acct1:uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fwAAAA="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!verify_fails(&req, "acct1", key, bad[i], CF_ERR_BAD_INPUT)) {
            fprintf(stderr, "  not refused as bad input: '%s'\n", bad[i]);
            CHECK(false);
        }
    }
    /* The right shape for another account is an authentication failure. */
    CHECK(verify_fails(
        &req, "acct1", key,
        "SharedKey acct2:uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fw=", CF_ERR_UNAUTHORIZED));
    CHECK(verify_fails(
        &req, "acct1", key,
        "SharedKey acct1:uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fw=", CF_ERR_UNAUTHORIZED));
    char *big = malloc(CF_STORAGE_MAX_AUTHZ + 16);
    snprintf(big, CF_STORAGE_MAX_AUTHZ + 16, "SharedKey acct1:");
    memset(big + 16, 'A', CF_STORAGE_MAX_AUTHZ);
    big[CF_STORAGE_MAX_AUTHZ + 8] = 0;
    CHECK(verify_fails(&req, "acct1", key, big, CF_ERR_TOO_LARGE));
    free(big);
    bool ok = true;
    CHECK(!cf_sharedkey_verify(&req, "acct1", key, NULL, &ok) && !ok);
    CHECK(
        !cf_sharedkey_verify(&req, "acct1", cf_slice_of(NULL, 0),
                             "SharedKey acct1:uA5Xiarj/fhUzm3eLlrOfiSD3RE+4/zrlJZvD0q12fw=", &ok));
}

/* ---- SAS ---- */

#define SIG "sig=R9QpSDNDslzLtDAX65s8U8zacoCay1E07AynJct%2FDtw%3D"
#define SVC "sv=2026-04-06&se=2026-11-29T01%3A24%3A55Z&sr=b&sp=r&"
#define ACC "sv=2026-04-06&ss=b&srt=sco&se=2026-11-29T01%3A24%3A55Z&sp=rwdlac&"

static void test_sas_parse_rejects(void)
{
    const char *bad[] = {
        "sv=2026-04-06&se=2026-11-29&sr=b&sp=r",                         /* no sig */
        SVC "sig=AAAA",                                                  /* short sig */
        SVC "sig=%%%",                                                   /* bad escape */
        SVC SIG "&" SIG,                                                 /* duplicate sig */
        SVC "sp=r&" SIG,                                                 /* duplicate sp */
        "sv=2019-12-12&se=2026-11-29&sr=b&sp=r&" SIG,                    /* old sv */
        "sv=2026-4-06&se=2026-11-29&sr=b&sp=r&" SIG,                     /* bad sv */
        "se=2026-11-29&sr=b&sp=r&" SIG,                                  /* no sv */
        "sv=2026-04-06&se=2026-11-29&sr=x&sp=r&" SIG,                    /* bad sr */
        "sv=2026-04-06&se=2026-11-29&sr=b&sp=rq&" SIG,                   /* bad permission */
        "sv=2026-04-06&se=2026-11-29&sr=b&sp=rr&" SIG,                   /* repeated permission */
        "sv=2026-04-06&se=2026-11-29&sr=b&sp=&" SIG,                     /* empty value */
        "sv=2026-04-06&se=2026-11-29&sr=b&" SIG,                         /* no sp, no si */
        "sv=2026-04-06&sr=b&sp=r&" SIG,                                  /* no se, no si */
        "sv=2026-04-06&se=2026-11-29T01:24:55&sr=b&sp=r&" SIG,           /* no Z */
        "sv=2026-04-06&se=2026-11-29T01:24:55%2B01:00&sr=b&sp=r&" SIG,   /* offset */
        "sv=2026-04-06&se=2026-02-30&sr=b&sp=r&" SIG,                    /* no such day */
        "sv=2026-04-06&se=2026-11-29T24:00:00Z&sr=b&sp=r&" SIG,          /* hour 24 */
        "sv=2026-04-06&se=2026-11-29T01:24:55.12345678Z&sr=b&sp=r&" SIG, /* 8 digits */
        "sv=2026-04-06&se=29-11-2026&sr=b&sp=r&" SIG,                    /* not ISO */
        SVC "sip=10.0.0.300&" SIG,                                       /* bad IP */
        SVC "sip=10.0.0.9-10.0.0.1&" SIG,                                /* reversed range */
        SVC "sip=10.0.0.1-%3A%3A1&" SIG,                                 /* mixed families */
        SVC "spr=http&" SIG,                                             /* bad protocol */
        SVC "spr=http,https&" SIG,                                       /* order is fixed */
        SVC "ses=a%20b&" SIG,                                            /* bad scope */
        SVC "ss=b&" SIG,                                                 /* mixed kinds */
        SVC "skoid=x&" SIG,                                              /* partial delegation */
        "sv=2026-04-06&se=2026-11-29&sr=bs&sp=r&" SIG,                   /* bs without snapshot */
        "sv=2026-04-06&se=2026-11-29&sr=d&sp=r&" SIG,                    /* d without sdd */
        "sv=2026-04-06&se=2026-11-29&sr=b&sdd=1&sp=r&" SIG,              /* sdd without d */
        ACC "ss=x&" SIG,                                                 /* dup ss */
        "sv=2026-04-06&ss=x&srt=sco&se=2026-11-29&sp=r&" SIG,            /* bad ss */
        "sv=2026-04-06&ss=b&srt=scx&se=2026-11-29&sp=r&" SIG,            /* bad srt */
        "sv=2026-04-06&ss=b&srt=sco&se=2026-11-29&sp=m&" SIG,            /* bad account perm */
        "sv=2026-04-06&ss=b&srt=sco&sp=r&" SIG,                          /* account, no se */
        "sv=2026-04-06&ss=b&srt=sco&se=2026-11-29&sp=r&si=p&" SIG,       /* account + si */
        SVC "rscc=a%0Ab&" SIG,                                           /* control character */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cf_sas sas;
        if (cf_sas_parse(bad[i], &sas) || cf_error_code() != CF_ERR_BAD_INPUT) {
            fprintf(stderr, "  accepted or wrong error: %s\n", bad[i]);
            CHECK(false);
        }
    }
    /* Caps. */
    cf_sas sas;
    char *big = malloc(CF_STORAGE_MAX_QUERY + 2);
    memset(big, 'a', CF_STORAGE_MAX_QUERY + 1);
    big[CF_STORAGE_MAX_QUERY + 1] = 0;
    CHECK(!cf_sas_parse(big, &sas) && cf_error_code() == CF_ERR_TOO_LARGE);
    int n = snprintf(big, 64, "%s", SVC "rscc=");
    memset(big + n, 'x', CF_SAS_FIELD_MAX);
    snprintf(big + n + CF_SAS_FIELD_MAX, 64, "%s", "&" SIG);
    CHECK(!cf_sas_parse(big, &sas) && cf_error_code() == CF_ERR_TOO_LARGE);
    free(big);

    /* Accepted: other parameters ignored, order-insensitive permissions,
     * date-only and fractional times, IPv6, the directory form. */
    const char *good[] = {
        "comp=list&restype=container&sv=2026-04-06&se=2026-11-29&sr=c&sp=lr&" SIG,
        "sv=2026-04-06&st=2026-11-29T00:14Z&se=2026-11-29T01:24:55.1234567Z&sr=b&sp=wr&" SIG,
        SVC "sip=%3A%3A1-%3A%3Aff&spr=https&ses=scope-1&" SIG,
        "sv=2026-04-06&se=2026-11-29&sr=d&sdd=2&sp=r&" SIG,
        "sv=2026-04-06&si=pol1&sr=c&" SIG,
        "sv=2026-04-06&ss=fb&srt=os&se=2028-02-29&sp=lr&" SIG,
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!cf_sas_parse(good[i], &sas)) {
            fprintf(stderr, "  rejected: %s (%s)\n", good[i], cf_error_detail());
            CHECK(false);
        }
    }
    CHECK(!cf_sas_in_query("sv=1&xsig=2"));
    CHECK(cf_sas_in_query("a=1&sig=2"));
}

static void test_sas_time(void)
{
    int64_t t;
    CHECK(cf_sas_parse_time("1970-01-01", &t) && t == 0);
    CHECK(cf_sas_parse_time("2026-11-29T01:24:55Z", &t) && t == INT64_C(1795915495));
    CHECK(cf_sas_parse_time("2026-11-29T01:24:55.9999999Z", &t) && t == INT64_C(1795915495));
    CHECK(cf_sas_parse_time("2026-11-29T01:24Z", &t) && t == INT64_C(1795915440));
    CHECK(cf_sas_parse_time("2000-02-29", &t) && t == INT64_C(951782400));
    CHECK(!cf_sas_parse_time("1900-02-29", &t));
    CHECK(!cf_sas_parse_time("2026-11-29T01:24:55.Z", &t));
    CHECK(!cf_sas_parse_time("2026-11-29T01:24:60Z", &t));
    CHECK(!cf_sas_parse_time("2026-11-29Z", &t));
    CHECK(!cf_sas_parse_time("2026-11-29T01:24:55Zx", &t));

    cf_sas sas;
    CHECK(cf_sas_parse(
        "sv=2026-04-06&st=2026-11-29T00:14:55Z&se=2026-11-29T01:24:55Z&sr=b&sp=r&" SIG, &sas));
    CHECK(sas.has_start && sas.start == INT64_C(1795911295) && sas.expiry == INT64_C(1795915495));
    CHECK(!cf_sas_check_time(&sas, sas.start - 1) && cf_error_code() == CF_ERR_UNAUTHORIZED);
    CHECK(cf_sas_check_time(&sas, sas.start));
    CHECK(cf_sas_check_time(&sas, sas.expiry - 1));
    CHECK(!cf_sas_check_time(&sas, sas.expiry) && cf_error_code() == CF_ERR_UNAUTHORIZED);
    CHECK(cf_sas_parse("sv=2026-04-06&si=pol1&sr=c&" SIG, &sas));
    CHECK(!cf_sas_check_time(&sas, 0) && cf_error_code() == CF_ERR_UNAUTHORIZED);
}

static void test_sas_ip_protocol_permits(void)
{
    cf_sas sas;
    CHECK(cf_sas_parse(SVC "sip=10.0.0.1-10.0.0.255&spr=https&" SIG, &sas));
    CHECK(cf_sas_check_ip(&sas, "10.0.0.1"));
    CHECK(cf_sas_check_ip(&sas, "10.0.0.255"));
    CHECK(cf_sas_check_ip(&sas, "::ffff:10.0.0.7"));
    CHECK(!cf_sas_check_ip(&sas, "10.0.1.0") && cf_error_code() == CF_ERR_FORBIDDEN);
    CHECK(!cf_sas_check_ip(&sas, "10.0.0.0") && cf_error_code() == CF_ERR_FORBIDDEN);
    CHECK(!cf_sas_check_ip(&sas, "::1") && cf_error_code() == CF_ERR_FORBIDDEN);
    CHECK(!cf_sas_check_ip(&sas, "nonsense") && cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(cf_sas_check_protocol(&sas, true));
    CHECK(!cf_sas_check_protocol(&sas, false) && cf_error_code() == CF_ERR_FORBIDDEN);
    CHECK(cf_sas_permits(&sas, 'r') && !cf_sas_permits(&sas, 'w') && !cf_sas_permits(&sas, 0));
    CHECK(!cf_sas_permits_service(&sas, 'b'));

    CHECK(cf_sas_parse(SVC "sip=127.0.0.1&spr=https,http&" SIG, &sas));
    CHECK(cf_sas_check_ip(&sas, "127.0.0.1"));
    CHECK(!cf_sas_check_ip(&sas, "127.0.0.2"));
    CHECK(cf_sas_check_protocol(&sas, false));
    CHECK(cf_sas_parse(SVC SIG, &sas));
    CHECK(cf_sas_check_ip(&sas, "192.0.2.1") && cf_sas_check_protocol(&sas, false));

    CHECK(cf_sas_parse(ACC SIG, &sas));
    CHECK(sas.kind == CF_SAS_ACCOUNT);
    CHECK(cf_sas_permits_service(&sas, 'b') && !cf_sas_permits_service(&sas, 'q'));
    CHECK(cf_sas_permits_resource_type(&sas, 'o') && cf_sas_permits_resource_type(&sas, 's'));
    CHECK(cf_sas_permits(&sas, 'l') && !cf_sas_permits(&sas, 'x'));
    cf_buf out;
    cf_buf_init(&out, 4096);
    CHECK(!cf_sas_string_to_sign_service_blob(&sas, "acct1", "c", "b", &out));
    CHECK(cf_sas_parse(SVC SIG, &sas));
    CHECK(!cf_sas_string_to_sign_account(&sas, "acct1", &out));
    CHECK(
        !cf_sas_string_to_sign_service_blob(&sas, "acct1", "c", "", &out)); /* sr=b needs a blob */
    CHECK(!cf_sas_string_to_sign_service_blob(&sas, "acct1", "", "b", &out));
    CHECK(cf_sas_parse("sv=2026-04-06&sr=b&skoid=o&sktid=t&skt=2026-11-29&ske=2026-11-30&sks=b"
                       "&skv=2026-04-06&se=2026-11-29&sp=r&" SIG,
                       &sas));
    CHECK(sas.kind == CF_SAS_USER_DELEGATION);
    /* The key's fields where si was; 2025-07-05's delegated user and
     * 2026-04-06's signed headers and query, empty. */
    cf_buf_clear(&out);
    CHECK(cf_sas_string_to_sign_service_blob(&sas, "acct1", "c", "b", &out));
    static const char udk2026[] = "r\n\n2026-11-29\n/blob/acct1/c/b\no\nt\n2026-11-29\n"
                                  "2026-11-30\nb\n2026-04-06\n\n\n\n\n\n\n\n2026-04-06\nb"
                                  "\n\n\n\n\n\n\n\n\n";
    CHECK(out.len == strlen(udk2026) && memcmp(out.data, udk2026, out.len) == 0);
    CHECK(cf_sas_parse("sv=2024-11-04&sr=c&skoid=o&sktid=t&skt=2026-11-29&ske=2026-11-30&sks=b"
                       "&skv=2024-11-04&se=2026-11-29&sp=rl&" SIG,
                       &sas));
    cf_buf_clear(&out);
    CHECK(cf_sas_string_to_sign_service_blob(&sas, "acct1", "c", NULL, &out));
    static const char udk2020[] = "rl\n\n2026-11-29\n/blob/acct1/c\no\nt\n2026-11-29\n"
                                  "2026-11-30\nb\n2024-11-04\n\n\n\n\n\n2024-11-04\nc"
                                  "\n\n\n\n\n\n\n";
    CHECK(out.len == strlen(udk2020) && memcmp(out.data, udk2020, out.len) == 0);
    cf_buf_free(&out);
}

static void test_sas_policy(void)
{
    cf_sas sas;
    CHECK(cf_sas_parse("sv=2026-04-06&si=pol1&sr=c&" SIG, &sas));
    cf_sas_policy full = {true, true, 100, 200, "rl"};
    cf_sas s1 = sas;
    CHECK(cf_sas_apply_policy(&s1, &full));
    CHECK(cf_sas_permits(&s1, 'l') && cf_sas_check_time(&s1, 150) && !cf_sas_check_time(&s1, 200));
    cf_sas_policy none = {false, false, 0, 0, NULL};
    s1 = sas;
    CHECK(!cf_sas_apply_policy(&s1, &none) && cf_error_code() == CF_ERR_UNAUTHORIZED);
    cf_sas_policy badp = {false, true, 0, 200, "rq"};
    s1 = sas;
    CHECK(!cf_sas_apply_policy(&s1, &badp) && cf_error_code() == CF_ERR_UNAUTHORIZED);
    /* A field in both places. */
    CHECK(cf_sas_parse("sv=2026-04-06&si=pol1&sr=c&se=2026-11-29&" SIG, &sas));
    s1 = sas;
    CHECK(!cf_sas_apply_policy(&s1, &full) && cf_error_code() == CF_ERR_UNAUTHORIZED);
    cf_sas_policy perms_only = {false, false, 0, 0, "r"};
    s1 = sas;
    CHECK(cf_sas_apply_policy(&s1, &perms_only) && cf_sas_permits(&s1, 'r'));
    /* Not a policy SAS. */
    CHECK(cf_sas_parse(SVC SIG, &sas));
    CHECK(!cf_sas_apply_policy(&sas, &perms_only) && cf_error_code() == CF_ERR_BAD_INPUT);
}

int main(void)
{
    if (!cf_crypto_init())
        return 1;
    RUN(test_vectors);
    RUN(test_sharedkey_rules);
    RUN(test_sharedkey_caps);
    RUN(test_authorization_malformed);
    RUN(test_sas_parse_rejects);
    RUN(test_sas_time);
    RUN(test_sas_ip_protocol_permits);
    RUN(test_sas_policy);
    TEST_DONE();
}
