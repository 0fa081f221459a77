// The Coffer console: sign-in, then one view per section, chosen by the
// URL's fragment (#keys, #secrets, #access, #storage, #audit, #health).

import { loadConfig, signIn, signOut } from "./auth.js";
import { vault } from "./api.js";
import { h, notice } from "./ui.js";
import { keysView } from "./keys.js";
import { secretsView } from "./secrets.js";
import { accessView } from "./access.js";
import { auditView } from "./audit.js";
import { healthView } from "./health.js";
import { storageView } from "./storage.js";

const sections = [
  ["keys", "Keys", keysView],
  ["secrets", "Secrets", secretsView],
  ["access", "Access", accessView],
  ["storage", "Storage", storageView],
  ["audit", "Audit", auditView],
  ["health", "Health", healthView],
];

let me = null;

async function show() {
  const id = location.hash.slice(1) || "keys";
  const section = sections.find(([s]) => s === id) || sections[0];
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.section === section[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = document.getElementById("view");
  root.setAttribute("data-view", section[0]);
  root.removeAttribute("data-ready");
  try {
    await section[2](root, me);
  } catch (e) {
    root.replaceChildren(h("h2", {}, section[1]), h("p", { class: "muted" }, `Not available: ${e.message}`));
  }
  // For tests and assistive tools: the view has finished loading.
  if (root.getAttribute("data-view") === section[0]) root.setAttribute("data-ready", section[0]);
}

async function main() {
  await loadConfig();
  await signIn();
  me = await vault("GET", "/coffer/me");
  document.getElementById("who").textContent = `${me.name} (${me.kind})`;
  document.getElementById("nav").replaceChildren(...sections.map(([id, label]) =>
    h("a", { href: `#${id}`, "data-section": id }, label)));
  const out = document.getElementById("sign-out");
  out.hidden = false;
  out.addEventListener("click", async () => {
    await signOut();
    document.getElementById("nav").replaceChildren();
    document.getElementById("who").textContent = "";
    out.hidden = true;
    document.getElementById("view").replaceChildren(h("h2", {}, "Signed out"),
      h("p", {}, h("a", { href: "/console/", id: "sign-in-again" }, "Sign in again")));
    notice("");
  });
  window.addEventListener("hashchange", () => { notice(""); show(); });
  await show();
}

main().catch((e) => notice(`The console could not start: ${e.message}`, true));
