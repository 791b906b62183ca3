"""Plain-text tables for `list`: one row per reading, or per sensor with --summary."""

from datetime import datetime, timezone


def readings_table(readings):
    rows = [(r["id"], _time(r["received_at"]), r["device_uuid"], r["sensor_slug"],
             _number(r["value"]), _time(r["measured_at"]), r["timestamp"] or "-",
             _number(r["battery_voltage"]), r["endpoint"], r["request_id"])
            for r in readings]
    return _table(("id", "received", "device", "sensor", "value", "measured", "sent timestamp",
                   "battery", "endpoint", "request"), rows) if rows else "no readings"


def summary_table(sensors):
    rows = [(s["device_uuid"], s["sensor_slug"], s["sensor_uuid"], s["count"],
             _time(s["first"]), _time(s["last"]), _number(s["min"]), _number(s["max"]),
             _number(s["last_value"]))
            for s in sensors]
    return _table(("device", "sensor", "sensor uuid", "count", "first", "last", "min", "max",
                   "last value"), rows) if rows else "no readings"


def _table(header, rows):
    cells = [header] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                     for row in cells)


def _time(epoch):
    try:
        moment = datetime.fromtimestamp(epoch, timezone.utc)
    except (OverflowError, ValueError, OSError):  # valid ISO 8601, outside datetime's years
        return "%.0f" % epoch
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _number(value):
    return "-" if value is None else "%.15g" % value
