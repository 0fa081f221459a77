// coffer-blob operations through the unmodified official @azure/storage-blob,
// over HTTPS, once per credential kind: the connection string (Shared Key),
// an account SAS URL, and a token credential (ClientSecretCredential against
// coffer-vault's token endpoint, Storage Blob Data Owner at the account).
//
// Expectations are Azure's (statuses and error codes of the REST reference
// and /work/notes/blob.md), never read back from the server.  At the end,
// the data directory must not contain the plaintext marker written here.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import * as b from "./lib/blob_lib.mjs";

const KINDS = ["key", "sas", "token"];
const T = { timeout: 120000 };

const marker = Buffer.from(`${b.MARKER} `.repeat(64));

async function serviceFor(kind) {
  if (kind === "key") return { svc: b.connectionStringClient() };
  if (kind === "sas") return { svc: b.sasClient(b.accountSas()) };
  const p = await b.tokenPrincipal("Storage Blob Data Owner", ["/"]);
  return { svc: b.tokenClient(p.credential), principal: p };
}

// A source URL the destination request may copy from: a blob SAS works for
// every kind (Shared Key callers may also use the bare URL, tested apart).
const sourceUrl = (blob) => `${blob.url.split("?")[0]}?${b.serviceSas({ containerName: blob.containerName, blobName: blob.name, permissions: "r" })}`;

for (const kind of KINDS) {
  describe(`blob operations with ${kind === "key" ? "a connection string" : kind === "sas" ? "an account SAS" : "a token credential"}`,
    kind === "token" ? b.COFFER_ONLY : {}, () => {
      let svc;
      let c; // the kind's working container
      const prefix = `${kind}-${process.pid}`;

      before(async () => {
        ({ svc } = await serviceFor(kind));
        c = svc.getContainerClient(b.containerName(`ops-${kind}`));
        await c.create();
      }, T);

      after(async () => {
        await c?.deleteIfExists().catch(() => {});
      });

      test("service properties: get and set (CORS, delete retention)", kind === "token" ? { skip: "Azure: service properties need Shared Key or an account SAS" } : T, async () => {
        const p0 = await svc.getProperties();
        assert.ok(p0.requestId);
        const cors = [{
          allowedOrigins: "https://example.com", allowedMethods: "GET,PUT", allowedHeaders: "x-ms-meta-*",
          exposedHeaders: "x-ms-request-id", maxAgeInSeconds: 60,
        }];
        const r = await svc.setProperties({ cors, deleteRetentionPolicy: { enabled: false } });
        assert.ok(r.requestId);
        const p1 = await svc.getProperties();
        assert.equal(p1.cors?.length, 1);
        assert.equal(p1.cors[0].allowedOrigins, "https://example.com");
        assert.equal(p1.cors[0].allowedMethods, "GET,PUT");
        assert.equal(p1.cors[0].maxAgeInSeconds, 60);
        await svc.setProperties({ cors: [] });
        const p2 = await svc.getProperties();
        assert.equal(p2.cors?.length ?? 0, 0);
      });

      test("containers: create, list by prefix with paging and metadata, properties, metadata, delete", T, async () => {
        const base = b.containerName(`lst-${kind}`).slice(0, 40);
        const names = [0, 1, 2, 3, 4].map((i) => `${base}-${i}`);
        for (const [i, n] of names.entries()) {
          const r = await svc.getContainerClient(n).create({ metadata: { idx: String(i), kind } });
          assert.ok(r.etag && r.lastModified && r.requestId);
        }
        await b.rejects(svc.getContainerClient(names[0]).create(), 409, "ContainerAlreadyExists");

        const pages = [];
        let token;
        for (let guard = 0; guard < 10; guard++) {
          const it = svc.listContainers({ prefix: base, includeMetadata: true }).byPage({ maxPageSize: 2, continuationToken: token });
          const page = (await it.next()).value;
          pages.push(page.containerItems.map((x) => x.name));
          for (const ci of page.containerItems) {
            assert.equal(ci.metadata?.kind, kind);
            assert.equal(ci.metadata?.idx, String(names.indexOf(ci.name)));
            assert.ok(ci.properties.etag && ci.properties.lastModified instanceof Date);
          }
          token = page.continuationToken;
          if (!token) break;
        }
        assert.deepEqual(pages, [names.slice(0, 2), names.slice(2, 4), names.slice(4)]);
        // Without include=metadata there is none.
        for await (const ci of svc.listContainers({ prefix: base })) assert.equal(ci.metadata, undefined);

        const cc = svc.getContainerClient(names[1]);
        const props = await cc.getProperties();
        assert.deepEqual(props.metadata, { idx: "1", kind });
        assert.ok(props.etag && props.lastModified);
        assert.equal(props.leaseState, "available");
        const sm = await cc.setMetadata({ colour: "blue", n: "42" });
        assert.notEqual(sm.etag, props.etag);
        assert.deepEqual((await cc.getProperties()).metadata, { colour: "blue", n: "42" });

        for (const n of names) await svc.getContainerClient(n).delete();
        await b.rejects(cc.getProperties(), 404, "ContainerNotFound");
        await b.rejects(cc.delete(), 404, "ContainerNotFound");
        assert.equal((await b.rejects(cc.getBlockBlobClient("x").upload("x", 1), 404, "ContainerNotFound")).statusCode, 404);
      });

      test("container ACL: stored access policies and public access round trip", kind === "key" ? T : { skip: "ACLs are set with Shared Key here" }, async () => {
        const cc = svc.getContainerClient(b.containerName("acl"));
        await cc.create();
        try {
          const startsOn = new Date(Date.UTC(2024, 0, 1));
          const expiresOn = new Date(Date.UTC(2030, 0, 1));
          await cc.setAccessPolicy(undefined, [
            { id: "pol1", accessPolicy: { startsOn, expiresOn, permissions: "rl" } },
            { id: "pol2", accessPolicy: { expiresOn, permissions: "rwdl" } },
          ]);
          const acl = await cc.getAccessPolicy();
          assert.equal(acl.blobPublicAccess, undefined);
          assert.equal(acl.signedIdentifiers.length, 2);
          const p1 = acl.signedIdentifiers.find((s) => s.id === "pol1");
          assert.equal(p1.accessPolicy.permissions, "rl");
          assert.equal(p1.accessPolicy.startsOn.getTime(), startsOn.getTime());
          assert.equal(p1.accessPolicy.expiresOn.getTime(), expiresOn.getTime());
          const p2 = acl.signedIdentifiers.find((s) => s.id === "pol2");
          assert.equal(p2.accessPolicy.permissions, "rwdl");
          await cc.setAccessPolicy("blob", []);
          const acl2 = await cc.getAccessPolicy();
          assert.equal(acl2.blobPublicAccess, "blob");
          assert.equal(acl2.signedIdentifiers.length, 0);
          assert.equal((await cc.getProperties()).blobPublicAccess, "blob");
          await cc.setAccessPolicy("container");
          assert.equal((await cc.getAccessPolicy()).blobPublicAccess, "container");
          await cc.setAccessPolicy();
          assert.equal((await cc.getAccessPolicy()).blobPublicAccess, undefined);
          // More than five identifiers is refused.
          const six = [1, 2, 3, 4, 5, 6].map((i) => ({ id: `p${i}`, accessPolicy: { expiresOn, permissions: "r" } }));
          await b.notOnAzurite("Azurite takes six", () => b.rejects(cc.setAccessPolicy(undefined, six), 400));
        } finally {
          await cc.delete();
        }
      });

      test("Put Blob with headers, metadata, MD5; x-ms-request-id and server-encrypted flags", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/put.txt`);
        const data = Buffer.concat([Buffer.from("hello, coffer\n"), marker]);
        const up = await bb.upload(data, data.length, {
          blobHTTPHeaders: { blobContentType: "text/plain; charset=utf-8", blobCacheControl: "no-cache" },
          metadata: { owner: "suite", kind },
        });
        assert.ok(up.etag && up.lastModified instanceof Date && up.requestId);
        assert.equal(up.isServerEncrypted, true);
        assert.deepEqual(Buffer.from(up.contentMD5), b.md5(data));
        const { response, data: got } = await b.downloadAll(bb);
        assert.ok(got.equals(data));
        assert.equal(response.contentLength, data.length);
        assert.equal(response.contentType, "text/plain; charset=utf-8");
        assert.equal(response.cacheControl, "no-cache");
        assert.deepEqual(response.metadata, { owner: "suite", kind });
        assert.deepEqual(Buffer.from(response.contentMD5), b.md5(data));
        assert.equal(response.isServerEncrypted, true);
        assert.equal(response.blobType, "BlockBlob");
        assert.equal(response.etag, up.etag);
        assert.ok(response.requestId);
        const props = await bb.getProperties();
        assert.equal(props.isServerEncrypted, true);
        assert.equal(props.contentLength, data.length);
        assert.ok(props.requestId);
      });

      test("blocks: stageBlock, getBlockList, commitBlockList discards uncommitted blocks", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/blocks.bin`);
        const parts = [0, 1, 2].map((i) => Buffer.concat([marker, crypto.randomBytes(1000 + i)]));
        for (const [i, p] of parts.entries()) {
          const r = await bb.stageBlock(b.blockId(i), p, p.length);
          assert.ok(r.requestId);
          assert.equal(r.isServerEncrypted, true);
        }
        await b.rejects(bb.getProperties(), 404, "BlobNotFound");
        let bl = await bb.getBlockList("uncommitted");
        assert.deepEqual(bl.uncommittedBlocks.map((x) => [x.name, x.size]), parts.map((p, i) => [b.blockId(i), p.length]));
        assert.equal(bl.committedBlocks?.length ?? 0, 0);

        const commit = await bb.commitBlockList([b.blockId(0), b.blockId(2)], {
          blobHTTPHeaders: { blobContentType: "application/x-test" }, metadata: { committed: "yes" },
        });
        assert.ok(commit.etag && commit.requestId);
        assert.equal(commit.isServerEncrypted, true);
        let { data, response } = await b.downloadAll(bb);
        assert.ok(data.equals(Buffer.concat([parts[0], parts[2]])));
        assert.equal(response.contentType, "application/x-test");
        assert.deepEqual(response.metadata, { committed: "yes" });

        bl = await bb.getBlockList("committed");
        assert.deepEqual(bl.committedBlocks.map((x) => [x.name, x.size]), [[b.blockId(0), parts[0].length], [b.blockId(2), parts[2].length]]);
        bl = await bb.getBlockList("all");
        assert.equal(bl.uncommittedBlocks?.length ?? 0, 0, "block 1 was discarded by the commit");
        assert.equal(bl.blobContentLength, parts[0].length + parts[2].length);

        // A new uncommitted block next to committed ones, then a commit
        // that reuses committed blocks (Latest picks the committed one).
        const extra = crypto.randomBytes(777);
        await bb.stageBlock(b.blockId(3), extra, extra.length);
        bl = await bb.getBlockList("all");
        assert.equal(bl.committedBlocks.length, 2);
        assert.deepEqual(bl.uncommittedBlocks.map((x) => x.name), [b.blockId(3)]);
        await bb.commitBlockList([b.blockId(2), b.blockId(0), b.blockId(3)]);
        ({ data } = await b.downloadAll(bb));
        assert.ok(data.equals(Buffer.concat([parts[2], parts[0], extra])));
        // A block id never staged.
        await b.rejects(bb.commitBlockList([b.blockId(9)]), 400, "InvalidBlockList");
      });

      test("ranged downloads (x-ms-range), clipped end, start past the end is 416", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/range.bin`);
        const data = crypto.randomBytes(100_000);
        await bb.upload(data, data.length);
        for (const [off, count] of [[0, 10], [99_990, undefined], [12_345, 54_321], [65_530, 12], [99_999, 1]]) {
          const { data: got, response } = await b.downloadAll(bb, off, count);
          const want = data.subarray(off, count === undefined ? undefined : off + count);
          assert.ok(got.equals(want), `range ${off}+${count}`);
          assert.equal(response.contentLength, want.length);
          if (off > 0 || count !== undefined) assert.equal(response.contentRange, `bytes ${off}-${off + want.length - 1}/${data.length}`);
        }
        const { data: clipped } = await b.downloadAll(bb, 99_000, 5000);
        assert.ok(clipped.equals(data.subarray(99_000)));
        await b.notOnAzurite("Azurite serves a range past the end", async () => {
          await b.rejects(bb.download(100_000, 10), 416, "InvalidRange");
          await b.rejects(bb.download(200_000), 416, "InvalidRange");
        });
      });

      test("blob properties: set and get the content headers and MD5", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/props.txt`);
        await bb.upload("props", 5);
        const md5 = b.md5(Buffer.from("something else"));
        const r = await bb.setHTTPHeaders({
          blobContentType: "application/json", blobContentEncoding: "gzip", blobContentLanguage: "en-GB",
          blobContentDisposition: "attachment; filename=\"a.json\"", blobCacheControl: "max-age=60", blobContentMD5: md5,
        });
        assert.ok(r.etag && r.requestId);
        const p = await bb.getProperties();
        assert.equal(p.contentType, "application/json");
        assert.equal(p.contentEncoding, "gzip");
        assert.equal(p.contentLanguage, "en-GB");
        assert.equal(p.contentDisposition, "attachment; filename=\"a.json\"");
        assert.equal(p.cacheControl, "max-age=60");
        assert.deepEqual(Buffer.from(p.contentMD5), md5);
        assert.equal(p.etag, r.etag);
        assert.equal(p.contentLength, 5);
        // Set Blob Properties replaces them all: the unset ones are cleared.
        await bb.setHTTPHeaders({ blobContentType: "text/plain" });
        const p2 = await bb.getProperties();
        assert.equal(p2.contentType, "text/plain");
        assert.equal(p2.contentEncoding, undefined);
        assert.equal(p2.cacheControl, undefined);
      });

      test("blob metadata: set, get, replace, clear", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/meta.txt`);
        await bb.upload("m", 1, { metadata: { a: "1" } });
        assert.deepEqual((await bb.getProperties()).metadata, { a: "1" });
        const r = await bb.setMetadata({ b: "two", c: "three" });
        assert.ok(r.etag && r.requestId);
        assert.equal(r.isServerEncrypted, true);
        assert.deepEqual((await bb.getProperties()).metadata, { b: "two", c: "three" });
        await bb.setMetadata();
        assert.deepEqual((await bb.getProperties()).metadata, {});
      });

      test("delete blob", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/del.txt`);
        await bb.upload("d", 1);
        const r = await bb.delete();
        assert.ok(r.requestId);
        await b.rejects(bb.getProperties(), 404, "BlobNotFound");
        await b.rejects(bb.download(), 404, "BlobNotFound");
        await b.rejects(bb.delete(), 404, "BlobNotFound");
        assert.equal((await bb.deleteIfExists()).succeeded, false);
      });

      test("list blobs flat and by hierarchy: prefix, delimiter, paging, metadata", T, async () => {
        const base = `${prefix}/tree/`;
        const names = ["a/1", "a/2", "a/b/3", "c", "d e+f", "z/9"].map((n) => base + n);
        for (const n of names) await c.getBlockBlobClient(n).upload(n, Buffer.byteLength(n), { metadata: { name: "x" } });

        const flat = [];
        for await (const bi of c.listBlobsFlat({ prefix: base, includeMetadata: true })) {
          flat.push(bi.name);
          assert.deepEqual(bi.metadata, { name: "x" });
          assert.equal(bi.properties.contentLength, Buffer.byteLength(bi.name));
          assert.ok(bi.properties.etag && bi.properties.lastModified instanceof Date);
          assert.equal(bi.properties.blobType, "BlockBlob");
          assert.equal(bi.properties.serverEncrypted, true);
        }
        assert.deepEqual(flat, [...names].sort());
        for await (const bi of c.listBlobsFlat({ prefix: base })) assert.equal(bi.metadata, undefined);

        const pages = [];
        for await (const page of c.listBlobsFlat({ prefix: base }).byPage({ maxPageSize: 4 })) {
          pages.push(page.segment.blobItems.map((x) => x.name));
          if (pages.length > 10) break;
        }
        assert.deepEqual(pages, [names.slice(0, 4).sort(), names.slice(4).sort()]);

        const level = async (p, pageSize) => {
          const blobs = [];
          const prefixes = [];
          for await (const page of c.listBlobsByHierarchy("/", { prefix: p, includeMetadata: true }).byPage({ maxPageSize: pageSize })) {
            blobs.push(...page.segment.blobItems.map((x) => x.name));
            prefixes.push(...(page.segment.blobPrefixes ?? []).map((x) => x.name));
            if (blobs.length + prefixes.length > 50) break;
          }
          return { blobs, prefixes };
        };
        assert.deepEqual(await level(base, 100), { blobs: [`${base}c`, `${base}d e+f`], prefixes: [`${base}a/`, `${base}z/`] });
        assert.deepEqual(await level(base, 1), { blobs: [`${base}c`, `${base}d e+f`], prefixes: [`${base}a/`, `${base}z/`] });
        assert.deepEqual(await level(`${base}a/`, 2), { blobs: [`${base}a/1`, `${base}a/2`], prefixes: [`${base}a/b/`] });
        assert.deepEqual(await level(`${base}nothing/`, 2), { blobs: [], prefixes: [] });
      });

      test("copy within the account: beginCopyFromURL and syncCopyFromURL", T, async () => {
        const src = c.getBlockBlobClient(`${prefix}/copy-src.bin`);
        const data = Buffer.concat([marker, crypto.randomBytes(10_000)]);
        await src.upload(data, data.length, { metadata: { from: "src" }, blobHTTPHeaders: { blobContentType: "application/x-src" } });

        const d1 = c.getBlockBlobClient(`${prefix}/copy-async.bin`);
        const poller = await d1.beginCopyFromURL(sourceUrl(src));
        const res = await poller.pollUntilDone();
        assert.equal(res.copyStatus, "success");
        assert.ok(res.copyId && res.requestId);
        let got = await b.downloadAll(d1);
        assert.ok(got.data.equals(data));
        assert.deepEqual(got.response.metadata, { from: "src" });
        assert.equal(got.response.contentType, "application/x-src");
        const p1 = await d1.getProperties();
        assert.equal(p1.copyStatus, "success");
        assert.equal(p1.copyId, res.copyId);

        if (kind === "key") {
          // Shared Key authorises a source in the same account without a SAS.
          const d0 = c.getBlockBlobClient(`${prefix}/copy-bare.bin`);
          const r0 = await (await d0.beginCopyFromURL(src.url)).pollUntilDone();
          assert.equal(r0.copyStatus, "success");
          assert.ok((await b.downloadAll(d0)).data.equals(data));
        }

        const d2 = c.getBlockBlobClient(`${prefix}/copy-sync.bin`);
        const s = await d2.syncCopyFromURL(sourceUrl(src), { metadata: { to: "dst" } });
        assert.equal(s.copyStatus, "success");
        got = await b.downloadAll(d2);
        assert.ok(got.data.equals(data));
        assert.deepEqual(got.response.metadata, { to: "dst" });

        // A missing source.
        const gone = c.getBlockBlobClient(`${prefix}/no-such-source`);
        await b.rejects(async () => (await c.getBlockBlobClient(`${prefix}/copy-x`).beginCopyFromURL(sourceUrl(gone))).pollUntilDone(),
          404, ["CannotVerifyCopySource", "BlobNotFound"]);
      });

      test("append blob: create, appendBlock, append position condition", T, async () => {
        const ab = c.getAppendBlobClient(`${prefix}/append.log`);
        const cr = await ab.create({ metadata: { t: "append" } });
        assert.ok(cr.etag && cr.requestId);
        assert.equal(cr.isServerEncrypted, true);
        const chunks = [Buffer.from("line one\n"), marker, Buffer.from("line three\n")];
        let offset = 0;
        for (const ch of chunks) {
          const r = await ab.appendBlock(ch, ch.length);
          assert.equal(Number(r.blobAppendOffset), offset);
          assert.equal(r.isServerEncrypted, true);
          offset += ch.length;
        }
        const { data, response } = await b.downloadAll(ab);
        assert.ok(data.equals(Buffer.concat(chunks)));
        assert.equal(response.blobType, "AppendBlob");
        assert.equal(response.blobCommittedBlockCount, 3);
        const tail = await b.downloadAll(ab, chunks[0].length, marker.length);
        assert.ok(tail.data.equals(marker));
        await b.rejects(ab.appendBlock("x", 1, { conditions: { appendPosition: 1 } }), 412, "AppendPositionConditionNotMet");
        await b.rejects(ab.appendBlock("x", 1, { conditions: { maxSize: offset } }), 412, "MaxBlobSizeConditionNotMet");
        // An append to a block blob.
        const bb = c.getBlockBlobClient(`${prefix}/not-append`);
        await bb.upload("x", 1);
        await b.rejects(c.getAppendBlobClient(bb.name).appendBlock("y", 1), 409, "InvalidBlobType");
      });

      test("blob leases: acquire, write without the id fails, renew, change, release, break", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/lease.txt`);
        await bb.upload("v1", 2);
        const lc = bb.getBlobLeaseClient();
        const acq = await lc.acquireLease(15);
        assert.ok(acq.leaseId && acq.requestId);
        let p = await bb.getProperties();
        assert.equal(p.leaseState, "leased");
        assert.equal(p.leaseStatus, "locked");
        assert.equal(p.leaseDuration, "fixed");
        await b.rejects(bb.upload("v2", 2), 412, "LeaseIdMissing");
        await b.rejects(bb.setMetadata({ x: "1" }), 412, "LeaseIdMissing");
        await b.rejects(bb.delete(), 412, "LeaseIdMissing");
        await b.rejects(bb.upload("v2", 2, { conditions: { leaseId: crypto.randomUUID() } }), 412, "LeaseIdMismatchWithBlobOperation");
        await bb.upload("v2", 2, { conditions: { leaseId: lc.leaseId } });
        assert.equal((await b.downloadAll(bb)).data.toString(), "v2"); // reads need no lease
        await b.rejects(bb.getBlobLeaseClient().acquireLease(15), 409, "LeaseAlreadyPresent");
        await lc.renewLease();
        const newId = crypto.randomUUID();
        const ch = await lc.changeLease(newId);
        assert.equal(ch.leaseId, newId);
        assert.equal(lc.leaseId, newId);
        await b.rejects(bb.upload("v3", 2, { conditions: { leaseId: acq.leaseId } }), 412, "LeaseIdMismatchWithBlobOperation");
        await bb.setMetadata({ leased: "yes" }, { conditions: { leaseId: newId } });
        await lc.releaseLease();
        p = await bb.getProperties();
        assert.equal(p.leaseState, "available");
        assert.equal(p.leaseStatus, "unlocked");
        await bb.upload("v4", 2);

        const lc2 = bb.getBlobLeaseClient();
        await lc2.acquireLease(-1);
        assert.equal((await bb.getProperties()).leaseDuration, "infinite");
        const br = await lc2.breakLease(0);
        assert.equal(br.leaseTime, 0);
        p = await bb.getProperties();
        assert.equal(p.leaseState, "broken");
        await bb.upload("v5", 2); // a broken lease no longer guards writes
        await bb.delete();
      });

      test("container leases: delete needs the lease; break", T, async () => {
        const cc = svc.getContainerClient(b.containerName("lease"));
        await cc.create();
        const lc = cc.getBlobLeaseClient();
        await lc.acquireLease(-1);
        let p = await cc.getProperties();
        assert.equal(p.leaseState, "leased");
        assert.equal(p.leaseStatus, "locked");
        await b.rejects(cc.delete(), 412, "LeaseIdMissing");
        await b.rejects(cc.delete({ conditions: { leaseId: crypto.randomUUID() } }), 412, "LeaseIdMismatchWithContainerOperation");
        // Blob writes inside a leased container need no container lease.
        await cc.getBlockBlobClient("x").upload("x", 1);
        await lc.renewLease();
        const newId = crypto.randomUUID();
        await lc.changeLease(newId);
        await lc.releaseLease();
        assert.equal((await cc.getProperties()).leaseState, "available");
        await lc.acquireLease(30);
        await lc.breakLease(0);
        p = await cc.getProperties();
        assert.equal(p.leaseState, "broken");
        await cc.delete();
      });

      test("ETag / Last-Modified conditions: 412 ConditionNotMet and 304", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/cond.txt`);
        const up = await bb.upload("c1", 2);
        const { etag, lastModified } = up;
        assert.match(etag, /^"?0x[0-9A-F]+"?$/i);
        const before = new Date(lastModified.getTime() - 3600e3);
        const later = new Date(lastModified.getTime() + 3600e3);

        // Reads.
        assert.equal((await bb.getProperties({ conditions: { ifMatch: etag } })).etag, etag);
        await b.rejects(bb.getProperties({ conditions: { ifMatch: "\"0x8D000000000000\"" } }), 412, "ConditionNotMet");
        await b.rejects(bb.download(0, undefined, { conditions: { ifMatch: "\"0x8D000000000000\"" } }), 412, "ConditionNotMet");
        await b.rejects(bb.download(0, undefined, { conditions: { ifNoneMatch: etag } }), 304);
        await b.rejects(bb.getProperties({ conditions: { ifNoneMatch: etag } }), 304);
        await b.rejects(bb.download(0, undefined, { conditions: { ifModifiedSince: later } }), 304);
        assert.ok((await b.downloadAll(bb, 0, undefined, { conditions: { ifModifiedSince: before } })).data.equals(Buffer.from("c1")));
        await b.rejects(bb.download(0, undefined, { conditions: { ifUnmodifiedSince: before } }), 412, "ConditionNotMet");
        assert.ok((await b.downloadAll(bb, 0, undefined, { conditions: { ifUnmodifiedSince: later, ifMatch: etag } })).data.equals(Buffer.from("c1")));

        // Writes.
        await b.rejects(bb.upload("c2", 2, { conditions: { ifMatch: "\"0x8D000000000000\"" } }), 412, "ConditionNotMet");
        await b.rejects(bb.upload("c2", 2, { conditions: { ifUnmodifiedSince: before } }), 412, "ConditionNotMet");
        await b.rejects(bb.upload("c2", 2, { conditions: { ifModifiedSince: later } }), 412, "ConditionNotMet");
        await b.rejects(bb.upload("c2", 2, { conditions: { ifNoneMatch: "*" } }), 409, "BlobAlreadyExists");
        await b.rejects(bb.setMetadata({ a: "b" }, { conditions: { ifNoneMatch: etag } }), 412, "ConditionNotMet");
        await b.rejects(bb.delete({ conditions: { ifMatch: "\"0x8D000000000000\"" } }), 412, "ConditionNotMet");
        assert.equal((await b.downloadAll(bb)).data.toString(), "c1", "failed writes changed nothing");
        const sm = await bb.setMetadata({ a: "b" }, { conditions: { ifMatch: etag } });
        assert.notEqual(sm.etag, etag, "a write changes the ETag");
        await b.rejects(bb.setMetadata({ a: "c" }, { conditions: { ifMatch: etag } }), 412, "ConditionNotMet");
        const fresh = c.getBlockBlobClient(`${prefix}/cond-new.txt`);
        await fresh.upload("n", 1, { conditions: { ifNoneMatch: "*" } });
        await bb.delete({ conditions: { ifMatch: sm.etag } });

        // Containers: metadata with If-Modified-Since.
        const cp = await c.getProperties();
        await b.rejects(c.setMetadata({ x: "1" }, { conditions: { ifModifiedSince: new Date(cp.lastModified.getTime() + 3600e3) } }), 412, "ConditionNotMet");
      });

      test("transactional MD5 and CRC64 are validated", T, async () => {
        const bb = c.getBlockBlobClient(`${prefix}/md5.bin`);
        const data = crypto.randomBytes(4096);
        const up = await bb.upload(data, data.length, { transactionalContentMD5: b.md5(data) });
        assert.deepEqual(Buffer.from(up.contentMD5), b.md5(data));
        await b.rejects(bb.upload(data, data.length, { transactionalContentMD5: b.md5(Buffer.from("other")) }), 400, "Md5Mismatch");
        await b.rejects(bb.stageBlock(b.blockId(0), data, data.length, { transactionalContentMD5: b.md5(Buffer.from("other")) }), 400, "Md5Mismatch");
        const sb = await bb.stageBlock(b.blockId(1), data, data.length, { transactionalContentCrc64: b.crc64(data) });
        if (sb.contentCrc64) assert.deepEqual(Buffer.from(sb.contentCrc64), b.crc64(data));
        await b.rejects(bb.stageBlock(b.blockId(2), data, data.length, { transactionalContentCrc64: b.crc64(Buffer.from("other")) }), 400, "Crc64Mismatch");
        await b.rejects(bb.upload(data, data.length, { transactionalContentCrc64: b.crc64(Buffer.from("x")) }), 400, "Crc64Mismatch");
        const ab = c.getAppendBlobClient(`${prefix}/md5.log`);
        await ab.create();
        await b.rejects(ab.appendBlock(data, data.length, { transactionalContentMD5: b.md5(Buffer.from("other")) }), 400, "Md5Mismatch");
        await ab.appendBlock(data, data.length, { transactionalContentMD5: b.md5(data) });
        // The rejected uploads left the blob as it was.
        assert.ok((await b.downloadAll(bb)).data.equals(data));
        assert.equal((await ab.getProperties()).contentLength, data.length);
        // Range MD5 on request (ranges up to 4 MiB).
        const r = await bb.download(100, 1000, { rangeGetContentMD5: true });
        assert.deepEqual(Buffer.from(r.contentMD5), b.md5(data.subarray(100, 1100)));
        await b.streamToBuffer(r.readableStreamBody);
      });
    });
}

describe("at rest", () => {
  test("the data directory holds no plaintext marker", b.COFFER_ONLY, () => {
    const { found, scanned } = b.atRestContaining(b.MARKER);
    assert.ok(scanned > 0, "nothing scanned");
    assert.deepEqual(found, [], `plaintext marker found in ${found.join(", ")}`);
  });
});
