//! What a balancer weighs and returns.

use crate::helpers::HeaderOp;

/// One server a pick may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// A stable 64-bit key of the server (FNV-1a of its configured name,
    /// the same in every process and across reloads): for consistent
    /// hashing and sticky sessions without reading strings.
    pub key: u64,
    /// The configured weight (0: drain).
    pub weight: u32,
    /// False while health checks hold the server down.
    pub healthy: bool,
    /// Requests this proxy has in flight to it right now.
    pub in_flight: u32,
}

/// The chosen candidate, with response edits.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Index into the candidates.
    pub server: u32,
    /// Edits of the response sent to the client (a sticky cookie, say).
    pub response_headers: Vec<HeaderOp>,
}

impl Choice {
    /// Candidate `index`.
    pub fn server(index: usize) -> Choice {
        Choice {
            server: u32::try_from(index).unwrap_or(u32::MAX),
            response_headers: Vec::new(),
        }
    }

    /// Sets a header of the response sent to the client.
    pub fn set_response_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Choice {
        self.response_headers.push(HeaderOp::set(name, value));
        self
    }

    /// Adds a value to a header of the response sent to the client.
    pub fn append_response_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Choice {
        self.response_headers.push(HeaderOp::append(name, value));
        self
    }
}
