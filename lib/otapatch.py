"""A release's settings patch (docs/updates.md): merged into config.json's content and
checked by the node's own validator; kept as config.<slot>.json beside config.json, so
config.json itself is never written and relative paths in it mean the same."""

import json
import os

import atomic
import config as validator
import strictjson
from configkit import join


def apply(path, settings, slot):
    """(the patched copy's path, None) when the merged config passes, else (None, the
    validator's first problem)."""
    with open(path, "rb") as f:
        why = strictjson.problem(f, os.stat(path)[6])
        if why:
            return None, "config.json: " + why
        f.seek(0)
        raw = json.load(f)
    for k, v in settings.items():  # objects merge one level deep; the rest is replaced
        if type(v) is dict and type(raw.get(k)) is dict:
            raw[k].update(v)
        else:
            raw[k] = v
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    try:
        validator.validate(raw, base, True)
    except validator.ConfigError as e:
        return None, e.errors[0]
    out = join(base, "config.%s.json" % slot)
    atomic.dump(out, raw)
    return out, None
