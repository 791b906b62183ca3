"""SQLite storage: every reading that arrived, and a log of every request.

One connection behind a lock, so `:memory:` works and handler threads may share it.
File databases use WAL, so `list` (read-only) can read while a server writes.
Tokens are never stored: a request row only says whether authentication passed.
"""

import sqlite3
import threading
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,      -- server clock, epoch seconds
    connection INTEGER,             -- the connection it came on (MockServer.connections())
    method TEXT NOT NULL,
    path TEXT NOT NULL,             -- as sent, query string included
    device_uuid TEXT,               -- from the path, when it is a device path
    status INTEGER,                 -- what went on the wire; NULL if no reply was sent
    reply_class TEXT,               -- e.g. created, validation_failed, fault:close
    auth_ok INTEGER,                -- 1/0 once the token was checked, else NULL
    content_type TEXT,
    body TEXT                       -- raw body as text; NULL if it could not be read
);
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    device_uuid TEXT NOT NULL,
    sensor_uuid TEXT NOT NULL,
    sensor_slug TEXT NOT NULL,
    value REAL NOT NULL,
    timestamp TEXT,                 -- as sent; NULL if omitted
    measured_at REAL NOT NULL,      -- epoch of timestamp, or received_at if omitted
    battery_voltage REAL,
    endpoint TEXT NOT NULL,         -- single, bulk or batch
    received_at REAL NOT NULL
);
"""

_SUMMARY = """
SELECT device_uuid, sensor_slug, sensor_uuid, COUNT(*) AS count,
       MIN(measured_at) AS first, MAX(measured_at) AS last,
       MIN(value) AS min, MAX(value) AS max,
       (SELECT value FROM readings AS l
        WHERE l.device_uuid = r.device_uuid AND l.sensor_uuid = r.sensor_uuid
        ORDER BY measured_at DESC, id DESC LIMIT 1) AS last_value
FROM readings AS r {where}
GROUP BY device_uuid, sensor_uuid
ORDER BY device_uuid, sensor_slug
"""


class Store:
    def __init__(self, path=":memory:", *, readonly=False):
        """Open (creating the schema) `path`; `readonly` opens an existing file for reading."""
        if readonly:
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self):
        with self._lock:
            self._db.close()

    def begin_request(self, *, received_at, connection, method, path, device_uuid,
                      content_type, body):
        """Log a request as it arrives; returns its id for the readings and finish_request."""
        with self._lock, self._db:
            return self._db.execute(
                "INSERT INTO requests (received_at, connection, method, path, device_uuid,"
                " content_type, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (received_at, connection, method, path, device_uuid, content_type,
                 body)).lastrowid

    def finish_request(self, request_id, *, status, reply_class, auth_ok):
        with self._lock, self._db:
            self._db.execute(
                "UPDATE requests SET status = ?, reply_class = ?, auth_ok = ? WHERE id = ?",
                (status, reply_class, auth_ok, request_id))

    def add_readings(self, rows):
        """Store one request's readings (dicts keyed by column) in one transaction."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO readings (request_id, device_uuid, sensor_uuid, sensor_slug, value,"
                " timestamp, measured_at, battery_voltage, endpoint, received_at) VALUES"
                " (:request_id, :device_uuid, :sensor_uuid, :sensor_slug, :value, :timestamp,"
                " :measured_at, :battery_voltage, :endpoint, :received_at)", rows)

    def readings(self, device=None):
        """Every stored reading, in arrival order; only `device`'s if given."""
        return self._select("SELECT * FROM readings {where} ORDER BY id", device)

    def requests(self):
        """The request log, oldest first."""
        return self._select("SELECT * FROM requests {where} ORDER BY id", None)

    def summary(self, device=None):
        """Per sensor: count, first/last measurement time, min/max/last (latest) value."""
        return self._select(_SUMMARY, device)

    def _select(self, sql, device):
        where, args = ("WHERE device_uuid = ?", (device,)) if device else ("", ())
        with self._lock:
            return [dict(row) for row in self._db.execute(sql.format(where=where), args)]
