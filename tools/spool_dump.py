"""Host tool (CPython): what a node's flash spool holds: backlog, counters, dead letters.

    python -m tools.spool_dump --image .sim/state/flash.img     # an emulated board's flash
    python -m tools.spool_dump --dir ./data                       # copied from a real board:
                                                                  #   mpremote cp -r :data .
Add --records to list every waiting reading. The format is in docs/spool.md.
"""

import argparse
import json
import shutil
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

from tools import unixport

RECORD = 16
REASONS = {1: "rejected", 2: "corrupt", 3: "unsendable",
           4: "undated (the time shown is an unset RTC's: its boot session never synced)",
           255: "tombstone"}

_EXTRACT = """
import flashdev, os, vfs
vfs.mount(vfs.VfsLfs2(flashdev.FlashImage(%r)), "/flash")
def copy(src, dst):
    for name, kind, _, _ in os.ilistdir(src):
        if kind == 0x4000:
            os.mkdir(dst + "/" + name)
            copy(src + "/" + name, dst + "/" + name)
        else:
            with open(src + "/" + name, "rb") as a, open(dst + "/" + name, "wb") as b:
                b.write(a.read())
copy("/flash/data", %r)
"""


def extract(image, dest):
    """Copy /flash/data out of a flash image (mounted by the unix port, on a copy)."""
    Path(dest).mkdir(parents=True, exist_ok=True)
    scratch = Path(dest) / "image.copy"
    shutil.copyfile(image, scratch)
    out = Path(dest) / "data"
    out.mkdir()
    res = unixport.run_code(_EXTRACT % (str(scratch), str(out)), heap="1M")
    if res.returncode:
        raise SystemExit("cannot read %s: %s" % (image, res.stdout + res.stderr))
    return out


def records(raw):
    """(sensor, flags, time, value, crc ok) for each whole record of `raw`."""
    for off in range(0, len(raw) - RECORD + 1, RECORD):
        sensor, flags, _, t, value, crc = struct.unpack_from("<BBHIfI", raw, off)
        yield sensor, flags, t, value, zlib.crc32(raw[off:off + 12]) == crc


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def describe(data, show_records=False, out=print):
    spool = data / "spool"
    try:
        names = json.loads((data / "sensors.json").read_text())
    except (OSError, ValueError):
        names = []

    def sensor(n):
        return (names[n][0] or names[n][1]) if n < len(names) else "#%d" % n

    cursor, counters = None, {}
    try:
        raw = (spool / "state").read_bytes()
        v = struct.unpack("<IIIIIII", raw)
        if v[0] == 0x53504C31 and zlib.crc32(raw[:24]) == v[6]:
            cursor = v[1]
            counters = {"dropped": v[3], "dead letters": v[4], "lost": v[5]}
    except (OSError, struct.error):
        pass
    out("state: %s" % ("cursor %d, %s" % (cursor, ", ".join(
        "%s %d" % kv for kv in counters.items())) if cursor is not None else "missing or corrupt"))
    waiting = []
    files = sorted((spool / "q").glob("[0-9a-f]" * 8)) if (spool / "q").exists() else []
    for f in files:
        first = int(f.name, 16)
        for i, rec in enumerate(records(f.read_bytes())):
            if cursor is None or first + i >= cursor:
                waiting.append(rec)
    out("waiting: %d readings in %d files" % (len(waiting), len(files)))
    if waiting:
        out("  oldest %s, newest %s" % (iso(waiting[0][2]), iso(waiting[-1][2])))
    if show_records:
        for s, flags, t, value, ok in waiting:
            out("  %s  %-20s %.7g%s" % (iso(t), sensor(s), value, "" if ok else "  CRC FAILED"))
    dead = []
    for name in ("dead.1", "dead"):
        p = spool / name
        if p.exists():
            dead.extend(records(p.read_bytes()))
    out("dead letters kept: %d" % len(dead))
    for s, flags, t, value, ok in dead:
        why = REASONS.get(flags, "?") if ok else "corrupt (CRC failed)"
        out("  %s  %-20s %-12.7g %s" % (iso(t), sensor(s), value, why))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="a flash image (the emulated board's state/flash.img)")
    src.add_argument("--dir", help="a node's data folder copied from the board")
    ap.add_argument("--records", action="store_true", help="list every waiting reading")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = extract(args.image, tmp) if args.image else Path(args.dir)
        describe(data, args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
