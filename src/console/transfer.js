// Moving things in and out from the browser: a file download made in
// memory (backups, blobs, audit exports), and PEM private keys turned
// into JWKs by the browser's own WebCrypto (the vault imports JWKs, as
// Key Vault does).

import { h } from "./ui.js";

/* Offers `data` (text or a Blob) as a file download. */
export function download(name, data, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const CURVES = { "P-256": "P-256", "P-384": "P-384", "P-521": "P-521" };

/* A JWK (private) from pasted text: a JWK as JSON, or a PKCS#8 PEM
 * ("BEGIN PRIVATE KEY") of an RSA or EC key. */
export async function jwkFromText(text) {
  const t = text.trim();
  if (t.startsWith("{")) return JSON.parse(t);
  const m = t.match(/-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/);
  if (!m) throw new Error("paste a JWK or a PKCS#8 PEM private key (BEGIN PRIVATE KEY)");
  const der = Uint8Array.from(atob(m[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  const attempts = [
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    ...Object.values(CURVES).map((namedCurve) => ({ name: "ECDSA", namedCurve })),
  ];
  for (const alg of attempts) {
    try {
      const key = await crypto.subtle.importKey("pkcs8", der, alg, true, ["sign"]);
      const jwk = await crypto.subtle.exportKey("jwk", key);
      delete jwk.alg; delete jwk.ext; delete jwk.key_ops;
      return jwk;
    } catch {
      /* not this kind of key */
    }
  }
  throw new Error("the PEM is not an RSA or P-256/384/521 private key");
}
