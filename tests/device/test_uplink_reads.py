# Device tests (MicroPython): how often an upload reads each window of records from flash.
import sensocan
from spool import Spool
from uplink import Uplink
HEAP = "node"  # a phase of the node's wake: see tests/conftest.py

from uplinkkit import TMP, U, SLUGS, UUIDS, Http, Log, fill, ok


class Counted(Spool):
    """A spool that counts the records read() gives back."""

    records = calls = 0

    def read(self, start, buf):
        n = Spool.read(self, start, buf)
        self.calls += 1
        self.records += n
        return n


def drain(root, n, sensors, chunk, replies):
    sp = Counted(TMP + root)
    fill(sp, n, len(sensors))
    http = Http(replies)
    res = Uplink(sensocan.Api(http, "dev", "tok"), sp, sensors, chunk, Log()).drain()
    assert res.acked == n and sp.pending() == 0
    print("@@READS", root, n, res.requests, sp.calls, sp.records)
    return sp, res


def test_a_window_sent_as_one_request_is_read_twice():
    """Once to plan it, once to send it: its length is known from the plan."""
    sp, res = drain("/one", 90, SLUGS, 100, [ok(90)])
    assert res.requests == 1 and sp.records == 2 * 90


def test_a_window_of_several_requests_is_read_once_more_per_request():
    """Each request walks its window once to write its body (its sensors' records are
    interleaved with the others'): nothing is read to count or to mark it done."""
    sp, res = drain("/bulk", 180, UUIDS, 100, [ok(60)] * 3)
    assert res.requests == 3 and sp.records <= (1 + 3) * 180
