/*
 * Access conditions and leases for blobs and containers.
 *
 * A lease is four stored values (id, duration, expiry, break time); its
 * state is a function of them and the caller's `now`, so nothing has to
 * run when a lease expires or a break period ends:
 *   no id                         available
 *   break time set, now < it      breaking
 *   break time set, now >= it     broken
 *   infinite, or now < expiry     leased
 *   otherwise                     expired
 * The transitions follow Azure's table "Outcomes of lease operations by
 * lease state" (Lease Blob / Lease Container); the reasons are Azure's.
 * Conditions are evaluated by the callers inside their transaction, on the
 * row they are about to change.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <string.h>

#include "ids.h"

const char *cf_lease_state_name(cf_lease_state st)
{
    switch (st) {
    case CF_LEASE_LEASED: return "leased";
    case CF_LEASE_EXPIRED: return "expired";
    case CF_LEASE_BREAKING: return "breaking";
    case CF_LEASE_BROKEN: return "broken";
    case CF_LEASE_AVAILABLE:
    default: return "available";
    }
}

const char *cf_lease_status_name(cf_lease_state st)
{
    return st == CF_LEASE_LEASED || st == CF_LEASE_BREAKING ? "locked" : "unlocked";
}

const char *cf_lease_duration_name(const cf_lease_info *l)
{
    if (l->state != CF_LEASE_LEASED)
        return NULL;
    return l->infinite ? "infinite" : "fixed";
}

cf_lease_state cf_bs_lease_state(const bs_lease *l, int64_t now)
{
    if (!l->id[0])
        return CF_LEASE_AVAILABLE;
    if (l->break_at)
        return now < l->break_at ? CF_LEASE_BREAKING : CF_LEASE_BROKEN;
    if (l->duration < 0 || now < l->expiry)
        return CF_LEASE_LEASED;
    return CF_LEASE_EXPIRED;
}

void cf_bs_lease_info(const bs_lease *l, int64_t now, cf_lease_info *out)
{
    memset(out, 0, sizeof *out);
    out->state = cf_bs_lease_state(l, now);
    if (out->state == CF_LEASE_LEASED) {
        out->infinite = l->duration < 0;
        out->remaining = out->infinite ? 0 : l->expiry - now;
    } else if (out->state == CF_LEASE_BREAKING) {
        out->remaining = l->break_at - now;
    }
}

void cf_bs_column_lease(cf_db_stmt *st, int col, bs_lease *out)
{
    cf_bs_column_str(st, col, out->id, sizeof out->id);
    out->duration = cf_db_column_int64(st, col + 1);
    out->expiry = cf_db_column_int64(st, col + 2);
    out->break_at = cf_db_column_int64(st, col + 3);
}

/* ETags compare exactly (they are ours, quoted); "*" matches any. */
static bool bs_etag_matches(const char *cond, const char *etag)
{
    return strcmp(cond, "*") == 0 || strcmp(cond, etag) == 0;
}

static bool bs_check_lease(const cf_blob_cond *cond, const bs_target *t, bs_op op, bool container,
                           int64_t now)
{
    if (op == BS_OP_LEASE)
        return true;
    const char *given = cond ? cond->lease_id : NULL;
    cf_lease_state st = t->exists ? cf_bs_lease_state(&t->lease, now) : CF_LEASE_AVAILABLE;
    bool active = st == CF_LEASE_LEASED || st == CF_LEASE_BREAKING;
    if (given && given[0]) {
        CF_ENSURE_REASON(active, CF_ERR_CONFLICT,
                         container ? "LeaseNotPresentWithContainerOperation"
                                   : "LeaseNotPresentWithBlobOperation",
                         "there is currently no lease");
        CF_ENSURE_REASON(strcmp(given, t->lease.id) == 0, CF_ERR_CONFLICT,
                         container ? "LeaseIdMismatchWithContainerOperation"
                                   : "LeaseIdMismatchWithBlobOperation",
                         "the lease ID does not match the active lease");
        return true;
    }
    /* Reads and source reads need no lease id. */
    CF_ENSURE_REASON(!active || op == BS_OP_READ || op == BS_OP_SOURCE, CF_ERR_CONFLICT,
                     "LeaseIdMissing", "there is a lease and no lease ID was given");
    return true;
}

bool cf_bs_check_cond_dates(const cf_blob_cond *cond, const bs_target *t, bs_op op)
{
    if (!cond)
        return true;
    const char *failed = op == BS_OP_SOURCE ? "SourceConditionNotMet" : "ConditionNotMet";
    const char *unmodified = op == BS_OP_READ ? "NotModified" : failed;
    if (cond->if_match && cond->if_match[0])
        CF_ENSURE_REASON(t->exists && bs_etag_matches(cond->if_match, t->etag), CF_ERR_CONFLICT,
                         failed, "If-Match did not match");
    if (t->exists && cond->if_unmodified_since)
        CF_ENSURE_REASON(t->last_modified <= cond->if_unmodified_since, CF_ERR_CONFLICT, failed,
                         "modified since the If-Unmodified-Since time");
    if (t->exists && cond->if_none_match && cond->if_none_match[0] &&
        bs_etag_matches(cond->if_none_match, t->etag)) {
        if (op == BS_OP_CREATE && strcmp(cond->if_none_match, "*") == 0)
            CF_ENSURE_REASON(false, CF_ERR_CONFLICT, "BlobAlreadyExists",
                             "the blob exists and If-None-Match is *");
        CF_ENSURE_REASON(false, CF_ERR_CONFLICT, unmodified, "If-None-Match matched");
    }
    if (t->exists && cond->if_modified_since)
        CF_ENSURE_REASON(t->last_modified > cond->if_modified_since, CF_ERR_CONFLICT, unmodified,
                         "not modified since the If-Modified-Since time");
    return true;
}

bool cf_bs_check_cond(const cf_blob_cond *cond, const bs_target *t, bs_op op, bool container,
                      int64_t now)
{
    CF_GUARD(cf_bs_check_cond_dates(cond, t, op));
    return bs_check_lease(cond, t, op, container, now);
}

/* ---- the lease state machine ---- */

static bool bs_lease_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    CF_ENSURE_REASON(n >= 1 && n <= CF_BLOB_LEASE_ID_MAX, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "invalid lease ID");
    return true;
}

static void bs_lease_set(bs_lease *l, const char *id, int64_t duration, int64_t now)
{
    if (id != l->id) /* renew keeps the id: no overlapping copy */
        snprintf(l->id, sizeof l->id, "%s", id);
    l->duration = duration;
    l->expiry = duration < 0 ? 0 : now + duration;
    l->break_at = 0;
}

static bool bs_acquire(bs_lease *l, const cf_lease_req *req, cf_lease_state st, int64_t now,
                       cf_lease_result *out)
{
    CF_ENSURE_REASON(req->duration == -1 || (req->duration >= 15 && req->duration <= 60),
                     CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "lease duration must be -1 or 15..60 seconds");
    char fresh[CF_UUID_LEN + 1];
    const char *id = req->proposed_id;
    if (id)
        CF_GUARD(bs_lease_id_ok(id));
    CF_ENSURE_REASON(st != CF_LEASE_BREAKING, CF_ERR_CONFLICT, "LeaseIsBreakingAndCannotBeAcquired",
                     "the lease is breaking");
    if (st == CF_LEASE_LEASED)
        CF_ENSURE_REASON(id && strcmp(id, l->id) == 0, CF_ERR_CONFLICT, "LeaseAlreadyPresent",
                         "there is already a lease");
    if (!id) {
        CF_GUARD(cf_uuid_v4(fresh));
        id = fresh;
    }
    bs_lease_set(l, id, req->duration, now);
    snprintf(out->lease_id, sizeof out->lease_id, "%s", l->id);
    return true;
}

static bool bs_renew(bs_lease *l, const cf_lease_req *req, cf_lease_state st, int64_t now,
                     cf_lease_result *out)
{
    CF_GUARD(bs_lease_id_ok(req->lease_id));
    CF_ENSURE_REASON(st != CF_LEASE_AVAILABLE, CF_ERR_CONFLICT, "LeaseNotPresentWithLeaseOperation",
                     "there is currently no lease");
    CF_ENSURE_REASON(strcmp(req->lease_id, l->id) == 0, CF_ERR_CONFLICT,
                     "LeaseIdMismatchWithLeaseOperation", "the lease ID does not match");
    CF_ENSURE_REASON(st != CF_LEASE_BREAKING, CF_ERR_CONFLICT, "LeaseIsBreakingAndCannotBeChanged",
                     "the lease is breaking");
    CF_ENSURE_REASON(st != CF_LEASE_BROKEN, CF_ERR_CONFLICT, "LeaseIsBrokenAndCannotBeRenewed",
                     "the lease is broken");
    bs_lease_set(l, l->id, l->duration, now);
    snprintf(out->lease_id, sizeof out->lease_id, "%s", l->id);
    return true;
}

static bool bs_change(bs_lease *l, const cf_lease_req *req, cf_lease_state st, cf_lease_result *out)
{
    CF_GUARD(bs_lease_id_ok(req->lease_id));
    CF_GUARD(bs_lease_id_ok(req->proposed_id));
    CF_ENSURE_REASON(st != CF_LEASE_BREAKING, CF_ERR_CONFLICT, "LeaseIsBreakingAndCannotBeChanged",
                     "the lease is breaking");
    CF_ENSURE_REASON(st == CF_LEASE_LEASED, CF_ERR_CONFLICT, "LeaseNotPresentWithLeaseOperation",
                     "there is currently no lease");
    /* Changing to the id it already has is idempotent, as in Azure. */
    CF_ENSURE_REASON(strcmp(req->lease_id, l->id) == 0 || strcmp(req->proposed_id, l->id) == 0,
                     CF_ERR_CONFLICT, "LeaseIdMismatchWithLeaseOperation",
                     "the lease ID does not match");
    snprintf(l->id, sizeof l->id, "%s", req->proposed_id);
    snprintf(out->lease_id, sizeof out->lease_id, "%s", l->id);
    return true;
}

static bool bs_release(bs_lease *l, const cf_lease_req *req, cf_lease_state st)
{
    CF_GUARD(bs_lease_id_ok(req->lease_id));
    CF_ENSURE_REASON(st != CF_LEASE_AVAILABLE, CF_ERR_CONFLICT, "LeaseNotPresentWithLeaseOperation",
                     "there is currently no lease");
    CF_ENSURE_REASON(strcmp(req->lease_id, l->id) == 0, CF_ERR_CONFLICT,
                     "LeaseIdMismatchWithLeaseOperation", "the lease ID does not match");
    memset(l, 0, sizeof *l);
    return true;
}

static bool bs_break(bs_lease *l, const cf_lease_req *req, cf_lease_state st, int64_t now,
                     cf_lease_result *out)
{
    CF_ENSURE_REASON(req->break_period >= -1 && req->break_period <= 60, CF_ERR_BAD_INPUT,
                     "InvalidHeaderValue", "break period must be 0..60 seconds");
    CF_ENSURE_REASON(st != CF_LEASE_AVAILABLE, CF_ERR_CONFLICT, "LeaseNotPresentWithLeaseOperation",
                     "there is currently no lease");
    int64_t at = now;
    if (st == CF_LEASE_LEASED) {
        int64_t rest = l->duration < 0 ? 0 : l->expiry - now;
        int64_t period = req->break_period < 0 ? rest : req->break_period;
        /* A break never outlasts the lease itself. */
        if (l->duration >= 0 && period > rest)
            period = rest;
        at = now + period;
    } else if (st == CF_LEASE_BREAKING) {
        at = l->break_at;
        if (req->break_period >= 0 && now + req->break_period < at)
            at = now + req->break_period;
    } else if (st == CF_LEASE_BROKEN) {
        at = l->break_at;
    }
    /* break_at == 0 means "not broken": a break at the epoch is stored as 1. */
    l->break_at = at > 0 ? at : 1;
    out->lease_time = at > now ? at - now : 0;
    return true;
}

bool cf_bs_lease_apply(bs_lease *l, const cf_lease_req *req, int64_t now, cf_lease_result *out)
{
    cf_lease_state st = cf_bs_lease_state(l, now);
    switch (req->action) {
    case CF_LEASE_ACQUIRE: return bs_acquire(l, req, st, now, out);
    case CF_LEASE_RENEW: return bs_renew(l, req, st, now, out);
    case CF_LEASE_CHANGE: return bs_change(l, req, st, out);
    case CF_LEASE_RELEASE: return bs_release(l, req, st);
    case CF_LEASE_BREAK: return bs_break(l, req, st, now, out);
    default:
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidHeaderValue", "unknown lease action");
        return false;
    }
}
