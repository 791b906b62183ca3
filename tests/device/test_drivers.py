# Device tests (MicroPython): register-level sensor drivers on the simulated buses,
# against the datasheets' worked examples, with every bus fault a node meets.
import errno

import i2csim
from chips.bh1750 import BH1750 as BH1750Chip
from chips.bme280 import BME280 as BME280Chip
from chips.ds18b20 import DS18B20 as DS18B20Chip
from chips.sht4x import SHT4x as SHT4xChip
from chips.tmp117 import TMP117 as TMP117Chip
from driverkit import bytes_per_call, locked, oserror, raises
from drivers.analog import Linear, Table
from drivers.bh1750 import BH1750
from drivers.bme280 import BME280
from drivers.crc8 import dallas, sensirion
from drivers.ds18b20 import DS18B20
from drivers.sht4x import SHT4x
from drivers.tmp117 import TMP117


def test_crc8_datasheet_examples():
    assert sensirion(b"\xbe\xef", 0, 2) == 0x92  # SHT4x datasheet
    assert dallas(b"\x02\x1c\xb8\x01\x00\x00\x00", 0, 7) == 0xA2  # Maxim AN27 ROM example
    power_on = b"\x50\x05\x4b\x46\x7f\xff\x0c\x10\x1c"  # a fresh DS18B20's scratchpad
    assert dallas(power_on, 0, 8) == 0x1C and dallas(power_on, 0, 9) == 0


def test_bme280_datasheet_worked_example():
    bus = i2csim.I2C({0x76: BME280Chip(adc=(519888, 415148, 30000))})
    d = BME280(bus)
    locked(d._sample)
    assert (d._t, d._p, d._h) == (2508, 100656, 56317)
    t, p, h = d.measure()
    assert t == 25.08  # datasheet: 2508
    # The 32-bit formula: 100656 Pa, 3 Pa from the datasheet's 100653.27 Pa.
    assert p == 1006.56 and abs(p - 1006.5327) < 0.031
    # The datasheet's double-precision formula gives 55.0007 %RH for these values.
    assert h == 56317 / 1024 and abs(h - 55.0007) < 0.01


def test_bme280_humidity_clipped_to_0_100():
    chip = BME280Chip(adc=(519888, 415148, 0))
    d = BME280(i2csim.I2C({0x77: chip}), 0x77)
    assert d.measure()[2] == 0.0
    chip.adc = (519888, 415148, 0xFFFF)
    assert d.measure()[2] == 100.0


def test_bme280_reads_signed_12_bit_humidity_parameters():
    h = (75, 362, 0, -313, -50, -30)  # dig_H4, dig_H5 share register 0xE5
    assert BME280(i2csim.I2C({0x76: BME280Chip(h=h)}))._cal_h == h


def test_bme280_refuses_another_chip_and_an_empty_address():
    chip = BME280Chip()
    chip.regs[0xD0] = 0x58  # a BMP280
    e = oserror(errno.ENODEV, BME280, i2csim.I2C({0x76: chip}))
    assert "chip id 0x58" in e.args[1], e
    oserror(errno.ENODEV, BME280, i2csim.I2C({}))


def test_bme280_implausible_and_unmeasured_values():
    chip = BME280Chip()
    d = BME280(i2csim.I2C({0x76: chip}))
    chip.adc = (0xFFFF0, 415148, 30000)
    e = raises(ValueError, d.measure)
    assert "outside the sensor's range" in str(e), e
    chip.adc = (519888, 0, 30000)
    raises(ValueError, d.measure)

    class Brownout(BME280Chip):
        def write(self, reg, rest):
            if reg == 0xF4 and rest:
                self.reset()  # instead of measuring
            else:
                super().write(reg, rest)

    d = BME280(i2csim.I2C({0x76: Brownout()}))
    e = raises(ValueError, d.measure)
    assert "reset value" in str(e), e


def test_bme280_measurement_that_never_ends_times_out():
    chip = BME280Chip()
    d = BME280(i2csim.I2C({0x76: chip}))
    chip.regs[0xF3] = 0x08  # "measuring" stays set
    e = oserror(errno.ETIMEDOUT, d.measure)
    assert "measurement did not finish" in e.args[1], e


def test_sht4x_conversion_and_clipping():
    chip = SHT4xChip(t_raw=0x6666, rh_raw=0x6666, serial=0xCAFE0042)
    d = SHT4x(i2csim.I2C({0x44: chip}))
    assert d.serial == 0xCAFE0042
    assert d.measure() == (25.0, 44.0)  # -45 + 175 * 0.4, -6 + 125 * 0.4
    chip.rh_raw = 0
    assert d.measure()[1] == 0.0  # -6 %RH clipped
    chip.rh_raw = 0xFFFF
    assert d.measure()[1] == 100.0  # 119 %RH clipped


def test_sht4x_bad_crc_then_recovers():
    bus = i2csim.I2C({0x44: SHT4xChip()})
    d = SHT4x(bus)
    bus.inject(0x44, "crc")
    e = oserror(errno.EIO, d.measure)
    assert "CRC error in reply word 2" in e.args[1], e
    assert d.measure() == (25.0, 44.0)


def test_sht4x_implausible_temperature():
    chip = SHT4xChip()
    d = SHT4x(i2csim.I2C({0x44: chip}))
    for raw, shown in ((0, "-45.00 °C"), (0xFFFF, "130.00 °C")):
        chip.t_raw = raw
        e = raises(ValueError, d.measure)
        assert shown in str(e), e


def test_sht4x_read_without_a_measurement_is_nacked():
    chip = SHT4xChip()
    bus = i2csim.I2C({0x44: chip})
    SHT4x(bus)
    oserror(errno.ENODEV, bus.readfrom, 0x44, 6)


def test_bh1750_datasheet_example_and_saturation():
    chip = BH1750Chip(0x8390)
    d = BH1750(i2csim.I2C({0x23: chip}))
    lux = d.measure()
    assert lux == 33680 / 1.2 and round(lux) == 28067
    chip.count = 0xFFFF
    e = raises(ValueError, d.measure)
    assert "saturated" in str(e), e


def test_ds18b20_datasheet_table():
    table = ((0x07D0, 125.0), (0x0191, 25.0625), (0x00A2, 10.125), (0x0008, 0.5),
             (0x0000, 0.0), (0xFFF8, -0.5), (0xFF5E, -10.125), (0xFE6F, -25.0625),
             (0xFC90, -55.0))
    chip = DS18B20Chip()
    d = DS18B20(i2csim.OneWire([chip]))
    for raw, celsius in table:
        chip.raw = raw
        assert d.measure() == celsius, (hex(raw), celsius)


def test_ds18b20_power_on_value_and_implausible_values():
    chip = DS18B20Chip()
    ow = i2csim.OneWire([chip])
    d = DS18B20(ow)
    ow.inject("brownout")
    e = raises(ValueError, d.measure)
    assert "power-on value" in str(e), e
    assert d.measure() == 25.0625
    chip.raw = 0x0800  # 128 °C
    e = raises(ValueError, d.measure)
    assert "outside the sensor's -55..125 °C" in str(e), e


def test_ds18b20_bus_faults():
    ow = i2csim.OneWire([DS18B20Chip()])
    d = DS18B20(ow)
    ow.inject("absent")
    oserror(errno.ENODEV, d.measure)
    ow.inject("crc")
    assert "CRC" in oserror(errno.EIO, d.measure).args[1]
    ow.inject("short")
    oserror(errno.ETIMEDOUT, d.measure)
    assert d.measure() == 25.0625
    oserror(errno.ENODEV, DS18B20(i2csim.OneWire([])).measure)


def test_ds18b20_match_rom_picks_one_of_two():
    a = DS18B20Chip(0x0191, b"\x01\x00\x00\x00\x00\x00")
    b = DS18B20Chip(0xFF5E, b"\x02\x00\x00\x00\x00\x00")
    ow = i2csim.OneWire([a, b])
    roms = ow.scan()
    assert roms == [a.rom, b.rom] and dallas(roms[0], 0, 8) == 0
    assert DS18B20(ow, roms[1]).measure() == -10.125
    assert DS18B20(ow, roms[0]).measure() == 25.0625
    sp = bytearray(9)
    ow.select_rom(roms[1])  # how micropython-lib's ds18x20 reads a scratchpad
    ow.writebyte(0xBE)
    ow.readinto(sp)
    assert sp[0] == 0x5E and sp[1] == 0xFF and dallas(sp, 0, 9) == 0
    oserror(errno.EIO, DS18B20(ow).measure)  # skip ROM: both answer, the bits collide


def test_tmp117_datasheet_table_and_range():
    """Table 7-1's results, and the sensor's -55..150 °C ends."""
    table = ((0x0C80, 25.0), (0x3200, 100.0), (0x0080, 1.0), (0x0010, 0.125),
             (0x0001, 0.0078125), (0x0000, 0.0), (0xFFFF, -0.0078125), (0xFFF0, -0.125),
             (0xF380, -25.0), (0xE480, -55.0), (0x4B00, 150.0))
    chip = TMP117Chip()
    d = TMP117(i2csim.I2C({0x48: chip}))
    for raw, celsius in table:
        chip.raw = raw
        assert d.measure() == celsius, (hex(raw), celsius)
    # one-shot with 8 averaged conversions, then the chip is shut down until the next
    assert chip.configured == 0x0C20 and chip.regs[0x01] & 0x0C00 == 0x0400
    for raw, shown in ((0x7FFF, "255.9922 °C"), (0xE47F, "-55.0078 °C")):
        chip.raw = raw
        e = raises(ValueError, d.measure)
        assert shown in str(e) and "-55..150" in str(e), e
    chip.raw = 0x8000
    assert "reset value" in str(raises(ValueError, d.measure))


def test_tmp117_refuses_another_chip_and_an_empty_address():
    e = oserror(errno.ENODEV, TMP117, i2csim.I2C({0x49: TMP117Chip(device_id=0x0116)}), 0x49)
    assert "device id 0x116 at 0x49" in e.args[1], e
    assert TMP117(i2csim.I2C({0x48: TMP117Chip(device_id=0x1117)})).addr == 0x48  # revision 1
    oserror(errno.ENODEV, TMP117, i2csim.I2C({}))


def test_tmp117_conversion_that_never_ends_times_out_then_recovers():
    chip = TMP117Chip(raw=0xF380)
    bus = i2csim.I2C({0x48: chip})
    d = TMP117(bus)
    chip.stalled = True
    e = oserror(errno.ETIMEDOUT, d.measure)
    assert "conversion did not finish" in e.args[1], e
    chip.stalled = False
    bus.inject(0x48, "nack")
    oserror(errno.ENODEV, d.measure)
    assert d.measure() == -25.0


def test_i2c_nack_and_timeout_are_counted_and_skipped():
    bus = i2csim.I2C({0x76: BME280Chip(), 0x44: SHT4xChip(), 0x23: BH1750Chip()})
    sensors = [BME280(bus), SHT4x(bus), BH1750(bus)]
    bus.inject(0x76, "nack")
    bus.inject(0x44, "timeout", times=2)
    failures, readings = [], []
    for _ in range(3):
        for s in sensors:
            try:
                readings.append(s.measure())
            except (OSError, ValueError) as e:
                failures.append(e)
    assert [e.errno for e in failures] == [errno.ENODEV, errno.ETIMEDOUT, errno.ETIMEDOUT]
    assert len(readings) == 6


def test_stuck_sda_fails_the_whole_bus_until_recovery():
    bus = i2csim.I2C({0x76: BME280Chip(), 0x44: SHT4xChip()})
    bme, sht = BME280(bus), SHT4x(bus)
    bus.inject(0x44, "stuck")
    oserror(errno.ETIMEDOUT, bme.measure)
    oserror(errno.ETIMEDOUT, sht.measure)
    assert bus.scan() == []
    bus.recover()
    assert bus.recoveries == 1 and bus.scan() == [0x44, 0x76]
    assert sht.measure() == (25.0, 44.0) and bme.measure()[0] == 25.08


def test_drivers_allocate_only_their_float_results():
    """A measurement up to its integers runs with the heap locked, at the ends of the
    range; measure() then allocates exactly its float results."""
    bme_chip, sht_chip, bh_chip, ds_chip = BME280Chip(), SHT4xChip(), BH1750Chip(), DS18B20Chip()
    tmp_chip = TMP117Chip()
    bus = i2csim.I2C({0x76: bme_chip, 0x44: sht_chip, 0x23: bh_chip, 0x48: tmp_chip})
    ow = i2csim.OneWire([ds_chip])
    bme, sht, bh, tmp = BME280(bus), SHT4x(bus), BH1750(bus), TMP117(bus)
    ds = (DS18B20(ow), DS18B20(ow, ow.scan()[0]))  # skip ROM, match ROM
    for adc_h, h in ((0, 0), (0xFFFF, 102400)):  # 0 and 100 %RH
        bme_chip.adc = (519888, 415148, adc_h)
        locked(bme._sample)
        assert (bme._t, bme._p, bme._h) == (2508, 100656, h)
    for adc_t in (0, 0xFFFFF):  # the compensation at its inputs' ends
        t_fine = locked(lambda: bme._t_fine(adc_t))
        for adc in (0, 0xFFFFF):
            locked(lambda: bme._pressure(adc, t_fine) + bme._humidity(adc >> 4, t_fine))
    for t_raw, rh_raw, rh in ((0x0751, 0, 0), (0xF8AE, 0xFFFF, 100 * 65535)):  # -40, 125 °C
        sht_chip.t_raw, sht_chip.rh_raw = t_raw, rh_raw
        locked(sht._sample)
        assert sht._t == 175 * t_raw - 45 * 65535 and sht._rh == rh
    for count in (0, 0xFFFE):
        bh_chip.count = count
        assert locked(bh._count) == count
    for raw, sixteenths in ((0xFC90, -880), (0x07D0, 2000)):  # -55, 125 °C
        ds_chip.raw = raw
        for d in ds:
            assert locked(d._raw) == sixteenths
    for raw, steps in ((0xE480, -7040), (0x4B00, 19200)):  # -55, 150 °C
        tmp_chip.raw = raw
        assert locked(tmp._raw) == steps
    bme_chip.adc = (519888, 415148, 30000)
    x, y, z = 2508, 100656, 56317
    cases = (
        (bme, lambda: (x / 100, y / 100, z / 1024)),
        (sht, lambda: (x / 65535, y / 65535)),
        (bh, lambda: x / 1.2),
        (ds[0], lambda: x / 16),
        (ds[1], lambda: x / 16),
        (tmp, lambda: x / 128),
    )
    for d, results in cases:
        buf = d._buf
        spent, floats = bytes_per_call(d.measure), bytes_per_call(results)
        assert spent == floats, (type(d).__name__, spent, floats)
        assert d._buf is buf


def test_analog_linear_and_table():
    lin = Linear(scale=250.0, offset=-125.0, vmin=0.4, vmax=4.6)  # 0.5-4.5 V: 0-1000 kPa
    assert lin.convert(0.5) == 0.0 and lin.convert(4.5) == 1000.0
    assert "outside 0.400..4.600 V" in str(raises(ValueError, lin.convert, 0.01))
    assert Linear().convert(1.25) == 1.25
    raises(ValueError, Linear, 1.0, 0.0, 2.0, 1.0)
    ntc = Table([(0.5, 80.0), (1.0, 50.0), (2.0, 20.0), (3.0, -10.0)])
    assert ntc.convert(0.5) == 80.0 and ntc.convert(3.0) == -10.0
    assert ntc.convert(1.0) == 50.0 and ntc.convert(1.5) == 35.0 and ntc.convert(2.25) == 12.5
    assert "outside the table's 0.500..3.000 V" in str(raises(ValueError, ntc.convert, 3.1))
    raises(ValueError, Table, [(1.0, 0.0)])
    raises(ValueError, Table, [(1.0, 0.0), (1.0, 5.0)])

