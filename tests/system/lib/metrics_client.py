"""The client side of tests/system/metrics.sh: scrapes both services'
/metrics with the vault's tokens, parses every scrape with the Prometheus
project's own text-format parser (Debian's python3-prometheus-client), and
prints one "ok NAME" or "FAIL NAME" line per check for the shell to count.

argv: vault bootstrap.json, blob bootstrap.json, blob port.
"""
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

from checks import check, failed
from prometheus_client.parser import text_string_to_metric_families

vault = json.load(open(sys.argv[1]))
blob = json.load(open(sys.argv[2]))
blob_url = f"https://127.0.0.1:{sys.argv[3]}"
vault_url = vault["vault_url"].rstrip("/")
vault_ctx = ssl.create_default_context(cafile=vault["ca_cert"])
blob_ctx = ssl.create_default_context(cafile=sys.argv[2].rsplit("/", 1)[0] + "/tls/ca.crt")
API = "api-version=7.5"
VAULT_SCOPE = "https://vault.azure.net/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
METRICS_READER = "0c48ddf2-7505-4dd5-a2ca-b6cb524c3bf1"
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"


def call(base, ctx, method, path, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        r = urllib.request.urlopen(req, context=ctx)
    except urllib.error.HTTPError as e:
        r = e
    return r.status, r.headers, r.read().decode("utf-8", "replace")


def token(client_id, secret, scope):
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret, "scope": scope}).encode()
    url = f'{vault["authority_host"]}/{vault["tenant_id"]}/oauth2/v2.0/token'
    return json.load(urllib.request.urlopen(url, form, context=vault_ctx))["access_token"]


def scrape(base, ctx, tok):
    """Returns (status, {sample name: {labels tuple: value}}, content type)."""
    status, headers, text = call(base, ctx, "GET", "/metrics", tok)
    samples = {}
    if status == 200:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return status, samples, headers.get("Content-Type", "")


def value(samples, name, **labels):
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0)


def total(samples, name, **labels):
    """Sum over the series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for k, v in samples.get(name, {}).items() if want <= set(k))


admin_vault = token(vault["client_id"], vault["client_secret"], VAULT_SCOPE)
admin_storage = token(vault["client_id"], vault["client_secret"], STORAGE_SCOPE)

# ---- who may scrape ----
status, _, _ = call(vault_url, vault_ctx, "GET", "/metrics")
check("vault /metrics without a token: 401", status == 401, status)
status, headers, _ = call(blob_url, blob_ctx, "GET", "/metrics")
check("blob /metrics without a token: 401 NoAuthenticationInformation",
      status == 401 and headers.get("x-ms-error-code") == "NoAuthenticationInformation", status)
status, _, _ = call(blob_url, blob_ctx, "GET", "/metrics",
                    headers={"Authorization": f"SharedKey {blob['account_name']}:AAAA"})
check("blob /metrics with Shared Key: 401 (a vault token only)", status == 401, status)
status, v1, ctype = scrape(vault_url, vault_ctx, admin_vault)
check("vault /metrics as administrator: 200", status == 200, status)
check("Prometheus text format 0.0.4", ctype.startswith("text/plain; version=0.0.4"), ctype)
status, b1, ctype = scrape(blob_url, blob_ctx, admin_storage)
check("blob /metrics as administrator: 200", status == 200, status)
check("blob: Prometheus text format 0.0.4", ctype.startswith("text/plain; version=0.0.4"), ctype)
status, _, _ = call(vault_url, vault_ctx, "GET", "/metrics?x=1", admin_vault)
check("/metrics with a query is not the endpoint (400: no api-version)", status == 400, status)


def principal(name, role):
    status, _, text = call(vault_url, vault_ctx, "POST", f"/coffer/principals?{API}", admin_vault,
                           {"name": name})
    p = json.loads(text) if status == 201 else {}
    if role:
        body = {"properties": {"roleDefinitionId": role, "principalId": p.get("object_id", "")}}
        status, _, _ = call(vault_url, vault_ctx, "PUT",
                            f"/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
                            f"?{API}", admin_vault, body)
    return p, status


reader, _ = principal("kv-reader", KEY_VAULT_READER)
nobody, _ = principal("nobody", None)
for who, p in (("no role", nobody), ("Key Vault Reader", reader)):
    vt = token(p["client_id"], p["client_secret"], VAULT_SCOPE)
    st = token(p["client_id"], p["client_secret"], STORAGE_SCOPE)
    status, _, _ = call(vault_url, vault_ctx, "GET", "/metrics", vt)
    check(f"vault /metrics with {who}: 403", status == 403, status)
    status, headers, _ = call(blob_url, blob_ctx, "GET", "/metrics", st)
    check(f"blob /metrics with {who}: 403 AuthorizationPermissionMismatch",
          status == 403 and headers.get("x-ms-error-code") == "AuthorizationPermissionMismatch",
          status)
scraper, assigned = principal("scraper", METRICS_READER)
check("Coffer Metrics Reader assigned (201)", assigned == 201, assigned)
vt = token(scraper["client_id"], scraper["client_secret"], VAULT_SCOPE)
st = token(scraper["client_id"], scraper["client_secret"], STORAGE_SCOPE)
check("vault /metrics with Coffer Metrics Reader: 200",
      scrape(vault_url, vault_ctx, vt)[0] == 200)
check("blob /metrics with Coffer Metrics Reader: 200", scrape(blob_url, blob_ctx, st)[0] == 200)
status, _, _ = call(vault_url, vault_ctx, "GET", f"/keys?{API}", vt)
check("the role reads metrics and nothing else (list keys: 403)", status == 403, status)

# ---- what the vault shows, and that it moves ----
for name in ("coffer_http_requests_total", "coffer_http_request_duration_seconds_bucket",
             "coffer_http_received_bytes_total", "coffer_http_sent_bytes_total",
             "coffer_http_open_connections", "coffer_http_connections_total",
             "coffer_cache_lookups_total", "coffer_audit_lines", "coffer_audit_lines_not_durable",
             "coffer_audit_log_bytes", "coffer_data_dir_bytes", "process_cpu_seconds_total",
             "process_resident_memory_bytes", "process_open_fds"):
    check(f"vault shows {name}", name in v1, sorted(v1)[:5])
for name in ("coffer_http_requests_total", "coffer_http_request_duration_seconds_count",
             "coffer_audit_lines", "coffer_data_dir_bytes", "process_cpu_seconds_total"):
    check(f"blob shows {name}", name in b1)
check("vault data directory is not empty", value(v1, "coffer_data_dir_bytes") > 0)

status, _, text = call(vault_url, vault_ctx, "POST", f"/keys/mkey/create?{API}", admin_vault,
                       {"kty": "RSA", "key_size": 2048})
check("key created", status == 200, text[:200])
kid = json.loads(text)["key"]["kid"] if status == 200 else "/x"
sign_path = "/keys/mkey/" + kid.rsplit("/", 1)[1] + "/sign?" + API
SIGN = "POST /keys/{name}/{version}/sign"
digest = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
_, before, _ = scrape(vault_url, vault_ctx, admin_vault)
for _ in range(5):
    call(vault_url, vault_ctx, "POST", sign_path, admin_vault, {"alg": "RS256", "value": digest})
call(vault_url, vault_ctx, "POST", sign_path, admin_vault,
     {"alg": "RS999", "value": digest})
_, after, _ = scrape(vault_url, vault_ctx, admin_vault)
ops = dict(operation="sign", algorithm="RS256", key_store="software")
check("key operations by algorithm: +5 RS256 signs",
      value(after, "coffer_key_operations_total", **ops)
      - value(before, "coffer_key_operations_total", **ops) == 5)
check("a refused algorithm is no key operation",
      total(after, "coffer_key_operations_total", algorithm="RS999") == 0)
ok_sign = dict(operation=SIGN, status="200")
bad_sign = dict(operation=SIGN, status="400")
check("requests by operation and status: +5 signs (200)",
      value(after, "coffer_http_requests_total", **ok_sign)
      - value(before, "coffer_http_requests_total", **ok_sign) == 5)
check("requests by operation and status: +1 sign (400)",
      value(after, "coffer_http_requests_total", **bad_sign)
      - value(before, "coffer_http_requests_total", **bad_sign) == 1)
check("the latency histogram counts every request",
      value(after, "coffer_http_request_duration_seconds_count", **ok_sign)
      == value(after, "coffer_http_requests_total", **ok_sign)
      == value(after, "coffer_http_request_duration_seconds_bucket", le="+Inf", **ok_sign))
buckets = sorted((float(dict(k)["le"]), v) for k, v in
                 after["coffer_http_request_duration_seconds_bucket"].items()
                 if dict(k)["operation"] == SIGN and dict(k)["status"] == "200")
check("histogram buckets are cumulative",
      all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])) and len(buckets) == 15)
check("request bytes counted",
      value(after, "coffer_http_received_bytes_total", **ok_sign)
      > value(before, "coffer_http_received_bytes_total", **ok_sign))
check("token cache hits counted",
      value(after, "coffer_cache_lookups_total", cache="tokens", result="hit")
      >= value(before, "coffer_cache_lookups_total", cache="tokens", result="hit") + 6)
check("key cache lookups counted", total(after, "coffer_cache_lookups_total", cache="keys") > 0)
check("audit lines grow with requests",
      value(after, "coffer_audit_lines") >= value(before, "coffer_audit_lines") + 7)
check("the scrape's own request is counted",
      value(after, "coffer_http_requests_total", operation="GET /metrics", status="200")
      > value(before, "coffer_http_requests_total", operation="GET /metrics", status="200"))
check("an open connection is seen", value(after, "coffer_http_open_connections") >= 1)

# ---- the blob service's ----
account = blob["account_name"]
_, before, _ = scrape(blob_url, blob_ctx, admin_storage)
for _ in range(4):  # the administrator holds no Storage Blob Data role: 403
    call(blob_url, blob_ctx, "GET", f"/{account}?comp=list", admin_storage,
         headers={"x-ms-version": "2026-10-06"})
_, after, _ = scrape(blob_url, blob_ctx, admin_storage)
lc = dict(operation="ListContainers", status="403")
check("blob requests by operation and status: +4 ListContainers (403)",
      value(after, "coffer_http_requests_total", **lc)
      - value(before, "coffer_http_requests_total", **lc) == 4)
check("blob scrapes are counted as GetMetrics",
      value(after, "coffer_http_requests_total", operation="GetMetrics", status="200") >= 2)
check("blob audit lines grow",
      value(after, "coffer_audit_lines") >= value(before, "coffer_audit_lines") + 4)
sys.exit(1 if failed() else 0)
