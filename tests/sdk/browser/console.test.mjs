// The console in a real browser: Debian's chromium, headless, through
// puppeteer-core.  Run by tests/system/console_browser.sh, which starts the
// vault and creates the users; this file only drives the browser.
//
// Env: COFFER_VAULT_URL, COFFER_SPKI (the certificate's key, trusted by
// pin), ADA_PW, SAM_PW, LOCKY_PW, SAM_OID, COFFER_ARTIFACTS (screenshots),
// COFFER_SERVER_LOG.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import puppeteer from "puppeteer-core";

const base = process.env.COFFER_VAULT_URL;
const artifacts = process.env.COFFER_ARTIFACTS;
const SECRET_VALUE = "console-secret-value-7f3a";
const T = { timeout: 120_000 };
let browser;

before(async () => {
  browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", // CI runs as root
      `--ignore-certificate-errors-spki-list=${process.env.COFFER_SPKI}`,
      "--no-first-run",
      "--disable-gpu",
    ],
  });
});
after(async () => browser?.close());

async function fresh() {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  return { context, page };
}

const shot = (page, name) => page.screenshot({ path: `${artifacts}/${name}.png`, fullPage: true });

/* Replaces a field's value (the form keeps the name it was sent). */
async function fill(page, selector, value) {
  await page.$eval(selector, (e) => { e.value = ""; });
  await page.type(selector, value);
}

/* Submits the vault's sign-in form already on the page. */
async function submitSignIn(page, name, password) {
  await fill(page, "#username", name);
  await fill(page, "#password", password);
  await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#sign-in")]);
}

/* Opens the console and signs in through the vault's page. */
async function signIn(page, name, password) {
  await page.goto(`${base}/console/`, { waitUntil: "networkidle0" });
  assert.match(page.url(), /\/oauth2\/v2\.0\/authorize\?/);
  await submitSignIn(page, name, password);
}

async function viewText(page) {
  return page.$eval("#view", (el) => el.textContent);
}

async function waitForView(page, name) {
  try {
    await page.waitForSelector(`#view[data-ready="${name}"]`);
  } catch (e) {
    await shot(page, `failed-${name}`);
    throw new Error(`${e.message} at ${page.url()}: ${await page.evaluate(() => document.body.innerText)}`);
  }
}

describe("the console", () => {
  test("no page works without a session: the console sends the browser to sign in", T, async () => {
    const { context, page } = await fresh();
    const resp = await page.goto(`${base}/console/#secrets`, { waitUntil: "networkidle0" });
    assert.match(page.url(), /\/oauth2\/v2\.0\/authorize\?/);
    assert.ok(await page.$("#username"), "the sign-in form");
    assert.ok(resp.ok());
    await shot(page, "sign-in");
    await context.close();
  });

  test("the console's pages carry a Content-Security-Policy without unsafe-inline", T, async () => {
    // Node's fetch trusts the vault's CA (NODE_EXTRA_CA_CERTS).
    for (const path of ["/console/", "/console/app.js", "/console/console.css"]) {
      const r = await fetch(`${base}${path}`);
      const csp = r.headers.get("content-security-policy") || "";
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src 'self'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.equal(r.headers.get("x-frame-options"), "DENY", path);
    }
  });

  test("a wrong password is refused, and repeated failures lock the user out", T, async () => {
    const { context, page } = await fresh();
    await signIn(page, "ada", "not ada's password");
    assert.match(await page.$eval(".error", (e) => e.textContent), /Wrong user name, password/);
    await shot(page, "sign-in-wrong");
    for (let i = 0; i < 5; i++) await submitSignIn(page, "locky", "a wrong password");
    await submitSignIn(page, "locky", process.env.LOCKY_PW);
    assert.match(await page.$eval(".error", (e) => e.textContent), /locked/);
    await context.close();
  });

  let ada;
  test("an administrator signs in, creates a key and rotates it", T, async () => {
    ada = await fresh();
    const { page } = ada;
    await signIn(page, "ada", process.env.ADA_PW);
    await waitForView(page, "keys");
    assert.match(await page.$eval("#who", (e) => e.textContent), /^ada \(user\)/);
    await page.type("#key-name", "console-key");
    await page.click("#key-create-submit");
    await page.waitForSelector('tr[data-key="console-key"]');
    await shot(page, "keys");
    const v1 = await page.$eval('tr[data-key="console-key"] td[data-version]', (e) => e.dataset.version);
    assert.match(v1, /^[0-9a-f]{32}$/);
    await page.click('tr[data-key="console-key"] button[data-action="rotate"]');
    await page.waitForFunction((old) => {
      const td = document.querySelector('tr[data-key="console-key"] td[data-version]');
      return td && td.dataset.version && td.dataset.version !== old;
    }, {}, v1);
    await page.click('tr[data-key="console-key"] button[data-action="policy"]');
    await page.waitForFunction(() =>
      document.querySelector('tr[data-key="console-key"]')?.textContent.includes("rotate P90D after creation"));
    await page.click('tr[data-key="console-key"] button[data-action="disable"]');
    await page.waitForSelector('tr[data-key="console-key"] button[data-action="enable"]');
    await shot(page, "keys-rotated");
  });

  test("keys: import a PEM, list versions, download a backup, delete and recover", T, async () => {
    const { page } = ada;
    const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
      .export({ type: "pkcs8", format: "pem" });
    await fill(page, "#import-name", "imported-key");
    await page.$eval("#import-material", (e, v) => { e.value = v; }, pem);
    await page.click("#import-submit");
    await page.waitForFunction(() =>
      document.querySelector('tr[data-key="imported-key"]')?.textContent.includes("RSA 2048"));

    await page.click('tr[data-key="console-key"] button[data-action="versions"]');
    await page.waitForFunction(() =>
      document.querySelectorAll('tr[data-key="console-key"] ul.versions li').length === 2);

    const downloads = mkdtempSync(`${tmpdir()}/coffer-downloads-`);
    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", {
      behavior: "allow", downloadPath: downloads, browserContextId: page.browserContext().id });
    await page.click('tr[data-key="imported-key"] button[data-action="backup"]');
    const file = `${downloads}/imported-key.keybackup`;
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(readFileSync(file, "utf8").length > 100, "a backup blob was downloaded");

    await page.click('tr[data-key="imported-key"] button[data-action="delete"]');
    await page.waitForSelector('tr[data-deleted-key="imported-key"]');
    assert.equal(await page.$('tr[data-key="imported-key"]'), null);
    await page.click('tr[data-deleted-key="imported-key"] button[data-action="recover"]');
    await page.waitForSelector('tr[data-key="imported-key"]', { timeout: 30_000 });
  });

  test("a secret is created, and its value shows only on an explicit click", T, async () => {
    const { page } = ada;
    await page.goto(`${base}/console/#secrets`, { waitUntil: "networkidle0" });
    await waitForView(page, "secrets");
    await page.type("#secret-name", "console-secret");
    await page.type("#secret-value", SECRET_VALUE);
    await page.click("#secret-set-submit");
    await page.waitForSelector('tr[data-secret="console-secret"]');
    assert.ok(!(await page.content()).includes(SECRET_VALUE), "not shown before the click");
    await page.click('button[data-action="reveal"][data-secret="console-secret"]');
    await page.waitForFunction((v) =>
      document.querySelector('td[data-secret="console-secret"]')?.textContent === v, {}, SECRET_VALUE);
    await shot(page, "secrets-revealed");
    // The value is in the page, and nowhere the browser keeps things.
    const stored = await page.evaluate(async () => {
      const all = [];
      for (const s of [localStorage, sessionStorage])
        for (let i = 0; i < s.length; i++) all.push(s.key(i), s.getItem(s.key(i)));
      const dbs = indexedDB.databases ? await indexedDB.databases() : [];
      return { text: all.join("\n"), cookies: document.cookie, dbs: dbs.length };
    });
    assert.ok(!stored.text.includes(SECRET_VALUE), "not in Web Storage");
    assert.equal(stored.cookies, "", "no cookie script can read");
    assert.equal(stored.dbs, 0, "no IndexedDB");
    const cookies = await page.browserContext().cookies();
    assert.ok(cookies.every((c) => !c.value.includes(SECRET_VALUE)), "not in cookies");
    assert.ok(cookies.every((c) => c.httpOnly && c.secure && c.sameSite === "Strict"), "cookie flags");
    await page.click('button[data-action="reveal"][data-secret="console-secret"]');
    await page.waitForFunction(() =>
      document.querySelector('td[data-secret="console-secret"]')?.textContent === "hidden");
    assert.ok(!(await page.content()).includes(SECRET_VALUE), "hidden again");
    await page.click('tr[data-secret="console-secret"] button[data-action="delete"]');
    await page.waitForSelector('tr[data-deleted-secret="console-secret"]').catch(async (e) => {
      await shot(page, "failed-secret-delete");
      throw new Error(`${e.message}: ${await page.evaluate(() => document.body.innerText)}`);
    });
    await page.click('tr[data-deleted-secret="console-secret"] button[data-action="recover"]');
    await page.waitForSelector('tr[data-secret="console-secret"]', { timeout: 30_000 });
  });

  test("assigning a role changes a second user's view; a Reader gets no write buttons", T, async () => {
    const sam = await fresh();
    await signIn(sam.page, "sam", process.env.SAM_PW);
    await waitForView(sam.page, "keys");
    assert.match(await viewText(sam.page), /Not available/, "no role: nothing to see");
    assert.equal(await sam.page.$("#key-create"), null);

    const { page } = ada;
    await page.goto(`${base}/console/#access`, { waitUntil: "networkidle0" });
    await waitForView(page, "access");
    await page.select("#assign-principal", process.env.SAM_OID);
    await page.select("#assign-role", "21090545-7ca7-4776-b22c-e363652d74d2"); // Key Vault Reader
    await page.click("#assign-submit");
    await page.waitForFunction(() => [...document.querySelectorAll("tr[data-assignment]")]
      .some((tr) => tr.textContent.includes("sam (user)") && tr.textContent.includes("Key Vault Reader")));
    await shot(page, "access");

    // What sam may do now on the key, as the vault computes it.
    await page.select("#effective-principal", process.env.SAM_OID);
    await fill(page, "#effective-scope", "/keys/console-key");
    await page.click("#effective-submit");
    await page.waitForSelector("#effective-list");
    const allowed = await page.$$eval("#effective-list li", (lis) => lis.map((l) => l.textContent));
    assert.ok(allowed.includes("keys/read"), allowed.join(","));
    assert.ok(!allowed.includes("keys/create/action") && !allowed.includes("secrets/getSecret/action"),
      allowed.join(","));

    // Users, from the console: create one, reset its password, delete it.
    await fill(page, "#user-name", "carl");
    await fill(page, "#user-password", "carl's first password");
    await page.click("#user-create-submit");
    await page.waitForSelector('tr[data-user="carl"]');
    await fill(page, "#user-password", "carl's second password");
    await page.click('tr[data-user="carl"] button[data-action="reset"]');
    await page.waitForFunction(() => document.querySelector("#notice")?.textContent.includes("Reset the password of carl: done"));
    await page.click('tr[data-user="carl"] button[data-action="delete"]');
    await page.waitForFunction(() => !document.querySelector('tr[data-user="carl"]'));

    await sam.page.reload({ waitUntil: "networkidle0" });
    await waitForView(sam.page, "keys");
    await sam.page.waitForSelector('tr[data-key="console-key"]');
    await shot(sam.page, "reader-keys");
    assert.equal(await sam.page.$("#key-create"), null, "no create form");
    assert.equal(await sam.page.$('button[data-action="rotate"]'), null, "no rotate button");
    assert.equal(await sam.page.$('button[data-action="delete"]'), null, "no delete button");
    // Called anyway, with the Reader's own token: the vault refuses.
    const status = await sam.page.evaluate(async () => {
      const { vault } = await import("/console/api.js");
      try {
        await vault("POST", "/keys/by-reader/create", { kty: "RSA" });
        return 200;
      } catch (e) {
        return e.status;
      }
    });
    assert.equal(status, 403);
    await sam.context.close();
  });

  test("storage: accounts and their keys, scopes, data access, a container, upload and download byte-exact, properties, a SAS", T, async () => {
    const { page } = ada;
    await page.goto(`${base}/console/#storage`, { waitUntil: "networkidle0" });
    await waitForView(page, "storage");
    await page.waitForSelector('tr[data-account="coffer"][data-key-source="Microsoft.Storage"]');
    // An account whose keys are wrapped by a key in this vault.
    await fill(page, "#account-name", "consoleacct");
    await page.select("#account-source", "storage-cmk");
    await page.click("#account-create-submit");
    await page.waitForSelector('tr[data-account="consoleacct"][data-key-source="Microsoft.Keyvault"]');
    const keyState = await page.$eval('tr[data-account="consoleacct"]', (tr) => tr.textContent);
    assert.match(keyState, /vault key storage-cmk: in use [0-9a-f]{8}, latest [0-9a-f]{8} \(follows the latest\)/);
    // The new account is the one shown; a scope for it.
    await page.waitForSelector("#scope-create");
    await fill(page, "#scope-name", "scopeone");
    await page.click("#scope-create-submit");
    await page.waitForSelector('tr[data-scope="scopeone"]');
    // No Storage Blob Data role yet: the containers are refused; then ada
    // gives herself Contributor on the account.
    await page.waitForSelector("#containers-refused");
    await page.click("#data-role-submit");
    await page.waitForSelector("#container-create");
    await shot(page, "storage");
    await fill(page, "#container-name", "photos");
    await fill(page, "#container-scope", "scopeone");
    await page.click("#container-create-submit");
    await page.waitForSelector('#blob-browser[data-container="photos"]');

    // Upload 9 MiB (three blocks) with progress, then download it.
    const dir = mkdtempSync(`${tmpdir()}/coffer-upload-`);
    const data = randomBytes(9 * 1024 * 1024 + 123);
    writeFileSync(`${dir}/holiday.bin`, data);
    const input = await page.$("#upload-file");
    await input.uploadFile(`${dir}/holiday.bin`);
    await page.click("#upload-submit");
    await page.waitForSelector('tr[data-blob="holiday.bin"]', { timeout: 60_000 });
    assert.match(await page.$eval("#notice", (e) => e.textContent), /Upload: done/);
    const downloads = mkdtempSync(`${tmpdir()}/coffer-downloads-`);
    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", {
      behavior: "allow", downloadPath: downloads, browserContextId: page.browserContext().id });
    await page.click('tr[data-blob="holiday.bin"] button[data-action="download"]');
    await page.waitForSelector('#download-progress[data-done="true"]', { timeout: 60_000 });
    const file = `${downloads}/holiday.bin`;
    for (let i = 0; i < 100 && !(existsSync(file) && readFileSync(file).length === data.length); i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok(readFileSync(file).equals(data), "the download is byte-exact");
    await shot(page, "blob-browser");

    // Properties: encrypted at rest under the container's scope, not by the client.
    await page.click('tr[data-blob="holiday.bin"] button[data-action="properties"]');
    await page.waitForSelector('#blob-properties[data-blob="holiday.bin"]');
    const props = await page.$eval("#blob-properties", (e) => e.textContent);
    assert.match(props, /AES-256 at rest, scope scopeone/);
    assert.equal(await page.$eval("#blob-properties", (e) => e.dataset.cse), "no");
    await fill(page, "#metadata-text", "owner=ada");
    await page.click("#metadata-submit");
    await page.waitForFunction(() => document.querySelector("#notice")?.textContent.includes("Metadata of holiday.bin: done"));
    assert.equal(await page.$eval("#metadata-text", (e) => e.value), "owner=ada");
    // A read SAS for the blob, signed in the browser with a user delegation
    // key: works without any other credential, and only for reading.
    await page.click("#sas-blob-submit");
    await page.waitForSelector('#sas-blob-url[data-ready="true"]');
    const sas = await page.$eval("#sas-blob-url", (e) => e.value);
    assert.ok(sas.startsWith(`${process.env.COFFER_BLOB_URL}/consoleacct/photos/holiday.bin?`), sas);
    assert.match(sas, /[?&]skoid=[0-9a-f-]{36}&/);
    const viaSas = await fetch(sas);
    assert.equal(viaSas.status, 200);
    assert.ok(Buffer.from(await viaSas.arrayBuffer()).equals(data), "the SAS reads the same bytes");
    const write = await fetch(sas, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "x" });
    assert.equal(write.status, 403);
    await shot(page, "blob-properties");

    // Delete the blob from the console.
    await page.click('tr[data-blob="holiday.bin"] button[data-action="delete-blob"]');
    await page.waitForFunction(() => !document.querySelector('tr[data-blob="holiday.bin"]'));
    assert.equal((await fetch(sas)).status, 404);

    // The default account, where the CLI put a client-side encrypted blob
    // and a "folder": ada gives herself Reader there, then browses.
    await page.click('button[data-action="open"][data-account="coffer"]');
    await page.waitForSelector("#containers-refused");
    await page.select("#data-role-role", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1");
    await page.click("#data-role-submit");
    await page.waitForSelector('tr[data-container="letters"] button[data-action="open-container"]');
    await page.click('tr[data-container="letters"] button[data-action="open-container"]');
    await page.waitForSelector('tr[data-blob="sealed.txt"]');
    assert.match(await page.$eval('tr[data-blob="sealed.txt"]', (e) => e.textContent), /client-side/);
    await page.click('tr[data-blob="sealed.txt"] button[data-action="properties"]');
    await page.waitForSelector('#blob-properties[data-blob="sealed.txt"][data-cse="yes"]');
    await page.click('tr[data-folder="drafts/"] button');
    await page.waitForSelector('#blob-browser[data-prefix="drafts/"] ~ table tr[data-blob="drafts/plain.txt"]');
    assert.equal(await page.$('tr[data-blob="sealed.txt"]'), null, "only the folder's blobs");
    await page.click('tr[data-folder=".."] button');
    await page.waitForSelector('#blob-browser[data-prefix=""]');
    // A Reader there: an upload is refused by coffer-blob itself.
    writeFileSync(`${dir}/small.txt`, "small");
    await (await page.$("#upload-file")).uploadFile(`${dir}/small.txt`);
    await page.click("#upload-submit");
    await page.waitForFunction(() => document.querySelector("#notice.error")?.textContent.includes("Upload: AuthorizationPermissionMismatch"));
  });

  test("storage for someone who manages none: no account forms, and blobs only with a data role", T, async () => {
    const sam = await fresh();
    await signIn(sam.page, "sam", process.env.SAM_PW);
    await waitForView(sam.page, "keys");
    await sam.page.goto(`${base}/console/#storage`, { waitUntil: "networkidle0" });
    await waitForView(sam.page, "storage");
    assert.equal(await sam.page.$("#account-create"), null, "no account management");
    assert.equal(await sam.page.$("#data-role-assign"), null, "no role assignment");
    await sam.page.waitForSelector("#containers-refused");
    // Its token is refused by the admin API when called anyway.
    const status = await sam.page.evaluate(async () => {
      const { blobAdmin } = await import("/console/blob_api.js");
      try {
        await blobAdmin("GET", "coffer", "accounts");
        return 200;
      } catch (e) {
        return e.status;
      }
    });
    assert.equal(status, 403);
    await sam.context.close();
  });

  test("the audit log, filtered, with the chain verified by the vault", T, async () => {
    const { page } = ada;
    await page.goto(`${base}/console/#audit`, { waitUntil: "networkidle0" });
    await waitForView(page, "audit");
    await fill(page, "#audit-operation", "keys/rotate");
    await page.click("#audit-verify");
    await page.click("#audit-submit");
    await page.waitForSelector('#audit-verification[data-status="intact"]');
    const ops = await page.$$eval("tr[data-seq] td:nth-child(4)", (tds) => tds.map((t) => t.textContent));
    assert.ok(ops.length >= 1 && ops.every((o) => o.includes("keys/rotate")), ops.join(","));
    const principals = await page.$$eval("tr[data-seq] td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
    assert.ok(principals.every((p) => p === "ada"), principals.join(","));
    await shot(page, "audit");
    await page.select("#audit-result", "denied");
    await fill(page, "#audit-operation", "");
    await page.click("#audit-submit");
    // Sam's refused calls (no role, then the Reader's create) are there.
    await page.waitForFunction(() => {
      const results = [...document.querySelectorAll("tr[data-seq] td:nth-child(6)")].map((t) => t.textContent);
      return results.length >= 1 && results.every((r) => r === "denied");
    });
    // coffer-blob's log: the console's uploads, verified by coffer-blob.
    await page.select("#audit-service", "blob");
    await page.select("#audit-result", "");
    await fill(page, "#audit-operation", "PutBlock");
    await page.click("#audit-submit");
    await page.waitForSelector('h2[data-service="blob"]');
    await page.waitForSelector('#audit-verification[data-status="intact"]');
    const blobOps = await page.$$eval("tr[data-seq] td:nth-child(4)", (tds) => tds.map((t) => t.textContent));
    assert.ok(blobOps.includes("PutBlockList") && blobOps.every((o) => o.startsWith("PutBlock")), blobOps.join(","));
    const objects = await page.$$eval("tr[data-seq] td:nth-child(5)", (tds) => tds.map((t) => t.textContent));
    assert.ok(objects.includes("/consoleacct/photos/holiday.bin"), objects.join(","));
    await shot(page, "audit-blob");
    // Exported as JSON Lines, exactly the lines shown.
    const downloads = mkdtempSync(`${tmpdir()}/coffer-audit-`);
    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", {
      behavior: "allow", downloadPath: downloads, browserContextId: page.browserContext().id });
    await page.click("#audit-export");
    const file = `${downloads}/coffer-blob-audit.jsonl`;
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    const exported = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(exported.map((l) => l.operation), blobOps);
  });

  test("health: what the vault runs on, and charts that move", T, async () => {
    const { page } = ada;
    await page.goto(`${base}/console/#health`, { waitUntil: "networkidle0" });
    await waitForView(page, "health");
    const text = await viewText(page);
    assert.match(text, /pkcs11, token "coffer-vault"/);
    assert.match(text, /expires .* \(\d+ days\)/);
    assert.match(text, /sqlite/);
    // Two scrapes apart, every chart has a point; the request rate is > 0
    // (the scrapes themselves are requests).
    await page.waitForFunction(() =>
      [...document.querySelectorAll("[data-chart]")].every((c) => Number(c.dataset.points) >= 2), { timeout: 20_000 });
    const caption = await page.$eval('[data-chart="requests"] figcaption', (e) => e.textContent);
    assert.ok(Number(caption.split(": ")[1]) > 0, caption);
    // coffer-blob's too.
    assert.match(text, /coffer-blob at https:\/\/127\.0\.0\.1:\d+/);
    assert.match(text, /token "coffer-blob"/);
    await page.waitForFunction(() => Number(document.querySelector('[data-chart="blob-requests"]')?.dataset.points) >= 2, { timeout: 20_000 });
    await shot(page, "health");
  });

  test("signing out ends the session: the console asks for a password again", T, async () => {
    const { page, context } = ada;
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in-again");
    await shot(page, "signed-out");
    const cookies = await context.cookies();
    assert.ok(!cookies.some((c) => c.name === "__Host-coffer-session" && c.value), "cookie cleared");
    await page.goto(`${base}/console/`, { waitUntil: "networkidle0" });
    assert.ok(await page.$("#username"), "the sign-in form again");
    await context.close();
  });

  test("no password or secret value in the server's log", () => {
    const log = readFileSync(process.env.COFFER_SERVER_LOG, "utf8");
    for (const s of [SECRET_VALUE, process.env.ADA_PW, process.env.SAM_PW, process.env.LOCKY_PW])
      assert.ok(!log.includes(s));
  });
});
