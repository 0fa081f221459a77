/*
 * The loadable-extension entry point (`.load libcoffer_sqlite` in the
 * sqlite3 shell, sqlite3_load_extension in C): SQLite derives the name
 * sqlite3_coffersqlite_init from the file name.  The functions call the
 * process's libsqlite3 directly rather than through the `api` routines,
 * so the host must use the shared libsqlite3 (Debian's sqlite3 shell,
 * Python's sqlite3 module and any program linked with -lsqlite3 do).
 */
#include "coffer_sqlite.h"

__attribute__((visibility("default"))) int sqlite3_coffersqlite_init(sqlite3 *db, char **err,
                                                                     const void *api);

int sqlite3_coffersqlite_init(sqlite3 *db, char **err, const void *api)
{
    (void)api;
    int rc = coffer_sqlite_register(db);
    if (rc != SQLITE_OK && err)
        *err =
            sqlite3_mprintf("coffer: cannot register the ae_* functions (%s)", sqlite3_errstr(rc));
    return rc;
}
