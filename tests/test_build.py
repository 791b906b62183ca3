"""The build step: what goes on a board, compiled by mpy-cross."""

import pytest

from tools import build

pytestmark = pytest.mark.host  # CPython only: make test-32bit leaves it out


def test_esp32_build_has_the_firmware_and_libraries_compiled(tmp_path):
    out = build.build("esp32", out=tmp_path / "esp32")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "boot.py" in files and "main.py" in files  # the ESP32 runs these by name
    assert "board.mpy" in files and "node.mpy" in files and "lib/spool.mpy" in files
    assert "lib/drivers/adc.mpy" in files
    assert not any(f.startswith(("flashdev", "simsensors", "reset")) for f in files)


def test_a_deleted_module_does_not_linger(tmp_path):
    out = build.build("unix", out=tmp_path / "unix")
    stale = out / "lib" / "gone.mpy"
    stale.write_bytes(b"M")
    build.build("unix", out=out)
    assert not stale.exists()
