//! Helpers on the host's own types: building headers, header edits and
//! responses, reading headers as text.

pub use crate::generated::switchyard::plugin::types::{
    Backend, Header, HeaderOp, Request, Response, ResponseHead, Scheme,
};

impl Header {
    /// A header; the value is bytes (HTTP allows non-UTF-8 values), so a
    /// `&str`, a `String` or bytes all fit.
    pub fn new(name: impl Into<String>, value: impl AsRef<[u8]>) -> Header {
        Header {
            name: name.into(),
            value: value.as_ref().to_vec(),
        }
    }

    /// The value as text (invalid UTF-8 replaced).
    pub fn value_str(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

impl HeaderOp {
    /// Removes every value of the header, then adds this one.
    pub fn set(name: impl Into<String>, value: impl AsRef<[u8]>) -> HeaderOp {
        HeaderOp::Set(Header::new(name, value))
    }

    /// Adds a value, keeping those already present.
    pub fn append(name: impl Into<String>, value: impl AsRef<[u8]>) -> HeaderOp {
        HeaderOp::Append(Header::new(name, value))
    }

    /// Removes every value of the header.
    pub fn remove(name: impl Into<String>) -> HeaderOp {
        HeaderOp::Remove(name.into())
    }
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(body.into())
    }

    /// A `text/html; charset=utf-8` response.
    pub fn html(status: u16, body: impl Into<String>) -> Response {
        Response::new(status)
            .header("content-type", "text/html; charset=utf-8")
            .body(body.into())
    }

    /// An `application/json` response (`body` is the JSON text).
    pub fn json(status: u16, body: impl Into<String>) -> Response {
        Response::new(status)
            .header("content-type", "application/json")
            .body(body.into())
    }

    /// A redirect to `location` (301, 302, 303, 307 or 308).
    pub fn redirect(status: u16, location: impl AsRef<[u8]>) -> Response {
        Response::new(status).header("location", location)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Response {
        self.headers.push(Header::new(name, value));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }
}

impl Request {
    /// The first value of a header as text (invalid UTF-8 replaced).
    pub fn header_str(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// The body as text, for a plugin with a [`BodyHook`](crate::BodyHook)
    /// (`None` without one, or when the body is not UTF-8).
    pub fn body_str(&self) -> Option<String> {
        self.body().and_then(|b| String::from_utf8(b).ok())
    }

    /// The host the client asked for, without a port, lower case.
    pub fn host_name(&self) -> Option<String> {
        let authority = self.authority()?;
        let host = match authority.strip_prefix('[') {
            // [v6]:port
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => authority.rsplit_once(':').map_or(authority.as_str(), |(h, _)| h),
        };
        Some(host.to_ascii_lowercase())
    }
}

impl ResponseHead {
    /// The first value of a header as text (invalid UTF-8 replaced).
    pub fn header_str(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| String::from_utf8_lossy(&v).into_owned())
    }
}
