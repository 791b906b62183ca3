"""The /_mock/ control endpoint: lets another process steer faults and see what arrived.

Served only when asked for (`--control`, `MockServer(control=True)`): it has no auth and
is not part of the Sensocan API. Its requests skip faults and the request log.

    POST   /_mock/faults     add a rule (JSON, see faults.py)    -> 201 {"rule": {...}}
    GET    /_mock/faults     the active rules                   -> 200 {"rules": [...]}
    DELETE /_mock/faults     remove them all                    -> 200 {"count": N}
    GET    /_mock/readings   stored readings [?device=UUID]     -> 200 {"readings": [...]}
    GET    /_mock/requests   the request log                    -> 200 {"requests": [...]}
"""

import json
from urllib.parse import parse_qs

from .faults import FaultRuleError
from .wire import Reply, json_message

PREFIX = "/_mock/"


class Control:
    def __init__(self, faults, store):
        self.faults = faults
        self.store = store
        self._routes = {
            "/_mock/faults": {"POST": self._add_fault, "GET": self._list_faults,
                              "DELETE": self._clear_faults},
            "/_mock/readings": {"GET": self._readings},
            "/_mock/requests": {"GET": self._requests},
        }

    def handle(self, request):
        methods = self._routes.get(request.path)
        if methods is None:
            return json_message(404, "Not Found.")
        if request.method not in methods:
            return json_message(405, "Supported methods: %s." % ", ".join(methods),
                                {"Allow": ", ".join(methods)})
        return methods[request.method](request)

    def _add_fault(self, request):
        try:
            spec = json.loads(request.body)
        except (ValueError, RecursionError):
            return json_message(400, "Malformed JSON body.")
        try:
            rule = self.faults.add(spec)
        except FaultRuleError as e:
            return json_message(422, "Invalid fault rule: %s" % e)
        return Reply(201, {"message": "Fault added.", "rule": rule.to_dict()})

    def _list_faults(self, request):
        return Reply(200, {"rules": [rule.to_dict() for rule in self.faults.rules()]})

    def _clear_faults(self, request):
        return Reply(200, {"message": "Faults cleared.", "count": self.faults.clear()})

    def _readings(self, request):
        device = parse_qs(request.query).get("device", [None])[0]
        return Reply(200, {"readings": self.store.readings(device)})

    def _requests(self, request):
        return Reply(200, {"requests": self.store.requests()})
