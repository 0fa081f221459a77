/*
 * Shared by the TDE VFS's files: tde_vfs.c (the VFS, the main database,
 * journal and WAL), tde_keys.c (header and keys), tde_temp.c (temporary
 * files).
 */
#ifndef CF_TDE_INTERNAL_H
#define CF_TDE_INTERNAL_H

#include <sqlite3.h>

#include "coffer_tde.h"
#include "tde_protector.h"
#include "xaes.h"

/* A database's keys, owned by its main file and borrowed by its journal
 * and WAL (SQLite closes those first). */
typedef struct {
    sqlite3_file *real; /* the main file underneath */
    char *protector_spec;
    char *vault_identity; /* NULL unless given */
    cf_tde_protector *protector;
    bool have_header;
    int slot;               /* the slot header came from */
    uint64_t disk_sequence; /* the highest sequence either slot claimed then */
    cf_tde_header header;
    struct {
        uint8_t generation; /* 0 = unused */
        cf_xaes *aead;
        cf_buf raw; /* secret */
    } key[2];
    cf_tde_nonces nonces; /* this connection's, for every page it seals */
    int64_t checked_at;   /* monotonic seconds; 0 = keys not usable */
    int64_t failed_at;    /* the protector's last refusal, asked again after a second */
    char refusal[400];
    int64_t cache_seconds;
} cf_tde_db;

/* Temporary files: a per-file random key, 4 KiB blocks. */
typedef struct {
    cf_xaes *aead;
    cf_tde_nonces nonces;
    uint8_t salt[16];
    sqlite3_int64 size;
    uint8_t *block; /* one physical block of scratch */
} cf_tde_temp;

/* ---- tde_keys.c ---- */
/* A database for the main file `real` opened with URI `name`. */
CF_MUST_USE bool cf_tde_db_open(sqlite3_file *real, const char *name, cf_tde_db **out);
void cf_tde_db_close(cf_tde_db *db);
/* Creates the header of a new database with page size `page_size`. */
CF_MUST_USE bool cf_tde_db_create(cf_tde_db *db, uint32_t page_size);
/* Reads the header and unwraps its keys (again). */
CF_MUST_USE bool cf_tde_db_load(cf_tde_db *db);
/* Reloads the header if another connection has written a newer one. */
CF_MUST_USE bool cf_tde_db_follow(cf_tde_db *db);
/* Keys usable: within the cache period, or the protector asked again. */
CF_MUST_USE bool cf_tde_db_fresh(cf_tde_db *db);
/* The key for `generation` (reloading the header once if unknown). */
CF_MUST_USE bool cf_tde_db_key(cf_tde_db *db, uint8_t generation, cf_xaes **out);
/* XORs the n (at most 32) bytes at `field` with a mask only the DEK of
 * `generation` gives for `context` (SQLite's checksums of plaintext pages,
 * kept in the journal and WAL, are stored masked). */
CF_MUST_USE bool cf_tde_db_mask(cf_tde_db *db, uint8_t generation, cf_slice context, uint8_t *field,
                                size_t n);
/* The current generation's key (for sealing). */
cf_xaes *cf_tde_db_current(cf_tde_db *db);
CF_MUST_USE bool cf_tde_db_rotate(cf_tde_db *db, const char *spec);
CF_MUST_USE bool cf_tde_db_rekey_begin(cf_tde_db *db);
CF_MUST_USE bool cf_tde_db_rekey_end(cf_tde_db *db);
void cf_tde_db_status(const cf_tde_db *db, coffer_tde_status *out);

/* ---- tde_temp.c ---- */
CF_MUST_USE bool cf_tde_temp_open(cf_tde_temp *t);
void cf_tde_temp_close(cf_tde_temp *t);
int cf_tde_temp_read(cf_tde_temp *t, sqlite3_file *real, void *buf, int amt, sqlite3_int64 off);
int cf_tde_temp_write(cf_tde_temp *t, sqlite3_file *real, const void *buf, int amt,
                      sqlite3_int64 off);
int cf_tde_temp_truncate(cf_tde_temp *t, sqlite3_file *real, sqlite3_int64 size);

/* ---- tde_vfs.c ---- */
/* Records a failure (cf_error's detail) for coffer_tde_last_error and the
 * SQLite log; returns `code`. */
int cf_tde_fail(int code);
/* Forgets this thread's last failure (before an open that may explain
 * its own). */
void cf_tde_error_clear(void);

#endif
