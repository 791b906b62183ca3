"""Load and validate config.json; every problem is reported with its field path.

Runs on the device (MicroPython) and on the host (`python -m tools.check_config`),
so a config can be checked before it is flashed: the same code reads the file (its raw
bytes pass strictjson first), parses and validates it on both. All problems are
collected, not just the first, and the token's value is never echoed back. Both sides
report the same lines: keys are visited in sorted order (MicroPython's dicts do not
keep the file's order) and floats are shown to 7 digits (MicroPython's float parsing
can differ from CPython's in the last bit).
"""

import gc
import json
import os

from boardmodels import BOARD_MODELS, CHIPS
from drivers.registry import DRIVERS

# The sensor table, the normalised config and a wake's readings must fit the node's heap.
# What the node's heap holds for sensors, in thousandths of what fits with 10 % to spare
# in an ESP32's 111,936 bytes, measured on the 32-bit unix port (make bench, table "A
# whole wake"; tests/test_heap.py): 40 sensors, 24 with 64-character slugs and UUIDs, 28
# analog inputs with 2-point tables, or 9 with 16 points each; every config whose
# weights add up to _BUDGET or less fits.
_BUDGET = 1000
_WEIGHT = 25  # a sensor
_WEIGHT_POINT = 5  # a point of its table
_NAME_CHARS = 6  # characters of its slug and uuid that weigh one more
_MAX_SENSORS = _BUDGET // _WEIGHT
_MAX_POINTS = 16  # an analog table: a handful of points describes a calibration curve
_DAY = 86400
_WEEK = 604800  # in ms (sleep times) still below 2^30: a small int on the ESP32
_HEX = "0123456789abcdef"
_DIGITS = _HEX[:10]
_SLUG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."

REQUIRED = object()
INT, NUM, STR, BOOL = "an integer", "a number", "a string", "true or false"
ADDR = "an I2C address 0x08-0x77 (a number, or a string like \"0x76\")"
POINTS = "a list of 2-%d [volts, value] pairs" % _MAX_POINTS

# Drivers: lib/drivers/registry.py; chips and board models: lib/boardmodels.py.
PINS = ("sda", "scl", "led", "button")
_KINDS = {"int": INT, "num": NUM, "str": STR, "bool": BOOL, "points": POINTS}
_SHARED = {"adc": "an ADC input", "onewire": "a 1-Wire bus"}  # pins several sensors share
# Battery sources are not sensor drivers (the sampler reads them apart, before the radio
# is on): source -> (((param, kind or choices, default or REQUIRED[, lowest, highest]), ...),
# the board it needs or None)
BATTERY_SOURCES = {
    "none": ((), None),
    "adc": ((("pin", INT, REQUIRED), ("ratio", NUM, 2.0, 1, 20), ("samples", INT, 16, 1, 256)),
            None),
    "sim": ((("full_v", NUM, 4.2, 0, 100), ("empty_v", NUM, 3.3, 0, 100),
             ("hours", NUM, 72.0, 0.1, 87600)), "unix"),
}
BOARDS = ("esp32", "unix")
# node health figures that can be sent as readings (config "health": {figure: slug})
HEALTH = ("spool_depth", "dropped", "dead_letters", "http_status", "reset_cause",
          "min_free_heap", "rssi", "wifi_connect_ms", "tls_handshakes", "unsure",
          "awake_ms", "radio_ms", "bytes_sent", "flash_writes", "version", "update", "rollbacks")
_MAX_BANDS = 8


class ConfigError(Exception):
    """The config cannot be used; `errors` lists every problem as 'path: problem'."""

    def __init__(self, errors):
        super().__init__("invalid config: %s (%d problems)" % (errors[0], len(errors)))
        self.errors = errors


def _show(value):
    """The value as JSON text, cut to 40 characters."""
    parts = []
    _put(value, parts, 41)
    s = "".join(parts)
    return s if len(s) <= 40 else s[:37] + "..."


def _put(v, parts, room):
    """Append `v` as JSON text to `parts`, stopping once `room` characters are used;
    returns the room left. Floats to 7 significant digits: what the node keeps."""
    if room <= 0:
        return room
    t = type(v)
    if t is list or t is dict:
        parts.append("[" if t is list else "{")
        room -= 1
        for i, k in enumerate(v if t is list else sorted(v)):
            if room <= 0:
                return room
            if i:
                parts.append(", ")
                room -= 2
            if t is dict:
                room = _put(k, parts, room) - 2
                parts.append(": ")
                k = v[k]
            room = _put(k, parts, room)
        parts.append("]" if t is list else "}")
        return room - 1
    if t is float:
        s = "%.7g" % v
        if "." not in s and "e" not in s:
            s += ".0"
    elif t is str:
        s = '"'
        for ch in v[:room]:
            s += ch if ch >= " " and ch != '"' and ch != "\\" else json.dumps(ch)[1:-1]
        s += '"'
    else:
        s = json.dumps(v)
    parts.append(s)
    return room - len(s)


def _is_int(v):
    return type(v) is int


def _is_num(v):
    return type(v) is int or (type(v) is float and v == v and v - v == 0)


def _addr(v):
    """A 7-bit I2C address (reserved ones excluded) from 0x76 or "0x76", else None."""
    if type(v) is str:
        digits = v[2:].lower()
        if v[:2] not in ("0x", "0X") or not 0 < len(digits) <= 2 or any(
                ch not in _HEX for ch in digits):  # CPython's int() takes "0x7_6" too
            return None
        v = int(digits, 16)
    return v if _is_int(v) and 0x08 <= v <= 0x77 else None


def _within(pin, spans):
    for lo, hi in spans:
        if lo <= pin <= hi:
            return True
    return False


class _Checker:
    def __init__(self, files):
        self.errors = []
        self.warnings = []
        self.files = files

    def err(self, path, problem):
        self.errors.append("%s: %s" % (path, problem))

    def warn(self, path, problem):
        self.warnings.append("%s: %s" % (path, problem))

    def obj(self, parent, key, path, required=True):
        v = parent.get(key)
        if v is None:
            if required:
                self.err(path, "missing (expected an object)")
            return {}
        if type(v) is not dict:
            self.err(path, "expected an object, got %s" % _show(v))
            return {}
        return v

    def field(self, obj, key, path, kind, default=REQUIRED, secret=False):
        """Check one value against `kind` (a type name or a tuple of choices)."""
        if key not in obj or obj[key] is None:
            if default is REQUIRED:
                self.err(path, "missing (expected %s)" % self._expect(kind))
            return default
        v = obj[key]
        if kind is POINTS:
            return self.points(v, path)
        if kind is ADDR:
            v = _addr(v)
        ok = (
            v in kind if type(kind) is tuple and type(v) is str
            else kind is INT and _is_int(v)
            or kind is ADDR and v is not None
            or kind is NUM and _is_num(v)
            or kind is STR and type(v) is str
            or kind is BOOL and type(v) is bool
        )
        if not ok:
            v = obj[key]
            got = "a value of type %s" % type(v).__name__ if secret else _show(v)
            self.err(path, "expected %s, got %s" % (self._expect(kind), got))
            return default if default is not REQUIRED else None
        return float(v) if kind is NUM else v

    def points(self, v, path):
        """[[volts, value], ...] as drivers.analog.Table takes them: volts increasing."""
        if (type(v) is not list or not 2 <= len(v) <= _MAX_POINTS
                or any(type(p) is not list or len(p) != 2
                       or not (_is_num(p[0]) and _is_num(p[1])) for p in v)):
            self.err(path, "expected %s, got %s" % (POINTS, _show(v)))
            return None
        for i in range(1, len(v)):
            if not v[i - 1][0] < v[i][0]:
                self.err(path, "table volts must increase: %s after %s"
                         % (_show(v[i][0]), _show(v[i - 1][0])))
                return None
        return [[float(x), float(y)] for x, y in v]

    @staticmethod
    def _expect(kind):
        if type(kind) is tuple:
            return "one of " + ", ".join('"%s"' % k for k in kind)
        return kind

    def unknown(self, obj, known, path):
        for k in sorted(obj):
            if k not in known:
                self.err("%s.%s" % (path, k) if path else k, "unknown setting")

    def params(self, obj, spec, path, out):
        """Each (name, kind, default[, lowest, highest]) of `spec` from `obj` into `out`."""
        for p in spec:
            name = p[0]
            at = "%s.%s" % (path, name) if path else name
            n = len(self.errors)
            out[name] = self.field(obj, name, at, p[1], p[2])
            if len(p) > 3 and len(self.errors) == n and obj.get(name) is not None:
                _range(self, obj[name], at, p[3], p[4])

    def file(self, value, path, base_dir):
        """Resolve a config-relative file path; when checking files, also its size
        (None: not found or not checked)."""
        if type(value) is not str:
            return value, None
        full = join(base_dir, value)
        size = None
        if self.files:
            try:
                size = os.stat(full)[6]
            except OSError:
                self.err(path, 'file "%s" not found' % value)
        return full, size

    def ca(self, value, path, base_dir):
        """The CA file: an X.509 certificate (PEM or DER) of at most certfile.MAX_BYTES."""
        full, size = self.file(value, path, base_dir)
        if size is None:
            return full
        import certfile

        if size > certfile.MAX_BYTES:
            why = "%d bytes, more than the %d a CA file may have" % (size, certfile.MAX_BYTES)
        else:
            try:
                with open(full, "rb") as f:
                    why = certfile.problem(f.read())
            except OSError:
                why = "cannot be read"
        if why:
            self.err(path, '"%s" is not a certificate (expected PEM or DER X.509): %s'
                     % (value, why))
        return full


def join(base_dir, path):
    """Resolve a config-relative path (the config's folder is the base)."""
    if not base_dir or path.startswith("/"):
        return path
    return base_dir.rstrip("/") + "/" + path


def is_uuid(s):
    if type(s) is not str or len(s) != 36:
        return False
    for i, c in enumerate(s.lower()):
        if (c != "-") if i in (8, 13, 18, 23) else (c not in _HEX):
            return False
    return True


def _names(spec):
    return [p[0] for p in spec]


def _is_slug(s):
    if not 0 < len(s) <= 64:
        return False
    for c in s:
        if c not in _SLUG_CHARS:
            return False
    return True


def validate(raw, base_dir="", files=False):
    """Check a parsed config; returns the normalised config or raises ConfigError.
    Its "warnings" list what is allowed but risky, one line each.

    `files`: also check the files it names (the CA is a certificate, a replay CSV exists).
    """
    c = _Checker(files)
    if type(raw) is not dict:
        raise ConfigError(["(top level): expected an object, got %s" % _show(raw)])
    cfg = {"base_dir": base_dir}
    board = c.field(raw, "board", "board", BOARDS)
    cfg["board"] = board
    cfg["api"] = _api(c, raw, base_dir)
    cfg["wifi"] = _wifi(c, raw, board)
    c.params(raw, (("sample_interval_s", INT, 60, 1, _DAY),
                   ("upload_interval_s", INT, 600, 1, _WEEK)), "", cfg)
    model = _model(c, raw, board, cfg)
    chip = cfg["chip"]
    cfg["safe_mode_pin"] = c.field(raw, "safe_mode_pin", "safe_mode_pin", INT,
                                   cfg["pins"]["button"])
    if "safe_mode_pin" in raw:
        _gpio(c, cfg["safe_mode_pin"], chip, "safe_mode_pin")
    cfg["power"] = c.field(raw, "power", "power", ("battery", "mains"), "battery")
    cfg["i2c"] = _i2c(c, raw, cfg["pins"])
    cfg["spool"] = _spool(c, raw)
    cfg["upload"] = _upload(c, raw)
    cfg["clock"] = _clock(c, raw)
    cal = _adc_cal(c, raw, chip)
    cfg["battery"] = _battery(c, raw, board, chip, model, cal)
    cfg["sensors"] = _sensors(c, raw, board, base_dir, chip, cal)
    cfg["health"] = _health(c, raw, cfg["sensors"])
    cfg["power_bands"] = _power_bands(c, raw, cfg["upload_interval_s"], cfg["battery"])
    _pins(c, raw, cfg)
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
    api = {
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
    url = api["base_url"]
    if type(url) is str:
        if url.startswith("http://"):
            if api["allow_insecure_http"] is not True:
                c.err("api.base_url", "plain http:// is refused (readings and token would travel "
                      "unencrypted); use https:// or set api.allow_insecure_http to true")
        elif url.startswith("https://"):
            if not api["ca_cert"]:
                c.err("api.ca_cert", "required for https:// (the node has no CA bundle): "
                      "give the PEM or DER file of the server's root CA")
        else:
            c.err("api.base_url", "expected an http:// or https:// URL, got %s" % _show(url))
        if len(url.split("://", 1)[-1].split("/", 1)[0]) == 0:
            c.err("api.base_url", "no host in %s" % _show(url))
    token = api["token"]
    if type(token) is str:
        if not token:
            c.err("api.token", "must not be empty")
        elif any(ch in token for ch in " \t\r\n"):
            c.err("api.token", "must not contain spaces or line breaks")
    dev = api["device_uuid"]
    if type(dev) is str and not is_uuid(dev):
        c.err("api.device_uuid", "expected a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890, "
              "got %s" % _show(dev))
    api["ca_cert"] = c.ca(api["ca_cert"], "api.ca_cert", base_dir)
    c.params(a, (("timeout_s", NUM, 10.0, 1, 120),), "api", api)
    c.unknown(a, api, "api")
    return api


def _wifi(c, raw, board):
    w = c.obj(raw, "wifi", "wifi", required=(board == "esp32"))
    wifi = {
        "ssid": c.field(w, "ssid", "wifi.ssid", STR, REQUIRED if w else None),
        "password": c.field(w, "password", "wifi.password", STR, "", secret=True),
    }
    c.params(w, (("timeout_s", NUM, 20.0, 1, 120),), "wifi", wifi)
    c.unknown(w, wifi, "wifi")
    return wifi


def _model(c, raw, board, cfg):
    """The board model's definition (None without one), and its pins with the config's
    overrides in cfg["pins"]; the esp32 board is a DevKitC unless told otherwise."""
    name = c.field(raw, "board_model", "board_model", tuple(sorted(BOARD_MODELS)),
                   "esp32_devkitc" if board == "esp32" else None)
    model = BOARD_MODELS.get(name)
    cfg["board_model"] = name if model else None
    cfg["chip"] = chip = model.chip if model else None
    pins = dict(zip(PINS, (model.sda, model.scl, model.led, model.button) if model
                    else (None,) * 4))
    over = c.obj(raw, "pins", "pins", required=False)
    for key in sorted(over):
        if key not in PINS:
            c.err("pins." + key, "unknown pin (known: %s)" % ", ".join(PINS))
        else:
            pins[key] = c.field(over, key, "pins." + key, INT, None)
    for key in PINS:
        _gpio(c, pins[key], chip, "pins." + key, output=key != "button")
    cfg["pins"] = pins
    # a LED given in the config is taken as lit when high
    cfg["led_active_low"] = bool(model and model.led_active_low and pins["led"] == model.led)
    return model


def _gpio(c, pin, chip, path, output=False):
    """True when `pin` is a GPIO the chip lets us use (no chip known: 0-39)."""
    if not _is_int(pin):
        return False
    if chip is None:
        if 0 <= pin <= 39:
            return True
        c.err(path, "expected a GPIO number 0-39, got %d" % pin)
        return False
    spec = CHIPS[chip]
    if not _within(pin, spec.gpios):
        c.err(path, "the %s has no GPIO %d" % (spec.name, pin))
    elif _within(pin, spec.flash):
        c.err(path, "GPIO %d is wired to the flash or PSRAM on the %s" % (pin, spec.name))
    elif output and _within(pin, spec.input_only):
        c.err(path, "GPIO %d is input only on the %s" % (pin, spec.name))
    else:
        return True
    return False


def _i2c(c, raw, pins):
    b = c.obj(raw, "i2c", "i2c", required=False)
    out = {}
    c.params(b, (("freq", INT, 100000, 10000, 1000000), ("soft", BOOL, False)), "i2c", out)
    c.unknown(b, out, "i2c")
    out["sda"], out["scl"] = pins["sda"], pins["scl"]
    return out


def _adc_cal(c, raw, chip):
    """{pin: [gain, offset µV]} from two-point calibrations {"34": [[read V, true V], x2]}:
    volts the node read against a meter, at the pin."""
    cal = {}
    given = c.obj(raw, "adc_cal", "adc_cal", required=False)
    for key in sorted(given):
        pts = given[key]
        path = "adc_cal." + key
        if not key or any(ch not in _DIGITS for ch in key):  # CPython's int() takes more
            c.err(path, "expected a GPIO number as the key")
            continue
        pin = int(key)
        _adc_pin(c, pin, chip, path)
        if (type(pts) is not list or len(pts) != 2 or any(
                type(p) is not list or len(p) != 2 or not (_is_num(p[0]) and _is_num(p[1]))
                for p in pts) or pts[0][0] == pts[1][0]):
            c.err(path, "expected two [read volts, true volts] points at different "
                  "voltages, got %s" % _show(pts))
            continue
        (r1, t1), (r2, t2) = pts
        gain = (t2 - t1) / (r2 - r1)
        offset = t1 - gain * r1
        if not (0.8 <= gain <= 1.25 and -0.25 <= offset <= 0.25):
            c.err(path, "gain %.3f, offset %.3f V: not a calibration of a working ADC "
                  "(expected gain 0.8-1.25, offset within 0.25 V)" % (gain, offset))
            continue
        cal[pin] = [gain, offset * 1e6]
    return cal


def _spool(c, raw):
    """capacity: 1,000,000 readings is more than the largest ESP32 flash (16 MB) holds
    at 192 readings a 4 KiB block."""
    s = c.obj(raw, "spool", "spool", required=False)
    out = {}
    c.params(s, (("capacity", INT, None, 64, 1000000),
                 ("when_full", ("drop_oldest", "drop_newest"), "drop_oldest")), "spool", out)
    c.unknown(s, out, "spool")
    return out


def _range(c, v, path, lo, hi):
    if not lo <= v <= hi:
        c.err(path, "must be between %s and %s%s, got %s"
              % (lo, hi, " seconds" if path.endswith("_s") else "", _show(v)))


def _upload(c, raw):
    u = c.obj(raw, "upload", "upload", required=False)
    out = {}
    c.params(u, (("chunk_max", INT, 200, 1, 1000), ("max_requests", INT, 50, 1, 1000),
                 ("backoff_base_s", INT, 30, 1, 3600), ("backoff_cap_s", INT, 3600, 1, _DAY),
                 ("alert_retry_s", INT, 3600, 60, _DAY), ("deadline_s", INT, 180, 30, 1800)),
             "upload", out)
    if _is_int(out["backoff_cap_s"]) and _is_int(out["backoff_base_s"]) and (
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


def _health(c, raw, sensors):
    """{figure: slug}: node health figures sent as readings of these sensor slugs."""
    h = c.obj(raw, "health", "health", required=False)
    taken = {s["slug"] for s in sensors if s.get("slug")}
    out = {}
    for name in sorted(h):
        slug = h[name]
        path = "health." + name
        if name not in HEALTH:
            c.err(path, "unknown health figure (known: %s)" % ", ".join(HEALTH))
        elif type(slug) is not str or not _is_slug(slug):
            c.err(path, "expected a sensor slug, got %s" % _show(slug))
        elif slug in taken:
            c.err(path, '"%s" is already used by a sensor or health figure' % slug)
        else:
            taken.add(slug)
            out[name] = slug
    return out


def _power_bands(c, raw, base, battery):
    """[(below volts, upload interval s), ...] from [{"below_v": 3.6, "upload_interval_s":
    1800}, ...]: the battery's last reading below a band's voltage stretches the upload
    interval to the band's (the lowest band it is below wins). Highest voltage first;
    an interval never shrinks as the voltage drops."""
    bands = raw.get("power_bands")
    if bands is None:
        return []
    if type(bands) is not list or len(bands) > _MAX_BANDS:
        c.err("power_bands", "expected a list of at most %d {\"below_v\": volts, "
              "\"upload_interval_s\": seconds}, got %s" % (_MAX_BANDS, _show(bands)))
        return []
    out = []
    last = None  # path of the previous valid band
    for i, b in enumerate(bands):
        path = "power_bands[%d]" % i
        if type(b) is not dict:
            c.err(path, "expected an object, got %s" % _show(b))
            continue
        v = c.field(b, "below_v", path + ".below_v", NUM)
        s = c.field(b, "upload_interval_s", path + ".upload_interval_s", INT)
        c.unknown(b, ("below_v", "upload_interval_s"), path)
        if _is_int(s) and s > _WEEK:
            c.err(path + ".upload_interval_s", "must be at most %d seconds (a week), got %d"
                  % (_WEEK, s))
            continue
        if not (_is_num(v) and _is_int(s)):
            continue
        ok = True
        if not 0.5 <= v <= 100:
            c.err(path + ".below_v", "must be between 0.5 and 100 volts, got %s" % _show(b["below_v"]))
            ok = False
        elif out and v >= out[-1][0]:
            c.err(path + ".below_v", "must be below %s.below_v (%s V): list the bands from "
                  "the highest voltage down" % (last, _show(out[-1][0])))
            ok = False
        if _is_int(base) and s < base:
            c.err(path + ".upload_interval_s", "must be at least upload_interval_s (%d), got %d"
                  % (base, s))
            ok = False
        elif out and s < out[-1][1]:
            c.err(path + ".upload_interval_s", "must be at least %s.upload_interval_s (%d): a "
                  "lower battery never uploads more often" % (last, out[-1][1]))
            ok = False
        if ok:
            out.append((v, s))
            last = path
    if bands and battery.get("source") == "none":
        c.err("power_bands", "needs a battery reading: set battery.source")
    return out


def _pins(c, raw, cfg):
    """Every GPIO the config uses serves one function, and a pin the user set on one of
    the chip's strapping pins is warned about: what is wired there can change how the
    chip boots. The I2C pins count once an I2C sensor uses them or they are set."""
    pins, sensors = cfg["pins"], cfg["sensors"]
    given = raw.get("pins") if type(raw.get("pins")) is dict else {}
    users = []  # (pin, path, function, set in the config)
    if "sda" in given or "scl" in given or any(_bus(s["driver"]) == "i2c" for s in sensors):
        users.append((pins["sda"], "pins.sda", "the I2C SDA pin", "sda" in given))
        users.append((pins["scl"], "pins.scl", "the I2C SCL pin", "scl" in given))
    users.append((pins["led"], "pins.led", "the status LED pin", "led" in given))
    own = "safe_mode_pin" in raw
    users.append((cfg["safe_mode_pin"], "safe_mode_pin" if own else "pins.button",
                  "the safe-mode pin", own or "button" in given))
    if cfg["battery"].get("source") == "adc":
        b = raw.get("battery")
        users.append((cfg["battery"]["pin"], "battery.pin", "the battery pin",
                      type(b) is dict and "pin" in b))
    for s in sensors:
        what = _SHARED.get(_bus(s["driver"]))
        if what:
            users.append((s.get("pin"), "sensors[%d].pin" % s["index"], what, True))
    strapping = CHIPS[cfg["chip"]].strapping if cfg["chip"] else ()
    seen = {}
    for pin, path, what, own in users:
        if not _is_int(pin):
            continue
        first = seen.get(pin)
        if first is None:
            seen[pin] = (path, what)
            if own and _within(pin, strapping):
                c.warn(path, "GPIO %d is a strapping pin of the %s: if what is wired to it "
                       "pulls it high or low during a reset, the chip may not start the "
                       "firmware" % (pin, CHIPS[cfg["chip"]].name))
        elif what != first[1] or what not in _SHARED.values():
            c.err(path, "GPIO %d is already %s (%s)" % (pin, first[1], first[0]))


def _source(c, table, name, board, path, what):
    """The entry of a driver or battery source (the board it needs last); None when
    unknown."""
    if name is None:
        return None
    if name not in table:
        c.err(path, 'unknown %s "%s" (known: %s)' % (what, name, ", ".join(sorted(table))))
        return None
    entry = table[name]
    need = entry[-1]
    if need and board and need != board:
        c.err(path, '"%s" is only available on the %s board' % (name, need))
    return entry


def _bus(driver):
    entry = DRIVERS.get(driver)
    return entry[0] if entry else None


def _driver_spec(entry):
    """A registry entry's parameters as params() takes them: "quantity" first when the
    chip measures several, then "addr" on I2C, then the driver's own."""
    _, _, quantities, addr, _, params, _ = entry
    spec = []
    if quantities and len(quantities) > 1:
        spec.append(("quantity", quantities, REQUIRED))
    if addr is not None:
        spec.append(("addr", ADDR, addr))
    for p in params:
        kind = p[1] if type(p[1]) is tuple else _KINDS[p[1]]
        spec.append((p[0], kind, p[2] if len(p) > 2 else REQUIRED) + p[3:])
    return spec


def _battery(c, raw, board, chip, model, cal):
    b = c.obj(raw, "battery", "battery", required=False) or {"source": "none"}
    out = {"source": c.field(b, "source", "battery.source", STR)}
    entry = _source(c, BATTERY_SOURCES, out["source"], board, "battery.source", "battery source")
    if entry is not None:
        spec = entry[0]
        if out["source"] == "adc" and model and model.battery_pin is not None:
            # the board's own divider, unless the config names another
            spec = (("pin", INT, model.battery_pin),
                    ("ratio", NUM, model.battery_ratio, 1, 20)) + spec[2:]
        c.params(b, spec, "battery", out)
        if out["source"] == "adc":
            _adc_pin(c, out["pin"], chip, "battery.pin")
            out["cal"] = cal.get(out["pin"])
        c.unknown(b, _names(spec) + ["source"], "battery")
    return out


def _adc_pin(c, pin, chip, path):
    if not _gpio(c, pin, chip, path) or chip is None:
        return
    name, adc1, adc2 = CHIPS[chip].name, CHIPS[chip].adc1, CHIPS[chip].adc2
    if _within(pin, adc1):
        return
    span = "%d-%d" % adc1[0] + ("" if chip == "esp32" else " on the " + name)
    if _within(pin, adc2):
        c.err(path, "GPIO %d is on ADC2, which cannot be read while Wi-Fi is on; "
              "use an ADC1 pin (%s)" % (pin, span))
    else:
        c.err(path, "GPIO %d has no ADC; use an ADC1 pin (%s)" % (pin, span))


def _rom(c, rom, path):
    """A DS18B20 ROM code: 16 hex digits, family code 0x28 first, Dallas CRC last."""
    if type(rom) is not str:
        return
    from drivers.crc8 import dallas

    code = b""
    if len(rom) == 16 and all(ch in _HEX for ch in rom.lower()):  # CPython's int() takes more
        code = bytes(int(rom[i:i + 2], 16) for i in range(0, 16, 2))
    if len(code) != 8:
        c.err(path, "expected 16 hex digits (as OneWire.scan() gives them), got %s" % _show(rom))
    elif code[0] != 0x28 or dallas(code, 0, 8):
        c.err(path, "%s is not a DS18B20 ROM code (family 0x28, CRC last)" % rom)


def _sensor_params(c, s, sensor, path, chip, cal):
    """The checks of one driver's parameters beyond their types."""
    driver, bus = sensor["driver"], _bus(sensor["driver"])
    if bus == "adc":
        _adc_pin(c, sensor["pin"], chip, path + ".pin")
        sensor["cal"] = cal.get(sensor["pin"])
    elif bus == "onewire":
        _gpio(c, sensor["pin"], chip, path + ".pin", output=True)
    if driver == "analog":
        lo, hi = sensor["vmin"], sensor["vmax"]
        if sensor["table"] is not None and any(k in s for k in ("scale", "offset", "vmin", "vmax")):
            c.err(path + ".table", "give a table, or scale and offset (with vmin, vmax), not both")
        elif _is_num(lo) and _is_num(hi) and not lo < hi:
            c.err(path + ".vmax", "must be above vmin")
    elif driver == "ds18b20":
        _rom(c, sensor["rom"], path + ".rom")


def _sensors(c, raw, board, base_dir, chip, cal):
    items = raw.get("sensors")
    if type(items) is not list or not items:
        c.err("sensors", "expected a non-empty list of sensors, got %s" % _show(items))
        return []
    if len(items) > _MAX_SENSORS:
        c.err("sensors", "at most %d sensors fit the node's memory, got %d"
              % (_MAX_SENSORS, len(items)))
    out, seen, specs = [], {}, {}
    for i, s in enumerate(items):
        # Each sensor's checks leave garbage between the sensors kept; collected at
        # once, MicroPython's heap stays in one piece (64 sensors validate in 72K of
        # the 32-bit port's heap, not 192K).
        gc.collect()
        path = "sensors[%d]" % i
        if type(s) is not dict:
            c.err(path, "expected an object, got %s" % _show(s))
            continue
        slug = c.field(s, "slug", path + ".slug", STR, None)
        uuid = c.field(s, "uuid", path + ".uuid", STR, None)
        if slug is None and uuid is None and "slug" not in s and "uuid" not in s:
            c.err(path, "needs a slug or a uuid (or both)")
        if type(slug) is str and not _is_slug(slug):
            c.err(path + ".slug", "expected 1-64 letters, digits, '_', '-' or '.', got %s"
                  % _show(slug))
        if type(uuid) is str and not is_uuid(uuid):
            c.err(path + ".uuid", "expected a UUID, got %s" % _show(uuid))
        for key in ("slug", "uuid"):
            v = s.get(key)
            if type(v) is str:
                if (key, v) in seen:
                    c.err("%s.%s" % (path, key), '"%s" is already used by sensors[%d]'
                          % (v, seen[(key, v)]))
                seen[(key, v)] = i
        sensor = {"index": i, "slug": slug, "uuid": uuid,
                  "driver": c.field(s, "driver", path + ".driver", STR)}
        entry = _source(c, DRIVERS, sensor["driver"], board, path + ".driver", "driver")
        if entry is not None:
            spec = specs.get(sensor["driver"])
            if spec is None:
                spec = specs[sensor["driver"]] = _driver_spec(entry)
            c.params(s, spec, path, sensor)
            _sensor_params(c, s, sensor, path, chip, cal)
            if sensor["driver"] == "replay":
                sensor["file"] = c.file(sensor["file"], path + ".file", base_dir)[0]
            c.unknown(s, _names(spec) + ["slug", "uuid", "driver"], path)
        out.append(sensor)
    _one_wire_roms(c, out)
    weight = sum(_WEIGHT + _WEIGHT_POINT * len(s.get("table") or ())
                 + (len(s["slug"] or "") + len(s["uuid"] or "")) // _NAME_CHARS for s in out)
    if weight > _BUDGET and len(items) <= _MAX_SENSORS:
        c.err("sensors", "these sensors need %d%% of the node's memory for sensors (each "
              "takes 2.5%%, each point of its table 0.5%% more, each 6 characters of its "
              "slug and uuid 0.1%% more): use fewer sensors, shorter tables or shorter "
              "slugs" % ((weight + 9) // 10))
    return out


def _one_wire_roms(c, sensors):
    """Several DS18B20s on one pin must each name their ROM: without one, the driver
    addresses "whichever answers" (SKIP ROM) and they would all read as one."""
    on = {}
    for s in sensors:
        if s.get("driver") == "ds18b20" and _is_int(s.get("pin")):
            on[s["pin"]] = on.get(s["pin"], 0) + 1
    for s in sensors:  # in their order: a dict's order differs between MicroPython and CPython
        n = on.get(s.get("pin")) if s.get("driver") == "ds18b20" else None
        if n and n > 1 and not s.get("rom"):
            c.err("sensors[%d].rom" % s["index"], "required: %d DS18B20s share GPIO %d "
                  "(give each its ROM code, from OneWire.scan())" % (n, s["pin"]))


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
