"""Host tool (CPython): put the built firmware on a board over its serial port, with mpremote.

    python -m tools.deploy --port /dev/ttyUSB0 [--board esp32|unix] [--dry-run]

Builds the device tree (tools/build.py: boot.py and main.py as source, the rest as .mpy,
lib/ under lib/), asks the board for the SHA-256 of every file it holds (computed on the
board, one round trip), copies only what differs, removes what an earlier deploy put
there and the tree no longer has, and resets the board. `data/` (the spool, the log) and
`config.json` are never touched: the list of deployed files is kept on the board in
`.deployed`, and only files in it are ever removed.

The board is found on the port by interrupting it (Ctrl-C) into its raw REPL; a node in
deep sleep does not answer: hold its safe-mode pin low while pressing reset, or give
--wait and press reset (the node is caught while its cycle runs). Since the node stops
at its REPL, every tool here resets the board when done (also when nothing changed), so
the node runs on; --no-reset leaves it at the REPL. --dry-run changes nothing on the
board, so it does not reset it either: the node waits at its REPL until reset.
The helpers here (probe, info, mpremote, finish) serve tools.provision and tools.monitor.
"""

import contextlib
import errno
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import serial

from tools import build, cli

MIN_VERSION = (1, 24)  # the oldest MicroPython the firmware is tested against
MPY_MAJOR = 6  # what mpy-cross 1.2x emits; a board must load it
MANIFEST = ".deployed"
PLATFORMS = {"esp32": "esp32", "linux": "unix"}  # sys.platform -> board
_RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
_LAST = ("boot.py", "main.py")  # copied last: a half deploy never runs new main.py on old code

# Runs on the board: a JSON line with what it is, then one line with the hash of each file
# asked for (one line for all of them could need more contiguous heap than a busy board has).
_INFO = """
import sys, os, json, hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = f.read(512)
    while b:
        h.update(b)
        b = f.read(512)
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _manifest():
    try:
        with open(%(manifest)r) as f:
            return [l for l in f.read().split('\\n') if l]
    except OSError:
        return []
def _fs():
    try:
        s = os.statvfs('.')
    except OSError:
        return None
    # f_bfree is littlefs's total minus its used-block estimate, an unsigned subtraction:
    # a full flash, whose estimate overshoots, gives 2**32-n (or -n on a 32-bit port)
    free = s[3] if 0 <= s[3] <= s[2] else 0
    return [s[0] * s[2], s[0] * free]
_m = _manifest()
_i = sys.implementation
_d = {'name': _i.name, 'version': list(_i.version[:3]), 'platform': sys.platform,
      'mpy': getattr(_i, '_mpy', 0), 'fs': _fs(), 'deployed': _m, 'root': os.listdir()}
try:
    import gc
    gc.collect()
    _d['heap_free'] = gc.mem_free()
except Exception:
    pass
print(json.dumps(_d))
for _p in set(%(paths)r + _m):
    print(json.dumps([_p, _h(_p)]))
"""


class DeviceError(cli.ToolError):
    """A problem with the board the user can act on: one line, exit status 1."""


# -- talking to the board --------------------------------------------------------------

def mpremote_exe():
    exe = Path(sys.executable).parent / "mpremote"
    return str(exe) if exe.exists() else "mpremote"


def mpremote(port, *commands, timeout=120):
    """Run `mpremote connect PORT resume COMMANDS...`; returns its stdout.

    `resume`: no soft reset first (the unix port would exit, and the board's state is
    what we came to see); the REPL is reached by interrupting whatever runs. mpremote
    waits for ever when a board stops answering mid-command, hence the timeout.
    """
    cmd = [mpremote_exe(), "connect", port, "resume", *commands]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeviceError("the board on %s stopped answering for %d s during `mpremote %s` "
                          "(did it reset?); run this again" % (port, timeout, commands[0])
                          ) from None
    if res.returncode:
        lines = (res.stderr or res.stdout).strip().splitlines() or ["exit %d" % res.returncode]
        raise DeviceError("mpremote failed: %s" % lines[-1])
    return res.stdout


def probe(port, wait=3.0):
    """Check that a MicroPython REPL answers on `port` within `wait` seconds.

    mpremote cannot tell a sleeping node from an absent one (it waits 10 s, then prints a
    traceback), so the port is tried here first, with errors that say what to do.
    """
    try:
        link = serial.Serial(port, 115200, timeout=0.05, exclusive=True)
    except serial.SerialException as e:
        raise DeviceError(open_problem(port, e)) from None
    try:
        heard = _answers(link, wait)
    finally:
        link.close()
    if heard is True:
        return
    what = "no answer on %s within %g s" % (port, wait)
    if heard:
        what = "%s printed %r but no MicroPython REPL answered within %g s" % (
            port, heard[-40:], wait)
    raise DeviceError(
        "%s: the node is probably in deep sleep (or MicroPython is not flashed: make flash). "
        "Press its reset button, then hold its safe-mode pin (config safe_mode_pin; the "
        "BOOT button on most boards) low within 1.5 s until SAFE MODE shows; then run "
        "this again" % what)


def _answers(link, wait):
    """True when the raw REPL answered, else the bytes heard (b"" for silence)."""
    heard = b""
    deadline = time.monotonic() + wait
    while True:
        link.write(b"\r\x03")  # interrupt whatever runs (the node's cycle too)
        time.sleep(0.05)
        link.write(b"\r\x01")  # and ask for the raw REPL
        round_end = min(deadline, time.monotonic() + 0.5)
        while time.monotonic() < round_end:
            heard += link.read(256)
            if _RAW_PROMPT in heard:
                link.write(b"\r\x02")  # back to the friendly REPL, as we found it
                return True
        if time.monotonic() >= deadline:
            return heard


def open_problem(port, e):
    code = getattr(e, "errno", None)
    text = str(e)
    if code == errno.ENOENT or "No such file" in text:
        return "no board on %s: the port does not exist (is the board plugged in?)" % port
    if code == errno.EACCES or "Permission denied" in text:
        return "no permission to open %s (add yourself to the dialout group)" % port
    if code == errno.EBUSY or "exclusively lock" in text or "busy" in text.lower():
        return "%s is busy: another program has it open (a monitor, mpremote, a terminal?)" % port
    return "cannot open %s: %s" % (port, text)


def info(port, paths=()):
    """What the board is, its filesystem, and the SHA-256 of each of `paths` (None: absent)."""
    return parse_info(mpremote(port, "exec", _INFO % {"manifest": MANIFEST,
                                                       "paths": list(paths)}))


def parse_info(out):
    """_INFO's output: the board's report, its "hashes" gathered from the lines after."""
    about, hashes = None, {}
    for line in out.splitlines():
        if line.startswith("{"):
            about, hashes = json.loads(line), {}
        elif line.startswith('["') and about is not None:
            path, digest = json.loads(line)
            hashes[path] = digest
    if about is None:
        raise DeviceError("the board did not report itself (got %r)" % out[-80:])
    about["hashes"] = hashes
    return about


def check_micropython(port, about, board=None):
    """Refuse a board that cannot run the firmware; returns the board name (esp32, unix)."""
    version = tuple(about["version"])
    if about["name"] != "micropython":
        raise DeviceError("%s runs %s, not MicroPython" % (port, about["name"]))
    if version < MIN_VERSION:
        raise DeviceError("%s runs MicroPython %s, too old: flash v%d.%d or newer "
                          "(make flash PORT=%s FIRMWARE=...)"
                          % (port, _dotted(version), *MIN_VERSION, port))
    if about["mpy"] & 0xFF != MPY_MAJOR:
        raise DeviceError("%s runs MicroPython %s, which loads .mpy version %d; the build "
                          "makes version %d: use a MicroPython and mpy-cross that agree"
                          % (port, _dotted(version), about["mpy"] & 0xFF, MPY_MAJOR))
    found = PLATFORMS.get(about["platform"])
    if found is None:
        raise DeviceError("the board on %s is %s; the firmware runs on %s"
                          % (port, about["platform"], ", ".join(sorted(PLATFORMS))))
    if board and board != found:
        raise DeviceError("the board on %s is %s, not %s" % (port, found, board))
    if about["fs"] is None:
        raise DeviceError("%s has no filesystem mounted (corrupt?): see its console. To format "
                          "it (data/ and config.json are lost), at its REPL: erase_filesystem() "
                          "with this firmware's frozen build, or with stock MicroPython: import "
                          "vfs, esp32; vfs.VfsLfs2.mkfs(esp32.Partition.find(esp32.Partition"
                          ".TYPE_DATA, label='vfs')[0])" % port)
    return found


def _dotted(version):
    return ".".join(str(v) for v in version)


# -- what to copy -----------------------------------------------------------------------

def protected(path):
    """The node's own files, which a deploy never writes nor removes."""
    return path in ("config.json", MANIFEST) or path == "data" or path.startswith("data/")


def local_tree(root):
    """{device path: sha256} of the files to deploy from the tree at `root`."""
    files = {}
    for f in sorted(Path(root).rglob("*")):
        rel = f.relative_to(root).as_posix()
        if f.is_file() and not protected(rel):
            files[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return files


class Plan:
    """What a deploy changes on the board."""

    def __init__(self, local, about):
        device = about["hashes"]
        self.new = [p for p in local if device.get(p) is None]
        self.changed = [p for p in local if device.get(p) not in (None, local[p])]
        self.unchanged = [p for p in local if device.get(p) == local[p]]
        self.stale = [p for p in about["deployed"]
                      if p not in local and not protected(p) and device.get(p) is not None]
        self.paths = list(local)
        self.manifest_ok = sorted(about["deployed"]) == sorted(local)

    @property
    def copies(self):
        return sorted(self.new + self.changed, key=lambda p: (p in _LAST, p))

    def empty(self):
        return not (self.copies or self.stale) and self.manifest_ok

    def show(self, out=print):
        for p in self.copies:
            out("copy    %s (%s)" % (p, "new" if p in self.new else "changed"))
        for p in self.stale:
            out("remove  %s (no longer in the build)" % p)


def commands(tree, plan):
    """The mpremote commands that carry out `plan`, in one session.

    The manifest first lists old and new files, so a deploy cut short still knows what
    it may remove next time; it is narrowed to the new list once the copies are done.
    """
    dirs = sorted({str(Path(p).parent.as_posix()) for p in plan.copies} - {"."})
    before = sorted(set(plan.paths) | set(plan.stale))
    cmds = ["exec", _SCRIPT_PREPARE % {"dirs": dirs, "manifest": MANIFEST, "files": before}]
    for p in plan.copies:
        cmds += ["+", "cp", "-f", str(Path(tree) / p), ":" + p]
    cmds += ["+", "exec", _SCRIPT_FINISH % {"stale": plan.stale, "manifest": MANIFEST,
                                            "files": sorted(plan.paths)}]
    return cmds


_SCRIPT_PREPARE = """
import os
for d in %(dirs)r:
    p = ''
    for part in d.split('/'):
        p += part
        try:
            os.mkdir(p)
        except OSError:
            pass
        p += '/'
with open(%(manifest)r, 'w') as f:
    f.write('\\n'.join(%(files)r) + '\\n')
"""

_SCRIPT_FINISH = """
import os
for p in %(stale)r:
    os.remove(p)
    d = p.rpartition('/')[0]
    while d:
        try:
            os.rmdir(d)
        except OSError:
            break
        d = d.rpartition('/')[0]
with open(%(manifest)r, 'w') as f:
    f.write('\\n'.join(%(files)r) + '\\n')
"""


def mip_package(board="esp32"):
    """The text of package.json, for `mpremote mip install ./package.json` in a clone
    (mpremote reads a local .json and the files it names, relative to it).

    mip writes each file under its target, /lib by default: lib/ goes there and the
    rest to the root ("../", which littlefs resolves). Sources, not .mpy: mip cannot
    compile, so the board does at import (`make deploy` is the lighter way).
    """
    urls = []
    for src, rel in build.sources(board):
        rel = rel.as_posix()
        if not rel.startswith("frozen/"):  # frozen into a custom build (manifest.py)
            dest = rel[len("lib/"):] if rel.startswith("lib/") else "../" + rel
            urls.append("    " + json.dumps([dest, src.relative_to(build.ROOT).as_posix()]))
    return '{\n  "urls": [\n%s\n  ],\n  "version": "0.1.0"\n}\n' % ",\n".join(urls)


# -- the command -----------------------------------------------------------------------

def deploy(port, board=None, tree=None, dry_run=False, wait=3.0, reset=True, out=print):
    """Bring the board on `port` up to date with the build; returns the Plan carried out."""
    probe(port, wait)
    with session(port, reset and not dry_run, out, "dry run" if dry_run else "--no-reset"):
        about = info(port)
        board = check_micropython(port, about, board)
        tree = Path(tree) if tree else build.build(board)
        local = local_tree(tree)
        plan = Plan(local, info(port, local))
        out("%s: MicroPython %s, %s board; %s in %s" % (
            port, _dotted(about["version"]), board, cli.count(len(local), "file"),
            cli.shown(tree)))
        plan.show(out)
        if dry_run:
            out("dry run: %d to copy, %d to remove, %d unchanged; nothing copied"
                % (len(plan.copies), len(plan.stale), len(plan.unchanged)))
        elif plan.empty():
            out("up to date: %s unchanged" % cli.count(len(plan.unchanged), "file"))
        else:
            mpremote(port, *commands(tree, plan))
            out("deployed: %d copied, %d removed, %d unchanged"
                % (len(plan.copies), len(plan.stale), len(plan.unchanged)))
    return plan


@contextlib.contextmanager
def session(port, reset=True, out=print, why="--no-reset"):
    """Work on a board whose node probe() stopped: restart it afterwards, after a
    failure too (the error then says where the board was left); `why` says why not."""
    try:
        yield
    except DeviceError as e:
        left = "the board is left at its REPL: reset it to start the node again"
        if reset:
            try:
                mpremote(port, "reset")
                left = "the board was reset: the node runs again"
            except DeviceError:
                pass  # the first error is the one to report; `left` says what happened
        raise DeviceError("%s; %s" % (e, left)) from None
    finish(port, reset, out, why)


def finish(port, reset=True, out=print, why="--no-reset"):
    """Every session stopped the node at its REPL: a reset starts it again."""
    if reset:
        mpremote(port, "reset")
        out("board reset: the node starts again")
    else:
        out("board left at its REPL (%s): reset it to start the node again" % why)


def main(argv=None):
    ap = cli.Parser(prog="deploy", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0")
    ap.add_argument("--board", choices=sorted(set(PLATFORMS.values())),
                    help="the build to deploy (default: what the board says it is)")
    ap.add_argument("--tree", type=cli.existing_dir,
                    help="deploy this prebuilt tree instead of building")
    ap.add_argument("--dry-run", action="store_true",
                    help="show what would change, change nothing (no reset either)")
    ap.add_argument("--wait", type=cli.positive_float, default=3.0,
                    help="seconds to keep trying to reach the REPL (default 3)")
    ap.add_argument("--no-reset", action="store_true", help="leave the board at its REPL")
    args = ap.parse_args(argv)

    def body():
        deploy(args.port, args.board, args.tree, args.dry_run, args.wait, not args.no_reset)
        return 0

    return cli.run_tool("deploy", body)


if __name__ == "__main__":
    sys.exit(main())
