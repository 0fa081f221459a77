/*
 * The loadable-extension entry point (`.load libcoffer_sqlite` in the
 * sqlite3 shell, sqlite3_load_extension in C): SQLite derives the name
 * sqlite3_coffersqlite_init from the file name.  The functions call the
 * process's libsqlite3 directly rather than through the `api` routines,
 * so the host must use the shared libsqlite3 (Debian's sqlite3 shell,
 * Python's sqlite3 module and any program linked with -lsqlite3 do).
 *
 * Loading registers the functions on this connection and on every one
 * opened later (the shell's `.open` makes a new connection), and the
 * "coffer" VFS (coffer_tde.h); the library then stays loaded, since a
 * registered VFS must outlive the connection that loaded it.
 */
#include "coffer_sqlite.h"
#include "coffer_tde.h"

__attribute__((visibility("default"))) int sqlite3_coffersqlite_init(sqlite3 *db, char **err,
                                                                     const void *api);

static int cf_register_functions(sqlite3 *db, char **err, const void *api)
{
    (void)api;
    int rc = coffer_sqlite_register(db);
    if (rc != SQLITE_OK && err)
        *err =
            sqlite3_mprintf("coffer: cannot register the SQL functions (%s)", sqlite3_errstr(rc));
    return rc;
}

int sqlite3_coffersqlite_init(sqlite3 *db, char **err, const void *api)
{
    int rc = cf_register_functions(db, err, api);
    if (rc == SQLITE_OK)
        rc = coffer_tde_register();
    if (rc == SQLITE_OK)
        rc = sqlite3_auto_extension((void (*)(void))cf_register_functions);
    if (rc != SQLITE_OK) {
        if (err && !*err)
            *err =
                sqlite3_mprintf("coffer: cannot register the coffer VFS (%s)", sqlite3_errstr(rc));
        return rc;
    }
    return SQLITE_OK_LOAD_PERMANENTLY;
}
