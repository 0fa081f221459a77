/*
 * One HTTPS request from coffer-blob to coffer-vault (its signing keys, its
 * token endpoint, its keys API), over libcurl with the vault's CA.  Only
 * https URLs are followed, nothing is redirected, every reply is capped,
 * and header copies (which may carry a bearer token) are wiped before
 * libcurl frees them.
 */
#include <curl/curl.h>
#include <string.h>

#include "https_fetch.h"
#include "blocking.h"
#include "secmem.h"

static size_t cf_fetch_collect(char *data, size_t size, size_t n, void *ctx)
{
    cf_buf *out = ctx;
    return cf_buf_append(out, data, size * n) ? size * n : 0;
}

static void cf_fetch_headers_free(struct curl_slist *list)
{
    for (struct curl_slist *h = list; h; h = h->next)
        cf_memzero(h->data, strlen(h->data));
    curl_slist_free_all(list);
}

bool cf_https_fetch(const cf_https_req *r, long *status, cf_buf *reply)
{
    *status = 0;
    CURL *curl = curl_easy_init();
    CF_ENSURE_ALLOC(curl);
    struct curl_slist *headers = NULL;
    bool ok = true;
    for (size_t i = 0; ok && r->headers && r->headers[i]; i++) {
        struct curl_slist *next = curl_slist_append(headers, r->headers[i]);
        ok = next != NULL;
        if (ok)
            headers = next;
    }
    cf_buf_clear(reply);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, r->url);
    if (r->ca_file && r->ca_file[0])
        curl_easy_setopt(curl, CURLOPT_CAINFO, r->ca_file);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, r->timeout_seconds ? r->timeout_seconds : 10L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, cf_fetch_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->body.ptr ? (const char *)r->body.ptr : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)r->body.len);
    }
    CURLcode rc = ok ? CF_WHILE_BLOCKED(curl_easy_perform(curl)) : CURLE_OUT_OF_MEMORY;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_cleanup(curl);
    cf_fetch_headers_free(headers);
    if (rc == CURLE_WRITE_ERROR)
        CF_BAIL(CF_ERR_TOO_LARGE, "the vault's reply is too large");
    CF_ENSUREF(rc == CURLE_OK, CF_ERR_IO, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return true;
}
