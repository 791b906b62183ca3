"""The validator's machinery: the checker that collects every problem with its field
path, the value kinds it checks, and the small tests the config's sections share.

Device code that runs on the host too (lib/config.py says how); unloaded with the rest
of the validator (firmware/configcheck.py).
"""

import json
import os

from drivers.registry import DRIVERS
from number import finite

_MAX_POINTS = 16  # an analog table: a handful of points describes a calibration curve
DAY = 86400
WEEK = 604800  # in ms (sleep times) still below 2^30: a small int on the ESP32
HEX = "0123456789abcdef"
_SLUG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."

REQUIRED = object()
INT, NUM, STR, BOOL = "an integer", "a number", "a string", "true or false"
ADDR = "an I2C address 0x08-0x77 (a number, or a string like \"0x76\")"
POINTS = "a list of 2-%d [volts, value] pairs" % _MAX_POINTS


class ConfigError(Exception):
    """The config cannot be used; `errors` lists every problem as 'path: problem'."""

    def __init__(self, errors):
        super().__init__("invalid config: %s (%d problems)" % (errors[0], len(errors)))
        self.errors = errors


def show(value):
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


def is_int(v):
    return type(v) is int


is_num = finite


def _addr(v):
    """A 7-bit I2C address (reserved ones excluded) from 0x76 or "0x76", else None."""
    if type(v) is str:
        digits = v[2:].lower()
        if v[:2] not in ("0x", "0X") or not 0 < len(digits) <= 2 or any(
                ch not in HEX for ch in digits):  # CPython's int() takes "0x7_6" too
            return None
        v = int(digits, 16)
    return v if is_int(v) and 0x08 <= v <= 0x77 else None


def within(pin, spans):
    for lo, hi in spans:
        if lo <= pin <= hi:
            return True
    return False


def _range(c, v, path, lo, hi):
    if not lo <= v <= hi:
        c.err(path, "must be between %s and %s%s, got %s"
              % (lo, hi, " seconds" if path.endswith("_s") else "", show(v)))


class Checker:
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
            self.err(path, "expected an object, got %s" % show(v))
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
            else kind is INT and is_int(v)
            or kind is ADDR and v is not None
            or kind is NUM and is_num(v)
            or kind is STR and type(v) is str
            or kind is BOOL and type(v) is bool
        )
        if not ok:
            v = obj[key]
            got = "a value of type %s" % type(v).__name__ if secret else show(v)
            self.err(path, "expected %s, got %s" % (self._expect(kind), got))
            return default if default is not REQUIRED else None
        return float(v) if kind is NUM else v

    def points(self, v, path):
        """[[volts, value], ...] as drivers.analog.Table takes them: volts increasing."""
        if (type(v) is not list or not 2 <= len(v) <= _MAX_POINTS
                or any(type(p) is not list or len(p) != 2
                       or not (is_num(p[0]) and is_num(p[1])) for p in v)):
            self.err(path, "expected %s, got %s" % (POINTS, show(v)))
            return None
        for i in range(1, len(v)):
            if not v[i - 1][0] < v[i][0]:
                self.err(path, "table volts must increase: %s after %s"
                         % (show(v[i][0]), show(v[i - 1][0])))
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


def source(c, table, name, board, path, what):
    """The entry of a driver (drivers/registry.py) or battery source (confighw.py); None
    when unknown. Both name the only board they run on in `board`."""
    if name is None:
        return None
    if name not in table:
        c.err(path, 'unknown %s "%s" (known: %s)' % (what, name, ", ".join(sorted(table))))
        return None
    entry = table[name]
    need = entry.board
    if need and board and need != board:
        c.err(path, '"%s" is only available on the %s board' % (name, need))
    return entry


def bus(driver):
    """The bus a driver's chip is on (None: not a driver)."""
    entry = DRIVERS.get(driver)
    return entry.bus if entry else None


def join(base_dir, path):
    """Resolve a config-relative path (the config's folder is the base)."""
    if not base_dir or path.startswith("/"):
        return path
    return base_dir.rstrip("/") + "/" + path


def is_uuid(s):
    if type(s) is not str or len(s) != 36:
        return False
    for i, c in enumerate(s.lower()):
        if (c != "-") if i in (8, 13, 18, 23) else (c not in HEX):
            return False
    return True


def names(spec):
    return [p[0] for p in spec]


def is_slug(s):
    if not 0 < len(s) <= 64:
        return False
    for c in s:
        if c not in _SLUG_CHARS:
            return False
    return True
