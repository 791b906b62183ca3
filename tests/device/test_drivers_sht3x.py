# Device tests (MicroPython): the SHT3x driver (lib/drivers/sht3x.py) against its chip
# model (boards/unix/chips/sht3x.py): the datasheet's conversions, every bus fault, what a
# measurement allocates, and the node validating and sampling it from its registry line.
import errno

import i2csim
from chips.sht3x import SHT3x as Chip
from driverkit import bytes_per_call, locked, oserror, raises
from drivers.sht3x import SHT3x

# The node's heap (tests/conftest.py): the last test runs the validator and the sampling
# phase, as a wake does.
HEAP = "node"
FULL = 65535


def test_sht3x_datasheet_conversions_and_the_ends_of_its_range():
    chip = Chip(t_raw=0x6666, rh_raw=0x6666)
    d = SHT3x(i2csim.I2C({0x44: chip}))
    assert d.status == 0x8010  # alert pending, reset seen: Table 18's defaults
    assert d.measure() == (25.0, 40.0)  # -45 + 175 * 0.4 °C, 100 * 0.4 %RH (§4.13)
    assert chip.measurements == 1
    for rh_raw, rh in ((0, 0.0), (0xFFFF, 100.0), (0x8000, 50.00076)):
        chip.rh_raw = rh_raw
        assert abs(d.measure()[1] - rh) < 1e-5, (rh_raw, rh)
    for t_raw, celsius in ((0x0751, -39.99847), (0xF8AE, 124.99847)):  # the range's ends
        chip.t_raw = t_raw
        assert abs(d.measure()[0] - celsius) < 1e-4, (t_raw, celsius)
    for t_raw, shown in ((0x0750, "-40.00 °C"), (0xF8AF, "125.00 °C"), (0, "-45.00 °C"),
                         (0xFFFF, "130.00 °C")):  # a step beyond each end, and the scale's
        chip.t_raw = t_raw
        e = raises(ValueError, d.measure)
        assert shown in str(e) and "-40..125 °C" in str(e), e


def test_sht3x_bus_faults_then_recovers():
    chip = Chip(t_raw=0x6666, rh_raw=0x6666)
    bus = i2csim.I2C({0x45: chip})
    d = SHT3x(bus, 0x45)  # ADDR high
    bus.inject(0x45, "crc")
    e = oserror(errno.EIO, d.measure)
    assert "CRC error in reply word 2" in e.args[1], e
    bus.inject(0x45, "timeout")
    oserror(errno.ETIMEDOUT, d.measure)
    bus.inject(0x45, "nack")
    oserror(errno.ENODEV, d.measure)
    assert d.measure() == (25.0, 40.0)
    oserror(errno.ENODEV, bus.readfrom, 0x45, 6)  # no measurement pending: NACKed


def test_sht3x_refuses_an_empty_address_and_a_chip_that_shows_no_reset():
    oserror(errno.ENODEV, SHT3x, i2csim.I2C({}))

    class NoReset(Chip):
        def write(self, msb, rest):
            if msb != 0x30:  # ignores the soft reset
                super().write(msb, rest)

    e = oserror(errno.ENODEV, SHT3x, i2csim.I2C({0x44: NoReset(status=0)}))
    assert "no SHT3x at 0x44 (status 0x0000" in e.args[1], e
    bus = i2csim.I2C({0x44: Chip()})
    bus.inject(0x44, "crc")
    e = oserror(errno.EIO, SHT3x, bus)
    assert "CRC error in reply word 1" in e.args[1], e


def test_sht3x_allocates_only_its_float_results():
    chip = Chip()
    d = SHT3x(i2csim.I2C({0x44: chip}))
    for t_raw, rh_raw in ((0x0751, 0), (0xF8AE, 0xFFFF)):  # -40 and 125 °C, 0 and 100 %RH
        chip.t_raw, chip.rh_raw = t_raw, rh_raw
        locked(d._sample)
        assert d._t == 175 * t_raw - 45 * FULL and d._rh == 100 * rh_raw
    x, y = 1638375, 2621400
    buf = d._buf
    assert bytes_per_call(d.measure) == bytes_per_call(lambda: (x / FULL, y / FULL))
    assert d._buf is buf


def test_the_node_validates_and_samples_it_from_its_registry_line():
    """The validator's checks and the emulated board's chip come from the registry line:
    a quantity is required, the address defaults to 0x44, and two sensors on one chip
    share a measurement."""
    import config
    from test_sampler_chips import run, values, world

    api = {"base_url": "http://localhost/api/v1", "token": "t", "allow_insecure_http": True,
           "device_uuid": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"}
    raw = {"board": "unix", "api": api, "sensors": [{"slug": "t", "driver": "sht3x"}]}
    e = raises(config.ConfigError, config.validate, raw)
    assert e.errors == ['sensors[0].quantity: missing (expected one of "temperature", '
                        '"humidity")'], e.errors
    raw["sensors"] = [{"slug": "t", "driver": "sht3x", "quantity": "temperature"},
                      {"slug": "h", "driver": "sht3x", "quantity": "humidity", "addr": "0x45"},
                      {"slug": "h2", "driver": "sht3x", "quantity": "humidity", "addr": 0x45}]
    cfg = config.validate(raw)
    assert [s["addr"] for s in cfg["sensors"]] == [0x44, 0x45, 0x45]
    board = world(i2c={"0x45": {"chip": "sht3x", "t_raw": 0x6666, "rh_raw": 0x8000}})
    s, st, spool, _ = run(board, cfg)
    assert values(spool) == {1: 100 * 0x8000 / FULL, 2: 100 * 0x8000 / FULL}
    assert st.sensor_faults == 1  # nothing at 0x44 in this world
    assert s.i2c.devices[0x45].measurements == 1
