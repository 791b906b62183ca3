"""Host tool (CPython): watch a node's serial console, or fetch its log and spool health.

    python -m tools.monitor watch --port /dev/ttyUSB0       # make monitor: the console, live
    python -m tools.monitor logs --port /dev/ttyUSB0        # make logs

`watch` only listens (it never types, so it never interrupts the node) and stamps each
line with the host's time; it waits for the port when the board resets or is unplugged.
`logs` stops the node at its REPL (like every mpremote session), copies its data/ folder
with mpremote and prints the board's health, the tail of data/log.txt (warnings and
errors: info lines go to the console only), the spool's counters and backlog and every
dead-lettered reading (tools/spool_dump.py reads the copy), then resets the board so
the node runs on (unless --no-reset). A node in deep sleep must be woken first, as for
a deploy.
"""

import sys
import tempfile
import time
from pathlib import Path

import serial

from tools import cli, session, spool_dump


def watch(port, seconds=None, out=sys.stdout):
    """Print the console of `port` line by line until Ctrl-C (or `seconds` pass)."""
    end = time.monotonic() + seconds if seconds else None
    link, waiting, line = None, False, b""
    while end is None or time.monotonic() < end:
        if link is None:
            try:
                link = serial.Serial(port, 115200, timeout=0.2, exclusive=True)
                out.write("[monitor] listening on %s (Ctrl-C to stop)\n" % port)
                waiting = False
            except serial.SerialException as e:
                if not waiting:
                    problem = session.open_problem(port, e)
                    out.write("[monitor] %s; waiting for the port\n" % problem)
                    waiting = True
                time.sleep(0.5)
                continue
        try:
            line += link.read(256)
        except serial.SerialException:
            link.close()
            link = None
            continue
        while b"\n" in line:
            text, _, line = line.partition(b"\n")
            text = text.decode(errors="replace").rstrip("\r")
            out.write("%s %s\n" % (time.strftime("%H:%M:%S"), text))
            out.flush()
    if link:
        link.close()
    return 0


def health(about, out=print):
    """One look at the board: firmware, deployed files, heap, flash, config and log."""
    version = ".".join(str(v) for v in about["version"])
    out("board: MicroPython %s (%s), %d deployed files, heap free %s bytes"
        % (version, about["platform"], len(about["deployed"]), about.get("heap_free", "?")))
    if about["fs"] and about["fs"][0]:
        size, free = about["fs"]
        out("flash: %d of %d KiB used (%d%%)" % ((size - free) // 1024, size // 1024,
                                               100 * (size - free) // size))
    present = [p for p in ("config.json", "data/log.txt") if about["hashes"].get(p)]
    out("files: %s" % (", ".join(present) or "no config.json, no log"))


def logs(port, lines=40, records=False, reset=True, out=print):
    """Health, log tail, spool state and dead letters of the node on `port`."""
    session.probe(port)
    with session.at_repl(port, reset, out):
        about = session.info(port, ["config.json", "data/log.txt"])
        health(about, out)
        if "data" in about["root"]:
            show_data(port, lines, records, out)
        else:
            out("no data/ folder: the node has not run yet")
    return 0


def show_data(port, lines, records, out):
    """The log's tail and the spool, from a copy of the board's data/ folder."""
    with tempfile.TemporaryDirectory() as tmp:
        session.mpremote(port, "cp", "-r", ":data", tmp)
        data = Path(tmp) / "data"
        log = data / "log.txt"
        text = log.read_text(errors="replace").splitlines() if log.exists() else []
        out("log: %s" % ("last %d of %d lines" % (min(lines, len(text)), len(text))
                         if text else "empty (no warnings or errors)"))
        for entry in text[-lines:]:
            out("  " + entry)
        spool_dump.describe(data, records, out)


def main(argv=None):
    ap = cli.Parser(prog="monitor", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("watch", help="print the serial console as it comes")
    w.add_argument("--port", required=True)
    w.add_argument("--seconds", type=cli.positive_float,
                   help="stop after this long (default: Ctrl-C)")
    g = sub.add_parser("logs", help="fetch the log, the spool's health and the dead letters")
    g.add_argument("--port", required=True)
    g.add_argument("--lines", type=cli.positive_int, default=40,
                   help="log lines to show (default 40)")
    g.add_argument("--records", action="store_true", help="list every waiting reading")
    g.add_argument("--no-reset", action="store_true", help="leave the board at its REPL")
    args = ap.parse_args(argv)
    if args.command == "watch":
        return cli.run_tool("monitor", lambda: watch(args.port, args.seconds))
    return cli.run_tool("logs", lambda: logs(args.port, args.lines, args.records,
                                             not args.no_reset))


if __name__ == "__main__":
    sys.exit(main())
