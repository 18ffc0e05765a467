//! Request bodies on their way to a server: the client's body within the
//! listener's `max_body`, or none. (The response body the client gets is
//! `proxy::ProxyBody`.) Neither direction is boxed.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// Errors of a body in flight.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a request sent to a server.
pub enum RequestBody {
    /// No body (a replayable request is sent without one).
    Empty,
    /// The client's body, streamed through.
    Client(ClientBody),
    /// A body held whole (an ask's): sent once, cloned for a retry.
    Bytes(Option<Bytes>),
}

/// A client's request body, cut off with [`BodyTooLarge`] past the
/// listener's `max_body` (a declared length over the limit is refused
/// before anything is forwarded; this catches chunked bodies).
pub struct ClientBody {
    /// hyper's body; none for a request our own HTTP/1.1 server read
    /// without one.
    incoming: Option<Incoming>,
    remaining: Option<u64>,
    limit: u64,
    /// Bytes read ahead for plugins (`read_prefix`), sent first.
    prefix: Option<Bytes>,
    /// Trailers met while reading ahead, sent after the rest. Boxed: rare,
    /// and a body is moved with its request through every future of an
    /// exchange (a map inline made each 88 bytes longer).
    trailers: Option<Box<http::HeaderMap>>,
    /// The client's body ended while reading ahead.
    ended: bool,
}

impl ClientBody {
    /// The body of `incoming` (none: no body), cut off past `limit` bytes.
    pub fn new(incoming: Option<Incoming>, limit: Option<u64>) -> ClientBody {
        ClientBody {
            ended: incoming.is_none(),
            incoming,
            remaining: limit,
            limit: limit.unwrap_or(u64::MAX),
            prefix: None,
            trailers: None,
        }
    }

    /// Whether the client sent no body at all.
    pub fn is_end_stream(&self) -> bool {
        self.prefix.is_none()
            && self.trailers.is_none()
            && (self.ended || self.incoming.as_ref().is_none_or(Body::is_end_stream))
    }

    /// Reads ahead until more than `want` bytes (or the whole body) have
    /// arrived, for the plugins that read the body; they are sent first
    /// when the body is forwarded. Returns them, and whether they are the
    /// whole body. Memory: `want` plus at most one frame of the client's.
    pub async fn read_prefix(&mut self, want: usize) -> Result<(Bytes, bool), BoxError> {
        use http_body_util::BodyExt;
        let mut read = bytes::BytesMut::new();
        while read.len() <= want && !self.ended {
            let Some(incoming) = self.incoming.as_mut().filter(|i| !i.is_end_stream()) else {
                break;
            };
            let frame = match incoming.frame().await {
                Some(Ok(frame)) => frame,
                Some(Err(source)) => return Err(Box::new(ClientBodyBroken { source })),
                None => {
                    self.ended = true;
                    break;
                }
            };
            match frame.into_data() {
                Ok(data) => {
                    self.count(data.len())?;
                    read.extend_from_slice(&data);
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.trailers = Some(Box::new(trailers));
                    }
                    self.ended = true;
                }
            }
        }
        let complete = self.ended || self.incoming.as_ref().is_none_or(Body::is_end_stream);
        let read = read.freeze();
        if !read.is_empty() {
            self.prefix = Some(read.clone());
        }
        Ok((read, complete))
    }

    /// Counts `len` bytes against `max_body`.
    fn count(&mut self, len: usize) -> Result<(), BoxError> {
        if let Some(remaining) = self.remaining {
            let len = len as u64;
            if len > remaining {
                return Err(Box::new(BodyTooLarge { limit: self.limit }));
            }
            self.remaining = Some(remaining - len);
        }
        Ok(())
    }
}

/// A request body went past the listener's `max_body`.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {limit} bytes")]
pub struct BodyTooLarge {
    /// The listener's `max_body`.
    pub limit: u64,
}

/// The client's body broke off or was malformed (a bad chunk, a reset
/// stream, a closed connection): the client's fault, not the server's.
#[derive(Debug, thiserror::Error)]
#[error("the client's request body broke off")]
pub struct ClientBodyBroken {
    /// hyper's reason.
    #[source]
    pub source: hyper::Error,
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        if self.ended {
            return Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(*t))));
        }
        let Some(incoming) = self.incoming.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(incoming).poll_frame(cx);
        let frame = match polled {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(source))) => return Poll::Ready(Some(Err(Box::new(ClientBodyBroken { source })))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(len) = frame.data_ref().map(Bytes::len) {
            if let Err(e) = self.count(len) {
                return Poll::Ready(Some(Err(e)));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        ClientBody::is_end_stream(self)
    }

    fn size_hint(&self) -> SizeHint {
        let ahead = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        if self.ended {
            return SizeHint::with_exact(ahead);
        }
        let rest = self
            .incoming
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint);
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + ahead);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + ahead);
        }
        hint
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut *self {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Client(body) => Pin::new(body).poll_frame(cx),
            RequestBody::Bytes(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Client(body) => body.is_end_stream(),
            RequestBody::Bytes(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Client(body) => Body::size_hint(body),
            RequestBody::Bytes(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}
