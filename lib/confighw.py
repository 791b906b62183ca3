"""The config's sections about the hardware: the board model and its pins, I2C, ADC
calibration, the battery and its power bands, and every GPIO serving one function
(lib/config.py runs them). Pin tables and board models: boards/esp32/boardmodels.py.
"""

from collections import namedtuple

from boardmodels import BOARD_MODELS, CHIPS
from configkit import (BOOL, HEX, INT, NUM, REQUIRED, STR, WEEK, bus, is_int, is_num, names,
                       show, source, within)

PINS = ("sda", "scl", "led", "button")
_SHARED = {"adc": "an ADC input", "onewire": "a 1-Wire bus"}  # pins several sensors share
_MAX_BANDS = 8
_DIGITS = HEX[:10]

# Battery sources are not sensor drivers (the sampler reads them apart, before the radio
# is on): params as a driver's (drivers/registry.py), board the only one it runs on.
Source = namedtuple("Source", ("params", "board"))
BATTERY_SOURCES = {
    "none": Source((), None),
    "adc": Source((("pin", INT, REQUIRED), ("ratio", NUM, 2.0, 1, 20),
                   ("samples", INT, 16, 1, 256)), None),
    "sim": Source((("full_v", NUM, 4.2, 0, 100), ("empty_v", NUM, 3.3, 0, 100),
                   ("hours", NUM, 72.0, 0.1, 87600)), "unix"),
}


def board_model(c, raw, board, cfg):
    """The board model's definition (None without one), and its pins with the config's
    overrides in cfg["pins"]; the esp32 board is a DevKitC unless told otherwise."""
    name = c.field(raw, "board_model", "board_model", tuple(sorted(BOARD_MODELS)),
                   "esp32_devkitc" if board == "esp32" else None)
    model = BOARD_MODELS.get(name)
    cfg["board_model"] = name if model else None
    cfg["chip"] = chip = model.chip if model else None
    pins = dict(zip(PINS, (model.sda, model.scl, model.led, model.button) if model
                    else (None,) * 4))
    over = c.obj(raw, "pins", "pins", required=False)
    for key in sorted(over):
        if key not in PINS:
            c.err("pins." + key, "unknown pin (known: %s)" % ", ".join(PINS))
        else:
            pins[key] = c.field(over, key, "pins." + key, INT, None)
    for key in PINS:
        gpio(c, pins[key], chip, "pins." + key, output=key != "button")
    cfg["pins"] = pins
    # a LED given in the config is taken as lit when high
    cfg["led_active_low"] = bool(model and model.led_active_low and pins["led"] == model.led)
    return model


def gpio(c, pin, chip, path, output=False):
    """True when `pin` is a GPIO the chip lets us use (no chip known: 0-39)."""
    if not is_int(pin):
        return False
    if chip is None:
        if 0 <= pin <= 39:
            return True
        c.err(path, "expected a GPIO number 0-39, got %d" % pin)
        return False
    spec = CHIPS[chip]
    if not within(pin, spec.gpios):
        c.err(path, "the %s has no GPIO %d" % (spec.name, pin))
    elif within(pin, spec.flash):
        c.err(path, "GPIO %d is wired to the flash or PSRAM on the %s" % (pin, spec.name))
    elif output and within(pin, spec.input_only):
        c.err(path, "GPIO %d is input only on the %s" % (pin, spec.name))
    else:
        return True
    return False


def adc_pin(c, pin, chip, path):
    if not gpio(c, pin, chip, path) or chip is None:
        return
    name, adc1, adc2 = CHIPS[chip].name, CHIPS[chip].adc1, CHIPS[chip].adc2
    if within(pin, adc1):
        return
    span = "%d-%d" % adc1[0] + ("" if chip == "esp32" else " on the " + name)
    if within(pin, adc2):
        c.err(path, "GPIO %d is on ADC2, which cannot be read while Wi-Fi is on; "
              "use an ADC1 pin (%s)" % (pin, span))
    else:
        c.err(path, "GPIO %d has no ADC; use an ADC1 pin (%s)" % (pin, span))


def i2c(c, raw, pins):
    b = c.obj(raw, "i2c", "i2c", required=False)
    out = {}
    c.params(b, (("freq", INT, 100000, 10000, 1000000), ("soft", BOOL, False)), "i2c", out)
    c.unknown(b, out, "i2c")
    out["sda"], out["scl"] = pins["sda"], pins["scl"]
    return out


def adc_cal(c, raw, chip):
    """{pin: [gain, offset µV]} from two-point calibrations {"34": [[read V, true V], x2]}:
    volts the node read against a meter, at the pin."""
    cal = {}
    given = c.obj(raw, "adc_cal", "adc_cal", required=False)
    for key in sorted(given):
        pts = given[key]
        path = "adc_cal." + key
        if not key or any(ch not in _DIGITS for ch in key):  # CPython's int() takes more
            c.err(path, "expected a GPIO number as the key")
            continue
        pin = int(key)
        adc_pin(c, pin, chip, path)
        if (type(pts) is not list or len(pts) != 2 or any(
                type(p) is not list or len(p) != 2 or not (is_num(p[0]) and is_num(p[1]))
                for p in pts) or pts[0][0] == pts[1][0]):
            c.err(path, "expected two [read volts, true volts] points at different "
                  "voltages, got %s" % show(pts))
            continue
        (r1, t1), (r2, t2) = pts
        gain = (t2 - t1) / (r2 - r1)
        offset = t1 - gain * r1
        if not (0.8 <= gain <= 1.25 and -0.25 <= offset <= 0.25):
            c.err(path, "gain %.3f, offset %.3f V: not a calibration of a working ADC "
                  "(expected gain 0.8-1.25, offset within 0.25 V)" % (gain, offset))
            continue
        cal[pin] = [gain, offset * 1e6]
    return cal


def battery(c, raw, board, chip, model, cal):
    b = c.obj(raw, "battery", "battery", required=False) or {"source": "none"}
    out = {"source": c.field(b, "source", "battery.source", STR)}
    entry = source(c, BATTERY_SOURCES, out["source"], board, "battery.source", "battery source")
    if entry is not None:
        spec = entry.params
        if out["source"] == "adc" and model and model.battery_pin is not None:
            # the board's own divider, unless the config names another
            spec = (("pin", INT, model.battery_pin),
                    ("ratio", NUM, model.battery_ratio, 1, 20)) + spec[2:]
        c.params(b, spec, "battery", out)
        if out["source"] == "adc":
            adc_pin(c, out["pin"], chip, "battery.pin")
            out["cal"] = cal.get(out["pin"])
        c.unknown(b, names(spec) + ["source"], "battery")
    return out


def power_bands(c, raw, base, battery):
    """[(below volts, upload interval s), ...] from [{"below_v": 3.6, "upload_interval_s":
    1800}, ...]: the battery's last reading below a band's voltage stretches the upload
    interval to the band's (the lowest band it is below wins). Highest voltage first;
    an interval never shrinks as the voltage drops."""
    bands = raw.get("power_bands")
    if bands is None:
        return []
    if type(bands) is not list or len(bands) > _MAX_BANDS:
        c.err("power_bands", "expected a list of at most %d {\"below_v\": volts, "
              "\"upload_interval_s\": seconds}, got %s" % (_MAX_BANDS, show(bands)))
        return []
    out = []
    last = None  # path of the previous valid band
    for i, b in enumerate(bands):
        path = "power_bands[%d]" % i
        if type(b) is not dict:
            c.err(path, "expected an object, got %s" % show(b))
            continue
        v = c.field(b, "below_v", path + ".below_v", NUM)
        s = c.field(b, "upload_interval_s", path + ".upload_interval_s", INT)
        c.unknown(b, ("below_v", "upload_interval_s"), path)
        if is_int(s) and s > WEEK:
            c.err(path + ".upload_interval_s", "must be at most %d seconds (a week), got %d"
                  % (WEEK, s))
            continue
        if not (is_num(v) and is_int(s)):
            continue
        ok = True
        if not 0.5 <= v <= 100:
            c.err(path + ".below_v", "must be between 0.5 and 100 volts, got %s" % show(b["below_v"]))
            ok = False
        elif out and v >= out[-1][0]:
            c.err(path + ".below_v", "must be below %s.below_v (%s V): list the bands from "
                  "the highest voltage down" % (last, show(out[-1][0])))
            ok = False
        if is_int(base) and s < base:
            c.err(path + ".upload_interval_s", "must be at least upload_interval_s (%d), got %d"
                  % (base, s))
            ok = False
        elif out and s < out[-1][1]:
            c.err(path + ".upload_interval_s", "must be at least %s.upload_interval_s (%d): a "
                  "lower battery never uploads more often" % (last, out[-1][1]))
            ok = False
        if ok:
            out.append((v, s))
            last = path
    if bands and battery.get("source") == "none":
        c.err("power_bands", "needs a battery reading: set battery.source")
    return out


def check_pins(c, raw, cfg):
    """Every GPIO the config uses serves one function, and a pin the user set on one of
    the chip's strapping pins is warned about: what is wired there can change how the
    chip boots. The I2C pins count once an I2C sensor uses them or they are set."""
    pins, sensors = cfg["pins"], cfg["sensors"]
    given = raw.get("pins") if type(raw.get("pins")) is dict else {}
    users = []  # (pin, path, function, set in the config)
    if "sda" in given or "scl" in given or any(bus(s["driver"]) == "i2c" for s in sensors):
        users.append((pins["sda"], "pins.sda", "the I2C SDA pin", "sda" in given))
        users.append((pins["scl"], "pins.scl", "the I2C SCL pin", "scl" in given))
    users.append((pins["led"], "pins.led", "the status LED pin", "led" in given))
    own = "safe_mode_pin" in raw
    users.append((cfg["safe_mode_pin"], "safe_mode_pin" if own else "pins.button",
                  "the safe-mode pin", own or "button" in given))
    if cfg["battery"].get("source") == "adc":
        b = raw.get("battery")
        users.append((cfg["battery"]["pin"], "battery.pin", "the battery pin",
                      type(b) is dict and "pin" in b))
    for s in sensors:
        what = _SHARED.get(bus(s["driver"]))
        if what:
            users.append((s.get("pin"), "sensors[%d].pin" % s["index"], what, True))
    strapping = CHIPS[cfg["chip"]].strapping if cfg["chip"] else ()
    seen = {}
    for pin, path, what, own in users:
        if not is_int(pin):
            continue
        first = seen.get(pin)
        if first is None:
            seen[pin] = (path, what)
            if own and within(pin, strapping):
                c.warn(path, "GPIO %d is a strapping pin of the %s: if what is wired to it "
                       "pulls it high or low during a reset, the chip may not start the "
                       "firmware" % (pin, CHIPS[cfg["chip"]].name))
        elif what != first[1] or what not in _SHARED.values():
            c.err(path, "GPIO %d is already %s (%s)" % (pin, first[1], first[0]))
