#!/usr/bin/python3
"""Known-answer vectors for client-side encryption (docs/client-side-encryption.md).

Drives the official Python SDK as Debian packages it (python3-azure-storage,
azure.storage.blob 12.15.0b1) offline: the SDK's own encrypt_blob and
get_adjusted_download_range_and_offset, with a local key-encryption key
object that has the SDK's KEK interface.  The random source the SDK draws
the content key (and the 1.0 IV) from is replaced by fixed bytes, so the
vectors are reproducible and the content key is known.  RSA-OAEP wrapping
is randomised by OpenSSL, so the RSA vectors' wrapped keys change from run
to run; they stay valid under cse_rsa_kek.pem.

Run with the system Python (not a pyenv one):
    /usr/bin/python3 tests/unit/vectors/make_cse_vectors.py
It rewrites cse_v2.txt, cse_v2_small.txt and cse_v1.txt next to itself, and
creates cse_rsa_kek.pem once (a test-only RSA-2048 key) if it is missing.
"""
import hashlib
import os
import sys
from contextlib import contextmanager

import azure.storage.blob._encryption as sdk
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

HERE = os.path.dirname(os.path.abspath(__file__))
AES_KEK = bytes(range(0x40, 0x60))
AES_KID = "local:cse-aes-kek"
RSA_KID = "local:cse-rsa-kek"
MIB = 1024 * 1024
HEX_MAX = 1024  # longer plaintexts and bodies are stored as SHA-256 digests


class AesKek:
    """A256KW with a raw AES-256 key: the SDK's KEK interface."""

    def wrap_key(self, key):
        return aes_key_wrap(AES_KEK, key)

    def unwrap_key(self, key, algorithm):
        assert algorithm == "A256KW"
        return aes_key_unwrap(AES_KEK, key)

    def get_kid(self):
        return AES_KID

    def get_key_wrap_algorithm(self):
        return "A256KW"


class RsaKek:
    """RSA-OAEP (SHA-1, MGF1-SHA-1), as Key Vault's RSA-OAEP."""

    def __init__(self, private_key):
        self.key = private_key
        self.pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)

    def wrap_key(self, key):
        return self.key.public_key().encrypt(key, self.pad)

    def unwrap_key(self, key, algorithm):
        assert algorithm == "RSA-OAEP"
        return self.key.decrypt(key, self.pad)

    def get_kid(self):
        return RSA_KID

    def get_key_wrap_algorithm(self):
        return "RSA-OAEP"


def rsa_kek():
    path = os.path.join(HERE, "cse_rsa_kek.pem")
    if not os.path.exists(path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    with open(path, "rb") as f:
        return RsaKek(serialization.load_pem_private_key(f.read(), password=None))


def pattern(n):
    """Byte i is (i * 31 + 7) mod 256 (test_cse.c makes the same)."""
    block = bytes((i * 31 + 7) & 0xFF for i in range(256))
    return (block * (n // 256 + 1))[:n]


@contextmanager
def fixed_random(*chunks):
    """The SDK draws its content key (and 1.0 IV) from os.urandom: hand out `chunks` in order."""
    queue = list(chunks)
    real = os.urandom

    def fake(n):
        value = queue.pop(0)
        assert len(value) == n, (len(value), n)
        return value

    os.urandom = fake
    try:
        yield
    finally:
        os.urandom = real
    assert not queue


def data_fields(rec, name, data):
    if len(data) <= HEX_MAX:
        rec.append((name, data.hex()))
    else:
        rec.append((name + "_sha256", hashlib.sha256(data).hexdigest()))


def cek_for(name):
    return hashlib.sha256(b"cse content key " + name.encode()).digest()


def v2_record(name, kek, kek_name, size, ranges=()):
    cek = cek_for(name)
    pt = pattern(size)
    with fixed_random(cek):
        meta, body = sdk.encrypt_blob(pt, kek, "2.0")
    # The SDK must read back what it wrote (and our KEK objects must be right).
    parsed = sdk._dict_to_encryption_data(__import__("json").loads(meta))
    assert sdk._validate_and_unwrap_cek(parsed, kek) == cek
    rec = [("name", name), ("kek", kek_name), ("cek", cek.hex()), ("pt_len", str(size))]
    data_fields(rec, "pt", pt)
    rec.append(("body_len", str(len(body))))
    data_fields(rec, "body", body)
    rec.append(("encryptiondata", meta))
    if ranges:
        # The SDK's own mapping of a plaintext range to the bytes to download
        # (inclusive ends, not clamped to the body), for each off:len.
        maps = []
        for off, length in ranges:
            (start, end), _ = sdk.get_adjusted_download_range_and_offset(off, off + length - 1, length,
                                                                          parsed)
            maps.append("%d:%d:%d:%d" % (off, length, start, end))
        rec.append(("sdk_ranges", " ".join(maps)))
    return rec


def v1_record(name, size):
    cek, iv = cek_for(name), hashlib.md5(name.encode()).digest()
    pt = pattern(size)
    with fixed_random(cek, iv):
        meta, body = sdk.encrypt_blob(pt, AesKek(), "1.0")
    rec = [("name", name), ("kek", "aes"), ("cek", cek.hex()), ("pt_len", str(size))]
    data_fields(rec, "pt", pt)
    rec.append(("body_len", str(len(body))))
    data_fields(rec, "body", body)
    rec.append(("encryptiondata", meta))
    return rec


def write(file, header, records):
    with open(os.path.join(HERE, file), "w") as f:
        f.write(header)
        for rec in records:
            f.write("\n")
            for k, v in rec:
                assert " = " not in v and "\n" not in v
                f.write("%s = %s\n" % (k, v))


HEADER = """# Client-side encryption known answers (docs/client-side-encryption.md, "Test
# vectors"), made by make_cse_vectors.py with azure.storage.blob %s (the
# Debian package) calling its own encrypt_blob offline.  cek: the content key
# the SDK was handed; pt: byte i = (i * 31 + 7) mod 256; kek aes: A256KW with
# bytes 0x40..0x5f; kek rsa: RSA-OAEP with cse_rsa_kek.pem.  Lengths are
# decimal; *_sha256 replaces data longer than %d bytes.
""" % (sdk.VERSION, HEX_MAX)


def main():
    if sdk.VERSION != "12.15.0b1":
        print("warning: SDK %s, vectors were first made with 12.15.0b1" % sdk.VERSION, file=sys.stderr)
    aes, rsa_ = AesKek(), rsa_kek()
    sizes = [("0", 0), ("1", 1), ("4mib", 4 * MIB), ("4mib+1", 4 * MIB + 1), ("3x4mib+5", 12 * MIB + 5)]
    records = []
    for label, size in sizes:
        records.append(v2_record("aes-" + label, aes, "aes", size))
        records.append(v2_record("rsa-" + label, rsa_, "rsa", size))
    write("cse_v2.txt", HEADER + "# Protocol 2.0, 4 MiB regions.\n", records)

    # The same code with the SDK's region size patched to 64 bytes: what a
    # 2.1 writer with DataLength 64 produces (the SDK still labels it 2.0).
    real = sdk._GCM_REGION_DATA_LENGTH
    sdk._GCM_REGION_DATA_LENGTH = 64
    try:
        ranges = [(0, 1), (63, 2), (64, 64), (10, 150), (129, 71), (199, 1), (0, 200)]
        small = [v2_record("small-aes-%d" % n, aes, "aes", n, ranges if n == 200 else ())
                 for n in (1, 63, 64, 65, 128, 200)]
        small.append(v2_record("small-rsa-200", rsa_, "rsa", 200, ranges))
    finally:
        sdk._GCM_REGION_DATA_LENGTH = real
    write("cse_v2_small.txt", HEADER + "# Protocol 2.0 with the region size patched to 64 bytes.\n"
          "# sdk_ranges: off:len:start:end, the SDK's download range (inclusive, unclamped).\n", small)

    v1 = [v1_record("v1-%d" % n, n) for n in (0, 1, 16, 100, 70000)]
    write("cse_v1.txt", HEADER + "# Protocol 1.0 (AES-CBC), read only; iv = MD5(name).\n", v1)


if __name__ == "__main__":
    main()
