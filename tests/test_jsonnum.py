"""Host side (CPython) against device code: lib/jsonnum.py's float32 text, under the
MicroPython unix port, is exactly CPython's '%.7g' of the same float32, for random bit
patterns over every exponent (biased towards sensor-like magnitudes) and the edges."""

import math
import random
import struct

from tools.dev import unixport as mpy

PROBE = """
import sys, jsonnum
src = bytearray(4); out = bytearray(16)
for line in sys.stdin:
    r = int(line)
    src[0] = r & 255; src[1] = r >> 8 & 255; src[2] = r >> 16 & 255; src[3] = r >> 24 & 255
    e = jsonnum.write(out, 0, src, 0)
    print(bytes(out[:e]).decode() if e >= 0 else "-")
"""


def patterns(n, seed=12):
    rng = random.Random(seed)
    edges = [0, 1, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x7F800000, 0x7FC00000, 0x80000000,
             0x3F800000, 0x4B7FFFFF, 0x4B800000, 0x38D1B717]  # 0, subnormals, max, inf, nan...
    out = edges + [e | 0x80000000 for e in edges]
    for k in range(n):
        r = rng.getrandbits(32)
        if k % 2:  # exponents of 2^-17 .. 2^30: the sensor range
            r = (r & 0x807FFFFF) | (rng.randrange(110, 158) << 23)
        out.append(r)
    return out


def test_float32_text_matches_cpython_percent_g():
    bits = patterns(20000)
    res = mpy.run(["-c", PROBE], stdin="\n".join(map(str, bits)) + "\n", heap="256K",
                  timeout=120)
    assert res.returncode == 0, res.stderr
    got = res.stdout.split("\n")
    bad = []
    for r, text in zip(bits, got):
        v = struct.unpack("<f", struct.pack("<I", r))[0]
        want = "-" if math.isnan(v) or math.isinf(v) else "%.7g" % v
        if text != want:
            bad.append((hex(r), text, want))
    assert len(got) >= len(bits) and not bad, bad[:10]
