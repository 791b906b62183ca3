"""Decide at boot whether the node may run.

A bad config, the safe-mode pin held, or a crash loop keeps the cycle from
starting, so the REPL stays reachable and the problem can be fixed on the spot.

The validator is the biggest module on the board, so its verdict is cached on
flash, keyed by the config file's size and checksum: an unchanged config loads the
normalised dict from the cache and never imports the validator (configcheck.py, the
cold path, borrows it). The node then runs in the same interpreter (docs/internals.md,
"Memory").

Whatever the config file holds (any size, any bytes), check() ends with a verdict:
it never raises, so boot.py returns and the REPL stays reachable.
"""

import json
import os

import heap
import rtcstate

CRASH_LOOP = 3
_SCHEMA = 4  # bump when the normalised config changes shape

reasons = None  # list of lines when the node must not run
config = None


def check(board):
    """Fill `reasons` and `config`; never raises."""
    global reasons, config
    found = []
    try:
        try:
            os.mkdir(board.DATA_DIR)  # first boot on a fresh flash
        except OSError:
            pass
        path = board.CONFIG_PATH
        try:
            size = os.stat(path)[6]
        except OSError:
            size = None
        cache = board.DATA_DIR + "/config.cache"
        config = _cached(cache, path, size)
        if config is None:
            with heap.Borrowed():  # the validator is the biggest module on the board
                config = _validate(path, found, cache, [_SCHEMA, size])
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
    except Exception as e:  # noqa: BLE001 - boot must end in a verdict, whatever failed
        config = None  # MemoryError and UnicodeError can come without a message
        found.append("cannot check %s: %s" % (board.CONFIG_PATH, "%s: %s" % (
            type(e).__name__, e) if e.args else type(e).__name__))
    reasons = found or None


def _validate(path, found, cache, key):
    import configcheck

    cfg = configcheck.run(path, found)
    if cfg is not None:
        configcheck.store(cache, key + [_crc(path)], cfg)
    return cfg


def take():
    """The checked config, handed over once: the node lets go of its parts as its
    phases end (node.py), which a reference kept here would prevent."""
    global config
    cfg, config = config, None
    return cfg


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


def _crc(path):
    """CRC-32 of the file, read through a small buffer: the file may be any size."""
    import binascii

    buf = bytearray(256)
    crc = 0
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                return crc
            crc = binascii.crc32(memoryview(buf)[:n], crc)


def _cached(cache, path, size):
    """The cached config when its key is the file's size and CRC-32. The size comes
    first: a file too big to have been validated is never read here."""
    try:
        with open(cache) as f:
            doc = json.load(f)
        key = doc["key"]
        if size is None or key[:2] != [_SCHEMA, size] or key[2] != _crc(path):
            return None
        return doc["config"]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def announce(board):
    """On the console for a person, and to the board as the wake's report."""
    print("SAFE MODE: the node will not run until this is fixed:")
    for line in reasons:
        print("  " + line)
    print("The REPL is available.")
    board.report({"safe_mode": reasons})
