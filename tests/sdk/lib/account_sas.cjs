// Prints an account SAS (blob service, containers and objects,
// read/write/create, HTTPS only unless "http" is given, valid one hour)
// for a connection string, made by the official SDK so that tools without
// a signer (curl, wrk, the C load generators) can call coffer-blob.  Used by bench/keys_run,
// bench/http_run and the flood tests.
//
//   node tests/sdk/lib/account_sas.cjs "CONNECTION_STRING" [http]
const path = require("node:path");
const { StorageSharedKeyCredential, generateAccountSASQueryParameters, AccountSASPermissions,
  AccountSASResourceTypes, AccountSASServices, SASProtocol } =
  require(path.join(__dirname, "..", "node_modules", "@azure", "storage-blob"));

const cs = process.argv[2] || "";
const name = /AccountName=([^;]+)/.exec(cs);
const key = /AccountKey=([^;]+)/.exec(cs);
if (!name || !key) {
  console.error("usage: account_sas.cjs CONNECTION_STRING (with AccountName and AccountKey)");
  process.exit(2);
}
const sas = generateAccountSASQueryParameters({
  permissions: AccountSASPermissions.parse("rwc"),
  resourceTypes: AccountSASResourceTypes.parse("co").toString(),
  services: AccountSASServices.parse("b").toString(),
  protocol: process.argv[3] === "http" ? SASProtocol.HttpsAndHttp : SASProtocol.Https,
  expiresOn: new Date(Date.now() + 3600e3),
}, new StorageSharedKeyCredential(name[1], key[1]));
console.log(sas.toString());
