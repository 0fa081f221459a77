// coffer-blob's APIs from the browser, with the signed-in person's vault
// token for the storage audience: the Blob API (XML, Azure's), Coffer's
// admin API (JSON, for Coffer Storage Administrators), and user delegation
// SASs signed here with WebCrypto.  coffer-blob allows this page's origin
// by CORS; the account keys never reach the browser.

import { accessToken, currentConfig, storageAudience } from "./auth.js";
import { ApiError } from "./api.js";

const VERSION = "2026-10-06";
// coffer-blob's default account: the service-wide collections (accounts,
// audit, health) hang off its admin path.
export const DEFAULT_ACCOUNT = "coffer";

export const blobBase = () => currentConfig().blob_url || "";

/* "/account/container/a/b c" with each path segment encoded. */
export function blobPath(account, container = "", blob = "") {
  const parts = [account, ...(container ? [container] : []), ...(blob ? blob.split("/") : [])];
  return "/" + parts.map(encodeURIComponent).join("/");
}

async function storageHeaders(extra = {}) {
  return {
    Authorization: `Bearer ${await accessToken(storageAudience)}`,
    "x-ms-version": VERSION,
    "x-ms-date": new Date().toUTCString(),
    ...extra,
  };
}

async function failure(r) {
  const text = await r.text().catch(() => "");
  let message = `${r.status} ${r.statusText}`;
  if (text.startsWith("<")) {
    const doc = new DOMParser().parseFromString(text, "application/xml");
    const code = doc.querySelector("Code")?.textContent;
    const msg = doc.querySelector("Message")?.textContent?.split("\n")[0];
    if (code) message = `${code}: ${msg || ""}`;
  } else if (text.startsWith("{")) {
    const j = JSON.parse(text);
    message = j.error?.message || j.error?.code || message;
  }
  return new ApiError(r.status, message);
}

/* One Blob API request; resolves to the Response (body unread). */
export async function blobFetch(method, path, { query = "", headers = {}, body } = {}) {
  const r = await fetch(`${blobBase()}${path}${query ? `?${query}` : ""}`, {
    method, headers: await storageHeaders(headers), body,
  });
  if (!r.ok) throw await failure(r);
  return r;
}

/* A Blob API request whose answer is XML: the parsed document. */
export async function blobXml(method, path, query, options = {}) {
  const r = await blobFetch(method, path, { query, ...options });
  return new DOMParser().parseFromString(await r.text(), "application/xml");
}

/* Coffer's admin API (docs/blob.md): JSON in and out. */
export async function blobAdmin(method, account, rest, body) {
  const headers = await storageHeaders(body === undefined ? {} : { "Content-Type": "application/json" });
  const r = await fetch(`${blobBase()}/.coffer/${encodeURIComponent(account)}/${rest}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw await failure(r);
  return r.status === 204 ? null : r.json().catch(() => null);
}

export const text = (el, name) => el?.querySelector(`:scope > ${name}`)?.textContent ?? "";

/* ---- user delegation SAS ---- */

const iso = (d) => d.toISOString().replace(/\.\d+Z$/, "Z");
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));

/* A SAS URL for a container (blob "") or a blob, signed with a user
 * delegation key that coffer-blob derives for the signed-in person.  It
 * works while that person's own roles allow what it grants. */
export async function delegationSasUrl({ account, container, blob = "", permissions, hours, httpsOnly = true }) {
  const now = Date.now();
  const start = new Date(now - 5 * 60_000), expiry = new Date(now + hours * 3_600_000);
  const keyInfo = `<?xml version="1.0" encoding="utf-8"?><KeyInfo><Start>${iso(start)}</Start><Expiry>${iso(expiry)}</Expiry></KeyInfo>`;
  const key = (await blobXml("POST", `/${encodeURIComponent(account)}/`, "restype=service&comp=userdelegationkey",
    { body: keyInfo, headers: { "Content-Type": "application/xml" } })).documentElement;
  const k = (n) => text(key, n);
  const sr = blob ? "b" : "c";
  const canonical = `/blob/${account}/${container}${blob ? `/${blob}` : ""}`;
  const spr = httpsOnly ? "https" : "https,http";
  // The 2026-04-06 layout (what VERSION signs): docs/blob.md.
  const fields = [permissions, iso(start), iso(expiry), canonical,
    k("SignedOid"), k("SignedTid"), k("SignedStart"), k("SignedExpiry"), k("SignedService"), k("SignedVersion"),
    "", "", "", "", "", // saoid, suoid, scid, skdutid, sduoid
    "", spr, VERSION, sr, "", "", // sip, spr, sv, sr, snapshot time, ses
    "", "", // signed request headers and query
    "", "", "", "", ""]; // rscc, rscd, rsce, rscl, rsct
  const raw = Uint8Array.from(atob(k("Value")), (c) => c.charCodeAt(0));
  const hmac = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  raw.fill(0);
  const sig = b64(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(fields.join("\n"))));
  const q = new URLSearchParams({
    sv: VERSION, sr, sp: permissions, st: iso(start), se: iso(expiry), spr,
    skoid: k("SignedOid"), sktid: k("SignedTid"), skt: k("SignedStart"), ske: k("SignedExpiry"),
    sks: k("SignedService"), skv: k("SignedVersion"), sig,
  });
  return `${blobBase()}${blobPath(account, container, blob)}?${q}`;
}
