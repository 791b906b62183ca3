"""Every sensor driver a config can name, and what the rest of the node needs to know of it.

The validator (lib/configsensors.py) checks a sensor's parameters against its entry, the
sampler (firmware/sampler.py) opens the driver by it, the emulated board (boards/unix)
puts the driver's chip model on its simulated bus at the default address,
tools/battery_life.py counts the measurement time. One table that imports no driver: the
validator and the sampler read it without loading driver code (3.7 KB of heap for this
table, 12.9 KB for the ten modules of drivers/, on the 32-bit port: docs/drivers.md), and
host tools read it under CPython. A new driver is one line here.
"""

from collections import namedtuple

# Parameter kinds. Named, not literal, so the tuples are built at import and their
# strings are qstrs (a .mpy loads a literal tuple's strings as plain str objects): the
# config's keys, parsed by the validator, are then the same objects, not a copy each.
INT, NUM, STR, BOOL, POINTS = "int", "num", "str", "bool", "points"

# bus         "i2c": the class is made as cls(i2c, addr); "onewire": cls(bus, ROM code
#             bytes or None); config sensors naming one chip (driver and address, or pin
#             and ROM) share its measurement a round (drivers/shared.py). "adc":
#             cls(board, sensor config). "board": the board's own signal source,
#             board.sensor_driver(name)(board, sensor config), on the emulated board only
# cls         ("module", "Class"); None for a board source
# quantities  what measure() returns, in order: a tuple of them, or one value when a
#             single name is given (or None: what the config's scaling makes of it).
#             With more than one, the config's "quantity" picks it (validated)
# addr        the default I2C address (the config's "addr" may name another); None off I2C
# measure_ms  what one measurement waits on the chip (tools/battery_life.py)
# params      the config parameters besides "quantity" and "addr": (name, kind[, default
#             [, lowest, highest]]), required when there is no default. A kind is INT,
#             NUM, STR, BOOL, POINTS (an analog table) or a tuple of the strings allowed
# board       the board it runs on, or None for every board
Driver = namedtuple("Driver", ("bus", "cls", "quantities", "addr", "measure_ms", "params",
                               "board"))

DRIVERS = {
    "adc": Driver("adc", ("drivers.adc", "Analog"), None, None, 1,
                  (("pin", INT), ("scale", NUM, 1.0), ("offset", NUM, 0.0),
                   ("samples", INT, 8, 1, 256)), None),
    "analog": Driver("adc", ("drivers.adc", "Analog"), None, None, 1,
                     (("pin", INT), ("samples", INT, 8, 1, 256), ("scale", NUM, 1.0),
                      ("offset", NUM, 0.0), ("vmin", NUM, None), ("vmax", NUM, None),
                      ("table", POINTS, None)), None),
    "bh1750": Driver("i2c", ("drivers.bh1750", "BH1750"), ("illuminance",), 0x23, 180, (),
                     None),
    "bme280": Driver("i2c", ("drivers.bme280", "BME280"),
                     ("temperature", "pressure", "humidity"), 0x76, 12, (), None),
    "ds18b20": Driver("onewire", ("drivers.ds18b20", "DS18B20"), ("temperature",), None, 750,
                      (("pin", INT), ("rom", STR, None)), None),
    "sht3x": Driver("i2c", ("drivers.sht3x", "SHT3x"), ("temperature", "humidity"), 0x44, 18,
                    (), None),
    "sht4x": Driver("i2c", ("drivers.sht4x", "SHT4x"), ("temperature", "humidity"), 0x44, 20,
                    (), None),
    "tmp117": Driver("i2c", ("drivers.tmp117", "TMP117"), ("temperature",), 0x48, 125, (),
                     None),
    "wave": Driver("board", None, None, None, 0,
                   (("shape", ("sine", "triangle", "square", "saw"), "sine"),
                    ("period_s", NUM, 3600.0, 1, 31536000), ("amplitude", NUM, 1.0),
                    ("offset", NUM, 0.0), ("phase_s", NUM, 0.0, -31536000, 31536000)), "unix"),
    "replay": Driver("board", None, None, None, 0,
                     (("file", STR), ("column", INT, 0, 0, 255), ("loop", BOOL, True)), "unix"),
}
