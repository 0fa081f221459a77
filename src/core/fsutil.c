/* Crash-safe file helpers; see fsutil.h. */
#include "fsutil.h"
#include "blocking.h"
#include "crypto.h"
#include "log.h"
#include "secmem.h"
#include "units.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static bool cf_write_all(int fd, cf_slice data)
{
    size_t off = 0;
    while (off < data.len) {
        ssize_t n = write(fd, data.ptr + off, data.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        CF_ENSURE(n > 0, CF_ERR_IO, "write failed");
        off += (size_t)n;
    }
    return true;
}

bool cf_fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && fsync(fd) == 0;
    int err = errno;
    if (fd >= 0)
        close(fd);
    return ok || cf_io_fail("sync a file", err);
}

bool cf_fsync_dir_of(const char *path)
{
    char copy[PATH_MAX];
    CF_ENSURE(strlen(path) < sizeof copy, CF_ERR_IO, "path too long");
    snprintf(copy, sizeof copy, "%s", path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CF_ENSURE(dfd >= 0, CF_ERR_IO, "cannot open directory");
    int rc = CF_WHILE_BLOCKED(fsync(dfd));
    close(dfd);
    CF_ENSURE(rc == 0, CF_ERR_IO, "fsync of directory failed");
    return true;
}

bool cf_write_file_atomic(const char *path, cf_slice data, mode_t mode)
{
    char tmp[PATH_MAX];
    CF_ENSURE(snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) < (int)sizeof tmp,
              CF_ERR_IO, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    CF_ENSUREF(fd >= 0, CF_ERR_IO, "cannot create %s", tmp);
    bool ok = fchmod(fd, mode) == 0 && cf_write_all(fd, data) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        CF_BAIL(CF_ERR_IO, "cannot write file");
    }
    return cf_fsync_dir_of(path);
}

bool cf_read_file(const char *path, size_t max, cf_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CF_ENSUREF(fd >= 0, errno == ENOENT ? CF_ERR_NOT_FOUND : CF_ERR_IO, "cannot open %s", path);
    bool ok = true;
    uint8_t chunk[4096]; /* wiped below: files read here can be secret */
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        if ((size_t)n > max - out->len || !cf_buf_append(out, chunk, (size_t)n)) {
            ok = false;
            break;
        }
    }
    close(fd);
    cf_memzero(chunk, sizeof chunk);
    CF_ENSUREF(ok, CF_ERR_IO, "cannot read %s", path);
    return true;
}

bool cf_read_file_exact(const char *path, void *out, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CF_ENSUREF(fd >= 0, CF_ERR_IO, "cannot open %s", path);
    size_t off = 0;
    while (off < len) {
        ssize_t n = read(fd, (uint8_t *)out + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    CF_ENSUREF(off == len, CF_ERR_IO, "short read from %s", path);
    return true;
}

bool cf_mkdirs(const char *path, mode_t mode)
{
    char copy[PATH_MAX];
    CF_ENSURE(strlen(path) < sizeof copy, CF_ERR_IO, "path too long");
    snprintf(copy, sizeof copy, "%s", path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        CF_ENSUREF(mkdir(copy, mode) == 0 || errno == EEXIST, CF_ERR_IO, "cannot create %s", copy);
        *p = '/';
    }
    CF_ENSUREF(mkdir(copy, mode) == 0 || errno == EEXIST, CF_ERR_IO, "cannot create %s", copy);
    return true;
}

bool cf_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int cf_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

bool cf_remove_tree(const char *path)
{
    if (!cf_file_exists(path))
        return true;
    CF_ENSUREF(nftw(path, cf_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, CF_ERR_IO,
               "cannot remove %s", path);
    return cf_fsync_dir_of(path);
}

bool cf_destroy_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    CF_ENSUREF(fd >= 0, errno == ENOENT ? CF_ERR_NOT_FOUND : CF_ERR_IO, "cannot open %s", path);
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && st.st_size >= 0 && st.st_size <= CF_MIB;
    uint8_t noise[4096];
    for (off_t done = 0; ok && done < st.st_size; done += (off_t)sizeof noise) {
        size_t n =
            (size_t)(st.st_size - done) < sizeof noise ? (size_t)(st.st_size - done) : sizeof noise;
        ok = cf_random_bytes(noise, n) && cf_write_all(fd, cf_slice_of(noise, n));
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    CF_ENSUREF(ok && unlink(path) == 0, CF_ERR_IO, "cannot destroy %s", path);
    return cf_fsync_dir_of(path);
}

bool cf_lock_file(const char *path, int *fd)
{
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    CF_ENSUREF(*fd >= 0, CF_ERR_IO, "cannot open %s", path);
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return true;
    bool busy = errno == EWOULDBLOCK;
    close(*fd);
    *fd = -1;
    CF_ENSUREF(!busy, CF_ERR_CONFLICT, "%s is locked by another process", path);
    CF_BAIL(CF_ERR_IO, "cannot lock the data directory");
}

bool cf_io_fail(const char *what, int err)
{
    char detail[256];
    snprintf(detail, sizeof detail, "%s: %s", what, strerror(err));
    if (err == ENOSPC || err == EDQUOT) {
        cf_log(CF_LOG_ERROR, NULL, "disk full: %s; writes are refused until space is freed",
               detail);
        cf_error_raise_reason(CF_ERR_IO, "InsufficientStorage", __FILE__, __LINE__, detail);
    } else {
        cf_error_raise(CF_ERR_IO, __FILE__, __LINE__, detail);
    }
    return false;
}
