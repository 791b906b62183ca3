"""A release's manifest.json, checked before anything is downloaded (docs/updates.md).

check() returns the one line that says why a manifest is refused, or None: the node
logs it and changes nothing.
"""

try:
    from micropython import const
except ImportError:  # CPython: tools/release.py checks what it writes with this same code
    def const(x):
        return x

MAX_BYTES = const(8192)
MAX_FILES = const(96)
MAX_FILE_BYTES = const(131072)
# the boot part (otaboot.py): never part of a release, whatever the release says
BOOT_PART = ("boot.py", "main.py", "otaboot.mpy", "otastart.mpy", "otatrial.mpy", "board.mpy")
# what a settings patch may change: never api (the token) nor wifi (the password)
SETTINGS = ("sample_interval_s", "upload_interval_s", "sensors", "upload", "spool",
            "power_bands")
_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_./-"
_HEX = "0123456789abcdef"


def parse_version(v):
    """(x, y, z) of "x.y.z", each 0-999; None when it is not one."""
    if type(v) is not str:
        return None
    parts = v.split(".")
    if len(parts) != 3:
        return None
    out = []
    for p in parts:
        if not (0 < len(p) <= 3 and p.isdigit()) or (len(p) > 1 and p[0] == "0"):
            return None
        out.append(int(p))
    return tuple(out)


def _bad_path(p):
    if type(p) is not str or not 0 < len(p) <= 64 or not p.endswith(".mpy"):
        return True
    if p.startswith("/") or "//" in p or ".." in p or p in BOOT_PART:
        return True
    for c in p:
        if c not in _PATH_CHARS:
            return True
    return False


def _bad_hash(h):
    if type(h) is not str or len(h) != 64:
        return True
    for c in h:
        if c not in _HEX:
            return True
    return False


def check(doc, running, refused):
    """None when `doc` (parsed JSON) is a release this node may stage over version
    `running`, else why not; `refused` lists versions rolled back before."""
    if type(doc) is not dict:
        return "manifest: not an object"
    for k in doc:
        if k not in ("version", "downgrade", "files", "settings"):
            return "manifest: unknown field %r" % k
    v = parse_version(doc.get("version"))
    if not v:
        return "manifest: version must be \"x.y.z\", got %r" % (doc.get("version"),)
    down = doc.get("downgrade", False)
    if type(down) is not bool:
        return "manifest: downgrade must be true or false"
    have = parse_version(running) or (0, 0, 0)
    if v <= have and not down:
        return "%s is not newer than the running %s (a downgrade must say \"downgrade\": true)" % (
            doc["version"], running)
    if doc["version"] in refused:
        return "%s was refused or rolled back before: not tried again" % doc["version"]
    files = doc.get("files")
    if type(files) is not list or not 0 < len(files) <= MAX_FILES:
        return "manifest: files must list 1 to %d files" % MAX_FILES
    seen = set()
    for i, f in enumerate(files):
        if type(f) is not dict or sorted(f) != ["path", "sha256", "size"]:
            return "manifest: files[%d] must be {path, sha256, size}" % i
        if _bad_path(f["path"]) or f["path"] in seen:
            return "manifest: files[%d].path %r is not allowed" % (i, f["path"])
        seen.add(f["path"])
        if _bad_hash(f["sha256"]):
            return "manifest: files[%d].sha256 is not 64 lower-case hex digits" % i
        n = f["size"]
        if type(n) is not int or not 0 <= n <= MAX_FILE_BYTES:
            return "manifest: files[%d] (%s) is %r bytes: at most %d" % (
                i, f["path"], n, MAX_FILE_BYTES)
    s = doc.get("settings")
    if s is not None:
        if type(s) is not dict:
            return "manifest: settings must be an object"
        for k in s:
            if k not in SETTINGS:
                return "settings patch refused: %r may not travel in a release" % k
    return None
