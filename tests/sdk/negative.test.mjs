// Negative suite: raw HTTPS requests (as the SDKs would send them, with
// api-version 7.5 and 2025-07-01) that the vault must refuse, with the
// status codes and error bodies of Azure Key Vault.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import * as h from "./lib/harness.mjs";

const T = { timeout: 120000 };
const API_VERSIONS = ["7.5", "2025-07-01"];
let vault;
let boot;
let tok;

function assertChallenge(r, what) {
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${r.text}`);
  assert.equal(r.headers["www-authenticate"],
    `Bearer authorization="${h.VAULT_URL}/${boot.tenant_id}", resource="https://vault.azure.net"`,
    `${what}: challenge header`);
}

function assertError(r, status, code, what) {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status} ${r.text}`);
  assert.equal(typeof r.json?.error, "object", `${what}: error body ${r.text}`);
  assert.equal(typeof r.json.error.code, "string");
  assert.equal(typeof r.json.error.message, "string");
  if (code) assert.equal(r.json.error.code, code, `${what}: error code`);
  assert.equal(r.json.value, undefined, `${what}: no result value in an error`);
}

const b64u = h.b64u;

async function create(name, body, apiVersion = "7.5") {
  const r = await h.request("POST", `/keys/${name}/create`, { token: tok, body, apiVersion });
  assert.equal(r.status, 200, `create ${name}: ${r.status} ${r.text}`);
  return r.json;
}

function versionOf(bundle) {
  return bundle.key.kid.split("/").pop();
}

before(async () => {
  vault = await h.startVault();
  boot = h.bootstrap();
  tok = await h.token();
});

after(async () => {
  if (vault) assert.deepEqual(await vault.stop(), { code: 0, signal: null }, "clean exit on SIGTERM");
});

describe("authentication", () => {
  test("no token -> 401 challenge on every data-plane route, before the body is read", T, async () => {
    for (const apiVersion of API_VERSIONS) {
      assertChallenge(await h.request("GET", "/keys", { apiVersion }), "GET /keys");
      assertChallenge(await h.request("GET", "/keys/some-key/", { apiVersion }), "GET key");
      assertChallenge(await h.request("POST", "/keys/some-key/create", { apiVersion, body: { kty: "EC" } }), "create");
      assertChallenge(await h.request("POST", "/keys/some-key/create", { apiVersion, body: "{not json" }), "create, bad JSON");
      assertChallenge(await h.request("POST", "/keys/some-key/create", { apiVersion, body: "" }), "SDK's empty first request");
      assertChallenge(await h.request("POST", "/rng", { apiVersion, body: { count: 8 } }), "rng");
      assertChallenge(await h.request("DELETE", "/deletedkeys/x", { apiVersion }), "purge");
      assertChallenge(await h.request("GET", "/keys", { apiVersion, headers: { authorization: "Basic Zm9vOmJhcg==" } }), "Basic auth");
      assertChallenge(await h.request("GET", "/keys", { apiVersion, headers: { authorization: "Bearer " } }), "empty bearer");
      assertChallenge(await h.request("GET", "/keys", { apiVersion, token: "not.a.jwt" }), "garbage token");
    }
    // Even a request without api-version is challenged first.
    assertChallenge(await h.request("GET", "/keys", { apiVersion: null }), "no api-version, no token");
  });

  test("forged tokens -> 401", T, async () => {
    const [hd, pl, sig] = tok.split(".");
    assert.ok(hd && pl && sig, "the vault issues JWS compact tokens");
    const header = JSON.parse(Buffer.from(hd, "base64url"));
    const payload = JSON.parse(Buffer.from(pl, "base64url"));
    // A valid token works (control).
    assert.equal((await h.request("GET", "/keys", { token: tok })).status, 200);

    const sigBytes = Buffer.from(sig, "base64url");
    for (const i of [0, Math.floor(sigBytes.length / 2), sigBytes.length - 1]) {
      const flipped = Buffer.from(sigBytes);
      flipped[i] ^= 0x01;
      assertChallenge(await h.request("GET", "/keys", { token: `${hd}.${pl}.${b64u(flipped)}` }), `signature byte ${i} flipped`);
    }
    assertChallenge(await h.request("GET", "/keys", { token: `${hd}.${pl}.` }), "signature removed");
    assertChallenge(await h.request("GET", "/keys", { token: `${hd}.${pl}` }), "two segments");

    // Payload changed under the original signature.
    const elevated = b64u(JSON.stringify({ ...payload, oid: crypto.randomUUID(), exp: payload.exp + 86400 }));
    assertChallenge(await h.request("GET", "/keys", { token: `${hd}.${elevated}.${sig}` }), "payload modified");

    // alg:none.
    for (const alg of ["none", "None", "NONE"]) {
      const none = b64u(JSON.stringify({ ...header, alg, typ: "JWT" }));
      assertChallenge(await h.request("GET", "/keys", { token: `${none}.${pl}.` }), `alg:${alg}`);
      assertChallenge(await h.request("GET", "/keys", { token: `${none}.${pl}.${sig}` }), `alg:${alg} with signature`);
    }

    // Signed with our own RSA key (same header, kid included).
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsHeader = b64u(JSON.stringify({ ...header, alg: "RS256" }));
    const own = crypto.sign("sha256", Buffer.from(`${rsHeader}.${pl}`), privateKey);
    assertChallenge(await h.request("GET", "/keys", { token: `${rsHeader}.${pl}.${b64u(own)}` }), "signed with a foreign RSA key");
    // ...and with the foreign public key embedded as a jwk header.
    const jwkHeader = b64u(JSON.stringify({ ...header, alg: "RS256", jwk: publicKey.export({ format: "jwk" }) }));
    const own2 = crypto.sign("sha256", Buffer.from(`${jwkHeader}.${pl}`), privateKey);
    assertChallenge(await h.request("GET", "/keys", { token: `${jwkHeader}.${pl}.${b64u(own2)}` }), "foreign key in jwk header");
    // HS256 with the public-looking material as the secret (alg confusion).
    const hsHeader = b64u(JSON.stringify({ ...header, alg: "HS256" }));
    const mac = crypto.createHmac("sha256", Buffer.from(boot.tenant_id)).update(`${hsHeader}.${pl}`).digest();
    assertChallenge(await h.request("GET", "/keys", { token: `${hsHeader}.${pl}.${b64u(mac)}` }), "HS256");
  });

  test("wrong-audience token (storage scope) -> 401", T, async () => {
    const r = await h.fetchToken({ scope: "https://storage.azure.com/.default" });
    assert.equal(r.status, 200, `storage token: ${r.text}`);
    const storage = r.json.access_token;
    const aud = JSON.parse(Buffer.from(storage.split(".")[1], "base64url")).aud;
    assert.notEqual(aud, "https://vault.azure.net");
    for (const apiVersion of API_VERSIONS) {
      assertChallenge(await h.request("GET", "/keys", { token: storage, apiVersion }), "storage audience");
    }
  });

  test("wrong client secret -> 401 invalid_client; other token-endpoint refusals", T, async () => {
    const r = await h.fetchToken({ clientSecret: `${boot.client_secret}x` });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.error, "invalid_client");
    assert.equal(r.json.access_token, undefined);
    const r2 = await h.fetchToken({ clientSecret: "" });
    assert.ok(r2.status === 400 || r2.status === 401, `empty secret: ${r2.status}`);
    assert.equal(r2.json?.access_token, undefined);
    // Managed identity endpoint with a wrong x-identity-header.
    const mi = await h.request("GET", `/msi/token?api-version=2019-08-01&resource=${encodeURIComponent("https://vault.azure.net")}`,
      { apiVersion: null, headers: { "x-identity-header": "wrong" } });
    assert.ok(mi.status >= 400 && mi.status < 500, `MI with a wrong header: ${mi.status}`);
    assert.equal(mi.json?.access_token, undefined);
    const mi2 = await h.request("GET", `/msi/token?api-version=2019-08-01&resource=${encodeURIComponent("https://vault.azure.net")}`,
      { apiVersion: null });
    assert.ok(mi2.status >= 400 && mi2.status < 500, `MI without the header: ${mi2.status}`);
    assert.equal(mi2.json?.access_token, undefined);
  });

  test("expired token -> 401 (--token-lifetime 2)", T, async () => {
    await vault.stop();
    vault = await h.startVault(["--token-lifetime", "2"]);
    const short = await h.token();
    const exp = JSON.parse(Buffer.from(short.split(".")[1], "base64url")).exp;
    assert.ok(exp <= Math.ceil(Date.now() / 1000) + 3, "lifetime honoured");
    assert.equal((await h.request("GET", "/keys", { token: short })).status, 200, "fresh token works");
    await h.sleep(3000);
    for (const apiVersion of API_VERSIONS) {
      assertChallenge(await h.request("GET", "/keys", { token: short, apiVersion }), "expired token");
    }
    await vault.stop();
    vault = await h.startVault();
    tok = await h.token();
  });
});

describe("key state and permissions", () => {
  const data = b64u(crypto.createHash("sha256").update("x").digest());
  for (const apiVersion of API_VERSIONS) {
    test(`disabled / not-yet-valid / expired key -> 403 for encrypt and sign, GET works (${apiVersion})`, T, async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases = [
        ["disabled", { enabled: false }],
        ["notyet", { nbf: now + 3600 }],
        ["expired", { exp: now - 3600 }],
      ];
      for (const [label, attributes] of cases) {
        const name = h.uniqueName(label);
        const k = await create(name, { kty: "RSA", key_size: 2048, attributes }, apiVersion);
        const v = versionOf(k);
        for (const path of [`/keys/${name}/${v}`, `/keys/${name}/`]) {
          const g = await h.request("GET", path, { token: tok, apiVersion });
          assert.equal(g.status, 200, `${label}: GET ${path} ${g.text}`);
        }
        for (const ver of [v, ""]) {
          assertError(await h.request("POST", `/keys/${name}/${ver}/encrypt`, { token: tok, apiVersion, body: { alg: "RSA-OAEP-256", value: b64u("hello") } }), 403, "Forbidden", `${label} encrypt`);
          assertError(await h.request("POST", `/keys/${name}/${ver}/sign`, { token: tok, apiVersion, body: { alg: "RS256", value: data } }), 403, "Forbidden", `${label} sign`);
        }
        // Re-enabling (control) makes it usable again.
        const fix = { enabled: true, nbf: now - 60, exp: now + 86400 };
        const u = await h.request("PATCH", `/keys/${name}/${v}`, { token: tok, apiVersion, body: { attributes: fix } });
        assert.equal(u.status, 200, u.text);
        const s = await h.request("POST", `/keys/${name}/${v}/sign`, { token: tok, apiVersion, body: { alg: "RS256", value: data } });
        assert.equal(s.status, 200, `${label} after fix: ${s.text}`);
      }
    });

    test(`disallowed key_ops -> 403 (${apiVersion})`, T, async () => {
      const name = h.uniqueName("ops");
      const k = await create(name, { kty: "EC", crv: "P-256", key_ops: ["verify"] }, apiVersion);
      const v = versionOf(k);
      assertError(await h.request("POST", `/keys/${name}/${v}/sign`, { token: tok, apiVersion, body: { alg: "ES256", value: data } }), 403, "Forbidden", "sign not in key_ops");
      const oct = h.uniqueName("octops");
      const o = await create(oct, { kty: "oct", key_size: 256, key_ops: ["encrypt", "decrypt"] }, apiVersion);
      assertError(await h.request("POST", `/keys/${oct}/${versionOf(o)}/wrapkey`, { token: tok, apiVersion, body: { alg: "A256KW", value: b64u(crypto.randomBytes(32)) } }), 403, "Forbidden", "wrapKey not in key_ops");
      const enc = await h.request("POST", `/keys/${oct}/${versionOf(o)}/encrypt`, { token: tok, apiVersion, body: { alg: "A256GCM", value: b64u("ok") } });
      assert.equal(enc.status, 200, `allowed op: ${enc.text}`);
    });
  }
});

describe("bad requests", () => {
  let rsa;
  let ec;
  let oct;
  before(async () => {
    rsa = h.uniqueName("brsa");
    rsa = { name: rsa, v: versionOf(await create(rsa, { kty: "RSA", key_size: 2048 })) };
    ec = h.uniqueName("bec");
    ec = { name: ec, v: versionOf(await create(ec, { kty: "EC", crv: "P-256" })) };
    oct = h.uniqueName("boct");
    oct = { name: oct, v: versionOf(await create(oct, { kty: "oct", key_size: 256 })) };
  });
  const post = (k, op, body, apiVersion) => h.request("POST", `/keys/${k.name}/${k.v}/${op}`, { token: tok, apiVersion, body });

  for (const apiVersion of API_VERSIONS) {
    test(`malformed JSON -> 400 BadParameter (${apiVersion})`, T, async () => {
      for (const body of ["{", "{\"kty\":", "[1,2,3]", "\"str\"", "\u0000\u0001"]) {
        assertError(await h.request("POST", `/keys/${h.uniqueName("mal")}/create`, { token: tok, apiVersion, body }), 400, "BadParameter", `body ${JSON.stringify(body)}`);
      }
      assertError(await h.request("POST", `/keys/${rsa.name}/${rsa.v}/sign`, { token: tok, apiVersion, body: "{\"alg\":\"RS256\",\"value\":" }), 400, "BadParameter", "truncated sign body");
    });

    test(`2 MiB body -> 413 RequestTooLarge (${apiVersion})`, T, async () => {
      const big = JSON.stringify({ alg: "RSA-OAEP-256", value: "A".repeat(2 * 1024 * 1024) });
      let r;
      try {
        r = await h.request("POST", `/keys/${rsa.name}/${rsa.v}/encrypt`, { token: tok, apiVersion, body: big });
      } catch (e) {
        assert.fail(`2 MiB body: the connection failed (${e.code ?? e.message}) instead of a 413 response`);
      }
      assertError(r, 413, null, "2 MiB body");
      // The server is still fine afterwards.
      assert.equal((await h.request("GET", "/keys", { token: tok, apiVersion })).status, 200);
    });

    test(`bad base64url, wrong alg for key type, wrong IV/tag length -> 400 (${apiVersion})`, T, async () => {
      const digest = b64u(crypto.createHash("sha256").update("x").digest());
      const bad = [
        [rsa, "encrypt", { alg: "RSA-OAEP-256", value: "!!!not base64!!!" }, "bad base64url value"],
        [rsa, "sign", { alg: "RS256", value: "a b+c/d==" }, "bad base64url digest"],
        [rsa, "verify", { alg: "RS256", digest, value: "@@@" }, "bad base64url signature"],
        [rsa, "encrypt", { alg: "ES256", value: b64u("x") }, "sign alg used to encrypt"],
        [rsa, "encrypt", { alg: "A256GCM", value: b64u("x") }, "AES alg on RSA key"],
        [rsa, "sign", { alg: "ES256", value: digest }, "EC alg on RSA key"],
        [rsa, "sign", { alg: "RS256", value: b64u(Buffer.alloc(20)) }, "digest length does not match RS256"],
        [rsa, "encrypt", { value: b64u("x") }, "alg missing"],
        [rsa, "encrypt", { alg: "RSA-OAEP-256" }, "value missing"],
        [rsa, "encrypt", { alg: "NOPE", value: b64u("x") }, "unknown alg"],
        [ec, "sign", { alg: "RS256", value: digest }, "RSA alg on EC key"],
        [ec, "sign", { alg: "ES384", value: b64u(Buffer.alloc(48)) }, "ES384 on a P-256 key"],
        [ec, "encrypt", { alg: "RSA-OAEP", value: b64u("x") }, "encrypt with an EC key", [400, 403]],
        [oct, "encrypt", { alg: "RSA-OAEP", value: b64u("x") }, "RSA alg on oct key"],
        [oct, "encrypt", { alg: "A128GCM", value: b64u("x") }, "A128GCM on a 256-bit key"],
        [oct, "sign", { alg: "ES256", value: digest }, "sign with an oct key", [400, 403]],
        [oct, "encrypt", { alg: "A256GCM", value: b64u("x"), iv: b64u(Buffer.alloc(8)) }, "GCM IV of 8 bytes"],
        [oct, "encrypt", { alg: "A256CBCPAD", value: b64u("x"), iv: b64u(Buffer.alloc(12)) }, "CBC IV of 12 bytes"],
        [oct, "encrypt", { alg: "A256CBC", value: b64u("not a block multiple") }, "CBC without padding, partial block"],
        [oct, "decrypt", { alg: "A256GCM", value: b64u("abc"), iv: b64u(Buffer.alloc(12)), tag: b64u(Buffer.alloc(4)) }, "GCM tag of 4 bytes"],
        [oct, "decrypt", { alg: "A256GCM", value: b64u("abc"), iv: b64u(Buffer.alloc(12)) }, "GCM tag missing"],
        [oct, "decrypt", { alg: "A256GCM", value: b64u("abc"), iv: b64u(Buffer.alloc(7)), tag: b64u(Buffer.alloc(16)) }, "GCM IV of 7 bytes"],
        [oct, "unwrapkey", { alg: "A256KW", value: b64u(Buffer.alloc(40)) }, "AES-KW integrity failure"],
        [oct, "unwrapkey", { alg: "A256KW", value: b64u(Buffer.alloc(13)) }, "AES-KW wrong length"],
      ];
      for (const [k, op, body, what, allowed] of bad) {
        const r = await post(k, op, body, apiVersion);
        // An operation the key type cannot do at all: Key Vault answers 400
        // or 403 (not in the key's key_ops); either refuses.
        const status = allowed?.includes(r.status) ? r.status : 400;
        assertError(r, status, null, what);
      }
    });

    test(`GCM decrypt with a flipped tag/ciphertext/aad -> 400, never plaintext (${apiVersion})`, T, async () => {
      const pt = "the plaintext must not come back";
      const e = await post(oct, "encrypt", { alg: "A256GCM", value: b64u(pt), aad: b64u("aad") }, apiVersion);
      assert.equal(e.status, 200, e.text);
      const { value, iv, tag } = e.json;
      const flip = (s, i = 0) => { const b = Buffer.from(s, "base64url"); b[i] ^= 1; return b64u(b); };
      const ok = await post(oct, "decrypt", { alg: "A256GCM", value, iv, tag, aad: b64u("aad") }, apiVersion);
      assert.equal(ok.status, 200);
      assert.equal(Buffer.from(ok.json.value, "base64url").toString(), pt);
      for (const [what, body] of [
        ["tag", { alg: "A256GCM", value, iv, tag: flip(tag), aad: b64u("aad") }],
        ["last tag byte", { alg: "A256GCM", value, iv, tag: flip(tag, 15), aad: b64u("aad") }],
        ["ciphertext", { alg: "A256GCM", value: flip(value), iv, tag, aad: b64u("aad") }],
        ["aad", { alg: "A256GCM", value, iv, tag, aad: b64u("aae") }],
        ["no aad", { alg: "A256GCM", value, iv, tag }],
        ["iv", { alg: "A256GCM", value, iv: flip(iv), tag, aad: b64u("aad") }],
      ]) {
        const r = await post(oct, "decrypt", body, apiVersion);
        assertError(r, 400, null, `flipped ${what}`);
        assert.ok(!r.text.includes(b64u(pt).slice(0, 10)), "no plaintext in the error");
      }
    });

    test(`unknown key -> 404 KeyNotFound; invalid names -> 400 (${apiVersion})`, T, async () => {
      const missing = h.uniqueName("missing");
      for (const [m, p, body] of [
        ["GET", `/keys/${missing}/`], ["GET", `/keys/${missing}`], ["GET", `/keys/${missing}/0123456789abcdef0123456789abcdef`],
        ["PATCH", `/keys/${missing}/`, { attributes: { enabled: false } }],
        ["POST", `/keys/${missing}/0123456789abcdef0123456789abcdef/sign`, { alg: "RS256", value: b64u(Buffer.alloc(32)) }],
        ["POST", `/keys/${missing}/rotate`], ["POST", `/keys/${missing}/backup`], ["DELETE", `/keys/${missing}`],
        ["GET", `/keys/${missing}/versions`], ["GET", `/deletedkeys/${missing}`], ["DELETE", `/deletedkeys/${missing}`],
        ["POST", `/deletedkeys/${missing}/recover`],
      ]) {
        const r = await h.request(m, p, { token: tok, apiVersion, body });
        assertError(r, 404, "KeyNotFound", `${m} ${p}`);
        assert.deepEqual(Object.keys(r.json), ["error"]);
      }
      // A version of another key is not found either.
      assertError(await h.request("GET", `/keys/${ec.name}/${rsa.v}`, { token: tok, apiVersion }), 404, "KeyNotFound", "foreign version");
      for (const bad of ["bad_name!", "bad.name", "a".repeat(128), "bad%20name", "%C3%A9t%C3%A9"]) {
        assertError(await h.request("POST", `/keys/${bad}/create`, { token: tok, apiVersion, body: { kty: "EC", crv: "P-256" } }), 400, "BadParameter", `name ${bad}`);
      }
      assertError(await h.request("PUT", "/keys/bad_name!", { token: tok, apiVersion, body: { key: { kty: "oct", k: b64u(crypto.randomBytes(32)) } } }), 400, "BadParameter", "import bad_name!");
      // Bad parameters in an otherwise valid create.
      for (const body of [{ kty: "RSA", key_size: 1000 }, { kty: "EC", crv: "P-255" }, { kty: "oct", key_size: 100 }, { kty: "DSA" }, {}]) {
        assertError(await h.request("POST", `/keys/${h.uniqueName("bp")}/create`, { token: tok, apiVersion, body }), 400, "BadParameter", JSON.stringify(body));
      }
      // Valid edge: 127 characters is allowed.
      const long = `k${"a".repeat(126)}`;
      assert.equal((await h.request("POST", `/keys/${long}/create`, { token: tok, apiVersion, body: { kty: "EC", crv: "P-256" } })).status, 200);
      await h.request("DELETE", `/keys/${long}`, { token: tok, apiVersion });
      await h.request("DELETE", `/deletedkeys/${long}`, { token: tok, apiVersion });
    });

    test(`name held by a soft-deleted key -> 409 ObjectIsDeletedButRecoverable (${apiVersion})`, T, async () => {
      const name = h.uniqueName("held");
      await create(name, { kty: "EC", crv: "P-256" }, apiVersion);
      const d = await h.request("DELETE", `/keys/${name}`, { token: tok, apiVersion });
      assert.equal(d.status, 200, d.text);
      assert.equal(d.json.recoveryId, `${h.VAULT_URL}/deletedkeys/${name}`);
      for (const [m, p, body] of [
        ["POST", `/keys/${name}/create`, { kty: "EC", crv: "P-256" }],
        ["PUT", `/keys/${name}`, { key: { kty: "oct", k: b64u(crypto.randomBytes(32)) } }],
      ]) {
        const r = await h.request(m, p, { token: tok, apiVersion, body });
        assertError(r, 409, "Conflict", `${m} over a soft-deleted key`);
        assert.equal(r.json.error.innererror?.code, "ObjectIsDeletedButRecoverable");
      }
      const p = await h.request("DELETE", `/deletedkeys/${name}`, { token: tok, apiVersion });
      assert.equal(p.status, 204, `purge: ${p.status} ${p.text}`);
      assert.equal(p.text, "");
      assert.equal((await h.request("POST", `/keys/${name}/create`, { token: tok, apiVersion, body: { kty: "EC", crv: "P-256" } })).status, 200);
    });
  }

  test("api-version: missing -> 400; percent-encoded name accepted; unknown -> 400", T, async () => {
    const none = await h.request("GET", "/keys", { token: tok, apiVersion: null });
    assertError(none, 400, null, "missing api-version");
    for (const v of ["7.5", "2025-07-01"]) {
      const enc = await h.request("GET", "/keys", { token: tok, rawQuery: `?api%2Dversion=${v}` });
      assert.equal(enc.status, 200, `api%2Dversion=${v}: ${enc.status} ${enc.text}`);
      assert.ok(Array.isArray(enc.json.value));
      const enc2 = await h.request("GET", "/keys", { token: tok, rawQuery: `?api%2dversion=${encodeURIComponent(v)}&maxresults=1` });
      assert.equal(enc2.status, 200, `lower-case escape: ${enc2.status}`);
      assert.ok(enc2.json.value.length <= 1, "maxresults honoured");
    }
    const k = h.uniqueName("pct");
    const c = await h.request("POST", `/keys/${k}/create`, { token: tok, rawQuery: "?api%2Dversion=2025-07-01", body: { kty: "EC", crv: "P-256" } });
    assert.equal(c.status, 200, `create with api%2Dversion: ${c.text}`);
    // Parameter ranges from the 2025-07-01 spec.
    for (const count of [0, 129, -1, "8", 1.5, null]) {
      assertError(await h.request("POST", "/rng", { token: tok, body: { count } }), 400, "BadParameter", `rng count ${count}`);
    }
    assert.equal((await h.request("POST", "/rng", { token: tok, body: { count: 128 } })).status, 200);
    for (const m of ["0", "26", "abc", "-1"]) {
      assertError(await h.request("GET", "/keys", { token: tok, query: { maxresults: m } }), 400, "BadParameter", `maxresults=${m}`);
    }
    assert.equal((await h.request("GET", "/keys", { token: tok, query: { maxresults: "25" } })).status, 200);
    for (const body of [{ value: "AAAA" }, { value: "" }, {}, { value: 5 }]) {
      assertError(await h.request("POST", "/keys/restore", { token: tok, body }), 400, "BadParameter", `restore ${JSON.stringify(body)}`);
    }
    for (const bad of ["", "banana", "1.0", "7.4-preview.", "7.4-preview.x", "7.4-previewx", "7.-preview",
      "2025-7-01", "2015-01-01", "2025-07-01-preview.1.2"]) {
      assertError(await h.request("GET", "/keys", { token: tok, rawQuery: `?api-version=${bad}` }), 400, null, `api-version=${bad}`);
    }
    // Every form the official SDKs and tools have shipped (azure-cli 2.45
    // and older SDKs default to 7.4-preview.1).
    for (const v of ["7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.0-preview", "7.2-preview",
      "7.3-preview", "7.4-preview.1", "7.5-preview.1", "7.6-preview.1", "7.6-preview.2", "2016-10-01",
      "2025-07-01", "2025-07-01-preview"]) {
      const r = await h.request("GET", "/keys", { token: tok, rawQuery: `?api-version=${v}` });
      assert.equal(r.status, 200, `api-version=${v}: ${r.status} ${r.text}`);
    }
  });
});
