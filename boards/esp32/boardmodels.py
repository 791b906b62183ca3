"""The ESP32 chips and board models a config can name: pin tables and board defaults.

Board knowledge, kept with the ESP32 board; the validator reads it on every board (the
emulated one checks esp32 configs too) and in the host tools under CPython, so
tools/build.py deploys it to lib/ on both boards and tools/check_config.py puts this
folder on the host's path. Ranges are (first, last) GPIO pairs.
"""

from collections import namedtuple

# The chips' pin tables from their datasheets: ESP32 §2.2, §2.4 and §4.1.2 (ADC2 cannot
# be used with Wi-Fi on: MicroPython docs/esp32/quickref.rst, "ADC"), ESP32-S3 §2.3 and §2.6 (ADC1 GPIO1-10,
# ADC2 GPIO11-20; 26-32 flash, 33-37 octal PSRAM on R8 modules), ESP32-C3 §2.3 and §2.4
# (ADC1 GPIO0-4, ADC2 GPIO5; 12-17 flash).
Chip = namedtuple("Chip", ("name", "gpios", "flash", "input_only", "adc1", "adc2",
                           "strapping"))
CHIPS = {
    "esp32": Chip(name="ESP32", gpios=((0, 19), (21, 23), (25, 27), (32, 39)),
                  flash=((6, 11),), input_only=((34, 39),), adc1=((32, 39),),
                  adc2=((0, 0), (2, 2), (4, 4), (12, 15), (25, 27)),
                  strapping=((0, 0), (2, 2), (5, 5), (12, 12), (15, 15))),
    "esp32s3": Chip(name="ESP32-S3", gpios=((0, 21), (26, 48)), flash=((26, 37),),
                    input_only=(), adc1=((1, 10),), adc2=((11, 20),),
                    strapping=((0, 0), (3, 3), (45, 46))),
    "esp32c3": Chip(name="ESP32-C3", gpios=((0, 21),), flash=((12, 17),), input_only=(),
                    adc1=((0, 4),), adc2=((5, 5),), strapping=((2, 2), (8, 9))),
}

# A board: its chip, the I2C pins, the status LED (None: none that is a plain LED) and
# whether it lights when driven low, the button read as the safe-mode pin, the battery
# divider's ADC pin and ratio (R1+R2)/R2, and the bare board's deep-sleep current in µA.
Model = namedtuple("Model", ("chip", "sda", "scl", "led", "led_active_low", "button",
                             "battery_pin", "battery_ratio", "sleep_ua"))
BOARD_MODELS = {
    # Espressif ESP32-DevKitC V4: no user LED (power LED only), BOOT button GPIO0; I2C on
    # the Arduino core's default 21/22. Sleep current: estimate (AMS1117 regulator,
    # USB-UART bridge and power LED stay powered; a DOIT DevKit V1 was measured at
    # 17 mA, blog.altholtmann.com/en/consumption-esp-wifi-battery).
    "esp32_devkitc": Model(chip="esp32", sda=21, scl=22, led=None, led_active_low=False,
                           button=0, battery_pin=None, battery_ratio=None, sleep_ua=10000),
    # Wemos LOLIN D32: LED GPIO5, battery on GPIO35 through 100k/100k (arduino-esp32
    # variants/d32/pins_arduino.h: LED_BUILTIN 5, _VBAT 35); no BOOT button (auto-reset
    # circuit only). Sleep current: estimate from its predecessor LOLIN32 V1.0.0, 130 µA
    # measured on battery (github.com/grillbaer/esp32-power-consumption-test).
    "lolin_d32": Model(chip="esp32", sda=21, scl=22, led=5, led_active_low=True,
                       button=None, battery_pin=35, battery_ratio=2.0, sleep_ua=130),
    # DFRobot FireBeetle ESP32 (DFR0478): LED GPIO2 (D9, lit when high), BOOT button
    # GPIO0; battery sensing needs an external divider (no default). 10 µA measured in
    # deep sleep (lucidar.me/en/esp32/power-consumption-of-esp32-firebeetle-dfr0478/).
    "firebeetle_esp32": Model(chip="esp32", sda=21, scl=22, led=2, led_active_low=False,
                              button=0, battery_pin=None, battery_ratio=None, sleep_ua=10),
    # Espressif ESP32-S3-DevKitC-1: the RGB LED (GPIO48 or 38) is addressable, not a
    # plain LED; BOOT button GPIO0; I2C on the Arduino core's default 8/9. Estimate.
    "esp32s3_devkitc": Model(chip="esp32s3", sda=8, scl=9, led=None, led_active_low=False,
                             button=0, battery_pin=None, battery_ratio=None, sleep_ua=10000),
    # Espressif ESP32-C3-DevKitM-1: the RGB LED (GPIO8) is addressable; BOOT button GPIO9;
    # GPIO8/9 are taken by LED and button, so I2C is put on 6/7. Estimate.
    "esp32c3_devkitm": Model(chip="esp32c3", sda=6, scl=7, led=None, led_active_low=False,
                             button=9, battery_pin=None, battery_ratio=None, sleep_ua=10000),
}
