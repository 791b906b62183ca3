# Device-side test helper (MicroPython): a fresh littlefs flash image mounted at /flash,
# the same emulated ESP32 flash the unix board uses (boards/unix/flashdev.py).
import os

import flashdev
import vfs

TMP = os.getenv("TEST_TMP")


def mount(name="flash.img", blocks=512, fresh=True, cut_after=None):
    """Mount (formatting when fresh) an image in TEST_TMP at /flash; returns the device."""
    path = TMP + "/" + name
    if fresh:
        try:
            os.remove(path)
        except OSError:
            pass
    dev = flashdev.FlashImage(path, blocks=blocks, cut_after=cut_after)
    if fresh:
        vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), "/flash")
    return dev


def unmount():
    vfs.umount("/flash")


def remount(name="flash.img", blocks=512):
    unmount()
    return mount(name, blocks, fresh=False)
