# Field updates at boot (docs/updates.md): which code set runs. A node that never
# updated has no pointer (ota/boot.json) and goes straight to safe mode's check; one
# that has goes through otatrial.py. Module-level code, run by boot.py's import: the
# fewest names (qstrs stay for good) before the validator, which may run at this boot.
import os

import board

try:
    os.stat(board.FLASH + "/ota/boot.json")
except OSError:
    import safemode

    safemode.check(board)
else:
    __import__("otatrial").start(board)
