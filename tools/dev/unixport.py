"""Host side (CPython): run device code under the MicroPython unix port.

Tests, benchmarks and the simulator all go through here, so the binary, heap size
and module path are the same everywhere: `-X heapsize=64K` (a small ESP32 heap) by
default, and the device code compiled to .mpy and laid out as on a flashed board
(tools/build.py) on MICROPYPATH. $MICROPYTHON (set by the Makefile) picks the binary.
"""

import os
import subprocess
import sys
from pathlib import Path

from tools import build

ROOT = Path(__file__).resolve().parents[2]
HEAP = "64K"
# The Python heap of a plain ESP32 (no PSRAM) once grown (ports/esp32/mpconfigport.h); a
# 64-bit port needs more for the same firmware, so it gets WIDE_RATIO times that
# (docs/testing.md, "Two MicroPython ports").
ESP32_HEAP = 111936
WIDE_RATIO = 1.67
_bits = {}


def binary():
    """The unix-port binary: $MICROPYTHON (set by the Makefile) or the venv's."""
    path = os.environ.get("MICROPYTHON") or str(Path(sys.executable).parent / "micropython")
    if not Path(path).exists():
        raise RuntimeError("MicroPython unix port not found at %s (run `make setup`)" % path)
    return path


def word_bits():
    """32 or 64: the pointer size of the unix-port binary in use."""
    path = binary()
    if path not in _bits:
        out = subprocess.run([path, "-c", "import sys; print(64 if sys.maxsize >> 32 else 32)"],
                             capture_output=True, text=True, timeout=30).stdout
        _bits[path] = int(out.strip() or 64)
    return _bits[path]


def node_heap():
    """The node's heap on this binary (-X heapsize): an ESP32's, scaled on a 64-bit port."""
    return str(ESP32_HEAP if word_bits() == 32 else int(ESP32_HEAP * WIDE_RATIO))


def device_env(extra_path=(), env=None):
    e = dict(os.environ)
    parts = [str(p) for p in extra_path] + [str(p) for p in build.device_path("unix")]
    parts.append(".frozen")
    e["MICROPYPATH"] = os.pathsep.join(parts)
    if env:
        e.update({k: str(v) for k, v in env.items()})
    return e


def run(args, *, cwd=None, env=None, extra_path=(), heap=HEAP, timeout=60, stdin=None):
    """Run `micropython -X heapsize=<heap> <args>`; returns CompletedProcess (text)."""
    cmd = [binary(), "-X", "heapsize=" + heap] + [str(a) for a in args]
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=device_env(extra_path, env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_code(code, **kw):
    """Run a snippet of device code; returns CompletedProcess."""
    return run(["-c", code], **kw)


def min_heap(args, lo=8, hi=256, **kw):
    """The smallest heap (KiB) at which `micropython <args>` exits 0: a peak-heap figure
    that includes fragmentation, which gc.mem_alloc() readings do not."""
    if run(args, heap="%dK" % hi, **kw).returncode:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if run(args, heap="%dK" % mid, **kw).returncode:
            lo = mid
        else:
            hi = mid
    return hi
