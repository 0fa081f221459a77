/*
 * Command-line parsing shared by Coffer's servers (coffer-vault,
 * coffer-blob): the options both take, and the checked conversions their
 * own options use.
 *
 * Both take --data-dir DIR and --listen HOST:PORT (required), --log-level,
 * the seal options (--dev-seal, --pkcs11-module, --pkcs11-token,
 * --pkcs11-pin-file), --version and --help.  A server lists only its own
 * options and handles them in a callback; the getopt codes of the shared
 * ones (below) are reserved.  Messages are the servers' historical ones:
 * "<name>: invalid value for --OPT", or the usage text for an unknown
 * option.
 */
#ifndef CF_SERVER_ARGS_H
#define CF_SERVER_ARGS_H

#include <getopt.h>
#include <stdio.h>

#include "db.h"
#include "result.h"
#include "seal_dir.h"

/* The getopt codes of the shared options; a server's own must differ. */
#define CF_SERVER_ARGS_RESERVED "dlLDMKNVhS"

/* --store: where the service's metadata lives.  SQLite in the data
 * directory (the default), or PostgreSQL through a libpq connection string
 * (may be empty: libpq's PG* environment variables then say where). */
typedef struct {
    cf_db_backend backend;
    const char *conninfo; /* PostgreSQL: points into argv */
} cf_store_spec;

#define CF_STORE_USAGE                                                                   \
    "  --store sqlite|postgres:CONNINFO\n"                                               \
    "                          where the metadata lives: SQLite in the data directory\n" \
    "                          (default), or PostgreSQL, shared by several front ends\n"

/* Where the shared options go, and how the server introduces itself. */
typedef struct {
    const char *name;         /* "coffer-vault": messages, --version */
    void (*usage)(FILE *out); /* the server's whole usage text */
    char *data_dir;           /* --data-dir, copied (too long: invalid) */
    size_t data_dir_size;
    char *listen; /* --listen, copied */
    size_t listen_size;
    cf_seal_options *seal; /* --dev-seal, --pkcs11-*: values point into argv */
    cf_store_spec *store;  /* --store */
} cf_server_args;

/* The cf_server_args of a server whose settings struct `s` has the fields
 * data_dir, listen (char arrays) and seal_options, as both servers' do. */
#define CF_SERVER_ARGS_OF(server_name, usage_fn, s)         \
    ((cf_server_args){.name = (server_name),                \
                      .usage = (usage_fn),                  \
                      .data_dir = (s)->data_dir,            \
                      .data_dir_size = sizeof(s)->data_dir, \
                      .listen = (s)->listen,                \
                      .listen_size = sizeof(s)->listen,     \
                      .seal = &(s)->seal_options,           \
                      .store = &(s)->store_spec})

/* A server's own option `code` with `value` (NULL for a flag).  False for
 * an invalid value; *complaint may then name the problem (it replaces the
 * generic "invalid value for --OPT"). */
typedef bool (*cf_server_option_fn)(void *ctx, int code, const char *value, const char **complaint);

typedef enum {
    CF_SERVER_ARGS_RUN,     /* parsed: check completeness, then start */
    CF_SERVER_ARGS_DONE,    /* --help or --version was printed: exit 0 */
    CF_SERVER_ARGS_INVALID, /* the problem was printed: exit 2 */
} cf_server_args_result;

/* Parses argv with getopt_long: the shared options and `own` (terminated by
 * a zero entry, at most 48 of them).  Stops at the first invalid option
 * (printing why), or at --help / --version (printing them). */
CF_MUST_USE cf_server_args_result cf_server_args_parse(int argc, char **argv,
                                                       const cf_server_args *args,
                                                       const struct option *own,
                                                       cf_server_option_fn on_own, void *ctx);

/* Whether the required options were given and nothing but options was. */
CF_MUST_USE bool cf_server_args_complete(const cf_server_args *args, int argc);

/* Parses a --store value; false when it is neither form. */
CF_MUST_USE bool cf_store_spec_parse(const char *value, cf_store_spec *out);

/* Copies `value` into out[size]; false when it does not fit. */
CF_MUST_USE bool cf_server_copy_arg(char *out, size_t size, const char *value);

/* A whole decimal integer in [min, max] (no sign games, no trailing text). */
CF_MUST_USE bool cf_server_parse_int(const char *s, long min, long max, int *out);

#endif
