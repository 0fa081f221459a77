// Test harness for the official-SDK suites: runs coffer-vault on the data
// directory and port that tests/sdk/run.sh prepared (COFFER_TEST_DIR,
// COFFER_TEST_PORT), and builds credentials, clients and raw HTTPS requests.
//
// run.sh initialises the data directory once, so that NODE_EXTRA_CA_CERTS can
// point at its CA before node starts.  Every server started here appends its
// stdout+stderr to DIR/logs/vault.log (the secrets scan reads it) and records
// its pid in DIR/logs/pids/ so that run.sh can kill leftovers.
import { spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const BIN = path.resolve(process.env.COFFER_BIN ?? path.join(import.meta.dirname, "../../../build/bin"));
export const DIR = process.env.COFFER_TEST_DIR;
export const PORT = Number(process.env.COFFER_TEST_PORT);
if (!DIR || !PORT) throw new Error("COFFER_TEST_DIR/COFFER_TEST_PORT unset: run through tests/sdk/run.sh");
export const VAULT_URL = `https://127.0.0.1:${PORT}`;
// Scale-out mode (run.sh, COFFER_TEST_STORE=postgres): a second front end
// on its own data directory and port, over the same PostgreSQL store.
export const DIR_B = process.env.COFFER_TEST_DIR_B;
export const PORT_B = Number(process.env.COFFER_TEST_PORT_B ?? 0);
export const SCALE_OUT = Boolean(DIR_B && PORT_B);
// PostgreSQL's data directory in that mode (scanned for plaintext).
export const PG_DATA = process.env.COFFER_TEST_PG_DATA;
// Both front ends answer for one vault URL (the main one's), as front ends
// behind one load balancer name do: tokens and key ids name it.
const STORE_ARGS = process.env.COFFER_TEST_STORE_ARG
  ? ["--store", process.env.COFFER_TEST_STORE_ARG, "--url", `https://127.0.0.1:${PORT}`]
  : [];
export const LOG_DIR = path.join(DIR, "logs");
export const LOG_FILE = path.join(LOG_DIR, "vault.log");
const PID_DIR = path.join(LOG_DIR, "pids");
fs.mkdirSync(PID_DIR, { recursive: true });

const CA = fs.readFileSync(path.join(DIR, "tls", "ca.crt"));
const agent = new https.Agent({ ca: CA, keepAlive: false });

export function bootstrap() {
  return JSON.parse(fs.readFileSync(path.join(DIR, "bootstrap.json"), "utf8"));
}

// ---------------------------------------------------------------- servers

// Resolves to the promise's value, or null after ms (the timer never keeps
// the process alive).
function withTimeout(promise, ms) {
  let timer;
  const t = new Promise((resolve) => { timer = setTimeout(resolve, ms, null); });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const running = new Set();
process.on("exit", () => {
  for (const v of running) {
    try { v.child.kill("SIGKILL"); } catch { /* gone */ }
  }
});

export class Vault {
  constructor(child) {
    this.child = child;
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => resolve({ code, signal }));
      // spawn failures (ENOENT, EACCES) emit only "error".
      child.on("error", (err) => resolve({ code: null, signal: null, error: err.message }));
    });
    this.exitInfo = null;
    this.exited.then((info) => {
      this.exitInfo = info;
      running.delete(this);
      fs.rmSync(path.join(PID_DIR, String(this.pid)), { force: true });
    });
  }

  // SIGTERM, then wait (bounded) for a clean exit; returns {code, signal}.
  async stop(timeoutMs = 30000) {
    if (!this.exitInfo) this.child.kill("SIGTERM");
    const info = await withTimeout(this.exited, timeoutMs);
    if (!info) {
      this.child.kill("SIGKILL");
      await this.exited;
      throw new Error(`coffer-vault pid ${this.pid} did not stop within ${timeoutMs} ms of SIGTERM`);
    }
    return info;
  }

  // SIGKILL: a crash.
  async kill() {
    if (!this.exitInfo) this.child.kill("SIGKILL");
    return this.exited;
  }
}

// Two front ends started and stopped together (scale-out mode).
class FrontEnds {
  constructor(a, b) {
    this.a = a;
    this.b = b;
    this.pid = a.pid;
  }

  async stop(timeoutMs) {
    const [ia] = await Promise.all([this.a.stop(timeoutMs), this.b.stop(timeoutMs)]);
    return ia;
  }

  async kill() {
    const [ia] = await Promise.all([this.a.kill(), this.b.kill()]);
    return ia;
  }
}

// Starts coffer-vault on DIR:PORT with extra args and waits until it answers
// the unauthenticated challenge (401) on GET /keys.  In scale-out mode the
// second front end starts too, on DIR_B:PORT_B, and both are returned as
// one (stop and kill act on both).
export async function startVault(args = [], opts = {}) {
  if (!SCALE_OUT) return spawnVault(null, args, opts);
  const a = await spawnVault(null, [...STORE_ARGS, ...args], opts);
  const b = await spawnVault(frontEndB, [...STORE_ARGS, ...args], opts);
  return new FrontEnds(a, b);
}

// Requests go to each front end in turn: every SDK request (a pipeline
// policy, per retry) and every raw request() to the main vault's port.
let turn = 0;
function nextPort() {
  turn += 1;
  return SCALE_OUT && turn % 2 === 0 ? PORT_B : PORT;
}
const alternateFrontEnds = {
  name: "cofferAlternateFrontEnds",
  sendRequest(request, next) {
    const url = new URL(request.url);
    if (url.hostname === "127.0.0.1" && Number(url.port) === PORT) {
      url.port = String(nextPort());
      request.url = url.toString();
    }
    return next(request);
  },
};

// The same for a Site (createSite): its own data dir, port and log.
async function spawnVault(site, args, { timeoutMs = 60000 } = {}) {
  const dir = site ? site.dir : DIR;
  const port = site ? site.port : PORT;
  const logFile = site ? site.logFile : LOG_FILE;
  const log = fs.openSync(logFile, "a");
  fs.writeSync(log, `\n==== harness: start coffer-vault ${args.join(" ")} at ${new Date().toISOString()}\n`);
  const env = { ...process.env };
  // ASan in the test build: a leak report at exit must not hide the log.
  const child = spawn(path.join(BIN, "coffer-vault"),
    ["--data-dir", dir, "--listen", `127.0.0.1:${port}`, ...args],
    { stdio: ["ignore", log, log], env });
  fs.closeSync(log);
  const v = new Vault(child);
  running.add(v);
  fs.writeFileSync(path.join(PID_DIR, String(child.pid)), "");
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (v.exitInfo) throw new Error(`coffer-vault exited during start-up: ${JSON.stringify(v.exitInfo)}\n${tailLog(30, logFile)}`);
    // A first start creates the CA before it listens.
    if (!site || fs.existsSync(path.join(dir, "tls", "ca.crt"))) {
      try {
        const r = await request("GET", "/keys", { timeoutMs: 2000, site });
        if (r.status === 401) return v;
        last = `status ${r.status}`;
      } catch (e) {
        last = e.code ?? e.message;
      }
    }
    await sleep(100);
  }
  await v.kill();
  throw new Error(`coffer-vault not ready within ${timeoutMs} ms (last: ${last})\n${tailLog(30, logFile)}`);
}

export function tailLog(lines = 30, file = LOG_FILE) {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// Runs coffer-vault to completion (for start-up failures): resolves to
// {code, signal, log} where log is what this run appended to the log file.
export async function runVaultToExit(site, args = [], { timeoutMs = 60000 } = {}) {
  const logFile = site ? site.logFile : LOG_FILE;
  const before = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const v = await (async () => {
    const log = fs.openSync(logFile, "a");
    const store = site ? [] : STORE_ARGS;
    const child = spawn(path.join(BIN, "coffer-vault"),
      ["--data-dir", site ? site.dir : DIR, "--listen", `127.0.0.1:${site ? site.port : PORT}`, ...store, ...args],
      { stdio: ["ignore", log, log], env: { ...process.env } });
    fs.closeSync(log);
    const vault = new Vault(child);
    running.add(vault);
    fs.writeFileSync(path.join(PID_DIR, String(child.pid)), "");
    return vault;
  })();
  const info = await withTimeout(v.exited, timeoutMs);
  if (!info) {
    await v.kill();
    throw new Error(`coffer-vault ${args.join(" ")} still running after ${timeoutMs} ms`);
  }
  const log = fs.readFileSync(logFile).subarray(before).toString("utf8");
  return { ...info, log };
}

// ---------------------------------------------------------------- more vaults

// The second front end (scale-out mode), a Site on DIR_B:PORT_B that
// shares the main vault's CA.
let frontEndB = null;

// Another vault beside run.sh's: a data directory (not yet initialised)
// next to DIR, so that run.sh removes it, and a free loopback port.  Its
// CA is trusted through its own https agent (NODE_EXTRA_CA_CERTS covers
// only run.sh's), so use it with request(..., {site}).
let siteSeq = 0;
export class Site {
  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
    this.url = `https://127.0.0.1:${port}`;
    this.logFile = path.join(dir, "logs", "vault.log");
    this._agent = null;
  }

  agent() {
    if (!this._agent) {
      this._agent = new https.Agent({ ca: fs.readFileSync(path.join(this.dir, "tls", "ca.crt")), keepAlive: false });
    }
    return this._agent;
  }

  bootstrap() {
    return JSON.parse(fs.readFileSync(path.join(this.dir, "bootstrap.json"), "utf8"));
  }

  start(args = [], opts = {}) {
    return spawnVault(this, args, opts);
  }

  runToExit(args = [], opts = {}) {
    return runVaultToExit(this, args, opts);
  }

  tailLog(lines = 30) {
    return tailLog(lines, this.logFile);
  }
}

if (SCALE_OUT) frontEndB = new Site(DIR_B, PORT_B);

export async function freePort() {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function createSite(label = "site") {
  siteSeq += 1;
  const dir = path.join(path.dirname(DIR), `${label}-${process.pid}-${siteSeq}`);
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  return new Site(dir, await freePort());
}

// ---------------------------------------------------------------- raw HTTPS

// request(method, path, {token, body, headers, query, apiVersion, raw})
//   path is relative to the vault URL (or absolute https://127.0.0.1:PORT/...).
//   query: object of extra parameters; apiVersion: string, or null to omit,
//   default "7.5".  body: object (JSON-encoded) or string/Buffer (sent as is).
// Returns {status, headers, text, json}.
//   site: a Site (another vault on its own data dir and port, see
//   createSite) instead of run.sh's vault.
export function request(method, p, opts = {}) {
  const { token, body, headers = {}, query = {}, apiVersion = "7.5", timeoutMs = 60000, rawQuery, site } = opts;
  const base = site ? site.url : VAULT_URL;
  // "//providers/..." (the RBAC API at scope "/") is a path here, not a
  // scheme-relative URL.
  const url = p.startsWith("//") ? new URL(base + p) : new URL(p, base);
  if (!site && SCALE_OUT && Number(url.port) === PORT) url.port = String(nextPort());
  if (rawQuery !== undefined) {
    url.search = rawQuery;
  } else {
    if (apiVersion !== null && !url.searchParams.has("api-version")) url.searchParams.set("api-version", apiVersion);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  }
  let payload = null;
  const h = { accept: "application/json", ...headers };
  if (body !== undefined && body !== null) {
    payload = Buffer.isBuffer(body) || typeof body === "string" ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
    if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["content-type"] = "application/json";
  }
  if (payload) h["content-length"] = String(payload.length);
  if (token) h.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers: h, agent: site ? site.agent() : agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

// Client-credentials token straight from the token endpoint.
//   clientId/clientSecret: another service principal (default: the
//   bootstrap administrator); site: another vault (createSite).
export async function fetchToken({ scope = "https://vault.azure.net/.default", clientId, clientSecret, site } = {}) {
  const b = site ? site.bootstrap() : bootstrap();
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId ?? b.client_id,
    client_secret: clientSecret ?? b.client_secret,
    scope,
  });
  const r = await request("POST", `/${b.tenant_id}/oauth2/v2.0/token`, {
    apiVersion: null,
    body: form.toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    site,
  });
  return r;
}

export async function token(opts) {
  const r = await fetchToken(opts);
  if (r.status !== 200 || !r.json?.access_token) throw new Error(`token endpoint: ${r.status} ${r.text}`);
  return r.json.access_token;
}

// ---------------------------------------------------------------- SDK clients

const AZURE_ENV = [
  "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
  "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_SERVER_THUMBPRINT",
  "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
  "AZURE_REGIONAL_AUTHORITY_NAME", "REGION_NAME", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
  "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
];

// The bootstrap administrator's, or another service principal's
// ({clientId, clientSecret}, e.g. from POST /coffer/principals).
export async function secretCredential({ clientId, clientSecret } = {}) {
  const { ClientSecretCredential } = await import("@azure/identity");
  const b = bootstrap();
  return new ClientSecretCredential(b.tenant_id, clientId ?? b.client_id, clientSecret ?? b.client_secret, {
    authorityHost: b.authority_host,
    disableInstanceDiscovery: true,
    ...(SCALE_OUT ? { additionalPolicies: [{ policy: alternateFrontEnds, position: "perRetry" }] } : {}),
  });
}

// DefaultAzureCredential restricted to the App Service managed identity
// source (IDENTITY_ENDPOINT + IDENTITY_HEADER), as on a real App Service.
export async function managedIdentityCredential() {
  const b = bootstrap();
  for (const k of AZURE_ENV) delete process.env[k];
  process.env.NO_PROXY = "127.0.0.1";
  process.env.IDENTITY_ENDPOINT = b.identity_endpoint;
  process.env.IDENTITY_HEADER = b.identity_header;
  process.env.AZURE_TOKEN_CREDENTIALS = "ManagedIdentityCredential";
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new DefaultAzureCredential();
}

export const clientOptions = {
  disableChallengeResourceVerification: true,
  ...(SCALE_OUT ? { additionalPolicies: [{ policy: alternateFrontEnds, position: "perRetry" }] } : {}),
};

export async function keyClient(credential, extra = {}) {
  const { KeyClient } = await import("@azure/keyvault-keys");
  return new KeyClient(VAULT_URL, credential ?? (await secretCredential()), { ...clientOptions, ...extra });
}

export async function secretClient(credential, extra = {}) {
  const { SecretClient } = await import("@azure/keyvault-secrets");
  return new SecretClient(VAULT_URL, credential ?? (await secretCredential()), { ...clientOptions, ...extra });
}

export async function cryptoClient(keyOrId, credential, extra = {}) {
  const { CryptographyClient } = await import("@azure/keyvault-keys");
  return new CryptographyClient(keyOrId, credential ?? (await secretCredential()), { ...clientOptions, ...extra });
}

// ---------------------------------------------------------------- helpers

let seq = 0;
export function uniqueName(prefix = "k") {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`;
}

export const b64u = (buf) => Buffer.from(buf).toString("base64url");
export const fromB64u = (s) => Buffer.from(s, "base64url");

// Bounded polling: calls fn until it returns a truthy value.
export async function waitFor(fn, { timeoutMs = 30000, intervalMs = 250, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let i = 0; Date.now() < deadline && i < 100000; i++) {
    last = await fn();
    if (last) return last;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// Drains an async iterator (SDK list/byPage) with a bound on the number of
// items, so that a nextLink cycle fails instead of looping forever.
export async function collect(iterable, max = 5000) {
  const out = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length > max) throw new Error(`more than ${max} items: nextLink loop?`);
  }
  return out;
}

export { sleep };

// Every regular file under dir that contains needle (streamed in 1 MiB
// chunks with an overlap, so a match across chunk edges is found).
export function filesContaining(dir, needle) {
  const n = Buffer.from(needle);
  const found = [];
  let scanned = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        scanned += 1;
        const fd = fs.openSync(p, "r");
        try {
          const buf = Buffer.alloc(1 << 20);
          let carry = Buffer.alloc(0);
          for (;;) {
            const len = fs.readSync(fd, buf, 0, buf.length, null);
            if (len <= 0) break;
            const chunk = Buffer.concat([carry, buf.subarray(0, len)]);
            if (chunk.includes(n)) { found.push(p); break; }
            carry = chunk.subarray(Math.max(0, chunk.length - n.length + 1));
          }
        } finally {
          fs.closeSync(fd);
        }
      }
    }
  };
  walk(dir);
  return { found, scanned };
}
