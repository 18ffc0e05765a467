//! Switchyard's own HTTP/1.1 client, for pooled connections to servers.
//!
//! A request's own task does the whole exchange: it writes the head (and a
//! small body) in one write, reads and parses the response head, and then,
//! as the client reads the response body, reads the body from the socket.
//! No task per connection, no channel between the request and its
//! connection: with hyper's client each exchange handed the request, the
//! response head and every body chunk between two tasks.
//!
//! What it does, as HTTP/1.1 asks (RFC 9112):
//! - the request's body: a whole one with its length, a streamed one with
//!   its exact length when known, else chunked; sent while the response is
//!   watched for, so a server that answers early (a 413) is heard at once,
//!   and then the connection is not reused;
//! - the response: interim (1xx) heads skipped; no body after `HEAD`, 204,
//!   304; else chunked (trailers kept), `Content-Length`, or until close;
//! - reuse only when the response allows it (HTTP/1.1, no `Connection:
//!   close`, a framed body read to the end, nothing sent past it).
//!
//! Upgrades (WebSocket) stay on hyper's client (`pool.rs`): after the 101
//! the connection is a tunnel, which hyper hands over.

mod decode;
mod encode;
mod error;

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response};
use http_body::{Body, Frame};
use tokio::io::AsyncWrite;

use super::connect::Transport;
use crate::body::RequestBody;
use crate::fields::Fields;
#[cfg(test)]
pub(crate) use decode::parse_head;
pub use decode::Framing;
pub(crate) use decode::Parsed;
use decode::Step;
use encode::BodyPlan;
pub use error::Http1Error;

/// Bytes read from the socket at a time, at least.
const READ_SIZE: usize = 8 * 1024;

/// An HTTP/1.1 connection to a server, between exchanges or in one.
pub struct Http1Connection {
    io: Transport,
    /// Bytes read and not yet parsed.
    read: BytesMut,
    /// Bytes to write, from `written` on.
    write: Vec<u8>,
    written: usize,
    /// Whether the exchange in progress leaves the connection reusable.
    reusable: bool,
    /// The response timeout's clock, kept from one exchange to the next
    /// (none before the first).
    timer: Option<ResponseTimer>,
}

/// A connection's response timeout, one sleep for its life instead of one
/// per exchange: each exchange moves the deadline on, and the sleep, which
/// may keep an earlier one, is set again only when it fires before the
/// exchange's (so about once per timeout, not per request; a new sleep
/// per request registered with tokio's timer wheel and left it, some 350
/// instructions a request).
struct ResponseTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
    deadline: tokio::time::Instant,
}

impl ResponseTimer {
    fn new(deadline: tokio::time::Instant) -> ResponseTimer {
        ResponseTimer {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
        }
    }

    /// An exchange begins that must end by `deadline`.
    fn start(&mut self, deadline: tokio::time::Instant) {
        self.deadline = deadline;
        // An earlier deadline than the sleep's (a shorter timeout, a gRPC
        // call's own) must not wait for the later one.
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
    }

    /// Whether the exchange's deadline has passed (the waker is
    /// registered if not).
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        crate::deadline::poll_passed(self.sleep.as_mut(), self.deadline, cx)
    }
}

/// A request that failed, and whether none of it was written (then it may
/// go on another connection as it is).
pub struct SendError {
    /// Why.
    pub error: Http1Error,
    /// Not a byte of it written, nor any of its body taken.
    pub unsent: bool,
}

/// Where a streamed request body stands.
struct Streaming {
    /// `Content-Length` sent, or chunked.
    declared: Option<u64>,
    sent: u64,
    ended: bool,
}

impl Streaming {
    fn new(declared: Option<u64>) -> Streaming {
        Streaming {
            declared,
            sent: 0,
            ended: false,
        }
    }
}

/// How far a request has been written.
enum Phase {
    /// The head (and a small body with it), then what follows it.
    Head(Option<Next>),
    /// A whole body too large to copy behind the head.
    Whole(Bytes),
    /// A streamed body.
    Stream(Streaming),
    /// All of it.
    Sent,
}

/// What follows the head.
enum Next {
    Whole(Bytes),
    Stream(Streaming),
}

impl Http1Connection {
    /// A connection on `io`, just made.
    pub fn new(io: Transport) -> Http1Connection {
        Http1Connection {
            io,
            read: BytesMut::new(),
            write: Vec::new(),
            written: 0,
            reusable: true,
            timer: None,
        }
    }

    /// Whether an idle connection can take a request: the server has not
    /// closed it and sent nothing unasked. Reads without waiting (a
    /// pending read is the good answer).
    pub fn is_alive(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        self.read.reserve(READ_SIZE);
        matches!(
            tokio_util::io::poll_read_buf(Pin::new(&mut self.io), &mut cx, &mut self.read),
            Poll::Pending
        )
    }

    /// Whether it may go back to the pool: its last response allowed it
    /// and was read to the end, with nothing after it.
    pub fn may_reuse(&self) -> bool {
        self.reusable && self.read.is_empty()
    }

    /// Sends `request` and reads the response head, within `timeout`
    /// (else [`Http1Error::TimedOut`]). The body is then read with
    /// [`Http1Connection::poll_body`], by the framing returned. The
    /// request stays the caller's: its head is written from it (so the
    /// proxy keeps it for a retry without a copy), its body taken as sent.
    pub async fn send(
        &mut self,
        request: &mut Request<RequestBody>,
        timeout: Duration,
    ) -> Result<Response<(Framing, Fields)>, SendError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let head_request = request.method() == Method::HEAD;
        self.reusable = true;
        self.written = 0;
        let mut phase = match encode::head(request, &mut self.write) {
            BodyPlan::None => Phase::Head(None),
            BodyPlan::Whole(bytes) => Phase::Head(Some(Next::Whole(bytes))),
            BodyPlan::Length(n) => Phase::Head(Some(Next::Stream(Streaming::new(Some(n))))),
            BodyPlan::Chunked => Phase::Head(Some(Next::Stream(Streaming::new(None)))),
        };
        let (mut primed, mut body_taken) = (false, false);
        // The connection's timer, out of `self` while the exchange borrows it.
        let mut timer = self.timer.take().unwrap_or_else(|| ResponseTimer::new(deadline));
        timer.start(deadline);
        let result = poll_fn(|cx| {
            let progress = 'step: {
                if let Phase::Head(next) = &mut phase {
                    if let (false, Some(Next::Stream(stream))) = (primed, next.as_mut()) {
                        // The body's first bytes, when already there, go in
                        // the head's write; a body broken from its start
                        // fails the request before anything is sent.
                        primed = true;
                        match self.poll_body_into_buffer(cx, request.body_mut(), stream) {
                            Poll::Ready(Ok(())) => body_taken = true,
                            Poll::Ready(Err(error)) => break 'step Poll::Ready(Err((error, false))),
                            Poll::Pending => {}
                        }
                    }
                    match self.poll_write_out(cx) {
                        Poll::Ready(Ok(())) => {
                            phase = match next.take() {
                                None => Phase::Sent,
                                Some(Next::Whole(bytes)) => Phase::Whole(bytes),
                                Some(Next::Stream(stream)) => Phase::Stream(stream),
                            }
                        }
                        // Not a byte of the head written, and none of a
                        // streamed body taken: the request goes back whole, to
                        // be sent on another connection.
                        Poll::Ready(Err(error)) => {
                            break 'step Poll::Ready(Err((error, self.written == 0 && !body_taken)));
                        }
                        Poll::Pending => break 'step Poll::Pending,
                    }
                }
                let sending = match &mut phase {
                    Phase::Whole(bytes) => self.poll_write_bytes(cx, bytes),
                    Phase::Stream(stream) => self.poll_send_body(cx, request.body_mut(), stream),
                    Phase::Head(_) | Phase::Sent => Poll::Pending,
                };
                match sending {
                    Poll::Ready(Ok(())) => phase = Phase::Sent,
                    Poll::Ready(Err(error)) => break 'step Poll::Ready(Err((error, false))),
                    Poll::Pending => {}
                }
                // Watched while the body goes: a server may answer before it
                // has read it all.
                self.poll_head(cx, head_request).map_err(|error| (error, false))
            };
            // As `tokio::time::timeout` does: the exchange first, then the clock.
            match progress {
                Poll::Pending if timer.poll_expired(cx) => Poll::Ready(Err((Http1Error::TimedOut(timeout), false))),
                other => other,
            }
        })
        .await;
        self.timer = Some(timer);
        match result {
            Ok(head) => {
                if !matches!(phase, Phase::Sent) || !head.keep_alive {
                    // An early answer leaves the rest of the body unsent:
                    // the connection cannot carry another request.
                    self.reusable = false;
                }
                let mut response = Response::new((head.framing, head.fields));
                *response.status_mut() = head.parts.status;
                *response.version_mut() = head.parts.version;
                *response.headers_mut() = head.parts.headers;
                Ok(response)
            }
            Err((error, unsent)) => {
                self.reusable = false;
                Err(SendError { error, unsent })
            }
        }
    }

    /// Writes `bytes` (a whole body too large to copy behind the head).
    fn poll_write_bytes(&mut self, cx: &mut Context<'_>, bytes: &mut Bytes) -> Poll<Result<(), Http1Error>> {
        let mut written = 0;
        let result = poll_write_all(&mut self.io, cx, bytes, &mut written);
        bytes::Buf::advance(bytes, written);
        result
    }

    /// Writes what is buffered, then flushes.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Http1Error>> {
        poll_write_all(&mut self.io, cx, &self.write, &mut self.written)
    }

    /// Streams the request body: each frame is framed into the write
    /// buffer and written before the next is asked for.
    fn poll_send_body(
        &mut self,
        cx: &mut Context<'_>,
        body: &mut RequestBody,
        stream: &mut Streaming,
    ) -> Poll<Result<(), Http1Error>> {
        loop {
            ready!(self.poll_write_out(cx))?;
            if stream.ended {
                return Poll::Ready(Ok(()));
            }
            self.write.clear();
            self.written = 0;
            ready!(self.poll_body_into_buffer(cx, body, stream))?;
        }
    }

    /// Takes the body's next frame and appends it, framed, to the write
    /// buffer (the end of a chunked body is its last chunk and trailers).
    fn poll_body_into_buffer(
        &mut self,
        cx: &mut Context<'_>,
        body: &mut RequestBody,
        stream: &mut Streaming,
    ) -> Poll<Result<(), Http1Error>> {
        match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) => {
                    stream.sent += data.len() as u64;
                    match stream.declared {
                        Some(declared) if stream.sent > declared => {
                            return Poll::Ready(Err(Http1Error::RequestLength {
                                declared,
                                actual: stream.sent,
                            }));
                        }
                        Some(_) => self.write.extend_from_slice(&data),
                        None => {
                            encode::chunk_size_line(&mut self.write, data.len());
                            self.write.extend_from_slice(&data);
                            self.write.extend_from_slice(b"\r\n");
                        }
                    }
                }
                Err(frame) => {
                    if let (None, Ok(trailers)) = (stream.declared, frame.into_trailers()) {
                        self.write.extend_from_slice(b"0\r\n");
                        for (name, value) in &trailers {
                            self.write.extend_from_slice(name.as_str().as_bytes());
                            self.write.extend_from_slice(b": ");
                            self.write.extend_from_slice(value.as_bytes());
                            self.write.extend_from_slice(b"\r\n");
                        }
                        self.write.extend_from_slice(b"\r\n");
                        stream.ended = true;
                    }
                }
            },
            Some(Err(error)) => return Poll::Ready(Err(Http1Error::RequestBody(error))),
            None => {
                match stream.declared {
                    Some(declared) if declared != stream.sent => {
                        return Poll::Ready(Err(Http1Error::RequestLength {
                            declared,
                            actual: stream.sent,
                        }));
                    }
                    Some(_) => {}
                    None => self.write.extend_from_slice(b"0\r\n\r\n"),
                }
                stream.ended = true;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads until a final response head is parsed.
    fn poll_head(&mut self, cx: &mut Context<'_>, head_request: bool) -> Poll<Result<decode::Head, Http1Error>> {
        loop {
            if !self.read.is_empty() {
                match decode::parse_head(&mut self.read, head_request)? {
                    Parsed::Head(head) => return Poll::Ready(Ok(head)),
                    Parsed::Interim => continue,
                    Parsed::Partial => {}
                }
            }
            if ready!(self.poll_read(cx))? == 0 {
                return Poll::Ready(Err(Http1Error::ClosedBeforeHead));
            }
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, Http1Error>> {
        if self.read.capacity() - self.read.len() < READ_SIZE / 2 {
            self.read.reserve(READ_SIZE);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read).map_err(Http1Error::Io)
    }

    /// The next frame of the response body, by `framing`.
    pub fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
        framing: &mut Framing,
    ) -> Poll<Option<Result<Frame<Bytes>, Http1Error>>> {
        loop {
            match framing.decode(&mut self.read) {
                Ok(Step::Frame(frame)) => return Poll::Ready(Some(Ok(frame))),
                Ok(Step::End) => return Poll::Ready(None),
                Ok(Step::More) => {}
                Err(error) => {
                    self.reusable = false;
                    return Poll::Ready(Some(Err(error)));
                }
            }
            match ready!(self.poll_read(cx)) {
                Ok(0) => {
                    self.reusable = false;
                    if let Err(error) = framing.closed() {
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    self.reusable = false;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    }
}

/// Writes `bytes` from `written` on (counting what went), then flushes.
fn poll_write_all(
    io: &mut Transport,
    cx: &mut Context<'_>,
    bytes: &[u8],
    written: &mut usize,
) -> Poll<Result<(), Http1Error>> {
    while *written < bytes.len() {
        let n = ready!(Pin::new(&mut *io).poll_write(cx, &bytes[*written..])).map_err(Http1Error::Io)?;
        if n == 0 {
            return Poll::Ready(Err(Http1Error::Io(std::io::ErrorKind::WriteZero.into())));
        }
        *written += n;
    }
    ready!(Pin::new(io).poll_flush(cx)).map_err(Http1Error::Io)?;
    Poll::Ready(Ok(()))
}

/// A whole response as read by [`read_response`].
#[derive(Debug)]
pub struct WholeResponse {
    /// Status, version and headers.
    pub parts: http::response::Parts,
    /// The fields kept out of the map, as our HTTP/1.1 server writes them
    /// to a client (before they moved into `parts`' map).
    pub lines: Vec<u8>,
    /// The body, decoded from its framing.
    pub body: Vec<u8>,
    /// The trailers of a chunked body.
    pub trailers: Option<http::HeaderMap>,
    /// Whether the connection could carry another request after it.
    pub keep_alive: bool,
    /// Bytes after the response's end.
    pub left_over: usize,
}

/// Reads one response from `chunks`, as a connection does that receives
/// them one read at a time and then is closed by the server: the same head
/// parser and body decoder, without a socket. For the fuzz target (any
/// bytes, cut anywhere, give the same answer or the same error, never a
/// panic) and for tests.
pub fn read_response<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    head_request: bool,
) -> Result<WholeResponse, Http1Error> {
    let mut chunks = chunks.into_iter();
    let mut buf = BytesMut::new();
    let head = loop {
        match decode::parse_head(&mut buf, head_request)? {
            Parsed::Head(head) => break head,
            Parsed::Interim => {}
            Parsed::Partial => match chunks.next() {
                Some(chunk) => buf.extend_from_slice(chunk),
                None => return Err(Http1Error::ClosedBeforeHead),
            },
        }
    };
    let mut keep_alive = head.keep_alive;
    let mut parts = head.parts;
    let mut lines = Vec::new();
    head.fields.write_lines(&mut lines, false);
    head.fields.into_map(&mut parts.headers);
    let (mut framing, mut body, mut trailers) = (head.framing, Vec::new(), None);
    loop {
        match framing.decode(&mut buf)? {
            Step::Frame(frame) => match frame.into_data() {
                Ok(data) => body.extend_from_slice(&data),
                Err(frame) => trailers = frame.into_trailers().ok(),
            },
            Step::End => break,
            Step::More => match chunks.next() {
                Some(chunk) => buf.extend_from_slice(chunk),
                None => {
                    framing.closed()?;
                    keep_alive = false;
                    break;
                }
            },
        }
    }
    let left_over = buf.len() + chunks.map(<[u8]>::len).sum::<usize>();
    Ok(WholeResponse {
        parts,
        lines,
        body,
        trailers,
        keep_alive: keep_alive && left_over == 0,
        left_over,
    })
}

impl std::fmt::Debug for Http1Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Connection")
            .field("buffered", &self.read.len())
            .field("reusable", &self.reusable)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// A server on a real socket that answers each request head it reads
    /// with the next of `answers`, then closes when they run out, and
    /// reports every request it read.
    async fn server(
        answers: Vec<&'static [u8]>,
    ) -> (std::net::SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (seen, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut read = Vec::new();
            for answer in answers {
                let mut buf = [0u8; 4096];
                while !read.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = seen.send(std::mem::take(&mut read));
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
        });
        (address, requests)
    }

    async fn connect(address: std::net::SocketAddr) -> Http1Connection {
        let stream = TcpStream::connect(address).await.expect("connect");
        Http1Connection::new(Transport::Plain(stream))
    }

    fn get(path: &'static str) -> Request<RequestBody> {
        let mut request = Request::new(RequestBody::Empty);
        *request.uri_mut() = http::Uri::from_static(path);
        request
            .headers_mut()
            .insert(http::header::HOST, http::HeaderValue::from_static("h"));
        request
    }

    async fn body(connection: &mut Http1Connection, mut framing: Framing) -> Result<Vec<u8>, Http1Error> {
        let mut data = Vec::new();
        while let Some(frame) = poll_fn(|cx| connection.poll_body(cx, &mut framing)).await {
            if let Ok(bytes) = frame?.into_data() {
                data.extend_from_slice(&bytes);
            }
        }
        Ok(data)
    }

    #[tokio::test]
    async fn one_connection_carries_requests_one_after_another() {
        let (address, mut requests) = server(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ])
        .await;
        let mut connection = connect(address).await;
        for (path, expected) in [("/one", &b"hello"[..]), ("/two?x=1", b"abc")] {
            assert!(connection.is_alive(), "{path}: alive between exchanges");
            let response = connection
                .send(&mut get(path), Duration::from_secs(10))
                .await
                .map_err(|e| e.error)
                .expect("a response");
            assert_eq!(response.status(), http::StatusCode::OK);
            let data = body(&mut connection, response.into_body().0).await.expect("the body");
            assert_eq!(data, expected, "{path}");
            assert!(connection.may_reuse(), "{path}: reusable");
            let request = requests.recv().await.expect("the server read it");
            assert!(
                request.starts_with(format!("GET {path} HTTP/1.1\r\nhost: h\r\n").as_bytes()),
                "{path}"
            );
        }
        // The server has run out of answers and closed: found without
        // sending anything.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!connection.is_alive(), "closed by the server");
    }

    /// A server that answers each request head it reads after the delay
    /// its script gives, or never (`None`: it keeps the connection open).
    async fn slow_server(script: Vec<(u64, Option<&'static [u8]>)>) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut read = Vec::new();
            for (delay, answer) in script {
                let mut buf = [0u8; 4096];
                while !read.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read.extend_from_slice(&buf[..n]),
                    }
                }
                read.clear();
                tokio::time::sleep(Duration::from_millis(delay)).await;
                match answer {
                    Some(answer) if stream.write_all(answer).await.is_ok() => {}
                    // Silent until the client gives up and closes.
                    _ => {
                        let _ = stream.read(&mut buf).await;
                        return;
                    }
                }
            }
        });
        address
    }

    const OK_EMPTY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

    /// The connection's timer, left from an exchange with an earlier
    /// deadline, fires during the next one: that exchange still gets its
    /// whole timeout (answered 300 ms after the old deadline, 300 ms
    /// before its own).
    #[tokio::test]
    async fn each_exchange_gets_its_whole_timeout_on_a_reused_connection() {
        let timeout = Duration::from_millis(1000);
        let address = slow_server(vec![(0, Some(OK_EMPTY)), (700, Some(OK_EMPTY))]).await;
        let mut connection = connect(address).await;
        let first = connection.send(&mut get("/"), timeout).await.map_err(|e| e.error);
        assert!(first.is_ok(), "{first:?}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        let started = std::time::Instant::now();
        let second = connection.send(&mut get("/"), timeout).await.map_err(|e| e.error);
        assert!(second.is_ok(), "timed out after {:?}: {second:?}", started.elapsed());
    }

    /// An exchange with a shorter timeout than the one before it (a gRPC
    /// call's deadline, a reload) times out by its own.
    #[tokio::test]
    async fn a_shorter_timeout_than_the_last_one_is_kept() {
        let address = slow_server(vec![(0, Some(OK_EMPTY)), (0, None)]).await;
        let mut connection = connect(address).await;
        let first = connection
            .send(&mut get("/"), Duration::from_secs(20))
            .await
            .map_err(|e| e.error);
        assert!(first.is_ok(), "{first:?}");
        let started = std::time::Instant::now();
        let second = tokio::time::timeout(
            Duration::from_secs(10),
            connection.send(&mut get("/"), Duration::from_millis(200)),
        )
        .await;
        let waited = started.elapsed();
        assert!(
            matches!(
                second,
                Ok(Err(SendError {
                    error: Http1Error::TimedOut(_),
                    ..
                }))
            ),
            "after {waited:?}"
        );
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
        assert!(!connection.may_reuse(), "a timed-out connection is not reused");
    }

    #[tokio::test]
    async fn a_response_that_forbids_reuse_is_not_reused() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ] {
            // A second answer keeps the server's end open.
            let (address, _requests) = server(vec![answer, b"HTTP/1.1 204 No Content\r\n\r\n"]).await;
            let mut connection = connect(address).await;
            let response = connection
                .send(&mut get("/"), Duration::from_secs(10))
                .await
                .map_err(|e| e.error)
                .expect("a response");
            let data = body(&mut connection, response.into_body().0).await.expect("the body");
            assert_eq!(data, b"ok");
            // Bytes past the body may arrive with it or just after.
            let reusable = connection.may_reuse() && connection.is_alive();
            assert!(!reusable, "{:?}", String::from_utf8_lossy(answer));
        }
    }

    #[tokio::test]
    async fn a_request_none_of_which_could_be_written_is_reported_unsent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            if let Ok((stream, _)) = listener.accept().await {
                // A reset, not a clean close: writes fail at once after it.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(std::time::Duration::ZERO));
                drop(stream);
            }
        });
        let mut connection = connect(address).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut request = get("/again");
        match connection.send(&mut request, Duration::from_secs(10)).await {
            Err(SendError {
                error: Http1Error::Io(_),
                unsent: true,
            }) => assert_eq!(request.uri().path(), "/again"),
            Err(other) => panic!("{} (unsent: {})", other.error, other.unsent),
            Ok(response) => panic!("a response: {}", response.status()),
        }
        assert!(!connection.may_reuse());
    }

    #[tokio::test]
    async fn a_body_cut_by_the_server_fails_and_a_silent_close_is_no_response() {
        let (address, _requests) = server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]).await;
        let mut connection = connect(address).await;
        let response = connection
            .send(&mut get("/"), Duration::from_secs(10))
            .await
            .map_err(|e| e.error)
            .expect("a head");
        let cut = body(&mut connection, response.into_body().0).await;
        assert!(matches!(cut, Err(Http1Error::BodyCut { .. })), "{cut:?}");
        assert!(!connection.may_reuse());
        let (address, _requests) = server(vec![]).await;
        let mut connection = connect(address).await;
        match connection.send(&mut get("/"), Duration::from_secs(10)).await {
            Err(SendError {
                error: Http1Error::ClosedBeforeHead | Http1Error::Io(_),
                ..
            }) => {}
            Err(other) => panic!("{}", other.error),
            Ok(response) => panic!("a response: {}", response.status()),
        }
    }
}
