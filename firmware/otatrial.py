"""Field updates at boot on a node that has a pointer (otastart.py imports it then):
choose the code set, switch to a release staged with a settings patch, count a trial's
boot, roll a failed trial back, then run safe mode's check with the set.

Never updated itself, and it imports nothing from a code set before choosing one: it
must still work when a release is broken. It unloads itself once the set runs.
"""

import sys

from micropython import const

import otaboot
from otaboot import save, version

_FAILED_BOOTS = const(2)  # one less than safemode.CRASH_LOOP: the rollback comes first
_REFUSED_KEPT = const(8)
_KEEP = ("board", "otaboot", "otastart", "otatrial")  # the boot part, loaded before the set
_path0 = None
_config0 = None  # config.json's own path (board.CONFIG_PATH may name a patched copy)


def start(board):
    """With a pointer: choose the set (rolling back a trial that failed), then run safe
    mode's check with it; a set that cannot get that far on trial is rolled back at once."""
    st = otaboot.state = otaboot.load(board)
    if "trial" in st or "staged" in st:
        try:
            promote(board)
            count_boot(board)
        except Exception as e:  # noqa: BLE001 - a pointer that cannot be written (full flash)
            print("update: the trial was not counted: %r" % e)  # must not keep the node down
    while True:
        _use(board, st.get("cur"))
        try:
            import safemode

            safemode.check(board)
            if not (st.get("trial") and safemode.reasons):
                break
            why = "safe mode: " + safemode.reasons[0]
        except Exception as e:  # noqa: BLE001 - a set that fails to boot is rolled back
            if not st.get("trial"):
                raise
            why = "failed to boot: %s: %s" % (type(e).__name__, e)
        rollback(board, why)
    otaboot.booted = (otaboot.version(), bool(st.get("trial"))) if st else None
    if "news" in st:
        news(board)
    sys.modules.pop("otatrial")  # no name is bound to it: its RAM goes back


def _use(board, cur):
    """Put the set `cur` (None: the deploy's own) first on sys.path; modules already
    loaded from another set are dropped."""
    global _path0, _config0
    if _path0 is None:
        _path0, _config0 = list(sys.path), board.CONFIG_PATH
    board.CONFIG_PATH = _config0
    sys.path[:] = _path0
    for name in list(sys.modules):
        if name not in _KEEP and hasattr(sys.modules[name], "__file__"):
            del sys.modules[name]
    if not cur:
        return
    if cur.get("set"):
        d = otaboot.root(board) + "/" + cur["set"]
        sys.path[:0] = [d, d + "/lib"]
    conf = cur.get("config")
    if conf and cur.get("base") == fingerprint(board.CONFIG_PATH):
        board.CONFIG_PATH = conf  # config.json is still the one the settings patch was made from


def fingerprint(path):
    """[size, CRC-32] of a file, None when it cannot be read."""
    import binascii

    buf = bytearray(256)
    crc = size = 0
    try:
        with open(path, "rb") as f:
            while n := f.readinto(buf):
                crc = binascii.crc32(memoryview(buf)[:n], crc)
                size += n
    except OSError:
        return None
    return [size, crc]


def promote(board):
    """Switch to a set staged with a settings patch once the patched config passes the
    validator (updater.py leaves that to a boot: the heap is whole here); a patch that
    fails refuses the release whole."""
    st = otaboot.state
    new = st.pop("staged", None)
    if not new:
        return
    _use(board, st.get("cur"))  # the running set's validator checks the patch
    try:
        import otapatch

        new["config"], why = otapatch.apply(board.CONFIG_PATH, new.pop("settings"), new["set"])
    except Exception as e:  # noqa: BLE001 - whatever it is, the release is not switched to
        why = "%s: %s" % (type(e).__name__, e)
    if why:
        _refuse(new["version"])
        st["code"] = 4  # updater.REFUSED
        st["last"] = st["news"] = "settings patch of %s refused: %s" % (new["version"], why)
    else:
        new["base"] = fingerprint(board.CONFIG_PATH)
        st["prev"], st["cur"], st["trial"] = st.get("cur"), new, [0, 0, 0, new.pop("most")]
    save(board, st)


def count_boot(board):
    """A boot on trial: roll back a set that crash-looped or was never confirmed, else
    count this boot."""
    st = otaboot.state
    trial = st.get("trial")
    if not trial:
        return
    boots, wakes, uploads, most = trial
    if boots - wakes >= _FAILED_BOOTS:
        rollback(board, "crash loop: %d boots did not finish a wake%s"
                  % (boots - wakes, (" (" + st["error"] + ")") if st.get("error") else ""))
    elif uploads >= most:
        rollback(board, "not confirmed: no upload stored in %d upload wakes" % uploads)
    else:
        trial[0] += 1
        save(board, st)


def _refuse(v):
    """Never try version `v` again (the last few kept)."""
    otaboot.state["refused"] = (otaboot.state.get("refused") or [])[1 - _REFUSED_KEPT :] + [v]


def rollback(board, why):
    st = otaboot.state
    v = version()
    _refuse(v)
    st["rollbacks"] = st.get("rollbacks", 0) + 1
    st["cur"], st["prev"], st["trial"] = st.get("prev"), None, None
    st.pop("error", None)
    st["code"] = 3  # updater.ROLLED_BACK
    st["last"] = st["news"] = "rolled back %s to %s: %s" % (v, version(), why)
    save(board, st)
    try:
        import rtcstate  # the crashes of the set left behind are not held against this one

        r = rtcstate.RtcState.load(board)
        r.crashes = 0
        r.save(board)
    except Exception:  # noqa: BLE001 - best effort: the rollback itself is done
        pass


def news(board):
    """Log what the boot did to the pointer (a rollback, a refused patch), once."""
    import log

    st = otaboot.state
    log.setup(board.now, board.DATA_DIR + "/log.txt")
    log.error("update: " + st.pop("news"))
    save(board, st)
