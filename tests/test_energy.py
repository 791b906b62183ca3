"""Host side (CPython): the energy figures a wake measures are real, power bands stretch
the upload interval as the battery drops, and tools.battery_life's arithmetic."""

import json
import re
import subprocess
import sys

import pytest

from tests.nodekit import epoch, health_kit, total, uploaded
from tools import battery_life
from tools.dev import unixport as mpy

HEALTH = {"awake_ms": "n_awake", "radio_ms": "n_radio", "bytes_sent": "n_bytes",
          "flash_writes": "n_flash", "tls_handshakes": "n_tls", "wifi_connect_ms": "n_wifi"}
LINK_MS = 40  # the emulated Wi-Fi join's duration (world.json "link_ms")


def test_energy_figures_are_what_the_wake_did(tmp_path):
    kit = health_kit(tmp_path, HEALTH)
    try:
        kit.sim.set_world(link_ms=LINK_MS)
        wakes = []  # (run, the mock's wire counts during it, requests it logged)
        seen = 0
        for _ in range(12):
            kit.server.wire.reset()
            run = kit.cycles(1)[0]
            requests = kit.server.requests()
            wakes.append((run, kit.server.wire.to_dict(), len(requests) - seen))
            seen = len(requests)
        figures = {}  # wake index -> {figure: value}, by the readings' timestamps
        starts = [w[0].started for w in wakes]
        names = {slug: name for name, slug in HEALTH.items()}
        for r in kit.readings():
            if r["sensor_slug"] in names:
                i = max(k for k, t in enumerate(starts) if t <= epoch(r["timestamp"]))
                figures.setdefault(i, {})[names[r["sensor_slug"]]] = r["value"]
        uploads = [i for i, w in enumerate(wakes) if w[0].figures.get("requests")]
        assert len(figures) >= 3 and set(figures) <= set(uploads)
        for i, fig in figures.items():
            run, wire, requests = wakes[i]
            assert wire["handshakes"] == fig["tls_handshakes"] == 1
            assert fig["bytes_sent"] == wire["bytes_in"] > 0  # HTTP bytes, as the server got them
            assert LINK_MS <= fig["wifi_connect_ms"] < fig["radio_ms"] < fig["awake_ms"]
            # a sample commit (its file and the state), a progress save per request but the
            # window's last, the window's acknowledgement (and on the first wake the new
            # spool's state)
            stored = run.figures.get("stored") is not None
            assert requests == total([run], "requests")
            assert fig["flash_writes"] == 2 * stored + (requests - 1) + 1 + (i == 0), (
                i, fig, run.output)
    finally:
        kit.stop()
    # the command reads those figures from the mock's database
    res = subprocess.run([sys.executable, "-m", "tools.battery_life", "--config",
                          str(kit.config_path), "--capacity-mah", "2500", "--board-model",
                          "firebeetle_esp32", "--measured", str(tmp_path / "mock.sqlite")],
                         cwd=mpy.ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "measured: awake_ms over" in res.stdout and "radio_ms over" in res.stdout


def _upload_times(runs):
    return [r.started for r in runs if r.figures.get("requests")]


def _slots(runs):
    """When the node planned its next upload by a power band (the slot's wake)."""
    return [r.started for r in runs if "upload_every" in r.figures]


def test_power_bands_stretch_the_upload_interval_as_the_battery_drops(kit):
    # the simulated battery falls from 4.2 V to 3.3 V over 10 h: 0.09 V an hour
    kit.write_config(sample_interval_s=600, upload_interval_s=600,
                     battery={"source": "sim", "full_v": 4.2, "empty_v": 3.3, "hours": 10},
                     power_bands=[{"below_v": 3.9, "upload_interval_s": 3600},
                                  {"below_v": 3.6, "upload_interval_s": 7200}])
    full = kit.cycles(6)
    times = _upload_times(full)
    # (a wake's own run time may shift the simulator's clock by a second under load)
    assert len(times) >= 3 and all(abs(b - a - 600) <= 2 for a, b in zip(times[1:], times[2:]))
    assert not _slots(full)
    kit.sim.clock += 4 * 3600  # about 3.8 V
    low = []
    while len(_slots(low)) < 3:
        assert len(low) < 30, low[-1].output
        low += kit.cycles(1)
    assert re.search(r"battery 3[78]\d\d mV: upload every 3600 s", low[0].output), low[0].output
    slots = _slots(low)
    # the next slot is on the old grid's phase, within the hour; then an hour apart, and
    # the wakes between them only sample
    assert 0 < slots[1] - slots[0] <= 3602 and abs(slots[2] - slots[1] - 3600) <= 2
    between = [r for r in low if slots[1] < r.started < slots[2]]
    assert len(between) >= 5 and not any(uploaded(r) for r in between)
    assert low[-1].figures["requests"]  # what waited goes at the slot
    kit.sim.clock += 3 * 3600  # about 3.5 V
    lower = []
    while not _slots(lower):
        assert len(lower) < 30, lower[-1].output
        lower += kit.cycles(1)
    assert re.search(r"battery 3[45]\d\d mV: upload every 7200 s", lower[-1].output), \
        lower[-1].output


# A known config for the model's arithmetic: a FireBeetle (10 µA asleep: the chip's own
# deep-sleep figure, so no board quiescent on top), one analog sensor every 10 minutes,
# an upload every hour.
KNOWN = {
    "board": "esp32", "board_model": "firebeetle_esp32",
    "api": {"base_url": "https://api.sensocan.com/api/v1", "token": "t",
            "device_uuid": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "ca_cert": "ca.der"},
    "wifi": {"ssid": "net", "password": "pw"},
    "sample_interval_s": 600, "upload_interval_s": 3600,
    "sensors": [{"slug": "soil", "driver": "analog", "pin": 34}],
}


def _run(tmp_path, *args, cfg=KNOWN):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return subprocess.run([sys.executable, "-m", "tools.battery_life", "--config", str(path)]
                          + list(args), cwd=mpy.ROOT, capture_output=True, text=True)


def _mah(out, component):
    line = next(ln for ln in out.splitlines() if ln.startswith(component))
    return float(line.split()[-1])


def test_battery_life_arithmetic_on_a_known_config(tmp_path):
    res = _run(tmp_path, "--capacity-mah", "2500")
    assert res.returncode == 0, res.stderr
    # By hand: 144 sampling wakes a day of 400 (boot) + 100 (node.run) + 1 (analog) ms at
    # 44 mA; 24 upload wakes of 500 ms CPU at 44 mA and 1500 + 150 + 1000 + 250 = 2900 ms
    # radio on at 100 mA; TX: 6 readings -> 300 + 6 * 78 = 768 bytes sent, plus 3000,
    # at 1 Mbit/s = 30.144 ms a wake at 240 - 100 mA; the chip asleep the rest at 10 µA.
    sampling = 144 * 0.501 * 44 / 3600        # 0.881760
    upload_cpu = 24 * 0.5 * 44 / 3600         # 0.146667
    radio = 24 * 2.9 * 100 / 3600             # 1.933333
    tx = 24 * 0.030144 * 140 / 3600           # 0.028134
    asleep = (86400 - 144 * 0.501 - 24 * 3.4) * 0.010 / 3600  # 0.239573
    total = sampling + upload_cpu + radio + tx + asleep        # 3.229467 mAh a day
    out = res.stdout
    assert _mah(out, "sampling wakes") == pytest.approx(sampling, abs=5e-4)
    assert _mah(out, "upload wakes: CPU") == pytest.approx(upload_cpu, abs=5e-4)
    assert _mah(out, "upload wakes: radio") == pytest.approx(radio, abs=5e-4)
    assert _mah(out, "upload wakes: TX") == pytest.approx(tx, abs=5e-4)
    assert _mah(out, "deep sleep") == pytest.approx(asleep, abs=5e-4)
    assert _mah(out, "board quiescent") == 0
    assert _mah(out, "total") == pytest.approx(total, abs=5e-4)
    assert "774.1 days on 2500 mAh" in out  # 2500 / 3.229467


def test_battery_life_with_measured_figures(tmp_path):
    csv = tmp_path / "health.csv"
    csv.write_text("timestamp,sensor_slug,value\n"
                   "2026-01-01T00:00:00Z,awake_ms,3000\n2026-01-01T01:00:00Z,awake_ms,3200\n"
                   "2026-01-01T00:00:00Z,radio_ms,2000\n2026-01-01T01:00:00Z,radio_ms,2400\n"
                   "2026-01-01T00:00:00Z,bytes_sent,1000\n2026-01-01T00:00:00Z,other,5\n")
    res = _run(tmp_path, "--capacity-mah", "2500", "--measured", str(csv))
    assert res.returncode == 0, res.stderr
    # radio on 2200 ms (the mean); CPU 400 (boot) + 3100 - 2200 = 1300 ms; TX (1000 + 3000)
    # bytes = 32 ms; sampling wakes as modelled
    total = (144 * 0.501 * 44 + 24 * 1.3 * 44 + 24 * 2.2 * 100 + 24 * 0.032 * 140
             + (86400 - 144 * 0.501 - 24 * 3.5) * 0.010) / 3600   # 2.999193
    assert _mah(res.stdout, "total") == pytest.approx(total, abs=5e-4)
    assert "833.6 days" in res.stdout
    assert "measured: awake_ms over 2 wakes, bytes_sent over 1 wakes, radio_ms over 2 wakes" \
        in res.stdout


def test_battery_life_shows_the_power_bands(tmp_path):
    cfg = dict(KNOWN, battery={"source": "adc", "pin": 35},
               power_bands=[{"below_v": 3.6, "upload_interval_s": 7200}])
    res = _run(tmp_path, "--capacity-mah", "2500", cfg=cfg)
    assert res.returncode == 0, res.stderr
    assert re.search(r"below 3\.60 V \(power_bands\): uploads every 7200 s, [\d.]+ mAh/day",
                     res.stdout)


@pytest.mark.parametrize("args,cfg,status,message", [
    (["--capacity-mah", "0"], KNOWN, 2, "--capacity-mah: expected a number above 0, got 0"),
    (["--capacity-mah", "lots"], KNOWN, 2, "--capacity-mah: expected a number, got 'lots'"),
    (["--capacity-mah", "2500", "--board-model", "uno"], KNOWN, 2, "invalid choice: 'uno'"),
    (["--capacity-mah", "2500"], dict(KNOWN, board="unix", board_model=None, wifi=None,
                                      sensors=[{"slug": "w", "driver": "wave"}]),
     1, "has no board_model (a unix board): give --board-model"),
    (["--capacity-mah", "2500"], dict(KNOWN, sample_interval_s=0),
     1, "invalid config: sample_interval_s: must be between 1 and 86400 seconds, got 0"),
    (["--capacity-mah", "2500", "--measured", "/nonexistent.csv"], KNOWN,
     2, "/nonexistent.csv: no such file"),
    ([], KNOWN, 2, "the following arguments are required: --capacity-mah"),
])
def test_battery_life_bad_input_is_one_line(tmp_path, args, cfg, status, message):
    res = _run(tmp_path, *args, cfg=cfg)
    assert res.returncode == status and res.stdout == ""
    assert len(res.stderr.splitlines()) == 1 and message in res.stderr, res.stderr


def test_battery_life_measured_file_without_figures(tmp_path):
    csv = tmp_path / "health.csv"
    csv.write_text("sensor_slug,value\ntemp,21.5\n")
    res = _run(tmp_path, "--capacity-mah", "2500", "--measured", str(csv))
    assert res.returncode == 1 and len(res.stderr.splitlines()) == 1
    assert "has no awake_ms or radio_ms readings" in res.stderr


def test_battery_life_reads_the_mock_list_table(tmp_path):
    table = tmp_path / "list.txt"
    table.write_text("id  received  device  sensor  value  measured\n"
                     "1   2026-01-01T00:00:00Z  d  n_radio  2000  2026-01-01T00:00:00Z\n"
                     "2   2026-01-01T00:00:00Z  d  n_awake  2500  2026-01-01T00:00:00Z\n")
    cfg = dict(KNOWN, health={"radio_ms": "n_radio", "awake_ms": "n_awake"})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    got = battery_life.measured_figures(str(table), battery_life.load_config(str(path), None))
    assert got == ({"radio_ms": 2000.0, "awake_ms": 2500.0}, {"radio_ms": 1, "awake_ms": 1})
