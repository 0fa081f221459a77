/*
 * A TDE database's header and keys (tde_internal.h): the header is read
 * from the two slots, the newest one whose DEK unwraps and whose MAC
 * verifies wins; a change is written to the other slot and synced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "secmem.h"
#include "tde_internal.h"

#define CF_TDE_CACHE_DEFAULT 300
#define CF_TDE_CACHE_MAX 86400

static int64_t cf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec + 1; /* never 0: 0 means "not checked" */
}

static void cf_tde_keys_drop(cf_tde_db *db)
{
    for (int i = 0; i < 2; i++) {
        cf_xaes_free(db->key[i].aead);
        db->key[i].aead = NULL;
        cf_buf_free(&db->key[i].raw);
        db->key[i].generation = 0;
    }
    db->checked_at = 0;
}

static bool cf_real_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    int rc = f->pMethods->xRead(f, buf, amt, off);
    CF_ENSUREF(rc == SQLITE_OK, CF_ERR_IO, "cannot read the Coffer TDE header (%s)",
               sqlite3_errstr(rc));
    return true;
}

static bool cf_real_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    int rc = f->pMethods->xWrite(f, buf, amt, off);
    CF_ENSUREF(rc == SQLITE_OK, CF_ERR_IO, "cannot write the Coffer TDE header (%s)",
               sqlite3_errstr(rc));
    return true;
}

bool cf_tde_db_open(sqlite3_file *real, const char *name, cf_tde_db **out)
{
    const char *spec = name ? sqlite3_uri_parameter(name, "protector") : NULL;
    CF_ENSURE(spec && *spec, CF_ERR_UNAUTHORIZED,
              "no protector: open the database with the URI parameter protector=local:KEYFILE");
    sqlite3_int64 size = 0;
    CF_ENSURE(real->pMethods->xFileSize(real, &size) == SQLITE_OK, CF_ERR_IO,
              "cannot size the database file");
    CF_ENSURE(size == 0 || size >= CF_TDE_HEADER_LEN, CF_ERR_BAD_INPUT,
              "not a Coffer TDE database (too short for its header)");
    cf_tde_db *db = calloc(1, sizeof *db);
    CF_ENSURE_ALLOC(db);
    db->real = real;
    sqlite3_int64 cache = sqlite3_uri_int64(name, "tde_cache_seconds", CF_TDE_CACHE_DEFAULT);
    db->cache_seconds = cache < 0 ? 0 : cache > CF_TDE_CACHE_MAX ? CF_TDE_CACHE_MAX : cache;
    db->protector_spec = strdup(spec);
    const char *identity = sqlite3_uri_parameter(name, "vault_identity");
    if (!identity || !*identity)
        identity = getenv("COFFER_VAULT_IDENTITY");
    db->vault_identity = identity && *identity ? strdup(identity) : NULL;
    bool ok = db->protector_spec != NULL && (!identity || !*identity || db->vault_identity);
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    ok = ok && cf_tde_nonces_init(&db->nonces);
    ok = ok && cf_tde_protector_open(spec, db->vault_identity, &db->protector);
    ok = ok && (size == 0 || cf_tde_db_load(db));
    if (!ok) {
        cf_tde_db_close(db);
        return false;
    }
    *out = db;
    return true;
}

void cf_tde_db_close(cf_tde_db *db)
{
    if (!db)
        return;
    cf_tde_keys_drop(db);
    cf_tde_protector_free(db->protector);
    free(db->protector_spec);
    free(db->vault_identity);
    free(db);
}

/* Unwraps every DEK entry of `h` and checks the slot's MAC; on success the
 * keys replace db's. */
static bool cf_tde_adopt(cf_tde_db *db, const cf_tde_header *h, const uint8_t *slot, int index)
{
    cf_buf raw[2];
    cf_xaes *aead[2] = {NULL, NULL};
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        /* Room for the unwrapping's working space; the DEK is 32 bytes. */
        cf_buf_init_secret(&raw[i], CF_TDE_DEK_LEN + 16);
        if (ok && h->dek[i].generation != 0)
            ok = cf_tde_protector_unwrap(db->protector, h, &h->dek[i], &raw[i]) &&
                 cf_xaes_new(cf_buf_slice(&raw[i]), &aead[i]) &&
                 (h->dek[i].generation != h->current ||
                  cf_tde_header_verify(slot, cf_buf_slice(&raw[i])));
    }
    if (!ok) {
        for (int i = 0; i < 2; i++) {
            cf_xaes_free(aead[i]);
            cf_buf_free(&raw[i]);
        }
        return false;
    }
    cf_tde_keys_drop(db);
    for (int i = 0; i < 2; i++) {
        db->key[i].generation = h->dek[i].generation;
        db->key[i].aead = aead[i];
        db->key[i].raw = raw[i];
    }
    db->header = *h;
    db->slot = index;
    db->have_header = true;
    db->checked_at = cf_now();
    return true;
}

bool cf_tde_db_load(cf_tde_db *db)
{
    uint8_t *slots = malloc(CF_TDE_HEADER_LEN);
    CF_ENSURE_ALLOC(slots);
    cf_tde_header h[2];
    bool parsed[2] = {false, false};
    bool ok = cf_real_read(db->real, slots, CF_TDE_HEADER_LEN, 0);
    struct cf_error_record *first = NULL;
    for (int i = 0; ok && i < 2; i++) {
        parsed[i] = cf_tde_header_parse(slots + i * CF_TDE_SLOT_LEN, &h[i]);
        if (!parsed[i] && !first)
            first = cf_error_save();
    }
    ok = ok && (parsed[0] || parsed[1]);
    if (ok) {
        /* Newest first; the older slot is the fallback for a torn write. */
        int order[2] = {0, 1};
        if (parsed[1] && (!parsed[0] || h[1].sequence > h[0].sequence))
            order[0] = 1, order[1] = 0;
        ok = false;
        for (int k = 0; k < 2 && !ok; k++) {
            int i = order[k];
            if (!parsed[i])
                continue;
            ok = cf_tde_adopt(db, &h[i], slots + i * CF_TDE_SLOT_LEN, i);
            if (!ok && k == 0) {
                free(first);
                first = cf_error_save();
            }
        }
    }
    if (ok) {
        db->disk_sequence = 0;
        for (int i = 0; i < 2; i++)
            if (parsed[i] && h[i].sequence > db->disk_sequence)
                db->disk_sequence = h[i].sequence;
    }
    if (!ok && first)
        cf_error_restore(first);
    else
        free(first);
    free(slots);
    if (!ok)
        cf_tde_keys_drop(db);
    return ok;
}

/* The highest sequence number either slot's first bytes claim (unverified).
 * Both prefixes in one read: every write transaction asks. */
static bool cf_tde_disk_sequence(cf_tde_db *db, uint64_t *newest)
{
    uint8_t span[CF_TDE_SLOT_LEN + CF_TDE_PREFIX_LEN];
    *newest = 0;
    CF_GUARD(cf_real_read(db->real, span, sizeof span, 0));
    for (int i = 0; i < 2; i++) {
        uint64_t seq = 0;
        if (cf_tde_header_sequence(span + i * CF_TDE_SLOT_LEN, &seq) && seq > *newest)
            *newest = seq;
    }
    return true;
}

bool cf_tde_db_follow(cf_tde_db *db)
{
    if (!db->have_header)
        return true;
    uint64_t newest = 0;
    CF_GUARD(cf_tde_disk_sequence(db, &newest));
    /* Compared with what the disk said at the last load, so a torn slot
     * (a newer number that does not verify) does not reload every time. */
    return newest == db->disk_sequence || cf_tde_db_load(db);
}

bool cf_tde_db_fresh(cf_tde_db *db)
{
    if (!db->have_header) {
        /* Empty when opened: another connection may have created it since. */
        sqlite3_int64 size = 0;
        CF_ENSURE(db->real->pMethods->xFileSize(db->real, &size) == SQLITE_OK, CF_ERR_IO,
                  "cannot size the database file");
        return size < CF_TDE_HEADER_LEN || cf_tde_db_load(db);
    }
    int64_t now = cf_now();
    if (db->checked_at != 0 && now - db->checked_at < db->cache_seconds)
        return true;
    /* A refusal holds for a second: every read would otherwise ask again. */
    if (db->failed_at != 0 && now - db->failed_at < 1)
        CF_BAIL(CF_ERR_FORBIDDEN, db->refusal);
    if (cf_tde_db_load(db)) {
        db->failed_at = 0;
        return true;
    }
    db->failed_at = now;
    snprintf(db->refusal, sizeof db->refusal, "%s", cf_error_detail());
    return false;
}

/* The key slot of `generation`, reloading the header once if unknown. */
static bool cf_tde_key_index(cf_tde_db *db, uint8_t generation, int *index)
{
    /* 0 is no generation (bytes never written): no reason to ask again. */
    for (int pass = generation == 0 ? 1 : 0; pass < 2; pass++) {
        for (int i = 0; i < 2; i++)
            if (generation != 0 && db->key[i].generation == generation && db->key[i].aead) {
                *index = i;
                return true;
            }
        /* Another connection may have begun a rekey since we read the
         * header. */
        if (pass == 0)
            CF_GUARD(cf_tde_db_load(db));
    }
    CF_BAIL(CF_ERR_DECRYPT, "a page names a key generation the header does not hold");
}

bool cf_tde_db_key(cf_tde_db *db, uint8_t generation, cf_xaes **out)
{
    int i = 0;
    CF_GUARD(cf_tde_key_index(db, generation, &i));
    *out = db->key[i].aead;
    return true;
}

bool cf_tde_db_mask(cf_tde_db *db, uint8_t generation, cf_slice context, uint8_t *field, size_t n)
{
    static const char label[] = "coffer tde checksum mask";
    int i = 0;
    CF_GUARD(cf_tde_key_index(db, generation, &i));
    CF_ENSURE(n <= 32, CF_ERR_INTERNAL, "mask too long");
    const cf_slice parts[2] = {cf_slice_of(label, sizeof label - 1), context};
    uint8_t mask[32];
    CF_GUARD(cf_hmac_sha256_parts(cf_buf_slice(&db->key[i].raw), parts, 2, mask));
    for (size_t k = 0; k < n; k++)
        field[k] ^= mask[k];
    cf_memzero(mask, sizeof mask);
    return true;
}

static int cf_tde_current_index(const cf_tde_db *db)
{
    for (int i = 0; i < 2; i++)
        if (db->key[i].generation == db->header.current && db->key[i].aead)
            return i;
    return -1;
}

cf_xaes *cf_tde_db_current(cf_tde_db *db)
{
    int i = cf_tde_current_index(db);
    return i < 0 ? NULL : db->key[i].aead;
}

/* Writes `h` (its sequence the next one) to the other slot and syncs it,
 * then copies it over the slot it replaces and syncs again, and makes it
 * db's header; the keys in db->key must match h's entries.  A crash leaves
 * one whole slot at every moment, and once done no slot names what was
 * replaced (a rotated-away protector opens nothing). */
static bool cf_tde_store(cf_tde_db *db, cf_tde_header *h)
{
    int cur = -1;
    for (int i = 0; i < 2; i++)
        if (db->key[i].generation == h->current)
            cur = i;
    CF_ENSURE(cur >= 0, CF_ERR_INTERNAL, "no key for the current generation");
    /* Compare and swap: a header another process wrote since we read ours
     * is never overwritten with our older view. */
    uint64_t on_disk = 0;
    if (db->have_header) {
        CF_GUARD(cf_tde_disk_sequence(db, &on_disk));
        CF_ENSURE(on_disk == db->disk_sequence, CF_ERR_CONFLICT,
                  "the header changed since it was read (another connection rotated or "
                  "rekeyed): run the command again");
    }
    h->sequence = db->header.sequence + 1;
    uint8_t slot[CF_TDE_SLOT_LEN];
    int first = db->have_header ? 1 - db->slot : 0;
    CF_GUARD(cf_tde_header_build(h, cf_buf_slice(&db->key[cur].raw), slot));
    for (int k = 0; k < 2; k++) {
        int index = k == 0 ? first : 1 - first;
        CF_GUARD(
            cf_real_write(db->real, slot, sizeof slot, (sqlite3_int64)index * CF_TDE_SLOT_LEN));
        CF_ENSURE(db->real->pMethods->xSync(db->real, SQLITE_SYNC_FULL) == SQLITE_OK, CF_ERR_IO,
                  "cannot sync the Coffer TDE header");
    }
    db->header = *h;
    db->slot = first;
    db->disk_sequence = h->sequence;
    db->have_header = true;
    return true;
}

static bool cf_tde_new_key(cf_tde_db *db, int index, uint8_t generation, cf_tde_wrapped_dek *entry)
{
    cf_buf_init_secret(&db->key[index].raw, CF_TDE_DEK_LEN);
    uint8_t dek[CF_TDE_DEK_LEN];
    bool ok = cf_random_bytes(dek, sizeof dek) &&
              cf_buf_append(&db->key[index].raw, dek, sizeof dek) &&
              cf_xaes_new(cf_slice_of(dek, sizeof dek), &db->key[index].aead) &&
              cf_tde_protector_wrap(db->protector, cf_slice_of(dek, sizeof dek), entry);
    cf_memzero(dek, sizeof dek);
    if (!ok) {
        cf_xaes_free(db->key[index].aead);
        db->key[index].aead = NULL;
        cf_buf_free(&db->key[index].raw);
        return false;
    }
    db->key[index].generation = generation;
    entry->generation = generation;
    return true;
}

static void cf_tde_name_protector(const cf_tde_db *db, cf_tde_header *h)
{
    h->protector_kind = cf_tde_protector_kind(db->protector);
    h->wrap_alg = cf_tde_protector_alg(db->protector);
    snprintf(h->protector_id, sizeof h->protector_id, "%s", cf_tde_protector_id(db->protector));
}

bool cf_tde_db_create(cf_tde_db *db, uint32_t page_size)
{
    cf_tde_header h;
    memset(&h, 0, sizeof h);
    h.sequence = 1;
    h.page_size = page_size;
    h.current = 1;
    cf_tde_name_protector(db, &h);
    CF_GUARD(cf_random_bytes(h.salt, sizeof h.salt));
    cf_tde_keys_drop(db);
    CF_GUARD(cf_tde_new_key(db, 0, 1, &h.dek[0]));
    /* Both slots in one write, before any page: the file is never shorter
     * than its header. */
    uint8_t *both = malloc(CF_TDE_HEADER_LEN);
    bool ok = both && cf_tde_header_build(&h, cf_buf_slice(&db->key[0].raw), both);
    if (!both)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    if (ok) {
        memcpy(both + CF_TDE_SLOT_LEN, both, CF_TDE_SLOT_LEN);
        ok = cf_real_write(db->real, both, CF_TDE_HEADER_LEN, 0);
    }
    free(both);
    if (ok && db->real->pMethods->xSync(db->real, SQLITE_SYNC_FULL) != SQLITE_OK) {
        CF_RAISE(CF_ERR_IO, "cannot sync the Coffer TDE header");
        ok = false;
    }
    if (!ok) {
        cf_tde_keys_drop(db);
        return false;
    }
    db->header = h;
    db->slot = 0;
    db->disk_sequence = h.sequence;
    db->have_header = true;
    db->checked_at = cf_now();
    return true;
}

bool cf_tde_db_rotate(cf_tde_db *db, const char *spec)
{
    CF_ENSURE(db->have_header, CF_ERR_CONFLICT, "the database has no header yet");
    CF_GUARD(cf_tde_db_fresh(db) && cf_tde_db_follow(db));
    cf_tde_protector *next = NULL;
    CF_GUARD(cf_tde_protector_open(spec, db->vault_identity, &next));
    char *next_spec = strdup(spec);
    cf_tde_header h = db->header;
    cf_tde_protector *prev = db->protector;
    db->protector = next;
    bool ok = next_spec != NULL;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    for (int i = 0; ok && i < 2; i++) {
        cf_tde_wrapped_dek *e = &h.dek[i];
        if (e->generation == 0)
            continue;
        int k = db->key[0].generation == e->generation ? 0 : 1;
        ok = db->key[k].generation == e->generation &&
             cf_tde_protector_wrap(next, cf_buf_slice(&db->key[k].raw), e);
    }
    if (ok) {
        cf_tde_name_protector(db, &h);
        ok = cf_tde_store(db, &h);
    }
    if (!ok) {
        db->protector = prev;
        cf_tde_protector_free(next);
        free(next_spec);
        return false;
    }
    cf_tde_protector_free(prev);
    free(db->protector_spec);
    db->protector_spec = next_spec;
    return true;
}

/* After a failed header change: the keys and header back as on disk,
 * the failure's error kept. */
static void cf_tde_db_reset(cf_tde_db *db)
{
    struct cf_error_record *why = cf_error_save();
    if (!cf_tde_db_load(db))
        cf_tde_keys_drop(db);
    cf_error_restore(why);
}

bool cf_tde_db_rekey_begin(cf_tde_db *db)
{
    CF_ENSURE(db->have_header, CF_ERR_CONFLICT, "the database has no header yet");
    CF_GUARD(cf_tde_db_fresh(db) && cf_tde_db_follow(db));
    int cur = cf_tde_current_index(db);
    CF_ENSURE(cur >= 0 && db->key[1 - cur].generation == 0, CF_ERR_CONFLICT,
              "a rekey is already under way: finish it first");
    cf_tde_header h = db->header;
    uint8_t next = (uint8_t)(h.current % 255 + 1);
    int e = h.dek[0].generation == 0 ? 0 : 1;
    CF_GUARD(cf_tde_new_key(db, 1 - cur, next, &h.dek[e]));
    h.current = next;
    if (!cf_tde_store(db, &h)) {
        cf_tde_db_reset(db);
        return false;
    }
    return true;
}

/* The pages of the file still under a generation other than the current
 * one: the first one's number, or 0. */
static bool cf_tde_first_stale_page(cf_tde_db *db, uint32_t *pgno)
{
    sqlite3_int64 size = 0;
    CF_ENSURE(db->real->pMethods->xFileSize(db->real, &size) == SQLITE_OK, CF_ERR_IO,
              "cannot size the database file");
    uint32_t ps = db->header.page_size;
    sqlite3_int64 pages = (size - CF_TDE_HEADER_LEN) / ps;
    *pgno = 0;
    /* SQLite never writes the page holding its lock bytes (at 1 GiB). */
    sqlite3_int64 lock_page = 0x40000000 / ps;
    for (sqlite3_int64 i = 0; i < pages; i++) {
        if (i == lock_page)
            continue;
        uint8_t gen = 0;
        CF_GUARD(
            cf_real_read(db->real, &gen, 1, CF_TDE_HEADER_LEN + i * ps + ps - CF_TDE_RESERVED));
        if (gen != db->header.current) {
            *pgno = (uint32_t)(i + 1);
            return true;
        }
    }
    return true;
}

bool cf_tde_db_rekey_end(cf_tde_db *db)
{
    CF_ENSURE(db->have_header, CF_ERR_CONFLICT, "the database has no header yet");
    CF_GUARD(cf_tde_db_fresh(db) && cf_tde_db_follow(db));
    cf_tde_header h = db->header;
    int old = h.dek[0].generation == h.current ? 1 : 0;
    if (h.dek[old].generation == 0)
        return true;
    uint32_t stale = 0;
    CF_GUARD(cf_tde_first_stale_page(db, &stale));
    CF_ENSUREF(stale == 0, CF_ERR_CONFLICT,
               "page %u is still under the old key generation (VACUUM and checkpoint first)",
               stale);
    memset(&h.dek[old], 0, sizeof h.dek[old]);
    if (!cf_tde_store(db, &h)) {
        cf_tde_db_reset(db);
        return false;
    }
    for (int i = 0; i < 2; i++)
        if (db->key[i].generation != h.current) {
            cf_xaes_free(db->key[i].aead);
            db->key[i].aead = NULL;
            cf_buf_free(&db->key[i].raw);
            db->key[i].generation = 0;
        }
    return true;
}

void cf_tde_db_status(const cf_tde_db *db, coffer_tde_status *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->protector, sizeof out->protector, "%s",
             db->have_header ? db->header.protector_id : cf_tde_protector_id(db->protector));
    out->page_size = db->header.page_size;
    out->header_sequence = db->header.sequence;
    out->current_generation = db->header.current;
    for (int i = 0; i < 2; i++)
        out->generations[i] = db->header.dek[i].generation;
}
