# Frozen in place of the ESP32 port's _boot.py (see manifest.py): mount the filesystem;
# format it only when it is blank (first boot). A filesystem that does not mount is
# never erased behind the user's back: the stock _boot.py would loop for ever printing
# a warning; this one says what happened and leaves the REPL reachable, where
# erase_filesystem() formats it once the user has decided to.
import gc

import vfs
from flashbdev import bdev


def _blank():
    """Never formatted: blocks 0 and 1, where littlefs keeps its superblock pair, are
    still wholly erased (0xFF); one cut short mid-compaction is not blank."""
    size = bdev.ioctl(5, 0)  # the block size
    buf = bytearray(256)
    ff = b"\xff" * len(buf)
    for block in (0, 1):
        for off in range(0, size, len(buf)):
            bdev.readblocks(block, buf, off)
            if buf != ff:
                return False
    return True


def _format():
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), "/")


def erase_filesystem():
    """Format the filesystem: every file on it (firmware, config.json, data/) is lost."""
    try:
        vfs.umount("/")
    except OSError:
        pass
    _format()
    print("Formatted. Put the firmware and the config back: make deploy, make config.")


if bdev:
    try:
        vfs.mount(bdev, "/")
    except OSError as e:
        if _blank():
            print("Blank flash: formatting the filesystem (first boot)")
            _format()
        else:
            print("""
*** The filesystem does not mount (%r): it is corrupt. ***
Nothing was erased, and boot.py and main.py will not run from it.
- To save what is left first, read the flash with esptool (read-flash).
- To start again, type  erase_filesystem()  here: it formats the filesystem
  (firmware, config.json and the unsent readings in data/ are lost); then
  make deploy PORT=... and make config PORT=...
""" % e)

gc.collect()
