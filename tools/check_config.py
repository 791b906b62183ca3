"""Host tool (CPython): validate a node's config.json before it goes on a board.

Runs the device's own validator (lib/config.py), so the host and the node agree on
every rule. Referenced files (CA certificate, replay CSV) must exist next to the
config unless --skip-files.

    python -m tools.check_config CONFIG [--skip-files]

Exit status 0 when valid, 1 with one line per problem otherwise.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import config  # noqa: E402  (the device's validator; plain Python, runs on CPython too)


def check(path, skip_files=False):
    """Returns (normalised config or None, list of problems)."""
    try:
        cfg = config.load(str(path), None if skip_files else os.path.exists)
        return cfg, []
    except config.ConfigError as e:
        return None, e.errors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("--skip-files", action="store_true",
                    help="do not check that referenced files exist")
    args = ap.parse_args(argv)
    cfg, errors = check(args.config, args.skip_files)
    if errors:
        print("%s: %d problem%s" % (args.config, len(errors), "s" if len(errors) > 1 else ""))
        for e in errors:
            print("  " + e)
        return 1
    print("%s: OK (%s board, %d sensors, sample every %d s, upload every %d s)" % (
        args.config, cfg["board"], len(cfg["sensors"]), cfg["sample_interval_s"],
        cfg["upload_interval_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
