"""The BME280 driver's compensation gives the results of the datasheet's int32 C code bit
for bit, and allocates nothing, whatever the calibration and raw values.

The reference here is that C code (Bosch BME280 datasheet §4.2.3:
BME280_compensate_T_int32, bme280_compensate_H_int32; §8.2: BME280_compensate_P_int32)
with C's arithmetic: int32 and uint32 results wrap at 32 bits, >> is arithmetic on an
int32. The driver (lib/drivers/bme280.py) runs on the MicroPython unix port with its
heap locked over every calibration word and raw value at the ends of its range, random
ones within it, and real chips' calibrations: on a port whose small ints have 31 bits,
as the ESP32's, an intermediate at or above 2^30 would be a long int, which raises
MemoryError there: `make test-32bit` runs this on such a port, `make test` on the 64-bit one.
"""

import itertools
import random

from tools.dev import unixport

U8, S8, S12, U16, S16 = (0, 255), (-128, 127), (-2048, 2047), (0, 65535), (-32768, 32767)
ADC20, ADC16 = (0, 0xFFFFF), (0, 0xFFFF)
T_RANGES = (ADC20, U16, S16, S16)  # adc_T, dig_T1..T3
P_RANGES = (ADC20, U16) + (S16,) * 8  # adc_P, dig_P1..P9
H_RANGES = (ADC16, U8, S16, U8, S12, S12, S8)  # adc_H, dig_H1..H6
# t_fine = var1 + var2, an int32 >> 11 and an int32 >> 14
T_FINE = (-(1 << 20) - (1 << 17), (1 << 20) - 1 + (1 << 17) - 1)
# T and P: Bosch's worked example (BMP280 datasheet, "Calculating pressure and
# temperature": the same code); H: a real chip's words
EXAMPLE = ((519888, 27504, 26435, -1000),
           (415148, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000),
           (30000, 75, 362, 0, 313, 50, 30))
CAP = (1 << 30) - 1  # where the driver caps the uint32 pressure


def s32(x):
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def u32(x):
    return x & 0xFFFFFFFF


def c_t_fine(adc_t, t1, t2, t3):
    var1 = s32(s32((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    d = s32((adc_t >> 4) - t1)
    var2 = s32((s32(d * d) >> 12) * t3) >> 14
    return s32(var1 + var2)


def c_pressure(adc_p, t_fine, p1, p2, p3, p4, p5, p6, p7, p8, p9):
    var1 = s32((t_fine >> 1) - 64000)
    var2 = s32((s32((var1 >> 2) * (var1 >> 2)) >> 11) * p6)
    var2 = s32(var2 + s32(s32(var1 * p5) << 1))
    var2 = s32((var2 >> 2) + s32(p4 << 16))
    var1 = s32(s32(s32(p3 * (s32((var1 >> 2) * (var1 >> 2)) >> 13)) >> 3)
               + (s32(p2 * var1) >> 1)) >> 18
    var1 = s32(s32(32768 + var1) * p1) >> 15
    if var1 == 0:
        return 0
    p = u32(u32(u32(1048576 - adc_p) - u32(var2 >> 12)) * 3125)
    if p < 0x80000000:
        p = u32(p << 1) // u32(var1)
    else:
        p = u32((p // u32(var1)) * 2)
    var1 = s32(p9 * s32(u32((p >> 3) * (p >> 3)) >> 13)) >> 12
    var2 = s32(s32(p >> 2) * p8) >> 13
    return u32(s32(s32(p) + (s32(var1 + var2 + p7) >> 4)))


def c_humidity(adc_h, t_fine, h1, h2, h3, h4, h5, h6):
    v = s32(t_fine - 76800)
    x = s32(s32(s32(s32((adc_h << 14) - s32(h4 << 20)) - s32(h5 * v)) + 16384) >> 15)
    y = s32(s32(s32(s32(v * h6) >> 10) * s32((s32(v * h3) >> 11) + 32768)) >> 10)
    y = s32(s32(s32(y + 2097152) * h2) + 8192) >> 14
    v = s32(x * y)
    v = s32(v - (s32(s32(s32((v >> 15) * (v >> 15)) >> 7) * h1) >> 4))
    return min(max(v, 0), 419430400) >> 12


def draw(rng, lo, hi):
    """A range's ends one time in two, else a value within."""
    r = rng.random()
    return lo if r < 0.25 else hi if r < 0.5 else rng.randint(lo, hi)


def cases():
    """(adc_T, T calibration, adc_P, P calibration, t_fine, adc_H, H calibration) rows,
    as 22 ints."""
    rng = random.Random(280)
    t_ends, p_ends, h_ends = (list(itertools.product(*r)) for r in (T_RANGES, P_RANGES, H_RANGES))
    t, p, h = EXAMPLE
    yield t + p + (c_t_fine(*t),) + h
    for i, p in enumerate(p_ends):  # every word at either end of its range, together
        for t_fine in T_FINE:
            yield t_ends[i % len(t_ends)] + p + (t_fine,) + h_ends[i % len(h_ends)]
    for _ in range(8000):  # the ranges: ends and values within, t_fine anywhere
        t, p, h = ([draw(rng, *r) for r in ranges] for ranges in (T_RANGES, P_RANGES, H_RANGES))
        if rng.random() < 0.05:
            p[1] = rng.randint(1, 3)  # a divisor of 1 or 2: quotients up to 2^32
        r = rng.random()
        t_fine = (c_t_fine(*t) if r < 0.5 else draw(rng, *T_FINE) if r < 0.75
                  else rng.choice(T_FINE))
        yield tuple(t + p + [t_fine] + h)
    for _ in range(2000):  # real chips: the example's calibration give or take 10 %
        t, p, h = ([round(v * rng.uniform(0.9, 1.1)) for v in w] for w in EXAMPLE)
        t[0], p[0], h[0] = (rng.randint(*r) for r in (ADC20, ADC20, ADC16))
        yield tuple(t + p + [c_t_fine(*t)] + h)


def expected(row):
    t_fine = row[14]
    return (c_t_fine(*row[0:4]), min(c_pressure(row[4], t_fine, *row[5:14]), CAP),
            c_humidity(row[15], t_fine, *row[16:22]))


DEVICE = '''
import sys, micropython
import i2csim
from chips.bme280 import BME280 as Chip
from drivers.bme280 import BME280

def check(d):
    # in a function: a new global would grow the module's dict while the heap is locked
    line = sys.stdin.readline()
    while line:
        v = [int(w) for w in line.split()]
        d._cal_t, d._cal_p, d._cal_h = tuple(v[1:4]), tuple(v[5:14]), tuple(v[16:22])
        t_fine = p = h = 0
        micropython.heap_lock()
        try:
            t_fine = d._t_fine(v[0])
            p = d._pressure(v[4], v[14])
            h = d._humidity(v[15], v[14])
            done = True
        except MemoryError:
            done = False
        micropython.heap_unlock()
        print("%d %d %d" % (t_fine, p, h) if done else "allocated")
        line = sys.stdin.readline()

check(BME280(i2csim.I2C({0x76: Chip()})))
'''


def test_compensation_is_the_datasheet_code_and_allocates_nothing():
    rows = list(cases())
    assert all(T_FINE[0] <= c_t_fine(*r[0:4]) <= T_FINE[1] for r in rows)
    res = unixport.run_code(DEVICE, stdin="".join(" ".join(map(str, r)) + "\n" for r in rows))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    out = res.stdout.splitlines()
    assert len(out) == len(rows), res.stdout[-2000:] + res.stderr
    want = ["%d %d %d" % expected(r) for r in rows]
    wrong = [(r, o, w) for r, o, w in zip(rows, out, want) if o != w]
    assert not wrong, "%d of %d rows differ, e.g. (row, driver, C code): %s" % (
        len(wrong), len(rows), wrong[:5])
    print("BME280 compensation: %d rows, bit for bit, no allocation, on a %d-bit port"
          % (len(rows), unixport.word_bits()))
