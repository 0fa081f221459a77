// Audit: the audit log of the vault or of coffer-blob, newest first,
// filtered by principal, operation, object, result and time; the hash
// chain verified by the service on request; the lines shown exported as
// JSON Lines, exactly as logged.

import { vault } from "./api.js";
import { DEFAULT_ACCOUNT, blobAdmin, blobBase } from "./blob_api.js";
import { download } from "./transfer.js";
import { act, field, h, notice, table } from "./ui.js";

const short = (op) => op.replace(/^Microsoft\.KeyVault\/vaults\//, "");

export async function auditView(root, me, query = { top: "100" }) {
  const principals = me.permissions["principals/read/action"]
    ? await vault("GET", "/coffer/principals").then((r) => r.value).catch(() => []) : [];
  const who = new Map(principals.map((p) => [p.object_id, p.name]));
  const blob = query.service === "blob";
  const q = new URLSearchParams(Object.entries(query).filter(([k, v]) => v && k !== "service"));
  const reply = blob ? await blobAdmin("GET", DEFAULT_ACCOUNT, `audit?${q}`) : await vault("GET", `/coffer/audit?${q}`);
  const services = [["vault", "coffer-vault"],
    ...(blobBase() && me.permissions["storage/manage/action"] ? [["blob", "coffer-blob"]] : [])];
  const lines = reply.value;
  const form = h("form", { class: "inline", id: "audit-filter",
    onsubmit: act("Filter", async () => {
      const f = new FormData(document.getElementById("audit-filter"));
      const unix = (v) => (v ? String(Math.floor(new Date(`${v}Z`).getTime() / 1000)) : "");
      await auditView(root, me, {
        service: f.get("service"), principal: f.get("principal"), operation: f.get("operation"), object: f.get("object"),
        result: f.get("result"), since: unix(f.get("since")), until: unix(f.get("until")),
        top: f.get("top"), verify: f.get("verify") ? "true" : "",
      });
    }) },
    field("Service", h("select", { name: "service", id: "audit-service" },
      services.map(([id, label]) => h("option", { value: id, selected: id === (query.service || "vault") }, label)))),
    field("Principal", h("select", { name: "principal", id: "audit-principal" },
      h("option", { value: "" }, "anyone"),
      principals.map((p) => h("option", { value: p.object_id, selected: p.object_id === query.principal }, p.name)))),
    field("Operation contains", h("input", { name: "operation", id: "audit-operation", value: query.operation || "" })),
    field("Object starts with", h("input", { name: "object", id: "audit-object", value: query.object || "" })),
    field("Result", h("select", { name: "result", id: "audit-result" },
      ["", "success", "denied", "failure", "throttled"].map((r) =>
        h("option", { value: r, selected: r === (query.result || "") }, r || "any")))),
    field("Since (UTC)", h("input", { name: "since", type: "datetime-local" })),
    field("Until (UTC)", h("input", { name: "until", type: "datetime-local" })),
    field("At most", h("input", { name: "top", type: "number", min: 1, max: 1000, value: query.top || 100 })),
    field("Verify the chain", h("input", { name: "verify", id: "audit-verify", type: "checkbox", checked: !!query.verify })),
    h("button", { class: "primary", type: "submit", id: "audit-submit" }, "Show"));
  const v = reply.verification;
  const status = v ? h("p", { id: "audit-verification", "data-status": v.status, class: v.status === "intact" ? "notice" : "notice error" },
    v.status === "intact" ? `Hash chain intact: ${v.lines} lines, head ${v.head.slice(0, 16)}…`
      : `Hash chain ${v.status} at line ${v.bad_line}: ${v.reason}`) : "";
  const exportButton = h("button", { type: "button", id: "audit-export", onclick: () => {
    const text = lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
    download(`${blob ? "coffer-blob" : "coffer-vault"}-audit.jsonl`, text, "application/x-ndjson");
    notice(`Exported ${lines.length} lines.`);
  } }, "Export (JSON Lines)");
  const rows = lines.map((l) => h("tr", { "data-seq": l.seq },
    h("td", {}, l.time), h("td", {}, who.get(l.principal) || l.principal || "—"), h("td", {}, l.client),
    h("td", {}, short(l.operation)), h("td", {}, l.object), h("td", {}, l.result), h("td", {}, l.status)));
  root.replaceChildren(h("h2", { "data-service": blob ? "blob" : "vault" }, `Audit log of ${blob ? "coffer-blob" : "coffer-vault"}`), form, status,
    h("p", { class: "muted" }, `${lines.length} of ${reply.scanned} lines read, newest first. `, exportButton),
    table(["Time", "Principal", "Client", "Operation", "Object", "Result", "Status"], rows));
}
