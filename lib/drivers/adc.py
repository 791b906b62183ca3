"""An analog sensor on an ADC1 pin: averaged calibrated volts, scaled.

value = volts * scale + offset, with volts from read_uv() (eFuse-calibrated on the
ESP32). Averaging `samples` conversions smooths the ESP32 ADC's noise.
"""


class Analog:
    def __init__(self, board, spec):
        self.adc = board.adc(spec["pin"])
        self.samples = max(1, spec["samples"])
        self.scale = spec["scale"]
        self.offset = spec["offset"]

    def read(self, t, n):
        total = 0
        for _ in range(self.samples):
            total += self.adc.read_uv()
        return total / self.samples / 1e6 * self.scale + self.offset
