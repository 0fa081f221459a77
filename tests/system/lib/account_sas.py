"""An account SAS (blob service, service/container/object, read, add,
create, write, delete, list; HTTPS only; until 2099) for a coffer-blob
data directory's default account, standard library only.

  account_sas.py BOOTSTRAP_JSON      prints the SAS query (no '?')

Imported by page_writers.py; blob_durability.sh runs it.
"""
import base64
import hashlib
import hmac
import json
import sys
import urllib.parse


def account_sas(bootstrap):
    """(account name, SAS query) for the bootstrap file's account."""
    b = json.load(open(bootstrap))
    key = base64.b64decode(b["account_key"])
    f = [("sp", "racwdl"), ("ss", "b"), ("srt", "sco"), ("st", ""),
         ("se", "2099-01-01T00:00:00Z"), ("sip", ""), ("spr", "https"),
         ("sv", "2021-08-06"), ("ses", "")]
    sts = "\n".join([b["account_name"]] + [v for _, v in f] + [""])
    q = [(k, v) for k, v in f if v]
    sig = hmac.new(key, sts.encode(), hashlib.sha256).digest()
    q.append(("sig", base64.b64encode(sig).decode()))
    return b["account_name"], urllib.parse.urlencode(q)


if __name__ == "__main__":
    print(account_sas(sys.argv[1])[1])
