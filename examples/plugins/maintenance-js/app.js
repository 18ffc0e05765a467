// `maintenance-js`: a Switchyard request plugin written in JavaScript.
//
// It does two things, in this order:
//
// 1. Maintenance mode. With `maintenance = true`, every request whose path
//    does not start with one of `allow_paths` is answered by the proxy
//    itself: 503, a `retry-after` header, `cache-control: no-store` and a
//    small HTML page. Nothing reaches a backend.
// 2. A/B routing. Every other request is routed to variant a's backend
//    (`ab_backend_a`) or variant b's (`ab_backend_b`). A client that sends
//    the cookie `ab=a` or `ab=b` (cookie name: `ab_cookie`) keeps its
//    variant; any other client is assigned one (b with probability
//    `ab_percent_b` %) and gets a `set-cookie` so that it keeps it. The
//    upstream request carries `x-ab-variant: a|b` either way. Without A/B
//    backends the plugin lets the request continue down the chain.
//
// Built with componentize-js against the WIT world `request-plugin` of
// wit/plugin.wit (see build.sh). How the WIT types look from JavaScript:
//
// - kebab-case names become camelCase (`config-get` -> `configGet`,
//   `path-prefixes` -> `pathPrefixes`, `request-hook` -> `requestHook`);
// - an exported interface is a named export holding its functions;
// - `option<T>` is the value or `undefined`;
// - `list<u8>` is a `Uint8Array`;
// - variants are `{ tag, val }` objects, enums are strings;
// - `result<_, string>`: returning means `ok`, throwing means `err`. The
//   thrown value's `payload` property (or the value itself, if it is not an
//   Error) becomes the error string. An Error without `payload` is treated
//   as a bug and traps, so configuration errors are thrown as
//   `ConfigError`, which carries one.
//
// Things the host does not allow, and this file avoids:
//
// - `console.log` and friends reach the proxy's log only at debug level
//   (the host keeps what a plugin writes to stdout and stderr, and shows
//   it with a failed call), so logging goes through `host.log`.
// - Timers, `fetch`, files: only clocks, random, environment and exit
//   of WASI 0.2 are provided. `Math.random()` is fine: componentize-js
//   draws its randomness from `wasi:random`, which the host provides.
// - Calling the host at the top level of the module: componentize-js runs
//   the top level at *build* time (Wizer snapshot), where there is no host.
//   Configuration is read in `lifecycle.init`, which the host calls once
//   per instance (one instance per worker thread) before any request.

import { configGet, configEntries, log } from 'switchyard:plugin/host@0.2.0';

/** A bad setting: `lifecycle.init` turns it into `err(message)`. */
class ConfigError extends Error {
  constructor(message) {
    super(message);
    // What componentize-js passes to the host as the error string.
    this.payload = message;
  }
}

// Every setting the plugin reads; anything else in its `config` table is
// reported as an error, so a typo (`maintainance = true`) does not pass
// silently.
const KNOWN = new Set([
  'maintenance',
  'allow_paths',
  'retry_after',
  'ab_backend_a',
  'ab_backend_b',
  'ab_percent_b',
  'ab_cookie',
]);

/** The checked settings, set by `init`; one copy per instance. */
let settings = null;

const encoder = new TextEncoder();
const decoder = new TextDecoder(); // UTF-8; invalid bytes become U+FFFD

/** A WIT `header`: a lower-case name and a value as bytes. */
function header(name, value) {
  return { name, value: encoder.encode(value) };
}

const NO_OPS = [];

// ---------------------------------------------------------------------
// Configuration

/** `maintenance`: a TOML boolean, rendered by the host as true/false. */
function readBool(key, fallback) {
  const raw = configGet(key);
  if (raw === undefined) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(`${key} = ${JSON.stringify(raw)}: expected true or false`);
}

/** A number within [min, max]; `integer` refuses fractions. */
function readNumber(key, fallback, min, max, integer) {
  const raw = configGet(key);
  if (raw === undefined) return fallback;
  const value = raw.trim() === '' ? NaN : Number(raw);
  const ok = Number.isFinite(value) && value >= min && value <= max &&
    (!integer || Number.isInteger(value));
  if (!ok) {
    const what = integer ? 'an integer' : 'a number';
    throw new ConfigError(`${key} = ${raw}: expected ${what} from ${min} to ${max}`);
  }
  return value;
}

/** A string setting that, when present, must not be empty. */
function readString(key) {
  const raw = configGet(key);
  if (raw === undefined) return undefined;
  if (raw.trim() === '') throw new ConfigError(`${key}: must not be empty`);
  return raw.trim();
}

/**
 * `allow_paths`: an array, which the host flattens to `allow_paths.0`,
 * `allow_paths.1`, ... Read until the first missing index.
 */
function readAllowPaths() {
  if (configGet('allow_paths') !== undefined) {
    throw new ConfigError('allow_paths: expected an array of path prefixes, like ["/health"]');
  }
  const paths = [];
  for (let i = 0; ; i++) {
    const path = configGet(`allow_paths.${i}`);
    if (path === undefined) break;
    if (!path.startsWith('/')) {
      throw new ConfigError(`allow_paths.${i} = ${JSON.stringify(path)}: a path prefix must start with "/"`);
    }
    paths.push(path);
  }
  return paths;
}

/** Cookie names are RFC 6265 tokens. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function readSettings() {
  for (const [key] of configEntries()) {
    const top = key.split('.')[0];
    if (!KNOWN.has(top)) {
      throw new ConfigError(`${key}: unknown setting (known: ${[...KNOWN].join(', ')})`);
    }
  }

  const maintenance = readBool('maintenance', false);
  const allowPaths = readAllowPaths();
  const retryAfter = readNumber('retry_after', 600, 0, 2 ** 31 - 1, true);

  const backendA = readString('ab_backend_a');
  const backendB = readString('ab_backend_b');
  if ((backendA === undefined) !== (backendB === undefined)) {
    const missing = backendA === undefined ? 'ab_backend_a' : 'ab_backend_b';
    const present = backendA === undefined ? 'ab_backend_b' : 'ab_backend_a';
    throw new ConfigError(`${missing}: required when ${present} is set (A/B needs both backends)`);
  }
  const percentB = readNumber('ab_percent_b', 50, 0, 100, false);
  const cookie = readString('ab_cookie') ?? 'ab';
  if (!TOKEN.test(cookie)) {
    throw new ConfigError(`ab_cookie = ${JSON.stringify(cookie)}: not a valid cookie name`);
  }

  return {
    maintenance,
    allowPaths,
    retryAfter,
    // null when A/B routing is off.
    ab: backendA === undefined ? null : { a: backendA, b: backendB, percentB, cookie },
  };
}

// ---------------------------------------------------------------------
// Decisions

/** The page served during maintenance (built once per instance). */
function maintenancePage(retryAfter) {
  const minutes = Math.max(1, Math.round(retryAfter / 60));
  return encoder.encode(
    '<!doctype html>\n' +
    '<html lang="en">\n' +
    '<head><meta charset="utf-8"><title>Down for maintenance</title></head>\n' +
    '<body>\n' +
    '<h1>Down for maintenance</h1>\n' +
    `<p>We are doing some work on the site. Please try again in about ${minutes} minute${minutes === 1 ? '' : 's'}.</p>\n` +
    '</body>\n' +
    '</html>\n',
  );
}

/** The 503 answer, built once per instance by `init`. */
let maintenanceResponse = null;

/** The value of cookie `name` in the request's `cookie` headers, if any. */
function cookieValue(req, name) {
  for (const bytes of req.headerAll('cookie')) {
    for (const pair of decoder.decode(bytes).split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim() === name) {
        // Values may be quoted (RFC 6265): ab="b".
        return pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      }
    }
  }
  return undefined;
}

/** The A/B decision for a request not stopped by maintenance mode. */
function abDecision(req, ab) {
  const asked = cookieValue(req, ab.cookie)?.toLowerCase();
  let variant;
  const responseHeaders = [];
  if (asked === 'a' || asked === 'b') {
    variant = asked;
  } else {
    // A new client (or a cookie with a value we do not know): draw.
    variant = Math.random() * 100 < ab.percentB ? 'b' : 'a';
    responseHeaders.push({
      tag: 'append',
      val: header('set-cookie', `${ab.cookie}=${variant}; Path=/; Max-Age=86400`),
    });
  }
  return {
    action: { tag: 'route', val: variant === 'a' ? ab.a : ab.b },
    // `set`, not `append`: a client cannot pick the header's value itself.
    requestHeaders: [{ tag: 'set', val: header('x-ab-variant', variant) }],
    responseHeaders,
  };
}

// ---------------------------------------------------------------------
// Exports

/** `lifecycle`: check the configuration once per instance. */
export const lifecycle = {
  init() {
    settings = readSettings();
    maintenanceResponse = {
      status: 503,
      headers: [
        header('content-type', 'text/html; charset=utf-8'),
        header('retry-after', String(settings.retryAfter)),
        header('cache-control', 'no-store'),
      ],
      body: maintenancePage(settings.retryAfter),
    };
    const ab = settings.ab;
    log('info',
      `maintenance ${settings.maintenance ? 'ON' : 'off'}` +
      (settings.maintenance ? ` (allowed: ${settings.allowPaths.join(' ') || 'nothing'})` : '') +
      (ab ? `; A/B ${ab.a} / ${ab.b}, ${ab.percentB} % to b, cookie ${ab.cookie}` : '; A/B off'));
  },
};

/** `request-hook`: the per-request decision. */
export const requestHook = {
  // Every request: maintenance mode has to see all paths.
  declareInterest() {
    return { schemes: [], pathPrefixes: [] };
  },

  onRequest(req) {
    const s = settings;
    if (s === null) {
      // Unreachable: the host calls init first. Be harmless anyway.
      return { action: { tag: 'continue' }, requestHeaders: NO_OPS, responseHeaders: NO_OPS };
    }
    if (s.maintenance) {
      const path = req.path();
      if (!s.allowPaths.some((prefix) => path.startsWith(prefix))) {
        return {
          action: { tag: 'respond', val: maintenanceResponse },
          requestHeaders: NO_OPS,
          responseHeaders: NO_OPS,
        };
      }
      // An allowed path works as it does outside maintenance.
    }
    if (s.ab === null) {
      return { action: { tag: 'continue' }, requestHeaders: NO_OPS, responseHeaders: NO_OPS };
    }
    return abDecision(req, s.ab);
  },
};
