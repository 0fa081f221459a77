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
