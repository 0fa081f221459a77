// Requests whose target would be cut short: an encoded NUL (%00) in a blob,
// container, admin or vault object name, or in a query value, is refused
// with the API's own 400, and the object the shortened name would hit is
// left alone — on both services.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as b from "./lib/blob_lib.mjs";
import * as h from "./lib/harness.mjs";

const T = { timeout: 60000, ...b.COFFER_ONLY };

test("coffer-blob: %00 in a blob name, a query value or an admin path is refused", T, async () => {
  const svc = b.connectionStringClient();
  const c = svc.getContainerClient(b.containerName("nul"));
  await c.create();
  try {
    await c.getBlockBlobClient("a").upload("original", 8);
    const put = await b.rawRequest("PUT", `${c.url}/a%00evil`, { headers: { "x-ms-blob-type": "BlockBlob" }, body: "evil" });
    assert.equal(put.status, 400, put.text);
    assert.equal(put.headers["x-ms-error-code"], "InvalidUri");
    assert.equal((await b.downloadAll(c.getBlockBlobClient("a"))).data.toString(), "original");
    const q = await b.rawRequest("GET", `${c.url}?restype=container&comp=list%00x`);
    assert.equal(q.status, 400);
    const admin = await b.rawRequest("PUT", `/.coffer/${b.ACCOUNT}/accounts/abc%00zzz`, { body: { properties: {} } });
    assert.equal(admin.status, 400, admin.text);
    const r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/accounts/abc`);
    assert.equal(r.status, 404, "no account was made from the cut name");
  } finally {
    await c.deleteIfExists();
  }
});

test("coffer-vault: %00 in a secret or key name is refused", T, async () => {
  const token = await h.token();
  const name = h.uniqueName("nul");
  const put = await h.request("PUT", `/secrets/${name}%00xyz`, { token, body: { value: "evil" } });
  assert.equal(put.status, 400, put.text);
  assert.equal(put.json?.error?.code, "BadParameter");
  const get = await h.request("GET", `/secrets/${name}`, { token });
  assert.equal(get.status, 404, "nothing was written under the cut name");
  const key = await h.request("POST", `/keys/${name}%00x/create`, { token, body: { kty: "RSA" } });
  assert.equal(key.status, 400);
});

// Raw HTTP/1.1 over TLS: the bytes as sent, the bytes as answered, until the
// server closes (or 5 s pass).  The client keeps its side open, as HTTP
// clients do: libmicrohttpd takes a half-closed connection for a client
// that has gone away.
async function rawExchange(port, ca, bytes) {
  const tls = await import("node:tls");
  return new Promise((resolve) => {
    const chunks = [];
    const s = tls.connect({ host: "127.0.0.1", port, ca, servername: "127.0.0.1" }, () => s.write(bytes));
    const done = (closed) => { clearTimeout(timer); s.destroy(); resolve({ text: Buffer.concat(chunks).toString("latin1"), closed }); };
    const timer = setTimeout(() => done(false), 5000);
    s.on("data", (d) => chunks.push(d));
    s.on("end", () => done(true));
    s.on("error", () => done(true));
  });
}

const smuggling = {
  "two Content-Length headers":
    "PUT /coffer/c/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
  "Content-Length with chunked":
    "PUT /coffer/c/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
  "an unknown transfer coding":
    "PUT /coffer/c/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nabcGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
  "a NUL before the request line": "\0GET / HTTP/1.1\r\nHost: h\r\n\r\n",
  "2,000 query parameters":
    `GET /coffer?${Array.from({ length: 2000 }, (_, i) => `p${i}=1`).join("&")} HTTP/1.1\r\nHost: h\r\n\r\n`,
};

for (const [what, request] of Object.entries(smuggling)) {
  test(`both services: ${what} is refused and the connection closed`, T, async () => {
    const fs = await import("node:fs");
    const path = await import("node:path");
    const targets = [
      [Number(process.env.COFFER_BLOB_PORT), b.CA],
      [h.PORT, fs.readFileSync(path.join(h.DIR, "tls", "ca.crt"))],
    ];
    for (const [port, ca] of targets) {
      const r = await rawExchange(port, ca, request);
      assert.match(r.text, /^HTTP\/1\.1 400 /, `port ${port}: ${r.text.slice(0, 80)}`);
      assert.equal((r.text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length, 1, "the smuggled request got no answer");
      assert.ok(r.closed, "the connection was closed");
    }
  });
}

test("both services: an unauthenticated Expect: 100-continue is answered at once, without 100", T, async () => {
  const fs = await import("node:fs");
  const path = await import("node:path");
  const targets = [
    [Number(process.env.COFFER_BLOB_PORT), b.CA,
      "PUT /coffer/box/x HTTP/1.1\r\nHost: h\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"],
    [h.PORT, fs.readFileSync(path.join(h.DIR, "tls", "ca.crt")),
      "PUT /secrets/s?api-version=7.5 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n"],
  ];
  for (const [port, ca, request] of targets) {
    const t0 = Date.now();
    const r = await rawExchange(port, ca, request);
    assert.match(r.text, /^HTTP\/1\.1 401 /, `port ${port}: ${r.text.slice(0, 80)}`);
    assert.ok(!r.text.includes("100 Continue"), "no 100 Continue for a refused request");
    assert.ok(Date.now() - t0 < 4000, "answered without waiting for the body");
  }
});

test("both services: a refused upload declaring more than the service will drain is answered at once", T, async () => {
  const fs = await import("node:fs");
  const path = await import("node:path");
  const targets = [
    // coffer-blob drains up to a whole Put Blob; ten GiB is past it.
    [Number(process.env.COFFER_BLOB_PORT), b.CA, /^HTTP\/1\.1 401 /,
      "PUT /coffer/box/x HTTP/1.1\r\nHost: h\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 10737418240\r\n\r\nsome body bytes"],
    // The vault takes 1 MiB bodies and drains 16 MiB: 100 MiB is past both.
    [h.PORT, fs.readFileSync(path.join(h.DIR, "tls", "ca.crt")), /^HTTP\/1\.1 413 /,
      "PUT /secrets/s?api-version=7.5 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{\"value\":"],
  ];
  for (const [port, ca, status, request] of targets) {
    const t0 = Date.now();
    const r = await rawExchange(port, ca, request);
    assert.match(r.text, status, `port ${port}: ${r.text.slice(0, 80)}`);
    assert.ok(r.closed, "the connection was closed after the answer");
    assert.ok(Date.now() - t0 < 4000, "answered without waiting for the body");
  }
});
