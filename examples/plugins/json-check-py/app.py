"""json-check: a Switchyard plugin in Python that reads the request body.

Contract 0.2's body hook: the host buffers up to `max_bytes` of the body
before `on_request` is called (a longer body is refused with 413, without
calling the plugin), then streams the body on to the server unchanged.
For POST, PUT and PATCH under `paths`, the body must be JSON (400 when it
does not parse), an object holding every field in `required` (422
otherwise), sent as `application/json` (415 otherwise).

    [plugin.json-check]
    source = "examples/plugins/json-check-py/json_check.wasm"
    memory_limit = "128MiB"     # CPython needs room
    timeout = "50ms"
    max_body_buffer = "64KiB"   # the most the host will buffer for it
    config = { paths = ["/api/"], required = ["name"], max_bytes = 16384 }
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.exports import body_hook, request_hook
from wit_world.imports import host, types

SETTINGS = {"paths": [], "required": [], "max_bytes": 16384}
CHECKED = ("POST", "PUT", "PATCH")


def listed(prefix: str) -> list:
    """A list setting, read as config-get flattens it: `key.0`, `key.1`..."""
    return [value for key, value in host.config_entries() if key.startswith(prefix + ".")]


class Lifecycle(wit_world.exports.Lifecycle):
    def init(self) -> None:
        SETTINGS["paths"] = listed("paths")
        for path in SETTINGS["paths"]:
            if not path.startswith("/"):
                raise Err(f'paths: "{path}" must start with "/"')
        SETTINGS["required"] = listed("required")
        size = host.config_get("max_bytes")
        if size is not None:
            if not size.isdigit() or int(size) == 0:
                raise Err(f"max_bytes = {size}: expected a positive number of bytes")
            SETTINGS["max_bytes"] = int(size)


class BodyHook(wit_world.exports.BodyHook):
    def declare_body_interest(self) -> body_hook.BodyInterest:
        return body_hook.BodyInterest(SETTINGS["max_bytes"], body_hook.OverLimit.REJECT)


def refuse(status: int, message: str) -> request_hook.Decision:
    body = json.dumps({"error": message}).encode() + b"\n"
    headers = [types.Header("content-type", b"application/json")]
    return request_hook.Decision(request_hook.Action_Respond(types.Response(status, headers, body)), [], [])


def carry_on() -> request_hook.Decision:
    return request_hook.Decision(request_hook.Action_Continue(), [], [])


class RequestHook(wit_world.exports.RequestHook):
    def declare_interest(self) -> request_hook.Interest:
        return request_hook.Interest([], SETTINGS["paths"])

    def on_request(self, req: types.Request) -> request_hook.Decision:
        if req.method() not in CHECKED:
            return carry_on()
        content_type = (req.header("content-type") or b"").decode("latin-1").lower()
        if not content_type.startswith("application/json"):
            return refuse(415, "expected content-type application/json")
        try:
            document = json.loads(req.body() or b"")
        except ValueError as error:
            return refuse(400, f"the body is not JSON: {error}")
        if not isinstance(document, dict):
            return refuse(422, "the body must be a JSON object")
        missing = [field for field in SETTINGS["required"] if field not in document]
        if missing:
            return refuse(422, "missing fields: " + ", ".join(missing))
        return carry_on()
