"""Decide at boot whether the node may run.

A bad config, the safe-mode pin held, or a crash loop keeps the cycle from
starting, so the REPL stays reachable and the problem can be fixed on the spot.

The validator is the biggest module on the board, so its verdict is cached on
flash, keyed by the config file's checksum: an unchanged config loads the
normalised dict from the cache and never imports the validator. After a fresh
validation main.py restarts the interpreter once (`fresh`), so the node never runs
in a heap the validator has fragmented.
"""

import json
import os

import rtcstate

CRASH_LOOP = 3
_SCHEMA = 4  # bump when the normalised config changes shape

reasons = None  # list of lines when the node must not run
config = None
fresh = False  # validated (and cached) during this boot


def check(board):
    """Fill `reasons` and `config`; never raises."""
    global reasons, config, fresh
    found = []
    try:
        os.mkdir(board.DATA_DIR)  # first boot on a fresh flash
    except OSError:
        pass
    key = _key(board.CONFIG_PATH)
    cache = board.DATA_DIR + "/config.cache"
    config = _cached(cache, key)
    if config is None:
        config = _validate(board, found)
        if config is not None:
            fresh = _store(cache, key, config)
    if config is not None:
        if config["board"] != board.NAME:
            found.append('board: config is for "%s" but this is the %s board'
                         % (config["board"], board.NAME))
        elif _held(board, config["safe_mode_pin"]):
            found.append("safe-mode pin %d held at boot" % config["safe_mode_pin"])
    st = rtcstate.RtcState.load(board)
    if st.crashes >= CRASH_LOOP:
        found.append("crash loop: the last %d runs crashed (see %s/log.txt); power-cycle "
                     "the board to try again, or clear the count here: "
                     "board.rtc_memory(b'')" % (st.crashes, board.DATA_DIR))
    reasons = found or None


def _held(board, pin):
    """The safe-mode pin held low. After a power-on or reset button the node watches it
    for board.SAFE_MODE_GRACE_MS: the ESP32's BOOT button (GPIO0) is a strapping pin,
    so it can only be pressed once the chip has started; a deep-sleep wake reads it once."""
    import time

    grace = board.SAFE_MODE_GRACE_MS if board.reset_cause() == "power_on" else 0
    end = time.ticks_add(time.ticks_ms(), grace)
    while True:
        if board.safe_mode_requested(pin):
            return True
        if pin is None or time.ticks_diff(end, time.ticks_ms()) <= 0:
            return False
        time.sleep_ms(20)


def _validate(board, found):
    import sys

    try:
        import config as validator
    except Exception as e:  # the node cannot run without a checked config
        found.append("cannot check %s: %r" % (board.CONFIG_PATH, e))
        return None
    try:
        return validator.load(board.CONFIG_PATH, _exists)
    except validator.ConfigError as e:
        found.append("%s is invalid:" % board.CONFIG_PATH)
        found.extend("  " + err for err in e.errors)
        return None
    finally:
        del sys.modules["config"]  # the validated dict is all we keep


def _key(path):
    import binascii

    try:
        with open(path, "rb") as f:
            return [_SCHEMA, binascii.crc32(f.read())]
    except OSError:
        return None


def _cached(path, key):
    try:
        with open(path) as f:
            doc = json.load(f)
        return doc["config"] if key and doc.get("key") == key else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(path, key, cfg):
    """True when the cache was written (no cache: the next boot validates again)."""
    if key is None:
        return False
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump({"key": key, "config": cfg}, f)
        os.rename(tmp, path)
        return True
    except OSError:
        return False


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def announce():
    print("SAFE MODE: the node will not run until this is fixed:")
    for line in reasons:
        print("  " + line)
    print("The REPL is available.")
