//! HTTP/2 frames written by hand, for what a well-behaved client library
//! will not send: more streams than the server allows, a flood of streams
//! reset as soon as they are opened, header values with CR, LF or NUL.
//! Headers are HPACK literals without indexing and without Huffman coding
//! (RFC 7541 §6.2.2), which every decoder must accept.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const GOAWAY: u8 = 0x7;

pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

pub const CANCEL: u32 = 0x8;
pub const REFUSED_STREAM: u32 = 0x7;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame as read.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            RST_STREAM => 0,
            GOAWAY => 4,
            _ => return None,
        };
        let bytes = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

/// A prior-knowledge HTTP/2 connection over plain TCP.
pub struct RawH2 {
    stream: TcpStream,
}

impl RawH2 {
    /// Connects, sends the preface and empty SETTINGS, and acknowledges
    /// the server's SETTINGS (so its limits apply from the next frame).
    pub async fn connect(address: SocketAddr) -> RawH2 {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .expect("write preface");
        let mut connection = RawH2 { stream };
        connection.send(&frame(SETTINGS, 0, 0, &[])).await;
        loop {
            let frame = connection
                .read(Duration::from_secs(5))
                .await
                .expect("the server's SETTINGS");
            if frame.kind == SETTINGS && frame.flags & ACK == 0 {
                break;
            }
        }
        connection.send(&frame(SETTINGS, ACK, 0, &[])).await;
        connection
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write frames");
    }

    /// Writes, reporting (not panicking on) a connection the server closed.
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next frame, or None when the connection closed or nothing came
    /// within `wait`.
    pub async fn read(&mut self, wait: Duration) -> Option<Frame> {
        let mut head = [0u8; 9];
        match tokio::time::timeout(wait, self.stream.read_exact(&mut head)).await {
            Ok(Ok(_)) => {}
            _ => return None,
        }
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; length];
        match tokio::time::timeout(wait, self.stream.read_exact(&mut payload)).await {
            Ok(Ok(_)) => {}
            _ => return None,
        }
        Some(Frame {
            kind: head[3],
            flags: head[4],
            stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
            payload,
        })
    }

    /// Every frame until the connection closes or is silent for `quiet`.
    pub async fn read_all(&mut self, quiet: Duration) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.read(quiet).await {
            frames.push(frame);
        }
        frames
    }
}

/// A frame's bytes.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("a small frame").to_be_bytes();
    let mut bytes = vec![length[1], length[2], length[3], kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// A HEADERS frame (END_HEADERS, and END_STREAM when `end_stream`) with a
/// GET or other request: the pseudo-headers, then `extra`.
pub fn request(stream: u32, method: &str, path: &str, extra: &[(&[u8], &[u8])], end_stream: bool) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in [
        (&b":method"[..], method.as_bytes()),
        (b":scheme", b"http"),
        (b":authority", b"localhost"),
        (b":path", path.as_bytes()),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        literal(&mut block, name, value);
    }
    let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
    frame(HEADERS, flags, stream, &block)
}

/// A RST_STREAM frame.
pub fn reset(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// A literal header field without indexing, new name (RFC 7541 §6.2.2).
fn literal(block: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    block.push(0x00);
    integer(block, name.len());
    block.extend_from_slice(name);
    integer(block, value.len());
    block.extend_from_slice(value);
}

/// A string length as an HPACK integer with a 7-bit prefix, no Huffman.
fn integer(block: &mut Vec<u8>, mut value: usize) {
    if value < 127 {
        block.push(value as u8);
        return;
    }
    block.push(127);
    value -= 127;
    while value >= 128 {
        block.push((value % 128 + 128) as u8);
        value /= 128;
    }
    block.push(value as u8);
}
