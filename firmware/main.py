# Runs after boot.py: the node's cycle under a crash guard, or safe mode.
import sys

import board
import safemode

if safemode.reasons:
    safemode.announce()
    board.repl()
else:
    config = safemode.config
    # its work is done: 2 KiB more for the node (make bench's memory audit, 3 sensors)
    del safemode, sys.modules["safemode"]
    try:
        import node

        node.run(board, config)
    except Exception as e:  # noqa: BLE001 - the guard must catch everything
        import crash

        crash.handle(board, e)
