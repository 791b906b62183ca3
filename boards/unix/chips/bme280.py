"""A BME280's registers (datasheet §5.3-5.4): chip id, trimming parameters, reset,
ctrl_hum, status, ctrl_meas and data. A forced-mode write to ctrl_meas measures at once
and goes back to sleep; a channel whose oversampling is 0 is skipped and its data
register keeps its reset value, as on the chip.
"""

from struct import pack_into

# Bosch's worked example (BMP280 datasheet, "Calculating pressure and temperature": the
# BME280 has the same T and P code) and humidity parameters typical of a real chip.
EXAMPLE_T = (27504, 26435, -1000)
EXAMPLE_P = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
EXAMPLE_H = (75, 362, 0, 313, 50, 30)


class BME280:
    def __init__(self, adc=(519888, 415148, 30000), t=EXAMPLE_T, p=EXAMPLE_P, h=EXAMPLE_H):
        """adc: the (adc_T, adc_P, adc_H) raw values the next measurement produces."""
        self.adc = adc
        self.regs = r = bytearray(256)
        self.ptr = 0
        pack_into("<HhhHhhhhhhhh", r, 0x88, *(t + p))
        h1, h2, h3, h4, h5, h6 = h
        r[0xA1] = h1
        pack_into("<hBBBBb", r, 0xE1, h2, h3, (h4 >> 4) & 0xFF,
                  (h5 & 0x0F) << 4 | h4 & 0x0F, (h5 >> 4) & 0xFF, h6)
        self.reset()

    def reset(self):
        r = self.regs
        r[0xD0] = 0x60
        for reg in (0xF2, 0xF3, 0xF4, 0xF5):
            r[reg] = 0
        self._data(0x80000, 0x80000, 0x8000)

    def write(self, reg, rest):
        if len(rest) > 1:
            raise ValueError("bme280 model: multi-byte writes (register/data pairs) not modelled")
        self.ptr = reg
        if not rest:
            return
        v = rest[0]
        if reg == 0xE0:
            if v == 0xB6:
                self.reset()
        elif reg == 0xF4:
            mode, osrs_h = v & 3, self.regs[0xF2] & 7
            if mode == 3:
                raise ValueError("bme280 model: normal mode not modelled")
            if mode:  # forced: one measurement, then back to sleep
                t, p, h = self.adc
                self._data(p if v >> 2 & 7 else 0x80000, t if v >> 5 else 0x80000,
                           h if osrs_h else 0x8000)
            self.regs[0xF4] = v & 0xFC
        elif reg in (0xF2, 0xF5):
            self.regs[reg] = v
        # other registers are read-only: the chip ignores writes to them

    def read(self, buf):
        r, p = self.regs, self.ptr
        for i in range(len(buf)):
            buf[i] = r[(p + i) & 0xFF]
        self.ptr = (p + len(buf)) & 0xFF

    def _data(self, adc_p, adc_t, adc_h):
        r = self.regs
        r[0xF7] = adc_p >> 12
        r[0xF8] = adc_p >> 4 & 0xFF
        r[0xF9] = (adc_p & 0x0F) << 4
        r[0xFA] = adc_t >> 12
        r[0xFB] = adc_t >> 4 & 0xFF
        r[0xFC] = (adc_t & 0x0F) << 4
        r[0xFD] = adc_h >> 8
        r[0xFE] = adc_h & 0xFF
