"""Sensocan mock server (host side, CPython): the device HTTP API, offline.

Implements the vendor contract (sensocan-http-api.md), to try a node without the cloud
and for the test suite: the three reading endpoints, per-device tokens, Laravel-style
validation, the rate limit, SQLite storage of what arrived, fault injection (faults.py,
MockServer.down() and up()) and wire statistics for benchmarks (MockServer.wire).

    python -m tools.dev.sensocan_mock serve --devices devices.json --db readings.db
    from tools.dev.sensocan_mock import MockServer
"""

from .faults import FaultRuleError, Faults
from .registry import DevicesFileError
from .server import MockServer

__all__ = ["DevicesFileError", "FaultRuleError", "Faults", "MockServer"]
