"""Validate config.json and cache the normalised result: safe mode's cold path.

Only a changed config pays for this module and the validator (the biggest module on
the board); safemode.py borrows both (heap.Borrowed): the dict is all it keeps.
"""

import atomic


def run(path, found):
    """The validated config, or None with its problems in `found`. Anything else the
    validator raises (out of memory, say) goes to the caller."""
    import config as validator

    try:
        return validator.load(path, True)
    except validator.ConfigError as e:
        found.append("%s is invalid:" % path)
        found.extend("  " + err for err in e.errors)
        return None


def store(path, key, cfg):
    """Cache the validated config (if it cannot be written, the next boot validates
    again)."""
    try:
        atomic.dump(path, {"key": key, "config": cfg})
    except OSError:
        pass
