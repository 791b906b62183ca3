"""The node's own modules on CPython: importing this puts lib/ on sys.path.

Host tools run the device's code rather than restate it (the validator, the board models,
the driver registry): `from tools import devicelib` comes first, then `import config`.
It is the only way tools/ reaches device modules (tests/test_architecture.py checks).
"""

import sys
from pathlib import Path

LIB = str(Path(__file__).resolve().parent.parent / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)
