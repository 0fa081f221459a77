#!/usr/bin/python3
"""The official Azure Python SDK's client-side encryption, driven from the
system tests (tests/system/cse_cli.sh, cse_python_interop.sh): uploads and downloads blobs
encrypted in the SDK's own v2 format, so that `coffer blob` and the SDK can
be checked against each other in both directions.

    cse_sdk.py upload   --blob-dir DIR --container C --name N --file F --kek SPEC [--block-size N]
    cse_sdk.py download --blob-dir DIR --container C --name N --file F --kek SPEC
                        [--offset O --length L]
    cse_sdk.py content-key --blob-dir DIR --container C --name N --kek SPEC
        prints the blob's content key in hex, unwrapped from its encryptiondata
        (for the tests' scans of data directories and logs)
    cse_sdk.py encrypt --kek SPEC [--kid KID] --file PLAIN --body B --meta M [--version V]
    cse_sdk.py decrypt --kek SPEC [--kid KID] --body B --meta M --file OUT
                       [--offset O --length L]
        offline: the SDK's own encrypt_blob / decrypt_blob (with its range
        arithmetic) on files, no service (tests/system/cse_python_interop.sh)

DIR is coffer-blob's data directory (bootstrap.json gives the connection
string and its CA).  SPEC is one of
    file:PATH    a raw 32-byte AES key (A256KW) or an RSA key in PEM
                 (RSA-OAEP; a public key can only wrap)
    vault:KID    a key in coffer-vault, used through the official
                 azure-keyvault-keys CryptographyClient with a client secret
                 (COFFER_BOOTSTRAP: the vault's bootstrap.json)
The key id written with a file key is its path's base name prefixed with
"local:", as `coffer blob upload --encrypt-with file:PATH` writes it, unless
--kid gives another.

Runs with Debian's python3 and its packages (python3-azure,
python3-azure-storage), never a virtualenv.
"""

import argparse
import base64
import json
import logging
import os
import sys
import tempfile

from azure.storage.blob import BlobServiceClient
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap


class LocalKek:
    """A key-encryption key held in a file, with the interface the storage
    SDK calls: wrap_key, unwrap_key, get_kid, get_key_wrap_algorithm."""

    def __init__(self, path, kid=None):
        self.kid = kid or "local:" + os.path.basename(path)
        data = open(path, "rb").read()
        self.aes = None
        self.private = self.public = None
        if len(data) == 32:
            self.aes = data
        elif b"PRIVATE KEY" in data:
            self.private = serialization.load_pem_private_key(data, password=None)
            self.public = self.private.public_key()
        else:
            self.public = serialization.load_pem_public_key(data)
        if self.aes is None and not isinstance(self.public, rsa.RSAPublicKey):
            raise ValueError(f"{path}: neither 32 raw bytes nor an RSA key")

    @staticmethod
    def _oaep():
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)

    def wrap_key(self, key):
        if self.aes is not None:
            return aes_key_wrap(self.aes, key)
        return self.public.encrypt(key, self._oaep())

    def unwrap_key(self, key, algorithm):
        if algorithm != self.get_key_wrap_algorithm():
            raise ValueError(f"unexpected wrapping algorithm {algorithm}")
        if self.aes is not None:
            return aes_key_unwrap(self.aes, key)
        if self.private is None:
            raise ValueError("a public key cannot unwrap")
        return self.private.decrypt(key, self._oaep())

    def get_kid(self):
        return self.kid

    def get_key_wrap_algorithm(self):
        return "A256KW" if self.aes is not None else "RSA-OAEP"


class VaultKek:
    """A key in coffer-vault through the official CryptographyClient: the
    wrap and unwrap run in the vault.

    The algorithm goes to the client as a plain string, not the
    KeyWrapAlgorithm enum, on purpose: with the enum, this SDK version
    (4.8.0b3) wraps with an oct key locally, and as the vault rightly never
    returns an AES key's `k`, its local provider makes up a random key and
    wraps with that.  With a string its local provider declines (it logs
    that, silenced below) and the vault does the work."""

    def __init__(self, kid):
        from azure.identity import ClientSecretCredential
        from azure.keyvault.keys.crypto import CryptographyClient

        boot = json.load(open(os.environ["COFFER_BOOTSTRAP"]))
        credential = ClientSecretCredential(
            boot["tenant_id"], boot["client_id"], boot["client_secret"],
            authority=boot["authority_host"], instance_discovery=False)
        from azure.keyvault.keys import KeyClient

        self.kid = kid
        vault_url, _, rest = kid.partition("/keys/")
        name, _, version = rest.partition("/")
        key = KeyClient(vault_url, credential, verify_challenge_resource=False).get_key(name, version or None)
        # AES keys wrap with A256KW, RSA keys with RSA-OAEP.
        self.algorithm = "A256KW" if str(key.key_type).startswith("oct") else "RSA-OAEP"
        self.client = CryptographyClient(kid, credential, verify_challenge_resource=False)

    def wrap_key(self, key):
        return self.client.wrap_key(self.algorithm, key).encrypted_key

    def unwrap_key(self, key, algorithm):
        return self.client.unwrap_key(algorithm, key).key

    def get_kid(self):
        return self.kid

    def get_key_wrap_algorithm(self):
        return self.algorithm


logging.getLogger("azure.keyvault.keys.crypto._client").setLevel(logging.ERROR)


def kek_from(spec, kid=None):
    if spec.startswith("file:"):
        return LocalKek(spec[len("file:"):], kid)
    if spec.startswith("vault:"):
        return VaultKek(spec[len("vault:"):])
    raise ValueError(f"--kek: {spec}: expected file:PATH or vault:KID")


def trust(blob_dir):
    """Requests (under both SDKs) verifies TLS against REQUESTS_CA_BUNDLE:
    point it at coffer-blob's CA and, for vault keys, coffer-vault's,
    whatever the caller's environment said."""
    cas = [json.load(open(os.path.join(blob_dir, "bootstrap.json"))).get("ca_cert")
           or os.path.join(blob_dir, "tls", "ca.crt")]
    if os.environ.get("COFFER_BOOTSTRAP"):
        cas.append(json.load(open(os.environ["COFFER_BOOTSTRAP"]))["ca_cert"])
    fd, bundle = tempfile.mkstemp(prefix="cse-sdk-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        for ca in cas:
            out.write(open(ca, "rb").read())
    os.environ["REQUESTS_CA_BUNDLE"] = bundle
    return bundle


def blob_client(args, kek, block_size=None):
    boot = json.load(open(os.path.join(args.blob_dir, "bootstrap.json")))
    options = {}
    if block_size:
        options = {"max_single_put_size": block_size, "max_block_size": block_size}
    service = BlobServiceClient.from_connection_string(boot["connection_string"], **options)
    client = service.get_blob_client(args.container, args.name)
    client.require_encryption = True
    client.encryption_version = "2.0"
    client.key_encryption_key = kek
    client.key_resolver_function = lambda kid: kek if kid == kek.get_kid() else None
    return client


def content_key(client, kek):
    """The 32-byte content key behind a blob's encryptiondata."""
    data = json.loads(client.get_blob_properties().metadata["encryptiondata"])
    wrapped = data["WrappedContentKey"]
    key = kek.unwrap_key(base64.b64decode(wrapped["EncryptedKey"]), wrapped["Algorithm"])
    protocol = data["EncryptionAgent"]["Protocol"].encode()
    if len(key) != 40 or key[:8] != protocol.ljust(8, b"\0"):
        raise ValueError("the unwrapped key lacks the protocol prefix")
    return key[8:]


def offline(args, kek):
    """The SDK's own encryption functions on files, without a service: what
    its upload and download do to a body."""
    import azure.storage.blob._encryption as sdk

    if args.op == "encrypt":
        meta, body = sdk.encrypt_blob(open(args.file, "rb").read(), kek, args.version)
        open(args.body, "wb").write(body)
        open(args.meta, "w").write(meta)
        return
    meta, body = open(args.meta).read(), open(args.body, "rb").read()
    headers = {"x-ms-meta-encryptiondata": meta}
    if args.offset is None:
        plain = sdk.decrypt_blob(True, kek, None, body, 0, len(body), headers)
    else:  # map the range as the SDK's download does, then cut
        data = sdk._dict_to_encryption_data(json.loads(meta))
        end = args.offset + args.length - 1
        (start, stop), (so, eo) = sdk.get_adjusted_download_range_and_offset(
            args.offset, end, args.length, data)
        plain = sdk.decrypt_blob(True, kek, None, body[start:stop + 1], so, eo, headers)
    open(args.file, "wb").write(plain)


def online(args):
    bundle = trust(args.blob_dir)  # before a vault KEK calls the vault
    try:
        kek = kek_from(args.kek, args.kid)
        client = blob_client(args, kek, args.block_size)
        if args.op == "content-key":
            print(content_key(client, kek).hex())
        elif args.op == "upload":
            with open(args.file, "rb") as f:
                client.upload_blob(f, overwrite=True)
        else:
            data = client.download_blob(offset=args.offset, length=args.length).readall()
            with open(args.file, "wb") as out:
                out.write(data)
    finally:
        os.unlink(bundle)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("op", choices=["upload", "download", "content-key", "encrypt", "decrypt"])
    p.add_argument("--blob-dir")
    p.add_argument("--container")
    p.add_argument("--name")
    p.add_argument("--file")
    p.add_argument("--kek", required=True)
    p.add_argument("--kid")
    p.add_argument("--body")
    p.add_argument("--meta")
    p.add_argument("--version", default="2.0")
    p.add_argument("--block-size", type=int)
    p.add_argument("--offset", type=int)
    p.add_argument("--length", type=int)
    args = p.parse_args()
    is_offline = args.op in ("encrypt", "decrypt")
    need = ["file", "body", "meta"] if is_offline else ["blob_dir", "container", "name"]
    if args.op in ("upload", "download"):
        need.append("file")
    for n in need:
        if getattr(args, n) is None:
            p.error(f"{args.op} needs --{n.replace('_', '-')}")
    if is_offline:
        offline(args, kek_from(args.kek, args.kid))
    else:
        online(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
