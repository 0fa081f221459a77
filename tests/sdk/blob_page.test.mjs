// Page blobs through the official @azure/storage-blob PageBlobClient:
// create, Put Page (update and clear), Get Page Ranges (merged, clipped,
// paged through the SDK's listPageRanges), ranged reads, resize, sequence
// numbers and their conditions, leases and If-Match, transactional MD5,
// customer-provided keys, encryption scopes (and a disabled one), listings, every refusal with Azure's status and
// code, and the data directory holding no plaintext page.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import * as b from "./lib/blob_lib.mjs";

const T = { timeout: 120000 };
const KIB = 1024;
const CHUNK = 64 * KIB;

const pattern = (len, seed) => {
  const buf = Buffer.alloc(len);
  for (let i = 0; i < len; i++) buf[i] = (i * 31 + seed * 7) & 0xff;
  return buf;
};

const ranges = (r) => (r.pageRange ?? []).map((x) => [x.offset, x.offset + x.count]);

describe("page blobs", () => {
  let c;

  before(async () => {
    c = b.connectionStringClient().getContainerClient(b.containerName("page"));
    await c.create();
  }, T);

  after(async () => {
    await c?.deleteIfExists().catch(() => {});
  });

  test("create, write, clear, read back, list ranges", T, async () => {
    const p = c.getPageBlobClient("disk.vhd");
    const size = 4 * CHUNK + 1024;
    const made = await p.create(size, { blobHTTPHeaders: { blobContentType: "application/x-disk" }, metadata: { k: "v" } });
    assert.equal(made.isServerEncrypted, true);
    const props = await p.getProperties();
    assert.equal(props.blobType, "PageBlob");
    assert.equal(props.contentLength, size);
    assert.equal(props.blobSequenceNumber, 0);
    assert.equal(props.contentType, "application/x-disk");
    assert.deepEqual(props.metadata, { k: "v" });
    assert.ok((await b.downloadAll(p)).data.equals(Buffer.alloc(size)), "a new page blob reads as zeros");

    const shadow = Buffer.alloc(size);
    const write = async (offset, data) => {
      const r = await p.uploadPages(data, offset, data.length);
      assert.equal(r.blobSequenceNumber, 0);
      data.copy(shadow, offset);
    };
    await write(0, pattern(512, 1));
    await write(CHUNK - 1024, pattern(3 * KIB, 2)); // across a chunk boundary
    await write(3 * CHUNK, pattern(CHUNK + 1024, 3)); // to the very end
    assert.ok((await b.downloadAll(p)).data.equals(shadow));
    const part = await b.downloadAll(p, CHUNK - 700, 2000);
    assert.ok(part.data.equals(shadow.subarray(CHUNK - 700, CHUNK + 1300)), "ranged read");

    let got = await p.getPageRanges();
    // The SDK turns <Start>/<End> (inclusive) into offset and end - start.
    assert.deepEqual(ranges(got), [[0, 511], [CHUNK - 1024, CHUNK + 2047], [3 * CHUNK, size - 1]]);
    got = await p.getPageRanges(CHUNK, CHUNK);
    assert.deepEqual(ranges(got), [[CHUNK, CHUNK + 2047]], "clipped to the range asked about");

    await p.clearPages(CHUNK - 512, 1024);
    shadow.fill(0, CHUNK - 512, CHUNK + 512);
    assert.ok((await b.downloadAll(p)).data.equals(shadow));
    got = await p.getPageRanges();
    assert.deepEqual(ranges(got), [[0, 511], [CHUNK - 1024, CHUNK - 513], [CHUNK + 512, CHUNK + 2047], [3 * CHUNK, size - 1]]);

    // Paged: two ranges per reply, the SDK following NextMarker.
    const pages = [];
    for await (const page of p.listPageRanges().byPage({ maxPageSize: 2 })) pages.push(page.pageRange ?? []);
    assert.equal(pages.length, 2);
    assert.deepEqual(pages.flat().map((r) => [r.start, r.end]),
      [[0, 511], [CHUNK - 1024, CHUNK - 513], [CHUNK + 512, CHUNK + 2047], [3 * CHUNK, size - 1]]);

    // Listings name the type and the sequence number.
    for await (const item of c.listBlobsFlat({ prefix: "disk" })) {
      assert.equal(item.properties.blobType, "PageBlob");
      assert.equal(item.properties.blobSequenceNumber, 0);
    }
  });

  test("a whole 4 MiB write; larger, misaligned or past the end is refused", T, async () => {
    const p = c.getPageBlobClient("limits.vhd");
    await p.create(8 * 1024 * KIB);
    const big = crypto.randomBytes(4 * 1024 * KIB);
    await p.uploadPages(big, 1024 * KIB, big.length);
    assert.ok((await b.downloadAll(p, 1024 * KIB, big.length)).data.equals(big));
    await b.rejects(p.uploadPages(Buffer.alloc(4 * 1024 * KIB + 512), 0, 4 * 1024 * KIB + 512), 400, "InvalidHeaderValue");
    await b.rejects(p.uploadPages(Buffer.alloc(512), 100, 512), 416, "InvalidPageRange");
    await b.rejects(p.uploadPages(Buffer.alloc(500), 0, 500), 416, "InvalidPageRange");
    await b.rejects(p.uploadPages(Buffer.alloc(1024), 8 * 1024 * KIB - 512, 1024), 416, "InvalidPageRange");
    await b.rejects(p.clearPages(8 * 1024 * KIB, 512), 416, "InvalidPageRange");
    await b.rejects(p.getPageRanges(9 * 1024 * KIB, 512), 416, "InvalidRange");
    await b.rejects(c.getPageBlobClient("odd.vhd").create(1000), 400, "InvalidHeaderValue");
    await b.rejects(c.getPageBlobClient("huge.vhd").create(8 * 1024 ** 4 + 512), 400, "InvalidHeaderValue");
    await b.rejects(p.getPageRangesDiff(0, 512, "2026-01-01T00:00:00.0000000Z"), 400, "FeatureNotSupported");
    // A body whose length is not the range's.
    const url = new URL(p.url);
    const r = await b.rawRequest("PUT", `${url.pathname}?comp=page`, {
      headers: { "x-ms-page-write": "update", "x-ms-range": "bytes=0-1023" },
      body: Buffer.alloc(512),
    });
    assert.equal(r.status, 400);
    assert.match(r.text, /InvalidHeaderValue/);
  });

  test("page and block operations refuse the other type", T, async () => {
    const block = c.getBlockBlobClient("block.bin");
    await block.upload("hello", 5);
    await b.rejects(c.getPageBlobClient("block.bin").uploadPages(Buffer.alloc(512), 0, 512), 409, "InvalidBlobType");
    await b.rejects(c.getPageBlobClient("block.bin").getPageRanges(), 409, "InvalidBlobType");
    const p = c.getPageBlobClient("typed.vhd");
    await p.create(CHUNK);
    await b.rejects(c.getBlockBlobClient("typed.vhd").stageBlock(b.blockId(1), "x", 1), 409, "InvalidBlobType");
    await b.rejects(c.getAppendBlobClient("typed.vhd").appendBlock("x", 1), 409, "InvalidBlobType");
    await b.rejects(c.getPageBlobClient("missing.vhd").uploadPages(Buffer.alloc(512), 0, 512), 404, "BlobNotFound");
  });

  test("sequence numbers and their conditions", T, async () => {
    const p = c.getPageBlobClient("seq.vhd");
    await p.create(CHUNK, { blobSequenceNumber: 7 });
    assert.equal((await p.getProperties()).blobSequenceNumber, 7);
    const page = Buffer.alloc(512, 1);
    await b.rejects(p.uploadPages(page, 0, 512, { conditions: { ifSequenceNumberLessThan: 7 } }), 412, "SequenceNumberConditionNotMet");
    await b.rejects(p.uploadPages(page, 0, 512, { conditions: { ifSequenceNumberEqualTo: 8 } }), 412, "SequenceNumberConditionNotMet");
    await b.rejects(p.clearPages(0, 512, { conditions: { ifSequenceNumberLessThanOrEqualTo: 6 } }), 412, "SequenceNumberConditionNotMet");
    await p.uploadPages(page, 0, 512, { conditions: { ifSequenceNumberLessThanOrEqualTo: 7, ifSequenceNumberEqualTo: 7 } });
    assert.equal((await p.updateSequenceNumber("increment")).blobSequenceNumber, 8);
    assert.equal((await p.updateSequenceNumber("max", 5)).blobSequenceNumber, 8);
    assert.equal((await p.updateSequenceNumber("max", 20)).blobSequenceNumber, 20);
    assert.equal((await p.updateSequenceNumber("update", 3)).blobSequenceNumber, 3);
    await b.rejects(p.updateSequenceNumber("update"), 400, "MissingRequiredHeader");
    assert.equal((await p.getProperties()).blobSequenceNumber, 3);
  });

  test("resize: a tail cut and grown back reads as zeros", T, async () => {
    const p = c.getPageBlobClient("resize.vhd");
    await p.create(2 * CHUNK);
    const data = pattern(2 * CHUNK, 9);
    await p.uploadPages(data, 0, data.length);
    await p.resize(CHUNK + 512);
    assert.equal((await p.getProperties()).contentLength, CHUNK + 512);
    await b.rejects(p.uploadPages(Buffer.alloc(512), CHUNK + 512, 512), 416, "InvalidPageRange");
    await p.resize(2 * CHUNK);
    const back = (await b.downloadAll(p)).data;
    assert.ok(back.subarray(0, CHUNK + 512).equals(data.subarray(0, CHUNK + 512)));
    assert.ok(back.subarray(CHUNK + 512).equals(Buffer.alloc(CHUNK - 512)), "the cut pages stay cut");
    await b.rejects(p.resize(1000), 400, "InvalidHeaderValue");
  });

  test("leases, If-Match and transactional MD5", T, async () => {
    const p = c.getPageBlobClient("leased.vhd");
    const made = await p.create(CHUNK);
    const page = Buffer.alloc(512, 5);
    await b.rejects(p.uploadPages(page, 0, 512, { conditions: { ifMatch: '"0x1"' } }), 412, "ConditionNotMet");
    await p.uploadPages(page, 0, 512, { conditions: { ifMatch: made.etag } });
    const lease = p.getBlobLeaseClient();
    await lease.acquireLease(-1);
    await b.rejects(p.uploadPages(page, 512, 512), 412, "LeaseIdMissing");
    await p.uploadPages(page, 512, 512, { conditions: { leaseId: lease.leaseId } });
    await b.rejects(p.resize(2 * CHUNK), 412, "LeaseIdMissing");
    await lease.releaseLease();
    const md5 = b.md5(page);
    const r = await p.uploadPages(page, 1024, 512, { transactionalContentMD5: md5 });
    assert.ok(Buffer.from(r.contentMD5).equals(md5));
    await b.rejects(p.uploadPages(page, 1536, 512, { transactionalContentMD5: b.md5(Buffer.alloc(1)) }), 400, "Md5Mismatch");
    assert.deepEqual(ranges(await p.getPageRanges()), [[0, 1535]]);
  });

  test("customer-provided keys and nothing in clear at rest", T, async () => {
    const raw = crypto.randomBytes(32);
    const cpk = {
      encryptionKey: raw.toString("base64"),
      encryptionKeySha256: crypto.createHash("sha256").update(raw).digest("base64"),
      encryptionAlgorithm: "AES256",
    };
    const p = c.getPageBlobClient("cpk.vhd");
    await p.create(CHUNK, { customerProvidedKey: cpk });
    const body = Buffer.from(`${b.MARKER} page `.repeat(4 * KIB)).subarray(0, 8 * KIB);
    await p.uploadPages(body, 0, body.length, { customerProvidedKey: cpk });
    await b.rejects(p.uploadPages(body, 0, body.length), 409, "BlobUsesCustomerSpecifiedEncryption");
    await b.rejects(b.downloadAll(p), 409, "BlobUsesCustomerSpecifiedEncryption");
    assert.ok((await b.downloadAll(p, 0, body.length, { customerProvidedKey: cpk })).data.equals(body));
    const plain = c.getPageBlobClient("plain.vhd");
    await plain.create(CHUNK);
    await plain.uploadPages(body, CHUNK - body.length, body.length);
    const { found, scanned } = b.atRestContaining(b.MARKER);
    assert.ok(scanned > 0);
    assert.deepEqual(found, [], "no page in clear at rest");
  });

  test("encryption scopes: pages go to the blob's scope; a disabled scope refuses them", T, async () => {
    const scope = `pg-${process.pid}`;
    const admin = async (method, properties) => {
      const r = await b.rawRequest(method, `/.coffer/${b.ACCOUNT}/encryptionScopes/${scope}`, {
        body: { properties },
      });
      assert.ok(r.status < 300, `${method} scope: ${r.status} ${r.text}`);
    };
    await admin("PUT", { source: "Microsoft.Storage" });
    const p = c.getPageBlobClient("scoped.vhd");
    const made = await p.create(CHUNK, { encryptionScope: scope });
    assert.equal(made.encryptionScope, scope);
    const data = pattern(4 * KIB, 11);
    await p.uploadPages(data, 4 * KIB, data.length);
    assert.equal((await p.getProperties()).encryptionScope, scope);
    assert.ok((await b.downloadAll(p, 4 * KIB, data.length)).data.equals(data));
    await admin("PATCH", { state: "Disabled" });
    try {
      await b.rejects(p.uploadPages(data, 0, data.length), 403, "EncryptionScopeDisabled");
      await b.rejects(b.downloadAll(p), 403, "EncryptionScopeDisabled");
    } finally {
      await admin("PATCH", { state: "Enabled" });
    }
    assert.ok((await b.downloadAll(p, 4 * KIB, data.length)).data.equals(data));
  });
});
