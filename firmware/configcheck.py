"""Validate config.json and cache the normalised result: safe mode's cold path.

Only a changed config pays for this module and the validator (the biggest module on
the board); both are unloaded before the node runs.
"""

import sys

import atomic

# unloaded once the config is checked (this module too): the dict is all we keep
_UNLOAD = ("config", "updateconfig", "strictjson", "certfile", "configcheck")


def run(path, found):
    """The validated config, or None with its problems in `found`. Anything else the
    validator raises (out of memory, say) goes to the caller."""
    try:
        import config as validator

        try:
            return validator.load(path, True)
        except validator.ConfigError as e:
            found.append("%s is invalid:" % path)
            found.extend("  " + err for err in e.errors)
            return None
    finally:
        for name in _UNLOAD:
            sys.modules.pop(name, None)


def store(path, key, cfg):
    """Cache the validated config (if it cannot be written, the next boot validates
    again)."""
    try:
        atomic.dump(path, {"key": key, "config": cfg})
    except OSError:
        pass
