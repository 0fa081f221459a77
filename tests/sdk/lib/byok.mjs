// Builds Key Vault BYOK transfer blobs with node:crypto alone, as an HSM
// vendor's tool would: an ephemeral AES-256 key under the key-exchange
// key's RSA-OAEP (SHA-1), then the target key (PKCS#8 for RSA/EC, raw for
// AES) under AES key wrap with padding (RFC 5649), and the JSON envelope
// with header {kid, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP"}.
import crypto from "node:crypto";
import { publicKeyFromSdkJwk } from "./jwk.mjs";

const KWP_IV = Buffer.from("a65959a6", "hex"); // RFC 5649's alternative IV

export function kwpWrap(kek, key) {
  const c = crypto.createCipheriv(`id-aes${kek.length * 8}-wrap-pad`, kek, KWP_IV);
  return Buffer.concat([c.update(key), c.final()]);
}

// kek: the KeyVaultKey of the key-exchange key; target: a node private
// KeyObject, or a Buffer of AES key bytes.
export function transferBlob(kek, target, { kid = kek.id, tamper } = {}) {
  const aes = crypto.randomBytes(32);
  const material = Buffer.isBuffer(target) ? target : target.export({ format: "der", type: "pkcs8" });
  const wrappedAes = crypto.publicEncrypt(
    { key: publicKeyFromSdkJwk(kek.key), padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    aes);
  let ciphertext = Buffer.concat([wrappedAes, kwpWrap(aes, material)]);
  if (tamper) ciphertext = tamper(ciphertext);
  const doc = {
    schema_version: "1.0.0",
    header: { kid, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" },
    ciphertext: ciphertext.toString("base64url"),
    generator: "coffer tests/sdk/lib/byok.mjs",
  };
  return Buffer.from(JSON.stringify(doc));
}
