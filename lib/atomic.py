"""Replace a file whole or not at all: write a sibling, then rename it over the old one.

littlefs renames atomically, so a power cut leaves the old file or the new one, never a
mix or a half-written file under the real name."""

import json
import os


def write(path, data, n=None):
    """Replace `path` with `data` (its first `n` bytes when given)."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data) if n is None else f.write(data, n)
    os.rename(tmp, path)


def dump(path, obj):
    """Replace `path` with `obj` as JSON."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)
