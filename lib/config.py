"""Load and validate config.json; every problem is reported with its field path.

Runs on the device (MicroPython) and on the host (`python -m tools.check_config`),
so a config can be checked before it is flashed. All problems are collected, not
just the first, and the token's value is never echoed back.
"""

import json

_MAX_SENSORS = 64  # a spool record stores the sensor index in one byte
_HEX = "0123456789abcdef"
_SLUG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
_ADC2_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27)

REQUIRED = object()
INT, NUM, STR, BOOL = "an integer", "a number", "a string", "true or false"

# driver -> (board it needs or None, ((param, kind or choices, default or REQUIRED), ...))
DRIVERS = {
    "adc": (None, (("pin", INT, REQUIRED), ("scale", NUM, 1.0), ("offset", NUM, 0.0),
                   ("samples", INT, 8))),
    "wave": ("unix", (("shape", ("sine", "triangle", "square", "saw"), "sine"),
                      ("period_s", NUM, 3600.0), ("amplitude", NUM, 1.0), ("offset", NUM, 0.0),
                      ("phase_s", NUM, 0.0))),
    "replay": ("unix", (("file", STR, REQUIRED), ("column", INT, 0), ("loop", BOOL, True))),
}
BATTERY_SOURCES = {
    "none": (None, ()),
    "adc": (None, (("pin", INT, REQUIRED), ("ratio", NUM, 2.0), ("samples", INT, 16))),
    "sim": ("unix", (("full_v", NUM, 4.2), ("empty_v", NUM, 3.3), ("hours", NUM, 72.0))),
}
BOARDS = ("esp32", "unix")
# node health figures that can be sent as readings (config "health": {figure: slug})
HEALTH = ("spool_depth", "dropped", "dead_letters", "http_status", "reset_cause",
          "min_free_heap", "rssi", "wifi_connect_ms", "tls_handshakes", "unsure")


class ConfigError(Exception):
    """The config cannot be used; `errors` lists every problem as 'path: problem'."""

    def __init__(self, errors):
        super().__init__("invalid config: " + "; ".join(errors))
        self.errors = errors


def _show(value):
    s = json.dumps(value)
    return s if len(s) <= 40 else s[:37] + "..."


def _is_int(v):
    return type(v) is int


def _is_num(v):
    return type(v) is int or (type(v) is float and v == v and v - v == 0)


class _Checker:
    def __init__(self, exists):
        self.errors = []
        self.exists = exists

    def err(self, path, problem):
        self.errors.append("%s: %s" % (path, problem))

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
        ok = (
            v in kind if type(kind) is tuple and type(v) is str
            else kind is INT and _is_int(v)
            or kind is NUM and _is_num(v)
            or kind is STR and type(v) is str
            or kind is BOOL and type(v) is bool
        )
        if not ok:
            got = "a value of type %s" % type(v).__name__ if secret else _show(v)
            self.err(path, "expected %s, got %s" % (self._expect(kind), got))
            return default if default is not REQUIRED else None
        return float(v) if kind is NUM else v

    @staticmethod
    def _expect(kind):
        if type(kind) is tuple:
            return "one of " + ", ".join('"%s"' % k for k in kind)
        return kind

    def unknown(self, obj, known, path):
        for k in obj:
            if k not in known:
                self.err("%s.%s" % (path, k) if path else k, "unknown setting")

    def params(self, obj, spec, path, out):
        for name, kind, default in spec:
            out[name] = self.field(obj, name, "%s.%s" % (path, name), kind, default)

    def file(self, value, path, base_dir):
        """Resolve a config-relative file path and check that the file exists."""
        if type(value) is not str:
            return value
        full = join(base_dir, value)
        if self.exists and not self.exists(full):
            self.err(path, 'file "%s" not found' % value)
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


def _is_slug(s):
    if not 0 < len(s) <= 64:
        return False
    for c in s:
        if c not in _SLUG_CHARS:
            return False
    return True


def validate(raw, base_dir="", exists=None):
    """Check a parsed config; returns the normalised config or raises ConfigError.

    `exists(path)` (optional) checks that referenced files (CA, replay CSV) exist.
    """
    c = _Checker(exists)
    if type(raw) is not dict:
        raise ConfigError(["(top level): expected an object, got %s" % _show(raw)])
    cfg = {"base_dir": base_dir}
    board = c.field(raw, "board", "board", BOARDS)
    cfg["board"] = board
    cfg["api"] = _api(c, raw, base_dir)
    cfg["wifi"] = _wifi(c, raw, board)
    cfg["sample_interval_s"] = c.field(raw, "sample_interval_s", "sample_interval_s", INT, 60)
    cfg["upload_interval_s"] = c.field(raw, "upload_interval_s", "upload_interval_s", INT, 600)
    for key in ("sample_interval_s", "upload_interval_s"):
        if _is_int(cfg[key]) and cfg[key] < 1:
            c.err(key, "must be at least 1 second, got %d" % cfg[key])
    cfg["safe_mode_pin"] = c.field(raw, "safe_mode_pin", "safe_mode_pin", INT, None)
    cfg["spool"] = _spool(c, raw)
    cfg["upload"] = _upload(c, raw)
    cfg["clock"] = _clock(c, raw)
    cfg["battery"] = _battery(c, raw, board)
    cfg["sensors"] = _sensors(c, raw, board, base_dir)
    cfg["health"] = _health(c, raw, cfg["sensors"])
    c.unknown(raw, ("board", "api", "wifi", "sample_interval_s", "upload_interval_s",
                    "safe_mode_pin", "spool", "upload", "clock", "battery", "sensors",
                    "health"), "")
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
        "timeout_s": c.field(a, "timeout_s", "api.timeout_s", NUM, 10.0),
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
    api["ca_cert"] = c.file(api["ca_cert"], "api.ca_cert", base_dir)
    if _is_num(api["timeout_s"]) and not 1 <= api["timeout_s"] <= 120:
        c.err("api.timeout_s", "must be between 1 and 120 seconds, got %s" % _show(a["timeout_s"]))
    c.unknown(a, api, "api")
    return api


def _wifi(c, raw, board):
    w = c.obj(raw, "wifi", "wifi", required=(board == "esp32"))
    wifi = {
        "ssid": c.field(w, "ssid", "wifi.ssid", STR, REQUIRED if w else None),
        "password": c.field(w, "password", "wifi.password", STR, "", secret=True),
        "timeout_s": c.field(w, "timeout_s", "wifi.timeout_s", NUM, 20.0),
    }
    c.unknown(w, wifi, "wifi")
    return wifi


def _spool(c, raw):
    s = c.obj(raw, "spool", "spool", required=False)
    out = {"capacity": c.field(s, "capacity", "spool.capacity", INT, None),
           "when_full": c.field(s, "when_full", "spool.when_full",
                                ("drop_oldest", "drop_newest"), "drop_oldest")}
    if _is_int(out["capacity"]) and out["capacity"] < 64:
        c.err("spool.capacity", "must be at least 64 readings, got %d" % out["capacity"])
    c.unknown(s, out, "spool")
    return out


def _range(c, out, key, path, lo, hi):
    v = out[key]
    if _is_num(v) and not lo <= v <= hi:
        c.err(path, "must be between %s and %s, got %s" % (lo, hi, _show(v)))


def _upload(c, raw):
    u = c.obj(raw, "upload", "upload", required=False)
    out = {}
    c.params(u, (("chunk_max", INT, 200), ("max_requests", INT, 50),
                 ("backoff_base_s", INT, 30), ("backoff_cap_s", INT, 3600),
                 ("alert_retry_s", INT, 3600)), "upload", out)
    _range(c, out, "chunk_max", "upload.chunk_max", 1, 1000)
    _range(c, out, "max_requests", "upload.max_requests", 1, 1000)
    _range(c, out, "backoff_base_s", "upload.backoff_base_s", 1, 3600)
    _range(c, out, "backoff_cap_s", "upload.backoff_cap_s", 1, 86400)
    _range(c, out, "alert_retry_s", "upload.alert_retry_s", 60, 86400)
    if _is_int(out["backoff_cap_s"]) and _is_int(out["backoff_base_s"]) and (
            out["backoff_cap_s"] < out["backoff_base_s"]):
        c.err("upload.backoff_cap_s", "must not be below upload.backoff_base_s")
    c.unknown(u, out, "upload")
    return out


def _clock(c, raw):
    k = c.obj(raw, "clock", "clock", required=False)
    out = {"ntp_host": c.field(k, "ntp_host", "clock.ntp_host", STR, "pool.ntp.org"),
           "ntp_timeout_s": c.field(k, "ntp_timeout_s", "clock.ntp_timeout_s", NUM, 2.0)}
    _range(c, out, "ntp_timeout_s", "clock.ntp_timeout_s", 0.1, 30)
    c.unknown(k, out, "clock")
    return out


def _health(c, raw, sensors):
    """{figure: slug}: node health figures sent as readings of these sensor slugs."""
    h = c.obj(raw, "health", "health", required=False)
    taken = {s["slug"] for s in sensors if s.get("slug")}
    out = {}
    for name, slug in h.items():
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


def _source(c, table, name, board, path, what):
    """Look up a driver or battery source; None when unknown or not on this board."""
    if name is None:
        return None
    if name not in table:
        c.err(path, 'unknown %s "%s" (known: %s)' % (what, name, ", ".join(sorted(table))))
        return None
    need, spec = table[name]
    if need and board and need != board:
        c.err(path, '"%s" is only available on the %s board' % (name, need))
    return spec


def _battery(c, raw, board):
    b = c.obj(raw, "battery", "battery", required=False) or {"source": "none"}
    out = {"source": c.field(b, "source", "battery.source", STR)}
    spec = _source(c, BATTERY_SOURCES, out["source"], board, "battery.source", "battery source")
    if spec is not None:
        c.params(b, spec, "battery", out)
        if out["source"] == "adc":
            _adc_pin(c, out["pin"], board, "battery.pin")
        c.unknown(b, [n for n, _, _ in spec] + ["source"], "battery")
    return out


def _adc_pin(c, pin, board, path):
    if not _is_int(pin):
        return
    if not 0 <= pin <= 39:
        c.err(path, "expected a GPIO number 0-39, got %d" % pin)
    elif board == "esp32" and pin in _ADC2_PINS:
        c.err(path, "GPIO %d is on ADC2, which cannot be read while Wi-Fi is on; "
              "use an ADC1 pin (32-39)" % pin)


def _sensors(c, raw, board, base_dir):
    items = raw.get("sensors")
    if type(items) is not list or not items:
        c.err("sensors", "expected a non-empty list of sensors, got %s" % _show(items))
        return []
    if len(items) > _MAX_SENSORS:
        c.err("sensors", "at most %d sensors are supported, got %d" % (_MAX_SENSORS, len(items)))
    out, seen = [], {}
    for i, s in enumerate(items):
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
        spec = _source(c, DRIVERS, sensor["driver"], board, path + ".driver", "driver")
        if spec is not None:
            c.params(s, spec, path, sensor)
            if sensor["driver"] == "adc":
                _adc_pin(c, sensor["pin"], board, path + ".pin")
            elif sensor["driver"] == "replay":
                sensor["file"] = c.file(sensor["file"], path + ".file", base_dir)
            c.unknown(s, [n for n, _, _ in spec] + ["slug", "uuid", "driver"], path)
        out.append(sensor)
    return out


def loads(text, base_dir="", exists=None):
    """Parse and validate config text; raises ConfigError naming every problem."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ConfigError(["(file): not valid JSON (%s)" % (e.args[0] if e.args else "syntax")])
    return validate(raw, base_dir, exists)


def load(path, exists=None):
    """Read, parse and validate the config file at `path`."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise ConfigError(["(file): cannot read %s" % path])
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    return loads(text, base, exists)
