"""Field updates' resident half (docs/updates.md): the pointer ota/boot.json, which
names the running code set and its trial, and what a wake does with it (count a
finished wake, keep a crash's reason, confirm a set, report the figures). otastart.py
does the boot's part.

Never updated itself: it must still work when a release is broken. The pointer is
replaced whole (tmp then rename), so a power cut leaves the old choice or the new one.
"""

import json
import os

state = {}  # the pointer: {"cur": set, "prev": set, "trial": [boots, wakes, uploads, most], ...}
booted = None  # (version, on trial) this boot runs, None with no pointer: `state` may change


def root(board, make=False):
    """The update area's folder (`make`: created when missing)."""
    path = board.FLASH + "/ota"
    if make:
        try:
            os.mkdir(path)
        except OSError:  # there already
            pass
    return path


def version():
    """The running set's version; "0.0.0" for the set `make deploy` wrote."""
    return (state.get("cur") or {}).get("version") or "0.0.0"


def load(board):
    try:
        with open(root(board) + "/boot.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save(board, st):
    path = root(board, True) + "/boot.json"
    with open(path + ".tmp", "w") as f:
        json.dump(st, f)
    os.rename(path + ".tmp", path)


def _on_trial():
    """This boot runs a set on trial (`state` may already hold the next one's)."""
    return booted and booted[1] and state.get("trial")


def woke(board):
    """The end of a wake: count it on a trial."""
    if _on_trial():
        state["trial"][1] += 1
        save(board, state)


def failed(board, exc):
    """The crash guard caught `exc`: keep it as the reason if this trial is rolled back."""
    if _on_trial():
        state["error"] = "%s: %s" % (type(exc).__name__, exc)
        try:
            save(board, state)
        except OSError:  # the crash guard must go on to sleep
            pass


def confirm(board):
    """An upload was stored with this set: the trial ends. True when one did."""
    if not _on_trial():
        return False
    state["trial"] = None
    state.pop("error", None)
    state["code"] = 1  # updater.CONFIRMED
    state["last"] = "confirmed %s: an upload was stored with it" % version()
    save(board, state)
    import log

    log.info("update: " + state["last"])
    return True


def figures(fig, parts):
    """The running version (1.4.0 is 1004000), the last result (updater's codes) and the
    rollbacks as figures, and the version in the cycle line; nothing on a node that never
    updated. A set on trial counts its upload wakes here (the limit counts those, so a
    node that samples every minute and uploads every hour is not rolled back untried)."""
    if not booted:
        return
    if "http_status" in fig and _on_trial():  # an upload wake: woke() keeps the count
        state["trial"][2] += 1
    v, trial = booted
    x, y, z = (int(n) for n in v.split("."))
    fig.update(version=x * 1000000 + y * 1000 + z, rollbacks=state.get("rollbacks", 0),
               update=state.get("code", 0))
    parts.append("version %s%s" % (v, " on trial" if trial else ""))
