"""Host tools' command lines: arguments checked where they are given, errors in one line.

Every tool builds its parser with `Parser` and gives each argument a `type=` from here,
so a wrong argument or a missing file is one line on stderr and exit status 2, never a
traceback. `run_tool` runs the tool's body: a `ToolError` is one line too, with its
status (1: the board, the server or a file's content said no; 2: the input was wrong).
"""

import argparse
import os
import re
import sys
from pathlib import Path


class ToolError(Exception):
    """A problem the user can act on; the message is one line, shown without a traceback."""

    status = 1


class BadInput(ToolError):
    """The user's input is wrong (an answer, a file that is not what it should be)."""

    status = 2


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (the usage is one --help away)."""

    def error(self, message):
        self.exit(2, "%s: error: %s (--help shows the usage)\n" % (self.prog, message))


def run_tool(name, body):
    """Run a tool's `body()`; a ToolError is one line on stderr and its exit status."""
    try:
        return body()
    except ToolError as e:
        print("%s: %s" % (name, e), file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print("%s: interrupted" % name, file=sys.stderr)
        return 130


def count(n, noun):
    """'1 sensor', '2 sensors', '0 sensors': a count with its noun in the right number."""
    return "%d %s%s" % (n, noun, "" if n == 1 else "s")


def shown(path):
    """A path as the user would type it: relative to the current folder when inside it."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _fail(text, *args):
    raise argparse.ArgumentTypeError(text % args)


def _existing(text, is_kind, noun):
    p = Path(text)
    if not p.exists():
        _fail("%s: no such %s", text, noun)
    if not is_kind(p):
        _fail("%s is not a %s", text, noun)
    return p


def existing_file(text):
    """A file that exists and can be read."""
    p = _existing(text, Path.is_file, "file")
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        _fail("cannot read %s (%s)", text, e.strerror)
    return p


def existing_dir(text):
    """A folder that exists."""
    return _existing(text, Path.is_dir, "folder")


def out_dir(text):
    """A folder to write into: created (with its parents) when missing."""
    p = Path(text)
    if p.exists() and not p.is_dir():
        _fail("%s exists and is not a folder", text)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _fail("cannot create the folder %s (%s)", text, e.strerror)
    return p


def out_file(text):
    """A file to write: not a folder, and below a folder (or where one can be made)."""
    p = Path(text)
    if p.is_dir():
        _fail("%s is a folder; give a file name", text)
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        _fail("%s cannot be written: %s is not a folder", text, parent)
    return p


def _number(kind, text, what):
    try:
        return kind(text)
    except ValueError:
        _fail("expected %s, got %r", what, text)


def positive_int(text):
    v = _number(int, text, "a whole number")
    if v < 1:
        _fail("expected a whole number of at least 1, got %s", text)
    return v


def positive_float(text):
    v = _number(float, text, "a number")
    if not 0 < v < float("inf"):
        _fail("expected a number above 0, got %s", text)
    return v


def non_negative_float(text):
    v = _number(float, text, "a number")
    if not 0 <= v < float("inf"):
        _fail("expected a number of 0 or more, got %s", text)
    return v


def int_between(lo, hi):
    """A type: a whole number from lo to hi."""

    def check(text):
        v = _number(int, text, "a whole number")
        if not lo <= v <= hi:
            _fail("expected a whole number from %d to %d, got %s", lo, hi, text)
        return v

    check.__name__ = "int %d-%d" % (lo, hi)
    return check


def cycle_ranges(text):
    """'5-8,12' -> {5, 6, 7, 8, 12}: cycles counted from 1, each range low to high."""
    cycles = set()
    for part in filter(None, text.split(",")):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            _fail("expected cycles like 5-8,12, got %r", text)
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= a <= b:
            _fail("expected cycles from 1 up, each range low to high (like 5-8), got %r", part)
        cycles.update(range(a, b + 1))
    return cycles


def heap_size(text):
    """A MicroPython heap size as -X heapsize takes it: bytes, or with K or M."""
    m = re.fullmatch(r"(\d+)([KkMm]?)", text)
    if not m or int(m.group(1)) == 0:
        _fail("expected a heap size like 111936, 96K or 1M, got %r", text)
    return text
