//! A server's response body on its way to the client. When it has been read
//! to the end, its connection goes back to the pool (HTTP/1.1) or its
//! stream is released (HTTP/2), and the server's in-flight count drops; if
//! the client goes away first, an HTTP/1.1 connection is closed instead (it
//! still carries unread bytes) and an HTTP/2 stream is reset.
//!
//! An HTTP/1.1 body is read from its connection here, in the poll of the
//! client's response: the connection lives in the body until it goes back.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::pool::{Connection, Incoming, Sender};
use super::server::{InFlight, Server};
use crate::body::BoxError;
use crate::fields::Fields;

/// A server's response body (see the module doc).
pub struct UpstreamBody {
    body: Incoming,
    release: Option<Release>,
    /// The break of a broken body, held back for one poll (see
    /// `poll_frame`).
    broken: Option<BoxError>,
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
        if response.is_end_stream() && response.release.as_ref().is_some_and(|r| r.connection.pooled) {
            response.finish();
        }
        response
    }

    /// The server's fields our HTTP/1.1 client kept out of the response's
    /// map, if not taken yet (see [`Fields`]).
    pub fn take_fields(&mut self) -> Fields {
        match &mut self.body {
            Incoming::Http1(_, fields) => std::mem::take(fields),
            Incoming::Hyper(_) => Fields::default(),
        }
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
            if let (true, Sender::Http1(connection)) = (release.connection.pooled, release.connection.sender) {
                release.server.pool.checkin(connection);
            }
        }
    }

    /// The next frame from the server, read from our HTTP/1.1 connection
    /// or from hyper's body.
    fn poll_source(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.body {
            Incoming::Hyper(body) => Pin::new(body).poll_frame(cx).map_err(BoxError::from),
            Incoming::Http1(framing, _) => {
                let Some(Release {
                    connection:
                        Connection {
                            sender: Sender::Http1(connection),
                            ..
                        },
                    ..
                }) = self.release.as_mut()
                else {
                    return Poll::Ready(None);
                };
                connection.poll_body(cx, framing).map_err(BoxError::from)
            }
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(error) = self.broken.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let frame = ready!(self.poll_source(cx));
        match frame {
            None => self.finish(),
            Some(Ok(_)) if self.is_end_stream() => self.finish(),
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
        match &self.body {
            Incoming::Hyper(body) => body.is_end_stream(),
            Incoming::Http1(framing, _) => framing.is_end(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.body {
            Incoming::Hyper(body) => body.size_hint(),
            Incoming::Http1(framing, _) => match framing.remaining() {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::default(),
            },
        }
    }
}
