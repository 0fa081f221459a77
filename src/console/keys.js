// Keys: list with type, state, expiry and rotation policy; create, import
// (PEM or JWK), rotate, enable/disable, set a rotation policy, versions,
// backup download, delete; deleted keys with recover and purge.

import { listAll, nameOf, vault } from "./api.js";
import { download, jwkFromText } from "./transfer.js";
import { deletedTable } from "./deleted.js";
import { act, field, h, table, when } from "./ui.js";

async function details(item) {
  const name = nameOf(item.kid);
  const [key, policy] = await Promise.all([
    vault("GET", `/keys/${name}`).catch(() => null),
    vault("GET", `/keys/${name}/rotationpolicy`).catch(() => null),
  ]);
  return { name, item, key, policy };
}

export function policyText(policy) {
  const rotate = policy?.lifetimeActions?.find((a) => a.action?.type?.toLowerCase() === "rotate");
  if (!rotate) return "none";
  const t = rotate.trigger || {};
  return t.timeAfterCreate ? `rotate ${t.timeAfterCreate} after creation`
    : t.timeBeforeExpiry ? `rotate ${t.timeBeforeExpiry} before expiry` : "rotate";
}

function typeText(key) {
  const k = key?.key;
  if (!k) return "—";
  if (k.kty?.startsWith("RSA")) return `${k.kty} ${k.n ? atob(k.n.replace(/-/g, "+").replace(/_/g, "/")).length * 8 : ""}`.trim();
  if (k.kty?.startsWith("EC")) return `${k.kty} ${k.crv || ""}`.trim();
  return k.kty || "—";
}

export async function keysView(root, me) {
  const can = (a) => me.permissions[a] === true;
  const render = () => keysView(root, me);
  const items = await listAll("/keys");
  const rows = await Promise.all(items.slice(0, 100).map(details));
  const create = can("keys/create/action") && h("form", { class: "inline", id: "key-create",
    onsubmit: act("Create key", async () => {
      const f = new FormData(document.getElementById("key-create"));
      const kty = f.get("kty");
      const body = { kty };
      if (kty === "RSA") body.key_size = Number(f.get("size"));
      if (kty === "EC") body.crv = f.get("curve");
      if (kty === "oct") body.key_size = 256;
      await vault("POST", `/keys/${encodeURIComponent(f.get("name"))}/create`, body);
    }, render) },
    field("Name", h("input", { name: "name", id: "key-name", required: true, pattern: "[0-9A-Za-z-]{1,127}" })),
    field("Type", h("select", { name: "kty", id: "key-kty" },
      h("option", { value: "RSA" }, "RSA"), h("option", { value: "EC" }, "EC"), h("option", { value: "oct" }, "AES (oct)"))),
    field("RSA size", h("select", { name: "size" }, ["2048", "3072", "4096"].map((s) => h("option", { value: s }, s)))),
    field("EC curve", h("select", { name: "curve" }, ["P-256", "P-384", "P-521"].map((s) => h("option", { value: s }, s)))),
    h("button", { class: "primary", type: "submit", id: "key-create-submit" }, "Create key"));
  const body = rows.map(({ name, item, key, policy }) => {
    const enabled = item.attributes?.enabled !== false;
    const buttons = [
      can("keys/rotate/action") && h("button", { type: "button", "data-action": "rotate", "data-key": name,
        onclick: act(`Rotate ${name}`, () => vault("POST", `/keys/${name}/rotate`), render) }, "Rotate"),
      can("keys/update/action") && h("button", { type: "button", "data-action": enabled ? "disable" : "enable", "data-key": name,
        onclick: act(`${enabled ? "Disable" : "Enable"} ${name}`,
          () => vault("PATCH", `/keys/${name}`, { attributes: { enabled: !enabled } }), render) }, enabled ? "Disable" : "Enable"),
      can("keyrotationpolicies/write") && h("button", { type: "button", "data-action": "policy", "data-key": name,
        onclick: act(`Rotation policy of ${name}`, () => vault("PUT", `/keys/${name}/rotationpolicy`, {
          lifetimeActions: [{ trigger: { timeAfterCreate: "P90D" }, action: { type: "Rotate" } }],
          attributes: { expiryTime: "P2Y" } }), render) }, "Rotate every 90 days"),
      can("keys/read") && h("button", { type: "button", "data-action": "versions", "data-key": name,
        onclick: act(`Versions of ${name}`, async () => {
          const versions = await listAll(`/keys/${name}/versions`);
          const cell = document.querySelector(`tr[data-key="${name}"] td[data-version]`);
          cell.replaceChildren(h("ul", { class: "versions" }, versions.map((v) =>
            h("li", {}, `${v.kid.split("/").pop().slice(0, 8)} ${when(v.attributes?.created)}${v.attributes?.enabled === false ? " (disabled)" : ""}`))));
        }) }, "Versions"),
      can("keys/backup/action") && h("button", { type: "button", "data-action": "backup", "data-key": name,
        onclick: act(`Backup of ${name}`, async () => {
          const b = await vault("POST", `/keys/${name}/backup`);
          download(`${name}.keybackup`, b.value);
        }) }, "Backup"),
      can("keys/delete") && h("button", { type: "button", class: "danger", "data-action": "delete", "data-key": name,
        onclick: act(`Delete ${name}`, () => vault("DELETE", `/keys/${name}`), render) }, "Delete"),
    ];
    const version = key?.key?.kid ? key.key.kid.split("/").pop() : "";
    return h("tr", { "data-key": name },
      h("td", {}, name), h("td", {}, typeText(key)),
      h("td", {}, h("span", { class: "tag" }, enabled ? "enabled" : "disabled")),
      h("td", {}, when(item.attributes?.exp)), h("td", {}, policyText(policy)),
      h("td", { class: "muted", "data-version": version }, version.slice(0, 8)),
      h("td", { class: "actions" }, buttons));
  });
  const imp = can("keys/import/action") && h("form", { class: "inline", id: "key-import",
    onsubmit: act("Import key", async () => {
      const form = document.getElementById("key-import");
      const f = new FormData(form);
      const key = await jwkFromText(f.get("material"));
      await vault("PUT", `/keys/${encodeURIComponent(f.get("name"))}`, { key });
      form.reset();
    }, render) },
    field("Name", h("input", { name: "name", id: "import-name", required: true, pattern: "[0-9A-Za-z-]{1,127}" })),
    field("Private key: PKCS#8 PEM or JWK", h("textarea", { name: "material", id: "import-material", required: true, rows: 2, autocomplete: "off" })),
    h("button", { type: "submit", id: "import-submit" }, "Import key"));
  const deleted = await deletedTable("key", can, render);
  root.replaceChildren(h("h2", {}, "Keys"), create || "", imp || "",
    table(["Name", "Type", "State", "Expires", "Rotation policy", "Version", ""], body), deleted);
}
