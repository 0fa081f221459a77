// Secrets: list, create or add a version, reveal a value only on an explicit
// click (the vault audits the read), hide it again, delete; deleted secrets
// with recover and purge.  A revealed
// value exists in the page's DOM only while shown: it is never stored.

import { listAll, nameOf, vault } from "./api.js";
import { deletedTable } from "./deleted.js";
import { act, field, h, table, when } from "./ui.js";

export async function secretsView(root, me) {
  const can = (a) => me.permissions[a] === true;
  const render = () => secretsView(root, me);
  const items = await listAll("/secrets");
  const set = can("secrets/setSecret/action") && h("form", { class: "inline", id: "secret-set",
    onsubmit: act("Set secret", async () => {
      const form = document.getElementById("secret-set");
      const f = new FormData(form);
      await vault("PUT", `/secrets/${encodeURIComponent(f.get("name"))}`, { value: f.get("value") });
      form.reset();
    }, render) },
    field("Name", h("input", { name: "name", id: "secret-name", required: true, pattern: "[0-9A-Za-z-]{1,127}" })),
    field("Value (a new version if the secret exists)", h("textarea", { name: "value", id: "secret-value", required: true, rows: 1, autocomplete: "off" })),
    h("button", { class: "primary", type: "submit", id: "secret-set-submit" }, "Save secret"));
  const rows = items.map((item) => {
    const name = nameOf(item.id);
    const valueCell = h("td", { class: "secret-value", "data-secret": name }, h("span", { class: "muted" }, "hidden"));
    const reveal = can("secrets/getSecret/action") && h("button", { type: "button", "data-action": "reveal", "data-secret": name,
      onclick: async (ev) => {
        const b = ev.currentTarget;
        if (b.dataset.shown) {
          valueCell.replaceChildren(h("span", { class: "muted" }, "hidden"));
          delete b.dataset.shown;
          b.textContent = "Reveal";
          return;
        }
        await act(`Reveal ${name}`, async () => {
          const s = await vault("GET", `/secrets/${name}`);
          valueCell.replaceChildren(s.value);
          b.dataset.shown = "1";
          b.textContent = "Hide";
        })();
      } }, "Reveal");
    const del = can("secrets/delete") && h("button", { type: "button", class: "danger", "data-action": "delete", "data-secret": name,
      onclick: act(`Delete ${name}`, () => vault("DELETE", `/secrets/${name}`), render) }, "Delete");
    return h("tr", { "data-secret": name }, h("td", {}, name),
      h("td", {}, item.contentType || "—"), h("td", {}, when(item.attributes?.updated)),
      valueCell, h("td", { class: "actions" }, reveal, del));
  });
  const deleted = await deletedTable("secret", can, render);
  root.replaceChildren(h("h2", {}, "Secrets"), set || "",
    table(["Name", "Content type", "Updated", "Value", ""], rows), deleted);
}
