//! The one body type of responses sent to clients: a body the proxy made
//! (a plugin's response, an error page), or a server's body streamed
//! through (which returns its connection to the pool when read to the end).
//! A server's body and a memoised plugin response's may carry the head's
//! fields outside the response's map.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use http::Response;

use crate::body::BoxError;
use crate::fields::Fields;
use crate::upstream::UpstreamBody;

/// A response body on its way to the client.
pub enum ProxyBody {
    /// No body.
    Empty,
    /// A body the proxy made (plugin response, error page).
    Full(Option<Bytes>),
    /// A memoised plugin response's body, with its fields (shared lines)
    /// outside the response's map.
    Ready(Option<Bytes>, Fields),
    /// A server's response body.
    Upstream(UpstreamBody),
}

/// Puts the fields kept out of the response's map (a server's, as our
/// HTTP/1.1 client read them, or a memoised plugin response's lines; see
/// [`Fields`]) into it, ahead of any added since.
/// Whatever reads or edits a response's headers calls this first; only our
/// HTTP/1.1 server writes a response with its fields where they are.
pub fn fields_into_map(response: &mut Response<ProxyBody>) {
    response.body_mut().take_fields().into_map(response.headers_mut());
}

impl ProxyBody {
    /// The fields kept out of the response's map (a server's, or a memoised
    /// response's lines), if any (see [`fields_into_map`]).
    pub fn take_fields(&mut self) -> Fields {
        match self {
            ProxyBody::Upstream(body) => body.take_fields(),
            ProxyBody::Ready(_, fields) => std::mem::take(fields),
            _ => Fields::default(),
        }
    }

    /// A body of these bytes (`Empty` when there are none).
    pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
        let bytes = bytes.into();
        if bytes.is_empty() {
            ProxyBody::Empty
        } else {
            ProxyBody::Full(Some(bytes))
        }
    }

    /// A body of these bytes whose head's fields are `fields`, outside the
    /// response's map (see [`fields_into_map`]).
    pub fn with_fields(bytes: Bytes, fields: Fields) -> ProxyBody {
        ProxyBody::Ready(Some(bytes).filter(|b| !b.is_empty()), fields)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut *self {
            ProxyBody::Empty => Poll::Ready(None),
            ProxyBody::Full(bytes) | ProxyBody::Ready(bytes, _) => {
                Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b))))
            }
            ProxyBody::Upstream(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Empty => true,
            ProxyBody::Full(bytes) | ProxyBody::Ready(bytes, _) => bytes.is_none(),
            ProxyBody::Upstream(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Empty => SizeHint::with_exact(0),
            ProxyBody::Full(bytes) | ProxyBody::Ready(bytes, _) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ProxyBody::Upstream(body) => body.size_hint(),
        }
    }
}
