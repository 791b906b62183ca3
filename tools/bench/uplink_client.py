# Upload benchmark client (MicroPython): N readings to the Sensocan mock over HTTPS.
#   micropython uplink_client.py httpc|requests URL CA_DER DEVICE TOKEN SENSOR_UUID N
# httpc: this firmware's way (batches of 50, one kept-alive verified connection).
# requests: the naive baseline, micropython-lib requests.post per reading (a new
# connection and TLS handshake each time, certificate never verified).
import json
import sys
import time

mode, url, ca_path, device, token, sensor, n = sys.argv[1:8]
n = int(n)
t0 = 1795750000
start = time.ticks_ms()
if mode == "httpc":
    import httpc
    import sensocan

    http = httpc.Client(url, ca=open(ca_path, "rb").read())
    api = sensocan.Api(http, device, token)
    prefix = sensocan.item_prefix(None, sensor)
    sent = 0
    while sent < n:
        api.begin()
        k = 0
        while sent + k < n and k < 50 and api.add(prefix, 20.0 + k, t0 + 60 * (sent + k)):
            k += 1
        r = api.send_batch(3.7)
        if r.kind != sensocan.STORED:
            raise SystemExit("upload failed: %r %s" % (r.kind, r.message))
        sent += k
    http.close()
else:
    import requests

    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    for i in range(n):
        body = json.dumps({"data": {"value": 20.0 + i, "timestamp": "2026-11-27T10:00:00Z"},
                           "battery_voltage": 3.7})
        r = requests.post("%s/devices/%s/sensors/%s/readings" % (url, device, sensor),
                          data=body, headers=headers)
        if r.status_code != 201:
            raise SystemExit("upload failed: %d %s" % (r.status_code, r.text))
        r.close()
print("RESULT ms=%d" % time.ticks_diff(time.ticks_ms(), start))
