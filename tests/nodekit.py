"""Host side (CPython): an emulated node wired to an in-process Sensocan mock.

The integration tests build one of these per test: a fresh device in the mock,
a config.json pointing at it over HTTPS (private test CA), and a Simulator that
runs the real firmware under the MicroPython unix port.
"""

import calendar
import json
import shutil
import time
from pathlib import Path

from tools import certs
from tools.dev import sim
from tools.dev.sensocan_mock import MockServer

ROOT = Path(__file__).resolve().parent.parent
DEVICE = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
TOKEN = "test-token-0123456789"
SENSORS = [
    {"slug": "temp_01", "uuid": "7a8b9c0d-1234-5678-90ab-cdef12345678"},
    {"slug": "humidity", "uuid": "11111111-2222-3333-4444-555555555555"},
    {"slug": "soil", "uuid": "66666666-7777-8888-9999-000000000000"},
]


def node_config(url, ca, **over):
    cfg = {
        "board": "unix",
        "api": {"base_url": url, "token": TOKEN, "device_uuid": DEVICE, "ca_cert": ca},
        "sample_interval_s": 60,
        "upload_interval_s": 180,
        "battery": {"source": "sim", "full_v": 4.2, "empty_v": 3.3, "hours": 72},
        "sensors": [
            {"slug": "temp_01", "driver": "wave", "shape": "saw", "period_s": 600,
             "amplitude": 5, "offset": 20},
            {"uuid": SENSORS[1]["uuid"], "driver": "replay",
             "file": str(ROOT / "boards" / "unix" / "data" / "humidity.csv")},
            {"slug": "soil", "driver": "adc", "pin": 34, "scale": 10.0},
        ],
    }
    for k, v in over.items():
        if k == "api":
            cfg["api"].update(v)
        else:
            cfg[k] = v
    return cfg


class Kit:
    """Mock + config + simulator in `tmp`; `start()` returns self; `stop()` the mock."""

    def __init__(self, tmp, rtc_unset=False, extra_sensors=(), **server_kw):
        """`rtc_unset`: the node's RTC starts at 2000 on power-on (a real ESP32). The
        mock's rate-limit clock is the simulator's accelerated one."""
        self.tmp = Path(tmp)
        self.paths = certs.make_ca(self.tmp / "certs")
        devices = {"devices": [{"uuid": DEVICE, "token": TOKEN,
                                "sensors": SENSORS + list(extra_sensors)}]}
        server_kw.setdefault("tls", (str(self.paths["cert"]), str(self.paths["key"])))
        server_kw.setdefault("clock", lambda: self.sim.clock)
        self.server = MockServer(devices, str(self.tmp / "mock.sqlite"), **server_kw).start()
        self.config_path = self.tmp / "config.json"
        self.write_config()
        (self.tmp / "state").mkdir(exist_ok=True)
        sim.prepare_flash(self.tmp / "state")
        self.sim = sim.Simulator(self.config_path, self.tmp / "state", rtc_unset=rtc_unset)

    @property
    def url(self):
        return "https://localhost:%d/api/v1" % self.server.port

    def write_config(self, **over):
        cfg = node_config(self.url, str(self.paths["ca_der"]), **over)
        self.config_path.write_text(json.dumps(cfg))
        return cfg

    def cycles(self, n):
        """Run n wakes; every one must end in deep sleep. Returns the Runs."""
        runs = []
        for _ in range(n):
            run = self.sim.run_cycle()
            assert run.sleep_s is not None, run.output
            assert "Traceback" not in run.output, run.output
            runs.append(run)
        return runs

    def readings(self):
        return self.server.readings()

    def stop(self):
        self.server.stop()

    def copy_state(self, dest):
        shutil.copytree(self.tmp / "state", dest)


def epoch(iso):
    """An ISO 8601 UTC timestamp as Unix seconds."""
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def total(runs, figure):
    """The sum of a figure the wakes reported (the phases' results, firmware/node.py and
    upload.py: stored, sent, requests, unanswered, set_aside, parked_now...), 0 where a
    wake has none."""
    return sum(r.figures.get(figure, 0) for r in runs)


def sampled(runs):
    """Readings the wakes reported stored (a retry wake samples nothing)."""
    return total(runs, "stored")


def uploaded(run):
    """The wake tried an upload: its radio was on (upload.py's radio_ms)."""
    return "radio_ms" in run.figures


def stored(run):
    """Readings the wake's sampling round stored; None when it sampled nothing."""
    return run.figures.get("stored")


def backlog(run):
    """The backlog a wake reported."""
    assert "backlog" in run.figures, run.output
    return run.figures["backlog"]


def health_kit(tmp, health):
    """A Kit whose device knows the health figures' slugs, with config.json's
    "health" set to `health` ({figure: slug})."""
    extra = [{"slug": slug, "uuid": "00000000-0000-0000-0000-%012d" % i}
             for i, slug in enumerate(health.values())]
    kit = Kit(tmp, extra_sensors=extra)
    kit.write_config(health=health)
    return kit
