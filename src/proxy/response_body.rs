//! The one body type of responses sent to clients: a body the proxy made
//! (a plugin's response, an error page), or a server's body streamed
//! through (which returns its connection to the pool when read to the end).
//! A server's body and a memoised plugin response's may carry the head's
//! fields outside the response's map.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use http::Response;

use crate::body::BoxError;
use crate::fields::Fields;
use crate::plugin::ReadyResponse;
use crate::upstream::UpstreamBody;

/// A response body on its way to the client. Sixteen bytes, so that a
/// `Response<ProxyBody>` is 128 (the size the compiler still moves
/// inline, without calling `memcpy`): a response is moved a dozen times
/// or more on its way through the phases' futures. What is larger is
/// boxed or shared.
pub enum ProxyBody {
    /// No body (or a body the proxy made, already sent).
    Empty,
    /// A body the proxy made (plugin response, error page), not sent yet.
    Full(Box<Bytes>),
    /// A memoised plugin response's body, with its fields (shared lines)
    /// outside the response's map: both read from the shared response.
    Ready(Arc<ReadyResponse>, ReadyState),
    /// A server's response body.
    Upstream(Box<UpstreamBody>),
}

/// What of a memoised response (`ProxyBody::Ready`) has been taken.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadyState {
    fields_taken: bool,
    body_sent: bool,
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
            ProxyBody::Ready(ready, state) if !state.fields_taken => {
                state.fields_taken = true;
                ready.lines.clone().unwrap_or_default()
            }
            _ => Fields::default(),
        }
    }

    /// A body of these bytes (`Empty` when there are none).
    pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
        let bytes = bytes.into();
        if bytes.is_empty() {
            ProxyBody::Empty
        } else {
            ProxyBody::Full(Box::new(bytes))
        }
    }

    /// A memoised response's body, whose head's fields are its `lines`,
    /// outside the response's map (see [`fields_into_map`]).
    pub fn ready(ready: Arc<ReadyResponse>) -> ProxyBody {
        ProxyBody::Ready(ready, ReadyState::default())
    }

    /// A server's body.
    pub fn upstream(body: UpstreamBody) -> ProxyBody {
        ProxyBody::Upstream(Box::new(body))
    }

    /// The bytes a body the proxy made has still to send.
    fn unsent(&self) -> Option<&Bytes> {
        match self {
            ProxyBody::Full(bytes) => Some(bytes),
            ProxyBody::Ready(ready, state) if !state.body_sent && !ready.body.is_empty() => Some(&ready.body),
            _ => None,
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match this {
            ProxyBody::Empty => Poll::Ready(None),
            ProxyBody::Full(_) => match std::mem::replace(this, ProxyBody::Empty) {
                ProxyBody::Full(bytes) => Poll::Ready(Some(Ok(Frame::data(*bytes)))),
                _ => Poll::Ready(None),
            },
            ProxyBody::Ready(ready, state) => {
                let unsent = !state.body_sent && !ready.body.is_empty();
                state.body_sent = true;
                Poll::Ready(unsent.then(|| Ok(Frame::data(ready.body.clone()))))
            }
            ProxyBody::Upstream(body) => Pin::new(&mut **body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Upstream(body) => body.is_end_stream(),
            _ => self.unsent().is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Upstream(body) => body.size_hint(),
            _ => SizeHint::with_exact(self.unsent().map_or(0, |b| b.len() as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};
    use http_body_util::BodyExt;

    /// The promise the type's layout keeps (see `ProxyBody`).
    #[test]
    fn a_response_is_moved_without_memcpy() {
        assert_eq!(std::mem::size_of::<ProxyBody>(), 16);
        assert!(std::mem::size_of::<Response<ProxyBody>>() <= 128);
    }

    fn memoised(body: &'static [u8]) -> Arc<ReadyResponse> {
        let mut headers = HeaderMap::new();
        headers.insert("location", http::HeaderValue::from_static("https://a.example/"));
        headers.insert("x-a", http::HeaderValue::from_static("1"));
        Arc::new(ReadyResponse {
            status: StatusCode::FOUND,
            lines: Fields::shared_from(&headers),
            headers,
            body: Bytes::from_static(body),
        })
    }

    #[tokio::test]
    async fn a_memoised_body_is_sent_once_and_its_fields_taken_once() {
        let ready = memoised(b"moved");
        let mut body = ProxyBody::ready(Arc::clone(&ready));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        let fields = body.take_fields();
        assert_eq!(fields.iter().count(), 2);
        assert_eq!(body.take_fields().iter().count(), 0, "taken once");
        let sent = body.frame().await.and_then(|f| f.ok()).and_then(|f| f.into_data().ok());
        assert_eq!(sent.as_deref(), Some(&b"moved"[..]));
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.frame().await.is_none(), "sent once");
        // The shared response is left whole for the next request.
        assert_eq!(ready.body, Bytes::from_static(b"moved"));
        assert_eq!(ProxyBody::ready(ready).take_fields().iter().count(), 2);
    }

    #[tokio::test]
    async fn an_empty_memoised_body_ends_at_once() {
        let mut body = ProxyBody::ready(memoised(b""));
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_body_the_proxy_made_is_sent_once() {
        let mut body = ProxyBody::full(&b"made"[..]);
        assert_eq!(body.size_hint().exact(), Some(4));
        let sent = body.frame().await.and_then(|f| f.ok()).and_then(|f| f.into_data().ok());
        assert_eq!(sent.as_deref(), Some(&b"made"[..]));
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none(), "sent once");
        assert!(matches!(ProxyBody::full(Bytes::new()), ProxyBody::Empty));
    }
}
