"""Laravel-style validation of reading payloads: what earns a 422, and its wording.

The rules and messages are the vendor's (Laravel 10 defaults, plus its own "The sensor
value is required." for a single reading), so a client meets the same error bodies
here as in production. Every error of a request is reported, keyed like Laravel
(`data.1.value`). Unknown sensors named inside a batch are kept apart, because the
contract allows either a 422 or a 404 for them.
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

SINGLE, BULK, BATCH = "single", "bulk", "batch"
KINDS = (SINGLE, BULK, BATCH)

# PHP is_numeric() on a string: optional surrounding whitespace, a sign, decimal or exponent.
_NUMERIC = re.compile(r"[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*")


@dataclass(frozen=True)
class Item:
    """One valid reading, resolved to its sensor."""

    sensor: object  # registry.Sensor
    value: float
    timestamp: str | None  # exactly as sent; None when omitted
    measured_at: float | None  # epoch seconds (UTC) of `timestamp`


@dataclass
class Result:
    """Valid items, or why not. Store the items only if both error maps are empty."""

    items: list
    battery_voltage: float | None
    errors: dict  # key -> [messages]
    unknown_sensors: dict  # batch items naming no sensor of the device, same shape


def validate(kind, body, device, sensor=None):
    """Check the parsed JSON `body` for endpoint `kind`; `sensor` is the path's (single, bulk)."""
    check = _Check(device)
    fields = body if isinstance(body, dict) else {}
    if kind == SINGLE:
        check.single(fields.get("data"), sensor)
    else:
        check.listed(fields.get("data"), sensor if kind == BULK else None)
    battery = check.battery(fields)
    return Result(check.items, battery, check.errors, check.unknown)


def parse_timestamp(text):
    """Epoch seconds of an ISO 8601 string (no offset means UTC), or None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def as_number(value):
    """float(value) when PHP's is_numeric() holds (never for booleans) and it is finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and not _NUMERIC.fullmatch(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _blank(value):
    """Laravel's `required` fails on these (an empty string arrives as null)."""
    return value is None or value == [] or value == {} or (
        isinstance(value, str) and not value.strip())


class _Check:
    def __init__(self, device):
        self.device = device
        self.items = []
        self.errors = {}
        self.unknown = {}

    def fail(self, key, message, into=None):
        (self.errors if into is None else into).setdefault(key, []).append(message)

    def single(self, data, sensor):
        if _blank(data):
            self.fail("data", "The data field is required.")
        elif not isinstance(data, (dict, list)):  # a JSON list is a PHP array too
            self.fail("data", "The data field must be an array.")
        else:
            fields = data if isinstance(data, dict) else {}
            self.reading("data", fields, sensor, "The sensor value is required.")

    def listed(self, data, sensor):
        """Bulk (`sensor` from the path) and batch (each item names its own) arrays."""
        if _blank(data):
            self.fail("data", "The data field is required.")
        elif not isinstance(data, list):
            self.fail("data", "The data field must be an array.")
        else:
            for i, entry in enumerate(data):
                key = "data.%d" % i
                fields = entry if isinstance(entry, dict) else {}
                self.reading(key, fields,
                             sensor if sensor is not None else self.item_sensor(key, fields))

    def reading(self, key, fields, sensor, value_required=None):
        value = self.value(key + ".value", fields.get("value"), value_required)
        stamp = self.timestamp(key + ".timestamp", fields)
        if sensor is not None and value is not None and stamp is not None:
            self.items.append(Item(sensor, value, *stamp))

    def value(self, key, value, required):
        if _blank(value):
            self.fail(key, required or "The %s field is required." % key)
            return None
        number = as_number(value)
        if number is None:
            self.fail(key, "The %s field must be a number." % key)
        return number

    def timestamp(self, key, fields):
        """(text, epoch); (None, None) when omitted; None when invalid."""
        if "timestamp" not in fields:
            return None, None
        epoch = parse_timestamp(fields["timestamp"])
        if epoch is None:
            self.fail(key, "The %s field must be a valid date." % key)
            return None
        return fields["timestamp"], epoch

    def item_sensor(self, key, fields):
        """The sensor a batch item names (by uuid in preference to slug), if any."""
        slug_key, uuid_key = key + ".sensor_slug", key + ".sensor_uuid"
        slug, uuid = fields.get("sensor_slug"), fields.get("sensor_uuid")
        if _blank(slug) and _blank(uuid):
            self.fail(slug_key, "The %s field is required when %s is not present."
                      % (slug_key, uuid_key))
            self.fail(uuid_key, "The %s field is required when %s is not present."
                      % (uuid_key, slug_key))
            return None
        found = {}
        for name, value, lookup in ((slug_key, slug, self.device.sensor_by_slug),
                                    (uuid_key, uuid, self.device.sensor_by_uuid)):
            if _blank(value):
                continue
            if not isinstance(value, str):
                self.fail(name, "The %s field must be a string." % name)
            elif lookup(value) is None:
                self.fail(name, "The selected %s is invalid." % name, self.unknown)
            else:
                found[name] = lookup(value)
        return found.get(uuid_key) or found.get(slug_key)

    def battery(self, fields):
        if "battery_voltage" not in fields:
            return None
        number = as_number(fields["battery_voltage"])
        if number is None:
            self.fail("battery_voltage", "The battery voltage field must be a number.")
        elif not 0 <= number <= 100:
            self.fail("battery_voltage", "The battery voltage field must be between 0 and 100.")
        return number
