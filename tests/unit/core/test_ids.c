/*
 * Random identifiers: the UUID version 4 layout, no repeats across many
 * draws (several refills of the per-thread pool), and none shared between
 * a forked child and its parent.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ids.h"
#include "test.h"

static bool uuid_shape_ok(const char *u)
{
    if (strlen(u) != CF_UUID_LEN || u[14] != '4' || !strchr("89ab", u[19]))
        return false;
    for (size_t i = 0; i < CF_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]))
            return false;
    }
    return true;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_shape_and_no_repeats(void)
{
    enum { N = 2000 }; /* about 60 refills of the pool */
    static char ids[N][CF_UUID_LEN + 1];
    for (size_t i = 0; i < N; i++) {
        CHECK(cf_uuid_v4(ids[i]));
        CHECK(uuid_shape_ok(ids[i]));
    }
    qsort(ids, N, sizeof ids[0], by_text);
    for (size_t i = 1; i < N; i++)
        CHECK(strcmp(ids[i - 1], ids[i]) != 0);
}

static void test_child_draws_its_own(void)
{
    char first[CF_UUID_LEN + 1];
    CHECK(cf_uuid_v4(first)); /* the pool now holds the next ones */
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char child[CF_UUID_LEN + 1] = "";
        bool ok = cf_uuid_v4(child);
        ssize_t n = write(pipefd[1], child, sizeof child);
        _exit(ok && n == (ssize_t)sizeof child ? 0 : 1);
    }
    char child[CF_UUID_LEN + 1] = "", parent[CF_UUID_LEN + 1];
    CHECK(read(pipefd[0], child, sizeof child) == (ssize_t)sizeof child);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(cf_uuid_v4(parent));
    CHECK(uuid_shape_ok(child) && strcmp(child, parent) != 0);
    close(pipefd[0]);
    close(pipefd[1]);
}

int main(void)
{
    RUN(test_shape_and_no_repeats);
    RUN(test_child_draws_its_own);
    TEST_DONE();
}
