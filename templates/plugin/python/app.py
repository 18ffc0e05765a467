"""{{name}}: a Switchyard request plugin, in Python.

- A request for `/hello` is answered by the proxy itself: 200,
  `content-type: text/plain`, the configured greeting.
- Every other request continues down the plugin chain (and, at its end, to
  the listener's `default_backend`); the response the client gets carries
  `x-plugin: {{name}}`.

Settings, from the plugin's `config` table in the proxy's configuration:

    [plugin.{{name}}]
    source = "{{name_snake}}.wasm"
    config = { greeting = "hello from {{name}}" }   # optional
    memory_limit = "128MiB"                         # CPython needs room

The contract is wit/plugin.wit. componentize-py generates the `wit_world`
package imported below from its `request-plugin` world at build time; to
read it (or show it to an editor), write it out with
`componentize-py --wit-path wit --world request-plugin bindings gen`.
How WIT looks from Python: kebab-case names become snake_case,
`option<T>` is the value or None, `list<u8>` is bytes, records are
classes, each variant case is a class (`HeaderOp_Set`), and an `err`
result is raised as `Err(value)`.

`print` output reaches the proxy's log at debug level, and an exception's
traceback is shown with the failed call (in the log and in `switchyard
plugin test`); log with `host.log`.
"""

import wit_world
from componentize_py_types import Err
from wit_world.exports import request_hook
from wit_world.imports import host, types

# The greeting when the configuration sets none.
DEFAULT_GREETING = "hello from {{name}}"

# The body of the /hello answer, set by `init`. Every instance of the
# plugin (one per worker thread, and fresh ones after a hot swap) is a
# separate Wasm instance with its own interpreter, so module globals are
# per-instance state.
BODY = b""


class Lifecycle(wit_world.exports.Lifecycle):
    def init(self) -> None:
        """Called once per instance, before any hook: read and check the
        settings. Raising `Err(message)` rejects the plugin; the proxy's log
        and `switchyard check` show the message, so make it name the
        setting."""
        global BODY
        greeting = host.config_get("greeting")
        if greeting is None:
            greeting = DEFAULT_GREETING
        elif not greeting.strip():
            raise Err("greeting: must not be empty (remove it to use the default)")
        BODY = f"{greeting}\n".encode()
        host.log(host.Level.INFO, f"greeting: {greeting!r}")


def header(name: str, value: str) -> types.Header:
    """A header; values are bytes, as HTTP allows non-UTF-8 values."""
    return types.Header(name, value.encode())


class RequestHook(wit_world.exports.RequestHook):
    def declare_interest(self) -> request_hook.Interest:
        """Which requests the plugin sees; asked once, after `init`. Empty
        lists (schemes, path prefixes) mean every request. (With `["/hello"]`
        as prefixes the host would skip the plugin for other paths without
        calling it, but this plugin also tags every other response.)"""
        return request_hook.Interest([], [])

    def on_request(self, req: types.Request) -> request_hook.Decision:
        """The decision for one request. `req` is a handle: only what is
        asked for (`req.path()`, `req.header("host")`, ...) is copied into
        the plugin."""
        if req.path() == "/hello":
            # Answer directly: nothing is forwarded to a backend.
            response = types.Response(200, [header("content-type", "text/plain")], BODY)
            return request_hook.Decision(request_hook.Action_Respond(response), [], [])
        # Let the next plugin (or the default backend) handle it, and tag the
        # response sent back to the client.
        return request_hook.Decision(
            request_hook.Action_Continue(),
            [],  # edits to the request sent upstream
            [types.HeaderOp_Set(header("x-plugin", "{{name}}"))],  # edits to the response
        )
