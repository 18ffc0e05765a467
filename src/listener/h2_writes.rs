//! The client's stream as HTTP/2 sees it: without vectored writes, so that
//! small responses are written together.
//!
//! h2 keeps one write buffer per connection. Given a stream that takes
//! vectored writes, it copies a DATA frame's payload into that buffer only
//! up to 256 bytes and hands a larger one to the socket by reference; while
//! such a payload waits, nothing else can be buffered, so every response
//! with a body over 256 bytes cost a write (and a TLS record) of its own:
//! 2.00 writes per proxied request, one of them to the client, against
//! HAProxy's 1.25 (docs/performance.md). Told the stream takes plain
//! writes, h2 copies payloads up to 1 KiB and writes the responses of the
//! connection's streams that are ready together; a larger payload is still
//! written from where it is.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `I`, reporting no vectored writes (see the module documentation).
pub(super) struct PlainWrites<I>(pub(super) I);

impl<I: AsyncRead + Unpin> AsyncRead for PlainWrites<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for PlainWrites<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}
