// Durability and at-rest secrecy: keys survive a clean restart and a crash
// (SIGKILL in the middle of a burst of concurrent creates: every create
// that was answered 200 must survive), and no private key material is ever
// written in the clear to the data directory or the server log.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import * as h from "./lib/harness.mjs";
import { digest, publicKeyFromSdkJwk, verifyLocally } from "./lib/jwk.mjs";

const T = { timeout: 240000 };
let vault;
let tok;

before(async () => {
  vault = await h.startVault();
  tok = await h.token();
});

after(async () => {
  if (vault) assert.deepEqual(await vault.stop(), { code: 0, signal: null }, "clean exit on SIGTERM");
});

// Verifies that the key `kid` still exists with the same public key and signs.
async function assertSigns(kid, publicJwk, alg) {
  const pathPart = new URL(kid).pathname;
  const g = await h.request("GET", pathPart, { token: tok });
  assert.equal(g.status, 200, `GET ${pathPart}: ${g.status} ${g.text}`);
  assert.equal(g.json.key.kid, kid);
  for (const f of ["n", "e", "x", "y", "crv"]) assert.equal(g.json.key[f], publicJwk[f], `${kid}: ${f} unchanged`);
  const data = Buffer.from(`survives ${kid}`);
  const s = await h.request("POST", `${pathPart}/sign`, { token: tok, body: { alg, value: h.b64u(digest(alg, data)) } });
  assert.equal(s.status, 200, `sign with ${kid}: ${s.status} ${s.text}`);
  const pub = crypto.createPublicKey({ key: { ...publicJwk, crv: publicJwk.crv === "P-256K" ? "secp256k1" : publicJwk.crv, key_ops: undefined, kid: undefined }, format: "jwk" });
  assert.ok(verifyLocally(alg, pub, data, h.fromB64u(s.json.value)), `${kid}: signature verifies`);
}

describe("durability", () => {
  test("keys survive a clean restart (SIGTERM) and stay usable", T, async () => {
    const cred = await h.secretCredential();
    const kc = new KeyClient(h.VAULT_URL, cred, h.clientOptions);
    const rsa = await kc.createRsaKey(h.uniqueName("dur-rsa"), { keySize: 2048 });
    const rsa2 = await kc.rotateKey(rsa.name);
    const ec = await kc.createEcKey(h.uniqueName("dur-ec"), { curve: "P-384", tags: { keep: "me" } });
    const oct = await kc.createOctKey(h.uniqueName("dur-oct"), { keySize: 256 });
    const occ = new CryptographyClient(oct, cred, h.clientOptions);
    const pt = Buffer.from("sealed before the restart");
    const gcm = await occ.encrypt({ algorithm: "A256GCM", plaintext: pt, additionalAuthenticatedData: Buffer.from("a") });
    const rcc = new CryptographyClient(rsa2, cred, h.clientOptions);
    const rct = await rcc.encrypt({ algorithm: "RSA-OAEP-256", plaintext: pt });
    const deleted = await kc.createEcKey(h.uniqueName("dur-del"), { curve: "P-256" });
    await (await kc.beginDeleteKey(deleted.name, { intervalInMs: 200 })).pollUntilDone();

    assert.deepEqual(await vault.stop(), { code: 0, signal: null });
    vault = await h.startVault();

    // Fresh clients: new pipelines, new challenge, tokens from before the
    // restart still valid.
    const kc2 = new KeyClient(h.VAULT_URL, cred, h.clientOptions);
    const g1 = await kc2.getKey(rsa.name, { version: rsa.properties.version });
    assert.deepEqual(Buffer.from(g1.key.n), Buffer.from(rsa.key.n));
    const g2 = await kc2.getKey(rsa.name);
    assert.equal(g2.id, rsa2.id);
    const g3 = await kc2.getKey(ec.name);
    assert.deepEqual(g3.properties.tags, { keep: "me" });
    assert.deepEqual(Buffer.from(g3.key.x), Buffer.from(ec.key.x));
    const occ2 = new CryptographyClient(await kc2.getKey(oct.name), cred, h.clientOptions);
    const d = await occ2.decrypt({ algorithm: "A256GCM", ciphertext: gcm.result, iv: gcm.iv, authenticationTag: gcm.authenticationTag, additionalAuthenticatedData: Buffer.from("a") });
    assert.deepEqual(Buffer.from(d.result), pt);
    const rcc2 = new CryptographyClient(g2, cred, h.clientOptions);
    assert.deepEqual(Buffer.from((await rcc2.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: rct.result })).result), pt);
    const es = await new CryptographyClient(g3, cred, h.clientOptions).signData("ES384", pt);
    assert.ok(verifyLocally("ES384", publicKeyFromSdkJwk(ec.key), pt, es.result));
    const dk = await kc2.getDeletedKey(deleted.name);
    assert.equal(dk.id, deleted.id, "soft-deleted state survives too");
    const versions = (await h.collect(kc2.listPropertiesOfKeyVersions(rsa.name))).map((v) => v.version);
    assert.equal(versions.length, 2);
    // The old token still works against the restarted server.
    assert.equal((await h.request("GET", "/keys", { token: tok })).status, 200, "tokens survive a restart");
  });

  test("SIGKILL mid-burst: every acknowledged create survives and signs", T, async () => {
    const WRITERS = 6;
    const MAX_OPS = 400; // per writer
    const acked = new Map(); // kid -> {jwk, alg}
    let stop = false;
    let errors = 0;
    const unexpected = [];
    const kinds = [
      { body: { kty: "EC", crv: "P-256" }, alg: "ES256" },
      { body: { kty: "EC", crv: "P-256K" }, alg: "ES256K" },
      { body: { kty: "RSA", key_size: 2048 }, alg: "PS256" },
    ];
    const writer = async (w) => {
      for (let i = 0; i < MAX_OPS && !stop; i++) {
        const kind = kinds[(w + i) % kinds.length];
        const name = `burst-${w}-${i}-${process.pid}`;
        let r;
        try {
          r = await h.request("POST", `/keys/${name}/create`, { token: tok, body: kind.body, timeoutMs: 10000 });
          if (r.status === 200) {
            acked.set(r.json.key.kid, { jwk: r.json.key, alg: kind.alg });
            // Every few creates, a new version of an acknowledged key too.
            if (i % 5 === 4) {
              const rot = await h.request("POST", `/keys/${name}/rotate`, { token: tok, timeoutMs: 10000 });
              if (rot.status === 200) acked.set(rot.json.key.kid, { jwk: rot.json.key, alg: kind.alg });
            }
          }
        } catch {
          errors += 1;
          return; // the server is gone
        }
        if (r.status !== 200) unexpected.push(`${name}: ${r.status} ${r.text}`);
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    // Let the burst run, then crash the server while writes are in flight.
    await h.waitFor(() => acked.size >= 60, { timeoutMs: 60000, intervalMs: 20, what: "60 acknowledged writes" });
    const ackedAtKill = acked.size;
    await vault.kill();
    const results = await Promise.allSettled(writers);
    stop = true;
    for (const r of results) if (r.status === "rejected") throw r.reason;
    assert.deepEqual(unexpected, [], "non-200 answers before the crash");
    console.log(`# burst: ${acked.size} writes acknowledged (${ackedAtKill} before SIGKILL was sent), ${errors} failed in flight`);
    assert.ok(acked.size >= 60);

    vault = await h.startVault();
    tok = await h.token();
    for (const [kid, { jwk, alg }] of acked) await assertSigns(kid, jwk, alg);

    // Everything listed after the crash is consistent (no half-written key).
    const listed = [];
    let next = "/keys?maxresults=25";
    for (let pages = 0; next && pages < 200; pages++) {
      const r = await h.request("GET", next, { token: tok, apiVersion: next.includes("api-version") ? null : "7.5" });
      assert.equal(r.status, 200, r.text);
      listed.push(...r.json.value);
      next = r.json.nextLink ?? null;
    }
    for (const item of listed.filter((i) => i.kid.includes("/keys/burst-"))) {
      const g = await h.request("GET", `${new URL(item.kid).pathname}/`, { token: tok });
      assert.equal(g.status, 200, `listed ${item.kid} is readable: ${g.text}`);
    }
    const names = new Set([...acked.keys()].map((k) => k.split("/")[4]));
    for (const n of names) assert.ok(listed.some((i) => i.kid.endsWith(`/keys/${n}`)), `${n} listed`);
  });
});

// ----------------------------------------------------------------------------
// At-rest secrecy scan.

function encodings(secret) {
  // Raw, hex (both cases), and base64/base64url at all three alignments
  // (a secret inside a larger base64 text starts at any byte offset mod 3).
  const out = [["raw", secret], ["hex", Buffer.from(secret.toString("hex"))], ["HEX", Buffer.from(secret.toString("hex").toUpperCase())]];
  for (const [label, enc] of [["base64", "base64"], ["base64url", "base64url"]]) {
    for (let k = 0; k < 3; k++) {
      let s = Buffer.concat([Buffer.alloc(k), secret]).toString(enc);
      s = s.slice(k ? 4 : 0, s.length - 4); // drop the characters the neighbours affect
      out.push([`${label}@${k}`, Buffer.from(s)]);
    }
  }
  return out;
}

// Windows of a secret: long enough to be unique, short enough to catch a
// partial leak.
function windows(secret) {
  if (secret.length <= 32) return [secret];
  const mid = Math.floor(secret.length / 2) - 12;
  return [secret.subarray(0, 24), secret.subarray(mid, mid + 24), secret.subarray(secret.length - 24)];
}

function allFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function scan(files, secrets) {
  const hits = [];
  for (const f of files) {
    let data;
    try { data = fs.readFileSync(f); } catch { continue; } // removed meanwhile (-shm)
    for (const [label, secret] of secrets) {
      for (const w of windows(secret)) {
        for (const [enc, needle] of encodings(w)) {
          if (needle.length >= 16 && data.indexOf(needle) !== -1) hits.push(`${path.relative(h.DIR, f) || f}: ${label} as ${enc}`);
        }
      }
    }
  }
  return [...new Set(hits)];
}

describe("no private key material at rest or in logs", () => {
  test("imported RSA d/p/q and oct k are not found in any file under the data dir", T, async () => {
    // Positive control: the scanner finds every encoding at any offset.
    const probe = crypto.randomBytes(64);
    const ctlDir = fs.mkdtempSync(path.join(h.DIR, "..", "scan-control-"));
    try {
      for (const [enc, needle] of encodings(probe)) {
        const f = path.join(ctlDir, `ctl-${enc}`);
        fs.writeFileSync(f, Buffer.concat([crypto.randomBytes(37), needle, crypto.randomBytes(11)]));
      }
      fs.writeFileSync(path.join(ctlDir, "b64-embedded"), Buffer.from(`{"x":"${Buffer.concat([Buffer.from("ab"), probe, Buffer.from("c")]).toString("base64")}"}`));
      fs.writeFileSync(path.join(ctlDir, "b64url-embedded"), Buffer.from(`{"x":"${Buffer.concat([Buffer.from("a"), probe]).toString("base64url")}"}`));
      const ctlFiles = allFiles(ctlDir);
      for (const f of ctlFiles) {
        assert.ok(scan([f], [["probe", probe]]).length > 0, `scanner positive control: ${path.basename(f)}`);
      }
      assert.deepEqual(scan(ctlFiles, [["other", crypto.randomBytes(64)]]), [], "scanner negative control");
    } finally {
      fs.rmSync(ctlDir, { recursive: true, force: true });
    }

    const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = privateKey.export({ format: "jwk" });
    const k = crypto.randomBytes(32);
    const rn = h.uniqueName("scan-rsa");
    const on = h.uniqueName("scan-oct");
    const r1 = await h.request("PUT", `/keys/${rn}`, { token: tok, body: { key: { ...jwk, key_ops: ["sign", "verify", "decrypt", "encrypt"] } } });
    assert.equal(r1.status, 200, r1.text);
    const r2 = await h.request("PUT", `/keys/${on}`, { token: tok, body: { key: { kty: "oct", k: h.b64u(k) } } });
    assert.equal(r2.status, 200, r2.text);
    // Use them (sign, wrap), back them up, rotate: every code path that
    // touches key material gets a chance to write it somewhere.
    const s = await h.request("POST", `/keys/${rn}/${r1.json.key.kid.split("/").pop()}/sign`, { token: tok, body: { alg: "RS256", value: h.b64u(digest("RS256", Buffer.from("x"))) } });
    assert.equal(s.status, 200, s.text);
    const w = await h.request("POST", `/keys/${on}//wrapkey`, { token: tok, body: { alg: "A256KW", value: h.b64u(crypto.randomBytes(32)) } });
    assert.equal(w.status, 200, w.text);
    assert.equal((await h.request("POST", `/keys/${rn}/backup`, { token: tok })).status, 200);
    assert.equal((await h.request("POST", `/keys/${on}/backup`, { token: tok })).status, 200);
    // Bad requests with the key in them end up in error paths (and logs).
    await h.request("PUT", `/keys/${h.uniqueName("scan-bad")}`, { token: tok, body: { key: { ...jwk, kty: "EC" } } });
    await h.request("PUT", `/keys/${h.uniqueName("scan-bad")}`, { token: tok, body: { key: { kty: "oct", k: h.b64u(k), key_ops: ["bogus"] }, attributes: { exp: "x" } } });

    const secrets = [
      ["RSA d", Buffer.from(jwk.d, "base64url")],
      ["RSA p", Buffer.from(jwk.p, "base64url")],
      ["RSA q", Buffer.from(jwk.q, "base64url")],
      ["RSA dp", Buffer.from(jwk.dp, "base64url")],
      ["RSA dq", Buffer.from(jwk.dq, "base64url")],
      ["RSA qi", Buffer.from(jwk.qi, "base64url")],
      ["oct k", k],
    ];
    const boot = h.bootstrap();
    const logSecrets = [
      ["client_secret", Buffer.from(boot.client_secret)],
      ["identity_header", Buffer.from(boot.identity_header)],
      ["access token signature", Buffer.from(tok.split(".")[2])],
    ];

    // The store: vault.db, or (scale-out mode) PostgreSQL's whole data
    // directory, its WAL included, and the second front end's directory.
    const isStore = h.PG_DATA ? (f) => f.startsWith(h.PG_DATA + path.sep) : (f) => path.basename(f).startsWith("vault.db");
    const check = (when) => {
      const files = [h.DIR, h.DIR_B, h.PG_DATA].filter(Boolean).flatMap((d) => allFiles(d));
      assert.ok(files.some((f) => h.PG_DATA ? f.includes(`${path.sep}base${path.sep}`) : path.basename(f) === "vault.db"),
        "the store's files scanned");
      assert.ok(files.includes(h.LOG_FILE), "server log scanned");
      const hits = scan(files, secrets);
      assert.deepEqual(hits, [], `${when}: private key material found in the clear`);
      assert.deepEqual(scan([h.LOG_FILE], logSecrets), [], `${when}: credentials found in the server log`);
      const pubHits = scan(files.filter(isStore), [["RSA n", Buffer.from(jwk.n, "base64url")]]);
      console.log(`# ${when}: scanned ${files.length} files; public modulus n found in the store: ${pubHits.length ? pubHits.join(", ") : "no (sealed too)"}`);
      return files;
    };
    // While running (WAL not checkpointed), after a crash, after a clean stop.
    check("while running");
    await vault.kill();
    check("after SIGKILL");
    vault = await h.startVault();
    assert.deepEqual(await vault.stop(), { code: 0, signal: null });
    check("after SIGTERM");
    vault = await h.startVault();
    tok = await h.token();
    // The imported key still works after all that (the scan looked at real data).
    const g = await h.request("GET", `/keys/${rn}/`, { token: tok });
    assert.equal(g.status, 200);
    assert.equal(g.json.key.n, jwk.n);
    assert.equal(g.json.key.d, undefined);
  });
});
