"""Host tool (CPython): serve a release folder over HTTPS, for trying field updates
without a web host (docs/updates.md).

    python -m tools.release_server --dir .release/1.4.0 [--certs .release/certs] [--port 8443]

With no certificate of your own it makes a test CA (tools/certs.py) in --certs: give
the node its ca.der as update.ca_cert, and set update.manifest_url to the printed URL.
"""

import http.server
import ssl
import sys
import threading
from functools import partial
from pathlib import Path

from tools import certs, cli


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ReleaseServer:
    """A folder over HTTPS on localhost; start() returns self, stop() ends it."""

    def __init__(self, folder, cert, key, port=0):
        handler = partial(_Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]

    def url(self, name="manifest.json"):
        return "https://localhost:%d/%s" % (self.port, name)

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv=None):
    ap = cli.Parser(prog="release_server", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, type=cli.existing_dir,
                    help="the release folder (tools/release.py --out)")
    ap.add_argument("--certs", type=Path, default=Path(".release/certs"),
                    help="where the test CA and server certificate are (made if missing)")
    ap.add_argument("--port", type=cli.int_between(1, 65535), default=8443)
    args = ap.parse_args(argv)

    def body():
        if not (Path(args.dir) / "manifest.json").is_file():
            raise cli.BadInput("%s has no manifest.json (tools/release.py makes one)" % args.dir)
        paths = {"cert": args.certs / "server.pem", "key": args.certs / "server.key",
                 "ca_der": args.certs / "ca.der"}
        if not paths["cert"].exists():
            paths = certs.make_ca(args.certs)
        try:
            srv = ReleaseServer(args.dir, paths["cert"], paths["key"], args.port)
        except OSError as e:
            raise cli.ToolError("port %d: %s" % (args.port, e.strerror))
        print("serving %s at %s (update.ca_cert: %s); Ctrl-C ends" % (
            cli.shown(args.dir), srv.url(), cli.shown(paths["ca_der"])), flush=True)
        srv.httpd.serve_forever()

    return cli.run_tool("release_server", body)


if __name__ == "__main__":
    sys.exit(main())
