// The vault's own REST API (Key Vault's, plus Coffer's /coffer/...), called
// with the signed-in user's token: the console can do nothing the user's
// roles do not allow, because the vault decides every request.

import { accessToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function vault(method, path, body) {
  const token = await accessToken();
  const sep = path.includes("?") ? "&" : "?";
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(`${path}${sep}api-version=7.5`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, j?.error?.message || `${r.status} ${r.statusText}`);
  return j;
}

/* Every page of a Key Vault listing (nextLink), up to `max` items. */
export async function listAll(path, max = 1000) {
  const items = [];
  let next = path;
  while (next && items.length < max) {
    const page = await vault("GET", next);
    items.push(...(page?.value || []));
    next = page?.nextLink ? new URL(page.nextLink).pathname + new URL(page.nextLink).search.replace(/([?&])api-version=[^&]*&?/, "$1").replace(/[?&]$/, "") : null;
  }
  return items;
}

export const nameOf = (id) => decodeURIComponent(new URL(id).pathname.split("/")[2]);
export const versionOf = (id) => new URL(id).pathname.split("/")[3] || "";

export const uuid = () => crypto.randomUUID();
