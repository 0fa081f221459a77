/*
 * Audit log lines: canonical escaping, rendering, strict parsing, and the
 * chain verifier.  The format is specified in docs/audit.md.
 *
 * The parser accepts exactly what the renderer writes (fixed member order,
 * no whitespace, one escape form per character), so any change to a line
 * that is not a faithful re-rendering is "malformed" rather than silently
 * normalised.  The verifier keeps two line buffers (the line being checked
 * and the one after it) and the previous line's seq, prev and hash: memory
 * stays bounded whatever the file's size.  The one-line look-ahead is what
 * lets it name the line that was changed rather than the first line that
 * noticed.
 */
#include "audit_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "httpdate.h"
#include "secmem.h"
#include "utf8.h"

static const char cf_hex_digits[] = "0123456789abcdef";

/* ---- UTF-8 and escaping ---- */

size_t cf_audit_escape(const char *s, char *out, size_t cap)
{
    if (!s)
        return 0;
    /* Every input byte yields at least one output byte, so at most `cap`
     * input bytes can matter; a sequence cut by this window could not have
     * fitted anyway (see docs/audit.md). */
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strnlen(s, cap);
    size_t pos = 0;
    while (left > 0) {
        char tmp[6];
        size_t n = 0, used = 1;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            tmp[n++] = '\\';
            tmp[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(tmp, "\\u00", 4);
            tmp[4] = cf_hex_digits[c >> 4];
            tmp[5] = cf_hex_digits[c & 15];
            n = 6;
        } else if (c < 0x80) {
            tmp[n++] = (char)c;
        } else if ((used = cf_utf8_decode(p, left, NULL)) != 0) {
            if (pos + used > cap)
                break;
            memcpy(out + pos, p, used);
            pos += used;
            p += used;
            left -= used;
            continue;
        } else {
            memcpy(tmp, "\\ufffd", 6);
            n = 6;
            used = 1;
        }
        if (pos + n > cap)
            break;
        memcpy(out + pos, tmp, n);
        pos += n;
        p += used;
        left -= used;
    }
    return pos;
}

void cf_audit_fields_from_event(const cf_audit_event *ev, cf_audit_fields *out)
{
    const char *in[CF_AUDIT_N_FIELDS] = {ev->request_id, ev->principal, ev->client,
                                         ev->operation,  ev->object,    ev->result};
    for (size_t i = 0; i < CF_AUDIT_N_FIELDS; i++)
        out->len[i] = cf_audit_escape(in[i], out->field[i], CF_AUDIT_FIELD_MAX);
    out->status = ev->status;
}

/* ---- rendering ---- */

static const char *const cf_audit_names[CF_AUDIT_N_FIELDS] = {"request_id", "principal", "client",
                                                              "operation",  "object",    "result"};

/* Appends to out[0..CF_AUDIT_LINE_MAX); never overflows (the line cannot
 * reach the cap by construction, this is a second fence). */
static void cf_put(char *out, size_t *pos, const char *s, size_t n)
{
    if (n > CF_AUDIT_LINE_MAX - *pos)
        n = CF_AUDIT_LINE_MAX - *pos;
    memcpy(out + *pos, s, n);
    *pos += n;
}

static void cf_put_str(char *out, size_t *pos, const char *s)
{
    cf_put(out, pos, s, strlen(s));
}

size_t cf_audit_line_render(uint64_t seq, int64_t time_ms, const cf_audit_fields *f,
                            const uint8_t prev[CF_AUDIT_HASH_LEN], char *out)
{
    char num[96], stamp[CF_ISO8601_MS_LEN + 1];
    size_t pos = 0;
    /* Clamped (here to 1970, past 9999 by the formatter): the line keeps
     * its fixed-width form. */
    cf_iso8601_format_ms(time_ms < 0 ? 0 : time_ms, stamp);
    int n = snprintf(num, sizeof num, "{\"seq\":%" PRIu64 ",\"time\":\"%s\"", seq, stamp);
    cf_put(out, &pos, num, (size_t)n);
    for (size_t i = 0; i < CF_AUDIT_N_FIELDS; i++) {
        cf_put_str(out, &pos, ",\"");
        cf_put_str(out, &pos, cf_audit_names[i]);
        cf_put_str(out, &pos, "\":\"");
        cf_put(out, &pos, f->field[i], f->len[i]);
        cf_put_str(out, &pos, "\"");
    }
    n = snprintf(num, sizeof num, ",\"status\":%u,\"prev\":\"", f->status);
    cf_put(out, &pos, num, (size_t)n);
    char hex[2 * CF_AUDIT_HASH_LEN];
    for (size_t i = 0; i < CF_AUDIT_HASH_LEN; i++) {
        hex[2 * i] = cf_hex_digits[prev[i] >> 4];
        hex[2 * i + 1] = cf_hex_digits[prev[i] & 15];
    }
    cf_put(out, &pos, hex, sizeof hex);
    cf_put_str(out, &pos, "\"}");
    return pos;
}

/* ---- parsing ---- */

static bool cf_expect_lit(cf_cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    cf_slice s;
    CF_ENSUREF(cf_cursor_left(c) >= n && cf_cursor_take(c, n, &s) && memcmp(s.ptr, lit, n) == 0,
               CF_ERR_BAD_INPUT, "expected '%s' at byte %zu", lit, c->pos + 1);
    return true;
}

/* A JSON integer as the renderer writes it: no sign, no leading zero. */
static bool cf_parse_uint(cf_cursor *c, const char *member, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t digits = 0;
    while (cf_cursor_left(c) > 0) {
        uint8_t d = c->in.ptr[c->pos];
        if (d < '0' || d > '9')
            break;
        CF_ENSUREF(!(digits == 1 && v == 0), CF_ERR_BAD_INPUT, "member \"%s\": leading zero",
                   member);
        CF_ENSUREF(v <= (max - (d - '0')) / 10, CF_ERR_BAD_INPUT, "member \"%s\": out of range",
                   member);
        v = v * 10 + (d - '0');
        digits++;
        c->pos++;
    }
    CF_ENSUREF(digits > 0, CF_ERR_BAD_INPUT, "member \"%s\": expected an integer", member);
    *out = v;
    return true;
}

static int cf_hex_val(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1; /* uppercase is not canonical */
}

/* The body of a string (the opening quote already consumed) up to and
 * including its closing quote, in the canonical form only. */
static bool cf_parse_str(cf_cursor *c, const char *member)
{
    size_t start = c->pos;
    for (;;) {
        uint8_t ch;
        CF_ENSUREF(cf_cursor_u8(c, &ch), CF_ERR_BAD_INPUT, "member \"%s\": unterminated string",
                   member);
        if (ch == '"')
            break;
        if (ch == '\\') {
            uint8_t e;
            cf_slice u;
            CF_ENSUREF(cf_cursor_u8(c, &e), CF_ERR_BAD_INPUT, "member \"%s\": bad escape", member);
            if (e == '"' || e == '\\')
                continue;
            CF_ENSUREF(e == 'u' && cf_cursor_take(c, 4, &u), CF_ERR_BAD_INPUT,
                       "member \"%s\": escape not in canonical form", member);
            int h = cf_hex_val(u.ptr[2]), l = cf_hex_val(u.ptr[3]);
            int v = h < 0 || l < 0 ? -1 : h * 16 + l;
            bool ok = (u.ptr[0] == '0' && u.ptr[1] == '0' && v >= 0 && (v < 0x20 || v == 0x7f)) ||
                      memcmp(u.ptr, "fffd", 4) == 0;
            CF_ENSUREF(ok, CF_ERR_BAD_INPUT, "member \"%s\": escape not in canonical form", member);
            continue;
        }
        CF_ENSUREF(ch >= 0x20 && ch != 0x7f, CF_ERR_BAD_INPUT,
                   "member \"%s\": raw control character", member);
        if (ch >= 0x80) {
            size_t n = cf_utf8_decode(c->in.ptr + c->pos - 1, cf_cursor_left(c) + 1, NULL);
            CF_ENSUREF(n > 0, CF_ERR_BAD_INPUT, "member \"%s\": invalid UTF-8", member);
            c->pos += n - 1;
        }
    }
    CF_ENSUREF(c->pos - start - 1 <= CF_AUDIT_FIELD_MAX, CF_ERR_BAD_INPUT,
               "member \"%s\": longer than %d bytes", member, CF_AUDIT_FIELD_MAX);
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" with its quotes. */
static bool cf_parse_time(cf_cursor *c)
{
    static const char shape[] = "\"dddd-dd-ddTdd:dd:dd.dddZ\"";
    cf_slice s;
    bool ok = cf_cursor_left(c) >= sizeof shape - 1 && cf_cursor_take(c, sizeof shape - 1, &s);
    for (size_t i = 0; ok && i < sizeof shape - 1; i++)
        ok = shape[i] == 'd' ? s.ptr[i] >= '0' && s.ptr[i] <= '9' : s.ptr[i] == (uint8_t)shape[i];
    CF_ENSURE(ok, CF_ERR_BAD_INPUT, "member \"time\": not a UTC timestamp");
    return true;
}

static bool cf_parse_hash(cf_cursor *c, uint8_t out[CF_AUDIT_HASH_LEN])
{
    cf_slice s;
    CF_ENSURE(cf_cursor_take(c, 2 * CF_AUDIT_HASH_LEN, &s), CF_ERR_BAD_INPUT,
              "member \"prev\": expected 64 hex digits");
    for (size_t i = 0; i < CF_AUDIT_HASH_LEN; i++) {
        int h = cf_hex_val(s.ptr[2 * i]), l = cf_hex_val(s.ptr[2 * i + 1]);
        CF_ENSURE(h >= 0 && l >= 0, CF_ERR_BAD_INPUT,
                  "member \"prev\": expected 64 lowercase hex digits");
        out[i] = (uint8_t)(h * 16 + l);
    }
    return true;
}

bool cf_audit_line_parse(cf_slice line, cf_audit_line_info *out)
{
    cf_cursor c;
    cf_cursor_init(&c, line);
    uint64_t status;
    CF_ENSURE(line.len <= CF_AUDIT_LINE_MAX, CF_ERR_BAD_INPUT, "line too long");
    CF_GUARD(cf_expect_lit(&c, "{\"seq\":"));
    CF_GUARD(cf_parse_uint(&c, "seq", UINT64_MAX, &out->seq));
    CF_ENSURE(out->seq > 0, CF_ERR_BAD_INPUT, "member \"seq\": must be at least 1");
    CF_GUARD(cf_expect_lit(&c, ",\"time\":"));
    CF_GUARD(cf_parse_time(&c));
    for (size_t i = 0; i < CF_AUDIT_N_FIELDS; i++) {
        char key[32];
        snprintf(key, sizeof key, ",\"%s\":\"", cf_audit_names[i]);
        CF_GUARD(cf_expect_lit(&c, key));
        CF_GUARD(cf_parse_str(&c, cf_audit_names[i]));
    }
    CF_GUARD(cf_expect_lit(&c, ",\"status\":"));
    CF_GUARD(cf_parse_uint(&c, "status", UINT32_MAX, &status));
    out->status = (unsigned)status;
    CF_GUARD(cf_expect_lit(&c, ",\"prev\":\""));
    CF_GUARD(cf_parse_hash(&c, out->prev));
    CF_GUARD(cf_expect_lit(&c, "\"}"));
    CF_ENSURE(cf_cursor_left(&c) == 0, CF_ERR_BAD_INPUT, "trailing bytes after the object");
    return true;
}

bool cf_audit_genesis(uint8_t out[CF_AUDIT_HASH_LEN])
{
    return cf_hash_compute(CF_HASH_SHA256, CF_SLICE_LIT(CF_AUDIT_GENESIS), out);
}

bool cf_audit_line_hash(cf_slice line, uint8_t out[CF_AUDIT_HASH_LEN])
{
    return cf_hash_compute(CF_HASH_SHA256, line, out);
}

/* ---- verification ---- */

typedef enum { CF_SLOT_NONE, CF_SLOT_LINE, CF_SLOT_LONG, CF_SLOT_TORN } cf_slot_kind;

/* One line read from the file, with what the chain needs from it. */
typedef struct {
    cf_slot_kind kind;
    bool parsed;
    cf_audit_line_info info;
    uint8_t hash[CF_AUDIT_HASH_LEN];
    char error[128]; /* why it did not parse */
    size_t len;
    uint8_t buf[CF_AUDIT_LINE_MAX];
} cf_slot;

/* The last line accepted. */
typedef struct {
    unsigned long long n; /* its position; 0 before the first */
    uint64_t seq;
    uint8_t hash[CF_AUDIT_HASH_LEN];
    uint8_t prev[CF_AUDIT_HASH_LEN]; /* = the hash of the line before it */
} cf_chain;

static void cf_hex32(const uint8_t h[CF_AUDIT_HASH_LEN], char out[65])
{
    for (size_t i = 0; i < CF_AUDIT_HASH_LEN; i++) {
        out[2 * i] = cf_hex_digits[h[i] >> 4];
        out[2 * i + 1] = cf_hex_digits[h[i] & 15];
    }
    out[64] = 0;
}

/* Reads the next line; a line over the cap is consumed to its newline so the
 * look-ahead stays aligned.  Fails only on a read error. */
static bool cf_slot_read(FILE *f, cf_slot *s)
{
    bool any = false, long_line = false;
    int ch;
    s->kind = CF_SLOT_NONE;
    s->parsed = false;
    s->len = 0;
    while ((ch = getc_unlocked(f)) != EOF) {
        any = true;
        if (ch == '\n') {
            s->kind = long_line ? CF_SLOT_LONG : CF_SLOT_LINE;
            break;
        }
        if (s->len < sizeof s->buf)
            s->buf[s->len++] = (uint8_t)ch;
        else
            long_line = true;
    }
    CF_ENSURE(!ferror(f), CF_ERR_IO, "cannot read the audit log");
    if (s->kind == CF_SLOT_NONE && any)
        s->kind = long_line ? CF_SLOT_LONG : CF_SLOT_TORN;
    if (s->kind != CF_SLOT_LINE)
        return true;
    cf_slice line = cf_slice_of(s->buf, s->len);
    s->parsed = cf_audit_line_parse(line, &s->info);
    if (!s->parsed)
        snprintf(s->error, sizeof s->error, "%s", cf_error_detail());
    return cf_audit_line_hash(line, s->hash);
}

/* Chain hashes are public, but every hash comparison goes through the one
 * constant-time compare, so none is ever written the wrong way. */
static bool cf_eq(const uint8_t *a, const uint8_t *b)
{
    return cf_memeq_ct(a, b, CF_AUDIT_HASH_LEN);
}

/* Records a broken verdict at `line`; the verified prefix ends before it. */
static bool cf_broken(cf_audit_report *rep, const cf_chain *ch, unsigned long long line,
                      const char *fmt, ...) CF_PRINTF(4, 5);
static bool cf_broken(cf_audit_report *rep, const cf_chain *ch, unsigned long long line,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->reason, sizeof rep->reason, fmt, ap);
    va_end(ap);
    rep->verdict = CF_AUDIT_BROKEN;
    rep->bad_line = line;
    if (line <= ch->n) {
        /* Blame falls on the line already accepted: the prefix is one
         * shorter, and its head is what that line chained to. */
        rep->lines = line - 1;
        cf_hex32(ch->prev, rep->head_hash);
    } else {
        rep->lines = ch->n;
        cf_hex32(ch->hash, rep->head_hash);
    }
    CF_BAIL(CF_ERR_DECRYPT, "audit log integrity check failed");
}

/* Checks line i = ch->n + 1 against the chain, looking at the next line
 * (nx, NULL when there is none or it is unusable) to say which line was
 * changed.  The cases are tabled in docs/audit.md. */
static bool cf_check_line(cf_audit_report *rep, const cf_chain *ch, const cf_slot *cur,
                          const cf_slot *nx)
{
    unsigned long long i = ch->n + 1;
    uint64_t want = ch->seq + 1, seq = cur->info.seq;
    if (seq != want) {
        if (nx && nx->info.seq == want && cf_eq(nx->info.prev, ch->hash)) {
            if (seq == want + 1 && cf_eq(cur->info.prev, nx->hash))
                return cf_broken(rep, ch, i, "reordered: lines %llu and %llu are swapped", i,
                                 i + 1);
            return cf_broken(rep, ch, i,
                             "inserted: line %llu does not belong; line %llu follows line %llu", i,
                             i + 1, i - 1);
        }
        if (seq > want && cf_eq(cur->info.prev, ch->hash))
            return cf_broken(rep, ch, i,
                             "altered: seq %" PRIu64 " where %" PRIu64
                             " was expected, but it chains to line %llu",
                             seq, want, i - 1);
        if (seq > want)
            return cf_broken(rep, ch, i,
                             "missing: seq %" PRIu64 " where %" PRIu64 " was expected (%" PRIu64
                             " line(s) removed before it)",
                             seq, want, seq - want);
        if (ch->n > 0 && seq == ch->seq && cf_eq(cur->info.prev, ch->prev)) {
            /* Lines i-1 and i both follow line i-2: one was inserted, and the
             * genuine one is the line that line i+1 follows. */
            if (nx && nx->info.seq == want && cf_eq(nx->info.prev, cur->hash))
                return cf_broken(rep, ch, i - 1,
                                 "inserted: line %llu does not belong; line %llu follows "
                                 "line %llu",
                                 i - 1, i, i - 2);
            return cf_broken(rep, ch, i, "inserted: line %llu repeats seq %" PRIu64 " of line %llu",
                             i, seq, i - 1);
        }
        return cf_broken(rep, ch, i,
                         "out of order: seq %" PRIu64 " where %" PRIu64
                         " was expected (a line inserted or moved)",
                         seq, want);
    }
    if (cf_eq(cur->info.prev, ch->hash))
        return true;
    if (i == 1)
        return cf_broken(rep, ch, 1, "altered: prev of line 1 is not the genesis hash");
    if (nx && nx->info.seq == want + 1 && cf_eq(nx->info.prev, cur->hash))
        return cf_broken(rep, ch, i - 1,
                         "altered: its hash does not match the prev recorded in line %llu", i);
    if (nx && nx->info.seq == want && cf_eq(nx->info.prev, ch->hash))
        return cf_broken(rep, ch, i,
                         "inserted: line %llu does not belong; line %llu follows "
                         "line %llu",
                         i, i + 1, i - 1);
    if (nx)
        return cf_broken(rep, ch, i, "altered: its prev does not match the hash of line %llu",
                         i - 1);
    return cf_broken(rep, ch, i - 1,
                     "altered: its hash does not match the prev recorded in "
                     "line %llu (or line %llu was forged)",
                     i, i);
}

static bool cf_parse_hex32(const char *s, uint8_t out[CF_AUDIT_HASH_LEN])
{
    if (strlen(s) != 2 * CF_AUDIT_HASH_LEN)
        return false;
    for (size_t i = 0; i < CF_AUDIT_HASH_LEN; i++) {
        int h = cf_hex_val((uint8_t)(s[2 * i] | 0x20)),
            l = cf_hex_val((uint8_t)(s[2 * i + 1] | 0x20));
        if (h < 0 || l < 0)
            return false;
        out[i] = (uint8_t)(h * 16 + l);
    }
    return true;
}

static bool cf_unreadable(cf_audit_report *rep)
{
    rep->verdict = CF_AUDIT_UNREADABLE;
    rep->bad_line = 0;
    snprintf(rep->reason, sizeof rep->reason, "%s", cf_error_detail());
    return false;
}

/* The loop over lines; `f` is open, the slots are scratch space. */
static bool cf_verify_stream(FILE *f, const cf_audit_expect *ex, const uint8_t *want_head,
                             cf_slot *cur, cf_slot *nx, cf_audit_report *rep)
{
    cf_chain ch = {0};
    if (!cf_audit_genesis(ch.hash))
        return cf_unreadable(rep);
    memcpy(ch.prev, ch.hash, sizeof ch.prev);
    cf_hex32(ch.hash, rep->head_hash);
    if (!cf_slot_read(f, cur))
        return cf_unreadable(rep);
    while (cur->kind != CF_SLOT_NONE) {
        unsigned long long i = ch.n + 1;
        if (!cf_slot_read(f, nx))
            return cf_unreadable(rep);
        switch (cur->kind) {
        case CF_SLOT_LONG:
            return cf_broken(rep, &ch, i, "malformed: line longer than %d bytes",
                             CF_AUDIT_LINE_MAX);
        case CF_SLOT_TORN:
            return cf_broken(rep, &ch, i,
                             "torn: the last line has no newline "
                             "(an interrupted write)");
        case CF_SLOT_LINE:
            if (!cur->parsed)
                return cf_broken(rep, &ch, i, "malformed: %s", cur->error);
            break;
        default: return cf_broken(rep, &ch, i, "malformed: unreadable line");
        }
        bool nx_ok = nx->kind == CF_SLOT_LINE && nx->parsed;
        CF_GUARD(cf_check_line(rep, &ch, cur, nx_ok ? nx : NULL));
        if (want_head && ex->lines == i && !cf_eq(cur->hash, want_head))
            return cf_broken(rep, &ch, i,
                             "altered: the hash of line %llu is not the expected "
                             "head",
                             i);
        ch.n = i;
        ch.seq = cur->info.seq;
        memcpy(ch.prev, ch.hash, sizeof ch.prev);
        memcpy(ch.hash, cur->hash, sizeof ch.hash);
        rep->lines = ch.n;
        cf_hex32(ch.hash, rep->head_hash);
        cf_slot *t = cur;
        cur = nx;
        nx = t;
    }
    if (ex && ex->lines > ch.n)
        return cf_broken(rep, &ch, ch.n + 1,
                         "missing: the log has %llu lines, at least %llu "
                         "expected (lines removed from the end)",
                         ch.n, ex->lines);
    if (want_head && ex->lines == 0 && !cf_eq(ch.hash, want_head))
        return cf_broken(rep, &ch, ch.n ? ch.n : 1,
                         "altered: the head is not the expected one (the "
                         "last line altered, or lines removed or appended)");
    return true;
}

bool cf_audit_verify(const char *path, const cf_audit_expect *expect, cf_audit_report *rep)
{
    memset(rep, 0, sizeof *rep);
    uint8_t want_head[CF_AUDIT_HASH_LEN];
    bool have_head = expect && expect->head;
    if (have_head && !cf_parse_hex32(expect->head, want_head)) {
        CF_RAISE(CF_ERR_BAD_INPUT, "the expected head must be 64 hex digits");
        return cf_unreadable(rep);
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        cf_error_raisef(errno == ENOENT ? CF_ERR_NOT_FOUND : CF_ERR_IO, __FILE__, __LINE__,
                        "cannot open %.100s: %s", path, strerror(errno));
        return cf_unreadable(rep);
    }
    /* Two 8 KiB line buffers: too big for some thread stacks. */
    cf_slot *slots = calloc(2, sizeof *slots);
    if (!slots) {
        fclose(f);
        CF_RAISE(CF_ERR_NOMEM, NULL);
        return cf_unreadable(rep);
    }
    bool ok = cf_verify_stream(f, expect, have_head ? want_head : NULL, &slots[0], &slots[1], rep);
    free(slots);
    fclose(f);
    return ok;
}
