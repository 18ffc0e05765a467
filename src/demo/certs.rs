//! Self-signed certificates made at start (rcgen), for the demo and tests.

use std::path::{Path, PathBuf};

/// A certificate and key in PEM.
pub struct SelfSigned {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM.
    pub key_pem: String,
}

impl SelfSigned {
    /// A certificate for `names` (DNS names or IP addresses).
    pub fn generate(names: &[&str]) -> Result<SelfSigned, rcgen::Error> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let certified = rcgen::generate_simple_self_signed(names)?;
        Ok(SelfSigned {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        })
    }

    /// Writes one PEM with certificate and key, as HAProxy takes it.
    /// Blocks: call it off the runtime.
    #[allow(clippy::disallowed_methods)]
    pub fn write_combined(&self, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, format!("{}{}", self.cert_pem, self.key_pem))?;
        Ok(path)
    }

    /// Writes `fullchain.pem` and `privkey.pem` the way certbot does.
    /// Blocks: call it off the runtime.
    #[allow(clippy::disallowed_methods)]
    pub fn write_separate(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        let cert = dir.join("fullchain.pem");
        let key = dir.join("privkey.pem");
        std::fs::write(&cert, &self.cert_pem)?;
        std::fs::write(&key, &self.key_pem)?;
        Ok((cert, key))
    }
}
