"""Simulated sensors of the emulated board: deterministic signals and recorded data.

Each driver takes (board, spec) from the validated config and answers read(t, n)
with a float, t being the board's time in node seconds (clock.py) and n the sample
number since power-on.
"""

import math

from clock import EPOCH


class Wave:
    """A periodic signal of the board clock, so runs are reproducible."""

    def __init__(self, board, spec):
        self.shape = spec["shape"]
        self.period = spec["period_s"]
        self.amplitude = spec["amplitude"]
        self.offset = spec["offset"]
        self.phase = spec["phase_s"]

    def read(self, t, n):
        p = ((t + EPOCH + self.phase) % self.period) / self.period  # on the Unix clock
        if self.shape == "sine":
            y = math.sin(2 * math.pi * p)
        elif self.shape == "triangle":
            y = 1 - 4 * abs(p - 0.5)
        elif self.shape == "square":
            y = 1.0 if p < 0.5 else -1.0
        else:
            y = 2 * p - 1
        return self.offset + self.amplitude * y


class Replay:
    """Values from a CSV file, one row per sample, streamed (never loaded whole).

    '#' lines and a header row are skipped; an empty cell replays as NaN, so recorded
    sensor dropouts stay dropouts.
    """

    def __init__(self, board, spec):
        self.path = spec["file"]
        self.column = spec["column"]
        self.loop = spec["loop"]
        self.rows = None

    def _cells(self):
        first = True
        with open(self.path) as f:
            for line in f:
                line = line.strip()
                if not line or line[0] == "#":
                    continue
                cells = line.split(",")
                if self.column >= len(cells):
                    raise OSError("%s: no column %d in %r" % (self.path, self.column, line))
                cell = cells[self.column].strip()
                if first and cell and not _numeric(cell):
                    first = False
                    continue  # header row
                first = False
                yield cell

    def read(self, t, n):
        if self.rows is None:
            self.rows = sum(1 for _ in self._cells())
        if not self.rows:
            raise OSError("%s: no rows to replay" % self.path)
        if n >= self.rows and not self.loop:
            raise OSError("%s: all %d rows replayed" % (self.path, self.rows))
        row = n % self.rows
        for i, cell in enumerate(self._cells()):
            if i == row:
                return float(cell) if cell else math.nan
        raise OSError("%s changed while replaying" % self.path)


def _numeric(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


class Battery:
    """A cell discharging linearly from full_v to empty_v over `hours` of board time."""

    def __init__(self, board, spec):
        self.board = board
        self.full = spec["full_v"]
        self.empty = spec["empty_v"]
        self.seconds = spec["hours"] * 3600

    def read(self, t, n):
        start = self.board.world().get("battery_start", t + EPOCH)  # Unix seconds
        used = min(1.0, max(0, t + EPOCH - start) / self.seconds)
        return self.full - (self.full - self.empty) * used


DRIVERS = {"wave": Wave, "replay": Replay, "battery_sim": Battery}
