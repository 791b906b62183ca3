"""The crash guard's other half: record a crash, then retry after a pause.

The traceback goes to the flash log and the RTC crash counter grows; at
safemode.CRASH_LOOP consecutive crashes the next boot stops in safe mode instead
of retrying forever. Whatever happens here, the board goes to sleep: a node stuck
awake would drain its battery.
"""

import io
import sys

_PAUSE_S = 10


def handle(board, exc):
    pause = _PAUSE_S
    try:
        import gc

        gc.collect()  # the crash may well be a MemoryError
        sys.print_exception(exc)
        import log
        import rtcstate

        st = rtcstate.RtcState.load(board)
        st.crashes += 1
        pause <<= min(st.crashes, 6)
        st.save(board)
        buf = io.StringIO()
        sys.print_exception(exc, buf)
        log.setup(board.now, board.DATA_DIR + "/log.txt")
        log.error("crash %d, retry in %d s: %s"
                  % (st.crashes, pause, buf.getvalue().strip().replace("\n", " | ")))
        board.report({"crashes": st.crashes, "sleep": pause})
    except Exception as e:
        print("crash guard: could not record the crash: %r" % e)
    finally:
        board.deepsleep(pause * 1000)
