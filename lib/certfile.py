"""Whether a file's bytes are an X.509 certificate, PEM or DER.

The node's TLS reads api.ca_cert only when it first uploads, so a wrong file (a CSV, a
key) is caught here instead: at boot and by the host checker alike. A check of the
outline, not a parse: RFC 5280 §4.1's Certificate ::= SEQUENCE {tbsCertificate
SEQUENCE, signatureAlgorithm SEQUENCE, signatureValue BIT STRING} in DER (definite
lengths, the outer one covering the file), or PEM blocks whose base64 holds that.
"""

from binascii import a2b_base64

MAX_BYTES = 8192  # a root CA is 1-2 KiB; this leaves room for a few in one PEM file

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def problem(data):
    """None when `data` is a certificate, else why not, in a few words."""
    if b"-----BEGIN" in data:
        return _pem(data)
    if not data:
        return "the file is empty"
    if data[0] != 0x30:
        return ("no %s line, and not DER (starts with byte 0x%02X, not a SEQUENCE)"
                % (_BEGIN.decode(), data[0]))
    return _der(data)


def _pem(data):
    blocks = data.split(_BEGIN)[1:]
    if not blocks:
        return "no %s line" % _BEGIN.decode()
    for n, block in enumerate(blocks, 1):
        end = block.find(_END)
        if end < 0:
            return "PEM block %d has no %s line" % (n, _END.decode())
        b64 = b"".join(block[:end].split())
        if not _base64(b64):
            return "PEM block %d is not base64" % n
        why = _der(a2b_base64(b64))
        if why:
            return "PEM block %d: %s" % (n, why)
    return None


def _base64(s):
    """Strict base64 (both sides' a2b_base64 differ on what else they forgive)."""
    pad = len(s) - len(s.rstrip(b"="))
    if not s or len(s) % 4 or pad > 2:
        return False
    for c in s[:len(s) - pad]:
        if c not in _B64:
            return False
    return True


def _der(d):
    whole = _tlv(d, 0, 0x30, len(d))
    if whole is None or whole[1] != len(d):
        return "not DER: no SEQUENCE spanning its %d bytes" % len(d)
    pos, end = whole
    for tag in (0x30, 0x30, 0x03):  # tbsCertificate, signatureAlgorithm, signatureValue
        part = _tlv(d, pos, tag, end)
        if part is None:
            return "not DER: no certificate, algorithm and signature in its SEQUENCE"
        pos = part[1]
    if pos != end:
        return "not DER: more than a certificate in its SEQUENCE"
    return None


def _tlv(d, pos, tag, limit):
    """(content start, content end) of the DER element with `tag` at `pos`, ending by
    `limit`; None when it is not one."""
    if pos + 2 > limit or d[pos] != tag:
        return None
    n = d[pos + 1]
    pos += 2
    if n & 0x80:  # long form: 1-3 length bytes (0x80 alone, indefinite, is not DER)
        k = n & 0x7F
        if not 1 <= k <= 3 or pos + k > limit:
            return None
        n = 0
        for i in range(k):
            n = n << 8 | d[pos + i]
        pos += k
    if pos + n > limit:
        return None
    return pos, pos + n
