"""Field updates at boot (docs/updates.md): which code set runs. A node that never
updated has no pointer (ota/boot.json): it goes straight to safe mode's check, having
loaded no more than this module, which it unloads (the validator may run at this boot
and needs the RAM); one that has goes through otatrial.py.

Part of the boot part: never updated, so it works whatever a release holds.
"""

import os
import sys


def start(board):
    """Choose the set, then run safemode.check(board) with it."""
    try:
        os.stat(board.FLASH + "/ota/boot.json")
    except OSError:
        import safemode

        safemode.check(board)
    else:
        __import__("otatrial").start(board)
    sys.modules.pop("otastart")  # boot.py binds no name to it: its RAM goes back
