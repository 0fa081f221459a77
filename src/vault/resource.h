/*
 * What the keys and secrets resources share over HTTP: a descriptor per
 * resource, and the handlers whose logic is the same for both — get (live
 * or deleted), list (names, versions, deleted), delete, recover, purge,
 * backup and restore.  Resource files keep only what is theirs (creating
 * versions, their bundles, their routes).
 */
#ifndef CF_VAULT_RESOURCE_H
#define CF_VAULT_RESOURCE_H

#include "vault.h"

typedef struct cf_resource {
    const char *kind;         /* store kind: "key" | "secret" */
    const char *collection;   /* URL segment: "keys" | "secrets" */
    const char *deleted;      /* URL segment: "deletedkeys" | "deletedsecrets" */
    const char *backup_magic; /* 4 bytes identifying this resource's backups */
    /* The full bundle of a version (deleted fields added when deleted). */
    json_t *(*bundle)(cf_vault *vault, const cf_object *obj);
    /* Properties of a restored version are checked before they are stored. */
    bool (*props_valid)(json_t *props);
    /* Drops cached material of a purged name (may be NULL). */
    void (*forget)(const char *kind, const char *name);
    /* A version is stored (HSM keys: its token objects are now referenced,
     * so the collector may judge them); may be NULL. */
    void (*stored)(const cf_object *obj);
    /* After a purge: releases what purged versions held elsewhere (the
     * token objects of HSM keys); may be NULL. */
    void (*after_purge)(cf_vault *vault);
    /* The material to seal for a restored version, from the backed-up
     * material (HSM keys get new token objects); NULL = as backed up. */
    bool (*restore_material)(cf_vault *vault, cf_object *obj, cf_slice material, cf_buf *out);
} cf_resource;

extern const cf_resource cf_keys_resource;
extern const cf_resource cf_secrets_resource;

/* The identifier URL of a version ("" = of the name). */
void cf_resource_id(const cf_vault *vault, const cf_resource *r, const cf_object *obj,
                    bool versioned, char *out, size_t len);
/* Adds recoveryId, deletedDate and scheduledPurgeDate to a deleted bundle. */
CF_MUST_USE bool cf_resource_add_deleted(cf_vault *vault, const cf_resource *r,
                                         const cf_object *obj, json_t *bundle);

CF_MUST_USE bool cf_vault_require_body(cf_vault_call *call);

/* A new version of `name` with attributes and tags from the request body. */
CF_MUST_USE bool cf_resource_new_version(cf_vault_call *call, const cf_resource *r,
                                         const char *name, cf_object *obj);
/* Stores a new version and replies with its bundle. */
CF_MUST_USE bool cf_resource_insert(cf_vault_call *call, const cf_resource *r, cf_object *obj);
CF_MUST_USE bool cf_resource_reply(cf_vault_call *call, const cf_resource *r, const cf_object *obj);

/* Handlers of the operations keys and secrets share; the resource is the
 * route's (call->route->resource), the name and version the path's. */
CF_MUST_USE bool cf_resource_get_handler(cf_vault_call *call); /* live version */
CF_MUST_USE bool cf_resource_get_deleted_handler(cf_vault_call *call);
CF_MUST_USE bool cf_resource_list_handler(cf_vault_call *call); /* names */
CF_MUST_USE bool cf_resource_list_versions_handler(cf_vault_call *call);
CF_MUST_USE bool cf_resource_list_deleted_handler(cf_vault_call *call);
CF_MUST_USE bool cf_resource_delete_handler(cf_vault_call *call);
CF_MUST_USE bool cf_resource_recover_handler(cf_vault_call *call);
CF_MUST_USE bool cf_resource_purge_handler(cf_vault_call *call);
CF_MUST_USE bool cf_resource_backup_handler(cf_vault_call *call);
CF_MUST_USE bool cf_resource_restore_handler(cf_vault_call *call);

/* Backup blobs (backup.c; format in docs/formats.md). */
CF_MUST_USE bool cf_backup_make(cf_vault *vault, const cf_resource *r, const char *name,
                                cf_buf *blob);
CF_MUST_USE bool cf_backup_restore(cf_vault *vault, const cf_resource *r, cf_slice blob,
                                   cf_object *latest);
/* Parses an opened backup payload; exposed for the fuzz target. */
typedef bool (*cf_backup_version_cb)(void *ctx, cf_object *obj, cf_slice material);
CF_MUST_USE bool cf_backup_parse_payload(const cf_resource *r, cf_slice payload,
                                         cf_backup_version_cb each, void *ctx);

#endif
