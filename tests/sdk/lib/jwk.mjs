// JWK helpers shared by the suites: public keys built from the vault's JWKs,
// conversions between the SDK's JsonWebKey (Uint8Array fields) and node's
// JWK (base64url strings), and ECDSA signature encodings.
import assert from "node:assert/strict";
import crypto from "node:crypto";

const BIN_FIELDS = ["n", "e", "d", "dp", "dq", "qi", "p", "q", "k", "x", "y", "t"];
export const PRIVATE_FIELDS = ["d", "dp", "dq", "qi", "p", "q", "k"];

const CURVE_TO_NODE = { "P-256": "P-256", "P-384": "P-384", "P-521": "P-521", "P-256K": "secp256k1" };
const NODE_TO_CURVE = { "P-256": "P-256", "P-384": "P-384", "P-521": "P-521", secp256k1: "P-256K" };

// SDK JsonWebKey (KeyVaultKey.key) -> node KeyObject (public).
export function publicKeyFromSdkJwk(key) {
  const jwk = { kty: key.kty.replace(/-HSM$/, "") };
  if (jwk.kty === "RSA") {
    jwk.n = Buffer.from(key.n).toString("base64url");
    jwk.e = Buffer.from(key.e).toString("base64url");
  } else if (jwk.kty === "EC") {
    jwk.crv = CURVE_TO_NODE[key.crv];
    jwk.x = Buffer.from(key.x).toString("base64url");
    jwk.y = Buffer.from(key.y).toString("base64url");
  } else {
    throw new Error(`no public key for kty ${key.kty}`);
  }
  return crypto.createPublicKey({ key: jwk, format: "jwk" });
}

// node private KeyObject -> SDK JsonWebKey for importKey.
export function sdkJwkFromNodeKey(keyObject, keyOps) {
  const jwk = keyObject.export({ format: "jwk" });
  const out = { kty: jwk.kty };
  for (const f of BIN_FIELDS) if (jwk[f] !== undefined) out[f] = Buffer.from(jwk[f], "base64url");
  if (jwk.crv) out.crv = NODE_TO_CURVE[jwk.crv];
  if (keyOps) out.keyOps = keyOps;
  return { jwk, sdk: out };
}

export function hashFor(alg) {
  const bits = alg.match(/(256|384|512)/)[1];
  return `sha${bits}`;
}

export function digest(alg, data) {
  return crypto.createHash(hashFor(alg)).update(data).digest();
}

// IEEE P1363 r||s -> DER ECDSA-Sig-Value.
export function p1363ToDer(sig) {
  const half = sig.length / 2;
  const int = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    b = b.subarray(i);
    if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([0x02]), derLen(b.length), b]);
  };
  const body = Buffer.concat([int(Buffer.from(sig.subarray(0, half))), int(Buffer.from(sig.subarray(half)))]);
  return Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
}

function derLen(n) {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

// Verifies a vault signature locally with node:crypto.
export function verifyLocally(alg, publicKey, data, signature) {
  const hash = hashFor(alg);
  if (alg.startsWith("RS")) {
    return crypto.verify(hash, data, publicKey, Buffer.from(signature));
  }
  if (alg.startsWith("PS")) {
    return crypto.verify(hash, data, {
      key: publicKey,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
    }, Buffer.from(signature));
  }
  return crypto.verify(hash, data, { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signature));
}

// The SDK's RestError with this status (and error code, if given).
export function isRestError(status, code) {
  return (e) => {
    assert.equal(e.statusCode, status, `expected HTTP ${status}, got ${e.statusCode}: ${e.message}`);
    if (code) assert.equal(e.code, code, `expected error code ${code}: ${e.message}`);
    return true;
  };
}

// A key bundle must never carry private members.
export function assertNoPrivate(key) {
  for (const f of PRIVATE_FIELDS) assert.equal(key.key[f], undefined, `key.${f} must never leave the vault`);
}
