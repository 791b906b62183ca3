"""The node's own modules on CPython: importing this puts lib/ (and the ESP32 board
catalogue, boards/esp32/boardmodels.py, which tools/build.py puts in a board's lib/) on
sys.path.

Host tools run the device's code rather than restate it (the validator, the board models,
the driver registry): `from tools import devicelib` comes first, then `import config`.
It is the only way tools/ reaches device modules (tests/test_architecture.py checks).
"""

import sys
import types
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
LIB = str(_ROOT / "lib")
for _path in (str(_ROOT / "boards" / "esp32"), LIB):
    if _path not in sys.path:
        sys.path.insert(0, _path)
# micropython.const() as CPython sees it: the value itself (lib/record.py, lib/clock.py)
sys.modules.setdefault("micropython", types.SimpleNamespace(const=lambda x: x))
