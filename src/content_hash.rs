//! SHA-256 names: a plugin version is named by the hash of its component,
//! a certificate by the hash of its leaf. Logs, the status page and
//! `switchyard status` show the first 12 hex digits ([`short`]), which can
//! be compared with the start of `sha256sum plugin.wasm`.

use sha2::{Digest, Sha256};

/// Hex digits shown where a whole hash would not fit (a log line, a table).
pub const SHORT_DIGITS: usize = 12;

/// The SHA-256 of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> ContentHash {
        ContentHash(Sha256::digest(bytes).into())
    }

    /// The first [`SHORT_DIGITS`] hex digits, enough to tell versions apart.
    pub fn short(&self) -> String {
        short(&self.to_string()).to_string()
    }
}

impl std::fmt::Display for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The first [`SHORT_DIGITS`] characters of a hex hash (all of it when
/// shorter).
pub fn short(hex: &str) -> &str {
    hex.get(..SHORT_DIGITS).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_twelve_digits_of_the_full_hash() {
        let hash = ContentHash::of(b"plugin");
        let full = hash.to_string();
        assert_eq!(full.len(), 64);
        assert_eq!(hash.short(), &full[..12]);
        assert_eq!(short("abc"), "abc");
    }
}
