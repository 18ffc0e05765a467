//! An `ask` (contract 0.2): a request a plugin has the host send to a
//! backend before it decides. It goes through the backend's balancer,
//! health and retries like any request (never to its fallback), within the
//! plugin's `ask_timeout` (or the plugin's shorter own), at most
//! `max_asks_per_request` times per request; the reply's body is read up
//! to `ask_max_body`. What came back, or why nothing did, goes to the
//! plugin's `on-reply`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method};
use http_body_util::BodyExt;

use super::forward::{forward_to, is_idempotent};
use super::generation::Generation;
use super::{apply_edits, strip_hop_by_hop, ProxyError, RequestId, REQUEST_ID};
use crate::body::RequestBody;
use crate::plugin::{
    Ask, AskFailure, AskReply, CallFailure, ChainOutcome, Header, HeaderOp, RequestChain, RequestView, Verdict,
};
use crate::report::Report;

/// The largest body an ask may send.
pub const MAX_ASK_BODY: usize = 64 << 10;

/// Sends the ask in `outcome.verdict` (counted by the chain). An ask
/// the plugin wrote wrong (a bad method, path or header, a body too large)
/// is a failed call of that plugin.
pub async fn send(
    generation: &Generation,
    chain: &RequestChain,
    view: &RequestView,
    id: RequestId,
    outcome: &mut ChainOutcome,
) -> Result<Result<AskReply, AskFailure>, CallFailure> {
    if !chain.count_ask(outcome) {
        return Ok(Err(AskFailure::TooManyAsks));
    }
    let Some(limits) = outcome.decided_by.as_ref().map(|p| p.ask_limits()) else {
        return Ok(Err(AskFailure::BadReply));
    };
    let Verdict::Ask(ask) = &outcome.verdict else {
        return Ok(Err(AskFailure::BadReply));
    };
    let Some(target) = generation.backends.get(&ask.backend) else {
        return Ok(Err(AskFailure::UnknownBackend));
    };
    let head = ask_head(ask, view, id).map_err(CallFailure::BadAnswer)?;
    let mut ask_view = RequestView {
        head,
        conn: Arc::clone(&view.conn),
    };
    let timeout = match ask.timeout_ms {
        0 => limits.timeout,
        ms => Duration::from_millis(u64::from(ms)).min(limits.timeout),
    };
    let replayable = is_idempotent(&ask_view.head.method);
    let mut body = Some(RequestBody::Bytes(Some(Bytes::copy_from_slice(&ask.body))));
    let started = Instant::now();
    let exchange = async {
        let forwarded = forward_to(target, &mut ask_view, &mut body, replayable, started)
            .await
            .map_err(failure_of)?;
        let mut response = forwarded.response;
        super::fields_into_map(&mut response);
        let (parts, mut incoming) = response.into_parts();
        let mut read = BytesMut::new();
        let mut truncated = false;
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|_| AskFailure::BadReply)?;
            if let Ok(data) = frame.into_data() {
                let room = limits.max_body.saturating_sub(read.len());
                if data.len() > room {
                    read.extend_from_slice(&data[..room]);
                    truncated = true;
                    break;
                }
                read.extend_from_slice(&data);
            }
        }
        Ok(AskReply {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.as_str().to_string(),
                    value: value.as_bytes().to_vec(),
                })
                .collect(),
            body: read.to_vec(),
            truncated,
        })
    };
    let reply = match tokio::time::timeout(timeout, exchange).await {
        Ok(reply) => reply,
        Err(_) => Err(AskFailure::Timeout),
    };
    match &reply {
        Ok(r) => {
            tracing::debug!(backend = %ask.backend, status = r.status, elapsed = ?started.elapsed(), "ask answered")
        }
        Err(f) => {
            tracing::debug!(backend = %ask.backend, failure = f.as_str(), elapsed = ?started.elapsed(), "ask failed")
        }
    }
    Ok(reply)
}

/// The head of the request an ask sends: the plugin's method, path and
/// headers, the client's `Host` unless the plugin set one, and the
/// client request's id.
fn ask_head(ask: &Ask, view: &RequestView, id: RequestId) -> Result<http::request::Parts, String> {
    if ask.body.len() > MAX_ASK_BODY {
        return Err(format!(
            "an ask's body is {} bytes, over {MAX_ASK_BODY}",
            ask.body.len()
        ));
    }
    let method =
        Method::from_bytes(ask.method.as_bytes()).map_err(|_| format!("bad method in ask: {:?}", ask.method))?;
    if !ask.path.starts_with('/') {
        return Err(format!("an ask's path must start with '/': {:?}", ask.path));
    }
    let uri = http::Uri::try_from(ask.path.as_str()).map_err(|e| format!("bad path in ask {:?}: {e}", ask.path))?;
    let (mut head, ()) = http::Request::new(()).into_parts();
    head.method = method;
    head.uri = uri;
    let edits: Vec<HeaderOp> = ask.headers.iter().cloned().map(HeaderOp::Append).collect();
    let bad = apply_edits(&mut head.headers, &edits);
    if let Some(edit) = bad.first() {
        return Err(format!("bad header in ask: {edit}"));
    }
    strip_hop_by_hop(&mut head.headers);
    if !head.headers.contains_key(http::header::HOST) {
        let host = view.authority().unwrap_or(&ask.backend);
        if let Ok(host) = HeaderValue::from_str(host) {
            head.headers.insert(http::header::HOST, host);
        }
    }
    head.headers.insert(REQUEST_ID, id.header_value());
    Ok(head)
}

/// Why an ask got no reply, from why its request failed.
fn failure_of(error: ProxyError) -> AskFailure {
    tracing::debug!(error = %Report(&error), "ask got no reply");
    match &error {
        ProxyError::Upstream(e) if e.is_timeout() => AskFailure::Timeout,
        ProxyError::Upstream(e) if e.never_reached_server() => AskFailure::Unavailable,
        ProxyError::Upstream(_) => AskFailure::BadReply,
        _ => AskFailure::Unavailable,
    }
}
