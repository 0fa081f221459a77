// Shared pieces of the blob suites: the server under test (coffer-blob, or
// Azurite with COFFER_BLOB_TARGET=azurite) as run.sh started it, SDK clients
// for the three credential kinds, a Shared Key signer for raw requests and
// the Coffer admin API, error assertions, CRC-64/NVME and the at-rest scan.
//
// Everything about the server comes from COFFER_BLOB_DIR/bootstrap.json
// (docs/blob.md, "Data directory"), so the same suite runs against either.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import {
  AccountSASPermissions, AnonymousCredential, BlobSASPermissions, BlobServiceClient, ContainerSASPermissions, SASProtocol,
  StorageSharedKeyCredential, generateAccountSASQueryParameters, generateBlobSASQueryParameters,
} from "@azure/storage-blob";

export const BLOB_DIR = process.env.COFFER_BLOB_DIR;
if (!BLOB_DIR) throw new Error("COFFER_BLOB_DIR unset: run through tests/sdk/run.sh");
export const TARGET = process.env.COFFER_BLOB_TARGET ?? "coffer";
export const AZURITE = TARGET === "azurite";
// node:test option for the cases only coffer-blob can pass (roles, the
// insecure account, the admin API, the at-rest scan).
export const COFFER_ONLY = { skip: AZURITE ? "coffer-blob only (COFFER_BLOB_TARGET=azurite)" : false };
export const HTTP_PORT = Number(process.env.COFFER_BLOB_HTTP_PORT);
export const INSECURE = process.env.COFFER_BLOB_INSECURE_ACCOUNT ?? "insecure1";

export const B = JSON.parse(fs.readFileSync(path.join(BLOB_DIR, "bootstrap.json"), "utf8"));
export const ACCOUNT = B.account_name;
export const ENDPOINT = B.blob_endpoint.replace(/\/+$/, "");
export const CA = fs.readFileSync(B.ca_cert ?? path.join(BLOB_DIR, "tls", "ca.crt"));
export const HTTP_BASE = B.http_endpoint ?? (HTTP_PORT ? `http://127.0.0.1:${HTTP_PORT}` : null);

export function accountInfo(name) {
  if (name === ACCOUNT) return { account_name: ACCOUNT, account_key: B.account_key, account_key2: B.account_key2, blob_endpoint: ENDPOINT, https_only: true };
  const a = (B.accounts ?? []).find((x) => x.account_name === name);
  if (!a) throw new Error(`bootstrap.json has no account ${name}`);
  return a;
}

export const keyCredential = (key = B.account_key, account = ACCOUNT) => new StorageSharedKeyCredential(account, key);

// ---------------------------------------------------------------- clients

export function connectionStringClient(cs = B.connection_string, options = {}) {
  return BlobServiceClient.fromConnectionString(cs, options);
}

// An account SAS (ss=b, srt=sco) with every permission the suites use.
export function accountSas({ permissions = "rwdlacupt", resourceTypes = "sco", startsOn, expiresOn,
  protocol = SASProtocol.Https, key = B.account_key, account = ACCOUNT } = {}) {
  return generateAccountSASQueryParameters({
    permissions: AccountSASPermissions.parse(permissions),
    services: "b",
    resourceTypes,
    startsOn: startsOn ?? new Date(Date.now() - 5 * 60e3),
    expiresOn: expiresOn ?? new Date(Date.now() + 2 * 3600e3),
    protocol,
  }, keyCredential(key, account)).toString();
}

// A service SAS for a container (blobName unset) or a blob; `identifier`
// names a stored access policy (then permissions/expiry come from it).
export function serviceSas({ containerName, blobName, permissions, identifier, startsOn, expiresOn,
  protocol = SASProtocol.Https, key = B.account_key, account = ACCOUNT }) {
  const v = { containerName, blobName, protocol };
  if (identifier) {
    v.identifier = identifier;
  } else {
    v.permissions = (blobName ? BlobSASPermissions : ContainerSASPermissions).parse(permissions ?? "r");
    v.startsOn = startsOn ?? new Date(Date.now() - 5 * 60e3);
    v.expiresOn = expiresOn ?? new Date(Date.now() + 2 * 3600e3);
  }
  return generateBlobSASQueryParameters(v, keyCredential(key, account)).toString();
}

export function sasClient(sas = accountSas(), endpoint = ENDPOINT) {
  return new BlobServiceClient(`${endpoint}?${sas}`);
}

export function anonymousClient(endpoint = ENDPOINT) {
  return new BlobServiceClient(endpoint, new AnonymousCredential());
}

export function tokenClient(credential) {
  return new BlobServiceClient(ENDPOINT, credential);
}

// A vault principal holding `role` (a ROLES key, or null for none) at each
// scope ("/" or "/containers/<name>"), and a ClientSecretCredential for it.
export async function tokenPrincipal(role, scopes = ["/"]) {
  const h = await import("./harness.mjs");
  const adm = await import("./admin.mjs");
  const p = await adm.createPrincipal({ name: h.uniqueName("blob") });
  const assignments = [];
  for (const scope of role ? scopes : []) {
    assignments.push(await assignRole({ role, principalId: p.object_id, scope }));
  }
  const credential = await h.secretCredential({ clientId: p.client_id, clientSecret: p.client_secret });
  return { principal: p, credential, assignments };
}

// ---------------------------------------------------------------- raw Shared Key

// Shared Key (or Shared Key Lite) Authorization for a request: the string
// to sign of docs/blob.md, "Authentication and authorization" (path-style:
// the account, then the raw path, which names the account again).
export function sharedKeyAuthorization({ method, url, headers, account = ACCOUNT, key = B.account_key, lite = false }) {
  const u = new URL(url);
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const canonHeaders = Object.keys(h).filter((k) => k.startsWith("x-ms-")).sort()
    .map((k) => `${k}:${h[k].trimStart()}\n`).join("");
  let resource = `/${account}${u.pathname}`;
  let sts;
  if (lite) {
    const comp = u.searchParams.get("comp");
    if (comp !== null) resource += `?comp=${comp}`;
    sts = [method, h["content-md5"] ?? "", h["content-type"] ?? "", h.date ?? ""].join("\n") + "\n" + canonHeaders + resource;
  } else {
    const names = [...new Set([...u.searchParams.keys()].map((k) => k.toLowerCase()))].sort();
    for (const n of names) {
      const vals = [...u.searchParams.entries()].filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
      resource += `\n${n}:${vals.join(",")}`;
    }
    const cl = h["content-length"];
    sts = [method, h["content-encoding"] ?? "", h["content-language"] ?? "", cl && cl !== "0" ? cl : "",
      h["content-md5"] ?? "", h["content-type"] ?? "", h.date ?? "", h["if-modified-since"] ?? "",
      h["if-match"] ?? "", h["if-none-match"] ?? "", h["if-unmodified-since"] ?? "", h.range ?? ""].join("\n")
      + "\n" + canonHeaders + resource;
  }
  const sig = crypto.createHmac("sha256", Buffer.from(key, "base64")).update(sts, "utf8").digest("base64");
  return `${lite ? "SharedKeyLite" : "SharedKey"} ${account}:${sig}`;
}

const httpsAgent = new https.Agent({ ca: CA, keepAlive: false });

// A raw request: url absolute, or a path under the server's origin.
// sign: {account, key, lite} or false; bearer: a token.  Resolves to
// {status, headers, body (Buffer), text}.
export function rawRequest(method, url, { headers = {}, body, sign = {}, bearer, timeoutMs = 60000 } = {}) {
  const u = new URL(url, new URL(ENDPOINT).origin);
  const payload = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const h = { "x-ms-date": new Date().toUTCString(), "x-ms-version": "2026-10-06", ...headers };
  if (payload && !Object.keys(h).some((k) => k.toLowerCase() === "content-type") && typeof body === "object" && !Buffer.isBuffer(body)) {
    h["content-type"] = "application/json";
  }
  h["content-length"] = String(payload ? payload.length : 0);
  if (bearer) h.authorization = `Bearer ${bearer}`;
  else if (sign) h.authorization = sharedKeyAuthorization({ method, url: u.toString(), headers: h, ...sign });
  const mod = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers: h, agent: u.protocol === "https:" ? httpsAgent : undefined, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString("utf8") });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

// ---------------------------------------------------------------- admin API

export const ROLES = {
  "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
};

const adminUrl = (account, rest) => `/.coffer/${account}/${rest}`;

export async function assignRole({ role, principalId, scope = "/", name = crypto.randomUUID(), account = ACCOUNT, key }) {
  const roleId = ROLES[role] ?? role;
  const r = await rawRequest("PUT", adminUrl(account, `roleAssignments/${name}`), {
    body: { properties: { roleDefinitionId: roleId, principalId, scope } },
    sign: { account, key: key ?? accountInfo(account).account_key },
  });
  if (r.status !== 201) throw new Error(`assign ${role} at ${scope}: ${r.status} ${r.text}`);
  return { name, ...JSON.parse(r.text || "{}") };
}

export async function listAssignments({ account = ACCOUNT } = {}) {
  const r = await rawRequest("GET", adminUrl(account, "roleAssignments"), { sign: { account, key: accountInfo(account).account_key } });
  if (r.status !== 200) throw new Error(`list assignments: ${r.status} ${r.text}`);
  return JSON.parse(r.text).value;
}

export async function deleteAssignment(name, { account = ACCOUNT } = {}) {
  const r = await rawRequest("DELETE", adminUrl(account, `roleAssignments/${name}`), { sign: { account, key: accountInfo(account).account_key } });
  if (r.status !== 200) throw new Error(`delete assignment ${name}: ${r.status} ${r.text}`);
}

export async function regenerateKey(keyName, { account = ACCOUNT, key } = {}) {
  const r = await rawRequest("POST", adminUrl(account, "regenerateKey"), {
    body: { keyName }, sign: { account, key: key ?? accountInfo(account).account_key },
  });
  return r;
}

// ---------------------------------------------------------------- assertions

// Azurite's codes where they differ from Azure's (notes/blob.md): accepted
// only against Azurite, so the suite stays usable to debug the client side.
const AZURITE_CODES = { AuthenticationFailed: ["AuthorizationFailure"] };

export function checkRestError(err, status, code) {
  assert.ok(err && typeof err === "object" && "statusCode" in err, `expected a RestError, got ${err?.stack ?? err}`);
  const codes = Array.isArray(code) ? code : code ? [code] : [];
  const statuses = Array.isArray(status) ? status : [status];
  // HEAD errors have no body: the SDK leaves err.code unset and puts the
  // x-ms-error-code header in err.details.errorCode (Azurite sends none).
  const ok = (c) => codes.length === 0 || codes.includes(c) ||
    (AZURITE && (c === undefined || codes.some((x) => AZURITE_CODES[x]?.includes(c))));
  const got = err.code ?? err.details?.errorCode;
  assert.ok(statuses.includes(err.statusCode) && ok(got),
    `expected ${statuses.join("|")} ${codes.join("|")}, got ${err.statusCode} ${got}: ${String(err.message).split("\n")[0]}`);
  // Every response carries x-ms-request-id, errors too (HEAD included).
  if (err.statusCode !== 304) {
    const rid = err.response?.headers?.get("x-ms-request-id");
    assert.ok(rid, `no x-ms-request-id on the ${err.statusCode} response`);
  }
  return err;
}

// Runs an assertion block only against coffer-blob: where Azurite is known
// to differ from Azure (each call says how).
export async function notOnAzurite(why, fn) {
  if (!AZURITE) await fn();
}

export async function rejects(promiseOrFn, status, code) {
  let err;
  try {
    await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${status} ${code ?? ""}, but the call succeeded`);
  return checkRestError(err, status, code);
}

// ---------------------------------------------------------------- data

export async function streamToBuffer(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

export async function downloadAll(blobClient, offset = 0, count, options) {
  const r = await blobClient.download(offset, count, options);
  return { response: r, data: await streamToBuffer(r.readableStreamBody) };
}

export const md5 = (b) => crypto.createHash("md5").update(b).digest();
export const sha256 = (b) => crypto.createHash("sha256").update(b).digest("hex");

// CRC-64/NVME (reflected 0x9A6C9329AC4BC9B5, init and xorout all ones), as
// x-ms-content-crc64 wants it: the 8 bytes little-endian.
const CRC_TABLE = (() => {
  const t = new BigUint64Array(256);
  for (let i = 0n; i < 256n; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ 0x9A6C9329AC4BC9B5n : c >> 1n;
    t[Number(i)] = c;
  }
  return t;
})();
export function crc64(buf) {
  let c = 0xFFFFFFFFFFFFFFFFn;
  for (const b of buf) c = CRC_TABLE[Number((c ^ BigInt(b)) & 0xFFn)] ^ (c >> 8n);
  c ^= 0xFFFFFFFFFFFFFFFFn;
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(c);
  return out;
}

let nameSeq = 0;
// A container name: lower case, digits and '-', 3..63.
export function containerName(prefix = "c") {
  nameSeq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${nameSeq}`.toLowerCase().slice(0, 63);
}

export const blockId = (i) => Buffer.from(`block-${String(i).padStart(6, "0")}`).toString("base64");

// A marker the suites write into blob bodies; it must never appear in the
// data directory (encryption at rest).
export const MARKER = `COFFER-PLAINTEXT-MARKER-${crypto.randomBytes(8).toString("hex")}`;

import { filesContaining } from "./harness.mjs";

export { filesContaining };

// Everywhere the blob service keeps data: its data directories and, on the
// scale-out store (run.sh, COFFER_TEST_STORE=postgres), PostgreSQL's data
// directory and every object in the RADOS pool.  Same result shape as
// filesContaining (a hit in RADOS is reported as "rados pool NAME").
export function atRestContaining(needle) {
  let found = [];
  let scanned = 0;
  const add = (r) => { found = found.concat(r.found); scanned += r.scanned; };
  add(filesContaining(BLOB_DIR, needle));
  if (process.env.COFFER_BLOB_PORT_B && fs.existsSync(`${BLOB_DIR}-b`)) add(filesContaining(`${BLOB_DIR}-b`, needle));
  if (process.env.COFFER_TEST_PG_DATA) add(filesContaining(process.env.COFFER_TEST_PG_DATA, needle));
  if (process.env.COFFER_TEST_CEPH_POOL) add(radosObjectsContaining(process.env.COFFER_TEST_CEPH_POOL, needle));
  return { found, scanned };
}

// `rados export` writes every object of the pool (all namespaces) into one
// file, object data as stored (split into large chunks only past a few
// MiB); that file is scanned.  One process, where a `rados get` per object
// would cost a start-up each.  A planted object holding the needle once
// proves the scan sees what is in the pool: exactly one hit is clean.
function radosObjectsContaining(pool, needle) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "coffer-rados-scan-"));
  const control = ["-p", pool, "-N", "coffer-scan-control"];
  try {
    fs.writeFileSync(path.join(tmp, "control"), Buffer.concat([Buffer.from("planted "), Buffer.from(needle), Buffer.from(" here")]));
    execFileSync("rados", [...control, "put", "control", path.join(tmp, "control")], { stdio: "ignore" });
    const dump = path.join(tmp, "pool.export");
    execFileSync("rados", ["-p", pool, "export", dump], { stdio: "ignore" });
    const hits = occurrences(dump, Buffer.from(needle));
    if (hits === 0) throw new Error(`the scan of RADOS pool ${pool} does not see the planted object`);
    return { found: hits > 1 ? [`rados pool ${pool} (${hits - 1} hits)`] : [], scanned: 1 };
  } finally {
    execFileSync("rados", [...control, "rm", "control"], { stdio: "ignore" });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// How often n occurs in the file (streamed, overlapping chunk edges).
function occurrences(file, n) {
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(1 << 20);
  let carry = Buffer.alloc(0);
  let count = 0;
  try {
    for (;;) {
      const len = fs.readSync(fd, buf, 0, buf.length, null);
      if (len <= 0) return count;
      const chunk = Buffer.concat([carry, buf.subarray(0, len)]);
      for (let i = chunk.indexOf(n); i >= 0; i = chunk.indexOf(n, i + 1)) count += 1;
      carry = chunk.subarray(Math.max(0, chunk.length - n.length + 1));
    }
  } finally {
    fs.closeSync(fd);
  }
}

export { SASProtocol };
