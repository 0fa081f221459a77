// coffer-blob large transfers through the official @azure/storage-blob:
// 256 MiB through uploadData (a single Put Blob: the SDK's single-shot limit
// is 256 MiB) and through uploadStream (8 MiB Put Block + Put Block List),
// each read back with downloadToBuffer (HEAD, then parallel 4 MiB ranged
// GETs), compared by SHA-256, with each credential kind.  The bodies carry
// the plaintext marker, which must not reach the data directory.
//
//   COFFER_BLOB_BIG_MIB (default 256) shrinks it while debugging.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { Readable } from "node:stream";
import * as b from "./lib/blob_lib.mjs";

const MIB = 1024 * 1024;
const SIZE = Number(process.env.COFFER_BLOB_BIG_MIB ?? 256) * MIB;
const T = { timeout: 600000 };

// Random data with the marker every 1 MiB, made once.
const data = crypto.randomBytes(SIZE);
for (let off = 12345; off + b.MARKER.length < SIZE; off += MIB) data.write(b.MARKER, off, "latin1");
const digest = b.sha256(data);

async function serviceFor(kind) {
  if (kind === "key") return b.connectionStringClient();
  if (kind === "sas") return b.sasClient(b.accountSas());
  return b.tokenClient((await b.tokenPrincipal("Storage Blob Data Contributor", ["/"])).credential);
}

for (const kind of ["key", "sas", "token"]) {
  describe(`${SIZE / MIB} MiB transfers with ${kind}`, kind === "token" ? b.COFFER_ONLY : {}, () => {
    test("uploadData, uploadStream, parallel ranged downloadToBuffer", T, async () => {
      const svc = await serviceFor(kind);
      const c = svc.getContainerClient(b.containerName(`big-${kind}`));
      await c.create();
      try {
        const one = c.getBlockBlobClient("uploadData.bin");
        const t0 = Date.now();
        const r1 = await one.uploadData(data, { concurrency: 5 });
        assert.ok(r1.etag && r1.requestId);
        const t1 = Date.now();
        const got1 = await one.downloadToBuffer(0, undefined, { concurrency: 5 });
        const t2 = Date.now();
        assert.equal(got1.length, SIZE);
        assert.equal(b.sha256(got1), digest);

        const two = c.getBlockBlobClient("uploadStream.bin");
        const r2 = await two.uploadStream(Readable.from((function* () {
          for (let off = 0; off < SIZE; off += 3 * MIB + 17) yield data.subarray(off, Math.min(SIZE, off + 3 * MIB + 17));
        })()), 8 * MIB, 5);
        assert.ok(r2.etag && r2.requestId);
        const t3 = Date.now();
        const bl = await two.getBlockList("committed");
        assert.equal(bl.committedBlocks.length, Math.ceil(SIZE / (8 * MIB)));
        const got2 = await two.downloadToBuffer(0, undefined, { concurrency: 5 });
        const t4 = Date.now();
        assert.equal(b.sha256(got2), digest);
        const props = await two.getProperties();
        assert.equal(props.contentLength, SIZE);
        assert.equal(props.isServerEncrypted, true);
        // A range across block boundaries.
        const mid = await b.downloadAll(two, 8 * MIB - 100, 200);
        assert.ok(mid.data.equals(data.subarray(8 * MIB - 100, 8 * MIB + 100)));
        const rate = (ms) => `${(SIZE / MIB / (ms / 1000)).toFixed(0)} MiB/s`;
        console.log(`# ${kind}: uploadData ${rate(t1 - t0)}, downloadToBuffer ${rate(t2 - t1)}, uploadStream ${rate(t3 - t2)}, downloadToBuffer ${rate(t4 - t3)}`);
      } finally {
        await c.delete();
      }
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
