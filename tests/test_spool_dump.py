"""tools/spool_dump.py reads a node's flash from the host: backlog and dead letters."""

from tests.nodekit import SENSORS, Kit
from tools import spool_dump


def test_dump_shows_backlog_counters_and_dead_letters(tmp_path):
    kit = Kit(tmp_path)
    try:
        errors = {"data.2.value": ["The data.2.value field must be a number."]}
        kit.server.faults.add(action="reply", status=422, times=1,
                              body={"message": "Validation failed.", "errors": errors})
        kit.cycles(1)  # the soil reading of the first wake is set aside
        kit.sim.set_link(False)
        while "backlog 6," not in kit.cycles(1)[0].output:  # six readings wait
            pass
    finally:
        kit.stop()
    lines = []
    with_records = []
    image = kit.sim.state / "flash.img"
    spool_dump.describe(spool_dump.extract(image, tmp_path / "a"), out=lines.append)
    spool_dump.describe(spool_dump.extract(image, tmp_path / "b"), True, with_records.append)
    assert lines[0].startswith("state: cursor 3, dropped 0, dead letters 1, lost 0")
    assert lines[1] == "waiting: 6 readings in 2 files"
    assert lines[3] == "dead letters kept: 1"
    assert lines[4].split()[1:] == ["soil", lines[4].split()[2], "rejected"]
    waiting = [line.split()[1] for line in with_records[3:9]]
    assert waiting == ["temp_01", SENSORS[1]["uuid"], "soil"] * 2  # named as in config.json
