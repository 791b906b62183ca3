"""Host tool (CPython): write a node's config.json, check it, and optionally put it on the board.

    python -m tools.provision                       # asks for what it needs (make config)
    python -m tools.provision --board esp32 --board-model lolin_d32 --token T --device-uuid U \\
        --ca-cert ca.der --wifi-ssid S --wifi-password P --sensor soil:adc:34:scale=30.3 \\
        --battery adc --safe-mode-pin 13 [--out FILE] [--port /dev/ttyUSB0]
    python -m tools.provision --upload private/config.json --port /dev/ttyUSB0

It asks (or takes as flags) what a working node needs on the chosen board: the server,
its root CA, the device, Wi-Fi on an ESP32, the battery, the sensors, and a safe-mode
pin where the board has no button to reach a sleeping node with. Each answer is checked
as it is given, with the node's own validator (lib/config.py) where it has a rule, and
asked again when wrong. A sensor is `SLUG:DRIVER[:PIN][:PARAM=VALUE...]` (a UUID in
place of the slug names the sensor by UUID); the battery is `SOURCE[:PIN][:PARAM=VALUE...]`.

The config goes to private/config.json by default (private/ is git-ignored), readable by
its owner only (mode 600: it holds the token and the Wi-Fi password, which are never
printed); the CA certificate is copied next to it, where the node's validator (make
check-config), --upload and the board look for it. --port (or --upload) copies
config.json and the CA to the root of the board and resets it (unless --no-reset).
A wrong argument or answer, or the end of input at a question: one line, exit status 2,
nothing written.
"""

import argparse
import filecmp
import getpass
import json
import os
import shutil
import sys
from pathlib import Path

from cryptography import x509

from tools import cli, devicelib, session  # noqa: F401  (devicelib: lib/ on sys.path)

import config as validator  # noqa: E402  (the device's validator)
from boardmodels import BOARD_MODELS, CHIPS  # noqa: E402
from confighw import BATTERY_SOURCES  # noqa: E402
from drivers.registry import DRIVERS  # noqa: E402

DEFAULT_URL = "https://api.sensocan.com/api/v1"
DEFAULT_OUT = "private/config.json"  # private/ is git-ignored: the file holds the token
DEFAULT_MODEL = "esp32_devkitc"  # the validator's model for an esp32 config that names none
_NAMES = ("slug", "source", "driver", "rom", "file")  # strings, even when they look like numbers
# Pins that set the chip's boot mode when held low at reset (the README's Safe mode
# section): a safe-mode switch there can start the ROM downloader instead of the node.
STRAPPING = {"esp32": (0, 2, 5, 12, 15), "esp32s3": (0, 3, 45, 46), "esp32c3": (2, 8, 9)}
SAFE_PIN_SUGGESTED = {"esp32": 13, "esp32s3": 4, "esp32c3": 10, None: 0}


class Wrong(ValueError):
    """An answer (or flag) that cannot be used: the message says why."""


# -- checking answers: the node's validator where it has the rule -------------------------

def problems(cfg, field, base_dir="", files=False):
    """What the node's validator says about `field` (and its parts) in a partial config;
    `files`: the files it names are read too."""
    try:
        validator.validate(cfg, base_dir, files)
    except validator.ConfigError as e:
        return [err for err in e.errors if err.split(":")[0] == field
                or err.startswith((field + ".", field + "["))]
    return []


def _refuse(errors):
    if errors:
        raise Wrong("; ".join(errors))


def parse_spec(text, names):
    """'soil:adc:34:scale=30.3' -> dict: bare parts take `names` in turn, the rest are
    PARAM=VALUE."""
    out, names = {}, list(names)
    for part in text.split(":"):
        key, eq, value = part.partition("=")
        if not eq:
            if not names:
                raise Wrong("%r: too many fields without a name" % text)
            key, value = names.pop(0), part
        if not key or not value:
            raise Wrong("%r: an empty field" % text)
        out[key] = value if key in _NAMES else _value(value)
    return out


def _value(text):
    """JSON numbers and booleans as such; anything else stays a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def sensor(text):
    """A sensor spec; the driver must be named (its parameters the validator judges)."""
    s = parse_spec(text, ("slug", "driver", "pin"))
    if "driver" not in s:
        raise Wrong("%r: expected SLUG:DRIVER[:PIN][:PARAM=VALUE...], e.g. soil:adc:34; "
                    "drivers: %s" % (text, ", ".join(sorted(DRIVERS))))
    if validator.is_uuid(s.get("slug")):
        s["uuid"] = s.pop("slug")
    return s


def battery(text):
    return parse_spec(text, ("source", "pin"))


def uuid(text):
    _refuse(problems({"api": {"device_uuid": text}}, "api.device_uuid"))
    return text


def token(text):
    _refuse(problems({"api": {"token": text}}, "api.token"))
    return text


def ssid(text):
    if not 1 <= len(text.encode()) <= 32:
        raise Wrong("a Wi-Fi network name has 1 to 32 bytes")
    return text


def wifi_password(text):
    """WPA2-Personal: 8-63 characters, or 64 hex digits; empty for an open network."""
    if text and not (8 <= len(text) <= 63 or len(text) == 64 and _hex(text)):
        raise Wrong("a WPA2 password has 8 to 63 characters (or 64 hex digits); "
                    "leave it empty for an open network")
    return text


def _hex(text):
    return all(c in "0123456789abcdefABCDEF" for c in text)


def ca_certificate(text):
    """The server's root CA: a PEM or DER certificate that issued itself."""
    path = Path(text).expanduser()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise Wrong("cannot read %s (%s)" % (text, e.strerror)) from None
    try:
        cert = (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data))
    except ValueError:
        raise Wrong("%s is not a PEM or DER certificate" % text) from None
    if cert.issuer != cert.subject:
        raise Wrong("%s is issued by %s: give that root CA, the top of the chain (the node "
                    "trusts only the root)" % (text, cert.issuer.rfc4514_string()))
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise Wrong("%s is a server's own certificate, not a CA: give the root CA" % text)
    except x509.ExtensionNotFound:
        pass  # an old (v1) root has no extensions
    return path


def _typed(check):
    """An argparse type from an answer check."""

    def convert(text):
        try:
            return check(text)
        except Wrong as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = check.__name__
    return convert


# -- the questions ------------------------------------------------------------------------

class Asker:
    """Asks on the terminal, or reads answers from stdin (one a line) when it is not one."""

    def __init__(self, stdin=sys.stdin, out=print):
        self.tty = stdin.isatty()
        self.stdin = stdin
        self.out = out

    def ask(self, question, default=None, check=None, secret=False):
        """The answer, checked by `check` (which returns the value or raises Wrong)."""
        shown = "" if default in (None, "") else " [%s]" % default
        while True:
            text = self._read("%s%s: " % (question, shown), secret)
            if not secret:
                text = text.strip()
            if not text and default is not None:
                text = str(default)
            try:
                return check(text) if check else text
            except Wrong as e:
                self.out("  %s; again:" % e)

    def _read(self, prompt, secret):
        try:
            if secret and self.tty:
                return getpass.getpass(prompt)
            print(prompt, end="", flush=True)
            line = self.stdin.readline()
            if not line:
                raise EOFError
            if not self.tty:
                print()  # the answer is not echoed by a terminal: end the prompt's line
            return line.rstrip("\n")
        except EOFError:
            print()
            raise cli.BadInput("no answer to \"%s\" (end of input): nothing written"
                               % prompt.split(" [")[0].rstrip(": ")) from None


def _required(check):
    def nonempty(text):
        if not text:
            raise Wrong("an answer is needed")
        return check(text)

    return nonempty


def _one_of(choices):
    def check(text):
        if text not in choices:
            raise Wrong("expected one of %s, got %r" % (", ".join(choices), text))
        return text

    return check


def _yes(text):
    if text.lower() not in ("yes", "no", "y", "n"):
        raise Wrong("yes or no")
    return text.lower() in ("yes", "y")


def ask_missing(args, asker):
    """Ask for what the flags left out, each answer checked against the config so far."""
    if not args.board:
        args.board = asker.ask("Board (%s; unix: the virtual board)"
                               % ", ".join(validator.BOARDS), "esp32", _one_of(validator.BOARDS))
    if args.board == "esp32" and not args.board_model:
        models = sorted(BOARD_MODELS)
        args.board_model = asker.ask("Board model (%s)" % ", ".join(models), DEFAULT_MODEL,
                                     _one_of(models))
    if not args.base_url:
        args.base_url = asker.ask("Server API URL", DEFAULT_URL, lambda t: _url(t, args, asker))
    if args.base_url.startswith("https://") and not args.ca_cert:
        args.ca_cert = asker.ask("Server's root CA certificate file (PEM or DER)", None,
                                 _required(ca_certificate))
    if not args.device_uuid:
        args.device_uuid = asker.ask("Device UUID (dashboard > Device > Overview)", None,
                                     _required(uuid))
    if not args.token:
        args.token = asker.ask("Device access token (dashboard > Device > Credentials; "
                               "not shown)", None, _required(token), secret=True)
    if args.board == "esp32" and not args.wifi_ssid:
        args.wifi_ssid = asker.ask("Wi-Fi network name (2.4 GHz)", None, ssid)
        args.wifi_password = asker.ask("Wi-Fi password (not shown; empty for an open network)",
                                       "", wifi_password, secret=True)
    if args.battery is None:
        args.battery = ask_battery(args, asker)
    if not args.sensor:
        ask_sensors(args, asker)
    if args.safe_mode_pin is None and needs_safe_mode_pin(args):
        chip = _model(args)[0] if _model(args) else None
        why = ("the %s has no BOOT button" % args.board_model if chip
               else "the %s board has no button" % args.board)
        args.safe_mode_pin = asker.ask(
            "Safe-mode pin (%s: wire a switch from this GPIO to GND, hold it at reset to reach "
            "a sleeping node)" % why, SAFE_PIN_SUGGESTED[chip],
            lambda t: safe_mode_pin(_int(t), args))


def _url(text, args, asker):
    _refuse(problems({"api": {"base_url": text, "allow_insecure_http": True}}, "api.base_url"))
    if text.startswith("http://"):
        if not asker.ask("Plain http:// sends the token and readings unencrypted: use it "
                         "anyway? (yes/no)", "no", _yes):
            raise Wrong("give an https:// URL")
        args.allow_insecure_http = True
    return text


def _as(kind, what):
    """An answer check: the text read as `kind`."""

    def convert(text):
        try:
            return kind(text)
        except ValueError:
            raise Wrong("expected %s, got %r" % (what, text)) from None

    return convert


_int = _as(int, "a GPIO number")
_number = _as(float, "a number")


def _available(table, board):
    """The names in a validator table (drivers, battery sources: the board an entry needs
    last) this board can use."""
    return [name for name, entry in sorted(table.items()) if entry.board in (None, board)]


def _model(args):
    if args.board != "esp32":
        return None
    return BOARD_MODELS.get(args.board_model or DEFAULT_MODEL)


def ask_battery(args, asker):
    """The battery source, and for an ADC its pin and divider ratio (the model's if any)."""
    model = _model(args)
    divider = None
    if model and model.battery_pin is not None:
        divider = model.battery_pin, model.battery_ratio
    sources = _available(BATTERY_SOURCES, args.board)
    default = "adc" if divider else "sim" if "sim" in sources else "none"
    source = asker.ask("Battery voltage from (%s; adc: a divider to an ADC1 pin)"
                       % ", ".join(sources), default, _one_of(sources))
    spec = {"source": source}
    if source == "adc":
        spec["pin"] = asker.ask("Battery divider's ADC pin", divider[0] if divider else None,
                                lambda t: _battery_part(args, spec, "pin", _int(t)))
        spec["ratio"] = asker.ask("Divider ratio (R1+R2)/R2", divider[1] if divider else 2.0,
                                  lambda t: _battery_part(args, spec, "ratio", _number(t)))
    return spec


def _battery_part(args, spec, key, value):
    cfg = {"board": args.board, "board_model": args.board_model,
           "battery": dict(spec, **{key: value})}
    _refuse(problems(cfg, "battery." + key))
    return value


def ask_sensors(args, asker):
    drivers = _available(DRIVERS, args.board)
    asker.out("Sensors as SLUG:DRIVER[:PIN][:PARAM=VALUE...], e.g. soil:adc:34:scale=30.3 "
              "(drivers: %s); an empty line ends the list" % ", ".join(drivers))
    while True:
        entry = asker.ask("Sensor", None, lambda t: _sensor_answer(t, args))
        if entry is None:
            return
        args.sensor.append(entry)


def _sensor_answer(text, args):
    """The sensor, or None for the empty line that ends the list."""
    if not text:
        if args.sensor:
            return None
        raise Wrong("the node needs at least one sensor")
    s = sensor(text)
    i = len(args.sensor)
    cfg = {"board": args.board, "board_model": args.board_model, "sensors": args.sensor + [s]}
    _refuse(problems(cfg, "sensors[%d]" % i, str(args.out.parent), True))
    return s


def needs_safe_mode_pin(args):
    """No button on the board (the LOLIN D32, the unix board): nothing to hold at reset."""
    model = _model(args)
    return model is None or model.button is None


def safe_mode_pin(pin, args):
    """A pin the node can read held low: the chip has it, a pull-up, and nothing else on it."""
    _refuse(problems({"board": args.board, "board_model": args.board_model,
                      "safe_mode_pin": pin}, "safe_mode_pin"))
    model = _model(args)
    if model is None:
        return pin
    chip = CHIPS[model.chip]
    if pin in STRAPPING[model.chip] and pin != model.button:
        raise Wrong("GPIO %d is a strapping pin: held at reset, it can start the ROM "
                    "downloader instead of the node" % pin)
    if any(lo <= pin <= hi for lo, hi in chip.input_only):  # input only: no pull-up either
        raise Wrong("GPIO %d has no internal pull-up on the %s" % (pin, chip.name))
    used = {model.sda: "I2C SDA", model.scl: "I2C SCL", model.led: "the LED"}
    if (args.battery or {}).get("source") == "adc":
        used[args.battery.get("pin", model.battery_pin)] = "the battery divider"
    used.update((s.get("pin"), "sensor %s" % (s.get("slug") or s.get("uuid")))
                for s in args.sensor)
    if pin in used:
        raise Wrong("GPIO %d is taken by %s" % (pin, used[pin]))
    return pin


# -- writing and copying ------------------------------------------------------------------

def missing(args):
    """The flags without which no working config can be written."""
    need = [("--board", args.board), ("--device-uuid", args.device_uuid),
            ("--token", args.token), ("--sensor", args.sensor)]
    if args.board == "esp32":
        need.append(("--wifi-ssid", args.wifi_ssid))
    if (args.base_url or DEFAULT_URL).startswith("https://"):
        need.append(("--ca-cert", args.ca_cert))
    if args.board and needs_safe_mode_pin(args):
        need.append(("--safe-mode-pin", args.safe_mode_pin is not None))
    return [flag for flag, value in need if not value]


def build_config(args):
    """The raw config.json dict from the answers (the validator judges it)."""
    cfg = {"board": args.board}
    if args.board_model:
        cfg["board_model"] = args.board_model
    if args.safe_mode_pin is not None:
        cfg["safe_mode_pin"] = args.safe_mode_pin
    cfg["api"] = {"base_url": args.base_url, "token": args.token,
                  "device_uuid": args.device_uuid}
    if args.ca_cert:
        cfg["api"]["ca_cert"] = args.ca_cert.name  # copied next to config.json
    if args.allow_insecure_http:
        cfg["api"]["allow_insecure_http"] = True
    if args.wifi_ssid:
        cfg["wifi"] = {"ssid": args.wifi_ssid, "password": args.wifi_password or ""}
    cfg["sample_interval_s"] = args.sample_interval
    cfg["upload_interval_s"] = args.upload_interval
    if args.battery and args.battery.get("source") != "none":
        cfg["battery"] = args.battery
    cfg["sensors"] = args.sensor
    return cfg


def write(path, cfg):
    """Write config.json readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file (--force) keeps its mode otherwise: the token
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def _ca_beside(args):
    """Where the CA goes (next to config.json); refuses to replace a different file."""
    if not args.ca_cert:
        return None
    dest = args.out.parent / args.ca_cert.name
    if (dest.exists() and not args.force and not filecmp.cmp(dest, args.ca_cert, shallow=False)):
        raise cli.BadInput("%s exists and is not %s (--force replaces it)" % (dest, args.ca_cert))
    return dest


def upload(port, config_path, ca_cert, reset=True, out=print):
    """Copy config.json (and the CA) to the board's root."""
    session.probe(port)
    cmds = ["cp", "-f", str(config_path), ":config.json"]
    if ca_cert:
        cmds += ["+", "cp", "-f", str(ca_cert), ":" + Path(ca_cert).name]
    with session.at_repl(port, reset, out):
        session.mpremote(port, *cmds)
        out("copied to %s: config.json%s"
            % (port, " and " + Path(ca_cert).name if ca_cert else ""))


def upload_existing(args, out=print):
    """Check a config written or edited by hand, then copy it (and its CA) to the board."""
    path = args.upload
    try:
        checked = validator.load(str(path), True)
    except validator.ConfigError as e:
        raise cli.BadInput("%s is invalid: %s" % (path, "; ".join(e.errors))) from None
    ca = json.loads(path.read_text())["api"].get("ca_cert")
    if ca and "/" in ca:  # it is copied next to config.json on the board
        raise cli.BadInput("api.ca_cert must name a file next to config.json (the board gets "
                           "it at its root), not %r: copy it there" % ca)
    out("%s: OK (%s board, %s; token not shown)"
        % (path, checked["board"], cli.count(len(checked["sensors"]), "sensor")))
    if not args.port:
        raise cli.BadInput("--upload needs --port, the board's serial port (make: PORT=)")
    upload(args.port, path, checked["api"]["ca_cert"], not args.no_reset, out)
    return 0


def provision(args, out=print, asker=None):
    if args.upload:
        return upload_existing(args, out)
    if args.out.exists() and not args.force:
        raise cli.BadInput("%s exists (--force replaces it; make config UPLOAD=%s PORT=... "
                           "copies it to the board)" % (args.out, args.out))
    if missing(args):
        ask_missing(args, asker or Asker(out=out))
    args.base_url = args.base_url or DEFAULT_URL
    if missing(args):
        raise cli.BadInput("missing %s" % ", ".join(missing(args)))
    if args.safe_mode_pin is not None:
        try:
            safe_mode_pin(args.safe_mode_pin, args)
        except Wrong as e:
            raise cli.BadInput("safe_mode_pin: %s" % e) from None
    ca_dest = _ca_beside(args)
    cfg = build_config(args)
    try:  # the CA is not beside it yet: its file is checked once it is
        validator.validate(cfg, str(args.out.parent), False)
    except validator.ConfigError as e:
        raise cli.BadInput("the config is invalid: " + "; ".join(e.errors)) from None
    write(args.out, cfg)
    if ca_dest and not (ca_dest.exists() and ca_dest.samefile(args.ca_cert)):
        shutil.copyfile(args.ca_cert, ca_dest)
    try:  # what the node and make check-config will read, files and all
        checked = validator.load(str(args.out), True)
    except validator.ConfigError as e:
        args.out.unlink()
        raise cli.BadInput("the config is invalid: " + "; ".join(e.errors)) from None
    out("wrote %s%s: %s board, %s, sample every %d s, upload every %d s (token not "
        "shown)" % (args.out, " and " + ca_dest.name if ca_dest else "", checked["board"],
                    cli.count(len(checked["sensors"]), "sensor"), checked["sample_interval_s"],
                    checked["upload_interval_s"]))
    if args.port:
        upload(args.port, args.out, ca_dest, not args.no_reset, out)
    else:
        out("next, with the node in safe mode or at its REPL: make config UPLOAD=%s "
            "PORT=/dev/ttyUSB0" % args.out)
    return 0


def main(argv=None):
    ap = cli.Parser(prog="provision", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=cli.out_file, default=Path(DEFAULT_OUT),
                    help="file to write (default %s)" % DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="replace an existing file")
    ap.add_argument("--board", choices=validator.BOARDS)
    ap.add_argument("--board-model", choices=sorted(BOARD_MODELS),
                    help="esp32 only: the board's pins and battery divider")
    ap.add_argument("--upload", metavar="CONFIG", type=cli.existing_file,
                    help="instead of writing one: check an existing config and copy it "
                         "(and its CA) to the board on --port")
    ap.add_argument("--base-url", help="default " + DEFAULT_URL)
    ap.add_argument("--allow-insecure-http", action="store_true",
                    help="allow a plain http:// --base-url (token and readings unencrypted)")
    ap.add_argument("--token", type=_typed(token),
                    help="the device access token (dashboard > Device > Credentials)")
    ap.add_argument("--device-uuid", type=_typed(uuid))
    ap.add_argument("--ca-cert", type=_typed(ca_certificate),
                    help="the server's root CA (PEM or DER): copied next to the config")
    ap.add_argument("--wifi-ssid", type=_typed(ssid))
    ap.add_argument("--wifi-password", type=_typed(wifi_password))
    ap.add_argument("--sensor", action="append", default=[], type=_typed(sensor),
                    metavar="SLUG:DRIVER[:PIN][:PARAM=VALUE...]", help="repeat for each sensor")
    ap.add_argument("--battery", metavar="SOURCE[:PIN][:PARAM=VALUE...]", type=_typed(battery),
                    help="e.g. adc:35:ratio=2.0 or none (asked when questions are asked)")
    ap.add_argument("--sample-interval", type=cli.positive_int, default=60, metavar="S")
    ap.add_argument("--upload-interval", type=cli.positive_int, default=600, metavar="S")
    ap.add_argument("--safe-mode-pin", type=cli.int_between(0, 48), metavar="GPIO",
                    help="held low at boot, the node stays in safe mode (REPL reachable); "
                         "needed on a board without a BOOT button")
    ap.add_argument("--port", help="also copy the config to the board on this serial port")
    ap.add_argument("--no-reset", action="store_true",
                    help="after copying, leave the board at its REPL")
    args = ap.parse_args(argv)
    return cli.run_tool("provision", lambda: provision(args))


if __name__ == "__main__":
    sys.exit(main())
