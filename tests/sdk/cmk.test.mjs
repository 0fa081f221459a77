// Customer-managed keys end to end: coffer-vault driven by the official
// @azure/keyvault-keys, coffer-blob (its own identity in the vault, a key
// cache of 2 s) driven by the official @azure/storage-blob, and the
// storage account switched with the coffer CLI as a user would.
//
// Covered: create key, account on it, write and read; rotation (old and new
// data readable, the version in use follows); each revocation (key
// disabled, role assignment removed, key deleted) refused within the cache
// period with Azure's 403 code and healed after restoring; the vault
// stopped and restarted; coffer-blob restarted and SIGKILLed during writes
// (no acknowledged write lost); plaintext-marker and key scans of both data
// directories and the logs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { BlobServiceClient } from "@azure/storage-blob";

import * as h from "./lib/harness.mjs";
import { assignRole, createPrincipal, deleteAssignment } from "./lib/admin.mjs";

const CACHE_SECONDS = 2;
const run = promisify(execFile);
const T = { timeout: 300000 };
const MARKER = `COFFER-CMK-MARKER-${crypto.randomBytes(8).toString("hex")}`;

// ---------------------------------------------------------------- coffer-blob

const blobDir = path.join(path.dirname(h.DIR), `blob-cmk-${process.pid}`);
const blobLog = path.join(h.LOG_DIR, "blob-cmk.log");
const identityFile = path.join(path.dirname(h.DIR), `blob-identity-${process.pid}.json`);
let blobPort;
let blob = null; // the running child

async function startBlob(identity = identityFile) {
  blobPort ??= await h.freePort();
  const log = fs.openSync(blobLog, "a");
  const child = spawn(path.join(h.BIN, "coffer-blob"),
    ["--data-dir", blobDir, "--listen", `127.0.0.1:${blobPort}`, "--vault-bootstrap", identity,
      "--key-cache-seconds", String(CACHE_SECONDS), "--log-level", "info"],
    { stdio: ["ignore", log, log] });
  fs.closeSync(log);
  fs.writeFileSync(path.join(h.LOG_DIR, "pids", String(child.pid)), "");
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  blob = { child, exited };
  await h.waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`coffer-blob exited: ${fs.readFileSync(blobLog, "utf8").slice(-2000)}`);
    if (!fs.existsSync(path.join(blobDir, "tls", "ca.crt"))) return false;
    trustBlobCA();
    try {
      const r = await fetch(`https://127.0.0.1:${blobPort}/coffer?comp=list`);
      return r.status === 401 || r.status === 403;
    } catch {
      return false;
    }
  }, { timeoutMs: 60000, what: "coffer-blob ready" });
}

async function stopBlob(signal = "SIGTERM") {
  blob.child.kill(signal);
  const info = await blob.exited;
  blob = null;
  return info;
}

let trusted = false;
function trustBlobCA() {
  if (trusted) return;
  const ca = fs.readFileSync(path.join(blobDir, "tls", "ca.crt"), "utf8");
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), ...tls.getCACertificates("extra"), ca]);
  trusted = true;
}

// The coffer CLI against coffer-blob's admin API (the default account's key).
async function coffer(...args) {
  const { stdout } = await run(path.join(h.BIN, "coffer"), [...args, "--blob-dir", blobDir, "--output", "json"],
    { env: { ...process.env, COFFER_BOOTSTRAP: "" } });
  return JSON.parse(stdout);
}

// The same against one account's own admin API (its encryption scopes).
async function cofferAs(connectionString, ...args) {
  const { stdout } = await run(path.join(h.BIN, "coffer"),
    [...args, "--connection-string", connectionString, "--ca-file", path.join(blobDir, "tls", "ca.crt"),
      "--output", "json"],
    { env: { ...process.env, COFFER_BOOTSTRAP: "" } });
  return JSON.parse(stdout);
}

// ---------------------------------------------------------------- helpers

async function readText(container, name) {
  const buf = await container.getBlobClient(name).downloadToBuffer();
  return buf.toString("utf8");
}

// The Azure error code of a RestError (the header when there is no body).
const errorCode = (e) => e.details?.errorCode ?? e.code;
const refusedWith = (code) => (e) => e.statusCode === 403 && errorCode(e) === code;

// Polls until fn resolves (healed) or rejects with `code` (revoked).
async function eventually(what, fn, { code } = {}) {
  const last = { what: "nothing yet" };
  try {
    await h.waitFor(async () => {
      try {
        await fn();
        last.what = "succeeded";
        return !code;
      } catch (e) {
        last.what = `${e.statusCode} ${errorCode(e) ?? e.message}`;
        return Boolean(code) && refusedWith(code)(e);
      }
    }, { timeoutMs: (CACHE_SECONDS + 8) * 1000, intervalMs: 200, what });
  } catch (e) {
    throw new Error(`${e.message} (last: ${last.what})`);
  }
}


// ---------------------------------------------------------------- the test

test("customer-managed keys in coffer-vault, end to end", T, async (t) => {
  let vault = await h.startVault();
  const kc = await h.keyClient();
  const keyName = h.uniqueName("cmk");
  const vaultKey = await kc.createRsaKey(keyName, { keySize: 2048 });

  // The blob service's own identity, with only the service-encryption role on the key.
  const sp = await createPrincipal({ name: h.uniqueName("coffer-blob") });
  const b = h.bootstrap();
  fs.writeFileSync(identityFile, JSON.stringify({
    vault_url: h.VAULT_URL, ca_cert: path.join(h.DIR, "tls", "ca.crt"), tenant_id: b.tenant_id,
    authority_host: b.authority_host, client_id: sp.client_id, client_secret: sp.client_secret,
  }), { mode: 0o600 });
  const grant = () => assignRole({ scope: `/keys/${keyName}`, role: "Key Vault Crypto Service Encryption User", principalId: sp.object_id });
  let assignment = await grant();
  await startBlob();

  const account = `cmk${crypto.randomBytes(3).toString("hex")}`;
  const created = await coffer("account", "create", account, "--cmk-key-uri", `${h.VAULT_URL}/keys/${keyName}`);
  assert.equal(created.key_source, "customer-managed");
  assert.equal(created.key_version_in_use, vaultKey.id);
  const service = BlobServiceClient.fromConnectionString(created.connection_string);
  const container = service.getContainerClient("data");
  await container.create();
  const first = `first ${MARKER}`;
  await container.getBlockBlobClient("first.txt").upload(first, first.length);
  assert.equal(await readText(container, "first.txt"), first);
  const accountKey = Buffer.from(/AccountKey=([^;]+)/.exec(created.connection_string)[1], "base64");

  await t.test("rotation: a new version is picked up, old and new data readable", async () => {
    const rotated = await kc.rotateKey(keyName);
    assert.notEqual(rotated.id, vaultKey.id);
    await h.sleep((CACHE_SECONDS + 1) * 1000);
    const second = `second ${MARKER}`;
    await container.getBlockBlobClient("second.txt").upload(second, second.length);
    assert.equal(await readText(container, "first.txt"), first);
    assert.equal(await readText(container, "second.txt"), second);
    const shown = await coffer("account", "show", account);
    assert.equal(shown.key_version_in_use, rotated.id, "the data key is wrapped by the newest version");
  });

  const read = () => readText(container, "first.txt");

  await t.test("a scope's own vault key (AES): revoking it leaves the account's other data readable", async () => {
    // An AES key this time: the data key is wrapped with A256KW.
    const scopeKey = h.uniqueName("scopekey");
    await kc.createOctKey(scopeKey, { keySize: 256 });
    await assignRole({ scope: `/keys/${scopeKey}`, role: "Key Vault Crypto Service Encryption User", principalId: sp.object_id });
    const scope = await cofferAs(created.connection_string, "scope", "create", "tenant-a",
      "--cmk-key-uri", `${h.VAULT_URL}/keys/${scopeKey}`);
    assert.equal(scope.key_source, "customer-managed");
    const text = `scoped ${MARKER}`;
    await container.getBlockBlobClient("scoped.txt").upload(text, text.length, { encryptionScope: "tenant-a" });
    const readScoped = () => readText(container, "scoped.txt");
    assert.equal(await readScoped(), text);
    await kc.updateKeyProperties(scopeKey, { enabled: false });
    await eventually("the scope's key refused", readScoped, { code: "KeyVaultEncryptionKeyNotFound" });
    assert.equal(await read(), first, "the account's own data is unaffected");
    await kc.updateKeyProperties(scopeKey, { enabled: true });
    await eventually("the scope heals", readScoped);
  });

  await t.test("revocation 1: the key disabled, then enabled again", async () => {
    await kc.updateKeyProperties(keyName, { enabled: false });
    await eventually("disabled key refused", read, { code: "KeyVaultEncryptionKeyNotFound" });
    await assert.rejects(container.getBlockBlobClient("w.txt").upload("x", 1),
      refusedWith("KeyVaultEncryptionKeyNotFound"), "writes refused too");
    await assert.rejects(container.getProperties(), (e) => e.statusCode === 403, "container reads refused");
    await kc.updateKeyProperties(keyName, { enabled: true });
    await eventually("re-enabled key heals", read);
  });

  await t.test("revocation 2: the role assignment removed, then given back", async () => {
    await deleteAssignment({ scope: `/keys/${keyName}`, name: assignment.name });
    await eventually("no role refused", read, { code: "KeyVaultAuthenticationFailure" });
    assignment = await grant();
    await eventually("role restored heals", read);
  });

  await t.test("revocation 3: the key deleted, then recovered", async () => {
    await (await kc.beginDeleteKey(keyName, { updateIntervalInMs: 200 })).pollUntilDone();
    await eventually("deleted key refused", read, { code: "KeyVaultEncryptionKeyNotFound" });
    await (await kc.beginRecoverDeletedKey(keyName, { updateIntervalInMs: 200 })).pollUntilDone();
    await eventually("recovered key heals", read);
  });

  await t.test("the vault stopped, then started again", async () => {
    await vault.stop();
    await eventually("unreachable vault refused", read, { code: "KeyVaultVaultNotFound" });
    vault = await h.startVault();
    await eventually("vault back heals", read);
  });

  await t.test("coffer-blob restarted: the key is fetched again, data intact", async () => {
    const info = await stopBlob();
    assert.equal(info.code, 0);
    await startBlob();
    assert.equal(await readText(container, "first.txt"), first);
  });

  await t.test("SIGKILL during writes loses no acknowledged write", async () => {
    const acked = [];
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const body = `write ${i} ${MARKER}`;
        try {
          await container.getBlockBlobClient(`k/${i}`).upload(body, body.length);
          acked.push([i, body]);
        } catch {
          break;
        }
      }
    })();
    await h.waitFor(() => acked.length >= 20, { timeoutMs: 60000, what: "20 writes" });
    await stopBlob("SIGKILL");
    stop = true;
    await writer;
    await startBlob();
    for (const [i, body] of acked) assert.equal(await readText(container, `k/${i}`), body, `write ${i}`);
  });

  await t.test("nothing in clear on disk or in logs", async () => {
    for (const dir of [blobDir, h.DIR]) {
      for (const [needle, what] of [[MARKER, "plaintext marker"], [accountKey, "account key bytes"],
        [created.connection_string.match(/AccountKey=([^;]+)/)[1], "account key text"]]) {
        const scan = h.filesContaining(dir, needle);
        assert.ok(scan.scanned > 0, `scanned ${dir}`);
        assert.deepEqual(scan.found, [], `${what} under ${dir}`);
      }
    }
    assert.ok(!fs.readFileSync(blobLog).includes(sp.client_secret), "the blob identity's secret is not logged");
  });

  await t.test("a managed identity as the blob service's identity", async () => {
    const boot = h.bootstrap();
    const miFile = path.join(path.dirname(h.DIR), `blob-mi-${process.pid}.json`);
    fs.writeFileSync(miFile, JSON.stringify({
      vault_url: h.VAULT_URL, ca_cert: path.join(h.DIR, "tls", "ca.crt"),
      identity_endpoint: boot.identity_endpoint, identity_header: boot.identity_header,
      identity_client_id: boot.identity_client_id,
    }), { mode: 0o600 });
    await assignRole({ scope: `/keys/${keyName}`, role: "Key Vault Crypto Service Encryption User",
      principalId: boot.identity_object_id });
    // Only the managed identity keeps a role, so a read proves it is used.
    await deleteAssignment({ scope: `/keys/${keyName}`, name: assignment.name });
    assert.equal((await stopBlob()).code, 0);
    await startBlob(miFile);
    assert.equal(await read(), first);
    assert.ok(!fs.readFileSync(blobLog).includes(boot.identity_header), "the identity header is not logged");
  });

  await t.test("the account can go back to service-managed keys and be deleted", async () => {
    const back = await coffer("account", "set-key", account, "--service-managed");
    assert.equal(back.key_source, "service-managed");
    await kc.updateKeyProperties(keyName, { enabled: false });
    await h.sleep((CACHE_SECONDS + 1) * 1000);
    assert.equal(await readText(container, "first.txt"), first, "no longer depends on the vault key");
    await coffer("account", "delete", account);
    await assert.rejects(read(), (e) => e.statusCode === 403 || e.statusCode === 404);
  });

  assert.equal((await stopBlob()).code, 0);
  await vault.stop();
});
