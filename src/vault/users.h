/*
 * The vault's human users (users.c, docs/users.md): their administration
 * API and sign-in.
 */
#ifndef CF_VAULT_USERS_H
#define CF_VAULT_USERS_H

#include "vault.h"

/* Lockout: after this many failures in a row, CF_USER_LOCKOUT_FIRST
 * seconds, doubling with each further failure, at most an hour. */
#define CF_USER_LOCKOUT_AFTER 5
#define CF_USER_LOCKOUT_FIRST 30
#define CF_USER_LOCKOUT_MAX 3600

CF_MUST_USE bool cf_user_list_handler(cf_vault_call *call);
CF_MUST_USE bool cf_user_create_handler(cf_vault_call *call);
CF_MUST_USE bool cf_user_show_handler(cf_vault_call *call);
CF_MUST_USE bool cf_user_delete_handler(cf_vault_call *call);
CF_MUST_USE bool cf_user_password_handler(cf_vault_call *call);

/* Checks a user's name, password and (when enrolled) one-time code, and
 * loads the user's principal.  Fails with CF_ERR_UNAUTHORIZED ("wrong
 * name, password or code", whichever it was), CF_ERR_FORBIDDEN with reason
 * "UserLocked" while the user is locked out, or the store's error.  Every
 * failure of a known user counts toward its lockout. */
CF_MUST_USE bool cf_users_sign_in(cf_vault *vault, const char *name, cf_slice password,
                                  const char *code, cf_principal *out);

#endif
