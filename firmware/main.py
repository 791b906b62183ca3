# Runs after boot.py: the node's cycle under a crash guard, or safe mode.
import board
import safemode

if safemode.reasons:
    safemode.announce(board)
    board.repl()
else:
    try:
        import node

        node.run(board, safemode.take)
    except Exception as e:  # noqa: BLE001 - the guard must catch everything
        import crash
        import sys

        if "otaboot" in sys.modules:  # a node that updated: the crash may end a trial
            sys.modules["otaboot"].failed(board, e)
        crash.handle(board, e)
