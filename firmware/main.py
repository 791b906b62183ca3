# Runs after boot.py: the node's cycle under a crash guard, or safe mode.
import sys

import board
import safemode

if safemode.reasons:
    safemode.announce()
    board.repl()
elif safemode.fresh:
    board.soft_reset()  # start over with a clean heap and the cached config
else:
    config = safemode.config
    del safemode, sys.modules["safemode"]  # its work is done; the heap is small
    try:
        import node

        node.run(board, config)
    except Exception as e:  # noqa: BLE001 - the guard must catch everything
        import crash

        crash.handle(board, e)
