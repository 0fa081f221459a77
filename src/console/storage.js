// Storage: coffer-blob's accounts and how each encrypts (service-managed
// keys, or a key in this vault with the version in use, the latest one and
// its rotation policy), encryption scopes, and who holds which Storage Blob
// Data role; then the account's containers and blobs (blobs.js).  Managing
// accounts needs Coffer Storage Administrator in the vault; containers
// and blobs need a Storage Blob Data role on the account.

import { listAll, nameOf, vault } from "./api.js";
import { DEFAULT_ACCOUNT, blobAdmin, blobBase } from "./blob_api.js";
import { containersSection } from "./blobs.js";
import { policyText } from "./keys.js";
import { act, field, h, notice, table } from "./ui.js";

const DATA_ROLES = {
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
  "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
  "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
};
const short = (v) => (v ? v.slice(0, 8) : "—");

let selected = DEFAULT_ACCOUNT;

/* Where a vault key stands: the version the account uses, the key's
 * latest, and its rotation policy. */
async function vaultKeyState(uri, inUse) {
  const [, name, pinned] = new URL(uri).pathname.match(/^\/keys\/([^/]+)\/?([^/]*)$/) || [];
  const [key, policy] = await Promise.all([
    vault("GET", `/keys/${name}`).catch(() => null),
    vault("GET", `/keys/${name}/rotationpolicy`).catch(() => null),
  ]);
  const latest = key?.key?.kid?.split("/").pop() || "";
  const used = inUse?.split("/").pop() || "";
  return {
    name,
    text: `vault key ${name}: in use ${short(used)}, latest ${short(latest)}` +
      (pinned ? ` (pinned to ${short(pinned)})` : used === latest ? " (follows the latest)" : " (moves to the latest within the key cache time)"),
    policy: policyText(policy),
    current: !pinned && used === latest,
  };
}

function keySourceFields(prefix, keys) {
  return [
    field("Key source", h("select", { name: "source", id: `${prefix}-source` },
      h("option", { value: "" }, "service-managed"),
      keys.map((k) => h("option", { value: k }, `vault key ${k}`)))),
  ];
}

async function accountsSection(keys, render) {
  const accounts = (await blobAdmin("GET", DEFAULT_ACCOUNT, "accounts")).value;
  const vaultUrl = location.origin;
  const encryptionOf = (source) => (source
    ? { keySource: "Microsoft.Keyvault", keyvaultproperties: { keyvaulturi: vaultUrl, keyname: source } }
    : { keySource: "Microsoft.Storage" });
  const rows = await Promise.all(accounts.map(async (a) => {
    const enc = a.properties.encryption;
    const kv = enc.keyvaultproperties;
    const state = enc.keySource === "Microsoft.Keyvault"
      ? await vaultKeyState(`${vaultUrl}/keys/${kv.keyname}${kv.keyversion ? `/${kv.keyversion}` : ""}`, kv.currentVersionedKeyIdentifier)
      : { text: "service-managed (Coffer's own key)", policy: "—", current: true };
    const change = h("form", { class: "compact", "data-rekey": a.name,
      onsubmit: act(`Key source of ${a.name}`, async () => {
        const source = new FormData(document.querySelector(`form[data-rekey="${a.name}"]`)).get("source");
        await blobAdmin("PATCH", DEFAULT_ACCOUNT, `accounts/${a.name}`, { properties: { encryption: encryptionOf(source) } });
      }, render) },
      h("select", { name: "source", "aria-label": `Key source of ${a.name}` },
        h("option", { value: "" }, "service-managed"), keys.map((k) => h("option", { value: k, selected: k === state.name }, `vault key ${k}`))),
      h("button", { type: "submit" }, "Change key"));
    return h("tr", { "data-account": a.name, "data-key-source": enc.keySource },
      h("td", {}, h("button", { type: "button", class: "link", "data-action": "open", "data-account": a.name,
        onclick: () => { selected = a.name; render(); } }, a.name)),
      h("td", { "data-key-state": state.current ? "current" : "behind" }, state.text),
      h("td", {}, state.policy),
      h("td", {}, enc.requireInfrastructureEncryption ? "yes" : "no"),
      h("td", {}, a.properties.supportsHttpsTrafficOnly ? "yes" : "no"),
      h("td", { class: "actions" }, change,
        a.name !== DEFAULT_ACCOUNT && h("button", { type: "button", class: "danger", "data-action": "delete-account", "data-account": a.name,
          onclick: act(`Delete account ${a.name}`, async () => {
            await blobAdmin("DELETE", DEFAULT_ACCOUNT, `accounts/${a.name}`);
            if (selected === a.name) selected = DEFAULT_ACCOUNT;
          }, render) }, "Delete")));
  }));
  const create = h("form", { class: "inline", id: "account-create",
    onsubmit: act("Create account", async () => {
      const f = new FormData(document.getElementById("account-create"));
      const encryption = encryptionOf(f.get("source"));
      encryption.requireInfrastructureEncryption = f.get("infra") === "on";
      await blobAdmin("PUT", DEFAULT_ACCOUNT, `accounts/${encodeURIComponent(f.get("name"))}`, { properties: { encryption } });
      selected = f.get("name");
    }, render) },
    field("Name", h("input", { name: "name", id: "account-name", required: true, pattern: "[a-z0-9]{3,24}" })),
    ...keySourceFields("account", keys),
    field("Double encryption", h("input", { name: "infra", type: "checkbox" })),
    h("button", { class: "primary", type: "submit", id: "account-create-submit" }, "Create account"));
  return [h("h3", {}, "Accounts"), create,
    table(["Account", "Key source", "Key rotation", "Double encryption", "HTTPS only", ""], rows)];
}

async function scopesSection(account, keys, render) {
  const scopes = (await blobAdmin("GET", account, "encryptionScopes")).value;
  const rows = await Promise.all(scopes.map(async (s) => {
    const p = s.properties;
    const source = p.source === "Microsoft.KeyVault"
      ? (await vaultKeyState(p.keyVaultProperties.keyUri, p.keyVaultProperties.currentVersionedKeyIdentifier)).text
      : "service-managed";
    const enabled = p.state === "Enabled";
    return h("tr", { "data-scope": s.name },
      h("td", {}, s.name), h("td", {}, source), h("td", {}, p.requireInfrastructureEncryption ? "yes" : "no"),
      h("td", {}, h("span", { class: "tag" }, p.state)),
      h("td", { class: "actions" }, h("button", { type: "button", "data-action": enabled ? "disable-scope" : "enable-scope",
        onclick: act(`${enabled ? "Disable" : "Enable"} scope ${s.name}`,
          () => blobAdmin("PATCH", account, `encryptionScopes/${s.name}`, { properties: { state: enabled ? "Disabled" : "Enabled" } }), render) },
      enabled ? "Disable" : "Enable")));
  }));
  const create = h("form", { class: "inline", id: "scope-create",
    onsubmit: act("Create scope", async () => {
      const f = new FormData(document.getElementById("scope-create"));
      const source = f.get("source");
      const properties = source
        ? { source: "Microsoft.KeyVault", keyVaultProperties: { keyUri: `${location.origin}/keys/${source}` } }
        : { source: "Microsoft.Storage" };
      properties.requireInfrastructureEncryption = f.get("infra") === "on";
      await blobAdmin("PUT", account, `encryptionScopes/${encodeURIComponent(f.get("name"))}`, { properties });
    }, render) },
    field("Name", h("input", { name: "name", id: "scope-name", required: true, pattern: "[A-Za-z0-9]{3,63}" })),
    ...keySourceFields("scope", keys),
    field("Double encryption", h("input", { name: "infra", type: "checkbox" })),
    h("button", { type: "submit", id: "scope-create-submit" }, "Create scope"));
  return [h("h3", {}, `Encryption scopes of ${account}`), create,
    table(["Scope", "Key source", "Double encryption", "State", ""], rows)];
}

async function dataAccessSection(account, me, render) {
  const assignments = (await blobAdmin("GET", account, "roleAssignments")).value || [];
  const principals = me.permissions["principals/read/action"]
    ? await vault("GET", "/coffer/principals").then((r) => r.value).catch(() => []) : [];
  const name = new Map(principals.map((p) => [p.object_id, `${p.name} (${p.kind})`]));
  const roleOf = (id) => DATA_ROLES[id.split("/").pop()] || id;
  const rows = assignments.map((a) => h("tr", { "data-data-role": a.name },
    h("td", {}, name.get(a.properties.principalId) || a.properties.principalId),
    h("td", {}, roleOf(a.properties.roleDefinitionId)), h("td", {}, a.properties.scope),
    h("td", { class: "actions" }, h("button", { type: "button", class: "danger",
      onclick: act("Remove data role", () => blobAdmin("DELETE", account, `roleAssignments/${a.name}`), render) }, "Remove"))));
  const assign = h("form", { class: "inline", id: "data-role-assign",
    onsubmit: act("Assign data role", async () => {
      const f = new FormData(document.getElementById("data-role-assign"));
      const container = f.get("container");
      await blobAdmin("PUT", account, `roleAssignments/${crypto.randomUUID()}`, { properties: {
        roleDefinitionId: f.get("role"), principalId: f.get("principal"),
        scope: container ? `/containers/${container}` : "/" } });
    }, render) },
    field("Principal", h("select", { name: "principal", id: "data-role-principal" },
      h("option", { value: me.object_id }, `me (${me.name})`),
      principals.filter((p) => p.object_id !== me.object_id).map((p) => h("option", { value: p.object_id }, `${p.name} (${p.kind})`)))),
    field("Role", h("select", { name: "role", id: "data-role-role" },
      Object.entries(DATA_ROLES).map(([id, n]) => h("option", { value: id, selected: n.endsWith("Contributor") }, n)))),
    field("Container (empty: the whole account)", h("input", { name: "container", id: "data-role-container" })),
    h("button", { type: "submit", id: "data-role-submit" }, "Assign"));
  return [h("h3", {}, `Data access to ${account}`), assign, table(["Principal", "Role", "Scope", ""], rows)];
}

export async function storageView(root, me) {
  if (!blobBase()) {
    root.replaceChildren(h("h2", {}, "Storage"),
      h("p", { class: "muted" }, "No blob service is configured: start coffer-vault with --console-blob-url."));
    return;
  }
  const render = () => storageView(root, me);
  const admin = me.permissions["storage/manage/action"] === true;
  const parts = [h("h2", {}, "Storage")];
  if (admin) {
    // The vault's keys, which accounts and scopes may be keyed by.
    const keys = (await listAll("/keys").catch(() => [])).map((k) => nameOf(k.kid));
    parts.push(...await accountsSection(keys, render));
    parts.push(...await scopesSection(selected, keys, render).catch((e) => [h("p", { class: "muted" }, `Scopes: ${e.message}`)]));
    parts.push(...await dataAccessSection(selected, me, render).catch((e) => [h("p", { class: "muted" }, `Data access: ${e.message}`)]));
  } else {
    parts.push(h("form", { class: "inline", id: "account-open",
      onsubmit: (ev) => { ev.preventDefault(); selected = new FormData(ev.target).get("account"); notice(""); render(); } },
    field("Account", h("input", { name: "account", value: selected, required: true })),
    h("button", { type: "submit" }, "Open")));
  }
  parts.push(...await containersSection(selected, me, render));
  root.replaceChildren(...parts);
}
