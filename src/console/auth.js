// Signing in with the vault's authorization-code flow and PKCE
// (docs/users.md).  Access and refresh tokens live in this module's memory
// only: never in localStorage, sessionStorage, cookies or the URL.  Only
// the PKCE verifier and state wait in sessionStorage across the one
// redirect, and are removed when it comes back.  A reload signs in again
// through the vault's session cookie, without a form.

let config = null;
let refreshToken = null;
const tokens = new Map(); // audience -> { access, expires }
let refreshing = Promise.resolve();

const b64url = (buf) =>
  btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function random(bytes) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return b64url(a);
}

export async function loadConfig() {
  const r = await fetch("/console/config.json", { cache: "no-cache" });
  config = await r.json();
  return config;
}

export const storageAudience = "https://storage.azure.com";
const redirectUri = () => `${location.origin}/console/`;
const endpoint = (name) => `/${config.tenant_id}/oauth2/v2.0/${name}`;

async function tokenRequest(form) {
  const r = await fetch(endpoint("token"), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error_description || `sign-in failed (${r.status})`);
  return j;
}

function keep(audience, reply) {
  tokens.set(audience, { access: reply.access_token, expires: Date.now() + reply.expires_in * 1000 });
  refreshToken = reply.refresh_token;
}

/* Sends the browser to the vault's sign-in page; never returns. */
async function redirectToSignIn() {
  const verifier = random(48);
  const state = random(16);
  sessionStorage.setItem("coffer-pkce", JSON.stringify({ verifier, state }));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const q = new URLSearchParams({
    client_id: config.client_id, response_type: "code", redirect_uri: redirectUri(),
    code_challenge: challenge, code_challenge_method: "S256", state,
    scope: `${config.vault_resource}/.default offline_access`,
  });
  location.assign(`${endpoint("authorize")}?${q}`);
  return new Promise(() => {});
}

/* Completes a sign-in coming back with ?code=, or starts one. */
export async function signIn() {
  const params = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem("coffer-pkce") || "null");
  sessionStorage.removeItem("coffer-pkce");
  const code = params.get("code");
  if (code) history.replaceState(null, "", `/console/${location.hash}`);
  if (!code || !saved || params.get("state") !== saved.state) return redirectToSignIn();
  const reply = await tokenRequest({
    grant_type: "authorization_code", client_id: config.client_id, code,
    code_verifier: saved.verifier, redirect_uri: redirectUri(),
  });
  keep(config.vault_resource, reply);
}

/* An access token for `audience`, refreshed a minute before it expires.
 * Refreshes run one at a time: each one replaces the refresh token. */
export async function accessToken(audience = config.vault_resource) {
  const t = tokens.get(audience);
  if (t && t.expires - 60000 > Date.now()) return t.access;
  const run = refreshing.then(async () => {
    const again = tokens.get(audience);
    if (again && again.expires - 60000 > Date.now()) return again.access;
    try {
      keep(audience, await tokenRequest({
        grant_type: "refresh_token", client_id: config.client_id,
        refresh_token: refreshToken, scope: `${audience}/.default`,
      }));
    } catch {
      await redirectToSignIn();
    }
    return tokens.get(audience).access;
  });
  refreshing = run.catch(() => {});
  return run;
}

export async function signOut() {
  try {
    await fetch(endpoint("logout"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ refresh_token: refreshToken || "" }),
    });
  } finally {
    tokens.clear();
    refreshToken = null;
  }
}

export const currentConfig = () => config;
