"""Console log lines, with warnings and errors also kept in a small file on flash.

Info lines go to the console only: writing them to flash every cycle would cost an
erase per cycle. The file is rotated at MAX_BYTES, so it never fills the flash; when
something else has, the older lines make room for the newest (log.txt.1, then log.txt
itself): a full flash is when the log matters most.
"""

import os

from micropython import const

import clock

MAX_BYTES = const(8192)
_ENOSPC = const(28)  # littlefs "no space"; MicroPython's errno module has no ENOSPC
_now = None
_path = None


def setup(now, path=None):
    """`now()` gives Unix seconds for stamps; `path` is the flash log file (optional)."""
    global _now, _path
    _now = now
    _path = path


def _line(level, msg):
    try:
        stamp = clock.iso(_now())
    except Exception:  # no clock (or a broken one) must not silence the log
        stamp = "-"
    return "%s %s %s" % (stamp, level, msg)


def count(n, noun):
    """'no readings', '1 reading', '2 readings': a count in the console's words."""
    return "%s %s%s" % (n or "no", noun, "" if n == 1 else "s")


def info(msg):
    print(_line("INFO", msg))


def warn(msg):
    _keep(_line("WARN", msg))


def error(msg):
    _keep(_line("ERROR", msg))


def _keep(line):
    print(line)
    path = _path
    if not path:
        return
    for spare in (path + ".1", path, None):
        try:
            _append(path, line)
            return
        except OSError as e:
            if e.args[0] != _ENOSPC or spare is None:
                print("log: cannot write %s: %s" % (path, e))
                return
        try:
            os.remove(spare)
        except OSError:
            pass


def _append(path, line):
    try:
        if os.stat(path)[6] > MAX_BYTES:
            os.rename(path, path + ".1")
    except OSError:
        pass
    with open(path, "a") as f:
        f.write(line)
        f.write("\n")
