"""tools/spool_dump.py and `make logs` read a node's flash from the host: backlog, dead
letters, how full it is; a damaged flash is named in one line, never a traceback."""

import json
import random
import subprocess
import sys

from tests.nodekit import ROOT, SENSORS, Kit
from tools import monitor, session, spool_dump
from tools.dev import unixport

BLOCK = 4096
ERASED = b"\xff" * BLOCK


def test_dump_shows_backlog_counters_and_dead_letters(tmp_path):
    kit = Kit(tmp_path)
    try:
        errors = {"data.2.value": ["The data.2.value field must be a number."]}
        kit.server.faults.add(action="reply", status=422, times=1,
                              body={"message": "Validation failed.", "errors": errors})
        kit.cycles(1)  # the soil reading of the first wake is set aside
        kit.sim.set_link(False)
        while kit.cycles(1)[0].figures["backlog"] != 6:  # six readings wait
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
    assert lines[3] == "parked (their sensor unknown to the server at the last try): 0 readings"
    assert lines[4] == "dead letters kept: 1"
    assert lines[5].split()[1:] == ["soil", lines[5].split()[2], "rejected"]
    waiting = [line.split()[1] for line in with_records[3:9]]
    assert with_records[9].startswith("parked")
    assert waiting == ["temp_01", SENSORS[1]["uuid"], "soil"] * 2  # named as in config.json


def _run_tool(*args):
    res = subprocess.run([sys.executable, "-m", "tools.spool_dump", *map(str, args)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res


def test_dump_of_a_damaged_image_names_the_problem_in_one_line(tmp_path):
    kit = Kit(tmp_path / "kit")
    try:
        kit.cycles(2)
    finally:
        kit.stop()
    good = (kit.sim.state / "flash.img").read_bytes()
    used = [b for b in range(len(good) // BLOCK) if good[b * BLOCK:(b + 1) * BLOCK] != ERASED]
    assert _run_tool("--image", kit.sim.state / "flash.img").returncode == 0

    bad = bytearray(good)  # both superblocks unreadable: nothing can be mounted
    bad[:2 * BLOCK] = bytes(x ^ 0xFF for x in bad[:2 * BLOCK])
    (tmp_path / "bad.img").write_bytes(bad)
    res = _run_tool("--image", tmp_path / "bad.img")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.splitlines() == ["spool_dump: %s is not a readable littlefs flash image "
                                       "(error 84: damaged, never formatted, or not a flash "
                                       "image)" % (tmp_path / "bad.img")]
    for seed in range(6):  # bytes flipped here and there in the used blocks
        rnd = random.Random(seed)
        bad = bytearray(good)
        for block in used:
            for _ in range(20):
                bad[block * BLOCK + rnd.randrange(BLOCK)] ^= 0xFF
        (tmp_path / "bad.img").write_bytes(bad)
        res = _run_tool("--image", tmp_path / "bad.img")
        assert res.returncode in (0, 1) and len(res.stderr.splitlines()) == res.returncode
        assert res.returncode == 0 or "flash" in res.stderr, res.stderr


_FILL = """
import flashdev, os, vfs
fs = flashdev.FlashImage(%(image)r)
vfs.VfsLfs2.mkfs(fs)
vfs.mount(vfs.VfsLfs2(fs), "/flash")
os.chdir("/flash")
os.mkdir("data")
n = 0
try:
    while True:
        with open("data/f%%d" %% n, "wb") as f:
            for _ in range(n %% 7 + 1):
                f.write(b"x" * 1000)
        n += 1
except OSError:
    pass
"""


def test_logs_shows_a_full_flash_as_full(tmp_path):
    """littlefs's used-block estimate overshoots on a full flash, and MicroPython's statvfs
    subtracts it unsigned: f_bfree comes out as 2**32-n (or -n on a 32-bit port)."""
    image = tmp_path / "flash.img"
    image.write_bytes(ERASED * 512)
    res = unixport.run_code(_FILL % {"image": str(image)}, heap="1M")
    assert res.returncode == 0, res.stdout + res.stderr
    mount = "import flashdev, os, vfs\nvfs.mount(vfs.VfsLfs2(flashdev.FlashImage(%r)), '/flash')" \
            "\nos.chdir('/flash')\n" % str(image)
    res = unixport.run_code(mount + "print(os.statvfs('.'))\n" + session._INFO % {
        "manifest": session.MANIFEST, "paths": []}, heap="1M")
    assert res.returncode == 0, res.stdout + res.stderr
    raw, about = res.stdout.splitlines()[0], session.parse_info(res.stdout)
    assert not 0 <= int(raw.split(",")[3]) <= 512, raw  # the platform's figure is wrong...
    lines = []
    monitor.health(about, lines.append)
    assert "flash: 2048 of 2048 KiB used (100%)" in lines  # ...and shown right


def test_dump_shows_parked_readings_by_sensor(tmp_path):
    """Readings of a sensor the server does not know wait parked: the dump (and make
    logs) names the sensor, so the user knows what to create on the dashboard."""
    kit = Kit(tmp_path)
    try:
        cfg = json.loads(kit.config_path.read_text())
        cfg["sensors"].append({"slug": "ghost", "driver": "wave"})
        kit.config_path.write_text(json.dumps(cfg))
        parked = kit.cycles(1)[0].figures["parked"]
    finally:
        kit.stop()
    lines = []
    spool_dump.describe(spool_dump.extract(kit.sim.state / "flash.img", tmp_path / "a"),
                        out=lines.append)
    at = lines.index("parked (their sensor unknown to the server at the last try): 1 reading")
    assert parked == 1 and lines[at + 1].split() == ["ghost", "1"]


def test_the_record_module_reads_and_writes_the_documented_format_under_cpython():
    """tools/spool_dump.py imports lib/record.py: on CPython it packs and reads records
    exactly as docs/spool.md's table says (little-endian, CRC-32 of bytes 0-11)."""
    import struct
    import zlib

    rec = spool_dump.record
    buf = bytearray(2 * rec.RECORD)
    t = 60061400  # node seconds: 2026-11-27T03:43:20Z
    rec.pack(buf, rec.RECORD, 3, rec.UNDATED, t, 21.5, 0x1234)
    sensor, flags, aux, unix, value, crc = struct.unpack_from("<BBHIfI", buf, rec.RECORD)
    assert (sensor, flags, aux, unix, value) == (3, 4, 0x1234, 1735689600 + t, 21.5)
    assert crc == zlib.crc32(bytes(buf[16:28]))
    assert rec.intact(buf, 1) and rec.unpack(buf, 1) == (3, 4, t, 21.5)
    assert list(spool_dump.records(bytes(buf)))[1] == (3, 4, 1735689600 + t, 21.5, True)
    buf[24] ^= 1  # a flipped bit in the value
    assert not rec.intact(buf, 1) and rec.unpack(buf, 1) is None
