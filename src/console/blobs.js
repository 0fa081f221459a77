// Containers and the blob browser, through the Blob API with the
// signed-in person's token: containers (create with a default encryption
// scope, delete), blobs by prefix ("folders" at each "/"), upload and
// download with progress, properties and metadata (how the blob is
// encrypted, and whether its content was encrypted by the client), and SAS
// links signed with a user delegation key (blob_api.js).

import { blobFetch, blobPath, blobXml, delegationSasUrl, text } from "./blob_api.js";
import { download } from "./transfer.js";
import { act, field, h, notice, table } from "./ui.js";

const BLOCK = 4 * 1024 * 1024; // bytes per Put Block
const LIST_MAX = 500; // entries shown per listing page

let container = "";
let prefix = "";
let opened = null; // the blob whose properties are shown

const size = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
const blockId = (i) => btoa(`block-${String(i).padStart(8, "0")}`);

function progressBar(id, total) {
  const bar = h("progress", { id, max: Math.max(1, total), value: 0 });
  const label = h("span", { class: "muted" }, `0 of ${size(total)}`);
  return {
    el: h("div", { class: "progress" }, bar, label),
    set(done) { bar.value = done; label.textContent = `${size(done)} of ${size(total)}`; },
    finish() { bar.value = bar.max; bar.setAttribute("data-done", "true"); label.textContent = `${size(total)}: done`; },
  };
}

/* Uploads a File as a block blob, a block at a time, reporting progress. */
async function upload(account, file, name, bar) {
  const path = blobPath(account, container, name);
  const type = { "x-ms-blob-content-type": file.type || "application/octet-stream" };
  if (file.size <= BLOCK) {
    await blobFetch("PUT", path, { headers: { "x-ms-blob-type": "BlockBlob", ...type }, body: file });
    bar.finish();
    return;
  }
  const ids = [];
  for (let off = 0, i = 0; off < file.size; off += BLOCK, i++) {
    ids.push(blockId(i));
    await blobFetch("PUT", path, { query: `comp=block&blockid=${encodeURIComponent(blockId(i))}`, body: file.slice(off, off + BLOCK) });
    bar.set(Math.min(file.size, off + BLOCK));
  }
  const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
  await blobFetch("PUT", path, { query: "comp=blocklist", headers: { ...type, "Content-Type": "application/xml" }, body: list });
  bar.finish();
}

/* Downloads a blob with progress, then offers it as a file. */
async function fetchToFile(account, name, bar) {
  const r = await blobFetch("GET", blobPath(account, container, name));
  const reader = r.body.getReader();
  const chunks = [];
  let done = 0;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    chunks.push(value);
    done += value.length;
    bar.set(done);
  }
  bar.finish();
  download(name.split("/").pop(), new Blob(chunks), r.headers.get("content-type") || "application/octet-stream");
}

async function propertiesPanel(account, name, render) {
  const r = await blobFetch("HEAD", blobPath(account, container, name));
  const hd = (n) => r.headers.get(n) || "";
  const meta = [...r.headers.entries()].filter(([k]) => k.startsWith("x-ms-meta-")).map(([k, v]) => [k.slice(10), v]);
  const cse = meta.some(([k]) => k.toLowerCase() === "encryptiondata");
  const encryption = [
    hd("x-ms-server-encrypted") === "true" ? "AES-256 at rest" : "not encrypted at rest",
    hd("x-ms-encryption-scope") && `scope ${hd("x-ms-encryption-scope")}`,
    hd("x-ms-encryption-key-sha256") && "customer-provided key",
  ].filter(Boolean).join(", ");
  const rows = [
    ["Name", name], ["Size", `${size(Number(hd("content-length")))} (${hd("content-length")} bytes)`],
    ["Type", `${hd("x-ms-blob-type")}, ${hd("content-type")}`], ["Last modified", hd("last-modified")],
    ["ETag", hd("etag")], ["Content-MD5", hd("content-md5") || "—"],
    ["Server-side encryption", encryption],
    ["Client-side encryption", cse ? "yes: the content was encrypted by the client (its encryptiondata metadata)" : "no"],
  ].map(([k, v]) => h("tr", { "data-prop": k }, h("th", { scope: "row" }, k), h("td", {}, v)));
  const metaForm = h("form", { class: "inline", id: "metadata-form",
    onsubmit: act(`Metadata of ${name}`, async () => {
      const lines = new FormData(document.getElementById("metadata-form")).get("metadata").split("\n").map((l) => l.trim()).filter(Boolean);
      const headers = {};
      for (const l of lines) {
        const eq = l.indexOf("=");
        if (eq < 1) throw new Error(`"${l}" is not name=value`);
        headers[`x-ms-meta-${l.slice(0, eq).trim()}`] = l.slice(eq + 1).trim();
      }
      await blobFetch("PUT", blobPath(account, container, name), { query: "comp=metadata", headers });
    }, render) },
    field("Metadata (name=value per line)", h("textarea", { name: "metadata", id: "metadata-text", rows: 3 },
      meta.map(([k, v]) => `${k}=${v}`).join("\n"))),
    h("button", { type: "submit", id: "metadata-submit" }, "Save metadata"));
  return h("section", { id: "blob-properties", "data-blob": name, "data-cse": cse ? "yes" : "no" },
    h("h4", {}, `Properties of ${name}`), table(["", ""], rows), metaForm,
    sasForm(account, name));
}

function sasForm(account, name) {
  const id = name ? "sas-blob" : "sas-container";
  const letters = name ? ["r", "w", "d", "c"] : ["r", "l", "w", "d", "c"];
  const out = h("input", { id: `${id}-url`, readonly: true, class: "wide" });
  const form = h("form", { class: "inline", id,
    onsubmit: act("SAS link", async () => {
      const f = new FormData(document.getElementById(id));
      const permissions = "racwdl".split("").filter((l) => f.get(`p-${l}`) === "on").join("");
      if (!permissions) throw new Error("choose at least one permission");
      out.value = await delegationSasUrl({ account, container, blob: name, permissions,
        hours: Number(f.get("hours")), httpsOnly: f.get("https") === "on" });
      out.setAttribute("data-ready", "true");
    }) },
    h("span", {}, `SAS for ${name ? "this blob" : `container ${container}`}:`),
    letters.map((l) => field({ r: "read", w: "write", d: "delete", c: "create", l: "list" }[l],
      h("input", { type: "checkbox", name: `p-${l}`, checked: l === "r" || l === "l" }))),
    field("Valid for (hours)", h("input", { name: "hours", type: "number", min: 1, max: 168, value: 1 })),
    field("HTTPS only", h("input", { type: "checkbox", name: "https", checked: true })),
    h("button", { type: "submit", id: `${id}-submit` }, "Make link"), out);
  return form;
}

async function browser(account, render) {
  const q = new URLSearchParams({ restype: "container", comp: "list", delimiter: "/", include: "metadata", maxresults: String(LIST_MAX) });
  if (prefix) q.set("prefix", prefix);
  const doc = await blobXml("GET", blobPath(account, container), q.toString());
  const folders = [...doc.querySelectorAll("Blobs > BlobPrefix")].map((p) => text(p, "Name"));
  const blobs = [...doc.querySelectorAll("Blobs > Blob")];
  const up = prefix && h("tr", { "data-folder": ".." }, h("td", { colspan: 6 }, h("button", { type: "button", class: "link",
    onclick: () => { prefix = prefix.replace(/[^/]*\/$/, ""); opened = null; render(); } }, "↑ up")));
  const folderRows = folders.map((f) => h("tr", { "data-folder": f }, h("td", { colspan: 6 },
    h("button", { type: "button", class: "link", onclick: () => { prefix = f; opened = null; render(); } }, `${f.slice(prefix.length)}`))));
  const bar = h("div", { id: "transfer" });
  const blobRows = blobs.map((b) => {
    const name = text(b, "Name");
    const p = b.querySelector("Properties");
    const meta = [...(b.querySelector("Metadata")?.children || [])].map((m) => m.tagName.toLowerCase());
    const scope = text(p, "EncryptionScope");
    return h("tr", { "data-blob": name },
      h("td", {}, name.slice(prefix.length)), h("td", {}, size(Number(text(p, "Content-Length")))),
      h("td", {}, text(p, "BlobType")), h("td", {}, text(p, "Last-Modified")),
      h("td", {}, [text(p, "ServerEncrypted") === "true" ? "AES-256" : "—", scope && ` · ${scope}`,
        meta.includes("encryptiondata") && " · client-side"].filter(Boolean).join("")),
      h("td", { class: "actions" },
        h("button", { type: "button", "data-action": "download", onclick: act(`Download ${name}`, async () => {
          const pb = progressBar("download-progress", Number(text(p, "Content-Length")));
          bar.replaceChildren(pb.el);
          await fetchToFile(account, name, pb);
        }) }, "Download"),
        h("button", { type: "button", "data-action": "properties", onclick: act(`Properties of ${name}`, async () => { opened = name; }, render) }, "Properties"),
        h("button", { type: "button", class: "danger", "data-action": "delete-blob", onclick: act(`Delete ${name}`, async () => {
          await blobFetch("DELETE", blobPath(account, container, name));
          if (opened === name) opened = null;
        }, render) }, "Delete")));
  });
  const uploadForm = h("form", { class: "inline", id: "blob-upload",
    onsubmit: act("Upload", async () => {
      const input = document.getElementById("upload-file");
      const file = input.files[0];
      if (!file) throw new Error("choose a file");
      const pb = progressBar("upload-progress", file.size);
      bar.replaceChildren(pb.el);
      await upload(account, file, prefix + file.name, pb);
    }, render) },
    field(`Upload into ${container}/${prefix}`, h("input", { type: "file", id: "upload-file", name: "file" })),
    h("button", { class: "primary", type: "submit", id: "upload-submit" }, "Upload"));
  const panel = opened ? await propertiesPanel(account, opened, render).catch((e) => h("p", { class: "muted" }, e.message)) : "";
  const more = text(doc.documentElement, "NextMarker") ? h("p", { class: "muted" }, `The first ${LIST_MAX} entries are shown.`) : "";
  return [h("h3", { id: "blob-browser", "data-container": container, "data-prefix": prefix }, `${container}/${prefix}`),
    uploadForm, bar, table(["Name", "Size", "Type", "Last modified", "Encryption", ""], [up, ...folderRows, ...blobRows].filter(Boolean)),
    more, panel, sasForm(account, "")];
}

export async function containersSection(account, me, render) {
  let doc;
  try {
    doc = await blobXml("GET", blobPath(account), "comp=list&maxresults=500");
  } catch (e) {
    return [h("h3", {}, `Containers of ${account}`), h("p", { class: "muted", id: "containers-refused" },
      e.status === 403 ? "You hold no Storage Blob Data role on this account." : e.message)];
  }
  const names = [...doc.querySelectorAll("Containers > Container")].map((c) => ({
    name: text(c, "Name"), scope: text(c.querySelector("Properties"), "DefaultEncryptionScope"),
    modified: text(c.querySelector("Properties"), "Last-Modified") }));
  if (container && !names.some((c) => c.name === container)) { container = ""; prefix = ""; opened = null; }
  const rows = names.map((c) => h("tr", { "data-container": c.name },
    h("td", {}, h("button", { type: "button", class: "link", "data-action": "open-container",
      onclick: () => { container = c.name; prefix = ""; opened = null; notice(""); render(); } }, c.name)),
    h("td", {}, c.scope || "account default"), h("td", {}, c.modified),
    h("td", { class: "actions" }, h("button", { type: "button", class: "danger", "data-action": "delete-container",
      onclick: act(`Delete container ${c.name}`, async () => {
        await blobFetch("DELETE", blobPath(account, c.name), { query: "restype=container" });
        if (container === c.name) container = "";
      }, render) }, "Delete"))));
  const create = h("form", { class: "inline", id: "container-create",
    onsubmit: act("Create container", async () => {
      const f = new FormData(document.getElementById("container-create"));
      const scope = f.get("scope");
      const headers = scope ? { "x-ms-default-encryption-scope": scope, "x-ms-deny-encryption-scope-override": "true" } : {};
      await blobFetch("PUT", blobPath(account, f.get("name")), { query: "restype=container", headers });
      container = f.get("name");
      prefix = "";
    }, render) },
    field("Name", h("input", { name: "name", id: "container-name", required: true })),
    field("Default encryption scope (optional)", h("input", { name: "scope", id: "container-scope" })),
    h("button", { type: "submit", id: "container-create-submit" }, "Create container"));
  const parts = [h("h3", {}, `Containers of ${account}`), create,
    table(["Container", "Default encryption scope", "Last modified", ""], rows)];
  if (container) parts.push(...await browser(account, render));
  return parts;
}
