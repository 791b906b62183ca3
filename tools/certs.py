"""Host tool (CPython): make a private test CA and a server certificate signed by it.

Used by `make sim` and the tests so HTTPS against the local mock is verified exactly
as against the real API. ECDSA P-256 keeps the ESP32's handshake cheap.

    python -m tools.certs OUT_DIR [--host localhost]

writes ca.pem, ca.der (what the node loads as api.ca_cert), server.pem, server.key.
"""

import argparse
import datetime
import ipaddress
import re
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tools import cli


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(out_dir, host="localhost", ca_name="sensocan-node test CA"):
    """Write a CA and a server certificate for `host` (+127.0.0.1); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name)).issuer_name(_name(ca_name))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host)).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {
        "ca_pem": out / "ca.pem",
        "ca_der": out / "ca.der",
        "cert": out / "server.pem",
        "key": out / "server.key",
    }
    paths["ca_pem"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["ca_der"].write_bytes(ca.public_bytes(serialization.Encoding.DER))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return paths


def _host(text):
    """A DNS name for the server certificate (127.0.0.1 is always in it too)."""
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", text):
        raise argparse.ArgumentTypeError("expected a host name like localhost, got %r" % text)
    return text


def main(argv=None):
    ap = cli.Parser(prog="certs", description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=cli.out_dir,
                    help="folder for the four files (made if missing)")
    ap.add_argument("--host", default="localhost", type=_host,
                    help="the server's name in its certificate (default localhost)")
    args = ap.parse_args(argv)

    def body():
        try:
            paths = make_ca(args.out_dir, args.host)
        except OSError as e:
            raise cli.BadInput("cannot write in %s (%s)" % (args.out_dir, e.strerror)) from None
        for k, p in paths.items():
            print("%-6s %s" % (k, p))
        return 0

    return cli.run_tool("certs", body)


if __name__ == "__main__":
    sys.exit(main())
