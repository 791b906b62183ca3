"""The devices file: which devices exist, their tokens and their sensors.

    {"devices": [{"uuid": "a1b2c3d4-...", "token": "...",
                  "sensors": [{"uuid": "7a8b9c0d-...", "slug": "temp_01"}]}]}

It is validated on load, every bad field named (`devices[0].sensors[1].slug: missing`),
so a typo fails at start-up instead of showing up later as a puzzling 401 or 404.
Other keys (a "name", a comment) are allowed and kept by `provision`.
"""

import json
import os
import re
import secrets
import tempfile
import uuid as uuidlib
from dataclasses import dataclass, field, replace
from pathlib import Path

_ID = re.compile(r"[A-Za-z0-9._~-]+")  # usable as a URL path segment as is
_ID_RULE = "must be letters, digits, '.', '_', '~' or '-'"
_TOKEN = re.compile(r"[\x21-\x7e]+")  # one word of an Authorization header
_TOKEN_RULE = "must be printable ASCII without spaces"


class DevicesFileError(ValueError):
    """The devices file is unusable; `problems` holds one line per bad field."""

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        where = "%s: " % source if source else ""
        super().__init__("%sinvalid devices file:\n  %s" % (where, "\n  ".join(self.problems)))


@dataclass(frozen=True)
class Sensor:
    uuid: str
    slug: str


@dataclass(frozen=True)
class Device:
    uuid: str
    token: str = field(repr=False)  # keeps tokens out of reprs and tracebacks
    sensors: tuple = ()

    def sensor_by_uuid(self, uuid):
        return next((s for s in self.sensors if s.uuid == uuid), None)

    def sensor_by_slug(self, slug):
        return next((s for s in self.sensors if s.slug == slug), None)

    def to_dict(self):
        return {"uuid": self.uuid, "token": self.token,
                "sensors": [{"uuid": s.uuid, "slug": s.slug} for s in self.sensors]}


class Registry:
    """Lookups by device uuid and by token (a token is valid for its own device only)."""

    def __init__(self, devices):
        self.devices = tuple(devices)
        self._by_uuid = {d.uuid: d for d in self.devices}
        self._by_token = {d.token: d for d in self.devices}

    def device(self, uuid):
        return self._by_uuid.get(uuid)

    def device_for_token(self, token):
        return self._by_token.get(token)

    def add_sensor(self, device_uuid, slug, uuid):
        """Create a sensor on a device, as the dashboard's Sensors tab does."""
        old = self._by_uuid[device_uuid]
        new = replace(old, sensors=old.sensors + (Sensor(uuid, slug),))
        self.devices = tuple(new if d is old else d for d in self.devices)
        self._by_uuid[new.uuid] = self._by_token[new.token] = new


def parse(doc, source=None):
    """A Registry from the parsed devices file; DevicesFileError lists every problem."""
    problems = []
    if not isinstance(doc, dict) or not isinstance(doc.get("devices"), list):
        missing = not isinstance(doc, dict) or "devices" not in doc
        raise DevicesFileError(["devices: %s" % ("missing" if missing else "must be a list")],
                               source)
    seen = {"uuid": {}, "token": {}}
    devices = []
    for i, entry in enumerate(doc["devices"]):
        where = "devices[%d]" % i
        if not isinstance(entry, dict):
            problems.append("%s: must be an object" % where)
            continue
        uuid = _text(entry, "uuid", where, _ID, _ID_RULE, seen["uuid"], problems)
        token = _text(entry, "token", where, _TOKEN, _TOKEN_RULE, seen["token"], problems)
        sensors = _sensors(entry, where, problems)
        devices.append(Device(uuid, token, sensors))
    if problems:
        raise DevicesFileError(problems, source)
    return Registry(devices)


def _sensors(entry, where, problems):
    if not isinstance(entry.get("sensors"), list):
        problems.append("%s.sensors: %s" % (where, "missing" if "sensors" not in entry
                                            else "must be a list"))
        return ()
    seen = {"uuid": {}, "slug": {}}
    sensors = []
    for j, item in enumerate(entry["sensors"]):
        at = "%s.sensors[%d]" % (where, j)
        if not isinstance(item, dict):
            problems.append("%s: must be an object" % at)
            continue
        sensors.append(Sensor(_text(item, "uuid", at, _ID, _ID_RULE, seen["uuid"], problems),
                              _text(item, "slug", at, _ID, _ID_RULE, seen["slug"], problems)))
    return tuple(sensors)


def _text(obj, key, where, pattern, rule, seen, problems):
    """obj[key] if it is a well-formed string not already used where `seen` says."""
    at = "%s.%s" % (where, key)
    value = obj.get(key)
    if key not in obj:
        problems.append("%s: missing" % at)
    elif not isinstance(value, str):
        problems.append("%s: must be a string" % at)
    elif not pattern.fullmatch(value):
        problems.append("%s: %s" % (at, rule))
    elif value in seen:
        problems.append("%s: same as %s" % (at, seen[value]))  # never echo the value: tokens
    else:
        seen[value] = at
        return value
    return None


def load(path):
    """Read and validate the devices file at `path`."""
    return parse(_read(path), path)


def _read(path):
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise DevicesFileError(["cannot read: %s" % (e.strerror or e)], path) from None
    except ValueError as e:
        raise DevicesFileError(["not valid JSON: %s" % e], path) from None


def provision(path, device_uuid, token=None, sensors=()):
    """Create or update `device_uuid` in the devices file at `path`; returns the Device.

    `sensors` are (slug, uuid or None) pairs; a new slug is added, a known one gets the
    uuid if given. A new device gets `token` or a random one; tokens and uuids not given
    are generated. The file is rewritten atomically, other entries and keys untouched.
    """
    path = Path(path)
    doc = _read(path) if path.exists() else {"devices": []}
    parse(doc, path)  # never build on a broken file
    entry = next((d for d in doc["devices"] if d["uuid"] == device_uuid), None)
    if entry is None:
        entry = {"uuid": device_uuid, "token": token or secrets.token_urlsafe(24), "sensors": []}
        doc["devices"].append(entry)
    elif token:
        entry["token"] = token
    for slug, sensor_uuid in sensors:
        known = next((s for s in entry["sensors"] if s["slug"] == slug), None)
        if known is None:
            entry["sensors"].append({"uuid": sensor_uuid or str(uuidlib.uuid4()), "slug": slug})
        elif sensor_uuid:
            known["uuid"] = sensor_uuid
    device = parse(doc, path).device(device_uuid)
    _write_atomically(path, json.dumps(doc, indent=2) + "\n")
    return device


def _write_atomically(path, text):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
