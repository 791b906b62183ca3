"""The sampling phase: open the configured drivers, read every sensor once.

Loaded only while sampling and unloaded afterwards (unload()), so the drivers'
code and buffers give their RAM back before the upload needs it for TLS.
A sensor that fails is logged and counted; it never stops the others.
"""

import sys

import log

_LIB_DRIVERS = {"adc": ("drivers.adc", "Analog")}


def _finite(v):
    return v == v and v - v == 0


class Sampler:
    def __init__(self, board, cfg, st):
        self.st = st
        self.sensors = [self._open(board, s["driver"], s, "sensors[%d]" % s["index"])
                        for s in cfg["sensors"]]
        bat = cfg["battery"]
        self.battery = None
        if bat["source"] == "adc":  # volts on the pin times the divider ratio
            divider = {"pin": bat["pin"], "samples": bat["samples"], "scale": bat["ratio"],
                       "offset": 0.0}
            self.battery = self._open(board, "adc", divider, "battery")
        elif bat["source"] != "none":
            self.battery = self._open(board, "battery_" + bat["source"], bat, "battery")

    def _open(self, board, driver, spec, where):
        try:
            cls = board.sensor_driver(driver)
            if cls is None:
                mod, name = _LIB_DRIVERS[driver]
                cls = getattr(__import__(mod, None, None, (name,)), name)
            return cls(board, spec)
        except Exception as e:
            log.warn("%s (%s): cannot start: %s" % (where, driver, e))
            self.st.sensor_faults += 1
            return None

    def sample(self, spool, numbers, now, aux=0):
        """Read every sensor once and store the readings with one flush; `numbers`
        are the sensors' numbers in the spool (sensortable.py), `aux` the boot
        session while the clock is unset (clock.Sessions)."""
        n = self.st.samples
        for i, drv in enumerate(self.sensors):
            if drv is None:
                continue
            try:
                v = drv.read(now, n)
            except Exception as e:
                log.warn("sensors[%d]: read failed: %s" % (i, e))
                self.st.sensor_faults += 1
                continue
            if not _finite(v):
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
            return v if _finite(v) else None
        except Exception as e:
            log.warn("battery: read failed: %s" % e)
            return None


def unload():
    """Forget this module and every driver: their RAM goes back to the heap."""
    for name in list(sys.modules):
        if name.startswith("drivers") or name in ("simsensors", "sampler"):
            del sys.modules[name]
