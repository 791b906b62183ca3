"""Host tool (CPython): write a node's config.json, check it, and optionally put it on the board.

    python -m tools.provision                       # asks for everything (make config)
    python -m tools.provision --board esp32 --token T --device-uuid U --ca-cert ca.der \\
        --wifi-ssid S --wifi-password P --sensor soil:adc:34:scale=30.3 [--port /dev/ttyUSB0]

A sensor is `SLUG:DRIVER[:PIN][:PARAM=VALUE...]` (a UUID in place of the slug names the
sensor by UUID); the battery is `SOURCE[:PIN][:PARAM=VALUE...]`. The config is checked
with the node's own validator (lib/config.py, as tools.check_config does) before it is
written; the file is private (mode 600) since it holds the token and the Wi-Fi password,
and the token is never printed. --port copies config.json, and the CA certificate, to
the root of the board, and resets it (unless --no-reset): the node starts with them.
"""

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from tools import cli, deploy
from tools.check_config import config as validator

DEFAULT_URL = "https://api.sensocan.com/api/v1"
_NAMES = ("slug", "source", "driver", "rom", "file")  # strings, even when they look like numbers


def parse_spec(text, names):
    """'soil:adc:34:scale=30.3' -> dict: bare parts take `names` in turn, the rest are
    PARAM=VALUE."""
    out, names = {}, list(names)
    for part in text.split(":"):
        key, eq, value = part.partition("=")
        if not eq:
            if not names:
                raise deploy.DeviceError("%r: too many fields without a name" % text)
            key, value = names.pop(0), part
        out[key] = value if key in _NAMES else _value(value)
    return out


def _value(text):
    """JSON numbers and booleans as such; anything else stays a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def sensor(text):
    s = parse_spec(text, ("slug", "driver", "pin"))
    if validator.is_uuid(s.get("slug")):
        s["uuid"] = s.pop("slug")
    return s


def build_config(args):
    """The raw config.json dict from the answers (the validator judges it)."""
    cfg = {
        "board": args.board,
        "api": {"base_url": args.base_url, "token": args.token, "device_uuid": args.device_uuid},
        "sample_interval_s": args.sample_interval,
        "upload_interval_s": args.upload_interval,
        "sensors": [sensor(s) for s in args.sensor],
    }
    if args.board_model:
        cfg["board_model"] = args.board_model
    if args.ca_cert:
        cfg["api"]["ca_cert"] = Path(args.ca_cert).name
    if args.wifi_ssid:
        cfg["wifi"] = {"ssid": args.wifi_ssid, "password": args.wifi_password or ""}
    if args.safe_mode_pin is not None:
        cfg["safe_mode_pin"] = args.safe_mode_pin
    if args.battery:
        cfg["battery"] = parse_spec(args.battery, ("source", "pin"))
    return cfg


def ask_missing(args, ask=input, secret=getpass.getpass):
    """Prompt for what the flags left out (interactive use: make config)."""
    if not args.board:
        args.board = ask("Board (esp32 or unix) [esp32]: ").strip() or "esp32"
    if args.board == "esp32" and not args.board_model:
        models = sorted(validator.BOARD_MODELS)
        args.board_model = ask("Board model (%s) [esp32_devkitc]: " % ", ".join(models)
                               ).strip() or "esp32_devkitc"
    if not args.device_uuid:
        args.device_uuid = ask("Device UUID (dashboard > Device > Overview): ").strip()
    if not args.token:
        args.token = secret("Device access token (not shown): ").strip()
    if args.board == "esp32" and not args.wifi_ssid:
        args.wifi_ssid = ask("Wi-Fi network name: ").strip()
        args.wifi_password = secret("Wi-Fi password (not shown): ")
    if args.base_url.startswith("https://") and not args.ca_cert:
        args.ca_cert = ask("Server's root CA certificate file (PEM or DER): ").strip() or None
    while not args.sensor:
        print("Sensors as SLUG:DRIVER[:PIN][:PARAM=VALUE...], e.g. soil:adc:34:scale=30.3; "
              "an empty line ends the list")
        line = ask("Sensor: ").strip()
        while line:
            args.sensor.append(line)
            line = ask("Sensor: ").strip()


def missing(args):
    """The flags without which no valid config can be written."""
    need = [("--board", args.board), ("--device-uuid", args.device_uuid),
            ("--token", args.token), ("--sensor", args.sensor)]
    if args.board == "esp32":
        need.append(("--wifi-ssid", args.wifi_ssid))
    return [flag for flag, value in need if not value]


def write(path, cfg):
    """Write config.json readable by its owner only."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file (--force) keeps its mode otherwise: the token
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def upload(port, config_path, ca_cert, reset=True, out=print):
    """Copy config.json (and the CA) to the board's root."""
    deploy.probe(port)
    cmds = ["cp", "-f", str(config_path), ":config.json"]
    if ca_cert:
        cmds += ["+", "cp", "-f", str(ca_cert), ":" + Path(ca_cert).name]
    with deploy.session(port, reset, out):
        deploy.mpremote(port, *cmds)
        out("copied to %s: config.json%s"
            % (port, " and " + Path(ca_cert).name if ca_cert else ""))


def upload_existing(args, out=print):
    """Check a config written or edited by hand, then copy it (and its CA) to the board."""
    path = Path(args.upload)
    try:
        checked = validator.load(str(path), os.path.exists)
    except validator.ConfigError as e:
        raise deploy.DeviceError("%s is invalid: %s" % (path, "; ".join(e.errors))) from None
    ca = json.loads(path.read_text())["api"].get("ca_cert")
    if ca and "/" in ca:  # it is copied next to config.json on the board
        raise deploy.DeviceError("api.ca_cert must name a file next to config.json (the board "
                                 "gets it at its root), not %r" % ca)
    out("%s: OK (%s board, %d sensors; token not shown)"
        % (path, checked["board"], len(checked["sensors"])))
    if not args.port:
        raise deploy.DeviceError("--upload needs --port, the board's serial port")
    upload(args.port, path, checked["api"]["ca_cert"], not args.no_reset, out)
    return 0


def provision(args, out=print):
    if args.upload:
        return upload_existing(args, out)
    if sys.stdin.isatty() and missing(args):
        ask_missing(args)
    if missing(args):
        raise deploy.DeviceError("missing %s (or run it in a terminal to be asked)"
                                 % ", ".join(missing(args)))
    if args.ca_cert and not Path(args.ca_cert).is_file():
        raise deploy.DeviceError("CA certificate %s not found" % args.ca_cert)
    out_path = Path(args.out)
    if out_path.exists() and not args.force:
        raise deploy.DeviceError("%s exists (--force replaces it)" % out_path)
    cfg = build_config(args)
    try:
        checked = validator.validate(cfg)
    except validator.ConfigError as e:
        raise deploy.DeviceError("the config is invalid: " + "; ".join(e.errors)) from None
    write(out_path, cfg)
    out("wrote %s: %s board, %d sensors, sample every %d s, upload every %d s (token not shown)"
        % (out_path, checked["board"], len(checked["sensors"]), checked["sample_interval_s"],
           checked["upload_interval_s"]))
    if args.port:
        upload(args.port, out_path, args.ca_cert, not args.no_reset, out)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="config.json", help="file to write (default config.json)")
    ap.add_argument("--force", action="store_true", help="replace an existing file")
    ap.add_argument("--board", choices=validator.BOARDS)
    ap.add_argument("--board-model", choices=sorted(validator.BOARD_MODELS),
                    help="esp32 only: the board's pins and battery divider")
    ap.add_argument("--upload", metavar="CONFIG",
                    help="instead of writing one: check an existing config and copy it "
                         "(and its CA) to the board on --port")
    ap.add_argument("--base-url", default=DEFAULT_URL, help="default " + DEFAULT_URL)
    ap.add_argument("--token", help="the device access token (dashboard > Device > Credentials)")
    ap.add_argument("--device-uuid")
    ap.add_argument("--ca-cert", help="the server's root CA (PEM or DER), copied with --port")
    ap.add_argument("--wifi-ssid")
    ap.add_argument("--wifi-password")
    ap.add_argument("--sensor", action="append", default=[],
                    metavar="SLUG:DRIVER[:PIN][:PARAM=VALUE...]", help="repeat for each sensor")
    ap.add_argument("--battery", metavar="SOURCE[:PIN][:PARAM=VALUE...]",
                    help="e.g. adc:35:ratio=2.0 (default: none)")
    ap.add_argument("--sample-interval", type=int, default=60, metavar="S")
    ap.add_argument("--upload-interval", type=int, default=600, metavar="S")
    ap.add_argument("--safe-mode-pin", type=int, metavar="GPIO",
                    help="held low at boot, the node stays in safe mode (REPL reachable)")
    ap.add_argument("--port", help="also copy the config to the board on this serial port")
    ap.add_argument("--no-reset", action="store_true",
                    help="after copying, leave the board at its REPL")
    args = ap.parse_args(argv)
    return cli.run_tool("provision", lambda: provision(args))


if __name__ == "__main__":
    sys.exit(main())
