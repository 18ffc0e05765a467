//! What can go wrong on an HTTP/1.1 exchange of our own client.

use crate::body::BoxError;

/// One HTTP/1.1 exchange that failed, or a response body that broke.
#[derive(Debug, thiserror::Error)]
pub enum Http1Error {
    /// Reading from or writing to the connection failed.
    #[error("the connection failed")]
    Io(#[source] std::io::Error),
    /// The server closed the connection before a whole response head.
    #[error("the server closed the connection before a response head")]
    ClosedBeforeHead,
    /// The response head is not valid HTTP/1.1.
    #[error("the response head is malformed")]
    MalformedHead(#[source] httparse::Error),
    /// The response head is valid syntax with a value HTTP does not allow
    /// (a status out of range, a header name or value it refuses).
    #[error("the response head is malformed: {0}")]
    InvalidHead(&'static str),
    /// The response head did not end within the limit.
    #[error("the response head is larger than {limit} bytes")]
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The response's `Content-Length` is not one number.
    #[error("the response's Content-Length is invalid")]
    BadContentLength,
    /// A chunk of a chunked body is malformed.
    #[error("the response's chunked body is malformed: {0}")]
    BadChunk(&'static str),
    /// The server closed the connection before the body's end.
    #[error("the server closed the connection {remaining} before the body's end")]
    BodyCut {
        /// What was still expected: bytes, or a chunk's end.
        remaining: Remaining,
    },
    /// No response head within the response timeout.
    #[error("no response head within {0:?}")]
    TimedOut(std::time::Duration),
    /// The request's body failed (the client's: over `max_body`, broken).
    #[error("the request body failed")]
    RequestBody(#[source] BoxError),
    /// The request's body did not match its declared length.
    #[error("the request body is {actual} bytes where its Content-Length says {declared}")]
    RequestLength {
        /// The `Content-Length` sent.
        declared: u64,
        /// What the body held (at least).
        actual: u64,
    },
}

/// What a cut body still lacked, for [`Http1Error::BodyCut`].
#[derive(Debug, Clone, Copy)]
pub enum Remaining {
    /// This many bytes of a `Content-Length` body.
    Bytes(u64),
    /// The rest of a chunked body.
    Chunks,
}

impl std::fmt::Display for Remaining {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remaining::Bytes(n) => write!(f, "{n} bytes"),
            Remaining::Chunks => f.write_str("chunks"),
        }
    }
}
