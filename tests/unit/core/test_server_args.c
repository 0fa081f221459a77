/*
 * The servers' shared command line (server_args.c): shared and own options
 * land where they belong, invalid values and unknown options stop the
 * parse, --help/--version end it, completeness, checked numbers and copies.
 */
#include <limits.h>

#include "log.h"
#include "server_args.h"
#include "test.h"

typedef struct {
    char data_dir[16];
    char listen[32];
    cf_seal_options seal;
    int number;
    bool flag;
    const char *name;
} fixture;

static const struct option own_options[] = {
    {"number", required_argument, 0, 'n'},
    {"flag", no_argument, 0, 'f'},
    {"name", required_argument, 0, 'm'},
    {0, 0, 0, 0},
};

static bool own(void *ctx, int code, const char *value, const char **complaint)
{
    fixture *f = ctx;
    switch (code) {
    case 'n':
        *complaint = "--number must be from 1 to 9";
        return cf_server_parse_int(value, 1, 9, &f->number);
    case 'f': f->flag = true; return true;
    case 'm': f->name = value; return true;
    default: return false;
    }
}

static void usage(FILE *out)
{
    fputs("usage: test-server --data-dir DIR --listen HOST:PORT\n", out);
}

/* Parses a NULL-terminated list; *argc_out gets its length. */
static cf_server_args_result parse(fixture *f, cf_server_args *a, const char **list, int *argc_out)
{
    static char *argv[32];
    int argc = 0;
    for (; list[argc]; argc++)
        argv[argc] = (char *)list[argc];
    argv[argc] = NULL;
    memset(f, 0, sizeof *f);
    *a = (cf_server_args){.name = "test-server",
                          .usage = usage,
                          .data_dir = f->data_dir,
                          .data_dir_size = sizeof f->data_dir,
                          .listen = f->listen,
                          .listen_size = sizeof f->listen,
                          .seal = &f->seal};
    *argc_out = argc;
    return cf_server_args_parse(argc, argv, a, own_options, own, f);
}

static void test_options_land(void)
{
    fixture f;
    cf_server_args a;
    int argc;
    const char *argv[] = {"srv",
                          "--data-dir",
                          "/d",
                          "--listen=127.0.0.1:1",
                          "--number",
                          "7",
                          "--flag",
                          "--dev-seal",
                          "--pkcs11-module",
                          "/m.so",
                          "--pkcs11-token",
                          "T",
                          "--pkcs11-pin-file",
                          "/pin",
                          "--name",
                          "x",
                          "--log-level",
                          "warn",
                          NULL};
    CHECK(parse(&f, &a, argv, &argc) == CF_SERVER_ARGS_RUN);
    CHECK(cf_server_args_complete(&a, argc));
    CHECK_STR(f.data_dir, "/d");
    CHECK_STR(f.listen, "127.0.0.1:1");
    CHECK(f.number == 7);
    CHECK(f.flag);
    CHECK(f.seal.dev_seal);
    CHECK_STR(f.seal.module, "/m.so");
    CHECK_STR(f.seal.token_label, "T");
    CHECK_STR(f.seal.pin_file, "/pin");
    CHECK_STR(f.name, "x");
    CHECK(cf_log_set_level_name("info")); /* back to the default */

    /* Parsing again starts afresh (getopt's state is reset). */
    const char *again[] = {"srv", "--data", "/e", "--listen", "h:2", NULL};
    CHECK(parse(&f, &a, again, &argc) == CF_SERVER_ARGS_RUN);
    CHECK_STR(f.data_dir, "/e"); /* an unambiguous prefix, as getopt allows */
    CHECK(cf_server_args_complete(&a, argc));
    CHECK(!f.seal.dev_seal);
}

static void test_incomplete(void)
{
    fixture f;
    cf_server_args a;
    int argc;
    const char *no_listen[] = {"srv", "--data-dir", "/d", NULL};
    CHECK(parse(&f, &a, no_listen, &argc) == CF_SERVER_ARGS_RUN);
    CHECK(!cf_server_args_complete(&a, argc));
    const char *extra[] = {"srv", "--data-dir", "/d", "--listen", "h:1", "stray", NULL};
    CHECK(parse(&f, &a, extra, &argc) == CF_SERVER_ARGS_RUN);
    CHECK(!cf_server_args_complete(&a, argc));
}

static void test_invalid(void)
{
    fixture f;
    cf_server_args a;
    int argc;
    /* stderr gets the reasons; only the outcome is checked here. */
    const char *cases[][4] = {
        {"srv", "--number", "10", NULL}, /* own value out of range */
        {"srv", "--number", "3x", NULL},
        {"srv", "--log-level", "loud", NULL}, /* shared value */
        {"srv", "--data-dir", "/a/path/far/too/long/for/sixteen", NULL},
        {"srv", "--unknown", NULL, NULL}, /* unknown option */
        {"srv", "--number", NULL, NULL},  /* missing value */
        {"srv", "--flag=1", NULL, NULL},  /* a flag with a value */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(parse(&f, &a, cases[i], &argc) == CF_SERVER_ARGS_INVALID);
}

static void test_help_version(void)
{
    fixture f;
    cf_server_args a;
    int argc;
    const char *help[] = {"srv", "--help", "--unknown", NULL}; /* ends at --help */
    CHECK(parse(&f, &a, help, &argc) == CF_SERVER_ARGS_DONE);
    const char *version[] = {"srv", "--version", NULL};
    CHECK(parse(&f, &a, version, &argc) == CF_SERVER_ARGS_DONE);
    const char *late[] = {"srv", "--unknown", "--help", NULL}; /* the error comes first */
    CHECK(parse(&f, &a, late, &argc) == CF_SERVER_ARGS_INVALID);
}

static void test_numbers_and_copies(void)
{
    int v = 42;
    CHECK(cf_server_parse_int("1", 1, 86400, &v) && v == 1);
    CHECK(cf_server_parse_int("86400", 1, 86400, &v) && v == 86400);
    v = 42;
    CHECK(!cf_server_parse_int("0", 1, 86400, &v));
    CHECK(!cf_server_parse_int("86401", 1, 86400, &v));
    CHECK(!cf_server_parse_int("", 1, 86400, &v));
    CHECK(!cf_server_parse_int("5 ", 1, 86400, &v));
    CHECK(!cf_server_parse_int("99999999999999999999", 1, INT_MAX, &v));
    CHECK(v == 42); /* untouched on failure */

    char out[4];
    CHECK(cf_server_copy_arg(out, sizeof out, "abc"));
    CHECK_STR(out, "abc");
    CHECK(!cf_server_copy_arg(out, sizeof out, "abcd")); /* no silent truncation */
}

int main(void)
{
    RUN(test_options_land);
    RUN(test_incomplete);
    RUN(test_invalid);
    RUN(test_help_version);
    RUN(test_numbers_and_copies);
    TEST_DONE();
}
