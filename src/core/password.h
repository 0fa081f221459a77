/*
 * Passwords of people (the vault's users), stored as Argon2id hashes in
 * the PHC string format ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"),
 * from Debian's libargon2 (Debian 12's OpenSSL 3.0 has no Argon2).
 *
 * Cost: 19 MiB, 2 passes, 1 lane (OWASP's Argon2id configuration), about
 * 0.1 s of one core here.  The parameters travel in each hash, so raising
 * them later leaves old hashes verifiable.  At most CF_PASSWORD_PARALLEL
 * hashes run at once, whatever the number of sign-in attempts, so a flood
 * of them costs bounded memory and leaves cores for everything else.
 */
#ifndef CF_PASSWORD_H
#define CF_PASSWORD_H

#include "buf.h"

#define CF_PASSWORD_MIN 12   /* bytes */
#define CF_PASSWORD_MAX 1024 /* bytes: the hash reads all of it */
#define CF_PASSWORD_HASH_MAX 128
#define CF_PASSWORD_PARALLEL 2

/* The policy: CF_PASSWORD_MIN..MAX bytes of valid UTF-8 without control
 * characters.  CF_ERR_BAD_INPUT with the reason otherwise. */
CF_MUST_USE bool cf_password_acceptable(cf_slice password);

/* A new hash with a fresh 16-byte salt. */
CF_MUST_USE bool cf_password_hash(cf_slice password, char out[CF_PASSWORD_HASH_MAX + 1]);

/* Whether `password` matches `encoded`; false with CF_ERR_UNAUTHORIZED
 * when it does not.  With `encoded` NULL (no such user) it does the same
 * work against a fixed hash and fails, so timing does not tell. */
CF_MUST_USE bool cf_password_verify(const char *encoded, cf_slice password);

#endif
