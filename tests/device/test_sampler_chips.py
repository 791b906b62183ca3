# Device tests (MicroPython): the sampling phase with register-level drivers on the
# emulated board's simulated buses (boards/unix: i2c(), onewire(), world.json chips and
# faults). Config sensors on one chip share a measurement; a failing sensor is counted
# and skipped; an I2C timeout gets one bus recovery a round.
import gc
import json
import os
import sys

# The node's heap (tests/conftest.py): the sampling phase runs in the node's wake, and
# here the simulated buses' chip models (register maps) sit in RAM beside the drivers.
HEAP = "node"

BME = (25.08, 1006.56, 56317 / 1024)  # the default BME280 model: the datasheet example
SHT = (25.0, 44.0)
LUX = 33680 / 1.2
DS = 25.0625


def world(**w):
    """Write state/world.json, then import the board (it reads the world once)."""
    try:
        os.mkdir("state")
    except OSError:
        pass
    with open("state/world.json", "w") as f:
        json.dump(w, f)
    import board

    return board


def config(sensors, battery=None):
    """A normalised config (lib/config.validate's shape) with just what sampling reads."""
    return {"sensors": [dict(s, index=i, slug="s%d" % i) for i, s in enumerate(sensors)],
            "battery": battery or {"source": "none"},
            "i2c": {"sda": None, "scl": None, "freq": 100000, "soft": False},
            "pins": {"sda": None, "scl": None, "led": None, "button": None},
            "power": "battery", "led_active_low": False}


class St:
    samples = 0
    sensor_faults = 0


class Spool:
    def __init__(self):
        self.rows = []
        self.pending = 0

    def append(self, number, t, v, flags, aux):
        self.rows.append((number, v))
        self.pending += 1

    def commit(self):
        n, self.pending = self.pending, 0
        return n


ALL = [
    {"driver": "bme280", "quantity": "temperature", "addr": 0x76},
    {"driver": "bme280", "quantity": "pressure", "addr": 0x76},
    {"driver": "bme280", "quantity": "humidity", "addr": 0x76},
    {"driver": "sht4x", "quantity": "humidity", "addr": 0x44},
    {"driver": "sht4x", "quantity": "temperature", "addr": 0x44},
    {"driver": "bh1750", "addr": 0x23},
    {"driver": "ds18b20", "pin": 4, "rom": None},
]
ALL_VALUES = [BME[0], BME[1], BME[2], SHT[1], SHT[0], LUX, DS]


def sampler_for(board, cfg, st):
    import sampler

    return sampler.Sampler(board, cfg["sensors"], cfg["battery"], cfg["i2c"], st)


def run(board, cfg, rounds=1):
    st, spool = St(), Spool()
    s = sampler_for(board, cfg, st)
    stored = []
    for _ in range(rounds):
        stored.append(s.sample(spool, list(range(len(cfg["sensors"]))), 1795760664))
    return s, st, spool, stored


def values(spool):
    return dict(spool.rows)


def test_every_chip_driver_reads_and_a_chip_is_measured_once_a_round():
    board = world()
    st, spool = St(), Spool()
    s = sampler_for(board, config(ALL), st)
    assert s.sample(spool, [10, 11, 12, 13, 14, 15, 16], 1795760664) == 7
    assert spool.rows == list(zip(range(10, 17), ALL_VALUES)) and st.sensor_faults == 0
    # one measurement per chip and round, whatever number of config sensors read it
    assert len(s.chips) == 4
    bme = s.i2c.devices[0x76]
    forced = []
    write = bme.write

    def counting(reg, rest):
        if reg == 0xF4 and rest:
            forced.append(reg)
        write(reg, rest)

    bme.write = counting
    s.sample(spool, list(range(7)), 1795760724)
    assert len(forced) == 1
    bme.adc = (519888, 415148, 0)  # the next round sees the chip's new measurement
    s.sample(spool, list(range(7)), 1795760784)
    assert len(forced) == 2 and spool.rows[-5] == (2, 0.0)


def test_world_json_configures_the_chips():
    board = world(i2c={"0x77": {"chip": "bme280", "adc": [519888, 415148, 0]},
                       "0x45": {"chip": "sht4x", "rh_raw": 0xFFFF}},
                  onewire={"13": [{"raw": 0xFF5E, "serial": "020000000000"}]})
    sensors = [{"driver": "bme280", "quantity": "humidity", "addr": 0x77},
               {"driver": "sht4x", "quantity": "humidity", "addr": 0x45},
               {"driver": "ds18b20", "pin": 13, "rom": None},
               {"driver": "bme280", "quantity": "temperature", "addr": 0x76}]
    from drivers.crc8 import dallas

    rom = bytearray(b"\x28\x02\x00\x00\x00\x00\x00\x00")  # family, serial, CRC
    rom[7] = dallas(rom, 0, 7)
    sensors[2]["rom"] = "".join("%02x" % b for b in rom)
    s, st, spool, _ = run(board, config(sensors))
    assert values(spool) == {0: 0.0, 1: 100.0, 2: -10.125}
    assert st.sensor_faults == 1  # nothing answers at 0x76 in this world


def test_a_failing_chip_counts_once_per_sensor_and_the_others_are_stored():
    board = world(i2c_faults=[["0x76", "nack", 1]], onewire_faults={"4": [["crc", 1]]})
    s, st, spool, stored = run(board, config(ALL), rounds=2)
    # round 1: the BME280 NACKs (its 3 sensors fail), the DS18B20 reply fails its CRC
    assert stored == [3, 7] and st.sensor_faults == 4
    assert spool.rows[:3] == [(3, SHT[1]), (4, SHT[0]), (5, LUX)]
    assert spool.rows[3:] == list(zip(range(7), ALL_VALUES))
    assert s.i2c.recoveries == 0  # a NACK is no reason to clear the bus


def test_implausible_values_are_skipped_and_counted():
    board = world(i2c={"0x44": {"chip": "sht4x", "t_raw": 0xFFFF},
                       "0x23": {"chip": "bh1750", "count": 0xFFFF}},
                  onewire={"4": [{"raw": 0x0550}]})  # 85 °C: the power-on value
    sensors = [{"driver": "sht4x", "quantity": "temperature", "addr": 0x44},
               {"driver": "sht4x", "quantity": "humidity", "addr": 0x44},
               {"driver": "bh1750", "addr": 0x23}, {"driver": "ds18b20", "pin": 4, "rom": None}]
    _, st, spool, stored = run(board, config(sensors))
    assert stored == [0] and st.sensor_faults == 4


def test_a_stuck_bus_is_recovered_once_and_every_sensor_read():
    board = world(i2c_faults=[["0x76", "stuck"]])
    s, st, spool, stored = run(board, config(ALL))
    assert stored == [7] and st.sensor_faults == 0
    assert s.i2c.recoveries == 1 and values(spool)[0] == BME[0]


def test_a_timeout_that_persists_gets_one_recovery_a_round():
    board = world(i2c_faults=[["0x44", "timeout", 2], ["0x23", "timeout", 1]])
    s, st, spool, stored = run(board, config(ALL), rounds=2)
    # round 1: the SHT4x times out (recovery, then again: both its sensors count), and
    # the BH1750's timeout comes after the round's one recovery
    assert stored == [4, 7] and st.sensor_faults == 3 and s.i2c.recoveries == 1
    assert sorted(values(spool)) == list(range(7))


def test_analog_sensors_and_the_battery_divider_with_calibration():
    board = world(adc={"34": 1.5, "35": 2.0, "32": 0.01})
    cal = [1.02, -5000.0]  # what config.adc_cal makes of [[1.0, 1.015], [2.0, 2.035]]
    sensors = [
        {"driver": "analog", "pin": 34, "samples": 4, "scale": 1.0, "offset": 0.0,
         "vmin": None, "vmax": None,
         "table": [[0.5, 80.0], [1.0, 50.0], [2.0, 20.0], [3.0, -10.0]], "cal": None},
        {"driver": "analog", "pin": 32, "samples": 1, "scale": 250.0, "offset": -125.0,
         "vmin": 0.4, "vmax": 4.6, "table": None, "cal": None},  # 0 V: a broken wire
        {"driver": "adc", "pin": 34, "samples": 8, "scale": 10.0, "offset": 1.0, "cal": cal},
    ]
    battery = {"source": "adc", "pin": 35, "ratio": 2.0, "samples": 16, "cal": cal}
    st, spool = St(), Spool()
    s = sampler_for(board, config(sensors, battery), st)
    assert s.sample(spool, [0, 1, 2], 1795760664) == 2
    got = values(spool)
    assert sorted(got) == [0, 2] and got[0] == 35.0 and st.sensor_faults == 1
    assert abs(got[2] - ((1.5 * 1.02 - 0.005) * 10 + 1)) < 1e-9
    assert abs(s.read_battery(1795760664) - (2.0 * 1.02 - 0.005) * 2) < 1e-9


def test_a_driver_added_to_the_registry_is_sampled_from_the_default_world():
    """tmp117 came with its registry entry, its driver and its chip model: the emulated
    board puts the model at the default address unasked, and the sampler reads it."""
    s, st, spool, _ = run(world(), config([{"driver": "tmp117", "addr": 0x48},
                                           {"driver": "tmp117", "addr": 0x49}]))
    assert values(spool) == {0: 25.0} and st.sensor_faults == 1  # nothing at 0x49
    # the models nothing talked to were never made, nor their modules loaded
    assert list(s.i2c.devices) == [0x48] and sorted(s.i2c.makers) == [0x23, 0x44, 0x76]
    assert "chips.tmp117" in sys.modules and "chips.bme280" not in sys.modules


def test_only_the_drivers_the_config_uses_are_imported():
    board = world(adc={"34": 1.5}, i2c={"0x23": {"chip": "bh1750"}})  # no SHT4x model: no crc8
    sensors = [{"driver": "bh1750", "addr": 0x23},
               {"driver": "adc", "pin": 34, "samples": 1, "scale": 1.0, "offset": 0.0,
                "cal": None}]
    _, st, spool, _ = run(board, config(sensors))
    assert values(spool) == {0: LUX, 1: 1.5} and st.sensor_faults == 0
    drivers = sorted(m for m in sys.modules if m.startswith("drivers."))
    assert drivers == ["drivers.adc", "drivers.analog", "drivers.bh1750", "drivers.registry",
                       "drivers.shared"], drivers


def test_a_borrowed_phase_gives_every_driver_and_bus_back():
    """The node samples inside heap.Borrowed: whatever the round imported (the sampler,
    drivers, the emulated board's buses and chip models) goes when the block ends."""
    import heap

    board = world()
    with heap.Borrowed():  # the names the modules intern stay: count them out
        run(board, config(ALL))
    before = gc.mem_alloc()
    kept = set(sys.modules)
    with heap.Borrowed():
        run(board, config(ALL))
        assert "sampler" in sys.modules and "chips.bme280" in sys.modules
    assert set(sys.modules) == kept, set(sys.modules) ^ kept
    assert gc.mem_alloc() - before < 512, gc.mem_alloc() - before


def test_the_registry_names_loadable_drivers_and_their_chip_models():
    """Every entry of drivers/registry.py: its class loads; a chip on a bus has a model of
    the same class name in chips/<driver>.py (the emulated board makes it by that name);
    a board source is one of the emulated board's."""
    import simsensors
    from drivers.registry import DRIVERS

    for name, (bus, path, quantities, addr, ms, params, board) in DRIVERS.items():
        assert ms >= 0 and (addr is None) == (bus != "i2c"), name
        if bus == "board":
            assert path is None and board == "unix" and name in simsensors.DRIVERS, name
            continue
        mod, cls = path
        assert hasattr(__import__(mod, None, None, (cls,)), cls), name
        if bus == "adc":
            continue
        assert bus in ("i2c", "onewire") and quantities, name
        assert hasattr(__import__("chips." + name, None, None, (cls,)), cls), name
