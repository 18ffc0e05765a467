//! A server's response body on its way to the client. When it has been read
//! to the end, its connection goes back to the pool (HTTP/1.1) or its
//! stream is released (HTTP/2), and the server's in-flight count drops; if
//! the client goes away first, an HTTP/1.1 connection is closed instead (it
//! still carries unread bytes) and an HTTP/2 stream is reset.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::pool::{Connection, Sender};
use super::server::{InFlight, Server};

/// A server's response body (see the module doc).
pub struct UpstreamBody {
    body: Incoming,
    release: Option<Release>,
    /// The break of a broken body, held back for one poll (see
    /// `poll_frame`).
    broken: Option<hyper::Error>,
}

struct Release {
    connection: Connection,
    server: Arc<Server>,
    _in_flight: InFlight,
}

impl UpstreamBody {
    /// `body`, whose `connection` goes back to `server`'s pool at its end;
    /// `in_flight` counts it until then.
    pub fn new(body: Incoming, connection: Connection, server: Arc<Server>, in_flight: InFlight) -> UpstreamBody {
        let mut response = UpstreamBody {
            broken: None,
            body,
            release: Some(Release {
                connection,
                server,
                _in_flight: in_flight,
            }),
        };
        if response.body.is_end_stream() && response.release.as_ref().is_some_and(|r| r.connection.pooled) {
            response.finish();
        }
        response
    }

    /// An upgrade's body (a 101 has none): what counts the tunnel as in
    /// flight to its server. Its connection is not pooled.
    pub fn into_in_flight(mut body: UpstreamBody) -> Option<InFlight> {
        body.release.take().map(|release| release._in_flight)
    }

    fn finish(&mut self) {
        if let Some(release) = self.release.take() {
            // An HTTP/2 stream is released when its guard drops; an
            // upgrade's connection is never pooled.
            if let (true, Sender::Http1(sender)) = (release.connection.pooled, release.connection.sender) {
                release.server.pool.checkin(sender);
            }
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(error) = self.broken.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        match frame {
            None => self.finish(),
            Some(Ok(_)) if self.body.is_end_stream() => self.finish(),
            Some(Ok(_)) => {}
            // A broken body: the connection is dropped rather than reused,
            // and the break waits one poll. The bytes that came before it
            // (and the response head) may still sit in the client
            // connection's write buffer: hyper flushes it when the body is
            // pending and discards it when the body fails, so the client
            // gets what the server sent, then the break.
            Some(Err(error)) => {
                self.release = None;
                self.broken = Some(error);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
