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
}

/// A client's request body, cut off with [`BodyTooLarge`] past the
/// listener's `max_body` (a declared length over the limit is refused
/// before anything is forwarded; this catches chunked bodies).
pub struct ClientBody {
    incoming: Incoming,
    remaining: Option<u64>,
    limit: u64,
}

impl ClientBody {
    /// The body of `incoming`, cut off past `limit` bytes.
    pub fn new(incoming: Incoming, limit: Option<u64>) -> ClientBody {
        ClientBody {
            incoming,
            remaining: limit,
            limit: limit.unwrap_or(u64::MAX),
        }
    }

    /// Whether the client sent no body at all.
    pub fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
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
        let polled = Pin::new(&mut self.incoming).poll_frame(cx);
        let frame = match polled {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(source))) => return Poll::Ready(Some(Err(Box::new(ClientBodyBroken { source })))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let (Some(remaining), Some(data)) = (self.remaining, frame.data_ref()) {
            let len = data.len() as u64;
            if len > remaining {
                let limit = self.limit;
                return Poll::Ready(Some(Err(Box::new(BodyTooLarge { limit }))));
            }
            self.remaining = Some(remaining - len);
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut *self {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Client(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Client(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Client(body) => body.size_hint(),
        }
    }
}
