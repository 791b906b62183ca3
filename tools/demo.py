"""Host tool (CPython): `make sim`, the whole product on one laptop in ~30 seconds.

Starts the Sensocan mock over HTTPS (a fresh private CA) on a free loopback port,
provisions a demo device with the example config's sensors, runs the emulated node
through a day-in-the-life scenario (the link drops for a while, the backlog drains
when it returns), prints what the server stored per sensor, and stops everything.
Work files go to .sim/ (kept afterwards for a look: console log, flash image, DB).
"""

import argparse
import json
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from tools import certs, cli
from tools.dev import sim

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "boards" / "unix" / "config.json"


def provision(work, example):
    """A devices file for the mock and a node config pointing at it."""
    cfg = json.loads(example.read_text())
    device = str(uuid.uuid4())
    token = secrets.token_urlsafe(24)
    sensors = [{"slug": s.get("slug") or "sensor_%d" % i, "uuid": s.get("uuid") or str(uuid.uuid4())}
               for i, s in enumerate(cfg["sensors"])]
    devices = {"devices": [{"uuid": device, "token": token, "sensors": sensors}]}
    (work / "devices.json").write_text(json.dumps(devices, indent=2))
    cfg["api"].update(device_uuid=device, token=token, ca_cert="certs/ca.der")
    for s in cfg["sensors"]:
        if s["driver"] == "replay":
            s["file"] = str((example.parent / s["file"]).resolve())
    return cfg


class MockProcess:
    """The mock server in its own process; learns its port from the listening line."""

    def __init__(self, work):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.dev.sensocan_mock", "serve",
             "--devices", str(work / "devices.json"), "--db", str(work / "readings.sqlite"),
             "--tls-cert", str(work / "certs" / "server.pem"),
             "--tls-key", str(work / "certs" / "server.key"), "--port", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise SystemExit("mock server did not start: %s" % line)
        self.url = line.split("listening on", 1)[1].strip()
        self.log = work / "server.log"

    def stop(self):
        self.proc.terminate()
        try:
            rest, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
        if getattr(self, "log", None):
            self.log.write_text(rest or "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--speed", type=float, default=60.0,
                    help="clock acceleration (60: a minute of node time per second)")
    ap.add_argument("--link-down", default="1-3,12-19", help="cycles without a link")
    ap.add_argument("--work", default=str(ROOT / ".sim"))
    args = ap.parse_args(argv)

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    (work / "state").mkdir(parents=True)
    certs.make_ca(work / "certs")
    cfg = provision(work, EXAMPLE)
    mock = MockProcess(work)
    try:
        port = mock.url.rsplit(":", 1)[1].split("/", 1)[0]
        cfg["api"]["base_url"] = "https://localhost:%s/api/v1" % port
        (work / "config.json").write_text(json.dumps(cfg, indent=2))
        print("mock Sensocan API at %s (TLS, private CA in %s)" % (cfg["api"]["base_url"],
                                                                  work / "certs"))
        print("node: %s, sample every %d s, upload every %d s; link down in cycles %s\n"
              % (cli.count(len(cfg["sensors"]), "sensor"), cfg["sample_interval_s"],
                 cfg["upload_interval_s"],
                 args.link_down))
        # a real ESP32's clock: 2000-01-01 at power-on, until the node reaches NTP
        node = sim.Simulator(work / "config.json", work / "state", speed=args.speed,
                             rtc_unset=True)
        down = sim.parse_ranges(args.link_down)
        sampled = left = 0
        # the scripted wakes, then on until the next upload has emptied the spool
        while node.cycle < args.cycles or left and node.cycle < args.cycles + 10:
            node.set_link(node.cycle + 1 not in down)
            run = node.run_cycle()
            sim.show(run)
            if run.sleep_s is None:
                print(run.output)
                raise SystemExit("the node stopped (safe mode or no sleep request)")
            sampled += sum(int(n) for n in re.findall(r"stored (\d+)", run.output))
            left = int(re.search(r"backlog (\d+)", run.output).group(1))
    finally:
        mock.stop()
    print("\nWhat the server stored:")
    subprocess.run([sys.executable, "-m", "tools.dev.sensocan_mock", "list", "--summary",
                    "--db", str(work / "readings.sqlite")], cwd=ROOT, check=False)
    with sqlite3.connect(work / "readings.sqlite") as db:
        stored = db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    print("\nThe node sampled %d readings: the server stored %d, %d wait on the node's flash."
          % (sampled, stored, left))
    return 0 if stored + left >= sampled else 1


if __name__ == "__main__":
    sys.exit(main())
