// Acceptance suite: the unmodified @azure/keyvault-keys and @azure/identity
// SDKs against coffer-vault over HTTPS (local CA via NODE_EXTRA_CA_CERTS),
// with a client-secret credential and with DefaultAzureCredential on the
// App Service managed identity.  Cross-checks outside the vault use
// node:crypto and the openssl CLI.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import * as h from "./lib/harness.mjs";
import { assertNoPrivate, digest, isRestError, p1363ToDer, publicKeyFromSdkJwk, sdkJwkFromNodeKey, verifyLocally } from "./lib/jwk.mjs";

const T = { timeout: 180000 };
let vault;

// Counts the HTTP requests a client sends (to tell local from remote paths).
function counter() {
  const c = { n: 0, paths: [] };
  c.policy = {
    position: "perCall",
    policy: {
      name: "coffer-test-counter",
      sendRequest(req, next) {
        c.n += 1;
        c.paths.push(`${req.method} ${new URL(req.url).pathname}`);
        return next(req);
      },
    },
  };
  return c;
}

function assertKid(key, name) {
  assert.match(key.id, new RegExp(`^${h.VAULT_URL.replace(/\./g, "\\.")}/keys/${name}/[0-9a-zA-Z]{16,64}$`));
  assert.equal(key.name, name);
  assert.equal(key.properties.vaultUrl, h.VAULT_URL);
  assert.ok(key.properties.version);
}

// Forces a CryptographyClient onto its remote provider only (the SDK has no
// option for it; a 403 on GET key would do the same).
async function remoteOnly(cc) {
  assert.ok(cc.remoteProvider, "SDK internals changed: CryptographyClient.remoteProvider missing");
  assert.equal(cc.providers, undefined, "SDK internals changed: CryptographyClient.providers");
  cc.providers = [cc.remoteProvider];
  return cc;
}

// Drops undefined members (the SDK maps absent triggers to undefined).
const plain = (o) => JSON.parse(JSON.stringify(o));

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), "coffer-ossl-"));
}

before(async () => {
  vault = await h.startVault();
});

after(async () => {
  if (vault) assert.deepEqual(await vault.stop(), { code: 0, signal: null }, "clean exit on SIGTERM");
});

const CREDENTIALS = [
  ["ClientSecretCredential", () => h.secretCredential(), { full: true }],
  ["DefaultAzureCredential (managed identity)", () => h.managedIdentityCredential(), { full: false }],
];

for (const [label, makeCredential, { full }] of CREDENTIALS) {
  describe(`keys with ${label}`, () => {
    let cred;
    let kc;
    before(async () => {
      cred = await makeCredential();
      kc = new KeyClient(h.VAULT_URL, cred, h.clientOptions);
    });

    test("credential gets a vault token", T, async () => {
      const t = await cred.getToken("https://vault.azure.net/.default");
      assert.ok(t?.token);
      assert.ok(t.expiresOnTimestamp > Date.now() + 60000);
      const claims = JSON.parse(Buffer.from(t.token.split(".")[1], "base64url"));
      const boot = h.bootstrap();
      if (full) {
        assert.equal(claims.oid, boot.object_id, "the administrator service principal");
      } else {
        // The token came from the managed identity endpoint, not a secret.
        assert.match(fs.readFileSync(h.LOG_FILE, "utf8"), /GET \/msi\/token status=200/);
        if (boot.identity_object_id) assert.equal(claims.oid, boot.identity_object_id, "the managed identity");
      }
      assert.equal(claims.aud, "https://vault.azure.net");
      assert.equal(claims.tid, boot.tenant_id);
    });

    test("create RSA keys with publicExponent", T, async () => {
      for (const size of full ? [2048, 3072, 4096] : [2048]) {
        const name = h.uniqueName(`rsa${size}`);
        const k = await kc.createRsaKey(name, { keySize: size, publicExponent: 65537 });
        assertKid(k, name);
        assert.equal(k.keyType, "RSA");
        assert.equal(k.key.n.length, size / 8, `modulus of ${size} bits`);
        assert.deepEqual(Buffer.from(k.key.e), Buffer.from([1, 0, 1]));
        assert.equal(k.properties.enabled, true);
        assert.ok(k.properties.createdOn instanceof Date);
        assertNoPrivate(k);
      }
      // Key Vault's defaults: every RSA operation, recoverable for 90 days.
      const def = await kc.createRsaKey(h.uniqueName("rsadef"));
      assert.equal(def.key.n.length, 256, "default RSA size is 2048");
      assert.deepEqual([...def.keyOperations].sort(), ["decrypt", "encrypt", "sign", "unwrapKey", "verify", "wrapKey"]);
      assert.equal(def.properties.recoveryLevel, "Recoverable+Purgeable");
      assert.equal(def.properties.recoverableDays, 90);
      // createKey with kty "RSA" (generic entry point), explicit key_ops.
      const name = h.uniqueName("rsagen");
      const k = await kc.createKey(name, "RSA", { keySize: 2048, keyOps: ["sign", "verify"] });
      assert.deepEqual([...k.keyOperations].sort(), ["sign", "verify"]);
    });

    test("create EC keys on every curve", T, async () => {
      const sizes = { "P-256": 32, "P-384": 48, "P-521": 66, "P-256K": 32 };
      for (const [curve, len] of Object.entries(sizes)) {
        const name = h.uniqueName(`ec-${curve}`);
        const k = await kc.createEcKey(name, { curve });
        assertKid(k, name);
        assert.equal(k.keyType, "EC");
        assert.equal(k.key.crv, curve);
        assert.equal(k.key.x.length, len);
        assert.equal(k.key.y.length, len);
        assertNoPrivate(k);
        assert.deepEqual([...k.keyOperations].sort(), ["sign", "verify"]);
        // The point is on the curve: node accepts it as a public key.
        publicKeyFromSdkJwk(k.key);
      }
    });

    test("create oct keys 128/192/256 (createOctKey and createKey)", T, async () => {
      for (const size of [128, 192, 256]) {
        const a = await kc.createOctKey(h.uniqueName(`oct${size}`), { keySize: size });
        assert.equal(a.keyType, "oct");
        assertNoPrivate(a);
        const b = await kc.createKey(h.uniqueName(`octg${size}`), "oct", { keySize: size });
        assert.equal(b.keyType, "oct");
        assertNoPrivate(b);
      }
    });

    test("get a version and the latest; versions list", T, async () => {
      const name = h.uniqueName("ver");
      const v1 = await kc.createEcKey(name, { curve: "P-256" });
      const v2 = await kc.createEcKey(name, { curve: "P-256" });
      assert.notEqual(v1.properties.version, v2.properties.version);
      const latest = await kc.getKey(name);
      assert.equal(latest.id, v2.id);
      const old = await kc.getKey(name, { version: v1.properties.version });
      assert.equal(old.id, v1.id);
      assert.deepEqual(Buffer.from(old.key.x), Buffer.from(v1.key.x));
      const versions = await h.collect(kc.listPropertiesOfKeyVersions(name));
      assert.deepEqual(versions.map((p) => p.version).sort(), [v1.properties.version, v2.properties.version].sort());
      for (const p of versions) {
        assert.equal(p.name, name);
        assert.match(p.id, new RegExp(`/keys/${name}/${p.version}$`));
      }
      await assert.rejects(kc.getKey(name, { version: "0123456789abcdef0123456789abcdef" }), isRestError(404, "KeyNotFound"));
      await assert.rejects(kc.getKey(h.uniqueName("missing")), isRestError(404, "KeyNotFound"));
    });

    test("update properties: enabled, notBefore, expiresOn, tags, keyOps", T, async () => {
      const name = h.uniqueName("upd");
      const k = await kc.createRsaKey(name, { keySize: 2048, tags: { a: "1" } });
      assert.deepEqual(k.properties.tags, { a: "1" });
      const nbf = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600000);
      const exp = new Date(Math.floor(Date.now() / 1000) * 1000 + 86400000);
      const u = await kc.updateKeyProperties(name, k.properties.version, {
        enabled: false, notBefore: nbf, expiresOn: exp, tags: { env: "test", b: "2" }, keyOps: ["verify", "encrypt"],
      });
      assert.equal(u.id, k.id);
      assert.equal(u.properties.enabled, false);
      assert.equal(u.properties.notBefore.getTime(), nbf.getTime());
      assert.equal(u.properties.expiresOn.getTime(), exp.getTime());
      assert.deepEqual(u.properties.tags, { env: "test", b: "2" });
      assert.deepEqual([...u.keyOperations].sort(), ["encrypt", "verify"]);
      const g = await kc.getKey(name);
      assert.equal(g.properties.enabled, false);
      assert.equal(g.properties.expiresOn.getTime(), exp.getTime());
      assert.deepEqual(g.properties.tags, { env: "test", b: "2" });
      assert.ok(g.properties.updatedOn.getTime() >= g.properties.createdOn.getTime());
      // Versionless update targets the latest version.
      const u2 = await kc.updateKeyProperties(name, { enabled: true });
      assert.equal(u2.properties.enabled, true);
      assert.deepEqual(u2.properties.tags, { env: "test", b: "2" }, "an update without tags keeps them");
    });

    test("soft delete, get/list deleted, recover, purge", T, async () => {
      const name = h.uniqueName("del");
      const k = await kc.createEcKey(name, { curve: "P-256" });
      const poller = await kc.beginDeleteKey(name, { intervalInMs: 200 });
      const deleted = await poller.pollUntilDone();
      assert.equal(deleted.name, name);
      assert.equal(deleted.id, k.id);
      assert.equal(deleted.properties.recoveryId, `${h.VAULT_URL}/deletedkeys/${name}`);
      assert.ok(deleted.properties.deletedOn instanceof Date);
      assert.equal(deleted.properties.scheduledPurgeDate.getTime() - deleted.properties.deletedOn.getTime(), 90 * 86400000,
        "purge scheduled after the default 90-day retention");
      await assert.rejects(kc.getKey(name), isRestError(404, "KeyNotFound"));
      const got = await kc.getDeletedKey(name);
      assert.equal(got.id, k.id);
      const listedDeleted = (await h.collect(kc.listDeletedKeys())).filter((d) => d.name === name);
      assert.equal(listedDeleted.length, 1, "the deleted key is listed once");
      assert.equal(listedDeleted[0].properties.recoveryId, `${h.VAULT_URL}/deletedkeys/${name}`);
      const inKeys = (await h.collect(kc.listPropertiesOfKeys())).some((p) => p.name === name);
      assert.ok(!inKeys, "a deleted key is not listed among keys");

      const rec = await (await kc.beginRecoverDeletedKey(name, { intervalInMs: 200 })).pollUntilDone();
      assert.equal(rec.id, k.id);
      assert.equal((await kc.getKey(name)).id, k.id);
      await assert.rejects(kc.getDeletedKey(name), isRestError(404));

      await (await kc.beginDeleteKey(name, { intervalInMs: 200 })).pollUntilDone();
      await kc.purgeDeletedKey(name);
      await assert.rejects(kc.getDeletedKey(name), isRestError(404));
      await assert.rejects(kc.getKey(name), isRestError(404));
      const again = await kc.createEcKey(name, { curve: "P-256" });
      assert.notEqual(again.id, k.id, "a purged name can be reused");
    });

    test("backup, delete+purge, restore; tampered backup refused", T, async () => {
      const name = h.uniqueName("bak");
      const k = await kc.createRsaKey(name, { keySize: 2048 });
      const k2 = await kc.rotateKey(name);
      const backup = await kc.backupKey(name);
      assert.ok(backup instanceof Uint8Array && backup.length > 64);
      assert.equal(Buffer.from(backup).indexOf(Buffer.from(k.key.n)), -1, "a backup is not plaintext");
      await assert.rejects(kc.restoreKeyBackup(backup), isRestError(409), "restore onto an existing key");
      await (await kc.beginDeleteKey(name, { intervalInMs: 200 })).pollUntilDone();
      await kc.purgeDeletedKey(name);

      const tampered = Buffer.from(backup);
      tampered[Math.floor(tampered.length / 2)] ^= 0x01;
      await assert.rejects(kc.restoreKeyBackup(tampered), isRestError(400));
      const lastByte = Buffer.from(backup);
      lastByte[lastByte.length - 1] ^= 0x80;
      await assert.rejects(kc.restoreKeyBackup(lastByte), isRestError(400), "last byte flipped");
      await assert.rejects(kc.restoreKeyBackup(backup.subarray(0, backup.length - 16)), isRestError(400), "truncated");
      await assert.rejects(kc.restoreKeyBackup(crypto.randomBytes(backup.length)), isRestError(400), "random bytes");
      await assert.rejects(kc.getKey(name), isRestError(404), "a refused restore creates nothing");

      const r = await kc.restoreKeyBackup(backup);
      assert.equal(r.name, name);
      assert.equal(r.id, k2.id, "the latest version comes back");
      assert.deepEqual(Buffer.from(r.key.n), Buffer.from(k2.key.n));
      const old = await kc.getKey(name, { version: k.properties.version });
      assert.deepEqual(Buffer.from(old.key.n), Buffer.from(k.key.n), "older versions come back");
      const cc = new CryptographyClient(r, cred, h.clientOptions);
      const data = Buffer.from("restored key still signs");
      const s = await cc.signData("RS256", data);
      assert.ok(verifyLocally("RS256", publicKeyFromSdkJwk(k2.key), data, s.result));
    });

    test("rotateKey makes a new version", T, async () => {
      const name = h.uniqueName("rot");
      const k = await kc.createEcKey(name, { curve: "P-256", tags: { t: "x" } });
      const r = await kc.rotateKey(name);
      assert.equal(r.name, name);
      assert.notEqual(r.properties.version, k.properties.version);
      assert.equal(r.key.crv, "P-256");
      assert.notDeepEqual(Buffer.from(r.key.x), Buffer.from(k.key.x));
      assert.equal((await kc.getKey(name)).id, r.id);
      assert.equal((await kc.getKey(name, { version: k.properties.version })).id, k.id);
    });

    test("get/update key rotation policy", T, async () => {
      const name = h.uniqueName("pol");
      await kc.createEcKey(name, { curve: "P-256" });
      const def = await kc.getKeyRotationPolicy(name);
      assert.equal(def.id, `${h.VAULT_URL}/keys/${name}/rotationpolicy`);
      assert.deepEqual(plain(def.lifetimeActions), [{ action: "Notify", timeBeforeExpiry: "P30D" }],
        "a key without a policy reports Key Vault's default policy");
      const set = await kc.updateKeyRotationPolicy(name, {
        lifetimeActions: [
          { action: "Rotate", timeAfterCreate: "P90D" },
          { action: "Notify", timeBeforeExpiry: "P30D" },
        ],
        expiresIn: "P180D",
      });
      assert.equal(set.id, `${h.VAULT_URL}/keys/${name}/rotationpolicy`);
      assert.equal(set.expiresIn, "P180D");
      assert.deepEqual(plain(set.lifetimeActions), [
        { action: "Rotate", timeAfterCreate: "P90D" },
        { action: "Notify", timeBeforeExpiry: "P30D" },
      ]);
      assert.ok(set.createdOn instanceof Date && set.updatedOn instanceof Date);
      const got = await kc.getKeyRotationPolicy(name);
      assert.deepEqual(got.lifetimeActions, set.lifetimeActions);
      assert.equal(got.expiresIn, "P180D");
    });

    test("getRandomBytes", T, async () => {
      const a = await kc.getRandomBytes(32);
      const b = await kc.getRandomBytes(32);
      assert.equal(a.length, 32);
      assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
      assert.equal((await kc.getRandomBytes(1)).length, 1);
    });

    // ------------------------------------------------------------ crypto
    describe("CryptographyClient", () => {
      let rsa;
      before(async () => {
        rsa = await kc.createRsaKey(h.uniqueName("crsa"), { keySize: 2048 });
      });

      test("RSA encrypt/decrypt: local path (RSA1_5, RSA-OAEP) and remote path (all)", T, async () => {
        const c = counter();
        const cc = new CryptographyClient(rsa, cred, { ...h.clientOptions, additionalPolicies: [...(h.clientOptions.additionalPolicies ?? []), c.policy] });
        const pt = Buffer.from("attack at dawn");
        for (const alg of ["RSA1_5", "RSA-OAEP", "RSA-OAEP-256"]) {
          const before = c.n;
          const e = await cc.encrypt({ algorithm: alg, plaintext: pt });
          if (alg !== "RSA-OAEP-256") assert.equal(c.n, before, `${alg} encrypt runs locally, no request`);
          else assert.ok(c.n > before, "RSA-OAEP-256 encrypt goes to the vault");
          assert.equal(e.result.length, 256);
          const d = await cc.decrypt({ algorithm: alg, ciphertext: e.result });
          assert.deepEqual(Buffer.from(d.result), pt, `${alg} round trip`);
          assert.equal(d.keyID, rsa.id);
        }
        const remote = await remoteOnly(new CryptographyClient(rsa, cred, { ...h.clientOptions, additionalPolicies: [...(h.clientOptions.additionalPolicies ?? []), c.policy] }));
        for (const alg of ["RSA1_5", "RSA-OAEP", "RSA-OAEP-256"]) {
          const before = c.n;
          const e = await remote.encrypt({ algorithm: alg, plaintext: pt });
          assert.ok(c.n > before, "remote encrypt");
          const d = await cc.decrypt({ algorithm: alg, ciphertext: e.result });
          assert.deepEqual(Buffer.from(d.result), pt, `${alg} remote round trip`);
        }
        // A vault OAEP ciphertext decrypts with the vault only: check it is
        // randomized (two encryptions differ).
        const e1 = await remote.encrypt({ algorithm: "RSA-OAEP-256", plaintext: pt });
        const e2 = await remote.encrypt({ algorithm: "RSA-OAEP-256", plaintext: pt });
        assert.notDeepEqual(Buffer.from(e1.result), Buffer.from(e2.result));
      });

      test("RSA wrapKey/unwrapKey: RSA-OAEP, RSA-OAEP-256, RSA1_5 (local and remote)", T, async () => {
        const cc = new CryptographyClient(rsa, cred, h.clientOptions);
        const remote = await remoteOnly(new CryptographyClient(rsa, cred, h.clientOptions));
        const cek = crypto.randomBytes(32);
        for (const alg of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
          for (const client of [cc, remote]) {
            const w = await client.wrapKey(alg, cek);
            const u = await cc.unwrapKey(alg, w.result);
            assert.deepEqual(Buffer.from(u.result), cek, `${alg} wrap/unwrap`);
          }
        }
      });

      test("RSA sign/verify RS256/384/512, PS256/384/512", T, async () => {
        const cc = new CryptographyClient(rsa, cred, h.clientOptions);
        const pub = publicKeyFromSdkJwk(rsa.key);
        const data = Buffer.from("sign me, RSA");
        for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]) {
          const s = await cc.sign(alg, digest(alg, data));
          assert.equal(s.result.length, 256);
          assert.ok(verifyLocally(alg, pub, data, s.result), `${alg} signature verifies with node:crypto`);
          const sd = await cc.signData(alg, data);
          assert.ok(verifyLocally(alg, pub, data, sd.result), `${alg} signData verifies with node:crypto`);
          const v = await cc.verify(alg, digest(alg, data), s.result);
          assert.equal(v.result, true, `${alg} remote verify`);
          const bad = Buffer.from(s.result);
          bad[10] ^= 1;
          assert.equal((await cc.verify(alg, digest(alg, data), bad)).result, false, `${alg} remote verify rejects`);
          if (alg.startsWith("RS")) {
            // verifyData runs locally for RS* (for PS* the SDK's local path is broken).
            assert.equal((await cc.verifyData(alg, data, sd.result)).result, true);
          }
        }
      });

      test("EC sign/verify ES256/384/512, ES256K", T, async () => {
        for (const [alg, curve, len] of [["ES256", "P-256", 64], ["ES384", "P-384", 96], ["ES512", "P-521", 132], ["ES256K", "P-256K", 64]]) {
          const k = await kc.createEcKey(h.uniqueName(`cec${alg}`), { curve });
          const cc = new CryptographyClient(k, cred, h.clientOptions);
          const pub = publicKeyFromSdkJwk(k.key);
          const data = Buffer.from(`sign me, ${alg}`);
          const s = await cc.sign(alg, digest(alg, data));
          assert.equal(s.result.length, len, `${alg} signature is raw r||s`);
          assert.ok(verifyLocally(alg, pub, data, s.result), `${alg} verifies with node:crypto`);
          const sd = await cc.signData(alg, data);
          assert.ok(verifyLocally(alg, pub, data, sd.result));
          assert.equal((await cc.verify(alg, digest(alg, data), s.result)).result, true);
          assert.equal((await cc.verifyData(alg, data, sd.result)).result, true);
          assert.equal((await cc.verifyData(alg, Buffer.from("other"), sd.result)).result, false);
        }
      });

      test("AES-GCM, AES-CBC, AES-CBCPAD and AES-KW on oct keys", T, async () => {
        for (const size of [128, 192, 256]) {
          const k = await kc.createOctKey(h.uniqueName(`caes${size}`), { keySize: size });
          const cc = new CryptographyClient(k, cred, h.clientOptions);
          const pt = Buffer.from("sixteen byte blk".repeat(3)); // 48 bytes, block aligned
          const aad = Buffer.from("associated data");

          const g = await cc.encrypt({ algorithm: `A${size}GCM`, plaintext: pt, additionalAuthenticatedData: aad });
          assert.equal(g.iv.length, 12, "GCM IV is 96 bits");
          assert.equal(g.authenticationTag.length, 16);
          assert.equal(g.result.length, pt.length);
          const gd = await cc.decrypt({
            algorithm: `A${size}GCM`, ciphertext: g.result, iv: g.iv, authenticationTag: g.authenticationTag,
            additionalAuthenticatedData: aad,
          });
          assert.deepEqual(Buffer.from(gd.result), pt);

          const c = await cc.encrypt({ algorithm: `A${size}CBC`, plaintext: pt });
          assert.equal(c.iv?.length, 16, "the vault generates and returns the CBC IV");
          assert.equal(c.result.length, pt.length, "CBC without padding");
          const cd = await cc.decrypt({ algorithm: `A${size}CBC`, ciphertext: c.result, iv: c.iv });
          assert.deepEqual(Buffer.from(cd.result), pt);

          const odd = Buffer.from("not block aligned");
          const p = await cc.encrypt({ algorithm: `A${size}CBCPAD`, plaintext: odd });
          assert.equal(p.iv?.length, 16);
          assert.equal(p.result.length, 32, "PKCS#7 padded");
          const pd = await cc.decrypt({ algorithm: `A${size}CBCPAD`, ciphertext: p.result, iv: p.iv });
          assert.deepEqual(Buffer.from(pd.result), odd);
          // Caller-supplied IV is honoured.
          const iv = crypto.randomBytes(16);
          const p2 = await cc.encrypt({ algorithm: `A${size}CBCPAD`, plaintext: odd, iv });
          assert.deepEqual(Buffer.from(p2.iv), iv);

          const cek = crypto.randomBytes(32);
          const w = await cc.wrapKey(`A${size}KW`, cek);
          assert.equal(w.result.length, 40);
          const u = await cc.unwrapKey(`A${size}KW`, w.result);
          assert.deepEqual(Buffer.from(u.result), cek);
        }
      });

      test("versionless CryptographyClient ids (string id and getCryptographyClient)", T, async () => {
        const name = rsa.name;
        const byId = new CryptographyClient(`${h.VAULT_URL}/keys/${name}`, cred, h.clientOptions);
        const data = Buffer.from("versionless");
        const s = await byId.signData("RS256", data);
        assert.ok(verifyLocally("RS256", publicKeyFromSdkJwk(rsa.key), data, s.result));
        const viaKc = kc.getCryptographyClient(name);
        const e = await viaKc.encrypt({ algorithm: "RSA-OAEP-256", plaintext: data });
        const d = await viaKc.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: e.result });
        assert.deepEqual(Buffer.from(d.result), data);
        const byVersion = kc.getCryptographyClient(name, { keyVersion: rsa.properties.version });
        assert.equal((await byVersion.verify("RS256", digest("RS256", data), s.result)).result, true);
      });
    });
  });
}

// ------------------------------------------------------------ once only

describe("import, paging and cross-checks outside the vault", () => {
  let cred;
  let kc;
  before(async () => {
    cred = await h.secretCredential();
    kc = new KeyClient(h.VAULT_URL, cred, h.clientOptions);
  });

  test("import RSA, EC and oct keys (JWK from node:crypto)", T, async () => {
    const { privateKey: rsaPriv, publicKey: rsaPub } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsaJ = sdkJwkFromNodeKey(rsaPriv);
    const rn = h.uniqueName("imprsa");
    const ri = await kc.importKey(rn, rsaJ.sdk, { tags: { src: "node" } });
    assertKid(ri, rn);
    assert.equal(ri.keyType, "RSA");
    assert.deepEqual(Buffer.from(ri.key.n), Buffer.from(rsaJ.jwk.n, "base64url"));
    assertNoPrivate(ri);
    assert.deepEqual(ri.properties.tags, { src: "node" });
    // Locally encrypted (OAEP-SHA256 with the vault's public JWK) -> vault decrypt.
    const fromVault = publicKeyFromSdkJwk(ri.key);
    const pt = Buffer.from("encrypted outside the vault");
    const ct = crypto.publicEncrypt({ key: fromVault, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, pt);
    const cc = new CryptographyClient(ri, cred, h.clientOptions);
    assert.deepEqual(Buffer.from((await cc.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: ct })).result), pt);
    // Locally wrapped with RSA-OAEP (SHA-1) -> vault unwrap.
    const cek = crypto.randomBytes(32);
    const wrapped = crypto.publicEncrypt({ key: rsaPub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, cek);
    assert.deepEqual(Buffer.from((await cc.unwrapKey("RSA-OAEP", wrapped)).result), cek);
    // Vault signature verifies with the original node key.
    const data = Buffer.from("imported key signs");
    const s = await cc.signData("PS256", data);
    assert.ok(verifyLocally("PS256", rsaPub, data, s.result));

    for (const curve of ["P-256", "P-384", "P-521", "secp256k1"]) {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: curve });
      const j = sdkJwkFromNodeKey(privateKey);
      const en = h.uniqueName("impec");
      const ei = await kc.importKey(en, j.sdk);
      assert.equal(ei.keyType, "EC");
      assert.equal(ei.key.crv, j.sdk.crv);
      assert.deepEqual(Buffer.from(ei.key.x), Buffer.from(j.jwk.x, "base64url"));
      assertNoPrivate(ei);
      const alg = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512", secp256k1: "ES256K" }[curve];
      const ecc = new CryptographyClient(ei, cred, h.clientOptions);
      const sig = await ecc.signData(alg, data);
      assert.ok(verifyLocally(alg, publicKey, data, sig.result), `imported ${curve} key signs`);
    }

    const kbytes = crypto.randomBytes(32);
    const on = h.uniqueName("impoct");
    const oi = await kc.importKey(on, { kty: "oct", k: kbytes, keyOps: ["wrapKey", "unwrapKey", "encrypt", "decrypt"] });
    assert.equal(oi.keyType, "oct");
    assertNoPrivate(oi);
    const occ = new CryptographyClient(oi, cred, h.clientOptions);
    // Locally wrapped with AES-KW (RFC 3394) -> vault unwrap.
    const kw = crypto.createCipheriv("id-aes256-wrap", kbytes, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
    const lw = Buffer.concat([kw.update(cek), kw.final()]);
    assert.deepEqual(Buffer.from((await occ.unwrapKey("A256KW", lw)).result), cek);
    // Vault-wrapped -> unwrapped locally.
    const vw = await occ.wrapKey("A256KW", cek);
    assert.deepEqual(Buffer.from(vw.result), lw, "AES-KW is deterministic: same bytes as node");
    // Vault GCM / CBCPAD -> node decrypts.
    const aad = Buffer.from("aad");
    const g = await occ.encrypt({ algorithm: "A256GCM", plaintext: pt, additionalAuthenticatedData: aad });
    const dg = crypto.createDecipheriv("aes-256-gcm", kbytes, Buffer.from(g.iv));
    dg.setAAD(aad);
    dg.setAuthTag(Buffer.from(g.authenticationTag));
    assert.deepEqual(Buffer.concat([dg.update(g.result), dg.final()]), pt);
    const p = await occ.encrypt({ algorithm: "A256CBCPAD", plaintext: pt });
    const dp = crypto.createDecipheriv("aes-256-cbc", kbytes, Buffer.from(p.iv));
    assert.deepEqual(Buffer.concat([dp.update(p.result), dp.final()]), pt);
    // node GCM -> vault decrypts.
    const iv = crypto.randomBytes(12);
    const eg = crypto.createCipheriv("aes-256-gcm", kbytes, iv);
    eg.setAAD(aad);
    const ect = Buffer.concat([eg.update(pt), eg.final()]);
    const vd = await occ.decrypt({ algorithm: "A256GCM", ciphertext: ect, iv, authenticationTag: eg.getAuthTag(), additionalAuthenticatedData: aad });
    assert.deepEqual(Buffer.from(vd.result), pt);
  });

  test("vault RSA and EC signatures verify with the openssl CLI", T, async () => {
    const dir = tmpdir();
    try {
      const data = Buffer.from("openssl checks this");
      fs.writeFileSync(path.join(dir, "data.bin"), data);
      const rsa = await kc.createRsaKey(h.uniqueName("ossl-rsa"), { keySize: 2048 });
      fs.writeFileSync(path.join(dir, "rsa.pem"), publicKeyFromSdkJwk(rsa.key).export({ type: "spki", format: "pem" }));
      const rcc = new CryptographyClient(rsa, cred, h.clientOptions);
      const rs = await rcc.signData("RS256", data);
      fs.writeFileSync(path.join(dir, "rs256.sig"), rs.result);
      const out = execFileSync("openssl", ["dgst", "-sha256", "-verify", path.join(dir, "rsa.pem"), "-signature",
        path.join(dir, "rs256.sig"), path.join(dir, "data.bin")], { encoding: "utf8" });
      assert.match(out, /Verified OK/);
      const ps = await rcc.signData("PS384", data);
      fs.writeFileSync(path.join(dir, "ps384.sig"), ps.result);
      const out2 = execFileSync("openssl", ["dgst", "-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
        "rsa_pss_saltlen:-1", "-verify", path.join(dir, "rsa.pem"), "-signature", path.join(dir, "ps384.sig"),
        path.join(dir, "data.bin")], { encoding: "utf8" });
      assert.match(out2, /Verified OK/);

      const ec = await kc.createEcKey(h.uniqueName("ossl-ec"), { curve: "P-256" });
      fs.writeFileSync(path.join(dir, "ec.pem"), publicKeyFromSdkJwk(ec.key).export({ type: "spki", format: "pem" }));
      const ecc = new CryptographyClient(ec, cred, h.clientOptions);
      const es = await ecc.signData("ES256", data);
      fs.writeFileSync(path.join(dir, "es256.der"), p1363ToDer(es.result));
      fs.writeFileSync(path.join(dir, "digest.bin"), digest("ES256", data));
      const out3 = execFileSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, "ec.pem"),
        "-in", path.join(dir, "digest.bin"), "-sigfile", path.join(dir, "es256.der")], { encoding: "utf8" });
      assert.match(out3, /Signature Verified Successfully/);
      // Negative control: a different message must not verify.
      fs.writeFileSync(path.join(dir, "other.bin"), "tampered");
      assert.throws(() => execFileSync("openssl", ["dgst", "-sha256", "-verify", path.join(dir, "rsa.pem"), "-signature",
        path.join(dir, "rs256.sig"), path.join(dir, "other.bin")], { stdio: "pipe" }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("list keys pages through nextLink (>25 keys, maxPageSize)", T, async () => {
    const prefix = `page-${Date.now().toString(36)}`;
    const names = [];
    for (let i = 0; i < 30; i++) names.push(`${prefix}-${i}`);
    for (let i = 0; i < names.length; i += 6) {
      await Promise.all(names.slice(i, i + 6).map((n) => kc.createEcKey(n, { curve: "P-256" })));
    }
    const seenPaged = new Set();
    let pages = 0;
    for (const page of await h.collect(kc.listPropertiesOfKeys().byPage({ maxPageSize: 7 }), 1000)) {
      pages += 1;
      assert.ok(page.length <= 7, `page of ${page.length} > maxPageSize 7`);
      for (const p of page) {
        assert.ok(!seenPaged.has(p.name), `${p.name} listed twice`);
        seenPaged.add(p.name);
      }
      assert.ok(pages < 1000);
    }
    for (const n of names) assert.ok(seenPaged.has(n), `${n} listed`);
    assert.ok(pages >= Math.ceil(seenPaged.size / 7), `${pages} pages for ${seenPaged.size} keys`);
    // Default paging (no maxresults) also returns everything exactly once.
    const seen = new Map();
    for (const p of await h.collect(kc.listPropertiesOfKeys())) seen.set(p.name, (seen.get(p.name) ?? 0) + 1);
    for (const n of names) assert.equal(seen.get(n), 1);
    assert.equal(seen.size, seenPaged.size);
    // Raw: the default page size is at most 25 and nextLink is absolute.
    const t = await h.token();
    const r = await h.request("GET", "/keys", { token: t, apiVersion: "2025-07-01" });
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(r.json.value) && r.json.value.length <= 25);
    assert.match(r.json.nextLink, new RegExp(`^${h.VAULT_URL}/keys\\?`));
    const r2 = await h.request("GET", r.json.nextLink, { token: t, apiVersion: null });
    assert.equal(r2.status, 200, "nextLink followed verbatim works");
    // Versions paging.
    const vn = names[0];
    for (let i = 0; i < 3; i++) await kc.rotateKey(vn);
    const vers = [];
    for (const page of await h.collect(kc.listPropertiesOfKeyVersions(vn).byPage({ maxPageSize: 2 }), 100)) {
      assert.ok(page.length <= 2);
      vers.push(...page);
    }
    assert.equal(vers.length, 4);
    assert.equal(new Set(vers.map((v) => v.version)).size, 4);
  });

  test("a Rotate policy is executed by the server (--rotation-interval 1)", T, async () => {
    // Retention is fixed when a vault is created (tests/sdk/vault_properties.test.mjs).
    await vault.stop();
    vault = await h.startVault(["--rotation-interval", "1"]);
    const name = h.uniqueName("autorot");
    const k = await kc.createEcKey(name, { curve: "P-256", expiresOn: new Date(Date.now() + 10 * 86400000) });
    await kc.updateKeyRotationPolicy(name, {
      lifetimeActions: [{ action: "Rotate", timeBeforeExpiry: "P30D" }],
      expiresIn: "P60D",
    });
    const versions = await h.waitFor(async () => {
      const v = await h.collect(kc.listPropertiesOfKeyVersions(name));
      return v.length >= 2 ? v : null;
    }, { timeoutMs: 60000, intervalMs: 1000, what: "the rotation sweeper to add a version" });
    const latest = await kc.getKey(name);
    assert.notEqual(latest.properties.version, k.properties.version);
    assert.ok(versions.some((v) => v.version === latest.properties.version));
    assert.ok(latest.properties.expiresOn > new Date(Date.now() + 50 * 86400000),
      "the new version gets the policy's expiryTime (P60D)");
    // It works.
    const cc = new CryptographyClient(latest, cred, h.clientOptions);
    const s = await cc.signData("ES256", Buffer.from("rotated"));
    assert.ok(verifyLocally("ES256", publicKeyFromSdkJwk(latest.key), Buffer.from("rotated"), s.result));
  });
});
