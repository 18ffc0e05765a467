/*
 * {{name}}: a Switchyard request plugin, in C.
 *
 * - A request for `/hello` is answered by the proxy itself: 200,
 *   `content-type: text/plain`, the configured greeting.
 * - Every other request continues down the plugin chain (and, at its end,
 *   to the listener's `default_backend`); the response the client gets
 *   carries `x-plugin: {{name}}`.
 *
 * Settings, from the plugin's `config` table in the proxy's configuration:
 *
 *   [plugin.{{name}}]
 *   source = "{{name_snake}}.wasm"
 *   config = { greeting = "hello from {{name}}" }   # optional
 *
 * The contract is wit/plugin.wit. build.sh generates the C bindings of its
 * `request-plugin` world into gen/ (read gen/request_plugin.h for every
 * type and function). What to know about them:
 *
 * - Strings and lists are { ptr, len } pairs, not NUL-terminated.
 * - What the host returns (a config value, the path) belongs to you:
 *   free it when done.
 * - What you return is freed by the bindings after the host has copied it,
 *   so it must come from malloc: never return static strings.
 * - Borrowed handles (the request) must be dropped before returning.
 * - The component is built without a WASI adapter: use only the parts of
 *   libc that do not call WASI (malloc and string functions are fine;
 *   stdio and time are not). build.sh checks.
 */

#include <stdlib.h>
#include <string.h>

#include "request_plugin.h"

typedef request_plugin_string_t string_t;
typedef exports_switchyard_plugin_request_hook_header_t header_t;

/* The greeting when the configuration sets none. */
#define DEFAULT_GREETING "hello from {{name}}"

/* The body of the /hello answer: the greeting and a newline. Set by init.
 * Every instance of the plugin (one per worker thread, and fresh ones
 * after a hot swap) is a separate Wasm instance with its own memory, so
 * globals are per-instance state. */
static char *body;
static size_t body_len;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* A malloc'd copy of `n` bytes (out of memory traps, as the bindings do). */
static uint8_t *copy_bytes(const char *s, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    return p;
}

/* A header with malloc'd name and value, ready to be returned. */
static header_t make_header(const char *name, const char *value) {
    header_t h;
    h.name = (string_t){copy_bytes(name, strlen(name)), strlen(name)};
    h.value = (request_plugin_list_u8_t){copy_bytes(value, strlen(value)), strlen(value)};
    return h;
}

/* Logs `prefix` followed by `len` bytes of `text` (the host copies it). */
static void log_info(const char *prefix, const uint8_t *text, size_t len) {
    size_t n = strlen(prefix);
    string_t line = {malloc(n + len), n + len};
    if (!line.ptr)
        abort();
    memcpy(line.ptr, prefix, n);
    memcpy(line.ptr + n, text, len);
    switchyard_plugin_host_log(SWITCHYARD_PLUGIN_HOST_LEVEL_INFO, &line);
    free(line.ptr);
}

/* Stops the plugin: C has no exceptions, and a component built without
 * WASI has no stderr, so the reason goes to the proxy's log (and to
 * `switchyard plugin test`) with host.log first. The call then traps and
 * the plugin's `on_error` policy decides the request. */
static void fail(const char *reason) {
    string_t line = {(uint8_t *)reason, strlen(reason)};
    switchyard_plugin_host_log(SWITCHYARD_PLUGIN_HOST_LEVEL_ERROR, &line);
    abort();
}

static bool is_blank(const string_t *s) {
    for (size_t i = 0; i < s->len; i++)
        if (s->ptr[i] != ' ' && s->ptr[i] != '\t')
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* lifecycle                                                                */
/* ------------------------------------------------------------------------ */

/* Called once per instance, before any hook: read and check the settings.
 * Returning false with a message in `err` rejects the plugin; the proxy's
 * log and `switchyard check` show it, so make it name the setting. */
bool exports_switchyard_plugin_lifecycle_init(string_t *err) {
    string_t key, greeting;
    request_plugin_string_set(&key, "greeting");
    if (switchyard_plugin_host_config_get(&key, &greeting)) {
        if (is_blank(&greeting)) {
            request_plugin_string_free(&greeting);
            request_plugin_string_dup(err, "greeting: must not be empty (remove it to use the default)");
            return false;
        }
    } else {
        request_plugin_string_dup(&greeting, DEFAULT_GREETING);
    }

    free(body);
    body_len = greeting.len + 1;
    body = malloc(body_len);
    if (!body)
        abort();
    memcpy(body, greeting.ptr, greeting.len);
    body[greeting.len] = '\n';
    log_info("greeting: ", greeting.ptr, greeting.len);
    request_plugin_string_free(&greeting);
    return true;
}

/* ------------------------------------------------------------------------ */
/* request-hook                                                             */
/* ------------------------------------------------------------------------ */

/* Which requests the plugin sees; asked once, after init. Empty lists (all
 * zero) mean every request. (Listing "/hello" in `path_prefixes` would let
 * the host skip the plugin for other paths without calling it, but this
 * plugin also tags every other response.) */
void exports_switchyard_plugin_request_hook_declare_interest(
    exports_switchyard_plugin_request_hook_interest_t *ret) {
    memset(ret, 0, sizeof *ret);
}

/* The decision for one request. `req` is a handle: only what is asked for
 * (the path here) is copied into the plugin. */
void exports_switchyard_plugin_request_hook_on_request(
    exports_switchyard_plugin_request_hook_borrow_request_t req,
    exports_switchyard_plugin_request_hook_decision_t *ret) {
    memset(ret, 0, sizeof *ret); /* continue, no header edits */

    string_t path;
    switchyard_plugin_types_method_request_path(req, &path);
    bool hello = path.len == 6 && memcmp(path.ptr, "/hello", 6) == 0;
    request_plugin_string_free(&path);
    /* A borrow still held when the call returns is a trap. */
    switchyard_plugin_types_request_drop_borrow(req);

    if (hello) {
        /* Answer directly: nothing is forwarded to a backend. */
        header_t *headers = malloc(sizeof *headers);
        if (!headers)
            abort();
        headers[0] = make_header("content-type", "text/plain");
        ret->action.tag = EXPORTS_SWITCHYARD_PLUGIN_REQUEST_HOOK_ACTION_RESPOND;
        ret->action.val.respond.status = 200;
        ret->action.val.respond.headers = (switchyard_plugin_types_list_header_t){headers, 1};
        ret->action.val.respond.body = (request_plugin_list_u8_t){copy_bytes(body, body_len), body_len};
        return;
    }

    /* Let the next plugin (or the default backend) handle it, and tag the
     * response sent back to the client. */
    exports_switchyard_plugin_request_hook_header_op_t *ops = malloc(sizeof *ops);
    if (!ops)
        abort();
    ops[0].tag = SWITCHYARD_PLUGIN_TYPES_HEADER_OP_SET;
    ops[0].val.set = make_header("x-plugin", "{{name}}");
    ret->response_headers = (exports_switchyard_plugin_request_hook_list_header_op_t){ops, 1};
}
