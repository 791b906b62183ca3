"""Load and validate config.json; every problem is reported with its field path.

Runs on the device (MicroPython) and on the host (`python -m tools.check_config`),
so a config can be checked before it is flashed: the same code reads the file (its raw
bytes pass strictjson first), parses and validates it on both. All problems are
collected, not just the first, and the token's value is never echoed back. Both sides
report the same lines: keys are visited in sorted order (MicroPython's dicts do not
keep the file's order) and floats are shown to 7 digits (MicroPython's float parsing
can differ from CPython's in the last bit).

This module reads the file, runs the sections in order and holds the short ones about
the server and the way to it (api, wifi, upload, clock, spool); the others live by
subject: configkit (the checker and its value kinds), confighw (board model, pins, I2C,
ADC calibration, battery, power bands) and configsensors (sensors, health). All of them
are unloaded together once the config is checked (firmware/configcheck.py).
"""

import gc
import json
import os

from confighw import adc_cal, battery, board_model, check_pins, gpio, i2c, power_bands
from configkit import (BOOL, DAY, INT, NUM, REQUIRED, STR, WEEK, Checker, ConfigError, is_int,
                       show)
from configkit import is_uuid  # noqa: F401  (for tools/provision.py)
from configsensors import health, sensors

BOARDS = ("esp32", "unix")


def validate(raw, base_dir="", files=False):
    """Check a parsed config; returns the normalised config or raises ConfigError.
    Its "warnings" list what is allowed but risky, one line each.

    `files`: also check the files it names (the CA is a certificate, a replay CSV exists).
    """
    c = Checker(files)
    if type(raw) is not dict:
        raise ConfigError(["(top level): expected an object, got %s" % show(raw)])
    cfg = {"base_dir": base_dir}
    board = c.field(raw, "board", "board", BOARDS)
    cfg["board"] = board
    cfg["api"] = _api(c, raw, base_dir)
    cfg["wifi"] = _wifi(c, raw, board)
    c.params(raw, (("sample_interval_s", INT, 60, 1, DAY),
                   ("upload_interval_s", INT, 600, 1, WEEK)), "", cfg)
    model = board_model(c, raw, board, cfg)
    chip = cfg["chip"]
    cfg["safe_mode_pin"] = c.field(raw, "safe_mode_pin", "safe_mode_pin", INT,
                                   cfg["pins"]["button"])
    if "safe_mode_pin" in raw:
        gpio(c, cfg["safe_mode_pin"], chip, "safe_mode_pin")
    cfg["power"] = c.field(raw, "power", "power", ("battery", "mains"), "battery")
    cfg["i2c"] = i2c(c, raw, cfg["pins"])
    cfg["spool"] = _spool(c, raw)
    cfg["upload"] = _upload(c, raw)
    cfg["clock"] = _clock(c, raw)
    cal = adc_cal(c, raw, chip)
    cfg["battery"] = battery(c, raw, board, chip, model, cal)
    cfg["sensors"] = sensors(c, raw, board, base_dir, chip, cal)
    cfg["health"] = health(c, raw, cfg["sensors"])
    cfg["power_bands"] = power_bands(c, raw, cfg["upload_interval_s"], cfg["battery"])
    check_pins(c, raw, cfg)
    __import__("updateconfig").check(c, raw, base_dir, cfg)
    cfg["warnings"] = c.warnings
    c.unknown(raw, ("board", "api", "wifi", "sample_interval_s", "upload_interval_s",
                    "safe_mode_pin", "spool", "upload", "clock", "battery", "sensors",
                    "health", "board_model", "pins", "power", "i2c", "adc_cal",
                    "power_bands", "update"), "")
    if c.errors:
        raise ConfigError(c.errors)
    return cfg


def _api(c, raw, base_dir):
    a = c.obj(raw, "api", "api")
    out = {
        "base_url": c.field(a, "base_url", "api.base_url", STR),
        "token": c.field(a, "token", "api.token", STR, secret=True),
        "device_uuid": c.field(a, "device_uuid", "api.device_uuid", STR),
        "ca_cert": c.field(a, "ca_cert", "api.ca_cert", STR, None),
        "allow_insecure_http": c.field(a, "allow_insecure_http", "api.allow_insecure_http",
                                       BOOL, False),
    }
    if "batch_size" in a:
        c.err("api.batch_size", "replaced by upload.chunk_max (readings per request)")
        a = dict(a)
        del a["batch_size"]
    url = out["base_url"]
    if type(url) is str:
        if url.startswith("http://"):
            if out["allow_insecure_http"] is not True:
                c.err("api.base_url", "plain http:// is refused (readings and token would travel "
                      "unencrypted); use https:// or set api.allow_insecure_http to true")
        elif url.startswith("https://"):
            if not out["ca_cert"]:
                c.err("api.ca_cert", "required for https:// (the node has no CA bundle): "
                      "give the PEM or DER file of the server's root CA")
        else:
            c.err("api.base_url", "expected an http:// or https:// URL, got %s" % show(url))
        if len(url.split("://", 1)[-1].split("/", 1)[0]) == 0:
            c.err("api.base_url", "no host in %s" % show(url))
    token = out["token"]
    if type(token) is str:
        if not token:
            c.err("api.token", "must not be empty")
        elif any(ch in token for ch in " \t\r\n"):
            c.err("api.token", "must not contain spaces or line breaks")
    dev = out["device_uuid"]
    if type(dev) is str and not is_uuid(dev):
        c.err("api.device_uuid", "expected a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890, "
              "got %s" % show(dev))
    out["ca_cert"] = c.ca(out["ca_cert"], "api.ca_cert", base_dir)
    c.params(a, (("timeout_s", NUM, 10.0, 1, 120),), "api", out)
    c.unknown(a, out, "api")
    return out


def _wifi(c, raw, board):
    w = c.obj(raw, "wifi", "wifi", required=(board == "esp32"))
    out = {
        "ssid": c.field(w, "ssid", "wifi.ssid", STR, REQUIRED if w else None),
        "password": c.field(w, "password", "wifi.password", STR, "", secret=True),
    }
    c.params(w, (("timeout_s", NUM, 20.0, 1, 120),), "wifi", out)
    c.unknown(w, out, "wifi")
    return out


def _upload(c, raw):
    u = c.obj(raw, "upload", "upload", required=False)
    out = {}
    c.params(u, (("chunk_max", INT, 200, 1, 1000), ("max_requests", INT, 50, 1, 1000),
                 ("backoff_base_s", INT, 30, 1, 3600), ("backoff_cap_s", INT, 3600, 1, DAY),
                 ("alert_retry_s", INT, 3600, 60, DAY), ("deadline_s", INT, 180, 30, 1800)),
             "upload", out)
    if is_int(out["backoff_cap_s"]) and is_int(out["backoff_base_s"]) and (
            out["backoff_cap_s"] < out["backoff_base_s"]):
        c.err("upload.backoff_cap_s", "must not be below upload.backoff_base_s")
    c.unknown(u, out, "upload")
    return out


def _clock(c, raw):
    k = c.obj(raw, "clock", "clock", required=False)
    out = {}
    c.params(k, (("ntp_host", STR, "pool.ntp.org"), ("ntp_timeout_s", NUM, 2.0, 0.1, 30)),
             "clock", out)
    c.unknown(k, out, "clock")
    return out


def _spool(c, raw):
    """capacity: 1,000,000 readings is more than the largest ESP32 flash (16 MB) holds
    at 192 readings a 4 KiB block."""
    s = c.obj(raw, "spool", "spool", required=False)
    out = {}
    c.params(s, (("capacity", INT, None, 64, 1000000),
                 ("when_full", ("drop_oldest", "drop_newest"), "drop_oldest")), "spool", out)
    c.unknown(s, out, "spool")
    return out


def _parse(f, size):
    """The JSON value of the binary stream `f`, once its bytes pass strictjson."""
    import strictjson

    why = strictjson.problem(f, size)
    if why:
        raise ConfigError(["(file): " + why])
    gc.collect()  # the parse below is the peak: let it start from a compact heap
    f.seek(0)
    try:
        return json.load(f)
    except ValueError as e:  # strictjson should have refused it first
        raise ConfigError(["(file): not valid JSON (%s)" % (e.args[0] if e.args else "syntax")])


def loads(text, base_dir="", files=False):
    """Parse and validate config text (str or bytes); raises ConfigError naming every
    problem."""
    from io import BytesIO

    data = text.encode() if type(text) is str else text
    return validate(_parse(BytesIO(data), len(data)), base_dir, files)


def load(path, files=False):
    """Read, parse and validate the config file at `path`; its size is checked before
    anything is read. `files`: also check the files it names."""
    try:
        size = os.stat(path)[6]
        with open(path, "rb") as f:
            raw = _parse(f, size)
    except OSError as e:
        raise ConfigError(["(file): cannot read %s (%s)" % (path, _oserror(e))])
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    return validate(raw, base, files)


def _oserror(e):
    """What went wrong, alike on both sides (CPython's strerror, MicroPython's errno)."""
    import errno

    code = e.args[0] if e.args else 0
    return {errno.ENOENT: "no such file", errno.EACCES: "permission denied",
            errno.EISDIR: "a directory"}.get(code, "error %s" % code)
