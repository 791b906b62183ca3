"""The Sensocan device API proper: request in, reply out, readings stored. No sockets.

Checks run in the order the real service applies them: rate limit (every request to
a device path counts), method, token, device, token-device match, the path's sensor,
JSON body, validation. A request stores all of its readings or none.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from .validation import BATCH, BULK, SINGLE, validate
from .wire import Reply, json_message

_ROUTES = (
    (re.compile(r"/api/v1/devices/([^/]+)/sensors/([^/]+)/readings"), SINGLE),
    (re.compile(r"/api/v1/devices/([^/]+)/sensors/([^/]+)/readings/bulk"), BULK),
    (re.compile(r"/api/v1/devices/([^/]+)/readings"), BATCH),
)


@dataclass(frozen=True)
class Route:
    kind: str  # single, bulk or batch
    device_uuid: str
    sensor_uuid: str | None  # from the path (single, bulk)


@dataclass
class Outcome:
    """A reply plus what the request log records about it."""

    reply: Reply
    reply_class: str
    auth_ok: bool | None = None  # None until the token has been compared with the device
    count: int = 0  # readings stored


def resolve(path):
    """The device endpoint `path` addresses, or None."""
    for pattern, kind in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            sensor = unquote(match[2]) if kind != BATCH else None
            return Route(kind, unquote(match[1]), sensor)
    return None


class Api:
    def __init__(self, registry, store, limiter, unknown_sensor_status=422):
        """`unknown_sensor_status`: 422, or 404 for a batch item naming no known sensor."""
        self.registry = registry
        self.store = store
        self.limiter = limiter
        self.unknown_sensor_status = unknown_sensor_status

    def handle(self, request, route):
        """The Outcome of `request`, whose path resolved to Route `route` (or None)."""
        if route is None:
            return Outcome(json_message(404, "Not Found."), "not_found")
        limit = self.limiter.hit(route.device_uuid)
        if limit.allowed:
            outcome = self._device_request(request, route)
        else:
            outcome = Outcome(json_message(429, "Too Many Requests"), "rate_limited")
        outcome.reply.headers.update(limit.headers())
        return outcome

    def _device_request(self, request, route):
        if request.method != "POST":
            text = "The %s method is not supported for route %s. Supported methods: POST." % (
                request.method, request.path.lstrip("/"))
            return Outcome(json_message(405, text, {"Allow": "POST"}), "method_not_allowed")
        caller = self.registry.device_for_token(_bearer_token(request.headers))
        device = self.registry.device(route.device_uuid)
        if caller is None:
            return Outcome(json_message(401, "Unauthenticated."), "unauthenticated", False)
        if device is None:
            return Outcome(json_message(404, "Device not found."), "device_not_found")
        if caller is not device:
            return Outcome(json_message(401, "Unauthenticated."), "unauthenticated", False)
        sensor = None
        if route.sensor_uuid is not None:
            sensor = device.sensor_by_uuid(route.sensor_uuid)
            if sensor is None:
                return Outcome(json_message(404, "Sensor not found."), "sensor_not_found", True)
        try:
            body = _json_body(request)
        except (ValueError, RecursionError):
            return Outcome(json_message(400, "Malformed JSON body."), "malformed_json", True)
        result = validate(route.kind, body, device, sensor)
        errors = result.errors
        if self.unknown_sensor_status == 422:
            errors = {**errors, **result.unknown_sensors}
        if errors:
            reply = Reply(422, {"message": "Validation failed.", "errors": errors})
            return Outcome(reply, "validation_failed", True)
        if result.unknown_sensors:
            return Outcome(json_message(404, "Sensor not found."), "sensor_not_found", True)
        self.store.add_readings([{
            "request_id": request.id, "device_uuid": device.uuid,
            "sensor_uuid": item.sensor.uuid, "sensor_slug": item.sensor.slug,
            "value": item.value, "timestamp": item.timestamp,
            "measured_at": request.received_at if item.measured_at is None else item.measured_at,
            "battery_voltage": result.battery_voltage, "endpoint": route.kind,
            "received_at": request.received_at,
        } for item in result.items])
        return Outcome(_created(route.kind, sensor, len(result.items)), "created", True,
                       len(result.items))


def _created(kind, sensor, count):
    if kind == SINGLE:
        return Reply(201, {"message": "Reading stored successfully.", "sensor": sensor.uuid})
    if kind == BULK:
        return Reply(201, {"message": "Successfully stored %d readings." % count,
                           "sensor": sensor.uuid, "count": count})
    return Reply(201, {"message": "Successfully processed %d readings." % count, "count": count})


def _bearer_token(headers):
    """The token of `Authorization: Bearer <token>` (scheme case-sensitive, as Laravel)."""
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    return (token.strip() or None) if scheme == "Bearer" else None


def _json_body(request):
    """The parsed body; {} unless declared JSON and non-empty (how Laravel reads input).

    Raises ValueError for bytes that are not UTF-8 JSON, NaN and Infinity included.
    """
    content_type = (request.headers.get("Content-Type") or "").lower()
    if "/json" not in content_type and "+json" not in content_type:
        return {}
    text = request.body.decode("utf-8")
    if not text.strip():
        return {}
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)
