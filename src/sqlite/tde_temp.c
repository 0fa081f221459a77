/*
 * SQLite's temporary files under TDE (sort spills, statement journals,
 * temporary tables and VACUUM's copy): each file gets a random key that
 * lives only in memory, and is kept as 4 KiB blocks, each sealed with
 * XAES-256-GCM under a fresh nonce (the block number and a per-file salt
 * as associated data).  A write that covers part of a block reads and
 * re-seals the block.  The files are private to the connection and
 * deleted on close, so the logical size is kept in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "secmem.h"
#include "tde_internal.h"

#define CF_TEMP_BLOCK 4096
#define CF_TEMP_PHYS (CF_TEMP_BLOCK + CF_XAES_NONCE_LEN + CF_XAES_TAG_LEN)

bool cf_tde_temp_open(cf_tde_temp *t)
{
    memset(t, 0, sizeof *t);
    uint8_t key[CF_XAES_KEY_LEN];
    bool ok = cf_random_bytes(key, sizeof key) && cf_random_bytes(t->salt, sizeof t->salt) &&
              cf_tde_nonces_init(&t->nonces) && cf_xaes_new(cf_slice_of(key, sizeof key), &t->aead);
    cf_memzero(key, sizeof key);
    t->block = ok ? malloc(CF_TEMP_PHYS) : NULL;
    if (ok && !t->block) {
        CF_RAISE(CF_ERR_NOMEM, NULL);
        ok = false;
    }
    if (!ok)
        cf_tde_temp_close(t);
    return ok;
}

void cf_tde_temp_close(cf_tde_temp *t)
{
    cf_xaes_free(t->aead);
    if (t->block)
        cf_memzero(t->block, CF_TEMP_PHYS);
    free(t->block);
    memset(t, 0, sizeof *t);
}

static void cf_temp_aad(const cf_tde_temp *t, sqlite3_int64 block, uint8_t aad[24])
{
    memcpy(aad, t->salt, 16);
    for (int i = 0; i < 8; i++)
        aad[16 + i] = (uint8_t)((uint64_t)block >> (56 - 8 * i));
}

static bool cf_all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Block `i` into t->block (plaintext in its first CF_TEMP_BLOCK bytes).  A
 * block never written (a hole SQLite left by writing further on) reads as
 * zeros, as it would in a plain file. */
static int cf_temp_load(cf_tde_temp *t, sqlite3_file *real, sqlite3_int64 i)
{
    int rc = real->pMethods->xRead(real, t->block, CF_TEMP_PHYS, i * CF_TEMP_PHYS);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        return rc;
    if (cf_all_zero(t->block, CF_TEMP_PHYS))
        return SQLITE_OK;
    uint8_t aad[24];
    cf_temp_aad(t, i, aad);
    uint8_t *nonce = t->block + CF_TEMP_BLOCK, *tag = nonce + CF_XAES_NONCE_LEN;
    if (!cf_xaes_open(t->aead, nonce, cf_slice_of(aad, sizeof aad),
                      cf_slice_of(t->block, CF_TEMP_BLOCK), tag, t->block))
        return cf_tde_fail(SQLITE_CORRUPT);
    return SQLITE_OK;
}

static int cf_temp_store(cf_tde_temp *t, sqlite3_file *real, sqlite3_int64 i)
{
    uint8_t aad[24];
    cf_temp_aad(t, i, aad);
    uint8_t *nonce = t->block + CF_TEMP_BLOCK, *tag = nonce + CF_XAES_NONCE_LEN;
    cf_tde_nonce_next(&t->nonces, nonce);
    if (!cf_xaes_seal(t->aead, nonce, cf_slice_of(aad, sizeof aad),
                      cf_slice_of(t->block, CF_TEMP_BLOCK), t->block, tag))
        return cf_tde_fail(SQLITE_IOERR_WRITE);
    return real->pMethods->xWrite(real, t->block, CF_TEMP_PHYS, i * CF_TEMP_PHYS);
}

int cf_tde_temp_read(cf_tde_temp *t, sqlite3_file *real, void *buf, int amt, sqlite3_int64 off)
{
    uint8_t *out = buf;
    sqlite3_int64 end = off + amt, have = end < t->size ? end : t->size;
    if (have < end)
        memset(out + (have > off ? have - off : 0), 0, (size_t)(end - (have > off ? have : off)));
    for (sqlite3_int64 pos = off; pos < have;) {
        sqlite3_int64 i = pos / CF_TEMP_BLOCK, in = pos % CF_TEMP_BLOCK;
        sqlite3_int64 n = CF_TEMP_BLOCK - in < have - pos ? CF_TEMP_BLOCK - in : have - pos;
        int rc = cf_temp_load(t, real, i);
        if (rc != SQLITE_OK)
            return rc;
        memcpy(out + (pos - off), t->block + in, (size_t)n);
        pos += n;
    }
    return have < end ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

int cf_tde_temp_write(cf_tde_temp *t, sqlite3_file *real, const void *buf, int amt,
                      sqlite3_int64 off)
{
    const uint8_t *in_buf = buf;
    sqlite3_int64 end = off + amt;
    for (sqlite3_int64 pos = off; pos < end;) {
        sqlite3_int64 i = pos / CF_TEMP_BLOCK, in = pos % CF_TEMP_BLOCK;
        sqlite3_int64 n = CF_TEMP_BLOCK - in < end - pos ? CF_TEMP_BLOCK - in : end - pos;
        if (n < CF_TEMP_BLOCK) {
            if (i * CF_TEMP_BLOCK < t->size) {
                int rc = cf_temp_load(t, real, i);
                if (rc != SQLITE_OK)
                    return rc;
            } else {
                memset(t->block, 0, CF_TEMP_BLOCK);
            }
        }
        memcpy(t->block + in, in_buf + (pos - off), (size_t)n);
        int rc = cf_temp_store(t, real, i);
        if (rc != SQLITE_OK)
            return rc;
        pos += n;
    }
    if (end > t->size)
        t->size = end;
    return SQLITE_OK;
}

int cf_tde_temp_truncate(cf_tde_temp *t, sqlite3_file *real, sqlite3_int64 size)
{
    sqlite3_int64 blocks = (size + CF_TEMP_BLOCK - 1) / CF_TEMP_BLOCK;
    int rc = real->pMethods->xTruncate(real, blocks * CF_TEMP_PHYS);
    if (rc == SQLITE_OK && size < t->size)
        t->size = size;
    return rc;
}
