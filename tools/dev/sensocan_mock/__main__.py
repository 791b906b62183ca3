"""Command line of the Sensocan mock server.

    python -m tools.dev.sensocan_mock serve --devices FILE --db FILE [--host 127.0.0.1] [--port 0]
        [--tls-cert PEM --tls-key PEM] [--rate-limit 1000] [--keepalive-timeout 5]
        [--unknown-sensor-in-batch 422|404] [--max-body BYTES] [--control]
        [--faults-file FILE] [--fault RULE ...]
    python -m tools.dev.sensocan_mock list --db FILE [--device UUID] [--summary]
    python -m tools.dev.sensocan_mock provision --devices FILE --device-uuid U [--token T]
        [--sensor SLUG[:UUID] ...]
    python -m tools.dev.sensocan_mock fault --control URL [--ca-cert PEM]
        add RULE | list | clear | stats [--reset] | down [--for SECONDS]

`serve` prints one line, `sensocan-mock listening on <base url>`, once it accepts
connections (tools wait for it to learn the port), then one line per request. A RULE
is a fault rule as JSON (faults.py); `--faults-file` holds a JSON list of them, which
come before the `--fault` ones (the first matching rule wins). `fault` steers a server
running with --control and prints its JSON reply.
"""

import argparse
import json
import signal
import sqlite3
import sys
import threading

from . import report
from .control import ControlClient, ControlError
from .faults import FaultRuleError
from .registry import DevicesFileError, provision
from .server import MockServer
from .store import Store

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_print_lock = threading.Lock()


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except sqlite3.Error as e:
        print("sensocan-mock: %s: %s" % (args.db, e), file=sys.stderr)
    except (ControlError, DevicesFileError, OSError, ValueError) as e:
        print("sensocan-mock: %s" % e, file=sys.stderr)
    return 1


def _serve(args):
    if bool(args.tls_cert) != bool(args.tls_key):
        args.parser.error("--tls-cert and --tls-key go together")
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    faults = _fault_specs(args)
    server = MockServer(args.devices, args.db, host=args.host, port=args.port, tls=tls,
                        rate_limit=args.rate_limit, keepalive_timeout=args.keepalive_timeout,
                        max_body=args.max_body, control=args.control, log=_print_request,
                        unknown_sensor_in_batch=args.unknown_sensor_in_batch)
    try:
        for source, spec in faults:
            _add_fault(server, source, spec)
    except FaultRuleError:
        server.stop()
        raise
    # Blocked before the server threads exist, so they inherit it and the signal waits
    # for sigwait() here instead of landing in a thread that ignores it.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        with server:
            _print("sensocan-mock listening on %s" % server.url)
            signal.sigwait(_STOP_SIGNALS)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    return 0


def _fault_specs(args):
    """(where it was given, rule) for the --faults-file rules, then each --fault."""
    specs = []
    if args.faults_file:
        with open(args.faults_file, encoding="utf-8") as f:
            rules = _parse_json(args.faults_file, f.read())
        if not isinstance(rules, list):
            raise ValueError("%s: must be a JSON list of fault rules" % args.faults_file)
        specs += [("%s[%d]" % (args.faults_file, i), rule) for i, rule in enumerate(rules)]
    return specs + [("--fault %s" % text, _parse_json("--fault %s" % text, text))
                    for text in args.fault]


def _add_fault(server, source, spec):
    try:
        server.faults.add(spec)
    except FaultRuleError as e:
        raise FaultRuleError("%s: %s" % (source, e)) from None


def _parse_json(source, text):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError("%s: not valid JSON: %s" % (source, e)) from None


def _print_request(entry):
    try:
        _print("%s %s %s %s count=%d" % (entry["method"], entry["path"], entry["status"] or "-",
                                         entry["reply_class"], entry["count"]))
    except OSError:  # whoever read our stdout went away; serving matters more than logging
        pass


def _print(line):
    with _print_lock:
        print(line, flush=True)


def _list(args):
    store = Store(args.db, readonly=True)
    try:
        if args.summary:
            print(report.summary_table(store.summary(args.device)))
        else:
            print(report.readings_table(store.readings(args.device)))
    finally:
        store.close()
    return 0


def _provision(args):
    device = provision(args.devices, args.device_uuid, args.token, args.sensor)
    print(json.dumps(device.to_dict(), indent=2))
    return 0


def _fault(args):
    client = ControlClient(args.control, args.ca_cert)
    if args.op == "add":
        reply = client.call("POST", "faults", _parse_json("RULE", args.rule))
    elif args.op == "list":
        reply = client.call("GET", "faults")
    elif args.op == "clear":
        reply = client.call("DELETE", "faults")
    elif args.op == "stats":
        reply = client.call("DELETE" if args.reset else "GET", "stats")
    else:
        reply = client.call("POST", "down",
                            None if args.seconds is None else {"seconds": args.seconds})
    print(json.dumps(reply, indent=2))
    return 0


def _sensor_spec(text):
    """SLUG[:UUID] -> (slug, uuid or None)."""
    slug, _, uuid = text.partition(":")
    if not slug:
        raise argparse.ArgumentTypeError("expected SLUG or SLUG:UUID, got %r" % text)
    return slug, uuid or None


def _parser():
    parser = argparse.ArgumentParser(prog="python -m tools.dev.sensocan_mock",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the mock API")
    serve.set_defaults(run=_serve, parser=serve)
    serve.add_argument("--devices", required=True, help="devices file (JSON)")
    serve.add_argument("--db", required=True, help="SQLite file for readings and requests")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    serve.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    serve.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    serve.add_argument("--rate-limit", type=int, default=1000, metavar="N",
                       help="requests per minute per device (default 1000)")
    serve.add_argument("--keepalive-timeout", type=float, default=5.0, metavar="SECONDS",
                       help="close idle connections after this long (default 5)")
    serve.add_argument("--unknown-sensor-in-batch", type=int, choices=(422, 404), default=422,
                       help="status for a batch item naming an unknown sensor (default 422)")
    serve.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES",
                       help="larger request bodies get 413 (default 1 MiB)")
    serve.add_argument("--control", action="store_true",
                       help="enable the /_mock/ control endpoint (faults, readings, stats)")
    serve.add_argument("--faults-file", metavar="FILE",
                       help="fault rules to start with: a JSON list (see faults.py)")
    serve.add_argument("--fault", action="append", default=[], metavar="RULE",
                       help='a fault rule as JSON, e.g. \'{"action": "reply", "status": 503}\''
                            " (repeatable; after those of --faults-file)")

    listing = commands.add_parser("list", help="show what arrived")
    listing.set_defaults(run=_list)
    listing.add_argument("--db", required=True)
    listing.add_argument("--device", metavar="UUID", help="only this device")
    listing.add_argument("--summary", action="store_true", help="one line per sensor")

    prov = commands.add_parser("provision", help="create or update a device in a devices file")
    prov.set_defaults(run=_provision)
    prov.add_argument("--devices", required=True, help="devices file to create or update")
    prov.add_argument("--device-uuid", required=True)
    prov.add_argument("--token", help="default: keep the device's, or generate one")
    prov.add_argument("--sensor", type=_sensor_spec, action="append", default=[],
                      metavar="SLUG[:UUID]", help="add or update a sensor (repeatable)")

    fault = commands.add_parser("fault", help="steer a running server's faults (--control)")
    fault.set_defaults(run=_fault)
    fault.add_argument("--control", required=True, metavar="URL",
                       help="the server's URL, e.g. as serve printed it")
    fault.add_argument("--ca-cert", metavar="PEM", help="CA to verify an https server with")
    ops = fault.add_subparsers(required=True, dest="op", metavar="OPERATION")
    ops.add_parser("add", help="add a rule").add_argument("rule", metavar="RULE",
                                                          help="the rule as JSON")
    ops.add_parser("list", help="the active rules")
    ops.add_parser("clear", help="remove every rule")
    ops.add_parser("stats", help="wire statistics").add_argument(
        "--reset", action="store_true", help="and reset them to zero")
    ops.add_parser("down", help="take the server down (refuse connections)").add_argument(
        "--for", dest="seconds", type=float, metavar="SECONDS",
        help="come back up after this long (default: stay down; there is no way up "
             "through the control endpoint, as it is down too)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
