//! Our own HTTP/1.1 server, for the plain request: the connection's task
//! reads a head, runs the proxy and writes the response itself, with one
//! read buffer and one write buffer for the connection's life, no task,
//! channel or boxed body per request.
//!
//! It takes requests without a body, upgrade or `Expect`, in origin form,
//! whose heads hyper would accept (`head.rs`). At the first request that
//! is anything else (a body, a WebSocket upgrade, a malformed or oversized
//! head) the connection goes to hyper's server for the rest of its life,
//! with the bytes read so far (`replay.rs`): hyper then answers it as it
//! answers every connection, 400 and 431 included.
//!
//! What it keeps of hyper's behaviour:
//! - `header_read_timeout` from the moment the connection is ready for a
//!   head, idle keep-alive included; past it the connection is closed
//!   without a response;
//! - a client that closes while its request is being answered cancels
//!   the request (hyper's default, without half-close); bytes it sends
//!   meanwhile (a pipelined request) wait in the buffer;
//! - keep-alive: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
//!   `Connection: keep-alive` (then said back), never after a response
//!   that closes or whose body runs until the close;
//! - a drain closes an idle connection at once, a busy one after its
//!   response (which says `Connection: close`).

mod date;
mod head;
mod replay;
mod write;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use bytes::BytesMut;
use http::{Method, Request, Version};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::body::BoxError;
use crate::config::ListenerLimits;
use crate::header_names::HeaderNames;
use crate::plugin::ConnectionInfo;
use crate::proxy::Handled;
use head::{HeadLimits, Parsed};
use write::Asked;

/// Bytes read from the client at a time, at least.
const READ_SIZE: usize = 8 * 1024;

/// How a connection learns of a drain: our server by `closing`, hyper's
/// (after a hand-off) by the watcher, which also keeps the drain waiting
/// until the connection is gone.
pub(super) struct Drain {
    pub watcher: Watcher,
    pub closing: DrainSignal,
}

/// Tells our HTTP/1.1 server's connections to close once idle: a token to
/// wait on, and a flag each request reads (`CancellationToken`'s own check
/// takes its tree's lock, about 70 instructions, twice a request).
#[derive(Debug, Clone, Default)]
pub struct DrainSignal {
    token: CancellationToken,
    given: Arc<AtomicBool>,
}

impl DrainSignal {
    /// Tells every connection holding a clone.
    pub fn give(&self) {
        // Set first: a connection the token wakes finds it set.
        self.given.store(true, Ordering::Release);
        self.token.cancel();
    }

    /// Whether it was given.
    pub fn is_given(&self) -> bool {
        self.given.load(Ordering::Acquire)
    }
}

/// What came of waiting for a head (once per request, not boxed).
#[allow(clippy::large_enum_variant)]
enum Next {
    Request(head::RequestHead),
    HandOff,
    /// Closed, timed out, or drained while idle.
    Closed,
}

/// Serves an HTTP/1.1 connection (plain or TLS) to its end.
pub(super) async fn serve<I>(
    io: I,
    shared: &Arc<Shared>,
    limits: &ListenerLimits,
    info: &Arc<ConnectionInfo>,
    drain: Drain,
) -> Result<(), BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let head_limits = HeadLimits {
        max_bytes: limits.max_header_bytes.max(8192),
        max_fields: limits.max_headers,
    };
    let mut io = io;
    let mut read = BytesMut::with_capacity(READ_SIZE);
    let mut names = HeaderNames::default();
    let mut out = Vec::with_capacity(READ_SIZE);
    let sleep = pin!(tokio::time::sleep(limits.header_read_timeout));
    let mut timer = HeadTimer {
        sleep,
        deadline: tokio::time::Instant::now() + limits.header_read_timeout,
    };
    let wait = pin!(drain.closing.token.cancelled());
    let mut closing = Closing {
        signal: &drain.closing,
        wait,
        registered: false,
    };
    loop {
        timer.deadline = tokio::time::Instant::now() + limits.header_read_timeout;
        let next = read_head(&mut io, &mut read, &mut names, head_limits, &mut timer, &mut closing).await?;
        let head = match next {
            Next::Request(head) => head,
            Next::Closed => return Ok(()),
            Next::HandOff => {
                tracing::debug!("connection handed to hyper's HTTP/1.1 server");
                let io = replay::Replay::new(read.freeze(), io);
                return super::connection::serve_h1(TokioIo::new(io), shared, limits, info, drain.watcher).await;
            }
        };
        let asked = Asked {
            head: head.parts.method == Method::HEAD,
            http10: head.parts.version == Version::HTTP_10,
            keep_alive: head.keep_alive,
        };
        // The request's start: the clock is read here, once the head is in,
        // and the proxy reads it once more when the response is ready.
        let started = std::time::Instant::now();
        let request = Request::from_parts(head.parts, None);
        // Pinned where it is made: moved into `answer_watching`, the
        // request's state (kilobytes) would be copied twice more. The
        // proxy's own future, not `proxy_request`'s: one layer less to
        // move the request into and the response out of.
        let handling = pin!(shared.proxy.handle(request, Arc::clone(info), started));
        let Some(Handled { mut response, finished }) = answer_watching(&mut io, &mut read, handling).await else {
            tracing::debug!("the client closed while its request was answered");
            return Ok(());
        };
        super::connection::close_if_draining(shared, &mut response);
        let keep_alive = write::response(&mut io, &mut out, response, asked, finished).await?;
        if !keep_alive || drain.closing.is_given() {
            let _ = io.shutdown().await;
            return Ok(());
        }
    }
}

/// `header_read_timeout`, moved for every request without touching the
/// timer wheel: the sleep keeps an earlier deadline, and when it fires
/// before the connection's deadline it is set again to that one.
struct HeadTimer<'a> {
    sleep: std::pin::Pin<&'a mut tokio::time::Sleep>,
    deadline: tokio::time::Instant,
}

impl HeadTimer<'_> {
    /// Whether the deadline has passed (the waker is registered if not).
    fn poll_expired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        crate::deadline::poll_passed(self.sleep.as_mut(), self.deadline, cx)
    }
}

/// A drain, watched while a connection waits for a head: the wait is
/// polled until it has registered the task, then the signal's flag is read
/// (polling tokio's `Notified` again takes its waiters' lock each time).
struct Closing<'w, 't> {
    signal: &'t DrainSignal,
    wait: std::pin::Pin<&'w mut tokio_util::sync::WaitForCancellationFuture<'t>>,
    registered: bool,
}

impl Closing<'_, '_> {
    fn poll_closing(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        if self.registered {
            return self.signal.is_given();
        }
        if self.wait.as_mut().poll(cx).is_ready() {
            return true;
        }
        self.registered = true;
        false
    }
}

/// Reads until a head is parsed, within the timeout; while nothing of a
/// head has come, a drain ends the wait.
async fn read_head<I: AsyncRead + Unpin>(
    io: &mut I,
    read: &mut BytesMut,
    names: &mut HeaderNames,
    limits: HeadLimits,
    timer: &mut HeadTimer<'_>,
    closing: &mut Closing<'_, '_>,
) -> std::io::Result<Next> {
    loop {
        if !read.is_empty() {
            match head::parse(read, limits, names) {
                Parsed::Request(head) => return Ok(Next::Request(head)),
                Parsed::HandOff => return Ok(Next::HandOff),
                Parsed::Partial => {}
            }
        }
        let idle = read.is_empty();
        let n = poll_fn(|cx| {
            if let Poll::Ready(n) = poll_read(io, read, cx) {
                return Poll::Ready(n.map(Some));
            }
            if timer.poll_expired(cx) || (idle && closing.poll_closing(cx)) {
                return Poll::Ready(Ok(None));
            }
            Poll::Pending
        })
        .await;
        match n {
            // A reset or a close: nothing to answer.
            Err(_) | Ok(None | Some(0)) => return Ok(Next::Closed),
            Ok(Some(_)) => {}
        }
    }
}

/// Runs the proxy on a request while watching the client: a close (or a
/// failed read) cancels it (`None`); what the client sends meanwhile stays
/// in `read`, and once something is there reading stops until the
/// response is written.
async fn answer_watching<I, F>(io: &mut I, read: &mut BytesMut, mut handling: std::pin::Pin<&mut F>) -> Option<Handled>
where
    I: AsyncRead + Unpin,
    F: Future<Output = Handled>,
{
    poll_fn(|cx| {
        if let Poll::Ready(response) = handling.as_mut().poll(cx) {
            return Poll::Ready(Some(response));
        }
        if read.is_empty() {
            match poll_read(io, read, cx) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(_)) | Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}

fn poll_read<I: AsyncRead + Unpin>(
    io: &mut I,
    read: &mut BytesMut,
    cx: &mut std::task::Context<'_>,
) -> Poll<std::io::Result<usize>> {
    if read.capacity() - read.len() < READ_SIZE / 2 {
        read.reserve(READ_SIZE);
    }
    tokio_util::io::poll_read_buf(std::pin::Pin::new(io), cx, read)
}
