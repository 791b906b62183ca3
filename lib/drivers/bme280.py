"""BME280 temperature, pressure and humidity over I2C: one forced-mode measurement a call.

Bosch BME280 datasheet: register map §5.3-5.4 (chip id 0xD0, reset 0xE0, ctrl_hum 0xF2,
status 0xF3, ctrl_meas 0xF4, data 0xF7..0xFE); trimming parameters §4.2.2 (0x88..0xA1,
0xE1..0xE7); forced mode §3.3.2 with oversampling x1 and no filter, the weather
monitoring setting of §3.5.1; measurement time §9.1 (9.3 ms at most).

Compensation is the datasheet's integer code: BME280_compensate_T_int32 and
bme280_compensate_H_int32 (§4.2.3), and for pressure the 32-bit
BME280_compensate_P_int32 (§8.2), not the int64 one: its intermediates stay within
32 bits (on the ESP32, whose small ints have 31, a few still become long ints: a
handful of small allocations a reading), and its 1 Pa resolution is well below the
sensor's +-12 Pa relative accuracy. (For the datasheet's worked example,
adc_P 415148, it gives 100656 Pa where the int64 code gives 100653.25 Pa.)

Bus faults come out as OSError (ENODEV: no answer, ETIMEDOUT: bus or measurement
timeout); a reading outside the sensor's range (-40..85 °C, 300..1100 hPa) or data
registers still at their reset value raise ValueError.
"""

import time
from errno import ENODEV, ETIMEDOUT
from struct import unpack_from

from micropython import const

_CALIB_TP = const(0x88)  # 0x88..0xA1: dig_T1..dig_P9, a reserved byte, dig_H1
_CHIP_ID = const(0xD0)
_RESET = const(0xE0)
_CALIB_H = const(0xE1)  # 0xE1..0xE7: dig_H2..dig_H6
_CTRL_HUM = const(0xF2)
_STATUS = const(0xF3)
_CTRL_MEAS = const(0xF4)
_DATA = const(0xF7)  # press msb, lsb, xlsb, temp msb, lsb, xlsb, hum msb, lsb

_BME280_ID = const(0x60)
_RESET_WORD = const(0xB6)
_OSRS_H_X1 = const(0x01)
_FORCED_X1 = const(0x25)  # osrs_t x1 (001 << 5), osrs_p x1 (001 << 2), forced mode (01)
_MEASURING = const(0x08)
_IM_UPDATE = const(0x01)
_MEAS_MS = const(10)
_POLLS = const(10)
_SKIPPED = const(0x80000)  # a 20-bit data register's reset value: nothing measured
_SKIPPED_H = const(0x8000)


class BME280:
    def __init__(self, i2c, addr=0x76):
        """addr: 0x76 with SDO to GND, 0x77 with SDO to VDDIO (§6.2)."""
        self.i2c = i2c
        self.addr = addr
        self._buf = buf = bytearray(26)
        self._one = memoryview(buf)[:1]
        self._data = memoryview(buf)[:8]
        i2c.readfrom_mem_into(addr, _CHIP_ID, self._one)
        if buf[0] != _BME280_ID:
            raise OSError(ENODEV, "bme280: chip id 0x%02x at 0x%02x, expected 0x60"
                          % (buf[0], addr))
        # Reset: the filter and standby settings are known whatever the chip went through.
        self._write(_RESET, _RESET_WORD)
        time.sleep_ms(2)
        self._wait(_IM_UPDATE, "trimming parameter copy")
        i2c.readfrom_mem_into(addr, _CALIB_TP, buf)
        self._t = unpack_from("<Hhh", buf, 0)
        self._p = unpack_from("<Hhhhhhhhh", buf, 6)
        h1 = buf[25]
        i2c.readfrom_mem_into(addr, _CALIB_H, memoryview(buf)[:7])
        h2, h3, e4, e5, e6, h6 = unpack_from("<hBbBbb", buf, 0)
        self._h = (h1, h2, h3, e4 << 4 | e5 & 0x0F, e6 << 4 | e5 >> 4, h6)

    def measure(self):
        """One measurement: (°C, hPa, %RH)."""
        self._write(_CTRL_HUM, _OSRS_H_X1)  # takes effect with the ctrl_meas write (§5.4.3)
        self._write(_CTRL_MEAS, _FORCED_X1)
        time.sleep_ms(_MEAS_MS)
        self._wait(_MEASURING, "measurement")
        self.i2c.readfrom_mem_into(self.addr, _DATA, self._data)
        b = self._buf
        adc_p = b[0] << 12 | b[1] << 4 | b[2] >> 4
        adc_t = b[3] << 12 | b[4] << 4 | b[5] >> 4
        adc_h = b[6] << 8 | b[7]
        if adc_t == _SKIPPED or adc_p == _SKIPPED or adc_h == _SKIPPED_H:
            raise ValueError("bme280: data registers hold their reset value: "
                             "the chip reset before measuring")
        t_fine = self._t_fine(adc_t)
        t = (t_fine * 5 + 128) >> 8
        p = self._pressure(adc_p, t_fine)
        if not (-4000 <= t <= 8500 and 30000 <= p <= 110000):
            raise ValueError("bme280: %.2f °C, %.2f hPa is outside the sensor's range"
                             % (t / 100, p / 100))
        return t / 100, p / 100, self._humidity(adc_h, t_fine) / 1024

    def _write(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.addr, reg, self._one)

    def _wait(self, bit, what):
        for _ in range(_POLLS):
            self.i2c.readfrom_mem_into(self.addr, _STATUS, self._one)
            if not self._one[0] & bit:
                return
            time.sleep_ms(1)
        raise OSError(ETIMEDOUT, "bme280: %s did not finish" % what)

    def _t_fine(self, adc_t):
        """BME280_compensate_T_int32 up to t_fine; °C x 100 = (t_fine * 5 + 128) >> 8."""
        t1, t2, t3 = self._t
        d = (adc_t >> 4) - t1
        return ((((adc_t >> 3) - (t1 << 1)) * t2) >> 11) + ((((d * d) >> 12) * t3) >> 14)

    def _pressure(self, adc_p, t_fine):
        """Pa: BME280_compensate_P_int32 (§8.2)."""
        p1, p2, p3, p4, p5, p6, p7, p8, p9 = self._p
        v1 = (t_fine >> 1) - 64000
        v2 = (((v1 >> 2) * (v1 >> 2)) >> 11) * p6
        v2 += (v1 * p5) << 1
        v2 = (v2 >> 2) + (p4 << 16)
        v1 = (((p3 * (((v1 >> 2) * (v1 >> 2)) >> 13)) >> 3) + ((p2 * v1) >> 1)) >> 18
        v1 = ((32768 + v1) * p1) >> 15
        if not v1:
            return 0  # the datasheet's guard against a division by zero
        p = ((1048576 - adc_p) - (v2 >> 12)) * 3125
        p = (p << 1) // v1 if p < 0x80000000 else p // v1 * 2
        v1 = (p9 * (((p >> 3) * (p >> 3)) >> 13)) >> 12
        v2 = ((p >> 2) * p8) >> 13
        return p + ((v1 + v2 + p7) >> 4)

    def _humidity(self, adc_h, t_fine):
        """%RH x 1024: bme280_compensate_H_int32 (§4.2.3)."""
        h1, h2, h3, h4, h5, h6 = self._h
        v = t_fine - 76800
        v = ((((adc_h << 14) - (h4 << 20) - h5 * v) + 16384) >> 15) * (
            ((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2
             + 8192) >> 14)
        v -= ((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4
        return min(max(v, 0), 419430400) >> 12
