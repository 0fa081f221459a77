// coffer-blob authentication and authorisation through the official
// @azure/storage-blob: Shared Key with both keys, account and service SAS
// (permissions, resource types, time window, stored access policies,
// tampering, spr=https over HTTP), secure transfer, bearer tokens from
// coffer-vault with the three Storage Blob Data roles, anonymous and public
// access, and the Coffer admin API (role assignments, key regeneration).
//
// Statuses and codes are Azure's (/work/notes/blob.md sections 2, 4, 5).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import * as BlobSasApi from "@azure/storage-blob";
import * as b from "./lib/blob_lib.mjs";

const T = { timeout: 120000 };
let svc; // Shared Key, key1
let c; // a container with one blob
let blob;
const DATA = Buffer.from(`auth ${b.MARKER}`);

before(async () => {
  svc = b.connectionStringClient();
  c = svc.getContainerClient(b.containerName("auth"));
  await c.create();
  blob = c.getBlockBlobClient("dir/hello.txt");
  await blob.upload(DATA, DATA.length);
}, T);

after(async () => {
  await c?.deleteIfExists().catch(() => {});
});

// Anonymous requests to what is not public: Azure answers 401
// NoAuthenticationInformation (x-ms-version >= 2019-12-12) or 404; Azurite
// answers 403 AuthorizationFailure.
const ANON = b.AZURITE ? [401, 403, 404] : [401, 404];

const read = async (client) => (await b.downloadAll(client.getContainerClient(c.containerName).getBlobClient(blob.name))).data;

describe("Shared Key", () => {
  test("key1 and key2 both work; a wrong key is 403 AuthenticationFailed", T, async () => {
    assert.ok((await read(svc)).equals(DATA));
    const cs2 = b.B.connection_string.replace(b.B.account_key, b.B.account_key2);
    assert.notEqual(cs2, b.B.connection_string);
    assert.ok((await read(b.connectionStringClient(cs2))).equals(DATA));
    const bad = new BlobServiceClient(b.ENDPOINT, b.keyCredential(crypto.randomBytes(64).toString("base64")));
    await b.rejects(read(bad), 403, "AuthenticationFailed");
    await b.rejects(bad.getContainerClient(c.containerName).getProperties(), 403, "AuthenticationFailed");
    await b.rejects(async () => { for await (const _ of bad.listContainers()) break; }, 403, "AuthenticationFailed");
    await b.rejects(bad.getContainerClient(c.containerName).getBlockBlobClient("x").upload("x", 1), 403, "AuthenticationFailed");
  });

  test("a raw request: Shared Key and Shared Key Lite; a tampered signature fails", T, async () => {
    const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
    let r = await b.rawRequest("GET", url);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.equals(DATA));
    assert.ok(r.headers["x-ms-request-id"]);
    await b.notOnAzurite("Azurite has no Shared Key Lite", async () => {
      r = await b.rawRequest("GET", url, { sign: { lite: true } });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.equals(DATA));
      r = await b.rawRequest("GET", `${b.ENDPOINT}/${c.containerName}?restype=container&comp=list`, { sign: { lite: true } });
      assert.equal(r.status, 200, r.text);
    });
    // Signed for another blob: the canonicalised resource differs.
    const auth = b.sharedKeyAuthorization({ method: "GET", url: `${url}x`, headers: { "x-ms-date": new Date().toUTCString(), "x-ms-version": "2026-10-06" } });
    r = await b.rawRequest("GET", url, { sign: false, headers: { authorization: auth } });
    assert.equal(r.status, 403);
    if (!b.AZURITE) assert.equal(r.headers["x-ms-error-code"], "AuthenticationFailed");
    assert.ok(r.headers["x-ms-request-id"]);
  });

  test("a correctly signed request dated over 15 minutes off is 403 AuthenticationFailed (no replay)", T, async () => {
    await b.notOnAzurite("Azurite does not check the request date", async () => {
      const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
      for (const skew of [-16 * 60e3, 16 * 60e3]) {
        const r = await b.rawRequest("GET", url, { headers: { "x-ms-date": new Date(Date.now() + skew).toUTCString() } });
        assert.equal(r.status, 403, r.text);
        assert.equal(r.headers["x-ms-error-code"], "AuthenticationFailed");
      }
      const fresh = await b.rawRequest("GET", url, { headers: { "x-ms-date": new Date(Date.now() - 5 * 60e3).toUTCString() } });
      assert.equal(fresh.status, 200, fresh.text);
    });
  });
});

describe("account SAS", () => {
  test("read-only SAS reads and lists; writes are 403 AuthorizationPermissionMismatch", T, async () => {
    const ro = b.sasClient(b.accountSas({ permissions: "rl" }));
    assert.ok((await read(ro)).equals(DATA));
    const names = [];
    for await (const bi of ro.getContainerClient(c.containerName).listBlobsFlat()) names.push(bi.name);
    assert.deepEqual(names, [blob.name]);
    await b.rejects(ro.getContainerClient(c.containerName).getBlockBlobClient("w").upload("w", 1), 403, "AuthorizationPermissionMismatch");
    await b.rejects(ro.getContainerClient(c.containerName).getBlobClient(blob.name).delete(), 403, "AuthorizationPermissionMismatch");
    await b.rejects(ro.getContainerClient(b.containerName("nope")).create(), 403, "AuthorizationPermissionMismatch");
  });

  test("resource types: srt=o cannot list containers or create one", T, async () => {
    const o = b.sasClient(b.accountSas({ resourceTypes: "o" }));
    assert.ok((await read(o)).equals(DATA));
    await b.rejects(async () => { for await (const _ of o.listContainers()) break; }, 403, "AuthorizationResourceTypeMismatch");
    await b.rejects(o.getContainerClient(b.containerName("nope")).create(), 403, "AuthorizationResourceTypeMismatch");
  });

  test("expired or not yet valid SAS: 403 AuthenticationFailed", T, async () => {
    const expired = b.sasClient(b.accountSas({ startsOn: new Date(Date.now() - 2 * 3600e3), expiresOn: new Date(Date.now() - 3600e3) }));
    await b.rejects(read(expired), 403, "AuthenticationFailed");
    const future = b.sasClient(b.accountSas({ startsOn: new Date(Date.now() + 3600e3), expiresOn: new Date(Date.now() + 2 * 3600e3) }));
    await b.rejects(read(future), 403, "AuthenticationFailed");
  });

  test("a tampered SAS (permissions widened, signature kept) is 403 AuthenticationFailed", T, async () => {
    const sas = b.accountSas({ permissions: "r" });
    const widened = sas.replace(/sp=r(&|$)/, "sp=rwdlac$1");
    assert.notEqual(widened, sas);
    const cl = b.sasClient(widened);
    await b.rejects(cl.getContainerClient(c.containerName).getBlockBlobClient("w").upload("w", 1), 403, "AuthenticationFailed");
    const wrongKey = b.sasClient(b.accountSas({ key: crypto.randomBytes(64).toString("base64") }));
    await b.rejects(read(wrongKey), 403, "AuthenticationFailed");
  });
});

describe("service SAS", () => {
  test("blob SAS: read only that blob; writes 403 AuthorizationPermissionMismatch", T, async () => {
    const sas = b.serviceSas({ containerName: c.containerName, blobName: blob.name, permissions: "r" });
    const bc = c.getBlobClient(blob.name);
    const url = `${bc.url}?${sas}`;
    const { BlobClient, BlockBlobClient } = await import("@azure/storage-blob");
    assert.ok((await b.downloadAll(new BlobClient(url))).data.equals(DATA));
    await b.rejects(new BlockBlobClient(url).upload("w", 1), 403, "AuthorizationPermissionMismatch");
    // The signature covers the blob name: another blob is refused.
    const other = `${c.getBlobClient("dir/other.txt").url}?${sas}`;
    await b.rejects(new BlobClient(other).download(), 403, "AuthenticationFailed");
  });

  test("container SAS: list and write with sp=rwl; delete refused", T, async () => {
    const sas = b.serviceSas({ containerName: c.containerName, permissions: "rwl" });
    const { ContainerClient } = await import("@azure/storage-blob");
    const cc = new ContainerClient(`${c.url}?${sas}`);
    await cc.getBlockBlobClient("sas-written.txt").upload("s", 1);
    const names = [];
    for await (const bi of cc.listBlobsFlat()) names.push(bi.name);
    assert.deepEqual(names, [blob.name, "sas-written.txt"]);
    await b.rejects(cc.getBlobClient("sas-written.txt").delete(), 403, "AuthorizationPermissionMismatch");
    await c.getBlobClient("sas-written.txt").delete();
  });

  test("stored access policy: SAS by identifier; the policy's permissions apply; removing it revokes", T, async () => {
    const startsOn = new Date(Date.now() - 3600e3);
    const expiresOn = new Date(Date.now() + 3600e3);
    await c.setAccessPolicy(undefined, [
      { id: "readlist", accessPolicy: { startsOn, expiresOn, permissions: "rl" } },
      { id: "expired", accessPolicy: { startsOn, expiresOn: new Date(Date.now() - 60e3), permissions: "rl" } },
    ]);
    const { ContainerClient } = await import("@azure/storage-blob");
    const cc = new ContainerClient(`${c.url}?${b.serviceSas({ containerName: c.containerName, identifier: "readlist" })}`);
    assert.ok((await b.downloadAll(cc.getBlobClient(blob.name))).data.equals(DATA));
    const names = [];
    for await (const bi of cc.listBlobsFlat()) names.push(bi.name);
    assert.deepEqual(names, [blob.name]);
    await b.rejects(cc.getBlockBlobClient("w").upload("w", 1), 403, "AuthorizationPermissionMismatch");

    const ex = new ContainerClient(`${c.url}?${b.serviceSas({ containerName: c.containerName, identifier: "expired" })}`);
    await b.rejects(ex.getBlobClient(blob.name).download(), 403, "AuthenticationFailed");

    const unknown = new ContainerClient(`${c.url}?${b.serviceSas({ containerName: c.containerName, identifier: "nosuch" })}`);
    await b.rejects(unknown.getBlobClient(blob.name).download(), 403, "AuthenticationFailed");

    await c.setAccessPolicy(undefined, []);
    // Azure may take up to 30 s to apply a policy change.
    const deadline = Date.now() + 35000;
    let err;
    while (Date.now() < deadline) {
      try { await cc.getBlobClient(blob.name).download(); } catch (e) { err = e; break; }
      await new Promise((r) => setTimeout(r, 500));
    }
    b.checkRestError(err, 403, "AuthenticationFailed");
  });
});

describe("refused request shapes and scopes (review findings)", b.COFFER_ONLY, () => {
  test("a repeated or valueless query parameter is 400: a signed request cannot be turned into another operation", T, async () => {
    const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
    for (const q of ["?comp&comp=metadata", "?comp=blocklist&comp=metadata", "?comp=metadata&COMP=metadata"]) {
      const r = await b.rawRequest("GET", `${url}${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.headers["x-ms-error-code"], "InvalidQueryParameterValue");
    }
  });

  test("a container SAS never reaches the container itself: metadata, ACL, lease, delete are 403", T, async () => {
    const { ContainerClient } = await import("@azure/storage-blob");
    const cc = new ContainerClient(`${c.url}?${b.serviceSas({ containerName: c.containerName, permissions: "racwdl" })}`);
    await b.rejects(cc.setMetadata({ k: "v" }), 403);
    await b.rejects(cc.getAccessPolicy(), 403);
    await b.rejects(cc.setAccessPolicy("container"), 403);
    await b.rejects(cc.getBlobLeaseClient().acquireLease(15), 403);
    await b.rejects(cc.delete(), 403);
    await b.rejects(cc.getProperties(), 403);
    // It still lists and writes blobs.
    for await (const x of cc.listBlobsFlat()) assert.ok(x.name);
    assert.equal((await c.getProperties()).blobPublicAccess, undefined);
  });

  test("a create-only SAS cannot replace a blob, whatever If-None-Match says", T, async () => {
    const { BlockBlobClient, AppendBlobClient } = await import("@azure/storage-blob");
    const sas = b.serviceSas({ containerName: c.containerName, permissions: "c" });
    const url = `${c.getBlobClient(blob.name).url}?${sas}`;
    await b.rejects(new BlockBlobClient(url).upload("x", 1), 409, "BlobAlreadyExists");
    await b.rejects(new BlockBlobClient(url).upload("x", 1, { conditions: { ifNoneMatch: "\"nope\"" } }), 409, "BlobAlreadyExists");
    await b.rejects(new AppendBlobClient(url).create({ conditions: { ifNoneMatch: "\"nope\"" } }), 409, "BlobAlreadyExists");
    assert.ok((await read(svc)).equals(DATA));
    // A new name is fine.
    const fresh = `${c.getBlobClient(`new-${Date.now()}`).url}?${sas}`;
    await new BlockBlobClient(fresh).upload("n", 1);
  });

  test("control characters in metadata or content properties are refused; listings stay readable", T, async () => {
    // Node's HTTP client will not send such headers: write the request by hand.
    const tls = await import("node:tls");
    const u = new URL(`${b.ENDPOINT}/${c.containerName}/ctl.txt`);
    const sas = b.serviceSas({ containerName: c.containerName, permissions: "cw" });
    const send = (header) => new Promise((resolve, reject) => {
      const sock = tls.connect({ host: u.hostname, port: Number(u.port), servername: undefined }, () => {
        sock.write(`PUT ${u.pathname}?${sas} HTTP/1.1\r\nHost: ${u.host}\r\nx-ms-version: 2026-10-06\r\n` +
          `x-ms-blob-type: BlockBlob\r\n${header}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`);
      });
      let out = "";
      sock.on("data", (d) => { out += d.toString("latin1"); });
      sock.on("end", () => resolve(Number(out.split(" ")[1])));
      sock.on("error", reject);
    });
    assert.equal(await send("x-ms-meta-k: a\x01b"), 400);
    assert.equal(await send("x-ms-blob-content-type: t\x02"), 400);
    await assert.rejects(c.getBlobClient("ctl.txt").getProperties());
    for await (const x of c.listBlobsFlat({ includeMetadata: true })) assert.ok(x.name);
  });

  test("snapshots, versions and from-URL uploads are refused, never applied to the base blob", T, async () => {
    const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
    let r = await b.rawRequest("DELETE", `${url}?snapshot=2026-01-01T00:00:00.0000000Z`);
    assert.equal(r.status, 400, r.text);
    r = await b.rawRequest("PUT", `${url}?comp=block&blockid=${Buffer.from("b1").toString("base64")}`,
      { headers: { "x-ms-copy-source": `${b.ENDPOINT}/${c.containerName}/${blob.name}` } });
    assert.equal(r.status, 400, r.text);
    assert.ok((await read(svc)).equals(DATA));
  });

  test("ranges: an end beyond 64 bits means to the end; any range of an empty blob is 416", T, async () => {
    const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
    for (const end of ["18446744073709551615", "99999999999999999999999"]) {
      const r = await b.rawRequest("GET", url, { headers: { "x-ms-range": `bytes=0-${end}` } });
      assert.equal(r.status, 206, r.text);
      assert.ok(r.body.equals(DATA));
    }
    const empty = c.getBlockBlobClient("empty.bin");
    await empty.upload("", 0);
    const r = await b.rawRequest("GET", `${b.ENDPOINT}/${c.containerName}/empty.bin`, { headers: { "x-ms-range": "bytes=0-10" } });
    assert.equal(r.status, 416, r.text);
    assert.equal(r.headers["content-range"], "bytes */0");
  });

  test("a large upload refused from its headers ends in Azure's error, not a reset", T, async () => {
    const { BlobServiceClient, StorageSharedKeyCredential } = await import("@azure/storage-blob");
    const bad = new BlobServiceClient(b.ENDPOINT, new StorageSharedKeyCredential(b.ACCOUNT, Buffer.alloc(64, 1).toString("base64")));
    const data = Buffer.alloc(24 << 20, 3); // past libmicrohttpd's usual 16 MiB drain
    await b.rejects(bad.getContainerClient(c.containerName).getBlockBlobClient("big-denied").upload(data, data.length),
      403, "AuthenticationFailed");
  });

  test("an unknown account and a wrong key are refused with the same words", T, async () => {
    const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
    const wrong = await b.rawRequest("GET", url, { sign: { key: Buffer.alloc(64, 7).toString("base64") } });
    const origin = new URL(b.ENDPOINT).origin;
    const ghost = await b.rawRequest("GET", `${origin}/nosuchacct/${c.containerName}/x`, { sign: { account: "nosuchacct" } });
    assert.equal(wrong.status, 403);
    assert.equal(ghost.status, 403);
    const msg = (t) => /<Message>([^\n]*)/.exec(t)?.[1];
    assert.equal(msg(ghost.text), msg(wrong.text));
  });
});

describe("CORS from the service properties", b.COFFER_ONLY, () => {
  after(async () => { await svc.setProperties({ cors: [] }); });

  test("preflights follow the rules; actual requests get Allow-Origin; no rule, no CORS", T, async () => {
    const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
    const preflight = (origin, method, headers) => b.rawRequest("OPTIONS", url, {
      sign: false,
      headers: { origin, "access-control-request-method": method, ...(headers ? { "access-control-request-headers": headers } : {}) },
    });
    // No rules yet: every preflight fails.
    let r = await preflight("https://app.example", "GET");
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers["x-ms-error-code"], "CorsPreflightFailure");
    await svc.setProperties({ cors: [{ allowedOrigins: "https://app.example", allowedMethods: "GET,PUT",
      allowedHeaders: "x-ms-meta-*,content-type", exposedHeaders: "x-ms-request-id", maxAgeInSeconds: 600 }] });
    r = await preflight("https://app.example", "PUT", "x-ms-meta-owner, content-type");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers["access-control-allow-origin"], "https://app.example");
    assert.equal(r.headers["access-control-allow-methods"], "PUT");
    assert.equal(r.headers["access-control-max-age"], "600");
    for (const [o, m, h] of [["https://evil.example", "GET"], ["https://app.example", "DELETE"],
      ["https://app.example", "PUT", "x-ms-foo"]]) {
      r = await preflight(o, m, h);
      assert.equal(r.status, 403, `${o} ${m} ${h}`);
    }
    // An actual request: the same authorization, plus the CORS headers.
    r = await b.rawRequest("GET", url, { headers: { origin: "https://app.example" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], "https://app.example");
    assert.equal(r.headers["access-control-expose-headers"], "x-ms-request-id");
    r = await b.rawRequest("GET", url, { headers: { origin: "https://evil.example" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
    // CORS never replaces credentials.
    r = await b.rawRequest("GET", url, { sign: false, headers: { origin: "https://app.example" } });
    assert.ok([401, 404].includes(r.status), String(r.status));
  });
});

describe("transport: HTTP", b.COFFER_ONLY, () => {
  const httpUrl = (account) => `${b.HTTP_BASE}/${account}`;

  test("HTTP to an account that requires secure transfer: 400 AccountRequiresHttps", T, async () => {
    assert.ok(b.HTTP_BASE, "no --http-listen endpoint");
    const cl = new BlobServiceClient(httpUrl(b.ACCOUNT), b.keyCredential());
    await b.rejects(cl.getContainerClient(c.containerName).getProperties(), 400, "AccountRequiresHttps");
    await b.rejects(cl.getContainerClient(c.containerName).getBlobClient(blob.name).download(), 400, "AccountRequiresHttps");
    const sas = new BlobServiceClient(`${httpUrl(b.ACCOUNT)}?${b.accountSas({ protocol: b.SASProtocol.HttpsAndHttp })}`);
    await b.rejects(sas.getContainerClient(c.containerName).getProperties(), 400, "AccountRequiresHttps");
  });

  test("insecure account over HTTP: Shared Key works; a SAS with spr=https is 403 AuthorizationProtocolMismatch", T, async () => {
    const acct = b.accountInfo(b.INSECURE);
    assert.equal(acct.https_only, false);
    const key = new BlobServiceClient(httpUrl(b.INSECURE), b.keyCredential(acct.account_key, b.INSECURE));
    const cc = key.getContainerClient(b.containerName("http"));
    await cc.create();
    try {
      await cc.getBlockBlobClient("h.txt").upload("h", 1);
      const httpsOnly = b.accountSas({ account: b.INSECURE, key: acct.account_key, protocol: b.SASProtocol.Https });
      const s1 = new BlobServiceClient(`${httpUrl(b.INSECURE)}?${httpsOnly}`);
      await b.rejects(s1.getContainerClient(cc.containerName).getBlobClient("h.txt").download(), 403, "AuthorizationProtocolMismatch");
      const both = b.accountSas({ account: b.INSECURE, key: acct.account_key, protocol: b.SASProtocol.HttpsAndHttp });
      const s2 = new BlobServiceClient(`${httpUrl(b.INSECURE)}?${both}`);
      assert.equal((await b.downloadAll(s2.getContainerClient(cc.containerName).getBlobClient("h.txt"))).data.toString(), "h");
      // The same https-only SAS over HTTPS.
      const s3 = new BlobServiceClient(`${acct.blob_endpoint}?${httpsOnly}`);
      assert.equal((await b.downloadAll(s3.getContainerClient(cc.containerName).getBlobClient("h.txt"))).data.toString(), "h");
      // Keys are per account: the main account's key does not sign here.
      const cross = new BlobServiceClient(httpUrl(b.INSECURE), b.keyCredential(b.B.account_key, b.INSECURE));
      await b.rejects(cross.getContainerClient(cc.containerName).getProperties(), 403, "AuthenticationFailed");
    } finally {
      await cc.delete();
    }
  });
});

describe("bearer tokens from coffer-vault", b.COFFER_ONLY, () => {
  let other; // a second container, for container-scoped assignments
  before(async () => {
    other = svc.getContainerClient(b.containerName("auth2"));
    await other.create();
    await other.getBlockBlobClient("o.txt").upload("o", 1);
  }, T);
  after(async () => { await other?.deleteIfExists().catch(() => {}); });

  test("no role: 403 AuthorizationPermissionMismatch", T, async () => {
    const p = await b.tokenPrincipal(null);
    const cl = b.tokenClient(p.credential);
    await b.rejects(read(cl), 403, "AuthorizationPermissionMismatch");
    await b.rejects(cl.getContainerClient(c.containerName).getBlockBlobClient("t").upload("t", 1), 403, "AuthorizationPermissionMismatch");
  });

  test("Storage Blob Data Reader at the account: reads and lists, cannot write or delete", T, async () => {
    const p = await b.tokenPrincipal("Storage Blob Data Reader", ["/"]);
    const cl = b.tokenClient(p.credential);
    assert.ok((await read(cl)).equals(DATA));
    const names = [];
    for await (const bi of cl.getContainerClient(c.containerName).listBlobsFlat()) names.push(bi.name);
    assert.ok(names.includes(blob.name));
    const containers = [];
    for await (const ci of cl.listContainers({ prefix: c.containerName })) containers.push(ci.name);
    assert.deepEqual(containers, [c.containerName]);
    await b.rejects(cl.getContainerClient(c.containerName).getBlockBlobClient("t").upload("t", 1), 403, "AuthorizationPermissionMismatch");
    await b.rejects(cl.getContainerClient(c.containerName).getBlobClient(blob.name).delete(), 403, "AuthorizationPermissionMismatch");
    await b.rejects(cl.getContainerClient(b.containerName("r")).create(), 403, "AuthorizationPermissionMismatch");
  });

  test("Storage Blob Data Contributor on one container: writes there only", T, async () => {
    const p = await b.tokenPrincipal("Storage Blob Data Contributor", [`/containers/${c.containerName}`]);
    const cl = b.tokenClient(p.credential);
    const mine = cl.getContainerClient(c.containerName).getBlockBlobClient("contrib.txt");
    await mine.upload("c", 1);
    assert.equal((await b.downloadAll(mine)).data.toString(), "c");
    await mine.delete();
    await b.rejects(cl.getContainerClient(other.containerName).getBlockBlobClient("contrib.txt").upload("c", 1), 403, "AuthorizationPermissionMismatch");
    await b.rejects(cl.getContainerClient(other.containerName).getBlobClient("o.txt").download(), 403, "AuthorizationPermissionMismatch");
  });

  test("Storage Blob Data Owner: full access; deleting the assignment revokes it", T, async () => {
    const p = await b.tokenPrincipal("Storage Blob Data Owner", ["/"]);
    const cl = b.tokenClient(p.credential);
    const cc = cl.getContainerClient(b.containerName("owner"));
    await cc.create({ metadata: { by: "token" } });
    const bb = cc.getBlockBlobClient("t.txt");
    const up = await bb.upload("t", 1);
    assert.equal(up.isServerEncrypted, true);
    assert.ok(up.requestId);
    assert.equal((await b.downloadAll(bb)).data.toString(), "t");
    await bb.delete();
    await cc.delete();

    const listed = await b.listAssignments();
    const a = p.assignments[0];
    assert.ok(listed.some((x) => x.name === a.name || x.id?.endsWith(a.name)), "the assignment is listed");
    await b.deleteAssignment(a.name);
    assert.ok(!(await b.listAssignments()).some((x) => x.name === a.name || x.id?.endsWith(a.name)));
    await b.rejects(read(cl), 403, "AuthorizationPermissionMismatch");
  });

  test("an invalid or foreign token: 401 InvalidAuthenticationInfo; no credentials: 401 with a Bearer challenge", T, async () => {
    const url = `${b.ENDPOINT}/${c.containerName}/${blob.name}`;
    let r = await b.rawRequest("GET", url, { bearer: "not.a.token" });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.headers["x-ms-error-code"], "InvalidAuthenticationInfo");
    // A vault-audience token is not a storage token.
    const h = await import("./lib/harness.mjs");
    r = await b.rawRequest("GET", url, { bearer: await h.token() });
    assert.equal(r.status, 401, r.text);
    r = await b.rawRequest("GET", url, { sign: false });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.headers["x-ms-error-code"], "NoAuthenticationInformation");
    assert.match(r.headers["www-authenticate"] ?? "", /^Bearer authorization_uri=\S+\/oauth2\/authorize resource_id=https:\/\/storage\.azure\.com/);
  });
});

describe("user delegation SAS (a key from a bearer token, no account key)", { ...T, ...b.COFFER_ONLY }, () => {
  const { BlobClient, BlobSASPermissions, ContainerClient, ContainerSASPermissions, SASProtocol, generateBlobSASQueryParameters } = BlobSasApi;
  const minutes = (n) => new Date(Date.now() + n * 60000);

  test("a Reader's key signs a read SAS that works, a write SAS that does not; tampering and a removed role end it", T, async () => {
    const p = await b.tokenPrincipal("Storage Blob Data Reader", ["/"]);
    const cl = b.tokenClient(p.credential);
    const key = await cl.getUserDelegationKey(minutes(-5), minutes(60));
    assert.equal(key.signedObjectId, p.principal.object_id);
    assert.equal(key.signedService, "b");
    assert.equal(Buffer.from(key.value, "base64").length, 32);
    const sign = (values) => generateBlobSASQueryParameters({ containerName: c.containerName, protocol: SASProtocol.Https, expiresOn: minutes(30), ...values }, key, b.ACCOUNT).toString();

    const readSas = sign({ blobName: blob.name, permissions: BlobSASPermissions.parse("r") });
    const viaSas = new BlobClient(`${b.ENDPOINT}/${c.containerName}/${blob.name}?${readSas}`);
    assert.ok((await b.downloadAll(viaSas)).data.equals(DATA));
    // A container SAS lists.
    const listSas = sign({ permissions: ContainerSASPermissions.parse("rl") });
    const names = [];
    for await (const bi of new ContainerClient(`${b.ENDPOINT}/${c.containerName}?${listSas}`).listBlobsFlat()) names.push(bi.name);
    assert.ok(names.includes(blob.name));
    // The SAS says write; the person who signed it may only read.
    const writeSas = sign({ blobName: "udk-write.txt", permissions: BlobSASPermissions.parse("rcw") });
    await b.rejects(new BlobClient(`${b.ENDPOINT}/${c.containerName}/udk-write.txt?${writeSas}`).getBlockBlobClient().upload("w", 1), 403, "AuthorizationPermissionMismatch");
    // Tampered: another blob under the same signature, a longer expiry.
    await b.rejects(new BlobClient(`${b.ENDPOINT}/${c.containerName}/other.txt?${readSas}`).download(), 403, "AuthenticationFailed");
    const longer = readSas.replace(/se=[^&]+/, `se=${encodeURIComponent(minutes(50).toISOString().replace(/\.\d+Z$/, "Z"))}`);
    await b.rejects(new BlobClient(`${b.ENDPOINT}/${c.containerName}/${blob.name}?${longer}`).download(), 403, "AuthenticationFailed");
    // Past the key's own expiry: refused even with a valid signature.
    const beyond = sign({ blobName: blob.name, permissions: BlobSASPermissions.parse("r"), expiresOn: minutes(90) });
    await b.rejects(new BlobClient(`${b.ENDPOINT}/${c.containerName}/${blob.name}?${beyond}`).download(), 403, "AuthenticationFailed");
    // Removing the signer's role revokes the SAS.
    await b.deleteAssignment(p.assignments[0].name);
    await b.rejects(viaSas.download(), 403, "AuthorizationPermissionMismatch");
  });

  test("only a bearer token gets a key, for at most 7 days", T, async () => {
    await b.rejects(svc.getUserDelegationKey(minutes(0), minutes(60)), 403, "AuthenticationFailed");
    const p = await b.tokenPrincipal("Storage Blob Data Reader", ["/"]);
    const cl = b.tokenClient(p.credential);
    await b.rejects(cl.getUserDelegationKey(minutes(0), minutes(8 * 24 * 60)), 400);
    await b.rejects(cl.getUserDelegationKey(minutes(-60), minutes(-1)), 400);
    const none = await b.tokenPrincipal(null);
    await b.rejects(b.tokenClient(none.credential).getUserDelegationKey(minutes(0), minutes(60)), 403, "AuthorizationPermissionMismatch");
  });
});

describe("anonymous and public access", () => {
  test("a private container refuses anonymous reads (401/404)", T, async () => {
    const anon = b.anonymousClient();
    await b.rejects(anon.getContainerClient(c.containerName).getBlobClient(blob.name).download(), ANON);
    await b.rejects(anon.getContainerClient(c.containerName).getProperties(), ANON);
    await b.rejects(async () => { for await (const _ of anon.getContainerClient(c.containerName).listBlobsFlat()) break; }, [401, 403, 404]);
    await b.rejects(anon.getContainerClient(c.containerName).getBlockBlobClient("anon").upload("a", 1), [401, 403, 404]);
  });

  test("public access 'blob' allows blob reads only; 'container' also lists; writes never", T, async () => {
    const pc = svc.getContainerClient(b.containerName("public"));
    await pc.create();
    try {
      await pc.getBlockBlobClient("pub.txt").upload("p", 1);
      const anon = b.anonymousClient().getContainerClient(pc.containerName);
      await pc.setAccessPolicy("blob");
      assert.equal((await b.downloadAll(anon.getBlobClient("pub.txt"))).data.toString(), "p");
      assert.equal((await anon.getBlobClient("pub.txt").getProperties()).contentLength, 1);
      await b.rejects(async () => { for await (const _ of anon.listBlobsFlat()) break; }, [401, 403, 404]);
      await b.rejects(anon.getBlockBlobClient("w.txt").upload("w", 1), [401, 403, 404]);
      await pc.setAccessPolicy("container");
      const names = [];
      for await (const bi of anon.listBlobsFlat()) names.push(bi.name);
      assert.deepEqual(names, ["pub.txt"]);
      await b.rejects(anon.getBlockBlobClient("w.txt").upload("w", 1), [401, 403, 404]);
      await b.rejects(anon.getBlobClient("pub.txt").delete(), [401, 403, 404]);
      await pc.setAccessPolicy();
      await b.rejects(anon.getBlobClient("pub.txt").download(), ANON);
    } finally {
      await pc.delete();
    }
  });
});

describe("Coffer admin API", b.COFFER_ONLY, () => {
  test("needs Shared Key of the account: unsigned 401/403, wrong key 403", T, async () => {
    let r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/roleAssignments`, { sign: false });
    assert.ok([401, 403].includes(r.status), `${r.status} ${r.text}`);
    r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/roleAssignments`, { sign: { key: crypto.randomBytes(64).toString("base64") } });
    assert.equal(r.status, 403, r.text);
    // Another account's key does not administer this one.
    r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/roleAssignments`, { sign: { account: b.INSECURE, key: b.accountInfo(b.INSECURE).account_key } });
    assert.equal(r.status, 403, r.text);
  });

  test("a vault token with Coffer Storage Administrator manages every account; others are refused", T, async () => {
    const adm = await import("./lib/admin.mjs");
    const h = await import("./lib/harness.mjs");
    const storageToken = (p) => h.token({ scope: "https://storage.azure.com/.default", clientId: p.client_id, clientSecret: p.client_secret });
    const admin = await adm.createPrincipal({ name: h.uniqueName("stadm") });
    await adm.assignRole({ role: "Coffer Storage Administrator", principalId: admin.object_id });
    const plain = await adm.createPrincipal({ name: h.uniqueName("stnone") });
    const bearer = await storageToken(admin);
    assert.deepEqual(JSON.parse(Buffer.from(bearer.split(".")[1], "base64url")).roles, ["Coffer.Storage.Admin"]);
    let r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/accounts`, { bearer });
    assert.equal(r.status, 200, r.text);
    assert.ok(JSON.parse(r.text).value.some((a) => a.name === b.ACCOUNT));
    r = await b.rawRequest("GET", `/.coffer/${b.INSECURE}/roleAssignments`, { bearer });
    assert.equal(r.status, 200, r.text);
    // The service's audit log (filtered, chain verified) and health.
    r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/audit?top=3&result=success&verify=true`, { bearer });
    assert.equal(r.status, 200, r.text);
    const audit = JSON.parse(r.text);
    assert.equal(audit.value.length, 3);
    assert.ok(audit.value.every((l) => l.result === "success" && l.prev && l.time));
    assert.ok(audit.value[0].time >= audit.value[2].time, "newest first");
    assert.equal(audit.verification.status, "intact", r.text);
    r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/audit?top=0`, { bearer });
    assert.equal(r.status, 400, r.text);
    r = await b.rawRequest("GET", `/.coffer/${b.INSECURE}/audit`, { bearer });
    assert.equal(r.status, 403, r.text);
    r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/health`, { bearer });
    assert.equal(r.status, 200, r.text);
    const health = JSON.parse(r.text);
    assert.equal(health.service, "coffer-blob");
    assert.ok(health.tls.days_left > 0 && health.audit.lines > 0 && health.seal.type, r.text);
    r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/accounts`, { bearer: await storageToken(plain) });
    assert.equal(r.status, 403, r.text);
    assert.equal(JSON.parse(r.text).error.code, "AuthorizationPermissionMismatch");
    // The data plane is not management: no Storage Blob Data role, no blobs.
    await b.rejects(b.tokenClient(await h.secretCredential({ clientId: admin.client_id, clientSecret: admin.client_secret }))
      .getContainerClient(c.containerName).getBlobClient(blob.name).download(), 403, "AuthorizationPermissionMismatch");
  });

  test("the console's origin (the vault's) passes CORS on every path; others do not reach the admin API", T, async () => {
    const h = await import("./lib/harness.mjs");
    const origin = new URL(h.VAULT_URL).origin;
    for (const p of [`/.coffer/${b.ACCOUNT}/accounts`, `/${b.ACCOUNT}/${c.containerName}/${blob.name}`, "/metrics"]) {
      const r = await b.rawRequest("OPTIONS", p, { sign: false, headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "authorization,x-ms-version" } });
      assert.equal(r.status, 200, `${p}: ${r.text}`);
      assert.equal(r.headers["access-control-allow-origin"], origin);
      assert.match(r.headers["access-control-allow-headers"], /authorization/);
      assert.equal(r.headers["access-control-allow-credentials"], undefined);
    }
    const r = await b.rawRequest("GET", `/${b.ACCOUNT}/${c.containerName}/${blob.name}`, { headers: { origin } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers["access-control-allow-origin"], origin);
    assert.equal(r.headers["access-control-expose-headers"], "*");
    const foreign = await b.rawRequest("OPTIONS", `/.coffer/${b.ACCOUNT}/accounts`, { sign: false, headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
    assert.equal(foreign.status, 403, foreign.text);
    assert.equal(foreign.headers["access-control-allow-origin"], undefined);
  });

  test("regenerateKey key2: the old key2 stops working, the new one works, key1 unaffected", T, async () => {
    const r = await b.regenerateKey("key2");
    assert.equal(r.status, 200, r.text);
    const keys = JSON.parse(r.text).keys;
    const k2 = keys.find((k) => k.keyName === "key2").value;
    assert.notEqual(k2, b.B.account_key2);
    assert.equal(keys.find((k) => k.keyName === "key1").value, b.B.account_key);
    const old2 = new BlobServiceClient(b.ENDPOINT, b.keyCredential(b.B.account_key2));
    await b.rejects(read(old2), 403, "AuthenticationFailed");
    const new2 = new BlobServiceClient(b.ENDPOINT, b.keyCredential(k2));
    assert.ok((await read(new2)).equals(DATA));
    assert.ok((await read(svc)).equals(DATA));
  });
});

describe("at rest", () => {
  test("the data directory holds no plaintext marker", b.COFFER_ONLY, () => {
    const { found, scanned } = b.atRestContaining(b.MARKER);
    assert.ok(scanned > 0, "nothing scanned");
    assert.deepEqual(found, [], `plaintext marker found in ${found.join(", ")}`);
  });
});
