"""The sampling phase: open the configured drivers, read every sensor once.

Loaded only while sampling, inside heap.Borrowed (node.py), so the drivers' code and
buffers give their RAM back before the upload needs it for TLS.
A sensor that fails is logged and counted; it never stops the others. Config sensors
on one chip (a BME280's temperature, pressure and humidity) share one measurement a
round (drivers/shared.py); when it fails, each of them counts a fault. An I2C timeout
gets one bus recovery a round (a sensor may hold SDA low), then the read is retried.
How each driver is made comes from drivers/registry.py; only the modules of the drivers
the config uses are imported.
"""

import errno

import log
from drivers.registry import DRIVERS
from number import finite


def _load(path):
    """The class at ("module", "Class")."""
    mod, name = path
    return getattr(__import__(mod, None, None, (name,)), name)


def run(board, sensors, battery, i2c, st, spool, numbers, now, aux, due, battery_too):
    """One sampling round when `due`, the battery when `battery_too`: (readings stored
    or None, volts or None)."""
    s = Sampler(board, sensors, battery, i2c, st)
    return (s.sample(spool, numbers, now, aux) if due else None,
            s.read_battery(now) if battery_too else None)


class Sampler:
    def __init__(self, board, sensors, bat, i2c, st):
        self.board = board
        self.st = st
        self.i2c_spec = i2c
        self.i2c = None  # made when a chip is first read
        self.buses = {}  # 1-Wire, by pin
        self.chips = {}
        self.recovered = False  # the I2C bus was recovered this round
        self.sensors = [self._open(board, s["driver"], s, "sensors[%d]" % s["index"])
                        for s in sensors]
        self.battery = None
        if bat["source"] == "adc":  # volts on the pin times the divider ratio
            divider = {"pin": bat["pin"], "samples": bat["samples"], "scale": bat["ratio"],
                       "offset": 0.0, "cal": bat.get("cal")}
            self.battery = self._open(board, "adc", divider, "battery")
        elif bat["source"] != "none":
            self.battery = self._open(board, "battery_" + bat["source"], bat, "battery")

    def _open(self, board, driver, spec, where):
        """A config sensor's driver (or the battery's); None when it cannot start."""
        try:
            entry = DRIVERS.get(driver)
            bus = entry[0] if entry else "board"  # a battery source of the board's own
            if bus == "board":
                return board.sensor_driver(driver)(board, spec)
            if bus == "adc":
                return _load(entry[1])(board, spec)
            return self._chip(driver, entry, spec)
        except Exception as e:
            log.warn("%s (%s): cannot start: %s" % (where, driver, e))
            self.st.sensor_faults += 1
            return None

    def _chip(self, driver, entry, spec):
        """The config sensor's quantity on its chip, the chip shared by every sensor on it."""
        from drivers.shared import Chip, Quantity

        bus, path, quantities = entry[:3]
        on_i2c = bus == "i2c"
        key = (driver, spec["addr"]) if on_i2c else (driver, spec["pin"], spec["rom"])
        chip = self.chips.get(key)
        if chip is None:
            cls = _load(path)
            if on_i2c:
                chip = Chip(lambda: cls(self._i2c(), spec["addr"]), True)
            else:
                import binascii

                rom = spec["rom"] and binascii.unhexlify(spec["rom"])
                chip = Chip(lambda: cls(self._onewire(spec["pin"]), rom), False)
            self.chips[key] = chip
        many = len(quantities) > 1  # measure() returns them all, in this order
        return Quantity(chip, quantities.index(spec["quantity"]) if many else None)

    def _i2c(self):
        if self.i2c is None:
            self.i2c = self.board.i2c(self.i2c_spec)
        return self.i2c

    def _onewire(self, pin):
        bus = self.buses.get(pin)
        if bus is None:
            bus = self.buses[pin] = self.board.onewire(pin)
        return bus

    def _read(self, drv, t, n):
        try:
            return drv.read(t, n)
        except OSError as e:
            chip = getattr(drv, "chip", None)
            if (e.errno != errno.ETIMEDOUT or self.recovered or chip is None
                    or not chip.i2c or self.i2c is None):
                raise
        # A timeout on the I2C bus: a sensor may hold SDA low. Once a round: bus clear,
        # then every chip that failed this round is measured again when next read.
        self.recovered = True
        log.warn("i2c: timeout: recovering the bus")
        self.board.i2c_recover(self.i2c)
        for c in self.chips.values():
            c.retry()
        return drv.read(t, n)

    def sample(self, spool, numbers, now, aux=0):
        """Read every sensor once and store the readings with one flush; `numbers`
        are the sensors' numbers in the spool (sensortable.py), `aux` the boot
        session while the clock is unset (clock.Sessions)."""
        n = self.st.samples
        self.recovered = False
        for i, drv in enumerate(self.sensors):
            if drv is None:
                continue
            try:
                v = self._read(drv, now, n)
            except Exception as e:
                log.warn("sensors[%d]: read failed: %s" % (i, e))
                self.st.sensor_faults += 1
                continue
            if not finite(v):
                log.warn("sensors[%d]: read %r, not a finite number: not stored" % (i, v))
                self.st.sensor_faults += 1
                continue
            spool.append(numbers[i], now, v, 0, aux)
        self.st.samples += 1
        return spool.commit()

    def read_battery(self, now):
        """Volts, or None without a battery source or when it cannot be read."""
        if self.battery is None:
            return None
        try:
            v = self.battery.read(now, self.st.samples)
            return v if finite(v) else None
        except Exception as e:
            log.warn("battery: read failed: %s" % e)
            return None

