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
"""

import hashlib
import json
import sys
from pathlib import Path

from tools import build, cli, session
from tools.session import MANIFEST, DeviceError

MIN_VERSION = (1, 24)  # the oldest MicroPython the firmware is tested against
MPY_MAJOR = 6  # what mpy-cross 1.2x emits; a board must load it
PLATFORMS = {"esp32": "esp32", "linux": "unix"}  # sys.platform -> board
# A field update's pointer (docs/updates.md): while it is there the node runs its slot,
# not what a deploy writes, so a deploy removes it
POINTER = "ota/boot.json"
_LAST = ("boot.py", "main.py")  # copied last: a half deploy never runs new main.py on old code


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
        self.pointer = device.get(POINTER) is not None
        self.manifest_ok = sorted(about["deployed"]) == sorted(local)

    @property
    def copies(self):
        return sorted(self.new + self.changed, key=lambda p: (p in _LAST, p))

    def empty(self):
        return not (self.copies or self.stale or self.pointer) and self.manifest_ok

    def show(self, out=print):
        for p in self.copies:
            out("copy    %s (%s)" % (p, "new" if p in self.new else "changed"))
        for p in self.stale:
            out("remove  %s (no longer in the build)" % p)
        if self.pointer:
            out("remove  %s (a field update's pointer: the deployed code runs, not its slot)"
                % POINTER)


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
    gone = plan.stale + [POINTER] * plan.pointer
    cmds += ["+", "exec", _SCRIPT_FINISH % {"stale": gone, "manifest": MANIFEST,
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
    session.probe(port, wait)
    with session.at_repl(port, reset and not dry_run, out, "dry run" if dry_run else "--no-reset"):
        about = session.info(port)
        board = check_micropython(port, about, board)
        tree = Path(tree) if tree else build.build(board)
        local = local_tree(tree)
        plan = Plan(local, session.info(port, list(local) + [POINTER]))
        out("%s: MicroPython %s, %s board; %s in %s" % (
            port, _dotted(about["version"]), board, cli.count(len(local), "file"),
            cli.shown(tree)))
        plan.show(out)
        if dry_run:
            out("dry run: %d to copy, %d to remove, %d unchanged; nothing copied"
                % (len(plan.copies), len(plan.stale) + plan.pointer, len(plan.unchanged)))
        elif plan.empty():
            out("up to date: %s unchanged" % cli.count(len(plan.unchanged), "file"))
        else:
            session.mpremote(port, *commands(tree, plan))
            out("deployed: %d copied, %d removed, %d unchanged"
                % (len(plan.copies), len(plan.stale) + plan.pointer, len(plan.unchanged)))
    return plan


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
