/*
 * coffer-disk's nbdkit plugin (disk.h; docs/disks.md):
 *
 *   nbdkit --filter=blocksize PLUGIN.so disk=[CONTAINER/]NAME connection=-FD|+FILE
 *          [ca=FILE] [vault-identity=FILE] [cache-seconds=N] [writeback=SIZE]
 *          minblock=SECTOR
 *
 * (`coffer disk attach` writes that command line; the connection string
 * comes through a pipe, never argv.)  One process serves one disk to any
 * number of connections, which share the write-back map, so a flush on
 * any of them covers every write before it (multi-conn).
 *
 * The volume key (xts-aes-256 disks) is unwrapped at start through
 * coffer-vault with the identity in vault-identity (a file shaped like the
 * vault's bootstrap.json): if the vault refuses, the disk does not attach.
 * After cache-seconds the disk's metadata is read again and the key
 * unwrapped again before the next I/O; a refusal (the disk-encryption key
 * disabled, deleted, no longer ours) fails every I/O with EIO until the
 * vault answers again, checked at most once a second.
 *
 * Sectors: XTS-AES-256 with the sector number as tweak (core/xts.h).  A
 * cleared page reads back from the blob as zeros, which is not the
 * encryption of anything we wrote: a sector whose ciphertext is all zeros
 * reads as zeros (the chance that a real sector encrypts to 512 zero bytes
 * is 2^-4096).  luks2 disks pass sectors through unchanged: the host's
 * cryptsetup encrypts them.
 *
 * Locking: reads take io_lock shared, and so do writes that fit in the
 * map; sending the map (flush, FUA, a full map), zero and trim take it
 * exclusively, so no read sits between fetching a range and overlaying the
 * map while the map moves to the blob.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "disk.h"
#include "encoding.h"
#include "json_secure.h"
#include "secmem.h"
#include "vault_client.h"
#include "xts.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct {
    char container[64], name[1025];
    char *conn; /* from nbdkit_read_password; wiped once the disk is open */
    char *ca, *identity;
    int64_t cache_seconds;
    int64_t writeback;
} cfg = {.cache_seconds = CF_DISK_CACHE_SECONDS_DEFAULT,
         .writeback = (int64_t)CF_DISK_WRITEBACK_MIB_DEFAULT << 20};

/* An XTS context per thread at a time (a context is single-threaded). */
typedef struct cf_disk_xts {
    cf_xts *x;
    struct cf_disk_xts *next;
} cf_disk_xts;

static struct {
    cf_disk_io *io;
    cf_disk_cache *cache;
    cf_vault_client *vault;
    cf_disk_meta meta;
    uint64_t size;
    bool xts;
    uint8_t *key; /* the volume key, secret memory */
    pthread_mutex_t key_lock;
    int64_t key_checked;
    bool key_refused;
    pthread_mutex_t xts_lock;
    cf_disk_xts *idle_xts;
    pthread_rwlock_t io_lock;
} disk = {.key_lock = PTHREAD_MUTEX_INITIALIZER, .xts_lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t cf_disk_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

/* nbdkit's error with the thread error's detail; -1 for `return`. */
static int cf_disk_fail(const char *what)
{
    nbdkit_error("coffer-disk: %s: %s", what, cf_error_detail());
    errno = cf_error_code() == CF_ERR_BAD_INPUT ? EINVAL : EIO;
    return -1;
}

/* ---- configuration ---- */

static void cf_disk_load(void)
{
    /* Writers first: a flush waiting for io_lock must not starve behind a
     * steady stream of reads (glibc's default prefers readers). */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&disk.io_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (!cf_secmem_init(1u << 20) || !cf_crypto_init())
        nbdkit_error("coffer-disk: cannot set up secret memory or the crypto library");
    cf_json_use_wiping_alloc();
}

static int cf_disk_config(const char *key, const char *value)
{
    if (strcmp(key, "disk") == 0) {
        const char *slash = strchr(value, '/');
        size_t clen = slash ? (size_t)(slash - value) : strlen(CF_DISK_CONTAINER);
        const char *name = slash ? slash + 1 : value;
        if (clen == 0 || clen >= sizeof cfg.container || !*name ||
            strlen(name) >= sizeof cfg.name) {
            nbdkit_error("coffer-disk: disk=[CONTAINER/]NAME");
            return -1;
        }
        memcpy(cfg.container, slash ? value : CF_DISK_CONTAINER, clen);
        cfg.container[clen] = '\0';
        snprintf(cfg.name, sizeof cfg.name, "%s", name);
        return 0;
    }
    if (strcmp(key, "connection") == 0)
        return nbdkit_read_password(value, &cfg.conn);
    if (strcmp(key, "ca") == 0)
        return (cfg.ca = nbdkit_absolute_path(value)) ? 0 : -1;
    if (strcmp(key, "vault-identity") == 0)
        return (cfg.identity = nbdkit_absolute_path(value)) ? 0 : -1;
    if (strcmp(key, "cache-seconds") == 0) {
        int n;
        if (nbdkit_parse_int("cache-seconds", value, &n) == -1 || n < 1)
            return -1;
        cfg.cache_seconds = n;
        return 0;
    }
    if (strcmp(key, "writeback") == 0)
        return (cfg.writeback = nbdkit_parse_size(value)) == -1 ? -1 : 0;
    nbdkit_error("coffer-disk: unknown parameter %s", key);
    return -1;
}

/* The volume key the disk's metadata holds, unwrapped by the vault. */
static bool cf_disk_unwrap(const cf_disk_meta *meta, cf_buf *key)
{
    cf_vault_client_key k;
    cf_buf wrapped;
    cf_buf_init(&wrapped, CF_DISK_WRAPPED_MAX);
    bool ok = cf_vault_client_get_key(disk.vault, meta->kek, &k) &&
              cf_vault_client_key_usable(&k) &&
              cf_base64_decode(CF_SLICE_STR(meta->wrapped), &wrapped) &&
              cf_vault_client_unwrap_alg(disk.vault, &k, meta->alg, cf_buf_slice(&wrapped), key);
    cf_buf_free(&wrapped);
    CF_GUARD(ok);
    CF_ENSURE(key->len == CF_XTS_KEY_LEN, CF_ERR_DECRYPT, "the volume key is not 64 bytes");
    return true;
}

static bool cf_disk_open_key(void)
{
    CF_ENSURE(cfg.identity, CF_ERR_BAD_INPUT,
              "vault-identity=FILE is needed to unwrap an xts-aes-256 disk's key");
    CF_GUARD(cf_vault_client_open(cfg.identity, &disk.vault));
    cf_buf key;
    cf_buf_init_secret(&key, 512);
    bool ok = cf_disk_unwrap(&disk.meta, &key);
    disk.key = ok ? cf_secret_alloc(CF_XTS_KEY_LEN) : NULL;
    if (ok && !disk.key) {
        CF_RAISE(CF_ERR_NOMEM, NULL);
        ok = false;
    }
    if (ok)
        memcpy(disk.key, key.data, CF_XTS_KEY_LEN);
    cf_buf_free(&key);
    disk.key_checked = cf_disk_now();
    return ok;
}

static int cf_disk_config_complete(void)
{
    if (!cfg.name[0] || !cfg.conn) {
        nbdkit_error("coffer-disk: disk= and connection= are required");
        return -1;
    }
    bool ok = cf_disk_io_open(cfg.conn, cfg.ca ? cfg.ca : "", cfg.container, cfg.name, &disk.io);
    cf_memzero(cfg.conn, strlen(cfg.conn));
    free(cfg.conn);
    cfg.conn = NULL;
    ok = ok && cf_disk_io_stat(disk.io, &disk.size, &disk.meta) && cf_disk_meta_check(&disk.meta);
    if (!ok)
        return cf_disk_fail("cannot open the disk");
    disk.xts = strcmp(disk.meta.format, CF_DISK_FORMAT_XTS) == 0;
    if (disk.size % disk.meta.sector) {
        nbdkit_error("coffer-disk: the disk's size is not a whole number of sectors");
        return -1;
    }
    if (disk.xts && !cf_disk_open_key())
        return cf_disk_fail("the vault refused the disk's key: not attached");
    if (!cf_disk_cache_new((uint64_t)cfg.writeback, &disk.cache))
        return cf_disk_fail("write-back map");
    return 0;
}

static void cf_disk_unload(void)
{
    /* Stopped while a disconnecting client's writes were still in the map. */
    if (disk.cache && cf_disk_cache_dirty(disk.cache) && !cf_disk_cache_send(disk.cache, disk.io))
        nbdkit_error("coffer-disk: writes not sent at shutdown: %s", cf_error_detail());
    while (disk.idle_xts) {
        cf_disk_xts *x = disk.idle_xts;
        disk.idle_xts = x->next;
        cf_xts_free(x->x);
        free(x);
    }
    cf_secret_free(disk.key, disk.key ? CF_XTS_KEY_LEN : 0);
    cf_disk_cache_free(disk.cache);
    cf_disk_io_close(disk.io);
    cf_vault_client_close(disk.vault);
    free(cfg.ca);
    free(cfg.identity);
    pthread_rwlock_destroy(&disk.io_lock);
}

/* ---- the key's cache period ---- */

/* Whether the volume key may be used now: after the cache period the
 * vault is asked again (and at most once a second while it refuses). */
static bool cf_disk_key_current(void)
{
    if (!disk.xts)
        return true;
    pthread_mutex_lock(&disk.key_lock);
    int64_t now = cf_disk_now();
    bool due =
        disk.key_refused ? now > disk.key_checked : now - disk.key_checked >= cfg.cache_seconds;
    if (due) {
        cf_disk_meta meta;
        uint64_t size;
        cf_buf key;
        cf_buf_init_secret(&key, 512);
        /* The metadata again: a rotation re-wrapped the key under another version. */
        bool ok = cf_disk_io_stat(disk.io, &size, &meta) && cf_disk_meta_check(&meta) &&
                  cf_disk_unwrap(&meta, &key);
        if (ok && !cf_memeq_ct(key.data, disk.key, CF_XTS_KEY_LEN)) {
            CF_RAISE(CF_ERR_DECRYPT, "the disk's metadata now holds another volume key");
            ok = false;
        }
        cf_buf_free(&key);
        if (!ok)
            nbdkit_error("coffer-disk: the vault refused the disk's key, I/O fails: %s",
                         cf_error_detail());
        else if (disk.key_refused)
            nbdkit_debug("coffer-disk: the vault accepts the disk's key again");
        disk.key_refused = !ok;
        disk.key_checked = now;
    }
    bool usable = !disk.key_refused;
    pthread_mutex_unlock(&disk.key_lock);
    if (!usable)
        CF_RAISE(CF_ERR_FORBIDDEN, "the disk-encryption key is not available");
    return usable;
}

/* ---- sectors ---- */

static bool cf_disk_xts_borrow(cf_disk_xts **out)
{
    pthread_mutex_lock(&disk.xts_lock);
    cf_disk_xts *x = disk.idle_xts;
    if (x)
        disk.idle_xts = x->next;
    pthread_mutex_unlock(&disk.xts_lock);
    if (!x) {
        x = calloc(1, sizeof *x);
        CF_ENSURE_ALLOC(x);
        if (!cf_xts_new(cf_slice_of(disk.key, CF_XTS_KEY_LEN), disk.meta.sector, &x->x)) {
            free(x);
            return false;
        }
    }
    *out = x;
    return true;
}

static void cf_disk_xts_return(cf_disk_xts *x)
{
    pthread_mutex_lock(&disk.xts_lock);
    x->next = disk.idle_xts;
    disk.idle_xts = x;
    pthread_mutex_unlock(&disk.xts_lock);
}

/* Ciphertext is almost never zero, so its first byte usually decides:
 * no byte loop over every sector of every read. */
static bool cf_disk_all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Encrypts (or decrypts) whole sectors in place, the first at byte `off`. */
static bool cf_disk_crypt(bool encrypt, uint64_t off, uint8_t *buf, size_t len)
{
    if (!disk.xts)
        return true;
    cf_disk_xts *x;
    CF_GUARD(cf_disk_xts_borrow(&x));
    uint32_t sector = disk.meta.sector;
    bool ok = true;
    for (size_t at = 0; ok && at < len; at += sector) {
        if (encrypt)
            ok = cf_xts_encrypt(x->x, (off + at) / sector, buf + at, sector);
        else if (!cf_disk_all_zero(buf + at, sector)) /* cleared: reads as zeros */
            ok = cf_xts_decrypt(x->x, (off + at) / sector, buf + at, sector);
    }
    cf_disk_xts_return(x);
    return ok;
}

static bool cf_disk_aligned(uint64_t off, uint32_t count)
{
    CF_ENSURE(off % disk.meta.sector == 0 && count % disk.meta.sector == 0, CF_ERR_BAD_INPUT,
              "a request not aligned to the disk's sectors (use the blocksize filter)");
    return true;
}

/* ---- nbdkit's callbacks ---- */

static void *cf_disk_open(int readonly)
{
    (void)readonly;
    return &disk;
}

/* A client going away: what it wrote is sent, as a disk's cache is
 * flushed at a clean shutdown (best effort: an error is only logged). */
static void cf_disk_close(void *h)
{
    (void)h;
    pthread_rwlock_wrlock(&disk.io_lock);
    /* The map holds ciphertext: sending it needs no key. */
    if (cf_disk_cache_dirty(disk.cache) && !cf_disk_cache_send(disk.cache, disk.io))
        nbdkit_error("coffer-disk: writes not sent at disconnect: %s", cf_error_detail());
    pthread_rwlock_unlock(&disk.io_lock);
}

static int64_t cf_disk_get_size(void *h)
{
    (void)h;
    return (int64_t)disk.size;
}

static int cf_disk_block_size(void *h, uint32_t *minimum, uint32_t *preferred, uint32_t *maximum)
{
    (void)h;
    *minimum = disk.meta.sector;
    *preferred = disk.meta.sector > 4096 ? disk.meta.sector : 4096;
    *maximum = CF_DISK_MAX_CALL;
    return 0;
}

static int cf_disk_yes(void *h)
{
    (void)h;
    return 1;
}

static int cf_disk_can_fua(void *h)
{
    (void)h;
    return NBDKIT_FUA_NATIVE;
}

static int cf_disk_pread(void *h, void *buf, uint32_t count, uint64_t off, uint32_t flags)
{
    (void)h;
    (void)flags;
    if (!cf_disk_aligned(off, count) || !cf_disk_key_current())
        return cf_disk_fail("read");
    pthread_rwlock_rdlock(&disk.io_lock);
    bool ok = cf_disk_io_read(disk.io, off, buf, count);
    if (ok)
        cf_disk_cache_overlay(disk.cache, off, buf, count);
    pthread_rwlock_unlock(&disk.io_lock);
    if (!ok || !cf_disk_crypt(false, off, buf, count)) {
        cf_memzero(buf, count);
        return cf_disk_fail("read");
    }
    return 0;
}

/* Sends the map (the caller holds io_lock exclusively). */
static int cf_disk_send_locked(const char *what)
{
    return cf_disk_cache_send(disk.cache, disk.io) ? 0 : cf_disk_fail(what);
}

static int cf_disk_flush(void *h, uint32_t flags)
{
    (void)h;
    (void)flags;
    if (!cf_disk_key_current())
        return cf_disk_fail("flush");
    pthread_rwlock_wrlock(&disk.io_lock);
    int rc = cf_disk_send_locked("flush");
    pthread_rwlock_unlock(&disk.io_lock);
    return rc;
}

/* Put Page calls of at most 4 MiB over [off, off + count): `data`, or
 * clears with NULL (the caller holds io_lock exclusively). */
static int cf_disk_write_through(uint64_t off, const uint8_t *data, uint32_t count,
                                 const char *what)
{
    for (uint64_t at = 0; at < count; at += CF_DISK_MAX_CALL) {
        size_t n = count - at < CF_DISK_MAX_CALL ? count - at : CF_DISK_MAX_CALL;
        if (!cf_disk_io_write(disk.io, off + at, data ? data + at : NULL, n))
            return cf_disk_fail(what);
    }
    return 0;
}

static int cf_disk_pwrite(void *h, const void *buf, uint32_t count, uint64_t off, uint32_t flags)
{
    (void)h;
    if (!cf_disk_aligned(off, count) || !cf_disk_key_current())
        return cf_disk_fail("write");
    uint8_t *sealed = malloc(count ? count : 1);
    if (!sealed) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(sealed, buf, count);
    if (!cf_disk_crypt(true, off, sealed, count)) {
        cf_memzero(sealed, count); /* partly still plaintext */
        free(sealed);
        return cf_disk_fail("write");
    }
    bool full = false;
    pthread_rwlock_rdlock(&disk.io_lock);
    bool ok = cf_disk_cache_put(disk.cache, off, sealed, count, &full);
    pthread_rwlock_unlock(&disk.io_lock);
    int rc = ok ? 0 : cf_disk_fail("write");
    if (rc == 0 && full) {
        pthread_rwlock_wrlock(&disk.io_lock);
        rc = cf_disk_send_locked("write");
        if (rc == 0 && !cf_disk_cache_put(disk.cache, off, sealed, count, &full))
            rc = cf_disk_fail("write");
        if (rc == 0 && full) /* larger than the whole map: straight to the blob */
            rc = cf_disk_write_through(off, sealed, count, "write");
        pthread_rwlock_unlock(&disk.io_lock);
    }
    if (rc == 0 && (flags & NBDKIT_FLAG_FUA)) {
        pthread_rwlock_wrlock(&disk.io_lock);
        rc = cf_disk_send_locked("write");
        pthread_rwlock_unlock(&disk.io_lock);
    }
    free(sealed);
    return rc;
}

/* Trim and zero: the pages cleared in the blob (they cost nothing and
 * read as zeros), and forgotten in the map. */
static int cf_disk_clear(uint32_t count, uint64_t off, const char *what)
{
    if (!cf_disk_aligned(off, count) || !cf_disk_key_current())
        return cf_disk_fail(what);
    pthread_rwlock_wrlock(&disk.io_lock);
    /* The blob first: if that fails, the map keeps what is newer. */
    int rc = cf_disk_write_through(off, NULL, count, what);
    if (rc == 0)
        cf_disk_cache_drop(disk.cache, off, count);
    pthread_rwlock_unlock(&disk.io_lock);
    return rc;
}

static int cf_disk_trim(void *h, uint32_t count, uint64_t off, uint32_t flags)
{
    (void)h;
    (void)flags;
    return cf_disk_clear(count, off, "trim");
}

static int cf_disk_zero(void *h, uint32_t count, uint64_t off, uint32_t flags)
{
    (void)h;
    (void)flags;
    return cf_disk_clear(count, off, "zero");
}

static struct nbdkit_plugin plugin = {
    .name = "coffer",
    .longname = "coffer-disk: an encrypted virtual disk on coffer-blob",
    .version = "0.1",
    .load = cf_disk_load,
    .unload = cf_disk_unload,
    .config = cf_disk_config,
    .config_complete = cf_disk_config_complete,
    .config_help = "disk=[CONTAINER/]NAME connection=-FD|+FILE [ca=FILE] [vault-identity=FILE]\n"
                   "[cache-seconds=N] [writeback=SIZE]",
    .magic_config_key = "disk",
    .open = cf_disk_open,
    .close = cf_disk_close,
    .get_size = cf_disk_get_size,
    .block_size = cf_disk_block_size,
    .can_write = cf_disk_yes,
    .can_flush = cf_disk_yes,
    .can_trim = cf_disk_yes,
    .can_multi_conn = cf_disk_yes,
    .can_fua = cf_disk_can_fua,
    .can_zero = cf_disk_yes,
    .can_fast_zero = cf_disk_yes,
    .pread = cf_disk_pread,
    .pwrite = cf_disk_pwrite,
    .flush = cf_disk_flush,
    .trim = cf_disk_trim,
    .zero = cf_disk_zero,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
