/*
 * The "coffer" VFS (coffer_tde.h, docs/database-encryption.md): a shim over
 * the default VFS that seals pages on their way to the disk.
 *
 *   main database  the Coffer header (8 KiB) first, SQLite's page N at
 *                  8 KiB + (N-1) * page size, each sealed with its number
 *   journal        records of page number (4), page, checksum (4); the
 *                  page sealed with the number written just before it
 *   WAL            a 32-byte header and frames of a 24-byte header and a
 *                  page; the page sealed with the number in its header
 *   temporary      per-file random key, 4 KiB blocks (tde_temp.c)
 *
 * Headers, checksums and the -shm index stay in clear: SQLite needs them
 * to recover, and they hold no content.  Memory-mapped I/O is declined so
 * that every read passes through here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "secmem.h"
#include "tde_internal.h"

enum { CF_KIND_MAIN, CF_KIND_JOURNAL, CF_KIND_WAL, CF_KIND_TEMP, CF_KIND_PLAIN };

#define CF_WAL_HEADER 32
#define CF_WAL_FRAME_HEADER 24
#define CF_PENDING_BYTE 0x40000000
#define CF_AHEAD_BYTES (128 * 1024)

typedef struct cf_tde_file cf_tde_file;
struct cf_tde_file {
    sqlite3_file base;
    int kind;
    cf_tde_db *db; /* main: owned; journal, WAL: the main file's */
    uint8_t *scratch;
    /* main: the last page read in part (page 1's change counter, read at
     * the start of every transaction), as sealed and as opened */
    sqlite3_int64 part_index;
    uint8_t *part_sealed, *part_plain;
    /* main: sealed pages read ahead when SQLite reads in sequence (a scan):
     * one read for CF_AHEAD_BYTES instead of one per page.  Only sealed
     * bytes, dropped at every transaction's start and at every write. */
    uint8_t *ahead;
    sqlite3_int64 ahead_first, ahead_count, last_index;
    int streak; /* pages read in sequence so far */
    /* journal: the page number written last, and where the last page ended */
    sqlite3_int64 pgno_at, page_end;
    uint32_t pgno;
    bool wrote_pages; /* this connection's own journal, not a hot one */
    /* journal: where the last page read ended, and its key generation */
    sqlite3_int64 read_end;
    uint8_t read_gen;
    /* WAL: the frame header written last */
    sqlite3_int64 frame_at;
    uint32_t frame_pgno;
    /* WAL: frames written in one call instead of a call per header and per
     * page (see cf_wal_flush): a header appended at the log's end waits for
     * its page (held_at >= 0, masked); whole frames (masked header, sealed
     * page: nothing secret) gather in `run`.  wal_end is where this
     * connection's writes to the log end (0 after a new log header). */
    uint8_t held[CF_WAL_FRAME_HEADER];
    sqlite3_int64 held_at, run_at, wal_end;
    uint8_t *run;
    size_t run_len;
    /* main: its WAL, whose gathered writes go out before the WAL's write
     * lock is released; WAL: its main file */
    cf_tde_file *wal, *main;
    cf_tde_temp temp;
    sqlite3_file *real; /* the default VFS's file, allocated after this */
};

static sqlite3_vfs cf_tde_vfs;
static const sqlite3_io_methods cf_tde_methods;

#define CF_REAL(p) ((p)->real)
#define CF_BASE_VFS() ((sqlite3_vfs *)cf_tde_vfs.pAppData)

/* ---- errors ---- */

static _Thread_local char cf_tde_error[512];

const char *coffer_tde_last_error(void)
{
    return cf_tde_error;
}

void cf_tde_error_clear(void)
{
    cf_tde_error[0] = '\0';
}

int cf_tde_fail(int code)
{
    const char *why = cf_error_detail();
    snprintf(cf_tde_error, sizeof cf_tde_error, "coffer tde: %s",
             why && *why ? why : cf_err_name(cf_error_code()));
    sqlite3_log(code, "%s", cf_tde_error);
    return code;
}

/* The SQLite code for a failure to get at the keys. */
static int cf_tde_key_fail(void)
{
    cf_err e = cf_error_code();
    if (e == CF_ERR_DECRYPT || e == CF_ERR_BAD_INPUT)
        return cf_tde_fail(SQLITE_CORRUPT);
    if (e == CF_ERR_IO || e == CF_ERR_NOMEM)
        return cf_tde_fail(e == CF_ERR_NOMEM ? SQLITE_NOMEM : SQLITE_IOERR);
    return cf_tde_fail(SQLITE_AUTH);
}

static uint32_t cf_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t cf_page_size(const cf_tde_file *p)
{
    return p->db && p->db->have_header ? p->db->header.page_size : 0;
}

/* A page's room, with a WAL frame header's room in front of it: a page
 * read from the WAL comes with its header in one read. */
#define CF_SCRATCH_LEN (CF_WAL_FRAME_HEADER + CF_TDE_PAGE_MAX)

static uint8_t *cf_scratch(cf_tde_file *p)
{
    if (!p->scratch)
        p->scratch = malloc(CF_SCRATCH_LEN);
    return p->scratch ? p->scratch + CF_WAL_FRAME_HEADER : NULL;
}

/* ---- sealing one page ---- */

static int cf_open_page(cf_tde_file *p, uint8_t *page, uint32_t pgno)
{
    cf_tde_db *db = p->db;
    uint32_t ps = db->header.page_size;
    cf_xaes *key = NULL;
    if (!cf_tde_db_key(db, cf_tde_page_generation(page, ps), &key))
        return cf_tde_key_fail();
    if (!cf_tde_page_open(key, db->header.salt, pgno, page, ps))
        return cf_tde_fail(SQLITE_CORRUPT);
    return SQLITE_OK;
}

/* Seals a copy of `page` into the scratch buffer. */
static int cf_seal_page(cf_tde_file *p, const void *page, uint32_t pgno, uint8_t **sealed)
{
    cf_tde_db *db = p->db;
    uint32_t ps = db->header.page_size;
    cf_xaes *key = cf_tde_db_current(db);
    uint8_t *out = cf_scratch(p);
    if (!out)
        return SQLITE_NOMEM;
    if (!key) {
        CF_RAISE(CF_ERR_FORBIDDEN, "the database key is not available");
        return cf_tde_key_fail();
    }
    memcpy(out, page, ps);
    if (!cf_tde_page_seal(key, &db->nonces, db->header.salt, pgno, db->header.current, out, ps))
        return cf_tde_fail(SQLITE_IOERR_WRITE);
    *sealed = out;
    return SQLITE_OK;
}

/* ---- the main database ---- */

/* Forgets the read-ahead: at a transaction's start, at every write. */
static void cf_ahead_drop(cf_tde_file *p)
{
    p->ahead_count = 0;
    p->last_index = -2;
    p->streak = 0;
}

/* The sealed page `index` from the read-ahead buffer, refilled when SQLite
 * reads the page after the last one: true when it was there. */
static bool cf_ahead_take(cf_tde_file *p, uint8_t *page, sqlite3_int64 index)
{
    uint32_t ps = cf_page_size(p);
    /* Three pages in a row make a scan; page 1 then the root page, at the
     * start of a transaction, do not. */
    p->streak = index == p->last_index + 1 ? p->streak + 1 : 0;
    p->last_index = index;
    bool sequential = p->streak >= 2;
    if (index < p->ahead_first || index >= p->ahead_first + p->ahead_count) {
        sqlite3_file *real = CF_REAL(p);
        sqlite3_int64 size = 0;
        if (!sequential || ps > CF_AHEAD_BYTES / 4 ||
            real->pMethods->xFileSize(real, &size) != SQLITE_OK)
            return false;
        sqlite3_int64 n = (size - CF_TDE_HEADER_LEN) / ps - index;
        if (n > CF_AHEAD_BYTES / ps)
            n = CF_AHEAD_BYTES / ps;
        if (!p->ahead)
            p->ahead = malloc(CF_AHEAD_BYTES);
        p->ahead_count = 0;
        if (n < 2 || !p->ahead ||
            real->pMethods->xRead(real, p->ahead, (int)(n * ps), CF_TDE_HEADER_LEN + index * ps) !=
                SQLITE_OK)
            return false;
        p->ahead_first = index;
        p->ahead_count = n;
    }
    memcpy(page, p->ahead + (index - p->ahead_first) * ps, ps);
    return true;
}

/* Reads and opens logical page `index` (0-based) into `page`; a page
 * wholly beyond the end reads as zeros with SQLITE_IOERR_SHORT_READ. */
static int cf_main_read_page(cf_tde_file *p, uint8_t *page, sqlite3_int64 index)
{
    uint32_t ps = cf_page_size(p);
    sqlite3_file *real = CF_REAL(p);
    if (cf_ahead_take(p, page, index))
        return cf_open_page(p, page, (uint32_t)(index + 1));
    int rc = real->pMethods->xRead(real, page, (int)ps, CF_TDE_HEADER_LEN + index * ps);
    if (rc == SQLITE_IOERR_SHORT_READ) {
        sqlite3_int64 size = 0;
        if (real->pMethods->xFileSize(real, &size) == SQLITE_OK &&
            size <= CF_TDE_HEADER_LEN + index * ps)
            return SQLITE_IOERR_SHORT_READ;
        CF_RAISE(CF_ERR_DECRYPT, "the database file ends inside a page (truncated)");
        return cf_tde_fail(SQLITE_CORRUPT);
    }
    if (rc != SQLITE_OK)
        return rc;
    return cf_open_page(p, page, (uint32_t)(index + 1));
}

/* Part of logical page `index`: the whole page is read, and opened unless
 * it is, byte for byte, the sealed page opened last time. */
static int cf_main_read_part(cf_tde_file *p, uint8_t *out, sqlite3_int64 index, sqlite3_int64 in,
                             sqlite3_int64 n)
{
    uint32_t ps = cf_page_size(p);
    if (!p->part_sealed || !p->part_plain) {
        free(p->part_sealed);
        free(p->part_plain);
        p->part_index = -1;
        p->part_sealed = malloc(CF_TDE_PAGE_MAX);
        p->part_plain = malloc(CF_TDE_PAGE_MAX);
        if (!p->part_sealed || !p->part_plain)
            return SQLITE_NOMEM;
    }
    uint8_t *page = cf_scratch(p);
    if (!page)
        return SQLITE_NOMEM;
    sqlite3_file *real = CF_REAL(p);
    int rc = real->pMethods->xRead(real, page, (int)ps, CF_TDE_HEADER_LEN + index * ps);
    if (rc == SQLITE_OK && index == p->part_index && memcmp(page, p->part_sealed, ps) == 0) {
        memcpy(out, p->part_plain + in, (size_t)n);
        return SQLITE_OK;
    }
    p->part_index = -1;
    rc = cf_main_read_page(p, page, index);
    if (rc != SQLITE_OK)
        return rc;
    /* Read again rather than kept from before opening: opening is in place. */
    if (real->pMethods->xRead(real, p->part_sealed, (int)ps, CF_TDE_HEADER_LEN + index * ps) ==
        SQLITE_OK) {
        memcpy(p->part_plain, page, ps);
        p->part_index = index;
    }
    memcpy(out, page + in, (size_t)n);
    return SQLITE_OK;
}

static int cf_main_read(cf_tde_file *p, void *buf, int amt, sqlite3_int64 off)
{
    if (!p->db->have_header) {
        memset(buf, 0, (size_t)amt); /* a new, empty database */
        return SQLITE_IOERR_SHORT_READ;
    }
    if (!cf_tde_db_fresh(p->db))
        return cf_tde_key_fail();
    uint32_t ps = cf_page_size(p);
    uint8_t *out = buf;
    for (sqlite3_int64 pos = off, end = off + amt; pos < end;) {
        sqlite3_int64 index = pos / ps, in = pos % ps;
        sqlite3_int64 n = ps - in < end - pos ? ps - in : end - pos;
        bool whole = in == 0 && n == ps;
        int rc = whole ? cf_main_read_page(p, out + (pos - off), index)
                       : cf_main_read_part(p, out + (pos - off), index, in, n);
        if (rc == SQLITE_IOERR_SHORT_READ) {
            memset(out + (pos - off), 0, (size_t)(end - pos));
            return rc;
        }
        if (rc != SQLITE_OK)
            return rc;
        pos += n;
    }
    return SQLITE_OK;
}

/* Page 1 as SQLite wrote it must keep the reserved bytes the seal needs,
 * and the page size the header was made for. */
static int cf_main_check_page1(cf_tde_file *p, const uint8_t *page, uint32_t ps)
{
    uint32_t said = (uint32_t)page[16] << 8 | page[17];
    if (said == 1)
        said = 65536;
    if (page[20] != CF_TDE_RESERVED) {
        CF_RAISE(CF_ERR_BAD_INPUT, "the database does not keep 48 reserved bytes per page "
                                   "(open it through coffer_tde_register's auto-extension, or "
                                   "set SQLITE_FCNTL_RESERVE_BYTES to 48 before the first write)");
        return cf_tde_fail(SQLITE_IOERR_WRITE);
    }
    if (said != ps) {
        CF_RAISE(CF_ERR_UNSUPPORTED, "the page size of an encrypted database cannot change");
        return cf_tde_fail(SQLITE_IOERR_WRITE);
    }
    (void)p;
    return SQLITE_OK;
}

static int cf_main_write(cf_tde_file *p, const void *buf, int amt, sqlite3_int64 off)
{
    cf_tde_db *db = p->db;
    cf_ahead_drop(p);
    if (!db->have_header) {
        /* The first write of a new database is its page 1. */
        if (off != 0 || amt < (int)CF_TDE_PAGE_MIN || amt > CF_TDE_PAGE_MAX ||
            (amt & (amt - 1)) != 0) {
            CF_RAISE(CF_ERR_BAD_INPUT, "a new database must begin with page 1");
            return cf_tde_fail(SQLITE_IOERR_WRITE);
        }
        int rc = cf_main_check_page1(p, buf, (uint32_t)amt);
        if (rc != SQLITE_OK)
            return rc;
        if (!cf_tde_db_create(db, (uint32_t)amt))
            return cf_tde_key_fail();
    }
    if (!cf_tde_db_fresh(db))
        return cf_tde_key_fail();
    uint32_t ps = cf_page_size(p);
    const uint8_t *in_buf = buf;
    for (sqlite3_int64 pos = off, end = off + amt; pos < end;) {
        sqlite3_int64 index = pos / ps, in = pos % ps;
        sqlite3_int64 n = ps - in < end - pos ? ps - in : end - pos;
        const uint8_t *page = in_buf + (pos - off);
        uint8_t *patched = NULL;
        if (in != 0 || n != ps) {
            /* Part of a page: read, patch, seal again. */
            patched = malloc(ps);
            if (!patched)
                return SQLITE_NOMEM;
            int rc = cf_main_read_page(p, patched, index);
            if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
                cf_memzero(patched, ps);
                free(patched);
                return rc;
            }
            memcpy(patched + in, page, (size_t)n);
            page = patched;
        }
        int rc = index == 0 ? cf_main_check_page1(p, page, ps) : SQLITE_OK;
        uint8_t *sealed = NULL;
        if (rc == SQLITE_OK)
            rc = cf_seal_page(p, page, (uint32_t)(index + 1), &sealed);
        if (patched)
            cf_memzero(patched, ps); /* plaintext */
        free(patched);
        if (rc == SQLITE_OK)
            rc = CF_REAL(p)->pMethods->xWrite(CF_REAL(p), sealed, (int)ps,
                                              CF_TDE_HEADER_LEN + index * ps);
        if (rc != SQLITE_OK)
            return rc;
        pos += n;
    }
    return SQLITE_OK;
}

/* ---- checksums ----
 * SQLite keeps a checksum of each plaintext page beside it: the journal
 * after every record, the WAL in every frame header.  They are weak sums of
 * the plaintext, so they are stored masked with a value only the DEK gives
 * (tde_keys.c), bound to where they are and, in the WAL, to the frame's
 * salts. */

#define CF_WAL_CKSUM_AT 16

static int cf_mask(cf_tde_file *p, uint8_t gen, char kind, sqlite3_int64 off, const uint8_t *salts,
                   uint8_t *field, size_t n)
{
    uint8_t ctx[17] = {(uint8_t)kind};
    for (int i = 0; i < 8; i++)
        ctx[1 + i] = (uint8_t)((uint64_t)off >> (56 - 8 * i));
    if (salts)
        memcpy(ctx + 9, salts, 8);
    if (!cf_tde_db_mask(p->db, gen, cf_slice_of(ctx, sizeof ctx), field, n))
        return cf_tde_key_fail();
    return SQLITE_OK;
}

/* Unmasking what a crash may have left half-written: a generation no key
 * holds leaves the bytes as they are, and SQLite's own check of them fails
 * (recovery stops there); other failures are errors. */
static int cf_unmask(cf_tde_file *p, uint8_t gen, char kind, sqlite3_int64 off,
                     const uint8_t *salts, uint8_t *field, size_t n)
{
    int rc = cf_mask(p, gen, kind, off, salts, field, n);
    return rc == SQLITE_CORRUPT ? SQLITE_OK : rc;
}

/* ---- the rollback journal ---- */

static uint32_t cf_lock_byte_page(uint32_t ps)
{
    return CF_PENDING_BYTE / ps + 1;
}

/* The page number stored just before offset `off`. */
static int cf_journal_pgno(cf_tde_file *p, sqlite3_int64 off, uint32_t *pgno)
{
    if (off == p->pgno_at + 4) {
        *pgno = p->pgno;
        return SQLITE_OK;
    }
    uint8_t be[4];
    int rc = CF_REAL(p)->pMethods->xRead(CF_REAL(p), be, 4, off - 4);
    if (rc == SQLITE_OK)
        *pgno = cf_be32(be);
    return rc;
}

static int cf_journal_read(cf_tde_file *p, void *buf, int amt, sqlite3_int64 off)
{
    int rc = CF_REAL(p)->pMethods->xRead(CF_REAL(p), buf, amt, off);
    uint32_t ps = cf_page_size(p), pgno = 0;
    if (rc == SQLITE_OK && amt == 4 && off == p->read_end) {
        p->read_end = -1; /* the checksum after the page just read */
        return cf_unmask(p, p->read_gen, 'j', off, NULL, buf, 4);
    }
    if (rc != SQLITE_OK || ps == 0 || (uint32_t)amt != ps || off < 4)
        return rc;
    rc = cf_journal_pgno(p, off, &pgno);
    if (rc != SQLITE_OK || pgno == cf_lock_byte_page(ps))
        return rc; /* the super-journal's name, not a page */
    if (!cf_tde_db_fresh(p->db))
        return cf_tde_key_fail();
    p->read_end = off + amt;
    p->read_gen = cf_tde_page_generation(buf, ps);
    rc = cf_open_page(p, buf, pgno);
    /* A hot journal (one this connection did not write) is read by
     * recovery, which stops at the first record whose checksum fails: a
     * record torn by a power loss (synchronous=NORMAL counts records before
     * syncing them), or one from another database, reads as zeros and ends
     * the replay there, as it would without the VFS.  In the writer's own
     * journal (a savepoint rolled back; no checksum) a failure is an
     * error. */
    if (rc == SQLITE_CORRUPT && !p->wrote_pages) {
        memset(buf, 0, ps);
        return SQLITE_OK;
    }
    return rc;
}

static int cf_journal_write(cf_tde_file *p, const void *buf, int amt, sqlite3_int64 off)
{
    uint32_t ps = cf_page_size(p);
    if (amt == 4) {
        if (off == p->page_end) {
            p->page_end = -1; /* the checksum after a page */
            uint8_t masked[4];
            memcpy(masked, buf, 4);
            int rc = cf_mask(p, p->db->header.current, 'j', off, NULL, masked, 4);
            return rc != SQLITE_OK ? rc : CF_REAL(p)->pMethods->xWrite(CF_REAL(p), masked, 4, off);
        } else {
            p->pgno_at = off;
            p->pgno = cf_be32(buf);
        }
    } else if (ps != 0 && (uint32_t)amt == ps && off == p->pgno_at + 4 &&
               p->pgno != cf_lock_byte_page(ps)) {
        if (!cf_tde_db_fresh(p->db))
            return cf_tde_key_fail();
        uint8_t *sealed = NULL;
        int rc = cf_seal_page(p, buf, p->pgno, &sealed);
        if (rc == SQLITE_OK)
            rc = CF_REAL(p)->pMethods->xWrite(CF_REAL(p), sealed, amt, off);
        if (rc == SQLITE_OK) {
            p->page_end = off + amt;
            p->pgno_at = -1;
            p->wrote_pages = true;
        }
        return rc;
    }
    return CF_REAL(p)->pMethods->xWrite(CF_REAL(p), buf, amt, off);
}

/* ---- the WAL ---- */

typedef enum { CF_WAL_CLEAR, CF_WAL_PAGE, CF_WAL_FRAME, CF_WAL_ODD } cf_wal_part;

static cf_wal_part cf_wal_classify(uint32_t ps, int amt, sqlite3_int64 off)
{
    if (off + amt <= CF_WAL_HEADER)
        return CF_WAL_CLEAR;
    if (off < CF_WAL_HEADER || ps == 0)
        return CF_WAL_ODD;
    sqlite3_int64 rel = (off - CF_WAL_HEADER) % (ps + CF_WAL_FRAME_HEADER);
    if (rel + amt <= CF_WAL_FRAME_HEADER)
        return CF_WAL_CLEAR; /* within a frame header (e.g. the checksums) */
    if (rel == CF_WAL_FRAME_HEADER && (uint32_t)amt == ps)
        return CF_WAL_PAGE;
    if (rel == 0 && (uint32_t)amt == ps + CF_WAL_FRAME_HEADER)
        return CF_WAL_FRAME;
    return CF_WAL_ODD;
}

static int cf_wal_odd(int amt, sqlite3_int64 off)
{
    cf_error_raisef(CF_ERR_UNSUPPORTED, __FILE__, __LINE__,
                    "an access to the WAL that is not a header or a whole page (%d bytes at %lld)",
                    amt, (long long)off);
    return cf_tde_fail(SQLITE_IOERR);
}

/* Where the frame holding `off` begins (off past the WAL header). */
static sqlite3_int64 cf_frame_start(uint32_t ps, sqlite3_int64 off)
{
    return off - (off - CF_WAL_HEADER) % (ps + CF_WAL_FRAME_HEADER);
}

/* A read of part of a frame header that takes in its checksums: the whole
 * header is read, unmasked under its page's generation, and the part
 * handed back. */
static int cf_wal_read_checksums(cf_tde_file *p, uint8_t *buf, int amt, sqlite3_int64 off)
{
    uint32_t ps = cf_page_size(p);
    sqlite3_int64 frame = cf_frame_start(ps, off);
    uint8_t hdr[CF_WAL_FRAME_HEADER], gen = 0;
    sqlite3_file *real = CF_REAL(p);
    int rc = real->pMethods->xRead(real, hdr, sizeof hdr, frame);
    if (rc == SQLITE_OK)
        rc = real->pMethods->xRead(real, &gen, 1,
                                   frame + CF_WAL_FRAME_HEADER + ps - CF_TDE_RESERVED);
    if (rc == SQLITE_OK)
        rc = cf_unmask(p, gen, 'w', frame, hdr + 8, hdr + CF_WAL_CKSUM_AT, 8);
    if (rc == SQLITE_OK)
        memcpy(buf, hdr + (off - frame), (size_t)amt);
    return rc;
}

static int cf_wal_read(cf_tde_file *p, void *buf, int amt, sqlite3_int64 off)
{
    uint32_t ps = cf_page_size(p);
    cf_wal_part part = cf_wal_classify(ps, amt, off);
    if (part == CF_WAL_ODD)
        return cf_wal_odd(amt, off);
    if (part == CF_WAL_CLEAR && off >= CF_WAL_HEADER &&
        off + amt > cf_frame_start(ps, off) + CF_WAL_CKSUM_AT) {
        if (!cf_tde_db_fresh(p->db))
            return cf_tde_key_fail();
        return cf_wal_read_checksums(p, buf, amt, off);
    }
    if (part == CF_WAL_PAGE) {
        /* The page with its header (for the page number) in one read; a
         * short read hands back what SQLite's own read would have. */
        uint8_t *page = cf_scratch(p);
        if (!page)
            return SQLITE_NOMEM;
        int rc = CF_REAL(p)->pMethods->xRead(CF_REAL(p), page - CF_WAL_FRAME_HEADER,
                                             CF_WAL_FRAME_HEADER + amt, off - CF_WAL_FRAME_HEADER);
        memcpy(buf, page, (size_t)amt);
        if (rc != SQLITE_OK)
            return rc;
        if (!cf_tde_db_fresh(p->db))
            return cf_tde_key_fail();
        return cf_open_page(p, buf, cf_be32(page - CF_WAL_FRAME_HEADER));
    }
    int rc = CF_REAL(p)->pMethods->xRead(CF_REAL(p), buf, amt, off);
    if (rc != SQLITE_OK || part == CF_WAL_CLEAR)
        return rc;
    if (!cf_tde_db_fresh(p->db))
        return cf_tde_key_fail();
    /* A whole frame: recovery reading the log.  A frame that does not open
     * is one torn by a crash (or not ours): its page reads as zeros, which
     * fails SQLite's frame checksum, so recovery stops before it. */
    uint8_t *frame = buf;
    rc = cf_unmask(p, cf_tde_page_generation(frame + CF_WAL_FRAME_HEADER, ps), 'w', off, frame + 8,
                   frame + CF_WAL_CKSUM_AT, 8);
    if (rc != SQLITE_OK)
        return rc;
    rc = cf_open_page(p, frame + CF_WAL_FRAME_HEADER, cf_be32(frame));
    if (rc == SQLITE_CORRUPT) {
        memset(frame + CF_WAL_FRAME_HEADER, 0, ps);
        rc = SQLITE_OK;
    }
    return rc; /* no key, no memory: an error, not a torn frame */
}

/* The most whole frames gathered for one write: a 1 KiB put's commit is
 * about 11 frames of 4 KiB pages; the largest page's frame must fit. */
#define CF_WAL_RUN_MAX (128 * 1024)
_Static_assert(CF_WAL_RUN_MAX >= CF_WAL_FRAME_HEADER + CF_TDE_PAGE_MAX, "a frame fits a run");

/* Writes the gathered frames, then a held header.  SQLite writes a frame's
 * header and page in two calls and a commit's frames one after another;
 * gathered, they go out at the commit frame, so no commit returns before
 * its frames are in the file.  Every other access to the WAL and the
 * release of its write lock (or the file lock) call this first, so the file
 * reads as SQLite wrote it and nothing lands once another writer may start.
 * Only uncommitted frames can be pending then: on failure they are dropped,
 * as SQLite drops frames past the last commit. */
static int cf_wal_flush(cf_tde_file *p)
{
    if (p->kind != CF_KIND_WAL)
        return SQLITE_OK;
    sqlite3_file *real = CF_REAL(p);
    int rc = SQLITE_OK;
    if (p->run_len > 0) {
        size_t len = p->run_len;
        p->run_len = 0;
        rc = real->pMethods->xWrite(real, p->run, (int)len, p->run_at);
    }
    sqlite3_int64 held_at = p->held_at;
    p->held_at = -1;
    if (rc == SQLITE_OK && held_at >= 0)
        rc = real->pMethods->xWrite(real, p->held, CF_WAL_FRAME_HEADER, held_at);
    return rc;
}

/* Adds a whole frame at `at` to the run; a commit frame (its header names
 * the database's size after the commit) sends the run out at once, so no
 * commit returns before its frames are in the file. */
static int cf_wal_put_frame(cf_tde_file *p, const uint8_t *hdr, const uint8_t *sealed, uint32_t ps,
                            sqlite3_int64 at)
{
    const size_t n = CF_WAL_FRAME_HEADER + ps;
    int rc = SQLITE_OK;
    if (p->run_len > 0 &&
        (p->run_at + (sqlite3_int64)p->run_len != at || p->run_len + n > CF_WAL_RUN_MAX) &&
        (rc = cf_wal_flush(p)) != SQLITE_OK)
        return rc;
    if (!p->run && !(p->run = malloc(CF_WAL_RUN_MAX)))
        return SQLITE_NOMEM;
    if (p->run_len == 0)
        p->run_at = at;
    memcpy(p->run + p->run_len, hdr, CF_WAL_FRAME_HEADER);
    memcpy(p->run + p->run_len + CF_WAL_FRAME_HEADER, sealed, ps);
    p->run_len += n;
    return cf_be32(hdr + 4) != 0 ? cf_wal_flush(p) : SQLITE_OK;
}

static int cf_wal_write(cf_tde_file *p, const void *buf, int amt, sqlite3_int64 off)
{
    uint32_t ps = cf_page_size(p);
    cf_wal_part part = cf_wal_classify(ps, amt, off);
    sqlite3_file *real = CF_REAL(p);
    /* The page of the held header joins it in the run; a header appended
     * at the log's end is held (both below).  Anything else goes out after
     * the run.  A failure on the way drops the held header with its page. */
    if (off < CF_WAL_HEADER)
        p->wal_end = 0; /* a new log header: the log starts again */
    bool joins = part == CF_WAL_PAGE && p->held_at == off - CF_WAL_FRAME_HEADER;
    bool next_header = part == CF_WAL_CLEAR && p->held_at < 0 && off >= p->wal_end &&
                       off >= CF_WAL_HEADER && amt == CF_WAL_FRAME_HEADER &&
                       cf_frame_start(ps, off) == off;
    if (off + amt > p->wal_end)
        p->wal_end = off + amt;
    uint8_t hdr[CF_WAL_FRAME_HEADER];
    int rc;
    if (joins) {
        memcpy(hdr, p->held, sizeof hdr);
        p->held_at = -1;
    } else if (!next_header && (rc = cf_wal_flush(p)) != SQLITE_OK) {
        return rc;
    }
    if (part == CF_WAL_ODD)
        return cf_wal_odd(amt, off);
    if (part == CF_WAL_CLEAR &&
        (off < CF_WAL_HEADER || off + amt <= cf_frame_start(ps, off) + CF_WAL_CKSUM_AT))
        return real->pMethods->xWrite(real, buf, amt, off);
    if (!cf_tde_db_fresh(p->db))
        return cf_tde_key_fail();
    uint8_t *sealed = NULL;
    if (part == CF_WAL_CLEAR) {
        /* A frame header, its checksums masked (SQLite writes them whole).
         * Appended, it waits for its page; rewritten in place (new checksums
         * after the commit frame), it goes out at once. */
        if (amt != CF_WAL_FRAME_HEADER || cf_frame_start(ps, off) != off)
            return cf_wal_odd(amt, off);
        memcpy(hdr, buf, sizeof hdr);
        p->frame_at = off;
        p->frame_pgno = cf_be32(hdr);
        rc = cf_mask(p, p->db->header.current, 'w', off, hdr + 8, hdr + CF_WAL_CKSUM_AT, 8);
        if (rc != SQLITE_OK || !next_header)
            return rc != SQLITE_OK ? rc : real->pMethods->xWrite(real, hdr, amt, off);
        memcpy(p->held, hdr, sizeof hdr);
        p->held_at = off;
        return SQLITE_OK;
    }
    if (part == CF_WAL_FRAME) {
        const uint8_t *frame = buf;
        memcpy(hdr, frame, sizeof hdr);
        rc = cf_mask(p, p->db->header.current, 'w', off, hdr + 8, hdr + CF_WAL_CKSUM_AT, 8);
        if (rc == SQLITE_OK)
            rc = cf_seal_page(p, frame + CF_WAL_FRAME_HEADER, cf_be32(frame), &sealed);
        return rc != SQLITE_OK ? rc : cf_wal_put_frame(p, hdr, sealed, ps, off);
    }
    uint32_t pgno = p->frame_pgno;
    if (off - CF_WAL_FRAME_HEADER != p->frame_at) {
        uint8_t be[4];
        rc = real->pMethods->xRead(real, be, 4, off - CF_WAL_FRAME_HEADER);
        if (rc != SQLITE_OK)
            return rc;
        pgno = cf_be32(be);
    }
    rc = cf_seal_page(p, buf, pgno, &sealed);
    if (rc != SQLITE_OK)
        return rc;
    return joins ? cf_wal_put_frame(p, hdr, sealed, ps, off - CF_WAL_FRAME_HEADER)
                 : real->pMethods->xWrite(real, sealed, amt, off);
}

/* ---- io methods ---- */

static int cf_io_close(sqlite3_file *file)
{
    cf_tde_file *p = (cf_tde_file *)file;
    int flushed = CF_REAL(p)->pMethods ? cf_wal_flush(p) : SQLITE_OK;
    if (p->main && p->main->wal == p) /* SQLite closes the WAL first */
        p->main->wal = NULL;
    if (p->wal)
        p->wal->main = NULL;
    int rc = CF_REAL(p)->pMethods ? CF_REAL(p)->pMethods->xClose(CF_REAL(p)) : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = flushed;
    if (p->kind == CF_KIND_MAIN)
        cf_tde_db_close(p->db);
    if (p->kind == CF_KIND_TEMP)
        cf_tde_temp_close(&p->temp);
    if (p->scratch)
        cf_memzero(p->scratch, CF_SCRATCH_LEN);
    if (p->part_plain)
        cf_memzero(p->part_plain, CF_TDE_PAGE_MAX);
    free(p->scratch);
    free(p->run);
    free(p->ahead);
    free(p->part_sealed);
    free(p->part_plain);
    p->db = NULL;
    p->scratch = NULL;
    return rc;
}

static int cf_io_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
    cf_tde_file *p = (cf_tde_file *)file;
    switch (p->kind) {
    case CF_KIND_MAIN: return cf_main_read(p, buf, amt, off);
    case CF_KIND_JOURNAL: return cf_journal_read(p, buf, amt, off);
    case CF_KIND_WAL: {
        int rc = cf_wal_flush(p);
        return rc != SQLITE_OK ? rc : cf_wal_read(p, buf, amt, off);
    }
    case CF_KIND_TEMP: return cf_tde_temp_read(&p->temp, CF_REAL(p), buf, amt, off);
    default: return CF_REAL(p)->pMethods->xRead(CF_REAL(p), buf, amt, off);
    }
}

static int cf_io_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
    cf_tde_file *p = (cf_tde_file *)file;
    switch (p->kind) {
    case CF_KIND_MAIN: return cf_main_write(p, buf, amt, off);
    case CF_KIND_JOURNAL: return cf_journal_write(p, buf, amt, off);
    case CF_KIND_WAL: return cf_wal_write(p, buf, amt, off);
    case CF_KIND_TEMP: return cf_tde_temp_write(&p->temp, CF_REAL(p), buf, amt, off);
    default: return CF_REAL(p)->pMethods->xWrite(CF_REAL(p), buf, amt, off);
    }
}

static bool cf_main_with_header(const cf_tde_file *p)
{
    return p->kind == CF_KIND_MAIN && p->db->have_header;
}

static int cf_io_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    cf_tde_file *p = (cf_tde_file *)file;
    int rc = cf_wal_flush(p);
    if (rc != SQLITE_OK)
        return rc;
    if (p->kind == CF_KIND_MAIN)
        cf_ahead_drop(p);
    if (p->kind == CF_KIND_TEMP)
        return cf_tde_temp_truncate(&p->temp, CF_REAL(p), size);
    if (cf_main_with_header(p))
        size += CF_TDE_HEADER_LEN;
    return CF_REAL(p)->pMethods->xTruncate(CF_REAL(p), size);
}

static int cf_io_sync(sqlite3_file *file, int flags)
{
    cf_tde_file *p = (cf_tde_file *)file;
    int rc = cf_wal_flush(p);
    return rc != SQLITE_OK ? rc : CF_REAL(p)->pMethods->xSync(CF_REAL(p), flags);
}

static int cf_io_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    cf_tde_file *p = (cf_tde_file *)file;
    if (p->kind == CF_KIND_TEMP) {
        *size = p->temp.size;
        return SQLITE_OK;
    }
    int rc = cf_wal_flush(p);
    if (rc != SQLITE_OK)
        return rc;
    rc = CF_REAL(p)->pMethods->xFileSize(CF_REAL(p), size);
    if (rc == SQLITE_OK && cf_main_with_header(p))
        *size = *size > CF_TDE_HEADER_LEN ? *size - CF_TDE_HEADER_LEN : 0;
    return rc;
}

/* A writer follows header changes made by other connections (a rekey's new
 * generation) before it seals anything. */
static int cf_follow_header(cf_tde_file *p)
{
    if (!cf_main_with_header(p) || cf_tde_db_follow(p->db))
        return SQLITE_OK;
    return cf_tde_key_fail();
}

/* Every transaction begins with a shared lock: there the keys' cache
 * period is checked, so a revoked protector stops a connection even when
 * SQLite's own cache holds every page it reads. */
static int cf_io_lock(sqlite3_file *file, int level)
{
    cf_tde_file *p = (cf_tde_file *)file;
    int rc = CF_REAL(p)->pMethods->xLock(CF_REAL(p), level);
    if (rc != SQLITE_OK || p->kind != CF_KIND_MAIN)
        return rc;
    if (level == SQLITE_LOCK_SHARED)
        cf_ahead_drop(p); /* another connection may have written since */
    if (level == SQLITE_LOCK_SHARED && !cf_tde_db_fresh(p->db)) {
        rc = cf_tde_key_fail();
        CF_REAL(p)->pMethods->xUnlock(CF_REAL(p), SQLITE_LOCK_NONE);
        return rc;
    }
    if (level != SQLITE_LOCK_RESERVED)
        return SQLITE_OK;
    rc = cf_follow_header(p);
    if (rc != SQLITE_OK)
        CF_REAL(p)->pMethods->xUnlock(CF_REAL(p), SQLITE_LOCK_SHARED);
    return rc;
}

static int cf_io_unlock(sqlite3_file *file, int level)
{
    cf_tde_file *p = (cf_tde_file *)file;
    /* In exclusive locking mode no WAL lock is released (cf_io_shm_lock):
     * leaving that mode releases the file lock instead. */
    if (p->wal)
        (void)cf_wal_flush(p->wal);
    return CF_REAL(p)->pMethods->xUnlock(CF_REAL(p), level);
}

static int cf_io_check_reserved(sqlite3_file *file, int *out)
{
    cf_tde_file *p = (cf_tde_file *)file;
    return CF_REAL(p)->pMethods->xCheckReservedLock(CF_REAL(p), out);
}

static int cf_main_control(cf_tde_file *p, int op, void *arg, bool *handled)
{
    cf_tde_db *db = p->db;
    *handled = true;
    bool ok = true;
    switch (op) {
    case COFFER_TDE_FCNTL_STATUS: cf_tde_db_status(db, arg); return SQLITE_OK;
    case COFFER_TDE_FCNTL_ROTATE_PROTECTOR: ok = cf_tde_db_rotate(db, arg); break;
    case COFFER_TDE_FCNTL_REKEY_BEGIN: ok = cf_tde_db_rekey_begin(db); break;
    case COFFER_TDE_FCNTL_REKEY_END:
        ok = cf_tde_db_rekey_end(db);
        if (!ok && cf_error_code() == CF_ERR_CONFLICT)
            return cf_tde_fail(SQLITE_BUSY);
        break;
    case SQLITE_FCNTL_MMAP_SIZE:
        /* Mapped pages would bypass decryption. */
        *(sqlite3_int64 *)arg = 0;
        return SQLITE_OK;
    case SQLITE_FCNTL_SIZE_HINT: {
        /* The caller's variable stays as it was: SQLite may hint with it
         * again. */
        sqlite3_int64 hint = *(sqlite3_int64 *)arg + (db->have_header ? CF_TDE_HEADER_LEN : 0);
        return CF_REAL(p)->pMethods->xFileControl(CF_REAL(p), op, &hint);
    }
    default: *handled = false; return SQLITE_OK;
    }
    return ok ? SQLITE_OK : cf_tde_key_fail();
}

static int cf_io_file_control(sqlite3_file *file, int op, void *arg)
{
    cf_tde_file *p = (cf_tde_file *)file;
    if (p->kind == CF_KIND_MAIN) {
        bool handled = false;
        int rc = cf_main_control(p, op, arg, &handled);
        if (handled)
            return rc;
    } else if (op == SQLITE_FCNTL_MMAP_SIZE) {
        *(sqlite3_int64 *)arg = 0;
        return SQLITE_OK;
    }
    int rc = CF_REAL(p)->pMethods->xFileControl(CF_REAL(p), op, arg);
    if (rc == SQLITE_OK && op == SQLITE_FCNTL_VFSNAME) {
        char **name = arg;
        *name = sqlite3_mprintf("coffer/%z", *name);
    }
    return rc;
}

static int cf_io_sector_size(sqlite3_file *file)
{
    cf_tde_file *p = (cf_tde_file *)file;
    return CF_REAL(p)->pMethods->xSectorSize(CF_REAL(p));
}

/* Powersafe overwrite is claimed: with it off (psow=0), SQLite pads the WAL
 * to sectors and may split a frame's page across two writes, which a
 * sealed page cannot be.  Pages are written whole here in any case. */
static int cf_io_device_characteristics(sqlite3_file *file)
{
    cf_tde_file *p = (cf_tde_file *)file;
    return (CF_REAL(p)->pMethods->xDeviceCharacteristics(CF_REAL(p)) & ~SQLITE_IOCAP_BATCH_ATOMIC) |
           SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static int cf_io_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out)
{
    cf_tde_file *p = (cf_tde_file *)file;
    return CF_REAL(p)->pMethods->xShmMap(CF_REAL(p), page, size, extend, out);
}

static int cf_io_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    cf_tde_file *p = (cf_tde_file *)file;
    /* Slot 0 is the WAL's write lock: before another writer may start,
     * what this one gathered goes out (uncommitted frames only: a commit
     * wrote its own; SQLite ignores an unlock's result, and a failed write
     * of frames past the last commit loses nothing).  The same when the
     * file lock is released (cf_io_unlock). */
    if (offset == 0 && n == 1 && flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE) && p->wal)
        (void)cf_wal_flush(p->wal);
    int rc = CF_REAL(p)->pMethods->xShmLock(CF_REAL(p), offset, n, flags);
    /* Taking it, this connection's appends start wherever the log now ends
     * (another writer may have started it again); its rewrites can only be
     * of frames it appends from here on. */
    if (rc == SQLITE_OK && offset == 0 && n == 1 &&
        flags == (SQLITE_SHM_LOCK | SQLITE_SHM_EXCLUSIVE) && p->wal)
        p->wal->wal_end = 0;
    /* A WAL read transaction takes a read mark (slots 3-7) and may keep the
     * shared file lock for good: read-ahead is dropped and the cache period
     * checked here too. */
    if (rc == SQLITE_OK && offset >= 3 && flags == (SQLITE_SHM_LOCK | SQLITE_SHM_SHARED)) {
        cf_ahead_drop(p);
        if (cf_main_with_header(p) && !cf_tde_db_fresh(p->db)) {
            rc = cf_tde_key_fail();
            CF_REAL(p)->pMethods->xShmLock(CF_REAL(p), offset, n,
                                           SQLITE_SHM_UNLOCK | SQLITE_SHM_SHARED);
            return rc;
        }
    }
    /* Slot 0 held exclusively is the WAL's write lock. */
    if (rc == SQLITE_OK && offset == 0 && n == 1 &&
        flags == (SQLITE_SHM_LOCK | SQLITE_SHM_EXCLUSIVE)) {
        rc = cf_follow_header(p);
        if (rc != SQLITE_OK)
            CF_REAL(p)->pMethods->xShmLock(CF_REAL(p), offset, n,
                                           SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE);
    }
    return rc;
}

static void cf_io_shm_barrier(sqlite3_file *file)
{
    cf_tde_file *p = (cf_tde_file *)file;
    CF_REAL(p)->pMethods->xShmBarrier(CF_REAL(p));
}

static int cf_io_shm_unmap(sqlite3_file *file, int delete_flag)
{
    cf_tde_file *p = (cf_tde_file *)file;
    return CF_REAL(p)->pMethods->xShmUnmap(CF_REAL(p), delete_flag);
}

static int cf_io_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
    (void)file, (void)off, (void)amt;
    *out = NULL; /* no mapped pages: every read is decrypted */
    return SQLITE_OK;
}

static int cf_io_unfetch(sqlite3_file *file, sqlite3_int64 off, void *page)
{
    (void)file, (void)off, (void)page;
    return SQLITE_OK;
}

static const sqlite3_io_methods cf_tde_methods = {
    .iVersion = 3,
    .xClose = cf_io_close,
    .xRead = cf_io_read,
    .xWrite = cf_io_write,
    .xTruncate = cf_io_truncate,
    .xSync = cf_io_sync,
    .xFileSize = cf_io_file_size,
    .xLock = cf_io_lock,
    .xUnlock = cf_io_unlock,
    .xCheckReservedLock = cf_io_check_reserved,
    .xFileControl = cf_io_file_control,
    .xSectorSize = cf_io_sector_size,
    .xDeviceCharacteristics = cf_io_device_characteristics,
    .xShmMap = cf_io_shm_map,
    .xShmLock = cf_io_shm_lock,
    .xShmBarrier = cf_io_shm_barrier,
    .xShmUnmap = cf_io_shm_unmap,
    .xFetch = cf_io_fetch,
    .xUnfetch = cf_io_unfetch,
};

/* ---- the VFS ---- */

static int cf_file_kind(int flags)
{
    if (flags & SQLITE_OPEN_MAIN_DB)
        return CF_KIND_MAIN;
    if (flags & SQLITE_OPEN_MAIN_JOURNAL)
        return CF_KIND_JOURNAL;
    if (flags & SQLITE_OPEN_WAL)
        return CF_KIND_WAL;
    if (flags & (SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_SUBJOURNAL |
                 SQLITE_OPEN_TRANSIENT_DB))
        return CF_KIND_TEMP;
    return CF_KIND_PLAIN; /* a super-journal: file names only */
}

static bool cf_borrow_db(cf_tde_file *p, sqlite3_filename name)
{
    sqlite3_file *main_file = name ? sqlite3_database_file_object(name) : NULL;
    CF_ENSURE(main_file && main_file->pMethods == &cf_tde_methods, CF_ERR_INTERNAL,
              "a journal or WAL whose database is not open through the coffer VFS");
    cf_tde_file *main = (cf_tde_file *)main_file;
    p->db = main->db;
    if (p->kind == CF_KIND_WAL) {
        p->main = main;
        main->wal = p;
    }
    return true;
}

static int cf_vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                       int *out_flags)
{
    (void)vfs;
    cf_tde_file *p = (cf_tde_file *)file;
    memset(p, 0, sizeof *p);
    p->real = (sqlite3_file *)(p + 1);
    p->pgno_at = p->page_end = p->frame_at = p->held_at = p->part_index = p->read_end = -1;
    p->last_index = -2;
    p->kind = cf_file_kind(flags);
    sqlite3_vfs *base = CF_BASE_VFS();
    int rc = base->xOpen(base, name, p->real, flags, out_flags);
    if (rc != SQLITE_OK)
        return rc;
    bool ok = true;
    if (p->kind == CF_KIND_MAIN)
        ok = cf_tde_db_open(p->real, name, &p->db);
    else if (p->kind == CF_KIND_JOURNAL || p->kind == CF_KIND_WAL)
        ok = cf_borrow_db(p, name);
    else if (p->kind == CF_KIND_TEMP)
        ok = cf_tde_temp_open(&p->temp);
    if (!ok) {
        rc = cf_error_code() == CF_ERR_BAD_INPUT ? cf_tde_fail(SQLITE_NOTADB) : cf_tde_key_fail();
        p->real->pMethods->xClose(p->real);
        return rc;
    }
    file->pMethods = &cf_tde_methods;
    return SQLITE_OK;
}

#define CF_PASS(name, ret, params, args)   \
    static ret cf_vfs_##name params        \
    {                                      \
        sqlite3_vfs *base = CF_BASE_VFS(); \
        (void)vfs;                         \
        return base->x##name args;         \
    }

CF_PASS(Delete, int, (sqlite3_vfs * vfs, const char *name, int sync), (base, name, sync))
CF_PASS(Access, int, (sqlite3_vfs * vfs, const char *name, int flags, int *out),
        (base, name, flags, out))
CF_PASS(FullPathname, int, (sqlite3_vfs * vfs, const char *name, int n, char *out),
        (base, name, n, out))
CF_PASS(DlOpen, void *, (sqlite3_vfs * vfs, const char *name), (base, name))
CF_PASS(Randomness, int, (sqlite3_vfs * vfs, int n, char *out), (base, n, out))
CF_PASS(Sleep, int, (sqlite3_vfs * vfs, int us), (base, us))
CF_PASS(CurrentTime, int, (sqlite3_vfs * vfs, double *out), (base, out))
CF_PASS(GetLastError, int, (sqlite3_vfs * vfs, int n, char *out), (base, n, out))
CF_PASS(CurrentTimeInt64, int, (sqlite3_vfs * vfs, sqlite3_int64 *out), (base, out))

static void cf_vfs_DlError(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    CF_BASE_VFS()->xDlError(CF_BASE_VFS(), n, out);
}

static void (*cf_vfs_DlSym(sqlite3_vfs *vfs, void *lib, const char *sym))(void)
{
    (void)vfs;
    return CF_BASE_VFS()->xDlSym(CF_BASE_VFS(), lib, sym);
}

static void cf_vfs_DlClose(sqlite3_vfs *vfs, void *lib)
{
    (void)vfs;
    CF_BASE_VFS()->xDlClose(CF_BASE_VFS(), lib);
}

/* Every new connection on the VFS keeps 48 bytes per page for the seal. */
static int cf_tde_auto(sqlite3 *db, char **err, const void *api)
{
    (void)err, (void)api;
    sqlite3_vfs *vfs = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) == SQLITE_OK &&
        vfs == &cf_tde_vfs) {
        int reserve = CF_TDE_RESERVED;
        sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    }
    return SQLITE_OK;
}

int coffer_tde_register(void)
{
    sqlite3_mutex *m = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_VFS1);
    sqlite3_mutex_enter(m);
    int rc = SQLITE_OK;
    if (cf_tde_vfs.zName == NULL) {
        sqlite3_vfs *base = sqlite3_vfs_find(NULL);
        if (!base || !cf_crypto_init()) {
            rc = SQLITE_ERROR;
        } else {
            cf_tde_vfs = (sqlite3_vfs){
                .iVersion = 2,
                .szOsFile = (int)sizeof(cf_tde_file) + base->szOsFile,
                .mxPathname = base->mxPathname,
                .zName = COFFER_TDE_VFS,
                .pAppData = base,
                .xOpen = cf_vfs_open,
                .xDelete = cf_vfs_Delete,
                .xAccess = cf_vfs_Access,
                .xFullPathname = cf_vfs_FullPathname,
                .xDlOpen = cf_vfs_DlOpen,
                .xDlError = cf_vfs_DlError,
                .xDlSym = cf_vfs_DlSym,
                .xDlClose = cf_vfs_DlClose,
                .xRandomness = cf_vfs_Randomness,
                .xSleep = cf_vfs_Sleep,
                .xCurrentTime = cf_vfs_CurrentTime,
                .xGetLastError = cf_vfs_GetLastError,
                .xCurrentTimeInt64 = cf_vfs_CurrentTimeInt64,
            };
            rc = sqlite3_vfs_register(&cf_tde_vfs, 0);
            if (rc == SQLITE_OK)
                rc = sqlite3_auto_extension((void (*)(void))cf_tde_auto);
            if (rc != SQLITE_OK)
                cf_tde_vfs.zName = NULL;
        }
    }
    sqlite3_mutex_leave(m);
    return rc;
}
