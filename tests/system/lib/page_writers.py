"""Put Page under SIGKILL (tests/system/page_blob_crash.sh), standard
library only.

  page_writers.py write PORT CA BOOTSTRAP BLOB LOG WRITERS REGION
      creates container "crash" (if needed) and page blob BLOB of
      WRITERS * REGION bytes, then runs WRITERS threads, each writing
      random page ranges (up to 2 MiB, across chunk boundaries) inside its
      own region of the blob, until the server goes away.  Every page a
      call writes carries (writer, call, page) so a page names the call
      that wrote it.  LOG gets "start W CALL OFF LEN" before a call is sent
      and "ack W CALL" once it was answered 201.
  page_writers.py verify PORT CA BOOTSTRAP BLOB LOG WRITERS REGION
      downloads the blob and checks each region against its writer's log:
      every acknowledged call present, the one call in doubt (sent, not
      answered) either wholly present or wholly absent; exit 1 otherwise.
"""
import http.client
import json
import random
import ssl
import struct
import sys
import threading

from account_sas import account_sas

PAGE = 512


class Client:
    def __init__(self, port, ca, bootstrap):
        self.port = int(port)
        self.ctx = ssl.create_default_context(cafile=ca)
        self.account, self.sas = account_sas(bootstrap)
        self.conn = None

    def request(self, method, path, query="", headers=None, body=b""):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                    timeout=60)
        h = {"x-ms-version": "2021-08-06", "Content-Length": str(len(body))}
        h.update(headers or {})
        url = "/%s/%s?%s%s" % (self.account, path, query + "&" if query else "", self.sas)
        self.conn.request(method, url, body=body, headers=h)
        r = self.conn.getresponse()
        return r.status, r.read()


def stamp(writer, call, off, length):
    out = bytearray(length)
    for p in range(off // PAGE, (off + length) // PAGE):
        rec = struct.pack("<IIQ", writer, call, p) * (PAGE // 16)
        out[p * PAGE - off:(p + 1) * PAGE - off] = rec
    return bytes(out)


def writer_loop(args, w, region, log, lock):
    c = Client(*args[:3])
    rnd = random.Random(w * 7919 + 1)
    call = 0
    while True:
        call += 1
        pages = rnd.randint(1, 4096)
        first = rnd.randrange(0, region // PAGE - pages + 1)
        off = w * region + first * PAGE
        length = pages * PAGE
        with lock:
            log.write("start %d %d %d %d\n" % (w, call, off, length))
            log.flush()
        try:
            status, _ = c.request("PUT", "crash/" + args[3], "comp=page",
                                  {"x-ms-page-write": "update",
                                   "x-ms-range": "bytes=%d-%d" % (off, off + length - 1)},
                                  stamp(w, call, off, length))
        except Exception:
            return
        if status != 201:
            with lock:
                log.write("fail %d %d %d\n" % (w, call, status))
                log.flush()
            return
        with lock:
            log.write("ack %d %d\n" % (w, call))
            log.flush()


def write(port, ca, bootstrap, blob, logfile, writers, region):
    writers, region = int(writers), int(region)
    args = (port, ca, bootstrap, blob)
    c = Client(*args[:3])
    c.request("PUT", "crash", "restype=container")
    status, body = c.request("PUT", "crash/" + blob, "",
                             {"x-ms-blob-type": "PageBlob",
                              "x-ms-blob-content-length": str(writers * region)})
    if status != 201:
        sys.exit("create: %d %s" % (status, body[:200]))
    lock = threading.Lock()
    with open(logfile, "w") as log:
        threads = [threading.Thread(target=writer_loop, args=(args[:3] + (blob,), w, region, log,
                                                              lock))
                   for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def verify(port, ca, bootstrap, blob, logfile, writers, region):
    writers, region = int(writers), int(region)
    c = Client(port, ca, bootstrap)
    status, data = c.request("GET", "crash/" + blob)
    if status != 200 or len(data) != writers * region:
        sys.exit("download: %d, %d bytes" % (status, len(data)))
    calls = {}
    acked = set()
    for line in open(logfile):
        f = line.split()
        if f[0] == "start":
            calls[(int(f[1]), int(f[2]))] = (int(f[3]), int(f[4]))
        elif f[0] == "ack":
            acked.add((int(f[1]), int(f[2])))
    bad = 0
    stats = {"acked": len(acked), "in_doubt_present": 0, "in_doubt_absent": 0}
    for w in range(writers):
        mine = sorted(k[1] for k in calls if k[0] == w)
        shadow = bytearray(region)
        doubt = None
        for call in mine:
            off, length = calls[(w, call)]
            if (w, call) not in acked:
                doubt = (call, off, length)
                continue
            shadow[off - w * region:off - w * region + length] = stamp(w, call, off, length)
        got = data[w * region:(w + 1) * region]
        if got == bytes(shadow):
            if doubt:
                stats["in_doubt_absent"] += 1
            continue
        if doubt:
            call, off, length = doubt
            shadow[off - w * region:off - w * region + length] = stamp(w, call, off, length)
            if got == bytes(shadow):
                stats["in_doubt_present"] += 1
                continue
        bad += 1
        for p in range(region // PAGE):
            if got[p * PAGE:(p + 1) * PAGE] != bytes(shadow[p * PAGE:(p + 1) * PAGE]):
                print("writer %d: page %d differs (holds %r)" %
                      (w, p, struct.unpack("<IIQ", got[p * PAGE:p * PAGE + 16])))
                break
    print(json.dumps(stats))
    sys.exit(1 if bad else 0)


globals()[sys.argv[1]](*sys.argv[2:])
