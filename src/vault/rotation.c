/*
 * Key rotation: the rotate operation, rotation policies, and the sweeper
 * thread that executes due "Rotate" actions and purges deleted objects
 * whose retention has ended.
 *
 * A Rotate action is due when the latest version is older than its
 * timeAfterCreate, or closer to its expiry than timeBeforeExpiry.  A new
 * version gets exp = now + the policy's expiryTime when one is set.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "key_cache.h"
#include "hsm_keys.h"
#include "keys.h"
#include "log.h"
#include "units.h"

#define CF_POLICY_MAX_ACTIONS 8
#define CF_DURATION_MAX ((int64_t)100 * 365 * CF_SECONDS_PER_DAY)
/* Key Vault's minimums: rotate at most weekly, new versions live >= 28 days. */
#define CF_TRIGGER_MIN ((int64_t)7 * CF_SECONDS_PER_DAY)
#define CF_EXPIRY_MIN ((int64_t)28 * CF_SECONDS_PER_DAY)

bool cf_vault_iso_duration(const char *text, int64_t *seconds)
{
    CF_ENSURE(text && text[0] == 'P' && text[1], CF_ERR_BAD_INPUT,
              "durations must be ISO 8601, such as P90D");
    int64_t total = 0;
    bool in_time = false, any = false;
    for (const char *p = text + 1; *p;) {
        if (*p == 'T') {
            CF_ENSURE(!in_time && p[1], CF_ERR_BAD_INPUT, "malformed ISO 8601 duration");
            in_time = true;
            p++;
            continue;
        }
        int64_t n = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9' && n < 100000000)
            n = n * 10 + (*p++ - '0');
        CF_ENSURE(p != start && *p, CF_ERR_BAD_INPUT, "malformed ISO 8601 duration");
        int64_t unit;
        switch (*p++) {
        case 'Y': unit = in_time ? -1 : 365 * CF_SECONDS_PER_DAY; break;
        case 'M': unit = in_time ? CF_SECONDS_PER_MINUTE : 30 * CF_SECONDS_PER_DAY; break;
        case 'W': unit = in_time ? -1 : 7 * CF_SECONDS_PER_DAY; break;
        case 'D': unit = in_time ? -1 : CF_SECONDS_PER_DAY; break;
        case 'H': unit = in_time ? CF_SECONDS_PER_HOUR : -1; break;
        case 'S': unit = in_time ? 1 : -1; break;
        default: unit = -1; break;
        }
        CF_ENSURE(unit > 0, CF_ERR_BAD_INPUT, "malformed ISO 8601 duration");
        total += n * unit; /* n < 1e8 and unit < 4e7: no overflow before the cap */
        CF_ENSURE(total <= CF_DURATION_MAX, CF_ERR_BAD_INPUT, "durations are limited to 100 years");
        any = true;
    }
    CF_ENSURE(any, CF_ERR_BAD_INPUT, "malformed ISO 8601 duration");
    *seconds = total;
    return true;
}

bool cf_key_rotate(cf_vault *vault, const char *name, cf_object *out)
{
    cf_object latest;
    cf_object_init(&latest);
    json_t *policy = NULL;
    cf_key_spec spec;
    bool ok = cf_store_object_get(vault->store, CF_KIND_KEY, name, NULL, false, &latest) &&
              cf_key_spec_of(&latest, &spec) &&
              cf_store_policy_get(vault->store, CF_KIND_KEY, name, &policy);
    if (ok) {
        cf_object_free(out);
        cf_object_init(out);
        snprintf(out->kind, sizeof out->kind, "%s", CF_KIND_KEY);
        snprintf(out->name, sizeof out->name, "%s", latest.name);
        out->created = out->updated = cf_vault_now();
        out->enabled = true;
        out->tags = json_incref(latest.tags);
        const char *expiry =
            json_string_value(json_object_get(json_object_get(policy, "attributes"), "expiryTime"));
        int64_t lifetime = 0;
        if (expiry)
            ok = cf_vault_iso_duration(expiry, &lifetime);
        if (lifetime)
            out->exp = out->created + lifetime;
        ok = ok && cf_vault_new_version_id(out->version) && cf_key_generate(vault, &spec, out) &&
             cf_store_object_insert(vault->store, out);
        if (ok)
            cf_hsm_settled(out);
    }
    json_decref(policy);
    cf_object_free(&latest);
    return ok;
}

/* ---- policy documents ---- */

static json_t *cf_policy_render(cf_vault *vault, const char *name, json_t *stored)
{
    char id[1024];
    snprintf(id, sizeof id, "%s/keys/%s/rotationpolicy", vault->url, name);
    if (stored) {
        json_t *copy = json_deep_copy(stored);
        if (copy)
            json_object_set_new(copy, "id", json_string(id));
        return copy;
    }
    /* Key Vault's default: notify 30 days before expiry. */
    return json_pack("{s:s, s:[{s:{s:s}, s:{s:s}}], s:{}}", "id", id, "lifetimeActions", "trigger",
                     "timeBeforeExpiry", "P30D", "action", "type", "Notify", "attributes");
}

bool cf_rotation_policy_get_handler(cf_vault_call *call)
{
    const char *name = call->params.name;
    json_t *stored = NULL;
    CF_GUARD(cf_store_policy_get(call->vault->store, CF_KIND_KEY, name, &stored));
    json_t *reply = cf_policy_render(call->vault, name, stored);
    json_decref(stored);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

static bool cf_policy_parse_action(json_t *la, json_t *actions)
{
    CF_ENSURE(json_is_object(la), CF_ERR_BAD_INPUT, "lifetimeActions entries must be objects");
    json_t *trigger = json_object_get(la, "trigger");
    const char *type = json_string_value(json_object_get(json_object_get(la, "action"), "type"));
    CF_ENSURE(json_is_object(trigger) && type, CF_ERR_BAD_INPUT,
              "each lifetime action needs a trigger and an action type");
    const char *canonical = strcasecmp(type, "rotate") == 0   ? "Rotate"
                            : strcasecmp(type, "notify") == 0 ? "Notify"
                                                              : NULL;
    CF_ENSURE(canonical, CF_ERR_BAD_INPUT, "action type must be Rotate or Notify");
    const char *after, *before;
    CF_GUARD(cf_vault_json_string(trigger, "timeAfterCreate", false, &after));
    CF_GUARD(cf_vault_json_string(trigger, "timeBeforeExpiry", false, &before));
    CF_ENSURE((after != NULL) != (before != NULL), CF_ERR_BAD_INPUT,
              "a trigger needs exactly one of timeAfterCreate and timeBeforeExpiry");
    int64_t secs;
    CF_GUARD(cf_vault_iso_duration(after ? after : before, &secs));
    CF_ENSURE(secs >= CF_TRIGGER_MIN, CF_ERR_BAD_INPUT, "a trigger must be at least 7 days (P7D)");
    json_t *entry =
        json_pack("{s:{s:s}, s:{s:s}}", "trigger", after ? "timeAfterCreate" : "timeBeforeExpiry",
                  after ? after : before, "action", "type", canonical);
    CF_ENSURE(entry && json_array_append_new(actions, entry) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_rotation_policy_parse(json_t *body, json_t *previous, int64_t now, json_t **out)
{
    CF_ENSURE(json_is_object(body), CF_ERR_BAD_INPUT, "a JSON request body is required");
    json_t *in_actions = json_object_get(body, "lifetimeActions");
    CF_ENSURE(
        !in_actions || json_is_null(in_actions) ||
            (json_is_array(in_actions) && json_array_size(in_actions) <= CF_POLICY_MAX_ACTIONS),
        CF_ERR_BAD_INPUT, "lifetimeActions must be an array of at most 8 actions");
    json_t *in_attrs = json_object_get(body, "attributes");
    const char *expiry = NULL;
    if (in_attrs && !json_is_null(in_attrs))
        CF_GUARD(cf_vault_json_string(in_attrs, "expiryTime", false, &expiry));
    int64_t secs;
    if (expiry) {
        CF_GUARD(cf_vault_iso_duration(expiry, &secs));
        CF_ENSURE(secs >= CF_EXPIRY_MIN, CF_ERR_BAD_INPUT,
                  "expiryTime must be at least 28 days (P28D)");
    }
    json_t *created = json_object_get(json_object_get(previous, "attributes"), "created");
    json_t *policy =
        json_pack("{s:[], s:{s:I, s:I}}", "lifetimeActions", "attributes", "created",
                  (json_int_t)(json_is_integer(created) ? json_integer_value(created) : now),
                  "updated", (json_int_t)now);
    CF_ENSURE_ALLOC(policy);
    bool ok = true;
    size_t i;
    json_t *la;
    json_array_foreach(in_actions, i, la)
    {
        if (ok)
            ok = cf_policy_parse_action(la, json_object_get(policy, "lifetimeActions"));
    }
    if (ok && expiry)
        ok = json_object_set_new(json_object_get(policy, "attributes"), "expiryTime",
                                 json_string(expiry)) == 0;
    if (!ok) {
        json_decref(policy);
        return false;
    }
    *out = policy;
    return true;
}

bool cf_rotation_policy_put_handler(cf_vault_call *call)
{
    const char *name = call->params.name;
    json_t *previous = NULL, *policy = NULL;
    CF_GUARD(cf_store_policy_get(call->vault->store, CF_KIND_KEY, name, &previous));
    bool ok = cf_rotation_policy_parse(call->body, previous, cf_vault_now(), &policy) &&
              cf_store_policy_put(call->vault->store, CF_KIND_KEY, name, policy);
    json_t *reply = ok ? cf_policy_render(call->vault, name, policy) : NULL;
    json_decref(previous);
    json_decref(policy);
    CF_GUARD(ok);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

/* ---- the sweeper ---- */

static bool cf_rotation_due(const cf_object *latest, json_t *policy, int64_t now)
{
    size_t i;
    json_t *la;
    json_array_foreach(json_object_get(policy, "lifetimeActions"), i, la)
    {
        const char *type =
            json_string_value(json_object_get(json_object_get(la, "action"), "type"));
        if (!type || strcmp(type, "Rotate") != 0)
            continue;
        json_t *trigger = json_object_get(la, "trigger");
        const char *after = json_string_value(json_object_get(trigger, "timeAfterCreate"));
        const char *before = json_string_value(json_object_get(trigger, "timeBeforeExpiry"));
        int64_t secs;
        if (after && cf_vault_iso_duration(after, &secs) && now >= latest->created + secs)
            return true;
        if (before && latest->exp && cf_vault_iso_duration(before, &secs) &&
            now >= latest->exp - secs)
            return true;
    }
    return false;
}

static bool cf_sweep_key(void *ctx, const char *name, json_t *policy)
{
    cf_vault *vault = ctx;
    cf_object latest, rotated;
    cf_object_init(&latest);
    cf_object_init(&rotated);
    if (cf_store_object_get(vault->store, CF_KIND_KEY, name, NULL, false, &latest) &&
        cf_rotation_due(&latest, policy, cf_vault_now())) {
        if (cf_key_rotate(vault, name, &rotated))
            cf_log(CF_LOG_INFO, NULL, "rotated key %s by policy: new version %s", name,
                   rotated.version);
        else
            cf_log(CF_LOG_ERROR, NULL, "rotation of key %s failed: %s", name, cf_error_detail());
    }
    cf_object_free(&latest);
    cf_object_free(&rotated);
    return true; /* one key's failure does not stop the sweep */
}

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool running;
    bool stop;
} cf_sweeper = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void cf_sweep_once(cf_vault *vault)
{
    /* Every front end anchors its own audit log; only the leader sweeps. */
    if (!cf_vault_anchor_audit(vault))
        cf_log(CF_LOG_ERROR, NULL, "audit anchor: %s", cf_error_detail());
    /* Several front ends on one store: one of them sweeps (a second would
     * rotate a due key twice). */
    bool leader = false;
    if (!cf_store_lead_sweepers(vault->store, &leader)) {
        cf_log(CF_LOG_ERROR, NULL, "sweeper leadership: %s", cf_error_detail());
        return;
    }
    if (leader != vault->sweeping)
        cf_log(CF_LOG_INFO, NULL, "this front end %s the rotation and purge sweeps",
               leader ? "now runs" : "no longer runs");
    vault->sweeping = leader;
    if (!leader)
        return;
    unsigned purged = 0;
    if (!cf_store_purge_expired(vault->store, cf_vault_now(), &purged, cf_key_cache_forget))
        cf_log(CF_LOG_ERROR, NULL, "purge sweep failed: %s", cf_error_detail());
    else if (purged)
        cf_log(CF_LOG_INFO, NULL, "purged %u deleted objects past retention", purged);
    /* Every sweep, not only after purges: a version whose store insert
     * failed after its key was made leaves token objects, collectable once
     * they are ten minutes old. */
    cf_hsm_collect_logged(vault);
    if (!cf_store_policy_each(vault->store, CF_KIND_KEY, cf_sweep_key, vault))
        cf_log(CF_LOG_ERROR, NULL, "rotation sweep failed: %s", cf_error_detail());
}

static void *cf_sweeper_main(void *arg)
{
    cf_vault *vault = arg;
    pthread_mutex_lock(&cf_sweeper.lock);
    while (!cf_sweeper.stop) {
        pthread_mutex_unlock(&cf_sweeper.lock);
        cf_sweep_once(vault);
        pthread_mutex_lock(&cf_sweeper.lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += vault->rotation_interval;
        while (!cf_sweeper.stop &&
               pthread_cond_timedwait(&cf_sweeper.wake, &cf_sweeper.lock, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&cf_sweeper.lock);
    return NULL;
}

bool cf_rotation_start(cf_vault *vault)
{
    CF_ENSURE(pthread_create(&cf_sweeper.thread, NULL, cf_sweeper_main, vault) == 0,
              CF_ERR_INTERNAL, "cannot start the rotation thread");
    cf_sweeper.running = true;
    return true;
}

void cf_rotation_stop(void)
{
    if (!cf_sweeper.running)
        return;
    pthread_mutex_lock(&cf_sweeper.lock);
    cf_sweeper.stop = true;
    pthread_cond_signal(&cf_sweeper.wake);
    pthread_mutex_unlock(&cf_sweeper.lock);
    pthread_join(cf_sweeper.thread, NULL);
    cf_sweeper.running = false;
}
