#!/usr/bin/python3
"""Always Encrypted known answers for tests/unit/core/test_ae.c, computed
here from the algorithm as docs/always-encrypted.md states it, with
pyca/cryptography only (independent of Coffer's C code):

    ae_cells.txt        AEAD_AES_256_CBC_HMAC_SHA256 cells under a fixed
                        column encryption key: deterministic (exact bytes)
                        and randomized (to decrypt)
    ae_cek_values.txt   encrypted column-encryption-key values under
                        cse_rsa_kek.pem (a test key), as the Azure Key
                        Vault provider lays them out (lowercased key URL)

Run with Debian's python3 (python3-cryptography):
    /usr/bin/python3 tests/unit/vectors/make_ae_vectors.py
The randomized cells and the RSA values change on every run."""

import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))
ALG = "AEAD_AES_256_CBC_HMAC_SHA256"


def derive(root, kind):
    label = f"Microsoft SQL Server cell {kind} with encryption algorithm:{ALG} and key length:256"
    return hmac.new(root, label.encode("utf-16-le"), hashlib.sha256).digest()


def seal(root, plaintext, iv=None):
    enc, mac, ivk = (derive(root, k) for k in ("encryption key", "MAC key", "IV key"))
    if iv is None:  # deterministic
        iv = hmac.new(ivk, plaintext, hashlib.sha256).digest()[:16]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(padded) + e.finalize()
    tag = hmac.new(mac, b"\x01" + iv + ct + b"\x01", hashlib.sha256).digest()
    return b"\x01" + tag + iv + ct


def pattern(n, mul=31, add=7):
    return bytes((i * mul + add) % 256 for i in range(n))


def cells():
    cek = bytes(range(0x20, 0x40))
    plains = [
        ("empty", b""),
        ("one", b"x"),
        ("fifteen", pattern(15)),
        ("sixteen", pattern(16)),
        ("seventeen", pattern(17)),
        ("nvarchar", "Coffer — 12345".encode("utf-16-le")),
        ("long", pattern(1000)),
    ]
    out = ["# Always Encrypted cells (docs/always-encrypted.md), made by make_ae_vectors.py",
           "# with pyca/cryptography from the algorithm alone.  cek: bytes 0x20..0x3f.",
           "# deterministic cells must be reproduced byte for byte; randomized ones",
           "# (random IV) must decrypt to pt.", ""]
    for name, pt in plains:
        for mode in ("deterministic", "randomized"):
            cell = seal(cek, pt, None if mode == "deterministic" else os.urandom(16))
            out += [f"name = {name}-{mode}", f"cek = {cek.hex()}", f"mode = {mode}",
                    f"pt = {pt.hex()}", f"cell = {cell.hex()}", ""]
    return "\n".join(out)


def cek_values():
    key = serialization.load_pem_private_key(
        open(os.path.join(HERE, "cse_rsa_kek.pem"), "rb").read(), None)
    out = ["# Encrypted column-encryption-key values (docs/always-encrypted.md), made by",
           "# make_ae_vectors.py under cse_rsa_kek.pem: RSA-OAEP (SHA-1) of cek, RS256",
           "# signature over everything before it; key paths lowercased as the Azure Key",
           "# Vault provider writes them.", ""]
    paths = [("vault", "https://coffer.example:8443/keys/cmk-1/0123456789abcdef0123456789abcdef"),
             ("non-ascii", "https://vault.example/keys/clé-ü/1")]
    for n, (name, path) in enumerate(paths):
        cek = bytes((0x60 + n + i) % 256 for i in range(32))
        wide = path.lower().encode("utf-16-le")
        ct = key.public_key().encrypt(cek, rsa_padding.OAEP(
            mgf=rsa_padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
        signed = b"\x01" + struct.pack("<HH", len(wide), len(ct)) + wide + ct
        sig = key.sign(signed, rsa_padding.PKCS1v15(), hashes.SHA256())
        out += [f"name = {name}", f"key_path = {path.lower()}", f"cek = {cek.hex()}",
                f"value = {(signed + sig).hex()}", ""]
    return "\n".join(out)


def main():
    open(os.path.join(HERE, "ae_cells.txt"), "w").write(cells())
    open(os.path.join(HERE, "ae_cek_values.txt"), "w").write(cek_values())


if __name__ == "__main__":
    main()
