# Power-cut harness (MicroPython): the real node cycle on emulated ESP32 flash that
# loses power after its Nth program or erase, like littlefs's own emulated block device.
#
#   micropython harness.py WORKDIR SEED CUT [CUT ...]
#
# For one scenario (SEED picks sensors, upload rhythm, link outages and the fake
# server's rejections) it first counts the scenario's flash operations, then for each
# CUT (a fraction 0..1 of that count, or "all:STEP") runs the scenario on a fresh image
# until the power dies at that operation, remounts, lets the node drain everything,
# and checks the invariants. One line per cut: "CUT seed op verdict details".
# Verdicts: ok, unmountable, lost (a stored reading neither at the server nor in the
# dead letters, beyond what a full spool dropped and counted), extra-dups (more re-sent
# than the batch in flight), crash (the firmware raised).
import json
import os
import random
import sys

import flashdev
import vfs

import httpc
import log
import sensocan
import record
import spool as spool_mod
from flashdev import PowerCut

BLOCKS = 64  # 256 KiB of flash: small images keep thousands of runs quick
DATA = "/flash/data"
BATCH = 20
POISON = 53  # the fake server rejects reading numbers divisible by this (422)


class Scenario:
    def __init__(self, seed):
        random.seed(seed)
        self.sensors = 1 + random.getrandbits(4) % 12  # 1..12 readings a cycle
        self.upload_every = 1 + random.getrandbits(5) % 24  # cycles
        self.cycles = 30 + random.getrandbits(4)
        self.capacity = 64 if seed % 3 == 0 else None  # every third: full, drop oldest
        self.down = set()  # cycles without a link
        for _ in range(random.getrandbits(2)):
            start = random.getrandbits(5) % self.cycles
            self.down.update(range(start, start + 1 + random.getrandbits(3)))


class World:
    """Everything outside the flash: clock, RTC memory, the server, the counters."""

    def __init__(self):
        self.t = 60060400  # node seconds (clock.py): 2026-11-27
        self.rtc = b""
        self.next_value = 0
        self.committed = []  # reading numbers whose commit() returned
        self.stored = {}  # reading number -> times the server stored it
        self.rejected = set()
        self.link = True


W = World()


class Board:
    NAME = "unix"
    DATA_DIR = DATA
    CONFIG_PATH = "/none"
    FLASH_BYTES = BLOCKS * 4096

    @staticmethod
    def now():
        return W.t

    @staticmethod
    def reset_cause():
        return "deep_sleep"

    @staticmethod
    def rtc_memory(data=None):
        if data is None:
            return W.rtc
        W.rtc = bytes(data)

    @staticmethod
    def sensor_driver(name):
        return Counter

    @staticmethod
    def link_up(wifi):
        if not W.link:
            raise OSError("link down")

    @staticmethod
    def link_down():
        pass

    @staticmethod
    def configure(cfg):
        pass

    @staticmethod
    def sync_time(host, timeout_s):
        return 0

    @staticmethod
    def rssi():
        return None

    @staticmethod
    def alert(code):
        pass

    @staticmethod
    def watchdog(ms):
        return Board

    @staticmethod
    def feed():
        pass

    @staticmethod
    def report(figures):
        pass


class Counter:
    """Every reading is a new number, so the invariants can follow each one."""

    def __init__(self, board, spec):
        pass

    def read(self, t, n):
        W.next_value += 1
        return float(W.next_value)


def reply(status, body, sink):
    """A reply as httpc gives it: the JSON body handed to `sink` as it would stream."""
    raw = bytearray(json.dumps(body).encode())
    if sink:
        sink(raw, 0, len(raw))
    return httpc.Response(status, {}, True, False)


class FakeHttp:
    """The server: stores a batch whole or rejects its poisoned items (422)."""

    handshakes = bytes_sent = 0

    def __init__(self, *args, **kw):
        pass

    def request(self, method, path, body, headers, sink=None, deadline_ms=None):
        raw = bytearray(len(body))
        at = [0]

        def put(data):
            raw[at[0] : at[0] + len(data)] = data
            at[0] += len(data)

        body.write_to(sensocan.Writer(put))
        items = json.loads(raw)["data"]
        if type(items) is dict:  # the single-reading endpoint
            items = [items]
        bad = [i for i, it in enumerate(items) if int(it["value"]) % POISON == 0]
        if bad:
            for i in bad:
                W.rejected.add(int(items[i]["value"]))
            return reply(422, {"message": "Validation failed.", "errors": {
                "data.%d.value" % i: ["rejected"] for i in bad}}, sink)
        for it in items:
            v = int(it["value"])
            W.stored[v] = W.stored.get(v, 0) + 1
        return reply(201, {"message": "ok", "count": len(items)}, sink)

    def close(self):
        pass


def config(sc):
    return {
        "board": "unix",
        "api": {"base_url": "http://sensocan", "token": "t", "ca_cert": None,
                "device_uuid": "d", "allow_insecure_http": True, "timeout_s": 10.0},
        "upload": {"chunk_max": BATCH, "max_requests": 20, "backoff_base_s": 30,
                   "backoff_cap_s": 3600, "alert_retry_s": 3600, "deadline_s": 180},
        "clock": {"ntp_host": "ntp", "ntp_timeout_s": 1.0}, "health": {}, "power_bands": [],
        "warnings": [],
        "wifi": {}, "sample_interval_s": 60, "upload_interval_s": 60 * sc.upload_every,
        "safe_mode_pin": None, "spool": {"capacity": sc.capacity, "when_full": "drop_oldest"},
        "battery": {"source": "none"},
        "sensors": [{"index": i, "slug": "s%d" % i, "uuid": None, "driver": "counter"}
                    for i in range(sc.sensors)],
    }


def fake_server():
    """The node unloads httpc after each upload: every wake's import gets the fake."""
    import httpc

    httpc.Client = FakeHttp


def install_hooks():
    log.print = lambda *a: None  # the node's console: thousands of runs would drown the verdicts
    commit = spool_mod.Spool.commit

    def recorded_commit(self):
        first = W.next_value - self._staged + 1
        n = commit(self)  # only readings whose commit returned count as stored
        W.committed.extend(range(first, first + n))
        return n

    spool_mod.Spool.commit = recorded_commit


def wake(sc, cycle):
    """One wake of the real firmware: node.Node(...).cycle() on the mounted flash."""
    import node
    from rtcstate import RtcState

    W.link = cycle not in sc.down
    fake_server()
    log.setup(Board.now, DATA + "/log.txt")
    st = RtcState.load(Board)
    sleep = node.Node(Board, config(sc), st).cycle()
    st.save(Board)
    W.t += sleep


def mount(path, cut_after=None):
    dev = flashdev.FlashImage(path, blocks=BLOCKS, cut_after=cut_after)
    vfs.mount(vfs.VfsLfs2(dev), "/flash")
    return dev


def unmount():
    try:
        vfs.umount("/flash")
    except BaseException:  # a dead flash may refuse; the image file is what counts
        pass


def run(sc, path, cut_after=None, cycles=None):
    """Run the scenario's wakes; returns (flash operations used, True if the power died)."""
    dev = mount(path, cut_after)
    try:
        for c in range(cycles if cycles is not None else sc.cycles):
            wake(sc, c)
        return dev.progs + dev.erases, False
    except PowerCut:
        return dev.progs + dev.erases, True
    finally:
        unmount()


def drain(sc, path, cut_after=None):
    """After the power came back: wake with the link up until nothing is pending."""
    mount(path, cut_after)
    W.rtc = b""  # a power cut wipes RTC memory
    try:
        for _ in range(200):
            W.t += 3600  # far enough for any backoff or upload slot
            wake(sc, -1)
            sp = spool_mod.Spool(DATA + "/spool")
            if not sp.pending():
                return sp
        raise AssertionError("the spool never drained")
    except PowerCut:
        return None
    finally:
        unmount()


def dead_letters():
    out = []
    for name in ("/dead.1", "/dead"):
        try:
            raw = open(DATA + "/spool" + name, "rb").read()
        except OSError:
            continue
        for i in range(len(raw) // record.RECORD):
            rec = record.unpack(raw, i)
            if rec:
                out.append(int(rec[3]))
    return out


def copy(src, dst):
    with open(src, "rb") as a, open(dst, "wb") as b:
        while True:
            chunk = a.read(4096)
            if not chunk:
                break
            b.write(chunk)


def check(sc, seed, op, pristine, work):
    """One cut at flash operation `op`; returns the verdict line."""
    global W
    W = World()
    copy(pristine, work)
    cuts = 0
    try:
        _, died = run(sc, work, cut_after=op)
        cuts += died
        if died and random.getrandbits(2) == 0:  # and sometimes once more while recovering
            cuts += drain(sc, work, cut_after=random.getrandbits(8)) is None
    except Exception as e:
        return "CUT %d %d crash %r" % (seed, op, e)
    try:
        sp = drain(sc, work)
    except OSError as e:
        return "CUT %d %d unmountable %s" % (seed, op, e)
    except Exception as e:
        return "CUT %d %d crash %r" % (seed, op, e)
    mount(work)
    dead = dead_letters()
    unmount()
    stored = W.stored
    missing = [v for v in W.committed if v not in stored and v not in dead]
    dups = sum(n - 1 for n in stored.values())
    # only a full spool may drop readings, and it counts them (a dropped reading may
    # also have reached the server in the reply-lost batch: hence at most, not equal)
    if len(missing) > sp.dropped or sp.lost:
        return "CUT %d %d lost %d (dropped %d, lost %d): %s" % (
            seed, op, len(missing), sp.dropped, sp.lost, missing[:10])
    if dups > BATCH * cuts:
        return "CUT %d %d extra-dups %d" % (seed, op, dups)
    return "CUT %d %d ok stored=%d dups=%d dead=%d dropped=%d cuts=%d" % (
        seed, op, len(W.committed), dups, len(dead), sp.dropped, cuts)


def main():
    workdir, seed = sys.argv[1], int(sys.argv[2])
    sc = Scenario(seed)
    pristine, work = workdir + "/pristine-%d.img" % seed, workdir + "/work-%d.img" % seed
    dev = flashdev.FlashImage(pristine, blocks=BLOCKS)
    vfs.VfsLfs2.mkfs(dev)
    dev.close()
    install_hooks()
    copy(pristine, work)
    total, _ = run(sc, work)
    print("SCENARIO %d ops=%d sensors=%d upload_every=%d cycles=%d down=%d capacity=%s"
          % (seed, total, sc.sensors, sc.upload_every, sc.cycles, len(sc.down), sc.capacity))
    cuts = []
    for arg in sys.argv[3:]:
        if arg.startswith("all:"):
            cuts.extend(range(1, total, int(arg[4:])))
        else:
            cuts.append(max(1, int(float(arg) * total)))
    random.seed(seed * 7919)
    for op in cuts:
        print(check(sc, seed, op, pristine, work))
    os.remove(work)
    os.remove(pristine)


if __name__ == "__main__":
    main()
