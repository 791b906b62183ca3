"""An analog sensor on an ADC1 pin: averaged, calibrated volts, converted to a value.

Volts come from read_uv(): eFuse-calibrated on the ESP32, at 11 dB (150-2450 mV linear:
MicroPython docs/esp32/quickref.rst, "ADC"). `samples` conversions are averaged to smooth
the ADC's noise, then the pin's two-point calibration (config adc_cal) corrects what the
eFuse line leaves (ESP-IDF's ADC calibration notes: a chip's gradient differs from the
nominal one). The `adc` driver scales the volts
linearly; `analog` adds a valid window (vmin, vmax) or a table (drivers/analog.py).
"""

from drivers.analog import Linear, Table


class Analog:
    def __init__(self, board, spec):
        self.adc = board.adc(spec["pin"])
        self.samples = max(1, spec["samples"])
        self.gain, self.offset_uv = spec.get("cal") or (1.0, 0.0)
        if spec.get("table"):
            self.conv = Table(spec["table"])
        else:
            lo, hi = spec.get("vmin"), spec.get("vmax")
            self.conv = Linear(spec["scale"], spec["offset"],
                               float("-inf") if lo is None else lo,
                               float("inf") if hi is None else hi)

    def read(self, t, n):
        # A small int on the ESP32 (below 2^30): at most 256 samples (config) of at most
        # 3.9 V, the full scale at 11 dB (ESP-IDF driver/adc.h)
        total = 0
        for _ in range(self.samples):
            total += self.adc.read_uv()
        return self.conv.convert((total / self.samples * self.gain + self.offset_uv) / 1e6)
