// Access: who may do what.  Role assignments at every scope, the people and
// services they name, assigning or removing a role, a principal's
// effective permissions, and the vault's users (create, reset, delete).

import { uuid, vault } from "./api.js";
import { act, field, h, notice, table, when } from "./ui.js";

const RBAC = "/providers/Microsoft.Authorization";

export async function accessView(root, me) {
  const can = (a) => me.permissions[a] === true;
  const render = () => accessView(root, me);
  const [defs, assignments, principals] = await Promise.all([
    vault("GET", `${RBAC}/roleDefinitions`).then((r) => r.value).catch(() => []),
    vault("GET", `${RBAC}/roleAssignments`).then((r) => r.value),
    can("principals/read/action") ? vault("GET", "/coffer/principals").then((r) => r.value) : [],
  ]);
  const roleName = new Map(defs.map((d) => [d.name, d.properties.roleName]));
  const who = new Map(principals.map((p) => [p.object_id, `${p.name} (${p.kind})`]));
  const rows = assignments.map((a) => {
    const p = a.properties;
    const roleId = p.roleDefinitionId.split("/").pop();
    return h("tr", { "data-assignment": a.name },
      h("td", {}, who.get(p.principalId) || p.principalId), h("td", {}, roleName.get(roleId) || roleId),
      h("td", {}, p.scope),
      h("td", { class: "actions" }, can("roleAssignments/delete/action") && h("button", {
        type: "button", class: "danger", "data-action": "remove", "data-assignment": a.name,
        onclick: act("Remove assignment", () => vault("DELETE", `${RBAC}/roleAssignments/${a.name}`), render) }, "Remove")));
  });
  const assign = can("roleAssignments/write/action") && h("form", { class: "inline", id: "assign",
    onsubmit: act("Assign role", async () => {
      const f = new FormData(document.getElementById("assign"));
      const scope = f.get("scope") || "/";
      const prefix = scope === "/" ? "" : scope;
      await vault("PUT", `${prefix}${RBAC}/roleAssignments/${uuid()}`, {
        properties: { roleDefinitionId: f.get("role"), principalId: f.get("principal"), scope } });
    }, render) },
    field("Principal", h("select", { name: "principal", id: "assign-principal" },
      principals.map((p) => h("option", { value: p.object_id }, `${p.name} (${p.kind})`)))),
    field("Role", h("select", { name: "role", id: "assign-role" },
      defs.map((d) => h("option", { value: d.name }, d.properties.roleName)))),
    field("Scope", h("input", { name: "scope", id: "assign-scope", value: "/", placeholder: "/ , /keys/NAME, /secrets/NAME" })),
    h("button", { class: "primary", type: "submit", id: "assign-submit" }, "Assign"));
  const users = can("users/read/action") ? await vault("GET", "/coffer/users").then((r) => r.value).catch(() => []) : [];
  const userRows = users.map((u) => h("tr", { "data-user": u.name },
    h("td", {}, u.name), h("td", {}, u.totp ? "yes" : "no"), h("td", {}, when(u.created)),
    h("td", {}, u.locked_until * 1000 > Date.now() ? `locked until ${when(u.locked_until)}` : "—"),
    h("td", { class: "actions" },
      can("users/write/action") && h("button", { type: "button", "data-action": "reset", "data-user": u.name,
        onclick: act(`Reset the password of ${u.name}`, async () => {
          const password = document.getElementById("user-password").value;
          if (!password) throw new Error("type the new password in the form above first");
          await vault("POST", `/coffer/users/${u.object_id}/password`, { password });
          document.getElementById("user-password").value = "";
        }, render) }, "Reset password"),
      can("users/delete/action") && h("button", { type: "button", class: "danger", "data-action": "delete", "data-user": u.name,
        onclick: act(`Delete ${u.name}`, () => vault("DELETE", `/coffer/users/${u.object_id}`), render) }, "Delete"))));
  const userForm = can("users/write/action") && h("form", { class: "inline", id: "user-create",
    onsubmit: act("Create user", async () => {
      const form = document.getElementById("user-create");
      const f = new FormData(form);
      const reply = await vault("POST", "/coffer/users", {
        name: f.get("name"), password: f.get("password"), totp: f.get("totp") === "on" });
      form.reset();
      if (reply.totp_uri) notice(`One-time-code URI for ${reply.name} (shown once): ${reply.totp_uri}`);
    }, render) },
    field("User name", h("input", { name: "name", id: "user-name", required: true, maxlength: 64 })),
    field("Password (12 characters or more)", h("input", { name: "password", id: "user-password", type: "password", minlength: 12, autocomplete: "new-password" })),
    field("One-time codes", h("input", { name: "totp", id: "user-totp", type: "checkbox" })),
    h("button", { class: "primary", type: "submit", id: "user-create-submit" }, "Create user"));
  const effective = h("div", { id: "effective" });
  const check = can("principals/read/action") && h("form", { class: "inline", id: "effective-form",
    onsubmit: act("Effective permissions", async () => {
      const f = new FormData(document.getElementById("effective-form"));
      const scope = encodeURIComponent(f.get("scope") || "/");
      const r = await vault("GET", `/coffer/principals/${f.get("principal")}/permissions?scope=${scope}`);
      const allowed = Object.entries(r.permissions).filter(([, v]) => v).map(([k]) => k).sort();
      effective.replaceChildren(h("p", {}, `${r.name} on ${r.scope}: ${allowed.length ? "" : "nothing."}`),
        allowed.length ? h("ul", { id: "effective-list" }, allowed.map((a) => h("li", {}, a))) : "");
    }) },
    field("Principal", h("select", { name: "principal", id: "effective-principal" },
      principals.map((p) => h("option", { value: p.object_id }, `${p.name} (${p.kind})`)))),
    field("On", h("input", { name: "scope", id: "effective-scope", value: "/", placeholder: "/keys/NAME" })),
    h("button", { type: "submit", id: "effective-submit" }, "Show effective permissions"));
  root.replaceChildren(h("h2", {}, "Access"), assign || "",
    table(["Principal", "Role", "Scope", ""], rows),
    check ? h("h3", {}, "Effective permissions") : "", check || "", effective,
    users.length || userForm ? h("h3", {}, "Users") : "", userForm || "",
    users.length ? table(["Name", "One-time codes", "Created", "Lockout", ""], userRows) : "",
    principals.length ? h("h3", {}, "Principals") : "",
    principals.length ? table(["Name", "Kind", "Object id", "Created"], principals.map((p) =>
      h("tr", {}, h("td", {}, p.name), h("td", {}, p.kind), h("td", { class: "muted" }, p.object_id), h("td", {}, when(p.created))))) : "");
}
