"""A session with a board at its raw REPL, over a serial port (or the virtual board's pty).

`probe` finds the board by interrupting it (Ctrl-C) into its raw REPL; a node in deep
sleep does not answer. `info` runs one script on the board that reports what it is and
the SHA-256 of the files asked for, one line each. `mpremote` runs any other command.
Since the node stops at its REPL, `at_repl` resets the board when the work is done (after
a failure too), so the node runs on. deploy, provision (config) and monitor (logs) use it.
"""

import contextlib
import errno
import json
import subprocess
import sys
import time
from pathlib import Path

import serial

from tools import cli

MANIFEST = ".deployed"  # the board's list of the files a deploy put there
_RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


class DeviceError(cli.ToolError):
    """A problem with the board the user can act on: one line, exit status 1."""


# Runs on the board: a JSON line with what it is, then one line with the hash of each file
# asked for (one line for all of them could need more contiguous heap than a busy board has).
_INFO = """
import sys, os, json, hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = f.read(512)
    while b:
        h.update(b)
        b = f.read(512)
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _manifest():
    try:
        with open(%(manifest)r) as f:
            return [l for l in f.read().split('\\n') if l]
    except OSError:
        return []
def _fs():
    try:
        s = os.statvfs('.')
    except OSError:
        return None
    # f_bfree is littlefs's total minus its used-block estimate, an unsigned subtraction:
    # a full flash, whose estimate overshoots, gives 2**32-n (or -n on a 32-bit port)
    free = s[3] if 0 <= s[3] <= s[2] else 0
    return [s[0] * s[2], s[0] * free]
_m = _manifest()
_i = sys.implementation
_d = {'name': _i.name, 'version': list(_i.version[:3]), 'platform': sys.platform,
      'mpy': getattr(_i, '_mpy', 0), 'fs': _fs(), 'deployed': _m, 'root': os.listdir()}
try:
    import gc
    gc.collect()
    _d['heap_free'] = gc.mem_free()
except Exception:
    pass
print(json.dumps(_d))
for _p in set(%(paths)r + _m):
    print(json.dumps([_p, _h(_p)]))
"""


# -- talking to the board --------------------------------------------------------------

def mpremote_exe():
    exe = Path(sys.executable).parent / "mpremote"
    return str(exe) if exe.exists() else "mpremote"


def mpremote(port, *commands, timeout=120):
    """Run `mpremote connect PORT resume COMMANDS...`; returns its stdout.

    `resume`: no soft reset first (the unix port would exit, and the board's state is
    what we came to see); the REPL is reached by interrupting whatever runs. mpremote
    waits for ever when a board stops answering mid-command, hence the timeout.
    """
    cmd = [mpremote_exe(), "connect", port, "resume", *commands]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeviceError("the board on %s stopped answering for %d s during `mpremote %s` "
                          "(did it reset?); run this again" % (port, timeout, commands[0])
                          ) from None
    if res.returncode:
        lines = (res.stderr or res.stdout).strip().splitlines() or ["exit %d" % res.returncode]
        raise DeviceError("mpremote failed: %s" % lines[-1])
    return res.stdout


def probe(port, wait=3.0):
    """Check that a MicroPython REPL answers on `port` within `wait` seconds.

    mpremote cannot tell a sleeping node from an absent one (it waits 10 s, then prints a
    traceback), so the port is tried here first, with errors that say what to do.
    """
    try:
        link = serial.Serial(port, 115200, timeout=0.05, exclusive=True)
    except serial.SerialException as e:
        raise DeviceError(open_problem(port, e)) from None
    try:
        heard = _answers(link, wait)
    finally:
        link.close()
    if heard is True:
        return
    what = "no answer on %s within %g s" % (port, wait)
    if heard:
        what = "%s printed %r but no MicroPython REPL answered within %g s" % (
            port, heard[-40:], wait)
    raise DeviceError(
        "%s: the node is probably in deep sleep (or MicroPython is not flashed: make flash). "
        "Press its reset button, then hold its safe-mode pin (config safe_mode_pin; the "
        "BOOT button on most boards) low within 1.5 s until SAFE MODE shows; then run "
        "this again" % what)


def _answers(link, wait):
    """True when the raw REPL answered, else the bytes heard (b"" for silence)."""
    heard = b""
    deadline = time.monotonic() + wait
    while True:
        link.write(b"\r\x03")  # interrupt whatever runs (the node's cycle too)
        time.sleep(0.05)
        link.write(b"\r\x01")  # and ask for the raw REPL
        round_end = min(deadline, time.monotonic() + 0.5)
        while time.monotonic() < round_end:
            heard += link.read(256)
            if _RAW_PROMPT in heard:
                link.write(b"\r\x02")  # back to the friendly REPL, as we found it
                return True
        if time.monotonic() >= deadline:
            return heard


def open_problem(port, e):
    code = getattr(e, "errno", None)
    text = str(e)
    if code == errno.ENOENT or "No such file" in text:
        return "no board on %s: the port does not exist (is the board plugged in?)" % port
    if code == errno.EACCES or "Permission denied" in text:
        return "no permission to open %s (add yourself to the dialout group)" % port
    if code == errno.EBUSY or "exclusively lock" in text or "busy" in text.lower():
        return "%s is busy: another program has it open (a monitor, mpremote, a terminal?)" % port
    return "cannot open %s: %s" % (port, text)


def info(port, paths=()):
    """What the board is, its filesystem, and the SHA-256 of each of `paths` (None: absent)."""
    return parse_info(mpremote(port, "exec", _INFO % {"manifest": MANIFEST,
                                                       "paths": list(paths)}))


def parse_info(out):
    """_INFO's output: the board's report, its "hashes" gathered from the lines after."""
    about, hashes = None, {}
    for line in out.splitlines():
        if line.startswith("{"):
            about, hashes = json.loads(line), {}
        elif line.startswith('["') and about is not None:
            path, digest = json.loads(line)
            hashes[path] = digest
    if about is None:
        raise DeviceError("the board did not report itself (got %r)" % out[-80:])
    about["hashes"] = hashes
    return about

@contextlib.contextmanager
def at_repl(port, reset=True, out=print, why="--no-reset"):
    """Work on a board whose node probe() stopped at its REPL: reset it afterwards (unless
    not `reset`; `why` says why not), after a failure too, the error then saying where
    the board was left."""
    try:
        yield
    except DeviceError as e:
        left = "the board is left at its REPL: reset it to start the node again"
        if reset:
            try:
                mpremote(port, "reset")
                left = "the board was reset: the node runs again"
            except DeviceError:
                pass  # the first error is the one to report; `left` says what happened
        raise DeviceError("%s; %s" % (e, left)) from None
    finish(port, reset, out, why)


def finish(port, reset=True, out=print, why="--no-reset"):
    """Every session stopped the node at its REPL: a reset starts it again."""
    if reset:
        mpremote(port, "reset")
        out("board reset: the node starts again")
    else:
        out("board left at its REPL (%s): reset it to start the node again" % why)
