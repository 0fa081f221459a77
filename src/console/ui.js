// DOM helpers.  Everything a service returns reaches the page as text
// (textContent, attribute values), never as markup: no innerHTML anywhere.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function table(headers, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "None."))));
}

export function notice(text, isError = false) {
  const n = document.getElementById("notice");
  n.textContent = text;
  n.className = isError ? "notice error" : "notice";
  n.hidden = !text;
}

export const when = (unixSeconds) =>
  unixSeconds ? new Date(unixSeconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—";

/* Runs an action from a button, then `after` (a re-render), then reports
 * the outcome: once it says "done", the page shows the result. */
export function act(label, fn, after) {
  return async (ev) => {
    ev?.preventDefault?.();
    try {
      await fn();
      if (after) await after();
      notice(`${label}: done.`);
    } catch (e) {
      notice(`${label}: ${e.message}`, true);
    }
  };
}

export function field(label, input) {
  return h("label", {}, label, input);
}
