// coffer-blob's per-request encryption through the official
// @azure/storage-blob: customer-provided keys (the SDK's customerProvidedKey
// option) on every operation that takes one, and every error case: a read
// without the key or with another key, a key whose SHA-256 does not match,
// the headers over plain HTTP, blocks put with different keys committed
// together; copies to and from keyed blobs.  The key is never stored: the
// data directory holds neither the key nor the plaintext.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import * as b from "./lib/blob_lib.mjs";

const T = { timeout: 120000, ...b.COFFER_ONLY };

// The SDK's CpkInfo: the key, its SHA-256 and the algorithm, all three sent.
const newKey = () => {
  const raw = crypto.randomBytes(32);
  const sha = crypto.createHash("sha256").update(raw).digest("base64");
  return {
    raw,
    sha,
    cpk: { encryptionKey: raw.toString("base64"), encryptionKeySha256: sha, encryptionAlgorithm: "AES256" },
  };
};

const cpkHeaders = (k) => ({
  "x-ms-encryption-key": k.raw.toString("base64"),
  "x-ms-encryption-key-sha256": k.sha,
  "x-ms-encryption-algorithm": "AES256",
});

describe("customer-provided keys", () => {
  let svc;
  let c;
  const k1 = newKey();
  const k2 = newKey();
  const body = Buffer.from(`${b.MARKER} customer key `.repeat(200_000 / 40));

  before(async () => {
    svc = b.connectionStringClient();
    c = svc.getContainerClient(b.containerName("cpk"));
    await c.create();
  }, T);

  after(async () => {
    await c?.deleteIfExists().catch(() => {});
  });

  test("Put Blob, Get Blob, Get Properties and Set Metadata with the key", T, async () => {
    const blob = c.getBlockBlobClient("put.bin");
    const put = await blob.upload(body, body.length, { customerProvidedKey: k1.cpk, metadata: { a: "1" } });
    assert.equal(put.encryptionKeySha256, k1.sha, "the key's SHA-256 is echoed");
    assert.equal(put.isServerEncrypted, true);
    const { response, data } = await b.downloadAll(blob, 0, undefined, { customerProvidedKey: k1.cpk });
    assert.ok(data.equals(body));
    assert.equal(response.encryptionKeySha256, k1.sha);
    const ranged = await b.downloadAll(blob, 70_000, 100, { customerProvidedKey: k1.cpk });
    assert.ok(ranged.data.equals(body.subarray(70_000, 70_100)));
    const props = await blob.getProperties({ customerProvidedKey: k1.cpk });
    assert.equal(props.contentLength, body.length);
    assert.equal(props.encryptionKeySha256, k1.sha);
    assert.deepEqual(props.metadata, { a: "1" });
    const set = await blob.setMetadata({ b: "2" }, { customerProvidedKey: k1.cpk });
    assert.equal(set.encryptionKeySha256, k1.sha);
    assert.deepEqual((await blob.getProperties({ customerProvidedKey: k1.cpk })).metadata, { b: "2" });
  });

  test("without the key, or with another, reads and metadata are refused", T, async () => {
    const blob = c.getBlockBlobClient("refused.bin");
    await blob.upload(body, body.length, { customerProvidedKey: k1.cpk });
    await b.rejects(blob.download(), 409, "BlobUsesCustomerSpecifiedEncryption");
    await b.rejects(blob.getProperties(), 409, "BlobUsesCustomerSpecifiedEncryption");
    await b.rejects(blob.setMetadata({ x: "y" }), 409, "BlobUsesCustomerSpecifiedEncryption");
    await b.rejects(blob.download(0, undefined, { customerProvidedKey: k2.cpk }), 409, "InvalidEncryptionKey");
    await b.rejects(blob.getProperties({ customerProvidedKey: k2.cpk }), 409, "InvalidEncryptionKey");
    // A key offered for a blob written without one.
    const plain = c.getBlockBlobClient("plain.bin");
    await plain.upload("plain", 5);
    await b.rejects(plain.download(0, undefined, { customerProvidedKey: k1.cpk }), 409,
      "BlobDoesNotUseCustomerSpecifiedEncryption");
    // Deleting needs no key (as in Azure); listing shows the blob, but not
    // its metadata.
    await blob.setMetadata({ secretish: "value" }, { customerProvidedKey: k1.cpk });
    const listed = {};
    for await (const item of c.listBlobsFlat({ includeMetadata: true })) listed[item.name] = item;
    assert.ok(listed["refused.bin"]);
    assert.equal(listed["refused.bin"].metadata?.secretish, undefined, "CPK metadata is not listed");
  });

  test("a key whose SHA-256 does not match, a short key, a wrong algorithm: 400", T, async () => {
    const url = `${c.url}/bad.bin`;
    const bad = [
      { ...cpkHeaders(k1), "x-ms-encryption-key-sha256": k2.sha },
      { ...cpkHeaders(k1), "x-ms-encryption-key": crypto.randomBytes(16).toString("base64") },
      { ...cpkHeaders(k1), "x-ms-encryption-algorithm": "AES128" },
    ];
    for (const headers of bad) {
      const r = await b.rawRequest("PUT", url, { headers: { ...headers, "x-ms-blob-type": "BlockBlob" }, body: "x" });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.headers["x-ms-error-code"], "InvalidHeaderValue");
    }
    const partial = { "x-ms-encryption-key": k1.raw.toString("base64"), "x-ms-blob-type": "BlockBlob" };
    const r = await b.rawRequest("PUT", url, { headers: partial, body: "x" });
    assert.equal(r.status, 400);
    assert.equal(r.headers["x-ms-error-code"], "MissingRequiredHeader");
    await b.rejects(c.getBlockBlobClient("bad.bin").getProperties(), 404);
  });

  test("the key headers are refused over plain HTTP", T, async () => {
    const insecure = b.accountInfo(b.INSECURE);
    const url = `${b.HTTP_BASE}/${b.INSECURE}/any/blob.bin`;
    const r = await b.rawRequest("PUT", url, {
      headers: { ...cpkHeaders(k1), "x-ms-blob-type": "BlockBlob" }, body: "x",
      sign: { account: b.INSECURE, key: insecure.account_key },
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /HTTPS/);
  });

  test("Put Block / Put Block List: one key for all blocks", T, async () => {
    const blob = c.getBlockBlobClient("blocks.bin");
    const parts = [body.subarray(0, 100_000), body.subarray(100_000)];
    for (let i = 0; i < parts.length; i++) {
      const r = await blob.stageBlock(b.blockId(i), parts[i], parts[i].length, { customerProvidedKey: k1.cpk });
      assert.equal(r.encryptionKeySha256, k1.sha);
    }
    await blob.commitBlockList([b.blockId(0), b.blockId(1)], { customerProvidedKey: k1.cpk });
    const { data } = await b.downloadAll(blob, 0, undefined, { customerProvidedKey: k1.cpk });
    assert.ok(data.equals(body));
    // A block under another key, or none, cannot join.
    const mixed = c.getBlockBlobClient("mixed.bin");
    await mixed.stageBlock(b.blockId(0), "aaaa", 4, { customerProvidedKey: k1.cpk });
    await mixed.stageBlock(b.blockId(1), "bbbb", 4, { customerProvidedKey: k2.cpk });
    await mixed.stageBlock(b.blockId(2), "cccc", 4);
    await b.rejects(mixed.commitBlockList([b.blockId(0), b.blockId(1)], { customerProvidedKey: k1.cpk }), 409, "InvalidEncryptionKey");
    await b.rejects(mixed.commitBlockList([b.blockId(0), b.blockId(2)], { customerProvidedKey: k1.cpk }), 409, "InvalidEncryptionKey");
    await b.rejects(mixed.commitBlockList([b.blockId(0)]), 409, "InvalidEncryptionKey");
    await mixed.commitBlockList([b.blockId(1)], { customerProvidedKey: k2.cpk });
    assert.equal((await b.downloadAll(mixed, 0, undefined, { customerProvidedKey: k2.cpk })).data.toString(), "bbbb");
    // Committed blocks stay under the blob's key when the list is put again.
    await b.rejects(blob.commitBlockList([b.blockId(0)], { customerProvidedKey: k2.cpk }), 409, "InvalidEncryptionKey");
    await blob.commitBlockList([b.blockId(1)], { customerProvidedKey: k1.cpk });
    assert.ok((await b.downloadAll(blob, 0, undefined, { customerProvidedKey: k1.cpk })).data.equals(parts[1]));
  });

  test("append blobs: create and Append Block with the key", T, async () => {
    const blob = c.getAppendBlobClient("append.log");
    await blob.create({ customerProvidedKey: k1.cpk });
    await blob.appendBlock("one,", 4, { customerProvidedKey: k1.cpk });
    await blob.appendBlock("two", 3, { customerProvidedKey: k1.cpk });
    await b.rejects(blob.appendBlock("x", 1), 409, "BlobUsesCustomerSpecifiedEncryption");
    await b.rejects(blob.appendBlock("x", 1, { customerProvidedKey: k2.cpk }), 409, "InvalidEncryptionKey");
    assert.equal((await b.downloadAll(blob, 0, undefined, { customerProvidedKey: k1.cpk })).data.toString(), "one,two");
  });

  test("Copy Blob: to a keyed destination, never from a keyed source without it", T, async () => {
    const src = c.getBlockBlobClient("copy-src.bin");
    await src.upload(body, body.length);
    const r = await b.rawRequest("PUT", `${c.url}/copy-dst.bin`, { headers: { ...cpkHeaders(k2), "x-ms-copy-source": src.url } });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.headers["x-ms-encryption-key-sha256"], k2.sha);
    const dst = c.getBlockBlobClient("copy-dst.bin");
    assert.ok((await b.downloadAll(dst, 0, undefined, { customerProvidedKey: k2.cpk })).data.equals(body));
    await b.rejects(dst.download(), 409, "BlobUsesCustomerSpecifiedEncryption");
    const keyed = c.getBlockBlobClient("put.bin");
    await b.rejects(c.getBlockBlobClient("copy-2.bin").syncCopyFromURL(keyed.url), 409,
      "BlobUsesCustomerSpecifiedEncryption");
  });

  test("neither the keys nor the plaintext are in the data directory", T, async () => {
    for (const needle of [k1.raw, k1.raw.toString("base64"), k2.raw, k2.raw.toString("base64"), b.MARKER]) {
      const scan = b.atRestContaining(needle);
      assert.ok(scan.scanned > 0);
      assert.deepEqual(scan.found, []);
    }
  });
});

// ---------------------------------------------------------------- scopes

async function adminScope(method, name, properties) {
  const r = await b.rawRequest(method, `/.coffer/${b.ACCOUNT}/encryptionScopes/${name}`, {
    body: properties ? { properties } : undefined,
  });
  if (r.status >= 300) throw new Error(`${method} scope ${name}: ${r.status} ${r.text}`);
  return JSON.parse(r.text);
}

describe("encryption scopes", () => {
  let svc;
  const sa = `sa-${process.pid}`;
  const sb = `sb-${process.pid}`;
  const containers = [];
  const newContainer = async (options) => {
    const c = svc.getContainerClient(b.containerName("scope"));
    await c.create(options);
    containers.push(c);
    return c;
  };

  before(async () => {
    svc = b.connectionStringClient();
    const created = await adminScope("PUT", sa, { source: "Microsoft.Storage" });
    assert.equal(created.properties.state, "Enabled");
    await adminScope("PUT", sb, {});
  }, T);

  after(async () => {
    for (const c of containers) await c.deleteIfExists().catch(() => {});
  });

  test("a blob goes to the scope its request names, and says so", T, async () => {
    const c = await newContainer();
    const blob = c.getBlockBlobClient("in-a.txt");
    const put = await blob.upload("scoped", 6, { encryptionScope: sa });
    assert.equal(put.encryptionScope, sa);
    const props = await blob.getProperties();
    assert.equal(props.encryptionScope, sa);
    assert.equal((await b.downloadAll(blob)).data.toString(), "scoped");
    await c.getBlockBlobClient("plain.txt").upload("plain", 5);
    const items = {};
    for await (const item of c.listBlobsFlat()) items[item.name] = item.properties.encryptionScope;
    assert.deepEqual(items, { "in-a.txt": sa, "plain.txt": undefined });
    assert.equal((await c.getBlockBlobClient("plain.txt").getProperties()).encryptionScope, undefined);
  });

  test("container default scope, with and without override denied", T, async () => {
    const open = await newContainer({ containerEncryptionScope: { defaultEncryptionScope: sb, preventEncryptionScopeOverride: false } });
    const cp = await open.getProperties();
    assert.equal(cp.defaultEncryptionScope, sb);
    assert.equal(cp.denyEncryptionScopeOverride, false);
    await open.getBlockBlobClient("d.txt").upload("d", 1);
    assert.equal((await open.getBlockBlobClient("d.txt").getProperties()).encryptionScope, sb);
    await open.getBlockBlobClient("o.txt").upload("o", 1, { encryptionScope: sa });
    assert.equal((await open.getBlockBlobClient("o.txt").getProperties()).encryptionScope, sa);

    const locked = await newContainer({ containerEncryptionScope: { defaultEncryptionScope: sb, preventEncryptionScopeOverride: true } });
    assert.equal((await locked.getProperties()).denyEncryptionScopeOverride, true);
    await b.rejects(locked.getBlockBlobClient("x.txt").upload("x", 1, { encryptionScope: sa }), 409,
      "EncryptionScopeOverrideNotAllowed");
    await b.rejects(locked.getBlockBlobClient("x.txt").upload("x", 1, { customerProvidedKey: newKey().cpk }), 409,
      "EncryptionScopeOverrideNotAllowed");
    await locked.getBlockBlobClient("y.txt").upload("y", 1, { encryptionScope: sb });
    await locked.getBlockBlobClient("z.txt").upload("z", 1);
    assert.equal((await locked.getBlockBlobClient("z.txt").getProperties()).encryptionScope, sb);
    let listed;
    for await (const item of svc.listContainers({ prefix: locked.containerName })) listed = item;
    assert.equal(listed.properties.defaultEncryptionScope, sb);
    assert.equal(listed.properties.preventEncryptionScopeOverride, true);
    // Both container headers or neither; an unknown default scope is refused.
    const bad = svc.getContainerClient(b.containerName("scope-bad"));
    await b.rejects(bad.create({ containerEncryptionScope: { defaultEncryptionScope: "no-such-scope", preventEncryptionScopeOverride: false } }),
      400, "EncryptionScopeNotFound");
  });

  test("unknown and malformed scopes are refused", T, async () => {
    const c = await newContainer();
    await b.rejects(c.getBlockBlobClient("u.txt").upload("u", 1, { encryptionScope: "no-such-scope" }), 400,
      "EncryptionScopeNotFound");
    await b.rejects(c.getBlockBlobClient("u.txt").upload("u", 1, { encryptionScope: "Bad_Name" }), 400,
      "InvalidHeaderValue");
    await b.rejects(c.getBlockBlobClient("u.txt").upload("u", 1, { encryptionScope: sa, customerProvidedKey: newKey().cpk }),
      400, "InvalidHeaderValue");
  });

  test("a disabled scope refuses reads and writes; other data stays readable", T, async () => {
    const c = await newContainer();
    await c.getBlockBlobClient("a.txt").upload("in a", 4, { encryptionScope: sa });
    await c.getBlockBlobClient("b.txt").upload("in b", 4, { encryptionScope: sb });
    await adminScope("PATCH", sa, { state: "Disabled" });
    try {
      await b.rejects(c.getBlockBlobClient("a.txt").download(), 403, "EncryptionScopeDisabled");
      await b.rejects(c.getBlockBlobClient("a.txt").getProperties(), 403, "EncryptionScopeDisabled");
      await b.rejects(c.getBlockBlobClient("a.txt").setMetadata({ x: "1" }), 403, "EncryptionScopeDisabled");
      await b.rejects(c.getBlockBlobClient("a2.txt").upload("x", 1, { encryptionScope: sa }), 403,
        "EncryptionScopeDisabled");
      assert.equal((await b.downloadAll(c.getBlockBlobClient("b.txt"))).data.toString(), "in b");
    } finally {
      await adminScope("PATCH", sa, { state: "Enabled" });
    }
    assert.equal((await b.downloadAll(c.getBlockBlobClient("a.txt"))).data.toString(), "in a");
  });

  test("blocks, append blobs and copies keep to one scope", T, async () => {
    const c = await newContainer();
    const blob = c.getBlockBlobClient("blocks.bin");
    await blob.stageBlock(b.blockId(0), "0000", 4, { encryptionScope: sa });
    await blob.stageBlock(b.blockId(1), "1111", 4, { encryptionScope: sa });
    await b.rejects(blob.commitBlockList([b.blockId(0), b.blockId(1)], { encryptionScope: sb }), 400, "InvalidBlockList");
    await b.rejects(blob.commitBlockList([b.blockId(0)]), 400, "InvalidBlockList");
    const committed = await blob.commitBlockList([b.blockId(0), b.blockId(1)], { encryptionScope: sa });
    assert.equal(committed.encryptionScope, sa);
    assert.equal((await b.downloadAll(blob)).data.toString(), "00001111");

    const log = c.getAppendBlobClient("log.txt");
    await log.create({ encryptionScope: sa });
    await log.appendBlock("one,", 4);
    await log.appendBlock("two", 3, { encryptionScope: sa });
    await b.rejects(log.appendBlock("x", 1, { encryptionScope: sb }), 409, "EncryptionScopeOverrideNotAllowed");
    assert.equal((await b.downloadAll(log)).data.toString(), "one,two");
    assert.equal((await log.getProperties()).encryptionScope, sa);

    // Same scope: extents shared; another scope: the body is encrypted again.
    const same = c.getBlockBlobClient("copy-same.bin");
    await same.syncCopyFromURL(blob.url, { encryptionScope: sa });
    const other = c.getBlockBlobClient("copy-other.bin");
    await other.syncCopyFromURL(blob.url, { encryptionScope: sb });
    for (const [client, scope] of [[same, sa], [other, sb]]) {
      assert.equal((await client.getProperties()).encryptionScope, scope);
      assert.equal((await b.downloadAll(client)).data.toString(), "00001111");
    }
  });

  test("scopes are listed and shown through the admin API", T, async () => {
    const r = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/encryptionScopes`);
    assert.equal(r.status, 200);
    const names = JSON.parse(r.text).value.map((s) => s.name);
    assert.ok(names.includes(sa) && names.includes(sb));
    const missing = await b.rawRequest("GET", `/.coffer/${b.ACCOUNT}/encryptionScopes/not-there`);
    assert.equal(missing.status, 404);
    const other = await b.rawRequest("PUT", `/.coffer/${b.ACCOUNT}/encryptionScopes/${sa}`, { body: { properties: {} } });
    assert.equal(other.status, 409, "a scope is created once");
  });
});

// ---------------------------------------------------------------- double encryption

describe("infrastructure encryption", () => {
  const name = `infra${process.pid}`;
  let svc;

  before(async () => {
    const r = await b.rawRequest("PUT", `/.coffer/${b.ACCOUNT}/accounts/${name}`, {
      body: { properties: { encryption: { keySource: "Microsoft.Storage", requireInfrastructureEncryption: true } } },
    });
    assert.equal(r.status, 201, r.text);
    const account = JSON.parse(r.text);
    assert.equal(account.properties.encryption.requireInfrastructureEncryption, true);
    svc = BlobServiceClient.fromConnectionString(account.connectionString);
  }, T);

  after(async () => {
    await b.rawRequest("DELETE", `/.coffer/${b.ACCOUNT}/accounts/${name}`).catch(() => {});
  });

  test("customer-provided keys on an account with two layers", T, async () => {
    const c = svc.getContainerClient("double-cpk");
    await c.create();
    const k = newKey();
    const body = Buffer.from(`${b.MARKER} cpk and two layers `.repeat(10_000));
    const blob = c.getBlockBlobClient("cpk.bin");
    await blob.upload(body, body.length, { customerProvidedKey: k.cpk });
    assert.ok((await b.downloadAll(blob, 0, undefined, { customerProvidedKey: k.cpk })).data.equals(body));
    const log = c.getAppendBlobClient("cpk.log");
    await log.create({ customerProvidedKey: k.cpk });
    await log.appendBlock("abc", 3, { customerProvidedKey: k.cpk });
    assert.equal((await b.downloadAll(log, 0, undefined, { customerProvidedKey: k.cpk })).data.toString(), "abc");
  });

  test("an account with two layers: uploads, downloads and ranges", T, async () => {
    const c = svc.getContainerClient("double");
    await c.create();
    const big = Buffer.from(`${b.MARKER} two layers `.repeat(600_000 / 30));
    const blob = c.getBlockBlobClient("big.bin");
    await blob.uploadData(big, { blockSize: 256 * 1024, concurrency: 2 });
    assert.ok((await b.downloadAll(blob)).data.equals(big));
    const part = await b.downloadAll(blob, 65_000, 140_000);
    assert.ok(part.data.equals(big.subarray(65_000, 205_000)));
    await c.getBlockBlobClient("small.txt").upload("small", 5);
    assert.equal((await b.downloadAll(c.getBlockBlobClient("small.txt"))).data.toString(), "small");
    const scan = b.atRestContaining(b.MARKER);
    assert.deepEqual(scan.found, []);
  });

  test("the flag is fixed once the account exists", T, async () => {
    const r = await b.rawRequest("PATCH", `/.coffer/${b.ACCOUNT}/accounts/${name}`, {
      body: { properties: { encryption: { keySource: "Microsoft.Storage", requireInfrastructureEncryption: false } } },
    });
    assert.equal(r.status, 400);
  });
});
