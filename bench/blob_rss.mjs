// coffer-blob memory under large transfers: uploads BENCH_RSS_GIB (default 4)
// GiB through the official SDK's uploadStream (8 MiB blocks, 5 in flight)
// and downloads it back as a stream, sampling the server's RSS from /proc
// every 100 ms.  Prints the server's RSS at start, its peak after the first
// 256 MiB and its peak over the whole transfer, for each direction: flat
// means memory does not grow with the body.
//
//   node bench/blob_rss.mjs            (COFFER_BIN defaults to build/bin)
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// The SDK comes from the test suites' pinned install.
const require = createRequire(path.resolve(import.meta.dirname, "..", "tests", "sdk", "package.json"));
const { BlobServiceClient } = await import(pathToFileURL(require.resolve("@azure/storage-blob")).href);

const BIN = path.resolve(process.env.COFFER_BIN ?? "build/bin");
const GIB = Number(process.env.BENCH_RSS_GIB ?? 4);
const TOTAL = GIB * 1024 ** 3;
const EARLY = 256 * 1024 ** 2;
const CHUNK = 1 << 20;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "coffer-blob-rss-"));
let child;
process.on("exit", () => {
  try { child?.kill("SIGKILL"); } catch { /* gone */ }
  fs.rmSync(work, { recursive: true, force: true });
});

const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const rssKiB = (pid) => {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
};

const port = await freePort();
const dir = path.join(work, "data");
child = spawn(path.join(BIN, "coffer-blob"), ["--data-dir", dir, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"],
  { stdio: ["ignore", "inherit", "inherit"] });
let bootstrap;
for (let i = 0; i < 600 && !bootstrap; i++) {
  await sleep(100);
  try {
    bootstrap = JSON.parse(fs.readFileSync(path.join(dir, "bootstrap.json"), "utf8"));
    const ca = fs.readFileSync(bootstrap.ca_cert);
    const code = await new Promise((resolve) => {
      https.get(`${bootstrap.blob_endpoint}?comp=list`, { ca }, (r) => { r.resume(); resolve(r.statusCode); })
        .on("error", () => resolve(0));
    });
    if (code !== 401) bootstrap = undefined;
  } catch { bootstrap = undefined; }
}
if (!bootstrap) throw new Error("coffer-blob did not start");
tls.setDefaultCACertificates([...tls.getCACertificates("default"), fs.readFileSync(bootstrap.ca_cert, "utf8")]);

const svc = BlobServiceClient.fromConnectionString(bootstrap.connection_string);
const container = svc.getContainerClient("rss");
await container.create();
const blob = container.getBlockBlobClient("big.bin");

// Samples the server's RSS while `run` goes; `progress()` says how far it is.
async function measure(run, progress) {
  const start = rssKiB(child.pid);
  let early = start, peak = start;
  const timer = setInterval(() => {
    const r = rssKiB(child.pid);
    peak = Math.max(peak, r);
    if (progress() <= EARLY) early = Math.max(early, r);
  }, 100);
  const t0 = Date.now();
  await run();
  clearInterval(timer);
  peak = Math.max(peak, rssKiB(child.pid));
  return { start, early, peak, seconds: (Date.now() - t0) / 1000 };
}

// A pseudo-random body (so nothing compresses) generated on the fly.
let sent = 0;
const block = crypto.randomBytes(CHUNK);
const source = new Readable({
  read() {
    if (sent >= TOTAL) { this.push(null); return; }
    const n = Math.min(CHUNK, TOTAL - sent);
    block.writeUInt32LE(sent / CHUNK, 0);
    this.push(Buffer.from(block.subarray(0, n)));
    sent += n;
  },
});
const up = await measure(() => blob.uploadStream(source, 8 << 20, 5), () => sent);

let received = 0;
const down = await measure(async () => {
  const r = await blob.download();
  for await (const c of r.readableStreamBody) received += c.length;
}, () => received);
if (received !== TOTAL) throw new Error(`downloaded ${received} bytes, expected ${TOTAL}`);

const mib = (k) => (k / 1024).toFixed(1);
console.log(`\n| direction (${GIB} GiB, official SDK, HTTPS) | server RSS at start | peak after 256 MiB | peak over ${GIB} GiB | MB/s |`);
console.log("|---|---:|---:|---:|---:|");
for (const [name, m] of [["upload (uploadStream, 8 MiB blocks x5)", up], ["download (one streamed GET)", down]])
  console.log(`| ${name} | ${mib(m.start)} MiB | ${mib(m.early)} MiB | ${mib(m.peak)} MiB | ${(TOTAL / 1e6 / m.seconds).toFixed(0)} |`);
console.log(JSON.stringify({ gib: GIB, upload: up, download: down }));
child.kill("SIGTERM");
