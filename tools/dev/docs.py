"""Host tool (CPython): the docs' "real output" blocks, regenerated from real runs.

A fenced block in README.md or docs/*.md right after a line `<!-- output: NAME -->` is
the output of a run this tool knows by NAME (`--list` shows them), so it cannot drift
from what the code prints:

    python -m tools.dev.docs              # run everything, rewrite the blocks (make docs)
    python -m tools.dev.docs --check      # run everything, compare; exit 1 on a difference
    python -m tools.dev.docs --check --cheap   # only the runs of a few seconds (the tests)
    python -m tools.dev.docs --only sim   # one run (a run may fill several blocks)

A run works in a scratch folder that stands for the repository's root, so paths in its
output are relative: the scratch folder and the repository's own path are cut from it.
What changes from run to run is normalised: a free port becomes the one the docs name,
a pid `<pid>`, a generated token `<the token>`, and times are shifted so the first one a
run shows is 2026-11-27T07:00:00Z (the host's clock of `make monitor`: 07:00:00).
Runs that are deterministic then compare exactly. The simulator and the virtual board
are not (backoff jitter, real elapsed time, when a wake meets a command), so their
blocks are compared by shape: with every number masked, each line shown must occur,
in order, in the whole output of a fresh run; `...` lines stand for what was cut.
"""

import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from calendar import timegm
from pathlib import Path

from tools import cli

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!-- output: ([a-z0-9-]+) -->")
ELIDED = ("...", "…")
BASE = timegm((2026, 11, 27, 7, 0, 0))  # where shifted times start
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
HMS = re.compile(r"^\d\d:\d\d:\d\d(?= )", re.M)  # make monitor's host time at a line's start
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def doc_files():
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


# -- the markdown side ---------------------------------------------------------------


def blocks(path):
    """[(name, first line, end line, text)] of the marked blocks in `path`: the block's
    lines are lines[first:end], between its fences."""
    lines = Path(path).read_text().split("\n")
    found = []
    for i, line in enumerate(lines):
        m = MARKER.fullmatch(line.strip())
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise cli.ToolError("%s:%d: output marker %r is not followed by a ``` block"
                                % (_rel(path), i + 1, m.group(1)))
        end = next((j for j in range(i + 2, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise cli.ToolError("%s:%d: the block of %r is never closed"
                                % (_rel(path), i + 2, m.group(1)))
        found.append((m.group(1), i + 2, end, "\n".join(lines[i + 2:end])))
    return found


def rewrite(path, texts):
    """Put texts[name] into the blocks of `path` that have one; returns the names changed."""
    lines = Path(path).read_text().split("\n")
    changed = []
    for name, first, end, old in reversed(blocks(path)):
        new = texts.get(name)
        if new is not None and new != old:
            lines[first:end] = new.split("\n")
            changed.append(name)
    if changed:
        Path(path).write_text("\n".join(lines))
    return changed


def _rel(path):
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# -- normalising -----------------------------------------------------------------------


class Output:
    """A block's text; `full` (the run's whole output) makes the check compare by shape,
    `masks` are regexes of what else varies from run to run (cut before comparing)."""

    def __init__(self, text, full=None, masks=()):
        self.text = _tidy(text)
        self.full = full
        self.masks = [re.compile(m) for m in masks]


def _tidy(text):
    """No trailing spaces (an editor would strip them) and no blank lines at the end."""
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def _unix(iso):
    return timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def _seconds(hms):
    h, m, s = map(int, hms.split(":"))
    return h * 3600 + m * 60 + s


def shift(text):
    """`text` with its ISO 8601 times moved so that the first is BASE, and the HH:MM:SS at
    its lines' starts (a host clock) so that the first is BASE's time of day."""
    m = ISO.search(text)
    if m:
        by = BASE - _unix(m.group(0))
        text = ISO.sub(lambda m: time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                               time.gmtime(_unix(m.group(0)) + by)), text)
    m = HMS.search(text)
    if m:
        by = BASE % 86400 - _seconds(m.group(0))

        def hms(m):
            t = (_seconds(m.group(0)) + by) % 86400
            return "%02d:%02d:%02d" % (t // 3600, t // 60 % 60, t % 60)

        text = HMS.sub(hms, text)
    return text


def mask(line, masks=()):
    """A line with what varies from run to run (times, numbers, UUIDs, spacing) masked."""
    for rx in masks:
        line = rx.sub("", line)
    line = ISO.sub("T", line)
    line = HMS.sub("T", line)
    line = UUID.sub("U", line)
    line = NUMBER.sub("N", line)
    return " ".join(line.split())


def same_shape(doc, out):
    """None when every shown line of `doc` occurs, in order and masked, in out.full;
    else the first line that does not."""
    fresh = [mask(line, out.masks) for line in out.full.splitlines()]
    at = 0
    for line in doc.splitlines():
        if line.strip() in ELIDED:
            continue
        want = mask(line, out.masks)
        try:
            at = fresh.index(want, at) + 1
        except ValueError:
            return line
    return None


def excerpt(lines, keep):
    """lines[i] for i in `keep` (sorted, deduplicated), with a `...` line for each gap."""
    out, last = [], -1
    for i in sorted(set(i % len(lines) for i in keep)):
        if i > last + 1:
            out.append("...")
        out.append(lines[i])
        last = i
    return "\n".join(out)


def first(lines, pattern, start=0):
    """The index of the first line from `start` on that matches `pattern`."""
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        if rx.search(lines[i]):
            return i
    raise cli.ToolError("no line matches %r in:\n%s" % (pattern, "\n".join(lines)))


# -- running things ------------------------------------------------------------------


class Scratch:
    """A run's folder, standing for the repository's root in what the run prints."""

    def __init__(self, path):
        self.path = Path(path)
        self.subs = [(str(self.path) + "/", ""), (str(self.path), "."),
                     (str(ROOT) + "/", ""), (str(ROOT), ".")]

    def clean(self, text):
        for old, new in self.subs:
            text = text.replace(old, new)
        return text

    def env(self):
        """The environment of a run: no make flags of an outer make (-s, -n, ...)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        env["PYTHONPATH"] = str(ROOT)
        return env

    def run(self, argv, shown=None, expect=0, timeout=120):
        """`$ shown` and what `argv` printed (stdout and stderr as they came), cleaned."""
        res = subprocess.run(argv, cwd=ROOT, env=self.env(), stdin=subprocess.DEVNULL,
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=timeout)
        out = self.clean(res.stdout)
        if expect is not None and res.returncode != expect:
            raise cli.ToolError("%s exited %d, not %d:\n%s" % (
                self.clean(shlex.join(map(str, argv))), res.returncode, expect, out))
        return ("$ %s\n" % self.clean(shown) if shown else "") + out

    def make(self, target, *assignments, expect=0):
        """`$ make target VAR=value...` (run at the root) and what it printed."""
        argv = ["make", "--no-print-directory", target, *assignments]
        return self.run(argv, shlex.join(argv[:1] + argv[2:]), expect)

    def make_command(self, target, *assignments):
        """The tool command line that `make target` runs (make -n), as argv."""
        out = subprocess.run(["make", "-n", "--no-print-directory", target, *assignments],
                             cwd=ROOT, env=self.env(), capture_output=True, text=True).stdout
        line = [ln for ln in out.replace("\\\n", " ").splitlines() if " -m tools." in ln][-1]
        return line, shlex.split(line)

    def on_terminal(self, argv, answers, shown, timeout=60):
        """Run `argv` on a pseudo-terminal, typing each answer once it asks (a line that
        ends in ": " and then silence): the session as a person at a terminal sees it."""
        import pty

        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env(), stdin=slave, stdout=slave,
                                stderr=slave, start_new_session=True,
                                preexec_fn=_controlling_tty)
        os.close(slave)
        seen, pending = b"", list(answers)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try:
                        data = os.read(master, 4096)
                    except OSError:  # the child closed the terminal
                        break
                    if not data:
                        break
                    seen += data
                elif pending and seen.endswith(b": "):
                    os.write(master, pending.pop(0).encode() + b"\n")
                elif proc.poll() is not None:
                    break
            else:
                raise cli.ToolError("%s did not finish within %d s:\n%s"
                                    % (argv, timeout, seen.decode(errors="replace")))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            os.close(master)
        if pending:
            raise cli.ToolError("%s ended with %d answers left:\n%s"
                                % (argv, len(pending), seen.decode(errors="replace")))
        text = seen.decode(errors="replace").replace("\r\n", "\n")
        return "$ %s\n%s" % (shown, self.clean(text))


def _controlling_tty():
    """In the child: its terminal (stdin, a pty) becomes the controlling one, as in a
    shell, so getpass reads from it with echo off."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


# -- the runs --------------------------------------------------------------------------

RUNS = {}  # name -> Run


class Run:
    def __init__(self, fn, blocks, cheap):
        self.fn = fn
        self.blocks = blocks  # the names of the blocks it fills
        self.cheap = cheap  # a few seconds: make test checks it


def run(name, *blocks, cheap=False):
    """Register a run: a function(scratch) -> {block name: Output} for `blocks`."""
    def register(fn):
        RUNS[name] = Run(fn, blocks, cheap)
        return fn
    return register


def block_names():
    """Every block name some run fills."""
    return {b for r in RUNS.values() for b in r.blocks}


@run("make-help", "make-help", cheap=True)
def _make_help(s):
    return {"make-help": Output(s.make("help"))}


@run("battery-life", "battery-life", "battery-life-summary", cheap=True)
def _battery_life(s):
    full = s.make("battery-life", "CONFIG=boards/esp32/config.json", "MAH=2500")
    lines = full.splitlines()
    summary = excerpt(lines, [0, first(lines, "^Battery life"), first(lines, "^A day"),
                              first(lines, "^average")])
    return {"battery-life": Output(full), "battery-life-summary": Output(summary)}


@run("check-config", "check-config", "check-config-adc2", "check-config-esp32",
     cheap=True)
def _check_config(s):
    example = s.make("check-config")
    cfg = json.loads((ROOT / "boards" / "esp32" / "config.json").read_text())
    moisture = next(x for x in cfg["sensors"] if x["slug"] == "soil_moisture")
    moisture["pin"] = 25  # on ADC2: refused
    (s.path / "config.json").write_text(json.dumps(cfg, indent=2))
    adc2 = s.run([sys.executable, "-m", "tools.check_config", "--skip-files",
                  str(s.path / "config.json")],
                 ".venv/bin/python -m tools.check_config --skip-files config.json", expect=1)
    esp32 = s.make("check-config", "CONFIG=boards/esp32/config.json --skip-files")
    return {"check-config": Output(example), "check-config-adc2": Output(adc2),
            "check-config-esp32": Output(esp32)}


@run("flash", "flash-dry-run", cheap=True)
def _flash(s):
    image = s.path / "ESP32_GENERIC-v1.28.0.bin"
    image.write_bytes(bytes([0xE9]) + bytes(15))  # an ESP32 image's header: magic, chip 0
    return {"flash-dry-run": Output(s.make(
        "flash", "PORT=/dev/ttyUSB0", "FIRMWARE=%s" % image, "CHIP=esp32", "DRY_RUN=1"))}


@run("make-config", "make-config", cheap=True)
def _make_config(s):
    from tools import certs

    ca = certs.make_ca(s.path / "certs")["ca_der"]
    shutil.copyfile(ca, s.path / "root-ca.der")
    answers = ["esp32", "lolin_d32", "", str(s.path / "root-ca.der"),
               "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b", "0123456789abcdef0123456789abcdef",
               "my-network", "my-password", "", "", "",
               "air_temp:bme280:quantity=temperature", "soil_moisture:analog:34:samples=16", "",
               "0", "13"]
    argv = ["make", "--no-print-directory", "config",
            "CONFIG=%s" % (s.path / "private" / "config.json")]
    return {"make-config": Output(s.on_terminal(argv, answers, "make config"))}


# A node's data/ folder as the firmware writes it (its own sensortable and spool, on the
# unix port): three wakes of three sensors a minute apart, the first wake uploaded with
# its soil_moisture reading rejected by the server (a dead letter), two wakes waiting.
_SPOOL = """
import clock, record, sensortable, spool
_, n = sensortable.load(%(dir)r + "/sensors.json",
                        [("air_temp", None), ("air_humidity", None), ("soil_moisture", None)])
s = spool.Spool(%(dir)r + "/spool", 1000)
for k, row in enumerate(((21.5, 48.25, 31.0), (21.625, 48.5, 30.75), (21.75, 48.0, 30.5))):
    for i, v in enumerate(row):
        s.append(n[i], %(t)d - clock.EPOCH + 60 * k, v)
    s.commit()
buf = bytearray(3 * record.RECORD)
s.read(0, buf)
s.dead_letter(buf, 2, record.REJECTED)
s.ack(3)
"""


@run("spool-dump", "spool-dump", cheap=True)
def _spool_dump(s):
    from tools.dev import unixport

    data = s.path / "private" / "data"
    data.mkdir(parents=True)
    res = unixport.run_code(_SPOOL % {"dir": str(data), "t": BASE})
    if res.returncode:
        raise cli.ToolError("the spool could not be written:\n" + res.stdout + res.stderr)
    return {"spool-dump": Output(s.run(
        [sys.executable, "-m", "tools.spool_dump", "--dir", str(data), "--records"],
        ".venv/bin/python -m tools.spool_dump --dir private/data --records"))}


@run("sim", "sim")
def _sim(s):
    full = s.run([sys.executable, "-m", "tools.demo", "--work", str(s.path / ".sim")],
                 timeout=300)
    lines = [ln for ln in full.splitlines() if ln.startswith("[")]
    lines = shift("\n".join(lines)).splitlines()
    lines.append(full.splitlines()[-1])  # the tally
    a = first(lines, "upload: sent")
    b = first(lines, "link down", a)
    c = first(lines, "upload: sent", b)
    # whether an upload wake also samples depends on the device's phase (a random UUID)
    return {"sim": Output(excerpt(lines, [0, 1, a - 1, a, c - 1, c, -1]), "\n".join(lines),
                          [r"stored \d+, (?=upload)"])}


@run("node-lines", "power-bands", "refused-401")
def _node_lines(s):
    """Console lines of the emulated node against the mock: a power band taking over the
    upload interval, and an upload refused for a wrong token."""
    from tools import certs
    from tools.dev import sim
    from tools.dev.sensocan_mock import MockServer

    device, token = "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "docs-token-0123456789"
    paths = certs.make_ca(s.path / "certs")
    server = MockServer({"devices": [{"uuid": device, "token": token, "sensors": [
        {"slug": "air_temp", "uuid": "7a8b9c0d-1234-5678-90ab-cdef12345678"}]}]},
        str(s.path / "mock.sqlite"), tls=(str(paths["cert"]), str(paths["key"]))).start()

    def wakes(name, until, sent_token=token, **over):
        """Wakes of a fresh node until one prints `until`: its cycle and error lines."""
        cfg = {"board": "unix", "sample_interval_s": 60, "upload_interval_s": 300,
               "api": {"base_url": "https://localhost:%d/api/v1" % server.port,
                       "token": sent_token, "device_uuid": device,
                       "ca_cert": str(paths["ca_der"])},
               "sensors": [{"slug": "air_temp", "driver": "wave", "amplitude": 5,
                            "offset": 20}]}
        cfg.update(over)
        (s.path / (name + ".json")).write_text(json.dumps(cfg))
        (s.path / name).mkdir()
        sim.prepare_flash(s.path / name)
        node = sim.Simulator(s.path / (name + ".json"), s.path / name)
        console = []
        for _ in range(10):
            out = node.run_cycle().output
            console += [ln for ln in out.splitlines() if " INFO cycle " in ln or " ERROR " in ln]
            if until in out:
                break
        return shift("\n".join(console))

    try:
        bands = wakes("bands", "mV: upload every",
                      battery={"source": "sim", "full_v": 3.75, "empty_v": 3.3, "hours": 72},
                      power_bands=[{"below_v": 3.8, "upload_interval_s": 1800},
                                   {"below_v": 3.6, "upload_interval_s": 3600}])
        refused = wakes("refused", "upload refused", "not-" + token)
    finally:
        server.stop()
    return {"power-bands": Output(first_line(bands, "mV: upload every"), bands),
            "refused-401": Output(first_line(refused, "upload refused"), refused)}


@run("field-updates", "make-release", "update-rollback")
def _field_updates(s):
    """README's "Field updates": make release, then an emulated node that stages a
    release which raises at import, rolls it back, and takes the next one."""
    from tools import certs, release, release_server
    from tools.dev import sim
    from tools.dev.sensocan_mock import MockServer

    made = s.make("release", "VERSION=1.4.0")
    device, token = "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "docs-token-0123456789"
    paths = certs.make_ca(s.path / "certs")
    server = MockServer({"devices": [{"uuid": device, "token": token, "sensors": [
        {"slug": "air_temp", "uuid": "7a8b9c0d-1234-5678-90ab-cdef12345678"}]}]},
        str(s.path / "mock.sqlite"), tls=(str(paths["cert"]), str(paths["key"]))).start()
    rel = s.path / "rel"
    srv = release_server.ReleaseServer(rel, paths["cert"], paths["key"]).start()
    (s.path / "config.json").write_text(json.dumps({
        "board": "unix", "sample_interval_s": 60, "upload_interval_s": 60,
        "api": {"base_url": "https://localhost:%d/api/v1" % server.port, "token": token,
                "device_uuid": device, "ca_cert": str(paths["ca_der"])},
        "sensors": [{"slug": "air_temp", "driver": "wave"}],
        "update": {"manifest_url": srv.url(), "check_interval_s": 60}}))
    (s.path / "state").mkdir()
    sim.prepare_flash(s.path / "state")
    node = sim.Simulator(s.path / "config.json", s.path / "state")
    node_py = (ROOT / "firmware" / "node.py").read_text()
    console = []
    try:
        for version, source, until in (
                ("1.4.0", 'raise ImportError("1.4.0 is broken")\n' + node_py, "rolled back"),
                ("1.4.1", node_py + "\n_RELEASE = 2\n", "confirmed")):
            _, doc = release.release(version, board="unix", out=rel)
            release.recompile(rel, doc, "node.mpy", source)
            for _ in range(10):
                out = node.run_cycle().output
                console += [ln for ln in out.splitlines()
                            if " INFO cycle " in ln or " update: " in ln or " ERROR crash" in ln]
                if until in out:
                    break
    finally:
        srv.stop()
        server.stop()
    text = shift("\n".join(ln if len(ln) < 150 else ln[:110] + " ..." for ln in console))
    return {"make-release": Output(made, made, [r"\d+ bytes"]),
            "update-rollback": Output(text, text)}


DEVICE = "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"  # the rehearsal's device and sensors
AIR, SOIL = "5d6e7f80-9a1b-4c2d-8e3f-a4b5c6d7e8f9", "7a8b9c0d-1234-5678-90ab-cdef12345678"
MOCK_PORT = 8443  # the port docs/testing.md gives the mock (a free one is used)


@run("vboard", "vboard-start", "deploy", "rehearsal-deploy", "safe-mode-vboard",
     "rehearsal-provision", "rehearsal-console", "monitor", "rehearsal-mock-summary", "logs",
     "sleeping-node")
def _vboard(s):
    """docs/testing.md's rehearsal on the virtual board, and what the README shows of
    deploy, monitor, logs and a sleeping node: one board, one mock, in .vboard/."""
    from tools.dev import vboard

    work = s.path / ".vboard"
    state = work / "state"
    py = ".venv/bin/python -m "
    s.run([sys.executable, "-m", "tools.certs", str(work / "certs"), "--host", "localhost"])
    s.run([sys.executable, "-m", "tools.dev.sensocan_mock", "provision", "--devices",
           str(work / "devices.json"), "--device-uuid", DEVICE, "--sensor", "air_temp:" + AIR,
           "--sensor", "soil_moisture:" + SOIL])
    token = json.loads((work / "devices.json").read_text())["devices"][0]["token"]
    s.subs.insert(0, (token, "<the token>"))
    mock = subprocess.Popen(
        [sys.executable, "-m", "tools.dev.sensocan_mock", "serve", "--devices",
         str(work / "devices.json"), "--db", str(work / "readings.sqlite"), "--tls-cert",
         str(work / "certs" / "server.pem"), "--tls-key", str(work / "certs" / "server.key"),
         "--port", "0", "--control"], cwd=ROOT, env=s.env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    board = None
    try:
        port = mock.stdout.readline().rsplit(":", 1)[1].split("/")[0]
        s.subs.insert(0, ("localhost:%s/" % port, "localhost:%d/" % MOCK_PORT))
        out = {"vboard-start": Output(_vboard_cli(s, state))}
        board = vboard.VirtualBoard(state, speed=100).start()
        tty = board.port
        out.update(_deploys(s, board, tty))
        mark = board.mark()
        out["rehearsal-provision"] = Output(s.run(
            [sys.executable, "-m", "tools.provision", "--out", str(work / "config.json"),
             "--board", "unix", "--base-url", "https://localhost:%s/api/v1" % port,
             "--token=" + token, "--device-uuid", DEVICE, "--ca-cert",  # it may start with -
             str(work / "certs" / "ca.der"), "--sensor", "air_temp:wave:amplitude=5:offset=20",
             "--sensor", SOIL + ":adc:34:scale=30.3", "--upload-interval", "300",
             "--safe-mode-pin", "0", "--port", tty],
            py + "tools.provision --out .vboard/config.json --board unix \\\n"
            "    --base-url https://localhost:%d/api/v1 --token <the token> \\\n"
            "    --device-uuid %s --ca-cert .vboard/certs/ca.der \\\n"
            "    --sensor air_temp:wave:amplitude=5:offset=20 \\\n"
            "    --sensor %s:adc:34:scale=30.3 \\\n"
            "    --upload-interval 300 --safe-mode-pin 0 --port .vboard/state/tty"
            % (MOCK_PORT, DEVICE, SOIL)))
        _wait(board, "INFO cycle 3:", mark)
        out["rehearsal-console"] = _console(s, board, mark)
        out.update(_monitor(s, board, tty))
        out["rehearsal-mock-summary"] = _summary(s, work)
        out.update(_crash_loop(s, board, tty))
        out.update(_asleep(s, board, tty))
    finally:
        if board:
            board.stop()
        mock.terminate()
        mock.wait(10)
    return out


def _vboard_cli(s, state):
    """The virtual board's command line and its first line (then it is stopped)."""
    proc = subprocess.Popen([sys.executable, "-m", "tools.dev.vboard", "--state", str(state),
                             "--speed", "100", "--fresh"], cwd=ROOT, env=s.env(),
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    proc.terminate()  # it stops the board as Ctrl-C does
    proc.wait(20)
    line = re.sub(r"kill -USR1 \d+", "kill -USR1 <pid>", line)
    return "$ .venv/bin/python -m tools.dev.vboard --state .vboard/state --speed 100 --fresh &\n" \
        + s.clean(line)


def _wait(board, text, since, timeout=60):
    if not board.wait_for(text, timeout, since):
        raise cli.ToolError("the virtual board never showed %r; it printed:\n%s"
                            % (text, board.output[since:].decode(errors="replace")[-3000:]))


def _deploys(s, board, tty):
    """make deploy on a blank board, then a dry run and an up-to-date one; the safe mode
    a board without config.json stops in."""
    _wait(board, ">>> ", 0)  # a formatted flash, no firmware: the REPL
    mark = board.mark()
    fresh = s.make("deploy", "PORT=" + tty)
    _wait(board, "The REPL is available", mark)
    console = board.output[mark:].decode(errors="replace").replace("\r", "").splitlines()
    start = first(console, "^SAFE MODE")
    safe = console[start:first(console, "The REPL is available", start) + 1]
    dry = s.make("deploy", "PORT=" + tty, "DRY_RUN=1")
    again = s.make("deploy", "PORT=" + tty)
    lines = fresh.splitlines()
    copies = [i for i, ln in enumerate(lines) if ln.startswith("copy ")]
    cut = excerpt(lines, [0, 1, 2, copies[0], copies[-2], copies[-1]]
                  + list(range(copies[-1] + 1, len(lines))))
    return {"deploy": Output("\n".join((cut, dry.rstrip(), again.rstrip()))),
            "rehearsal-deploy": Output(excerpt(lines, [0, -2, -1])),
            "safe-mode-vboard": Output("\n".join(safe))}


def _console(s, board, mark):
    """What the board printed from the reset after provisioning to its second cycle."""
    text = board.output[mark:].decode(errors="replace").replace("\r", "")
    lines = s.clean(text).splitlines()
    start = max(i for i, ln in enumerate(lines) if "[vboard] power_on reset" in ln)
    lines = lines[start:first(lines, "INFO cycle 2:", start) + 1]
    lines[0] = lines[0][lines[0].index("[vboard]"):]  # after the raw REPL's last bytes
    full = shift("\n".join(lines))
    # whether the second wake samples or meets the upload slot depends on the clock
    return Output(full, full, [r"(?<=INFO cycle 2: ).*"])


def _monitor(s, board, tty):
    """make monitor while the board is reset: a cold boot's first lines, then its wakes
    up to its first upload."""
    shown, argv = s.make_command("monitor", "PORT=" + tty)
    argv[0] = sys.executable
    watch = subprocess.Popen(argv + ["--seconds", "60"], cwd=ROOT, env=s.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    got = [watch.stdout.readline()]
    board.reset()
    try:
        for line in watch.stdout:
            got.append(line)
            if "upload: sent" in line and any("power on:" in g for g in got):
                break
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=20)
    text = shift(s.clean("".join(got)))
    lines = ("$ make monitor PORT=%s\n%s\n%s" % (s.clean(tty), s.clean(shown), text)).splitlines()
    keep = list(range(first(lines, "power on:") + 2)) + [len(lines) - 2, len(lines) - 1]
    return {"monitor": Output(excerpt(lines, keep), "\n".join(lines))}


def _summary(s, work):
    text = s.run([sys.executable, "-m", "tools.dev.sensocan_mock", "list", "--db",
                  str(work / "readings.sqlite"), "--summary"],
                 ".venv/bin/python -m tools.dev.sensocan_mock list --db .vboard/readings.sqlite "
                 "--summary")
    text = shift(text)
    return Output(text, text)


def _crash_loop(s, board, tty):
    """make logs on a node that crashed three times in a row (safe mode), with readings
    waiting (its link down), then the README's way out without a power cut: clear the
    RTC memory, reset."""
    board.set_world(link="down")
    mark = board.mark()
    _wait(board, "stored", mark)
    board.set_world(rtc_fault=True)
    mark = board.mark()
    board.reset()
    _wait(board, "The REPL is available", mark)
    text = s.make("logs", "PORT=" + tty)
    board.set_world(rtc_fault=False)
    mark = board.mark()
    s.run([_mpremote(), "connect", tty, "resume", "exec", "import board; board.rtc_memory(b'')",
           "+", "reset"])
    _wait(board, "INFO cycle 1:", mark)
    lines = [_shorten(ln) for ln in shift(text).splitlines()]
    crashes = [i for i, ln in enumerate(lines) if "ERROR crash" in ln]
    keep = [i for i in range(len(lines)) if i <= crashes[0] or i > crashes[-1]]
    return {"logs": Output(excerpt(lines, keep), "\n".join(lines))}


def _shorten(line):
    """A log line's traceback cut to its first frame and its error."""
    parts = line.split(" | ")
    return line if len(parts) < 4 else " | ".join(parts[:2] + ["..."] + parts[-1:])


def _mpremote():
    from tools import session

    return session.mpremote_exe()


def _asleep(s, board, tty):
    """make logs while the node deep-sleeps: the tool's advice, in one line."""
    board.speed = 0.02  # a sleep of a second lasts 50
    mark = board.mark()
    slow = re.compile(rb"deep sleep \d+ s \((\d+)\.\d+ s real\)")
    deadline = time.monotonic() + 60
    while not any(int(m.group(1)) >= 50 for m in slow.finditer(board.output, mark)):
        if time.monotonic() > deadline:
            raise cli.ToolError("the virtual board never went into a long deep sleep")
        board.wait_for("s real)", 1.0, len(board.output))
    text = s.make("logs", "PORT=" + tty, expect=2)
    line = first_line(text, "^logs: ")
    return {"sleeping-node": Output(line, text, [r"b'.*?' (?=but no)"])}


def first_line(text, pattern):
    lines = text.splitlines()
    return lines[first(lines, pattern)]


def main(argv=None):
    ap = cli.Parser(prog="docs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare instead of rewriting; exit 1 when a block differs")
    ap.add_argument("--cheap", action="store_true", help="only the runs of a few seconds")
    ap.add_argument("--only", nargs="+", choices=sorted(RUNS), metavar="RUN",
                    help="only these runs (%s)" % ", ".join(sorted(RUNS)))
    ap.add_argument("--list", action="store_true", help="the runs and the blocks they fill")
    args = ap.parse_args(argv)
    return cli.run_tool("docs", lambda: _main(args))


def _main(args):
    if args.list:
        for name, r in sorted(RUNS.items()):
            print("%-13s %-5s %s" % (name, "cheap" if r.cheap else "slow", ", ".join(r.blocks)))
        return 0
    names = [n for n in sorted(RUNS) if (not args.only or n in args.only)
             and (not args.cheap or RUNS[n].cheap)]
    outputs = generate(names)
    if args.check:
        problems = check(outputs)
        for p in problems:
            print(p)
        print("docs: %d block%s checked, %s" % (
            len(outputs), "" if len(outputs) == 1 else "s",
            "%d differ: make docs rewrites them" % len(problems) if problems else "all agree"))
        return 1 if problems else 0
    for path in doc_files():
        for name in rewrite(path, {k: v.text for k, v in outputs.items()}):
            print("rewrote %s in %s" % (name, _rel(path)))
    return 0


def generate(names):
    """{block name: Output} of the runs `names`, each in a scratch folder of its own."""
    outputs = {}
    for name in names:
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="docs-") as tmp:
            got = RUNS[name].fn(Scratch(tmp))
        if set(got) != set(RUNS[name].blocks):
            raise cli.ToolError("run %s gave %s, not %s" % (name, sorted(got), RUNS[name].blocks))
        outputs.update(got)
        print("docs: ran %s (%.0f s)" % (name, time.monotonic() - t0), file=sys.stderr)
    return outputs


def check(outputs, files=None):
    """Lines naming each block that differs from its fresh output (empty: all agree)."""
    problems = []
    for path in files or doc_files():
        for name, first_line, _, text in blocks(path):
            out = outputs.get(name)
            if out is None:
                continue
            where = "%s:%d: %s" % (_rel(path), first_line, name)
            if out.full is None:
                if text != out.text:
                    problems.append("%s: differs from a fresh run:\n%s"
                                    % (where, _diff(text, out.text)))
            else:
                bad = same_shape(text, out)
                if bad is not None:
                    problems.append("%s: a fresh run prints no line like\n  %s" % (where, bad))
    return problems


def _diff(old, new):
    import difflib

    return "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), "docs", "fresh",
                                          lineterm="", n=1))


if __name__ == "__main__":
    sys.exit(main())
