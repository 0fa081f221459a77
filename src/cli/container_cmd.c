/*
 * coffer container ...: containers of an Azure-compatible Blob service.
 *
 *   container create NAME [--public-access blob|container]
 *   container list [--prefix P] [--page-size N]
 *   container delete NAME
 *
 * The requests are Create Container (PUT ?restype=container), List
 * Containers (GET <account>/?comp=list, every page) and Delete Container
 * (DELETE ?restype=container); connection and errors as in
 * storage_client.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_client.h"

static bool cf_print_done(const cf_cli *cli, const char *verb, const char *name,
                          const cf_sc_resp *resp)
{
    if (!cli->json) {
        printf("%s container %s\n", verb, name);
        return true;
    }
    json_t *o = json_object();
    CF_ENSURE_ALLOC(o);
    bool ok = cf_sc_json_set(o, "name", json_string(name));
    if (strcmp(verb, "created") == 0) {
        char when[64];
        const char *etag = cf_sc_resp_header(resp, "etag");
        cf_sc_time_iso(cf_sc_resp_header(resp, "last-modified"), when, sizeof when);
        ok = ok && cf_sc_json_set(o, "etag", etag ? json_string(etag) : NULL) &&
             cf_sc_json_set(o, "last_modified", json_string(when));
    } else {
        ok = ok && cf_sc_json_set(o, "deleted", json_true());
    }
    if (ok)
        cf_out_json(o);
    json_decref(o);
    return ok;
}

static bool cf_container_call(cf_cli *cli, const char *method, const char *access, const char *verb)
{
    const char *name = cli->args->pos[0];
    CF_GUARD(cf_sc_check_container(name));
    cf_sc_client *client = NULL;
    CF_GUARD(cf_sc_client_open(cli, &client));
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    cf_sc_req req = {.method = method, .container = name, .query = "restype=container"};
    bool ok = !access || cf_sc_req_header(&req, "x-ms-blob-public-access", access);
    ok = ok && cf_sc_call(client, &req, &resp) && cf_print_done(cli, verb, name, &resp);
    cf_sc_resp_free(&resp);
    cf_sc_client_close(client);
    return ok;
}

bool cf_cmd_container_create(cf_cli *cli)
{
    const char *access = cf_cli_opt(cli, "public-access");
    if (access && strcmp(access, "blob") != 0 && strcmp(access, "container") != 0)
        return cf_cli_usage("--public-access: expected 'blob' or 'container'");
    return cf_container_call(cli, "PUT", access, "created");
}

bool cf_cmd_container_delete(cf_cli *cli)
{
    return cf_container_call(cli, "DELETE", NULL, "deleted");
}

/* ---- list ---- */

typedef struct {
    const cf_cli *cli;
    json_t *items;
    char name[80], modified[64], etag[80];
    unsigned long count;
} cf_container_listing;

/* With the first row (or alone for none), so a failure prints only its error. */
static void cf_container_list_header(void)
{
    printf("%-20s  %s\n", "LAST MODIFIED", "NAME");
}

static bool cf_emit_container(cf_container_listing *l)
{
    char when[64];
    cf_sc_time_iso(l->modified, when, sizeof when);
    if (!l->cli->json) {
        if (++l->count == 1)
            cf_container_list_header();
        printf("%-20s  ", when);
        cf_out_str(stdout, l->name);
        fputc('\n', stdout);
        return true;
    }
    json_t *o = json_object();
    CF_ENSURE_ALLOC(o);
    bool ok = cf_sc_json_set(o, "name", json_string(l->name)) &&
              cf_sc_json_set(o, "last_modified", json_string(when)) &&
              cf_sc_json_set(o, "etag", json_string(l->etag));
    if (!ok || json_array_append_new(l->items, o) != 0) {
        json_decref(o);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    return true;
}

static bool cf_container_leaf(void *ctx, const char *path, const char *text)
{
    cf_container_listing *l = ctx;
    static const char item[] = "EnumerationResults/Containers/Container";
    if (strcmp(path, item) == 0) {
        CF_GUARD(cf_emit_container(l));
        l->name[0] = l->modified[0] = l->etag[0] = 0;
    } else if (strcmp(path, "EnumerationResults/Containers/Container/Name") == 0) {
        snprintf(l->name, sizeof l->name, "%s", text);
    } else if (strcmp(path, "EnumerationResults/Containers/Container/Properties/Last-Modified") ==
               0) {
        snprintf(l->modified, sizeof l->modified, "%s", text);
    } else if (strcmp(path, "EnumerationResults/Containers/Container/Properties/Etag") == 0) {
        snprintf(l->etag, sizeof l->etag, "%s", text);
    }
    return true;
}

bool cf_cmd_container_list(cf_cli *cli)
{
    cf_container_listing l = {.cli = cli};
    unsigned page_size;
    CF_GUARD(cf_sc_page_size_opt(cli, &page_size));
    if (cli->json) {
        l.items = json_array();
        CF_ENSURE_ALLOC(l.items);
    }
    cf_sc_client *client = NULL;
    bool ok = cf_sc_client_open(cli, &client);
    ok = ok && cf_sc_list_pages(client, NULL, "comp=list", cf_cli_opt(cli, "prefix"), page_size,
                                cf_container_leaf, &l);
    if (ok && cli->json)
        cf_out_json(l.items);
    else if (ok && l.count == 0)
        cf_container_list_header();
    json_decref(l.items);
    cf_sc_client_close(client);
    return ok;
}
