//! `switchyard plugin test PLUGIN.wasm CASES.toml`: a plugin run against
//! requests described in a file, without a proxy, a socket or an origin,
//! its decisions printed and checked against the expectations written
//! beside them: a golden test any language's author can run in CI.
//!
//! Each `[[case]]` describes a request (method, path, headers, body,
//! client), and what the world answers: `replies` to the plugin's asks, in
//! order, a `response` for its response hook, `servers` for its balancer.
//! The request hook runs through the host's own chain (interest, body
//! limits, asks, failure policy), so what `plugin test` prints is what the
//! proxy would do. `[case.expect]` says what must come out; a case without
//! it only prints.
//!
//! ```toml
//! [plugin]                          # optional: settings as in [plugin.NAME]
//! config = { greeting = "hello" }
//!
//! [[case]]
//! name = "answers /hello itself"
//! path = "/hello"
//! expect = { action = "respond", status = 200, body_contains = "hello" }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::config::units::{parse_duration, parse_size};
use crate::config::{FailurePolicy, PluginConfig, PluginSource};
use crate::plugin::{
    AskFailure, AskReply, BufferedBody, CandidateServer, CandidateView, CheckedOp, ConnectionInfo, Header, HeaderOp,
    PluginEngine, PluginError, PluginVersion, RequestChain, RequestView, ResponseChain, ResponseOutcome, ResponseView,
    Scheme, Verdict,
};
use crate::report::Report;

/// Why a test file could not be run (not a failed case).
#[derive(Debug, thiserror::Error)]
pub enum PluginTestError {
    /// The file could not be read.
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] std::io::Error),
    /// The file is not a valid test file.
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    /// The plugin did not load.
    #[error("the plugin {0} did not load")]
    Load(PathBuf, #[source] PluginError),
}

/// The test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    plugin: PluginPart,
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

/// The plugin's settings, as in `[plugin.NAME]` (the few that matter here).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginPart {
    name: Option<String>,
    config: Option<toml::Table>,
    timeout: Option<String>,
    memory_limit: Option<String>,
    max_body_buffer: Option<String>,
    on_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "get")]
    method: String,
    #[serde(default = "slash")]
    path: String,
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    listener: Option<String>,
    #[serde(default)]
    replies: Vec<ReplyPart>,
    #[serde(default)]
    response: Option<ResponsePart>,
    #[serde(default)]
    servers: Vec<ServerPart>,
    #[serde(default)]
    expect: Option<Expect>,
}

fn get() -> String {
    "GET".into()
}

fn slash() -> String {
    "/".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyPart {
    status: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
    /// `unavailable`, `timeout`, `bad-reply`, `unknown-backend`.
    failure: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponsePart {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    generated: bool,
    server: Option<String>,
    backend: Option<String>,
    blame: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerPart {
    name: String,
    #[serde(default = "yes")]
    healthy: bool,
    #[serde(default = "one")]
    weight: u32,
    #[serde(default)]
    in_flight: u32,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

/// What a case must produce. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// `continue`, `route`, `respond`, `ask`, `reject` (413 from the body
    /// limit), `fail` (a failed call, fail-closed).
    action: Option<String>,
    route: Option<String>,
    status: Option<u16>,
    body_contains: Option<String>,
    /// Headers the request edits set or append (name = value).
    #[serde(default)]
    request_headers: BTreeMap<String, String>,
    /// Headers the response edits set or append.
    #[serde(default)]
    response_headers: BTreeMap<String, String>,
    /// Asks the plugin made.
    asks: Option<u32>,
    /// The response hook: `continue` or `replace`.
    response: Option<String>,
    /// The balancer's pick (a server name), or `none`.
    server: Option<String>,
}

/// What one case produced, in the words the output and `expect` use.
#[derive(Debug, Default)]
struct Outcome {
    action: Option<String>,
    route: Option<String>,
    status: Option<u16>,
    body: Vec<u8>,
    request_edits: Vec<HeaderOp>,
    response_edits: Vec<HeaderOp>,
    asks: u32,
    response: Option<String>,
    server: Option<String>,
    notes: Vec<String>,
}

/// The result of a whole file.
pub struct Summary {
    /// The report, one line per case (more for a failure).
    pub report: String,
    /// Cases whose expectation failed.
    pub failed: usize,
    /// Cases run.
    pub cases: usize,
}

/// Loads `plugin` and runs every case of `file` on it.
pub fn run(engine: &PluginEngine, plugin: &Path, file: &Path) -> Result<Summary, PluginTestError> {
    let text = read(file)?;
    let tests: TestFile =
        toml::from_str(&text).map_err(|e| PluginTestError::Parse(file.to_path_buf(), e.to_string()))?;
    let config = plugin_config(plugin, &tests.plugin).map_err(|e| PluginTestError::Parse(file.to_path_buf(), e))?;
    let bytes = read_bytes(plugin)?;
    let version = PluginVersion::load(engine, &config, &bytes)
        .map(Arc::new)
        .map_err(|e| PluginTestError::Load(plugin.to_path_buf(), e))?;
    let mut report = String::new();
    let mut failed = 0;
    for case in &tests.cases {
        let outcome = run_case(&version, case);
        let problems = case.expect.as_ref().map(|e| check(e, &outcome)).unwrap_or_default();
        let verdict = if problems.is_empty() { "ok  " } else { "FAIL" };
        let _ = writeln!(report, "{verdict} {}: {}", case.name, describe(&outcome));
        for note in &outcome.notes {
            let _ = writeln!(report, "       {note}");
        }
        for problem in &problems {
            let _ = writeln!(report, "       expected {problem}");
        }
        failed += usize::from(!problems.is_empty());
    }
    Ok(Summary {
        report,
        failed,
        cases: tests.cases.len(),
    })
}

// The CLI runs no runtime: plain file reads.
#[allow(clippy::disallowed_methods)]
fn read(path: &Path) -> Result<String, PluginTestError> {
    std::fs::read_to_string(path).map_err(|e| PluginTestError::Read(path.to_path_buf(), e))
}

#[allow(clippy::disallowed_methods)]
fn read_bytes(path: &Path) -> Result<Vec<u8>, PluginTestError> {
    std::fs::read(path).map_err(|e| PluginTestError::Read(path.to_path_buf(), e))
}

fn plugin_config(plugin: &Path, part: &PluginPart) -> Result<PluginConfig, String> {
    let name = part.name.clone().unwrap_or_else(|| {
        plugin
            .file_stem()
            .map_or_else(|| "plugin".to_string(), |s| s.to_string_lossy().replace('_', "-"))
    });
    let mut config = PluginConfig::builtin(&name);
    config.source = PluginSource::File(plugin.to_path_buf());
    config.settings = part.config.clone().unwrap_or_default();
    if let Some(t) = &part.timeout {
        config.timeout = parse_duration(t).map_err(|e| format!("plugin.timeout: {e}"))?;
    }
    if let Some(m) = &part.memory_limit {
        config.memory_limit = parse_size(m).map_err(|e| format!("plugin.memory_limit: {e}"))?;
    }
    if let Some(m) = &part.max_body_buffer {
        config.max_body_buffer = parse_size(m).map_err(|e| format!("plugin.max_body_buffer: {e}"))?;
    }
    match part.on_error.as_deref() {
        None | Some("fail-closed") => {}
        Some("fail-open") => config.on_error = FailurePolicy::Open,
        Some(other) => return Err(format!("plugin.on_error = {other:?}: fail-open or fail-closed")),
    }
    Ok(config)
}

fn view_of(case: &Case) -> Result<RequestView, String> {
    let mut builder = http::Request::builder()
        .method(case.method.as_str())
        .uri(case.path.as_str());
    for (name, value) in &case.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let (mut head, ()) = builder.body(()).map_err(|e| format!("the request: {e}"))?.into_parts();
    if let Some(body) = &case.body {
        head.extensions.insert(BufferedBody {
            bytes: bytes::Bytes::from(body.clone().into_bytes()),
            complete: true,
        });
    }
    let scheme = match case.scheme.as_deref() {
        None | Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        Some(other) => return Err(format!("scheme = {other:?}: http or https")),
    };
    let client = case.client.as_deref().unwrap_or("203.0.113.1:40000");
    let client = client
        .parse()
        .map_err(|_| format!("client = {client:?}: expected ip:port"))?;
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], if scheme == Scheme::Https { 443 } else { 80 }));
    let listener = Arc::from(case.listener.as_deref().unwrap_or("web"));
    let conn = ConnectionInfo::new(client, local, scheme, listener);
    Ok(RequestView {
        head,
        conn: Arc::new(conn),
    })
}

fn run_case(plugin: &Arc<PluginVersion>, case: &Case) -> Outcome {
    let mut out = Outcome::default();
    let mut view = match view_of(case) {
        Ok(view) => view,
        Err(e) => {
            out.notes.push(e);
            return out;
        }
    };
    if plugin.has_request_hook() {
        request_hook(plugin, case, &mut view, &mut out);
    }
    if let Some(response) = &case.response {
        response_hook(plugin, response, &mut view, &mut out);
    }
    if plugin.has_balancer() && !case.servers.is_empty() {
        balance(plugin, case, &mut view, &mut out);
    }
    out
}

fn request_hook(plugin: &Arc<PluginVersion>, case: &Case, view: &mut RequestView, out: &mut Outcome) {
    let chain = RequestChain::new(vec![Arc::clone(plugin)]);
    let mut outcome = chain.run(view);
    let mut replies = case.replies.iter();
    while let Verdict::Ask(_) = &outcome.verdict {
        if !chain.count_ask(&mut outcome) {
            chain.resume(view, &mut outcome, Ok(Err(AskFailure::TooManyAsks)));
            continue;
        }
        let Some(reply) = replies.next() else {
            // Not sent: the file gives no reply (reported below).
            outcome.asks -= 1;
            break;
        };
        if let Verdict::Ask(ask) = &outcome.verdict {
            out.notes.push(format!(
                "ask {} {} {} -> {}",
                ask.backend,
                ask.method,
                ask.path,
                reply_name(reply)
            ));
        }
        chain.resume(view, &mut outcome, Ok(reply_of(reply)));
    }
    out.asks = outcome.asks;
    out.request_edits = outcome.request_edits.to_vec();
    out.response_edits = outcome.response_edits.to_vec();
    let (action, route, status, body) = match outcome.verdict {
        Verdict::Default => ("continue", None, None, Vec::new()),
        Verdict::Route(backend) => ("route", Some(backend), None, Vec::new()),
        Verdict::Respond(response) => ("respond", None, Some(response.status), response.body),
        Verdict::Ready(response) => ("respond", None, Some(response.status.as_u16()), response.body.to_vec()),
        Verdict::Refuse { status, failure } => {
            out.notes.push(format!("the call failed: {}", Report(&failure)));
            ("fail", None, Some(status.as_u16()), Vec::new())
        }
        Verdict::BodyTooLarge { .. } => ("reject", None, Some(413), Vec::new()),
        Verdict::Ask(ask) => {
            out.notes.push(format!(
                "asks {} {} {} (no reply given)",
                ask.backend, ask.method, ask.path
            ));
            ("ask", None, None, Vec::new())
        }
    };
    out.action = Some(action.to_string());
    out.route = route;
    out.status = status;
    out.body = body;
}

fn reply_name(reply: &ReplyPart) -> String {
    match (&reply.failure, reply.status) {
        (Some(failure), _) => failure.clone(),
        (None, status) => status.unwrap_or(200).to_string(),
    }
}

fn reply_of(reply: &ReplyPart) -> Result<AskReply, AskFailure> {
    match reply.failure.as_deref() {
        Some("unavailable") => return Err(AskFailure::Unavailable),
        Some("timeout") => return Err(AskFailure::Timeout),
        Some("unknown-backend") => return Err(AskFailure::UnknownBackend),
        Some(_) => return Err(AskFailure::BadReply),
        None => {}
    }
    Ok(AskReply {
        status: reply.status.unwrap_or(200),
        headers: reply
            .headers
            .iter()
            .map(|(name, value)| Header {
                name: name.to_ascii_lowercase(),
                value: value.clone().into_bytes(),
            })
            .collect(),
        body: reply.body.clone().into_bytes(),
        truncated: false,
    })
}

fn response_hook(plugin: &Arc<PluginVersion>, part: &ResponsePart, view: &mut RequestView, out: &mut Outcome) {
    let wanted = plugin
        .response_interest()
        .is_some_and(|i| i.matches(part.status, part.generated));
    if !wanted {
        out.response = Some("not called".into());
        return;
    }
    let mut headers = http::HeaderMap::new();
    for (name, value) in &part.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let mut head = ResponseView {
        status: http::StatusCode::from_u16(part.status).unwrap_or(http::StatusCode::OK),
        headers,
        generated: part.generated,
        backend: part.backend.as_deref().map(Arc::from),
        server: part.server.as_deref().map(Arc::from),
        blame: match part.blame.as_deref() {
            Some("client") => Some("client"),
            Some("plugin") => Some("plugin"),
            Some("upstream") => Some("upstream"),
            Some("proxy") => Some("proxy"),
            _ => None,
        },
    };
    match ResponseChain::call(plugin, view, &mut head) {
        None => out.response = Some("failed (fail-open: kept)".into()),
        Some(ResponseOutcome::Edit(edits)) => {
            out.response = Some("continue".into());
            out.response_edits.extend(edits);
        }
        Some(ResponseOutcome::Replace(response, edits)) => {
            out.response = Some("replace".into());
            out.status = Some(response.status);
            out.body = response.body;
            out.response_edits
                .extend(response.headers.into_iter().map(HeaderOp::Set));
            out.response_edits.extend(edits);
        }
        Some(ResponseOutcome::Refuse { status, failure, .. }) => {
            out.response = Some("fail".into());
            out.status = Some(status.as_u16());
            out.notes.push(format!("the call failed: {}", Report(&failure)));
        }
    }
}

fn balance(plugin: &Arc<PluginVersion>, case: &Case, view: &mut RequestView, out: &mut Outcome) {
    let mut candidates = CandidateView {
        backend: Arc::from("backend"),
        sequence: 0,
        attempt: 0,
        servers: case
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| CandidateServer {
                key: crate::upstream::server_key(&s.name),
                name: Arc::from(s.name.as_str()),
                address: Arc::from(format!("192.0.2.{}:80", i + 1).as_str()),
                weight: s.weight,
                healthy: s.healthy,
                in_flight: s.in_flight,
            })
            .collect(),
    };
    match plugin.pick(view, &mut candidates) {
        Ok(Some(choice)) => {
            out.server = candidates
                .servers
                .get(choice.server as usize)
                .map(|s| s.name.to_string());
            out.response_edits.extend(choice.response_headers);
        }
        Ok(None) => out.server = Some("none".into()),
        Err(failure) => {
            out.server = Some("failed".into());
            out.notes.push(format!("the pick failed: {}", Report(&failure)));
        }
    }
}

/// The outcome in one line.
fn describe(out: &Outcome) -> String {
    let mut parts = Vec::new();
    if let Some(action) = &out.action {
        let mut text = action.clone();
        if let Some(route) = &out.route {
            let _ = write!(text, " {route}");
        }
        if let (Some(status), None) = (out.status, &out.response) {
            let _ = write!(text, " {status} ({} bytes)", out.body.len());
        }
        parts.push(text);
    }
    if out.asks > 0 {
        parts.push(format!("{} ask(s)", out.asks));
    }
    if let Some(response) = &out.response {
        let mut text = format!("response hook: {response}");
        if let Some(status) = out.status.filter(|_| response == "replace") {
            let _ = write!(text, " {status} ({} bytes)", out.body.len());
        }
        parts.push(text);
    }
    if let Some(server) = &out.server {
        parts.push(format!("picks {server}"));
    }
    for (label, edits) in [("request", &out.request_edits), ("response", &out.response_edits)] {
        if !edits.is_empty() {
            let shown: Vec<String> = edits.iter().map(edit_text).collect();
            parts.push(format!("{label} edits [{}]", shown.join(", ")));
        }
    }
    parts.join("; ")
}

/// An edit as its verb, header name and value (none for a removal),
/// whether kept as the plugin wrote it or checked (a memoised one).
fn edit_parts(edit: &HeaderOp) -> (&'static str, &str, Option<&[u8]>) {
    match edit {
        HeaderOp::Set(h) => ("set", &h.name, Some(&h.value)),
        HeaderOp::Append(h) => ("append", &h.name, Some(&h.value)),
        HeaderOp::Remove(name) => ("remove", name, None),
        HeaderOp::Checked(CheckedOp::Set(name, value)) => ("set", name.as_str(), Some(value.as_bytes())),
        HeaderOp::Checked(CheckedOp::Append(name, value)) => ("append", name.as_str(), Some(value.as_bytes())),
        HeaderOp::Checked(CheckedOp::Remove(name)) => ("remove", name.as_str(), None),
    }
}

fn edit_text(edit: &HeaderOp) -> String {
    match edit_parts(edit) {
        (verb, name, Some(value)) => format!("{verb} {name}: {}", String::from_utf8_lossy(value)),
        (verb, name, None) => format!("{verb} {name}"),
    }
}

/// Every way `out` differs from `expect`.
fn check(expect: &Expect, out: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let mut same = |what: &str, want: Option<String>, got: Option<String>| {
        if let Some(want) = want {
            if got.as_deref() != Some(want.as_str()) {
                problems.push(format!(
                    "{what} {want}, got {}",
                    got.unwrap_or_else(|| "nothing".into())
                ));
            }
        }
    };
    same("action", expect.action.clone(), out.action.clone());
    same("route", expect.route.clone(), out.route.clone());
    same(
        "status",
        expect.status.map(|s| s.to_string()),
        out.status.map(|s| s.to_string()),
    );
    same("asks", expect.asks.map(|a| a.to_string()), Some(out.asks.to_string()));
    same("response hook", expect.response.clone(), out.response.clone());
    same("server", expect.server.clone(), out.server.clone());
    if let Some(needle) = &expect.body_contains {
        if !String::from_utf8_lossy(&out.body).contains(needle.as_str()) {
            problems.push(format!("a body containing {needle:?}"));
        }
    }
    for (label, wanted, edits) in [
        ("request header", &expect.request_headers, &out.request_edits),
        ("response header", &expect.response_headers, &out.response_edits),
    ] {
        for (name, value) in wanted {
            let found = edits.iter().any(|edit| {
                let (_, edited, set_to) = edit_parts(edit);
                set_to.is_some_and(|v| edited.eq_ignore_ascii_case(name) && v == value.as_bytes())
            });
            if !found {
                problems.push(format!("{label} {name}: {value}"));
            }
        }
    }
    problems
}
