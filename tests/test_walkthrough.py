"""The README's path for a newcomer, on the virtual board: deploy, `make config` answered
on stdin, `make check-config`, `make config UPLOAD=... PORT=...`, the node's first upload
to a local Sensocan mock, then `make logs`; and the mip install from the clone.

Each step runs the tool as its make target does (`python -m tools.X`), talking to the
board through the real mpremote; the whole path is one test, since each step needs the
board the last one left.
"""

import hashlib
import json
import re
import subprocess
import sys
import time

from tests import nodekit
from tools import session
from tools.dev import vboard

ROOT = nodekit.ROOT


def tool(module, *args, stdin=None, expect=0):
    res = subprocess.run([sys.executable, "-m", "tools." + module, *map(str, args)], cwd=ROOT,
                         input=stdin or "", capture_output=True, text=True, timeout=60)
    out = res.stdout + res.stderr
    assert res.returncode == expect and "Traceback" not in out, out
    assert nodekit.TOKEN not in out
    return out


def test_a_newcomers_path_from_deploy_to_the_first_readings(tmp_path):
    kit = nodekit.Kit(tmp_path / "kit")  # the mock over HTTPS, its CA in kit/certs
    board = vboard.VirtualBoard(tmp_path / "board", speed=1000).start()
    port = board.port
    try:
        out = tool("deploy", "--port", port)
        assert re.search(r"deployed: \d+ copied", out), out
        assert board.wait_for("cannot read /flash/config.json", 20)  # safe mode, as told

        config = tmp_path / "node" / "config.json"  # the CA comes from another folder
        answers = ["unix", kit.url, str(kit.paths["ca_der"]), nodekit.DEVICE, nodekit.TOKEN,
                   "",  # battery: the emulated one
                   "temp_01:wave:amplitude=5:offset=20", "soil:adc:34:scale=10.0", "",
                   ""]  # safe-mode pin: 0, the default
        out = tool("provision", "--out", config, stdin="".join(a + "\n" for a in answers))
        assert "wrote %s and ca.der: unix board, 2 sensors" % config in out

        assert "%s: OK (unix board, 2 sensors" % config in tool("check_config", config)

        mark = board.mark()
        out = tool("provision", "--upload", config, "--port", port)
        assert "copied to %s: config.json and ca.der" % port in out
        deadline = time.monotonic() + 30
        while len(kit.readings()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {r["sensor_slug"] for r in kit.readings()} >= {"temp_01", "soil"}, \
            board.output[mark:].decode("latin-1")
        assert board.wait_for("upload: sent", 10, mark)

        # the node sleeps between wakes: its safe-mode pin, held at a reset, reaches it
        board.set_world(safe_mode_pin=True)
        mark = board.mark()
        board.reset()
        assert board.wait_for("safe-mode pin 0 held at boot", 20, mark)
        out = tool("monitor", "logs", "--port", port)
        assert "files: config.json" in out and "dead letters kept: 0" in out, out
        used, size = map(int, re.search(r"flash: (\d+) of (\d+) KiB used", out).groups())
        assert size == 2048 and 0 < used < size, out
    finally:
        board.stop()
        kit.stop()


def test_mip_installs_the_package_from_the_clone(tmp_path):
    """`mpremote mip install ./package.json`, run at the repository's root, as the README
    says: lib/ goes to the board's /lib, the rest to its root."""
    board = vboard.VirtualBoard(tmp_path / "board", speed=1000).start()
    try:
        assert board.wait_for(">>> ", 20)  # a blank flash: straight to the REPL

        def mpremote(*args):
            res = subprocess.run([session.mpremote_exe(), "connect", board.port, "resume", *args],
                                 cwd=ROOT, capture_output=True, text=True, timeout=50)
            assert res.returncode == 0, res.stdout + res.stderr
            return res.stdout

        assert "Done" in mpremote("mip", "install", "./package.json")
        urls = json.loads((ROOT / "package.json").read_text())["urls"]
        where = {dest[3:] if dest.startswith("../") else "lib/" + dest: src for dest, src in urls}
        out = mpremote("sha256sum", *(":" + p for p in where)).split()
        on_board = dict(zip((p[1:] for p in out[1::3]), out[2::3], strict=True))
        assert on_board == {p: hashlib.sha256((ROOT / src).read_bytes()).hexdigest()
                            for p, src in where.items()}
    finally:
        board.stop()
