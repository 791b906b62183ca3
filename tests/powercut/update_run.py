"""Host side (CPython): `make fuzz-power`'s field-update part, the long sweep: a
24-file release cut at every flash operation of its staging and switch
(tests/device/test_update.py long_sweep; make test runs the short one).

    python -m tests.powercut.update_run
"""

import sys
import time
from pathlib import Path

from tools import build
from tools.dev import unixport as mpy

DEVICE = Path(__file__).resolve().parent.parent / "device"


def main():
    t = time.monotonic()
    with __import__("tempfile").TemporaryDirectory() as tmp:
        res = mpy.run([str(DEVICE / "runner.py"), "test_update", "long_sweep"], cwd=tmp,
                      # 1 MiB: the test holds the release in RAM to compare; staging does not
                      extra_path=[build.build_tests(DEVICE)], heap="1M",
                      env={"TEST_TMP": tmp}, timeout=3600)
    ok = res.returncode == 0 and "@@PASS" in res.stdout
    cuts = [line.split()[1] for line in res.stdout.splitlines() if line.startswith("CUTS ")]
    print("field update, staging and switch: a cut at each of %s flash operations: %s (%.0f s)"
          % (cuts[0] if cuts else "?", "ok" if ok else "FAILED", time.monotonic() - t))
    if not ok:
        print(res.stdout[-3000:] + res.stderr[-2000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
