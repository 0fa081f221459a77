/*
 * App roles: what the vault's tokens say in their "roles" claim, so that
 * coffer-blob can decide from the token alone (as Entra ID puts app role
 * assignments in tokens).  The vault adds a role when the token's
 * principal holds the matching action on "/" (vault/rbac.h).
 */
#ifndef COFFER_TOKEN_ROLES_H
#define COFFER_TOKEN_ROLES_H

/* Scraping /metrics (docs/metrics.md). */
#define CF_TOKEN_ROLE_METRICS "Coffer.Metrics.Read"
/* Managing the blob service: accounts, encryption scopes, Storage Blob
 * Data role assignments (the /.coffer/ admin API; docs/blob.md). */
#define CF_TOKEN_ROLE_STORAGE_ADMIN "Coffer.Storage.Admin"

/* The roles a verified token carries, as bits. */
enum {
    CF_APP_ROLE_METRICS = 1u << 0,
    CF_APP_ROLE_STORAGE_ADMIN = 1u << 1,
};

#endif
