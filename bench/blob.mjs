// Blob benchmark: coffer-blob (HTTPS, encrypting at rest) against Azurite
// 3.37 (npm, in memory, plaintext, HTTPS with a CA made here) in one run,
// with the same client (@azure/storage-blob 12.34.0, Shared Key):
//   - 256 MiB upload (uploadData: one Put Blob) and download
//     (downloadToBuffer: parallel 4 MiB ranged GETs), best of BENCH_REPS;
//   - 1 KiB Put Blob and Get Blob ops/s at BENCH_CONCURRENCY requests in
//     flight for BENCH_SECONDS each;
//   - AES-256-GCM on 64 KiB buffers (openssl speed, 1 and 2 processes) as
//     the ceiling for encrypted throughput.
// Prints a markdown table with coffer/Azurite ratios (and the raw figures as
// one JSON line).  Without build/bin/coffer-blob only Azurite is measured.
//
//   bench/blob_run   (sets PATH for Node 22 and installs the npm packages)
//   BENCH_SECONDS=10 BENCH_CONCURRENCY=16 BENCH_MIB=256 BENCH_REPS=2 COFFER_BIN=build/bin
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = path.resolve(import.meta.dirname, "..");
const SDK_DIR = path.join(ROOT, "tests", "sdk");
const require = createRequire(path.join(SDK_DIR, "package.json"));
const { BlobServiceClient, StorageSharedKeyCredential } = await import(pathToFileURL(require.resolve("@azure/storage-blob")).href);
const { init: azuriteInit, azuriteAccounts } = await import(pathToFileURL(path.join(SDK_DIR, "lib", "blob_azurite.mjs")).href);

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONC = Number(process.env.BENCH_CONCURRENCY ?? 16);
const MIB = Number(process.env.BENCH_MIB ?? 256);
const REPS = Number(process.env.BENCH_REPS ?? 2);
// Azurite keeps blobs on disk by default, as coffer-blob does (like for
// like); BENCH_AZURITE=memory runs it with --inMemoryPersistence instead.
const AZURITE_MODE = process.env.BENCH_AZURITE === "memory" ? "memory" : "disk";
const BIN = path.resolve(ROOT, process.env.COFFER_BIN ?? "build/bin");
const BIG = MIB * 1024 * 1024;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "coffer-blob-bench-"));
const children = [];
const cleanup = () => {
  for (const c of children) { try { c.kill("SIGKILL"); } catch { /* gone */ } }
  fs.rmSync(work, { recursive: true, force: true });
};
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function status(url, ca) {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

async function waitReady(child, ready, what, logFile) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
    if (await ready()) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready within 60 s`);
}

function trust(caFile) {
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), ...tls.getCACertificates("extra"), fs.readFileSync(caFile, "utf8")]);
}

async function startAzurite() {
  const dir = path.join(work, "azurite");
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const { bootstrap, tls: t } = azuriteInit(dir, port);
  const logFile = path.join(work, "azurite.log");
  const log = fs.openSync(logFile, "a");
  const main = require.resolve("azurite/dist/src/blob/main.js");
  const child = spawn(process.execPath, [main, "--blobHost", "127.0.0.1", "--blobPort", String(port),
    ...(AZURITE_MODE === "memory" ? ["--inMemoryPersistence"] : ["--location", path.join(dir, "data")]),
    "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent",
    "--cert", t.cert, "--key", t.key],
  { stdio: ["ignore", log, log], env: { ...process.env, AZURITE_ACCOUNTS: azuriteAccounts(bootstrap) } });
  children.push(child);
  const ca = fs.readFileSync(t.ca);
  await waitReady(child, async () => [401, 403].includes(await status(`${bootstrap.blob_endpoint}?comp=list`, ca)), "Azurite", logFile);
  trust(t.ca);
  const version = JSON.parse(fs.readFileSync(require.resolve("azurite/package.json"), "utf8")).version;
  const where = AZURITE_MODE === "memory" ? "in memory" : "on disk";
  return { name: `Azurite ${version} (HTTPS, ${where}, plaintext)`, bootstrap, child };
}

async function startCoffer() {
  const exe = path.join(BIN, "coffer-blob");
  if (!fs.existsSync(exe)) return null;
  const dir = path.join(work, "coffer");
  const port = await freePort();
  const logFile = path.join(work, "coffer-blob.log");
  const log = fs.openSync(logFile, "a");
  const child = spawn(exe, ["--data-dir", dir, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"], { stdio: ["ignore", log, log] });
  children.push(child);
  let bootstrap;
  await waitReady(child, async () => {
    const f = path.join(dir, "bootstrap.json");
    if (!fs.existsSync(f) || !fs.existsSync(path.join(dir, "tls", "ca.crt"))) return false;
    try { bootstrap = JSON.parse(fs.readFileSync(f, "utf8")); } catch { return false; }
    return [401, 403].includes(await status(`https://127.0.0.1:${port}/${bootstrap.account_name}?comp=list`, fs.readFileSync(path.join(dir, "tls", "ca.crt"))));
  }, "coffer-blob", logFile);
  trust(bootstrap.ca_cert ?? path.join(dir, "tls", "ca.crt"));
  return { name: "coffer-blob (HTTPS, encrypted at rest)", bootstrap, child, dataDir: dir };
}

async function stop(target) {
  target.child.kill("SIGTERM");
  await Promise.race([new Promise((r) => target.child.once("exit", r)), sleep(30000)]);
}

// Runs `op(i)` on CONC workers until SECONDS have passed; ops/s.
async function closedLoop(op) {
  let count = 0;
  let errors = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONC }, async (_, w) => {
    for (let n = 0; Date.now() < deadline; n++) {
      try { await op(w, n); count++; } catch (e) {
        if (++errors > 100) throw e;
      }
    }
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (errors) console.error(`  (${errors} errors)`);
  return count / s;
}

// CPU seconds the server process has used so far (all threads), from /proc.
function serverCpu(target) {
  const f = fs.readFileSync(`/proc/${target.child.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
}

async function measure(target, big) {
  const b = target.bootstrap;
  const cpu = {};
  const svc = new BlobServiceClient(b.blob_endpoint, new StorageSharedKeyCredential(b.account_name, b.account_key));
  const c = svc.getContainerClient(`bench-${Date.now().toString(36)}`);
  await c.create();
  const digest = crypto.createHash("sha256").update(big).digest("hex");
  let up = 0;
  let down = 0;
  let cpuUp = 0, cpuDown = 0;
  for (let rep = 0; rep < REPS; rep++) {
    const bb = c.getBlockBlobClient(`big-${rep}.bin`);
    let t0 = process.hrtime.bigint();
    let c0 = serverCpu(target);
    await bb.uploadData(big);
    up = Math.max(up, BIG / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
    cpuUp += serverCpu(target) - c0;
    t0 = process.hrtime.bigint();
    c0 = serverCpu(target);
    const got = await bb.downloadToBuffer();
    down = Math.max(down, BIG / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
    cpuDown += serverCpu(target) - c0;
    if (crypto.createHash("sha256").update(got).digest("hex") !== digest) throw new Error(`${target.name}: download differs`);
    await bb.delete();
  }
  console.error(`  ${target.name}: upload ${up.toFixed(0)} MB/s, download ${down.toFixed(0)} MB/s`);

  // Server CPU per MB moved (ms/MB), over all repetitions.
  cpu.upload_ms_per_mb = (cpuUp * 1000) / ((BIG / 1e6) * REPS);
  cpu.download_ms_per_mb = (cpuDown * 1000) / ((BIG / 1e6) * REPS);
  const small = crypto.randomBytes(1024);
  const names = new Array(CONC).fill(0);
  let ops = 0;
  let c0 = serverCpu(target);
  const put = await closedLoop(async (w, n) => {
    await c.getBlockBlobClient(`s/${w}/${n}`).upload(small, small.length);
    names[w] = n + 1;
    ops++;
  });
  cpu.put_ms_per_op = ((serverCpu(target) - c0) * 1000) / ops;
  console.error(`  ${target.name}: 1 KiB put ${put.toFixed(0)}/s`);
  ops = 0;
  c0 = serverCpu(target);
  const get = await closedLoop(async (w, n) => {
    const r = await c.getBlobClient(`s/${w}/${n % Math.max(1, names[w])}`).download();
    for await (const _ of r.readableStreamBody) { /* drain */ }
    ops++;
  });
  cpu.get_ms_per_op = ((serverCpu(target) - c0) * 1000) / ops;
  console.error(`  ${target.name}: 1 KiB get ${get.toFixed(0)}/s`);
  await c.delete().catch(() => {});
  return { upload_mb_s: up, download_mb_s: down, put_ops_s: put, get_ops_s: get, server_cpu: cpu };
}

function gcmSpeed(multi) {
  const args = ["speed", "-seconds", String(Math.max(1, Math.min(SECONDS, 3))), "-evp", "aes-256-gcm", "-bytes", "65536"];
  if (multi > 1) args.splice(1, 0, "-multi", String(multi));
  const out = execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const line = out.split("\n").find((l) => /^(evp|AES-256-GCM|aes-256-gcm)\s/i.test(l.trim()) && /k\s*$/.test(l.trim()));
  const v = line ? Number(line.trim().split(/\s+/).pop().replace(/k$/, "")) : NaN;
  return (v * 1000) / 1e6; // MB/s
}

function nodeGcm() {
  const key = crypto.randomBytes(32);
  const buf = crypto.randomBytes(65536);
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  const end = Date.now() + 2000;
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) {
      const c = crypto.createCipheriv("aes-256-gcm", key, crypto.randomBytes(12));
      c.update(buf);
      c.final();
      c.getAuthTag();
      bytes += buf.length;
    }
  }
  return bytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const fmt = (v, unit) => (v === undefined || Number.isNaN(v) ? "—" : `${v.toFixed(0)}${unit}`);
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : "—");

const big = crypto.randomBytes(BIG);
console.error(`blob bench: ${MIB} MiB, ${CONC} concurrent, ${SECONDS} s per op, node ${process.version}, ${os.cpus().length} cpus`);
const results = {};
const azurite = await startAzurite();
results.azurite = await measure(azurite, big);
await stop(azurite);
const coffer = await startCoffer();
if (coffer) {
  results.coffer = await measure(coffer, big);
  await stop(coffer);
} else {
  console.error(`  coffer-blob: ${path.join(BIN, "coffer-blob")} not built, skipped`);
}
const gcm1 = gcmSpeed(1);
const gcm2 = gcmSpeed(2);
const gcmNode = nodeGcm();

const A = results.azurite;
const C = results.coffer ?? {};
const rows = [
  [`${MIB} MiB upload (uploadData), MB/s`, C.upload_mb_s, A.upload_mb_s, " MB/s"],
  [`${MIB} MiB download (downloadToBuffer), MB/s`, C.download_mb_s, A.download_mb_s, " MB/s"],
  [`1 KiB put, ops/s (${CONC} concurrent)`, C.put_ops_s, A.put_ops_s, "/s"],
  [`1 KiB get, ops/s (${CONC} concurrent)`, C.get_ops_s, A.get_ops_s, "/s"],
];
console.log(`\n| measure | ${coffer?.name ?? "coffer-blob (not built)"} | ${azurite.name} | coffer / Azurite |`);
console.log("|---|---:|---:|---:|");
for (const [m, c, a, u] of rows) console.log(`| ${m} | ${fmt(c, u)} | ${fmt(a, u)} | ${ratio(c, a)} |`);
// The same work, counted as the server's own CPU time: what the server
// costs per unit, free of the client's share of the two cores.
const CC = C.server_cpu ?? {}, AC = A.server_cpu ?? {};
const cpuRows = [
  [`${MIB} MiB upload, server CPU ms per MB`, CC.upload_ms_per_mb, AC.upload_ms_per_mb],
  [`${MIB} MiB download, server CPU ms per MB`, CC.download_ms_per_mb, AC.download_ms_per_mb],
  ["1 KiB put, server CPU ms per op", CC.put_ms_per_op, AC.put_ms_per_op],
  ["1 KiB get, server CPU ms per op", CC.get_ms_per_op, AC.get_ms_per_op],
];
const fmt3 = (v) => (v === undefined || Number.isNaN(v) ? "—" : v.toFixed(3));
console.log(`\n| server cost | coffer-blob | Azurite | Azurite / coffer (times cheaper) |`);
console.log("|---|---:|---:|---:|");
for (const [m, c, a] of cpuRows) console.log(`| ${m} | ${fmt3(c)} | ${fmt3(a)} | ${ratio(a, c)} |`);
console.log(`\nCeiling: AES-256-GCM, 64 KiB buffers: openssl speed ${fmt(gcm1, " MB/s")} (1 process), ${fmt(gcm2, " MB/s")} (2 processes); node crypto ${fmt(gcmNode, " MB/s")} (1 thread).`);
console.log(`Client: @azure/storage-blob ${JSON.parse(fs.readFileSync(require.resolve("@azure/storage-blob/package.json"), "utf8")).version}, Shared Key, one node ${process.version} process, keep-alive; ${os.cpus().length} cores shared by client and server; load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
console.log(`\n${JSON.stringify({ date: new Date().toISOString(), mib: MIB, concurrency: CONC, seconds: SECONDS, ...results, aes_gcm_openssl_mb_s: { 1: gcm1, 2: gcm2 }, aes_gcm_node_mb_s: gcmNode })}`);
process.exit(0);
