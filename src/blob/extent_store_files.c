/*
 * The files backend of the extent store (files:DIR).
 *
 * The layout and the durability steps are the blob store's own, so that
 * it can move onto this module without migrating a byte:
 *   DIR/ab/cd/<id>        a finished extent (ab, cd: the id's first hex pairs)
 *   DIR/ab/cd/<id>.tmp    one being written
 * A writer creates DIR/ab and DIR/ab/cd as needed (fsyncing the parent that
 * gained each), writes <id>.tmp (O_EXCL, 0600) straight through, starting
 * writeback every 8 MiB so that the final fsync finds little left to do;
 * finish fsyncs the file, renames it to <id> and fsyncs the directory:
 * only then does the extent exist.  Nothing is buffered in user space.
 *
 * Removal is a plain unlink, not followed by a directory fsync: an unlink
 * a crash undoes brings back an unreferenced extent, which garbage
 * collection (cf_extent_store_each) finds again.  The walk removes
 * <id>.tmp files whose mtime (the last write) is before the cut-off, and
 * skips every name that is not ours.
 */
#include "extent_store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blocking.h"
#include "fsutil.h"

#define ES_TMP_SUFFIX ".tmp"
/* Start writeback every this many bytes (a hint; the fsync decides). */
#define ES_WRITEBACK_STEP (8 * CF_MIB)

typedef struct {
    cf_extent_store base;
    char *dir;
} es_files;

typedef struct {
    cf_extent_store_writer base;
    int fd;
    bool renamed;
    uint64_t written, flushed;
    char path[PATH_MAX], tmp[PATH_MAX];
} es_files_writer;

typedef struct {
    cf_extent_store_reader base;
    int fd;
} es_files_reader;

static bool es_path(const es_files *fs, const char *id, const char *suffix, char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%s/%.2s/%.2s/%s%s", fs->dir, id, id + 2, id, suffix);
    CF_ENSURE(n > 0 && n < PATH_MAX, CF_ERR_BAD_INPUT, "extent path too long");
    return true;
}

/* Creates DIR/ab and DIR/ab/cd as needed, fsyncing each parent that gained
 * an entry so the new directory survives a crash. */
static bool es_make_dirs(const es_files *fs, const char *id)
{
    char d1[PATH_MAX], d2[PATH_MAX];
    snprintf(d1, sizeof d1, "%s/%.2s", fs->dir, id);
    snprintf(d2, sizeof d2, "%s/%.2s/%.2s", fs->dir, id, id + 2);
    const char *dirs[2] = {d1, d2};
    for (int i = 0; i < 2; i++) {
        if (mkdir(dirs[i], 0700) == 0)
            CF_GUARD(cf_fsync_dir_of(dirs[i]));
        else if (errno != EEXIST)
            return cf_io_fail("creating an extent directory", errno);
    }
    return true;
}

/* ---- writing ---- */

static void es_files_writer_free(cf_extent_store_writer *base)
{
    es_files_writer *w = (es_files_writer *)base;
    if (w->fd >= 0)
        close(w->fd);
    if (!base->finished) {
        /* Unfinished: the temp file, or the renamed file whose directory
         * fsync failed (nothing may point at it yet). */
        if (w->renamed)
            unlink(w->path);
        else if (w->tmp[0])
            unlink(w->tmp);
    }
    free(w);
}

static bool es_files_create(cf_extent_store *s, const char *id, cf_extent_store_writer **out)
{
    es_files *fs = (es_files *)s;
    es_files_writer *w = calloc(1, sizeof *w);
    CF_ENSURE_ALLOC(w);
    w->fd = -1;
    if (!es_path(fs, id, "", w->path) || !es_path(fs, id, ES_TMP_SUFFIX, w->tmp) ||
        !es_make_dirs(fs, id)) {
        free(w);
        return false;
    }
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->fd < 0) {
        int err = errno;
        free(w);
        CF_ENSURE(err != EEXIST, CF_ERR_CONFLICT, "extent is being written");
        return cf_io_fail("creating an extent file", err);
    }
    *out = &w->base;
    return true;
}

static bool es_files_write(cf_extent_store_writer *base, cf_slice bytes)
{
    es_files_writer *w = (es_files_writer *)base;
    while (bytes.len) {
        ssize_t n = write(w->fd, bytes.ptr, bytes.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return cf_io_fail("writing an extent file", n < 0 ? errno : ENOSPC);
        bytes.ptr += n;
        bytes.len -= (size_t)n;
        w->written += (uint64_t)n;
    }
    if (w->written - w->flushed >= ES_WRITEBACK_STEP) {
        /* A hint: errors show up in the fsync that decides. */
        (void)sync_file_range(w->fd, (off64_t)w->flushed, (off64_t)(w->written - w->flushed),
                              SYNC_FILE_RANGE_WRITE);
        w->flushed = w->written;
    }
    return true;
}

static bool es_files_finish(cf_extent_store_writer *base)
{
    es_files_writer *w = (es_files_writer *)base;
    if (CF_WHILE_BLOCKED(fsync(w->fd)) != 0)
        return cf_io_fail("syncing an extent file", errno);
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0)
        return cf_io_fail("closing an extent file", errno);
    if (rename(w->tmp, w->path) != 0)
        return cf_io_fail("renaming an extent file", errno);
    w->renamed = true;
    /* Durable before the metadata that names it can commit. */
    return cf_fsync_dir_of(w->path);
}

/* ---- reading ---- */

static void es_files_reader_close(cf_extent_store_reader *base)
{
    es_files_reader *r = (es_files_reader *)base;
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static bool es_files_reader_open(cf_extent_store *s, const char *id, cf_extent_store_reader **out)
{
    char path[PATH_MAX];
    CF_GUARD(es_path((es_files *)s, id, "", path));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        CF_ENSURE(errno != ENOENT, CF_ERR_NOT_FOUND, "no such extent");
        return cf_io_fail("opening an extent file", errno);
    }
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (err) {
        close(fd);
        return cf_io_fail("inspecting an extent file", err);
    }
    es_files_reader *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    r->fd = fd;
    r->base.length = (uint64_t)st.st_size;
    *out = &r->base;
    return true;
}

static bool es_files_read_at(cf_extent_store_reader *base, uint64_t off, uint8_t *buf, size_t len)
{
    es_files_reader *r = (es_files_reader *)base;
    while (len) {
        ssize_t n = pread(r->fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cf_io_fail("reading an extent file", errno);
        CF_ENSURE(n > 0, CF_ERR_IO, "extent file shorter than its length");
        buf += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

/* ---- removal and the walk ---- */

static bool es_files_remove(cf_extent_store *s, const char *id)
{
    char path[PATH_MAX];
    CF_GUARD(es_path((es_files *)s, id, "", path));
    if (unlink(path) != 0 && errno != ENOENT)
        return cf_io_fail("removing an extent file", errno);
    return true;
}

typedef struct {
    int64_t older_than;
    cf_extent_store_each_fn fn;
    void *ctx;
    unsigned *partials;
} es_walk;

static bool es_hex_name(const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    return true;
}

/* One entry of DIR/ab/cd: an old temp file goes, an old extent is reported. */
static bool es_walk_file(const es_walk *wk, const char *dir, const char *name)
{
    size_t n = strlen(name);
    bool tmp = n == CF_EXTENT_STORE_ID_LEN + strlen(ES_TMP_SUFFIX) &&
               strcmp(name + CF_EXTENT_STORE_ID_LEN, ES_TMP_SUFFIX) == 0;
    if ((n != CF_EXTENT_STORE_ID_LEN && !tmp) || !es_hex_name(name, CF_EXTENT_STORE_ID_LEN))
        return true; /* not ours: leave it */
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return true;
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || (int64_t)st.st_mtime >= wk->older_than)
        return true; /* gone meanwhile, not a file, or young */
    if (tmp) {
        if (unlink(path) == 0)
            (*wk->partials)++;
        return true;
    }
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    memcpy(id, name, CF_EXTENT_STORE_ID_LEN + 1);
    return wk->fn(wk->ctx, id);
}

static bool es_walk_dir(const es_walk *wk, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || cf_io_fail("listing an extent directory", errno);
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (depth == 2) {
            ok = es_walk_file(wk, dir, e->d_name);
            continue;
        }
        if (strlen(e->d_name) != 2 || !es_hex_name(e->d_name, 2))
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) < (int)sizeof sub)
            ok = es_walk_dir(wk, sub, depth + 1);
    }
    closedir(d);
    return ok;
}

static bool es_files_each(cf_extent_store *s, int64_t older_than, cf_extent_store_each_fn fn,
                          void *ctx, unsigned *partials)
{
    const es_walk wk = {older_than, fn, ctx, partials};
    return es_walk_dir(&wk, ((es_files *)s)->dir, 0);
}

/* ---- open / close ---- */

static void es_files_close(cf_extent_store *s)
{
    es_files *fs = (es_files *)s;
    free(fs->dir);
    free(fs);
}

static const es_ops es_files_ops = {
    .kind = "files",
    .close = es_files_close,
    .create = es_files_create,
    .write = es_files_write,
    .finish = es_files_finish,
    .writer_free = es_files_writer_free,
    .reader_open = es_files_reader_open,
    .read_at = es_files_read_at,
    .reader_close = es_files_reader_close,
    .remove = es_files_remove,
    .each = es_files_each,
};

bool cf_es_files_open(const char *arg, const cf_extent_store_options *opt, cf_extent_store **out)
{
    (void)opt; /* nothing to tune: the kernel buffers */
    /* Room for "/ab/cd/<id>.tmp" after the directory. */
    CF_ENSURE(strlen(arg) < PATH_MAX - 64, CF_ERR_BAD_INPUT, "extent directory path too long");
    CF_GUARD(cf_mkdirs(arg, 0700));
    es_files *fs = calloc(1, sizeof *fs);
    CF_ENSURE_ALLOC(fs);
    fs->dir = strdup(arg);
    if (!fs->dir) {
        free(fs);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    fs->base.ops = &es_files_ops;
    *out = &fs->base;
    return true;
}
