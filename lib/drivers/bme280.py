"""BME280 temperature, pressure and humidity over I2C: one forced-mode measurement a call.

Bosch BME280 datasheet: register map §5.3-5.4 (chip id 0xD0, reset 0xE0, ctrl_hum 0xF2,
status 0xF3, ctrl_meas 0xF4, data 0xF7..0xFE); trimming parameters §4.2.2 (0x88..0xA1,
0xE1..0xE7); forced mode §3.3.2 with oversampling x1 and no filter, the weather
monitoring setting of §3.5.1; measurement time §9.1 (9.3 ms at most).

Compensation is the datasheet's integer code: BME280_compensate_T_int32 and
bme280_compensate_H_int32 (§4.2.3), and for pressure the 32-bit
BME280_compensate_P_int32 (§8.2), not the int64 one: its 1 Pa resolution is well below
the sensor's +-12 Pa relative accuracy. (For the datasheet's worked example, adc_P
415148, it gives 100656 Pa where the int64 code gives 100653.25 Pa.)

The ESP32's small ints have 31 bits: an int at or above 2^30 in magnitude is a heap
object. The C code's int32 intermediates go up to 2^32: as they stand, several long ints
a reading. Here its products are split into parts whose sums are shifted with exact
carries, and its division done a byte at a time, so no intermediate reaches 2^30 in
magnitude and a measurement allocates only its three floats. The results are the C
code's bit for bit, also where an int32 wraps (with calibration words no real chip
has): tests/test_bme280_compensation.py checks them against the C code. A pressure the
C code puts at 2^30 Pa or more (it returns a uint32) comes out as 2^30 - 1: out of
range all the same.

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
        self._t = self._p = self._h = 0  # set by _sample() without growing the instance
        i2c.readfrom_mem_into(addr, _CHIP_ID, self._one)
        if buf[0] != _BME280_ID:
            raise OSError(ENODEV, "bme280: chip id 0x%02x at 0x%02x, expected 0x60"
                          % (buf[0], addr))
        # Reset: the filter and standby settings are known whatever the chip went through.
        self._write(_RESET, _RESET_WORD)
        time.sleep_ms(2)
        self._wait(_IM_UPDATE, "trimming parameter copy")
        i2c.readfrom_mem_into(addr, _CALIB_TP, buf)
        self._cal_t = unpack_from("<Hhh", buf, 0)
        self._cal_p = unpack_from("<Hhhhhhhhh", buf, 6)
        h1 = buf[25]
        i2c.readfrom_mem_into(addr, _CALIB_H, memoryview(buf)[:7])
        h2, h3, e4, e5, e6, h6 = unpack_from("<hBbBbb", buf, 0)
        self._cal_h = (h1, h2, h3, e4 << 4 | e5 & 0x0F, e6 << 4 | e5 >> 4, h6)

    def measure(self):
        """One measurement: (°C, hPa, %RH)."""
        self._sample()
        return self._t / 100, self._p / 100, self._h / 1024

    def _sample(self):
        """One measurement in the datasheet's integers, allocating nothing: _t in 0.01 °C,
        _p in Pa, _h in %RH / 1024."""
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
        self._t = t
        self._p = p
        self._h = self._humidity(adc_h, t_fine)

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
        """BME280_compensate_T_int32 up to t_fine, within +-2^21; °C x 100 is
        (t_fine * 5 + 128) >> 8."""
        t1, t2, t3 = self._cal_t
        d = (adc_t >> 4) - t1
        return _mulshr((adc_t >> 3) - (t1 << 1), t2, 11) + _mulshr(_mulshr(d, d, 12), t3, 14)

    def _pressure(self, adc_p, t_fine):
        """Pa: BME280_compensate_P_int32 (§8.2), capped at 2^30 - 1."""
        p1, p2, p3, p4, p5, p6, p7, p8, p9 = self._cal_p
        v1 = (t_fine >> 1) - 64000  # var1, within +-2^20
        q = v1 >> 2
        # var2 = ((((q * q) >> 11) * P6 + ((var1 * P5) << 1)) >> 2) + (P4 << 16), wanted >> 12:
        # (s * P6 + w * P5) >> 14 summed from P6 and P5 split at bit 8
        s = _mulshr(q, q, 11)
        w = v1 + v1
        x = (s * (p6 >> 8) + w * (p5 >> 8) + ((s * (p6 & 0xFF) + w * (p5 & 0xFF)) >> 8)) >> 6
        v2 = _sx(_sx(x, 18) + (p4 << 4), 20)
        # var1 = (a + ((P2 * var1) >> 1)) >> 18, a = (P3 * ((q * q) >> 13)) >> 3: the second
        # term taken as (P2 * var1) >> 3 and its two bits below, (P2 * var1) & 6
        a = _mulshr(_mulshr(q, q, 13), p3, 3)
        v1 = (((a + (((v1 & 7) * (p2 & 7) & 6) >> 1)) >> 2) + _mulshr(v1, p2, 3)) >> 16
        d = _mulshr(32768 + v1, p1, 15)  # the divisor, var1
        if not d:
            return 0  # the datasheet's guard against a division by zero
        # p = (1048576 - adc_P - (var2 >> 12)) * 3125 as a uint32, in halves ph:pl
        n = 1048576 - adc_p - v2
        lo = (n & 0xFFFF) * 3125
        ph = ((n >> 16) * 3125 + (lo >> 16)) & 0xFFFF
        pl = lo & 0xFFFF
        # The uint32 quotient, (p << 1) / var1 if p < 2^31, else (p / var1) * 2, as its
        # q2 = >> 2 and r2 = & 3. A negative var1 divides as the uint32 2^32 + var1.
        if d > 0:  # p / var1: ph, then pl a byte at a time (remainders below 2^24)
            r = ph % d
            t = r << 8 | pl >> 8
            q1 = t // d
            r = t % d
            t = r << 8 | pl & 0xFF
            q0 = t // d
            r = t % d
            q2 = ((ph // d) & 0x7FFF) << 15 | (q1 << 8 | q0) >> 1
            r2 = (q0 & 1) << 1
            if ph < 0x8000 and r + r >= d:
                r2 += 1
        else:
            q2 = 0
            if ph == 0x7FFF and pl + pl - d >= 0x20000:
                r2 = 1
            elif ph == 0xFFFF and pl - d >= 0x10000:
                r2 = 2
            else:
                r2 = 0
        # var1 = (P9 * (((p >> 3) * (p >> 3)) >> 13)) >> 12, the square taken mod 2^32 from
        # p >> 3 split at bit 15; var2 = ((p >> 2) * P8) >> 13, p >> 2 (q2) split at bit 15
        a = q2 >> 16
        b = (q2 >> 1) & 0x7FFF
        x = (((a * a & 3) << 17) + ((a * b & 0xFFFF) << 3) + (b * b >> 13)) & 0x7FFFF
        v2 = _sx((((q2 >> 15) * p8 & 0x1FFFF) << 2) + ((q2 & 0x7FFF) * p8 >> 13), 19)
        # p + ((var1 + var2 + P7) >> 4) = 4 * q2 + e as a uint32: (q2 + (e >> 2)) mod 2^30
        e = r2 + ((_mulshr(x, p9, 12) + v2 + p7) >> 4)
        x = ((q2 - 0x20000000 + (e >> 2)) & 0x3FFFFFFF) ^ 0x20000000
        return x << 2 | e & 3 if x < 0x10000000 else 0x3FFFFFFF

    def _humidity(self, adc_h, t_fine):
        """%RH x 1024: bme280_compensate_H_int32 (§4.2.3)."""
        h1, h2, h3, h4, h5, h6 = self._cal_h
        v = t_fine - 76800
        # ((adc_H << 14) - (H4 << 20) - H5 * v + 16384) >> 15, H5 * v split at bit 14
        x = _sx((adc_h - (h4 << 6) + 1 - h5 * (v >> 14) + ((-h5 * (v & 0x3FFF)) >> 14)) >> 1, 17)
        y = _mulshr((v * h6) >> 10, ((v * h3) >> 11) + 32768, 10) + 2097152
        y = _sx((_mulshr(h2, y, 13) + 1) >> 1, 18)  # (y * H2 + 8192) >> 14
        # v = x * y less ((((v >> 15) * (v >> 15)) >> 7) * H1) >> 4, clipped, >> 12
        u = _mulshr(x, y, 15)
        w = _mulshr(h1, _mulshr(u, u, 7), 4)
        v = _sx((x * (y >> 8) + ((x * (y & 0xFF) - w) >> 8)) >> 4, 20)
        return min(max(v, 0), 102400)  # 0..100 %RH


def _sx(x, n):
    """x's low n bits, two's complement: an int32 that wrapped, after a shift of 32 - n."""
    h = 1 << (n - 1)
    return ((x + h) & (h + h - 1)) - h


def _mulshr(a, b, s):
    """C's int32 (a * b) >> s, the product wrapping at 32 bits, for 3 <= s and a * (b >> 8),
    a * 255 below 2^30: b split at bit 8, the upper product taken mod 2^24 (its bits
    above that, the wrap drops)."""
    return _sx(((((a * (b >> 8)) & 0xFFFFFF) << 5) + ((a * (b & 0xFF)) >> 3)) >> (s - 3), 32 - s)
