//! The header names of the last heads read on one connection, by position,
//! with the bytes they were parsed from. A peer sends the same names in the
//! same order, request after request: a name whose bytes are those at its
//! position is cloned instead of parsed and looked up again (parsing one
//! costs about 135 instructions, comparing and cloning it about 30).

use http::header::{HeaderName, InvalidHeaderName};

/// One connection's names (both our HTTP/1.1 client and server keep one).
#[derive(Debug, Default)]
pub struct HeaderNames {
    known: Vec<(Box<[u8]>, HeaderName)>,
}

impl HeaderNames {
    /// Names beyond this position are parsed each time.
    const POSITIONS: usize = 32;

    /// The name at `position` of a head, as sent (`bytes`).
    pub fn name(&mut self, position: usize, bytes: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
        if let Some((raw, name)) = self.known.get(position) {
            if **raw == *bytes {
                return Ok(name.clone());
            }
        }
        let name = HeaderName::from_bytes(bytes)?;
        let entry = (Box::from(bytes), name.clone());
        if let Some(slot) = self.known.get_mut(position) {
            *slot = entry;
        } else if position == self.known.len() && position < Self::POSITIONS {
            self.known.push(entry);
        }
        Ok(name)
    }
}
