// {{name}}: a Switchyard request plugin, in JavaScript.
//
// - A request for `/hello` is answered by the proxy itself: 200,
//   `content-type: text/plain`, the configured greeting.
// - Every other request continues down the plugin chain (and, at its end,
//   to the listener's `default_backend`); the response the client gets
//   carries `x-plugin: {{name}}`.
//
// Settings, from the plugin's `config` table in the proxy's configuration:
//
//   [plugin.{{name}}]
//   source = "{{name_snake}}.wasm"
//   config = { greeting = "hello from {{name}}" }   # optional
//   memory_limit = "256MiB"                         # the JS engine needs room
//
// The contract is wit/plugin.wit; build.sh builds this file against its
// `request-plugin` world with componentize-js. How WIT looks from
// JavaScript:
//
// - kebab-case names become camelCase (`config-get` -> `configGet`);
// - each exported interface is a named export holding its functions;
// - `option<T>` is the value or `undefined`; `list<u8>` is a `Uint8Array`;
// - variants are `{ tag, val }` objects, enums are strings;
// - `result<_, string>`: returning means `ok`; throwing an object with a
//   `payload` property means `err(payload)` (a plain `Error` traps).
//
// What a plugin cannot do: timers, `fetch`. `console.log` output goes to
// the proxy's log at debug level (log with `log` for anything else), and
// an uncaught exception's message and stack are shown with the failure. And the top level of this module runs at *build* time
// (componentize-js snapshots it), where there is no host: call the host
// from `init` and the hooks only.

import { configGet, log } from 'switchyard:plugin/host@0.2.0';

/** The greeting when the configuration sets none. */
const DEFAULT_GREETING = 'hello from {{name}}';

const encoder = new TextEncoder();

/** A header; values are bytes, as HTTP allows non-UTF-8 values. */
function header(name, value) {
  return { name, value: encoder.encode(value) };
}

// The body of the /hello answer, set by `init`. Every instance of the
// plugin (one per worker thread, and fresh ones after a hot swap) is a
// separate Wasm instance with its own engine, so module variables are
// per-instance state.
let body = new Uint8Array();

/** `lifecycle`: called once per instance, before any hook. */
export const lifecycle = {
  // Read and check the settings. Throwing `{ payload: message }` rejects
  // the plugin; the proxy's log and `switchyard check` show the message,
  // so make it name the setting.
  init() {
    let greeting = configGet('greeting');
    if (greeting === undefined) {
      greeting = DEFAULT_GREETING;
    } else if (greeting.trim() === '') {
      throw { payload: 'greeting: must not be empty (remove it to use the default)' };
    }
    body = encoder.encode(`${greeting}\n`);
    log('info', `greeting: ${JSON.stringify(greeting)}`);
  },
};

/** `request-hook`: the per-request decision. */
export const requestHook = {
  // Which requests the plugin sees; asked once, after `init`. Empty lists
  // mean every request. (With `pathPrefixes: ['/hello']` the host would
  // skip the plugin for other paths without calling it, but this plugin
  // also tags every other response.)
  declareInterest() {
    return { schemes: [], pathPrefixes: [] };
  },

  // `req` is a handle: only what is asked for (`req.path()`,
  // `req.header('host')`, ...) is copied into the plugin.
  onRequest(req) {
    if (req.path() === '/hello') {
      // Answer directly: nothing is forwarded to a backend.
      return {
        action: {
          tag: 'respond',
          val: { status: 200, headers: [header('content-type', 'text/plain')], body },
        },
        requestHeaders: [],
        responseHeaders: [],
      };
    }
    // Let the next plugin (or the default backend) handle it, and tag the
    // response sent back to the client.
    return {
      action: { tag: 'continue' },
      requestHeaders: [], // edits to the request sent upstream
      responseHeaders: [{ tag: 'set', val: header('x-plugin', '{{name}}') }],
    };
  },
};
