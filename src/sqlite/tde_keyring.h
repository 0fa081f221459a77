/*
 * The in-memory keys behind protector=key:ID (tde_keyring.c).
 */
#ifndef CF_TDE_KEYRING_H
#define CF_TDE_KEYRING_H

#include "tde_protector.h"

/* A copy of the key `id` names into `key` (a secret buffer);
 * CF_ERR_FORBIDDEN when this process holds no such key. */
CF_MUST_USE bool cf_tde_keyring_get(const char *id, cf_buf *key);

#endif
