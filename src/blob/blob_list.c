/*
 * List Blobs: prefix, delimiter (BlobPrefix entries), marker paging and
 * maxresults, in bytewise name order (SQLite's BINARY collation on UTF-8;
 * COLLATE "C" on PostgreSQL: the same order).
 *
 * The walk keeps a cursor into the name index.  With a delimiter, a name
 * that has it after the prefix yields its group prefix P once, and the
 * walk jumps past every name starting with P by seeking to the least
 * string after all of them: P with its last character incremented
 * (bs_after_group).  That cursor is itself valid UTF-8, so it binds as text
 * on either backend (PostgreSQL's text refuses invalid UTF-8, such as a
 * byte past 0xF4 appended to P), and the seek stays `name >= ?` on the
 * primary key's index.  The marker handed back is the next name the walk
 * would return (a real blob name, inclusive), so markers stay valid UTF-8
 * and a group is never split across pages.  Prefix, marker and delimiter
 * must be valid UTF-8: no name starts with anything else, and a delimiter
 * that is not could match half a character.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define BS_LIST_MAX 5000

typedef struct {
    cf_blob_store *s;
    const char *account, *container, *prefix, *delim;
    size_t prefix_len, delim_len;
    unsigned max, n;
    bool with_meta;
    int64_t now;
    cf_blob_list_cb each;
    void *ctx;
    char *next_marker;
    size_t next_len;
    /* The cursor: names >= cursor (or > when `exclusive`). */
    char cursor[CF_BLOB_NAME_MAX + 8];
    size_t cursor_len;
    bool exclusive;
} bs_list;

static void bs_set_cursor(bs_list *l, const char *p, size_t len, bool exclusive)
{
    memcpy(l->cursor, p, len);
    l->cursor_len = len;
    l->exclusive = exclusive;
}

/* Sets the cursor to the least string greater than every string that
 * starts with group[0..len): the group with its last character replaced
 * by the next code point (U+D7FF steps over the surrogates; U+10FFFF,
 * which has no next, goes, and the character before it is incremented).
 * UTF-8 byte order is code point order, so for any name N > group that
 * does not start with it, N >= the cursor: at the first character where N
 * and the group differ, N's is greater, so at least the next one.
 * *none: no string is greater (the group is all U+10FFFF). */
static bool bs_after_group(bs_list *l, const char *group, size_t len, bool *none)
{
    const uint8_t *g = (const uint8_t *)group;
    *none = false;
    while (len) {
        size_t start = len - 1;
        while (start && (g[start] & 0xc0) == 0x80)
            start--;
        uint32_t cp;
        CF_ENSURE(cf_utf8_decode(g + start, len - start, &cp) == len - start, CF_ERR_INTERNAL,
                  "a listing group is not UTF-8");
        len = start;
        if (cp == 0x10ffff)
            continue;
        uint8_t next[4];
        size_t n = cf_utf8_encode(cp == 0xd7ff ? 0xe000 : cp + 1, next);
        bs_set_cursor(l, group, len, false);
        memcpy(l->cursor + len, next, n);
        l->cursor_len = len + n;
        return true;
    }
    *none = true;
    return true;
}

/* Handles one row.  *stop: the page is done; *requery: the cursor moved. */
static bool bs_list_row(bs_list *l, cf_db_stmt *st, bool *stop, bool *requery)
{
    const char *name = (const char *)cf_db_column_text(st, 0);
    size_t len = (size_t)cf_db_column_bytes(st, 0);
    CF_ENSURE(name && len <= CF_BLOB_NAME_MAX, CF_ERR_DB, "malformed blob name");
    if (len < l->prefix_len || memcmp(name, l->prefix, l->prefix_len) != 0) {
        *stop = true; /* past the prefix range: nothing later matches */
        return true;
    }
    if (l->n == l->max) {
        snprintf(l->next_marker, l->next_len, "%s", name);
        *stop = true;
        return true;
    }
    if (l->delim_len) {
        const char *d = memmem(name + l->prefix_len, len - l->prefix_len, l->delim, l->delim_len);
        if (d) {
            size_t plen = (size_t)(d - name) + l->delim_len;
            char group[CF_BLOB_NAME_MAX + 1];
            memcpy(group, name, plen);
            group[plen] = '\0';
            l->n++;
            CF_GUARD(l->each(l->ctx, NULL, group));
            bool none;
            CF_GUARD(bs_after_group(l, group, plen, &none));
            *stop = none; /* nothing sorts after the group */
            *requery = !none;
            return true;
        }
    }
    cf_blob_info info;
    /* Metadata is opened only when asked for: one envelope fewer per blob. */
    CF_GUARD(cf_bs_read_blob_row(l->s, l->account, l->container, st, l->with_meta, l->now, &info));
    l->n++;
    bool ok = l->each(l->ctx, &info, NULL);
    cf_blob_info_free(&info);
    bs_set_cursor(l, name, len, true);
    return ok;
}

/* One query from the cursor; *more when the walk must continue. */
static bool bs_list_batch(bs_list *l, bool *more)
{
    cf_blob_store *s = l->s;
    cf_db_stmt *st = l->exclusive
                         ? CF_DB_PREP(s->db,
                                      "SELECT " BS_BLOB_COLUMNS " FROM blobs WHERE account = ?1"
                                      " AND container = ?2 AND name > ?3 ORDER BY name LIMIT ?4",
                                      l->account, l->container)
                         : CF_DB_PREP(s->db,
                                      "SELECT " BS_BLOB_COLUMNS " FROM blobs WHERE account = ?1"
                                      " AND container = ?2 AND name >= ?3 ORDER BY name LIMIT ?4",
                                      l->account, l->container);
    CF_GUARD(st);
    if (!cf_db_bind_text_copy(st, 3, l->cursor, l->cursor_len)) {
        cf_db_done(st);
        return false;
    }
    cf_db_bind_int64(st, 4, (int64_t)(l->max - l->n) + 1);
    const unsigned limit = l->max - l->n + 1;
    bool ok = true, stop = false, requery = false;
    unsigned rows = 0;
    int rc = CF_DB_DONE;
    while (ok && !stop && !requery && (rc = cf_db_step(st)) == CF_DB_ROW) {
        rows++;
        ok = bs_list_row(l, st, &stop, &requery);
    }
    if (ok && !stop && !requery)
        ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    /* Continue after a group jump, or behind a full batch. */
    *more = ok && !stop && (requery || rows == limit);
    return ok;
}

static bool bs_list_locked(bs_list *l)
{
    CF_GUARD(cf_bs_container_exists(l->s, l->account, l->container));
    bool more = true;
    while (more)
        CF_GUARD(bs_list_batch(l, &more));
    return true;
}

bool cf_blob_list(cf_blob_store *s, const char *account, const char *container,
                  const cf_blob_list_req *req, int64_t now, cf_blob_list_cb each, void *ctx,
                  char *next_marker, size_t next_len)
{
    CF_GUARD(cf_bs_check_names(account, container, NULL));
    CF_ENSURE_REF(req);
    CF_ENSURE_REF(each);
    CF_ENSURE_REF(next_marker);
    CF_ENSURE_REASON(req->max_results >= 1 && req->max_results <= BS_LIST_MAX, CF_ERR_BAD_INPUT,
                     "InvalidQueryParameterValue", "maxresults must be 1..5000");
    CF_ENSURE(next_len > CF_BLOB_MARKER_MAX, CF_ERR_BAD_INPUT, "marker buffer too small");
    bs_list *l = calloc(1, sizeof *l);
    CF_ENSURE_ALLOC(l);
    const char *prefix = req->prefix ? req->prefix : "";
    const char *marker = req->marker ? req->marker : "";
    *l = (bs_list){s,
                   account,
                   container,
                   prefix,
                   req->delimiter ? req->delimiter : "",
                   strlen(prefix),
                   0,
                   req->max_results,
                   0,
                   req->include_metadata,
                   now,
                   each,
                   ctx,
                   next_marker,
                   next_len,
                   "",
                   0,
                   false};
    l->delim_len = strlen(l->delim);
    bool ok = true;
    if (l->prefix_len > CF_BLOB_NAME_MAX || strlen(marker) > CF_BLOB_NAME_MAX ||
        l->delim_len > CF_BLOB_NAME_MAX) {
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                        "prefix, marker or delimiter too long");
        ok = false;
    } else if (!cf_utf8_valid(CF_SLICE_STR(prefix)) || !cf_utf8_valid(CF_SLICE_STR(marker)) ||
               !cf_utf8_valid(CF_SLICE_STR(l->delim))) {
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                        "prefix, marker and delimiter must be UTF-8");
        ok = false;
    }
    /* Start at the later of marker and prefix; copied first, since callers
     * may pass the previous page's next_marker buffer as both. */
    if (ok) {
        const char *start = strcmp(marker, prefix) > 0 ? marker : prefix;
        bs_set_cursor(l, start, strlen(start), false);
        next_marker[0] = '\0';
        ok = BS_LOCKED(s, cf_db_read_begin(s->db) && cf_db_read_end(s->db, bs_list_locked(l)));
    }
    free(l);
    return ok;
}
