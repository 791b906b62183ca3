# Device tests (MicroPython): field updates below the network (docs/updates.md). The
# manifest's rules, staging into a slot (only changed files downloaded, each verified),
# the switch, the trial's accounting and its rollback, every bad input refused with no
# change, and a power cut at every flash operation of staging and switch.
import gc
import hashlib
import os
from binascii import hexlify

import flashdev
import flashfs
import otaboot
import otamanifest
import otatrial
import updater
from test_flash_full import exists

HEAP = "node"  # the updater runs in the upload phase of the node's wake
TMP = os.getenv("TEST_TMP")
RUN = TMP + "/run"  # the running set's root (the deploy's tree on a board)
SLOT = "/flash/ota/a"


class Board:
    FLASH = "/flash"
    DATA_DIR = "/flash/data"
    CONFIG_PATH = TMP + "/config.json"

    @staticmethod
    def now():
        return 60061400


class Figures:
    def __init__(self):
        self.figures = {}


class Phase:
    """What updater reads of the upload phase (firmware/upload.py's Upload)."""

    def __init__(self):
        self.board = Board
        self.update = {"max_wakes_unconfirmed": 3}
        self.res = Figures()

    def feed(self):
        pass


class Reply:
    def __init__(self, status, complete=True):
        self.status = status
        self.complete = complete


class Server:
    """httpc.Client's request() over a dict of path -> bytes; counts what it sent."""

    def __init__(self, files):
        self.files = files
        self.got = []
        self.bytes_received = 0

    def request(self, method, path, body=None, headers=None, sink=None, deadline_ms=None):
        data = self.files.get(path[1:])
        if data is None:
            return Reply(404)
        self.got.append(path[1:])
        for i in range(0, len(data), 100):  # in pieces, as httpc hands them over
            sink(memoryview(data), i, min(i + 100, len(data)))
        self.bytes_received += len(data)
        return Reply(200)

    def close(self):
        pass


def sha(data):
    return hexlify(hashlib.sha256(data).digest()).decode()


def write(path, data):
    parts = path.split("/")
    for i in range(2, len(parts)):
        try:
            os.mkdir("/".join(parts[:i]))
        except OSError:
            pass
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# The running set: node.mpy and lib/a.mpy stay, lib/b.mpy changes, lib/d/c.mpy is new.
OLD = {"node.mpy": b"N" * 700, "lib/a.mpy": b"A" * 1500, "lib/b.mpy": b"old b"}
NEW = {"node.mpy": b"N" * 700, "lib/a.mpy": b"A" * 1500, "lib/b.mpy": b"new b" * 300,
       "lib/d/c.mpy": b"C" * 1200}


def release(files, version="1.1.0", **extra):
    doc = {"version": version,
           "files": [{"path": p, "sha256": sha(d), "size": len(d)} for p, d in files.items()]}
    doc.update(extra)
    return doc


def setup(blocks=128, cut_after=None, fresh=True):
    if fresh:
        for p, d in OLD.items():
            write(RUN + "/" + p, d)
    dev = flashfs.mount(blocks=blocks, cut_after=cut_after, fresh=fresh)
    if fresh:
        os.mkdir("/flash/data")
        write("/flash/data/spool.0", b"readings" * 64)  # must never change
    otaboot.state = otaboot.load(Board)
    otaboot.booted = (otaboot.version(), bool(otaboot.state.get("trial")))
    updater._running = lambda: RUN
    return dev


def stage(server, doc):
    code, line = updater.install(Phase(), server, doc, 0x7FFFFFF)
    updater.record(Board, code, line)
    return code, line


def boot():
    """What otatrial.start does before choosing the set: count the boot or roll back."""
    otatrial.count_boot(Board)
    otaboot.booted = (otaboot.version(), bool(otaboot.state.get("trial")))


def whole(files):
    """The slot holds exactly `files`, each with its content."""
    for p, d in files.items():
        if read(SLOT + "/" + p) != d:
            return False
    return _count(SLOT) == len(files)


def _count(d):
    return sum(_count(d + "/" + e[0]) if e[1] == 0x4000 else 1 for e in os.ilistdir(d))


def test_manifest_rules():
    good = release(NEW)
    assert otamanifest.check(good, "1.0.0", ()) is None
    assert "not newer" in otamanifest.check(good, "1.1.0", ())
    assert "not newer" in otamanifest.check(good, "2.0.0", ())
    assert otamanifest.check(release(NEW, downgrade=True), "2.0.0", ()) is None
    assert "rolled back before: not tried again" in otamanifest.check(good, "1.0.0", ("1.1.0",))
    for doc, key in (
        ([], "not an object"),
        (release(NEW, version="1.1"), "x.y.z"),
        (release(NEW, version="01.1.0"), "x.y.z"),
        (release(NEW, extra=1), "unknown field"),
        (release(NEW, downgrade="yes"), "downgrade"),
        (release({}), "files"),
        (release({"../x.mpy": b""}), "not allowed"),
        (release({"/node.mpy": b""}), "not allowed"),
        (release({"boot.py": b""}), "not allowed"),
        (release({"main.py": b""}), "not allowed"),
        (release({"board.mpy": b""}), "not allowed"),
        (release({"otaboot.mpy": b""}), "not allowed"),
        (release({"Node.mpy": b""}), "not allowed"),
        (release({"node.py": b""}), "not allowed"),
        (release(NEW, settings={"api": {"token": "x"}}), "may not travel"),
        (release(NEW, settings={"wifi": {"password": "x"}}), "may not travel"),
        (release(NEW, settings=[1]), "settings must be an object"),
    ):
        why = otamanifest.check(doc, "1.0.0", ())
        assert why and key in why, (doc, why)
    big = release(NEW)
    big["files"][0]["size"] = otamanifest.MAX_FILE_BYTES + 1
    assert "at most" in otamanifest.check(big, "1.0.0", ())
    bad = release(NEW)
    bad["files"][1]["sha256"] = "AB" * 32
    assert "sha256" in otamanifest.check(bad, "1.0.0", ())
    dup = release(NEW)
    dup["files"].append(dict(dup["files"][0]))
    assert "not allowed" in otamanifest.check(dup, "1.0.0", ())


def test_only_changed_files_are_downloaded_and_the_switch_names_the_slot():
    setup()
    server = Server(NEW)
    code, line = stage(server, release(NEW))
    assert code == updater.STAGED, line
    assert sorted(server.got) == ["lib/b.mpy", "lib/d/c.mpy"]  # the rest copied on flash
    assert whole(NEW)
    st = otaboot.load(Board)
    assert st["cur"] == {"set": "a", "version": "1.1.0"} and st["prev"] is None
    assert st["trial"] == [0, 0, 0, 3] and st["code"] == updater.STAGED
    assert read("/flash/data/spool.0") == b"readings" * 64


def test_a_bad_file_is_refused_and_nothing_switches():
    for served, key in (({"lib/b.mpy": b"new b" * 299 + b"xxxxx"}, "wrong SHA-256"),
                        ({"lib/b.mpy": b"new b" * 301}, "bytes, the manifest says"),
                        ({"lib/b.mpy": b"new b"}, "bytes, the manifest says"),
                        ({}, "HTTP 404")):
        setup()
        files = dict(NEW)
        files.update(served)
        if not served:
            del files["lib/b.mpy"]
        code, line = stage(Server(files), release(NEW))
        assert code == updater.FAILED and key in line, line
        assert "cur" not in otaboot.load(Board)
        assert not exists(SLOT + "/lib/b.mpy") and not exists(SLOT + "/lib/b.mpy.part")
        flashfs.unmount()


def test_not_enough_flash_is_refused_before_any_download():
    setup(blocks=32)  # 128 KiB
    server = Server(NEW)
    doc = release(NEW)
    doc["files"].append({"path": "lib/big.mpy", "sha256": "0" * 64,
                         "size": otamanifest.MAX_FILE_BYTES})
    code, line = stage(server, doc)
    assert code == updater.REFUSED and "bytes free on flash" in line, line
    assert server.got == [] and "cur" not in otaboot.load(Board)


def test_staging_resumes_and_drops_what_the_release_does_not_list():
    setup()
    write(SLOT + "/lib/b.mpy", NEW["lib/b.mpy"])  # a staging cut short after this file
    write(SLOT + "/lib/d/c.mpy.part", b"C" * 10)
    write(SLOT + "/stale.mpy", b"gone")
    server = Server(NEW)
    assert stage(server, release(NEW))[0] == updater.STAGED
    assert server.got == ["lib/d/c.mpy"] and whole(NEW)


def test_trial_counts_boots_and_wakes_then_rolls_back_or_confirms():
    setup()
    stage(Server(NEW), release(NEW))
    boot()  # boot 1
    otaboot.woke(Board)
    boot()  # boot 2: crashes
    otaboot.failed(Board, ImportError("no module named 'x'"))
    boot()  # boot 3: crashes again
    assert otaboot.load(Board)["trial"] == [3, 1, 0, 3]
    boot()  # boot 4: two boots did not finish a wake
    st = otaboot.load(Board)
    assert st["cur"] is None and st["trial"] is None and st["refused"] == ["1.1.0"]
    assert st["rollbacks"] == 1 and st["code"] == updater.ROLLED_BACK
    assert "crash loop" in st["last"] and "no module named 'x'" in st["last"]
    assert "rolled back before: not tried again" in otamanifest.check(release(NEW), otaboot.version(),
                                                     st["refused"])
    # never confirmed: max_wakes_unconfirmed upload wakes end without a stored upload
    st["refused"] = []
    otaboot.save(Board, st)
    otaboot.state = st
    stage(Server(NEW), release(NEW, version="1.2.0"))
    for _ in range(5):  # wakes that only sample do not count against it
        boot()
        otaboot.figures({}, [])
        otaboot.woke(Board)
    assert otaboot.load(Board)["cur"]["version"] == "1.2.0"
    for _ in range(3):
        boot()
        otaboot.figures({"http_status": 0}, [])  # an upload wake
        otaboot.woke(Board)
    boot()
    st = otaboot.load(Board)
    assert st["cur"] is None and st["rollbacks"] == 2
    assert "not confirmed: no upload stored in 3 upload wakes" in st["last"]
    # confirmed: the trial ends, the set stays
    otaboot.state = st
    stage(Server(NEW), release(NEW, version="1.3.0"))
    boot()
    assert otaboot.confirm(Board) and not otaboot.confirm(Board)
    st = otaboot.load(Board)
    assert st["trial"] is None and st["cur"]["version"] == "1.3.0"
    for _ in range(5):
        boot()
    assert otaboot.load(Board)["cur"]["version"] == "1.3.0"


_COPY = bytearray(1024)


def copy(src, dst):
    gc.collect()
    buf = _COPY
    with open(src, "rb") as f, open(dst, "wb") as g:
        while n := f.readinto(buf):
            g.write(buf, n)


def _cut_sweep(step, files=NEW):
    """Stage and switch, the power cut at every `step`th flash operation: after each cut
    the pointer names the old set, or the new one whole; the spool file is untouched;
    staging again completes."""
    dev = setup()
    flashfs.unmount()
    copy(TMP + "/flash.img", TMP + "/pristine.img")
    dev = setup(fresh=False)
    ops0 = dev.progs + dev.erases
    stage(Server(files), release(files))
    total = dev.progs + dev.erases - ops0
    flashfs.unmount()
    for n in range(0, total, step):  # cut_after=n: the (n+1)th operation is torn
        copy(TMP + "/pristine.img", TMP + "/flash.img")
        setup(cut_after=n, fresh=False)
        try:
            stage(Server(files), release(files))
            raise AssertionError("no cut at op %d of %d" % (n, total))
        except flashdev.PowerCut:
            pass
        flashfs.unmount()
        setup(fresh=False)
        cur = otaboot.load(Board).get("cur")
        assert not cur or whole(files), n
        assert read("/flash/data/spool.0") == b"readings" * 64, n
        if not cur:
            assert stage(Server(files), release(files))[0] == updater.STAGED, n
            assert whole(files)
        flashfs.unmount()
    assert total > 20, total  # the pointer's rename is the last operation: the old set
    return total


def test_a_power_cut_at_every_flash_operation_of_staging_and_switch():
    _cut_sweep(1)


def test_a_power_cut_at_every_flash_operation_of_a_trial_boot_and_its_rollback():
    """Counting a boot and rolling back are one pointer replace each: after a cut at any
    of their flash operations the pointer is the one before or the one after."""
    setup()
    stage(Server(NEW), release(NEW))
    boot()
    otaboot.failed(Board, ImportError("x"))
    boot()
    flashfs.unmount()
    copy(TMP + "/flash.img", TMP + "/pristine.img")
    dev = setup(fresh=False)
    before = otaboot.load(Board)
    ops0 = dev.progs + dev.erases
    boot()  # the third boot: rolled back
    after = otaboot.load(Board)
    total = dev.progs + dev.erases - ops0
    assert after["cur"] is None and before["cur"]["version"] == "1.1.0"
    flashfs.unmount()
    for n in range(total):
        copy(TMP + "/pristine.img", TMP + "/flash.img")
        setup(cut_after=n, fresh=False)
        try:
            boot()
            raise AssertionError("no cut at op %d of %d" % (n, total))
        except flashdev.PowerCut:
            pass
        flashfs.unmount()
        setup(fresh=False)
        assert otaboot.load(Board) in (before, after), n
        flashfs.unmount()


def long_sweep():
    """make fuzz-power (tests/powercut/update_run.py): a release of 24 files, some
    several blocks long, cut at every flash operation of its staging and switch."""
    files = {"lib/m%02d.mpy" % i: bytes([65 + i]) * (300 + 997 * (i % 7)) for i in range(20)}
    files.update(NEW)
    print("CUTS %d" % _cut_sweep(1, files))
