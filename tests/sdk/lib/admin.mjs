// Principals, role assignments and Azure's RBAC semantics for the SDK suites.
//
// ROLES holds the data-plane permissions of Azure's built-in Key Vault roles
// exactly as Azure publishes them (Microsoft's built-in roles reference,
// security section); roleAllows() evaluates them with Azure's wildcard
// rules (below), so that suites compute what a role may do from Azure's
// definitions, not from the server's answers.
import { randomUUID } from "node:crypto";
import * as h from "./harness.mjs";

export const KV = "Microsoft.KeyVault/vaults";

export const ROLES = {
  "Key Vault Administrator": {
    id: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    dataActions: ["Microsoft.KeyVault/vaults/*"],
    notDataActions: [],
  },
  "Key Vault Crypto Officer": {
    id: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    dataActions: ["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"],
    notDataActions: [],
  },
  "Key Vault Crypto User": {
    id: "12338af0-0e69-4776-bea7-57ae8d297424",
    dataActions: [
      "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action",
      "Microsoft.KeyVault/vaults/keys/backup/action", "Microsoft.KeyVault/vaults/keys/encrypt/action",
      "Microsoft.KeyVault/vaults/keys/decrypt/action", "Microsoft.KeyVault/vaults/keys/wrap/action",
      "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action",
      "Microsoft.KeyVault/vaults/keys/verify/action",
    ],
    notDataActions: [],
  },
  "Key Vault Crypto Service Encryption User": {
    id: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    dataActions: [
      "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
      "Microsoft.KeyVault/vaults/keys/unwrap/action",
    ],
    notDataActions: [],
  },
  "Key Vault Crypto Service Release User": {
    id: "08bbd89e-9f13-488c-ac41-acfcb10c90ab",
    dataActions: ["Microsoft.KeyVault/vaults/keys/release/action"],
    notDataActions: [],
  },
  "Key Vault Secrets Officer": {
    id: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    dataActions: ["Microsoft.KeyVault/vaults/secrets/*"],
    notDataActions: [],
  },
  "Key Vault Secrets User": {
    id: "4633458b-17de-408a-b874-0445c86b69e6",
    dataActions: [
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ],
    notDataActions: [],
  },
  "Key Vault Reader": {
    id: "21090545-7ca7-4776-b22c-e363652d74d2",
    dataActions: ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    notDataActions: [],
  },
};

// Coffer's own roles (kept apart: the matrix tests walk Azure's above).
export const COFFER_ROLES = {
  "Coffer Metrics Reader": { id: "0c48ddf2-7505-4dd5-a2ca-b6cb524c3bf1" },
  "Coffer Storage Administrator": { id: "ab39aa1e-e132-4e2b-8e90-00cd7d69213e" },
};

export const ROLE_DEFINITION_PREFIX = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/";

// Azure's action wildcard: `*` is any run of characters including `/`,
// whole-string match, case-insensitive.
export function actionMatches(pattern, action) {
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join(".*")}$`, "i");
  return re.test(action);
}

export function roleAllows(roleName, action) {
  const r = ROLES[roleName];
  if (!r) throw new Error(`unknown role ${roleName}`);
  return r.dataActions.some((p) => actionMatches(p, action)) && !r.notDataActions.some((p) => actionMatches(p, action));
}

// An assignment at `granted` covers the resource at `target`: "/" covers
// everything, otherwise segment-wise prefix, case-insensitive.
export function scopeCovers(granted, target) {
  const g = granted.replace(/\/+$/, "").toLowerCase();
  if (g === "") return true;
  const t = target.toLowerCase();
  return t === g || t.startsWith(`${g}/`);
}

// ---------------------------------------------------------------- API helpers

let adminTokenCache = null;
// The bootstrap administrator's token (cached per site).
export async function adminToken(site) {
  if (!site) {
    adminTokenCache ??= await h.token();
    return adminTokenCache;
  }
  site._adminToken ??= await h.token({ site });
  return site._adminToken;
}

export async function spToken(principal, site) {
  const r = await h.fetchToken({ clientId: principal.client_id, clientSecret: principal.client_secret, site });
  if (r.status !== 200 || !r.json?.access_token) throw new Error(`token for ${principal.name}: ${r.status} ${r.text}`);
  return r.json.access_token;
}

function check(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text}`);
  return r.json;
}

// POST /coffer/principals as the administrator; returns the 201 body.
export async function createPrincipal({ name = h.uniqueName("app"), kind = "servicePrincipal", secretExpiresInDays, token, site } = {}) {
  const body = { name, kind };
  if (secretExpiresInDays !== undefined) body.secret_expires_in_days = secretExpiresInDays;
  const r = await h.request("POST", "/coffer/principals", { token: token ?? (await adminToken(site)), body, site });
  return check(r, 201, `create principal ${name}`);
}

// The URL of the RBAC API under a scope: "/" -> "//providers/...",
// "/keys/a" -> "/keys/a/providers/...".
export function rbacPath(scope, rest) {
  const s = scope === "/" ? "/" : scope.replace(/\/+$/, "");
  return `${s}/providers/Microsoft.Authorization/${rest}`;
}

export async function assignRole({ scope = "/", role, principalId, name = randomUUID(), token, site }) {
  const r = ROLES[role] ?? COFFER_ROLES[role];
  if (!r) throw new Error(`unknown role ${role}`);
  const res = await h.request("PUT", rbacPath(scope, `roleAssignments/${name}`), {
    token: token ?? (await adminToken(site)),
    body: { properties: { roleDefinitionId: ROLE_DEFINITION_PREFIX + r.id, principalId } },
    site,
  });
  return check(res, 201, `assign ${role} at ${scope} to ${principalId}`);
}

export async function deleteAssignment({ scope = "/", name, token, site }) {
  const r = await h.request("DELETE", rbacPath(scope, `roleAssignments/${name}`), { token: token ?? (await adminToken(site)), site });
  return check(r, 200, `delete assignment ${name}`);
}

// A service principal holding `role` at each of `scopes`; returns the
// principal (with client_secret) and a token for it.
export async function principalWithRole(role, scopes = ["/"], { site } = {}) {
  const p = await createPrincipal({ name: h.uniqueName("rbac"), site });
  const assignments = [];
  for (const scope of scopes) {
    if (role) assignments.push(await assignRole({ scope, role, principalId: p.object_id, site }));
  }
  return { principal: p, assignments, token: await spToken(p, site) };
}

// Runs fn over items with at most `limit` in flight; results in order.
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// The RBAC denial: 403 Forbidden with innererror ForbiddenByRbac.
export function isRbacDenial(r) {
  return r.status === 403 && r.json?.error?.code === "Forbidden" && r.json?.error?.innererror?.code === "ForbiddenByRbac";
}
