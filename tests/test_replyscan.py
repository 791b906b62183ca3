"""Host side (CPython) against device code: lib/replyscan.py reads what a reply body
blames, in fixed memory, as the body streams in pieces of any size, and agrees with
CPython's json on every body it can parse; junk, truncation and depth stop it cleanly.

The device side runs under the MicroPython unix port; a heap of 32 KiB holds the
scanner whatever the body's size (a 1 MiB 422 included)."""

import json
import random

from tools.dev import unixport as mpy

DEVICE = r"""
import sys, json
from replyscan import Scan
s = Scan(1024)
buf = bytearray(1024)
line = sys.stdin.readline()
while line:
    body, cuts = line.rstrip("\n").split("\t")
    body = body.encode()  # the cases are ASCII with \uXXXX escapes: one byte a character
    s.reset()
    a = 0
    for b in [int(c) for c in cuts.split()] + [len(body)]:
        while a < b:  # through a 1 KiB buffer, as httpc hands it
            n = min(b - a, len(buf))
            buf[:n] = body[a:a + n]
            s.feed(buf, 0, n)
            a += n
    s.finish()
    named = [i for i in range(1024) if s.named[i >> 3] >> (i & 7) & 1]
    unknown = [i for i in range(1024) if s.unknown[i >> 3] >> (i & 7) & 1]
    print(json.dumps([s.message, s.count, named, unknown, s.battery, s.whole, s.detail, s.bad]))
    line = sys.stdin.readline()
"""


def expect(doc):
    """What the scan must find in a body CPython parses to `doc`."""
    message, count, named, unknown = "", None, set(), set()
    battery = whole = False
    detail = ""
    if isinstance(doc, dict):
        if isinstance(doc.get("message"), str):
            message = doc["message"].encode()[:96].decode("utf-8", "replace")
        c = doc.get("count")
        if type(c) is int and c >= 0:
            count = min(c, 0x3FFFFFFF)  # saturated: a small int on the ESP32
        errors = doc.get("errors")
        if isinstance(errors, dict):
            for key, texts in errors.items():
                parts = key.split(".")
                if parts[0] == "data" and len(parts) >= 2 and parts[1].isdigit():
                    i = int(parts[1])
                    if i < 1024:
                        named.add(i)
                        if len(parts) > 2 and parts[2].startswith("sensor_"):
                            unknown.add(i)
                elif key == "battery_voltage":
                    battery = True
                else:
                    whole = True
                if not detail and texts:
                    detail = "%s: %s" % (key[:96], texts[0][:96])
    return [message, count, sorted(named), sorted(unknown), battery, whole, detail, False]


def run(lines):
    res = mpy.run(["-c", DEVICE], stdin="".join(lines), heap="32K", timeout=120)
    assert res.returncode == 0, res.stdout[-1000:] + res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def cuts(rng, body):
    return " ".join(str(c) for c in sorted(rng.sample(range(len(body) + 1), min(3, len(body)))))


def laravel(rng):
    """A 422 (or another reply) as a real server might word it, in random order."""
    errors = {}
    for _ in range(rng.randint(0, 12)):
        i = rng.randint(0, 1100)
        field = rng.choice(["value", "timestamp", "sensor_slug", "sensor_uuid"])
        key = rng.choice(["data.%d.%s" % (i, field), "data.%d" % i, "battery_voltage",
                          "data", "data.value", "data.%dx.value" % i])
        errors[key] = ["The %s field is invalid: \"%s\" \\ done." % (key, rng.random())
                       for _ in range(rng.randint(1, 2))]
    doc = {"message": rng.choice(["Validation failed.", "Sensor not found.", "x" * 200,
                                  "d\u00e9j\u00e0 vu"]),
           "errors": errors}
    if rng.random() < 0.5:
        doc["count"] = rng.choice([0, 3, 1000, -1, 2.5, "3", None, True])
    if rng.random() < 0.3:
        doc = {"wrap": {"errors": {"data.1.value": ["nested: not ours"]}}, **doc}
    return doc


def test_the_scan_finds_what_cpython_json_finds_in_any_pieces():
    rng = random.Random(422)
    docs = [laravel(rng) for _ in range(400)] + [
        {"message": "Successfully stored 3 readings.", "count": 3},
        {"message": "Unauthenticated."}, [], [1, {"message": "not top"}], "text", 17, {},
        {"count": 12345678901234}, {"errors": ["a list, not an object"]},
        {"errors": {"data.3.value": []}}, {"message": ""}]
    lines = []
    for doc in docs:
        body = json.dumps(doc, indent=rng.choice([None, 1]))  # ASCII: \uXXXX escapes
        lines.append("%s\t%s\n" % (body.replace("\n", " "), cuts(rng, body)))
    got = run(lines)
    assert len(got) == len(docs)
    for doc, g in zip(docs, got):
        want = expect(doc)
        if isinstance(doc, dict) and "\\u" in json.dumps(doc.get("message", "")):
            g[0] = want[0] = None  # escapes are kept as written: the text is for a log line
        assert g == want, (doc, g, want)


def test_junk_truncation_and_depth_stop_the_scan_keeping_what_came_before():
    lines = [
        '{"message": "Validation failed.", "errors": {"data.4.value": ["bad"]}, \x00\x01garbage\t\n',
        '{"message": "Validation failed.", "errors": {"data.7.value": ["cut in the mid\t\n',
        '%s{"message": "deep"}%s\t\n' % ("[" * 17, "]" * 17),
        '{"errors": {"data.2.value": ["x"]}, "nest": %s1%s}\t\n' % ("[" * 20, "]" * 20),
        '<html><body>502 Bad Gateway</body></html>\t\n',
        '\t\n',
    ]
    got = run(lines)
    assert got[0][2] == [4] and got[0][7] is True  # named before the junk, then bad
    assert got[1][2] == [7] and got[1][6] == "data.7.value: " or got[1][6] == ""
    assert got[2][0] == "" and got[2][7] is True  # 17 levels: over the bound
    assert got[3][2] == [2] and got[3][7] is True
    assert got[4][7] is True and got[4][0] == ""
    assert got[5] == ["", None, [], [], False, False, "", False]


BIG = r"""
from replyscan import Scan
s = Scan(1024)
buf = bytearray(1024)
sent = 0

def feed(piece):
    global sent
    buf[:len(piece)] = piece
    s.feed(buf, 0, len(piece))
    sent += len(piece)

feed(b'{"message": "Validation failed.", "errors": {')
for i in range(15000):
    feed(b'%s"data.%d.sensor_slug": ["The selected data.%d.sensor_slug is invalid."]'
         % (b", " if i else b"", i, i))
feed(b"}}")
while sent < 1024 * 1024:
    feed(b" " * min(1000, 1024 * 1024 - sent))
s.finish()
print(sent, sum(bin(b).count("1") for b in s.named), sum(bin(b).count("1") for b in s.unknown))
print(s.detail)
print(s.bad, s.message)
"""


def test_a_one_mebibyte_422_naming_thousands_of_items_fits_a_small_heap():
    res = mpy.run(["-c", BIG], heap="32K", timeout=120)
    assert res.returncode == 0, res.stdout[-1000:] + res.stderr
    sizes, detail, end = res.stdout.splitlines()
    sent, named, unknown = map(int, sizes.split())
    assert sent >= 1024 * 1024 and named == unknown == 1024  # every item of a request, and its sensor
    assert detail == "data.0.sensor_slug: The selected data.0.sensor_slug is invalid."
    assert end == "False Validation failed."
