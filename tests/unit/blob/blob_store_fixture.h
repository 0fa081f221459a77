/*
 * Shared by the blob store unit tests (test_blob_store*.c; header-only, so
 * each test is still one file to build): the data directory under test and
 * how many extents it holds, as files and as rows stored inline.
 */
#ifndef CF_BLOB_STORE_FIXTURE_H
#define CF_BLOB_STORE_FIXTURE_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

static char data_dir[256];

/* Calls fn(path, ctx) for every regular file under `dir`. */
static void each_file(const char *dir, void (*fn)(const char *, void *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            each_file(p, fn, ctx);
        else
            fn(p, ctx);
    }
    closedir(d);
}

static void count_one(const char *path, void *ctx)
{
    (void)path;
    (*(unsigned *)ctx)++;
}

static unsigned extent_files(void)
{
    char p[512];
    unsigned n = 0;
    snprintf(p, sizeof p, "%s/extents", data_dir);
    each_file(p, count_one, &n);
    return n;
}

/* Rows of inline_extents, counted through a second connection. */
static unsigned inline_rows(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/blob.db", data_dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    unsigned n = 0;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM inline_extents", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (unsigned)sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Stored extents: files, and small ones inline in the database. */
static unsigned extents(void)
{
    return extent_files() + inline_rows();
}

#endif
