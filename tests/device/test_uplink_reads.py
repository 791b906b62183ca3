# Device tests (MicroPython): how often an upload reads each window of records from flash.
import sensocan
from spool import Spool
from uplink import Uplink
HEAP = "node"  # a phase of the node's wake: see tests/conftest.py

from uplinkkit import TMP, SLUGS, UUIDS, Http, Log, fill, ok


class Counted(Spool):
    """A spool that counts the records read() gives back."""

    records = 0

    def read(self, start, buf, most=None):
        n = Spool.read(self, start, buf, most)
        self.records += n
        return n


def drain(root, n, sensors, chunk, replies, acked=None):
    sp = Counted(TMP + root)
    fill(sp, n, len(sensors))
    http = Http(replies)
    res = Uplink(sensocan.Api(http, "dev", "tok"), sp, sensors, chunk, Log()).drain()
    assert res.acked == (n if acked is None else acked) and sp.pending() == 0
    return sp, res


def test_a_window_sent_as_one_request_is_read_twice():
    """Once to plan it, once to send it: its length is known from the plan."""
    sp, res = drain("/one", 90, SLUGS, 100, [ok(90)])
    assert res.requests == 1 and sp.records == 2 * 90, sp.records


def test_a_window_of_several_requests_is_read_once_more_per_request():
    """Each request walks its window once to write its body (its sensors' records are
    interleaved with the others'): nothing is read to count or to mark it done."""
    sp, res = drain("/bulk", 180, UUIDS, 100, [ok(60)] * 3)
    assert res.requests == 3 and sp.records <= (1 + 3) * 180, sp.records


def test_a_422_naming_items_costs_reads_only_while_it_is_handled():
    """Plan, send; find the named items; count what is left, resend it; dead-letter the
    named ones: six reads of a window the 422 hit (each of those steps walks it once)."""
    bad = (422, {}, {"message": "Validation failed.",
                     "errors": {"data.1.value": ["The data.1.value field must be a number."]}})
    sp, res = drain("/named", 60, SLUGS[:1], 100, [bad, ok(59)], acked=59)
    assert res.requests == 2 and res.dead == 1 and sp.records == 6 * 60, sp.records
