// Azurite as a stand-in for coffer-blob, to debug the blob suites' client
// side: a local CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost)
// made with the openssl CLI, random account keys, and a bootstrap.json in the
// shape coffer-blob writes (docs/blob.md, "Data directory").  Used by run.sh
// (COFFER_BLOB_TARGET=azurite) and bench/blob.mjs.
//
//   node blob_azurite.mjs init DIR PORT     writes DIR/tls/* and DIR/bootstrap.json
//   node blob_azurite.mjs accounts DIR      prints AZURITE_ACCOUNTS for it
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const ACCOUNTS = [
  { account_name: "coffer", https_only: true },
  { account_name: "insecure1", https_only: false },
];

export function makeCA(tlsDir) {
  fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const f = (n) => path.join(tlsDir, n);
  const run = (args) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=coffer test blob CA", "-keyout", f("ca.key"), "-out", f("ca.crt"),
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-subj", "/CN=127.0.0.1", "-keyout", f("server.key"), "-out", f("server.csr")]);
  fs.writeFileSync(f("server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  run(["x509", "-req", "-in", f("server.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial",
    "-days", "2", "-extfile", f("server.ext"), "-out", f("server.crt")]);
  return { ca: f("ca.crt"), cert: f("server.crt"), key: f("server.key") };
}

export function init(dir, port) {
  const tls = makeCA(path.join(dir, "tls"));
  const key = () => crypto.randomBytes(64).toString("base64");
  const accounts = ACCOUNTS.map((a) => ({
    ...a,
    account_key: key(),
    account_key2: key(),
    blob_endpoint: `https://127.0.0.1:${port}/${a.account_name}`,
  }));
  const main = accounts[0];
  const b = {
    emulator: "azurite",
    blob_endpoint: main.blob_endpoint,
    account_name: main.account_name,
    account_key: main.account_key,
    account_key2: main.account_key2,
    connection_string: `DefaultEndpointsProtocol=https;AccountName=${main.account_name};AccountKey=${main.account_key};BlobEndpoint=${main.blob_endpoint};`,
    ca_cert: tls.ca,
    accounts,
  };
  fs.writeFileSync(path.join(dir, "bootstrap.json"), JSON.stringify(b, null, 2), { mode: 0o600 });
  return { bootstrap: b, tls };
}

export function azuriteAccounts(b) {
  return b.accounts.map((a) => `${a.account_name}:${a.account_key}:${a.account_key2}`).join(";");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, dir, port] = process.argv.slice(2);
  if (cmd === "init") {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    console.log(JSON.stringify(init(dir, Number(port)).bootstrap));
  } else if (cmd === "accounts") {
    console.log(azuriteAccounts(JSON.parse(fs.readFileSync(path.join(dir, "bootstrap.json"), "utf8"))));
  } else {
    console.error("usage: blob_azurite.mjs init DIR PORT | accounts DIR");
    process.exit(2);
  }
}
