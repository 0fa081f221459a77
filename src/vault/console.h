/* The console's static files under /console/ (console.c). */
#ifndef CF_VAULT_CONSOLE_H
#define CF_VAULT_CONSOLE_H

#include "vault.h"

/* Answers requests for /console/...; false for any other path. */
bool cf_console_route(cf_vault *vault, cf_http_request *req, cf_http_response *resp);

#endif
