"""The emulated node on a damaged or full flash: every reading it stored reaches the
server or is counted (lost, dead letters, dropped) with a WARN line in log.txt, the node
never crashes, and `make logs` shows it. The spool's side alone is in
tests/device/test_flash_damage.py and tests/device/test_flash_full.py."""

import shutil
import struct
import zlib

from tests.nodekit import Kit, backlog, total
from tools import monitor, session, spool_dump
from tools.dev import unixport

BLOCK = 4096
EPOCH = 1735689600  # lib/clock.py: Unix seconds of node time 0


def records(image, since):
    """{block: offsets} of the records in `image` that pass their CRC and were taken at
    or after Unix time `since`, at any offset (inline in metadata or in a segment)."""
    raw = image.read_bytes()
    found = {}
    for b in range(len(raw) // BLOCK):
        blk = raw[b * BLOCK:(b + 1) * BLOCK]
        if blk.count(0xFF) == BLOCK:
            continue
        for off in range(BLOCK - 15):
            crc, = struct.unpack_from("<I", blk, off + 12)
            if struct.unpack_from("<I", blk, off + 4)[0] >= since and \
                    zlib.crc32(blk[off:off + 12]) == crc:
                found.setdefault(b, []).append(off)
    return found


def flip(image, block, offsets):
    raw = bytearray(image.read_bytes())
    for off in offsets:
        raw[block * BLOCK + off] ^= 0xFF
    image.write_bytes(raw)


def log_of(kit, tmp):
    data = spool_dump.extract(kit.sim.state / "flash.img", tmp)
    log = data / "log.txt"
    return log.read_text().splitlines() if log.exists() else []


def drain(kit):
    """Wakes with the link up until the backlog is empty; returns them."""
    kit.sim.set_link(True)
    runs = kit.cycles(1)
    while backlog(runs[-1]) and len(runs) < 6:
        runs += kit.cycles(1)
    assert backlog(runs[-1]) == 0, runs[-1].output
    return runs


def test_damage_to_the_spools_blocks_is_counted_and_logged(tmp_path):
    """Bytes flipped in each block that holds waiting readings (here the directory
    metadata the small files live in): afterwards the readings are at the server or
    counted as lost, with a WARN line."""
    kit = Kit(tmp_path / "kit")
    try:
        kit.cycles(1)
        since = int(kit.sim.clock)
        kit.sim.set_link(False)
        runs = kit.cycles(1)
        while backlog(runs[-1]) < 9:
            runs += kit.cycles(1)
        waiting = backlog(runs[-1])
        good = tmp_path / "good"
        kit.copy_state(good)
        blocks = records(kit.sim.state / "flash.img", since)
        assert blocks
        cases = 0  # the ones that cost readings
        # the newest record hit, the oldest, one in five
        hits = [(b, pick) for b, offs in sorted(blocks.items())
                for pick in (offs[-1:], offs[:1], offs[::5])]
        for block, offsets in hits:
            shutil.rmtree(kit.sim.state)
            shutil.copytree(good, kit.sim.state)
            flip(kit.sim.state / "flash.img", block, offsets)
            before = len(kit.readings())
            runs = drain(kit)
            arrived = {(r["timestamp"], r["sensor_slug"]) for r in kit.readings()[before:]}
            lost, dead = runs[-1].figures["lost"], runs[-1].figures["dead_letters"]
            assert len(arrived) + lost + dead >= waiting + total(runs, "stored"), (
                block, len(arrived), lost, dead, [r.output for r in runs])
            if lost or dead:
                warned = [line for line in log_of(kit, tmp_path / ("log%d" % cases))
                          if " WARN spool: " in line or "(corrupt)" in line]
                assert warned, (block, offsets)
                cases += 1
        assert cases  # some damage did cost readings: those were counted
    finally:
        kit.stop()


_INJECT = """
import flashdev, vfs
vfs.mount(vfs.VfsLfs2(flashdev.FlashImage(%(image)r)), "/flash")
from spool import Spool
sp = Spool("/flash/data/spool")
for i in range(%(n)d):
    sp.append(i %% 3, %(t)d + i // 3, 20.0 + i %% 7)
    if i %% 8 == 7:
        sp.commit()
sp.commit()
"""


def test_corrupt_readings_are_dead_letters_counted_and_logged_once(tmp_path):
    """A segment's block (no littlefs checksum on file data) with bytes flipped: its
    records fail their CRC at upload, become dead letters (counted), with one WARN line
    for the whole upload; every other reading reaches the server."""
    kit = Kit(tmp_path / "kit")
    try:
        kit.cycles(1)  # sensors.json numbers the three sensors 0, 1, 2
        image = kit.sim.state / "flash.img"
        t = int(kit.sim.clock) - EPOCH - 600
        res = unixport.run_code(_INJECT % {"image": str(image), "n": 240, "t": t}, heap="256K")
        assert res.returncode == 0, res.stdout + res.stderr
        segment, = [b for b, offs in records(image, t + EPOCH).items() if len(offs) >= 150]
        flip(image, segment, [i * 16 + 5 for i in range(0, 192, 19)])  # 11 of its records
        seg = image.read_bytes()[segment * BLOCK:][:192 * 16]
        corrupt = sum(1 for o in range(0, len(seg), 16)
                      if zlib.crc32(seg[o:o + 12]) != struct.unpack_from("<I", seg, o + 12)[0])
        assert corrupt == 11
        runs = drain(kit)
        assert runs[-1].figures["dead_letters"] == corrupt and runs[-1].figures["lost"] == 0
        assert len(kit.readings()) == 3 + 240 - corrupt + total(runs, "stored")
        lines = [line for line in log_of(kit, tmp_path / "x") if "(corrupt)" in line]
        assert len(lines) == 1 and " WARN " in lines[0], lines
    finally:
        kit.stop()


_FULL = """
import flashdev, os, vfs
dev = flashdev.FlashImage(%(image)r)
vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), "/flash")
os.mkdir("/flash/data")
buf = bytearray(4096)
n = 0
for blocks in (32, 1):  # files of 32 blocks, then of one, until the flash is full
    try:
        while True:
            with open("/flash/fill%%d" %% n, "wb") as f:
                for _ in range(blocks):
                    f.write(buf)
            n += 1
    except OSError:
        os.remove("/flash/fill%%d" %% n)
for i in range(8):  # all but 8 blocks
    os.remove("/flash/fill%%d" %% (n - 1 - i))
import log
log.setup(lambda: 60061400, "/flash/data/log.txt")
from spool import Spool
sp = Spool("/flash/data/spool", log=log)
for i in range(3000):
    sp.append(i %% 3, 60061400 + i, 1.0)
    if i %% 50 == 49:
        sp.commit()
print("@@", sp.dropped, sp.pending())
"""


def test_make_logs_shows_a_full_flash_dropping_readings(tmp_path, monkeypatch):
    """The spool fills the flash to its last block: the drops reach log.txt on that flash
    and `make logs` shows them, with the count in the spool's state."""
    image = tmp_path / "flash.img"
    image.write_bytes(b"\xff" * BLOCK * 512)
    res = unixport.run_code(_FULL % {"image": str(image)}, heap="256K")
    assert res.returncode == 0, res.stdout + res.stderr
    dropped, pending = map(int, res.stdout.split("@@")[1].split())
    assert dropped and dropped + pending == 3000
    monkeypatch.setattr(session, "mpremote", lambda port, *args: spool_dump.extract(image, args[-1]))
    out = []
    monitor.show_data("PORT", 40, False, out.append)
    assert any(" WARN spool: flash full: dropped the " in line and
               line.endswith("(%d dropped so far)" % dropped) for line in out), out
    state, = [line for line in out if line.startswith("state:")]
    assert state.startswith("state: cursor %d, dropped %d," % (dropped, dropped)), state
