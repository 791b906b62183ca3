"""Host tool (CPython): what a node's flash spool holds: backlog, counters, dead letters.

    python -m tools.spool_dump --image .sim/state/flash.img     # an emulated board's flash
    python -m tools.spool_dump --dir private/data                 # copied from a real board:
        # mpremote connect PORT resume cp -r :data private/  (private/ is git-ignored: data/
        # holds config.cache, with the token)
Add --records to list every waiting reading. The format is in docs/spool.md. Exit
status 0; 1 when the image is damaged (what could be read is shown) or unreadable; 2
for a wrong argument.
"""

import collections
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tools import cli, devicelib  # noqa: F401  (devicelib: lib/ on sys.path)
from tools.dev import unixport

import clock  # noqa: E402  (node seconds, as records hold them, to Unix seconds)
import record  # noqa: E402  (the spool's record and state formats, as the node writes them)
import spoolstate  # noqa: E402

REASONS = {record.REJECTED: "rejected", record.CORRUPT: "corrupt",
           record.UNSENDABLE: "unsendable",
           record.UNDATED: "undated (the time shown is an unset RTC's: its boot session never synced)",
           record.LOST: "tombstone"}

# Runs on the unix port: copies what it can read and says, one tagged line each, what
# it cannot (a damaged flash is when this tool is needed most).
_EXTRACT = """
import flashdev, os, vfs
try:
    vfs.mount(vfs.VfsLfs2(flashdev.FlashImage(%r)), "/flash")
except OSError as e:
    print("@@MOUNT", e.args[0])
    raise SystemExit
def copy(src, dst):
    try:
        entries = list(os.ilistdir(src))
    except OSError as e:
        print("@@UNREADABLE", src[7:], e.args[0])
        return
    for e in entries:
        name = e[0]
        try:
            if e[1] == 0x4000:
                os.mkdir(dst + "/" + name)
                copy(src + "/" + name, dst + "/" + name)
            else:
                with open(src + "/" + name, "rb") as a, open(dst + "/" + name, "wb") as b:
                    b.write(a.read())
        except OSError as e:
            print("@@UNREADABLE", src[7:] + "/" + name, e.args[0])
try:
    os.stat("/flash/data")
except OSError:
    print("@@NODATA")
    raise SystemExit
copy("/flash/data", %r)
"""


def extract(image, dest, warn=None):
    """Copy /flash/data out of a flash image (mounted by the unix port, on a copy).

    A file the image's littlefs cannot give back is left out and named to `warn`."""
    Path(dest).mkdir(parents=True, exist_ok=True)
    scratch = Path(dest) / "image.copy"
    shutil.copyfile(image, scratch)
    out = Path(dest) / "data"
    out.mkdir()
    try:
        res = unixport.run_code(_EXTRACT % (str(scratch), str(out)), heap="1M")
    except RuntimeError as e:  # no unix port
        raise cli.ToolError(str(e)) from None
    tags = [line.split() for line in res.stdout.splitlines() if line.startswith("@@")]
    if ["@@NODATA"] in tags:
        raise cli.ToolError("%s has no readable data/ folder: the node never ran on this "
                            "flash, or the flash is damaged" % image)
    for tag in tags:
        if tag[0] == "@@MOUNT":
            raise cli.ToolError("%s is not a readable littlefs flash image (error %s: damaged, "
                                "never formatted, or not a flash image)" % (image, tag[1]))
    if res.returncode:
        last = (res.stdout + res.stderr).strip().splitlines() or ["exit %d" % res.returncode]
        raise cli.ToolError("cannot read %s: %s" % (image, last[-1]))
    damaged = [tag[1] for tag in tags if tag[0] == "@@UNREADABLE"]
    if damaged and warn:
        warn("%s is damaged: cannot read %s; what could be read follows"
             % (image, ", ".join(damaged)))
    return out


def records(raw):
    """(sensor, flags, Unix time, value, crc ok) for each whole record of `raw`."""
    for i in range(len(raw) // record.RECORD):
        yield (record.sensor(raw, i), record.flags(raw, i), record.time_of(raw, i) + clock.EPOCH,
               record.value(raw, i), record.intact(raw, i))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def describe(data, show_records=False, out=print):
    spool = data / "spool"
    try:
        names = json.loads((data / "sensors.json").read_text())
    except (OSError, ValueError):
        names = []

    def sensor(n):
        try:
            return str(names[n][0] or names[n][1])
        except (IndexError, KeyError, TypeError):  # not as the node writes it
            return "#%d" % n

    cursor, counters = None, {}
    state = spoolstate.read(str(spool / "state"))
    if state:
        cursor = state[0]
        counters = {"dropped": state[2], "dead letters": state[3], "lost": state[4]}
    out("state: %s" % ("cursor %d, %s" % (cursor, ", ".join(
        "%s %d" % kv for kv in counters.items())) if cursor is not None else "missing or corrupt"))
    waiting = []
    files = sorted((spool / "q").glob("[0-9a-f]" * 8)) if (spool / "q").exists() else []
    for f in files:
        first = int(f.name, 16)
        for i, rec in enumerate(records(f.read_bytes())):
            if cursor is None or first + i >= cursor:
                waiting.append(rec)
    out("waiting: %s in %s" % (cli.count(len(waiting), "reading"), cli.count(len(files), "file")))
    if waiting:
        out("  oldest %s, newest %s" % (iso(waiting[0][2]), iso(waiting[-1][2])))
    if show_records:
        for s, flags, t, value, ok in waiting:
            out("  %s  %-20s %.7g%s" % (iso(t), sensor(s), value, "" if ok else "  CRC FAILED"))
    parked = list(records((spool / "parked").read_bytes())) if (spool / "parked").exists() else []
    by_sensor = collections.Counter(sensor(rec[0]) for rec in parked)
    out("parked (their sensor unknown to the server at the last try): %s"
        % cli.count(len(parked), "reading"))
    for name, n in sorted(by_sensor.items()):
        out("  %-20s %d" % (name, n))
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
    ap = cli.Parser(prog="spool_dump", description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", type=cli.existing_file,
                     help="a flash image (the emulated board's state/flash.img)")
    src.add_argument("--dir", type=cli.existing_dir,
                     help="a node's data folder copied from the board")
    ap.add_argument("--records", action="store_true", help="list every waiting reading")
    args = ap.parse_args(argv)

    def body():
        damaged = []

        def warn(text):
            damaged.append(text)
            print("spool_dump: " + text, file=sys.stderr)

        with tempfile.TemporaryDirectory() as tmp:
            data = extract(args.image, tmp, warn) if args.image else args.dir
            if not (data / "spool").is_dir():
                raise cli.BadInput("%s has no spool/ folder: give the data/ folder copied from "
                                   "the board" % data)
            describe(data, args.records)
        return 1 if damaged else 0

    return cli.run_tool("spool_dump", body)


if __name__ == "__main__":
    sys.exit(main())
