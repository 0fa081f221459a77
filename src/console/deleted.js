// Soft-deleted keys or secrets (Key Vault's /deletedkeys, /deletedsecrets):
// when each was deleted and will be purged, with recover and purge.

import { listAll, nameOf, vault } from "./api.js";
import { act, h, table, when } from "./ui.js";

/* kind: "key" or "secret"; `can` and `render` as the view's. */
export async function deletedTable(kind, can, render) {
  const plural = `${kind}s`;
  if (!can(kind === "key" ? "keys/read" : "secrets/readMetadata/action")) return "";
  const items = await listAll(`/deleted${plural}`).catch(() => []);
  const rows = items.map((d) => {
    const name = nameOf(d.recoveryId || d.kid || d.id);
    return h("tr", { [`data-deleted-${kind}`]: name }, h("td", {}, name), h("td", {}, when(d.deletedDate)),
      h("td", {}, when(d.scheduledPurgeDate)),
      h("td", { class: "actions" },
        can(`${plural}/recover/action`) && h("button", { type: "button", "data-action": "recover", [`data-${kind}`]: name,
          onclick: act(`Recover ${name}`, () => vault("POST", `/deleted${plural}/${name}/recover`), render) }, "Recover"),
        can(`${plural}/purge/action`) && h("button", { type: "button", class: "danger", "data-action": "purge", [`data-${kind}`]: name,
          onclick: act(`Purge ${name}`, () => vault("DELETE", `/deleted${plural}/${name}`), render) }, "Purge")));
  });
  return h("section", { class: "deleted" }, h("h3", {}, `Deleted ${plural}`),
    table(["Name", "Deleted", "Purged on", ""], rows));
}
