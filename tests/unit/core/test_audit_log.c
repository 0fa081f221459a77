/* The audit log: escaping, the line format, concurrent appends with group
 * commit, reopen and torn-tail recovery, and the verifier naming the right
 * line for each kind of tampering (docs/audit.md). */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit_writer.h"
#include "crypto.h"
#include "fsutil.h"
#include "test.h"

#define GENESIS_HEX "d3534573e8a61a102037081331a4aa5482230a77fd9600754a84ecf0b80a5393"

static char dir[256];
static char log_path[300];

static void path_in_dir(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* ---- escaping and the line format ---- */

static void check_escape(const char *in, const char *want)
{
    char out[CF_AUDIT_FIELD_MAX];
    size_t n = cf_audit_escape(in, out, sizeof out);
    CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
    if (n != strlen(want) || memcmp(out, want, n) != 0)
        fprintf(stderr, "   escape gave '%.*s', want '%s'\n", (int)n, out, want);
}

static void test_escape(void)
{
    check_escape(NULL, "");
    check_escape("", "");
    check_escape("plain-name/1", "plain-name/1");
    check_escape("a\"b\\c", "a\\\"b\\\\c");
    check_escape("\n\r\t\x01\x1f\x7f", "\\u000a\\u000d\\u0009\\u0001\\u001f\\u007f");
    check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    check_escape("\xff", "\\ufffd");
    check_escape("\x80x", "\\ufffdx");                                /* stray continuation byte */
    check_escape("\xc0\x80", "\\ufffd\\ufffd");                       /* overlong NUL */
    check_escape("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");            /* surrogate */
    check_escape("\xe2\x82", "\\ufffd\\ufffd");                       /* truncated */
    check_escape("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */

    /* The cap holds after escaping and never cuts a character. */
    char big[2000];
    memset(big, 0, sizeof big);
    for (size_t i = 0; i + 2 < sizeof big; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    char out[CF_AUDIT_FIELD_MAX];
    CHECK(cf_audit_escape(big, out, sizeof out) == CF_AUDIT_FIELD_MAX);
    memset(big, '\x01', sizeof big - 1);
    CHECK(cf_audit_escape(big, out, sizeof out) == 510); /* 85 whole escapes */
    memset(big, 'a', sizeof big - 1);
    big[CF_AUDIT_FIELD_MAX - 1] = '"';
    CHECK(cf_audit_escape(big, out, sizeof out) == CF_AUDIT_FIELD_MAX - 1);
}

static void test_line_roundtrip(void)
{
    static const char nasty[] = "q\"b\\s\n\x01\x7f\xff\xc3\xa9";
    cf_audit_event ev = {.request_id = nasty,
                         .principal = "app-1",
                         .client = "127.0.0.1:5000",
                         .operation = "keys.create",
                         .object = "keys/k1",
                         .result = NULL,
                         .status = 200};
    cf_audit_fields f;
    cf_audit_fields_from_event(&ev, &f);
    uint8_t prev[CF_AUDIT_HASH_LEN];
    CHECK(cf_audit_genesis(prev));
    char line[CF_AUDIT_LINE_MAX + 1];
    size_t n = cf_audit_line_render(7, 1795910399123LL, &f, prev, line);
    line[n] = 0;
    static const char want[] =
        "{\"seq\":7,\"time\":\"2026-11-28T23:59:59.123Z\",\"request_id\":"
        "\"q\\\"b\\\\s\\u000a\\u0001\\u007f\\ufffd\xc3\xa9\",\"principal\":\"app-1\","
        "\"client\":\"127.0.0.1:5000\",\"operation\":\"keys.create\",\"object\":\"keys/k1\","
        "\"result\":\"\",\"status\":200,\"prev\":\"" GENESIS_HEX "\"}";
    CHECK_STR(line, want);

    cf_audit_line_info info;
    CHECK(cf_audit_line_parse(cf_slice_of(line, n), &info));
    CHECK(info.seq == 7 && info.status == 200 && memcmp(info.prev, prev, sizeof prev) == 0);

    /* Valid JSON and valid UTF-8 to a strict parser, with the text intact. */
    json_error_t err;
    json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &err);
    CHECK(j != NULL);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "request_id")),
                      "q\"b\\s\n\x01\x7f\xef\xbf\xbd\xc3\xa9") == 0);
    json_decref(j);

    /* Longest possible line fits the cap. */
    char big[CF_AUDIT_FIELD_MAX * 8];
    memset(big, '\x02', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cf_audit_event maxev = {big, big, big, big, big, big, 4294967295u};
    cf_audit_fields_from_event(&maxev, &f);
    n = cf_audit_line_render(UINT64_MAX, 253402300799999LL, &f, prev, line);
    CHECK(n < CF_AUDIT_LINE_MAX);
    CHECK(cf_audit_line_parse(cf_slice_of(line, n), &info));
    CHECK(info.seq == UINT64_MAX && info.status == 4294967295u);
}

static void check_parse_fails(const char *line, const char *detail_part)
{
    cf_audit_line_info info;
    CHECK(!cf_audit_line_parse(CF_SLICE_STR(line), &info));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(strstr(cf_error_detail(), detail_part) != NULL);
    if (!strstr(cf_error_detail(), detail_part))
        fprintf(stderr, "   detail '%s', want '%s'\n", cf_error_detail(), detail_part);
}

#define L_HEAD "{\"seq\":1,\"time\":\"2026-11-28T23:59:59.123Z\","
#define L_MID                                                                        \
    "\"request_id\":\"r\",\"principal\":\"p\",\"client\":\"c\",\"operation\":\"o\"," \
    "\"object\":\"x\",\"result\":\"success\","
#define L_TAIL "\"status\":200,\"prev\":\"" GENESIS_HEX "\"}"

static void test_parse_rejects(void)
{
    cf_audit_line_info info;
    CHECK(cf_audit_line_parse(CF_SLICE_LIT(L_HEAD L_MID L_TAIL), &info));
    check_parse_fails("", "expected");
    check_parse_fails("{\"seq\": 1,", "expected an integer");
    check_parse_fails("{\"seq\":01,", "leading zero");
    check_parse_fails("{\"seq\":0,", "at least 1");
    check_parse_fails("{\"seq\":99999999999999999999,", "out of range");
    check_parse_fails("{\"seq\":1,\"time\":\"2026-11-28 23:59:59.123Z\",", "timestamp");
    check_parse_fails(L_HEAD "\"principal\":\"p\"", "request_id");
    check_parse_fails(L_HEAD "\"request_id\":\"a\\n\",", "canonical");
    check_parse_fails(L_HEAD "\"request_id\":\"a\\u00E9\",", "canonical");
    check_parse_fails(L_HEAD "\"request_id\":\"a\\u0041\",", "canonical");
    check_parse_fails(L_HEAD "\"request_id\":\"a\x01\",", "control");
    check_parse_fails(L_HEAD "\"request_id\":\"a\xff\",", "UTF-8");
    check_parse_fails(L_HEAD "\"request_id\":\"a", "unterminated");
    check_parse_fails(L_HEAD L_MID "\"status\":200,\"prev\":\"D3534573e8a61a102037081331a4aa"
                                   "5482230a77fd9600754a84ecf0b80a5393\"}",
                      "lowercase hex");
    check_parse_fails(L_HEAD L_MID "\"status\":200,\"prev\":\"d353\"}", "hex");
    check_parse_fails(L_HEAD L_MID L_TAIL " ", "trailing");
    check_parse_fails(L_HEAD L_MID "\"status\":200}", "prev");

    char longf[CF_AUDIT_FIELD_MAX + 200];
    int n =
        snprintf(longf, sizeof longf, L_HEAD "\"request_id\":\"%0*d\",", CF_AUDIT_FIELD_MAX + 1, 0);
    CHECK(n > 0);
    check_parse_fails(longf, "longer than");
}

/* ---- writing ---- */

#define THREADS 8
#define PER_THREAD 150

static cf_audit *shared_log;

static void *writer(void *arg)
{
    long t = (long)arg;
    char rid[64], obj[64];
    bool ok = true;
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(rid, sizeof rid, "req-%ld-%d", t, i);
        snprintf(obj, sizeof obj, "keys/k%ld/\"v%d\"", t, i);
        cf_audit_event ev = {.request_id = rid,
                             .principal = "client-\xff",
                             .client = "10.0.0.1:1",
                             .operation = (i % 2) ? "keys.get" : "keys.create",
                             .object = obj,
                             .result = "success",
                             .status = 200};
        /* Odd threads ask for durability on every other line. */
        ok = cf_audit_append(shared_log, &ev, (t % 2) == 1 && (i % 2) == 0) && ok;
    }
    return ok ? arg : NULL;
}

static void append_n(cf_audit *a, int n, const char *op)
{
    for (int i = 0; i < n; i++) {
        cf_audit_event ev = {.operation = op, .status = 404, .result = "KeyNotFound"};
        CHECK(cf_audit_append(a, &ev, i == n - 1));
    }
}

static unsigned long long n_total;

static void test_concurrent_and_reopen(void)
{
    cf_audit_open_info info;
    CHECK(cf_audit_open(log_path, &shared_log, &info));
    CHECK(info.created && info.seq == 0 && info.truncated == 0);
    CHECK_STR(info.head, GENESIS_HEX);
    struct stat st;
    CHECK(stat(log_path, &st) == 0 && (st.st_mode & 0777) == 0600);

    /* A second opener (another vault on the same directory) is refused. */
    cf_audit *other = NULL;
    CHECK(!cf_audit_open(log_path, &other, NULL));
    CHECK(cf_error_code() == CF_ERR_CONFLICT && other == NULL);

    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        CHECK(pthread_create(&th[t], NULL, writer, (void *)(t + 1)) == 0);
    for (long t = 0; t < THREADS; t++) {
        void *r = NULL;
        CHECK(pthread_join(th[t], &r) == 0 && r == (void *)(t + 1));
    }
    uint64_t seq;
    char head[65];
    cf_audit_head(shared_log, &seq, head);
    CHECK(seq == THREADS * PER_THREAD);
    cf_audit_close(shared_log);
    shared_log = NULL;

    /* Reopen: seq and head continue. */
    cf_audit *a = NULL;
    CHECK(cf_audit_open(log_path, &a, &info));
    CHECK(!info.created && info.seq == THREADS * PER_THREAD && info.truncated == 0);
    CHECK_STR(info.head, head);
    append_n(a, 10, "keys.list");
    CHECK(cf_audit_sync(a));
    cf_audit_head(a, &seq, head);
    CHECK(seq == THREADS * PER_THREAD + 10);
    cf_audit_close(a);
    n_total = THREADS * PER_THREAD + 10;

    cf_audit_report rep;
    CHECK(cf_audit_verify(log_path, NULL, &rep));
    CHECK(rep.verdict == CF_AUDIT_INTACT && rep.lines == n_total && rep.bad_line == 0);
    CHECK_STR(rep.head_hash, head);

    /* Every line is valid JSON to a strict parser, in seq order. */
    FILE *f = fopen(log_path, "r");
    CHECK(f != NULL);
    char line[CF_AUDIT_LINE_MAX + 2];
    unsigned long long k = 0;
    while (f && fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &err);
        k++;
        CHECK(j && (unsigned long long)json_integer_value(json_object_get(j, "seq")) == k);
        json_decref(j);
    }
    if (f)
        fclose(f);
    CHECK(k == n_total);
}

/* ---- tampering ---- */

typedef struct {
    cf_buf file;
    cf_slice line[THREADS * PER_THREAD + 20];
    size_t n;
} lines_t;

static void load_lines(lines_t *ls)
{
    cf_buf_init(&ls->file, 16u << 20);
    CHECK(cf_read_file(log_path, 16u << 20, &ls->file));
    ls->n = 0;
    size_t start = 0;
    for (size_t i = 0; i < ls->file.len; i++) {
        if (ls->file.data[i] == '\n' && ls->n < sizeof ls->line / sizeof ls->line[0]) {
            ls->line[ls->n++] = cf_slice_of(ls->file.data + start, i - start);
            start = i + 1;
        }
    }
}

/* Writes lines in the order given by idx (-1: `extra` instead). */
static void write_variant(const char *path, const lines_t *ls, const long *idx, size_t n,
                          const char *extra)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0)
            fputs(extra, f);
        else
            fwrite(ls->line[idx[i]].ptr, 1, ls->line[idx[i]].len, f);
        fputc('\n', f);
    }
    fclose(f);
}

static long *identity(size_t n)
{
    long *idx = calloc(n + 1, sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = (long)i;
    return idx;
}

static void expect_broken(const char *path, const cf_audit_expect *ex, unsigned long long line,
                          const char *reason_prefix, const char *what)
{
    cf_audit_report rep;
    bool ok = cf_audit_verify(path, ex, &rep);
    bool good = !ok && rep.verdict == CF_AUDIT_BROKEN && rep.bad_line == line &&
                strncmp(rep.reason, reason_prefix, strlen(reason_prefix)) == 0 &&
                rep.lines == line - 1;
    CHECK(good);
    if (!good)
        fprintf(stderr, "   %s: got line %llu '%s' (verdict %d), want line %llu '%s...'\n", what,
                rep.bad_line, rep.reason, (int)rep.verdict, line, reason_prefix);
    if (!ok)
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
}

static void expect_intact(const char *path, const cf_audit_expect *ex, unsigned long long lines)
{
    cf_audit_report rep;
    CHECK(cf_audit_verify(path, ex, &rep));
    CHECK(rep.verdict == CF_AUDIT_INTACT && rep.lines == lines);
    if (rep.verdict != CF_AUDIT_INTACT)
        fprintf(stderr, "   unexpected: line %llu '%s'\n", rep.bad_line, rep.reason);
}

/* A copy of line k (0-based) with its first `from` replaced by `to`. */
static void edited(const lines_t *ls, size_t k, const char *from, const char *to, char *out,
                   size_t cap)
{
    char orig[CF_AUDIT_LINE_MAX + 1];
    snprintf(orig, sizeof orig, "%.*s", (int)ls->line[k].len, (const char *)ls->line[k].ptr);
    char *p = strstr(orig, from);
    CHECK(p != NULL);
    if (!p) {
        snprintf(out, cap, "%s", orig);
        return;
    }
    snprintf(out, cap, "%.*s%s%s", (int)(p - orig), orig, to, p + strlen(from));
}

static void test_tampering(void)
{
    lines_t *ls = calloc(1, sizeof *ls);
    load_lines(ls);
    size_t n = ls->n;
    CHECK(n == n_total);
    char path[300], extra[CF_AUDIT_LINE_MAX + 64];
    path_in_dir(path, sizeof path, "variant.log");
    long *idx = identity(n);

    /* (a) an edited line, anywhere but the end, is named. */
    size_t ks[] = {0, 1, 499, n - 2};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        size_t k = ks[t];
        edited(ls, k, "\"status\":", "\"status\":1", extra, sizeof extra);
        idx[k] = -1;
        write_variant(path, ls, idx, n, extra);
        expect_broken(path, NULL, k + 1, "altered:", "edited status");
        idx[k] = (long)k;
    }
    /* its seq edited */
    edited(ls, 299, "\"seq\":300", "\"seq\":301", extra, sizeof extra);
    idx[299] = -1;
    write_variant(path, ls, idx, n, extra);
    expect_broken(path, NULL, 300, "altered:", "edited seq");
    /* its prev edited */
    edited(ls, 299, "\"status\":", "\"status\":", extra, sizeof extra);
    char *hexp = strstr(extra, "\"prev\":\"") + 8;
    *hexp = *hexp == '0' ? '1' : '0';
    idx[299] = -1;
    write_variant(path, ls, idx, n, extra);
    expect_broken(path, NULL, 300, "altered:", "edited prev");
    /* an edit that breaks the JSON */
    edited(ls, 299, "\"object\":", "\"object\" :", extra, sizeof extra);
    write_variant(path, ls, idx, n, extra);
    expect_broken(path, NULL, 300, "malformed:", "broken JSON");
    idx[299] = 299;

    /* The last line's edit needs an anchor recorded elsewhere. */
    uint8_t h[CF_AUDIT_HASH_LEN];
    char head[65];
    CHECK(cf_audit_line_hash(ls->line[n - 1], h));
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(head + 2 * i, 3, "%02x", h[i]);
    edited(ls, n - 1, "\"status\":", "\"status\":1", extra, sizeof extra);
    idx[n - 1] = -1;
    write_variant(path, ls, idx, n, extra);
    expect_intact(path, NULL, n);
    cf_audit_expect ex = {.head = head};
    expect_broken(path, &ex, n, "altered:", "edited last line, expect-head");
    ex.lines = n;
    expect_broken(path, &ex, n, "altered:", "edited last line, expect-lines+head");
    idx[n - 1] = (long)(n - 1);
    write_variant(path, ls, idx, n, NULL);
    expect_intact(path, &ex, n);

    /* (b) a removed line: the one now in its place is named. */
    size_t rs[] = {0, 1, 700, n - 2};
    for (size_t t = 0; t < sizeof rs / sizeof *rs; t++) {
        size_t k = rs[t];
        long *r = identity(n);
        memmove(r + k, r + k + 1, (n - k - 1) * sizeof *r);
        write_variant(path, ls, r, n - 1, NULL);
        expect_broken(path, NULL, k + 1, "missing:", "removed line");
        free(r);
    }
    /* The last line removed: only an anchor shows it. */
    write_variant(path, ls, idx, n - 1, NULL);
    expect_intact(path, NULL, n - 1);
    cf_audit_expect ex_lines = {.lines = n};
    expect_broken(path, &ex_lines, n, "missing:", "removed last line, expect-lines");
    ex.lines = 0; /* head alone: the head moved */
    expect_broken(path, &ex, n - 1, "altered:", "removed last line, expect-head");
    /* an anchor in the past still holds for a log that grew */
    cf_audit_expect past = {.lines = n - 1};
    CHECK(cf_audit_line_hash(ls->line[n - 2], h));
    char past_head[65];
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(past_head + 2 * i, 3, "%02x", h[i]);
    past.head = past_head;
    write_variant(path, ls, idx, n, NULL);
    expect_intact(path, &past, n);

    /* (c) two swapped lines: the first of them is named. */
    size_t ss[] = {0, 400, n - 2};
    for (size_t t = 0; t < sizeof ss / sizeof *ss; t++) {
        size_t k = ss[t];
        long *r = identity(n);
        r[k] = (long)k + 1;
        r[k + 1] = (long)k;
        write_variant(path, ls, r, n, NULL);
        expect_broken(path, NULL, k + 1, "reordered:", "swapped lines");
        free(r);
    }

    /* (d) an inserted line: a replayed copy of an earlier line ... */
    long *ins = calloc(n + 2, sizeof *ins);
    for (size_t i = 0, j = 0; i < n; i++) {
        if (i == 600)
            ins[j++] = 10;
        ins[j++] = (long)i;
    }
    write_variant(path, ls, ins, n + 1, NULL);
    expect_broken(path, NULL, 601, "inserted:", "replayed line");
    /* ... a forged line with the right seq and prev ... */
    cf_audit_event fake = {
        .operation = "keys.purge", .object = "keys/k1", .result = "success", .status = 204};
    cf_audit_fields f;
    cf_audit_fields_from_event(&fake, &f);
    cf_audit_line_info li;
    CHECK(cf_audit_line_parse(ls->line[600], &li));
    size_t fl = cf_audit_line_render(601, 0, &f, li.prev, extra);
    extra[fl] = 0;
    ins[600] = -1;
    write_variant(path, ls, ins, n + 1, extra);
    expect_broken(path, NULL, 601, "inserted:", "forged line, right seq and prev");
    /* ... and one with the right seq but a wrong prev. */
    fl = cf_audit_line_render(601, 0, &f, h, extra);
    extra[fl] = 0;
    write_variant(path, ls, ins, n + 1, extra);
    expect_broken(path, NULL, 601, "inserted:", "forged line, wrong prev");
    /* garbage inserted */
    write_variant(path, ls, ins, n + 1, "not json");
    expect_broken(path, NULL, 601, "malformed:", "garbage line");
    /* an overlong line */
    char *huge = malloc(CF_AUDIT_LINE_MAX + 10);
    memset(huge, 'x', CF_AUDIT_LINE_MAX + 9);
    huge[CF_AUDIT_LINE_MAX + 9] = 0;
    write_variant(path, ls, ins, n + 1, huge);
    expect_broken(path, NULL, 601, "malformed: line longer", "overlong line");
    free(huge);
    free(ins);

    /* Unreadable is not broken. */
    cf_audit_report rep;
    path_in_dir(path, sizeof path, "absent.log");
    CHECK(!cf_audit_verify(path, NULL, &rep));
    CHECK(rep.verdict == CF_AUDIT_UNREADABLE && rep.bad_line == 0 &&
          cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(!cf_audit_verify(dir, NULL, &rep));
    CHECK(rep.verdict == CF_AUDIT_UNREADABLE && cf_error_code() == CF_ERR_IO);
    cf_audit_expect bad_ex = {.head = "abc"};
    CHECK(!cf_audit_verify(log_path, &bad_ex, &rep) && rep.verdict == CF_AUDIT_UNREADABLE);

    free(idx);
    cf_buf_free(&ls->file);
    free(ls);
}

/* ---- (e) torn tails ---- */

static void append_raw(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(p, 1, len, f) == len);
        fclose(f);
    }
}

static void test_torn_tail(void)
{
    static const char torn[] = "{\"seq\":1611,\"time\":\"2026-";
    append_raw(log_path, torn, sizeof torn - 1);
    expect_broken(log_path, NULL, n_total + 1, "torn:", "torn last line");

    cf_audit *a = NULL;
    cf_audit_open_info info;
    CHECK(cf_audit_open(log_path, &a, &info));
    CHECK(info.truncated == sizeof torn - 1 && info.seq == n_total);
    append_n(a, 3, "secrets.get");
    cf_audit_close(a);
    n_total += 3;
    expect_intact(log_path, NULL, n_total);

    /* A zero-filled tail (size updated, data lost), longer than a chunk. */
    static const uint8_t zeros[10000];
    append_raw(log_path, zeros, sizeof zeros);
    CHECK(cf_audit_open(log_path, &a, &info));
    CHECK(info.truncated == sizeof zeros && info.seq == n_total);
    append_n(a, 1, "keys.sign");
    cf_audit_close(a);
    n_total += 1;
    expect_intact(log_path, NULL, n_total);

    /* A log whose last complete line is not an audit line is not extended. */
    char path[300];
    path_in_dir(path, sizeof path, "garbage.log");
    append_raw(path, "hello\n", 6);
    CHECK(!cf_audit_open(path, &a, NULL));
    CHECK(cf_error_code() == CF_ERR_IO);

    /* A torn first line leaves an empty log that restarts at seq 1. */
    path_in_dir(path, sizeof path, "torn-first.log");
    append_raw(path, "{\"seq\":1", 8);
    CHECK(cf_audit_open(path, &a, &info));
    CHECK(info.truncated == 8 && info.seq == 0 && !info.created);
    CHECK_STR(info.head, GENESIS_HEX);
    append_n(a, 2, "keys.get");
    cf_audit_close(a);
    expect_intact(path, NULL, 2);
}

int main(void)
{
    CHECK(cf_crypto_init());
    snprintf(dir, sizeof dir, "/tmp/coffer-audit-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    path_in_dir(log_path, sizeof log_path, "audit.log");

    RUN(test_escape);
    RUN(test_line_roundtrip);
    RUN(test_parse_rejects);
    RUN(test_concurrent_and_reopen);
    RUN(test_tampering);
    RUN(test_torn_tail);

    const char *names[] = {"audit.log", "variant.log", "garbage.log", "torn-first.log"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[300];
        path_in_dir(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(dir);
    TEST_DONE();
}
