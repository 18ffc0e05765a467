/*
 * acl: an IP allow/deny list for Switchyard, written in C.
 *
 *   [plugin.acl]
 *   source = "examples/plugins/acl-c/acl.wasm"
 *   config = { allow = ["127.0.0.0/8", "10.0.0.0/8", "::1/128"], deny = ["127.0.0.2/32"] }
 *
 * Settings (all optional):
 *   allow    CIDR ranges (IPv4 or IPv6) whose clients may pass
 *   deny     CIDR ranges whose clients are refused, whatever `allow` says
 *   default  "allow" or "deny": what happens to a client in no range;
 *            "deny" when `allow` lists anything, "allow" otherwise
 *   status   the refusal's status, 400..599 (default 403)
 *
 * A range without "/len" is a single address. IPv4 ranges match IPv4
 * clients (including IPv4-mapped IPv6 addresses, ::ffff:a.b.c.d), IPv6
 * ranges match the other IPv6 clients. Host bits after the prefix are
 * ignored (10.1.2.3/8 is 10.0.0.0/8).
 *
 * Built with wit-bindgen's C generator (see build.sh). The plugin uses only
 * string functions and malloc from wasi-libc, none of which calls into WASI,
 * so the component imports nothing but switchyard:plugin interfaces.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request_plugin.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

/* A view of bytes that are not NUL-terminated (WIT strings are not). */
typedef struct {
    const char *ptr;
    size_t len;
} span_t;

static span_t span_of(const request_plugin_string_t *s) {
    return (span_t){(const char *)s->ptr, s->len};
}

static bool span_eq(span_t s, const char *lit) {
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static bool span_starts_with(span_t s, const char *lit) {
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.ptr, lit, n) == 0;
}

/* Index of the first `c` in `s`, or s.len when absent. */
static size_t span_find(span_t s, char c) {
    const char *hit = s.len ? memchr(s.ptr, c, s.len) : NULL;
    return hit ? (size_t)(hit - s.ptr) : s.len;
}

/* Index of the last `c` in `s`, or s.len when absent. */
static size_t span_rfind(span_t s, char c) {
    for (size_t i = s.len; i > 0; i--)
        if (s.ptr[i - 1] == c)
            return i - 1;
    return s.len;
}

static span_t span_sub(span_t s, size_t from, size_t to) {
    return (span_t){s.ptr + from, to - from};
}

/* A growable byte buffer for messages. Its memory comes from malloc, so it
 * can be handed to the host as a result: the bindings' post-return free()s
 * it. Out of memory traps, as the bindings' own allocator does. */
typedef struct {
    char *ptr;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const char *s, size_t n) {
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        b->ptr = realloc(b->ptr, cap);
        if (!b->ptr)
            abort();
        b->cap = cap;
    }
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
}

static void buf_str(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_span(buf_t *b, span_t s) { buf_put(b, s.ptr, s.len); }

static void buf_uint(buf_t *b, unsigned long v) {
    char digits[24];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_put(b, digits + i, sizeof digits - i);
}

/* Moves the buffer into a WIT string (ownership passes to the caller). */
static request_plugin_string_t buf_take(buf_t *b) {
    request_plugin_string_t s = {(uint8_t *)b->ptr, b->len};
    *b = (buf_t){0};
    return s;
}

/* A malloc'd copy of `n` bytes, for values returned to the host. */
static uint8_t *dup_bytes(const char *s, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    return p;
}

static void log_line(switchyard_plugin_host_level_t level, span_t text) {
    request_plugin_string_t msg = {(uint8_t *)text.ptr, text.len};
    switchyard_plugin_host_log(level, &msg);
}

/* ------------------------------------------------------------------------ */
/* Addresses and ranges                                                     */
/* ------------------------------------------------------------------------ */

/* Every address is kept as 16 bytes; an IPv4 address a.b.c.d is stored as
 * the IPv4-mapped ::ffff:a.b.c.d, and its prefix length counts from the
 * start of those 128 bits (IPv4 /8 is /104). `v4` keeps the families apart:
 * a range only matches clients of its own family. */
typedef struct {
    uint8_t bytes[16];
    bool v4;
} addr_t;

typedef struct {
    addr_t net;    /* the network address, host bits cleared */
    unsigned bits; /* prefix length in the 128-bit space */
} range_t;

static const uint8_t V4_MAPPED_PREFIX[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c) {
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decimal number of 1..3 digits, at most `max`. */
static bool parse_small_uint(span_t s, unsigned max, unsigned *out) {
    if (s.len == 0 || s.len > 3)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.ptr[i]))
            return false;
        v = v * 10 + (unsigned)(s.ptr[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Dotted-quad IPv4, exactly four decimal parts, no leading zeros (as the
 * host prints addresses; "010" would be ambiguous). */
static bool parse_ipv4(span_t s, uint8_t out[4]) {
    size_t start = 0;
    for (int part = 0; part < 4; part++) {
        span_t rest = span_sub(s, start, s.len);
        size_t dot = span_find(rest, '.');
        if ((part < 3) == (dot == rest.len))
            return false; /* too few or too many parts */
        span_t digits = span_sub(rest, 0, dot);
        unsigned v;
        if (!parse_small_uint(digits, 255, &v))
            return false;
        if (digits.len > 1 && digits.ptr[0] == '0')
            return false;
        out[part] = (uint8_t)v;
        start += dot + 1;
    }
    return true;
}

/* One IPv6 group: 1..4 hex digits. */
static bool parse_hex_group(span_t s, uint16_t *out) {
    if (s.len == 0 || s.len > 4)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < s.len; i++) {
        int d = hex_value(s.ptr[i]);
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    *out = (uint16_t)v;
    return true;
}

/* RFC 4291 text form: eight groups, or fewer around one "::"; the last 32
 * bits may be written as dotted IPv4 (::ffff:10.0.0.1). */
static bool parse_ipv6(span_t s, uint8_t out[16]) {
    uint16_t groups[8];
    size_t count = 0;      /* groups parsed */
    size_t gap = SIZE_MAX; /* index in `groups` where "::" stands */
    size_t i = 0;

    if (span_starts_with(s, "::")) {
        gap = 0;
        i = 2;
    }
    while (i < s.len) {
        span_t rest = span_sub(s, i, s.len);
        size_t colon = span_find(rest, ':');
        span_t piece = span_sub(rest, 0, colon);

        if (colon == rest.len && span_find(piece, '.') < piece.len) {
            /* Trailing dotted IPv4: two groups' worth. */
            uint8_t v4[4];
            if (count > 6 || !parse_ipv4(piece, v4))
                return false;
            groups[count++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[count++] = (uint16_t)(v4[2] << 8 | v4[3]);
            break;
        }
        if (count == 8 || !parse_hex_group(piece, &groups[count++]))
            return false;
        if (colon == rest.len)
            break; /* last group */
        i += colon + 1;
        if (i < s.len && s.ptr[i] == ':') {
            if (gap != SIZE_MAX)
                return false; /* a second "::" */
            gap = count;
            i++;
        } else if (i == s.len) {
            return false; /* a trailing single ':' */
        }
    }

    /* "::" must stand for at least one group; without it there are 8. */
    if (gap == SIZE_MAX ? count != 8 : count > 7)
        return false;
    size_t zeros = 8 - count;
    memset(out, 0, 16);
    for (size_t g = 0, at = 0; g < count; g++, at++) {
        if (g == gap)
            at += zeros;
        out[2 * at] = (uint8_t)(groups[g] >> 8);
        out[2 * at + 1] = (uint8_t)groups[g];
    }
    return true;
}

static bool is_v4_mapped(const uint8_t bytes[16]) {
    return memcmp(bytes, V4_MAPPED_PREFIX, sizeof V4_MAPPED_PREFIX) == 0;
}

/* An IPv4 or IPv6 address; IPv4-mapped IPv6 addresses count as IPv4. */
static bool parse_addr(span_t s, addr_t *out) {
    if (span_find(s, ':') == s.len) {
        memcpy(out->bytes, V4_MAPPED_PREFIX, sizeof V4_MAPPED_PREFIX);
        out->v4 = true;
        return parse_ipv4(s, out->bytes + 12);
    }
    if (!parse_ipv6(s, out->bytes))
        return false;
    out->v4 = is_v4_mapped(out->bytes);
    return true;
}

/* Clears every bit of `a` after the first `bits`. */
static void mask_to(uint8_t a[16], unsigned bits) {
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        a[i] &= (uint8_t)(0xff00u >> keep);
    }
}

/* "addr/len" or a bare address. On failure, returns why (a static string). */
static const char *parse_range(span_t s, range_t *out) {
    size_t slash = span_find(s, '/');
    span_t ip = span_sub(s, 0, slash);
    if (!parse_addr(ip, &out->net))
        return "not an IPv4 or IPv6 address";

    /* Written as IPv4, or as IPv4-mapped IPv6 (::ffff:a.b.c.d/len)? */
    bool dotted = span_find(ip, ':') == ip.len;
    unsigned max = dotted ? 32 : 128;
    unsigned len = max;
    if (slash < s.len && !parse_small_uint(span_sub(s, slash + 1, s.len), max, &len))
        return dotted ? "prefix length must be 0..32" : "prefix length must be 0..128";

    out->bits = dotted ? 96 + len : len;
    if (out->net.v4 && out->bits < 96)
        return "an IPv4-mapped range needs a prefix length of 96..128";
    mask_to(out->net.bytes, out->bits);
    return NULL;
}

static bool range_contains(const range_t *r, const addr_t *a) {
    if (r->net.v4 != a->v4)
        return false;
    uint8_t masked[16];
    memcpy(masked, a->bytes, 16);
    mask_to(masked, r->bits);
    return memcmp(masked, r->net.bytes, 16) == 0;
}

/* The IP of "ip:port", "[ip]:port" or "[ip%zone]:port". */
static span_t client_ip(span_t addr) {
    if (addr.len && addr.ptr[0] == '[') {
        span_t inner = span_sub(addr, 1, span_find(addr, ']'));
        return span_sub(inner, 0, span_find(inner, '%'));
    }
    return span_sub(addr, 0, span_rfind(addr, ':'));
}

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    range_t *items;
    size_t len, cap;
} range_list_t;

static range_list_t allow_list, deny_list;
static bool default_allow = true;
static uint16_t deny_status = 403;

static void range_list_push(range_list_t *list, range_t r) {
    if (list->len == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        list->items = realloc(list->items, list->cap * sizeof *list->items);
        if (!list->items)
            abort();
    }
    list->items[list->len++] = r;
}

static bool range_list_contains(const range_list_t *list, const addr_t *a) {
    for (size_t i = 0; i < list->len; i++)
        if (range_contains(&list->items[i], a))
            return true;
    return false;
}

/* Ranges as written, for the summary line; only the first few are shown. */
#define SHOWN_RANGES 8

typedef struct {
    range_list_t *list;
    buf_t shown;
} rule_text_t;

/* Parses one range into `rules`. On failure, writes the error message. */
static bool add_range(rule_text_t *rules, span_t key, span_t value, buf_t *err) {
    range_t r;
    const char *why = parse_range(value, &r);
    if (why) {
        buf_span(err, key);
        buf_str(err, " = \"");
        buf_span(err, value);
        buf_str(err, "\": ");
        buf_str(err, why);
        return false;
    }
    range_list_push(rules->list, r);
    if (rules->list->len <= SHOWN_RANGES) {
        buf_str(&rules->shown, rules->list->len > 1 ? ", " : "");
        buf_span(&rules->shown, value);
    }
    return true;
}

/* `default = "allow" | "deny"`. */
static bool set_default(span_t value, int *out, buf_t *err) {
    if (span_eq(value, "allow") || span_eq(value, "deny")) {
        *out = span_eq(value, "allow");
        return true;
    }
    buf_str(err, "default = \"");
    buf_span(err, value);
    buf_str(err, "\": expected \"allow\" or \"deny\"");
    return false;
}

/* `status = 400..599`. */
static bool set_status(span_t value, buf_t *err) {
    unsigned v;
    if (parse_small_uint(value, 599, &v) && v >= 400) {
        deny_status = (uint16_t)v;
        return true;
    }
    buf_str(err, "status = ");
    buf_span(err, value);
    buf_str(err, ": expected a status code 400..599");
    return false;
}

/* One `key = value` of the flattened config. */
static bool apply_setting(span_t key, span_t value, rule_text_t *allow, rule_text_t *deny,
                          int *default_setting, buf_t *err) {
    if (span_eq(key, "allow") || span_starts_with(key, "allow."))
        return add_range(allow, key, value, err);
    if (span_eq(key, "deny") || span_starts_with(key, "deny."))
        return add_range(deny, key, value, err);
    if (span_eq(key, "default"))
        return set_default(value, default_setting, err);
    if (span_eq(key, "status"))
        return set_status(value, err);
    /* A typo such as `alow` must not silently leave the door open. */
    buf_str(err, "unknown setting `");
    buf_span(err, key);
    buf_str(err, "` (expected allow, deny, default or status)");
    return false;
}

static void summarise_list(buf_t *line, const char *name, rule_text_t *rules) {
    buf_str(line, name);
    buf_str(line, " ");
    buf_uint(line, rules->list->len);
    buf_str(line, rules->list->len == 1 ? " range" : " ranges");
    if (rules->list->len) {
        buf_str(line, " (");
        buf_span(line, (span_t){rules->shown.ptr, rules->shown.len});
        if (rules->list->len > SHOWN_RANGES) {
            buf_str(line, ", ... ");
            buf_uint(line, rules->list->len - SHOWN_RANGES);
            buf_str(line, " more");
        }
        buf_str(line, ")");
    }
}

/* "acl: allow 3 ranges (...); deny 1 range (...); default deny; status 403" */
static void log_summary(rule_text_t *allow, rule_text_t *deny) {
    buf_t line = {0};
    buf_str(&line, "acl: ");
    summarise_list(&line, "allow", allow);
    buf_str(&line, "; ");
    summarise_list(&line, "deny", deny);
    buf_str(&line, default_allow ? "; default allow" : "; default deny");
    buf_str(&line, "; status ");
    buf_uint(&line, deny_status);
    log_line(SWITCHYARD_PLUGIN_HOST_LEVEL_INFO, (span_t){line.ptr, line.len});
    free(line.ptr);
}

static void reset_settings(void) {
    free(allow_list.items);
    free(deny_list.items);
    allow_list = (range_list_t){0};
    deny_list = (range_list_t){0};
    default_allow = true;
    deny_status = 403;
}

/* ------------------------------------------------------------------------ */
/* Exports                                                                  */
/* ------------------------------------------------------------------------ */

/* lifecycle.init: read and check the config; an error names the setting. */
bool exports_switchyard_plugin_lifecycle_init(request_plugin_string_t *err_out) {
    reset_settings();

    request_plugin_list_tuple2_string_string_t entries;
    switchyard_plugin_host_config_entries(&entries);

    rule_text_t allow = {&allow_list, {0}}, deny = {&deny_list, {0}};
    int default_setting = -1; /* -1: not set, 0: deny, 1: allow */
    buf_t err = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < entries.len; i++)
        ok = apply_setting(span_of(&entries.ptr[i].f0), span_of(&entries.ptr[i].f1), &allow,
                           &deny, &default_setting, &err);
    request_plugin_list_tuple2_string_string_free(&entries);

    if (ok) {
        /* An allow list means "only these", unless told otherwise. */
        default_allow = default_setting >= 0 ? default_setting == 1 : allow_list.len == 0;
        log_summary(&allow, &deny);
    } else {
        *err_out = buf_take(&err);
    }
    free(allow.shown.ptr);
    free(deny.shown.ptr);
    return ok;
}

/* Every request: the ACL has no path or scheme to filter on. */
void exports_switchyard_plugin_request_hook_declare_interest(
    exports_switchyard_plugin_request_hook_interest_t *ret) {
    memset(ret, 0, sizeof *ret);
}

/* Deny wins; then allow; then the default. An address the plugin cannot
 * read (never expected from the host) is refused: fail closed. */
static bool client_allowed(span_t client_addr) {
    addr_t a;
    if (!parse_addr(client_ip(client_addr), &a)) {
        buf_t msg = {0};
        buf_str(&msg, "acl: cannot parse client address \"");
        buf_span(&msg, client_addr);
        buf_str(&msg, "\"; refusing");
        log_line(SWITCHYARD_PLUGIN_HOST_LEVEL_WARN, (span_t){msg.ptr, msg.len});
        free(msg.ptr);
        return false;
    }
    if (range_list_contains(&deny_list, &a))
        return false;
    if (range_list_contains(&allow_list, &a))
        return true;
    return default_allow;
}

/* respond(status, content-type: text/plain, "forbidden\n"). Everything is
 * malloc'd: the bindings free the decision after the host has copied it. */
static void make_refusal(exports_switchyard_plugin_request_hook_action_t *action) {
    static const char name[] = "content-type", value[] = "text/plain", body[] = "forbidden\n";

    exports_switchyard_plugin_request_hook_header_t *header = malloc(sizeof *header);
    if (!header)
        abort();
    header->name = (request_plugin_string_t){dup_bytes(name, sizeof name - 1), sizeof name - 1};
    header->value = (request_plugin_list_u8_t){dup_bytes(value, sizeof value - 1), sizeof value - 1};

    action->tag = EXPORTS_SWITCHYARD_PLUGIN_REQUEST_HOOK_ACTION_RESPOND;
    action->val.respond.status = deny_status;
    action->val.respond.headers = (switchyard_plugin_types_list_header_t){header, 1};
    action->val.respond.body = (request_plugin_list_u8_t){dup_bytes(body, sizeof body - 1), sizeof body - 1};
}

/* request-hook.on-request: continue (no edits) or refuse. */
void exports_switchyard_plugin_request_hook_on_request(
    exports_switchyard_plugin_request_hook_borrow_request_t req,
    exports_switchyard_plugin_request_hook_decision_t *ret) {
    memset(ret, 0, sizeof *ret); /* continue, no header edits */

    request_plugin_string_t addr;
    switchyard_plugin_types_method_request_client_addr(req, &addr);
    bool allowed = client_allowed(span_of(&addr));
    request_plugin_string_free(&addr);

    /* The C bindings (generated with --autodrop-borrows no, the default)
     * leave borrowed handles to the guest, and a borrow still held when the
     * call returns is a trap ("borrow handles still remain at the end of
     * the call"). Drop it as soon as the request has been read. */
    switchyard_plugin_types_request_drop_borrow(req);

    if (!allowed)
        make_refusal(&ret->action);
}
