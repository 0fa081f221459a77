// Acceptance suite for HSM-protected keys: the unmodified @azure/keyvault-keys
// SDK against coffer-vault on its default seal, a SoftHSM2 token under the
// data directory.  RSA-HSM, EC-HSM and oct-HSM keys are created, used for
// every operation, rotated, backed up and restored, deleted, recovered and
// purged (purge destroys their token objects, counted with pkcs11-tool from
// outside the vault); BYOK transfer blobs built here with node:crypto alone
// import RSA, EC and AES keys that then verify against the originals; and
// every BYOK error case is refused with nothing stored.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import * as h from "./lib/harness.mjs";
import { transferBlob } from "./lib/byok.mjs";
import { assertNoPrivate, digest, isRestError, publicKeyFromSdkJwk, sdkJwkFromNodeKey, verifyLocally } from "./lib/jwk.mjs";

const T = { timeout: 300000 };
let vault;
let kc;
let cred;

// Every operation goes to the vault (the SDK would otherwise do public-key
// operations itself with the JWK).
function remote(key) {
  const cc = new CryptographyClient(key.id, cred, h.clientOptions);
  assert.ok(cc.remoteProvider, "SDK internals changed: CryptographyClient.remoteProvider missing");
  cc.providers = [cc.remoteProvider];
  return cc;
}

// A key operation sent as it is (the SDK refuses operations a key's
// key_ops lack before asking the vault).
async function rawOp(key, op, body) {
  const r = await h.request("POST", `/keys/${key.name}/${key.properties.version}/${op}`, { token: await h.token(), body });
  return r;
}

// Objects of this vault's HSM keys in its token, counted from outside the
// vault with pkcs11-tool (the root key has its own label).
function tokenObjects() {
  const hsm = path.join(h.DIR, "hsm");
  const out = execFileSync("pkcs11-tool", [
    "--module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label", "coffer-vault",
    "--login", "--pin", fs.readFileSync(path.join(hsm, "user.pin"), "utf8").trim(), "--list-objects",
  ], { env: { ...process.env, SOFTHSM2_CONF: path.join(hsm, "softhsm2.conf") }, encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"] });
  return out.split("\n").filter((l) => /^\s*label:\s+coffer-vault [0-9a-f-]{36}\s*$/.test(l)).length;
}

before(async () => {
  vault = await h.startVault();
  cred = await h.secretCredential();
  kc = new KeyClient(h.VAULT_URL, cred, h.clientOptions);
});

after(async () => {
  if (vault) assert.deepEqual(await vault.stop(), { code: 0, signal: null }, "clean exit on SIGTERM");
});

const SIG = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "P-256K": "ES256K" };
const FIELD = { "P-256": 32, "P-384": 48, "P-521": 66, "P-256K": 32 };

describe("HSM-protected keys", () => {
  test("the vault is sealed by its SoftHSM2 token", T, async () => {
    const seal = JSON.parse(fs.readFileSync(path.join(h.DIR, "seal.json"), "utf8"));
    assert.equal(seal.seal, "pkcs11");
    assert.equal(seal.token, "coffer-vault");
    assert.equal(fs.existsSync(path.join(h.DIR, "seal.key")), false, "no file seal");
    assert.equal(h.bootstrap().seal, "pkcs11");
  });

  test("RSA-HSM 2048/3072/4096: create, sign/verify, encrypt/decrypt, wrap/unwrap in the token", T, async () => {
    for (const size of [2048, 3072, 4096]) {
      const k = await kc.createRsaKey(h.uniqueName(`rsahsm${size}`), { keySize: size, hsm: true });
      assert.equal(k.keyType, "RSA-HSM");
      assert.equal(k.key.kty, "RSA-HSM");
      assert.equal(k.key.n.length, size / 8);
      assertNoPrivate(k);
      assert.deepEqual([...k.keyOperations].sort(), ["decrypt", "encrypt", "sign", "unwrapKey", "verify", "wrapKey"]);
      const cc = remote(k);
      const pub = publicKeyFromSdkJwk(k.key);
      const data = crypto.randomBytes(100);
      for (const alg of size === 2048 ? ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] : ["RS256", "PS256"]) {
        const s = await cc.sign(alg, digest(alg, data));
        assert.equal(s.result.length, size / 8);
        assert.ok(verifyLocally(alg, pub, data, s.result), `${alg} verifies with node`);
        assert.equal((await cc.verify(alg, digest(alg, data), s.result)).result, true);
        const bad = Buffer.from(s.result);
        bad[10] ^= 1;
        assert.equal((await cc.verify(alg, digest(alg, data), bad)).result, false);
      }
      const secret = crypto.randomBytes(32);
      for (const alg of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
        const enc = await cc.encrypt({ algorithm: alg, plaintext: secret });
        assert.deepEqual(Buffer.from((await cc.decrypt({ algorithm: alg, ciphertext: enc.result })).result), secret);
        const w = await cc.wrapKey(alg, secret);
        assert.deepEqual(Buffer.from((await cc.unwrapKey(alg, w.result)).result), secret);
      }
      // Ciphertext made outside the vault (node's OAEP-256) decrypts inside.
      const outside = crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, secret);
      assert.deepEqual(Buffer.from((await cc.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: outside })).result), secret);
      const tampered = Buffer.from(outside);
      tampered[5] ^= 0x40;
      await assert.rejects(cc.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: tampered }), isRestError(400, "BadParameter"));
      await assert.rejects(cc.decrypt({ algorithm: "RSA-OAEP", ciphertext: tampered }), isRestError(400, "BadParameter"));
    }
  });

  test("EC-HSM on every curve: create, sign in the token, verify in the token and with node", T, async () => {
    for (const curve of ["P-256", "P-384", "P-521", "P-256K"]) {
      const k = await kc.createEcKey(h.uniqueName(`echsm-${curve}`), { curve, hsm: true });
      assert.equal(k.keyType, "EC-HSM");
      assert.equal(k.key.crv, curve);
      assert.equal(k.key.x.length, FIELD[curve]);
      assertNoPrivate(k);
      const alg = SIG[curve];
      const cc = remote(k);
      const data = crypto.randomBytes(64);
      const s = await cc.sign(alg, digest(alg, data));
      assert.equal(s.result.length, 2 * FIELD[curve]);
      assert.ok(verifyLocally(alg, publicKeyFromSdkJwk(k.key), data, s.result), `${alg} verifies with node`);
      assert.equal((await cc.verify(alg, digest(alg, data), s.result)).result, true);
      assert.equal((await cc.verify(alg, digest(alg, crypto.randomBytes(8)), s.result)).result, false);
      const wrong = curve === "P-256" ? "ES384" : "ES256";
      await assert.rejects(cc.sign(wrong, digest(wrong, data)), isRestError(400, "BadParameter"));
      await assert.rejects(cc.sign("RS256", digest("RS256", data)), isRestError(400, "BadParameter"));
    }
  });

  test("oct-HSM 128/192/256: AES-GCM, AES-CBC(PAD) and AES-KW in the token", T, async () => {
    for (const size of [128, 192, 256]) {
      const k = await kc.createOctKey(h.uniqueName(`octhsm${size}`), { keySize: size, hsm: true });
      assert.equal(k.keyType, "oct-HSM");
      assertNoPrivate(k);
      const cc = remote(k);
      const pt = crypto.randomBytes(77);
      const aad = Buffer.from("associated");
      const gcm = `A${size}GCM`;
      const e = await cc.encrypt({ algorithm: gcm, plaintext: pt, additionalAuthenticatedData: aad });
      assert.equal(e.iv.length, 12);
      assert.equal(e.authenticationTag.length, 16);
      const d = await cc.decrypt({ algorithm: gcm, ciphertext: e.result, iv: e.iv, authenticationTag: e.authenticationTag, additionalAuthenticatedData: aad });
      assert.deepEqual(Buffer.from(d.result), pt);
      const badTag = Buffer.from(e.authenticationTag);
      badTag[0] ^= 1;
      await assert.rejects(cc.decrypt({ algorithm: gcm, ciphertext: e.result, iv: e.iv, authenticationTag: badTag, additionalAuthenticatedData: aad }),
        isRestError(400, "BadParameter"));
      await assert.rejects(cc.decrypt({ algorithm: gcm, ciphertext: e.result, iv: e.iv, authenticationTag: e.authenticationTag }),
        isRestError(400, "BadParameter"), "the AAD is bound");
      for (const cbc of [`A${size}CBCPAD`, `A${size}CBC`]) {
        const iv = crypto.randomBytes(16);
        const input = cbc.endsWith("PAD") ? pt : pt.subarray(0, 64);
        const c = await cc.encrypt({ algorithm: cbc, plaintext: input, iv });
        assert.deepEqual(Buffer.from((await cc.decrypt({ algorithm: cbc, ciphertext: c.result, iv })).result), input);
      }
      const kw = `A${size}KW`;
      const key = crypto.randomBytes(32);
      const w = await cc.wrapKey(kw, key);
      assert.equal(w.result.length, 40);
      assert.deepEqual(Buffer.from((await cc.unwrapKey(kw, w.result)).result), key);
      const bad = Buffer.from(w.result);
      bad[3] ^= 1;
      await assert.rejects(cc.unwrapKey(kw, bad), isRestError(400, "BadParameter"));
      await assert.rejects(cc.encrypt({ algorithm: size === 256 ? "A128GCM" : "A256GCM", plaintext: pt }), isRestError(400, "BadParameter"));
    }
  });

  test("key_ops are enforced, and follow an update", T, async () => {
    const k = await kc.createRsaKey(h.uniqueName("rsaops"), { hsm: true, keyOps: ["verify"] });
    const value = h.b64u(digest("RS256", Buffer.from("x")));
    const denied = await rawOp(k, "sign", { alg: "RS256", value });
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.error.innererror.code, "KeyOperationForbidden");
    await kc.updateKeyProperties(k.name, k.properties.version, { keyOps: ["sign", "verify"] });
    const s = await remote(await kc.getKey(k.name)).sign("RS256", digest("RS256", Buffer.from("x")));
    assert.ok(verifyLocally("RS256", publicKeyFromSdkJwk(k.key), Buffer.from("x"), s.result));
  });

  test("rotate: new versions are HSM keys of the same shape; old versions keep working", T, async () => {
    const name = h.uniqueName("rothsm");
    const v1 = await kc.createEcKey(name, { curve: "P-384", hsm: true });
    const v2 = await kc.rotateKey(name);
    assert.equal(v2.keyType, "EC-HSM");
    assert.equal(v2.key.crv, "P-384");
    assert.notEqual(v2.properties.version, v1.properties.version);
    assert.notDeepEqual(Buffer.from(v2.key.x), Buffer.from(v1.key.x));
    const data = Buffer.from("rotation");
    for (const v of [v1, v2]) {
      const s = await remote(v).sign("ES384", digest("ES384", data));
      assert.ok(verifyLocally("ES384", publicKeyFromSdkJwk(v.key), data, s.result));
    }
  });

  test("backup, delete, purge (token objects destroyed), restore (same keys, new token objects)", T, async () => {
    const name = h.uniqueName("bakhsm");
    const v1 = await kc.createRsaKey(name, { hsm: true });
    const v2 = await kc.rotateKey(name);
    const before = tokenObjects();
    const blob = await kc.backupKey(name);
    assert.ok(blob.length > 1000);
    assert.equal(Buffer.from(blob).indexOf(Buffer.from(v2.key.n)), -1, "the backup is opaque");
    const poller = await kc.beginDeleteKey(name);
    await poller.pollUntilDone();
    assert.equal(tokenObjects(), before, "soft delete keeps the token objects");
    const rpoller = await kc.beginRecoverDeletedKey(name);
    await rpoller.pollUntilDone();
    const again = await kc.getKey(name);
    assert.equal(again.id, v2.id);
    await (await kc.beginDeleteKey(name)).pollUntilDone();
    await kc.purgeDeletedKey(name);
    assert.equal(tokenObjects(), before - 4, "purge destroys both versions' private and public objects");
    await assert.rejects(kc.getKey(name), isRestError(404, "KeyNotFound"));
    const restored = await kc.restoreKeyBackup(blob);
    assert.equal(restored.keyType, "RSA-HSM");
    assert.equal(restored.id, v2.id);
    assert.equal(tokenObjects(), before, "restore unwraps both versions into the token");
    const data = Buffer.from("after restore");
    for (const v of [v1, v2]) {
      const s = await remote(v).sign("PS256", digest("PS256", data));
      assert.ok(verifyLocally("PS256", publicKeyFromSdkJwk(v.key), data, s.result), "the same key as before");
    }
    await assert.rejects(kc.restoreKeyBackup(blob), isRestError(409));
    const cut = Buffer.from(blob).subarray(0, blob.length - 5);
    await (await kc.beginDeleteKey(name)).pollUntilDone();
    await kc.purgeDeletedKey(name);
    await assert.rejects(kc.restoreKeyBackup(cut), isRestError(400, "BadParameter"));
  });

  test("plaintext import with hardwareProtected lands in the token", T, async () => {
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const { sdk } = sdkJwkFromNodeKey(privateKey);
    const k = await kc.importKey(h.uniqueName("imphsm"), sdk, { hardwareProtected: true });
    assert.equal(k.keyType, "EC-HSM");
    assertNoPrivate(k);
    const data = Buffer.from("imported");
    const s = await remote(k).sign("ES256", digest("ES256", data));
    assert.ok(crypto.verify("sha256", data, { key: crypto.createPublicKey(privateKey), dsaEncoding: "ieee-p1363" }, Buffer.from(s.result)));
    const aes = crypto.randomBytes(32);
    const o = await kc.importKey(h.uniqueName("impaes"), { kty: "oct-HSM", k: aes, keyOps: ["encrypt", "decrypt"] });
    assert.equal(o.keyType, "oct-HSM");
    const e = await remote(o).encrypt({ algorithm: "A256GCM", plaintext: Buffer.from("hello") });
    const d = crypto.createDecipheriv("aes-256-gcm", aes, Buffer.from(e.iv));
    d.setAuthTag(Buffer.from(e.authenticationTag));
    assert.equal(Buffer.concat([d.update(Buffer.from(e.result)), d.final()]).toString(), "hello");
  });
});

describe("bring your own key", () => {
  let kek;
  before(async () => {
    kek = await kc.createRsaKey(h.uniqueName("kek"), { hsm: true, keySize: 3072, keyOps: ["import"] });
  });

  test("a key-exchange key allows import and nothing else", T, async () => {
    assert.equal(kek.keyType, "RSA-HSM");
    assert.deepEqual([...kek.keyOperations], ["import"]);
    const ops = [
      ["sign", { alg: "RS256", value: h.b64u(digest("RS256", Buffer.from("x"))) }],
      ["decrypt", { alg: "RSA-OAEP", value: h.b64u(Buffer.alloc(384, 1)) }],
      ["unwrapkey", { alg: "RSA-OAEP", value: h.b64u(Buffer.alloc(384, 1)) }],
      ["encrypt", { alg: "RSA-OAEP", value: h.b64u(Buffer.alloc(16, 1)) }],
    ];
    for (const [op, body] of ops) {
      const r = await rawOp(kek, op, body);
      assert.equal(r.status, 403, `${op}: ${r.text}`);
      assert.equal(r.json.error.innererror.code, "KeyOperationForbidden");
    }
  });

  test("RSA, EC and AES keys imported through transfer blobs are the originals", T, async () => {
    const data = Buffer.from("byok");
    for (const size of [2048, 4096]) {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: size });
      const k = await kc.importKey(h.uniqueName(`byokrsa${size}`), { kty: "RSA-HSM", t: transferBlob(kek, privateKey), keyOps: ["sign", "verify"] });
      assert.equal(k.keyType, "RSA-HSM");
      assert.deepEqual(Buffer.from(k.key.n), Buffer.from(publicKey.export({ format: "jwk" }).n, "base64url"));
      assertNoPrivate(k);
      const s = await remote(k).sign("RS256", digest("RS256", data));
      assert.ok(crypto.verify("sha256", data, publicKey, Buffer.from(s.result)), "signature verifies with the original public key");
    }
    for (const [curve, node] of [["P-256", "P-256"], ["P-384", "P-384"], ["P-521", "P-521"], ["P-256K", "secp256k1"]]) {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: node });
      const k = await kc.importKey(h.uniqueName(`byokec${curve}`), { kty: "EC-HSM", crv: curve, t: transferBlob(kek, privateKey) });
      assert.equal(k.keyType, "EC-HSM");
      const jwk = publicKey.export({ format: "jwk" });
      assert.equal(Buffer.from(k.key.x).toString("base64url"), jwk.x, "x computed in the token");
      assert.equal(Buffer.from(k.key.y).toString("base64url"), jwk.y, "y computed in the token");
      const alg = SIG[curve];
      const s = await remote(k).sign(alg, digest(alg, data));
      assert.ok(verifyLocally(alg, publicKey, data, s.result));
    }
    for (const bytes of [16, 24, 32]) {
      const aes = crypto.randomBytes(bytes);
      const k = await kc.importKey(h.uniqueName(`byokaes${bytes}`), { kty: "oct-HSM", t: transferBlob(kek, aes), keyOps: ["encrypt", "decrypt", "wrapKey", "unwrapKey"] });
      assert.equal(k.keyType, "oct-HSM");
      const e = await remote(k).encrypt({ algorithm: `A${bytes * 8}GCM`, plaintext: data });
      const d = crypto.createDecipheriv(`aes-${bytes * 8}-gcm`, aes, Buffer.from(e.iv));
      d.setAuthTag(Buffer.from(e.authenticationTag));
      assert.deepEqual(Buffer.concat([d.update(Buffer.from(e.result)), d.final()]), data, "the original AES key");
    }
  });

  test("BYOK errors: wrong KEK, KEK without import, tampered, wrong kty, truncated; nothing stored", T, async () => {
    const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const other = await kc.createRsaKey(h.uniqueName("kek2"), { hsm: true, keyOps: ["import"] });
    const noImport = await kc.createRsaKey(h.uniqueName("kek3"), { hsm: true, keyOps: ["sign", "verify"] });
    const soft = await kc.createRsaKey(h.uniqueName("kek4"), { keyOps: ["import"] });
    const cases = [
      ["wrapped for another KEK, naming this one", { kty: "RSA-HSM", t: transferBlob(other, privateKey, { kid: kek.id }) }, 400, "BadParameter"],
      ["KEK without import", { kty: "RSA-HSM", t: transferBlob(noImport, privateKey) }, 403, "Forbidden"],
      ["software KEK", { kty: "RSA-HSM", t: transferBlob(soft, privateKey) }, 400, "BadParameter"],
      ["KEK of another vault", { kty: "RSA-HSM", t: transferBlob(kek, privateKey, { kid: "https://elsewhere.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef" }) }, 400, "BadParameter"],
      ["tampered RSA part", { kty: "RSA-HSM", t: transferBlob(kek, privateKey, { tamper: (c) => { c[7] ^= 1; return c; } }) }, 400, "BadParameter"],
      ["tampered wrapped key", { kty: "RSA-HSM", t: transferBlob(kek, privateKey, { tamper: (c) => { c[c.length - 9] ^= 1; return c; } }) }, 400, "BadParameter"],
      ["truncated", { kty: "RSA-HSM", t: transferBlob(kek, privateKey, { tamper: (c) => c.subarray(0, c.length - 16) }) }, 400, "BadParameter"],
      ["not a transfer blob", { kty: "RSA-HSM", t: Buffer.from("{not json") }, 400, "BadParameter"],
      ["wrong kty: EC-HSM for an RSA key", { kty: "EC-HSM", crv: "P-256", t: transferBlob(kek, privateKey) }, 400, "BadParameter"],
      ["wrong kty: software RSA with key_hsm", { kty: "RSA", t: transferBlob(kek, privateKey) }, 400, "BadParameter"],
      ["wrong kty: oct-HSM for an RSA key", { kty: "oct-HSM", t: transferBlob(kek, privateKey) }, 400, "BadParameter"],
    ];
    const before = tokenObjects();
    for (const [what, jwk, status, code] of cases) {
      const name = h.uniqueName("byokbad");
      await assert.rejects(kc.importKey(name, jwk), isRestError(status, code), what);
      await assert.rejects(kc.getKey(name), isRestError(404, "KeyNotFound"), `${what}: nothing stored`);
    }
    assert.equal(tokenObjects(), before, "no token object left behind by a refused import");
  });
});
