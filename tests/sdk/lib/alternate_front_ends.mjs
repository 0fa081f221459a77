// Loaded with `node --import` by run.sh in scale-out mode for the blob
// suites (COFFER_TEST_STORE=postgres): every HTTPS request the suite makes
// to the first coffer-blob front end (COFFER_BLOB_PORT) goes, in turn, to it
// or to the second one (COFFER_BLOB_PORT_B), whichever client made it (SDK
// clients of every kind, raw requests), so each suite runs across two front
// ends without changing a line of it.
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";

const A = Number(process.env.COFFER_BLOB_PORT);
const B = Number(process.env.COFFER_BLOB_PORT_B);
let turn = 0;
const next = () => (++turn % 2 === 0 ? B : A);

// https.request(url[, options][, callback]) or (options[, callback]).
function rewrite(args) {
  const [first, ...rest] = args;
  if (typeof first === "string" || first instanceof URL) {
    const url = new URL(first.toString());
    if (url.hostname === "127.0.0.1" && Number(url.port) === A) url.port = String(next());
    return [url, ...rest];
  }
  if (first && typeof first === "object" && Number(first.port) === A &&
      (first.hostname ?? first.host ?? "").startsWith("127.0.0.1")) {
    const port = next();
    const copy = { ...first, port };
    if (copy.host && copy.host.includes(":")) copy.host = `127.0.0.1:${port}`;
    return [copy, ...rest];
  }
  return args;
}

if (A && B) {
  const request = https.request;
  const get = https.get;
  https.request = (...args) => request.apply(https, rewrite(args));
  https.get = (...args) => get.apply(https, rewrite(args));
  syncBuiltinESMExports(); // `import { request } from "node:https"` sees it too
}
