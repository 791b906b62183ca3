"""Host tool (CPython): validate a node's config.json before it goes on a board.

Runs the device's own validator (lib/config.py: the same JSON acceptance rule, the
same checks, the same messages), so the host and the node agree on every file.
Referenced files (the CA certificate, a replay CSV) must exist next to the config,
and the CA must be a certificate, unless --skip-files.

    python -m tools.check_config CONFIG [--skip-files]

Exit status 0 when valid (warnings are printed, `warning: ...`, and do not fail),
1 with one line per problem otherwise, 2 when CONFIG cannot be read.
"""

import argparse
import os
import sys

from tools import cli, devicelib  # noqa: F401  (devicelib: lib/ on sys.path)

import config  # noqa: E402  (the device's validator; plain Python, runs on CPython too)


def check(path, skip_files=False):
    """Returns (normalised config or None, list of problems)."""
    try:
        return config.load(str(path), not skip_files), []
    except config.ConfigError as e:
        return None, e.errors


def readable_file(text):
    """argparse type: a path to a regular file this user can read."""
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError("%s: no such file" % text)
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError("%s: not a file" % text)
    if not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError("%s: not readable (permission denied)" % text)
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line and exit status 2, without the usage text."""
        self.exit(2, "%s: error: %s\n" % (self.prog, message))


def main(argv=None):
    ap = _Parser(prog="python -m tools.check_config", description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=readable_file)
    ap.add_argument("--skip-files", action="store_true",
                    help="do not check the files the config names")
    args = ap.parse_args(argv)
    cfg, errors = check(args.config, args.skip_files)
    if errors:
        print("%s: %d problem%s" % (args.config, len(errors), "s" if len(errors) > 1 else ""))
        for e in errors:
            print("  " + e)
        return 1
    for w in cfg["warnings"]:
        print("warning: " + w)
    print("%s: OK (%s board, %s, sample every %d s, upload every %d s)" % (
        args.config, cfg["board"], cli.count(len(cfg["sensors"]), "sensor"),
        cfg["sample_interval_s"], cfg["upload_interval_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
