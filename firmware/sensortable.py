"""Stable sensor numbers for spool records, kept on flash across config edits.

A record names its sensor by a one-byte number. The number comes from this table,
not from the sensor's place in config.json, so reordering, adding or removing
sensors never re-labels readings already waiting on flash: a removed sensor's
backlog is still uploaded under its own slug or uuid.
"""

import json

import atomic

_MAX = 255  # a record names its sensor in one byte (lib/record.py)


def load(path, sensors):
    """`sensors` are the config's (slug, uuid) pairs. Returns (table, numbers): every
    identity the spool may hold, and each config sensor's number in it."""
    try:
        with open(path) as f:
            table = [tuple(x) for x in json.load(f)]
    except (OSError, ValueError, TypeError):
        table = []
    numbers = []
    grown = False
    for ident in sensors:
        if ident not in table:
            if len(table) == _MAX:
                raise OSError("sensor table full (%d): remove %s once its backlog is sent"
                              % (_MAX, path))
            table.append(ident)
            grown = True
        numbers.append(table.index(ident))
    if grown:
        atomic.dump(path, table)
    return table, numbers
