# The emulated chip reset: what the ESP32 firmware does at power-on or wake.
# Its frozen _boot.py mounts littlefs (formatting a blank flash), then runs boot.py
# and main.py from it. Here the flash is an image file in the state folder.
import os
import sys

# Run as a script, this file puts its folder (the board's sources) first on sys.path: the
# board's modules would be compiled from source in the node's heap at every wake. A
# flashed board has them as .mpy, and so does the build on MICROPYPATH.
sys.path.pop(0)

import flashdev  # noqa: E402
import vfs  # noqa: E402

_state = os.getenv("SENSOCAN_STATE") or "state"
_flash = flashdev.FlashImage(_state + "/flash.img")
try:
    _fs = vfs.VfsLfs2(_flash)
except OSError:
    if not _flash.blank():
        raise OSError("flash image is not littlefs and not blank: %s/flash.img" % _state)
    vfs.VfsLfs2.mkfs(_flash)
    _fs = vfs.VfsLfs2(_flash)
vfs.mount(_fs, "/flash")
del _fs, _state

# As on the ESP32 (ports/esp32/main.c, pyexec_file): boot.py, then main.py only when
# boot.py succeeded, both compiled from source and run in this one namespace (main.py sees
# boot.py's names, as on the chip); a failure is printed and the REPL left.


def _run(name):
    for d in sys.path:
        try:
            f = open(d + "/" + name)
        except OSError:
            continue
        with f:
            code = compile(f.read(), name, "exec")  # the text is not kept, only the code
        exec(code, globals())
        return


try:
    _run("boot.py")
except Exception as e:
    sys.print_exception(e)
    os.putenv("MICROPYINSPECT", "1")
else:
    _run("main.py")
