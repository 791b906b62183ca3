"""HTTP messages as the mock sees them: requests read in full, replies rendered late.

A handler builds a `Reply` (status, JSON body, extra headers); it becomes a `RawReply`
(status line, ordered headers, body bytes) only just before it is written, so a fault
action can mangle exactly the bytes a client will receive.
"""

import json
import re
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus

SERVER_NAME = "sensocan-mock"
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_MAX_LINE = 65536


@dataclass
class Request:
    """A request whose body has been read completely."""

    method: str
    path: str  # without the query string
    query: str
    headers: Message
    body: bytes | None  # None when it could not be read
    received_at: float  # epoch seconds, from the server's clock
    id: int | None = None  # row in the request log


@dataclass
class Reply:
    """What to answer: a status, a body (JSON-serialisable, a str, or None) and headers."""

    status: int
    body: object = None
    headers: dict = field(default_factory=dict)


def json_message(status, message, headers=None):
    """The API's usual reply shape: `{"message": ...}`."""
    return Reply(status, {"message": message}, dict(headers or {}))


def reason(status):
    """The standard reason phrase, or "" for codes HTTP does not define."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass
class RawReply:
    """A reply as it will go on the wire; fault actions edit this before writing it."""

    status_line: str
    headers: list  # of (name, value), in order
    body: bytes

    def set(self, name, value):
        """Replace header `name` (case-insensitively) by one with `value`."""
        self.remove(name)
        self.headers.append((name, value))

    def remove(self, name):
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]

    def to_bytes(self):
        head = "".join("%s: %s\r\n" % kv for kv in self.headers)
        return ("%s\r\n%s\r\n" % (self.status_line, head)).encode() + self.body


def render(reply, *, date, close, head_only=False):
    """`reply` with the headers every reply carries, Content-Length always among them.

    A dict or list body is sent as JSON, a str as is (a proxy's HTML page, say); the
    reply's own headers come last and win over the defaults.
    """
    if isinstance(reply.body, str):
        body, content_type = reply.body.encode(), "text/plain; charset=utf-8"
    elif reply.body is None:
        body, content_type = b"", None
    else:
        body = json.dumps(reply.body, separators=(",", ":")).encode()
        content_type = "application/json"
    raw = RawReply("HTTP/1.1 %d %s" % (reply.status, reason(reply.status)),
                   [("Date", date), ("Server", SERVER_NAME)], b"" if head_only else body)
    if content_type:
        raw.set("Content-Type", content_type)
    raw.set("Content-Length", str(len(body)))
    if close:
        raw.set("Connection", "close")
    for name, value in reply.headers.items():
        raw.set(name, str(value))
    return raw


class BodyError(Exception):
    """The request body cannot be read; reply with `status` and close the connection."""

    def __init__(self, status, message, reply_class):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reply_class = reply_class


def read_body(rfile, headers, limit):
    """The request body, framed by Content-Length or chunked; at most `limit` bytes."""
    encoding = headers.get("Transfer-Encoding")
    if encoding is not None:
        if encoding.strip().lower() != "chunked":
            raise BodyError(501, "Unsupported Transfer-Encoding.", "unsupported_encoding")
        return _read_chunked(rfile, limit)
    length = headers.get("Content-Length", "0").strip()
    if not _DIGITS.fullmatch(length):
        raise BodyError(400, "Invalid Content-Length.", "bad_request")
    if int(length) > limit:
        raise BodyError(413, "Payload Too Large.", "too_large")
    body = rfile.read(int(length))
    if len(body) < int(length):
        raise BodyError(400, "Incomplete request body.", "bad_request")
    return body


def _read_chunked(rfile, limit):
    malformed = BodyError(400, "Malformed chunked body.", "bad_request")
    body = bytearray()
    while True:
        line = rfile.readline(_MAX_LINE)
        size = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size):
            raise malformed
        size = int(size, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise BodyError(413, "Payload Too Large.", "too_large")
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(_MAX_LINE).strip() != b"":
            raise malformed
        body += chunk
    while True:  # trailer fields, ignored, up to the blank line
        line = rfile.readline(_MAX_LINE)
        if not line.endswith(b"\n"):
            raise malformed
        if not line.strip():
            return bytes(body)
