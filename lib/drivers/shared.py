"""A sensor chip several config sensors read: measured once per sampling round.

A BME280 gives temperature, pressure and humidity in one measurement; three config
sensors on it must not trigger three measurements, nor see three different instants.
The chip's driver is made on its first use, so a chip that is missing or NACKs when
it is set up fails like a reading (counted per sensor, retried next round).
"""


class Chip:
    def __init__(self, make, i2c):
        """make(): the driver (its constructor talks to the chip); i2c: on the I2C bus."""
        self.make = make
        self.i2c = i2c
        self.drv = None
        self.round = -1
        self.values = None
        self.error = None

    def measure(self, n):
        """The values of round n: measured once; a failure is raised to every reader."""
        if self.round != n:
            self.error = None
            try:
                if self.drv is None:
                    self.drv = self.make()
                self.values = self.drv.measure()
            except (OSError, ValueError) as e:
                self.error = e
            self.round = n  # not after a MemoryError: the next reader tries again
        if self.error is not None:
            raise self.error
        return self.values

    def retry(self):
        """Measure again at the next read (after a bus recovery) if this round failed."""
        if self.error is not None:
            self.round = -1


class Quantity:
    """One config sensor on a Chip: the values' `index`th item (None: the only value)."""

    def __init__(self, chip, index):
        self.chip = chip
        self.index = index

    def read(self, t, n):
        v = self.chip.measure(n)
        return v if self.index is None else v[self.index]
