"""Host tool (CPython): build a release for field updates (docs/updates.md).

The .mpy tree of `make deploy` (tools/build.py) without the boot part, and its
manifest.json: version, every file's path, SHA-256 and size, an optional settings
patch. Put the folder on any HTTPS static host and set update.manifest_url.

    python -m tools.release --version 1.4.0 [--board esp32] [--settings patch.json]
                            [--downgrade] [--out .release/1.4.0]

The manifest is checked with the node's own rules (lib/otamanifest.py) before it is
written: a tree the node would refuse is refused here.
"""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tools import build, cli, devicelib  # noqa: F401  (devicelib: lib/ on sys.path)

import otamanifest  # noqa: E402  (the node's own checks; plain Python)

ROOT = Path(__file__).resolve().parent.parent


def _version(text):
    if not otamanifest.parse_version(text):
        raise cli.argparse.ArgumentTypeError("expected x.y.z (each 0-999), got %r" % text)
    return text


def _settings(text):
    path = Path(text)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise cli.argparse.ArgumentTypeError("%s: %s" % (text, e))
    if type(doc) is not dict:
        raise cli.argparse.ArgumentTypeError("%s: expected a JSON object" % text)
    return doc


def release(version, board="esp32", settings=None, downgrade=False, out=None):
    """Build the release folder; returns (its path, the manifest)."""
    out = Path(out) if out else ROOT / ".release" / version
    tree = build.build(board, out=ROOT / ".build" / ("release-" + board))
    for need in ("node.mpy", "safemode.mpy", "lib/spool.mpy"):
        if not (tree / need).is_file():
            raise cli.ToolError("the build has no %s: not a release" % need)
    files = []
    for src in sorted(p for p in tree.rglob("*") if p.is_file()):
        rel = src.relative_to(tree).as_posix()
        if rel in otamanifest.BOOT_PART:
            continue
        data = src.read_bytes()
        files.append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(),
                      "size": len(data)})
    doc = {"version": version, "files": files}
    if downgrade:
        doc["downgrade"] = True
    if settings:
        doc["settings"] = settings
    why = otamanifest.check(doc, "0.0.0", ())
    text = json.dumps(doc, separators=(",", ":"))
    if not why and len(text) > otamanifest.MAX_BYTES:
        why = "manifest.json is %d bytes: the node reads at most %d" % (
            len(text), otamanifest.MAX_BYTES)
    if why:
        raise cli.BadInput(why)
    if out.exists():
        shutil.rmtree(out)
    for f in files:
        dest = out / f["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree / f["path"], dest)
    (out / "manifest.json").write_text(text)
    return out, doc


def recompile(folder, doc, path, source):
    """Replace the release file `path` with `source` (Python text) compiled, and its
    manifest entry: a release that differs from another by chosen files."""
    dest = Path(folder) / path
    src = dest.with_suffix(".py")
    src.write_text(source)
    try:
        res = subprocess.run([build.mpy_cross(), "-o", str(dest), "-s", src.name, str(src)],
                             capture_output=True, text=True)
    finally:
        src.unlink()
    if res.returncode:
        raise cli.BadInput("mpy-cross failed on %s: %s" % (path, res.stderr.strip()))
    data = dest.read_bytes()
    for f in doc["files"]:
        if f["path"] == path:
            f.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (Path(folder) / "manifest.json").write_text(json.dumps(doc, separators=(",", ":")))


def main(argv=None):
    ap = cli.Parser(prog="release", description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", required=True, type=_version, help="x.y.z")
    ap.add_argument("--board", default="esp32", choices=("esp32", "unix"))
    ap.add_argument("--settings", type=_settings, help="a JSON file: the settings patch")
    ap.add_argument("--downgrade", action="store_true", help="allow nodes on a newer version")
    ap.add_argument("--out", type=Path, help="the release folder (.release/VERSION)")
    args = ap.parse_args(argv)

    def body():
        out, doc = release(args.version, args.board, args.settings, args.downgrade, args.out)
        size = sum(f["size"] for f in doc["files"])
        print("release %s: %s, %d bytes, in %s" % (
            args.version, cli.count(len(doc["files"]), "file"), size, cli.shown(out)))
        return 0

    return cli.run_tool("release", body)


if __name__ == "__main__":
    sys.exit(main())
