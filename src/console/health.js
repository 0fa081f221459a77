// Health: what each service runs on (seal, store, certificate, data
// directory, audit log) and live charts of its /metrics, scraped every few
// seconds while the page is open.

import { accessToken, storageAudience } from "./auth.js";
import { vault } from "./api.js";
import { DEFAULT_ACCOUNT, blobAdmin, blobBase } from "./blob_api.js";
import { h, table, when } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const INTERVAL_MS = 3000;
const KEEP = 60; // samples per chart
let timer = null;

/* Sums of each sample name over its label sets, from the text format. */
function parseMetrics(text) {
  const sums = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$/);
    if (m) sums.set(m[1], (sums.get(m[1]) || 0) + Number(m[3]));
  }
  return sums;
}

/* One service's /metrics, with a token of its audience. */
async function scrape(url, audience) {
  const r = await fetch(url, { headers: { Authorization: `Bearer ${await accessToken(audience)}` } });
  if (!r.ok) throw new Error(`metrics: ${r.status}`);
  return { at: Date.now(), m: parseMetrics(await r.text()) };
}

const charts = [
  ["requests", "Requests per second", (a, b) => rate(a, b, "coffer_http_requests_total")],
  ["cpu", "CPU, % of one core", (a, b) => 100 * rate(a, b, "process_cpu_seconds_total")],
  ["memory", "Resident memory, MiB", (a, b) => b.m.get("process_resident_memory_bytes") / 1048576],
  ["connections", "Open connections", (a, b) => b.m.get("coffer_http_open_connections") || 0],
];
function rate(a, b, name) {
  return Math.max(0, ((b.m.get(name) || 0) - (a.m.get(name) || 0)) / ((b.at - a.at) / 1000));
}

function chart(id, title, points) {
  const w = 320, hgt = 80, max = Math.max(1e-9, ...points);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.map((v, i) =>
    `${(i * w) / Math.max(1, KEEP - 1)},${hgt - 4 - (v / max) * (hgt - 8)}`).join(" "));
  svg.append(line);
  const last = points.length ? points[points.length - 1] : 0;
  return h("figure", { class: "chart-box", "data-chart": id, "data-points": points.length },
    h("figcaption", {}, `${title}: ${last.toFixed(last < 10 ? 2 : 0)}`), svg);
}

function infoTable(info) {
  const rows = [
    ["Service", `${info.service} at ${info.url}`],
    ["Seal", `${info.seal.type}, token "${info.seal.token}" (${info.seal.module})`],
    ["Store", info.store],
    ["TLS certificate", info.tls.error || `${info.tls.subject}, expires ${when(info.tls.not_after)} (${info.tls.days_left} days)`],
    ["Data directory", `${info.data_dir.path}: ${(info.data_dir.bytes / 1048576).toFixed(1)} MiB in ${info.data_dir.files} files`],
    ["Audit log", `${info.audit.lines} lines, head ${info.audit.head.slice(0, 16)}…`],
  ].map(([k, v]) => h("tr", { "data-row": k }, h("th", { scope: "row" }, k), h("td", {}, v)));
  return table(["", ""], rows);
}

/* What each service runs on, and its metrics charted as they move: the
 * vault's, and coffer-blob's when this person may manage storage. */
function services(me) {
  const list = [{ id: "vault", title: "coffer-vault", prefix: "",
    info: () => vault("GET", "/coffer/health"), scrape: () => scrape("/metrics") }];
  if (blobBase() && me.permissions["storage/manage/action"])
    list.push({ id: "blob", title: "coffer-blob", prefix: "blob-",
      info: () => blobAdmin("GET", DEFAULT_ACCOUNT, "health"),
      scrape: () => scrape(`${blobBase()}/metrics`, storageAudience) });
  return list;
}

export async function healthView(root, me) {
  clearInterval(timer);
  const parts = [h("h2", {}, "Health")];
  const live = [];
  for (const s of services(me)) {
    const box = h("div", { class: "charts", id: `${s.prefix}charts` });
    try {
      parts.push(h("h3", { "data-service": s.id }, s.title), infoTable(await s.info()), box);
      live.push({ s, box, samples: [await s.scrape()] });
    } catch (e) {
      parts.push(h("p", { class: "muted" }, `${s.title}: ${e.message}`));
    }
  }
  root.replaceChildren(...parts);
  const draw = ({ s, box, samples }) => box.replaceChildren(...charts.map(([id, title, f]) =>
    chart(`${s.prefix}${id}`, title, samples.slice(1).map((x, i) => f(samples[i], x)))));
  live.forEach(draw);
  timer = setInterval(async () => {
    if (!root.isConnected || root.getAttribute("data-view") !== "health") return clearInterval(timer);
    try {
      for (const l of live) {
        l.samples.push(await l.s.scrape());
        if (l.samples.length > KEEP + 1) l.samples.shift();
        draw(l);
      }
    } catch {
      clearInterval(timer);
    }
  }, INTERVAL_MS);
}
