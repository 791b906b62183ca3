"""Stage a release's files into a slot folder: each file whole and verified, or absent.

A file is written to <path>.part and renamed to its name only once its size and
SHA-256 match the manifest, so a cut leaves verified files and a .part at most; the
next staging keeps the verified ones (a resume). Everything streams through one
512-byte buffer: RAM does not grow with a file's size.
"""

import hashlib
import os
from binascii import hexlify

from micropython import const

_BUF = const(512)
MARGIN = const(16384)  # free flash left over after staging: the spool and the log go on


def _hex(h):
    return hexlify(h.digest()).decode()


class Sink:
    """A download into `path`: hashes and counts as it writes; refuses to go past `size`."""

    def __init__(self, path, size):
        self.f = open(path, "wb")
        self.h = hashlib.sha256()
        self.n = 0
        self.size = size

    def __call__(self, buf, start, end):
        self.n += end - start
        if self.n <= self.size:
            mv = memoryview(buf)[start:end]
            self.f.write(mv)
            self.h.update(mv)

    def close(self):
        self.f.close()


class Stager:
    def __init__(self, slot, running):
        """`slot`: the staging folder; `running`: the running set's root folder."""
        self.slot = slot
        self.running = running
        self.buf = bytearray(_BUF)
        self.fetched = 0  # bytes downloaded
        self.files = 0  # files downloaded

    def sha(self, path):
        """The file's SHA-256 as hex, None when it cannot be read."""
        h = hashlib.sha256()
        buf = self.buf
        try:
            with open(path, "rb") as f:
                while n := f.readinto(buf):
                    h.update(memoryview(buf)[:n])
        except OSError:
            return None
        return _hex(h)

    def plan(self, files):
        """[(file, how)] with how "keep" (already staged), "copy" (same in the running
        set) or "get" (download); and the bytes still to write."""
        out = []
        need = 0
        for f in files:
            p, digest = f["path"], f["sha256"]
            if self.sha(self.slot + "/" + p) == digest:
                how = "keep"
            else:
                how = "copy" if self.sha(self.running + "/" + p) == digest else "get"
                need += f["size"]
            out.append((f, how))
        return out, need

    def room(self, need):
        """None when the flash has `need` bytes free and MARGIN more, else why not."""
        s = os.statvfs(self.slot)
        free = s[0] * s[4]
        if free < need + MARGIN:
            return "%d bytes free on flash, %d needed (and %d spare)" % (free, need, MARGIN)
        return None

    def prepare(self, files):
        """Create the slot and its folders; remove what the release does not list."""
        keep = {f["path"] for f in files}
        dirs = {""}
        for p in keep:
            parts = p.split("/")[:-1]
            for i in range(len(parts)):
                dirs.add("/".join(parts[: i + 1]))
        for d in sorted(dirs):
            try:
                os.mkdir(self.slot + ("/" + d if d else ""))
            except OSError:
                pass
        self._prune("", keep, dirs)

    def _prune(self, d, keep, dirs):
        base = self.slot + ("/" + d if d else "")
        for name, kind, *_ in os.ilistdir(base):
            rel = d + "/" + name if d else name
            if kind == 0x4000:
                if rel in dirs:
                    self._prune(rel, keep, dirs)
                    continue
                self._prune(rel, (), ())
                os.rmdir(base + "/" + name)
            elif rel not in keep:
                os.remove(base + "/" + name)

    def copy(self, f):
        """Copy a file of the running set; None when it arrived whole, else why not."""
        part = self.slot + "/" + f["path"] + ".part"
        out = Sink(part, f["size"])
        buf = self.buf
        try:
            with open(self.running + "/" + f["path"], "rb") as src:
                while n := src.readinto(buf):
                    out(buf, 0, n)
        finally:
            out.close()
        return self.finish(f, out)

    def finish(self, f, sink):
        """Rename a verified .part to its name; a wrong one is removed."""
        part = self.slot + "/" + f["path"] + ".part"
        why = None
        if sink.n != f["size"]:
            why = "%s: %d bytes, the manifest says %d" % (f["path"], sink.n, f["size"])
        elif _hex(sink.h) != f["sha256"]:
            why = "%s: wrong SHA-256" % f["path"]
        if why:
            self.drop(f)
            return why
        os.rename(part, self.slot + "/" + f["path"])
        return None

    def drop(self, f):
        os.remove(self.slot + "/" + f["path"] + ".part")
