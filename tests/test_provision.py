"""`make config` (tools.provision) from a newcomer's seat: answers fed on stdin, one a line.

What it writes must pass the node's validator as `make check-config` and `make config
UPLOAD=...` run it, with the CA given from another folder; each wrong answer is asked
again without losing the others; the end of input leaves nothing behind.
"""

import json
import stat
import subprocess
import sys

import pytest

from tests import nodekit
from tools import certs

pytestmark = pytest.mark.host  # CPython only: make test-32bit leaves it out

ROOT = nodekit.ROOT


def run(module, *args, stdin=""):
    res = subprocess.run([sys.executable, "-m", "tools." + module, *map(str, args)], cwd=ROOT,
                         input=stdin, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res


def answers(*lines):
    return "".join(line + "\n" for line in lines)


# A LOLIN D32 battery node; each wrong answer (marked) is followed by the right one.
LOLIN = (
    "esp33", "esp32",                    # not a board
    "lolin_d32",
    "",                                  # the server: the real one, the default
    "{leaf}", "{ca}",                    # the server's own certificate is not its root CA
    "not-a-uuid", nodekit.DEVICE,
    "my token", nodekit.TOKEN,           # tokens have no spaces
    "my-network",
    "short", "long enough",              # WPA2: 8 characters at least
    "", "", "",                          # battery: the board's own divider (adc, 35, 2.0)
    "air_temp:bme280:quantity=temperature",
    "soil:analog:25",                    # ADC2: unusable with Wi-Fi on
    "soil:analog:34:samples=16",
    "",
    "0", "35", "13",                     # a strapping pin; an input without pull-up
)


def make_config(tmp_path, lines):
    paths = certs.make_ca(tmp_path / "certs")
    stdin = answers(*lines).format(ca=paths["ca_der"], leaf=paths["cert"])
    config = tmp_path / "node" / "config.json"
    return run("provision", "--out", config, stdin=stdin), config, paths


def test_make_config_output_passes_check_config_and_upload_with_the_ca_elsewhere(tmp_path):
    res, config, paths = make_config(tmp_path, LOLIN)
    assert res.returncode == 0, res.stdout + res.stderr
    cfg = json.loads(config.read_text())
    assert cfg["api"]["ca_cert"] == "ca.der"
    assert (config.parent / "ca.der").read_bytes() == paths["ca_der"].read_bytes()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    check = run("check_config", config)
    assert check.returncode == 0 and "OK (esp32 board, 2 sensors" in check.stdout, check.stdout
    # make config UPLOAD=... checks it the same way before it needs the board
    upload = run("provision", "--upload", config)
    assert "%s: OK (esp32 board, 2 sensors" % config in upload.stdout, upload.stdout
    assert upload.returncode == 2 and "--upload needs --port" in upload.stderr


def test_make_config_asks_what_the_board_needs_and_again_when_wrong(tmp_path):
    res, config, _ = make_config(tmp_path, LOLIN)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    for problem in ("expected one of esp32, unix, got 'esp33'",
                    "is issued by CN=sensocan-node test CA: give that root CA",
                    "api.device_uuid: expected a UUID", "api.token: must not contain spaces",
                    "a WPA2 password has 8 to 63 characters",
                    "sensors[1].pin: GPIO 25 is on ADC2",
                    "GPIO 0 is a strapping pin", "GPIO 35 has no internal pull-up"):
        assert problem in out, (problem, out)
    assert "Safe-mode pin (the lolin_d32 has no BOOT button" in out
    assert nodekit.TOKEN not in out + res.stderr and "long enough" not in out
    cfg = json.loads(config.read_text())
    assert cfg["board"] == "esp32" and cfg["board_model"] == "lolin_d32"
    assert cfg["safe_mode_pin"] == 13
    assert cfg["api"] == {"base_url": "https://api.sensocan.com/api/v1", "token": nodekit.TOKEN,
                          "device_uuid": nodekit.DEVICE, "ca_cert": "ca.der"}
    assert cfg["wifi"] == {"ssid": "my-network", "password": "long enough"}
    assert cfg["battery"] == {"source": "adc", "pin": 35, "ratio": 2.0}
    assert [s["slug"] for s in cfg["sensors"]] == ["air_temp", "soil"]


def test_make_config_asks_the_server_and_a_safe_mode_pin_on_the_virtual_board(tmp_path):
    res, config, _ = make_config(tmp_path, (
        "unix", "https://localhost:8443/api/v1", "{ca}", nodekit.DEVICE, nodekit.TOKEN,
        "",                                  # battery: the emulated one (sim)
        "temp:wave", "", "",                 # safe-mode pin: the default, 0
    ))
    assert res.returncode == 0, res.stdout + res.stderr
    cfg = json.loads(config.read_text())
    assert cfg["api"]["base_url"] == "https://localhost:8443/api/v1"
    assert cfg["safe_mode_pin"] == 0 and cfg["battery"] == {"source": "sim"}
    assert "wifi" not in cfg and "Wi-Fi" not in res.stdout


def test_end_of_input_at_a_question_writes_nothing(tmp_path):
    res, config, _ = make_config(tmp_path, LOLIN[:8])  # stops at the token question
    assert res.returncode == 2
    assert res.stderr == ('provision: no answer to "Device access token (dashboard > Device > '
                          'Credentials; not shown)" (end of input): nothing written\n')
    assert not config.parent.exists()


def test_make_config_refuses_to_replace_a_config_before_asking(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{}")
    res = run("provision", "--out", config, stdin=answers("esp32"))
    assert res.returncode == 2 and "exists (--force replaces it" in res.stderr
    assert res.stdout == "" and config.read_text() == "{}"
