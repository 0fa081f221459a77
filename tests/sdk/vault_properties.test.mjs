// Vault properties fixed at creation: soft-delete retention (--retention-days)
// and purge protection (--purge-protection), as the unmodified SDKs and raw
// HTTPS see them.
//
//  - a second vault (its own data dir and port, lib/harness.mjs createSite)
//    created with --purge-protection --retention-days 7: recoveryLevel
//    "CustomizedRecoverable", recoverableDays 7, purge refused with Azure's
//    403, a deleted name reserved (409 ObjectIsDeletedButRecoverable),
//    recover works; restarting it with other settings fails to start;
//  - run.sh's vault, created with the defaults: "Recoverable+Purgeable",
//    90 days, purge works.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { KeyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { ClientSecretCredential } from "@azure/identity";
import * as h from "./lib/harness.mjs";
import * as adm from "./lib/admin.mjs";

const T = { timeout: 120000 };
const POLL = { intervalInMs: 100 };
const DAY = 86400;
const PURGE_MESSAGE = 'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.';

function restError(status, code) {
  return (e) => {
    assert.equal(e.statusCode, status, `expected HTTP ${status}, got ${e.statusCode}: ${e.message}`);
    if (code) assert.equal(e.code, code, `expected error code ${code}, got ${e.code}: ${e.message}`);
    return true;
  };
}

// SDK clients for a Site: its CA through the pipeline's https agent (the
// token requests of the credential too).
function siteClients(site) {
  const b = site.bootstrap();
  const agent = site.agent();
  const cred = new ClientSecretCredential(b.tenant_id, b.client_id, b.client_secret, {
    authorityHost: b.authority_host,
    disableInstanceDiscovery: true,
    agent,
  });
  const opts = { ...h.clientOptions, agent };
  return { kc: new KeyClient(site.url, cred, opts), sc: new SecretClient(site.url, cred, opts) };
}

describe("a vault created with --purge-protection --retention-days 7", () => {
  const FLAGS = ["--purge-protection", "--retention-days", "7"];
  let site;
  let server;
  let tok;
  let kc;
  let sc;
  const call = (method, p, body) => h.request(method, p, { token: tok, body, site });

  before(async () => {
    site = await h.createSite("protected");
    server = await site.start(FLAGS);
    tok = await adm.adminToken(site);
    ({ kc, sc } = siteClients(site));
  });

  after(async () => {
    if (server) assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  test("recoveryLevel CustomizedRecoverable and recoverableDays 7 on keys and secrets (SDK and wire)", T, async () => {
    const k = await kc.createKey(h.uniqueName("k"), "EC", { curve: "P-256" });
    assert.equal(k.properties.recoveryLevel, "CustomizedRecoverable");
    assert.equal(k.properties.recoverableDays, 7);
    const s = await sc.setSecret(h.uniqueName("s"), "v");
    assert.equal(s.properties.recoveryLevel, "CustomizedRecoverable");
    assert.equal(s.properties.recoverableDays, 7);
    const raw = await call("GET", `/keys/${k.name}/`);
    assert.equal(raw.json.attributes.recoveryLevel, "CustomizedRecoverable");
    assert.equal(raw.json.attributes.recoverableDays, 7);
    const list = await call("GET", "/secrets");
    const item = list.json.value.find((x) => x.id.endsWith(`/secrets/${s.name}`));
    assert.equal(item?.attributes?.recoveryLevel, "CustomizedRecoverable", list.text);
    assert.equal(item?.attributes?.recoverableDays, 7);
  });

  for (const kind of ["keys", "secrets"]) {
    const deleted = kind === "keys" ? "deletedkeys" : "deletedsecrets";
    test(`${kind}: delete schedules the purge 7 days out; purge -> 403 with Azure's message; name reserved (409); recover`, T, async () => {
      const name = h.uniqueName(kind[0]);
      const create = kind === "keys"
        ? () => call("POST", `/keys/${name}/create`, { kty: "EC", crv: "P-256" })
        : () => call("PUT", `/secrets/${name}`, { value: "protected" });
      const made = await create();
      assert.equal(made.status, 200, made.text);
      const backup = await call("POST", `/${kind}/${name}/backup`);
      assert.equal(backup.status, 200, backup.text);

      const del = await call("DELETE", `/${kind}/${name}`);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.json.recoveryId, `${site.url}/${deleted}/${name}`);
      assert.equal(del.json.scheduledPurgeDate - del.json.deletedDate, 7 * DAY, "purge scheduled after the retention period");
      assert.equal(del.json.attributes.recoveryLevel, "CustomizedRecoverable");
      const got = await call("GET", `/${deleted}/${name}`);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.json.attributes.recoverableDays, 7);

      // Purge refused, for the administrator too.
      const purge = await call("DELETE", `/${deleted}/${name}`);
      assert.equal(purge.status, 403, purge.text);
      assert.equal(purge.json?.error?.code, "Forbidden", purge.text);
      assert.ok(purge.json.error.message.startsWith(PURGE_MESSAGE), `message: ${JSON.stringify(purge.json.error.message)}`);
      assert.notEqual(purge.json.error.innererror?.code, "ForbiddenByRbac", "not an RBAC denial");
      assert.equal((await call("GET", `/${deleted}/${name}`)).status, 200, "still there after the refused purge");
      // Through the SDK as well.
      const sdkPurge = kind === "keys" ? kc.purgeDeletedKey(name) : sc.purgeDeletedSecret(name);
      await assert.rejects(sdkPurge, (e) => {
        restError(403, "Forbidden")(e);
        assert.ok(e.message.startsWith(PURGE_MESSAGE), e.message);
        return true;
      });

      // The name stays reserved while deleted.
      for (const r of [await create(), ...(kind === "keys" ? [await call("PUT", `/keys/${name}`, { key: { kty: "oct", k: "AAECAwQFBgcICQoLDA0ODw" } })] : [])]) {
        assert.equal(r.status, 409, r.text);
        assert.equal(r.json?.error?.code, "Conflict", r.text);
        assert.equal(r.json?.error?.innererror?.code, "ObjectIsDeletedButRecoverable", r.text);
      }
      const restore = await call("POST", `/${kind}/restore`, { value: backup.json.value });
      assert.equal(restore.status, 409, `restore onto a deleted name: ${restore.text}`);

      // Recover brings it back; then the name is usable again.
      const rec = await call("POST", `/${deleted}/${name}/recover`);
      assert.equal(rec.status, 200, rec.text);
      assert.equal((await call("GET", `/${kind}/${name}/`)).status, 200);
      assert.equal((await call("GET", `/${deleted}/${name}`)).status, 404);
      assert.equal((await create()).status, 200, "a new version once recovered");
    });
  }

  test("SDK: beginDeleteKey / beginRecoverDeletedKey and secrets on the protected vault", T, async () => {
    const name = h.uniqueName("sdk");
    await kc.createKey(name, "EC", { curve: "P-256" });
    const dk = await (await kc.beginDeleteKey(name, POLL)).pollUntilDone();
    assert.equal(dk.properties.recoveryLevel, "CustomizedRecoverable");
    assert.equal((dk.properties.scheduledPurgeDate - dk.properties.deletedOn) / 1000, 7 * DAY);
    await assert.rejects(kc.createKey(name, "EC", { curve: "P-256" }), restError(409, "Conflict"));
    await (await kc.beginRecoverDeletedKey(name, POLL)).pollUntilDone();
    assert.equal((await kc.getKey(name)).name, name);

    await sc.setSecret(name, "x");
    await (await sc.beginDeleteSecret(name, POLL)).pollUntilDone();
    await assert.rejects(sc.setSecret(name, "y"), restError(409, "Conflict"));
    await (await sc.beginRecoverDeletedSecret(name, POLL)).pollUntilDone();
    assert.equal((await sc.getSecret(name)).value, "x");
  });

  test("settings are fixed at creation: a restart keeps them; other settings fail to start", T, async () => {
    const name = h.uniqueName("r");
    assert.equal((await call("PUT", `/secrets/${name}`, { value: "v" })).status, 200);
    assert.equal((await call("DELETE", `/secrets/${name}`)).status, 200);
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    server = null;

    for (const args of [["--purge-protection", "--retention-days", "30"], ["--retention-days", "90"], ["--retention-days", "8"]]) {
      const run = await site.runToExit(args, { timeoutMs: 20000 });
      assert.notEqual(run.code, 0, `coffer-vault ${args.join(" ")} must refuse to start; log:\n${run.log}`);
      assert.equal(run.signal, null);
      assert.match(run.log, /retention/i, `a clear log line about the retention period:\n${run.log}`);
    }

    // The same settings, or none (the stored ones apply), start fine.
    for (const args of [FLAGS, []]) {
      server = await site.start(args);
      site._adminToken = null;
      tok = await adm.adminToken(site);
      const d = await call("GET", `/deletedsecrets/${name}`);
      assert.equal(d.status, 200, d.text);
      assert.equal(d.json.attributes.recoveryLevel, "CustomizedRecoverable");
      assert.equal(d.json.attributes.recoverableDays, 7);
      const p = await call("DELETE", `/deletedsecrets/${name}`);
      assert.equal(p.status, 403, `purge protection survives a restart (${args.join(" ") || "no flags"}): ${p.text}`);
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
      server = null;
    }
    server = await site.start(FLAGS);
  });
});

describe("the four recovery levels", () => {
  // [flags, recoveryLevel, recoverableDays, purgeable]; the first two are
  // covered above, the other two here, each on a vault of its own.
  const CASES = [
    [["--retention-days", "30"], "CustomizedRecoverable+Purgeable", 30, true],
    [["--purge-protection"], "Recoverable", 90, false],
    [["--purge-protection", "--retention-days", "89"], "CustomizedRecoverable", 89, false],
  ];
  for (const [flags, level, days, purgeable] of CASES) {
    test(`${flags.join(" ")}: ${level}, ${days} days, purge ${purgeable ? "works" : "refused"}`, T, async () => {
      const site = await h.createSite("levels");
      const server = await site.start(flags);
      try {
        const tok = await adm.adminToken(site);
        const call = (method, p, body) => h.request(method, p, { token: tok, body, site });
        const name = h.uniqueName("lvl");
        const k = await call("POST", `/keys/${name}/create`, { kty: "EC", crv: "P-256" });
        const sct = await call("PUT", `/secrets/${name}`, { value: "v" });
        for (const r of [k, sct]) {
          assert.equal(r.status, 200, r.text);
          assert.equal(r.json.attributes.recoveryLevel, level);
          assert.equal(r.json.attributes.recoverableDays, days);
        }
        for (const [kind, deleted] of [["keys", "deletedkeys"], ["secrets", "deletedsecrets"]]) {
          const d = await call("DELETE", `/${kind}/${name}`);
          assert.equal(d.status, 200, d.text);
          assert.equal(d.json.scheduledPurgeDate - d.json.deletedDate, days * DAY);
          const p = await call("DELETE", `/${deleted}/${name}`);
          if (purgeable) {
            assert.equal(p.status, 204, p.text);
            assert.equal((await call("GET", `/${deleted}/${name}`)).status, 404);
          } else {
            assert.equal(p.status, 403, p.text);
            assert.ok(p.json.error.message.startsWith(PURGE_MESSAGE), p.text);
          }
        }
      } finally {
        assert.deepEqual(await server.stop(), { code: 0, signal: null });
      }
    });
  }

  test("--retention-days outside 7..90 is refused at creation", T, async () => {
    for (const v of ["6", "91", "0", "seven"]) {
      const site = await h.createSite("bad");
      const run = await site.runToExit(["--retention-days", v], { timeoutMs: 20000 });
      assert.notEqual(run.code, 0, `--retention-days ${v} must be refused; log:\n${run.log}`);
      // (The server says only "invalid value for an option" here.)
      assert.match(run.log, /retention|invalid value/i, run.log);
      assert.ok(!fs.existsSync(path.join(site.dir, "bootstrap.json")), "nothing initialised");
    }
  });
});

describe("run.sh's vault, created with the defaults", () => {
  let server;
  let kc;
  let sc;
  before(async () => {
    server = await h.startVault();
    kc = await h.keyClient();
    sc = await h.secretClient();
  });
  after(async () => {
    if (server) assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  test("Recoverable+Purgeable, 90 days; delete schedules the purge 90 days out; purge works (keys and secrets)", T, async () => {
    const name = h.uniqueName("def");
    const k = await kc.createKey(name, "EC", { curve: "P-256" });
    assert.equal(k.properties.recoveryLevel, "Recoverable+Purgeable");
    assert.equal(k.properties.recoverableDays, 90);
    const s = await sc.setSecret(name, "v");
    assert.equal(s.properties.recoveryLevel, "Recoverable+Purgeable");
    assert.equal(s.properties.recoverableDays, 90);

    const dk = await (await kc.beginDeleteKey(name, POLL)).pollUntilDone();
    assert.equal((dk.properties.scheduledPurgeDate - dk.properties.deletedOn) / 1000, 90 * DAY);
    const ds = await (await sc.beginDeleteSecret(name, POLL)).pollUntilDone();
    assert.equal((ds.scheduledPurgeDate - ds.deletedOn) / 1000, 90 * DAY);
    // The name is reserved until purged...
    await assert.rejects(kc.createKey(name, "EC", { curve: "P-256" }), restError(409, "Conflict"));
    await assert.rejects(sc.setSecret(name, "w"), restError(409, "Conflict"));
    // ...and purge works at once.
    await kc.purgeDeletedKey(name);
    await sc.purgeDeletedSecret(name);
    await assert.rejects(kc.getDeletedKey(name), restError(404));
    await assert.rejects(sc.getDeletedSecret(name), restError(404));
    assert.equal((await kc.createKey(name, "EC", { curve: "P-256" })).name, name, "the name is free after purge");
    assert.equal((await sc.setSecret(name, "again")).value, "again");
  });

  test("turning purge protection on later, or another retention, fails to start", T, async () => {
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    server = null;
    for (const args of [["--purge-protection"], ["--retention-days", "30"]]) {
      const run = await h.runVaultToExit(null, args, { timeoutMs: 20000 });
      assert.notEqual(run.code, 0, `coffer-vault ${args.join(" ")} must refuse to start; log:\n${run.log}`);
      assert.match(run.log, args[0] === "--purge-protection" ? /purge.protection/i : /retention/i, `a clear log line:\n${run.log}`);
    }
    server = await h.startVault(["--retention-days", "90"]);
  });
});
