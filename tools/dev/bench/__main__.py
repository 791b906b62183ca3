"""Host tool (CPython): `make bench`, the figures behind the firmware's claims.

Everything is measured here, on the MicroPython unix port with the emulated ESP32 flash
(512 x 4 KiB blocks) and the Sensocan mock over TLS; times are this host's, which is
much faster than an ESP32: compare them with each other, not with a board.

    python -m tools.dev.bench [--quick]
"""

import argparse
import contextlib
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tools import certs, cli
from tools.dev import unixport
from tools.dev.bench import node_heap, update_cost
from tools.dev.sensocan_mock import MockServer

HERE = Path(__file__).resolve().parent
FLASH_CYCLES = 100_000  # program/erase cycles of an ESP32's SPI NOR flash
BLOCKS = 512  # a 2 MiB littlefs partition (4 MB board)


def device(script, *args, heap="1M", timeout=3600):
    res = unixport.run([str(HERE / script)] + [str(a) for a in args], heap=heap,
                       timeout=timeout)
    m = re.search(r"RESULT (.*)", res.stdout)
    if res.returncode or not m:
        raise SystemExit("%s failed:\n%s%s" % (script, res.stdout, res.stderr))
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def table(title, header, rows):
    print("\n" + title)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header] + rows:
        print("  " + "  ".join(str(x).rjust(w) if i else str(x).ljust(w)
                               for i, (x, w) in enumerate(zip(row, widths))))


def flash(work, quick):
    w = device("spool_flash.py", work, "wear", 1, 5)
    per_year = 5 * 60 * 24 * 365  # readings a year at 5 sensors a minute
    rows = []
    for name, key in (("spool (this firmware)", "spool"), ("naive: one file appended", "naive")):
        erases = w[key + "_erases"]
        years = BLOCKS * FLASH_CYCLES / (erases * per_year) if erases else float("inf")
        rows.append((name, "%.1f" % w[key + "_bytes"], "%.4f" % erases, "%.0f" % years))
    table("Flash wear: 5 sensors a minute, upload every 15 min, one simulated day (%d readings)"
          % w["readings"], ("design", "bytes programmed/reading", "block erases/reading",
                            "years of life, 2 MiB @ 100k cycles"), rows)
    rows = []
    for n in (10_000,) if quick else (10_000, 100_000):
        b = device("spool_flash.py", work, "backlog", n)
        rows.append(("%d" % n, "%d MiB" % b["flash_mib"], "%.2f" % (b["commit_us"] / 1000),
                     "%.1f" % (b["recover_us"] / 1000), "%d" % b["files"]))
    table("Spool speed with a backlog (5 readings a commit)",
          ("readings stored", "partition", "ms per commit", "ms to open (recovery)", "files"),
          rows)
    if not quick:
        c = device("spool_flash.py", work, "capacity")
        table("Capacity of a 4 MB board (2 MiB partition)", ("bound", "readings"),
              [("default (3/4 of the flash, drop oldest)", "%d" % c["default_capacity"]),
               ("without a bound: until the flash is full", "%d" % c["flash_full_at"])])


def spool_memory(work, quick):
    rows = []
    for n in (10, 5_000 if quick else 50_000):
        image = Path(work) / ("backlog-%d.img" % n)
        res = unixport.run([str(HERE / "spool_fill.py"), image, n], heap="1M", timeout=3600)
        if "FILLED" not in res.stdout:
            raise SystemExit(res.stdout + res.stderr)
        peak = unixport.min_heap([str(HERE / "spool_heap.py"), image, Path(work) / "scratch.img"],
                                 lo=4, hi=64)
        rows.append(("%d" % n, "%s KiB" % peak))
    table("Spool peak heap (smallest -X heapsize for one upload window + one commit)",
          ("readings on flash", "peak heap"), rows)


class CountingProxy:
    """A TCP relay in front of the mock: connections and bytes on the wire, TLS included."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.connections = self.bytes = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.connections += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    self.bytes += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def reset(self):
        self.connections = self.bytes = 0

    def close(self):
        self.sock.close()


def drain(work, quick):
    """The backlog drain against the naive baseline: same mock, same machine, one table."""
    paths = certs.make_ca(Path(work) / "certs")
    dev, token = str(uuid.uuid4()), "bench-token"
    sensors = [{"uuid": str(uuid.uuid4()), "slug": "s%d" % i} for i in range(5)]
    uuids = ",".join(s["uuid"] for s in sensors)
    n = 1000 if quick else 10_000
    base_n = 100 if quick else 500
    images = {}
    for k in (100, n):
        images[k] = Path(work) / ("backlog-%d.img" % k)
        unixport.run([str(HERE / "spool_fill.py"), images[k], k], heap="1M", timeout=600)
    scratch = Path(work) / "scratch.img"
    rows, heaps = [], {}
    with MockServer({"devices": [{"uuid": dev, "token": token, "sensors": sensors}]},
                    tls=(str(paths["cert"]), str(paths["key"])),
                    rate_limit=10_000_000) as server:
        proxy = CountingProxy(server.port)
        url = "https://localhost:%d/api/v1" % proxy.port
        args = [images[n], scratch, url, paths["ca_der"], dev, token, uuids]
        for mode, extra, name in (("uplink", [], "this firmware"),
                                  ("baseline", [base_n], "baseline: requests.post each")):
            proxy.reset()
            server.wire.reset()
            before = len(server.readings())
            r = device("drain_node.py", mode, *(args + extra), heap="256K")
            time.sleep(0.2)  # let the relay count the last bytes
            got = len(server.readings()) - before
            assert got == r["readings"], "the server stored %d of %d" % (got, r["readings"])
            w = server.wire
            k = r["readings"]
            rows.append((name, "%d" % k, "%.4f" % (r["requests"] / k), "%d" % proxy.connections,
                         "%d" % w.handshakes, "%.1f" % ((w.bytes_in + w.bytes_out) / k),
                         "%.1f" % (proxy.bytes / k), "%.0f" % (k / r["ms"] * 1000)))
            if mode == "uplink":
                item = mean_item_json(server.readings()[before:])
        for k in (100, n):
            heaps[k] = unixport.min_heap(
                [str(HERE / "drain_node.py"), "uplink", images[k]] + args[1:], lo=32, hi=256,
                timeout=600)
        heaps["baseline"] = unixport.min_heap(
            [str(HERE / "drain_node.py"), "baseline", images[100]] + args[1:] + [20],
            lo=32, hi=256, timeout=600)
        proxy.close()
    rows[0] += ("%s / %s KiB" % (heaps[100], heaps[n]),)
    rows[1] += ("%s KiB" % heaps["baseline"],)
    table("Draining a %d-reading backlog of 5 sensors over TLS to the mock (per reading; "
          "the baseline on its first %d)" % (n, base_n),
          ("client", "readings", "requests", "connections", "TLS handshakes", "HTTP bytes",
           "TCP bytes", "readings/s", "peak heap (100 / %d)" % n), rows)
    ours, base = float(rows[0][2]), float(rows[1][2])
    http_bytes = float(rows[0][5])
    print("  %.0fx fewer requests than the baseline (target: at least 100x)" % (base / ours))
    print("  %.1f HTTP bytes per reading = %.2fx the bulk item's own JSON, %.1f bytes "
          "(target: at most 1.3x)" % (http_bytes, http_bytes / item, item))
    print("  HTTP bytes: request and reply, headers included, counted at the mock's socket;"
          " TCP bytes: the same with TLS, counted by a relay")
    print("  (the baseline also never verifies the server's certificate: requests cannot)")


def mean_item_json(readings):
    """Mean size of a bulk item as the node writes it: {"value":V,"timestamp":"T"}."""
    sizes = [len('{"value":%s,"timestamp":"%s"}' % ("%.7g" % r["value"], r["timestamp"]))
             for r in readings]
    return sum(sizes) / len(sizes)


# A whole wake's configs: a few sensors to the most, a backlog, and the heaviest configs
# the validator accepts (lib/config.py's sensor weights; tests/test_heap.py keeps them in
# the node's heap with 10 % to spare)
WAKES = [("1 sensor", "wave:1", 0), ("8 sensors", "wave:8", 0), ("32 sensors", "wave:32", 0),
         ("40 sensors (the most)", "wave:40", 0), ("3 sensors, 200-reading upload", "wave:3", 200)]
HEAVIEST = [("24 sensors, 64-character slugs and UUIDs", "long:24"),
            ("28 analog, 2-point tables", "table2:28"), ("9 analog, 16-point tables", "table:9"),
            ("4 x 16 + 10 x 2 points + 9 waves", "table:4,table2:10,wave:9")]


def wake_heaps(binary32):
    """The heap whole wakes need (tools/dev/bench/node_heap.py) on this port and the 32-bit
    one: the smallest that works (bisection), and the floor above which every heap up to
    the node's works; the table behind the node's heap sizes and its sensor limits."""
    ports = [("%d-bit" % unixport.word_bits(), unixport.binary())]
    if binary32:
        ports.append(("32-bit", str(binary32)))
    rows, ratios = [], []
    for name, mix, backlog in WAKES + [(n, m, 0) for n, m in HEAVIEST]:
        row, kib = [name], []
        for _, binary in ports:
            with _micropython(binary):
                kib.append(node_heap.smallest(node_heap.kinds(mix), backlog))
                low = node_heap.floor(node_heap.kinds(mix), backlog)
                spare = 100 - 100.0 * low / int(unixport.node_heap()) if low else None
            row += ["%s KiB" % kib[-1], "%.1f KiB (%.0f %%)" % (low / 1024, spare) if low
                    else "fails"]
        if len(kib) == 2 and all(kib):
            ratios.append(kib[0] / kib[1])
            row.append("%.2f" % ratios[-1])
        rows.append(row)
    head = ["wake (cold boot: validation, then sampling and upload every minute)"]
    for p, _ in ports:
        head += ["%s smallest" % p, "%s floor (node heap to spare)" % p]
    table("The heap a whole wake needs: the smallest that works, and the floor from which "
          "every heap up to the node's works (fragmentation makes them differ)",
          head + (["64/32 smallest"] if binary32 else []), rows)
    if ratios:
        print("  64/32-bit ratio %.2f-%.2f; tools/dev/unixport.py WIDE_RATIO = %.2f"
              % (min(ratios), max(ratios), unixport.WIDE_RATIO))
    else:
        print("  32-bit: not measured (make bench MICROPYTHON32=path/to/32-bit/micropython)")
    print("  the node's heap: %d bytes on a 32-bit port, %s on a 64-bit one"
          % (unixport.ESP32_HEAP, int(unixport.ESP32_HEAP * unixport.WIDE_RATIO)))


@contextlib.contextmanager
def _micropython(binary):
    old = os.environ.get("MICROPYTHON")
    os.environ["MICROPYTHON"] = binary
    try:
        yield
    finally:
        if old is None:
            del os.environ["MICROPYTHON"]
        else:
            os.environ["MICROPYTHON"] = old


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a fast look")
    ap.add_argument("--micropython32", type=cli.existing_file,
                    help="a 32-bit unix port: the wake heaps on it too (docs/testing.md)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        flash(work, args.quick)
        spool_memory(work, args.quick)
        drain(work, args.quick)
        wake_heaps(args.micropython32)
        update_cost.report(table, args.micropython32, _micropython)
    print("\n(%.0f s)" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
