# Device code (MicroPython): helpers of the uplink tests, a scripted API.
import json
import os

import flashfs
import httpc
import sensocan
import spool as spool_mod
from spool import Spool
from uplink import Uplink

flashfs.mount()  # littlefs, as on the board: the spool relies on its directory order
TMP = "/flash"
HOST_TMP = os.getenv("TEST_TMP")
T0 = 60061400  # 2026-11-27T03:43:20Z in node seconds (clock.py)
U = ["7a8b9c0d-1234-5678-90ab-cdef1234567%d" % i for i in range(4)]
SLUGS = [("a", None), ("b", None), ("c", None)]  # batch only: no UUID, no bulk endpoint
UUIDS = [("a", U[0]), ("b", U[1]), ("c", U[2])]


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, m):
        self.lines.append(m)

    error = info = warn


class Http:
    """Answers each request with the next scripted (status, headers, body); records
    (path, parsed body) after streaming the body as httpc does."""

    def __init__(self, replies):
        self.replies = replies
        self.sent = []

    def request(self, method, path, body, headers, sink=None, deadline_ms=None):
        n = len(body)
        name = "%s/req%d.json" % (HOST_TMP, len(self.sent))
        with open(name, "wb") as f:  # to a host file: the heap is the node's, not ours
            body.write_to(sensocan.Writer(f.write))
            assert f.tell() == n, "Content-Length %d, body %d" % (n, f.tell())
        self.sent.append(Req(path, name))
        return answer(*self.replies.pop(0), sink=sink)


def answer(status, headers, doc, sink=None, resent=False):
    """A reply as httpc gives it: the JSON body handed to `sink` as it would stream;
    `resent`: the request went out twice (a kept-alive connection closed under it)."""
    raw = bytearray(json.dumps(doc).encode())
    if sink:
        sink(raw, 0, len(raw))
    return httpc.Response(status, headers, True, resent)


class Req:
    """One request as (path, body): the body kept in a file, parsed when looked at,
    so recording the requests of a long drain does not crowd the node's heap."""

    def __init__(self, path, name):
        self.path, self.name = path, name

    def body(self):
        with open(self.name) as f:
            return json.load(f)

    def __getitem__(self, i):
        return self.body() if i == 1 else self.path

    def __iter__(self):
        yield self.path
        yield self.body()

    def __eq__(self, other):
        return tuple(self) == other


def ok(n=None):
    return (201, {"x-ratelimit-remaining": "999"}, {"message": "ok", "count": n})


def fill(sp, n, sensors=3, t0=T0, aux=0):
    for i in range(n):
        sp.append(i % sensors, t0 + i, float(i), 0, aux)
        if (i + 1) % 50 == 0:
            sp.commit()
    sp.commit()


def setup(n, replies, sensors=SLUGS, chunk=10, root="/spool", date=None):
    sp = Spool(TMP + root)
    fill(sp, n, len(sensors))
    http = Http(replies)
    log = Log()
    up = Uplink(sensocan.Api(http, "dev", "tok"), sp, sensors, chunk, log, date)
    return sp, http, up, log


def values(req):
    return [item["value"] for item in req[1]["data"]]
