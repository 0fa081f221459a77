/*
 * The console's static files (src/console/), compiled into coffer-vault by
 * cmake/embed_assets.cmake, and the route that serves them (console.c).
 */
#ifndef CF_VAULT_ASSETS_H
#define CF_VAULT_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/console/app.js" */
    const char *content_type;
    const char *etag; /* quoted: a prefix of the file's SHA-256 */
    const unsigned char *data;
    size_t len;
} cf_asset;

extern const cf_asset cf_assets[];
extern const size_t cf_assets_count;

#endif
