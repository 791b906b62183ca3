# Drain benchmark (MicroPython): empty a spool's backlog to the Sensocan mock over TLS.
#   micropython drain_node.py uplink|baseline IMAGE SCRATCH URL CA_DER DEVICE TOKEN UUIDS [LIMIT]
# uplink: this firmware's way (uplink.Uplink: batch/bulk planning, streamed bodies, one
# kept-alive verified connection). baseline: the naive way, micropython-lib requests.post
# per reading to the single-reading endpoint (a new connection and TLS handshake each
# time, certificate never verified), for the first LIMIT readings. Works on SCRATCH, a
# copy of IMAGE. Prints "RESULT readings=N requests=R connects=C ms=T".
import json
import sys
import time

import flashdev
import vfs

import clock
from record import RECORD, unpack
from spool import Spool

mode, image, scratch, url, ca_path, device, token, uuids = sys.argv[1:9]
uuids = uuids.split(",")
limit = int(sys.argv[9]) if len(sys.argv) > 9 else 1 << 30
buf = bytearray(1024)
with open(image, "rb") as src, open(scratch, "wb") as dst:
    while src.readinto(buf):
        dst.write(buf)
buf = None
vfs.mount(vfs.VfsLfs2(flashdev.FlashImage(scratch)), "/flash")
sp = Spool("/flash/data/spool")
n = sp.pending()


class Log:
    def warn(self, m):
        print(m)

    error = info = warn


start = time.ticks_ms()
if mode == "uplink":
    import httpc
    import sensocan
    from uplink import Uplink

    with open(ca_path, "rb") as f:
        http = httpc.Client(url, ca=f.read())
    api = sensocan.Api(http, device, token)
    res = Uplink(api, sp, [("s%d" % i, u) for i, u in enumerate(uuids)], 200, Log()).drain(
        3.7, 1 << 30)
    http.close()
    if res.kind != sensocan.STORED or sp.pending():
        raise SystemExit("drain stopped: %s %d %s" % (res.kind, res.status, res.message))
    print("RESULT readings=%d requests=%d connects=%d ms=%d" % (
        res.acked, res.requests, http.connects, time.ticks_diff(time.ticks_ms(), start)))
else:
    import requests

    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    rec = bytearray(RECORD)
    sent = 0
    while sent < min(n, limit):
        sp.read(sent, rec)
        s, _, t, v = unpack(rec, 0)
        body = json.dumps({"data": {"value": v, "timestamp": clock.iso(t)},
                           "battery_voltage": 3.7})
        r = requests.post("%s/devices/%s/sensors/%s/readings" % (url, device, uuids[s]),
                          data=body, headers=headers)
        if r.status_code != 201:
            raise SystemExit("upload failed: %d %s" % (r.status_code, r.text))
        r.close()
        sent += 1
    print("RESULT readings=%d requests=%d connects=%d ms=%d" % (
        sent, sent, sent, time.ticks_diff(time.ticks_ms(), start)))
