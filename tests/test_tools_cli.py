"""The host tools' command lines: a wrong argument is one line and exit status 2, never a
traceback; the make targets pass their settings on and list themselves in `make help`;
what holds the token stays out of git."""

import re
import subprocess
import sys

import pytest

from tests.nodekit import ROOT

pytestmark = pytest.mark.host  # CPython only: make test-32bit leaves it out

UNIX_CONFIG = "boards/unix/config.json"


def run(*cmd, cwd=ROOT):
    res = subprocess.run(list(map(str, cmd)), cwd=cwd, capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    return res.returncode, res.stdout, res.stderr


@pytest.mark.parametrize("tool,args,problem", [
    ("spool_dump", ["--image", "nope.img"], "nope.img: no such file"),
    ("spool_dump", ["--dir", "/nonexist"], "/nonexist: no such folder"),
    ("spool_dump", ["--dir", "tools"], "tools has no spool/ folder"),
    ("spool_dump", [], "one of the arguments --image --dir is required"),
    ("dev.sim", ["--config", UNIX_CONFIG, "--state", "{tmp}", "--link-down", "abc"],
     "--link-down: expected cycles like 5-8,12, got 'abc'"),
    ("dev.sim", ["--config", UNIX_CONFIG, "--state", "{tmp}", "--link-down", "8-5"],
     "each range low to high"),
    ("dev.sim", ["--config", UNIX_CONFIG, "--state", "{tmp}", "--speed", "-1"],
     "--speed: expected a number of 0 or more, got -1"),
    ("dev.sim", ["--config", UNIX_CONFIG, "--state", "{tmp}", "--cycles", "-3"],
     "--cycles: expected a whole number of at least 1, got -3"),
    ("dev.sim", ["--config", "nope.json", "--state", "{tmp}"], "nope.json: no such file"),
    ("dev.sim", ["--config", UNIX_CONFIG, "--state", "{tmp}", "--heap", "lots"],
     "expected a heap size"),
    ("dev.vboard", ["--state", "{file}"], "plain.txt exists and is not a folder"),
    ("dev.vboard", ["--state", "{tmp}", "--speed", "-2"], "--speed: expected a number of 0 or more"),
    ("certs", ["{file}/certs"], "cannot create the folder"),
    ("certs", ["{tmp}", "--host", "a host"], "expected a host name"),
    ("provision", ["--sensor", "bad"], "'bad': expected SLUG:DRIVER[:PIN][:PARAM=VALUE...]"),
    ("provision", ["--device-uuid", "1234"], "api.device_uuid: expected a UUID"),
    ("provision", ["--safe-mode-pin", "99"], "expected a whole number from 0 to 48"),
    ("provision", ["--upload", "nope.json"], "nope.json: no such file"),
    ("provision", ["--out", "{file}/x.json"], "plain.txt is not a folder"),
    ("deploy", ["--port", "/dev/nope", "--tree", "/nonexistent"],
     "--tree: /nonexistent: no such folder"),
    ("deploy", ["--port", "/dev/nope", "--wait", "-1"], "--wait: expected a number above 0"),
    ("deploy", [], "the following arguments are required: --port"),
    ("monitor", ["logs", "--port", "/dev/nope", "--lines", "0"],
     "--lines: expected a whole number of at least 1"),
    ("monitor", ["watch", "--port", "/dev/nope", "--seconds", "-5"],
     "--seconds: expected a number above 0"),
    ("monitor", ["tail"], "invalid choice: 'tail'"),
    ("flash", ["--port", "/dev/nope", "--firmware", "nope.bin"], "nope.bin: no such file"),
    ("flash", ["--port", "/dev/nope", "--firmware", "README.md", "--baud", "fast"],
     "--baud: expected a whole number, got 'fast'"),
    ("battery_life", ["--config", "nope.json", "--capacity-mah", "2500"],
     "nope.json: no such file"),
    ("battery_life", ["--config", UNIX_CONFIG, "--capacity-mah", "-1"],
     "expected a number above 0"),
])
def test_a_wrong_argument_is_one_line_and_exit_status_2(tmp_path, tool, args, problem):
    (tmp_path / "plain.txt").write_text("a file, not a folder\n")
    args = [a.format(tmp=tmp_path / "state", file=tmp_path / "plain.txt") for a in args]
    status, out, err = run(sys.executable, "-m", "tools." + tool, *args)
    assert status == 2 and "Traceback" not in out + err, out + err
    assert out == "" and len(err.splitlines()) == 1 and problem in err, err
    assert "object at 0x" not in err and "deep sleep" not in err


def make_targets():
    """Every target a rule defines in the Makefile and mk/*.mk (file targets aside)."""
    names = []
    for mk in [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]:
        names += re.findall(r"^([a-zA-Z0-9_-]+):(?!=)", mk.read_text(), re.M)
    return names


def test_make_help_lists_every_target_with_one_line():
    status, out, _ = run("make", "--no-print-directory", "help")
    assert status == 0
    listed = dict(re.findall(r"^  make (\S+) +(\S.*)$", out, re.M))
    targets = make_targets()
    assert {"setup", "test", "sim", "bench", "fuzz-power", "check-config", "battery-life",
            "clean", "flash", "deploy", "config", "monitor", "logs", "help"} <= set(targets)
    assert sorted(listed) == sorted(targets), "a target without a `## ` comment"
    assert len(out.splitlines()) == len(targets)


def test_make_passes_baud_board_model_and_the_private_config_path_on():
    def commands(*args):  # make -n prints the commands without running them
        status, out, err = run("make", "-n", "--no-print-directory", *args)
        assert status == 0, err
        return out

    assert "--baud 115200" in commands("flash", "PORT=/dev/x", "FIRMWARE=f.bin", "BAUD=115200")
    assert "--baud" not in commands("flash", "PORT=/dev/x", "FIRMWARE=f.bin")
    assert "--board-model lolin_d32" in commands("battery-life", "CONFIG=" + UNIX_CONFIG,
                                                 "BOARD_MODEL=lolin_d32")
    assert "tools.provision --out private/config.json" in commands("config")


def test_battery_life_takes_a_board_model_for_a_unix_config():
    status, out, err = run(sys.executable, "-m", "tools.battery_life", "--config", UNIX_CONFIG,
                           "--capacity-mah", "2500", "--board-model", "lolin_d32")
    assert status == 0, err
    assert out.startswith("Battery life: %s on a lolin_d32 (deep sleep 130 uA)" % UNIX_CONFIG)


@pytest.mark.parametrize("path,ignored", [
    ("private/config.json", True), ("private/ca.der", True), ("config.json", True),
    ("data/config.cache", True), ("data/spool/state", True), ("node.cache", True),
    ("boards/unix/config.json", False), ("boards/unix/data/humidity.csv", False),
])
def test_git_ignores_what_holds_the_token(path, ignored):
    status, _, err = run("git", "check-ignore", "-q", "--no-index", path)
    assert status == (0 if ignored else 1), err


def test_the_readme_installs_with_mip_from_the_clone():
    readme = (ROOT / "README.md").read_text()
    assert "mip install ./package.json" in readme and "OWNER/REPO" not in readme
