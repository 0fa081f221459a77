/*
 * blob_load: a light native load generator for coffer-blob (bench/keys_run):
 * Put Blob or Get Blob of SIZE-byte bodies at a fixed concurrency over
 * HTTPS keep-alive, authorized by a SAS (so no per-request signing cost on
 * the client), reporting operations and bytes per second.
 *
 *   blob_load CONTAINER_URL SAS CA_FILE put|get SIZE SECONDS CONNECTIONS
 *
 * get reads one blob written before the clock starts; put writes a fresh
 * name each time.  Every response is checked (201 for put, 200 and SIZE
 * bytes for get); failures are counted and make the exit status 1.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_number.h"
#include "load_clock.h"

static const char *container_url, *sas, *ca_file;
static size_t body_size;
static char *body;
static int do_put;

typedef struct {
    const char *p;
    size_t left;
} source_t;

static size_t feed(char *buf, size_t size, size_t n, void *ctx)
{
    source_t *s = ctx;
    size_t k = size * n < s->left ? size * n : s->left;
    memcpy(buf, s->p, k);
    s->p += k;
    s->left -= k;
    return k;
}

static size_t count_bytes(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    *(size_t *)ctx += size * n;
    return size * n;
}

/* One Put Blob (name) or Get Blob; true when the answer is right. */
static int one_request(CURL *c, const char *name, int put)
{
    char url[2048];
    snprintf(url, sizeof url, "%s/%s?%s", container_url, name, sas);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "x-ms-version: 2026-10-06");
    if (put) {
        h = curl_slist_append(h, "x-ms-blob-type: BlockBlob");
        h = curl_slist_append(h, "Expect:");
    }
    source_t src = {body, body_size};
    size_t got = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, count_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (put) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_size);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return rc == CURLE_OK && (put ? status == 201 : status == 200 && got == body_size);
}

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    CURL *c = curl_easy_init();
    char name[96];
    for (long n = 0; !load_stopped(); n++) {
        snprintf(name, sizeof name, "load-%ld-%ld", id, n);
        load_count(one_request(c, do_put ? name : "load-source", do_put));
    }
    curl_easy_cleanup(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: blob_load CONTAINER_URL SAS CA_FILE put|get SIZE SECONDS CONNS\n");
        return 2;
    }
    container_url = argv[1];
    sas = argv[2];
    ca_file = argv[3];
    do_put = strcmp(argv[4], "put") == 0;
    body_size = (size_t)cli_number(argv[5], 256ul << 20, "SIZE");
    int seconds = (int)cli_number(argv[6], 86400, "SECONDS");
    int conns = (int)cli_number(argv[7], 256, "CONNS");
    if ((!do_put && strcmp(argv[4], "get") != 0) || seconds < 1 || conns < 1 || conns > 256 ||
        body_size > (256u << 20))
        return 2;
    body = malloc(body_size ? body_size : 1);
    for (size_t i = 0; i < body_size; i++)
        body[i] = (char)(i * 131 + 7);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    if (!one_request(c, "load-source", 1)) {
        fprintf(stderr, "blob_load: the first Put Blob failed\n");
        return 1;
    }
    curl_easy_cleanup(c);
    double rate;
    long failed;
    load_run(conns, seconds, worker, &rate, &failed);
    printf("%s %.1f %.1f %ld\n", argv[4], rate, rate * (double)body_size / 1e6, failed);
    free(body);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
