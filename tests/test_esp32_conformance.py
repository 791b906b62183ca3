"""ESP32 conformance without a board.

- Every device module (firmware/, lib/, boards/esp32) type-checks with basedpyright
  against the ESP32 port's stubs (micropython-esp32-stubs): the modules, functions and
  arguments it uses exist on the ESP32, not just on the unix port or in CPython.
- All device code compiles with mpy-cross for the ESP32s' architectures.
- The ESP32's 2000 epoch and 2^30 ms ticks (MicroPython docs/library/time.rst, py/mpconfig.h), which
  the unix port does not have, are injected into the emulated board
  (SENSOCAN_EPOCH=2000, SENSOCAN_TICKS_WRAP), and whole wakes of the node run on them.
"""

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.nodekit import ROOT, Kit, epoch
from tools import build

DEVICE_DIRS = ("firmware", "lib", "boards/esp32")
# What basedpyright reports that holds on the ESP32 all the same: gaps in the stubs,
# and types it infers for untyped code. (file, rule, message fragment): why.
KNOWN = {
    ("firmware/crash.py", "reportAttributeAccessIssue", '"getvalue"'):
        "stub gap: io.StringIO has getvalue() (docs/library/io.rst)",
    ("lib/httpc.py", "reportAttributeAccessIssue", '"verify_mode"'):
        "stub gap: tls.SSLContext.verify_mode is writable (extmod/modtls_mbedtls.c)",
    ("lib/httpc.py", "reportCallIssue", "Expected 1 positional argument"):
        "stub gap: a stream's write(buf, off, len) (py/stream.c takes 1-3 arguments)",
    ("lib/sensocan.py", "reportAttributeAccessIssue", '"remaining"'):
        "inferred: a class attribute declared None and set to an int",
    ("lib/sensocan.py", "reportAttributeAccessIssue", '"retry_after"'):
        "inferred: a class attribute declared None and set to an int",
}
# A probe of what the check must catch (and what it must let through: CPython has no
# time.sleep_ms, no machine); its errors are on the lines marked "error".
PROBE = '''import machine, network, time
time.sleep_ms(1)
machine.lightsleep(10)
network.WLAN(network.STA_IF).connect("ssid", "key", bssid=b"123456")
machine.Pin(2).toggle_x()  # error: no such method
time.ticks_ms(1)  # error: takes no argument
machine.deepsleep_forever()  # error: no such function
'''


def device_sources():
    return sorted(p for d in DEVICE_DIRS for p in (ROOT / d).rglob("*.py"))


def basedpyright(tmp_path, files):
    """basedpyright over `files`: (files analysed, [(path, line, rule, message)])."""
    stubs = metadata.distribution("micropython-stdlib-stubs").locate_file("stdlib").parent
    cfg = {
        "include": [str(f) for f in files],
        "extraPaths": [str(ROOT / d) for d in DEVICE_DIRS],  # as laid out on the board
        "typeshedPath": str(stubs),  # MicroPython's stdlib, not CPython's
        "pythonVersion": "3.11",
        "typeCheckingMode": "basic",
        # stub-only modules are what the ESP32 has
        "reportMissingModuleSource": "none",
        # value types inferred for untyped code (attributes that start as None, dicts
        # filled with mixed values): not a question of what the ESP32 port provides
        **{rule: "none" for rule in (
            "reportOptionalMemberAccess", "reportOptionalSubscript", "reportOptionalIterable",
            "reportOptionalCall", "reportOptionalOperand", "reportPossiblyUnbound",
            "reportArgumentType", "reportOperatorIssue", "reportAssignmentType",
            "reportIndexIssue", "reportGeneralTypeIssues")},
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(cfg))
    res = subprocess.run(
        [str(Path(sys.executable).parent / "basedpyright"), "-p", str(tmp_path / "pyrightconfig.json"),
         "--pythonpath", sys.executable, "--outputjson"],
        capture_output=True, text=True, timeout=600)
    out = json.loads(res.stdout)
    found = []
    for d in out["generalDiagnostics"]:
        if d["severity"] == "error":
            path = Path(d["file"])
            path = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
            found.append((str(path), d["range"]["start"]["line"] + 1, d.get("rule"), d["message"]))
    return out["summary"]["filesAnalyzed"], found


def test_device_code_type_checks_against_the_esp32_stubs(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    sources = device_sources()
    analysed, errors = basedpyright(tmp_path, sources + [probe])
    assert analysed == len(sources) + 1
    caught = sorted(line for path, line, _, _ in errors if path == "probe.py")
    assert caught == [5, 6, 7], errors
    unexplained = [e for e in errors if e[0] != "probe.py" and not any(
        e[0] == f and e[2] == rule and frag in e[3] for f, rule, frag in KNOWN)]
    assert unexplained == [], "\n".join("%s:%d %s: %s" % e for e in unexplained)
    stale = [k for k in KNOWN if not any(
        e[0] == k[0] and e[2] == k[1] and k[2] in e[3] for e in errors)]
    assert stale == [], "fixed (remove from KNOWN): %s" % stale


@pytest.mark.parametrize("march", ["xtensawin", "rv32imc"])
def test_device_code_compiles_for_the_esp32s(tmp_path, march):
    """xtensawin: ESP32, -S2, -S3; rv32imc: ESP32-C3 (docs/reference/mpyfiles.rst); small ints
    of 31 bits, as on the ESP32. The header names no architecture: there is no native
    code (@micropython.native/viper) in the firmware, so one build serves every chip."""
    for src in device_sources():
        out = tmp_path / (src.stem + ".mpy")
        res = subprocess.run([build.mpy_cross(), "-march=" + march, "-msmall-int-bits=31",
                              "-o", str(out), str(src)], capture_output=True, text=True)
        assert res.returncode == 0, "%s: %s" % (src, res.stderr)
        head = out.read_bytes()[:4]
        assert head[:2] == b"M\x06" and head[2] >> 2 == 0 and head[3] == 31, head


CHIPS = [
    {"slug": "air_temp", "driver": "bme280", "quantity": "temperature"},
    {"slug": "air_pressure", "driver": "bme280", "quantity": "pressure"},
    {"slug": "air_humidity", "driver": "bme280", "quantity": "humidity"},
    {"slug": "leaf_humidity", "driver": "sht4x", "quantity": "humidity"},
    {"slug": "light", "driver": "bh1750"},
    {"slug": "soil_temp", "driver": "ds18b20", "pin": 4},
]
# what the emulated board's default chip models measure (tests/device/test_drivers.py)
VALUES = {"air_temp": 25.08, "air_pressure": 1006.56, "air_humidity": 56317 / 1024,
          "leaf_humidity": 44.0, "light": 33680 / 1.2, "soil_temp": 25.0625}
EXTRA = [{"slug": s["slug"], "uuid": "00000000-0000-0000-0001-%012d" % i}
         for i, s in enumerate(CHIPS)] + [
    {"slug": "node_wifi_ms", "uuid": "00000000-0000-0000-0002-000000000000"}]


def chip_kit(tmp_path, **kw):
    """A node with the CHIPS sensors on the emulated board's default chip models, in the
    node's heap (an ESP32's on the 32-bit port), the chip models and simulated buses in
    it too."""
    return Kit(tmp_path, extra_sensors=EXTRA, **kw)


def until_upload(kit, runs):
    """Wakes until one uploads; the runs up to it (its readings reached the server)."""
    while not runs[-1].figures.get("requests"):
        assert len(runs) < 20, runs[-1].output
        runs += kit.cycles(1)
    return runs


def check_readings(kit, runs):
    stored = [r for r in kit.readings() if r["sensor_slug"] in VALUES]
    sampled = {r.started for r in runs if r.figures.get("stored") == 6}
    assert sampled and len(stored) == 6 * len(sampled)
    assert {epoch(r["timestamp"]) for r in stored} == sampled
    for r in stored:
        assert r["value"] == pytest.approx(VALUES[r["sensor_slug"]], rel=1e-6), r


def test_a_node_on_the_esp32_epoch_and_wrapping_ticks(tmp_path, monkeypatch):
    """Every wake's ticks wrap 50 ms after the board starts: during sampling and upload."""
    monkeypatch.setenv("SENSOCAN_EPOCH", "2000")
    monkeypatch.setenv("SENSOCAN_TICKS_WRAP", "50")
    kit = chip_kit(tmp_path)
    try:
        kit.write_config(sensors=CHIPS, health={"wifi_connect_ms": "node_wifi_ms"})
        runs = kit.cycles(3)
        runs = until_upload(kit, runs + kit.cycles(1))
        check_readings(kit, runs)
        wifi_ms = [r["value"] for r in kit.readings() if r["sensor_slug"] == "node_wifi_ms"]
        assert wifi_ms and all(0 <= v < 5000 for v in wifi_ms), wifi_ms
        assert all(r.figures["sensor_faults"] == 0 for r in runs)
    finally:
        kit.stop()


def test_an_unset_rtc_on_the_esp32_epoch_dates_its_readings_at_the_first_sync(
        tmp_path, monkeypatch):
    """Power-on: the RTC reads 2000-01-01 (port time 0). Offline wakes stamp readings
    in a boot session; the first time sync dates them."""
    monkeypatch.setenv("SENSOCAN_EPOCH", "2000")
    kit = chip_kit(tmp_path, rtc_unset=True)
    try:
        kit.write_config(sensors=CHIPS)
        kit.sim.set_link(False)
        runs = kit.cycles(3)
        assert "clock not set: readings are stamped in boot session" in runs[0].output
        kit.sim.set_link(True)
        runs = until_upload(kit, runs + kit.cycles(1))
        assert any("readings are dated" in r.output for r in runs)
        check_readings(kit, runs)
    finally:
        kit.stop()
