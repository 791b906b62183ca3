"""From laptop to board: flash, provision, deploy and monitor, end to end on a virtual board.

The virtual board (tools/dev/vboard.py) is the unix port on a pty, its flash a littlefs
image; every tool here talks to it through the real mpremote, as to an ESP32 on USB.
One test carries the whole story, since each step needs the board the last one left
(the test runner may spread separate tests over workers); the rest are host-only.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import nodekit
from tools import build, certs, deploy, flash, session, spool_dump
from tools.dev import unixport, vboard

ROOT = Path(__file__).resolve().parent.parent


def tool(name, *args, expect=0):
    """Run `python -m tools.<name> ARGS`; returns stdout + stderr, checking the status."""
    res = subprocess.run([sys.executable, "-m", "tools." + name, *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    assert res.returncode == expect, out
    assert "Traceback" not in out, out
    return out


def mpremote(port, *args):
    """stdout of an mpremote command on the board. The tools reset the board when done,
    so the node may be between a cycle and its (accelerated) sleep: try a few times."""
    cmd = [session.mpremote_exe(), "connect", port, "resume", *args]
    for attempt in range(8):
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if res.returncode == 0:
            return res.stdout
        time.sleep(0.5)
    raise AssertionError("mpremote %s failed: %s" % (" ".join(args), res.stderr))


def device_hashes(port, paths):
    """SHA-256 of files on the board, computed there by mpremote's own sha256sum."""
    out = mpremote(port, "sha256sum", *(":" + p for p in paths)).split()
    return dict(zip((p[1:] for p in out[1::3]), out[2::3], strict=True))


def listdir(port, path):
    return mpremote(port, "exec", "import os; print(os.listdir(%r))" % path)


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_deploy_provision_monitor_on_a_virtual_board(tmp_path):
    kit = nodekit.Kit(tmp_path / "kit")  # the Sensocan mock over HTTPS, private CA
    board = vboard.VirtualBoard(tmp_path / "board", speed=1000).start()  # the node's heap
    port = board.port
    try:
        keep = tmp_path / "keep.bin"  # a node file in data/, which no deploy may touch
        keep.write_bytes(b"\x00spool\xff" * 100)
        subprocess.run([session.mpremote_exe(), "connect", port, "resume", "mkdir", ":data",
                        "+", "cp", str(keep), ":data/keep.bin"], check=True, timeout=30)

        # a blank board gets every file of the build, hashed the same on the board as here
        out = tool("deploy", "--port", port)
        tree = tmp_path / "tree"  # what that deploy built (no rebuild: sources may change)
        shutil.copytree(build.OUT / "unix", tree)
        local = deploy.local_tree(tree)
        assert "deployed: %d copied, 0 removed" % len(local) in out
        assert device_hashes(port, list(local)) == local

        # a field update's pointer would keep the node on its slot: a deploy removes it
        pointer = tmp_path / "boot.json"
        pointer.write_text('{"cur": {"set": "a", "version": "1.0.0"}}')
        subprocess.run([session.mpremote_exe(), "connect", port, "resume", "mkdir", ":ota",
                        "+", "cp", str(pointer), ":ota/boot.json"], check=True, timeout=30)
        assert "boot.json" in listdir(port, "ota")
        out = tool("deploy", "--port", port, "--tree", tree, "--no-reset")
        assert "remove  ota/boot.json" in out and "deployed: 0 copied, 1 removed" in out, out
        assert "'ota'" not in listdir(port, ".")  # the pointer gone, and its empty folder

        # deployed again: nothing to do; one file changed, one added: only those
        mark = board.mark()
        assert "up to date" in tool("deploy", "--port", port, "--tree", tree)
        with open(tree / "main.py", "a") as f:
            f.write("# changed\n")
        (tree / "lib" / "extra").mkdir()
        (tree / "lib" / "extra" / "x.txt").write_text("new\n")
        out = tool("deploy", "--port", port, "--tree", tree)
        assert re.findall(r"copy +(\S+)", out) == ["lib/extra/x.txt", "main.py"], out
        assert "deployed: 2 copied, 0 removed" in out

        # a file gone from the build is removed from the board, its empty folder too; a dry
        # run only says so: it copies nothing and does not reset the board either
        shutil.rmtree(tree / "lib" / "extra")
        for _ in range(2):  # each deploy reset the board (the second may cut the first short)
            assert board.wait_for("power_on reset", 20, mark)
            mark = board.output.index(b"power_on reset", mark) + 1
        assert board.wait_for("The REPL is available", 20, mark)  # no config: safe mode
        mark = board.mark()
        out = tool("deploy", "--port", port, "--tree", tree, "--dry-run")
        assert "remove  lib/extra/x.txt" in out and "nothing copied" in out
        assert "board left at its REPL (dry run)" in out
        assert b"reset, flash mounted" not in board.output[mark:], board.output[mark:]
        assert "deployed: 0 copied, 1 removed" in tool("deploy", "--port", port, "--tree", tree)
        assert "extra" not in listdir(port, "lib")
        assert device_hashes(port, ["main.py", "data/keep.bin"]) == {
            "main.py": sha(tree / "main.py"), "data/keep.bin": sha(keep)}

        # provisioning writes a valid config, never shows the token, copies it and the CA,
        # and resets the board: the node starts, here with its link down, so its readings
        # wait in the spool
        board.set_world(link="down")
        mark = board.mark()
        config = tmp_path / "config.json"
        out = tool("provision", "--out", config, "--port", port, "--board", "unix",
                   "--base-url", kit.url, "--token", nodekit.TOKEN,
                   "--device-uuid", nodekit.DEVICE, "--ca-cert", kit.paths["ca_der"],
                   "--sensor", "temp_01:wave:shape=saw:period_s=600:amplitude=5:offset=20",
                   "--sensor", "humidity:wave", "--sensor", "soil:adc:34:scale=10.0",
                   "--battery", "sim", "--upload-interval", 180, "--safe-mode-pin", 0)
        assert nodekit.TOKEN not in out and "3 sensors" in out
        assert board.wait_for("link down", 20, mark), board.output[mark:].decode("latin-1")

        # the safe-mode pin held at a wake leaves the REPL up, and `logs` shows the backlog
        board.set_world(safe_mode_pin=True)
        assert board.wait_for("SAFE MODE", 20, mark)
        assert device_hashes(port, ["config.json", "ca.der"]) == {
            "config.json": sha(config), "ca.der": sha(kit.paths["ca_der"])}
        out = tool("monitor", "logs", "--port", port)
        backlog = re.search(r"waiting: (\d+) readings", out)
        assert backlog and int(backlog.group(1)) >= 3, out
        assert "dead letters kept: 0" in out and "files: config.json" in out, out
        waiting = int(backlog.group(1))

        # a monitor holds the port: a deploy is refused; the monitor shows the console
        watch = subprocess.Popen([sys.executable, "-m", "tools.monitor", "watch", "--port",
                                  port, "--seconds", "4"], cwd=ROOT, stdout=subprocess.PIPE,
                                 text=True)
        assert "listening" in watch.stdout.readline()
        assert "is busy" in tool("deploy", "--port", port, expect=1)
        board.reset()
        assert "SAFE MODE" in watch.communicate(timeout=20)[0]

        # a node in deep sleep does not answer: the error says what to do
        board.speed = 0.02  # a sleep lasts 50 times longer: even 1 s is 50 s
        board.set_world(safe_mode_pin=False)
        mark = board.mark()
        board.reset()
        assert board.wait_for("[vboard] deep sleep", 20, mark)
        out = tool("deploy", "--port", port, "--wait", 1, expect=1)
        assert "deep sleep" in out and "safe-mode pin" in out and len(out.splitlines()) == 1
        board.set_world(safe_mode_pin=True)  # held while pressing reset
        board.reset()
        assert "up to date" in tool("deploy", "--port", port, "--tree", tree, "--wait", 5)

        # and with the link up, the backlog reaches the server
        board.speed = 1000
        board.set_world(link="up", safe_mode_pin=False)
        board.reset()
        deadline = time.monotonic() + 20
        while len(kit.readings()) < waiting and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(kit.readings()) >= waiting, board.output[-3000:].decode("latin-1")

        # after all that, the node's own file is as it was (read from the flash image)
        board.stop()
        data = spool_dump.extract(board.state / "flash.img", tmp_path / "image")
        assert sha(data / "keep.bin") == sha(keep)
    finally:
        board.stop()
        kit.stop()


def test_deploy_without_a_board_is_one_clear_line(tmp_path):
    out = tool("deploy", "--port", tmp_path / "ttyUSB9", expect=1)
    assert out.startswith("deploy: no board on ") and len(out.splitlines()) == 1


def test_deploy_refuses_a_board_that_cannot_run_the_firmware():
    good = {"name": "micropython", "version": [1, 28, 0], "mpy": 0xA06, "platform": "esp32",
            "fs": [2097152, 1048576]}
    assert deploy.check_micropython("P", good) == "esp32"
    for change, problem in (({"version": [1, 22, 2]}, "1.22.2, too old: flash v1.24"),
                            ({"name": "circuitpython"}, "runs circuitpython, not MicroPython"),
                            ({"mpy": 0x105}, "loads .mpy version 5"),
                            ({"platform": "rp2"}, "is rp2; the firmware runs on esp32, linux"),
                            ({"fs": None}, "no filesystem mounted")):
        with pytest.raises(deploy.DeviceError, match=re.escape(problem)):
            deploy.check_micropython("P", {**good, **change})
    with pytest.raises(deploy.DeviceError, match="is esp32, not unix"):
        deploy.check_micropython("P", good, "unix")


def test_flash_commands_use_each_chips_offset(tmp_path):
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xe9\x03\x02\x20" + bytes(8) + b"\x09\x00" + bytes(1000))  # an S3 image
    assert flash.image_chip(image) == "esp32s3"
    for chip, offset in (("esp32", "0x1000"), ("esp32s2", "0x1000"), ("esp32s3", "0x0"),
                         ("esp32c3", "0x0"), ("esp32c6", "0x0")):
        erase, write = flash.commands("/dev/ttyUSB0", chip, image)
        assert erase[1:] == ["--chip", chip, "--port", "/dev/ttyUSB0", "erase-flash"]
        assert write[1:] == ["--chip", chip, "--port", "/dev/ttyUSB0", "--baud", "460800",
                             "write-flash", offset, str(image)]
    out = tool("flash", "--port", "/dev/ttyUSB0", "--firmware", image, "--chip", "esp32s3",
               "--dry-run")
    assert out.splitlines()[1].endswith("write-flash 0x0 %s" % image)
    out = tool("flash", "--port", "/dev/ttyUSB0", "--firmware", image, "--chip", "esp32",
               "--dry-run", expect=1)
    assert "built for esp32s3 but the board is an esp32; nothing was erased" in out


def test_provision_refuses_an_invalid_config_without_echoing_the_token(tmp_path):
    ca = certs.make_ca(tmp_path / "certs")["ca_der"]
    flags = ["--out", tmp_path / "c.json", "--board", "esp32", "--device-uuid", nodekit.DEVICE,
             "--wifi-ssid", "net", "--ca-cert", ca]
    out = tool("provision", *flags, "--token", "secret value", "--sensor", "soil:adc:34",
               expect=2)
    assert "api.token: must not contain spaces" in out and "secret value" not in out
    out = tool("provision", *flags, "--token", "tok", "--sensor", "soil:adc:4", expect=2)
    assert "sensors[0].pin: GPIO 4" in out and not (tmp_path / "c.json").exists()
    out = tool("provision", "--out", tmp_path / "c.json", expect=2)  # no answers on stdin
    assert 'no answer to "Board' in out and not (tmp_path / "c.json").exists()


def test_package_json_installs_every_device_file():
    """mip puts lib/ in /lib and the rest at the root ("../", relative to /lib)."""
    urls = dict(json.loads((ROOT / "package.json").read_text())["urls"])
    assert urls["config.py"] == "lib/config.py" and urls["../main.py"] == "firmware/main.py"
    assert (ROOT / "package.json").read_text() == deploy.mip_package(), (
        "package.json is stale: python -c 'from tools import deploy; "
        "open(\"package.json\", \"w\").write(deploy.mip_package())'")


_BOOT_DRIVER = """
import os, vfs
src = open(%(boot)r).read()
import flashbdev  # the test double: the image opened before / goes away
vfs.umount("/")
g = {}
exec(src, g)
try:
    os.statvfs(".")
    print("MOUNTED", os.listdir("/"))
except OSError:
    print("NOT MOUNTED")
if %(erase)r:
    g["erase_filesystem"]()
    print("MOUNTED", os.listdir("/"))
"""


def test_frozen_boot_keeps_the_repl_on_a_corrupt_filesystem(tmp_path):
    (tmp_path / "flashbdev.py").write_text(
        "import flashdev\nbdev = flashdev.FlashImage(%r)\n" % str(tmp_path / "flash.img"))
    boot = ROOT / "boards" / "esp32" / "frozen" / "_boot.py"

    def start(erase=False):
        res = unixport.run_code(_BOOT_DRIVER % {"boot": str(boot), "erase": erase},
                                extra_path=[tmp_path], timeout=20)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    (tmp_path / "flash.img").write_bytes(b"\xff" * 512 * 4096)
    assert "first boot" in start() and "MOUNTED []" in start()
    (tmp_path / "flash.img").write_bytes(b"\x5a" * 512 * 4096)
    out = start()
    assert "it is corrupt" in out and "erase_filesystem()" in out and "NOT MOUNTED" in out
    assert (tmp_path / "flash.img").read_bytes()[:4] == b"\x5a" * 4  # nothing erased
    assert start(erase=True).endswith("MOUNTED []\n") and "MOUNTED []" in start()
    # block 0 erased, block 1 not: a superblock pair cut short, not a blank flash
    (tmp_path / "flash.img").write_bytes(b"\xff" * 4096 + b"\x5a" * 4096 + b"\xff" * 510 * 4096)
    assert "it is corrupt" in start()
    assert (tmp_path / "flash.img").read_bytes()[4096:4100] == b"\x5a" * 4


def test_provision_sets_the_board_model_and_checks_a_hand_edited_config(tmp_path):
    ca = certs.make_ca(tmp_path / "certs")["ca_der"]
    config = tmp_path / "c.json"
    tool("provision", "--out", config, "--board", "esp32", "--board-model", "lolin_d32",
         "--token", "tok-123", "--device-uuid", nodekit.DEVICE, "--wifi-ssid", "net",
         "--ca-cert", ca, "--sensor", "soil:adc:34", "--safe-mode-pin", 13)
    cfg = json.loads(config.read_text())
    assert cfg["board_model"] == "lolin_d32" and cfg["safe_mode_pin"] == 13
    out = tool("provision", "--upload", config, expect=2)
    assert "OK (esp32 board, 1 sensor;" in out and "--upload needs --port" in out
    cfg["sample_interval_s"] = 0  # edited by hand, wrongly
    config.write_text(json.dumps(cfg))
    out = tool("provision", "--upload", config, "--port", "/dev/null", expect=2)
    assert "sample_interval_s: must be between 1 and 86400 seconds" in out and "tok-123" not in out
