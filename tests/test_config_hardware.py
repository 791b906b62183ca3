"""Config validation of the hardware settings: board models and pins per chip, I2C,
power, ADC calibration and the register-level sensor drivers. The device (MicroPython)
and the host command give the same errors (tests/test_config.py's harness)."""

import json
import sys

import pytest

from tests.test_config import base, device_errors, write
from tools import check_config
from tools.dev import unixport as mpy

sys.path.insert(0, str(mpy.ROOT / "lib"))
import config  # noqa: E402  (the validator itself, for its tables)

WIFI = {"ssid": "x", "password": "y"}


def esp32(**over):
    over.setdefault("sensors", [{"slug": "t", "driver": "adc", "pin": 34}])
    return base(board="esp32", wifi=WIFI, **over)


CASES = [
    (esp32(board_model="lolin_d33"),
     ['board_model: expected one of "esp32_devkitc", "esp32c3_devkitm", "esp32s3_devkitc", '
      '"firebeetle_esp32", "lolin_d32", got "lolin_d33"']),
    (esp32(pins={"sda": 34, "scl": 7, "led": 40, "buzzer": 3}),
     ["pins.buzzer: unknown pin (known: sda, scl, led, button)",
      "pins.sda: GPIO 34 is input only on the ESP32",
      "pins.scl: GPIO 7 is wired to the flash or PSRAM on the ESP32",
      "pins.led: the ESP32 has no GPIO 40",
      "sensors[0].pin: GPIO 34 is already the I2C SDA pin (pins.sda)"]),
    (esp32(pins={"sda": 22}), ["pins.scl: GPIO 22 is already the I2C SDA pin (pins.sda)"]),
    (esp32(board_model="esp32s3_devkitc", battery={"source": "adc", "pin": 12},
           sensors=[{"slug": "a", "driver": "adc", "pin": 39},
                    {"slug": "b", "driver": "analog", "pin": 34}]),
     ["battery.pin: GPIO 12 is on ADC2, which cannot be read while Wi-Fi is on; "
      "use an ADC1 pin (1-10 on the ESP32-S3)",
      "sensors[0].pin: GPIO 39 has no ADC; use an ADC1 pin (1-10 on the ESP32-S3)",
      "sensors[1].pin: GPIO 34 is wired to the flash or PSRAM on the ESP32-S3"]),
    (esp32(board_model="esp32c3_devkitm", sensors=[
        {"slug": "a", "driver": "adc", "pin": 5}, {"slug": "b", "driver": "adc", "pin": 25}]),
     ["sensors[0].pin: GPIO 5 is on ADC2, which cannot be read while Wi-Fi is on; "
      "use an ADC1 pin (0-4 on the ESP32-C3)",
      "sensors[1].pin: the ESP32-C3 has no GPIO 25"]),
    (esp32(battery={"source": "adc"}, safe_mode_pin=6),
     ["safe_mode_pin: GPIO 6 is wired to the flash or PSRAM on the ESP32",
      "battery.pin: missing (expected an integer)"]),  # the DevKitC has no divider
    (base(sensors=[{"slug": "a", "driver": "bme280"},
                   {"slug": "b", "driver": "sht4x", "quantity": "pressure", "addr": "0x90"},
                   {"slug": "c", "driver": "bh1750", "addr": "zz"},
                   {"slug": "d", "driver": "bh1750", "addr": 0x5C, "mode": 1}]),
     ['sensors[0].quantity: missing (expected one of "temperature", "pressure", "humidity")',
      'sensors[1].quantity: expected one of "temperature", "humidity", got "pressure"',
      'sensors[1].addr: expected an I2C address 0x08-0x77 (a number, or a string like '
      '"0x76"), got "0x90"',
      'sensors[2].addr: expected an I2C address 0x08-0x77 (a number, or a string like '
      '"0x76"), got "zz"',
      "sensors[3].mode: unknown setting"]),
    # a new I2C driver gets "addr" and the I2C pins' checks from its registry entry alone
    (esp32(sensors=[{"slug": "a", "driver": "tmp117", "quantity": "temperature"},
                    {"slug": "b", "driver": "tmp117", "addr": 0x80},
                    {"slug": "c", "driver": "ds18b20", "pin": 22}]),
     ["sensors[0].quantity: unknown setting",
      "sensors[1].addr: expected an I2C address 0x08-0x77 (a number, or a string like "
      '"0x76"), got 128',
      "sensors[2].pin: GPIO 22 is already the I2C SCL pin (pins.scl)"]),
    (base(sensors=[{"slug": "a", "driver": "ds18b20", "pin": 4, "rom": "28ff"},
                   {"slug": "b", "driver": "ds18b20", "pin": 4, "rom": "2801000000000000"},
                   {"slug": "c", "driver": "ds18b20"}]),
     ['sensors[0].rom: expected 16 hex digits (as OneWire.scan() gives them), got "28ff"',
      "sensors[1].rom: 2801000000000000 is not a DS18B20 ROM code (family 0x28, CRC last)",
      "sensors[2].pin: missing (expected an integer)"]),
    (base(sensors=[{"slug": "a", "driver": "analog", "pin": 34, "table": [[1, 5], [1, 6]]},
                   {"slug": "b", "driver": "analog", "pin": 34, "table": [[1, 5], [2, 6]],
                    "scale": 2},
                   {"slug": "c", "driver": "analog", "pin": 34, "vmin": 3, "vmax": 1},
                   {"slug": "d", "driver": "analog", "pin": 34, "table": [1, 2], "samples": 0}]),
     ["sensors[0].table: table volts must increase: 1 after 1",
      "sensors[1].table: give a table, or scale and offset (with vmin, vmax), not both",
      "sensors[2].vmax: must be above vmin",
      "sensors[3].samples: must be between 1 and 256, got 0",
      "sensors[3].table: expected a list of 2-16 [volts, value] pairs, got [1, 2]"]),
    (base(power="solar", i2c={"freq": 5000000, "pullup": True},
          adc_cal={"x": [], "34": [[1, 1.5], [2, 2.5]], "35": [[1, 1], [1, 2]]}),
     ['power: expected one of "battery", "mains", got "solar"',
      "i2c.freq: must be between 10000 and 1000000, got 5000000",
      "i2c.pullup: unknown setting",
      "adc_cal.34: gain 1.000, offset 0.500 V: not a calibration of a working ADC "
      "(expected gain 0.8-1.25, offset within 0.25 V)",
      "adc_cal.35: expected two [read volts, true volts] points at different voltages, "
      "got [[1, 1], [1, 2]]",
      "adc_cal.x: expected a GPIO number as the key"]),
]


@pytest.mark.parametrize("cfg,expected", CASES)
def test_hardware_errors_on_device_and_host(tmp_path, cfg, expected):
    path = write(tmp_path, cfg)
    assert device_errors(path) == expected
    assert check_config.check(path)[1] == expected


def check(tmp_path, cfg):
    got, errors = check_config.check(write(tmp_path, cfg))
    assert errors == []
    return got


def test_board_model_defaults_and_overrides(tmp_path):
    cfg = check(tmp_path, esp32(board_model="lolin_d32", battery={"source": "adc"}))
    assert cfg["pins"] == {"sda": 21, "scl": 22, "led": 5, "button": None}
    assert cfg["led_active_low"] is True and cfg["safe_mode_pin"] is None
    assert cfg["battery"] == {"source": "adc", "pin": 35, "ratio": 2.0, "samples": 16, "cal": None}
    assert cfg["i2c"] == {"sda": 21, "scl": 22, "freq": 100000, "soft": False}
    assert cfg["power"] == "battery" and cfg["chip"] == "esp32"
    cfg = check(tmp_path, esp32(board_model="lolin_d32", pins={"led": 2, "sda": 25, "scl": 26},
                                battery={"source": "adc", "pin": 33, "ratio": 3.2},
                                i2c={"soft": True, "freq": 400000}, power="mains"))
    assert cfg["pins"]["led"] == 2 and cfg["led_active_low"] is False  # another LED: lit high
    assert cfg["battery"]["pin"] == 33 and cfg["battery"]["ratio"] == 3.2
    assert cfg["i2c"] == {"sda": 25, "scl": 26, "freq": 400000, "soft": True}
    assert cfg["power"] == "mains"
    cfg = check(tmp_path, esp32())  # no model: a DevKitC, its BOOT button the safe-mode pin
    assert cfg["board_model"] == "esp32_devkitc" and cfg["safe_mode_pin"] == 0
    assert check(tmp_path, base())["board_model"] is None  # the emulated board has none


def test_chip_sensors_and_calibration_are_normalised(tmp_path):
    from drivers.crc8 import dallas

    rom = bytearray(b"\x28\xaa\x01\x02\x03\x04\x05\x00")
    rom[7] = dallas(rom, 0, 7)
    cfg = check(tmp_path, base(
        adc_cal={"34": [[1.0, 1.015], [2.0, 2.035]]},
        sensors=[{"slug": "t", "driver": "bme280", "quantity": "temperature", "addr": "0x77"},
                 {"slug": "h", "driver": "sht4x", "quantity": "humidity"},
                 {"slug": "l", "driver": "bh1750", "addr": 92},
                 {"slug": "w", "driver": "ds18b20", "pin": 4, "rom": rom.hex().upper()},
                 {"slug": "m", "driver": "analog", "pin": 34, "table": [[0.5, 100], [2.5, 0]]},
                 {"slug": "p", "driver": "adc", "pin": 35},
                 {"slug": "q", "driver": "tmp117"},
                 {"slug": "r", "driver": "tmp117", "addr": "0x4B"}]))
    s = cfg["sensors"]
    assert (s[0]["addr"], s[1]["addr"], s[2]["addr"]) == (0x77, 0x44, 0x5C)
    assert (s[6]["addr"], s[7]["addr"]) == (0x48, 0x4B)  # the TMP117's default, ADD0 to SCL
    assert s[3]["rom"] == rom.hex().upper()
    assert s[4]["table"] == [[0.5, 100.0], [2.5, 0.0]]
    assert s[4]["cal"] == pytest.approx([1.02, -5000.0]) and s[5]["cal"] is None
    json.dumps(cfg)  # safemode caches the normalised config as JSON


def test_every_board_model_is_consistent_with_its_chip():
    for name, m in config.BOARD_MODELS.items():
        c = config._Checker(None)
        for pin, output in ((m.sda, True), (m.scl, True), (m.led, True), (m.button, False)):
            if pin is not None:
                assert config._gpio(c, pin, m.chip, name, output), c.errors
        if m.battery_pin is not None:
            config._adc_pin(c, m.battery_pin, m.chip, name)
            assert m.battery_ratio > 1
        assert c.errors == [] and m.sleep_ua > 0 and m.sda != m.scl
    lolin = config.BOARD_MODELS["lolin_d32"]
    assert (lolin.battery_pin, lolin.battery_ratio, lolin.led, lolin.led_active_low) == (
        35, 2.0, 5, True)


def test_ds18b20s_sharing_a_pin_must_each_name_their_rom():
    cfg = {"board": "esp32", "board_model": "esp32_devkitc",
           "api": {"base_url": "https://x/api/v1", "token": "t", "ca_cert": "ca.der",
                   "device_uuid": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"},
           "wifi": {"ssid": "net"},
           "sensors": [{"slug": "a", "driver": "ds18b20", "pin": 4},
                       {"slug": "b", "driver": "ds18b20", "pin": 4},
                       {"slug": "c", "driver": "ds18b20", "pin": 5}]}
    with pytest.raises(config.ConfigError) as e:
        config.validate(cfg)
    need = "required: 2 DS18B20s share GPIO 4 (give each its ROM code, from OneWire.scan())"
    assert [x for x in e.value.errors if ".rom" in x] == [
        "sensors[0].rom: " + need, "sensors[1].rom: " + need]


def rom(serial):
    from drivers.crc8 import dallas

    code = bytearray(b"\x28" + bytes([serial]) + bytes(6))
    code[7] = dallas(code, 0, 7)
    return code.hex()


@pytest.mark.host
def test_a_pin_is_shared_only_by_what_can_share_it(tmp_path):
    cfg = check(tmp_path, esp32(sensors=[
        {"slug": "a", "driver": "ds18b20", "pin": 4, "rom": rom(1)},
        {"slug": "b", "driver": "ds18b20", "pin": 4, "rom": rom(2)},  # one 1-Wire bus
        {"slug": "c", "driver": "bme280", "quantity": "temperature"},
        {"slug": "d", "driver": "sht4x", "quantity": "humidity"},  # one I2C bus
        {"slug": "e", "driver": "analog", "pin": 34},
        {"slug": "f", "driver": "adc", "pin": 34}]))  # one input read two ways
    assert cfg["warnings"] == []
    errors = check_config.check(write(tmp_path, esp32(
        board_model="firebeetle_esp32", safe_mode_pin=2,
        sensors=[{"slug": "a", "driver": "ds18b20", "pin": 33},
                 {"slug": "b", "driver": "adc", "pin": 33}])))[1]
    assert errors == ["safe_mode_pin: GPIO 2 is already the status LED pin (pins.led)",
                      "sensors[1].pin: GPIO 33 is already a 1-Wire bus (sensors[0].pin)"]


@pytest.mark.host
def test_the_i2c_pins_count_once_used_or_set(tmp_path):
    """A DevKitC without I2C sensors may use GPIO 21 for a DS18B20; with one, or with the
    pins set, it may not."""
    ds = {"slug": "t", "driver": "ds18b20", "pin": 21}
    assert check(tmp_path, esp32(sensors=[ds]))["pins"]["sda"] == 21
    errors = check_config.check(write(tmp_path, esp32(sensors=[ds], pins={"scl": 23})))[1]
    assert errors == ["sensors[0].pin: GPIO 21 is already the I2C SDA pin (pins.sda)"]


STRAPPING = ("%s: GPIO %d is a strapping pin of the %s: if what is wired to it pulls it "
             "high or low during a reset, the chip may not start the firmware")


@pytest.mark.host
def test_strapping_pins_warn_only_when_the_config_sets_them(tmp_path):
    for model in config.BOARD_MODELS:  # their own LED and BOOT button are the documented use
        assert check(tmp_path, esp32(board_model=model, sensors=[
            {"slug": "t", "driver": "bme280", "quantity": "temperature"}]))["warnings"] == []
    cfg = check(tmp_path, esp32(pins={"led": 2}, battery={"source": "adc", "pin": 33}))
    assert cfg["warnings"] == [STRAPPING % ("pins.led", 2, "ESP32")]
    cfg = check(tmp_path, esp32(board_model="esp32s3_devkitc", sensors=[
        {"slug": "t", "driver": "adc", "pin": 3}, {"slug": "u", "driver": "adc", "pin": 3}]))
    assert cfg["warnings"] == [STRAPPING % ("sensors[0].pin", 3, "ESP32-S3")]
    cfg = check(tmp_path, esp32(board_model="esp32c3_devkitm", safe_mode_pin=9, sensors=[
        {"slug": "t", "driver": "ds18b20", "pin": 8}]))
    assert cfg["warnings"] == [STRAPPING % ("safe_mode_pin", 9, "ESP32-C3"),
                               STRAPPING % ("sensors[0].pin", 8, "ESP32-C3")]
