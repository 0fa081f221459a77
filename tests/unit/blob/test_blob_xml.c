/*
 * blob_xml: the writer (escaping, shapes, caps), and the three request
 * parsers with their renderers: good bodies, every rejection with its Azure
 * reason, caps, DTD/entity refusal, and render -> parse round trips.
 */
#include <stdint.h>

#include "blob_xml.h"
#include "test.h"

static bool reason_is(const char *want)
{
    const char *r = cf_error_reason();
    if (!r || strcmp(r, want) != 0) {
        fprintf(stderr, "  reason %s (%s), want %s\n", r ? r : "(none)", cf_error_detail(), want);
        return false;
    }
    return true;
}

static bool buf_is(const cf_buf *b, const char *want)
{
    bool ok = b->len == strlen(want) && memcmp(b->data, want, b->len) == 0;
    if (!ok)
        fprintf(stderr, "  got  %.*s\n  want %s\n", (int)b->len, (const char *)b->data, want);
    return ok;
}

/* ---- writer ---- */

static void test_writer_shapes(void)
{
    cf_buf b;
    cf_buf_init(&b, 4096);
    cf_xml_writer w;
    cf_xml_writer_init(&w, &b);
    CHECK(cf_xml_declaration(&w));
    CHECK(cf_xml_open(&w, "EnumerationResults"));
    CHECK(cf_xml_attr(&w, "ServiceEndpoint", CF_SLICE_LIT("http://h/a?x=1&y=\"2\"")));
    CHECK(cf_xml_empty(&w, "Prefix"));
    CHECK(cf_xml_element_i64(&w, "MaxResults", 5000));
    CHECK(cf_xml_element_i64(&w, "Neg", -42));
    CHECK(cf_xml_element_bool(&w, "T", true));
    CHECK(cf_xml_element_str(&w, "Empty", ""));
    CHECK(cf_xml_element(&w, "Name", CF_SLICE_LIT("a<b>&c")));
    CHECK(cf_xml_open(&w, "Blobs"));
    CHECK(cf_xml_close(&w));
    CHECK(!cf_xml_finish(&w));
    CHECK(cf_xml_close(&w));
    CHECK(cf_xml_finish(&w));
    CHECK(buf_is(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults "
                     "ServiceEndpoint=\"http://h/a?x=1&amp;y=&quot;2&quot;\"><Prefix/>"
                     "<MaxResults>5000</MaxResults><Neg>-42</Neg><T>true</T><Empty/>"
                     "<Name>a&lt;b&gt;&amp;c</Name><Blobs/></EnumerationResults>"));
    /* misuse */
    CHECK(!cf_xml_close(&w));
    CHECK(!cf_xml_text(&w, CF_SLICE_LIT("x")));
    CHECK(!cf_xml_open(&w, "1bad"));
    CHECK(!cf_xml_open(&w, "has space"));
    CHECK(!cf_xml_open(&w, ""));
    CHECK(cf_xml_open(&w, "A"));
    CHECK(cf_xml_text(&w, CF_SLICE_LIT("t")));
    CHECK(!cf_xml_attr(&w, "late", CF_SLICE_LIT("v")));
    cf_buf_free(&b);

    /* nesting cap */
    cf_buf_init(&b, 4096);
    cf_xml_writer_init(&w, &b);
    for (int k = 0; k < CF_XML_MAX_DEPTH; k++)
        CHECK(cf_xml_open(&w, "d"));
    CHECK(!cf_xml_open(&w, "d"));
    cf_buf_free(&b);

    /* the buffer's cap bounds the output */
    cf_buf_init(&b, 16);
    cf_xml_writer_init(&w, &b);
    CHECK(cf_xml_open(&w, "Root"));
    CHECK(!cf_xml_text(&w, CF_SLICE_LIT("0123456789abcdef")) &&
          cf_error_code() == CF_ERR_TOO_LARGE);
    cf_buf_free(&b);
}

static void test_escape(void)
{
    cf_buf b;
    cf_buf_init(&b, 4096);
    CHECK(cf_xml_escape(&b, CF_SLICE_LIT("a&b<c>d\"e'f\tg\nh\ri"), false));
    CHECK(buf_is(&b, "a&amp;b&lt;c&gt;d\"e'f\tg\nh&#xD;i"));
    cf_buf_clear(&b);
    CHECK(cf_xml_escape(&b, CF_SLICE_LIT("a&b<c>d\"e'f\tg\nh\ri"), true));
    CHECK(buf_is(&b, "a&amp;b&lt;c&gt;d&quot;e&apos;f&#x9;g&#xA;h&#xD;i"));
    cf_buf_clear(&b);
    /* UTF-8 passes through: é, €, U+1F600, U+FFFD */
    CHECK(
        cf_xml_escape(&b, CF_SLICE_LIT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd"), false));
    CHECK(buf_is(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd"));
    CHECK(cf_xml_escape(&b, (cf_slice){NULL, 0}, false));

    const char *bad[] = {
        "\x01",
        "a\x00z",
        "\x1f",
        "\x0b",
        "\x0c",
        "\xef\xbf\xbe",     /* U+FFFE */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xed\xa0\x80",     /* surrogate */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong */
        "\xf4\x90\x80\x80", /* > U+10FFFF */
        "\xc3",             /* truncated */
        "\x80",
        "\xff",
    };
    size_t lens[] = {1, 3, 1, 1, 1, 3, 3, 3, 2, 3, 4, 1, 1, 1};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        cf_slice s = cf_slice_of(bad[k], lens[k]);
        CHECK(!cf_xml_text_valid(s));
        CHECK(!cf_xml_escape(&b, s, false) && cf_error_code() == CF_ERR_BAD_INPUT);
    }
    CHECK(cf_xml_text_valid(CF_SLICE_LIT("plain \t\r\n text")));
    cf_buf_free(&b);
}

/* Escaped text read back by the parser (through the ACL Id) is the original. */
static void test_escape_round_trip(void)
{
    const char *ids[] = {"a&b", "<x>", "q\"'uote", "\xc3\xa9t\xc3\xa9", "]]>", "sp ace"};
    cf_blob_acl acl = {0}, back = {0};
    acl.n = sizeof ids / sizeof *ids;
    CHECK(acl.n > CF_BLOB_ACL_MAX);
    acl.n = CF_BLOB_ACL_MAX;
    for (size_t k = 0; k < acl.n; k++)
        snprintf(acl.policies[k].id, sizeof acl.policies[k].id, "%s", ids[k]);
    cf_buf b;
    cf_buf_init(&b, 1 << 16);
    CHECK(cf_blob_xml_render_acl(&acl, &b));
    CHECK(cf_blob_xml_parse_acl(cf_buf_slice(&b), &back));
    CHECK(back.n == acl.n);
    for (size_t k = 0; k < acl.n && k < back.n; k++)
        CHECK_STR(back.policies[k].id, ids[k]);
    cf_buf_free(&b);
}

/* ---- Put Block List ---- */

static void test_block_list_good(void)
{
    cf_blob_block_list l;
    const char *body = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                       "<BlockList>\n  <Latest>AAAA</Latest>\n  <Committed> AQID </Committed>\n"
                       "  <Uncommitted>/w==</Uncommitted><!-- note -->\n"
                       "  <Latest>&#x41;AAA</Latest></BlockList>";
    CHECK(!cf_blob_xml_parse_block_list(CF_SLICE_STR(body), &l));
    CHECK(reason_is("InvalidBlockList")); /* "/w==" is 1 byte, the others 3 */

    body = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
           "<BlockList>\n  <Latest>AAAA</Latest>\n  <Committed> AQID </Committed>\n"
           "  <Uncommitted>//79</Uncommitted><!-- note --><?pi x?>\n"
           "  <Latest>&#x41;AAA</Latest></BlockList>";
    CHECK(cf_blob_xml_parse_block_list(CF_SLICE_STR(body), &l));
    CHECK(l.n == 4);
    if (l.n == 4) {
        CHECK(l.refs[0].from == CF_BLOCK_LATEST && l.refs[0].id.len == 3 &&
              memcmp(l.refs[0].id.ptr, "\0\0\0", 3) == 0);
        CHECK(l.refs[1].from == CF_BLOCK_COMMITTED && memcmp(l.refs[1].id.ptr, "\1\2\3", 3) == 0);
        CHECK(l.refs[2].from == CF_BLOCK_UNCOMMITTED &&
              memcmp(l.refs[2].id.ptr, "\xff\xfe\xfd", 3) == 0);
        CHECK(l.refs[3].from == CF_BLOCK_LATEST && l.refs[3].id.len == 3);
    }
    cf_blob_block_list_free(&l);
    CHECK(l.n == 0 && l.refs == NULL);

    CHECK(cf_blob_xml_parse_block_list(CF_SLICE_LIT("<BlockList/>"), &l) && l.n == 0);
    cf_blob_block_list_free(&l);

    /* A 64-byte id, as the SDK makes them (88 base64 characters). */
    char big[256];
    char id88[89];
    memset(id88, 'Q', 88);
    id88[86] = id88[87] = '=';
    id88[85] = 'A';
    id88[88] = 0;
    snprintf(big, sizeof big, "<BlockList><Latest>%s</Latest></BlockList>", id88);
    CHECK(cf_blob_xml_parse_block_list(CF_SLICE_STR(big), &l) && l.n == 1 &&
          l.refs[0].id.len == 64);
    cf_blob_block_list_free(&l);

    /* UTF-16 with a BOM is still XML. */
    const char u16[] = "\xff\xfe<\0B\0l\0o\0c\0k\0L\0i\0s\0t\0/\0>\0";
    CHECK(cf_blob_xml_parse_block_list(cf_slice_of(u16, sizeof u16 - 1), &l) && l.n == 0);
    cf_blob_block_list_free(&l);
}

static void expect_block_list_error(const char *body, const char *reason)
{
    cf_blob_block_list l;
    bool ok = cf_blob_xml_parse_block_list(CF_SLICE_STR(body), &l);
    if (ok)
        fprintf(stderr, "  accepted: %s\n", body);
    CHECK(!ok && cf_error_code() == CF_ERR_BAD_INPUT && reason_is(reason));
    CHECK(l.n == 0 && l.refs == NULL && l.ids == NULL);
}

static void test_block_list_bad(void)
{
    const char *doc = "InvalidXmlDocument", *bl = "InvalidBlockList";
    expect_block_list_error("", doc);
    expect_block_list_error("   ", doc);
    expect_block_list_error("<BlockList>", doc);
    expect_block_list_error("<BlockList><Latest>AAAA</Latest>", doc);
    expect_block_list_error("<BlockList><Latest>AAAA</Committed></BlockList>", doc);
    expect_block_list_error("<BlockList></BlockList><BlockList/>", doc);
    expect_block_list_error("<Blocklist/>", doc);
    expect_block_list_error("<ns:BlockList xmlns:ns=\"u\"/>", doc);
    expect_block_list_error("<BlockList><Block>AAAA</Block></BlockList>", doc);
    expect_block_list_error("<BlockList><Latest><X/></Latest></BlockList>", doc);
    expect_block_list_error("<BlockList>text<Latest>AAAA</Latest></BlockList>", doc);
    expect_block_list_error("<BlockList><Latest>AAAA</Latest>tail</BlockList>", doc);
    expect_block_list_error("<BlockList><Latest>&bogus;</Latest></BlockList>", doc);
    expect_block_list_error("<BlockList><Latest>&#0;</Latest></BlockList>", doc);
    expect_block_list_error("<BlockList><Latest>\xff</Latest></BlockList>", doc);
    expect_block_list_error("<?xml version=\"1.0\" encoding=\"EBCDIC-X\"?><BlockList/>", doc);
    expect_block_list_error("<BlockList><Latest></Latest></BlockList>", bl);
    expect_block_list_error("<BlockList><Latest/></BlockList>", bl);
    expect_block_list_error("<BlockList><Latest>not base64!</Latest></BlockList>", bl);
    expect_block_list_error("<BlockList><Latest>AAA</Latest></BlockList>", bl);
    expect_block_list_error("<BlockList><Latest>AB==</Latest></BlockList>", bl); /* non-canonical */
    expect_block_list_error("<BlockList><Latest>AAAA</Latest><Latest>AAAAAA==</Latest></BlockList>",
                            bl);
    /* 65 bytes */
    char big[256], id[100];
    memset(id, 'A', 88);
    memcpy(id + 88, "AA==", 5);
    snprintf(big, sizeof big, "<BlockList><Latest>%s</Latest></BlockList>", id);
    expect_block_list_error(big, bl);
    /* text cap: a very long id is refused before it is decoded */
    char *huge = malloc(20000);
    memcpy(huge, "<BlockList><Latest>", 19);
    memset(huge + 19, 'A', 10000);
    memcpy(huge + 10019, "</Latest></BlockList>", 22);
    expect_block_list_error(huge, doc);
    free(huge);
}

static void test_block_list_caps(void)
{
    /* 50,000 entries pass; 50,001 is BlockListTooLong. */
    size_t per = strlen("<Latest>AAAA</Latest>");
    size_t cap = 64 + (CF_BLOB_MAX_BLOCKS + 1) * per;
    char *body = malloc(cap);
    size_t len = 0;
    len += (size_t)snprintf(body, cap, "<BlockList>");
    for (size_t k = 0; k < CF_BLOB_MAX_BLOCKS; k++) {
        memcpy(body + len, "<Latest>AAAA</Latest>", per);
        len += per;
    }
    memcpy(body + len, "</BlockList>", 13);
    cf_blob_block_list l;
    CHECK(cf_blob_xml_parse_block_list(CF_SLICE_STR(body), &l) && l.n == CF_BLOB_MAX_BLOCKS);
    cf_blob_block_list_free(&l);
    memcpy(body + len, "<Latest>AAAA</Latest></BlockList>", per + 13);
    CHECK(!cf_blob_xml_parse_block_list(CF_SLICE_STR(body), &l) && reason_is("BlockListTooLong"));
    free(body);

    /* nesting */
    expect_block_list_error("<BlockList><Latest><a><b/></a></Latest></BlockList>",
                            "InvalidXmlDocument");
    /* input size */
    size_t n = CF_BLOB_XML_BLOCK_LIST_MAX + 1;
    body = malloc(n);
    memset(body, ' ', n);
    CHECK(!cf_blob_xml_parse_block_list(cf_slice_of(body, n), &l) &&
          cf_error_code() == CF_ERR_TOO_LARGE && reason_is("RequestBodyTooLarge"));
    free(body);
}

static void test_dtd_refused(void)
{
    const char *bodies[] = {
        "<!DOCTYPE BlockList><BlockList/>",
        "<!DOCTYPE BlockList [<!ENTITY a \"AAAA\">]><BlockList><Latest>&a;</Latest></BlockList>",
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 "
        "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol2 "
        "\"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]>"
        "<BlockList><Latest>&lol2;</Latest></BlockList>",
        "<!DOCTYPE BlockList SYSTEM \"file:///etc/passwd\"><BlockList/>",
        "<!DOCTYPE BlockList [<!ENTITY % p SYSTEM \"http://127.0.0.1/x\"> %p;]><BlockList/>",
    };
    for (size_t k = 0; k < sizeof bodies / sizeof *bodies; k++) {
        expect_block_list_error(bodies[k], "InvalidXmlDocument");
        cf_blob_acl acl = {0};
        const char *sig = "<!DOCTYPE SignedIdentifiers [<!ENTITY x \"y\">]><SignedIdentifiers/>";
        CHECK(!cf_blob_xml_parse_acl(CF_SLICE_STR(sig), &acl) && reason_is("InvalidXmlDocument"));
        cf_blob_service_props p;
        const char *sp = "<!DOCTYPE StorageServiceProperties><StorageServiceProperties/>";
        CHECK(!cf_blob_xml_parse_service_props(CF_SLICE_STR(sp), &p) &&
              reason_is("InvalidXmlDocument"));
    }
}

/* ---- container ACL ---- */

static void test_acl_good(void)
{
    cf_blob_acl acl;
    memset(&acl, 0, sizeof acl);
    acl.access = CF_ACCESS_BLOB;
    const char *body =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers>"
        "<SignedIdentifier><Id>pol1</Id><AccessPolicy><Start>2024-01-01T00:00:00.0000000Z</Start>"
        "<Expiry>2024-02-01</Expiry><Permission>rl</Permission></AccessPolicy></SignedIdentifier>"
        "<SignedIdentifier><Id> pol2 </Id><AccessPolicy><Expiry>2026-11-29T00:24:55.794Z</Expiry>"
        "</AccessPolicy></SignedIdentifier>"
        "<SignedIdentifier><Id>p3</Id></SignedIdentifier>"
        "<SignedIdentifier><Id>p4</Id><AccessPolicy><Start/><Permission></Permission>"
        "</AccessPolicy></SignedIdentifier>"
        "</SignedIdentifiers>";
    CHECK(cf_blob_xml_parse_acl(CF_SLICE_STR(body), &acl));
    CHECK(acl.access == CF_ACCESS_BLOB);
    CHECK(acl.n == 4);
    CHECK_STR(acl.policies[0].id, "pol1");
    CHECK_STR(acl.policies[0].start, "2024-01-01T00:00:00.0000000Z");
    CHECK_STR(acl.policies[0].expiry, "2024-02-01T00:00:00.0000000Z");
    CHECK_STR(acl.policies[0].permission, "rl");
    CHECK_STR(acl.policies[1].id, "pol2");
    CHECK_STR(acl.policies[1].start, "");
    CHECK_STR(acl.policies[1].expiry, "2026-11-29T00:24:55.7940000Z");
    CHECK_STR(acl.policies[1].permission, "");
    CHECK_STR(acl.policies[2].id, "p3");
    CHECK(!acl.policies[3].start[0] && !acl.policies[3].permission[0]);

    cf_buf b;
    cf_buf_init(&b, 1 << 16);
    CHECK(cf_blob_xml_render_acl(&acl, &b));
    CHECK(buf_is(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers>"
                     "<SignedIdentifier><Id>pol1</Id><AccessPolicy>"
                     "<Start>2024-01-01T00:00:00.0000000Z</Start>"
                     "<Expiry>2024-02-01T00:00:00.0000000Z</Expiry><Permission>rl</Permission>"
                     "</AccessPolicy></SignedIdentifier>"
                     "<SignedIdentifier><Id>pol2</Id><AccessPolicy>"
                     "<Expiry>2026-11-29T00:24:55.7940000Z</Expiry></AccessPolicy>"
                     "</SignedIdentifier>"
                     "<SignedIdentifier><Id>p3</Id><AccessPolicy/></SignedIdentifier>"
                     "<SignedIdentifier><Id>p4</Id><AccessPolicy/></SignedIdentifier>"
                     "</SignedIdentifiers>"));
    cf_blob_acl back;
    memset(&back, 0, sizeof back);
    CHECK(cf_blob_xml_parse_acl(cf_buf_slice(&b), &back));
    CHECK(back.n == acl.n && memcmp(back.policies, acl.policies, sizeof acl.policies) == 0);

    /* empty bodies are no policies */
    CHECK(cf_blob_xml_parse_acl(CF_SLICE_LIT(""), &back) && back.n == 0);
    CHECK(cf_blob_xml_parse_acl(CF_SLICE_LIT(" \r\n"), &back) && back.n == 0);
    CHECK(cf_blob_xml_parse_acl(CF_SLICE_LIT("<SignedIdentifiers/>"), &back) && back.n == 0);
    cf_buf_clear(&b);
    CHECK(cf_blob_xml_render_acl(&back, &b));
    CHECK(buf_is(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers/>"));

    /* five is the most */
    char five[2048];
    size_t len = (size_t)snprintf(five, sizeof five, "<SignedIdentifiers>");
    for (int k = 0; k < 5; k++)
        len += (size_t)snprintf(five + len, sizeof five - len,
                                "<SignedIdentifier><Id>id%d</Id></SignedIdentifier>", k);
    snprintf(five + len, sizeof five - len, "</SignedIdentifiers>");
    CHECK(cf_blob_xml_parse_acl(CF_SLICE_STR(five), &back) && back.n == 5);

    /* a 64-byte Id */
    char id64[65], body64[256];
    memset(id64, 'x', 64);
    id64[64] = 0;
    snprintf(body64, sizeof body64,
             "<SignedIdentifiers><SignedIdentifier><Id>%s</Id></SignedIdentifier>"
             "</SignedIdentifiers>",
             id64);
    CHECK(cf_blob_xml_parse_acl(CF_SLICE_STR(body64), &back) && back.n == 1 &&
          strcmp(back.policies[0].id, id64) == 0);
    cf_buf_free(&b);
}

static void expect_acl_error(const char *body, const char *reason)
{
    cf_blob_acl acl;
    memset(&acl, 0, sizeof acl);
    bool ok = cf_blob_xml_parse_acl(CF_SLICE_STR(body), &acl);
    if (ok)
        fprintf(stderr, "  accepted: %s\n", body);
    CHECK(!ok && cf_error_code() == CF_ERR_BAD_INPUT && reason_is(reason));
    CHECK(acl.n == 0);
}

#define SI(inner) \
    "<SignedIdentifiers><SignedIdentifier>" inner "</SignedIdentifier></SignedIdentifiers>"

static void test_acl_bad(void)
{
    const char *doc = "InvalidXmlDocument", *val = "InvalidXmlNodeValue";
    expect_acl_error("<SignedIdentifiers>", doc);
    expect_acl_error("<SignedIdentifier/>", doc);
    expect_acl_error("<SignedIdentifiers><Other/></SignedIdentifiers>", doc);
    expect_acl_error(SI(""), doc);
    expect_acl_error(SI("<AccessPolicy/>"), doc);
    expect_acl_error(SI("<Id>a</Id><Id>b</Id>"), doc);
    expect_acl_error(SI("<Id>a</Id><Extra/>"), doc);
    expect_acl_error(SI("<Id>a</Id><AccessPolicy><Foo/></AccessPolicy>"), doc);
    expect_acl_error(SI("<Id>a</Id><AccessPolicy><Start>2024-01-01</Start><Start>2024-01-01</Start>"
                        "</AccessPolicy>"),
                     doc);
    expect_acl_error(SI("<Id><x/></Id>"), doc);
    expect_acl_error(SI("<Id></Id>"), val);
    expect_acl_error(SI("<Id>a</Id><AccessPolicy><Start>yesterday</Start></AccessPolicy>"), val);
    expect_acl_error(SI("<Id>a</Id><AccessPolicy><Expiry>2024-01-01T00:00:00+01:00</Expiry>"
                        "</AccessPolicy>"),
                     val);
    expect_acl_error(SI("<Id>a</Id><AccessPolicy><Expiry>2023-02-29</Expiry></AccessPolicy>"), val);
    expect_acl_error(SI("<Id>a</Id><AccessPolicy><Permission>rZ</Permission></AccessPolicy>"), val);
    expect_acl_error(SI("<Id>a</Id><AccessPolicy><Permission>racwdlracwdlracwdl</Permission>"
                        "</AccessPolicy>"),
                     val);
    char id65[66], body[256];
    memset(id65, 'x', 65);
    id65[65] = 0;
    snprintf(body, sizeof body, SI("<Id>%s</Id>"), id65);
    expect_acl_error(body, val);
    expect_acl_error("<SignedIdentifiers><SignedIdentifier><Id>a</Id></SignedIdentifier>"
                     "<SignedIdentifier><Id>a</Id></SignedIdentifier></SignedIdentifiers>",
                     doc);
    /* six identifiers */
    char six[2048];
    size_t len = (size_t)snprintf(six, sizeof six, "<SignedIdentifiers>");
    for (int k = 0; k < 6; k++)
        len += (size_t)snprintf(six + len, sizeof six - len,
                                "<SignedIdentifier><Id>id%d</Id></SignedIdentifier>", k);
    snprintf(six + len, sizeof six - len, "</SignedIdentifiers>");
    expect_acl_error(six, doc);
    /* many elements: the element cap answers before anything grows */
    size_t cap = 100 * 20 + 64;
    char *many = malloc(cap);
    len = (size_t)snprintf(many, cap, "<SignedIdentifiers>");
    for (int k = 0; k < 100; k++)
        len += (size_t)snprintf(many + len, cap - len, "<X/>");
    snprintf(many + len, cap - len, "</SignedIdentifiers>");
    expect_acl_error(many, doc);
    free(many);
    /* body cap */
    size_t n = CF_BLOB_XML_ACL_MAX + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    memcpy(big, "<SignedIdentifiers/>", 20);
    cf_blob_acl acl;
    CHECK(!cf_blob_xml_parse_acl(cf_slice_of(big, n), &acl) && cf_error_code() == CF_ERR_TOO_LARGE);
    free(big);
}

/* ---- service properties ---- */

static const char full_props[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties>"
    "<Logging><Version>1.0</Version><Delete>true</Delete><Read>false</Read><Write>1</Write>"
    "<RetentionPolicy><Enabled>true</Enabled><Days>7</Days></RetentionPolicy></Logging>"
    "<HourMetrics><Version>1.0</Version><Enabled>true</Enabled><IncludeAPIs>false</IncludeAPIs>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></HourMetrics>"
    "<MinuteMetrics><Enabled>false</Enabled></MinuteMetrics>"
    "<Cors><CorsRule><AllowedOrigins>http://a.example, http://b.example</AllowedOrigins>"
    "<AllowedMethods>GET,PUT</AllowedMethods><AllowedHeaders>x-ms-meta-*,content-type"
    "</AllowedHeaders><ExposedHeaders></ExposedHeaders><MaxAgeInSeconds>3600</MaxAgeInSeconds>"
    "</CorsRule><CorsRule><AllowedOrigins>*</AllowedOrigins><AllowedMethods>DELETE"
    "</AllowedMethods><AllowedHeaders/><ExposedHeaders>x-ms-*</ExposedHeaders>"
    "<MaxAgeInSeconds>0</MaxAgeInSeconds></CorsRule></Cors>"
    "<DefaultServiceVersion>2020-10-02</DefaultServiceVersion>"
    "<DeleteRetentionPolicy><Enabled>true</Enabled><Days>365</Days>"
    "<AllowPermanentDelete>false</AllowPermanentDelete></DeleteRetentionPolicy>"
    "<StaticWebsite><Enabled>true</Enabled><IndexDocument>index.html</IndexDocument>"
    "<ErrorDocument404Path>err/404.html</ErrorDocument404Path></StaticWebsite>"
    "<FutureThing><Enabled>true</Enabled></FutureThing>"
    "</StorageServiceProperties>";

static const char full_canonical[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties>"
    "<Logging><Version>1.0</Version><Delete>true</Delete><Read>false</Read><Write>true</Write>"
    "<RetentionPolicy><Enabled>true</Enabled><Days>7</Days></RetentionPolicy></Logging>"
    "<HourMetrics><Version>1.0</Version><Enabled>true</Enabled><IncludeAPIs>false</IncludeAPIs>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></HourMetrics>"
    "<MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></MinuteMetrics>"
    "<Cors><CorsRule><AllowedOrigins>http://a.example, http://b.example</AllowedOrigins>"
    "<AllowedMethods>GET,PUT</AllowedMethods><MaxAgeInSeconds>3600</MaxAgeInSeconds>"
    "<ExposedHeaders/><AllowedHeaders>x-ms-meta-*,content-type</AllowedHeaders></CorsRule>"
    "<CorsRule><AllowedOrigins>*</AllowedOrigins><AllowedMethods>DELETE</AllowedMethods>"
    "<MaxAgeInSeconds>0</MaxAgeInSeconds><ExposedHeaders>x-ms-*</ExposedHeaders>"
    "<AllowedHeaders/></CorsRule></Cors>"
    "<DefaultServiceVersion>2020-10-02</DefaultServiceVersion>"
    "<DeleteRetentionPolicy><Enabled>true</Enabled><Days>365</Days>"
    "<AllowPermanentDelete>false</AllowPermanentDelete></DeleteRetentionPolicy>"
    "<StaticWebsite><Enabled>true</Enabled><IndexDocument>index.html</IndexDocument>"
    "<ErrorDocument404Path>err/404.html</ErrorDocument404Path></StaticWebsite>"
    "</StorageServiceProperties>";

static const char default_canonical[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties>"
    "<Logging><Version>1.0</Version><Delete>false</Delete><Read>false</Read><Write>false</Write>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></Logging>"
    "<HourMetrics><Version>1.0</Version><Enabled>false</Enabled>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></HourMetrics>"
    "<MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></MinuteMetrics>"
    "<Cors/>"
    "<DeleteRetentionPolicy><Enabled>false</Enabled></DeleteRetentionPolicy>"
    "<StaticWebsite><Enabled>false</Enabled></StaticWebsite>"
    "</StorageServiceProperties>";

static void test_props_parse_render(void)
{
    cf_blob_service_props p;
    CHECK(cf_blob_xml_parse_service_props(CF_SLICE_STR(full_props), &p));
    CHECK(p.has_logging && p.logging.del && !p.logging.read && p.logging.write &&
          p.logging.retention.enabled && p.logging.retention.days == 7);
    CHECK(p.has_hour_metrics && p.hour_metrics.enabled && !p.hour_metrics.include_apis);
    CHECK(p.has_minute_metrics && !p.minute_metrics.enabled);
    CHECK(p.has_cors && p.n_cors == 2);
    CHECK_STR(p.cors[0].allowed_methods, "GET,PUT");
    CHECK(p.cors[0].max_age == 3600 && p.cors[1].max_age == 0);
    CHECK_STR(p.cors[1].allowed_headers, "");
    CHECK(p.has_default_service_version);
    CHECK_STR(p.default_service_version, "2020-10-02");
    CHECK(p.has_delete_retention && p.delete_retention.days == 365 &&
          p.delete_retention.has_allow_permanent_delete);
    CHECK(p.has_static_website && p.static_website.enabled &&
          p.static_website.default_index_document_path == NULL);
    CHECK_STR(p.static_website.index_document, "index.html");

    cf_buf b;
    cf_buf_init(&b, CF_BLOB_XML_PROPS_MAX);
    CHECK(cf_blob_xml_render_service_props(&p, &b));
    CHECK(buf_is(&b, full_canonical));
    /* the canonical form is a fixed point */
    cf_blob_service_props q;
    CHECK(cf_blob_xml_parse_service_props(cf_buf_slice(&b), &q));
    cf_buf c;
    cf_buf_init(&c, CF_BLOB_XML_PROPS_MAX);
    CHECK(cf_blob_xml_render_service_props(&q, &c));
    CHECK(buf_is(&c, full_canonical));
    cf_blob_service_props_free(&q);
    cf_blob_service_props_free(&p);
    cf_buf_free(&c);

    cf_blob_service_props_init(&p);
    cf_buf_clear(&b);
    CHECK(cf_blob_xml_render_service_props(&p, &b));
    CHECK(buf_is(&b, default_canonical));
    cf_blob_service_props_free(&p);

    /* an empty document changes nothing */
    CHECK(cf_blob_xml_parse_service_props(CF_SLICE_LIT("<StorageServiceProperties/>"), &p));
    CHECK(!p.has_logging && !p.has_cors && !p.has_static_website && !p.has_delete_retention);
    cf_blob_service_props_free(&p);
    cf_buf_free(&b);
}

static void test_props_merge(void)
{
    cf_blob_service_props stored, req;
    cf_blob_service_props_init(&stored);
    CHECK(cf_blob_xml_parse_service_props(CF_SLICE_STR(full_props), &req));
    CHECK(cf_blob_service_props_merge(&stored, &req));
    cf_blob_service_props_free(&req);
    cf_buf b;
    cf_buf_init(&b, CF_BLOB_XML_PROPS_MAX);
    CHECK(cf_blob_xml_render_service_props(&stored, &b));
    CHECK(buf_is(&b, full_canonical)); /* deep copies outlive the request */

    /* Only the sections present change: CORS cleared, soft delete off,
     * logging, metrics and website kept. */
    const char *upd = "<StorageServiceProperties><Cors/><DeleteRetentionPolicy><Enabled>false"
                      "</Enabled></DeleteRetentionPolicy></StorageServiceProperties>";
    CHECK(cf_blob_xml_parse_service_props(CF_SLICE_STR(upd), &req));
    CHECK(cf_blob_service_props_merge(&stored, &req));
    cf_blob_service_props_free(&req);
    CHECK(stored.n_cors == 0 && !stored.delete_retention.enabled && stored.logging.del &&
          stored.hour_metrics.enabled && stored.static_website.enabled &&
          strcmp(stored.default_service_version, "2020-10-02") == 0);
    CHECK_STR(stored.static_website.index_document, "index.html");

    const char *web = "<StorageServiceProperties><StaticWebsite><Enabled>false</Enabled>"
                      "<IndexDocument>ignored.html</IndexDocument></StaticWebsite>"
                      "</StorageServiceProperties>";
    CHECK(cf_blob_xml_parse_service_props(CF_SLICE_STR(web), &req));
    CHECK(cf_blob_service_props_merge(&stored, &req));
    cf_blob_service_props_free(&req);
    CHECK(!stored.static_website.enabled && stored.static_website.index_document == NULL);
    cf_blob_service_props_free(&stored);
    cf_buf_free(&b);
}

static void expect_props_error(const char *body, const char *reason)
{
    cf_blob_service_props p;
    bool ok = cf_blob_xml_parse_service_props(CF_SLICE_STR(body), &p);
    if (ok) {
        fprintf(stderr, "  accepted: %s\n", body);
        cf_blob_service_props_free(&p);
    }
    CHECK(!ok && cf_error_code() == CF_ERR_BAD_INPUT && reason_is(reason));
    CHECK(p.n_cors == 0 && p.static_website.index_document == NULL);
}

#define SSP(inner) "<StorageServiceProperties>" inner "</StorageServiceProperties>"
#define RULE(o, m, h, e, a)                                                     \
    "<CorsRule><AllowedOrigins>" o "</AllowedOrigins><AllowedMethods>" m        \
    "</AllowedMethods><AllowedHeaders>" h "</AllowedHeaders><ExposedHeaders>" e \
    "</ExposedHeaders><MaxAgeInSeconds>" a "</MaxAgeInSeconds></CorsRule>"

static void test_props_bad(void)
{
    const char *doc = "InvalidXmlDocument", *val = "InvalidXmlNodeValue";
    expect_props_error("<StorageServiceProperty/>", doc);
    expect_props_error(SSP("<Logging/>"), doc);
    expect_props_error(SSP("<Logging/><Logging/>"), doc);
    expect_props_error(SSP("<Logging><Delete>true</Delete><Read>true</Read><Write>true</Write>"
                           "</Logging>"),
                       doc);
    expect_props_error(SSP("<Logging><Delete>yes</Delete><Read>true</Read><Write>true</Write>"
                           "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></Logging>"),
                       val);
    expect_props_error(SSP("<Logging><Version>one</Version><Delete>true</Delete><Read>true</Read>"
                           "<Write>true</Write><RetentionPolicy><Enabled>false</Enabled>"
                           "</RetentionPolicy></Logging>"),
                       val);
    expect_props_error(SSP("<HourMetrics><Version>1.0</Version></HourMetrics>"), doc);
    expect_props_error(SSP("<HourMetrics><Enabled>true</Enabled></HourMetrics>"), doc);
    expect_props_error(SSP("<DeleteRetentionPolicy><Days>3</Days></DeleteRetentionPolicy>"), doc);
    expect_props_error(
        SSP("<DeleteRetentionPolicy><Enabled>true</Enabled></DeleteRetentionPolicy>"), doc);
    expect_props_error(SSP("<DeleteRetentionPolicy><Enabled>false</Enabled><Days>3</Days>"
                           "</DeleteRetentionPolicy>"),
                       doc);
    expect_props_error(SSP("<DeleteRetentionPolicy><Enabled>true</Enabled><Days>0</Days>"
                           "</DeleteRetentionPolicy>"),
                       val);
    expect_props_error(SSP("<DeleteRetentionPolicy><Enabled>true</Enabled><Days>366</Days>"
                           "</DeleteRetentionPolicy>"),
                       val);
    expect_props_error(SSP("<DeleteRetentionPolicy><Enabled>true</Enabled><Days>-1</Days>"
                           "</DeleteRetentionPolicy>"),
                       val);
    expect_props_error(SSP("<DeleteRetentionPolicy><Enabled>true</Enabled><Days>99999999999"
                           "</Days></DeleteRetentionPolicy>"),
                       val);
    expect_props_error(SSP("<DefaultServiceVersion>2020-1-02</DefaultServiceVersion>"), val);
    expect_props_error(SSP("<DefaultServiceVersion>latest</DefaultServiceVersion>"), val);
    expect_props_error(SSP("<StaticWebsite><IndexDocument>i</IndexDocument></StaticWebsite>"), doc);
    expect_props_error(SSP("<Cors><Rule/></Cors>"), doc);
    expect_props_error(SSP("<Cors><CorsRule><AllowedOrigins>*</AllowedOrigins></CorsRule></Cors>"),
                       doc);
    expect_props_error(SSP("<Cors>" RULE("", "GET", "", "", "1") "</Cors>"), val);
    expect_props_error(SSP("<Cors>" RULE("*", "FETCH", "", "", "1") "</Cors>"), val);
    expect_props_error(SSP("<Cors>" RULE("*", "get", "", "", "1") "</Cors>"), val);
    expect_props_error(SSP("<Cors>" RULE("*", "GET,", "", "", "1") "</Cors>"), val);
    expect_props_error(SSP("<Cors>" RULE("*", "GET", "a*,b*,c*", "", "1") "</Cors>"), val);
    expect_props_error(SSP("<Cors>" RULE("*", "GET", "", "", "-5") "</Cors>"), val);
    expect_props_error(SSP("<Cors>" RULE("*", "GET", "", "", "x") "</Cors>"), val);
    expect_props_error(SSP("<Cors>" RULE("*", "GET", "", "", "1") RULE("*", "GET", "", "", "1")
                               RULE("*", "GET", "", "", "1") RULE("*", "GET", "", "", "1")
                                   RULE("*", "GET", "", "", "1")
                                       RULE("*", "GET", "", "", "1") "</Cors>"),
                       doc);
    /* a failure after rules were copied frees them (ASan checks) */
    expect_props_error(
        SSP("<Cors>" RULE("*", "GET", "", "",
                          "1") "</Cors><StaticWebsite><Enabled>"
                               "true</Enabled><IndexDocument>i</IndexDocument></StaticWebsite>"
                               "<DefaultServiceVersion>x</DefaultServiceVersion>"),
        val);
    /* 64 origins pass, 65 do not */
    for (int count = 64; count <= 65; count++) {
        size_t cap = 4096;
        char *body = malloc(cap);
        size_t len = (size_t)snprintf(body, cap,
                                      "<StorageServiceProperties><Cors><CorsRule>"
                                      "<AllowedOrigins>");
        for (int k = 0; k < count; k++)
            len += (size_t)snprintf(body + len, cap - len, "%sh%d", k ? "," : "", k);
        snprintf(body + len, cap - len,
                 "</AllowedOrigins><AllowedMethods>GET</AllowedMethods><AllowedHeaders/>"
                 "<ExposedHeaders/><MaxAgeInSeconds>1</MaxAgeInSeconds></CorsRule></Cors>"
                 "</StorageServiceProperties>");
        cf_blob_service_props p;
        if (count == 64) {
            CHECK(cf_blob_xml_parse_service_props(CF_SLICE_STR(body), &p));
            cf_blob_service_props_free(&p);
        } else {
            expect_props_error(body, val);
        }
        free(body);
    }
}

int main(void)
{
    RUN(test_writer_shapes);
    RUN(test_escape);
    RUN(test_escape_round_trip);
    RUN(test_block_list_good);
    RUN(test_block_list_bad);
    RUN(test_block_list_caps);
    RUN(test_dtd_refused);
    RUN(test_acl_good);
    RUN(test_acl_bad);
    RUN(test_props_parse_render);
    RUN(test_props_merge);
    RUN(test_props_bad);
    TEST_DONE();
}
