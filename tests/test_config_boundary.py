"""Config files at the boundary: the host checker (CPython) and the device validator
(MicroPython: the unix port of the run, 64-bit with `make test`, 32-bit with `make
test-32bit`) give the same lines on the same files, and whatever config.json holds, the
node stops in safe mode with the reason and the REPL reachable."""

import base64
import json
import subprocess
import sys

import pytest

from tests.test_config import UUID, base, ca_der, device_check
from tools import check_config
from tools.dev import sim
from tools.dev import unixport as mpy

import configsensors  # noqa: E402  (check_config put the validator's modules on the path)
import strictjson  # noqa: E402

WIFI = {"ssid": "net"}


def text(cfg):
    return json.dumps(cfg, indent=2).encode()


def good():
    return text(base())


def latin1(tmp):
    data = json.dumps(base(wifi={"ssid": "Café"}), ensure_ascii=False).encode("latin-1")
    off = data.index(b"\xe9")
    return data, ["(file): not UTF-8 at line 1 column %d (byte offset %d): byte 0xE9; save "
                  "the file as UTF-8" % (off + 1, off)]


def replaced(old, new, at, problem):
    """The good config with `old` replaced by `new`: `problem` at the first `at` from
    where `new` starts."""
    def build(tmp):
        data = good().replace(old, new, 1)
        assert data != good()
        return data, ["(file): " + problem % place(data, data.index(at, data.index(new)))]
    return build


def place(data, off):
    line = data.count(b"\n", 0, off) + 1
    return "line %d column %d" % (line, off - data.rfind(b"\n", 0, off))


def extra_after_the_end(tmp):
    data = good() + b"\n{}"
    return data, ["(file): not valid JSON at %s: more after the end of the top-level value"
                  % place(data, len(data) - 2)]


def one_mib(tmp):
    head = b'{"board": "unix", "padding": "'
    data = head + b"x" * ((1 << 20) - len(head) - 2) + b'"}'
    return data, ["(file): 1048576 bytes: a config file has at most 32768"]


def file_named(name, content, problem=None):
    """A config whose api.ca_cert is `name`, holding `content`."""
    def build(tmp):
        (tmp / name).write_bytes(content() if callable(content) else content)
        cfg = base()
        cfg["api"]["ca_cert"] = name
        return text(cfg), ['api.ca_cert: "%s" is not a certificate (expected PEM or DER '
                           'X.509): %s' % (name, problem)] if problem else []
    return build


def pem():
    return (b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(ca_der())
            + b"-----END CERTIFICATE-----\n")


def esp32(errors=(), warnings=(), **over):
    def build(tmp):
        return text(base(board="esp32", wifi=WIFI, **over)), list(errors), list(warnings)
    return build


def changed(errors, **over):
    return lambda tmp: (text(base(**over)), errors)


STRAPPING = ("GPIO %d is a strapping pin of the ESP32: if what is wired to it pulls it high "
             "or low during a reset, the chip may not start the firmware")
# name -> build(tmp dir) -> (file bytes, error lines[, warning lines])
CASES = {
    "good": lambda tmp: (good(), []),
    "one_mib": one_mib,
    "nested_5000_deep": lambda tmp: (b"[" * 5000 + b"]" * 5000, [
        "(file): nested deeper than 16 levels at line 1 column 17"]),
    "latin1": latin1,
    "bom": lambda tmp: (b"\xef\xbb\xbf" + good(), [
        "(file): starts with a byte order mark (EF BB BF): save it as UTF-8 without one"]),
    "nan": replaced(b'"board": "unix"', b'"board": NaN', b"NaN",
                    "not valid JSON at %s: NaN and Infinity are not JSON numbers"),
    "minus_infinity": replaced(b'"board": "unix"', b'"board": -Infinity', b"-",
                               "not valid JSON at %s: '-' without digits (NaN and Infinity "
                               "are not JSON numbers)"),
    "trailing_comma": replaced(b'"wave"\n    }', b'"wave"\n    },', b"]",
                               "not valid JSON at %s: a comma before ']'"),
    "trailing_comma_in_object": replaced(b'"wave"\n', b'"wave",\n', b"}",
                                         "not valid JSON at %s: a comma before '}'"),
    "leading_zero": replaced(b'"driver"', b'"n": 060, "driver"', b"060",
                             "not valid JSON at %s: a number with a leading zero"),
    "missing_comma": replaced(b'"tok",', b'"tok" ', b'"device_uuid"',
                              "not valid JSON at %s: expected ',' or '}', got '\"'"),
    "tab_in_string": replaced(b'"tok"', b'"t\tk"', b"\t",
                              "not valid JSON at %s: control character 0x09 in a string "
                              "(write it as an escape, e.g. \\n)"),
    "unknown_escape": replaced(b'"tok"', b'"t\\k"', b"\\",
                               "not valid JSON at %s: unknown escape: '\\' then 'k'"),
    "surrogate_escape": replaced(b'"tok"', b'"\\ud83d"', b"\\",
                                 "not valid JSON at %s: \\uD83D is half of a UTF-16 pair: "
                                 "write the character itself"),
    "number_too_big": replaced(b'"driver"', b'"n": 1e39, "driver"', b"1e39",
                               "not valid JSON at %s: a number beyond the ESP32's 32-bit "
                               "floats (a config number is 0 or between 1e-37 and 1e38 in "
                               "size)"),
    "extra_after_the_end": extra_after_the_end,
    "empty": lambda tmp: (b"", ["(file): holds no JSON value (the file is empty)"]),
    "interval_1e12": changed(["sample_interval_s: must be between 1 and 86400 seconds, got "
                              "1000000000000"], sample_interval_s=10 ** 12),
    "interval_float_1e12": changed(["sample_interval_s: expected an integer, got 1e+12"],
                                   sample_interval_s=1e12),
    "upload_deadline": changed(["upload.deadline_s: must be between 30 and 1800 seconds, "
                                "got 10"], upload={"deadline_s": 10}),
    "float_shown_alike": changed(["power_bands[0].below_v: must be between 0.5 and 100 volts, "
                                  "got 922.44"], battery={"source": "sim"},
                                 power_bands=[{"below_v": 922.44, "upload_interval_s": 900}]),
    "non_ascii_shown_alike": changed([
        "sensors[0].slug: expected 1-64 letters, digits, '_', '-' or '.', got \"café\""],
        sensors=[{"slug": "café", "driver": "wave"}]),
    "unknown_keys_sorted": changed(["alpha: unknown setting", "beta: unknown setting",
                                    "zeta: unknown setting"], zeta=1, beta=2, alpha=3),
    "csv_as_ca": file_named("ca.csv", b"time,value\n1,2\n",
                            "no -----BEGIN CERTIFICATE----- line, and not DER (starts with "
                            "byte 0x74, not a SEQUENCE)"),
    "key_as_ca": file_named("ca.key", b"-----BEGIN PRIVATE KEY-----\nMIGH\n-----END "
                            b"PRIVATE KEY-----\n", "no -----BEGIN CERTIFICATE----- line"),
    "truncated_der": file_named("ca.der", lambda: ca_der()[:-1],
                                "not DER: no SEQUENCE spanning its %d bytes" % (len(ca_der()) - 1)),
    "pem_ca": file_named("ca.pem", pem),
    "two_pem_blocks": file_named("ca.pem", lambda: pem() + pem()),
    "pem_not_base64": file_named("ca.pem", b"-----BEGIN CERTIFICATE-----\nMII*\n-----END "
                                 b"CERTIFICATE-----\n", "PEM block 1 is not base64"),
    "sensor_on_the_battery_pin": esp32(
        ["sensors[0].pin: GPIO 35 is already the battery pin (battery.pin)"],
        board_model="lolin_d32", battery={"source": "adc"},
        sensors=[{"slug": "soil", "driver": "analog", "pin": 35}]),
    "ds18b20_on_the_sda_pin": esp32(
        ["sensors[1].pin: GPIO 21 is already the I2C SDA pin (pins.sda)"],
        sensors=[{"slug": "air", "driver": "bme280", "quantity": "temperature"},
                 {"slug": "soil", "driver": "ds18b20", "pin": 21}]),
    "strapping_pins_warned": esp32(
        [], ["safe_mode_pin: " + STRAPPING % 0, "sensors[0].pin: " + STRAPPING % 12],
        safe_mode_pin=0, sensors=[{"slug": "soil", "driver": "ds18b20", "pin": 12}]),
}


def build(name, tmp):
    """(config path, error lines, warning lines) of case `name`, written in `tmp`."""
    (tmp / "ca.der").write_bytes(ca_der())
    made = CASES[name](tmp)
    path = tmp / "config.json"
    path.write_bytes(made[0])
    return path, made[1], list(made[2]) if len(made) > 2 else []


@pytest.mark.parametrize("name", sorted(CASES))
def test_host_and_device_give_the_same_lines(tmp_path, name):
    path, errors, warnings = build(name, tmp_path)
    cfg, host = check_config.check(path)
    assert (host, cfg["warnings"] if cfg else []) == (errors, warnings)
    assert device_check(path) == (errors, warnings)


@pytest.mark.parametrize("name", ["one_mib", "nested_5000_deep", "latin1", "bom", "nan",
                                  "trailing_comma"])
def test_the_node_stops_in_safe_mode_with_the_reason(tmp_path, name):
    path, errors, _ = build(name, tmp_path)
    run = node(tmp_path, path).run_cycle(typed="print('answer', 6 * 7)\n")
    assert run.safe_mode and run.sleep_s is None
    assert "Traceback" not in run.output, run.output
    assert "    " + errors[0] + "\n" in run.output
    assert "answer 42" in run.output  # the REPL ran what we typed


def test_a_config_too_dense_for_the_heap_still_ends_in_safe_mode(tmp_path):
    """32 KB of empty lists parse into more objects than the node's heap holds: the
    MemoryError becomes the safe-mode reason instead of a crash."""
    path = tmp_path / "config.json"
    path.write_bytes(b'{"x": [' + b"[]," * 10000 + b'[]]}')
    run = node(tmp_path, path).run_cycle(typed="print('answer', 6 * 7)\n")
    assert run.safe_mode and run.sleep_s is None
    assert "Traceback" not in run.output, run.output
    assert "cannot check %s: MemoryError" % path in run.output
    assert "answer 42" in run.output


def node(tmp, path):
    state = tmp / "state"
    state.mkdir()
    sim.prepare_flash(state)
    return sim.Simulator(path, state)  # in the node's heap (tools/dev/unixport.node_heap)


def largest():
    """The largest config in practice: as many sensors with 64-character slugs and UUIDs
    as the node's memory takes (lib/configsensors.py's weights), with the most parameters a
    driver takes, every optional section filled, one sensor a line."""
    uuid = "%08x-0000-4000-8000-%012x"
    most = configsensors.BUDGET // (configsensors.WEIGHT + (64 + 36) // configsensors.NAME_CHARS)
    sensors = [{"slug": ("sensor_%02d_" % i + "x" * 64)[:64], "uuid": uuid % (i, i),
                "driver": "analog", "pin": (32, 33, 34, 36, 37, 38, 39)[i % 7],
                "samples": 256, "scale": 30.303, "offset": -1.25, "vmin": 0.15, "vmax": 3.1}
               for i in range(most)]
    cfg = {
        "board": "unix",
        "api": {"base_url": "https://api.sensocan.com/api/v1", "token": "t" * 64,
                "device_uuid": UUID, "ca_cert": "ca.der", "allow_insecure_http": False,
                "timeout_s": 10},
        "wifi": {"ssid": "n" * 32, "password": "p" * 63, "timeout_s": 20},
        "sample_interval_s": 60, "upload_interval_s": 900,
        "pins": {"sda": 21, "scl": 22, "led": 5}, "safe_mode_pin": 4, "power": "battery",
        "i2c": {"freq": 100000, "soft": False},
        "adc_cal": {str(p): [[1.0, 1.01], [2.0, 2.02]] for p in range(32, 40)},
        "battery": {"source": "adc", "pin": 35, "ratio": 2.0, "samples": 16},
        "power_bands": [{"below_v": round(3.9 - 0.1 * k, 2), "upload_interval_s": 1800 * (k + 1)}
                        for k in range(8)],
        "health": {h: ("health_%s_" % h + "y" * 64)[:64] for h in configsensors.HEALTH},
        "spool": {"capacity": 70000, "when_full": "drop_oldest"},
        "upload": {"chunk_max": 200, "max_requests": 50, "backoff_base_s": 30,
                   "backoff_cap_s": 3600, "alert_retry_s": 3600, "deadline_s": 180},
        "clock": {"ntp_host": "pool.ntp.org", "ntp_timeout_s": 2},
        "sensors": "@",
    }
    return (json.dumps(cfg, indent=2).replace('"@"', "[\n    " + ",\n    ".join(
        json.dumps(s) for s in sensors) + "\n  ]") + "\n").encode()


@pytest.mark.host
def test_the_largest_config_fits_the_size_limit_with_margin(tmp_path):
    data = largest()
    assert len(data) * 1.5 < strictjson.MAX_BYTES
    (tmp_path / "config.json").write_bytes(data)
    (tmp_path / "ca.der").write_bytes(ca_der())
    cfg, errors = check_config.check(tmp_path / "config.json")
    assert errors == [] and len(cfg["sensors"]) == 24


BOOT_CHECK = """
import os, sys, vfs, flashdev
flash = flashdev.FlashImage(os.getenv("SENSOCAN_STATE") + "/flash.img")
vfs.VfsLfs2.mkfs(flash)
vfs.mount(vfs.VfsLfs2(flash), "/flash")
import board, safemode
safemode.check(board)
print(safemode.reasons)
sys.exit(0 if safemode.reasons is None else 1)
"""


def test_the_largest_config_passes_at_boot_in_the_node_heap(tmp_path):
    """safemode.check in the node's heap, which holds the validator's bytecode too here
    (a frozen firmware keeps it in flash)."""
    path = tmp_path / "config.json"
    path.write_bytes(largest())
    (tmp_path / "ca.der").write_bytes(ca_der())
    sim.prepare_flash(tmp_path)
    res = mpy.run_code(BOOT_CHECK, heap=mpy.node_heap(),
                       env={"SENSOCAN_STATE": tmp_path, "SENSOCAN_CONFIG": path})
    assert res.returncode == 0, res.stdout + res.stderr


def checker(*args):
    return subprocess.run([sys.executable, "-m", "tools.check_config"] + [str(a) for a in args],
                          cwd=mpy.ROOT, capture_output=True, text=True)


@pytest.mark.host
@pytest.mark.parametrize("what", ["missing", "directory"])
def test_check_config_refuses_a_path_it_cannot_read_in_one_line(tmp_path, what):
    path = tmp_path / "nope.json" if what == "missing" else tmp_path
    res = checker(path)
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.splitlines()) == 1 and str(path) in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.host
def test_check_config_prints_warnings_and_passes(tmp_path):
    path, _, warnings = build("strapping_pins_warned", tmp_path)
    res = checker(path)
    assert res.returncode == 0, res.stdout
    assert [x for x in res.stdout.splitlines() if x.startswith("warning: ")] == [
        "warning: " + w for w in warnings]


@pytest.mark.host
def test_check_config_reports_a_file_problem_in_one_line(tmp_path):
    path, errors, _ = build("latin1", tmp_path)
    res = checker(path)
    assert res.returncode == 1
    assert res.stdout.splitlines()[1:] == ["  " + e for e in errors]
