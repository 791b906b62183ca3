"""Host side: the heaviest configs the validator accepts fit the node's heap with 10 %
to spare (an ESP32's 111,936 bytes on a 32-bit port: `make test-32bit`), and one sensor
or table point more is refused by the validator, never found out by a MemoryError.

The configs are the limits of lib/configsensors.py's sensor weights; `make bench` measures their
smallest heaps (tools/dev/bench/node_heap.py runs the wakes here)."""

import json
import re

import pytest

from tools.dev import unixport
from tools.dev.bench import node_heap
from tools.check_config import config  # the device's validator, as the host tool runs it

HEAVIEST = ["wave:40", "long:24", "table2:28", "table:9", "table:4,table2:10,wave:9"]
ONE_MORE = ["long:25", "table2:29", "table:10", "table:4,table2:10,wave:10"]


@pytest.mark.parametrize("mix", HEAVIEST)
def test_the_heaviest_configs_accepted_run_with_10_percent_of_the_heap_to_spare(tmp_path, mix):
    wake = node_heap.Wake(tmp_path, node_heap.kinds(mix))
    try:
        cfg = json.loads(wake.config.read_text())
        config.validate(cfg, str(tmp_path))  # accepted
        for share in (0.9, 0.95, 1.0):  # the node's heap, and 5 and 10 % less of it
            assert wake.ok(int(int(unixport.node_heap()) * share)), (share, wake.last.output)
    finally:
        wake.stop()


@pytest.mark.host
@pytest.mark.parametrize("mix", ONE_MORE + ["wave:41"])
def test_one_sensor_or_table_point_more_is_refused_with_a_message(tmp_path, mix):
    sensors = [dict(node_heap.KINDS[k], slug="s%d" % i) for i, k in enumerate(node_heap.kinds(mix))]
    for i, s in enumerate(sensors):
        if s.get("uuid"):  # a 64-character slug and a uuid
            s["slug"] = s["slug"].ljust(64, "x")
            s["uuid"] = "a1b2c3d4-e5f6-7890-abcd-%012d" % i
    cfg = {"board": "unix", "api": {"base_url": "http://localhost/api/v1", "token": "t",
                                    "device_uuid": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
                                    "allow_insecure_http": True}, "sensors": sensors}
    with pytest.raises(config.ConfigError) as e:
        config.validate(cfg, str(tmp_path))
    (err,) = [err for err in e.value.errors if err.startswith("sensors: ")]
    if mix == "wave:41":
        assert err == "sensors: at most 40 sensors fit the node's memory, got 41"
    else:
        assert re.fullmatch(
            r"sensors: these sensors need 10[1-9]% of the node's memory for sensors \(each "
            r"takes 2\.5%, each point of its table 0\.5% more, each 6 characters of its slug "
            r"and uuid 0\.1% more\): use fewer sensors, shorter tables or shorter slugs",
            err), err
