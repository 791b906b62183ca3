"""Host tool (CPython): how many days a node's battery lasts, from its config.json.

    python -m tools.battery_life --config CONFIG --capacity-mah 2500
        [--board-model lolin_d32] [--measured FILE]

A charge model per day (docs/energy.md): the board asleep, the sampling wakes, the
upload wakes with the radio on, each at an ESP32 datasheet current. The wake times
are a model (boot, the drivers' waits, Wi-Fi join, TLS handshake, requests) unless
--measured gives the node's own health figures (awake_ms, radio_ms, bytes_sent) as
the Sensocan mock stored them (its SQLite file, or `sensocan_mock list --db` output)
or as a CSV with a sensor column (sensor_slug, slug or sensor) and a value column.

Prints a breakdown table (mAh per day per component) and the days. Exit status 0; 1
with one line naming the problem in the config or the measured file; 2 for a wrong
argument or a missing file.
"""

import csv
import math
import sqlite3
import sys
from pathlib import Path

from tools import cli, devicelib  # noqa: F401  (devicelib: lib/ on sys.path)

import config  # noqa: E402  (the device's validator)
from boardmodels import BOARD_MODELS  # noqa: E402  (boards/esp32: each board's sleep current)
from drivers.registry import DRIVERS  # noqa: E402  (what each driver waits for a measurement)

# Currents in mA from the ESP32 Series Datasheet v3.5 (Espressif), at 3.3 V, 25 °C:
# §3.7 "RTC and Low-Power Management", Table 6 "Power Consumption by Power Modes", and
# the RF figures it refers to (Table 15). CPU awake with the radio off is Modem-sleep at
# MicroPython's 160 MHz (its generic ESP32 build; machine.freq() changes it), dual-core
# chip, the top of the 27-44 mA range: the interpreter keeps the CPU busy.
CPU_MA = 44.0
RX_MA = 100.0   # Wi-Fi RX and listening, 802.11b/g/n: 95-100 mA, top of the range
TX_MA = 240.0   # Wi-Fi TX, 802.11b 1 Mbps at +19.5 dBm (the highest of the TX rows)
SLEEP_MA = 0.010  # Deep-sleep, RTC timer + RTC memory (the node keeps its state there)

# Times in ms: estimates to be replaced by measurements (--measured, or edit them).
BOOT_MS = 400      # reset to node.run: ROM and 2nd-stage bootloader, MicroPython, boot.py
RUN_MS = 100       # node.run without sensors or radio: spool, RTC state, log
JOIN_MS = 1500     # Wi-Fi join: cached channel and BSSID, WPA2 handshake, DHCP
NTP_MS = 150       # one NTP exchange when the link comes up
TLS_MS = 1000      # TCP connect and TLS handshake (ECDHE and certificate check on the CPU)
REQUEST_MS = 250   # one HTTP request and its reply, round trip and server time

# Bytes the client sends, measured against the mock (server.wire.bytes_in): about 300
# per request (request line, headers, body framing) and 78 per reading (a batch item
# with a slug, timestamp and value); a bulk request's items are shorter.
REQUEST_BYTES = 300
READING_BYTES = 78
# TX airtime: everything the node transmits, at 802.11b 1 Mbps (the 240 mA row; faster
# rates take less air), plus about 3,000 bytes besides the HTTP ones: join, DHCP, DNS,
# NTP, TCP acknowledgements and the client's TLS handshake messages.
TX_BYTES_EXTRA = 3000
TX_KBIT_PER_S = 1000.0

DAY_S = 86400.0


class Problem(cli.ToolError):
    """A bad input: the one line the command prints."""


def _chips(sensors):
    """The measurements one sampling round makes: (driver, chip key) once each, as the
    sampler shares a chip's measurement between its sensors (I2C: by address; 1-Wire: by
    pin and ROM code)."""
    seen = []
    for s in sensors:
        d = s["driver"]
        bus = DRIVERS[d].bus
        key = (d, s["addr"] if bus == "i2c" else (s["pin"], s["rom"]) if bus == "onewire"
               else s["index"])
        if key not in seen:
            seen.append(key)
    return seen


def sample_wake_ms(cfg):
    """A sampling wake, reset to deep sleep: boot, node.run and every measurement (what
    the drivers wait for one, lib/drivers/registry.py)."""
    return BOOT_MS + RUN_MS + sum(DRIVERS[d].measure_ms for d, _ in _chips(cfg["sensors"]))


def model(cfg, upload_interval=None, measured=None):
    """Everything per day: [(component, mA, seconds a day, mAh a day)], and the facts the
    summary line shows. `measured`: {"awake_ms", "radio_ms", "bytes_sent"} means."""
    sample_s, upload_s = cfg["sample_interval_s"], upload_interval or cfg["upload_interval_s"]
    n_sample, n_upload = DAY_S / sample_s, DAY_S / upload_s
    readings = len(cfg["sensors"]) * upload_s / sample_s + len(cfg.get("health") or ())
    requests = max(1, math.ceil(readings / cfg["upload"]["chunk_max"]))
    t_sample = sample_wake_ms(cfg)
    m = measured or {}
    if "radio_ms" in m:
        t_radio = m["radio_ms"]
    else:
        t_radio = JOIN_MS + NTP_MS + TLS_MS + requests * REQUEST_MS
    if "awake_ms" in m:  # from node.run up to the health readings: add the boot
        t_cpu = BOOT_MS + max(0.0, m["awake_ms"] - t_radio)
    else:
        t_cpu = BOOT_MS + RUN_MS
    sent = m.get("bytes_sent", requests * REQUEST_BYTES + readings * READING_BYTES)
    t_tx = (sent + TX_BYTES_EXTRA) * 8 / TX_KBIT_PER_S
    board_ma = max(0.0, cfg["_board_ua"] / 1000.0 - SLEEP_MA)
    awake_s = (n_sample * t_sample + n_upload * (t_cpu + t_radio)) / 1000.0
    rows = [
        ("deep sleep: chip (RTC timer + memory)", SLEEP_MA, max(0.0, DAY_S - awake_s)),
        ("board quiescent (regulator, LED, divider)", board_ma, DAY_S),
        ("sampling wakes: CPU", CPU_MA, n_sample * t_sample / 1000.0),
        ("upload wakes: CPU (boot, spool)", CPU_MA, n_upload * t_cpu / 1000.0),
        ("upload wakes: radio on (RX, listen)", RX_MA, n_upload * t_radio / 1000.0),
        ("upload wakes: TX bursts (above RX)", TX_MA - RX_MA, n_upload * t_tx / 1000.0),
    ]
    rows = [(name, ma, s, ma * s / 3600.0) for name, ma, s in rows]
    facts = {"n_sample": n_sample, "n_upload": n_upload, "t_sample": t_sample,
             "t_cpu": t_cpu, "t_radio": t_radio, "t_tx": t_tx, "readings": readings,
             "requests": requests, "sent": sent}
    return rows, facts


def load_config(path, board_model):
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise Problem("cannot read %s (%s)" % (path, e.strerror or e))
    try:
        cfg = config.loads(text, str(Path(path).parent))
    except config.ConfigError as e:
        more = " (and %d more; see tools.check_config)" % (len(e.errors) - 1) if len(e.errors) > 1 else ""
        raise Problem("%s: invalid config: %s%s" % (path, e.errors[0], more))
    name = board_model or cfg["board_model"]
    if name is None:
        raise Problem("%s has no board_model (a %s board): give --board-model (make: "
                      "BOARD_MODEL=), one of %s"
                      % (path, cfg["board"], ", ".join(sorted(BOARD_MODELS))))
    if name not in BOARD_MODELS:
        raise Problem("unknown board model %r: one of %s"
                      % (name, ", ".join(sorted(BOARD_MODELS))))
    cfg["_board_model"], cfg["_board_ua"] = name, BOARD_MODELS[name].sleep_ua
    return cfg


def _rows_from_file(path):
    """(sensor, value) pairs from the mock's SQLite file, its `list` table, or a CSV."""
    p = Path(path)
    try:
        head = p.open("rb").read(16)
    except OSError as e:
        raise Problem("cannot read %s (%s)" % (path, e.strerror or e))
    if head.startswith(b"SQLite format 3"):
        try:
            db = sqlite3.connect("file:%s?mode=ro" % p.resolve(), uri=True)
            try:
                return db.execute("SELECT sensor_slug, value FROM readings ORDER BY id").fetchall()
            finally:
                db.close()
        except sqlite3.Error as e:
            raise Problem("%s: not a Sensocan mock database (%s)" % (path, e))
    try:
        lines = p.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise Problem("cannot read %s as text (%s)" % (path, e))
    lines = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise Problem("%s is empty" % path)
    if "," in lines[0]:
        table = list(csv.reader(lines))
    else:  # `sensocan_mock list` output: columns apart by spaces, no spaces in a cell
        table = [ln.split() for ln in lines]
    header = [h.strip().lower() for h in table[0]]
    col = next((header.index(k) for k in ("sensor_slug", "slug", "sensor") if k in header), None)
    if col is None or "value" not in header:
        raise Problem("%s: expected a header with a sensor column (sensor_slug, slug or "
                      "sensor) and a value column, got %s" % (path, ", ".join(header[:5]) + (
                          ", ..." if len(header) > 5 else "") or "none"))
    val = header.index("value")
    out = []
    for row in table[1:]:
        try:
            out.append((row[col].strip(), float(row[val])))
        except (IndexError, ValueError):
            continue  # a "-" value, a short row
    return out


def measured_figures(path, cfg):
    """Means of the awake_ms, radio_ms and bytes_sent health readings in `path`, found
    under the slugs config.json's "health" gives them (else the figure names)."""
    health = cfg.get("health") or {}
    slugs = {health.get(f, f): f for f in ("awake_ms", "radio_ms", "bytes_sent")}
    values = {}
    for slug, v in _rows_from_file(path):
        if slug in slugs:
            values.setdefault(slugs[slug], []).append(v)
    if "radio_ms" not in values and "awake_ms" not in values:
        raise Problem("%s has no awake_ms or radio_ms readings (looked for sensors %s)"
                      % (path, ", ".join(sorted(slugs))))
    return {f: sum(v) / len(v) for f, v in values.items()}, {f: len(v) for f, v in values.items()}


def report(cfg, capacity, measured=None, counts=None, config_path=""):
    rows, f = model(cfg, measured=measured)
    total = sum(r[3] for r in rows)
    days = capacity / total
    out = ["Battery life: %s on a %s (deep sleep %g uA), %g mAh" % (
        config_path, cfg["_board_model"], cfg["_board_ua"], capacity)]
    out.append("A day: %d sampling wakes of %d ms (%s); %d upload wakes: %d ms CPU, "
               "%d ms radio on, %.0f readings in %d request%s, %.0f bytes sent (%s)" % (
                   round(f["n_sample"]), f["t_sample"], cli.count(len(cfg["sensors"]), "sensor"),
                   round(f["n_upload"]),
                   f["t_cpu"], f["t_radio"], f["readings"], f["requests"],
                   "s" if f["requests"] > 1 else "", f["sent"],
                   "measured: %s" % ", ".join("%s over %d wakes" % (k, n) for k, n in
                                              sorted(counts.items())) if measured else "model"))
    out.append("")
    width = max(len(r[0]) for r in rows)
    out.append("%-*s  %9s  %10s  %9s" % (width, "component", "mA", "s/day", "mAh/day"))
    for name, ma, s, mah in rows:
        out.append("%-*s  %9.3f  %10.1f  %9.3f" % (width, name, ma, s, mah))
    out.append("%-*s  %9s  %10s  %9.3f" % (width, "total", "", "", total))
    out.append("")
    out.append("average %.3f mA: %.1f days on %g mAh (no derating for temperature, "
               "self-discharge or the regulator's cut-off)" % (total / 24.0, days, capacity))
    for below_v, interval in cfg.get("power_bands") or ():
        band = sum(r[3] for r in model(cfg, interval, measured)[0])
        out.append("below %.2f V (power_bands): uploads every %d s, %.3f mAh/day "
                   "(%.1f days at that rate)" % (below_v, interval, band, capacity / band))
    return "\n".join(out), days


def main(argv=None):
    ap = cli.Parser(prog="battery_life", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, type=cli.existing_file,
                    help="the node's config.json")
    ap.add_argument("--capacity-mah", required=True, type=cli.positive_float,
                    help="the battery's capacity in mAh")
    ap.add_argument("--board-model", choices=sorted(BOARD_MODELS),
                    help="override (or give, for a unix config) the board model")
    ap.add_argument("--measured", metavar="FILE", type=cli.existing_file,
                    help="health readings: the mock's SQLite file, its `list` output, or a "
                    "CSV (sensor_slug, value)")
    args = ap.parse_args(argv)

    def body():
        cfg = load_config(str(args.config), args.board_model)
        measured = counts = None
        if args.measured:
            measured, counts = measured_figures(args.measured, cfg)
        print(report(cfg, args.capacity_mah, measured, counts, str(args.config))[0])
        return 0

    return cli.run_tool("battery_life", body)


if __name__ == "__main__":
    sys.exit(main())
