"""The config's sensors: each against its driver's registry entry (drivers/registry.py),
their weight against the node's heap, and the health figures sent as readings
(lib/config.py runs them)."""

import gc

from confighw import adc_pin, gpio
from configkit import (ADDR, BOOL, HEX, INT, NUM, POINTS, REQUIRED, STR, is_int, is_num,
                       is_slug, is_uuid, names, show, source)
from drivers.registry import DRIVERS

# The sensor table, the normalised config and a wake's readings must fit the node's heap.
# What the node's heap holds for sensors, in thousandths of what fits with 10 % to spare
# in an ESP32's 111,936 bytes, measured on the 32-bit unix port (make bench, table "A
# whole wake"; tests/test_heap.py): 40 sensors, 24 with 64-character slugs and UUIDs, 28
# analog inputs with 2-point tables, or 9 with 16 points each; every config whose
# weights add up to BUDGET or less fits.
BUDGET = 1000
WEIGHT = 25  # a sensor
WEIGHT_POINT = 5  # a point of its table
NAME_CHARS = 6  # characters of its slug and uuid that weigh one more
# The config's limit, from the heap. The spool's is apart: a record names its sensor in
# one byte, so firmware/sensortable.py keeps up to 255 identities, removed sensors' among
# them.
MAX_SENSORS = BUDGET // WEIGHT

# node health figures that can be sent as readings (config "health": {figure: slug})
HEALTH = ("spool_depth", "dropped", "dead_letters", "http_status", "reset_cause",
          "min_free_heap", "rssi", "wifi_connect_ms", "tls_handshakes", "unsure",
          "awake_ms", "radio_ms", "bytes_sent", "flash_writes", "version", "update", "rollbacks")
_KINDS = {"int": INT, "num": NUM, "str": STR, "bool": BOOL, "points": POINTS}


def sensors(c, raw, board, base_dir, chip, cal):
    items = raw.get("sensors")
    if type(items) is not list or not items:
        c.err("sensors", "expected a non-empty list of sensors, got %s" % show(items))
        return []
    if len(items) > MAX_SENSORS:
        c.err("sensors", "at most %d sensors fit the node's memory, got %d"
              % (MAX_SENSORS, len(items)))
    out, seen, specs = [], {}, {}
    for i, s in enumerate(items):
        # Each sensor's checks leave garbage between the sensors kept; collected at
        # once, MicroPython's heap stays in one piece (the largest config validates in
        # 63K of the 32-bit port's heap, not 111K).
        gc.collect()
        path = "sensors[%d]" % i
        if type(s) is not dict:
            c.err(path, "expected an object, got %s" % show(s))
            continue
        slug = c.field(s, "slug", path + ".slug", STR, None)
        uuid = c.field(s, "uuid", path + ".uuid", STR, None)
        if slug is None and uuid is None and "slug" not in s and "uuid" not in s:
            c.err(path, "needs a slug or a uuid (or both)")
        if type(slug) is str and not is_slug(slug):
            c.err(path + ".slug", "expected 1-64 letters, digits, '_', '-' or '.', got %s"
                  % show(slug))
        if type(uuid) is str and not is_uuid(uuid):
            c.err(path + ".uuid", "expected a UUID, got %s" % show(uuid))
        for key in ("slug", "uuid"):
            v = s.get(key)
            if type(v) is str:
                if (key, v) in seen:
                    c.err("%s.%s" % (path, key), '"%s" is already used by sensors[%d]'
                          % (v, seen[(key, v)]))
                seen[(key, v)] = i
        sensor = {"index": i, "slug": slug, "uuid": uuid,
                  "driver": c.field(s, "driver", path + ".driver", STR)}
        entry = source(c, DRIVERS, sensor["driver"], board, path + ".driver", "driver")
        if entry is not None:
            spec = specs.get(sensor["driver"])
            if spec is None:
                spec = specs[sensor["driver"]] = _driver_spec(entry)
            c.params(s, spec, path, sensor)
            _sensor_params(c, s, sensor, entry.bus, path, chip, cal)
            if sensor["driver"] == "replay":
                sensor["file"] = c.file(sensor["file"], path + ".file", base_dir)[0]
            c.unknown(s, names(spec) + ["slug", "uuid", "driver"], path)
        out.append(sensor)
    _one_wire_roms(c, out)
    weight = sum(WEIGHT + WEIGHT_POINT * len(s.get("table") or ())
                 + (len(s["slug"] or "") + len(s["uuid"] or "")) // NAME_CHARS for s in out)
    if weight > BUDGET and len(items) <= MAX_SENSORS:
        c.err("sensors", "these sensors need %d%% of the node's memory for sensors (each "
              "takes 2.5%%, each point of its table 0.5%% more, each 6 characters of its "
              "slug and uuid 0.1%% more): use fewer sensors, shorter tables or shorter "
              "slugs" % ((weight + 9) // 10))
    return out


def _driver_spec(entry):
    """A registry entry's parameters as params() takes them: "quantity" first when the
    chip measures several, then "addr" on I2C, then the driver's own."""
    spec = []
    if entry.quantities and len(entry.quantities) > 1:
        spec.append(("quantity", entry.quantities, REQUIRED))
    if entry.addr is not None:
        spec.append(("addr", ADDR, entry.addr))
    for p in entry.params:
        kind = p[1] if type(p[1]) is tuple else _KINDS[p[1]]
        spec.append((p[0], kind, p[2] if len(p) > 2 else REQUIRED) + p[3:])
    return spec


def _sensor_params(c, s, sensor, bus, path, chip, cal):
    """The checks of one driver's parameters beyond their types."""
    driver = sensor["driver"]
    if bus == "adc":
        adc_pin(c, sensor["pin"], chip, path + ".pin")
        sensor["cal"] = cal.get(sensor["pin"])
    elif bus == "onewire":
        gpio(c, sensor["pin"], chip, path + ".pin", output=True)
    if driver == "analog":
        lo, hi = sensor["vmin"], sensor["vmax"]
        if sensor["table"] is not None and any(k in s for k in ("scale", "offset", "vmin", "vmax")):
            c.err(path + ".table", "give a table, or scale and offset (with vmin, vmax), not both")
        elif is_num(lo) and is_num(hi) and not lo < hi:
            c.err(path + ".vmax", "must be above vmin")
    elif driver == "ds18b20":
        _rom(c, sensor["rom"], path + ".rom")


def _rom(c, rom, path):
    """A DS18B20 ROM code: 16 hex digits, family code 0x28 first, Dallas CRC last."""
    if type(rom) is not str:
        return
    from drivers.crc8 import dallas

    code = b""
    if len(rom) == 16 and all(ch in HEX for ch in rom.lower()):  # CPython's int() takes more
        code = bytes(int(rom[i:i + 2], 16) for i in range(0, 16, 2))
    if len(code) != 8:
        c.err(path, "expected 16 hex digits (as OneWire.scan() gives them), got %s" % show(rom))
    elif code[0] != 0x28 or dallas(code, 0, 8):
        c.err(path, "%s is not a DS18B20 ROM code (family 0x28, CRC last)" % rom)


def _one_wire_roms(c, sensors):
    """Several DS18B20s on one pin must each name their ROM: without one, the driver
    addresses "whichever answers" (SKIP ROM) and they would all read as one."""
    on = {}
    for s in sensors:
        if s.get("driver") == "ds18b20" and is_int(s.get("pin")):
            on[s["pin"]] = on.get(s["pin"], 0) + 1
    for s in sensors:  # in their order: a dict's order differs between MicroPython and CPython
        n = on.get(s.get("pin")) if s.get("driver") == "ds18b20" else None
        if n and n > 1 and not s.get("rom"):
            c.err("sensors[%d].rom" % s["index"], "required: %d DS18B20s share GPIO %d "
                  "(give each its ROM code, from OneWire.scan())" % (n, s["pin"]))


def health(c, raw, sensors):
    """{figure: slug}: node health figures sent as readings of these sensor slugs."""
    h = c.obj(raw, "health", "health", required=False)
    taken = {s["slug"] for s in sensors if s.get("slug")}
    out = {}
    for name in sorted(h):
        slug = h[name]
        path = "health." + name
        if name not in HEALTH:
            c.err(path, "unknown health figure (known: %s)" % ", ".join(HEALTH))
        elif type(slug) is not str or not is_slug(slug):
            c.err(path, "expected a sensor slug, got %s" % show(slug))
        elif slug in taken:
            c.err(path, '"%s" is already used by a sensor or health figure' % slug)
        else:
            taken.add(slug)
            out[name] = slug
    return out
