"""security-headers: a Switchyard request-hook plugin in Python.

Adds security headers to every response (HSTS on HTTPS only, nosniff,
frame options, referrer policy) and tells the server the client's address
in `x-client-ip`. Settings, from the plugin's `config` table:

    [plugin.security-headers]
    source = "examples/plugins/security-headers-py/security_headers.wasm"
    config = { hsts_max_age = 31536000, frame_options = "DENY", referrer_policy = "no-referrer" }
    memory_limit = "128MiB"     # CPython needs room
    timeout = "50ms"
"""

import wit_world
from componentize_py_types import Err
from wit_world.exports import request_hook
from wit_world.imports import host, types

SETTINGS = {
    "hsts_max_age": 31536000,
    "frame_options": "DENY",
    "referrer_policy": "no-referrer",
}


class Lifecycle(wit_world.exports.Lifecycle):
    def init(self) -> None:
        age = host.config_get("hsts_max_age")
        if age is not None:
            if not age.isdigit():
                raise Err(f"hsts_max_age = {age}: expected a number of seconds")
            SETTINGS["hsts_max_age"] = int(age)
        frame = host.config_get("frame_options")
        if frame is not None:
            if frame.upper() not in ("DENY", "SAMEORIGIN"):
                raise Err(f'frame_options = "{frame}": expected "DENY" or "SAMEORIGIN"')
            SETTINGS["frame_options"] = frame.upper()
        policy = host.config_get("referrer_policy")
        if policy is not None:
            SETTINGS["referrer_policy"] = policy
        host.log(host.Level.INFO, f"security headers: {SETTINGS}")


def set_header(name: str, value: str) -> types.HeaderOp:
    return types.HeaderOp_Set(types.Header(name, value.encode()))


class RequestHook(wit_world.exports.RequestHook):
    def declare_interest(self) -> request_hook.Interest:
        return request_hook.Interest([], [])

    def on_request(self, req: types.Request) -> request_hook.Decision:
        response = [
            set_header("x-content-type-options", "nosniff"),
            set_header("x-frame-options", SETTINGS["frame_options"]),
            set_header("referrer-policy", SETTINGS["referrer_policy"]),
        ]
        if req.scheme() == types.Scheme.HTTPS:
            response.append(
                set_header("strict-transport-security", f"max-age={SETTINGS['hsts_max_age']}; includeSubDomains")
            )
        client = req.client_addr().rsplit(":", 1)[0].strip("[]")
        return request_hook.Decision(
            request_hook.Action_Continue(),
            [set_header("x-client-ip", client)],
            response,
        )
