/*
 * The CLI's command line (src/cli/args.c): splitting argv into options and
 * words, flags versus options with values, every usage error, option
 * lookup, checked integers and names.
 */
#include "cli.h"

#include "test.h"

#define FLAGS "help disabled overwrite"

typedef struct {
    cf_cli_args args;
    const char *words[4];
    size_t n_words;
    cf_cli cli;
} split_result;

/* Splits a NULL-terminated list (argv is copied: the parser edits it). */
static bool split(split_result *r, char storage[][64], const char *const *list)
{
    static char *argv[64];
    int argc = 0;
    for (; list[argc]; argc++) {
        snprintf(storage[argc], 64, "%s", list[argc]);
        argv[argc] = storage[argc];
    }
    memset(r, 0, sizeof *r);
    r->cli.args = &r->args;
    return cf_cli_split_argv(argc, argv, FLAGS, &r->args, r->words, &r->n_words, 4);
}

static void test_split_options_and_words(void)
{
    char s[16][64];
    split_result r;
    const char *const argv[] = {"coffer", "key",         "create",     "k1", "--kty",
                                "RSA",    "--size=2048", "--disabled", NULL};
    CHECK(split(&r, s, argv));
    CHECK(r.n_words == 3);
    CHECK_STR(r.words[0], "key");
    CHECK_STR(r.words[2], "k1");
    CHECK(r.args.n_opts == 3);
    CHECK_STR(cf_cli_opt(&r.cli, "kty"), "RSA");
    CHECK_STR(cf_cli_opt(&r.cli, "size"), "2048"); /* "--name=value" */
    CHECK(cf_cli_opt(&r.cli, "disabled") == NULL); /* a flag has no value... */
    CHECK(cf_cli_flag(&r.cli, "disabled"));        /* ...but is present */
    CHECK(!cf_cli_flag(&r.cli, "overwrite"));
    CHECK(cf_cli_opt(&r.cli, "missing") == NULL);
    CHECK(!cf_cli_usage_failed());

    /* Options may come first; "-h" is --help; "-" and everything after
     * "--" are words. */
    const char *const argv2[] = {"coffer", "-h", "--", "--kty", "-", NULL};
    CHECK(split(&r, s, argv2));
    CHECK(cf_cli_flag(&r.cli, "help"));
    CHECK(r.n_words == 2);
    CHECK_STR(r.words[0], "--kty");
    CHECK_STR(r.words[1], "-");
}

/* Each malformed command line is a usage error with its own message. */
static void expect_usage(const char *const *argv, const char *message)
{
    char s[40][64];
    split_result r;
    cf_error_clear();
    CHECK(!split(&r, s, argv));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK_STR(cf_error_detail(), message);
    CHECK(cf_cli_usage_failed());
}

static void test_split_rejects(void)
{
    expect_usage((const char *const[]){"coffer", "--disabled=yes", NULL},
                 "--disabled takes no value");
    expect_usage((const char *const[]){"coffer", "key", "list", "--max", NULL},
                 "--max needs a value");
    expect_usage((const char *const[]){"coffer", "--kty", "RSA", "--kty=EC", NULL},
                 "--kty given twice");
    expect_usage((const char *const[]){"coffer", "-x", NULL}, "unknown option '-x'");
    expect_usage((const char *const[]){"coffer", "a", "b", "c", "d", "e", NULL},
                 "too many arguments");

    /* More than CF_CLI_MAX_OPTS options. */
    static char names[CF_CLI_MAX_OPTS + 1][16];
    const char *many[CF_CLI_MAX_OPTS + 3] = {"coffer"};
    for (int i = 0; i <= CF_CLI_MAX_OPTS; i++) {
        snprintf(names[i], sizeof names[i], "--o%d=1", i);
        many[i + 1] = names[i];
    }
    expect_usage(many, "too many options");
}

static void test_in_list(void)
{
    CHECK(cf_cli_in_list("a bb ccc", "bb", 2));
    CHECK(cf_cli_in_list("a bb ccc", "ccc", 3));
    CHECK(cf_cli_in_list("a bb ccc", "a", 1));
    CHECK(!cf_cli_in_list("a bb ccc", "b", 1)); /* whole names only */
    CHECK(!cf_cli_in_list("a bb ccc", "bbc", 3));
    CHECK(cf_cli_in_list("a bb ccc", "bbx", 2)); /* word_len bounds the word */
    CHECK(!cf_cli_in_list("", "a", 1));
}

static void test_parse_int(void)
{
    long long v = 0;
    CHECK(cf_cli_parse_int("max", "12", 1, 100, &v) && v == 12);
    CHECK(cf_cli_parse_int("n", "-5", -10, 10, &v) && v == -5);
    CHECK(cf_cli_parse_int("max", "100", 1, 100, &v) && v == 100);
    v = 7;
    CHECK(!cf_cli_parse_int("max", "0", 1, 100, &v));
    CHECK_STR(cf_error_detail(), "--max: expected an integer in [1, 100]");
    CHECK(v == 7); /* untouched on failure */
    CHECK(!cf_cli_parse_int("max", "101", 1, 100, &v));
    CHECK(!cf_cli_parse_int("max", "12x", 1, 100, &v));
    CHECK(!cf_cli_parse_int("max", "", 1, 100, &v));
    CHECK(!cf_cli_parse_int("max", "99999999999999999999", 1, INT64_MAX, &v)); /* overflow */
}

static void test_names(void)
{
    char longest[129];
    memset(longest, 'a', 127);
    longest[127] = 0;
    CHECK(cf_cli_check_name("my-key-1"));
    CHECK(cf_cli_check_name(longest));
    longest[127] = 'a';
    longest[128] = 0;
    CHECK(!cf_cli_check_name(longest));
    CHECK(!cf_cli_check_name(""));
    CHECK(!cf_cli_check_name("a/b"));
    CHECK_STR(cf_error_detail(), "invalid key name: only letters, digits and '-' are allowed");
    CHECK(!cf_cli_check_name("a b"));
    CHECK(!cf_cli_check_name("..")); /* it goes into a URL path */
    CHECK(cf_cli_check_version("0123abcDEF"));
    CHECK(!cf_cli_check_version("a-b"));
    CHECK_STR(cf_error_detail(), "invalid key version: only letters, digits are allowed");
}

static void test_reported(void)
{
    CHECK(!cf_cli_error_reported());
    cf_cli_mark_reported();
    CHECK(cf_cli_error_reported());
}

int main(void)
{
    RUN(test_split_options_and_words);
    RUN(test_split_rejects);
    RUN(test_in_list);
    RUN(test_parse_int);
    RUN(test_names);
    RUN(test_reported);
    TEST_DONE();
}
