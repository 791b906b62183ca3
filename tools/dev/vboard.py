"""Host tool (CPython): a virtual board on a pseudo-terminal, for mpremote and tools.deploy.

The MicroPython unix port plays the chip and a small relay plays its USB-serial bridge:
the relay owns a pty whose other end is the board's serial port, and runs the
`micropython` binary on a second pty of its own. Real `mpremote` then works unchanged:

    python -m tools.dev.vboard --state DIR [--speed X]      # prints the port, e.g. DIR/tty
    mpremote connect DIR/tty resume exec "import os; print(os.listdir())"

The board's filesystem is the emulated flash of boards/unix: a littlefs image
(DIR/flash.img, 512 blocks of 4 KiB) mounted at /flash, with the working directory
there, so `mpremote cp main.py :main.py` and `:lib/...`, `:data/...` land in the image
exactly where they land at the root of an ESP32. The world of tools/dev/sim.py applies
(DIR/world.json: link up or down, safe-mode pin, ADC volts), and DIR/console.log keeps
everything the board printed.

How the unix port was made to pass for a board over a serial line, and why each
piece is there: docs/testing.md, "Inside the virtual board".
"""

import ctypes
import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

from tools import build, cli
from tools.dev import sim, unixport

_ROM_BOOT = '''\
# The virtual board's boot ROM (written by tools/dev/vboard.py): what an ESP32 does at reset.
# Top-level code that deletes what it no longer needs: the node's heap is tight.
import os
import sys
import vfs

import flashdev

_flash = flashdev.FlashImage(os.getenv("SENSOCAN_STATE") + "/flash.img")
try:
    _fs = vfs.VfsLfs2(_flash)
except OSError:
    _fs = None
    if _flash.blank():
        vfs.VfsLfs2.mkfs(_flash)
        _fs = vfs.VfsLfs2(_flash)
if _fs:
    vfs.mount(_fs, "/flash")
    os.chdir("/flash")
_fs = "flash mounted at /flash" if _fs else "flash neither littlefs nor blank: NOT MOUNTED"
sys.path[:] = ["", ".frozen", sys.path[0], "/flash/lib"]  # sys.path[0]: this ROM's folder
# As on the ESP32: boot.py, then main.py unless boot.py failed or the reset came from the
# raw REPL; an error is printed, sys.exit() ends the run (a reset), else the REPL follows.
# The first output opens the relay's gate: from then on a Ctrl-C only leads to the REPL.
try:
    print("[vboard] %s reset, %s" % (os.getenv("SENSOCAN_RESET_CAUSE"), _fs))
    del _fs
    # both compiled from source and run in this one namespace (pyexec_file): main.py sees
    # boot.py's names, and the REPL after them both, as on the chip
    for _name in ("boot.py", "main.py") if not os.getenv("VBOARD_RAW") else ("boot.py",):
        try:
            with open(_name) as _f:
                _f = compile(_f.read(), _name, "exec")  # the text is not kept, only the code
        except OSError:
            continue
        try:
            exec(_f, globals())
        except SystemExit:
            raise
        except BaseException as e:
            sys.print_exception(e)
            break
except KeyboardInterrupt:  # a Ctrl-C outside boot.py and main.py: the REPL all the same
    pass
os.putenv("MICROPYINSPECT", "1")
'''

_ROM_MACHINE = '''\
# The unix port's machine module plus the reset() of a real board (tools/dev/vboard.py).
from umachine import *  # noqa: F403


def reset():
    with open(__import__("os").getenv("SENSOCAN_STATE") + "/sleep", "w") as f:
        f.write("hard")
    raise SystemExit
'''

_RAW_BANNER = b"raw REPL; CTRL-B to exit"
_PROMPT = b">>> "


class VirtualBoard:
    """The relay and the board's life: boot, serve the port, reset or deep-sleep, again."""

    def __init__(self, state, heap=None, speed=1.0):
        self.state = Path(state).resolve()
        self.heap = heap or unixport.node_heap()
        self.speed = speed  # sleeps last sleep/speed seconds; 0: no waiting at all
        self.port = str(self.state / "tty")
        self.clock_skew = 0.0  # the board's clock runs ahead by the sleeps skipped
        self.output = bytearray()  # everything the board printed, and the relay's notes
        self._changed = threading.Condition()
        self._stopping = False
        self._reset_pressed = False
        self._child = None
        self._thread = None

    # -- the host's side -------------------------------------------------------------

    def start(self):
        self.state.mkdir(parents=True, exist_ok=True)
        sim.prepare_flash(self.state)
        self._write_rom()
        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # kept open: the port stays usable between connections
        os.set_blocking(self.master, False)
        link = Path(self.port)
        link.unlink(missing_ok=True)
        link.symlink_to(os.ttyname(self._slave))
        self._log = open(self.state / "console.log", "ab")
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._stopping:
            return
        self._stopping = True
        self._kill()
        self._thread.join(10)
        Path(self.port).unlink(missing_ok=True)
        for fd in (self.master, self._slave):
            os.close(fd)
        self._log.close()

    def reset(self):
        """Press the reset button: whatever the board does, it boots again (power_on)."""
        self._reset_pressed = True
        self._kill()

    # world.json as the simulator writes it: link, safe_mode_pin, adc; read at each boot
    world = sim.Simulator.world
    set_world = sim.Simulator.set_world

    def mark(self):
        return len(self.output)

    def wait_for(self, text, timeout=10.0, since=0):
        """Wait until the console shows `text` after offset `since`; False on timeout."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        with self._changed:
            while needle not in self.output[since:]:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- the relay -------------------------------------------------------------------

    def _write_rom(self):
        rom = self.state / "rom"
        rom.mkdir(exist_ok=True)
        (rom / "_boot.py").write_text(_ROM_BOOT)
        (rom / "machine.py").write_text(_ROM_MACHINE)
        shutil.copyfile(build.build("unix") / "flashdev.mpy", rom / "flashdev.mpy")

    def _relay(self):
        cause, raw = "power_on", False
        while not self._stopping:
            self._boot(cause, raw)
            raw = self._serve()
            if self._stopping:
                break
            cause, raw = self._after_exit(raw)

    def _boot(self, cause, raw):
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)  # the unix port's "orig" mode, while code runs
        attrs[1] &= ~termios.OPOST
        attrs[3] &= ~(termios.ECHO | termios.ECHOCTL | termios.ICANON)
        attrs[3] |= termios.NOFLSH  # a Ctrl-C must not flush what follows it, as on a UART
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        env = {k: v for k, v in os.environ.items()
               if k not in ("MICROPYINSPECT", "SENSOCAN_CONFIG")}
        env.update(MICROPYPATH=str(self.state / "rom"), SENSOCAN_STATE=str(self.state),
                   SENSOCAN_RESET_CAUSE=cause, VBOARD_RAW="1" if raw else "",
                   SENSOCAN_CLOCK=str(int(time.time() + self.clock_skew)))
        rom = self.state / "rom" / "_boot.py"
        self._child = subprocess.Popen(
            [unixport.binary(), "-X", "heapsize=" + self.heap, str(rom)],
            stdin=slave, stdout=slave, stderr=slave, cwd=self.state, env=env,
            start_new_session=True, preexec_fn=_child_setup)
        os.close(slave)
        os.set_blocking(master, False)
        self._child_fd = master
        self._to_child = b"\r\x01" if raw else b""  # back to the raw REPL after a soft reset
        self._gate_open = False
        self._held = False

    def _serve(self):
        """Relay until the interpreter ends; returns whether it was in the raw REPL."""
        tail, raw, fd = b"", False, self._child_fd
        while True:
            if self._stopping:
                self._kill()
            wlist = [fd] if self._to_child and self._gate_open else []
            r, w, _ = select.select([self.master, fd], wlist, [], 0.02 if self._held else 0.2)
            if self.master in r:
                self._to_child += _read(self.master) or b""
            if w:
                self._feed(fd)
            if fd in r:
                data = _read(fd)
                if data is None:
                    break
                self._gate_open = True
                self._emit(data)
                tail = (tail + data)[-64:]
                raw = _raw_mode(tail, raw)
        os.close(fd)
        self._child.wait()
        return raw

    def _feed(self, fd):
        """Pass the host's bytes on; after a Ctrl-C that interrupts running code, the rest
        waits until the REPL reads again, since the unix port flushes its input when it
        switches terminal modes (a UART keeps it)."""
        if self._held and _running(fd):
            return
        data = self._to_child
        cut = data.find(b"\x03") + 1 or len(data)
        n = _write(fd, data[:cut])
        self._to_child = data[n:]
        self._held = n == cut and data[cut - 1:cut] == b"\x03"

    def _after_exit(self, raw):
        """What the board does once the interpreter has ended: (reset cause, raw REPL)."""
        request = self.state / "sleep"  # what boards/unix/board.py or machine.reset() asked
        what = request.read_text() if request.exists() else None
        request.unlink(missing_ok=True)
        if what and what.isdigit():
            self._deep_sleep(int(what) / 1000.0)
        if self._reset_pressed:
            self._reset_pressed = False
            self._note("reset button")
            return "power_on", False
        if what is None:  # Ctrl-D, sys.exit(), machine.soft_reset() or a crash
            self._emit(b"MPY: soft reboot\r\n")
            return "soft", raw
        return {"hard": "power_on", "reset": "soft"}.get(what, "deep_sleep"), False

    def _deep_sleep(self, seconds):
        """Nothing answers until the timer, or the reset button, wakes the chip."""
        wait = seconds / self.speed if self.speed else 0
        self._note("deep sleep %g s (%.2f s real)" % (seconds, wait))
        start = time.monotonic()
        deadline = start + wait
        while not (self._stopping or self._reset_pressed) and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], min(0.1, deadline - time.monotonic()))
            if r:
                _read(self.master)  # the chip is asleep: what the host sends is lost
        if not self._reset_pressed:
            self.clock_skew += max(0.0, seconds - (time.monotonic() - start))

    def _kill(self):
        child = self._child
        if child and child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _emit(self, data):
        """Board output: to the serial port (dropped when nobody reads, like a UART)."""
        _write(self.master, data)
        self._record(data)

    def _note(self, text):
        """A relay event: in the console log only, never on the port."""
        self._record(("[vboard] %s\n" % text).encode())

    def _record(self, data):
        self._log.write(data)
        self._log.flush()
        with self._changed:
            self.output += data
            self._changed.notify_all()


def _child_setup():
    """In the child: its pty becomes the controlling terminal, so Ctrl-C is a SIGINT; and
    it dies with the relay (PR_SET_PDEATHSIG), never left spinning on a dead terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


def _running(fd):
    """Code runs on the chip: its pty is in the unix port's original mode (signals on)."""
    try:
        return bool(termios.tcgetattr(fd)[3] & termios.ISIG)
    except termios.error:  # the interpreter has just ended
        return False


def _raw_mode(tail, raw):
    """Whether the REPL is raw after the output `tail`: the later of the two prompts."""
    r, f = tail.rfind(_RAW_BANNER), tail.rfind(_PROMPT)
    if r < 0 and f < 0:
        return raw
    return r > f


def _read(fd):
    """Bytes available on fd; b"" when none; None once the other side is gone."""
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""
    except OSError:
        return None


def _write(fd, data):
    """Write what fits; the rest is the caller's (or lost, for the host's port)."""
    try:
        return os.write(fd, data)
    except (BlockingIOError, OSError):
        return 0


def main(argv=None):
    ap = cli.Parser(prog="vboard", description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", required=True, type=cli.out_dir,
                    help="folder of the flash image and RTC memory (made if missing)")
    ap.add_argument("--speed", type=cli.non_negative_float, default=1.0,
                    help="deep sleeps last sleep/speed seconds (default 1: real time; 0: no "
                         "waiting)")
    ap.add_argument("--heap", type=cli.heap_size,
                    help="MicroPython heap (default: the simulator's, an ESP32's)")
    ap.add_argument("--fresh", action="store_true", help="start with an erased flash")
    ap.add_argument("--echo", action="store_true", help="print what the board prints")
    args = ap.parse_args(argv)
    if args.fresh:
        Path(args.state, "flash.img").unlink(missing_ok=True)
        Path(args.state, "rtc.bin").unlink(missing_ok=True)
    try:
        board = VirtualBoard(args.state, heap=args.heap, speed=args.speed).start()
    except OSError as e:
        print("vboard: cannot set up the board in %s (%s)" % (args.state, e.strerror or e),
              file=sys.stderr)
        return 2
    signal.signal(signal.SIGUSR1, lambda *_: board.reset())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stops the board as Ctrl-C does
    print("virtual board on %s (Ctrl-C stops it; kill -USR1 %d presses reset)"
          % (board.port, os.getpid()), flush=True)
    seen = 0
    try:
        while True:
            board.wait_for("\n", timeout=1.0, since=seen)
            if args.echo and len(board.output) > seen:
                sys.stdout.write(board.output[seen:].decode(errors="replace"))
                sys.stdout.flush()
            seen = len(board.output)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
