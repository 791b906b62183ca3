"""Config validation: the device (MicroPython) and the host command give the same
field-by-field errors, and the shipped examples are valid."""

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tools import certs, check_config
from tools.dev import unixport as mpy

from drivers.registry import DRIVERS  # noqa: E402  (check_config put lib/ on the path)

UUID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"


def base(**over):
    cfg = {
        "board": "unix",
        "api": {"base_url": "https://localhost:8443/api/v1", "token": "tok",
                "device_uuid": UUID, "ca_cert": "ca.der"},
        "sensors": [{"slug": "temp_01", "driver": "wave"}],
    }
    cfg.update(over)
    return cfg


CASES = [
    # (config changes, expected error lines)
    (dict(sensors=[{"slug": "a", "driver": "wave"}, {"slug": "b", "driver": "wave"},
                   {"slug": "c", "driver": "adc", "pin": "34"}]),
     ['sensors[2].pin: expected an integer, got "34"']),
    (dict(api={"base_url": "http://localhost/api/v1", "token": "t", "device_uuid": UUID}),
     ["api.base_url: plain http:// is refused (readings and token would travel unencrypted);"
      " use https:// or set api.allow_insecure_http to true"]),
    (dict(api={"base_url": "https://x/api/v1", "token": "t", "device_uuid": UUID}),
     ["api.ca_cert: required for https:// (the node has no CA bundle): give the PEM or DER"
      " file of the server's root CA"]),
    (dict(api={"base_url": "ftp://x", "token": "", "device_uuid": "nope", "ca_cert": "ca.der",
               "timeout_s": 500, "colour": 1}),
     ['api.base_url: expected an http:// or https:// URL, got "ftp://x"',
      "api.token: must not be empty",
      'api.device_uuid: expected a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890, got "nope"',
      "api.timeout_s: must be between 1 and 120 seconds, got 500",
      "api.colour: unknown setting"]),
    (dict(board="esp32", sensors=[{"slug": "t", "driver": "wave"},
                                  {"uuid": "zz", "driver": "adc", "pin": 26}]),
     ["wifi: missing (expected an object)",
      'sensors[0].driver: "wave" is only available on the unix board',
      'sensors[1].uuid: expected a UUID, got "zz"',
      "sensors[1].pin: GPIO 26 is on ADC2, which cannot be read while Wi-Fi is on;"
      " use an ADC1 pin (32-39)"]),
    (dict(sensors=[{"driver": "wave"}, {"slug": "x", "driver": "nope"},
                   {"slug": "x", "driver": "wave", "shape": "blob", "period": 3}]),
     ["sensors[0]: needs a slug or a uuid (or both)",
      'sensors[1].driver: unknown driver "nope" (known: %s)' % ", ".join(sorted(DRIVERS)),
      'sensors[2].slug: "x" is already used by sensors[1]',
      'sensors[2].shape: expected one of "sine", "triangle", "square", "saw", got "blob"',
      "sensors[2].period: unknown setting"]),
    (dict(sensors=[], sample_interval_s=0, battery={"source": "adc"}, extra=True),
     ["sample_interval_s: must be between 1 and 86400 seconds, got 0",
      "battery.pin: missing (expected an integer)",
      "sensors: expected a non-empty list of sensors, got []",
      "extra: unknown setting"]),
    (dict(sensors=[{"slug": "r", "driver": "replay", "file": "missing.csv"}]),
     ['sensors[0].file: file "missing.csv" not found']),
    (dict(battery={"source": "sim"}, power_bands=[
        {"below_v": 3.6, "upload_interval_s": 1800}, {"below_v": 3.7, "upload_interval_s": 300},
        {"below_v": "low", "volts": 1}, 5, {"below_v": 3.4, "upload_interval_s": 900}]),
     ["power_bands[1].below_v: must be below power_bands[0].below_v (3.6 V): list the bands"
      " from the highest voltage down",
      "power_bands[1].upload_interval_s: must be at least upload_interval_s (600), got 300",
      'power_bands[2].below_v: expected a number, got "low"',
      "power_bands[2].upload_interval_s: missing (expected an integer)",
      "power_bands[2].volts: unknown setting",
      "power_bands[3]: expected an object, got 5",
      "power_bands[4].upload_interval_s: must be at least power_bands[0].upload_interval_s"
      " (1800): a lower battery never uploads more often"]),
    (dict(power_bands=[{"below_v": 0.2, "upload_interval_s": 600}]),
     ["power_bands[0].below_v: must be between 0.5 and 100 volts, got 0.2",
      "power_bands: needs a battery reading: set battery.source"]),
    (dict(power_bands={"below_v": 3.5}, health={"awake_ms": "n_awake", "radio_s": "x"}),
     ['health.radio_s: unknown health figure (known: spool_depth, dropped, dead_letters,'
      ' http_status, reset_cause, min_free_heap, rssi, wifi_connect_ms, tls_handshakes, unsure,'
      ' awake_ms, radio_ms, bytes_sent, flash_writes, version, update, rollbacks)',
      'power_bands: expected a list of at most 8 {"below_v": volts, "upload_interval_s":'
      ' seconds}, got {"below_v": 3.5}']),
]


@functools.lru_cache(maxsize=None)
def ca_der():
    """A real CA certificate (DER), made once per test run."""
    d = Path(tempfile.mkdtemp(prefix="config-ca-"))
    try:
        return certs.make_ca(d)["ca_der"].read_bytes()
    finally:
        shutil.rmtree(d)


def write(tmp_path, cfg):
    (tmp_path / "ca.der").write_bytes(ca_der())
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


DEVICE_CHECK = (
    "import config\n"
    "try:\n"
    "    cfg = config.load(%r, True)\n"
    "    for x in cfg['warnings']: print('W ' + x)\n"
    "except config.ConfigError as e:\n"
    "    for x in e.errors: print('E ' + x)\n")


def device_check(path):
    """(errors, warnings) of the device's validator (MicroPython) on the file at `path`,
    in the heap it has at boot: the node's (tools/dev/unixport.node_heap)."""
    res = mpy.run_code(DEVICE_CHECK % str(path), heap=mpy.node_heap())
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    return ([x[2:] for x in lines if x.startswith("E ")],
            [x[2:] for x in lines if x.startswith("W ")])


def device_errors(path):
    return device_check(path)[0]


@pytest.mark.parametrize("changes,expected", CASES)
def test_errors_name_the_field_on_device_and_host(tmp_path, changes, expected):
    path = write(tmp_path, base(**changes))
    assert device_errors(path) == expected
    _, host = check_config.check(path)
    assert host == expected


def test_token_value_is_never_echoed(tmp_path):
    cfg = base()
    cfg["api"]["token"] = ["s3cr3t-token"]
    path = write(tmp_path, cfg)
    errors = device_errors(path)
    assert errors == ["api.token: expected a string, got a value of type list"]
    assert "s3cr3t" not in " ".join(errors)


def test_valid_config_is_normalised_with_defaults(tmp_path):
    path = write(tmp_path, base())
    cfg, errors = check_config.check(path)
    assert errors == []
    assert cfg["api"]["allow_insecure_http"] is False
    assert cfg["api"]["ca_cert"] == str(tmp_path / "ca.der")
    assert cfg["sample_interval_s"] == 60 and cfg["upload_interval_s"] == 600
    assert cfg["battery"] == {"source": "none"}
    assert cfg["sensors"][0]["shape"] == "sine" and cfg["sensors"][0]["index"] == 0


def test_power_bands_are_normalised(tmp_path):
    path = write(tmp_path, base(battery={"source": "sim"}, upload_interval_s=900, power_bands=[
        {"below_v": 3.6, "upload_interval_s": 1800}, {"below_v": 3.4, "upload_interval_s": 7200}]))
    cfg, errors = check_config.check(path)
    assert errors == [] and device_errors(path) == []
    assert cfg["power_bands"] == [(3.6, 1800), (3.4, 7200)]
    cfg, _ = check_config.check(write(tmp_path, base()))
    assert cfg["power_bands"] == []


def test_http_allowed_only_when_explicit(tmp_path):
    cfg = base()
    cfg["api"] = {"base_url": "http://127.0.0.1:8080/api/v1", "token": "t", "device_uuid": UUID,
                  "allow_insecure_http": True}
    assert device_errors(write(tmp_path, cfg)) == []


def test_broken_json_is_reported(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"board": "unix",')
    assert device_errors(p)[0].startswith("(file): not valid JSON")


@pytest.mark.parametrize("example", ["boards/unix/config.json", "boards/esp32/config.json"])
def test_shipped_examples_are_valid(example):
    res = subprocess.run([sys.executable, "-m", "tools.check_config", "--skip-files", example],
                         cwd=mpy.ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
    assert "OK" in res.stdout


def test_host_command_reports_every_problem(tmp_path):
    path = write(tmp_path, base(**CASES[3][0]))
    res = subprocess.run([sys.executable, "-m", "tools.check_config", str(path)],
                         cwd=mpy.ROOT, capture_output=True, text=True)
    assert res.returncode == 1
    assert "5 problems" in res.stdout
    for line in CASES[3][1]:
        assert line in res.stdout


# (path of the setting, lowest, highest, a step past them, other settings it needs)
# Floats are shown to 7 digits in messages (what both sides agree on): steps keep to that.
RANGES = [
    (("sample_interval_s",), 1, 86400, 1, {}),
    (("upload_interval_s",), 1, 604800, 1, {}),
    (("api", "timeout_s"), 1, 120, 0.5, {}),
    (("wifi", "timeout_s"), 1, 120, 0.5, {"ssid": "net"}),
    (("upload", "chunk_max"), 1, 1000, 1, {}),
    (("upload", "max_requests"), 1, 1000, 1, {}),
    (("upload", "backoff_base_s"), 1, 3600, 1, {"backoff_cap_s": 86400}),
    (("upload", "backoff_cap_s"), 1, 86400, 1, {"backoff_base_s": 1}),
    (("upload", "alert_retry_s"), 60, 86400, 1, {}),
    (("upload", "deadline_s"), 30, 1800, 1, {}),
    (("clock", "ntp_timeout_s"), 0.1, 30, 0.05, {}),
    (("spool", "capacity"), 64, 1000000, 1, {}),
    (("i2c", "freq"), 10000, 1000000, 1, {}),
    (("battery", "hours"), 0.1, 87600, 0.05, {"source": "sim"}),
    (("sensors", 0, "period_s"), 1, 31536000, 1, {}),
    (("sensors", 0, "phase_s"), -31536000, 31536000, 1, {}),
    (("sensors", 0, "column"), 0, 255, 1, {"driver": "replay", "file": "ca.der"}),
]


@pytest.mark.host
@pytest.mark.parametrize("path,lo,hi,step,needs", RANGES,
                         ids=[".".join(map(str, r[0])) for r in RANGES])
def test_every_interval_and_count_has_its_range(tmp_path, path, lo, hi, step, needs):
    name = ".".join(map(str, path)).replace(".0.", "[0].")
    unit = " seconds" if name.endswith("_s") else ""
    for value in (lo, hi, lo - step, hi + step):
        cfg = base()
        parent = cfg
        for key in path[:-1]:
            parent = parent[key] if key == 0 else parent.setdefault(key, {})
        parent.update(needs)
        parent[path[-1]] = value
        errors = check_config.check(write(tmp_path, cfg))[1]
        expected = [] if lo <= value <= hi else [
            "%s: must be between %s and %s%s, got %s" % (name, lo, hi, unit, value)]
        if value < 1 and name == "upload.backoff_cap_s":
            expected.append("upload.backoff_cap_s: must not be below upload.backoff_base_s")
        assert errors == expected


@pytest.mark.host
def test_a_power_band_uploads_at_least_weekly(tmp_path):
    bands = [{"below_v": 3.6, "upload_interval_s": 604800},
             {"below_v": 3.4, "upload_interval_s": 604801}]
    errors = check_config.check(write(tmp_path, base(battery={"source": "sim"},
                                                     power_bands=bands)))[1]
    assert errors == ["power_bands[1].upload_interval_s: must be at most 604800 seconds "
                      "(a week), got 604801"]


@pytest.mark.host
def test_the_upload_deadline_defaults_to_three_minutes(tmp_path):
    cfg, errors = check_config.check(write(tmp_path, base()))
    assert errors == [] and cfg["upload"]["deadline_s"] == 180
    cfg, _ = check_config.check(write(tmp_path, base(upload={"deadline_s": 600})))
    assert cfg["upload"]["deadline_s"] == 600
